-- test_robustness.lua -- regressions for the ways Lua code can interfere with
-- a pool operation: finalizers that bring proxies back or close pools,
-- __load hooks that change what is being read, <close> inside a transaction,
-- and a damaged pool's collection at open. Each case crashed or corrupted
-- data once; now each must end in an error or a correct result.
local lu = require "luaunit"
local helper = require "helper"

local function newpool(size)
  local path = helper.pool_path()
  return assert(pmem.open(path, "c", size or pmem.MIN_POOL_SIZE)), path
end

TestFinalizers = {}

-- a proxy that a finalizer keeps is dead once its object is collected
function TestFinalizers.test_resurrected_proxy_is_dead_not_freed_memory()
  local pool = newpool()
  local saved
  do
    local t = pool:table()
    setmetatable({}, { __gc = function() saved = t end })
  end
  lu.assertEquals(pool:gc().collected, 1)
  lu.assertNotNil(saved)
  local ok, err = pcall(function() saved.b = ("y"):rep(100) end)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "no longer exists")
  lu.assertEquals(pool:gc().live, 0)
  pool:close()
end

-- a proxy waiting for its finalizer still holds its object
function TestFinalizers.test_object_with_live_proxy_survives_gc()
  local pool = newpool()
  local t = pool:table { x = 1 }
  lu.assertEquals(pool:gc().collected, 0)
  t.y = 2
  lu.assertEquals(t.x + t.y, 3)
  pool:close()
end

function TestFinalizers.test_finalizer_closing_the_pool_during_gc()
  local pool = newpool()
  setmetatable({}, { __gc = function() pool:close() end })
  local ok, err = pcall(pool.gc, pool)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "pool is closed")
end

TestClose = {}

function TestClose.test_close_variable_inside_own_transaction_raises_and_aborts()
  local pool, path = newpool()
  pool.root = {}
  local ok, err = pcall(pool.transaction, pool, function()
    pool.root.x = "x"
    do local p <close> = pool end         -- luacheck: ignore p
    return "ok"
  end)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "cannot close a pool inside its transaction")
  lu.assertNil(pool.root.x)
  pool:close()
  local out = helper.child_ok([[
    local p = assert(pmem.open(...)); print(p.root.x); p:close()]], path)
  lu.assertEquals(out, "nil\n")
end

TestLoadHooks = {}

-- __load runs while an item is being pushed; it may change the list
function TestLoadHooks.test_remove_while_load_changes_the_list()
  local pool, path = newpool()
  local name = "robust_c" .. tostring(os.time()) .. math.random(1e6)
  local C = pmem.class(name)
  pool.root = { l = pool:list { "a" } }
  pool.root.l:append(pool:new(C))
  pool:close()
  C.__load = function(self) self._p_pool.root.l:remove() end
  pool = assert(pmem.open(path))
  local ok = pcall(function() return pool.root.l:remove() end)
  -- either way: a consistent list and exact counts
  local l = pool.root.l
  lu.assertEquals(#l, ok and 0 or 1)
  if not ok then lu.assertEquals(l[1], "a") end
  pool:close()
  C.__load = nil
  pool = assert(pmem.open(path))
  lu.assertEquals(pool:gc().live, 2)      -- root table and the list
  pool:close()
end

function TestLoadHooks.test_pairs_when_load_closes_the_pool()
  local pool, path = newpool()
  local name = "robust_d" .. tostring(os.time()) .. math.random(1e6)
  local C = pmem.class(name)
  pool.root = {}
  pool.root[pool:new(C)] = "v"
  pool:close()
  C.__load = function(self) self._p_pool:close() end
  pool = assert(pmem.open(path))
  local ok, err = pcall(function() for _ in pairs(pool.root) do end end)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "pool is closed")
end

TestSequences = {}

function TestSequences.test_list_and_tuple_refuse_holes()
  local pool = newpool()
  for _, ctor in ipairs { "list", "tuple" } do
    local ok, err = pcall(pool[ctor], pool, { 1, nil, 3 })
    lu.assertFalse(ok, ctor)
    lu.assertStrContains(err, "hole")
  end
  lu.assertEquals(pool:gc().live, 0)
  pool:close()
end

TestDamage = {}

-- an unreachable container whose body offset is garbage, found by the
-- collection at the open after an unclean run: an error, never a crash
function TestDamage.test_full_collection_reports_damaged_garbage()
  local path = helper.pool_path()
  helper.child_env_ok(helper.DIRECT, [[
    local pool = assert(pmem.open(..., "c", pmem.MIN_POOL_SIZE))
    pool.root = { keep = 1 }
    ORPHAN = pool:table { marker = "ORPHAN-MARKER-0123456789" }
    os.exit(0)                                   -- no close: an unclean run
  ]], path)
  -- damage the page holding the orphan's data: every word becomes an
  -- offset far outside the pool
  local f = assert(io.open(path, "r+b"))
  local data = f:read("a")
  local at = data:find("ORPHAN-MARKER-0123456789", 1, true)
  lu.assertNotNil(at, "marker not found")
  local page = (at - 1) // 4096 * 4096
  f:seek("set", page)
  local junk = {}
  for i = 1, 512 do junk[i] = string.pack("<I8", 0x7ffffff00000 + i * 8) end
  f:write(table.concat(junk))
  f:close()
  local out, code = helper.child([[
    local p, msg = pmem.open(...)
    if p then p:close() print("opened") else print(msg) end]], path)
  lu.assertEquals(code, 0, "the process crashed: " .. out)
  lu.assertTrue(out:find("opened", 1, true) ~= nil or out:find("damaged", 1, true) ~= nil, out)
end

os.exit(lu.LuaUnit.run())
