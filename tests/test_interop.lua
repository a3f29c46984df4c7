-- test_interop.lua -- the stock lua5.4 with build/pmem.so and pmlua share
-- pools: what one writes, the other reads (issue 2). Real processes of
-- both interpreters.
local lu = require "luaunit"
local helper = require "helper"

local WRITE = [[
local pmem = require "pmem"
local pool = assert(pmem.open(arg[1], "c", pmem.MIN_POOL_SIZE))
local C = pmem.class("interop_point")
pool.root = { by = arg[2], n = 42, f = -0.0, s = ("x"):rep(40),
              l = pool:list { 1, "two", { three = 3 } }, set = pool:set { "a" } }
pool.root.obj = pool:new(C)
pool.root.obj.x = 7
pool:close()
]]

local READ = [[
local pmem = require "pmem"
local C = pmem.class("interop_point")
local pool = assert(pmem.open(arg[1], "r"))
local r = pool.root
print(r.by, r.n, math.type(r.n), 1 / r.f, #r.s, #r.l, r.l[2], r.l[3].three,
      r.set:contains("a"), pmem.type(r.obj), r.obj.x)
pool:close()
]]

local function run(interp, src, ...)
  local f = os.tmpname()
  local h = assert(io.open(f, "w")); h:write(src); h:close()
  local args = {}
  for i = 1, select("#", ...) do args[i] = helper.q(select(i, ...)) end
  local env = interp == "stock"
      and ("LUA_CPATH=" .. helper.q(helper.PMEM_SO_DIR .. "/?.so") .. " " .. helper.LUA54)
      or helper.q(helper.PMLUA)
  local out, code, err = helper.run_cmd(env .. " " .. f .. " " .. table.concat(args, " "))
  os.remove(f)
  lu.assertEquals(code, 0, interp .. " failed: " .. err)
  return out
end

local function skip_without_module()
  lu.skipIf(helper.PMEM_SO_DIR == nil or helper.PMEM_SO_DIR == "",
            "PMEM_SO_DIR is empty (sanitizer build has no pmem.so)")
end

local EXPECT = "\t42\tinteger\t-inf\t40\t3\ttwo\t3\ttrue\tobject\t7\n"

TestInterop = {}

function TestInterop.test_stock_lua_writes_pmlua_reads()
  skip_without_module()
  local path = helper.pool_path()
  run("stock", WRITE, path, "stock")
  lu.assertEquals(run("pmlua", READ, path), "stock" .. EXPECT)
end

function TestInterop.test_pmlua_writes_stock_lua_reads()
  skip_without_module()
  local path = helper.pool_path()
  run("pmlua", WRITE, path, "pmlua")
  lu.assertEquals(run("stock", READ, path), "pmlua" .. EXPECT)
end

-- pmem.so's pmem_msync comes before libpmem's in its own lookup scope, so
-- the log engine works in a stock interpreter too (docs/durability.md)
function TestInterop.test_stock_lua_uses_the_log_engine()
  skip_without_module()
  local path = helper.pool_path()
  lu.assertEquals(run("stock", [[
    local pmem = require "pmem"
    local pool = assert(pmem.create(arg[1], pmem.MIN_POOL_SIZE))
    pool.root = { n = 1 }
    local st = pool:stats()
    local f = io.open(arg[1] .. "-wal")
    print(st.engine, f ~= nil)
    pool:close()]], path), "log\ttrue\n")
  lu.assertEquals(run("pmlua", "local p = assert(pmem.open(...)); print(p.root.n); p:close()", path),
                  "1\n")
end

os.exit(lu.LuaUnit.run())
