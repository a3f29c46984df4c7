-- test_object.lua -- persistent objects: pmem.class, pool:new, attributes,
-- volatile "_v_" attributes, __load, finding classes in a new process
-- (required or auto-required modules), inheritance, methods using
-- self._p_pool (contract "Object" in docs/reference.md).
--
-- Classes defined in this process get names without a dot (so that an
-- unregistered lookup never tries to require a test file); each name is
-- defined once, since defining a name twice raises. Cross-process tests
-- write a class module into a temporary directory and run real child
-- pmlua processes with LUA_PATH pointing there.
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

local q = helper.q
local SIZE = pmem.MIN_POOL_SIZE

local function newpool()
  local path = helper.pool_path()
  return assert(pmem.open(path, "c", SIZE)), path
end

-- a unique class name for this process
local nclass = 0
local function cname(base)
  nclass = nclass + 1
  return ("%s%d"):format(base, nclass)
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

-- child(luapath, src, ...) -> stdout, exit code, stderr: a Lua chunk in a
-- fresh pmlua whose LUA_PATH is luapath (nil: a path with no modules in it)
local function child(luapath, src, ...)
  local f = write(os.tmpname(), src)
  local args = {}
  for i = 1, select("#", ...) do args[i] = q(select(i, ...)) end
  local env = "env -u LUA_INIT -u LUA_INIT_5_4 -u LUA_PATH_5_4 LUA_PATH="
    .. q(luapath or "/nonexistent/?.lua")
  -- in braces, so that the shell's "Killed" for a kill -9 goes to stderr
  local out, code, err = helper.run_cmd("{ " .. env .. " " .. q(helper.PMLUA) .. " " .. f
                                        .. " " .. table.concat(args, " ") .. "; }")
  os.remove(f)
  return out, code, err
end

local function child_ok(luapath, src, ...)
  local out, code, err = child(luapath, src, ...)
  if code ~= 0 then error("child failed (" .. tostring(code) .. "): " .. err .. out, 2) end
  return out
end

-- the module "mymod" (class "mymod.Point") in a fresh directory; returns
-- the LUA_PATH that finds it. __load counts its runs in the global LOADS
-- and marks the object with a volatile attribute.
local MYMOD = [[
local pmem = require "pmem"
MYMOD_REQUIRED = (MYMOD_REQUIRED or 0) + 1
local Point = pmem.class("mymod.Point")
Point.kind = "point"
function Point:init(x, y) self.x = x; self.y = y; self.tags = self._p_pool:list() end
function Point:norm2() return self.x * self.x + self.y * self.y end
function Point:move(dx, dy)
  self._p_pool:transaction(function() self.x = self.x + dx; self.y = self.y + dy end)
end
function Point:__load() LOADS = (LOADS or 0) + 1; self._v_loaded = LOADS end
return { Point = Point }
]]

local function mymod_path()
  local dir = helper.tmpdir()
  write(dir .. "/mymod.lua", MYMOD)
  return dir .. "/?.lua;;"
end

-- a pool holding root = Point(3, 4) with tags {"a", "b"}, made in a child
local function point_pool(luapath)
  local path = helper.pool_path()
  child_ok(luapath, [[
    local Point = require("mymod").Point
    local pool = assert(pmem.open(..., "x", pmem.MIN_POOL_SIZE))
    pool.root = pool:new(Point, 3, 4)
    pool.root.tags:append("a"); pool.root.tags:append("b")
    pool:close()
  ]], path)
  return path
end

