-- test_pool.lua -- pools: open flags, sizes and modes, pool.root and
-- pool.path, close (explicit, <close>, __gc), use after close, pools that
-- are already open (here or in another process), files that are not pools
-- or are damaged, and atomic creation (kill -9 during creation).
--
-- The contract is the "Pools" section of docs/reference.md. Opens of foreign
-- and damaged files run in child processes, so that a crash is seen as a
-- failed exit status rather than killing this suite.
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

local q = helper.q
local MIN = pmem.MIN_POOL_SIZE

-- {====================================== local helpers

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function touch(path) write_file(path, "") end

local function dirname(path) return (path:match("^(.*)/[^/]*$")) end

-- sleep -- a short pause (fractions of a second)
local function sleep(s) os.execute("sleep " .. s) end

-- wait_for -- wait until path exists; false after timeout seconds
local function wait_for(path, timeout)
  for _ = 1, math.floor(timeout / 0.02) do
    if exists(path) then return true end
    sleep(0.02)
  end
  return exists(path)
end

-- new_pool -- create a pool at a fresh path with root, close it, return the path
local function new_pool(root, size, name)
  local path = helper.pool_path(name)
  local p = assert(pmem.open(path, "x", size or MIN))
  p.root = root
  p:close()
  return path
end

-- open_in_child -- pmem.open(path, flag) in a fresh pmlua; returns a table
-- { code, out, err, ok (a pool was returned), msg, errno }
local OPEN_CHILD = [[
local path, flag = ...
local p, msg, errno = pmem.open(path, flag)
if p then print("POOL") p:close() else
  print("NIL", math.type(errno), errno) print(msg) end
]]
local function open_in_child(path, flag)
  local out, code, err = helper.child(OPEN_CHILD, path, flag or "w")
  local r = { code = code, out = out, err = err }
  r.ok = out:match("^POOL\n") ~= nil
  local et, en, msg = out:match("^NIL\t(%S+)\t(%S+)\n(.*)\n$")
  r.errtype, r.errno, r.msg = et, tonumber(en), msg
  return r
end

-- assert_refused -- the child ran cleanly and got nil, msg, errno with msg
-- matching one of the patterns (case-insensitive)
local function assert_refused(r, what, patterns)
  lu.assertEquals(r.code, 0, what .. ": the child process did not exit cleanly "
    .. "(crash?): status " .. tostring(r.code) .. "\n" .. r.err .. r.out)
  lu.assertFalse(r.ok, what .. ": opened as a pool")
  lu.assertNotNil(r.msg, what .. ": expected nil, message, errno; got:\n" .. r.out .. r.err)
  lu.assertEquals(r.errtype, "integer", what .. ": errno is not an integer")
  local low = r.msg:lower()
  local found = false
  for _, pat in ipairs(patterns) do
    if low:find(pat) then found = true end
  end
  lu.assertTrue(found, what .. ": message does not name the problem (expected one of "
    .. table.concat(patterns, ", ") .. "): " .. r.msg)
end

-- child_crash -- like helper.child, for a chunk that kills itself: the
-- shell's "Killed" notice goes to the captured stderr, not to the terminal
local function child_crash(src, ...)
  local f = os.tmpname()
  write_file(f, src)
  local args = {}
  for i = 1, select("#", ...) do args[i] = q(select(i, ...)) end
  local out, _, err = helper.run_cmd(q(helper.PMLUA) .. " " .. f .. " " .. table.concat(args, " ")
    .. "; echo \"status=$?\"")
  os.remove(f)
  local code = tonumber(out:match("status=(%d+)\n$"))
  return out:gsub("status=%d+\n$", ""), code, err
end

-- self_kill -- Lua source that kills its own pmlua process with SIGKILL
local SELF_KILL = [[
local f = io.open("/proc/self/stat"); local pid = f:read("n"); f:close()
io.stdout:flush()
os.execute("kill -9 " .. pid)
os.exit(99)    -- not reached
]]

-- table_objects -- number of pmlua tables (pmemobj type number 2) in the
-- pool file, as pmempool info counts them; nil if pmempool is missing
local function table_objects(path)
  if not exists("/usr/bin/pmempool") then return nil end
  local out, code = helper.run_cmd("pmempool info -s " .. q(path))
  assert(code == 0, "pmempool info failed")
  local n = out:match("Type number%s*:%s*2%s*\n%s*Number of objects%s*:%s*(%d+)")
  return tonumber(n or 0)
end

-- }======================================

---------------------------------------------------------------------------
TestFlags = {}

function TestFlags:test_w_is_default_and_fails_on_missing_file()
  local path = helper.pool_path()
  local p, msg, errno = pmem.open(path)
  lu.assertNil(p)
  lu.assertIsString(msg)
  lu.assertStrContains(msg, path)
  lu.assertEquals(errno, 2)                       -- ENOENT
  lu.assertEquals(math.type(errno), "integer")
  p, msg, errno = pmem.open(path, "w")
  lu.assertNil(p)
  lu.assertEquals(errno, 2)
  lu.assertFalse(exists(path), "a failed 'w' open created a file")
end

function TestFlags:test_w_opens_an_existing_pool()
  local path = new_pool({ v = 42 })
  local p = assert(pmem.open(path))
  lu.assertEquals(p.root.v, 42)
  p:close()
  p = assert(pmem.open(path, "w"))
  lu.assertEquals(p.root.v, 42)
  p.root = "changed"
  p:close()
  p = assert(pmem.open(path))
  lu.assertEquals(p.root, "changed")
  p:close()
