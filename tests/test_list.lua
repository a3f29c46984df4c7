-- test_list.lua -- persistent lists (docs/reference.md, "Types": List): 1-based, no
-- nils; reads, writes, holes and positions that raise; #, ipairs, pairs; the
-- standard table library on a list; the methods append, insert, remove,
-- extend, clear (positions exactly as table.insert / table.remove); lists
-- built from plain tables; 100,000 appends, each atomic under kill -9.
-- Every behaviour is checked here and again after reopening in a child.
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

local MIB = 1024 * 1024

-- COMMON is run both here and at the top of every child.
local COMMON = [==[
local pmem = pmem or require "pmem"

local dump = require "dump"

-- aslist(seq) -- the dump a list holding the plain sequence seq would have
local function aslist(seq)
  local parts = {}
  for i = 1, #seq do parts[i] = dump(seq[i]) end
  return "list{" .. table.concat(parts, ",") .. "}"
end

-- raises(f, pattern) -- f() raises an error whose message contains pattern
local function raises(f, pattern)
  local ok, err = pcall(f)
  if ok then return false, "did not raise" end
  if pattern and not tostring(err):find(pattern, 1, true) then return false, tostring(err) end
  return true
end
]==]

local lib = assert(load(COMMON .. "return { dump = dump, aslist = aslist, raises = raises }",
                        "=COMMON"))()
local dump, aslist = lib.dump, lib.aslist

local newpool = helper.newpool

local function fast_pool_path() return helper.fast_pool_path() end

local function in_child(path, body, ...) return helper.in_child(COMMON, path, body, ...) end

local function assert_raises(f, pattern)
  local ok, why = lib.raises(f, pattern)
  lu.assertTrue(ok, "expected an error" .. (pattern and " containing '" .. pattern .. "'" or "")
                .. ": " .. tostring(why))
end

