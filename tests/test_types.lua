-- test_types.lua -- tuples, sets, pool:new with the built-in types,
-- identity of persistent values, pmem.type, pmem.tolua and tostring
-- (docs/reference.md, "Types"). Each behaviour is checked here and again after the
-- pool is reopened in a child process.
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

-- COMMON is run both here and at the top of every child.
local COMMON = [==[
local pmem = pmem or require "pmem"

-- dump(v) -- canonical text: numbers keep their subtype, strings their
-- bytes, persistent tables their pairs order; plain tables and sets are
-- sorted; cycles and shared values show as @n
local function dump(v, seen)
  seen = seen or { n = 0 }
  local tv, kind = type(v), pmem.type(v)
  if tv == "number" then
    if math.type(v) == "integer" then return ("i%d"):format(v) end
    if v ~= v then return "fnan" end
    return "f" .. ("%a"):format(v)
  elseif tv == "string" then
    return (("%q"):format(v):gsub("\\\n", "\\n"))
  elseif tv ~= "table" and not kind then
    return tostring(v)
  end
  if seen[v] then return "@" .. seen[v] end
  seen.n = seen.n + 1
  seen[v] = seen.n
  local parts = {}
  if kind == "list" or kind == "tuple" then
    for i = 1, #v do parts[i] = dump(v[i], seen) end
  elseif kind == "set" then
    for x in pairs(v) do parts[#parts + 1] = dump(x, seen) end
    table.sort(parts)
  else
    for k, x in pairs(v) do parts[#parts + 1] = dump(k, seen) .. "=" .. dump(x, seen) end
    if not kind then table.sort(parts) end
  end
  return (kind or "plain") .. "{" .. table.concat(parts, ",") .. "}"
end

-- elements(s) -- the elements pairs(s) yields, sorted (numbers before strings)
local function elements(s)
  local es = {}
  for x in pairs(s) do es[#es + 1] = x end
  table.sort(es, function(a, b)
    if type(a) ~= type(b) then return type(a) < type(b) end
    return a < b
  end)
  return es
end

-- raises(f, pattern) -- f() raises an error whose message contains pattern
local function raises(f, pattern)
  local ok, err = pcall(f)
  if ok then return false, "did not raise" end
  if pattern and not tostring(err):find(pattern, 1, true) then return false, tostring(err) end
  return true
end
]==]

local lib = assert(load(COMMON .. "return { dump = dump, elements = elements, raises = raises }",
                        "=COMMON"))()
local dump, elements = lib.dump, lib.elements

local function newpool(size)
  local path = helper.pool_path()
  return assert(pmem.open(path, "x", size or pmem.MIN_POOL_SIZE)), path
end

-- in_child(path, body, ...) -- run body in a fresh pmlua with the pool at
-- path open as `pool`, its root as `root` (extra arguments in arg[2..]);
-- the child closes the pool; returns its stdout
local function in_child(path, body, ...)
  return helper.child_ok(COMMON .. [[
local Thing = pmem.class("test_types.Thing")
local pool = assert(pmem.open(arg[1]))
local root = pool.root
]] .. body .. "\npool:close()\n", path, ...)
end

local function assert_raises(f, pattern)
  local ok, why = lib.raises(f, pattern)
  lu.assertTrue(ok, "expected an error" .. (pattern and " containing '" .. pattern .. "'" or "")
                .. ": " .. tostring(why))
end

local Thing = pmem.class("test_types.Thing")
function Thing:init(name) self.name = name end

-- {============================================ tuples

function test_tuple_reads()
  local pool, path = newpool()
  local items = { 1, "two", 3.5, true, false, string.rep("long", 10) }
  local tp = pool:tuple(items)
  pool.root = { tp = tp, e = pool:tuple {}, none = pool:tuple() }
  lu.assertEquals(pmem.type(tp), "tuple")
  lu.assertEquals(#tp, #items)
  for i, v in ipairs(items) do lu.assertEquals(tp[i], v) end
  lu.assertNil(tp[0])
  lu.assertNil(tp[#items + 1])
  lu.assertNil(tp[-1])
  local seen = {}
  for i, v in ipairs(tp) do seen[#seen + 1] = i; lu.assertEquals(v, items[i]) end
  lu.assertEquals(seen, { 1, 2, 3, 4, 5, 6 })
  seen = {}
  for i, v in pairs(tp) do seen[#seen + 1] = i; lu.assertEquals(v, items[i]) end
  lu.assertEquals(seen, { 1, 2, 3, 4, 5, 6 })
  lu.assertEquals(#pool.root.e, 0)
  lu.assertEquals(#pool.root.none, 0)
  lu.assertEquals(table.concat(pool:tuple { "a", "b" }, "+"), "a+b")
  lu.assertEquals({ table.unpack(tp) }, items)
  local before = dump(tp)
  pool:close()
  local out = in_child(path, [[
    local tp = root.tp
    assert(pmem.type(tp) == "tuple" and #tp == 6 and tp[2] == "two" and tp[7] == nil)
    local n = 0
    for i, v in ipairs(tp) do n = n + 1; assert(v == tp[i]) end
    assert(n == 6 and #root.e == 0)
    io.write(dump(tp))
  ]])
  lu.assertEquals(out, before)
end

-- every write to a tuple raises and changes nothing
local TUPLE_WRITES = [[
local function tuple_writes(tp)
  return {
    function() tp[1] = 9 end,
    function() tp[#tp] = nil end,
    function() tp[#tp + 1] = 9 end,
    function() tp.x = 1 end,
    function() table.insert(tp, 9) end,
    function() table.insert(tp, 1, 9) end,
    function() table.remove(tp) end,
    function() table.remove(tp, 1) end,
    function() table.sort(tp, function(a, b) return a > b end) end,
    function() table.move(tp, 1, 2, 2) end,
    function() tp:append(9) end,
    function() tp:insert(9) end,
    function() tp:insert(1, 9) end,
    function() tp:remove() end,
    function() tp:remove(1) end,
    function() tp:extend { 9 } end,
    function() tp:clear() end,
  }
end
]]
local tuple_writes = assert(load(TUPLE_WRITES .. "return tuple_writes"))()

function test_tuple_writes_raise()
  local pool, path = newpool()
  local tp = pool:tuple { 1, 2, 3 }
  pool.root = tp
  local before = dump(tp)
  for i, f in ipairs(tuple_writes(tp)) do
    assert_raises(f)
    lu.assertEquals(dump(tp), before, "write " .. i .. " changed the tuple")
  end
  assert_raises(function() tp[1] = 9 end, "immutable")
  pool:close()
  local out = in_child(path, TUPLE_WRITES .. [[
    local before = dump(root)
    for i, f in ipairs(tuple_writes(root)) do
      assert(not pcall(f), "write " .. i .. " did not raise")
      assert(dump(root) == before, "write " .. i .. " changed the tuple")
    end
    io.write(dump(root))
  ]])
  lu.assertEquals(out, before)
end

-- nested plain tables become persistent tables; in a child, so that a
-- crash fails this test and not the suite
function test_tuple_with_nested_plain_tables()
  local path = helper.pool_path()
  local out, code, err = helper.child(COMMON .. [[
    local pool = assert(pmem.open(arg[1], "x", pmem.MIN_POOL_SIZE))
    local tp = pool:tuple { { x = 1 }, "y" }
    assert(pmem.type(tp[1]) == "table" and tp[1].x == 1)
    pool.root = tp
    io.write(dump(tp))
    pool:close()
  ]], path)
  lu.assertEquals(code, 0, "pool:tuple{ {x=1}, 'y' } failed: " .. err)
  lu.assertEquals(out, "tuple{table{" .. dump("x") .. "=i1}," .. dump("y") .. "}")
end

-- }============================================

-- {============================================ sets

function test_set_basics()
  local pool, path = newpool()
  local s = pool:set { 1, "a", true, 1.5, 1, "a" }
  pool.root = { s = s, e = pool:set(), e2 = pool:set {} }
  lu.assertEquals(pmem.type(s), "set")
  lu.assertEquals(#s, 4)                               -- duplicates collapse
  lu.assertEquals(elements(s), { true, 1, 1.5, "a" })
  for _, x in ipairs { 1, "a", true, 1.5, 1.0 } do lu.assertTrue(s:contains(x), tostring(x)) end
  for _, x in ipairs { 2, "b", false, 2.5, "1" } do lu.assertFalse(s:contains(x), tostring(x)) end
  s:add(2)
  s:add(2)                                             -- already there: no change
  s:add(1.0)                                           -- the same element as 1
  lu.assertEquals(#s, 5)
  s:remove("a")
  lu.assertFalse(s:contains("a"))
  assert_raises(function() s:remove("a") end)          -- missing: raises
  assert_raises(function() s:remove(42) end)
  s:discard(42)                                        -- missing: nothing
  s:discard(true)
  lu.assertEquals(elements(s), { 1, 1.5, 2 })
  lu.assertEquals(#pool.root.e, 0)
  lu.assertEquals(#pool.root.e2, 0)
  for _ in pairs(pool.root.e) do lu.fail("an empty set yields") end
  pool:close()
  local out = in_child(path, [[
    local s = root.s
    assert(#s == 3 and s:contains(1.5) and s:contains(2.0) and not s:contains("a"))
    assert(not pcall(s.remove, s, "nope"))
    s:add("child")
    s:remove(1)
    io.write(dump(s))
  ]])
  lu.assertEquals(out, "set{" .. dump("child") .. ",f0x1.8p+0,i2}")
end

function test_set_elements_kinds_and_bad_elements()
  local pool, path = newpool()
  local a, b = pool:table { v = 1 }, pool:table { v = 1 }
  local s = pool:set { a, b, a, "s", string.rep("long", 8), 0 }
  lu.assertEquals(#s, 5)                               -- by identity: a and b differ
  lu.assertTrue(s:contains(a))
  lu.assertFalse(s:contains(pool:table { v = 1 }))
  local before = dump(s)
  assert_raises(function() s:add(nil) end, "nil")
  assert_raises(function() s:add(0 / 0) end, "NaN")
  assert_raises(function() s:add({}) end, "table")
  assert_raises(function() s:add(print) end, "function")
  assert_raises(function() pool:set { 1, {} } end, "table")
  lu.assertEquals(dump(s), before)
  lu.assertFalse(s:contains({}))
  pool.root = { s = s, a = a }
  pool:close()
  local out = in_child(path, [[
    local s = root.s
    assert(s:contains(root.a))
    local n = 0
    for x in pairs(s) do
      if pmem.type(x) == "table" then n = n + 1; assert(x.v == 1) end
      if rawequal(x, root.a) then n = n + 10 end
    end
    io.write(n, " ", #s)
  ]])
  lu.assertEquals(out, "12 5")
end

-- a, b and what each method / operator should give
local function check_algebra(pool)
  local a, b = pool:set { 1, 2, 3, 4 }, pool:set { 3, 4, 5 }
  local c, e = pool:set { 9 }, pool:set()
  local results = {
    { a:union(b), { 1, 2, 3, 4, 5 } }, { a | b, { 1, 2, 3, 4, 5 } },
    { a:intersection(b), { 3, 4 } }, { a & b, { 3, 4 } },
    { a:difference(b), { 1, 2 } }, { a - b, { 1, 2 } }, { b - a, { 5 } },
    { a:symmetric_difference(b), { 1, 2, 5 } }, { a ~ b, { 1, 2, 5 } },
    { a & c, {} }, { e | e, {} }, { a - e, { 1, 2, 3, 4 } },
  }
  for i, r in ipairs(results) do
    lu.assertEquals(pmem.type(r[1]), "set", "result " .. i)
    lu.assertEquals(elements(r[1]), r[2], "result " .. i)
    lu.assertFalse(rawequal(r[1], a) or rawequal(r[1], b), "result " .. i .. " is an operand")
  end
  -- the operands are unchanged
  lu.assertEquals(elements(a), { 1, 2, 3, 4 })
  lu.assertEquals(elements(b), { 3, 4, 5 })
  lu.assertTrue(pool:set { 3, 4 }:issubset(a))
  lu.assertFalse(a:issubset(b))
  lu.assertTrue(a:issubset(a))
  lu.assertTrue(e:issubset(a))
  lu.assertTrue(a:issuperset(pool:set { 1, 4 }))
  lu.assertFalse(b:issuperset(a))
  lu.assertTrue(a:isdisjoint(c))
  lu.assertFalse(a:isdisjoint(b))
  lu.assertTrue(e:isdisjoint(e))
  -- comparison operators
  local sub = pool:set { 2, 3 }
  lu.assertTrue(sub <= a)
  lu.assertTrue(sub < a)
  lu.assertTrue(a <= a)
  lu.assertFalse(a < a)
  lu.assertFalse(a <= b)
  lu.assertTrue(a >= sub)
  lu.assertTrue(a == pool:set { 4, 3, 2, 1 })
  lu.assertFalse(a == b)
  lu.assertTrue(a ~= b)
  lu.assertTrue(e == pool:set {})
  lu.assertFalse(a == { 1, 2, 3, 4 })                 -- a plain table is no set
  return results
end

function test_set_methods_and_operators()
  local pool, path = newpool()
  local results = check_algebra(pool)
  -- results are sets of the same pool: they can be stored in it, and
  -- stored into another pool they raise
  local other = newpool()
  assert_raises(function() other.root = results[1][1] end, "another pool")
  other:close()
  pool.root = { union = results[1][1], inter = results[3][1], sym = results[8][1] }
  pool:close()
  local out = in_child(path, [[
    io.write(dump(root.union), dump(root.inter), dump(root.sym), "\n")
    local a, b = pool:set { 1, 2, 3, 4 }, pool:set { 3, 4, 5 }
    local u = a | b
    assert(u == root.union and (a & b) == root.inter and (a ~ b) == root.sym)
    assert(root.inter <= root.union and root.inter < root.union)
    io.write(dump(u - root.inter))
  ]])
  lu.assertEquals(out, "set{i1,i2,i3,i4,i5}set{i3,i4}set{i1,i2,i5}\nset{i1,i2,i5}")
end

-- }============================================

-- {============================================ pool:new, identity, pmem.type

function test_new_with_builtin_types()
  local pool, path = newpool()
  local t = pool:new(pmem.Table, { a = 1, { 2 } })
  local t0 = pool:new(pmem.Table)
  local l = pool:new(pmem.List, { 1, 2, 3 })
  local l0 = pool:new(pmem.List)
  local tp = pool:new(pmem.Tuple, { "x" })
  local s = pool:new(pmem.Set, { 1, 1, 2 })
  lu.assertEquals(pmem.type(t), "table")
  lu.assertEquals(t.a, 1)
  lu.assertEquals(pmem.type(t[1]), "table")
  lu.assertEquals(pmem.type(t0), "table")
  for _ in pairs(t0) do lu.fail("pool:new(pmem.Table) is not empty") end
  lu.assertEquals(pmem.type(l), "list")
  lu.assertEquals(dump(l), "list{i1,i2,i3}")
  lu.assertEquals(pmem.type(l0), "list")
  lu.assertEquals(#l0, 0)
  lu.assertEquals(pmem.type(tp), "tuple")
  lu.assertEquals(pmem.type(s), "set")
  lu.assertEquals(#s, 2)
  pool.root = { t = t, t0 = t0, l = l, l0 = l0 }
  local before = dump(pool.root)
  pool:close()
  lu.assertEquals(in_child(path, "io.write(dump(root))"), before)
end

function test_identity()
  local pool, path = newpool()
  local x = pool:table { n = 1 }
  pool.root = { a = x, b = x, l = pool:list { x }, t = pool:table() }
  local root = pool.root
  lu.assertTrue(rawequal(pool.root, pool.root))
  lu.assertTrue(rawequal(root.a, x))
  lu.assertTrue(rawequal(root.a, root.b))
  lu.assertTrue(rawequal(root.l[1], x))
  lu.assertTrue(rawequal(root.t, pool.root.t))
  root.t[x] = "by identity"
  local k
  for key in pairs(root.t) do k = key end
  lu.assertTrue(rawequal(k, x))
  -- as keys of a plain Lua table
  local m = {}
  m[root.a] = "A"
  m[root.l] = "L"
  x, root = nil, nil
  collectgarbage()
  collectgarbage()
  lu.assertEquals(m[pool.root.a], "A")
  lu.assertEquals(m[pool.root.b], "A")
  lu.assertEquals(m[pool.root.l], "L")
  local n = 0
  for _ in pairs(m) do n = n + 1 end
  lu.assertEquals(n, 2)
  pool:close()
  local out = in_child(path, [[
    assert(rawequal(root.a, root.b) and rawequal(root.l[1], root.a))
    assert(rawequal(pool.root, root) and rawequal(root.t, pool.root.t))
    assert(root.t[root.a] == "by identity")
    local m = { [root.a] = 1 }
    collectgarbage()
    assert(m[pool.root.b] == 1)
    for k in pairs(root.t) do assert(rawequal(k, root.b)) end
    io.write("ok")
  ]])
  lu.assertEquals(out, "ok")
end

function test_pmem_type()
  local pool = newpool()
  local vals = {
    table = pool:table(), list = pool:list(), object = pool:new(Thing, "x"),
    tuple = pool:tuple {}, set = pool:set(),
  }
  for kind, v in pairs(vals) do lu.assertEquals(pmem.type(v), kind) end
  for _, v in ipairs { 1, 1.5, "s", true, {}, print, io.stdout, coroutine.create(print), pool } do
    lu.assertNil(pmem.type(v), tostring(v))
  end
  lu.assertNil(pmem.type(nil))
  lu.assertNil(pmem.type(setmetatable({}, { __name = "pmem.table" })))
  pool:close()
  for kind, v in pairs(vals) do                        -- still answers after close
    lu.assertEquals(pmem.type(v), kind)
  end
end

-- }============================================

-- {============================================ pmem.tolua

-- is_plain(v) -- v and everything it reaches are plain Lua values
local function is_plain(v, seen)
  seen = seen or {}
  if pmem.type(v) then return false end
  if type(v) ~= "table" then return type(v) ~= "userdata" end
  if seen[v] then return true end
  seen[v] = true
  if getmetatable(v) ~= nil then return false end
  for k, x in pairs(v) do
    if not is_plain(k, seen) or not is_plain(x, seen) then return false end
  end
  return true
end

function test_tolua()
  local pool, path = newpool()
  local t = pool:table { a = 1, s = "str", f = 1.5, b = false }
  local sub = pool:table { deep = { deeper = { 1, 2 } } }
  t.l = pool:list { 1, "two", sub }
  t.tp = pool:tuple { 3, 4 }
  t.set = pool:set { "p", "q" }
  t.obj = pool:new(Thing, "bob")
  t.self = t                                          -- a cycle
  t.sub1, t.sub2 = sub, sub                           -- shared
  local c = pmem.tolua(t)
  lu.assertTrue(is_plain(c))
  lu.assertEquals(c.a, 1)
  lu.assertEquals(c.s, "str")
  lu.assertEquals(math.type(c.f), "float")
  lu.assertEquals(c.b, false)
  lu.assertEquals(c.l[1], 1)
  lu.assertEquals(c.l[2], "two")
  lu.assertEquals(#c.l, 3)
  lu.assertEquals(c.l[3].deep.deeper, { 1, 2 })
  lu.assertEquals(c.tp, { 3, 4 })
  lu.assertNotNil(c.set.p)
  lu.assertNotNil(c.set.q)
  lu.assertEquals(c.obj.name, "bob")                  -- objects: their attributes
  lu.assertTrue(rawequal(c.self, c))                  -- cycles preserved
  lu.assertTrue(rawequal(c.sub1, c.sub2))             -- sharing preserved
  lu.assertTrue(rawequal(c.l[3], c.sub1))
  -- a copy: changing it changes nothing stored
  c.a = 99
  c.l[1] = 99
  lu.assertEquals(t.a, 1)
  lu.assertEquals(t.l[1], 1)
  -- scalars come back as they are
  for _, v in ipairs { 1, 1.5, "s", true, false } do lu.assertEquals(pmem.tolua(v), v) end
  lu.assertNil(pmem.tolua(nil))
  local plain = {}
  lu.assertEquals(pmem.tolua(plain), plain)
  pool.root = t
  pool:close()
  local out = in_child(path, [[
    local c = pmem.tolua(root)
    assert(rawequal(c.self, c) and rawequal(c.sub1, c.sub2) and rawequal(c.l[3], c.sub1))
    assert(c.obj.name == "bob" and getmetatable(c.obj) == nil and c.tp[2] == 4)
    assert(pmem.type(c.l) == nil and getmetatable(c) == nil)
    io.write(c.l[3].deep.deeper[2], c.s)
  ]])
  lu.assertEquals(out, "2str")
end

-- }============================================

-- {============================================ tostring

function test_tostring_names_the_type_and_previews()
  local pool, path = newpool(16 * 1024 * 1024)
  local vals = {
    table = pool:table { a = 1 }, list = pool:list { 1, 2, 3 }, tuple = pool:tuple { "x" },
    set = pool:set { 7 }, object = pool:new(Thing, "bob"),
  }
  local strs = {}
  for kind, v in pairs(vals) do
    local s = tostring(v)
    strs[kind] = s
    lu.assertStrContains(s, kind)
  end
  lu.assertStrContains(strs.table, "a")
  lu.assertStrContains(strs.table, "1")
  lu.assertStrContains(strs.list, "1")
  lu.assertStrContains(strs.list, "3")
  lu.assertStrContains(strs.tuple, "x")
  lu.assertStrContains(strs.set, "7")
  lu.assertStrContains(strs.object, "bob")
  -- short: a big container and a long string are abbreviated
  local big = pool:list()
  pool:transaction(function() for i = 1, 1000 do big:append(i) end end)
  local long = pool:table { s = string.rep("y", 10000) }
  lu.assertTrue(#tostring(big) < 200, tostring(big))
  lu.assertStrContains(tostring(big), "list")
  lu.assertTrue(#tostring(long) < 200, tostring(long))
  -- the same text after reopening (in a child)
  pool.root = vals
  pool:close()
  for kind, v in pairs(vals) do                       -- after close: still answers
    local ok, s = pcall(tostring, v)
    lu.assertTrue(ok, s)
    lu.assertStrContains(s, kind)
  end
  local out = in_child(path, [[
    for _, kind in ipairs { "table", "list", "tuple", "set", "object" } do
      io.write(kind, "\t", tostring(root[kind]), "\n")
    end
  ]])
  local expect = {}
  for _, kind in ipairs { "table", "list", "tuple", "set", "object" } do
    expect[#expect + 1] = kind .. "\t" .. strs[kind] .. "\n"
  end
  lu.assertEquals(out, table.concat(expect))
end

-- }============================================

os.exit(lu.LuaUnit.run(), true)
