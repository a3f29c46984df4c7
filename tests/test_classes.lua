-- test_classes.lua -- the metamethods of a class, honoured on its stored
-- objects as on a plain table with that metatable: operators, comparison,
-- __call, __close, __len, __pairs, a function or table __index for missing
-- attributes, __newindex with rawset; inheritance through pmem.class(name,
-- parent), metamethods defined after objects exist, redefined or removed;
-- the ones that cannot be honoured refused at once; objects read back in
-- a new process (docs/reference.md, "Metamethods").
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

local nclass = 0
local function cname(base)
  nclass = nclass + 1
  return ("%s%d"):format(base, nclass)
end

local function newpool()
  return (helper.newpool())
end

-- Vec: a class with every operator metamethod, on attribute x
local function vec_class()
  local V = pmem.class(cname("Vec"))
  function V:init(x) self.x = x end
  local function new(a, x) return a._p_pool:new(V, x) end
  local function xof(v) return type(v) == "number" and v or v.x end
  V.__add = function(a, b) return new(pmem.type(a) and a or b, xof(a) + xof(b)) end
  V.__sub = function(a, b) return xof(a) - xof(b) end
  V.__mul = function(a, b) return xof(a) * xof(b) end
  V.__div = function(a, b) return xof(a) / xof(b) end
  V.__mod = function(a, b) return xof(a) % xof(b) end
  V.__pow = function(a, b) return xof(a) ^ xof(b) end
  V.__unm = function(a) return -a.x end
  V.__idiv = function(a, b) return xof(a) // xof(b) end
  V.__band = function(a, b) return xof(a) & xof(b) end
  V.__bor = function(a, b) return xof(a) | xof(b) end
  V.__bxor = function(a, b) return xof(a) ~ xof(b) end
  V.__shl = function(a, b) return xof(a) << xof(b) end
  V.__shr = function(a, b) return xof(a) >> xof(b) end
  V.__bnot = function(a) return ~a.x end
  V.__concat = function(a, b)
    return tostring(pmem.type(a) and a.x or a) .. "|" .. tostring(pmem.type(b) and b.x or b)
  end
  V.__eq = function(a, b) return a.x == b.x end
  V.__lt = function(a, b) return xof(a) < xof(b) end
  V.__le = function(a, b) return xof(a) <= xof(b) end
  V.__call = function(self, k, extra) return self[k], extra end
  V.__len = function(self) return self.x * 10 end
  return V
end

