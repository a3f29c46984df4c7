-- test_reads.lua -- the read fast paths give exactly what a full lookup
-- gives: the inline cache of t.k follows every change (writes, rehashes,
-- deletes, rollbacks, close), l[i] follows list changes, keys are told
-- apart by type, proxies by identity, and a metamethod or iterator handed
-- the wrong value or kind raises instead of reading it. Every scenario runs
-- twice: in this process, where pmlua reads arguments straight from Lua's
-- stack (src/lb_peek.h), and in a child with PMLUA_API_READS=1, where
-- every read goes through the C API.
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

-- SCENARIOS returns name -> function(path); each creates its pool at path
local SCENARIOS = [==[
local pmem = pmem or require "pmem"
local S = {}
local Thing = pmem.class("test_reads.Thing")

local function newpool(path) return assert(pmem.open(path, "x", 16 * 1024 * 1024)) end

local function raises(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error matching " .. pattern)
  assert(tostring(err):find(pattern), "error '" .. tostring(err) .. "' does not match " .. pattern)
end

function S.cache_follows_changes(path)
  local pool = newpool(path)
  local t = pool:table { k = 1, a = "x" }
  assert(t.k == 1 and t.k == 1)
  t.k = 2
  assert(t.k == 2)
  for i = 1, 1000 do t["key" .. i] = i end          -- several rehashes
  assert(t.k == 2 and t.a == "x")
  for i = 1, 1000, 7 do assert(t["key" .. i] == i) end
  for i = 1, 1000 do
    assert(t.k == 2, "t.k after interleaved reads")
    assert(t["key" .. i] == i)
  end
  t.k = nil
  assert(t.k == nil and t.k == nil)
  t.k = "back"
  assert(t.k == "back")
  for i = 1, 1000 do t["key" .. i] = nil end        -- shrinks
  assert(t.k == "back" and t.a == "x")
  t.k = pool:list { 1 }
  assert(pmem.type(t.k) == "list" and t.k[1] == 1 and rawequal(t.k, t.k))
  pool:close()
end

function S.cache_and_rollback(path)
  local pool = newpool(path)
  local t = pool:table { k = 1 }
  local l = pool:list { 1, 2, 3 }
  assert(t.k == 1 and l[3] == 3)
  local ok = pcall(pool.transaction, pool, function()
    t.k = 5
    assert(t.k == 5)
    for i = 1, 500 do t["x" .. i] = i end
    assert(t.k == 5)
    l[3] = 30
    l:append(4)
    assert(l[3] == 30 and l[4] == 4)
    error("roll back")
  end)
  assert(not ok)
  assert(t.k == 1 and t.x1 == nil, "t.k after the rollback")
  assert(#l == 3 and l[3] == 3 and l[4] == nil, "l after the rollback")
  ok = pcall(pool.transaction, pool, function()
    t.k = nil
    assert(t.k == nil)
    error("roll back")
  end)
  assert(not ok and t.k == 1)
  pool:close()
end

function S.cache_after_close(path)
  local pool = newpool(path)
  pool.root = pool:table { k = 1, l = pool:list { 1 } }
  local t, l = pool.root, pool.root.l
  assert(t.k == 1 and l[1] == 1 and t.k == 1)       -- kept by the root: not freed
  pool:close()
  raises("pool is closed", function() return t.k end)
  raises("pool is closed", function() return l[1] end)
  pool = assert(pmem.open(path))
  raises("pool is closed", function() return t.k end)
  assert(pool.root.k == 1 and pool.root.l[1] == 1)
  pool:close()
end

function S.cache_and_rollback_of_new_keys(path)
  local pool = newpool(path)
  pool.root = pool:table { k = 1 }
  local t = pool.root
  local l = pool:list { 1, 2, 3 }
  local ok = pcall(pool.transaction, pool, function()
    t.new = 5
    l:append(4)
    assert(t.new == 5 and l[4] == 4 and t.new == 5)
    error("roll back")
  end)
  assert(not ok)
  assert(t.new == nil and t.k == 1, "a key added in a rolled-back transaction")
  assert(l[4] == nil and #l == 3, "an item added in a rolled-back transaction")
  pool:close()
end

function S.finalized_proxy_brought_back(path)
  local pool = newpool(path)
  pool.root = pool:list { pool:table { k = 1 }, pool:list { 1 } }
  local t, l = pool.root[1], pool.root[2]
  assert(t.k == 1 and l[1] == 1 and t.k == 1)       -- caches warm
  local back
  setmetatable({ t, l }, { __gc = function(h) back = h end })
  t, l = nil, nil
  collectgarbage(); collectgarbage()
  assert(back, "the finalizer did not run")
  raises("no longer exists", function() return back[1].k end)
  raises("no longer exists", function() return back[2][1] end)
  assert(pool.root[1].k == 1 and pool.root[2][1] == 1)  -- new proxies
  pool:close()
end

function S.proxy_without_its_finalizer(path)
  local pool = newpool(path)
  pool.root = pool:table { k = 1 }
  for _ = 1, 50 do
    local p = pool.root
    assert(p.k == 1)
    debug.setmetatable(p, nil)                      -- freed without __gc
    p = nil
    collectgarbage(); collectgarbage()
    local junk = {}
    for i = 1, 20 do junk[i] = io.tmpfile() end     -- other userdata, reused memory
    for i = 1, 20 do junk[i]:close() end
    assert(pool.root.k == 1)
  end
  pool:close()
end

function S.created_then_rolled_back(path)
  local pool = newpool(path)
  local kept, keptl
  local ok = pcall(pool.transaction, pool, function()
    kept = pool:table { k = 1 }
    keptl = pool:list { 1 }
    assert(kept.k == 1 and keptl[1] == 1)
    error("roll back")
  end)
  assert(not ok)
  raises("no longer exists", function() return kept.k end)
  raises("no longer exists", function() return keptl[1] end)
  pool:close()
end

function S.keys_told_apart(path)
  local pool = newpool(path)
  local t = pool:table()
  local addr = math.tointeger(tonumber(string.format("%p", "k")))
  assert(addr, "no address for a string")
  t[addr] = "integer"
  t.k = "string"
  for _ = 1, 3 do
    assert(t.k == "string")
    assert(t[addr] == "integer")
    assert(t[addr + 0.0] == "integer")
  end
  local long1 = string.rep("long key ", 10)
  local long2 = string.rep("long key ", 9) .. "long key "   -- equal, another object
  t[long1] = "long"
  assert(t[long1] == "long" and t[long2] == "long" and t[long1] == "long")
  assert(t[true] == nil and t[1.5] == nil and t[{}] == nil)
  local other = pool:table { k = "other" }
  t[other] = "by identity"
  assert(t[other] == "by identity" and other.k == "other" and t.k == "string")
  pool:close()
end

function S.list_positions(path)
  local pool = newpool(path)
  local l = pool:list { 10, 20, 30 }
  assert(l[1] == 10 and l[3] == 30)
  assert(l[0] == nil and l[4] == nil and l[-1] == nil)
  assert(l[math.mininteger] == nil and l[math.maxinteger] == nil)
  assert(l[2.0] == 20 and l[2.5] == nil)
  assert(l["2"] == nil and l["1"] == nil)
  assert(type(l.append) == "function" and l.nosuch == nil)
  l:append(40)
  assert(l[4] == 40)
  table.insert(l, 1, 5)
  assert(l[1] == 5 and l[2] == 10 and l[5] == 40)
  assert(table.remove(l, 1) == 5 and l[1] == 10 and l[5] == nil)
  l[2] = "twenty"
  assert(l[2] == "twenty")
  l[#l] = nil
  assert(#l == 3 and l[4] == nil)
  l:clear()
  assert(l[1] == nil)
  local tu = pool:tuple { 1.5, "b" }
  assert(tu[1] == 1.5 and tu[2] == "b" and tu[3] == nil)
  pool:close()
end

function S.proxies_told_apart(path)
  local pool = newpool(path)
  local a, b = pool:table { k = "a" }, pool:table { k = "b" }
  local la, lb = pool:list { "a" }, pool:list { "b", "b2" }
  for _ = 1, 3 do
    assert(a.k == "a" and b.k == "b" and a.k == "a")
    assert(la[1] == "a" and lb[1] == "b" and la[2] == nil and lb[2] == "b2")
    assert(a.k == "a" and la[1] == "a")
  end
  pool.root = pool:list()
  for i = 1, 200 do pool.root:append(pool:table { k = i }) end
  a, la = nil, nil
  for i = 1, 200 do
    collectgarbage()
    local t = pool.root[i]                      -- new proxies, reused memory
    assert(t.k == i and b.k == "b" and lb[1] == "b")
  end
  local co = coroutine.wrap(function()
    for i = 1, 200, 10 do
      assert(pool.root[i].k == i and b.k == "b")
      coroutine.yield(lb[2])
    end
    return "done"
  end)
  assert(co() == "b2" and co() == "b2")
  pool:close()
end

function S.wrong_arguments(path)
  local pool = newpool(path)
  local t = pool:table { k = 1 }
  local l = pool:list { 1, 2 }
  local s, tu = pool:set { 1 }, pool:tuple { 1 }
  local o = pool:new(Thing)
  o.k = 2
  local tmeta, lmeta = debug.getmetatable(t), debug.getmetatable(l)
  assert(t.k == 1 and l[1] == 1)
  -- wrong numbers of arguments (the slot past the last one holds a key)
  assert(tmeta.__index(t, "k") == 1 and tmeta.__index(t) == nil)
  assert(tmeta.__index(t, "k", "extra") == 1)
  raises("persistent value expected", tmeta.__index)
  assert(lmeta.__index(l, 2) == 2 and lmeta.__index(l) == nil)
  assert(lmeta.__index(l, 2, "extra") == 2)
  raises("persistent value expected", lmeta.__index)
  -- values that are not proxies, light userdata among them
  local light
  for k in pairs(debug.getregistry()) do
    if type(k) == "userdata" and debug.getmetatable(k) == nil then light = k; break end
  end
  assert(light, "no light userdata in the registry (pmem registers some)")
  for _, v in ipairs { 1, "k", {}, io.stdout, light } do
    raises("persistent value expected", tmeta.__index, v, "k")
    raises("persistent value expected", lmeta.__index, v, 1)
    raises("persistent value expected", tmeta.__newindex, v, "k", 1)
  end
  -- proxies of the other layout
  local tnext, lnext = pairs(t), pairs(l)
  for _, v in ipairs { l, tu } do
    raises("pmem table expected", tnext, v)
    raises("pmem table expected", tmeta.__index, v, "k")
    raises("pmem table expected", tmeta.__newindex, v, "k", 1)
    raises("pmem table expected", tmeta.__len, v)
  end
  for _, v in ipairs { t, s, o } do
    raises("pmem list expected", lnext, v, 0)
    raises("pmem list expected", lmeta.__index, v, 1)
    raises("pmem list expected", lmeta.__newindex, v, 1, 1)
    raises("pmem list expected", lmeta.__len, v)
  end
  assert(t.k == 1 and #l == 2 and l[2] == 2 and s:contains(1) and tu[1] == 1 and o.k == 2)
  pool:close()
end

function S.methods_gone_from_the_registry(path)
  local pool = newpool(path)
  local l = pool:list { 1 }
  assert(pmem._meta == nil and pmem._methods == nil, "metatables are not for users")
  local reg, saved = debug.getregistry(), {}
  for k, v in pairs(reg) do
    if type(k) == "userdata" and type(v) == "table" and rawget(v, "append") then saved[k] = v end
  end
  assert(next(saved), "the list methods are not in the registry")
  for k in pairs(saved) do reg[k] = 42 end
  raises("methods of list are gone", function() return l.append end)
  assert(l[1] == 1)
  for k, v in pairs(saved) do reg[k] = v end
  assert(type(l.append) == "function")
  pool:close()
end

return S
]==]

local scenarios = assert(load(SCENARIOS, "=scenarios"))()

local function names()
  local ns = {}
  for n in pairs(scenarios) do ns[#ns + 1] = n end
  table.sort(ns)
  return ns
end

TestReads = {}

function TestReads.test_stack_reads_on_in_pmlua()
  lu.assertTrue(pmem._peek, "pmlua should read arguments from the stack")
  local out = helper.run_cmd("PMLUA_API_READS=1 " .. helper.q(helper.PMLUA) ..
                             " -e 'io.write(tostring(pmem._peek))'")
  lu.assertEquals(out, "false")
end

function TestReads.test_stock_lua_reads_through_the_api()
  if not helper.PMEM_SO_DIR or helper.PMEM_SO_DIR == "" then
    lu.skip("no pmem.so in this build")
  end
  local out, code, err = helper.run_cmd("LUA_CPATH=" .. helper.q(helper.PMEM_SO_DIR .. "/?.so") ..
    " " .. helper.q(helper.LUA54) .. " -e 'io.write(tostring(require(\"pmem\")._peek))'")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "false")
end

-- one test per scenario in this process (reads from the stack)
for _, n in ipairs(names()) do
  TestReads["test_" .. n] = function()
    scenarios[n](helper.fast_pool_path(n .. ".pmem"))
  end
end

-- every scenario again, reads through the C API
function TestReads.test_all_scenarios_through_the_api()
  local runner = SCENARIOS:gsub("\nreturn S\n$", "\n") .. [[
assert(pmem._peek == false, "PMLUA_API_READS did not turn stack reads off")
local n = 0
for name, f in pairs(S) do f(arg[1] .. "/" .. name .. ".pmem"); n = n + 1 end
io.write("ran ", n)
]]
  local f = os.tmpname()
  local h = assert(io.open(f, "w")); h:write(runner); h:close()
  local dir = helper.fast_pool_path("x"):match("^(.*)/")
  local out, code, err = helper.run_cmd("PMLUA_API_READS=1 " .. helper.q(helper.PMLUA) ..
                                        " " .. f .. " " .. helper.q(dir))
  os.remove(f)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "ran " .. #names())
end

-- the differential test of test_differential.lua, reads through the C API
function TestReads.test_differential_through_the_api()
  local out, code, err = helper.run_cmd("PMLUA_API_READS=1 PMLUA_DIFF_OPS=20000 " ..
    helper.q(helper.PMLUA) .. " tests/test_differential.lua -o text")
  lu.assertEquals(code, 0, err .. out)
  lu.assertStrContains(out, "OK")
end

os.exit(lu.LuaUnit.run())
