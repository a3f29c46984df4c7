-- test_pmtool.lua -- pmtool (docs/pmtool.md): dump, restore, dump again is
-- byte-identical on pools of every kind of value; check names each kind of
-- damage planted in a real pool, with its path; --repair fixes counts and
-- garbage in a copy; resize lets a program that filled its pool go on;
-- kill -9 during restore, resize and compact leaves the original or
-- nothing; every subcommand's one-line error for a missing, foreign,
-- damaged or busy pool. Real pools, real child processes, real kill -9.
local lu = require "luaunit"
local helper = require "helper"
local dump = require "dump"
local q = helper.q

local PMTOOL = os.getenv("PMTOOL") or helper.PMLUA:gsub("pmlua$", "pmtool")

-- pmtool(args...) -> stdout, exit status, stderr
local function pmtool(...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = q(select(i, ...)) end
  return helper.run_cmd(q(PMTOOL) .. " " .. table.concat(args, " "))
end

-- ok(args...) -> stdout: pmtool must succeed
local function ok(...)
  local out, code, err = pmtool(...)
  if code ~= 0 then error(("pmtool %s failed (%s): %s%s"):format(
    table.concat({ ... }, " "), tostring(code), err, out), 2) end
  return out
end

-- a pool at path holding every kind of value, sharing, cycles and objects
local function every_kind(path)
  helper.child_ok([[
local p = assert(pmem.open(arg[1], "x", pmem.MIN_POOL_SIZE))
local Point = pmem.class("Point")
p.root = {
  ints = { 0, 1, -1, math.maxinteger, math.mininteger },
  floats = { 0.5, -0.0, 1/0, -1/0, 0/0, 1e300, 2^-1074, 3.0, 0.1 },
  strs = { "", "short", ("long"):rep(50), "\0\1\2\255\254 \"q\" \\ \n\t\r", "h\xc3\xa9llo", "\xed\xa0\x80" },
  bools = { [true] = false, [false] = true },
  list = p:list { 1, "two", 3.5 },
  tuple = p:tuple { "a", 2 },
  set = p:set { "x", 1, 2.5, true },
  empty = { t = {}, l = p:list(), s = p:set(), tu = p:tuple() },
  [1] = "one", [2.5] = "float key", [-7] = "neg",
}
local r = p.root
r.self = r
r.shared_a = r.list
r.shared_b = r.list
r.obj = p:new(Point)
r.obj.x, r.obj.y, r.obj.back = 1, 2, r
r.list:append(r.tuple)
r[r.set] = "a container key"
r.order = {}
for i = 1, 20 do r.order["k" .. (21 - i)] = i end
r.order.k5 = nil
r.order.k5 = "re-added"
p:close()
]], path)
end

-- canonical text of a pool's root, through pmlua (dump.lua)
local function content(path)
  return helper.child_ok([[
local dump = require "dump"
local p = assert(pmem.open(arg[1], "r"))
io.write(dump(p.root))
p:close()
]], path)
end

local function read(path) return helper.read_file(path) end

-- undo_extensions(path) -> the lanes of the pool at path whose undo log
-- links an extension (libpmemobj's lane layout: the undo log's header at
-- byte 960 of each 3072-byte lane, its next at 8 more)
local function undo_extensions(path)
  local data = read(path)
  local lanes, nlanes = string.unpack("<I8I8", data, 5120 + 1)
  local n = 0
  for i = 0, nlanes - 1 do
    if string.unpack("<I8", data, lanes + i * 3072 + 960 + 8 + 1) ~= 0 then n = n + 1 end
  end
  return n
end

TestDumpRestore = {}

function TestDumpRestore.test_every_kind_round_trips_byte_identical()
  local dir = helper.tmpdir()
  local a, b = dir .. "/a.pmem", dir .. "/b.pmem"
  every_kind(a)
  ok("dump", a, dir .. "/1.txt")
  ok("restore", dir .. "/1.txt", b)
  ok("dump", b, dir .. "/2.txt")
  local one = read(dir .. "/1.txt")
  lu.assertEquals(read(dir .. "/2.txt"), one)
  lu.assertEquals(content(b), content(a))
  lu.assertStrMatches(one, '.*\n@%d+ object "Point" 3\n.*')
  ok("check", b)
  -- stdout and stdin work too, and say the same
  lu.assertEquals(ok("dump", a), one)
  local c = dir .. "/c.pmem"
  local _, code, err = helper.run_cmd(q(PMTOOL) .. " restore - " .. q(c), one)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(ok("dump", c), one)
end

function TestDumpRestore.test_hundred_thousand_values()
  local a = helper.fast_pool_path("big.pmem")
  local dir = a:match("(.*)/")
  helper.child_ok([[
local p = assert(pmem.open(arg[1], "x", 256 << 20))
p:transaction(function()
  p.root = { l = p:list(), t = {} }
  local l, t = p.root.l, p.root.t
  for i = 1, 50000 do l:append(i % 7 == 0 and ("s" .. i):rep(3) or i * 0.5) end
  for i = 1, 25000 do t["k" .. i] = { i, tostring(i) } end
end)
p:close()
]], a)
  ok("dump", a, dir .. "/1.txt")
  local _, code, err = pmtool("restore", dir .. "/1.txt", dir .. "/b.pmem")
  lu.assertEquals({ code, err }, { 0, "" }, "no progress bar when stderr is not a terminal")
  ok("dump", dir .. "/b.pmem", dir .. "/2.txt")
  local one = read(dir .. "/1.txt")
  lu.assertTrue(#one > 1000000)
  lu.assertEquals(read(dir .. "/2.txt"), one)
  local info = ok("info", dir .. "/b.pmem")
  lu.assertStrMatches(info, ".*containers      25003 allocated, 25003 reachable.*")
  -- the build's transactions outgrew the lanes' undo logs: the last one
  -- that did left an extension linked from its lane, which the checks of
  -- the lanes (the build's own, the next open's) take for what it is
  lu.assertTrue(undo_extensions(dir .. "/b.pmem") > 0, "no undo log extension left")
  lu.assertEquals(helper.child_ok([[
local p = assert(pmem.open(arg[1]))
print(#p.root.l, p.root.t.k25000[2])
p:close()]], dir .. "/b.pmem"), "50000\t25000\n")
end

function TestDumpRestore.test_a_dump_is_read_without_running_anything()
  local dir = helper.tmpdir()
  local cases = {
    { "", "not a pmtool dump" },
    { "pmlua-dump 1\nroot @1\n@1 table 1\n  \"a\" @2\nend 1\n", "does not define" },
    { "pmlua-dump 1\nroot @1\n@1 table 1\n  \"a\" 1\n", "truncated" },
    { "pmlua-dump 1\nroot @1\n@1 list 1\n  os.exit(3)\nend 1\n", "is not a value" },
    { "pmlua-dump 1\nroot @1\n@1 table 1\n  1.0 2\nend 1\n", "integral value" },
    { "pmlua-dump 1\nroot @1\n@1 table 2\n  \"a\" 1\n  \"a\" 2\nend 1\n", "twice" },
    { "pmlua-dump 1\nroot 1\n@1 table 0\nend 1\n", "not reachable" },
    { "pmlua-dump 1\nroot \"\\q\"\nend 0\n", "bad escape" },
    { "pmlua-dump 1\nroot 99999999999999999999\nend 0\n", "out of range" },
  }
  for i, c in ipairs(cases) do
    local f = dir .. "/d" .. i
    helper.write_file(f, c[1])
    local _, code, err = pmtool("restore", f, dir .. "/p" .. i)
    lu.assertEquals(code, 1, c[1])
    lu.assertStrContains(err, c[2])
    lu.assertEquals(select(2, err:gsub("\n", "")), 1, "one line: " .. err)
    lu.assertNil(io.open(dir .. "/p" .. i), "no pool appears for a bad dump")
  end
  -- a scalar root, and a class name that is code, stay data
  local f = dir .. "/ok"
  helper.write_file(f, 'pmlua-dump 1\nroot @1\n@1 object "os.exit(3)" 1\n  "x" 1\nend 1\n')
  ok("restore", f, dir .. "/obj.pmem")
  lu.assertStrContains(ok("dump", dir .. "/obj.pmem"), '@1 object "os.exit(3)" 1')
end

function TestDumpRestore.test_json()
  local dir = helper.tmpdir()
  local a = dir .. "/a.pmem"
  helper.child_ok([[
local p = assert(pmem.open(arg[1], "x", pmem.MIN_POOL_SIZE))
p.root = { name = "x", n = 3, l = p:list { 1, 2.5, "s" }, t = { true, false } }
p:close()
]], a)
  local out = ok("dump", a, "--json")
  lu.assertStrContains(out, '"name": "x"')
  lu.assertStrContains(out, '"l": [1, 2.5, "s"]')
  lu.assertStrContains(out, '"t": [true, false]')
  helper.child_ok([[
local p = assert(pmem.open(arg[1], "x", pmem.MIN_POOL_SIZE))
p.root = { a = { 1 }, bin = "\255", odd = { [3] = 1, x = 1 } }
p.root.self = p.root.a
p.root.a[2] = p.root.a
p:close()
]], dir .. "/b.pmem")
  local _, code, err = pmtool("dump", dir .. "/b.pmem", "--json")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "root.a[2]: a cycle (written as null)")
  lu.assertStrContains(err, "root.bin: a string that is not UTF-8")
  lu.assertStrContains(err, "root.self: a container met before")
  lu.assertStrContains(err, "root.odd: a table whose keys are not all strings")
  lu.assertStrContains(err, "could not be written as JSON")
end

-- {====================================================== check

-- the bytes of a pool file, read and written in place
local DSC_ROOT_OFF = 6144
local function peek(path, at, n)
  local f = assert(io.open(path, "rb"))
  f:seek("set", at)
  local s = f:read(n or 8)
  f:close()
  return n and s or string.unpack("<I8", s)
end
local function poke(path, at, s)
  local f = assert(io.open(path, "r+b"))
  f:seek("set", at)
  f:write(type(s) == "number" and string.pack("<I8", s) or s)
  f:close()
end

-- entries(path, t) -> the live entries of the table at offset t:
-- { key = decoded key (strings only), koff, voff, tag, payload }
local function entries(path, t)
  local used, cap, body = peek(path, t + 24), peek(path, t + 32), peek(path, t + 40)
  local es = {}
  for i = 0, used - 1 do
    local e = body + 16 * cap + 32 * i
    local k = peek(path, e, 16)
    local e_ = { koff = e, voff = e + 16, tag = peek(path, e + 16, 1):byte(), payload = peek(path, e + 24) }
    if k:byte(1) == 5 then e_.key = k:sub(3, 2 + k:byte(2)) end
    es[#es + 1] = e_
    if e_.key then es[e_.key] = e_ end
  end
  return es, body
end

local function root_table(path)
  local root = peek(path, DSC_ROOT_OFF)
  return peek(path, root + 40), root
end

-- a small sound pool for damage: root = { t, l, s, o, str, long, n }
local function sample(dir, name)
  local path = dir .. "/" .. name .. ".pmem"
  helper.child_ok([[
local p = assert(pmem.open(arg[1], "x", pmem.MIN_POOL_SIZE))
local C = pmem.class("Thing")
p.root = { t = { a = 1, b = "bee", c = ("long"):rep(10) }, l = p:list { "x", 2 },
  s = p:set { "m", "n" }, long = ("L"):rep(40), n = 5 }
p.root.o = p:new(C)
p.root.o.v = 1
p:close()
]], path)
  return path
end

-- damage -> (pool path, what the check must say): each plants one kind
local DAMAGE = {
  dangling = function(path)
    local es = entries(path, root_table(path))
    poke(path, es.t.voff + 8, es.t.payload + 8)
    return "dangling at root.t "
  end,
  ["wrong-kind"] = function(path)
    local es = entries(path, root_table(path))
    poke(path, es.t.voff + 8, es.long.payload)          -- a string allocation
    return "wrong-kind at root.t "
  end,
  ["bad-string"] = function(path)
    local es = entries(path, root_table(path))
    poke(path, es.long.voff + 8, es.long.payload + 64)
    return "bad-string at root.long "
  end,
  ["string-length"] = function(path)
    local es = entries(path, root_table(path))
    poke(path, es.long.payload, 1 << 40)
    return "string-length at root.long "
  end,
  ["short-string"] = function(path)
    local es = entries(path, entries(path, root_table(path)).t.payload)
    poke(path, es.b.voff + 1, string.char(15))
    return "short-string at root.t.b "
  end,
  ["bad-tag"] = function(path)
    local es = entries(path, root_table(path))
    poke(path, es.n.voff, string.char(42))
    return "bad-tag at root.n "
  end,
  count = function(path)
    local t = entries(path, root_table(path)).t.payload
    poke(path, t + 16, 2)                                -- count 3 -> 2
    return "count at root.t "
  end,
  ["table-body"] = function(path)
    local es = entries(path, root_table(path))
    poke(path, es.t.payload + 40, es.long.payload)       -- body -> a string
    return "table-body at root.t "
  end,
  ["list-items"] = function(path)
    local es = entries(path, root_table(path))
    poke(path, es.l.payload + 32, es.long.payload)
    return "list-items at root.l "
  end,
  index = function(path)
    local t = entries(path, root_table(path)).t.payload
    local cap, body = peek(path, t + 32), peek(path, t + 40)
    poke(path, body, string.rep("\0", 16 * cap))
    return "index at root.t.a"
  end,
  ["duplicate-key"] = function(path)
    local es = entries(path, entries(path, root_table(path)).t.payload)
    poke(path, es.b.koff, peek(path, es.a.koff, 16))     -- "b" becomes "a"
    return "duplicate-key at root.t.a"
  end,
  key = function(path)
    local es = entries(path, entries(path, root_table(path)).t.payload)
    poke(path, es.a.koff, string.pack("<I1", 4) .. string.rep("\0", 7) .. string.pack("<d", 0/0))
    return "key at root.t[nan"
  end,
  ["non-canonical"] = function(path)
    local es = entries(path, entries(path, root_table(path)).t.payload)
    poke(path, es.a.koff + 15, "z")
    return "non-canonical at root.t.a"
  end,
  ["class-name"] = function(path)
    local o = entries(path, root_table(path)).o.payload
    poke(path, o + 48, string.char(42))
    return "class-name at root.o "
  end,
  ["set-value"] = function(path)
    local es = entries(path, entries(path, root_table(path)).s.payload)
    poke(path, es.m.voff, string.char(1))                -- true -> false
    return "set-value at root.s.m"
  end,
  refcount = function(path)
    local t = entries(path, root_table(path)).t.payload
    poke(path, t + 8, 7)
    return "refcount at root.t "
  end,
  unreachable = function(path)
    local es = entries(path, root_table(path))
    poke(path, es.l.voff, string.char(3))                -- the list's ref -> an integer
    return "unreachable at <unreachable list>"
  end,
  leak = function(path)
    local es = entries(path, root_table(path))
    poke(path, es.long.voff, string.char(3))             -- the string's cell -> an integer
    return "leak at pool "
  end,
  nobjects = function(path)
    local _, root = root_table(path)
    poke(path, root + 24, 99)
    return "nobjects at pool"
  end,
  shared = function(path)
    local es = entries(path, root_table(path))
    local t = entries(path, es.t.payload)
    poke(path, t.c.voff + 8, es.long.payload)           -- two cells own one string
    return "shared at pool "
  end,
}

TestCheck = {}

function TestCheck.test_each_kind_of_damage_is_found_and_named()
  local dir = helper.tmpdir()
  local kinds = {}
  for kind, plant in pairs(DAMAGE) do
    local path = sample(dir, kind)
    ok("check", path)                                    -- sound before
    local want = plant(path)
    local out, code, err = pmtool("check", path)
    lu.assertEquals(code, 1, kind .. ": " .. out)
    lu.assertStrContains(out, want, false, kind)
    lu.assertStrMatches(err, "pmtool check: " .. path:gsub("%p", "%%%0") .. ": %d+ problems? %(.*" ..
                        kind:gsub("%p", "%%%0") .. ".*\n")
    lu.assertStrMatches(out, ".*%(offset %d+%).*")
    kinds[#kinds + 1] = kind
  end
  lu.assertTrue(#kinds >= 10)
end

function TestCheck.test_repair_fixes_counts_and_garbage_in_a_copy()
  local dir = helper.tmpdir()
  local path = sample(dir, "r")
  DAMAGE.refcount(path)
  DAMAGE.unreachable(path)
  DAMAGE.nobjects(path)
  local before = read(path)
  local copy = dir .. "/fixed.pmem"
  local out = ok("check", path, "--repair", "-o", copy)
  -- the planted count, and the unreachable list's (its reference is gone)
  lu.assertStrContains(out, "set 2 refcounts, collected 1 unreachable containers")
  lu.assertStrContains(out, copy .. ": sound")
  lu.assertEquals(read(path), before, "the original is not changed")
  ok("check", copy)
  -- what needs a guess is left, and said
  local p2 = sample(dir, "r2")
  DAMAGE.dangling(p2)
  local _, code, err = pmtool("check", p2, "--repair")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "problems remain")
end

function TestCheck.test_a_crashed_pool_is_sound_and_says_so()
  local path = helper.pool_path()
  helper.child_env(helper.DIRECT, [[
local p = assert(pmem.open(arg[1], "x", pmem.MIN_POOL_SIZE))
p.root = { a = { 1 } }
p.root.a = nil
p.root.b = p:list { "x" }
os.exit(0, false)               -- no close: the pool stays marked open
]], path)
  local out = ok("check", path)
  lu.assertStrContains(out, "the last run did not close it")
  lu.assertStrContains(ok("info", path), "did not close the pool")
  local gc = ok("gc", path)
  lu.assertStrMatches(gc, ".*collected %d+ containers, 2 live, 0 damaged.*")
  lu.assertStrContains(ok("check", path), "sound (2 containers, 2 reachable)\n")
end

-- }======================================================

TestInfo = {}

function TestInfo.test_info_counts_and_json()
  local dir = helper.tmpdir()
  every_kind(dir .. "/a.pmem")
  local out = ok("info", dir .. "/a.pmem")
  lu.assertStrContains(out, "format version  1")
  lu.assertStrContains(out, "closed the pool cleanly")
  lu.assertStrContains(out, 'objects by class "Point" 1')
  lu.assertStrMatches(out, ".*largest containers\n  table +20 entries  root.order\n.*")
  local js = ok("info", dir .. "/a.pmem", "--json")
  lu.assertStrContains(js, '"clean": true')
  lu.assertStrContains(js, '"classes": {"Point": 1}')
end

function TestInfo.test_graph()
  local dir = helper.tmpdir()
  every_kind(dir .. "/a.pmem")
  local out = ok("graph", dir .. "/a.pmem")
  lu.assertStrContains(out, "digraph pmlua {")
  lu.assertStrContains(out, 'n1 -> n1 [label="\\"self\\""]')
  local sub = ok("graph", dir .. "/a.pmem", "--root", "root.obj", "--depth", "0")
  lu.assertStrMatches(sub, '.*object@%d+ \\"Point\\" %(3%).*')
  lu.assertStrContains(sub, "references not followed")
  local _, code, err = pmtool("graph", dir .. "/a.pmem", "--root", "root.nothing")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "no such value")
  if os.execute("command -v dot >/dev/null 2>&1") then
    ok("graph", dir .. "/a.pmem", "-o", dir .. "/g.svg")
    lu.assertStrContains(read(dir .. "/g.svg"), "<svg")
  else
    local _, c2, e2 = pmtool("graph", dir .. "/a.pmem", "-o", dir .. "/g.svg")
    lu.assertEquals(c2, 1)
    lu.assertStrContains(e2, "dot is not installed")
  end
end

-- {====================================================== reshape

TestReshape = {}

function TestReshape.test_resize_lets_a_full_pool_go_on()
  local path = helper.fast_pool_path()
  -- appends (in transactions of 100 while they fit, then one by one) until
  -- the pool is full or arg[2] more are in
  local fill = [[
local p = assert(pmem.open(arg[1], "c", pmem.MIN_POOL_SIZE))
if not p.root then p.root = p:list() end
local l, n, max, batch = p.root, 0, tonumber(arg[2]), 100
while n < max do
  local okk, err = pcall(p.transaction, p, function()
    for _ = 1, batch do l:append(("x"):rep(200) .. n + _) end
  end)
  if okk then n = n + batch
  elseif batch > 1 then batch = 1
  else
    assert(tostring(err):find("full"), err)
    break
  end
end
print(n, #l)
p:close()
]]
  local first = helper.child_ok(fill, path, "1000000")
  local n1 = tonumber(first:match("^(%d+)"))
  lu.assertTrue(n1 > 100 and n1 < 1000000, first)
  local before = content(path)
  local out = ok("resize", path, "32M")
  lu.assertStrContains(out, "resized to 33554432 bytes")
  lu.assertEquals(helper.file_size(path), 32 << 20)
  lu.assertEquals(content(path), before)
  local second = helper.child_ok(fill, path, "5000")
  local n2, len = second:match("^(%d+)%s+(%d+)")
  lu.assertEquals(tonumber(n2), 5000, "the program went on: " .. second)
  lu.assertEquals(tonumber(len), n1 + tonumber(n2))
  -- and shrink back does not fit: said, and nothing changed
  local size = helper.file_size(path)
  local _, code, err = pmtool("resize", path, "8M")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "does not fit")
  lu.assertEquals(helper.file_size(path), size)
  lu.assertNil(io.open(path .. "-wal"))
end

function TestReshape.test_compact()
  local path = helper.pool_path()
  helper.child_ok([[
local p = assert(pmem.open(arg[1], "x", 16 << 20))
p.root = p:list()
for i = 1, 300 do p.root:append({ ("x"):rep(i * 10) }) end
for i = 300, 1, -2 do p.root:remove(i) end
p:close()
]], path)
  local before, used = content(path), ok("info", path):match("heap +(%d+) bytes used")
  lu.assertStrContains(ok("compact", path), "compacted to 16777216 bytes")
  lu.assertEquals(content(path), before)
  local after = ok("info", path):match("heap +(%d+) bytes used")
  lu.assertTrue(tonumber(after) <= tonumber(used), after .. " > " .. used)
  ok("check", path)
end

-- a pool that grows (pmem.open's default) stays one: restore makes one
-- unless --size asks for a fixed size, compact keeps its maximum, resize
-- gives it a new maximum (compact failed on every growing pool: it asked
-- for a fixed pool of the file's size at rest, below the minimum)
function TestReshape.test_growing_pools_stay_growing()
  local dir = helper.tmpdir()
  local path, dump, copy = dir .. "/g.pmem", dir .. "/g.txt", dir .. "/r.pmem"
  helper.child_ok([[
local p = assert(pmem.open(arg[1], "c"))
p.root = {}
for i = 1, 1000 do p.root[i] = { i, ("y"):rep(i % 50) } end
for i = 1000, 1, -3 do p.root[i] = nil end
p:close()
]], path)
  local before = content(path)
  local stats = [[
local p = assert(pmem.open(arg[1]))
local s = p:stats()
print(s.max_size, #p.root)
p.root[#p.root + 1] = "more"
p:close()
]]
  lu.assertStrContains(ok("compact", path), "compacted to 17179869184 bytes at most, growing")
  lu.assertEquals(content(path), before)
  lu.assertTrue(helper.file_size(path) < 16 << 20, "at rest: " .. helper.file_size(path))
  lu.assertStrContains(ok("info", path), "format version  2")
  lu.assertStrContains(ok("resize", path, "1G"), "resized to 1073741824 bytes at most, growing")
  lu.assertEquals(content(path), before)
  lu.assertStrMatches(helper.child_ok(stats, path), "10%d+%s+%d+%s*")   -- a maximum under 1 GiB
  ok("dump", path, dump)
  ok("restore", dump, copy)
  lu.assertTrue(helper.file_size(copy) < 16 << 20, "restored: " .. helper.file_size(copy))
  lu.assertStrContains(ok("info", copy), "format version  2")
  lu.assertEquals(content(copy), content(path))
  os.remove(copy)
  ok("restore", dump, copy, "--size", "64M")
  lu.assertEquals(helper.file_size(copy), 64 << 20)
  lu.assertStrContains(ok("info", copy), "format version  1")
end

-- the dump of the pool at path, or nil if there is none
local function dump_of(path)
  local out, code = pmtool("dump", path)
  return code == 0 and out or nil
end

function TestReshape.test_kill_9_at_each_step_leaves_the_original_or_nothing()
  local dir = helper.tmpdir()
  local src = dir .. "/src.pmem"
  every_kind(src)
  local want = dump_of(src)
  local dumpf = dir .. "/d.txt"
  helper.write_file(dumpf, want)
  for _, at in ipairs { "build-created", "build-checked", "build-synced", "build-renamed" } do
    for _, cmd in ipairs { { "resize", src, "12M" }, { "compact", src } } do
      local _, code = helper.run_cmd("PMTOOL_CRASH_AT=" .. at .. " " .. q(PMTOOL) .. " " ..
                                     table.concat({ q(cmd[1]), q(cmd[2]), cmd[3] and q(cmd[3]) or "" }, " "))
      lu.assertEquals(code, 137, at .. " " .. cmd[1])     -- killed by SIGKILL
      lu.assertEquals(dump_of(src), want, at)
      ok("check", src)
    end
    local dst = dir .. "/new-" .. at .. ".pmem"
    local _, code = helper.run_cmd("PMTOOL_CRASH_AT=" .. at .. " " .. q(PMTOOL) .. " restore " ..
                                   q(dumpf) .. " " .. q(dst))
    lu.assertEquals(code, 137)
    if at == "build-renamed" then lu.assertEquals(dump_of(dst), want)
    else lu.assertNil(io.open(dst), "no pool appears before it is complete: " .. at) end
  end
  -- the next build sweeps what the killed ones left
  ok("resize", src, "16M")
  local ls = io.popen("ls -A " .. q(dir)):read("a")
  lu.assertNotStrContains(ls, ".pmtool.")
  lu.assertEquals(dump_of(src), want)
end

function TestReshape.test_kill_9_from_outside_at_any_instant()
  local path = helper.fast_pool_path("k.pmem")
  helper.child_ok([[
local p = assert(pmem.open(arg[1], "x", 64 << 20))
p:transaction(function()
  p.root = p:list()
  for i = 1, 20000 do p.root:append({ i, "v" .. i }) end
end)
p:close()
]], path)
  local want = dump_of(path)
  for round = 1, 6 do
    local cmd = round % 2 == 0 and "compact" or "resize"
    local size = round % 2 == 0 and "" or q(tostring((64 + 8 * round) << 20))
    -- started in the background and killed after a varying delay: wherever
    -- the kill lands, the pool is the original or the finished new one
    os.execute(("%s %s %s %s >/dev/null 2>&1 & pid=$!; sleep 0.%d; kill -9 $pid 2>/dev/null; wait $pid")
               :format(q(PMTOOL), cmd, q(path), size, round * 15))
    lu.assertEquals(dump_of(path), want, "round " .. round)
    ok("check", path)
  end
end

-- }======================================================

-- {====================================================== errors

-- a child pmlua that holds the pool at path open until its stdin closes
local function hold(path)
  local dir = helper.tmpdir()
  local mark = dir .. "/ready"
  local script = dir .. "/hold.lua"
  helper.write_file(script, ([[
local p = assert(pmem.open(%q, "w"))
io.open(%q, "w"):close()
io.read("a")
p:close()
]]):format(path, mark))
  local h = assert(io.popen(q(helper.PMLUA) .. " " .. q(script), "w"))
  for _ = 1, 600 do                       -- bounded: at most a minute
    if io.open(mark) then return h end
    os.execute("sleep 0.1")
  end
  h:close()
  error("the child never opened the pool")
end

TestErrors = {}

function TestErrors.test_every_subcommand_for_a_missing_foreign_damaged_or_busy_pool()
  local dir = helper.tmpdir()
  local missing = dir .. "/nothing.pmem"
  local foreign = dir .. "/foreign"
  helper.write_file(foreign, ("garbage"):rep(4000))
  local damaged = sample(dir, "damaged")
  poke(damaged, DSC_ROOT_OFF, helper.file_size(damaged) + 4096)
  local busy = sample(dir, "busy")
  local cases = {
    { missing, "No such file or directory" },
    { foreign, "not a pmlua pool" },
    { damaged, "damaged pool" },
  }
  local cmds = {
    { "info" }, { "check" }, { "gc" }, { "dump" }, { "graph" }, { "resize", "32M" }, { "compact" },
  }
  local function try(path, want)
    for _, c in ipairs(cmds) do
      local out, code, err = pmtool(c[1], path, table.unpack(c, 2))
      lu.assertEquals(code, 1, c[1] .. " " .. path .. ": " .. out .. err)
      lu.assertEquals(select(2, err:gsub("\n", "")), 1, "one line: " .. err)
      lu.assertStrContains(err, "pmtool " .. c[1] .. ": " .. path)
      lu.assertStrContains(err, want)
    end
  end
  for _, c in ipairs(cases) do try(c[1], c[2]) end
  local h = hold(busy)
  local ok_, e = pcall(try, busy, "in use")
  h:close()
  assert(ok_, e)
  ok("check", busy)                        -- and once closed, usable
  -- restore onto an existing pool, usage errors
  local _, code, err = pmtool("restore", foreign, busy)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "exists")
  _, code = pmtool("frobnicate", busy)
  lu.assertEquals(code, 2)
  _, code = pmtool("dump")
  lu.assertEquals(code, 2)
  for _, c in ipairs { "info", "check", "gc", "dump", "restore", "resize", "compact", "graph" } do
    local out = ok(c, "--help")
    lu.assertStrContains(out, "usage: pmtool " .. c)
  end
end

-- }======================================================

os.exit(lu.LuaUnit.run())