end

function TestFlags:test_c_creates_then_reopens()
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "c", MIN))
  lu.assertTrue(exists(path))
  lu.assertNil(p.root)
  p.root = "first"
  p:close()
  p = assert(pmem.open(path, "c", MIN))
  lu.assertEquals(p.root, "first", "'c' on an existing pool must open it, not recreate it")
  p:close()
end

function TestFlags:test_x_creates_and_fails_if_file_exists()
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN))
  lu.assertNil(p.root)
  p.root = 1
  p:close()
  local p2, msg, errno = pmem.open(path, "x", MIN)
  lu.assertNil(p2)
  lu.assertIsString(msg)
  lu.assertEquals(errno, 17)                      -- EEXIST
  p = assert(pmem.open(path))
  lu.assertEquals(p.root, 1, "a failed 'x' must leave the existing pool alone")
  p:close()
end

function TestFlags:test_x_on_an_ordinary_file_leaves_it_alone()
  local path = helper.pool_path("notes.txt")
  write_file(path, "my notes\n")
  local p, msg, errno = pmem.open(path, "x", MIN)
  lu.assertNil(p)
  lu.assertIsString(msg)
  lu.assertEquals(errno, 17)
  lu.assertEquals(read_file(path), "my notes\n")
end

function TestFlags:test_c_on_an_ordinary_file_does_not_overwrite_it()
  local path = helper.pool_path("notes.txt")
  write_file(path, "my notes\n")
  local p, msg = pmem.open(path, "c", MIN)
  lu.assertNil(p)
  lu.assertIsString(msg)
  lu.assertEquals(read_file(path), "my notes\n")
end

function TestFlags:test_r_on_missing_file()
  local path = helper.pool_path()
  local p, msg, errno = pmem.open(path, "r")
  lu.assertNil(p)
  lu.assertIsString(msg)
  lu.assertEquals(errno, 2)
  lu.assertFalse(exists(path))
end

function TestFlags:test_r_reads_work()
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN))
  p.root = { name = "x", t = { a = 1 }, l = p:list { 10, 20, 30 } }
  p:close()
  p = assert(pmem.open(path, "r"))
  local r = p.root
  lu.assertEquals(pmem.type(r), "table")
  lu.assertEquals(r.name, "x")
  lu.assertEquals(r.t.a, 1)
  lu.assertEquals(#r.l, 3)
  lu.assertEquals(r.l[2], 20)
  local keys = {}
  for k in pairs(r) do keys[#keys + 1] = k end
  table.sort(keys)
  lu.assertEquals(keys, { "l", "name", "t" })
  local seen = {}
  for i, v in ipairs(r.l) do seen[i] = v end
  lu.assertEquals(seen, { 10, 20, 30 })
  p:close()
end

function TestFlags:test_r_every_write_raises_read_only()
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN))
  p.root = { t = { a = 1 }, l = p:list { 1, 2 } }
  p:close()
  p = assert(pmem.open(path, "r"))
  local r = p.root
  local t, l = r.t, r.l
  local writes = {
    ["pool.root ="] = function() p.root = 5 end,
    ["pool.root = nil"] = function() p.root = nil end,
    ["t.k = v"] = function() t.k = 2 end,
    ["t.a = nil"] = function() t.a = nil end,
    ["root.t = {}"] = function() r.t = {} end,
    ["l:append"] = function() l:append(3) end,
    ["l[#l+1] ="] = function() l[3] = 3 end,
    ["l[1] ="] = function() l[1] = 9 end,
    ["table.insert"] = function() table.insert(l, 3) end,
    ["l:remove"] = function() l:remove() end,
    ["pool:table()"] = function() p:table() end,
    ["pool:list()"] = function() p:list() end,
    ["pool:gc()"] = function() p:gc() end,
    ["transaction write"] = function() p:transaction(function() t.a = 2 end) end,
  }
  for what, f in pairs(writes) do
    local ok, err = pcall(f)
    lu.assertFalse(ok, what .. " did not raise on a read-only pool")
    lu.assertStrContains(tostring(err), "pool is read-only", false, what)
  end
  -- nothing changed
  lu.assertEquals(t.a, 1)
  lu.assertNil(t.k)
  lu.assertEquals(#l, 2)
  lu.assertEquals(l[1], 1)
  lu.assertTrue(rawequal(p.root, r))
  p:close()
  p = assert(pmem.open(path))
  lu.assertEquals(p.root.t.a, 1)
  lu.assertNil(p.root.t.k)
  lu.assertEquals(#p.root.l, 2)
  p:close()
end

function TestFlags:test_r_close_keeps_data_for_next_open()
  local path = new_pool({ a = { b = "c" } })
  for _ = 1, 2 do
    local p = assert(pmem.open(path, "r"))
    lu.assertEquals(p.root.a.b, "c")
    p:close()
  end
  local p = assert(pmem.open(path))
  lu.assertEquals(p.root.a.b, "c")
  p:close()
end

function TestFlags:test_r_close_collects_nothing()
  -- a crashed run leaves an unreachable table behind; a read-only run must
  -- not collect it (only the next writable open does)
  if not exists("/usr/bin/pmempool") then
    lu.skip("pmempool (pmdk-tools) is not installed: cannot count objects in the file")
  end
  local path = helper.pool_path()
  local out, code = child_crash([[
local p = assert(pmem.open(..., "x", pmem.MIN_POOL_SIZE))
p.root = { keep = 1 }
ORPHAN = p:table { lost = true }
print("made")
]] .. SELF_KILL, path)
  lu.assertStrContains(out, "made")
  lu.assertEquals(code, 128 + 9, "setup: the child was not killed")
  lu.assertEquals(table_objects(path), 2, "setup: root table + orphan expected")
  helper.child_ok([[
local p = assert(pmem.open(..., "r"))
assert(p.root.keep == 1)
p:close()
]], path)
  lu.assertEquals(table_objects(path), 2, "a read-only open/close collected the orphan")
  helper.child_ok([[
local p = assert(pmem.open(...))
assert(p.root.keep == 1)
p:close()
]], path)
  lu.assertEquals(table_objects(path), 1, "the writable open after a crash must collect the orphan")
end

function TestFlags:test_invalid_flag_raises_with_the_flag()
  local path = helper.pool_path()
  for _, flag in ipairs { "a", "rw", "wx", "W", "+", "rb", "q" } do
    local ok, err = pcall(pmem.open, path, flag)
    lu.assertFalse(ok, "flag '" .. flag .. "' did not raise")
    lu.assertStrContains(tostring(err), flag, false)
  end
  local ok = pcall(pmem.open, path, "")
  lu.assertFalse(ok, "empty flag did not raise")
  lu.assertFalse(exists(path))
end

---------------------------------------------------------------------------
TestCreate = {}

function TestCreate:test_create_is_open_x()
  local path = helper.pool_path()
  local p = assert(pmem.create(path, MIN))
  lu.assertEquals(p.path, path)
  lu.assertNil(p.root)
  p.root = "x"
  p:close()
  local p2, msg, errno = pmem.create(path, MIN)
  lu.assertNil(p2)
  lu.assertIsString(msg)
  lu.assertEquals(errno, 17)
  p = assert(pmem.open(path))
  lu.assertEquals(p.root, "x")
  p:close()
end

function TestCreate:test_min_pool_size()
  lu.assertEquals(math.type(MIN), "integer")
  lu.assertTrue(MIN >= 8 * 1024 * 1024, "MIN_POOL_SIZE below 8 MiB: " .. MIN)
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN))
  p:close()
  lu.assertEquals(helper.file_size(path), MIN)