function test_operators_call_the_class_metamethods()
  local V = vec_class()
  local pool = newpool()
  local a, b = pool:new(V, 12), pool:new(V, 5)
  lu.assertEquals((a + b).x, 17)
  lu.assertEquals((a + 1).x, 13)
  lu.assertEquals((1 + a).x, 13, "the right operand's class when the left has none")
  lu.assertEquals(a - b, 7)
  lu.assertEquals(a * b, 60)
  lu.assertEquals(a / b, 2.4)
  lu.assertEquals(a % b, 2)
  lu.assertEquals(a ^ 2, 144.0)
  lu.assertEquals(-a, -12)
  lu.assertEquals(a // b, 2)
  lu.assertEquals(a & b, 4)
  lu.assertEquals(a | b, 13)
  lu.assertEquals(a ~ b, 9)
  lu.assertEquals(a << 1, 24)
  lu.assertEquals(a >> 2, 3)
  lu.assertEquals(~a, ~12)
  lu.assertEquals(a .. b, "12|5")
  lu.assertEquals("s" .. a, "s|12")
  lu.assertEquals(#a, 120)
  lu.assertEquals({ a("x", "more") }, { 12, "more" })
  pool:close()
end

function test_comparisons_call_eq_lt_le()
  local V = vec_class()
  local pool = newpool()
  local a, b, c = pool:new(V, 1), pool:new(V, 1), pool:new(V, 2)
  lu.assertFalse(rawequal(a, b))
  lu.assertTrue(a == b)
  lu.assertFalse(a ~= b)
  lu.assertFalse(a == c)
  lu.assertTrue(a < c)
  lu.assertFalse(c < a)
  lu.assertTrue(a <= b)
  lu.assertTrue(c > a)
  lu.assertTrue(c >= b)
  -- as on plain tables, __eq is not called for an object and a non-userdata
  lu.assertFalse(a == 1)
  -- persistent objects are usable as values of plain tables found by ==
  lu.assertEquals(#({ a, b, c }), 3)
  pool:close()
end

function test_without_metamethods_lua_raises_its_own_errors()
  local C = pmem.class(cname("Bare"))
  local pool = newpool()
  local o, p = pool:new(C), pool:new(C)
  lu.assertFalse(o == p)
  lu.assertErrorMsgContains("attempt to perform arithmetic on a pmem.object value",
                            function() return o + 1 end)
  lu.assertErrorMsgContains("attempt to compare two pmem.object values",
                            function() return o < p end)
  lu.assertErrorMsgContains("attempt to concatenate a pmem.object value",
                            function() return o .. "" end)
  lu.assertErrorMsgContains("attempt to call a pmem.object value", function() return o() end)
  local ok, err = pcall(load("local o = ...; local x <close> = o"), o)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "non-closable value")
  lu.assertEquals(#o, 0)
  pool:close()
end

function test_close_runs_the_class_metamethod()
  local C = pmem.class(cname("Closing"))
  local seen = {}
  function C:__close(err) seen[#seen + 1] = { self.name, err } end
  local pool = newpool()
  local o = pool:new(C)
  o.name = "res"
  do
    local x <close> = o
  end
  lu.assertEquals(seen, { { "res", nil } })
  pcall(function()
    local x <close> = o
    error("boom", 0)
  end)
  lu.assertEquals(seen[2], { "res", "boom" })
  pool:close()
end

function test_index_function_for_missing_attributes()
  local C = pmem.class(cname("Defaults"))
  C.colour = "red"
  local asked = {}
  C.__index = function(self, k)
    asked[#asked + 1] = k
    return "default " .. tostring(k)
  end
  local pool = newpool()
  local o = pool:new(C)
  o.stored = 1
  lu.assertEquals(o.stored, 1)                     -- stored attribute first
  lu.assertEquals(o.colour, "red")                 -- then the class field
  lu.assertEquals(o.size, "default size")          -- then __index
  lu.assertEquals(o[5], "default 5")
  lu.assertEquals(asked, { "size", 5 })
  lu.assertNil(rawget(o, "size"))
  pool:close()
end

function test_index_table_for_missing_attributes()
  local C = pmem.class(cname("Fallback"))
  C.__index = { size = 3 }
  local pool = newpool()
  local o = pool:new(C)
  lu.assertEquals(o.size, 3)
  lu.assertNil(o.other)
  -- the usual idiom Class.__index = Class changes nothing
  local D = pmem.class(cname("Idiom"))
  D.__index = D
  function D:hi() return "hi" end
  local d = pool:new(D)
  lu.assertEquals(d:hi(), "hi")
  lu.assertNil(d.nothing)
  pool:close()
end

function test_newindex_for_new_attributes_and_rawset()
  local C = pmem.class(cname("Guarded"))
  local log = {}
  function C:__newindex(k, v)
    log[#log + 1] = k
    if type(v) ~= "number" then error("numbers only", 2) end
    rawset(self, k, v * 10)
  end
  local pool = newpool()
  local o = pool:new(C)
  o.a = 1
  lu.assertEquals(o.a, 10)
  o.a = 2                                   -- present: stored directly
  lu.assertEquals(o.a, 2)
  lu.assertErrorMsgContains("numbers only", function() o.b = "x" end)
  lu.assertNil(o.b)
  lu.assertEquals(log, { "a", "b" })
  rawset(o, "c", "raw")
  lu.assertEquals(o.c, "raw")
  lu.assertEquals(rawget(o, "c"), "raw")
  lu.assertEquals(rawlen(pool:list({ 1, 2 })), 2)
  -- a table __newindex receives the assignment
  local D = pmem.class(cname("Redirect"))
  local sink = {}
  D.__newindex = sink
  local d = pool:new(D)
  d.k = "v"
  lu.assertEquals(sink.k, "v")
  lu.assertNil(rawget(d, "k"))
  pool:close()
end

function test_pairs_and_len_metamethods()
  local C = pmem.class(cname("Listing"))
  function C:__pairs()
    local keys, i = { "b", "a" }, 0
    return function() i = i + 1; local k = keys[i]; if k then return k, self[k] end end
  end
  local pool = newpool()
  local o = pool:new(C)
  o.a, o.b = 1, 2
  local seen = {}
  for k, v in pairs(o) do seen[#seen + 1] = k .. v end
  lu.assertEquals(seen, { "b2", "a1" })
  lu.assertEquals(pmem.tolua(o), { a = 1, b = 2 })      -- tolua reads what is stored
  pool:close()
end

function test_metamethods_are_inherited()
  local Base = vec_class()
  local Derived = pmem.class(cname("Derived"), Base)
  local pool = newpool()
  local a, b = pool:new(Derived, 3), pool:new(Derived, 3)
  lu.assertTrue(a == b)
  lu.assertEquals((a + b).x, 6)
  lu.assertEquals(#a, 30)
  lu.assertEquals(a("x"), 3)
  pool:close()
end

function test_metamethods_defined_after_objects_exist()
  local Base = pmem.class(cname("Late"))
  local Derived = pmem.class(cname("LateChild"), Base)
  local pool = newpool()
  local a, d = pool:new(Base), pool:new(Derived)
  a.x, d.x = 1, 2
  lu.assertError(function() return a + d end)
  Base.__add = function(p, q) return p.x + q.x end    -- on the parent, later
  lu.assertEquals(a + d, 3)
  lu.assertEquals(d + a, 3)
  Base.__add = function(p, q) return p.x * 100 + q.x end   -- redefined
  lu.assertEquals(d + a, 201)
  Base.__add = nil                                      -- removed
  lu.assertErrorMsgContains("no longer defines __add", function() return a + d end)
  pool:close()
end

function test_unhonourable_metamethods_raise_at_definition()
  local C = pmem.class(cname("Refuse"))
  for _, name in ipairs { "__gc", "__mode", "__metatable", "__name" } do
    local ok, err = pcall(function() C[name] = function() end end)
    lu.assertFalse(ok, name)
    lu.assertStrContains(err, name)
    lu.assertStrContains(err, "test_classes.lua")     -- where it was defined
    lu.assertNil(rawget(C, name))
  end
  local ok, err = pcall(load("local C = ...; function C:__gc() end"), C)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "cannot define __gc")
end

function test_metamethods_of_objects_read_back_in_a_new_process()
  local dir = helper.tmpdir()
  local f = assert(io.open(dir .. "/money.lua", "w"))
  f:write([[
local pmem = require "pmem"
local Money = pmem.class("money.Money")
function Money:init(cents) self.cents = cents end
function Money.__add(a, b) return a._p_pool:new(Money, a.cents + b.cents) end
function Money.__eq(a, b) return a.cents == b.cents end
function Money.__lt(a, b) return a.cents < b.cents end
function Money:__tostring() return ("%d.%02d"):format(self.cents // 100, self.cents % 100) end
return Money
]])
  f:close()
  local path = helper.pool_path()
  local env = "env LUA_PATH=" .. helper.q(dir .. "/?.lua;;") .. " "
  local function run(src)
    local tmp = os.tmpname()
    local h = assert(io.open(tmp, "w")); h:write(src); h:close()
    local out, code, err = helper.run_cmd(env .. helper.q(helper.PMLUA) .. " " .. tmp
                                          .. " " .. helper.q(path))
    os.remove(tmp)
    lu.assertEquals(code, 0, err)
    return out
  end
  run([[
local pmem = require "pmem"
local Money = require "money"
local pool = assert(pmem.open(..., "x"))
pool.root = pool:list({ pool:new(Money, 150), pool:new(Money, 275), pool:new(Money, 150) })
pool:close()
]])
  -- the module is required when the objects are first read: no require here
  local out = run([[
local pmem = require "pmem"
local pool = assert(pmem.open(...))
local l = pool.root
print(tostring(l[1] + l[2]), l[1] < l[2], l[1] == l[3], l[1] == l[2])
pool:close()
]])
  lu.assertEquals(out, "4.25\ttrue\ttrue\tfalse\n")
end

os.exit(lu.LuaUnit.run())
