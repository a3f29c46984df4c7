-- test_tx.lua -- transactions (docs/reference.md, "Transactions"): pool:transaction
-- passes arguments and returns results; an error rolls back every change
-- (values, keys, new objects, lists, the root) and is re-raised unchanged;
-- large rollbacks, checked again in a child process; single changes are
-- atomic; nesting joins the outermost transaction; errors of pool
-- operations, writes to another pool, running out of room, coroutine
-- yields, gc and close inside a transaction.
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

local MIB = 1024 * 1024

-- COMMON is run both here and at the top of every child.
local COMMON = [==[
local pmem = pmem or require "pmem"

local dump = require "dump"
]==]

local dump = assert(load(COMMON .. "return dump", "=COMMON"))()

local function newpool(size, name)
  local path = helper.pool_path(name)
  local pool = assert(pmem.open(path, "c", size or pmem.MIN_POOL_SIZE))
  return pool, path
end

-- raises(pattern, f, ...) -- f(...) raises an error whose message contains
-- pattern (plain text); returns the error
local function raises(pattern, f, ...)
  local ok, err = pcall(f, ...)
  lu.assertFalse(ok, "expected an error containing '" .. pattern .. "'")
  lu.assertStrContains(tostring(err), pattern)
  return err
end

-- keys(t) -- the keys of a persistent table in pairs order
local function keys(t)
  local r = {}
  for k in pairs(t) do r[#r + 1] = k end
  return r
end

-- {====================================================== results, arguments

function test_passes_arguments_and_returns_results()
  local pool = newpool()
  pool.root = { n = 0 }
  local function f(...)
    lu.assertEquals(select("#", ...), 5)
    local a, b, c, d, e = ...
    lu.assertEquals({ a, b, c, d, e }, { 1, nil, "x", nil, nil })
    pool.root.n = 7
    return nil, "two", nil, 4, nil
  end
  local r = table.pack(pool:transaction(f, 1, nil, "x", nil, nil))
  lu.assertEquals(r.n, 5)
  lu.assertEquals(r, { n = 5, [2] = "two", [4] = 4 })
  lu.assertEquals(pool.root.n, 7)                     -- committed
  -- no results at all, and a persistent value as a result
  lu.assertEquals(select("#", pool:transaction(function() end)), 0)
  local t = pool:transaction(function() return pool:table { a = 1 } end)
  lu.assertEquals(pmem.type(t), "table")
  lu.assertEquals(t.a, 1)
  -- the arguments may be persistent values, passed as they are
  local got = pool:transaction(function(x) return x end, pool.root)
  lu.assertTrue(rawequal(got, pool.root))
end

function test_commit_survives_reopen_in_child()
  local pool, path = newpool()
  pool.root = { v = 1 }
  pool:transaction(function()
    pool.root.v = 2
    pool.root.l = pool:list { "a", "b" }
    pool.root.l:append("c")
  end)
  pool:close()
  local out = helper.child_ok(COMMON .. [[
    local pool = assert(pmem.open(arg[1]))
    io.write(dump(pool.root))
    pool:close()
  ]], path)
  lu.assertEquals(out, 'table{"v"=i2,"l"=list{"a","b","c"}}')
end

function test_bad_arguments()
  local pool = newpool()
  raises("", pool.transaction, pool)
  raises("", pool.transaction, pool, 42)
  pool:close()
  raises("pool is closed", pool.transaction, pool, function() end)
end

-- }======================================================

-- {====================================================== rollback

function test_rollback_restores_everything()
  local pool = newpool()
  pool.root = {
    s = "str", n = 1, f = 1.5, b = true, gone = "keep me",
    sub = { x = 1 }, l = pool:list { 1, 2, 3 }, short = pool:list { "a", "b", "c", "d" },
  }
  local root = pool.root
  local sub, l, short = root.sub, root.l, root.short
  local before = dump(root)
  local E = setmetatable({}, { __tostring = function() return "E" end })
  local created, newlist
  local ok, err = pcall(pool.transaction, pool, function()
    root.s, root.n, root.f, root.b = "changed", 2, 2.5, false   -- scalars
    root.newkey = "new"                                          -- new key
    root.gone = nil                                              -- deleted key
    root.fresh = { deep = { 1, 2, 3 } }                          -- new objects
    created = root.fresh
    newlist = pool:list { 9 }
    root.nl = newlist
    sub.x, sub.y = 100, 200                                      -- nested object
    root.sub = nil                                               -- detached
    l:append(4); l:append(5); l[1] = "one"                       -- list growth
    short:remove(); short:remove(1); short[1] = "B"              -- list shrink
    table.remove(short)
    pool.root = { other = true }                                 -- the root itself
    error(E)
  end)
  lu.assertFalse(ok)
  lu.assertTrue(rawequal(err, E), "the error value is not the same table")
  lu.assertTrue(rawequal(pool.root, root), "pool.root was not restored")
  lu.assertEquals(dump(pool.root), before)
  lu.assertTrue(rawequal(root.sub, sub))
  lu.assertEquals(sub.x, 1)
  lu.assertNil(sub.y)
  lu.assertEquals(root.gone, "keep me")
  lu.assertNil(root.fresh)
  lu.assertNil(root.newkey)
  lu.assertEquals(#l, 3)
  lu.assertEquals(#short, 4)
  lu.assertEquals(pmem.tolua(short), { "a", "b", "c", "d" })
  -- the proxies of objects created in the aborted transaction are dead:
  -- every use raises an error, never a crash
  for _, dead in ipairs { created, newlist } do
    raises("", function() return dead.deep end)
    raises("", function() return dead[1] end)
    raises("", function() dead.x = 1 end)
    raises("", function() return #dead end)
    raises("", function() for _ in pairs(dead) do end end)
    raises("", function() root.again = dead end)              -- cannot be stored
    pcall(tostring, dead)                                     -- must not crash
  end
  raises("", function() newlist:append(1) end)
  lu.assertNil(root.again)
  -- and the pool is fine
  root.n = 3
  lu.assertEquals(root.n, 3)
end

function test_rollback_of_a_new_root_on_a_new_pool()
  local pool = newpool()
  pcall(pool.transaction, pool, function() pool.root = { a = 1 }; error("x") end)
  lu.assertNil(pool.root)
  local s = pool:gc()
  lu.assertEquals(s.collected, 0, "objects of the aborted transaction were left behind")
end

function test_same_error_value_is_reraised()
  local pool = newpool()
  pool.root = { v = 0 }
  local function try(...)
    local args = table.pack(...)
    return pcall(pool.transaction, pool, function()
      pool.root.v = pool.root.v + 1
      error(table.unpack(args, 1, args.n))
    end)
  end
  local E = {}
  local ok, err = try(E)
  lu.assertFalse(ok); lu.assertTrue(rawequal(err, E))
  ok, err = try("plain message", 0)
  lu.assertFalse(ok); lu.assertEquals(err, "plain message")
  ok, err = try("with position")
  lu.assertFalse(ok); lu.assertStrMatches(err, ".*test_tx.lua:%d+: with position")
  ok, err = try(nil)
  lu.assertFalse(ok); lu.assertNil(err)
  ok, err = try()
  lu.assertFalse(ok); lu.assertNil(err)
  ok, err = try(42)
  lu.assertFalse(ok); lu.assertEquals(err, 42); lu.assertEquals(math.type(err), "integer")
  ok, err = try(false)
  lu.assertFalse(ok); lu.assertEquals(err, false)
  local co = coroutine.create(function() end)
  ok, err = try(co)
  lu.assertFalse(ok); lu.assertTrue(rawequal(err, co))
  -- a persistent value as the error value (it existed before)
  ok, err = try(pool.root)
  lu.assertFalse(ok); lu.assertTrue(rawequal(err, pool.root))
  lu.assertEquals(pool.root.v, 0)                   -- every attempt rolled back
  -- a runtime error of Lua itself
  ok, err = pcall(pool.transaction, pool, function() pool.root.v = 5; return nil + 1 end)
  lu.assertFalse(ok); lu.assertStrContains(err, "arithmetic")
  lu.assertEquals(pool.root.v, 0)
end

function test_volatile_state_after_rollback()
  local pool = newpool()
  pool.root = { t = {}, l = pool:list { 10, 20, 30 }, seq = { 1, 2, 3 } }
  local t, l, seq = pool.root.t, pool.root.l, pool.root.seq
  for _, k in ipairs { "a", "b", "c", "d", "e" } do t[k] = k:upper() end
  t[1] = "one"; t[2.0] = "two"; t[true] = "yes"
  local order = keys(t)
  lu.assertEquals(order, { "a", "b", "c", "d", "e", 1, 2, true })
  local vals = {}
  for k, v in pairs(t) do vals[k] = v end
  pcall(pool.transaction, pool, function()
    t.b = nil                          -- delete
    t.c = "changed"                    -- reassign (keeps its place)
    t.f = "F"                          -- new key
    t.d = nil; t.d = "again"           -- delete and re-add (moves to the end)
    t.g = 1; t.g = nil                 -- added and deleted
    t[1] = nil; t[3] = "three"
    for i = 1, 50 do t["k" .. i] = i end     -- make the table grow
    for i = 1, 50 do t["k" .. i] = nil end
    l:append(40); table.remove(l, 1); l[2] = "x"; table.insert(l, 1, 0)
    for i = 1, 100 do l:append(i) end
    seq[4] = 4; seq[5] = 5
    error("abort")
  end)
  -- exact key set and order, exact values
  lu.assertEquals(keys(t), order)
  for k, v in pairs(t) do lu.assertEquals(v, vals[k]) end
  lu.assertEquals(t.a, "A"); lu.assertEquals(t.b, "B"); lu.assertEquals(t.c, "C")
  lu.assertEquals(t.d, "D"); lu.assertNil(t.f); lu.assertNil(t.g); lu.assertNil(t[3])
  lu.assertNil(t.k1); lu.assertNil(t.k50)
  lu.assertEquals(t[1], "one")
  lu.assertEquals(pmem.next(t), "a")
  -- lists: length, items, ipairs, pairs
  lu.assertEquals(#l, 3)
  lu.assertEquals(l[1], 10); lu.assertEquals(l[2], 20); lu.assertEquals(l[3], 30)
  lu.assertNil(l[4]); lu.assertNil(l[0])
  local seen = {}
  for i, v in ipairs(l) do seen[i] = v end
  lu.assertEquals(seen, { 10, 20, 30 })
  seen = {}
  for i, v in pairs(l) do seen[#seen + 1] = { i, v } end
  lu.assertEquals(seen, { { 1, 10 }, { 2, 20 }, { 3, 30 } })
  lu.assertEquals(#seq, 3)
  lu.assertEquals(table.concat(pmem.tolua(seq), ","), "1,2,3")
  -- and it goes on working from that state
  l:append(40)
  t.h = "H"
  lu.assertEquals(pmem.tolua(l), { 10, 20, 30, 40 })
  lu.assertEquals(keys(t), { "a", "b", "c", "d", "e", 1, 2, true, "h" })
end

function test_class_object_created_in_aborted_transaction()
  local Thing = pmem.class("test_tx_classes.Thing")
  function Thing:init(n) self.n = n; self.items = self._p_pool:list { n } end
  local pool = newpool()
  pool.root = { }
  local obj
  local ok = pcall(pool.transaction, pool, function()
    obj = pool:new(Thing, 5)
    pool.root.obj = obj
    lu.assertEquals(obj.n, 5)
    error("no")
  end)
  lu.assertFalse(ok)
  lu.assertNil(pool.root.obj)
  raises("", function() return obj.n end)
  raises("", function() obj.n = 1 end)
  -- an init that raises: pool:new rolls the object back and re-raises
  function Thing:init() self.n = 1; error("init failed", 0) end
  ok, obj = pcall(pool.new, pool, Thing)
  lu.assertFalse(ok); lu.assertEquals(obj, "init failed")
  lu.assertEquals(pool:gc().collected, 0, "objects of the aborted transaction were left behind")
end

-- a large transaction: thousands of writes, then an error
function test_large_transaction_rollback_in_process_and_in_child()
  local pool, path = newpool(64 * MIB)
  pool:transaction(function()
    local t = pool:table()
    for i = 1, 5000 do t["k" .. i] = i end
    pool.root = { t = t, l = pool:list { "a", "b" }, subs = pool:table(), n = 0 }
  end)
  local root = pool.root
  local t, l, subs = root.t, root.l, root.subs
  local before = dump(root)
  lu.assertEquals(#before > 50000, true)
  local E = {}
  local ok, err = pcall(pool.transaction, pool, function()
    for i = 1, 2500 do t["k" .. i] = -i end             -- 2,500 overwrites
    for i = 1, 2500 do t["new" .. i] = i end            -- 2,500 new keys
    for i = 4001, 4500 do t["k" .. i] = nil end         -- 500 deletions
    for i = 1, 2000 do l:append(i) end                  -- 2,000 appends
    for i = 1, 500 do subs[i] = { i = i, s = "x" .. i } end   -- 500 new tables
    root.n = 1
    error(E)
  end)
  lu.assertFalse(ok)
  lu.assertTrue(rawequal(err, E))
  lu.assertEquals(#l, 2)
  lu.assertEquals(t.k1, 1); lu.assertEquals(t.k4001, 4001); lu.assertNil(t.new1)
  lu.assertNil(subs[1])
  lu.assertEquals(dump(root), before)
  lu.assertEquals(pool:gc().collected, 0, "objects of the aborted transaction were left behind")
  pool:close()
  local out = helper.child_ok(COMMON .. [[
    local pool = assert(pmem.open(arg[1]))
    io.write(dump(pool.root))
    pool:close()
  ]], path)
  lu.assertEquals(out, before)
end

-- }======================================================

-- {====================================================== single changes

function test_single_change_with_an_unstorable_value_deep_inside_changes_nothing()
  local pool = newpool()
  pool.root = { k = "old", l = pool:list { 1 } }
  local root = pool.root
  local before = dump(root)
  local live = pool:gc().live
  local big = {}
  for i = 1, 300 do big[i] = { i = i, s = ("s"):rep(i), sub = { 1, 2, { 3 } } } end
  big.shared = big[1]
  big[200].sub[3][2] = print                         -- unstorable, deep inside
  raises("function", function() root.k = big end)
  raises("function", function() root.l:append(big) end)
  raises("function", function() root.l[1] = big end)
  raises("function", function() pool.root = big end)
  raises("function", function() pool:table(big) end)
  raises("function", function() pool:list { 1, big } end)
  lu.assertTrue(rawequal(pool.root, root))
  lu.assertEquals(dump(root), before)
  local s = pool:gc()
  lu.assertEquals(s.live, live)
  lu.assertEquals(s.collected, 0, "the failed changes left objects behind")
end

-- }======================================================

-- {====================================================== nesting

function test_nested_inner_commit_outer_error_rolls_back_all()
  local pool = newpool()
  pool.root = { v = 0 }
  local root = pool.root
  local E = {}
  local ok, err = pcall(pool.transaction, pool, function()
    root.v = 1
    local r = pool:transaction(function()
      root.inner = pool:list { 1 }
      pool:transaction(function() root.deeper = "d" end)
      return "inner result"
    end)
    lu.assertEquals(r, "inner result")
    lu.assertEquals(root.deeper, "d")
    error(E)
  end)
  lu.assertFalse(ok)
  lu.assertTrue(rawequal(err, E))
  lu.assertEquals(root.v, 0)
  lu.assertNil(root.inner)
  lu.assertNil(root.deeper)
end

function test_error_escaping_inner_and_outer_keeps_its_value()
  local pool = newpool()
  pool.root = { v = 0 }
  local E = {}
  local ok, err = pcall(pool.transaction, pool, function()
    pool.root.v = 1
    pool:transaction(function() pool.root.v = 2; error(E) end)
  end)
  lu.assertFalse(ok)
  lu.assertTrue(rawequal(err, E))
  lu.assertEquals(pool.root.v, 0)
end

function test_nested_inner_error_caught_aborts_outer()
  local pool, path = newpool()
  pool.root = { v = 0 }
  pool.root.l = pool:list()
  local root = pool.root
  local after_write, inner_ok, inner_err
  local ok, err = pcall(pool.transaction, pool, function()
    root.v = 1
    root.l:append("outer")
    inner_ok, inner_err = pcall(pool.transaction, pool, function()
      root.v = 2
      error("inner failure", 0)
    end)
    -- further writes raise "transaction aborted"
    local ok1, e1 = pcall(function() root.v = 3 end)
    local ok2, e2 = pcall(function() root.l:append("more") end)
    local ok3, e3 = pcall(function() pool.root = {} end)
    local ok4, e4 = pcall(function() return pool:list() end)
    after_write = { ok1, e1, ok2, e2, ok3, e3, ok4, e4 }
    return "finished normally"
  end)
  lu.assertFalse(inner_ok)
  lu.assertEquals(inner_err, "inner failure")
  for i = 1, 7, 2 do
    lu.assertFalse(after_write[i], "a write after the abort succeeded")
    lu.assertStrContains(tostring(after_write[i + 1]), "transaction aborted")
  end
  lu.assertFalse(ok, "the outer transaction did not raise")
  lu.assertStrContains(tostring(err), "transaction aborted")
  lu.assertEquals(root.v, 0)
  lu.assertEquals(#root.l, 0)
  -- the pool is usable afterwards
  lu.assertEquals(pool:transaction(function() root.v = 10; return "ok" end), "ok")
  root.l:append("after")
  lu.assertEquals(root.v, 10)
  pool:close()
  local out = helper.child_ok(COMMON .. [[
    local pool = assert(pmem.open(arg[1]))
    io.write(dump(pool.root))
    pool:close()
  ]], path)
  lu.assertEquals(out, 'table{"v"=i10,"l"=list{"after"}}')
end

function test_outer_error_after_caught_inner_error_is_reraised_as_is()
  local pool = newpool()
  pool.root = { v = 0 }
  local E = {}
  local ok, err = pcall(pool.transaction, pool, function()
    pcall(pool.transaction, pool, function() pool.root.v = 1; error("inner") end)
    error(E)
  end)
  lu.assertFalse(ok)
  lu.assertTrue(rawequal(err, E))
  lu.assertEquals(pool.root.v, 0)
  pool.root.v = 1
  lu.assertEquals(pool.root.v, 1)
end

-- }======================================================

-- {====================================================== other pools

function test_writing_another_pool_inside_a_transaction()
  local A = newpool(nil, "a.pmem")
  local B = newpool(nil, "b.pmem")
  A.root = { v = 1 }
  B.root = { v = 1, l = B:list { 1 } }
  local a, b = A.root, B.root
  local bbefore = dump(b)
  local blive = B:gc().live
  local writes = {
    function() b.v = 2 end,
    function() b.new = {} end,
    function() b.l:append(2) end,
    function() B.root = 5 end,
    function() return B:list() end,
    function() return B:table { x = 1 } end,
    function() B:transaction(function() b.v = 3 end) end,
  }
  for i, w in ipairs(writes) do
    -- uncaught: A's transaction raises, nothing changed anywhere
    local ok, err = pcall(A.transaction, A, function()
      a.v = 2
      a.x = { 1, 2 }
      lu.assertEquals(b.v, 1)               -- reading B is allowed
      lu.assertEquals(b.l[1], 1)
      w()
    end)
    lu.assertFalse(ok, "write #" .. i .. " to B inside A's transaction did not raise")
    lu.assertEquals(a.v, 1, "write #" .. i .. ": A's transaction was not rolled back")
    lu.assertNil(a.x)
    lu.assertEquals(dump(b), bbefore, "write #" .. i .. " changed B")
    -- caught: A's transaction is aborted all the same
    local caught
    ok, err = pcall(A.transaction, A, function()
      a.v = 2
      caught = table.pack(pcall(w))
      a.after = 1
      return "done"
    end)
    lu.assertFalse(caught[1], "write #" .. i .. " to B inside A's transaction did not raise")
    lu.assertFalse(ok, "write #" .. i .. ": A's transaction was not aborted")
    lu.assertEquals(a.v, 1)
    lu.assertNil(a.after)
    lu.assertEquals(dump(b), bbefore)
  end
  lu.assertEquals(B:gc().live, blive)
  -- both pools are usable afterwards
  A:transaction(function() a.v = 3 end)
  B:transaction(function() b.v = 3 end)
  lu.assertEquals(a.v, 3)
  lu.assertEquals(b.v, 3)
end

-- }======================================================

-- {====================================================== out of room

local CHUNK = ("x"):rep(64 * 1024)

function test_out_of_room_single_changes()
  local pool, path = newpool(pmem.MIN_POOL_SIZE)
  pool.root = { l = pool:list(), small = 0 }
  local l = pool.root.l
  local n, err = 0, nil
  for i = 1, 10000 do                       -- 8 MiB cannot hold 10,000 chunks
    local ok, e = pcall(l.append, l, CHUNK .. i)
    if not ok then err = e; break end
    n = n + 1
  end
  lu.assertNotNil(err, "the pool never filled up")
  lu.assertStrContains(tostring(err), "full")
  lu.assertTrue(n >= 1, "not even one 64 KiB string fits in an 8 MiB pool")
  -- the failed append changed nothing
  lu.assertEquals(#l, n)
  lu.assertEquals(l[n], CHUNK .. n)
  -- still usable: a small write works
  pool.root.small = 1
  lu.assertEquals(pool.root.small, 1)
  -- a single big change that does not fit changes nothing
  local many = {}
  for i = 1, 200 do many[i] = CHUNK .. "m" .. i end
  raises("full", function() pool.root.many = many end)
  lu.assertNil(pool.root.many)
  -- deleting data frees room: as many big writes work again
  l:clear()
  pool:gc()
  for i = 1, n do l:append(CHUNK .. i) end
  lu.assertEquals(#l, n)
  pool:close()
  local out = helper.child_ok([[
    local pool = assert(pmem.open(arg[1]))
    local l = pool.root.l
    local chunk = ("x"):rep(64 * 1024)
    for i = 1, #l do assert(l[i] == chunk .. i, "item " .. i) end
    io.write(#l, " ", pool.root.small, " ", tostring(pool.root.many))
    pool:close()
  ]], path)
  lu.assertEquals(out, n .. " 1 nil")
end

function test_out_of_room_inside_a_transaction()
  local pool, path = newpool(pmem.MIN_POOL_SIZE)
  pool.root = { l = pool:list { "committed" }, v = 0 }
  local root = pool.root
  local l = root.l
  local count
  local ok, err = pcall(pool.transaction, pool, function()
    root.v = 1
    root.t = { a = 1 }
    for i = 1, 10000 do
      l:append(CHUNK .. i)
      count = i
    end
  end)
  lu.assertFalse(ok, "the pool never filled up")
  lu.assertStrContains(tostring(err), "full")
  lu.assertNotNil(count, "not even one 64 KiB string fits in an 8 MiB pool")
  lu.assertEquals(#l, 1, "the appends of the failed transaction were kept")
  lu.assertEquals(l[1], "committed")
  lu.assertEquals(root.v, 0)
  lu.assertNil(root.t)
  -- a transaction that catches the error cannot go on: it is aborted
  local caught
  ok, err = pcall(pool.transaction, pool, function()
    root.v = 2
    caught = table.pack(pcall(function() for i = 1, 10000 do l:append(CHUNK .. i) end end))
    root.v = 3
  end)
  lu.assertFalse(caught[1])
  lu.assertStrContains(tostring(caught[2]), "full")
  lu.assertFalse(ok)
  lu.assertStrContains(tostring(err), "transaction aborted")
  lu.assertEquals(root.v, 0)
  lu.assertEquals(#l, 1)
  -- the pool is usable, and as much room is there as before
  pool:gc()
  pool:transaction(function()
    for i = 1, count do l:append(CHUNK .. i) end
    root.v = 4
  end)
  lu.assertEquals(#l, count + 1)
  pool:close()
  local out = helper.child_ok([[
    local pool = assert(pmem.open(arg[1]))
    local l = pool.root.l
    local chunk = ("x"):rep(64 * 1024)
    assert(l[1] == "committed")
    for i = 2, #l do assert(l[i] == chunk .. (i - 1), "item " .. i) end
    io.write(#l, " ", pool.root.v, " ", tostring(pool.root.t))
    pool:close()
  ]], path)
  lu.assertEquals(out, (count + 1) .. " 4 nil")
end

-- }======================================================

-- {====================================================== errors of pool operations abort

-- aborts(pool, root, bad) -- inside a transaction of pool, after a write,
-- bad() raises; the function catches it and writes again: that write must
-- raise "transaction aborted", the transaction must raise "transaction
-- aborted", and root.v must be back to its value
local function aborts(pool, root, bad, what)
  root.v = 1
  root.w = nil
  local bad_ok, bad_err, w_ok, w_err
  local ok, err = pcall(pool.transaction, pool, function()
    root.v = 2
    bad_ok, bad_err = pcall(bad)
    w_ok, w_err = pcall(function() root.w = 1 end)
    return "finished"
  end)
  lu.assertFalse(bad_ok, what .. ": the operation did not raise")
  lu.assertFalse(w_ok, what .. " (" .. tostring(bad_err)
                 .. "): a write after it succeeded: the transaction was not aborted")
  lu.assertStrContains(tostring(w_err), "transaction aborted")
  lu.assertFalse(ok, what .. ": the transaction did not raise")
  lu.assertStrContains(tostring(err), "transaction aborted")
  lu.assertEquals(root.v, 1, what .. ": the transaction was not rolled back")
  lu.assertNil(root.w)
  -- usable afterwards
  pool:transaction(function() root.v = 5 end)
  lu.assertEquals(root.v, 5)
  root.v = 1
end

function test_unstorable_value_aborts_the_transaction()
  local pool = newpool()
  pool.root = { l = pool:list() }
  local root = pool.root
  aborts(pool, root, function() root.f = print end, "storing a function")
  aborts(pool, root, function() root.t = { x = { y = io.stdout } } end, "storing a userdata deep inside")
  aborts(pool, root, function() root.l:append(coroutine.create(print)) end, "appending a thread")
  aborts(pool, root, function() root.m = setmetatable({}, {}) end, "storing a table with a metatable")
  lu.assertNil(root.f); lu.assertNil(root.t); lu.assertNil(root.m)
  lu.assertEquals(#root.l, 0)
end

function test_out_of_room_aborts_the_transaction()
  local pool = newpool()
  pool.root = { l = pool:list() }
  local root = pool.root
  aborts(pool, root, function()
    for i = 1, 10000 do root.l:append(CHUNK .. i) end
  end, "pool is full")
  lu.assertEquals(#root.l, 0)
end

function test_read_only_pool_error_aborts_the_transaction()
  local pool, path = newpool(nil, "a.pmem")
  local rpath = helper.pool_path("r.pmem")
  local R = assert(pmem.open(rpath, "c", pmem.MIN_POOL_SIZE))
  R.root = { v = 1 }
  R:close()
  R = assert(pmem.open(rpath, "r"))
  local rroot = R.root
  pool.root = {}
  local root = pool.root
  -- writing a read-only pool inside a transaction of another pool
  aborts(pool, root, function() rroot.v = 2 end, "writing a read-only pool")
  aborts(pool, root, function() R.root = 2 end, "assigning the root of a read-only pool")
  lu.assertEquals(rroot.v, 1)
  -- a read-only pool's own transaction: the write raises "pool is read-only"
  -- and the transaction is aborted
  local w_ok, w_err
  local ok, err = pcall(R.transaction, R, function()
    w_ok, w_err = pcall(function() rroot.v = 3 end)
    return "finished"
  end)
  lu.assertFalse(w_ok)
  lu.assertStrContains(tostring(w_err), "pool is read-only")
  lu.assertFalse(ok, "the transaction of a read-only pool did not raise after a refused write")
  lu.assertStrContains(tostring(err), "transaction aborted")
  -- reading inside a read-only pool's transaction is fine
  lu.assertEquals(R:transaction(function() return rroot.v end), 1)
  R:close()
end

function test_closed_pool_error_aborts_the_transaction()
  local pool = newpool(nil, "a.pmem")
  local C = newpool(nil, "c.pmem")
  C.root = { v = 1 }
  local croot = C.root
  C:close()
  pool.root = {}
  local root = pool.root
  aborts(pool, root, function() croot.v = 2 end, "writing a value of a closed pool")
  aborts(pool, root, function() C.root = 2 end, "assigning the root of a closed pool")
  aborts(pool, root, function() return C:list() end, "creating a list in a closed pool")
end

function test_other_pool_operation_errors_abort_the_transaction()
  local pool = newpool()
  pool.root = { l = pool:list { 1, 2 } }
  local root = pool.root
  local l = root.l
  local dead
  pcall(pool.transaction, pool, function() dead = pool:table(); error("x") end)
  aborts(pool, root, function() root[nil] = 1 end, "a nil key")
  aborts(pool, root, function() root[0 / 0] = 1 end, "a NaN key")
  aborts(pool, root, function() root[{}] = 1 end, "a plain table as a key")
  aborts(pool, root, function() l[1] = nil end, "a hole in a list")
  aborts(pool, root, function() l[5] = 1 end, "a list index beyond #l + 1")
  aborts(pool, root, function() l:insert(7, "x") end, "an insert position out of range")
  aborts(pool, root, function() dead.x = 1 end, "writing a rolled-back value")
  lu.assertEquals(pmem.tolua(l), { 1, 2 })
end

-- }======================================================

-- {====================================================== coroutines

function test_yield_out_of_a_transaction_raises_and_rolls_back()
  local pool = newpool()
  pool.root = { x = 0 }
  local t = pool.root
  local co = coroutine.wrap(function()
    pool:transaction(function()
      t.x = 1
      t.y = pool:list { 1 }
      coroutine.yield("yielded")
      t.x = 2
    end)
    return "ended"
  end)
  local ok, err = pcall(co)
  lu.assertFalse(ok, "a coroutine yielded out of a transaction")
  lu.assertNotNil(err)
  lu.assertEquals(t.x, 0)
  lu.assertNil(t.y)
  -- coroutine.resume reports it the same way
  local co2 = coroutine.create(function()
    pool:transaction(function() t.x = 3; coroutine.yield() end)
  end)
  local rok = coroutine.resume(co2)
  lu.assertFalse(rok)
  lu.assertEquals(coroutine.status(co2), "dead")
  lu.assertEquals(t.x, 0)
  -- the pool is not stuck in a transaction
  pool:transaction(function() t.x = 4 end)
  lu.assertEquals(t.x, 4)
  t.x = 5
  pool:gc()
  lu.assertEquals(t.x, 5)
end

function test_coroutines_inside_a_transaction_join_it()
  local pool = newpool()
  pool.root = { x = 0 }
  local t = pool.root
  -- a coroutine that runs and yields entirely inside the transaction
  local ok = pcall(pool.transaction, pool, function()
    local co = coroutine.wrap(function() t.x = 1; coroutine.yield(); t.y = 2 end)
    co(); co()
    lu.assertEquals(t.y, 2)
    error("abort")
  end)
  lu.assertFalse(ok)
  lu.assertEquals(t.x, 0, "a write from a coroutine escaped the rollback")
  lu.assertNil(t.y)
  -- a transaction begun and ended inside a coroutine
  local co = coroutine.wrap(function()
    local r = pool:transaction(function() t.x = 7; return "r" end)
    coroutine.yield(r)
    return "done"
  end)
  lu.assertEquals(co(), "r")
  lu.assertEquals(t.x, 7)
  lu.assertEquals(co(), "done")
end

-- }======================================================

-- {====================================================== gc and close inside

function test_gc_inside_a_transaction_raises()
  local pool = newpool()
  pool.root = { v = 0, l = pool:list { 1 } }
  local root = pool.root
  local ok, err = pcall(pool.transaction, pool, function()
    root.v = 1
    pool:gc()
  end)
  lu.assertFalse(ok, "pool:gc() inside a transaction did not raise")
  lu.assertEquals(root.v, 0)
  -- caught: the error of a pool operation aborts the transaction
  aborts(pool, root, function() pool:gc() end, "pool:gc() inside a transaction")
  -- consistent: nothing was collected that is still used
  lu.assertEquals(pmem.tolua(root.l), { 1 })
  lu.assertEquals(pool:gc().collected, 0)
  lu.assertEquals(root.v, 1)
end

function test_close_inside_its_own_transaction_raises()
  local pool, path = newpool()
  pool.root = { v = 0 }
  pool.root.l = pool:list { 1 }
  local root = pool.root
  local ok = pcall(pool.transaction, pool, function()
    root.v = 1
    pool:close()
  end)
  lu.assertFalse(ok, "pool:close() inside its transaction did not raise")
  lu.assertEquals(root.v, 0)                     -- the pool is still open
  aborts(pool, root, function() pool:close() end, "pool:close() inside its transaction")
  root.l:append(2)
  pool:close()
  local out = helper.child_ok(COMMON .. [[
    local pool = assert(pmem.open(arg[1]))
    io.write(dump(pool.root))
    pool:close()
  ]], path)
  lu.assertEquals(out, 'table{"v"=i1,"l"=list{i1,i2}}')
end

-- }======================================================

os.exit(lu.LuaUnit.run())