end

function TestCreate:test_size_below_minimum_is_refused_clearly()
  local path = helper.pool_path()
  for _, size in ipairs { MIN - 1, 4096, 0 } do
    local ok, p, msg = pcall(pmem.open, path, "x", size)
    lu.assertFalse(ok and p ~= nil, "size " .. size .. " accepted")
    local err = ok and msg or p
    lu.assertIsString(err)
    local low = err:lower()
    lu.assertTrue((low:find("minimum") or low:find("min_pool_size") or low:find("too small")) ~= nil,
                  "message does not say the size is too small: " .. err)
    lu.assertFalse(exists(path), "a refused size left a file")
  end
  lu.assertFalse(pcall(pmem.create, path, -1))
  lu.assertFalse(exists(path))
end

function TestCreate:test_default_pool_grows_to_at_least_64_mib()
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x"))
  lu.assertTrue(p:stats().max_size >= 64 * 1024 * 1024, "default max " .. p:stats().max_size)
  p:close()
  os.remove(path)
  p = assert(pmem.create(path))
  lu.assertTrue(p:stats().max_size >= 64 * 1024 * 1024)
  p:close()
  os.remove(path)
end

function TestCreate:test_explicit_mode()
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN, tonumber("600", 8)))
  p:close()
  local out = helper.run_cmd("stat -c %a " .. q(path))
  lu.assertEquals(out, "600\n")
  local path2 = helper.pool_path()
  p = assert(pmem.create(path2, MIN, tonumber("640", 8)))
  p:close()
  lu.assertEquals((helper.run_cmd("stat -c %a " .. q(path2))), "640\n")
end

function TestCreate:test_default_mode_is_0666_masked_by_umask()
  -- like io.open: a file created under umask 022 is 0644, under 077 is 0600
  for _, case in ipairs { { "022", "644" }, { "077", "600" }, { "002", "664" } } do
    local path = helper.pool_path()
    local ref = path .. ".ref"
    local _, code, err = helper.run_cmd("umask " .. case[1] .. " && " .. q(helper.PMLUA)
      .. " -e " .. q(("local p = assert(pmem.open(%q, 'x', pmem.MIN_POOL_SIZE)); p:close();"
      .. "io.open(%q, 'w'):close()"):format(path, ref)))
    lu.assertEquals(code, 0, err)
    lu.assertEquals((helper.run_cmd("stat -c %a " .. q(ref))), case[2] .. "\n",
                    "setup: io.open's mode")
    lu.assertEquals((helper.run_cmd("stat -c %a " .. q(path))), case[2] .. "\n",
                    "pool mode under umask " .. case[1] .. " differs from io.open's")
  end
end

function TestCreate:test_failed_creation_leaves_nothing()
  -- a size no file system can hold: creation fails (in posix_fallocate)
  local path = helper.pool_path()
  local p, msg, errno = pmem.open(path, "x", 1 << 44)
  lu.assertNil(p)
  lu.assertIsString(msg)
  lu.assertEquals(math.type(errno), "integer")
  lu.assertFalse(exists(path))
  local out = helper.run_cmd("ls -A " .. q(dirname(path)))
  lu.assertEquals(out, "", "failed creation left files behind")
