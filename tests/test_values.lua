-- test_values.lua -- storable values: scalars and strings round-trip
-- exactly (in this process and after reopening in another process),
-- unstorable values raise an error naming the type and change nothing,
-- plain Lua tables are deep-copied (sharing and cycles kept), and reading
-- the same stored value twice gives the same userdata.
--
-- The contract is the "Storable values" section and "Identity" of docs/reference.md.
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

local MIN = pmem.MIN_POOL_SIZE

-- {====================================== values shared with the children

-- DEFS is run here and prepended to every child chunk, so both sides build
-- the same values. VALUES[i] = { name = ..., v = value }.
local DEFS = [==[
local function allbytes()
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  return table.concat(t)
end
local function pseudo(n, seed)          -- n bytes, not periodic in any short period
  local parts, len = {}, 0
  while len < n do
    seed = (seed * 1103515245 + 12345) % 2147483648
    local s = string.pack("<I4", seed) .. allbytes():sub(seed % 256 + 1, seed % 256 + 37)
    parts[#parts + 1] = s
    len = len + #s
  end
  return table.concat(parts):sub(1, n)
end
local function big(n)                   -- large: 64 KiB blocks, each one numbered
  if n <= 65536 then return pseudo(n, 12345) end
  local block, parts = pseudo(65536 - 8, 777), {}
  for i = 1, n // 65536 + 1 do parts[i] = string.pack("<i8", i) .. block end
  return table.concat(parts):sub(1, n)
end
VALUES = {
  { name = "nil", v = nil },
  { name = "true", v = true },
  { name = "false", v = false },
  { name = "int 0", v = 0 },
  { name = "int 1", v = 1 },
  { name = "int -1", v = -1 },
  { name = "maxinteger", v = math.maxinteger },
  { name = "mininteger", v = math.mininteger },
  { name = "int 2^53+1", v = (1 << 53) + 1 },
  { name = "float 1.0", v = 1.0 },
  { name = "float 0.0", v = 0.0 },
  { name = "float -0.0", v = -0.0 },
  { name = "float 1.5", v = 1.5 },
  { name = "float -1.5", v = -1.5 },
  { name = "float pi", v = math.pi },
  { name = "float 2^63", v = 2.0 ^ 63 },
  { name = "float subnormal", v = 4.9406564584124654e-324 },
  { name = "float max", v = 1.7976931348623157e308 },
  { name = "inf", v = math.huge },
  { name = "-inf", v = -math.huge },
  { name = "nan", v = 0 / 0 },
  { name = "-nan", v = -(0 / 0) },
  { name = "string empty", v = "" },
  { name = "string a", v = "a" },
  { name = "string 13", v = "abcdefghijklm" },
  { name = "string 14", v = "abcdefghijklmn" },
  { name = "string 15", v = "abcdefghijklmno" },
  { name = "string 16", v = "abcdefghijklmnop" },
  { name = "string 255", v = string.rep("0123456789abcdef", 16):sub(1, 255) },
  { name = "string zeros inside", v = "\0a\0" },
  { name = "string zero at end", v = "abc\0" },
  { name = "string 14 zeros", v = string.rep("\0", 14) },
  { name = "string 15 zeros", v = string.rep("\0", 15) },
  { name = "string 1 zero", v = "\0" },
  { name = "string all bytes", v = allbytes() },
  { name = "string all bytes reversed", v = allbytes():reverse() },
  { name = "string high bytes 14", v = string.rep("\255", 14) },
  { name = "string utf8", v = "h\u{e9}llo w\u{f6}rld \u{1F600}" },
  { name = "string 64 KiB", v = big(65536) },
}
local bigstr
function BIG()                         -- 5 MiB, made on first use
  bigstr = bigstr or big(5 * 1024 * 1024)
  return bigstr
end

-- describe -- an exact, printable description of a value
function describe(x)
  if type(x) == "number" then
    if x ~= x then return math.type(x) .. " nan" end
    return math.type(x) .. " " .. (math.type(x) == "float" and ("%a"):format(x) or tostring(x))
  elseif type(x) == "string" then
    return ("string #%d %q"):format(#x, #x > 40 and x:sub(1, 40) .. "..." or x)
  end
  return type(x) .. " " .. tostring(x)
end

-- same -- x and y are the same value: same type and subtype, -0.0 is not
-- 0.0, nan is nan
function same(x, y)
  if type(x) ~= type(y) or math.type(x) ~= math.type(y) then return false end
  if type(x) == "number" then
    if x ~= x then return y ~= y end
    if x == 0 and math.type(x) == "float" then return 1 / x == 1 / y end
  end
  return x == y
end
]==]
assert(load(DEFS))()
local VALUES, describe, same, BIG = VALUES, describe, same, BIG

-- }======================================

local function new_pool(size)   -- 16 MiB: see the report on 8 MiB fragmentation
  local path = helper.pool_path()
  return assert(pmem.open(path, "x", size or 16 * 1024 * 1024)), path
end

local function assert_same(got, want, what)
  lu.assertTrue(same(got, want), ("%s: expected %s, got %s"):format(
    what, describe(want), describe(got)))
end

-- expect_error -- f() raises an error whose message contains one of words
local function expect_error(f, words, what)
  local ok, err = pcall(f)
  lu.assertFalse(ok, what .. ": no error")
  err = tostring(err)
  for _, w in ipairs(words) do
    if err:find(w, 1, true) then return err end
  end
  lu.fail(what .. ": the error does not name the type (" .. table.concat(words, " or ")
          .. "): " .. err)
end

---------------------------------------------------------------------------
TestScalars = {}

function TestScalars:test_same_helper_is_strict()
  -- the comparison the other tests rely on must see these differences
  lu.assertFalse(same(1, 1.0))
  lu.assertFalse(same(0.0, -0.0))
  lu.assertFalse(same(0 / 0, 0))
  lu.assertTrue(same(0 / 0, 0 / 0))
  lu.assertFalse(same("a\0", "a"))
  lu.assertTrue(same(-0.0, -0.0))
  lu.assertEquals(1 / VALUES[12].v, -math.huge, "setup: -0.0")
  lu.assertEquals(#BIG(), 5 * 1024 * 1024)
  lu.assertNotEquals(BIG():sub(1, 65536), BIG():sub(65537, 131072))
end

function TestScalars:test_through_root_in_process()
  local p = new_pool()
  for _, e in ipairs(VALUES) do
    p.root = e.v
    assert_same(p.root, e.v, "pool.root = " .. e.name)
    assert_same(p.root, e.v, "pool.root = " .. e.name .. " (second read)")
  end
  p:close()
end

function TestScalars:test_specific_checks()
  local p = new_pool()
  p.root = -0.0
  lu.assertEquals(1 / p.root, -math.huge)
  p.root = 0 / 0
  local x = p.root
  lu.assertTrue(x ~= x)
  lu.assertEquals(math.type(x), "float")
  p.root = 1
  lu.assertEquals(math.type(p.root), "integer")
  p.root = 1.0
  lu.assertEquals(math.type(p.root), "float")
  p.root = math.maxinteger
  lu.assertEquals(p.root, math.maxinteger)
  lu.assertEquals(math.type(p.root), "integer")
  p.root = math.mininteger
  lu.assertEquals(p.root, math.mininteger)
  p.root = math.huge
  lu.assertEquals(p.root, math.huge)
  p.root = -math.huge
  lu.assertEquals(p.root, -math.huge)
  p.root = "\0a\0"
  lu.assertEquals(#p.root, 3)
  lu.assertEquals(p.root:byte(1, -1), 0)
  lu.assertEquals(select(2, p.root:byte(1, -1)), 97)
  p:close()
end

function TestScalars:test_through_table_fields_in_process()
  local p = new_pool()
  local t = p:table()
  p.root = t
  for _, e in ipairs(VALUES) do
    t[e.name] = e.v
    assert_same(t[e.name], e.v, "t[k] = " .. e.name)
  end
  for _, e in ipairs(VALUES) do                 -- nothing overwrote anything
    assert_same(t[e.name], e.v, "t[k] = " .. e.name .. " (after all writes)")
  end
  p:close()
end

function TestScalars:test_through_deep_copied_plain_table_in_process()
  local p = new_pool()
  local src = {}
  for _, e in ipairs(VALUES) do src[e.name] = e.v end
  p.root = src
  local t = p.root
  lu.assertEquals(pmem.type(t), "table")
  for _, e in ipairs(VALUES) do
    assert_same(t[e.name], e.v, "pool.root = {k = " .. e.name .. "}")
  end
  p:close()
end

-- the child's check: read the value(s) and print one line per mismatch
local CHECK_ROOT = DEFS .. [[
local path, i = ...
i = tonumber(i)
local p = assert(pmem.open(path))
local got = p.root
if same(got, VALUES[i].v) then print("ok")
else print(VALUES[i].name .. ": expected " .. describe(VALUES[i].v) .. ", got " .. describe(got)) end
p:close()
]]

local CHECK_FIELDS = DEFS .. [[
local path = ...
local p = assert(pmem.open(path))
local t = p.root
local bad = 0
for _, e in ipairs(VALUES) do
  local got = t[e.name]
  if not same(got, e.v) then
    bad = bad + 1
    print(e.name .. ": expected " .. describe(e.v) .. ", got " .. describe(got))
  end
end
local n = 0
for k in pairs(t) do n = n + 1 end
print("keys", n)
print(bad == 0 and "ok" or "mismatches")
p:close()
]]

function TestScalars:test_through_root_after_reopen_in_child()
  local p, path = new_pool()
  local failures = {}
  for i, e in ipairs(VALUES) do
    p.root = e.v
    p:close()
    local out = helper.child_ok(CHECK_ROOT, path, tostring(i))
    if out ~= "ok\n" then failures[#failures + 1] = out end
    p = assert(pmem.open(path))
    assert_same(p.root, e.v, "pool.root = " .. e.name .. " after reopen here")
  end
  p:close()
  lu.assertEquals(failures, {}, "values read back wrongly by a child:\n" .. table.concat(failures))
end

function TestScalars:test_through_table_fields_after_reopen_in_child()
  local p, path = new_pool()
  local t = p:table()
  p.root = t
  local n = 0
  for _, e in ipairs(VALUES) do
    t[e.name] = e.v
    if e.v ~= nil then n = n + 1 end
  end
  p:close()
  local out = helper.child_ok(CHECK_FIELDS, path)
  lu.assertEquals(out, "keys\t" .. n .. "\nok\n")
end

function TestScalars:test_deep_copy_after_reopen_in_child()
  local p, path = new_pool()
  local src = {}
  for _, e in ipairs(VALUES) do src[e.name] = e.v end
  p.root = src
  p:close()
  local n = 0
  for _ in pairs(src) do n = n + 1 end
  local out = helper.child_ok(CHECK_FIELDS, path)
  lu.assertEquals(out, "keys\t" .. n .. "\nok\n")
end

function TestScalars:test_5_mib_string()
  local p, path = new_pool(32 * 1024 * 1024)
  local big = BIG()
  p.root = big
  lu.assertTrue(p.root == big, "5 MiB string through pool.root")
  local t = p:table()
  t.s = big
  lu.assertTrue(t.s == big, "5 MiB string through a table field")
  p.root = t                                  -- the root's own copy is replaced
  p:close()
  local out = helper.child_ok(DEFS .. [[
local p = assert(pmem.open(...))
local s = p.root.s
print(#s, s == BIG())
p.root = s
print(p.root == BIG())
p:close()
]], path)
  lu.assertEquals(out, ("%d\ttrue\ntrue\n"):format(#big))
  p = assert(pmem.open(path))
  lu.assertTrue(p.root == big)
  p:close()
end

function TestScalars:test_strings_of_every_length_around_the_inline_limit()
  local p, path = new_pool()
  local t = p:table()
  p.root = t
  for n = 0, 40 do
    t[n] = string.rep(string.char(n + 1), n)
    t[-n - 1] = string.rep("\0", n)
  end
  for n = 0, 40 do
    lu.assertEquals(t[n], string.rep(string.char(n + 1), n))
    lu.assertEquals(t[-n - 1], string.rep("\0", n))
  end
  p:close()
  local out = helper.child_ok([[
local p = assert(pmem.open(...))
local t = p.root
local bad = {}
for n = 0, 40 do
  if t[n] ~= string.rep(string.char(n + 1), n) then bad[#bad + 1] = n end
  if t[-n - 1] ~= string.rep("\0", n) then bad[#bad + 1] = -n - 1 end
end
print(table.concat(bad, ","))
p:close()
]], path)
  lu.assertEquals(out, "\n", "strings read back wrongly (by length)")
end

---------------------------------------------------------------------------
TestUnstorable = {}

-- state -- what "changes nothing" compares: root identity, the fields of
-- the root table, the list, and the pool's live object count
local function snapshot(p, t, l)
  local keys = {}
  for k, v in pairs(t) do keys[#keys + 1] = tostring(k) .. "=" .. tostring(v) end
  local items = {}
  for i = 1, #l do items[i] = tostring(l[i]) end
  return { root = p.root, keys = table.concat(keys, ";"), items = table.concat(items, ";"),
           live = p:gc().live }
end

local function assert_unchanged(p, t, l, before, what)
  local after = snapshot(p, t, l)
  lu.assertTrue(rawequal(after.root, before.root), what .. ": pool.root changed")
  lu.assertEquals(after.keys, before.keys, what .. ": table changed")
  lu.assertEquals(after.items, before.items, what .. ": list changed")
  lu.assertEquals(after.live, before.live, what .. ": object count changed")
end

-- the unstorable values, each with the words one of which must name its type
local function unstorables(other)
  return {
    { name = "function", v = print, words = { "function" } },
    { name = "Lua function", v = function() end, words = { "function" } },
    { name = "coroutine", v = coroutine.create(print), words = { "thread", "coroutine" } },
    { name = "userdata", v = io.stdout, words = { "userdata", "FILE" } },
    { name = "table with metatable", v = setmetatable({}, {}), words = { "metatable" } },
    { name = "table with __index", v = setmetatable({ a = 1 }, { __index = {} }),
      words = { "metatable" } },
    { name = "table of another pool", v = other:table(), words = { "another pool", "other pool" } },
    { name = "list of another pool", v = other:list(), words = { "another pool", "other pool" } },
  }
end

function TestUnstorable:test_each_raises_naming_type_and_changes_nothing()
  local p = new_pool()
  local other = new_pool()
  p.root = { keep = 1, sub = {} }
  local t = p.root
  local l = p:list { "x" }
  t.l = l
  for _, u in ipairs(unstorables(other)) do
    local before = snapshot(p, t, l)
    local ways = {
      ["pool.root = v"] = function() p.root = u.v end,
      ["t.k = v"] = function() t.k = u.v end,
      ["t.keep = v"] = function() t.keep = u.v end,
      ["l:append(v)"] = function() l:append(u.v) end,
      ["l[1] = v"] = function() l[1] = u.v end,
      ["l[#l+1] = v"] = function() l[#l + 1] = u.v end,
      ["pool:table{k = v}"] = function() p:table { k = u.v } end,
      ["pool:list{v}"] = function() p:list { u.v } end,
    }
    for how, f in pairs(ways) do
      expect_error(f, u.words, u.name .. " via " .. how)
      assert_unchanged(p, t, l, before, u.name .. " via " .. how)
    end
  end
  p:close()
  other:close()
end

function TestUnstorable:test_nested_inside_plain_tables()
  local p = new_pool()
  local other = new_pool()
  p.root = { keep = 1 }
  local t = p.root
  local l = p:list()
  t.l = l
  for _, u in ipairs(unstorables(other)) do
    local before = snapshot(p, t, l)
    local nests = {
      ["{a = {f = v}}"] = { a = { f = u.v } },
      ["{1, 2, {3, {v}}}"] = { 1, 2, { 3, { u.v } } },
      ["{ok tables..., bad last}"] = { x = {}, y = { z = {} }, w = { { { u.v } } } },
    }
    for shape, nest in pairs(nests) do
      expect_error(function() p.root = nest end, u.words, u.name .. " in " .. shape .. " as root")
      assert_unchanged(p, t, l, before, u.name .. " in " .. shape .. " as root")
      expect_error(function() t.k = nest end, u.words, u.name .. " in " .. shape .. " as field")
      assert_unchanged(p, t, l, before, u.name .. " in " .. shape .. " as field")
      expect_error(function() l:append(nest) end, u.words, u.name .. " in " .. shape .. " in list")
      assert_unchanged(p, t, l, before, u.name .. " in " .. shape .. " in list")
    end
  end
  p:close()
  other:close()
end

function TestUnstorable:test_unstorable_key_inside_plain_table()
  local p = new_pool()
  p.root = { keep = 1 }
  local t = p.root
  local live = p:gc().live
  expect_error(function() t.k = { [print] = 1 } end, { "function" }, "function key")
  expect_error(function() t.k = { a = { [coroutine.create(print)] = 1 } } end,
               { "thread", "coroutine" }, "coroutine key")
  expect_error(function() p.root = { [{}] = 1 } end, { "table" }, "table key")
  lu.assertNil(t.k)
  lu.assertTrue(rawequal(p.root, t))
  lu.assertEquals(p:gc().live, live)
  p:close()
end

function TestUnstorable:test_pool_still_usable_after_errors()
  local p, path = new_pool()
  p.root = { n = 0 }
  for i = 1, 20 do
    pcall(function() p.root.x = { a = { f = print } } end)
    p.root.n = i
  end
  lu.assertEquals(p.root.n, 20)
  lu.assertNil(p.root.x)
  p:close()
  local out = helper.child_ok("local p = assert(pmem.open(...)); print(p.root.n, p.root.x); p:close()", path)
  lu.assertEquals(out, "20\tnil\n")
end

---------------------------------------------------------------------------
TestDeepCopy = {}

function TestDeepCopy:test_nested_tables_become_persistent_tables()
  local p = new_pool()
  local src = { a = { b = { c = "deep", d = { 1, 2, 3 } } }, e = {} }
  p.root = src
  local r = p.root
  lu.assertEquals(type(r), "userdata")
  lu.assertEquals(pmem.type(r), "table")
  lu.assertEquals(pmem.type(r.a), "table")
  lu.assertEquals(pmem.type(r.a.b), "table")
  lu.assertEquals(pmem.type(r.a.b.d), "table", "a plain sequence becomes a persistent table")
  lu.assertEquals(pmem.type(r.e), "table")
  lu.assertEquals(r.a.b.c, "deep")
  lu.assertEquals(r.a.b.d[3], 3)
  lu.assertEquals(#r.a.b.d, 3)
  -- it is a copy: changing the source afterwards changes nothing stored
  src.a.b.c = "changed"
  src.new = 1
  lu.assertEquals(r.a.b.c, "deep")
  lu.assertNil(r.new)
  -- and the copy is not the source
  lu.assertFalse(rawequal(r, src))
  lu.assertEquals(p:gc().live, 5)
  p:close()
end

function TestDeepCopy:test_mixed_keys()
  local p = new_pool()
  p.root = { [1] = "one", [2.5] = "float", [true] = "yes", [false] = "no", s = "str",
             [math.mininteger] = "min", [""] = "empty" }
  local r = p.root
  lu.assertEquals(r[1], "one")
  lu.assertEquals(r[1.0], "one")
  lu.assertEquals(r[2.5], "float")
  lu.assertEquals(r[true], "yes")
  lu.assertEquals(r[false], "no")
  lu.assertEquals(r.s, "str")
  lu.assertEquals(r[math.mininteger], "min")
  lu.assertEquals(r[""], "empty")
  local n = 0
  for _ in pairs(r) do n = n + 1 end
  lu.assertEquals(n, 7)
  p:close()
end

function TestDeepCopy:test_shared_subtables_stay_shared()
  local p, path = new_pool()
  local s = { v = "shared" }
  p.root = { x = s, y = s, seq = { s, s }, deeper = { z = s } }
  local r = p.root
  lu.assertTrue(rawequal(r.x, r.y), "shared sub-table read as two values")
  lu.assertTrue(rawequal(r.seq[1], r.x))
  lu.assertTrue(rawequal(r.seq[2], r.x))
  lu.assertTrue(rawequal(r.deeper.z, r.x))
  lu.assertEquals(p:gc().live, 4, "a shared sub-table must be stored once")
  -- one object: a change through one path shows through the other
  r.x.v = "changed"
  lu.assertEquals(r.y.v, "changed")
  p:close()
  local out = helper.child_ok([[
local p = assert(pmem.open(...))
local r = p.root
print(rawequal(r.x, r.y), rawequal(r.seq[1], r.x), rawequal(r.deeper.z, r.y), r.y.v)
r.y.v = "again"
print(r.x.v)
p:close()
]], path)
  lu.assertEquals(out, "true\ttrue\ttrue\tchanged\nagain\n")
end

function TestDeepCopy:test_cycles_stay_cycles()
  local p, path = new_pool()
  local t = { name = "t" }
  t.self = t
  t.child = { parent = t, name = "child" }
  t.child.child = { up = t.child, top = t }
  p.root = t
  local r = p.root
  lu.assertTrue(rawequal(r.self, r), "t.self = t did not stay a cycle")
  lu.assertTrue(rawequal(r.self.self.self, r))
  lu.assertTrue(rawequal(r.child.parent, r))
  lu.assertTrue(rawequal(r.child.child.up, r.child))
  lu.assertTrue(rawequal(r.child.child.top, r))
  lu.assertEquals(pmem.type(r.self), "table")
  lu.assertEquals(p:gc().live, 3)
  p:close()
  local out = helper.child_ok([[
local p = assert(pmem.open(...))
local r = p.root
print(rawequal(r.self, r), rawequal(r.child.parent, r), rawequal(r.child.child.up, r.child),
      r.child.name, pmem.type(r.self))
p:close()
]], path)
  lu.assertEquals(out, "true\ttrue\ttrue\tchild\ttable\n")
end

function TestDeepCopy:test_cycle_through_a_field_write()
  local p = new_pool()
  local t = p:table()
  p.root = t
  local c = {}
  c.me = c
  t.c = c
  lu.assertTrue(rawequal(t.c.me, t.c))
  t.d = { c = c }                       -- a second copy: a different object
  lu.assertTrue(rawequal(t.d.c.me, t.d.c))
  lu.assertFalse(rawequal(t.d.c, t.c), "each store is a new copy")
  p:close()
end

function TestDeepCopy:test_persistent_values_inside_plain_tables_are_references()
  local p, path = new_pool()
  local pt = p:table { a = 1 }
  local pl = p:list { 1, 2 }
  p.root = { t = pt, l = pl, nest = { t = pt } }
  local r = p.root
  lu.assertTrue(rawequal(r.t, pt))
  lu.assertTrue(rawequal(r.l, pl))
  lu.assertTrue(rawequal(r.nest.t, pt))
  lu.assertEquals(pmem.type(r.l), "list")
  lu.assertEquals(p:gc().live, 4)
  p:close()
  local out = helper.child_ok([[
local p = assert(pmem.open(...))
print(rawequal(p.root.t, p.root.nest.t), pmem.type(p.root.l), #p.root.l)
p:close()
]], path)
  lu.assertEquals(out, "true\tlist\t2\n")
end

---------------------------------------------------------------------------
TestIdentity = {}

function TestIdentity:test_same_stored_value_same_userdata()
  local C = pmem.class("test_values.Thing")
  local p = new_pool()
  p.root = { t = {}, l = p:list(), o = p:new(C) }
  local r = p.root
  lu.assertTrue(rawequal(p.root, p.root))
  lu.assertTrue(rawequal(p.root, r))
  for _, k in ipairs { "t", "l", "o" } do
    local a, b = r[k], p.root[k]
    lu.assertTrue(rawequal(a, b), k .. " read twice is two userdata")
  end
  -- held across a collection
  local t = r.t
  collectgarbage()
  collectgarbage()
  lu.assertTrue(rawequal(t, p.root.t))
  -- reached through two paths
  r.t2 = t
  r.l:append(t)
  lu.assertTrue(rawequal(r.t2, t))
  lu.assertTrue(rawequal(r.l[1], t))
  p:close()
end

function TestIdentity:test_value_dropped_and_read_again_works()
  local p = new_pool()
  p.root = { t = { v = 1 } }
  local s1 = tostring(p.root.t)
  collectgarbage()
  collectgarbage()
  lu.assertEquals(p.root.t.v, 1)
  lu.assertEquals(tostring(p.root.t), s1)
  p:close()
end

function TestIdentity:test_persistent_values_as_keys_of_lua_tables()
  local C = pmem.class("test_values.Key")
  local p = new_pool()
  p.root = { a = {}, b = {}, l = p:list(), o = p:new(C) }
  local m = {}
  m[p.root.a] = "A"
  m[p.root.b] = "B"
  m[p.root.l] = "L"
  m[p.root.o] = "O"
  collectgarbage()
  lu.assertEquals(m[p.root.a], "A")
  lu.assertEquals(m[p.root.b], "B")
  lu.assertEquals(m[p.root.l], "L")
  lu.assertEquals(m[p.root.o], "O")
  local n = 0
  for _ in pairs(m) do n = n + 1 end
  lu.assertEquals(n, 4)
  -- as a set of visited nodes: a cycle walk terminates
  local t = { name = "a" }
  t.next = { name = "b", next = t }
  p.root.ring = t
  local seen, steps, node = {}, 0, p.root.ring
  while not seen[node] do
    seen[node] = true
    steps = steps + 1
    node = node.next
  end
  lu.assertEquals(steps, 2)
  p:close()
end

function TestIdentity:test_values_of_two_pools_are_distinct()
  local p1, p2 = new_pool(), new_pool()
  p1.root = { x = {} }
  p2.root = { x = {} }
  lu.assertFalse(rawequal(p1.root, p2.root))
  lu.assertFalse(rawequal(p1.root.x, p2.root.x))
  local m = { [p1.root.x] = 1, [p2.root.x] = 2 }
  lu.assertEquals(m[p1.root.x], 1)
  lu.assertEquals(m[p2.root.x], 2)
  p1:close()
  p2:close()
end

os.exit(lu.LuaUnit.run())