-- {============================================ reading and writing items

function test_read_positions_and_length()
  local pool, path = newpool()
  local l, e = pool:list { 10, "twenty", 30.5 }, pool:list()
  pool.root = { l = l, e = e }
  lu.assertEquals(#l, 3)
  lu.assertEquals(#e, 0)
  lu.assertEquals(l[1], 10)
  lu.assertEquals(l[2], "twenty")
  lu.assertEquals(l[3], 30.5)
  lu.assertEquals(l[1.0], 10)                   -- an integral float is that position
  for _, i in ipairs { 0, -1, 4, 5, math.maxinteger, math.mininteger, 1.5, "1", true } do
    lu.assertNil(l[i], "l[" .. tostring(i) .. "]")
  end
  lu.assertNil(e[1])
  lu.assertNil(e[0])
  lu.assertNil(l.nosuchfield)
  pool:close()
  local out = in_child(path, [[
    local l, e = root.l, root.e
    assert(#l == 3 and #e == 0 and l[1] == 10 and l[2] == "twenty" and l[3] == 30.5)
    assert(math.type(l[1]) == "integer" and math.type(l[3]) == "float")
    for _, i in ipairs { 0, -1, 4, math.maxinteger, math.mininteger, 1.5, "1" } do
      assert(l[i] == nil, tostring(i))
    end
    assert(e[1] == nil and e[0] == nil)
    io.write(dump(l))
  ]])
  lu.assertEquals(out, aslist { 10, "twenty", 30.5 })
end

function test_assign_replaces_appends_and_removes_last()
  local pool, path = newpool()
  local l = pool:list { 1, 2, 3 }
  pool.root = l
  l[2] = "b"                                    -- replace
  lu.assertEquals(#l, 3)
  l[4] = 4                                      -- append at #l + 1
  l[#l + 1] = { x = 5 }                         -- a plain table becomes a persistent table
  lu.assertEquals(#l, 5)
  lu.assertEquals(pmem.type(l[5]), "table")
  lu.assertEquals(l[5].x, 5)
  l[#l] = nil                                   -- remove the last
  lu.assertEquals(#l, 4)
  lu.assertNil(l[5])
  l[1] = false                                  -- false is a value
  lu.assertEquals(l[1], false)
  l[3.0] = "three"                              -- integral float position
  lu.assertEquals(dump(l), aslist { false, "b", "three", 4 })
  local one = pool:list { "only" }
  one[1] = nil                                  -- #l == 1: removes it
  lu.assertEquals(#one, 0)
  pool:close()
  -- in a child: the same writes on the reopened list
  local out = in_child(path, [[
    local l = root
    assert(dump(l) == arg[2], dump(l))
    l[1] = "a"; l[5] = 5; l[#l] = nil; l[#l] = nil; l[#l + 1] = "d"
    io.write(dump(l))
  ]], aslist { false, "b", "three", 4 })
  lu.assertEquals(out, aslist { "a", "b", "three", "d" })
  pool = assert(pmem.open(path))
  lu.assertEquals(dump(pool.root), aslist { "a", "b", "three", "d" })
  pool:close()
end

-- writes that raise, each leaving the list unchanged
local BADWRITES = [[
local function bad_writes(l)
  return {
    { function() l[2] = nil end, "hole" },            -- a hole inside
    { function() l[1] = nil end, "hole" },
    { function() l[#l + 2] = 1 end },                -- beyond #l + 1
    { function() l[math.maxinteger] = 1 end },
    { function() l[0] = 1 end },                     -- below 1
    { function() l[-1] = 1 end },
    { function() l[math.mininteger] = 1 end },
    { function() l[1.5] = 1 end },                   -- not an integer
    { function() l[2 ^ 63] = 1 end },
    { function() l["1"] = 1 end },
    { function() l.x = 1 end },
    { function() l[true] = 1 end },
    { function() l[{}] = 1 end },
    { function() l[nil] = 1 end },
    { function() l[0 / 0] = 1 end },
    { function() l[1.5] = nil end },
  }
end
]]
local badwrites = assert(load(BADWRITES .. "return bad_writes"))()

function test_invalid_writes_raise_and_change_nothing()
  local pool, path = newpool()
  local l = pool:list { "a", "b", "c" }
  pool.root = l
  local before = dump(l)
  for i, c in ipairs(badwrites(l)) do
    assert_raises(c[1], c[2])
    lu.assertEquals(dump(l), before, "case " .. i)
  end
  pool:close()
  local out = in_child(path, BADWRITES .. [[
    local before = dump(root)
    for i, c in ipairs(bad_writes(root)) do
      local ok, why = raises(c[1], c[2])
      assert(ok, "case " .. i .. ": " .. tostring(why))
      assert(dump(root) == before, "case " .. i .. " changed the list")
    end
    io.write(dump(root))
  ]])
  lu.assertEquals(out, aslist { "a", "b", "c" })
end

function test_nil_written_outside_the_list_does_nothing()
  local pool, path = newpool()
  local l, e = pool:list { 1, 2, 3 }, pool:list()
  pool.root = { l = l, e = e }
  for _, i in ipairs { 0, -1, 4, 5, 100, math.maxinteger, math.mininteger } do
    l[i] = nil
    e[i] = nil
  end
  e[1] = nil
  lu.assertEquals(dump(l), aslist { 1, 2, 3 })
  lu.assertEquals(#e, 0)
  pool:close()
  local out = in_child(path, [[
    for _, i in ipairs { 0, -1, 4, 5, 100 } do root.l[i] = nil; root.e[i] = nil end
    root.e[1] = nil
    io.write(dump(root.l), #root.e)
  ]])
  lu.assertEquals(out, aslist { 1, 2, 3 } .. "0")
end

function test_ipairs_and_pairs()
  local pool, path = newpool()
  local items = { "a", 2, 3.5, true, false, "long string of more than fourteen bytes" }
  local l = pool:list(items)
  pool.root = { l = l, e = pool:list() }
  local function walk(iter, t)
    local ks, vs = {}, {}
    for k, v in iter(t) do ks[#ks + 1] = k; vs[#vs + 1] = v end
    return ks, vs
  end
  for _, iter in ipairs { ipairs, pairs } do
    local ks, vs = walk(iter, l)
    lu.assertEquals(ks, { 1, 2, 3, 4, 5, 6 })
    for _, k in ipairs(ks) do lu.assertEquals(math.type(k), "integer") end
    lu.assertEquals(aslist(vs), aslist(items))
    lu.assertEquals(#walk(iter, pool.root.e), 0)
  end
  pool:close()
  local out = in_child(path, [[
    local n = 0
    for i, v in ipairs(root.l) do n = n + 1; assert(i == n and v == root.l[i]) end
    for i, v in pairs(root.l) do n = n + 1; assert(i == n - 6 and v == root.l[i]) end
    for _ in pairs(root.e) do error("empty list yields") end
    for _ in ipairs(root.e) do error("empty list yields") end
    io.write(n)
  ]])
  lu.assertEquals(out, "12")
end

-- }============================================

-- {============================================ the table library

function test_table_insert_both_forms()
  local pool, path = newpool()
  local l, m = pool:list { 1, 2 }, { 1, 2 }
  pool.root = l
  for _, args in ipairs { { "end" }, { 1, "front" }, { 3, "mid" }, { 6, "at n+1" }, { "x" } } do
    table.insert(l, table.unpack(args))
    table.insert(m, table.unpack(args))
    lu.assertEquals(dump(l), aslist(m))
  end
  assert_raises(function() table.insert(l, 0, "x") end, "position out of bounds")
  assert_raises(function() table.insert(l, #l + 2, "x") end, "position out of bounds")
  assert_raises(function() table.insert(l, 1, 2, 3) end, "wrong number of arguments")
  lu.assertEquals(dump(l), aslist(m))
  pool:close()
  local out = in_child(path, [[
    table.insert(root, "child end"); table.insert(root, 1, "child front")
    assert(not pcall(table.insert, root, 0, "x"))
    io.write(dump(root))
  ]])
  table.insert(m, "child end"); table.insert(m, 1, "child front")
  lu.assertEquals(out, aslist(m))
end

-- each table library call on a list is one atomic change: one that fails
-- half-way (after shifting items) changes nothing
function test_failing_table_calls_change_nothing()
  local pool = newpool()
  local l = pool:list { "a", "b", "c" }
  assert_raises(function() table.insert(l, 1, nil) end, "a list has no holes")
  lu.assertEquals(pmem.tolua(l), { "a", "b", "c" })
  assert_raises(function() table.move({ "x", print }, 1, 2, 1, l) end, "function")
  lu.assertEquals(pmem.tolua(l), { "a", "b", "c" })
  assert_raises(function() table.sort(l, function(x, y) if x == "c" then error("stop") end
                                           return x > y end) end, "stop")
  lu.assertEquals(pmem.tolua(l), { "a", "b", "c" })
  lu.assertEquals(table.remove(l, 1), "a")
  table.insert(l, 1, "z")
  table.sort(l)
  lu.assertEquals(pmem.tolua(l), { "b", "c", "z" })
  local plain = { 3, 1, 2 }                       -- plain tables as before
  table.sort(plain); table.insert(plain, 1, 0)
  lu.assertEquals(plain, { 0, 1, 2, 3 })
  pool:close()
end

function test_table_remove_both_forms_and_on_empty()
  local pool, path = newpool()
  local l, m = pool:list { 1, 2, 3, 4, 5 }, { 1, 2, 3, 4, 5 }
  local e = pool:list()
  pool.root = { l = l, e = e }
  lu.assertEquals(table.remove(l), table.remove(m))          -- the last: 5
  lu.assertEquals(table.remove(l, 1), table.remove(m, 1))    -- the first: 1
  lu.assertEquals(table.remove(l, 2), table.remove(m, 2))    -- the middle
  lu.assertNil(table.remove(l, #l + 1))                      -- allowed, returns nil
  lu.assertEquals(dump(l), aslist(m))
  assert_raises(function() table.remove(l, 0) end, "position out of bounds")
  assert_raises(function() table.remove(l, #l + 2) end, "position out of bounds")
  lu.assertEquals(dump(l), aslist(m))
  -- an empty list: table.remove(e), (e, 0), (e, 1) return nil; (e, 2) raises
  lu.assertNil(table.remove(e))
  lu.assertNil(table.remove(e, 0))
  lu.assertNil(table.remove(e, 1))
  assert_raises(function() table.remove(e, 2) end, "position out of bounds")
  lu.assertEquals(#e, 0)
  pool:close()
  local out = in_child(path, [[
    local a = table.remove(root.l)
    local b = table.remove(root.l, 1)
    assert(table.remove(root.e) == nil and #root.e == 0)
    io.write(dump(a), dump(b), #root.l)
  ]])
  lu.assertEquals(out, "i4i2" .. "0")
end

function test_table_concat_sort_unpack()
  local pool, path = newpool()
  local words = { "pear", "apple", "fig", "kiwi", "banana", "cherry" }
  local nums = { 5, -1, 3.5, 10, 0, 2, 8, 1 }
  local w, n = pool:list(words), pool:list(nums)
  pool.root = { w = w, n = n }
  lu.assertEquals(table.concat(w, ","), table.concat(words, ","))
  lu.assertEquals(table.concat(w, "-", 2, 4), "apple-fig-kiwi")
  lu.assertEquals(table.concat(n), table.concat(nums))
  lu.assertEquals(table.concat(pool:list()), "")
  assert_raises(function() table.concat(pool:list { "a", true }) end, "concat")
  lu.assertEquals({ table.unpack(w) }, words)
  lu.assertEquals({ table.unpack(w, 2, 3) }, { "apple", "fig" })
  lu.assertEquals(select("#", table.unpack(pool:list())), 0)
  table.sort(w)
  table.sort(words)
  lu.assertEquals(dump(w), aslist(words))
  table.sort(n, function(a, b) return a > b end)
  table.sort(nums, function(a, b) return a > b end)
  lu.assertEquals(dump(n), aslist(nums))
  pool:close()
  local out = in_child(path, [[
    assert(dump(root.w) == arg[2] and dump(root.n) == arg[3], "sorted order after reopen")
    table.sort(root.n)
    io.write(table.concat(root.n, " "), "|", table.concat(root.w, " ", 1, 2))
  ]], aslist(words), aslist(nums))
  table.sort(nums)
  lu.assertEquals(out, table.concat(nums, " ") .. "|apple banana")
end

function test_table_move()
  local pool, path = newpool()
  local l, m = pool:list { 1, 2, 3, 4, 5 }, { 1, 2, 3, 4, 5 }
  local other = pool:list { "x" }
  pool.root = { l = l, other = other }
  table.move(l, 1, 3, 3); table.move(m, 1, 3, 3)            -- overlapping, to the right
  lu.assertEquals(dump(l), aslist(m))
  table.move(l, 2, 5, 1); table.move(m, 2, 5, 1)            -- to the left
  lu.assertEquals(dump(l), aslist(m))
  table.move(l, 1, 2, #l + 1); table.move(m, 1, 2, #m + 1)  -- appending to itself
  lu.assertEquals(dump(l), aslist(m))
  local plain = table.move(l, 1, #l, 1, {})                 -- list -> plain table
  lu.assertEquals(plain, m)
  lu.assertNil(getmetatable(plain))
  table.move({ 7, 8, 9 }, 1, 3, #l + 1, l)                  -- plain table -> list
  table.move({ 7, 8, 9 }, 1, 3, #m + 1, m)
  lu.assertEquals(dump(l), aslist(m))
  table.move(l, 1, 3, 2, other)                             -- list -> another list
  lu.assertEquals(dump(other), aslist { "x", m[1], m[2], m[3] })
  assert_raises(function() table.move(l, 1, 2, #l + 2) end) -- would leave a hole
  lu.assertEquals(dump(l), aslist(m))
  pool:close()
  local out = in_child(path, [[
    local l = root.l
    assert(dump(l) == arg[2])
    table.move(l, 2, #l, 1)
    l[#l] = nil
    io.write(dump(l))
  ]], aslist(m))
  table.move(m, 2, #m, 1)
  m[#m] = nil
  lu.assertEquals(out, aslist(m))
end

-- }============================================

-- {============================================ methods

function test_methods_append_insert_remove_clear()
  local pool, path = newpool()
  local l, m = pool:list(), {}
  pool.root = l
  l:append(1); m[#m + 1] = 1
  l:append("two"); m[#m + 1] = "two"
  l:insert("three"); m[#m + 1] = "three"                    -- insert(v): at the end
  l:insert(1, "zero"); table.insert(m, 1, "zero")
  l:insert(3, 1.5); table.insert(m, 3, 1.5)
  l:insert(#l + 1, "last"); m[#m + 1] = "last"
  lu.assertEquals(dump(l), aslist(m))
  lu.assertEquals(l:remove(), "last"); m[#m] = nil           -- remove(): the last
  lu.assertEquals(l:remove(1), "zero"); table.remove(m, 1)
  lu.assertEquals(l:remove(2), 1.5); table.remove(m, 2)
  lu.assertNil(l:remove(#l + 1))
  lu.assertEquals(dump(l), aslist(m))
  assert_raises(function() l:append(nil) end)
  assert_raises(function() l:append() end)
  assert_raises(function() l:insert(1, nil) end)
  assert_raises(function() l:insert(0, "x") end, "position out of bounds")
  assert_raises(function() l:insert(#l + 2, "x") end, "position out of bounds")
  assert_raises(function() l:remove(0) end, "position out of bounds")
  assert_raises(function() l:remove(#l + 2) end, "position out of bounds")
  assert_raises(function() l:append(print) end, "function")
  lu.assertEquals(dump(l), aslist(m))
  l:clear()
  lu.assertEquals(#l, 0)
  lu.assertNil(l[1])
  lu.assertNil(l:remove())
  l:append("again")
  lu.assertEquals(dump(l), aslist { "again" })
  pool:close()
  local out = in_child(path, [[
    local l = root
    l:append("b"); l:insert(1, "a"); l:insert("c")
    local r = l:remove(2)
    l:append({ k = "v" })
    io.write(dump(l), " ", r)
    l:clear()
    l:append("after clear")
  ]])
  lu.assertEquals(out, "list{" .. dump("a") .. "," .. dump("b") .. "," .. dump("c") .. ","
                  .. "table{" .. dump("k") .. "=" .. dump("v") .. "}} again")
  pool = assert(pmem.open(path))
  lu.assertEquals(dump(pool.root), aslist { "after clear" })
  pool:close()
end

function test_extend()
  local pool, path = newpool()
  local l = pool:list { 0 }
  pool.root = l
  l:extend { 1, 2 }                                         -- a plain sequence
  l:extend(pool:list { 3, 4 })                              -- another list
  l:extend(pool:tuple { 5 })                                -- a tuple
  lu.assertEquals(dump(l), aslist { 0, 1, 2, 3, 4, 5 })
  l:clear()
  l:extend(pool:set { "a", "b", "c" })                      -- a set: its elements
  local got = {}
  for _, v in ipairs(l) do got[#got + 1] = v end
  table.sort(got)
  lu.assertEquals(got, { "a", "b", "c" })
  l:clear()
  local i = 0
  l:extend(function() i = i + 1; if i <= 3 then return i * 10 end end)   -- an iterator
  l:extend(("x y z"):gmatch("%a"))
  l:extend {}
  lu.assertEquals(dump(l), aslist { 10, 20, 30, "x", "y", "z" })
  assert_raises(function() l:extend(5) end)
  assert_raises(function() l:extend { 1, print, 3 } end, "function")  -- changes nothing
  lu.assertEquals(dump(l), aslist { 10, 20, 30, "x", "y", "z" })
  pool:close()
  local out = in_child(path, [[
    root:extend { "p", "q" }
    root:extend(pool:list { "r" })
    io.write(dump(root))
  ]])
  lu.assertEquals(out, aslist { 10, 20, 30, "x", "y", "z", "p", "q", "r" })
end

-- l:insert / l:remove take positions exactly as table.insert / table.remove:
-- for every small size and every position around it, both raise or both
-- give the same result and the same list
function test_insert_remove_positions_as_table_library()
  local pool = newpool()
  for n = 0, 4 do
    for pos = -2, n + 3 do
      local seq = {}
      for i = 1, n do seq[i] = i end
      -- insert
      local l, m = pool:list(seq), table.move(seq, 1, n, 1, {})
      local okl, el = pcall(l.insert, l, pos, "v")
      local okm, em = pcall(table.insert, m, pos, "v")
      local where = ("insert n=%d pos=%d"):format(n, pos)
      lu.assertEquals(okl, okm, where .. ": " .. tostring(el) .. " / " .. tostring(em))
      if not okl then lu.assertStrContains(el, "position out of bounds") end
      lu.assertEquals(dump(l), aslist(m), where)
      -- remove
      l, m = pool:list(seq), table.move(seq, 1, n, 1, {})
      local okl2, rl = pcall(l.remove, l, pos)
      local okm2, rm = pcall(table.remove, m, pos)
      where = ("remove n=%d pos=%d"):format(n, pos)
      lu.assertEquals(okl2, okm2, where .. ": " .. tostring(rl) .. " / " .. tostring(rm))
      if okl2 then lu.assertEquals(rl, rm, where)
      else lu.assertStrContains(rl, "position out of bounds") end
      lu.assertEquals(dump(l), aslist(m), where)
    end
  end
  pool:close()
end

-- an insert snapshots the cells it moves up; the cell past the end that
-- they move into is added as an append adds it: snapshotted only if it
-- held a committed item (the list shrank earlier in the transaction)
function test_insert_after_a_shrink_rolls_back()
  local pool = newpool()
  pool.root = pool:list { 1, 2, 3, 4 }
  local l = pool.root
  local ok = pcall(pool.transaction, pool, function()
    l:remove()
    l:insert(1, "a")
    l:insert(1, "b")
    error("roll back")
  end)
  lu.assertFalse(ok)
  lu.assertEquals(dump(l), aslist { 1, 2, 3, 4 })
  pool:close()
end

-- under valgrind libpmemobj checks that what a transaction snapshots is
-- initialized: an insert snapshotted the free cell past the end too
-- ("Uninitialised byte(s) found during client check request")
function test_insert_snapshots_no_cell_never_written()
  local f = assert(io.open(helper.PMLUA, "rb"))
  local program = f:read(4) == "\127ELF"
  f:close()
  if helper.SANITIZED or not program or helper.run_cmd("command -v valgrind") == "" then
    lu.skip("needs valgrind, and PMLUA a build without sanitizers (not tests/memcheck.sh's wrapper)")
  end
  local dir = helper.tmpdir()
  helper.write_file(dir .. "/insert.lua", [[
    local pool = assert(pmem.open(arg[1], "x", pmem.MIN_POOL_SIZE))
    pool.root = pool:list { 1, 2, 3 }
    pool.root:insert(1, "a")
    pool.root:insert(2, "b")
    pool:close()]])
  local _, code, err = helper.run_cmd("valgrind -q " .. helper.q(helper.PMLUA) .. " "
    .. helper.q(dir .. "/insert.lua") .. " " .. helper.q(dir .. "/p.pmem"))
  lu.assertEquals(code, 0, err)
  lu.assertNotStrContains(err, "found during client check request")
end

-- pmem.next on a list after the last integer: nothing, no overflow (UBSan
-- reported maxinteger + 1 under make torture's fuzzer)
function test_next_after_maxinteger_is_the_end()
  local pool = newpool()
  local l = pool:list { "a" }
  lu.assertNil(pmem.next(l, math.maxinteger))
  lu.assertNil(pmem.next(l, math.mininteger))
  lu.assertEquals({ pmem.next(l, 0) }, { 1, "a" })
  pool:close()
end

-- }============================================

-- {============================================ building lists

function test_list_from_a_plain_table_takes_the_sequence()
  local pool, path = newpool()
  local l = pool:list { "a", "b", "c", x = 1, [10] = "far", [0] = "zero" }
  local e, none = pool:list {}, pool:list()
  pool.root = { l = l, e = e, none = none }
  lu.assertEquals(dump(l), aslist { "a", "b", "c" })
  lu.assertEquals(#e, 0)
  lu.assertEquals(#none, 0)
  pool:close()
  local out = in_child(path, "io.write(dump(root.l), #root.e, #root.none)")
  lu.assertEquals(out, aslist { "a", "b", "c" } .. "00")
end

-- nested plain tables become persistent tables (shared ones stay shared);
-- run in children, so that a crash fails this test and not the suite
function test_list_from_a_plain_table_with_nested_tables()
  local path = helper.pool_path()
  local out, code, err = helper.child(COMMON .. [[
    local pool = assert(pmem.open(arg[1], "x", pmem.MIN_POOL_SIZE))
    local shared = { s = 1 }
    local l = pool:list { { x = 1 }, { 2, 3 }, shared, shared, "end" }
    assert(#l == 5)
    assert(pmem.type(l[1]) == "table" and l[1].x == 1)
    assert(pmem.type(l[2]) == "table" and l[2][2] == 3)   -- a table, not a list
    assert(rawequal(l[3], l[4]))
    pool.root = l
    io.write(dump(l))
    pool:close()
  ]], path)
  lu.assertEquals(code, 0, "pool:list{ {x=1}, ... } failed: " .. err)
  local expect = "list{table{" .. dump("x") .. "=i1},table{i1=i2,i2=i3},table{"
                 .. dump("s") .. "=i1},@4," .. dump("end") .. "}"
  lu.assertEquals(out, expect)
  out = in_child(path, [[
    assert(rawequal(root[3], root[4]))
    io.write(dump(root))
  ]])
  lu.assertEquals(out, expect)
end

function test_values_of_every_kind()
  local pool, path = newpool()
  local vals = { true, false, 0, -1, math.maxinteger, math.mininteger, 1.0, -0.0, 0.5,
                 math.huge, -math.huge, "", "short", "a\0b", string.rep("long", 30) }
  local l = pool:list()
  for _, v in ipairs(vals) do l:append(v) end
  l:append(0 / 0)
  local expect = aslist(vals):gsub("}$", ",fnan}")
  lu.assertEquals(dump(l), expect)
  pool.root = l
  pool:close()
  lu.assertEquals(in_child(path, "io.write(dump(root))"), expect)
end

-- }============================================

-- {============================================ many appends

function test_append_100000_items()
  local N = 100000
  local pool, path = newpool(64 * MIB, fast_pool_path())
  local l = pool:list()
  pool.root = l
  for i = 1, N do l:append(i) end
  lu.assertEquals(#l, N)
  for i = 1, N do if l[i] ~= i then lu.fail("item " .. i .. " is " .. tostring(l[i])) end end
  pool:close()
  local out = in_child(path, [[
    local l = root
    for i = 1, #l do assert(l[i] == i, "item " .. i) end
    local n = #l
    for i = 1, 1000 do l[#l] = nil end
    io.write(n)
  ]])
  lu.assertEquals(out, tostring(N))
  pool = assert(pmem.open(path))
  lu.assertEquals(#pool.root, N - 1000)
  lu.assertEquals(pool.root[N - 1000], N - 1000)
  pool:close()
end

-- a child appends items one at a time until it is killed (SIGKILL); after
-- each kill the list holds exactly the items 1..#l, each intact
local APPENDER = [[
local pool = assert(pmem.open(arg[1]))
local l = pool.root
local function item(i)
  if i % 5 == 0 then return ("long item %d %s"):format(i, ("x"):rep(i % 40)) end
  return i
end
io.stdout:setvbuf("no")
io.write("started ", #l, "\n")
for i = #l + 1, 900000 do l:append(item(i)) end     -- then wait for the kill
while true do end
]]

-- open_when_released(path) -- timeout -s KILL kills its own process group,
-- itself included, so it may exit before the killed child has released
-- the pool's lock: retry "in use" for a while
local function open_when_released(path)
  for _ = 1, 100 do
    local pool, msg = pmem.open(path)
    if pool then return pool end
    if not msg:find("in use", 1, true) then error(msg, 2) end
    os.execute("sleep 0.05")
  end
  error("the killed process still holds " .. path, 2)
end

function test_append_is_atomic_under_kill()
  local path = fast_pool_path()
  local pool = newpool(64 * MIB, path)
  pool.root = pool:list()
  pool:close()
  local script = helper.tmpdir() .. "/appender.lua"
  local f = assert(io.open(script, "w")); f:write(APPENDER); f:close()
  local function item(i)
    if i % 5 == 0 then return ("long item %d %s"):format(i, ("x"):rep(i % 40)) end
    return i
  end
  local last = 0
  for round, delay in ipairs { 0.2, 0.3, 0.4 } do
    -- the kill comes `delay` seconds after the appender has opened the pool
    -- (however long the open took on a busy machine)
    local h = assert(io.popen(("sh -c 'echo $$; exec \"$0\" \"$@\"' %s %s %s 2>&1"):format(
      helper.q(helper.PMLUA), helper.q(script), helper.q(path))))
    local pid = tonumber(h:read("l"))
    lu.assertEquals(h:read("l"), "started " .. last)
    os.execute(("sleep %s"):format(delay))
    os.execute("kill -9 " .. pid)
    h:read("a")
    local _, how, code = h:close()
    lu.assertTrue((how == "signal" and code == 9) or code == 137,
                  "round " .. round .. ": the appender was not killed")
    pool = open_when_released(path)
    local l = pool.root
    local n = #l
    lu.assertTrue(n > last, "round " .. round .. ": no progress (" .. n .. ")")
    for i = 1, n do
      local v = l[i]
      if v ~= item(i) then lu.fail(("round %d: item %d of %d is %s"):format(round, i, n, tostring(v))) end
    end
    lu.assertNil(l[n + 1])
    pool:close()
    last = n
  end
end

-- }============================================

os.exit(lu.LuaUnit.run(), true)
