-- test_gc.lua -- garbage collection: only what is reachable survives, and
-- nothing leaks (contract "GC" in docs/reference.md; issue 7).
--
-- pool:gc() returns at least `live` and `collected`: counts of stored
-- containers (tables, lists, objects, tuples, sets; strings are owned by
-- their cell and not counted). Every test checks the counts exactly: `live`
-- is compared with a walk of the graph from the root (plus, where a test
-- keeps them, the containers held by Lua locals), `collected` with the number
-- of containers the test made unreachable.
-- Collection at close and after a crash (kill -9, os.exit without close) is
-- checked in real child processes that reopen the pool; the room a crash
-- leaked is measured by filling the pool with 32 KiB strings.
local lu = require "luaunit"
local helper = require "helper"

local pmem = require "pmem"

local MIN = pmem.MIN_POOL_SIZE

-- reachable(...) -- how many distinct containers the given values reach
-- (keys included: a container may be referenced only as a key). The same
-- source runs in the children.
local WALK = [[
local function reachable(...)
  local seen, n = {}, 0
  local stack = { ... }
  while #stack > 0 do
    local v = table.remove(stack)
    if pmem.type(v) and not seen[v] then
      seen[v] = true
      n = n + 1
      for k, x in pairs(v) do
        stack[#stack + 1] = k
        stack[#stack + 1] = x
      end
    end
  end
  return n
end
return reachable
]]
local reachable = assert(load(WALK, "=walk"))()

-- what every child runs first: the class of the test's objects, the walker
local PRELUDE = [[
local path = arg[1]
local Node = pmem.class("gctest.Node")
local reachable = assert(load(]] .. ("%q"):format(WALK) .. [[, "=walk"))()
]]

local Node = pmem.class("gctest.Node")

local function child_ok(src, ...)
  return helper.child_ok(PRELUDE .. src, ...)
end


-- crash_child(src, ...) -> stdout, exit status, stderr: like helper.child,
-- but the shell's "Killed" notice goes to the child's stderr, not ours
local function crash_child(src, ...)
  local f = os.tmpname()
  local h = assert(io.open(f, "w")); h:write(PRELUDE .. src); h:close()
  local args = {}
  for i = 1, select("#", ...) do args[i] = helper.q(select(i, ...)) end
  local out, _, err = helper.run_cmd(helper.q(helper.PMLUA) .. " " .. f .. " "
                                     .. table.concat(args, " ") .. '; echo "status=$?"')
  os.remove(f)
  local code = tonumber(out:match("status=(%d+)\n$"))
  return out:gsub("status=%d+\n$", ""), code, err
end

local function newpool(size)
  local path = helper.pool_path()
  local pool = assert(pmem.open(path, "x", size or MIN))
  return pool, path
end

-- gc(pool) -- drop dead Lua values first, then collect; checks the shape
local function gc(pool)
  collectgarbage()
  collectgarbage()
  local r = pool:gc()
  lu.assertEquals(type(r), "table")
  lu.assertEquals(math.type(r.live), "integer")
  lu.assertEquals(math.type(r.collected), "integer")
  return r
end

-- check(pool, collected [, ...]) -- one collection: `collected` containers
-- freed, live == what the root (and the extra values given) reach
local function check(pool, collected, ...)
  local r = gc(pool)
  lu.assertEquals(r.collected, collected, "collected")
  lu.assertEquals(r.live, reachable(pool.root, ...), "live")
  lu.assertEquals(select(4, pmem._audit(pool)), 0, "reference counts")
  return r
end

-- numbers printed by a child, one per line
local function numbers(out)
  local t = {}
  for n in out:gmatch("%-?%d+") do t[#t + 1] = tonumber(n) end
  return t
end

-- reopened_counts(path) -- in a new process: {live, collected} of a gc()
-- right after open, and the containers reachable from the root
local function reopened_counts(path)
  return numbers(child_ok([[
    local pool = assert(pmem.open(path))
    local r = pool:gc()
    print(r.live, r.collected, reachable(pool.root))
    pool:close()
  ]], path))
end

-- {============================================ basics

function test_gc_on_empty_pool()
  local pool = newpool()
  local r = check(pool, 0)
  lu.assertEquals(r.live, 0)
  pool.root = 42
  r = check(pool, 0)
  lu.assertEquals(r.live, 0)
  pool:close()
end

function test_strings_are_not_counted()
  local pool = newpool()
  local long = string.rep("L", 5000)
  pool.root = { a = "short", b = long, c = long .. "2", [long] = long, list = { long, "x", long } }
  local r = check(pool, 0)
  lu.assertEquals(r.live, 2)                -- the root and its nested table
  pool.root.list = nil
  r = check(pool, 1)
  lu.assertEquals(r.live, 1)
  lu.assertEquals(pool.root.b, long)
  lu.assertEquals(pool.root[long], long)
  pool:close()
end

-- }============================================

-- {============================================ orphans

local function make_orphans(pool)
  pool:table()
  pool:table({ a = 1, b = "two" })
  pool:list({ 1, 2, 3 })
  pool:tuple({ "x", "y" })
  pool:set({ 1, 2, 3 })
  pool:new(Node)
  pool:new(pmem.Table)
  pool:new(pmem.List, { 4, 5 })
  return 8
end

function test_orphans_of_every_kind_are_collected()
  local pool = newpool()
  pool.root = { keep = { 1, 2 } }
  local before = gc(pool).live
  lu.assertEquals(before, 2)
  local n = make_orphans(pool)
  local r = check(pool, n)
  lu.assertEquals(r.live, 2)
  lu.assertEquals(check(pool, 0).live, 2)           -- nothing left to collect
  lu.assertEquals(pool.root.keep[2], 2)
  pool:close()
end

function test_nested_orphans_are_collected_whole()
  local pool = newpool()
  local function orphan()
    -- outer, a, a.c, l, l[1], the tuple, the object, its set: 8
    local o = pool:new(Node)
    o.set = pool:set({ "e" })
    pool:table({ a = { b = 1, c = { d = 2 } }, l = { {}, "s" },
                 t = pool:tuple({ o }) })
  end
  orphan()
  check(pool, 8)
  lu.assertEquals(check(pool, 0).live, 0)
  pool:close()
end

function test_many_orphans_across_batches()
  local pool = newpool(16 * 1024 * 1024)
  pool.root = { n = 0 }
  pool:transaction(function()
    for i = 1, 2000 do pool:table({ i = i }) end
    for i = 1, 500 do pool:list({ i }) end
  end)
  local r = check(pool, 2500)
  lu.assertEquals(r.live, 1)
  pool:close()
end

function test_orphan_held_by_local_is_never_freed()
  local pool, path = newpool()
  pool.root = { other = {} }
  local t = pool:table({ x = 1, sub = { y = 2 } })
  local l = pool:list({ "a" })
  l:append({ "b" })              -- (pool:list({ {...} }) crashes: reported)
  local o = pool:new(Node)
  o.name = "held"
  o.child = pool:table({ z = 3 })
  local s = pool:set({ "m" })
  local tu = pool:tuple({ 1, pool:table({ w = 4 }) })
  local held = reachable(t, l, o, s, tu)
  lu.assertEquals(held, 9)
  for _ = 1, 3 do
    local r = check(pool, 0, t, l, o, s, tu)
    lu.assertEquals(r.live, 2 + held)
  end
  -- reads and writes still work after the collections
  lu.assertEquals(t.x, 1)
  lu.assertEquals(t.sub.y, 2)
  t.x = 10
  t.new = { k = "v" }
  lu.assertEquals(l[1], "a")
  lu.assertEquals(l[2][1], "b")
  l:append("c")
  lu.assertEquals(#l, 3)
  lu.assertEquals(o.name, "held")
  lu.assertEquals(o.child.z, 3)
  o.name = "still held"
  lu.assertTrue(s:contains("m"))
  s:add("n")
  lu.assertEquals(tu[2].w, 4)
  check(pool, 0, t, l, o, s, tu)
  -- a collection still frees what the held values let go of
  t.sub = nil
  check(pool, 1, t, l, o, s, tu)
  -- held, then linked: survives the close and the reopen
  pool.root.t, pool.root.l, pool.root.o, pool.root.s, pool.root.tu = t, l, o, s, tu
  lu.assertEquals(check(pool, 0).live, 2 + 9)    -- -sub +new
  pool:close()
  local out = child_ok([[
    local pool = assert(pmem.open(path))
    local r = pool:gc()
    local root = pool.root
    assert(root.t.x == 10 and root.t.new.k == "v" and root.t.sub == nil)
    assert(root.l[1] == "a" and root.l[2][1] == "b" and root.l[3] == "c")
    assert(root.o.name == "still held" and root.o.child.z == 3)
    assert(root.s:contains("m") and root.s:contains("n"))
    assert(root.tu[2].w == 4)
    print(r.live, r.collected, reachable(pool.root))
    pool:close()
  ]], path)
  lu.assertEquals(numbers(out), { 11, 0, 11 })
end

function test_held_object_identity_and_volatile_kept()
  local pool = newpool()
  local o = pool:new(Node)
  o._v_scratch = "volatile"
  o.x = 1
  local r = gc(pool)
  lu.assertEquals(r.collected, 0)
  lu.assertEquals(o._v_scratch, "volatile")
  pool.root = { o = o }
  lu.assertTrue(rawequal(pool.root.o, o))
  -- reachable and held by no local: its volatile attributes stay for the run
  o = nil
  check(pool, 0)
  lu.assertEquals(pool.root.o._v_scratch, "volatile")
  lu.assertEquals(pool.root.o.x, 1)
  pool:close()
end

function test_dropping_the_local_lets_gc_collect()
  local pool = newpool()
  local t = pool:table({ sub = {} })
  check(pool, 0, t)
  t = nil
  check(pool, 2)
  pool:close()
end

function test_rolled_back_creations_are_not_counted()
  local pool = newpool()
  pool.root = {}
  local ok = pcall(pool.transaction, pool, function()
    pool:table({ a = {} })
    pool.root.x = pool:list()
    pool.root.x:append({})
    error("undo")
  end)
  lu.assertFalse(ok)
  local r = check(pool, 0)
  lu.assertEquals(r.live, 1)
  pool:close()
end

-- }============================================

-- {============================================ replaced and deleted references

function test_replaced_table_is_collected_with_children()
  local pool = newpool()
  pool.root = {}
  pool.root.t = { a = { b = {} }, c = { 1, 2, { 3 } } }
  lu.assertEquals(check(pool, 0).live, 6)
  pool.root.t = { fresh = true }
  lu.assertEquals(check(pool, 5).live, 2)
  pool.root.t = nil
  lu.assertEquals(check(pool, 1).live, 1)
  -- replacing the root itself
  pool.root = { x = {} }
  lu.assertEquals(check(pool, 1).live, 2)
  pool.root = nil
  lu.assertEquals(check(pool, 2).live, 0)
  pool:close()
end

function test_list_elements_removed_are_collected()
  local pool = newpool()
  pool.root = {}
  local l = pool:list()
  for _, v in ipairs({ {}, {}, { {} }, "s" }) do l:append(v) end
  pool.root.l = l
  lu.assertEquals(check(pool, 0, l).live, 6)
  l:remove(1)                       -- one table
  table.remove(l, 2)                -- a table holding a table
  check(pool, 3, l)
  l[1] = "replaced"                 -- the last inner table
  check(pool, 1, l)
  l:append({})
  l:append({})
  l:clear()
  check(pool, 2, l)
  l = nil
  lu.assertEquals(check(pool, 0).live, 2)
  pool:close()
end

function test_detached_subtree_collected_as_a_whole()
  local pool = newpool(16 * 1024 * 1024)
  -- a tree of depth 4, fan-out 4: 1 + 4 + 16 + 64 + 256 = 341 containers
  local function tree(d)
    local t = { depth = d }
    if d > 0 then for i = 1, 4 do t[i] = tree(d - 1) end end
    return t
  end
  pool.root = { a = tree(4), b = tree(2) }
  lu.assertEquals(check(pool, 0).live, 1 + 341 + 21)
  pool.root.a[1] = nil                                   -- 85
  lu.assertEquals(check(pool, 85).live, 1 + 256 + 21)
  pool.root.a = nil                                      -- the rest of it
  lu.assertEquals(check(pool, 256).live, 1 + 21)
  pool:close()
end

function test_long_chain_collected()
  local pool = newpool(16 * 1024 * 1024)
  pool.root = {}
  pool:transaction(function()
    local head = pool:list()
    local cur = head
    for _ = 2, 3000 do
      local nxt = pool:list()
      cur:append(nxt)
      cur = nxt
    end
    pool.root.chain = head
  end)
  lu.assertEquals(check(pool, 0).live, 3001)
  pool.root.chain = nil
  lu.assertEquals(check(pool, 3000).live, 1)
  pool:close()
end

function test_shared_subtree_survives_until_last_reference()
  local pool = newpool()
  local shared = { s = {} }
  pool.root = { a = { ref = shared }, b = { ref = shared } }
  lu.assertTrue(rawequal(pool.root.a.ref, pool.root.b.ref))
  lu.assertEquals(check(pool, 0).live, 5)
  pool.root.a = nil
  lu.assertEquals(check(pool, 1).live, 4)
  lu.assertEquals(type(pool.root.b.ref.s), "userdata")
  pool.root.b.ref = nil
  lu.assertEquals(check(pool, 2).live, 2)
  pool:close()
end

function test_reference_as_key_keeps_container()
  local pool, path = newpool()
  pool.root = {}
  local k = pool:table({ inner = {} })
  pool.root[k] = true
  local s = pool:set()
  s:add(pool:list({ 1 }))
  pool.root.s = s
  k, s = nil, nil
  lu.assertEquals(check(pool, 0).live, 5)
  lu.assertEquals(check(pool, 0).live, 5)
  pool:close()
  lu.assertEquals(reopened_counts(path), { 5, 0, 5 })
end

-- the only entry of a table, the only element of a set
function test_sole_key_deleted_is_collected()
  local pool = newpool()
  pool.root = { t = {}, s = pool:set() }
  pool.root.t[pool:table({ inner = {} })] = true
  pool.root.s:add(pool:list({ 1 }))
  lu.assertEquals(check(pool, 0).live, 6)
  local key
  for kk in pairs(pool.root.t) do key = kk end
  pool.root.t[key] = nil
  key = nil
  lu.assertEquals(check(pool, 2).live, 4)
  local el
  for e in pairs(pool.root.s) do el = e end
  pool.root.s:remove(el)
  el = nil
  lu.assertEquals(check(pool, 1).live, 3)
  pool:close()
end

-- a deleted key of a table that keeps other entries: the container that
-- was the key is no longer reachable (pairs does not show it)
function test_deleted_key_is_collected()
  local pool, path = newpool()
  pool.root = { other = 1 }
  pool.root[pool:table({ inner = {} })] = "v"
  lu.assertEquals(check(pool, 0).live, 3)
  local key
  for kk in pairs(pool.root) do if pmem.type(kk) then key = kk end end
  pool.root[key] = nil
  key = nil
  lu.assertEquals(reachable(pool.root), 1)
  lu.assertEquals(check(pool, 2).live, 1)
  pool:close()
  lu.assertEquals(reopened_counts(path), { 1, 0, 1 })
end

function test_removed_set_element_is_collected()
  local pool = newpool()
  pool.root = { s = pool:set() }
  pool.root.s:add(pool:table({ 1 }))
  pool.root.s:add(pool:table({ 2 }))
  lu.assertEquals(check(pool, 0).live, 4)
  local el
  for e in pairs(pool.root.s) do el = e end
  pool.root.s:remove(el)
  el = nil
  lu.assertEquals(#pool.root.s, 1)
  lu.assertEquals(check(pool, 1).live, 3)
  pool:close()
end

-- }============================================

-- {============================================ cycles

-- each builds a garbage-able cycle, returns one member and its size
local cycles = {
  two_tables = function(pool)
    local a, b = pool:table(), pool:table()
    a.b = b; b.a = a
    return a, 2
  end,
  self_list = function(pool)
    local l = pool:list({ "x" })
    l:append(l)
    return l, 1
  end,
  self_table = function(pool)
    local t = pool:table()
    t.me = t
    return t, 1
  end,
  objects = function(pool)
    local o1, o2, o3 = pool:new(Node), pool:new(Node), pool:new(Node)
    o1.next = o2; o2.next = o3; o3.next = o1
    o1.data = { "payload" }                   -- hangs off the cycle
    return o1, 4
  end,
  through_tuple = function(pool)
    local l = pool:list()
    local t = pool:tuple({ l, "y" })
    l:append(t)
    return l, 2
  end,
  through_set_and_key = function(pool)
    local s = pool:set()
    local t = pool:table()
    s:add(t)
    t[s] = "key"                              -- back-reference as a key
    return s, 2
  end,
}

function test_cycles_collected_once_unlinked()
  local pool = newpool()
  pool.root = {}
  for name, make in pairs(cycles) do
    local n
    pool:transaction(function()
      local c
      c, n = make(pool)
      pool.root.cyc = c
    end)
    -- linked from the root: not collected
    lu.assertEquals(check(pool, 0).live, 1 + n, name)
    lu.assertEquals(check(pool, 0).live, 1 + n, name)
    pool.root.cyc = nil
    lu.assertEquals(check(pool, n).live, 1, name)
  end
  pool:close()
end

function test_orphan_cycles_never_linked_are_collected()
  local pool = newpool()
  local total = 0
  local function build()
    for _, make in pairs(cycles) do
      local _, n = make(pool)
      total = total + n
    end
  end
  build()
  local r = check(pool, total)
  lu.assertEquals(r.live, 0)
  pool:close()
end

-- the trial deletion stops at the pool's root container: what points back
-- at the root is collected as exactly as anything else
function test_back_pointers_to_the_root()
  local pool = newpool(16 * 1024 * 1024)
  pool:transaction(function()
    pool.root = {}
    for i = 1, 1000 do pool.root[i] = { i = i, parent = pool.root } end
  end)
  check(pool, 0)
  for i = 1, 10 do pool.root[i] = nil end
  lu.assertEquals(check(pool, 10).live, 991)
  -- garbage cycles that point at the root
  pool:transaction(function()
    for _ = 1, 5 do
      local a, b = pool:table(), pool:table()
      a.peer, b.peer, a.parent, b.parent = b, a, pool.root, pool.root
    end
  end)
  lu.assertEquals(check(pool, 10).live, 991)
  -- a cycle through the root: the root's children stay
  pool.root[11].self = pool.root[11]
  pool.root[11] = nil
  lu.assertEquals(check(pool, 1).live, 990)
  pool:close()
end

-- automatic collections may put off the trial deletion (it is paid for by
-- changes); the close runs it: a reopened pool holds no garbage
function test_deferred_trial_deletion_is_done_by_close()
  local path = helper.fast_pool_path()        -- 10,000 single changes
  local pool = assert(pmem.open(path, "x", 32 * 1024 * 1024))
  pool:transaction(function()
    pool.root = { items = {} }
    for i = 1, 3000 do pool.root.items[i] = { i = i, parent = pool.root.items } end
  end)
  -- many single changes: automatic collections run among them
  for i = 1, 4000 do
    local a, b = pool:table(), pool:table()
    a.peer, b.peer = b, a                          -- garbage cycles
    if i % 1000 == 0 then pool.root.items[i // 1000] = nil end
  end

  pool:close()
  local c = reopened_counts(path)
  lu.assertEquals(c[2], 0, "nothing left to collect after the close")
  lu.assertEquals(c[1], c[3], "live == reachable")
  lu.assertEquals(c[3], 2 + 2996)
end

function test_big_ring_collected()
  local pool = newpool(16 * 1024 * 1024)
  pool.root = {}
  pool:transaction(function()
    local first = pool:table({ i = 1 })
    local cur = first
    for i = 2, 1500 do
      local nxt = pool:table({ i = i })
      cur.next = nxt
      cur = nxt
    end
    cur.next = first
    pool.root.ring = first
  end)
  lu.assertEquals(check(pool, 0).live, 1501)
  pool.root.ring = nil
  lu.assertEquals(check(pool, 1500).live, 1)
  pool:close()
end

function test_cycle_linked_elsewhere_survives()
  local pool = newpool()
  pool.root = { a = {}, b = {} }
  local a, b = pool.root.a, pool.root.b
  a.peer = b; b.peer = a
  a, b = nil, nil
  lu.assertEquals(check(pool, 0).live, 3)
  pool.root.a = nil                 -- still reached through root.b
  lu.assertEquals(check(pool, 0).live, 3)
  lu.assertEquals(pmem.type(pool.root.b.peer.peer), "table")
  lu.assertTrue(rawequal(pool.root.b.peer.peer, pool.root.b))
  pool.root.b = nil
  lu.assertEquals(check(pool, 2).live, 1)
  pool:close()
end

function test_cycle_held_by_local_not_collected_while_held()
  for name, make in pairs(cycles) do
    local pool = newpool()
    pool.root = {}
    local c, n = make(pool)
    for _ = 1, 2 do
      lu.assertEquals(check(pool, 0, c).live, 1 + n, name)
    end
    -- still usable
    pool.root.cyc = c
    lu.assertTrue(rawequal(pool.root.cyc, c))
    pool.root.cyc = nil
    lu.assertEquals(check(pool, 0, c).live, 1 + n, name)
    c = nil
    pool:close()
  end
end

-- contract: gc frees everything neither reachable nor held; a cycle that
-- survived a collection because a local held it must go once the local does
function test_cycle_collected_after_its_local_is_dropped()
  local pool = newpool()
  pool.root = {}
  for name, make in pairs(cycles) do
    local c, n = make(pool)
    lu.assertEquals(check(pool, 0, c).live, 1 + n, name)
    c = nil
    lu.assertEquals(check(pool, n).live, 1, name)
  end
  pool:close()
end

-- the same through the root: linked, read into a local, unlinked, collected
-- while the local holds it, then dropped
function test_unlinked_cycle_collected_after_local_dropped()
  local pool = newpool()
  pool.root = {}
  pool.root.cyc = { name = "a" }
  pool.root.cyc.peer = { name = "b", back = pool.root.cyc }
  local c = pool.root.cyc
  pool.root.cyc = nil
  lu.assertEquals(check(pool, 0, c).live, 3)
  lu.assertEquals(c.peer.back.name, "a")
  c = nil
  lu.assertEquals(check(pool, 2).live, 1)
  pool:close()
end

-- the local holds the other member of the cycle, one that was not a
-- suspect (a collection had found both live): the collection that keeps
-- the cycle for the local must still come back to it once the local is
-- gone (a pool:gc() that kept it used to leave no suspect behind, and the
-- cycle was never freed, not even at close; found by tests/test_fuzz.lua)
function test_cycle_held_through_a_member_that_was_not_a_suspect()
  local pool, path = newpool()
  pool.root = { a = { name = "a" } }
  pool.root.a.h = { name = "h", a = pool.root.a }
  lu.assertEquals(pool:gc().live, 3)
  local h = pool.root.a.h
  pool.root.a = nil
  lu.assertEquals(check(pool, 0, h).live, 3)
  h = nil
  lu.assertEquals(check(pool, 2).live, 1)
  pool.root.b = { name = "b" }
  pool.root.b.h = { name = "h", b = pool.root.b }
  pool:gc()
  h = pool.root.b.h
  pool.root.b = nil
  lu.assertEquals(check(pool, 0, h).live, 3)
  h = nil
  pool:close()                                 -- the close frees it too
  pool = assert(pmem.open(path))
  lu.assertEquals(pool:gc().live, 1)
  pool:close()
end

-- }============================================

-- {============================================ collection at close

function test_close_collects_values_held_by_locals()
  local pool, path = newpool()
  pool.root = { keep = { 1 } }
  local t = pool:table({ sub = {} })
  local l = pool:list()
  l:append({})
  local c = cycles.two_tables(pool)
  local o = cycles.objects(pool)
  local detached = pool.root.keep
  pool.root.keep = nil
  pool.root.keep2 = { 2 }
  pool:close()                             -- (no pool:gc() while held here)
  -- Lua values of the closed run are unusable
  for _, v in ipairs({ t, l, c, o, detached }) do
    local ok, err = pcall(function() return v[1] end)
    lu.assertFalse(ok)
    lu.assertStrContains(tostring(err), "pool is closed")
  end
  lu.assertEquals(reopened_counts(path), { 2, 0, 2 })
end

-- the same with the cycle trial-deleted while held before the close
function test_close_collects_cycle_that_survived_a_gc()
  local pool, path = newpool()
  pool.root = { keep = {} }
  local c = cycles.two_tables(pool)
  lu.assertEquals(gc(pool).collected, 0)
  c = nil
  pool:close()
  lu.assertEquals(reopened_counts(path), { 2, 0, 2 })
end

-- a child whose pool is closed by <close>, by the end of the script (the
-- state closes), and by os.exit(0, true); orphans kept in globals
function test_close_at_scope_end_and_exit_collects()
  local path = helper.pool_path()
  local endings = {
    [[do
        local pool <close> = assert(pmem.open(path, "c", pmem.MIN_POOL_SIZE))
        MAKE(pool)
      end
      print("closed")]],
    [[local pool = assert(pmem.open(path, "c", pmem.MIN_POOL_SIZE))
      MAKE(pool)
      print("closed")]],
    [[local pool = assert(pmem.open(path, "c", pmem.MIN_POOL_SIZE))
      MAKE(pool)
      print("closed")
      os.exit(0, true)]],
  }
  for i, ending in ipairs(endings) do
    local out = child_ok([[
      function MAKE(pool)
        pool.root = pool.root or { n = 0 }
        pool.root.n = pool.root.n + 1
        pool.root[pool.root.n] = { pool.root.n }
        HELD = { pool:table({ x = {} }), pool:list({ 1 }) }
        local a, b = pool:table(), pool:table()
        a.b = b; b.a = a
        HELD[3] = a
      end
    ]] .. ending, path)
    lu.assertStrContains(out, "closed")
    out = child_ok([[
      local pool = assert(pmem.open(path))
      local r = pool:gc()
      print(r.live, r.collected, reachable(pool.root))
      pool:close()
    ]], path)
    lu.assertEquals(numbers(out), { 1 + i, 0, 1 + i }, "ending " .. i)
  end
end

-- }============================================

-- {============================================ reclamation after a crash

-- the unit of free room: 32 KiB strings (64 KiB ones are rounded up so far
-- that 2,000 small orphans fit in the gaps and change no count)
local FILL = "local FILLSIZE = 32768\n" .. [[
local function fill(pool)
  local l = pool:list()
  local s = string.rep("x", FILLSIZE)
  local n = 0
  while true do
    local ok, err = pcall(l.append, l, s)
    if not ok then
      assert(tostring(err):find("full"), err)
      break
    end
    n = n + 1
  end
  assert(#l == n)
  return n, l
end
]]
local fill = assert(load(FILL .. "return fill", "=fill"))()

-- freeroom(pool) -- how many 32 KiB strings fit; leaves the pool as it was
local function freeroom(pool)
  local function measure()
    local n = fill(pool)
    return n
  end
  local n = measure()
  lu.assertTrue(n > 10, "fill count " .. n)
  collectgarbage()
  collectgarbage()
  local r = pool:gc()
  lu.assertEquals(r.collected, 1)              -- the fill list
  return n
end

local KILL = [[
local function die()
  io.stdout:flush()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  os.execute("kill -9 " .. pid)
  os.execute("sleep 10")
  error("still alive")
end
]]

-- garbage a crashing run leaves: orphans, garbage cycles, a detached
-- sub-tree, and finally a list filled until the pool is full
local GARBAGE = FILL .. KILL .. [[
local pool = assert(pmem.open(path))
pool:transaction(function()
  for i = 1, 2000 do pool:table({ i = i, name = "orphan" .. i }) end
end)
for i = 1, 20 do pool:table({ single = i }) end
for i = 1, 30 do
  local a, b = pool:table(), pool:new(Node)
  a.b = b; b.a = a; b.data = { i }
  local l = pool:list(); l:append(l)
end
pool.root.tmp = { { 1 }, { 2 }, { { 3 } } }
pool.root.tmp = nil
local n, l = fill(pool)
print("filled", n)
]]

local function crash_and_reclaim(ending)
  local path = helper.pool_path()
  local pool = assert(pmem.open(path, "x", MIN))
  pool.root = { keep = { 1, 2, 3 }, name = "base" }
  local base = freeroom(pool)
  lu.assertEquals(freeroom(pool), base)        -- the measure is stable
  lu.assertEquals(gc(pool).live, 2)
  pool:close()
  local out, code, err = crash_child(GARBAGE .. ending, path)
  local crashed = tonumber(out:match("filled%s+(%d+)"))
  lu.assertNotNil(crashed, "crash child output: " .. out .. err)
  lu.assertTrue(crashed < base, ("garbage took no room: %d vs %d"):format(crashed, base))
  out = child_ok(FILL .. [[
    local pool = assert(pmem.open(path))
    local r = pool:gc()
    print(r.live, r.collected, reachable(pool.root))
    local n, l = fill(pool)
    l = nil
    collectgarbage()
    print(n, pool:gc().collected)
    assert(pool.root.keep[3] == 3 and pool.root.name == "base" and pool.root.tmp == nil)
    pool:close()
  ]], path)
  local v = numbers(out)
  lu.assertEquals({ v[1], v[2], v[3] }, { 2, 0, 2 }, "after reopen: live, collected, reachable")
  lu.assertTrue(math.abs(v[4] - base) <= 1,
                ("free room after the crash: %d strings, before: %d"):format(v[4], base))
  lu.assertEquals(v[5], 1)
  return code
end

function test_kill9_orphans_reclaimed_at_next_open()
  local code = crash_and_reclaim("die()")
  lu.assertEquals(code, 137)                   -- killed by SIGKILL
end

function test_os_exit_without_close_orphans_reclaimed()
  local code = crash_and_reclaim("os.exit(0)")
  lu.assertEquals(code, 0)
end

function test_crash_with_held_objects_reclaimed()
  -- objects held by Lua locals at the crash are garbage for the next run
  local path = helper.pool_path()
  local pool = assert(pmem.open(path, "x", MIN))
  pool.root = { a = {} }
  pool:close()
  local _, code = crash_child(KILL .. [[
    local pool = assert(pmem.open(path))
    local held = { pool:table({ {} }), pool:new(Node), pool:list() }
    held[3]:append({})
    local a = pool.root.a
    pool.root.a = nil
    pool.root.b = { {} }
    assert(pool:gc().collected == 0)
    die()
  ]], path)
  lu.assertEquals(code, 137)
  lu.assertEquals(reopened_counts(path), { 3, 0, 3 })
end

function test_read_only_open_after_crash_does_not_hide_garbage()
  local path = helper.pool_path()
  local pool = assert(pmem.open(path, "x", MIN))
  pool.root = { keep = {} }
  pool:close()
  local _, code = crash_child(KILL .. [[
    local pool = assert(pmem.open(path))
    for i = 1, 50 do pool:table({ i }) end
    die()
  ]], path)
  lu.assertEquals(code, 137)
  -- a read-only run collects nothing and must not mark the pool clean
  local out = child_ok([[
    local pool = assert(pmem.open(path, "r"))
    print(reachable(pool.root))
    pool:close()
  ]], path)
  lu.assertEquals(numbers(out), { 2 })
  out = child_ok([[
    local pool = assert(pmem.open(path))
    local r = pool:gc()
    print(r.live, r.collected, reachable(pool.root))
    pool:close()
  ]], path)
  lu.assertEquals(numbers(out), { 2, 0, 2 })
end

-- }============================================

-- {============================================ refusals

function test_gc_on_read_only_pool_raises()
  local pool, path = newpool()
  pool.root = { a = { 1 } }
  pool:close()
  local ro = assert(pmem.open(path, "r"))
  local ok, err = pcall(ro.gc, ro)
  lu.assertFalse(ok)
  lu.assertStrContains(tostring(err), "read-only")
  lu.assertEquals(ro.root.a[1], 1)
  ro:close()
  local rw = assert(pmem.open(path))
  lu.assertEquals(check(rw, 0).live, 2)
  rw:close()
end

function test_gc_on_closed_pool_raises()
  local pool = newpool()
  pool:close()
  local ok, err = pcall(pool.gc, pool)
  lu.assertFalse(ok)
  lu.assertStrContains(tostring(err), "pool is closed")
end

function test_gc_inside_transaction_raises_and_rolls_back()
  local pool = newpool()
  pool.root = { n = 1 }
  local ok, err = pcall(pool.transaction, pool, function()
    pool.root.n = 2
    pool:table()
    pool:gc()
    pool.root.n = 3
  end)
  lu.assertFalse(ok)
  lu.assertStrContains(tostring(err), "transaction")
  lu.assertEquals(pool.root.n, 1)
  -- the pool is usable, and collects normally outside
  pool.root.n = 4
  lu.assertEquals(check(pool, 0).live, 1)
  lu.assertEquals(pool.root.n, 4)
  pool:close()
end

-- docs/reference.md: any error raised by a pool operation inside a transaction aborts
-- the whole transaction, even if the function catches it
function test_gc_error_caught_inside_transaction_aborts_it()
  local pool = newpool()
  pool.root = { n = 1 }
  local caught, later
  local ok = pcall(pool.transaction, pool, function()
    pool.root.n = 2
    caught = select(2, pcall(pool.gc, pool))
    later = select(2, pcall(function() pool.root.n = 3 end))
  end)
  lu.assertStrContains(tostring(caught), "transaction")
  lu.assertStrContains(tostring(later), "transaction aborted")
  lu.assertFalse(ok)
  lu.assertEquals(pool.root.n, 1)
  pool:close()
end

-- gc of pool B inside a transaction of pool A is a change to B: it raises,
-- aborts A's transaction, and never aborts the process. Run in a child so
-- that a process abort is reported rather than killing the suite.
function test_gc_of_other_pool_inside_transaction()
  local dir = helper.tmpdir()
  local out, code, err = crash_child([[
    local A = assert(pmem.open(path .. "/a", "c", pmem.MIN_POOL_SIZE))
    local B = assert(pmem.open(path .. "/b", "c", pmem.MIN_POOL_SIZE))
    A.root = { n = 1 }
    do B:table() end
    collectgarbage()
    local ok, e = pcall(A.transaction, A, function()
      A.root.n = 2
      B:gc()
      A.root.n = 3
    end)
    print("ok", ok, e)
    print("n", A.root.n)
    A.root.n = 4
    print("n", A.root.n)
    local r = B:gc()
    print("B", r.live, r.collected)
    A:close(); B:close()
  ]], dir)
  lu.assertEquals(code, 0, "child died: " .. err .. out)
  lu.assertStrContains(out, "ok\tfalse")
  lu.assertStrContains(out, "n\t1\n")
  lu.assertStrContains(out, "n\t4\n")
  lu.assertStrContains(out, "B\t0\t1")
end

-- }============================================

-- {============================================ counts in random scenarios

-- a deterministic random mutator over root.slots; held: values kept by the
-- test across collections (nil: none)
local function scenario(seed, steps, held)
  local pool, path = newpool(16 * 1024 * 1024)
  math.randomseed(seed)
  local K = 12
  pool.root = { slots = {} }
  local created, collected = 0, 0
  local live = 2
  local kinds = { "table", "list", "set", "object", "tuple" }
  local function slot(i) return pool.root.slots[i] end
  local function any()
    local v = slot(math.random(K))
    if v == nil and held and #held > 0 then v = held[math.random(#held)] end
    return v
  end
  local function step()
    local op = math.random(7)
    local i = math.random(K)
    if op <= 2 then
      local kind = kinds[math.random(#kinds)]
      local other = any()
      local v
      if kind == "table" then v = pool:table({ x = i })
        if other then v.ref = other end
      elseif kind == "list" then v = pool:list({ i })
        if other then v:append(other) end
      elseif kind == "set" then v = pool:set({ i })
        if other then v:add(other) end
      elseif kind == "object" then v = pool:new(Node)
        if other then v.ref = other end
      else v = pool:tuple({ i, other })
      end
      created = created + 1
      pool.root.slots[i] = v
      if held and math.random(3) == 1 then held[#held + 1] = v end
    elseif op == 3 then
      pool.root.slots[i] = nil
    elseif op <= 5 then                       -- link (may close cycles)
      local v, w = slot(i), any()
      if w == nil then return end
      local k = pmem.type(v)
      if k == "table" or k == "object" then
        if math.random(2) == 1 then v["r" .. math.random(3)] = w else v[w] = true end
      elseif k == "list" then v:append(w)
      elseif k == "set" then v:add(w)
      end
    elseif op == 6 then                       -- unlink
      local v = slot(i)
      local k = pmem.type(v)
      if k == "table" or k == "object" then
        local keys = {}
        for kk in pairs(v) do keys[#keys + 1] = kk end
        if #keys > 0 then v[keys[math.random(#keys)]] = nil end
      elseif k == "list" and #v > 0 then v:remove(math.random(#v))
      elseif k == "set" and #v > 0 then
        local els = {}
        for e in pairs(v) do els[#els + 1] = e end
        v:remove(els[math.random(#els)])
      end
    else                                      -- move a slot's value to another
      pool.root.slots[math.random(K)] = slot(i)
    end
  end
  for s = 1, steps do
    step()
    if s % 10 == 0 then
      if held and #held > 3 then table.remove(held, math.random(#held)) end
      local r = gc(pool)
      collected = collected + r.collected
      lu.assertEquals(r.live, reachable(pool.root, table.unpack(held or {})),
                      ("seed %d step %d"):format(seed, s))
      lu.assertEquals(r.live, 2 + created - collected, "live = made - freed")
    end
  end
  live = reachable(pool.root)
  pool:close()
  local out = child_ok([[
    local pool = assert(pmem.open(path))
    local r = pool:gc()
    print(r.live, r.collected, reachable(pool.root))
    pool:close()
  ]], path)
  lu.assertEquals(numbers(out), { live, 0, live }, "after close and reopen")
end

function test_random_graphs_counts_exact()
  for seed = 1, 4 do scenario(seed, 150, nil) end
end

function test_random_graphs_with_held_values_counts_exact()
  for seed = 11, 14 do scenario(seed, 150, {}) end
end

-- }============================================

os.exit(lu.LuaUnit.run())