end

function TestCreate:test_create_in_missing_directory()
  local path = helper.tmpdir() .. "/no/such/dir/p.pmem"
  for _, flag in ipairs { "x", "c" } do
    local p, msg, errno = pmem.open(path, flag, MIN)
    lu.assertNil(p)
    lu.assertIsString(msg)
    lu.assertEquals(errno, 2)
  end
end

function TestCreate:test_creation_is_atomic_under_kill()
  -- a child creates a 256 MiB pool, closes and removes it, over and over;
  -- kill -9 lands at an arbitrary instant. Afterwards there must be either
  -- no file at the path or a pool that opens (in another child).
  local dir = helper.tmpdir()
  local path = dir .. "/big.pmem"
  local script = dir .. "/creator.lua"
  write_file(script, [[
local path = ...
local n = 0
while true do
  local p = assert(pmem.open(path, "x", 256 * 1024 * 1024))
  p.root = "complete"
  p:close()
  n = n + 1
  if n == 1 then io.open(path .. ".started", "w"):close() end
  os.remove(path)
end
]])
  local delays = { 0.01, 0.03, 0.05, 0.07, 0.09, 0.11, 0.13, 0.17, 0.19, 0.23, 0.29, 0.31 }
  local present, absent, leftovers = 0, 0, {}
  for i, d in ipairs(delays) do
    helper.run_cmd(q(helper.PMLUA) .. " " .. q(script) .. " " .. q(path)
      .. " >/dev/null 2>&1 & pid=$!; sleep " .. d .. "; kill -9 $pid; wait $pid")
    if exists(path) then
      present = present + 1
      local r = open_in_child(path, "w")
      lu.assertTrue(r.ok, ("kill %d after %.2fs left a file that does not open: %s%s"):format(
        i, d, tostring(r.msg), r.err))
      -- killed after creation: before or after the root was set
      local out = helper.child_ok("local p = assert(pmem.open(...)); print(p.root); p:close()", path)
      lu.assertTrue(out == "complete\n" or out == "nil\n", "root after kill: " .. out)
    else
      absent = absent + 1
    end
    local ls = helper.run_cmd("ls -A " .. q(dir))
    for name in ls:gmatch("[^\n]+") do
      if name ~= "creator.lua" and name ~= "big.pmem" and name ~= "big.pmem.started" then
        lu.assertNotNil(name:match("^%.big%.pmem%.pmlua%-new%."),
                        "unexpected file after kill: " .. name)
        leftovers[#leftovers + 1] = name
      end
    end
    os.execute("rm -f " .. q(path) .. " " .. q(dir) .. "/.big.pmem.pmlua-new.*")
  end
  lu.assertEquals(present + absent, #delays)
  if os.getenv("PMLUA_TEST_VERBOSE") then
    print(("\n  creation killed %d times: %d pools present, %d absent, %d temporary files left")
      :format(#delays, present, absent, #leftovers))
  end
end

---------------------------------------------------------------------------
TestRootPath = {}

function TestRootPath:test_path_is_the_path_given()
  local dir = helper.tmpdir()
  local path = dir .. "/a.pmem"
  local p = assert(pmem.open(path, "x", MIN))
  lu.assertEquals(p.path, path)
  p:close()
  lu.assertEquals(p.path, path)
  -- a relative path stays as given
  local out = helper.run_cmd("cd " .. q(dir) .. " && " .. q(helper.PMLUA)
    .. " -e " .. q("local p = assert(pmem.open('a.pmem')); print(p.path); p:close()"))
  lu.assertEquals(out, "a.pmem\n")
end

function TestRootPath:test_root_nil_on_new_pool_and_assignable()
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN))
  lu.assertNil(p.root)
  p.root = 7
  lu.assertEquals(p.root, 7)
  p.root = "s"
  lu.assertEquals(p.root, "s")
  local t = p:table { a = 1 }
  p.root = t
  lu.assertTrue(rawequal(p.root, t))
  p.root = nil
  lu.assertNil(p.root)
  p.root = { b = 2 }
  lu.assertEquals(p.root.b, 2)
  p:close()
  p = assert(pmem.open(path))
  lu.assertEquals(p.root.b, 2)
  p:close()
end

function TestRootPath:test_other_pool_fields_cannot_be_set()
  local p = assert(pmem.open(helper.pool_path(), "x", MIN))
  lu.assertFalse(pcall(function() p.path = "other" end))
  lu.assertFalse(pcall(function() p.foo = 1 end))
  lu.assertNotEquals(p.path, "other")
  p:close()
end

function TestRootPath:test_tostring_pool()
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN))
  local s = tostring(p)
  lu.assertIsString(s)
  lu.assertStrContains(s, path)
  p:close()
  local s2 = tostring(p)
  lu.assertStrContains(s2, path)
  lu.assertNotEquals(s2, s, "tostring of a closed pool should differ from an open one")
end

---------------------------------------------------------------------------
TestClose = {}

function TestClose:test_second_close_does_nothing()
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN))
  p.root = "kept"
  p:close()
  p:close()
  lu.assertEquals(select("#", p:close()), 0)
  local p2 = assert(pmem.open(path))
  p:close()                                  -- must not close p2
  lu.assertEquals(p2.root, "kept")
  p2:close()