-- {============================================ classes

function test_class_is_a_table_of_methods_and_attributes()
  local C = pmem.class(cname("Plain"))
  lu.assertEquals(type(C), "table")
  C.colour = "red"
  function C:hello() return "hello from " .. self.who end
  lu.assertEquals(C.colour, "red")
  lu.assertEquals(C.hello({ who = "a table" }), "hello from a table")
  local pool = newpool()
  local o = pool:new(C)
  o.who = "an object"
  lu.assertEquals(o:hello(), "hello from an object")
  lu.assertEquals(o.colour, "red")
  pool:close()
end

function test_class_inherits_fields_of_parent()
  local A = pmem.class(cname("Base"))
  A.size, A.shape = 1, "square"
  function A:describe() return self.shape .. " " .. self.size end
  local B = pmem.class(cname("Derived"), A)
  B.size = 2
  lu.assertEquals(B.shape, "square")
  lu.assertEquals(B.size, 2)
  lu.assertEquals(B.describe, A.describe)
  A.later = "added to the parent afterwards"
  lu.assertEquals(B.later, "added to the parent afterwards")
  local pool = newpool()
  local b = pool:new(B)
  lu.assertEquals(b:describe(), "square 2")
  lu.assertEquals(b.later, "added to the parent afterwards")
  pool:close()
end

function test_class_name_defined_twice_raises()
  local name = cname("Twice")
  local C = pmem.class(name)
  lu.assertErrorMsgContains(name, pmem.class, name)
  local P = pmem.class(cname("OtherParent"))
  lu.assertErrorMsgContains(name, pmem.class, name, P)
  -- the first definition is still the one objects get
  function C:who() return "first" end
  local pool = newpool()
  lu.assertEquals(pool:new(C):who(), "first")
  pool:close()
end

-- }============================================

-- {============================================ pool:new

function test_new_calls_init_with_all_arguments()
  local C = pmem.class(cname("Args"))
  local seen
  function C:init(...)
    seen = table.pack(...)
    self.a, self.b, self.c = ...
  end
  local pool = newpool()
  local o = pool:new(C, 1, nil, "three")
  lu.assertEquals(seen.n, 3)
  lu.assertEquals({ seen[1], seen[2], seen[3] }, { 1, nil, "three" })
  lu.assertEquals(o.a, 1)
  lu.assertNil(o.b)
  lu.assertEquals(o.c, "three")
  lu.assertEquals(pmem.type(o), "object")
  pool:close()
end

function test_new_without_init_makes_an_empty_object()
  local C = pmem.class(cname("NoInit"))
  local pool = newpool()
  local o = pool:new(C)
  lu.assertEquals(pmem.type(o), "object")
  lu.assertEquals(pmem.tolua(o), {})
  pool:close()
end

function test_new_rejects_what_is_not_a_class()
  local pool = newpool()
  local live = pool:gc().live
  lu.assertError(pool.new, pool, {})
  lu.assertError(pool.new, pool, setmetatable({ init = function() end }, {}))
  lu.assertError(pool.new, pool, "Plain1")
  lu.assertEquals(pool:gc().live, live)
  pool:close()
end

function test_new_init_error_leaves_nothing_behind()
  local C = pmem.class(cname("Failing"))
  local boom = { "the error value" }
  function C:init(fail)
    self.name = "half made"
    self.list = self._p_pool:list({ 1, 2, 3 })
    self.tbl = { nested = { deep = true } }
    self._p_pool.root.touched = true
    if fail then error(boom) end
  end
  local pool = newpool()
  pool.root = pool:table({ kept = "yes" })
  local live = pool:gc().live
  local ok, err = pcall(pool.new, pool, C, true)
  lu.assertFalse(ok)
  lu.assertTrue(rawequal(err, boom), "the same error value is re-raised")
  lu.assertEquals(pmem.tolua(pool.root), { kept = "yes" })
  lu.assertEquals(pool:gc().live, live)
  -- a string error too, and the pool is usable afterwards
  function C:init() self.x = 1; error("init says no") end
  lu.assertErrorMsgContains("init says no", pool.new, pool, C)
  lu.assertEquals(pool:gc().live, live)
  pool.root.after = "still writable"
  lu.assertEquals(pool.root.after, "still writable")
  pool:close()
end

function test_new_runs_init_in_one_transaction()
  -- an unstorable value half-way through init: the stores before it go too
  local C = pmem.class(cname("Unstorable"))
  function C:init()
    self.first = 1
    self._p_pool.root.count = self._p_pool.root.count + 1
    self.bad = print
  end
  local pool, path = newpool()
  pool.root = pool:table({ count = 0 })
  local live = pool:gc().live
  lu.assertError(pool.new, pool, C)
  lu.assertEquals(pool.root.count, 0)
  lu.assertEquals(pool:gc().live, live)
  pool:close()
  -- and nothing comes back in another process either
  local out = helper.child_ok([[
    local pool = assert(pmem.open(...))
    print(pool.root.count, pool:gc().live)
    pool:close()
  ]], path)
  lu.assertEquals(out, "0\t" .. live .. "\n")
end

function test_new_inside_aborted_transaction_is_rolled_back()
  local C = pmem.class(cname("InTx"))
  function C:init(v) self.v = v end
  local pool = newpool()
  pool.root = pool:table()
  local live = pool:gc().live
  local made
  lu.assertErrorMsgContains("abort", pool.transaction, pool, function()
    made = pool:new(C, 5)
    pool.root.obj = made
    error("abort")
  end)
  lu.assertNil(pool.root.obj)
  lu.assertEquals(pool:gc().live, live)
  lu.assertError(function() return made.v end)
  pool:close()
end

function test_new_object_after_rolled_back_ones_starts_clean()
  -- objects rolled back (failed init, aborted transaction) or collected
  -- leave no volatile attributes or "already loaded" mark behind for the
  -- objects made after them (which may reuse their room)
  local C = pmem.class(cname("Fresh"))
  local loads = 0
  function C:__load() loads = loads + 1 end
  function C:init(fail)
    if fail then self._v_left = "stale"; error("no") end
  end
  local pool = newpool()
  lu.assertError(pool.new, pool, C, true)
  lu.assertEquals(loads, 1)
  local a = pool:new(C)
  lu.assertEquals(loads, 2)
  lu.assertNil(a._v_left)
  lu.assertError(pool.transaction, pool, function()
    local z = pool:new(C)
    z._v_left = "stale"
    error("abort")
  end)
  local b = pool:new(C)
  lu.assertEquals(loads, 4)
  lu.assertNil(b._v_left)
  local z = pool:new(C)
  z._v_left = "stale"
  z = nil
  collectgarbage(); collectgarbage()
  lu.assertTrue(pool:gc().collected >= 1)
  local c = pool:new(C)
  lu.assertEquals(loads, 6)
  lu.assertNil(c._v_left)
  pool:close()
end

function test_objects_in_a_read_only_pool()
  local C = pmem.class(cname("ReadOnly"))
  function C:__load() self._v_double = (self.v or 0) * 2 end
  function C:get() return self.v end
  local pool, path = newpool()
  pool.root = pool:new(C)
  pool.root.v = 21
  pool:close()
  pool = assert(pmem.open(path, "r"))
  local o = pool.root
  lu.assertEquals(o:get(), 21)
  lu.assertEquals(o._v_double, 42, "__load runs in a read-only pool")
  o._v_note = "volatile attributes are not pool writes"
  lu.assertEquals(o._v_note, "volatile attributes are not pool writes")
  lu.assertErrorMsgContains("pool is read-only", function() o.v = 1 end)
  lu.assertErrorMsgContains("pool is read-only", function() o.v = nil end)
  lu.assertErrorMsgContains("pool is read-only", pool.new, pool, C)
  lu.assertEquals(o.v, 21)
  pool:close()
end

-- }============================================

