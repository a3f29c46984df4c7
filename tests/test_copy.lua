-- test_copy.lua -- pool:copy(v): a deep copy into a pool that keeps types
-- (tables, lists, tuples, sets, objects and their class), sharing, cycles,
-- insertion order and exact values; atomic; from another pool (open or
-- read-only), from the same pool, from plain tables holding persistent
-- values; read back in a new process (docs/reference.md, "pool:copy").
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

local Point = pmem.class("CopyPoint")
function Point:init(x, y) self.x, self.y = x, y end
function Point:norm2() return self.x * self.x + self.y * self.y end

-- a graph of every kind, with sharing and cycles, in pool
local function fill(pool)
  local shared = pool:list({ 1, 2.5, "three", true })
  local root = pool:table({ name = "src", ["key with spaces"] = 1, [3] = "three" })
  root.shared1, root.shared2 = shared, shared
  root.set = pool:set({ "a", 7, false })
  root.point = pool:new(Point, 3, 4)
  root.point.owner = root                        -- cycle through an object
  root.tuple = pool:tuple({ shared, pool:tuple({ root, "inner" }) })
  root.self = root                               -- direct cycle
  root.bytes = "\0\1\255 binary"
  root[root.set] = "a set as a key"
  pool.root = root
  return root
end

-- check -- r is a faithful copy of fill's graph, living in pool
local function check(pool, r)
  lu.assertEquals(pmem.type(r), "table")
  lu.assertTrue(rawequal(pmem._poolof(r), pool))
  lu.assertEquals(r.name, "src")
  lu.assertEquals(r["key with spaces"], 1)
  lu.assertEquals(r[3], "three")
  lu.assertTrue(rawequal(r.shared1, r.shared2), "sharing kept")
  lu.assertEquals(pmem.type(r.shared1), "list")
  lu.assertEquals(pmem.tolua(r.shared1), { 1, 2.5, "three", true })
  lu.assertEquals(math.type(r.shared1[1]), "integer")
  lu.assertEquals(math.type(r.shared1[2]), "float")
  lu.assertEquals(pmem.type(r.set), "set")
  lu.assertTrue(r.set:contains("a") and r.set:contains(7) and r.set:contains(false))
  lu.assertEquals(pmem.type(r.point), "object")
  lu.assertEquals(pmem.classname(r.point), "CopyPoint")
  lu.assertEquals(r.point:norm2(), 25)
  lu.assertTrue(rawequal(r.point.owner, r), "cycle through an object")
  lu.assertEquals(pmem.type(r.tuple), "tuple")
  lu.assertTrue(rawequal(r.tuple[1], r.shared1))
  lu.assertTrue(rawequal(r.tuple[2][1], r))
  lu.assertEquals(r.tuple[2][2], "inner")
  lu.assertTrue(rawequal(r.self, r))
  lu.assertEquals(r.bytes, "\0\1\255 binary")
  lu.assertEquals(r[r.set], "a set as a key")
end

-- keys -- t's keys in iteration order (containers by their type)
local function keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = pmem.type(k) or k end
  return ks
end

