-- test_table.lua -- persistent tables behave like Lua tables (docs/reference.md, "Types":
-- Table): get, set, delete, #t a border, pairs in insertion order, deleting
-- during pairs, every kind of key, keys that raise; each behaviour checked in
-- this process and again after the pool is reopened in a child process.
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

local MIB = 1024 * 1024

-- COMMON is run both here and at the top of every child: canonical dumps
-- and the traversal helpers, so that both sides compute the same thing.
local COMMON = [==[
local pmem = pmem or require "pmem"

local dump = require "dump"

-- keys_of(t) -- the keys pairs(t) yields, in order
local function keys_of(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  return ks
end

-- dumpkeys(list) -- one text for a list of keys (type-exact)
local function dumpkeys(ks)
  local parts = {}
  for i, k in ipairs(ks) do parts[i] = dump(k) end
  return table.concat(parts, " ")
end

-- is_border(t, n) -- Lua's definition of a border of t
local function is_border(t, n)
  return (n == 0 or t[n] ~= nil) and t[n + 1] == nil
end

-- delete_all(t) -- delete every key while iterating; the keys visited
local function delete_all(t)
  local visited = {}
  for k in pairs(t) do visited[#visited + 1] = k; t[k] = nil end
  return visited
end

-- delete_every_other(t) -- delete the 1st, 3rd, ... key visited, assign
-- a new value to the others (existing keys), while iterating
local function delete_every_other(t)
  local visited = {}
  for k, v in pairs(t) do
    visited[#visited + 1] = k
    if #visited % 2 == 1 then t[k] = nil else t[k] = "kept " .. tostring(v) end
  end
  return visited
end

-- delete_ahead(t) -- at the first key, delete every key at an even
-- position (not visited yet); the keys then visited
local function delete_ahead(t)
  local visited, first = {}, true
  for k in pairs(t) do
    if first then
      first = false
      local ks = keys_of(t)
      for i = 2, #ks, 2 do t[ks[i]] = nil end
    end
    visited[#visited + 1] = k
  end
  return visited
end

-- raises(f, pattern) -- f() raises an error whose message contains pattern
local function raises(f, pattern)
  local ok, err = pcall(f)
  if ok then return false, "did not raise" end
  if not tostring(err):find(pattern, 1, true) then return false, tostring(err) end
  return true
end
]==]

local lib = assert(load(COMMON .. [[
return { dump = dump, keys_of = keys_of, dumpkeys = dumpkeys, is_border = is_border,
         delete_all = delete_all, delete_every_other = delete_every_other,
         delete_ahead = delete_ahead, raises = raises }
]], "=COMMON"))()
local dump, keys_of, dumpkeys = lib.dump, lib.keys_of, lib.dumpkeys

local newpool = helper.newpool

local function fast_pool_path() return helper.fast_pool_path() end

local function in_child(path, body, ...) return helper.in_child(COMMON, path, body, ...) end

local function assert_raises(f, pattern)
  local ok, why = lib.raises(f, pattern)
  lu.assertTrue(ok, "expected an error containing '" .. pattern .. "': " .. tostring(why))
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- {============================================ get, set, delete

function test_get_set_values_of_every_kind()
  local pool, path = newpool()
  local t = pool:table()
  pool.root = t
  local long = string.rep("xyz", 50)
  t.s = "short"; t.long = long; t.z = "a\0b\0"; t.i = 42; t.f = 1.5; t.one = 1.0
  t.yes = true; t.no = false; t.max = math.maxinteger; t.min = math.mininteger
  t.negz = -0.0; t.inf = math.huge; t.nan = 0 / 0
  t.sub = { a = 1, { 2 } }
  t.l = pool:list { 1, 2 }
  lu.assertEquals(t.s, "short")
  lu.assertEquals(t.long, long)
  lu.assertEquals(t.z, "a\0b\0")
  lu.assertEquals(math.type(t.i), "integer")
  lu.assertEquals(math.type(t.one), "float")
  lu.assertEquals(t.no, false)                -- false is a value, not a deletion
  lu.assertEquals(t.max, math.maxinteger)
  lu.assertEquals(1 / t.negz, -math.huge)
  lu.assertTrue(t.nan ~= t.nan)
  lu.assertNil(t.missing)
  lu.assertEquals(pmem.type(t.sub), "table")
  lu.assertEquals(t.sub.a, 1)
  lu.assertEquals(pmem.type(t.sub[1]), "table")
  lu.assertEquals(t.sub[1][1], 2)
  lu.assertEquals(pmem.type(t.l), "list")
  lu.assertEquals(count(t), 15)
  t.s = "changed"                                -- overwrite, also changing type
  t.i = "now a string"
  t.f = { x = 1 }
  lu.assertEquals(t.s, "changed")
  lu.assertEquals(t.i, "now a string")
  lu.assertEquals(t.f.x, 1)
  lu.assertEquals(count(t), 15)
  local before = dump(t)
  pool:close()
  local out = in_child(path, [[
    local t = root
    assert(t.s == "changed" and t.i == "now a string" and t.f.x == 1)
    assert(t.long == arg[2] and t.z == "a\0b\0")
    assert(t.no == false and math.type(t.one) == "float" and math.type(t.max) == "integer")
    assert(1 / t.negz == -math.huge and t.nan ~= t.nan and t.inf == math.huge)
    assert(t.missing == nil)
    io.write(dump(t))
  ]], long)
  lu.assertEquals(out, before)
end

function test_delete()
  local pool, path = newpool()
  local t = pool:table()
  pool.root = t
  t.a = 1; t.b = 2; t.c = 3; t[1] = "x"; t[2] = "y"; t.gone = { 1 }
  t.b = nil
  lu.assertNil(t.b)
  t.nothere = nil                               -- deleting an absent key: no change
  t[2] = nil
  t.gone = nil
  lu.assertNil(t[2])
  lu.assertEquals(#t, 1)
  lu.assertEquals(dumpkeys(keys_of(t)), dumpkeys { "a", "c", 1 })
  pool:close()
  -- after reopen: the deletions hold; the child deletes and adds in turn
  local out = in_child(path, [[
    local t = root
    assert(t.b == nil and t[2] == nil and t.gone == nil and #t == 1)
    io.write(dumpkeys(keys_of(t)))
    t.a = nil
    t.d = 4
    t.c = nil
    t.c = nil
  ]])
  lu.assertEquals(out, dumpkeys { "a", "c", 1 })
  pool = assert(pmem.open(path))
  t = pool.root
  lu.assertNil(t.a)
  lu.assertNil(t.c)
  lu.assertEquals(t.d, 4)
  lu.assertEquals(dumpkeys(keys_of(t)), dumpkeys { 1, "d" })
  pool:close()
end

-- }============================================

-- {============================================ length

function test_len_is_a_border()
  local pool, path = newpool()
  local t, s, e, f = pool:table(), pool:table { "a", "b", "c" }, pool:table(), pool:table()
  pool.root = { t = t, s = s, e = e, f = f }
  lu.assertEquals(#e, 0)
  lu.assertEquals(#s, 3)
  for i = 1, 20 do t[i] = i * 10 end
  lu.assertEquals(#t, 20)                       -- a sequence: #t is n
  t.x = 1; t[1.5] = 2; t[-1] = 3; t[0] = 4      -- other keys do not count
  lu.assertEquals(#t, 20)
  t[20] = nil
  lu.assertEquals(#t, 19)
  t[10] = nil                                   -- no longer a sequence: a border
  lu.assertTrue(lib.is_border(t, #t), "#t = " .. #t .. " is not a border")
  f[1.0] = "a"; f[2.0] = "b"                    -- integral float keys count
  lu.assertEquals(#f, 2)
  e.x = 1
  lu.assertEquals(#e, 0)
  pool:close()
  local out = in_child(path, [[
    assert(#root.s == 3 and #root.f == 2 and #root.e == 0)
    assert(is_border(root.t, #root.t), "not a border")
    root.t[10] = 100                               -- a sequence again
    root.s[4] = "d"
    io.write(#root.t, " ", #root.s)
  ]])
  lu.assertEquals(out, "19 4")
end

-- }============================================

-- {============================================ order

-- keys of every kind, in the order they are first inserted
local ORDER_KEYS = [[
local ORDER_KEYS = { "z", 3, "a", true, 1.5, "a long key of more than fourteen bytes",
                     1, false, -7, "m", "\0", 2 ^ 63, "" }
]]
local ORDER = assert(load(ORDER_KEYS .. "return ORDER_KEYS"))()

function test_pairs_in_insertion_order()
  local pool, path = newpool()
  local t = pool:table()
  local kt = pool:table()                       -- a persistent key, in the middle
  pool.root = { t = t, kt = kt }
  local expect = {}
  for i, k in ipairs(ORDER) do
    t[k] = i
    expect[#expect + 1] = k
    if i == 5 then t[kt] = "kt"; expect[#expect + 1] = kt end
  end
  lu.assertEquals(dumpkeys(keys_of(t)), dumpkeys(expect))
  -- re-assigning existing keys keeps their place
  t.z = "new"; t[1.5] = { 1 }; t[-7] = false; t[false] = "x"; t[""] = 0; t[kt] = 1
  lu.assertEquals(dumpkeys(keys_of(t)), dumpkeys(expect))
  lu.assertEquals(t.z, "new")
  lu.assertEquals(t[kt], 1)
  local before = dump(t)
  local expect2 = {}                            -- after the child's changes
  for _, k in ipairs(expect) do if k ~= true then expect2[#expect2 + 1] = k end end
  expect2[#expect2 + 1] = true
  expect2 = dumpkeys(expect2)
  pool:close()
  local out = in_child(path, ORDER_KEYS .. [[
    local t = root.t
    local expect = {}
    for i, k in ipairs(ORDER_KEYS) do
      expect[#expect + 1] = k
      if i == 5 then expect[#expect + 1] = root.kt end
    end
    assert(dumpkeys(keys_of(t)) == dumpkeys(expect), "order after reopen")
    local ks = keys_of(t)
    assert(rawequal(ks[6], root.kt), "persistent key identity")
    io.write(dump(t), "\n")
    t.a = "child"; t[3] = 3.5; t[true] = nil; t[true] = "back"
    io.write(dumpkeys(keys_of(t)))
  ]])
  lu.assertEquals(out, before .. "\n" .. expect2)
  pool = assert(pmem.open(path))
  lu.assertEquals(dumpkeys(keys_of(pool.root.t)), expect2)
  lu.assertEquals(pool.root.t.a, "child")
  pool:close()
end

-- docs/reference.md ("pairs(t)", "Tables and room"): a key deleted and then
-- set again goes to the end of the insertion order
function test_deleted_then_readded_key_goes_to_the_end()
  local pool, path = newpool()
  local t = pool:table()
  pool.root = t
  t.a = 1; t.b = 2; t.c = 3; t.d = 4
  t.b = nil
  t.b = 22
  t.a = nil
  t.a = 11
  lu.assertEquals(keys_of(t), { "c", "d", "b", "a" })
  lu.assertEquals(t.b, 22)
  lu.assertEquals(count(t), 4)
  pool:close()
  lu.assertEquals(in_child(path, "io.write(table.concat(keys_of(root), ' '))"), "c d b a")
end

-- the iterator function pairs returns is a next for t (docs/reference.md)
function test_pairs_iterator_is_a_next()
  local pool, path = newpool()
  local t = pool:table()
  pool.root = t
  t.a = 1; t[2] = "two"; t[true] = false
  local f, s, k0 = pairs(t)
  lu.assertTrue(rawequal(s, t))
  lu.assertNil(k0)
  lu.assertEquals({ f(t, nil) }, { "a", 1 })
  lu.assertEquals({ f(t, "a") }, { 2, "two" })
  lu.assertEquals({ f(t, 2) }, { true, false })
  lu.assertNil(f(t, true))
  assert_raises(function() f(t, "never a key") end, "invalid key to 'next'")
  t[2] = nil                                    -- deleted: next continues from it
  lu.assertEquals({ f(t, 2) }, { true, false })
  lu.assertEquals({ f(t, "a") }, { true, false })
  pool:close()
  local out = in_child(path, [[
    local f = pairs(root)
    local k, v = f(root, nil)
    local k2, v2 = f(root, k)
    io.write(tostring(k), tostring(v), tostring(k2), tostring(v2), tostring(f(root, k2)))
    assert(not pcall(f, root, "never a key"))
  ]])
  lu.assertEquals(out, "a1truefalsenil")
end

-- }============================================

-- {============================================ deleting during pairs

-- 40 keys of mixed kinds, inserted in this order
local function fill(t)
  local ks = {}
  for i = 1, 40 do
    local k = ({ "s" .. i, i, i + 0.5, ("long key number %d ......"):format(i) })[i % 4 + 1]
    t[k] = i
    ks[#ks + 1] = k
  end
  t[true] = "t"; ks[#ks + 1] = true
  return ks
end

local function odd_even(ks)
  local odd, even = {}, {}
  for i, k in ipairs(ks) do
    if i % 2 == 1 then odd[#odd + 1] = k else even[#even + 1] = k end
  end
  return odd, even
end

function test_delete_every_key_during_pairs()
  local pool, path = newpool()
  local t = pool:table()
  local ks = fill(t)
  local visited = lib.delete_all(t)
  lu.assertEquals(dumpkeys(visited), dumpkeys(ks))
  lu.assertEquals(count(t), 0)
  lu.assertEquals(#t, 0)
  t.again = 1                                    -- usable afterwards
  lu.assertEquals(keys_of(t), { "again" })
  t.again = nil
  -- in a child, on a reopened pool
  pool.root = { t = t }
  ks = fill(t)
  pool:close()
  local out = in_child(path, [[
    local visited = delete_all(root.t)
    assert(next(keys_of(root.t)) == nil, "keys left")
    io.write(dumpkeys(visited))
  ]])
  lu.assertEquals(out, dumpkeys(ks))
  pool = assert(pmem.open(path))
  lu.assertEquals(count(pool.root.t), 0)
  pool:close()
end

function test_delete_every_other_key_during_pairs()
  local pool, path = newpool()
  local t = pool:table()
  local ks = fill(t)
  local odd, even = odd_even(ks)
  local visited = lib.delete_every_other(t)
  lu.assertEquals(dumpkeys(visited), dumpkeys(ks))
  lu.assertEquals(dumpkeys(keys_of(t)), dumpkeys(even))
  for _, k in ipairs(even) do lu.assertStrContains(t[k], "kept ") end
  for _, k in ipairs(odd) do lu.assertNil(t[k]) end
  -- the same in a child, on a reopened pool
  local t2 = pool:table()
  pool.root = { t = t2 }
  fill(t2)
  pool:close()
  local out = in_child(path, [[
    local visited = delete_every_other(root.t)
    io.write(dumpkeys(visited), "\n", dumpkeys(keys_of(root.t)))
  ]])
  lu.assertEquals(out, dumpkeys(ks) .. "\n" .. dumpkeys(even))
  pool = assert(pmem.open(path))
  lu.assertEquals(dumpkeys(keys_of(pool.root.t)), dumpkeys(even))
  pool:close()
end

function test_delete_keys_not_yet_visited_during_pairs()
  local pool, path = newpool()
  local t = pool:table()
  local ks = fill(t)
  local odd = odd_even(ks)
  lu.assertEquals(dumpkeys(lib.delete_ahead(t)), dumpkeys(odd))
  lu.assertEquals(dumpkeys(keys_of(t)), dumpkeys(odd))
  pool.root = { t = pool:table() }
  fill(pool.root.t)
  pool:close()
  local out = in_child(path, "io.write(dumpkeys(delete_ahead(root.t)))")
  lu.assertEquals(out, dumpkeys(odd))
end

-- }============================================

-- {============================================ keys

-- every kind of key; each must be a distinct key
local KINDS = [[
local KINDS = {
  "", "a", "abcdefghijklmn", "abcdefghijklmno", string.rep("long", 40),
  "a\0b", "\0", string.rep("\0", 14), string.rep("\0", 15), "1", "1.5", "true",
  0, 1, -1, 42, math.maxinteger, math.mininteger,
  1.5, -0.5, 0.1, 1e300, -1e-300, math.huge, -math.huge, 2 ^ 63, -2 ^ 64,
  true, false,
}
local bin = {}
for i = 0, 255 do bin[#bin + 1] = string.char(i) end
KINDS[#KINDS + 1] = table.concat(bin)
]]
local KEYS = assert(load(KINDS .. "return KINDS"))()

function test_keys_of_every_kind()
  local pool, path = newpool()
  local t = pool:table()
  local objs = { pool:table { x = 1 }, pool:list { 1 }, pool:set { 1 }, pool:tuple { 1 },
                 pool:table { x = 1 } }      -- same contents, another key
  for i, k in ipairs(KEYS) do t[k] = i end
  for i, o in ipairs(objs) do t[o] = -i end
  for i, k in ipairs(KEYS) do
    lu.assertEquals(t[k], i, "key " .. dump(k))
  end
  for i, o in ipairs(objs) do lu.assertEquals(t[o], -i) end
  lu.assertEquals(count(t), #KEYS + #objs)
  local expect = {}
  for _, k in ipairs(KEYS) do expect[#expect + 1] = k end
  for _, o in ipairs(objs) do expect[#expect + 1] = o end
  local got = keys_of(t)
  lu.assertEquals(dumpkeys(got), dumpkeys(expect))
  for i, o in ipairs(objs) do lu.assertTrue(rawequal(got[#KEYS + i], o)) end
  pool.root = { t = t, objs = objs }
  local before = dump(t)
  pool:close()
  local out = in_child(path, KINDS .. [[
    local t = root.t
    for i, k in ipairs(KINDS) do assert(t[k] == i, "key " .. dump(k)) end
    local ks = keys_of(t)
    for i = 1, 5 do
      local o = root.objs[i]
      assert(t[o] == -i, "persistent key " .. i)
      assert(rawequal(ks[#KINDS + i], o), "persistent key identity " .. i)
    end
    io.write(dump(t))
  ]])
  lu.assertEquals(out, before)
end

function test_integral_float_keys_are_integers()
  local pool, path = newpool()
  local t = pool:table()
  pool.root = t
  t[1.0] = "one"
  lu.assertEquals(t[1], "one")
  lu.assertEquals(math.type(keys_of(t)[1]), "integer")
  t[1] = "uno"                                  -- the same key
  lu.assertEquals(count(t), 1)
  lu.assertEquals(t[1.0], "uno")
  t[2 ^ 53] = "big"
  lu.assertEquals(t[9007199254740992], "big")
  t[-0.0] = "zero"
  lu.assertEquals(t[0], "zero")
  t[2 ^ 63] = "float"                           -- no integer has this value
  t[3] = "three"
  lu.assertEquals(t[3.0], "three")
  local ks = keys_of(t)
  lu.assertEquals(dumpkeys(ks), dumpkeys { 1, 9007199254740992, 0, 2 ^ 63, 3 })
  lu.assertEquals(math.type(ks[2]), "integer")
  lu.assertEquals(math.type(ks[3]), "integer")
  lu.assertEquals(math.type(ks[4]), "float")
  t[3.0] = nil                                  -- deleting through the float
  lu.assertNil(t[3])
  pool:close()
  local out = in_child(path, [[
    local t = root
    assert(t[1.0] == "uno" and t[1] == "uno" and t[2 ^ 53] == "big" and t[-0.0] == "zero")
    t[4.0] = "four"
    io.write(dumpkeys(keys_of(t)))
  ]])
  lu.assertEquals(out, dumpkeys { 1, 9007199254740992, 0, 2 ^ 63, 4 })
  pool = assert(pmem.open(path))
  lu.assertEquals(math.type(keys_of(pool.root)[5]), "integer")
  lu.assertEquals(pool.root[4], "four")
  pool:close()
end

-- writes with keys that cannot be keys; each raises and changes nothing
local BADKEYS = [[
local function bad_key_cases(t)
  return {
    { function() t[nil] = 1 end, "index is nil" },
    { function() t[nil] = nil end, "index is nil" },
    { function() t[0 / 0] = 1 end, "index is NaN" },
    { function() t[0 / 0] = nil end, "index is NaN" },
    { function() t[{}] = 1 end, "table" },
    { function() t[{ 1, 2 }] = nil end, "table" },
    { function() t[print] = 1 end, "function" },
    { function() t[coroutine.create(print)] = 1 end, "thread" },
    { function() t[io.stdout] = 1 end, "userdata" },
  }
end
-- reads with such keys return nil, as in Lua
local function bad_key_reads(t)
  return t[nil], t[0 / 0], t[{}], t[print], t[io.stdout]
end
]]
local badlib = assert(load(BADKEYS .. "return { cases = bad_key_cases, reads = bad_key_reads }"))()

function test_invalid_keys_raise_and_change_nothing()
  local pool, path = newpool()
  local other = newpool()
  local t = pool:table()
  pool.root = t
  t.a = 1; t[1] = 2
  local before = dump(t)
  local cases = badlib.cases(t)
  cases[#cases + 1] = { function() t[other:table()] = 1 end, "another pool" }
  for i, c in ipairs(cases) do
    assert_raises(c[1], c[2])
    lu.assertEquals(dump(t), before, "case " .. i)
  end
  lu.assertEquals(select("#", badlib.reads(t)), 5)
  for i = 1, 5 do lu.assertNil(select(i, badlib.reads(t))) end
  lu.assertNil(t[other:table()])
  other:close()
  pool:close()
  local out = in_child(path, BADKEYS .. [[
    local t = root
    local before = dump(t)
    for i, c in ipairs(bad_key_cases(t)) do
      local ok, why = raises(c[1], c[2])
      assert(ok, "case " .. i .. ": " .. tostring(why))
      assert(dump(t) == before, "case " .. i .. " changed the table")
    end
    for i = 1, 5 do assert(select(i, bad_key_reads(t)) == nil) end
    io.write(dump(t))
  ]])
  lu.assertEquals(out, before)
end

-- the same messages a plain Lua table gives ("table index is nil/NaN")
function test_nil_and_nan_key_errors_like_lua()
  local pool = newpool()
  local t = pool:table()
  local _, lua_nil = pcall(function() local p = {}; p[nil] = 1 end)
  local _, lua_nan = pcall(function() local p = {}; p[0 / 0] = 1 end)
  local _, pm_nil = pcall(function() t[nil] = 1 end)
  local _, pm_nan = pcall(function() t[0 / 0] = 1 end)
  lu.assertStrContains(lua_nil, "index is nil")
  lu.assertStrContains(pm_nil, "index is nil")
  lu.assertStrContains(lua_nan, "index is NaN")
  lu.assertStrContains(pm_nan, "index is NaN")
  lu.assertEquals(type(pm_nil), "string")
  pool:close()
end

function test_persistent_values_as_keys_by_identity()
  local pool, path = newpool()
  local t = pool:table()
  local a, b = pool:table { v = 1 }, pool:table { v = 1 }
  t[a] = "A"
  t[b] = "B"                                     -- equal contents, another key
  lu.assertEquals(count(t), 2)
  lu.assertEquals(t[a], "A")
  lu.assertEquals(t[b], "B")
  pool.root = { t = t, a = a }                   -- b is reachable only as a key
  lu.assertEquals(pool.root.t[pool.root.a], "A")
  b = nil
  collectgarbage()
  pool:close()
  local out = in_child(path, [[
    local t = root.t
    assert(t[root.a] == "A")
    local n = 0
    for k, v in pairs(t) do
      n = n + 1
      assert(pmem.type(k) == "table" and k.v == 1)
      if v == "A" then assert(rawequal(k, root.a)) else
        assert(v == "B" and not rawequal(k, root.a))
        assert(t[k] == "B")
      end
    end
    assert(n == 2)
    t[root.a] = nil
    io.write(dump(t))
  ]])
  lu.assertEquals(out, "table{table{" .. dump("v") .. "=i1}=" .. dump("B") .. "}")
end

-- }============================================

-- {============================================ many keys

-- the i-th key of the many-keys test, and its value
local function nth(i)
  if i % 2 == 1 then return (i + 1) // 2, i end
  return "k" .. (i // 2), -i
end

local MANY_CHECK = [[
local N = tonumber(arg[2])
local function nth(i)
  if i % 2 == 1 then return (i + 1) // 2, i end
  return "k" .. (i // 2), -i
end
local t = root
local i = 0
for k, v in pairs(t) do
  i = i + 1
  local ek, ev = nth(i)
  assert(k == ek and math.type(k) == math.type(ek) and v == ev, "entry " .. i)
end
assert(i == N, "count " .. i)
for j = 1, N do local k, v = nth(j); assert(t[k] == v, "key " .. tostring(k)) end
assert(#t == N // 2, "#t")
io.write("ok ", i)
]]

function test_many_keys_growth_delete_all_and_again()
  local N = 10000
  local pool, path = newpool(32 * MIB, fast_pool_path())
  local t = pool:table()
  pool.root = t
  -- the first 600 one change at a time (growth through many sizes), the
  -- rest in transactions of 1000
  for i = 1, 600 do local k, v = nth(i); t[k] = v end
  for base = 600, N - 1, 1000 do
    pool:transaction(function()
      for i = base + 1, math.min(base + 1000, N) do local k, v = nth(i); t[k] = v end
    end)
  end
  local i = 0
  for k, v in pairs(t) do
    i = i + 1
    local ek, ev = nth(i)
    if k ~= ek or v ~= ev then lu.fail("entry " .. i .. ": " .. tostring(k)) end
  end
  lu.assertEquals(i, N)
  lu.assertEquals(#t, N // 2)
  pool:close()
  lu.assertEquals(in_child(path, MANY_CHECK, N), "ok " .. N)
  -- delete all (the last 50 one at a time), then add again
  pool = assert(pmem.open(path))
  t = pool.root
  for base = 0, N - 51, 1000 do
    pool:transaction(function()
      for j = base + 1, math.min(base + 1000, N - 50) do t[(nth(j))] = nil end
    end)
  end
  lu.assertEquals(count(t), 50)
  for j = N - 49, N do t[(nth(j))] = nil end
  lu.assertEquals(count(t), 0)
  lu.assertEquals(#t, 0)
  lu.assertNil(t[1])
  lu.assertNil(t.k1)
  pool:transaction(function()
    for j = 1, N do local k, v = nth(j); t[k] = v end
  end)
  pool:close()
  lu.assertEquals(in_child(path, MANY_CHECK, N), "ok " .. N)
end

-- }============================================

os.exit(lu.LuaUnit.run(), true)