end

function TestClose:test_close_attribute_closes_at_scope_end()
  local path = helper.pool_path()
  do
    local p <close> = assert(pmem.open(path, "c", MIN))
    p.root = "scoped"
    lu.assertNil(pmem.open(path), "setup: the pool is open in the scope")
  end
  local p = assert(pmem.open(path), "<close> did not close the pool")
  lu.assertEquals(p.root, "scoped")
  p:close()
  -- also when the scope is left by an error
  local ok = pcall(function()
    local p2 <close> = assert(pmem.open(path))
    p2.root = "before error"
    error("boom")
  end)
  lu.assertFalse(ok)
  p = assert(pmem.open(path), "<close> did not close the pool on error")
  lu.assertEquals(p.root, "before error")
  p:close()
end

function TestClose:test_gc_closes()
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN))
  p.root = { v = "by gc" }
  local t = p.root                           -- a proxy alive: the pool must still close
  t = nil
  p = nil
  collectgarbage()
  collectgarbage()
  p = assert(pmem.open(path), "__gc did not close the pool")
  lu.assertEquals(p.root.v, "by gc")
  p:close()
end

function TestClose:test_close_collects_unreachable()
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN))
  p.root = { a = {} }
  local held = { p:table(), p:list(), p:table { x = {} } }   -- Lua values: not kept by close
  p:close()
  p = assert(pmem.open(path))
  local s = p:gc()
  lu.assertEquals(s.collected, 0, "close left unreachable objects to collect")
  lu.assertEquals(s.live, 2)
  lu.assertEquals(pmem.type(p.root.a), "table")
  p:close()
  lu.assertEquals(#held, 3)
end

function TestClose:test_close_and_reopen_starts_a_new_run()
  local C = pmem.class("test_pool.RunProbe")
  local loads = 0
  function C:__load() loads = loads + 1 end
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN))
  p.root = p:new(C)
  local o = p.root
  o._v_tmp = "volatile"
  o.kept = "stored"
  lu.assertEquals(loads, 1)
  lu.assertEquals(o._v_tmp, "volatile")
  p:close()
  p = assert(pmem.open(path))
  local o2 = p.root
  lu.assertEquals(loads, 2, "__load did not run again in the new run")
  lu.assertNil(o2._v_tmp, "a volatile attribute survived close/reopen")
  lu.assertEquals(o2.kept, "stored")
  lu.assertFalse(rawequal(o, o2), "a value of the old run is the same userdata")
  p:close()
end

