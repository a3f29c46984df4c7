-- test_differential.lua -- random operation sequences on a persistent table
-- and a persistent list, driven side by side with a plain Lua model and
-- compared completely after every step (docs/reference.md, "Types": Table and List;
-- "Transactions"; closing and reopening).
--
-- Operations: table set (keys of every kind from a small key space, values
-- of every scalar kind, long and binary strings, nested plain tables with
-- shared parts and cycles) and delete; list append / insert / remove /
-- l[#l] = nil / replace in every form (methods, the table library, index
-- writes); clearing (by l:clear() and by deleting every key during pairs);
-- writes that must raise and change nothing; a transaction of several
-- operations that commits, one that then raises (the model is unchanged,
-- the error value is the same), and one whose function catches the error
-- of an unstorable value (aborted all the same); closing and reopening the
-- pool in this process, and now and then in a child process that dumps
-- the state to compare.
--
-- The model of key order: a new key goes to the end, re-assigning keeps
-- its place, a deleted key set again goes to the end (docs/reference.md,
-- "Tables and room").
--
-- The seed is os.time() unless PMLUA_SEED is set; every failure message
-- starts with it ("seed=N"), so PMLUA_SEED=N replays the same run.
-- PMLUA_DIFF_OPS sets the number of operations (default 100,000).
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

local SEED = math.tointeger(tonumber(os.getenv("PMLUA_SEED") or "")) or os.time()
local NOPS = math.tointeger(tonumber(os.getenv("PMLUA_DIFF_OPS") or "")) or 100000

local function fast_pool_path() return helper.fast_pool_path("diff.pmem") end