-- {============================================ attributes

function test_read_stored_then_class_field_then_nil()
  local C = pmem.class(cname("Lookup"))
  C.greeting, C.count = "class hello", 10
  local pool = newpool()
  local o = pool:new(C)
  lu.assertEquals(o.greeting, "class hello")
  lu.assertEquals(o.count, 10)
  lu.assertNil(o.missing)
  o.greeting = "own hello"
  lu.assertEquals(o.greeting, "own hello")
  lu.assertEquals(C.greeting, "class hello", "storing does not touch the class")
  o.greeting = nil
  lu.assertEquals(o.greeting, "class hello", "deleting shows the class field again")
  lu.assertEquals(pmem.tolua(o), {})
  o.missing = false
  lu.assertFalse(o.missing, "a stored false hides nothing but is itself")
  o.count = false
  lu.assertFalse(o.count)
  pool:close()
end

function test_attributes_hold_any_storable_value()
  local C = pmem.class(cname("Holder"))
  local pool, path = newpool()
  local o = pool:new(C)
  pool.root = o
  o.int, o.flt, o.negz = 42, 1.0, -0.0
  o.big, o.yes, o.no = math.maxinteger, true, false
  o.str = "bytes\0and\255more"
  o.long = ("x"):rep(5000)
  o.list = pool:list({ 1, 2, 3 })
  o.other = pool:new(C)
  o.other.back = o
  o.me = o
  lu.assertEquals(math.type(o.int), "integer")
  lu.assertEquals(math.type(o.flt), "float")
  lu.assertEquals(1 / o.negz, -math.huge)
  lu.assertEquals(o.big, math.maxinteger)
  lu.assertEquals(o.str, "bytes\0and\255more")
  lu.assertEquals(#o.long, 5000)
  lu.assertEquals(pmem.type(o.list), "list")
  lu.assertTrue(rawequal(o.other.back, o))
  lu.assertTrue(rawequal(o.me, o))
  pool:close()
  -- a new run (this process knows the class): everything reads back
  pool = assert(pmem.open(path))
  o = pool.root
  lu.assertEquals(math.type(o.int), "integer")
  lu.assertEquals(o.int, 42)
  lu.assertEquals(math.type(o.flt), "float")
  lu.assertEquals(1 / o.negz, -math.huge)
  lu.assertEquals(o.big, math.maxinteger)
  lu.assertTrue(o.yes)
  lu.assertFalse(o.no)
  lu.assertEquals(o.str, "bytes\0and\255more")
  lu.assertEquals(o.long, ("x"):rep(5000))
  lu.assertEquals(pmem.tolua(o.list), { 1, 2, 3 })
  lu.assertTrue(rawequal(o.other.back, o))
  lu.assertTrue(rawequal(o.me, o))
  pool:close()
end

function test_plain_tables_are_deep_copied()
  local C = pmem.class(cname("Copier"))
  local pool = newpool()
  local o = pool:new(C)
  local shared = { n = 1 }
  local t = { a = shared, b = shared, list = { 1, 2, 3 } }
  t.self = t
  o.data = t
  shared.n = 99
  t.extra = "not copied"
  local d = o.data
  lu.assertEquals(pmem.type(d), "table")
  lu.assertEquals(d.a.n, 1)
  lu.assertNil(d.extra)
  lu.assertTrue(rawequal(d.a, d.b), "shared sub-tables stay shared")
  lu.assertTrue(rawequal(d.self, d), "cycles stay cycles")
  lu.assertEquals(d.list[3], 3)
  d.a.n = 7
  lu.assertEquals(shared.n, 99, "the copy is independent of the original")
  pool:close()
end

function test_unstorable_attribute_raises_and_changes_nothing()
  local C = pmem.class(cname("Picky"))
  local pool = newpool()
  local o = pool:new(C)
  o.x = "before"
  local other = assert(pmem.open(helper.pool_path(), "c", SIZE))
  local foreign = other:table()
  local bad = {
    ["function"] = print, thread = coroutine.create(print), userdata = io.stdout,
    table = setmetatable({}, {}),
  }
  for tname, v in pairs(bad) do
    local ok, err = pcall(function() o.x = v end)
    lu.assertFalse(ok, tname)
    lu.assertStrContains(tostring(err), tname)
    lu.assertEquals(o.x, "before", tname)
  end
  lu.assertError(function() o.x = foreign end)
  lu.assertEquals(o.x, "before")
  other:close()
  pool:close()
end

function test_p_pool_is_the_pool_and_cannot_be_set()
  local C = pmem.class(cname("Pooled"))
  local pool = newpool()
  local o = pool:new(C)
  lu.assertTrue(rawequal(o._p_pool, pool))
  lu.assertError(function() o._p_pool = 1 end)
  lu.assertTrue(rawequal(o._p_pool, pool))
  lu.assertNil(pmem.tolua(o)._p_pool)
  pool:close()
end

function test_same_object_read_twice_is_the_same_userdata()
  local C = pmem.class(cname("Ident"))
  local pool = newpool()
  pool.root = pool:table()
  pool.root.a = pool:new(C)
  pool.root.b = pool.root.a
  lu.assertTrue(rawequal(pool.root.a, pool.root.b))
  local seen = { [pool.root.a] = "found" }
  collectgarbage(); collectgarbage()
  lu.assertEquals(seen[pool.root.b], "found")
  pool:close()
end

-- }============================================

-- {============================================ volatile attributes

function test_volatile_attribute_kept_while_unreferenced()
  local C = pmem.class(cname("Vol"))
  local pool = newpool()
  pool.root = pool:table()
  pool.root.obj = pool:new(C)
  pool.root.obj._v_x = { "a Lua table, not storable" }
  pool.root.obj._v_fn = print
  for _ = 1, 3 do
    collectgarbage(); collectgarbage()
    lu.assertEquals(pool.root.obj._v_x, { "a Lua table, not storable" })
    lu.assertEquals(pool.root.obj._v_fn, print)
  end
  -- many reads through a fresh variable each time
  for _ = 1, 100 do
    local o = pool.root.obj
    lu.assertEquals(o._v_fn, print)
  end
  pool:close()
end

function test_volatile_attribute_survives_gc_and_pool_gc()
  local C = pmem.class(cname("VolGc"))
  local pool = newpool()
  pool.root = pool:new(C)
  pool.root._v_n = 5
  collectgarbage(); collectgarbage()
  pool:gc()
  lu.assertEquals(pool.root._v_n, 5)
  pool.root._v_n = nil
  lu.assertNil(pool.root._v_n)
  pool:close()
end

function test_volatile_attribute_is_never_stored()
  local C = pmem.class(cname("VolStore"))
  C._v_default = "class default"
  local pool, path = newpool()
  local o = pool:new(C)
  pool.root = pool:table({ obj = o })
  local live = pool:gc().live
  o._v_secret = "only in memory"
  o.kept = "stored"
  lu.assertEquals(pmem.tolua(o), { kept = "stored" })
  for k in pairs(o) do lu.assertNotEquals(k, "_v_secret") end
  lu.assertEquals(pool:gc().live, live, "a volatile attribute allocates nothing")
  pool:close()
  -- a new run: the stored attribute is there, the volatile one is not
  -- (test_volatile_attribute_gone_in_a_new_process does it in a child)
  local pool2 = assert(pmem.open(path))
  local o2 = pool2.root.obj
  lu.assertEquals(o2.kept, "stored")
  lu.assertNil(o2._v_secret, "volatile attributes do not survive a close and reopen")
  lu.assertNil(rawget(pmem.tolua(o2), "_v_secret"))
  pool2:close()
end

function test_volatile_attribute_gone_in_a_new_process()
  local luapath = mymod_path()
  local path = point_pool(luapath)
  child_ok(luapath, [[
    local pool = assert(pmem.open(...))
    pool.root._v_note = "volatile"
    pool.root.note = "stored"
    assert(pool.root._v_note == "volatile")
    pool:close()
  ]], path)
  local out = child_ok(luapath, [[
    local pool = assert(pmem.open(...))
    print(pool.root.note, pool.root._v_note, pool.root._v_loaded)
    pool:close()
  ]], path)
  lu.assertEquals(out, "stored\tnil\t1\n")
end

-- }============================================

-- {============================================ __load

function test_load_runs_on_creation_before_init()
  local C = pmem.class(cname("LoadFirst"))
  local events = {}
  function C:__load()
    events[#events + 1] = "load:" .. tostring(self.x)
    self._v_cache = "ready"
  end
  function C:init(x)
    events[#events + 1] = "init:" .. tostring(self._v_cache)
    self.x = x
  end
  local pool = newpool()
  local o = pool:new(C, 7)
  lu.assertEquals(events, { "load:nil", "init:ready" })
  lu.assertEquals(o.x, 7)
  lu.assertEquals(o._v_cache, "ready")
  pool:close()
end

function test_load_runs_once_per_run()
  local C = pmem.class(cname("LoadOnce"))
  local loads = 0
  function C:__load() loads = loads + 1 end
  local pool = newpool()
  pool.root = pool:table()
  pool.root.o = pool:new(C)
  lu.assertEquals(loads, 1)
  local _ = pool.root.o, pool.root.o
  collectgarbage(); collectgarbage()
  local _ = pool.root.o
  lu.assertEquals(loads, 1, "no second __load in the same run")
  pool:close()
end

function test_load_runs_again_after_close_and_reopen_in_this_process()
  local C = pmem.class(cname("LoadReopen"))
  local loads = {}
  function C:__load() loads[#loads + 1] = self.x or "new" end
  function C:init(x) self.x = x end
  local pool, path = newpool()
  pool.root = pool:new(C, "stored x")
  pool.root._v_mark = true
  lu.assertEquals(loads, { "new" })
  pool:close()
  for run = 2, 3 do
    pool = assert(pmem.open(path))
    lu.assertEquals(#loads, run - 1, "__load runs when the object is read, not at open")
    lu.assertNil(pool.root._v_mark)
    pool.root._v_mark = true
    local _ = pool.root
    lu.assertEquals(#loads, run)
    lu.assertEquals(loads[run], "stored x", "__load sees the stored attributes")
    pool:close()
  end
end

function test_load_inherited_from_parent()
  local A = pmem.class(cname("LoadParent"))
  local who = {}
  function A:__load() who[#who + 1] = self.kind end
  local B = pmem.class(cname("LoadChild"), A)
  B.kind = "child"
  local pool = newpool()
  pool:new(B)
  lu.assertEquals(who, { "child" })
  pool:close()
end

-- }============================================

-- {============================================ finding classes in a new process

function test_object_read_in_child_that_requires_the_module()
  local luapath = mymod_path()
  local path = point_pool(luapath)
  local out = child_ok(luapath, [[
    local Point = require("mymod").Point
    local pool = assert(pmem.open(...))
    local p = pool.root
    print(pmem.type(p), p.x, p.y, p:norm2(), p.kind, #p.tags, p.tags[2], LOADS,
          p._v_loaded, MYMOD_REQUIRED)
    local _ = pool.root
    print(LOADS)
    pool:close()
  ]], path)
  lu.assertEquals(out, "object\t3\t4\t25\tpoint\t2\tb\t1\t1\t1\n1\n")
end

function test_object_read_in_child_that_does_not_require_the_module()
  local luapath = mymod_path()
  local path = point_pool(luapath)
  local out = child_ok(luapath, [[
    assert(package.loaded.mymod == nil)
    local pool = assert(pmem.open(...))
    assert(package.loaded.mymod == nil, "required at open already")
    local p = pool.root
    print(package.loaded.mymod ~= nil, MYMOD_REQUIRED, p.x, p:norm2(), p.kind, LOADS)
    p:move(1, 1)
    pool:close()
  ]], path)
  lu.assertEquals(out, "true\t1\t3\t25\tpoint\t1\n")
  out = child_ok(luapath, [[
    local pool = assert(pmem.open(...))
    print(pool.root.x, pool.root.y)
    pool:close()
  ]], path)
  lu.assertEquals(out, "4\t5\n")
end

-- an object whose class cannot be found can be looked at (attributes,
-- pairs, tostring naming the class, pmem.tolua, in a table that holds
-- it); only calling a method raises, naming the class and the module
local LOOK = [[
  local pool = assert(pmem.open(...))
  local o = pool.root
  print(o.x, o.y, #o.tags, o.tags[2])
  local keys = {}
  for k in pairs(o) do keys[#keys + 1] = k end
  print(table.concat(keys, ","))
  print(tostring(o))
  print(pmem.tolua(o).tags[1], pmem.tolua(pool:table({ p = o })).p.x)
  local ok, e = pcall(function() local n = o:norm2(); return n end)
  print(ok, e)
  pool:close()
]]

function test_unknown_class_module_missing_can_be_looked_at()
  local luapath = mymod_path()
  local path = point_pool(luapath)
  local out, code, err = child(nil, LOOK, path)
  lu.assertEquals(code, 0, err)
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
  lu.assertEquals(lines[1], "3\t4\t2\tb")
  lu.assertEquals(lines[2], "x,y,tags")
  lu.assertEquals(lines[3], "pmem.object mymod.Point (class not loaded): {x=3, y=4, tags=pmem.list}")
  lu.assertEquals(lines[4], "a\t3")
  lu.assertStrContains(lines[5], "false\t")
  lu.assertStrContains(lines[5], "cannot call method 'norm2': class 'mymod.Point' is not loaded")
  lu.assertStrContains(lines[5], "module 'mymod' not found")
  -- the object was not lost: with the module, it reads back whole
  out = child_ok(luapath, [[
    local pool = assert(pmem.open(...))
    print(pool.root.x, pool.root.y, #pool.root.tags, pool.root:norm2())
    pool:close()
  ]], path)
  lu.assertEquals(out, "3\t4\t2\t25\n")
end

function test_unknown_class_module_does_not_define_it()
  local luapath = mymod_path()
  local path = point_pool(luapath)
  local other = helper.tmpdir()
  write(other .. "/mymod.lua", "LOADED_WRONG_MYMOD = true\nreturn {}\n")
  local out, code, err = child(other .. "/?.lua;;", [[
    local pool = assert(pmem.open(...))
    local o = pool.root
    print(LOADED_WRONG_MYMOD, o.x, pcall(function() local n = o:norm2(); return n end))
    pool:close()
  ]], path)
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "true\t3\tfalse\t")
  lu.assertStrContains(out, "class 'mymod.Point' is not loaded (module 'mymod' does not define it)")
end

function test_unknown_class_without_a_dot_names_it()
  local path = helper.pool_path()
  child_ok(nil, [[
    local C = pmem.class("LonelyClass")
    function C:hi() return "hi" end
    local pool = assert(pmem.open(..., "x", pmem.MIN_POOL_SIZE))
    pool.root = pool:table({ o = pool:new(C) })
    pool.root.o.n = 7
    pool:close()
  ]], path)
  local out = child_ok(nil, [[
    local pool = assert(pmem.open(...))
    local t = pool.root
    print(tostring(t), t.o.n)
    local ok, e = pcall(function() local s = t.o:hi(); return s end)
    print(ok, e)
    pool:close()
  ]], path)
  lu.assertStrContains(out, "pmem.table: {o=pmem.object}\t7\n")
  lu.assertStrContains(out, "false\t")
  lu.assertStrContains(out, "class 'LonelyClass' is not loaded (no module to load it from)")
end

function test_unknown_class_found_once_defined()
  -- a class defined after its objects were first read: their methods are
  -- found from then on
  local path = helper.pool_path()
  child_ok(nil, [[
    local C = pmem.class("LateClass")
    local pool = assert(pmem.open(..., "x", pmem.MIN_POOL_SIZE))
    pool.root = pool:new(C)
    pool:close()
  ]], path)
  local out = child_ok(nil, [[
    local pool = assert(pmem.open(...))
    local o = pool.root
    print(pcall(function() local s = o:hi(); return s end))
    local C = pmem.class("LateClass")
    function C:hi() return "hi now" end
    print(o:hi())
    pool:close()
  ]], path)
  lu.assertStrContains(out, "false\t")
  lu.assertStrContains(out, "\nhi now\n")
end

function test_object_of_class_unknown_in_this_process_is_shown_in_child()
  -- a class defined only in this process, read in a child that does not
  -- know it: shown with its class name, not an error
  local C = pmem.class(cname("OnlyHere"))
  local pool, path = newpool()
  pool.root = pool:new(C)
  pool.root.v = 1
  pool:close()
  local out = helper.child_ok([[
    local pool = assert(pmem.open(...))
    print(pool.root)
    pool:close()
  ]], path)
  lu.assertStrContains(out, "OnlyHere")
  lu.assertStrContains(out, "(class not loaded): {v=1}")
end

-- }============================================

-- {============================================ pmem.type, tolua, tostring

function test_type_tolua_tostring()
  local C = pmem.class(cname("Shown"))
  function C:init() self.x = 1; self.name = "pt"; self.items = self._p_pool:list({ "a" }) end
  C.classfield = "not an attribute"
  function C:method() end
  local pool = newpool()
  local o = pool:new(C)
  o._v_tmp = "volatile"
  lu.assertEquals(pmem.type(o), "object")
  local t = pmem.tolua(o)
  lu.assertNil(getmetatable(t))
  lu.assertNil(getmetatable(t.items))
  lu.assertEquals(t, { x = 1, name = "pt", items = { "a" } })
  local s = tostring(o)
  lu.assertEquals(type(s), "string")
  lu.assertStrContains(s, "object")
  lu.assertStrContains(s, "x")
  lu.assertStrContains(s, "pt")
  pool:close()
  lu.assertEquals(pmem.type(o), "object", "pmem.type still answers after close")
  lu.assertStrContains(tostring(o), "object")
end

function test_object_after_close_raises_pool_is_closed()
  local C = pmem.class(cname("Closed"))
  function C:get() return self.x end
  local pool = newpool()
  local o = pool:new(C)
  o.x = 1
  pool.root = o
  pool:close()
  lu.assertErrorMsgContains("pool is closed", function() return o.x end)
  lu.assertErrorMsgContains("pool is closed", function() o.x = 2 end)
  lu.assertErrorMsgContains("pool is closed", function() return o:get() end)
end

-- }============================================

-- {============================================ inheritance and methods

function test_inheritance_override_and_super_call()
  local Animal = pmem.class(cname("Animal"))
  function Animal:init(name) self.name = name; self.sounds = self._p_pool:list() end
  function Animal:speak() return self.name .. " makes a sound" end
  function Animal:record() self.sounds:append(self:speak()) end
  local Dog = pmem.class(cname("Dog"), Animal)
  function Dog:init(name, breed)
    Animal.init(self, name)
    self.breed = breed
  end
  function Dog:speak() return Animal.speak(self) .. ": woof (" .. self.breed .. ")" end
  local pool, path = newpool()
  local d = pool:new(Dog, "Rex", "collie")
  local a = pool:new(Animal, "Generic")
  d:record(); a:record()
  lu.assertEquals(d.sounds[1], "Rex makes a sound: woof (collie)")
  lu.assertEquals(a.sounds[1], "Generic makes a sound")
  lu.assertNil(a.breed)
  pool.root = pool:list({ d, a })
  pool:close()
  -- reopened: each object comes back with its own class
  pool = assert(pmem.open(path))
  lu.assertEquals(pool.root[1]:speak(), "Rex makes a sound: woof (collie)")
  lu.assertEquals(pool.root[2]:speak(), "Generic makes a sound")
  pool:close()
end

function test_methods_use_pool_transactions()
  local Account = pmem.class(cname("Account"))
  function Account:init(balance) self.balance = balance; self.log = self._p_pool:list() end
  function Account:withdraw(n)
    return self._p_pool:transaction(function()
      self.balance = self.balance - n
      self.log:append(-n)
      if self.balance < 0 then error("insufficient funds", 0) end
      return self.balance
    end)
  end
  local pool, path = newpool()
  pool.root = pool:new(Account, 100)
  local acct = pool.root
  lu.assertEquals(acct:withdraw(30), 70)
  local ok, err = pcall(acct.withdraw, acct, 500)
  lu.assertFalse(ok)
  lu.assertEquals(err, "insufficient funds")
  lu.assertEquals(acct.balance, 70)
  lu.assertEquals(pmem.tolua(acct.log), { -30 })
  pool:close()
  pool = assert(pmem.open(path))
  lu.assertEquals(pool.root.balance, 70)
  lu.assertEquals(#pool.root.log, 1)
  pool:close()
end

function test_kill_during_method_transaction_keeps_object_whole()
  local luapath = mymod_path()
  local path = point_pool(luapath)
  -- a move interrupted by kill -9 half-way: x changed, y not yet
  local out, code = child(luapath, [[
    local Point = require("mymod").Point
    local pool = assert(pmem.open(...))
    local p = pool.root
    pool:transaction(function()
      p.x = 1000
      local f = io.open("/proc/self/stat"); local pid = f:read("n"); f:close()
      os.execute("kill -9 " .. pid)
      p.y = 1000
    end)
    print("not reached")
  ]], path)
  lu.assertNotEquals(code, 0)
  lu.assertEquals(out, "")
  out = child_ok(luapath, [[
    local pool = assert(pmem.open(...))
    print(pool.root.x, pool.root.y, LOADS)
    pool:close()
  ]], path)
  lu.assertEquals(out, "3\t4\t1\n")
end

-- }============================================

os.exit(lu.LuaUnit.run())