function TestClose:test_use_after_close_raises_pool_is_closed()
  local C = pmem.class("test_pool.Closed")
  local path = helper.pool_path()
  local p = assert(pmem.open(path, "x", MIN))
  p.root = { t = { a = 1 }, l = p:list { 1, 2 }, o = p:new(C) }
  local r = p.root
  local t, l, o = r.t, r.l, r.o
  p:close()
  local uses = {
    ["pool.root"] = function() return p.root end,
    ["pool.root ="] = function() p.root = 1 end,
    ["pool:table()"] = function() return p:table() end,
    ["pool:list()"] = function() return p:list() end,
    ["pool:gc()"] = function() return p:gc() end,
    ["pool:transaction"] = function() return p:transaction(function() end) end,
    ["pool:new"] = function() return p:new(C) end,
    ["t.a"] = function() return t.a end,
    ["t.a ="] = function() t.a = 2 end,
    ["t.a = {}"] = function() t.a = {} end,
    ["#t"] = function() return #t end,
    ["pairs(t)"] = function() for _ in pairs(t) do end end,
    ["l[1]"] = function() return l[1] end,
    ["l:append"] = function() l:append(3) end,
    ["l[3] ="] = function() l[3] = 3 end,
    ["#l"] = function() return #l end,
    ["ipairs(l)"] = function() for _ in ipairs(l) do end end,
    ["pairs(l)"] = function() for _ in pairs(l) do end end,
    ["table.insert(l)"] = function() table.insert(l, 1) end,
    ["o.x"] = function() return o.x end,
    ["o.x ="] = function() o.x = 1 end,
    ["pmem.tolua"] = function() return pmem.tolua(t) end,
  }
  for what, f in pairs(uses) do
    local ok, err = pcall(f)
    lu.assertFalse(ok, what .. " did not raise after close")
    lu.assertStrContains(tostring(err), "pool is closed", false, what)
  end
  -- these still answer
  lu.assertEquals(p.path, path)
  lu.assertIsString(tostring(p))
  for _, v in ipairs { t, l, o } do
    lu.assertIsString(tostring(v))
  end
  lu.assertEquals(pmem.type(t), "table")
  lu.assertEquals(pmem.type(l), "list")
  lu.assertEquals(pmem.type(o), "object")
  -- and the file is intact
  p = assert(pmem.open(path))
  lu.assertEquals(p.root.t.a, 1)
  lu.assertEquals(#p.root.l, 2)
  p:close()
end

---------------------------------------------------------------------------
TestInUse = {}

function TestInUse:test_open_twice_in_one_process()
  local path = new_pool("x")
  local p = assert(pmem.open(path))
  for _, flag in ipairs { "w", "c", "r" } do
    local p2, msg = pmem.open(path, flag)
    lu.assertNil(p2, "second open with '" .. flag .. "' succeeded")
    lu.assertIsString(msg)
    lu.assertStrContains(msg, path .. ": pool is already open in this process")
  end
  lu.assertEquals(p.root, "x", "the first pool stays usable")
  p.root = "y"
  p:close()
  p = assert(pmem.open(path))
  lu.assertEquals(p.root, "y")
  p:close()
end

function TestInUse:test_read_only_open_blocks_writers_not_readers()
  local path = new_pool("x")
  local p = assert(pmem.open(path, "r"))
  local w, msg = pmem.open(path, "w")
  lu.assertNil(w)
  lu.assertStrContains(msg, "pool is already open in this process")
  local p2 = assert(pmem.open(path, "r"))       -- readers share the file
  p:close()
  lu.assertNil(pmem.open(path, "w"))
  p2:close()
  p = assert(pmem.open(path, "w"))
  lu.assertNil(pmem.open(path, "r"))            -- a writer excludes readers
  p:close()
end

function TestInUse:test_open_in_a_child_process()
  local path = new_pool("x")
  local dir = dirname(path)
  local opened, release, done = dir .. "/opened", dir .. "/release", dir .. "/done"
  local script = dir .. "/holder.lua"
  write_file(script, [[
local path, opened, release, done = ...
local p = assert(pmem.open(path))
io.open(opened, "w"):close()
for _ = 1, 500 do
  local f = io.open(release) if f then f:close() break end
  os.execute("sleep 0.02")
end
p.root = "from child"
p:close()
io.open(done, "w"):close()
]])
  os.execute(q(helper.PMLUA) .. " " .. table.concat({ q(script), q(path), q(opened),
    q(release), q(done) }, " ") .. " >/dev/null 2>&1 &")
  local ok = wait_for(opened, 10)
  if not ok then touch(release) end
  lu.assertTrue(ok, "the child did not open the pool")
  local results = {}
  for _, flag in ipairs { "w", "r", "c" } do
    results[flag] = table.pack(pmem.open(path, flag))
  end
  touch(release)
  lu.assertTrue(wait_for(done, 10), "the child did not finish")
  for flag, r in pairs(results) do
    lu.assertNil(r[1], "opened with '" .. flag .. "' while a child holds it")
    lu.assertIsString(r[2])
    lu.assertStrContains(r[2], "in use")
    lu.assertEquals(math.type(r[3]), "integer")
  end
  local p = assert(pmem.open(path), "cannot open after the child closed")
  lu.assertEquals(p.root, "from child")
  p:close()
end

---------------------------------------------------------------------------
TestForeign = {}

function TestForeign:test_missing_directory()
  local r = open_in_child(helper.tmpdir() .. "/nodir/p.pmem")
  assert_refused(r, "missing directory", { "no such file" })
  lu.assertEquals(r.errno, 2)
end

function TestForeign:test_directory()
  local dir = helper.tmpdir()
  for _, flag in ipairs { "w", "r", "c" } do
    assert_refused(open_in_child(dir, flag), "a directory (" .. flag .. ")",
                   { "not a pmlua pool", "directory" })
  end
end

function TestForeign:test_empty_file()
  local path = helper.pool_path("empty")
  touch(path)
  for _, flag in ipairs { "w", "r", "c" } do
    assert_refused(open_in_child(path, flag), "empty file (" .. flag .. ")",
                   { "not a pmlua pool" })
  end
  lu.assertEquals(helper.file_size(path), 0)
end

function TestForeign:test_text_file()
  local path = helper.pool_path("readme.txt")
  local text = string.rep("Just some text, not a pool.\n", 1000)
  write_file(path, text)
  for _, flag in ipairs { "w", "r", "c" } do
    assert_refused(open_in_child(path, flag), "text file (" .. flag .. ")",
                   { "not a pmlua pool" })
  end
  lu.assertEquals(read_file(path), text, "the text file was modified")
end

function TestForeign:test_random_binary_file()
  local path = helper.pool_path("random.bin")
  os.execute("head -c 10485760 /dev/urandom > " .. q(path))
  lu.assertEquals(helper.file_size(path), 10485760)
  local before = read_file(path)
  for _, flag in ipairs { "w", "r", "c" } do
    assert_refused(open_in_child(path, flag), "random file (" .. flag .. ")",
                   { "not a pmlua pool" })
  end
  lu.assertTrue(read_file(path) == before, "the random file was modified")
end

function TestForeign:test_pool_of_another_layout()
  if not exists("/usr/bin/pmempool") then
    lu.skip("pmempool (pmdk-tools) is not installed: cannot make a pool of another layout")
  end
  local path = helper.pool_path("other.obj")
  local _, code, err = helper.run_cmd("pmempool create obj --layout=other -s 16M " .. q(path))
  lu.assertEquals(code, 0, err)
  for _, flag in ipairs { "w", "r", "c" } do
    assert_refused(open_in_child(path, flag), "pool of layout 'other' (" .. flag .. ")",
                   { "layout" })
  end
  -- still a valid pool of its own layout
  local _, code2 = helper.run_cmd("pmempool check " .. q(path))
  lu.assertEquals(code2, 0)
end

function TestForeign:test_truncated_pool()
  local path = new_pool({ a = 1 }, 16 * 1024 * 1024)
  os.execute("truncate -s 8M " .. q(path))
  assert_refused(open_in_child(path, "w"), "pool truncated to half",
                 { "damaged", "truncat", "corrupt", "size" })
  assert_refused(open_in_child(path, "r"), "pool truncated to half (r)",
                 { "damaged", "truncat", "corrupt", "size" })
end

function TestForeign:test_header_zeroed()
  local path = new_pool({ a = 1 }, 16 * 1024 * 1024)
  os.execute("dd if=/dev/zero of=" .. q(path) .. " bs=4096 count=1 conv=notrunc 2>/dev/null")
  assert_refused(open_in_child(path, "w"), "first 4 KiB zeroed",
                 { "not a pmlua pool", "damaged", "corrupt" })
  assert_refused(open_in_child(path, "c"), "first 4 KiB zeroed (c)",
                 { "not a pmlua pool", "damaged", "corrupt" })
end

function TestForeign:test_header_random()
  local path = new_pool({ a = 1 }, 16 * 1024 * 1024)
  os.execute("dd if=/dev/urandom of=" .. q(path) .. " bs=4096 count=1 conv=notrunc 2>/dev/null")
  assert_refused(open_in_child(path, "w"), "first 4 KiB random",
                 { "not a pmlua pool", "damaged", "corrupt" })
end

-- patch_root -- find the pml_Root (magic "pmlua\0\0\0" then version 1, LE)
-- in the pool file and call f(file, offset of the magic)
local function patch_root(path, f)
  local data = read_file(path)
  local magic = "pmlua\0\0\0" .. string.pack("<i8", 1)
  local at = data:find(magic, 1, true)
  assert(at, "pml_Root not found in the pool file")
  assert(not data:find(magic, at + 1, true), "pml_Root found twice")
  local h = assert(io.open(path, "r+b"))
  f(h, at - 1)
  h:close()
end

function TestForeign:test_newer_format_version()
  local path = new_pool({ a = 1 }, 16 * 1024 * 1024)
  patch_root(path, function(h, off)
    h:seek("set", off + 8)
    h:write(string.pack("<i8", 3))
  end)
  for _, flag in ipairs { "w", "r", "c" } do
    local r = open_in_child(path, flag)
    assert_refused(r, "format version 3 (" .. flag .. ")", { "version" })
    lu.assertStrContains(r.msg, "3")
  end
end

function TestForeign:test_root_magic_damaged()
  local path = new_pool({ a = 1 }, 16 * 1024 * 1024)
  patch_root(path, function(h, off)
    h:seek("set", off)
    h:write("XXXXXXXX")
  end)
  assert_refused(open_in_child(path, "w"), "root magic overwritten",
                 { "damaged", "not a pmlua pool", "corrupt" })
end

-- {====================================== damage anywhere: never a crash

-- WALK_CHILD -- open the pool, read everything reachable (errors allowed),
-- close; prints NIL <msg> or DONE. A crash or hang shows in the exit status.
local WALK_CHILD = [[
local p, msg = pmem.open(...)
if not p then print("NIL " .. tostring(msg)) return end
local function walk(v, seen, depth)
  if pmem.type(v) and not seen[v] and depth < 100 then
    seen[v] = true
    for k, x in pairs(v) do walk(k, seen, depth + 1) walk(x, seen, depth + 1) end
    local _ = #v
  end
end
pcall(function() walk(p.root, {}, 0) end)   -- damage raises: allowed
pcall(function() p.root.new = { 1, 2, 3 } end)
p:close()
print("DONE")
]]

-- damage_page -- overwrite 4 KiB at page (4 KiB units) with bytes from a
-- fixed generator, so that a failure reproduces
local function damage_page(path, page, seed)
  local t = {}
  for i = 1, 1024 do
    seed = (seed * 1103515245 + 12345) % 2147483648
    t[i] = string.pack("<I4", seed)
  end
  local h = assert(io.open(path, "r+b"))
  h:seek("set", page * 4096)
  h:write(table.concat(t))
  h:close()
end

-- a pool with data spread over several pages: tables with long strings
local function data_pool()
  local path = helper.pool_path("data.pmem")
  local p = assert(pmem.open(path, "x", 16 * 1024 * 1024))
  local t = {}
  for i = 1, 200 do
    t[i] = { s = "PMLUA-TEST-MARKER " .. string.rep("v", 3 * i), n = i, sub = { i } }
  end
  p.root = { t = t, l = p:list { 1, 2, 3 }, s = string.rep("z", 100000) }
  p:close()
  return path
end

-- try_damaged -- damage a copy of pool at each (page, seed); returns a list
-- of failures (crash, hang, or unexpected output), stopping at the third
-- (a hang costs the 3 s timeout)
local function try_damaged(pool, cases)
  local bad = {}
  local dir = dirname(pool)
  local script = dir .. "/walk.lua"
  write_file(script, WALK_CHILD)
  local copy = dir .. "/damaged.pmem"
  for _, c in ipairs(cases) do
    if #bad >= 3 then break end
    os.execute("cp " .. q(pool) .. " " .. q(copy))
    damage_page(copy, c[1], c[2])
    local out, _, err = helper.run_cmd("timeout 3 " .. q(helper.PMLUA) .. " " .. q(script)
      .. " " .. q(copy) .. "; echo \"status=$?\"")
    local code = tonumber(out:match("status=(%d+)\n$"))
    out = out:gsub("status=%d+\n$", "")
    if code ~= 0 or not (out == "DONE\n" or out:match("^NIL .+\n$")) then
      bad[#bad + 1] = ("page %d seed %d: status %s (%s) %s%s"):format(c[1], c[2], tostring(code),
        code == 124 and "hang" or code == 139 and "SIGSEGV" or "?", out, err:sub(1, 200))
    end
    os.remove(copy)
  end
  return bad
end

function TestForeign:test_damaged_object_area_never_crashes()
  local pool = data_pool()
  local data = read_file(pool)
  local at = assert(data:find("PMLUA-TEST-MARKER", 1, true), "setup: marker not found")
  data = nil
  local first = (at - 1) // 4096
  local cases = {}
  for page = first - 4, first + 16, 2 do
    for seed = 1, 2 do cases[#cases + 1] = { page, seed } end
  end
  local bad = try_damaged(pool, cases)
  lu.assertEquals(#bad, 0, "damaged pools crashed or hung (first 3 shown):\n"
                  .. table.concat(bad, "\n"))
end

function TestForeign:test_damaged_pmemobj_metadata_never_crashes()
  -- the pages after the pool header: libpmemobj's lanes (undo/redo logs)
  local pool = data_pool()
  local cases = {}
  for _, page in ipairs { 2, 3, 8, 64, 256 } do cases[#cases + 1] = { page, 1 } end
  local bad = try_damaged(pool, cases)
  lu.assertEquals(#bad, 0, "damaged pools crashed or hung (first 3 shown):\n"
                  .. table.concat(bad, "\n"))
end

-- }======================================

function TestForeign:test_refused_open_changes_nothing()
  -- the version-3 pool stays exactly as it was: no run started on it
  local path = new_pool({ a = 1 }, 16 * 1024 * 1024)
  patch_root(path, function(h, off)
    h:seek("set", off + 8)
    h:write(string.pack("<i8", 3))
  end)
  local r = open_in_child(path, "w")
  lu.assertFalse(r.ok)
  -- put version 1 back: the pool opens with its data
  local data = read_file(path)
  local at = data:find("pmlua\0\0\0" .. string.pack("<i8", 3), 1, true)
  lu.assertNotNil(at)
  local h = assert(io.open(path, "r+b"))
  h:seek("set", at - 1 + 8)
  h:write(string.pack("<i8", 1))
  h:close()
  local out = helper.child_ok("local p = assert(pmem.open(...)); print(p.root.a); p:close()", path)
  lu.assertEquals(out, "1\n")
end

TestOptions = {}

function TestOptions:test_options_table_and_positional_forms()
  local path = helper.pool_path()
  local p = assert(pmem.create(path, { size = pmem.MIN_POOL_SIZE, mode = 384, sync = "normal" }))
  local st = p:stats()
  lu.assertEquals({ st.size, st.sync, st.engine }, { pmem.MIN_POOL_SIZE, "normal", "log" })
  p:close()
  lu.assertEquals(helper.run_cmd("stat -c %a " .. q(path)), "600\n")
  p = assert(pmem.open(path, "w", {}))
  lu.assertEquals(p:stats().sync, "full", "the level is per open, full by default")
  p:close()
  local path2 = helper.pool_path()
  p = assert(pmem.open(path2, "x", pmem.MIN_POOL_SIZE, 384))
  lu.assertEquals(p:stats().size, pmem.MIN_POOL_SIZE)
  p:close()
end

function TestOptions:test_bad_options_raise()
  local path = helper.pool_path()
  local cases = {
    { { sizes = 1 }, "unknown option 'sizes' (the options are size, max_size, mode and sync)" },
    { { sync = "fast" }, [[option 'sync' must be "full" or "normal", not 'fast']] },
    { { sync = 1 }, [[option 'sync' must be "full" or "normal", not number]] },
    { { size = "big" }, "option 'size' must be an integer, not string" },
    { { size = 1024 }, "pool size 1024 is below the minimum" },
    { { mode = 644 * 100 }, "mode 64400 is not permission bits" },
    { { [1] = true }, "unknown option 1" },
  }
  for _, c in ipairs(cases) do
    local ok, err = pcall(pmem.create, path, c[1])
    lu.assertFalse(ok)
    lu.assertStrMatches(err, "bad argument #2 to '[%w.]*create' .*")
    lu.assertStrContains(err, c[2])
  end
  lu.assertFalse(io.open(path) ~= nil, "nothing was created")
end

function TestOptions:test_stats_follow_the_pool()
  local p, path = helper.newpool()
  local before = p:stats()
  lu.assertTrue(before.used > 0 and before.free > 0)
  lu.assertTrue(before.used + before.free <= before.size)
  p.root = { blob = string.rep("x", 3 * 1024 * 1024) }
  local after = p:stats()
  lu.assertTrue(after.used >= before.used + 3 * 1024 * 1024, "used grows by what was stored")
  lu.assertTrue(after.log > 3 * 1024 * 1024, "the change is in the log")
  p:sync()
  p:close()
  lu.assertFalse(io.open(path .. "-wal") ~= nil, "a clean close removes the log")
  local r = assert(pmem.open(path, "r"))
  lu.assertEquals(r:stats().engine, "read-only")
  lu.assertEquals(#r.root.blob, 3 * 1024 * 1024)
  r:close()
  lu.assertErrorMsgContains("pool is closed", function() r:stats() end)
end

os.exit(lu.LuaUnit.run())