-- DUMP is run here and in the child: a text of the table (in pairs order)
-- and the list that both the persistent values and the model can produce.
-- Nested tables are unfolded as trees (sorted keys) down to a depth, so
-- shared parts and cycles give the same text on both sides.
local DUMP = [==[
local function dkey(k)
  if type(k) == "number" then
    if math.type(k) == "integer" then return ("i%d"):format(k) end
    if k ~= k then return "fnan" end
    return "f" .. ("%a"):format(k)
  elseif type(k) == "string" then
    return (("%q"):format(k):gsub("\\\n", "\\n"))
  end
  return tostring(k)
end

local function dval(v, depth)
  if type(v) ~= "table" and not (pmem.type(v)) then return dkey(v) end
  if depth > 4 then return "{...}" end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = dkey(k) .. "=" .. dval(x, depth + 1) end
  table.sort(parts)
  return "{" .. table.concat(parts, ",") .. "}"
end

-- state_text(pairs_of_t, l_len, l_get) -- the canonical text
local function state_text(t_entries, n, get)
  local out = {}
  for _, e in ipairs(t_entries) do out[#out + 1] = "T " .. dkey(e[1]) .. " " .. dval(e[2], 1) end
  out[#out + 1] = "N " .. n
  for i = 1, n do out[#out + 1] = "L " .. dval(get(i), 1) end
  return table.concat(out, "\n") .. "\n"
end
]==]

local dumplib = assert(load("local pmem = ... " .. DUMP .. " return { dkey = dkey, state_text = state_text }",
                            "=DUMP"))(pmem)
local dkey = dumplib.dkey

local CHILD_DUMP = DUMP .. [==[
local pool = assert(pmem.open(arg[1]))
local t, l = pool.root.t, pool.root.l
local entries = {}
for k, v in pairs(t) do entries[#entries + 1] = { k, v } end
io.write(state_text(entries, #l, function(i) return l[i] end))
pool:close()
]==]

-- {============================================ random values

local R = math.random

local KEYS = {
  "a", "b", "c", "", "x\0y", "a key longer than fourteen bytes", "another long key, quite long",
  0, 1, 2, 3, 4, -1, 100, math.maxinteger, math.mininteger,
  1.5, -2.25, 1e100, 2.0, 3.0, -0.0, 2 ^ 63,
  true, false,
}

-- norm(k) -- the key Lua uses for k (an integral float is an integer)
local function norm(k)
  if math.type(k) == "float" then return math.tointeger(k) or k end
  return k
end

local function rand_string()
  local n = R(4) == 1 and R(15, 60) or R(0, 14)
  local b = {}
  for i = 1, n do b[i] = R(3) == 1 and R(0, 255) or R(97, 122) end
  return string.char(table.unpack(b))
end

local FLOATS = { -0.0, 0.0, 1.0, math.huge, -math.huge, 0 / 0, 2 ^ 63, 1e-300 }

local function rand_scalar()
  local c = R(10)
  if c == 1 then return R(2) == 1
  elseif c <= 3 then return R(-1000, 1000)
  elseif c == 4 then return ({ math.maxinteger, math.mininteger, 0 })[R(3)]
  elseif c == 5 then return (R() - 0.5) * 10 ^ R(-5, 10)
  elseif c == 6 then return FLOATS[R(#FLOATS)]
  else return rand_string() end
end

-- rand_table(depth) -- a small plain table; now and then a sequence part,
-- a shared sub-table, a cycle
local function rand_table(depth)
  local t = {}
  for _ = 1, R(0, 4) do
    local v = (depth < 3 and R(4) == 1) and rand_table(depth + 1) or rand_scalar()
    t[KEYS[R(#KEYS)]] = v
  end
  if R(3) == 1 then for i = 1, R(1, 3) do t[i] = rand_scalar() end end
  if depth < 3 and R(6) == 1 then
    local sub = rand_table(depth + 1)
    t.shared1, t.shared2 = sub, sub
  end
  if R(8) == 1 then t.self = t end
  return t
end

local function rand_value()
  if R(6) == 1 then return rand_table(1) end
  return rand_scalar()
end

-- describe(v) -- a short text of a value for the operation log
local function describe(v)
  if type(v) == "table" then return "{table}" end
  local s = dkey(v)
  return #s > 30 and s:sub(1, 27) .. "..." or s
end

-- }============================================

-- {============================================ comparing

local function scalar_eq(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then return false end
    if a ~= a then return b ~= b end
    return a == b and (a ~= 0 or 1 / a == 1 / b)       -- the sign of zero
  end
  return a == b
end

-- same(p, m, map, rmap) -- persistent value p holds model value m; plain
-- tables became persistent tables, sharing and cycles kept (both ways)
local function same(p, m, map, rmap)
  if type(m) ~= "table" then return scalar_eq(p, m) end
  if pmem.type(p) ~= "table" then return false end
  map, rmap = map or {}, rmap or {}
  if map[p] ~= nil or rmap[m] ~= nil then
    return rawequal(map[p], m) and rawequal(rmap[m], p)
  end
  map[p], rmap[m] = m, p
  local n = 0
  for k, v in pairs(m) do
    n = n + 1
    if not same(p[k], v, map, rmap) then return false end
  end
  for _ in pairs(p) do n = n - 1 end
  return n == 0
end

-- }============================================

-- {============================================ the run

local Run = {}
Run.__index = Run

function Run:fail(msg)
  local log = {}
  for i = math.max(1, #self.log - 15), #self.log do log[#log + 1] = "  " .. self.log[i] end
  error(("seed=%d step=%d: %s\n(replay with PMLUA_SEED=%d)\nlast operations:\n%s")
        :format(SEED, self.step, msg, SEED, table.concat(log, "\n")), 0)
end

function Run:check(cond, msg, ...)
  if not cond then self:fail(msg:format(...)) end
end

function Run:note(fmt, ...)
  local log = self.log
  log[#log + 1] = self.step .. ": " .. fmt:format(...)
  if #log > 200 then table.move(log, 101, #log, 1); for i = #log, 101, -1 do log[i] = nil end end
end

function Run:open()
  self.pool = assert(pmem.open(self.path))
  self.t, self.l = self.pool.root.t, self.pool.root.l
end

-- compare -- the persistent table and list against the model, completely
function Run:compare()
  local t, l, order, tm, lm = self.t, self.l, self.order, self.tm, self.lm
  local i = 0
  for k, v in pairs(t) do
    i = i + 1
    local mk = order[i]
    self:check(mk ~= nil, "pairs yields key %s beyond the model's %d keys", dkey(k), #order)
    self:check(scalar_eq(k, mk), "pairs key %d is %s, model %s", i, dkey(k), dkey(mk))
    self:check(same(v, tm[mk]), "value of key %s differs from the model", dkey(k))
  end
  self:check(i == #order, "pairs yields %d keys, model has %d", i, #order)
  for _, k in ipairs(KEYS) do
    self:check(same(t[k], tm[norm(k)]), "t[%s] differs from the model", dkey(k))
  end
  local n = #t
  self:check((n == 0 or t[n] ~= nil) and t[n + 1] == nil, "#t = %d is not a border", n)
  self:check(#l == #lm, "#l = %d, model %d", #l, #lm)
  for j = 1, #lm do
    self:check(same(l[j], lm[j]), "l[%d] differs from the model", j)
  end
  self:check(l[#lm + 1] == nil and l[0] == nil, "l reads beyond its end")
end

-- table operations (model updated alongside)
function Run:tset(k, v)
  self:note("t[%s] = %s", describe(k), describe(v))
  self.t[k] = v
  local nk = norm(k)
  if self.tm[nk] == nil then self.order[#self.order + 1] = nk end
  self.tm[nk] = v
end

function Run:tdel(k)
  self:note("t[%s] = nil", describe(k))
  self.t[k] = nil
  local nk = norm(k)
  if self.tm[nk] ~= nil then
    self.tm[nk] = nil
    for i, ok in ipairs(self.order) do
      if scalar_eq(ok, nk) then table.remove(self.order, i); break end
    end
  end
end

-- delete every key while traversing with pairs
function Run:tclear()
  self:note("delete every key during pairs")
  local n = 0
  for k in pairs(self.t) do n = n + 1; self.t[k] = nil end
  self:check(n == #self.order, "pairs visited %d keys while deleting, model %d", n, #self.order)
  self.tm, self.order = {}, {}
end

-- list operations
function Run:lappend(v)
  local form = R(4)
  self:note("append(%d) %s", form, describe(v))
  local l = self.l
  if form == 1 then l:append(v)
  elseif form == 2 then l[#l + 1] = v
  elseif form == 3 then table.insert(l, v)
  else l:insert(v) end
  self.lm[#self.lm + 1] = v
end

function Run:linsert(pos, v)
  local form = R(2)
  self:note("insert(%d) at %d %s", form, pos, describe(v))
  if form == 1 then self.l:insert(pos, v) else table.insert(self.l, pos, v) end
  table.insert(self.lm, pos, v)
end

function Run:lremove(pos)
  local form = R(2)
  self:note("remove(%d) at %s", form, tostring(pos))
  local got
  if pos == nil then
    if form == 1 then got = self.l:remove() else got = table.remove(self.l) end
  else
    if form == 1 then got = self.l:remove(pos) else got = table.remove(self.l, pos) end
  end
  local want
  if pos == nil then want = table.remove(self.lm) else want = table.remove(self.lm, pos) end
  self:check(same(got, want), "remove returned %s", describe(got))
end

function Run:lpop()
  self:note("l[#l] = nil (#l = %d)", #self.lm)
  self.l[#self.l] = nil
  self.lm[#self.lm] = nil
end

function Run:lreplace(i, v)
  self:note("l[%d] = %s", i, describe(v))
  self.l[i] = v
  self.lm[i] = v
end

function Run:lclear()
  self:note("clear")
  self.l:clear()
  self.lm = {}
end

-- one random simple operation (no raising, no reopening)
function Run:simple()
  local c, n = R(100), #self.lm
  if c <= 30 then self:tset(KEYS[R(#KEYS)], rand_value())
  elseif c <= 42 then self:tdel(KEYS[R(#KEYS)])
  elseif c <= 60 and n < 80 then self:lappend(rand_value())
  elseif c <= 68 and n < 80 then self:linsert(R(1, n + 1), rand_value())
  elseif c <= 76 then
    if n == 0 or R(4) == 1 then self:lremove(nil) else self:lremove(R(1, n)) end
  elseif c <= 82 then if n > 0 then self:lpop() else self:lremove(nil) end
  elseif c <= 99 then if n > 0 then self:lreplace(R(1, n), rand_value()) else self:lappend(rand_value()) end
  else
    if R(2) == 1 then self:lclear() else self:tclear() end
  end
  self.nops = self.nops + 1
end

-- writes that must raise and change nothing
function Run:invalid()
  local t, l, n = self.t, self.l, #self.lm
  local cases = {
    function() t[nil] = rand_value() end,
    function() t[0 / 0] = 1 end,
    function() t[{}] = 1 end,
    function() t[KEYS[R(#KEYS)]] = print end,
    function() l[n + 2] = 1 end,
    function() l[0] = 1 end,
    function() l[1.5] = 1 end,
    function() l:insert(n + 2, 1) end,
    function() l:insert(0, 1) end,
    function() l:remove(n + 2) end,
    function() l:append(print) end,
    function() l:append(nil) end,
  }
  if n >= 2 then cases[#cases + 1] = function() l[R(1, n - 1)] = nil end end
  local c = R(#cases)
  self:note("invalid write #%d (must raise)", c)
  local ok = pcall(cases[c])
  self:check(not ok, "invalid write #%d did not raise", c)
  self.nops = self.nops + 1
end

-- copy_model -- the model as it is now (values are never changed in place)
local function copy_model(self)
  local tm = {}
  for k, v in pairs(self.tm) do tm[k] = v end
  return { tm = tm, order = table.move(self.order, 1, #self.order, 1, {}),
           lm = table.move(self.lm, 1, #self.lm, 1, {}) }
end

-- a transaction of several operations; fail: nil (it commits), "raise"
-- (its function raises at the end), "caught" (its function catches the
-- error of an unstorable value: the transaction is aborted, a further
-- write raises "transaction aborted", and so does pool:transaction)
function Run:transaction(fail)
  local k = R(2, 6)
  self:note("transaction of %d operations%s", k, fail and ", then " .. fail or "")
  local saved = fail and copy_model(self)
  local sentinel = setmetatable({}, { __tostring = function() return "sentinel" end })
  local ok, err = pcall(self.pool.transaction, self.pool, function()
    for _ = 1, k do
      self:simple()
      self:compare()                                    -- changes visible inside
    end
    if fail == "raise" then error(sentinel) end
    if fail == "caught" then
      local wok = pcall(function() self.t.x = print end)
      self:check(not wok, "storing a function did not raise")
      local ok2, err2 = pcall(function() self.l:append(1) end)
      self:check(not ok2 and tostring(err2):find("transaction aborted", 1, true),
                 "a write after an aborting error: %s", tostring(err2))
    end
    return "done"
  end)
  if fail == "raise" then
    self:check(not ok and rawequal(err, sentinel),
               "transaction did not re-raise the same error value: %s", tostring(err))
  elseif fail == "caught" then
    self:check(not ok and tostring(err):find("transaction aborted", 1, true),
               "an aborted transaction did not raise 'transaction aborted': %s", tostring(err))
  else
    self:check(ok and err == "done", "transaction failed: %s", tostring(err))
  end
  if fail then self.tm, self.order, self.lm = saved.tm, saved.order, saved.lm end
end

-- refs_ok -- every reference count equals the references to its container
function Run:refs_ok()
  local bad = select(4, pmem._audit(self.pool))
  self:check(bad == 0, "the reference count of the container at %d is wrong", bad)
end

function Run:reopen()
  self:note("close and reopen in this process")
  self:refs_ok()
  self.pool:close()
  self:open()
end

function Run:child_reopen()
  self:note("close, compare in a child process, reopen")
  self.pool:close()
  local out, code, err = helper.child(CHILD_DUMP, self.path)
  self:check(code == 0, "child failed (%s): %s", tostring(code), err)
  local entries = {}
  for _, k in ipairs(self.order) do entries[#entries + 1] = { k, self.tm[k] } end
  local lm = self.lm
  local want = dumplib.state_text(entries, #lm, function(i) return lm[i] end)
  if out ~= want then
    local i = 1
    while out:sub(i, i) == want:sub(i, i) do i = i + 1 end
    self:fail(("the child sees another state, from byte %d:\n  child: %s\n  model: %s")
              :format(i, out:sub(i, i + 80), want:sub(i, i + 80)))
  end
  self.children = self.children + 1
  self:open()
end

function Run:step_once()
  self.step = self.step + 1
  local c = R(1000)
  if c <= 900 then self:simple()
  elseif c <= 930 then self:invalid()
  elseif c <= 965 then self:transaction(nil)
  elseif c <= 990 then self:transaction("raise")
  elseif c <= 995 then self:transaction("caught")
  elseif c <= 999 then self:reopen()
  elseif R(4) == 1 then self:child_reopen()
  else self:reopen() end
  self:compare()
end

local function new_run()
  local self = setmetatable({ step = 0, nops = 0, children = 0, log = {},
                              tm = {}, order = {}, lm = {} }, Run)
  self.path = fast_pool_path()
  local pool = assert(pmem.open(self.path, "x", 64 * 1024 * 1024))
  pool.root = { t = pool:table(), l = pool:list() }
  pool:close()
  self:open()
  return self
end

-- }============================================

function test_differential_random_operations()
  math.randomseed(SEED)
  local run = new_run()
  local start = os.time()
  local ok, err = xpcall(function()
    while run.nops < NOPS do run:step_once() end
    run:child_reopen()                                  -- always at least once, at the end
  end, function(e)
    e = tostring(e)
    if not e:find("^seed=") then
      e = ("seed=%d step=%d: %s\n(replay with PMLUA_SEED=%d)\n%s"):format(
        SEED, run.step, e, SEED, debug.traceback("", 2))
    end
    return e
  end)
  if run.pool then pcall(run.pool.close, run.pool) end
  if not ok then lu.fail(err) end
  lu.assertTrue(run.nops >= NOPS)
  lu.assertTrue(run.children >= 1)
  io.stderr:write(("differential: seed=%d, %d operations in %d steps, %d child reopens, %ds\n")
                  :format(SEED, run.nops, run.step, run.children, os.time() - start))
end

os.exit(lu.LuaUnit.run(), true)