function test_copy_between_pools_keeps_types_sharing_and_cycles()
  local a = helper.newpool()
  local b, bpath = helper.newpool()
  fill(a)
  b.root = b:copy(a.root)
  check(b, b.root)
  lu.assertEquals(keys(b.root), keys(a.root), "insertion order kept")
  lu.assertEquals(#keys(b.root), 11)
  lu.assertFalse(rawequal(b.root, a.root))
  -- the source is untouched, and independent of the copy
  b.root.shared1:append("new")
  lu.assertEquals(#a.root.shared1, 4)
  a:close()
  b:close()
  -- the copy is in the file: read back in a new process
  local out = helper.child_ok([[
    local pmem = require "pmem"
    local Point = pmem.class("CopyPoint")
    function Point:norm2() return self.x * self.x + self.y * self.y end
    local pool = assert(pmem.open(...))
    local r = pool.root
    print(r.point:norm2(), rawequal(r.self, r), #r.shared1, rawequal(r.tuple[2][1], r))
    pool:close()
  ]], bpath)
  lu.assertEquals(out, "25\ttrue\t5\ttrue\n")
end

function test_copy_within_a_pool_makes_new_containers()
  local a = helper.newpool()
  local root = fill(a)
  local c = a:copy(root)
  check(a, c)
  lu.assertEquals(keys(c), keys(root))
  lu.assertFalse(rawequal(c, root))
  lu.assertFalse(rawequal(c.shared1, root.shared1))
  a.root.copy = c
  lu.assertEquals(a:gc().collected, 0)
  a:close()
end

function test_copy_from_a_read_only_pool()
  local a, apath = helper.newpool()
  fill(a)
  a:close()
  local ro = assert(pmem.open(apath, "r"))
  local b = helper.newpool()
  b.root = b:copy(ro.root)
  check(b, b.root)
  ro:close()
  b:close()
end

function test_copy_of_plain_values_and_tables()
  local a = helper.newpool()
  local b = helper.newpool()
  a.root = a:list({ "x" })
  lu.assertEquals(b:copy(5), 5)
  lu.assertEquals(b:copy("s"), "s")
  lu.assertNil(b:copy(nil))
  -- a plain table holding a value of another pool: the whole is copied
  local t = b:copy({ items = a.root, n = 1 })
  lu.assertEquals(pmem.type(t), "table")
  lu.assertEquals(pmem.type(t.items), "list")
  lu.assertTrue(rawequal(pmem._poolof(t.items), b))
  lu.assertEquals(t.items[1], "x")
  a:close()
  b:close()
end

function test_copy_is_atomic()
  local a = helper.newpool()
  local b = helper.newpool()
  fill(a)
  b.root = b:table()
  local live = b:gc().live
  local ok, err = pcall(function() return b:copy({ good = a.root, bad = print }) end)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "cannot store a function")
  lu.assertEquals(b:gc().live, live, "nothing of a failed copy is left")
  -- inside a transaction it joins the transaction
  b:transaction(function()
    b.root.c = b:copy(a.root)
  end)
  check(b, b.root.c)
  a:close()
  b:close()
end

function test_copy_refuses_a_closed_pool_and_a_read_only_target()
  local a, apath = helper.newpool()
  fill(a)
  local stale = a.root
  a:close()
  local b = helper.newpool()
  lu.assertErrorMsgContains(apath .. ": pool is closed", b.copy, b, stale)
  b:close()
  local ro = assert(pmem.open(apath, "r"))
  lu.assertErrorMsgContains("pool is read-only", ro.copy, ro, { 1 })
  ro:close()
end

function test_copy_of_an_object_of_an_unloaded_class()
  -- made in a child with its class; copied here, where the class is unknown
  local apath = helper.pool_path()
  helper.child_ok([[
    local pmem = require "pmem"
    local C = pmem.class("elsewhere.Thing")
    local pool = assert(pmem.open(..., "x"))
    pool.root = pool:new(C)
    pool.root.v = 42
    pool:close()
  ]], apath)
  local a = assert(pmem.open(apath))
  local b = helper.newpool()
  b.root = b:copy(a.root)
  lu.assertEquals(pmem.classname(b.root), "elsewhere.Thing")
  lu.assertEquals(b.root.v, 42)
  a:close()
  b:close()
end

function test_copy_of_a_large_deep_value()
  local a = helper.newpool(64 * 1024 * 1024)
  local b = helper.newpool(64 * 1024 * 1024)
  a:transaction(function()
    local l = a:list()
    for i = 1, 20000 do l:append(i % 7 == 0 and a:table({ i = i }) or i) end
    local deep = a:table()
    local t = deep
    for i = 1, 2000 do t.next = a:table({ depth = i }); t = t.next end
    a.root = a:table({ list = l, deep = deep })
  end)
  b.root = b:copy(a.root)
  lu.assertEquals(#b.root.list, 20000)
  lu.assertEquals(b.root.list[14].i, 14)
  local t, n = b.root.deep, 0
  while t.next do t = t.next; n = n + 1 end
  lu.assertEquals(n, 2000)
  a:close()
  b:close()
end

os.exit(lu.LuaUnit.run())
