-- mixed.lua -- the mixed workload of the power-fail and kill -9 tests
-- (tests/test_powerfail.lua, tests/test_crash.lua): what it does to a pool,
-- the plain Lua model of what the pool must then hold, and the check of a
-- pool against the model.
--
--   pmlua tests/mixed.lua run POOL SEED SYNC [STEPS]   the workload
--   pmlua tests/mixed.lua verify POOL SEED             the check of a pool
--
-- Step i is one transaction (sometimes 300 operations and a 200 KB string,
-- sometimes with a nested transaction) on tables that grow and shrink
-- (rehashing), lists with inserts and removes anywhere, sets, objects, and
-- cycles attached and detached; it ends with root.n = i. Every fifth step
-- first runs a transaction that raises (rolled back: the model ignores it),
-- every seventh is followed by pool:gc(), which frees the detached cycles.
-- The choices of step i come from math.randomseed(SEED, i) and the state, so
-- replaying steps 1..n on plain Lua tables gives the state after step n.
--
-- run: opens (creates) POOL, prints "started N" (N = root.n), then
-- "committed i" after each step returns, up to STEPS (forever without),
-- then closes and prints "closed".
-- verify: opens POOL for writing (after a crash: the log replayed, the full
-- collection), compares everything reachable with the model at root.n,
-- checks that a collection leaves exactly the reachable containers and that
-- pmem._audit finds nothing; prints "ok N" or "unopenable: MSG" (exit 3)
-- or "inconsistent: MSG" (exit 2).
local M = {}

local NT, NL, NS, NO, NC = 3, 3, 2, 4, 6  -- tables, lists, sets, objects, cycle slots
local POOL_SIZE = 16 << 20                -- 8 MiB fill up: docs/reference.md, "Known limits"
local CLASS                               -- the objects' class, defined on first use

local function class()
  CLASS = CLASS or pmem.class("MixedThing")
  return CLASS
end

-- {=========================================================== the two sides
-- A side makes containers and runs transactions: the pool's, or the
-- model's (plain tables, their kinds in side.kinds).

local function pool_side(pool)
  local C = class()
  return {
    table = function() return pool:table() end,
    list = function() return pool:list() end,
    set = function() return pool:set() end,
    object = function() return pool:new(C) end,
    add = function(s, x) s:add(x) end,
    discard = function(s, x) s:discard(x) end,
    transaction = function(f) pool:transaction(f) end,
    kind = pmem.type,
  }
end

local function model_side()
  local kinds = setmetatable({}, { __mode = "k" })
  local function maker(kind) return function() local t = {}; kinds[t] = kind; return t end end
  return {
    table = maker("table"), list = maker("list"), set = maker("set"), object = maker("object"),
    add = function(s, x) s[x] = true end,
    discard = function(s, x) s[x] = nil end,
    transaction = function(f) f() end,
    kind = function(v) return kinds[v] end,
  }
end

-- }===========================================================

-- {=========================================================== the steps

local random = math.random

local function long(tag) return ("%s, a string too long to be stored inline"):format(tag) end

-- value() -- a random scalar of every kind
local function value()
  local r = random(6)
  if r == 1 then return random(-1000, 1000) end
  if r == 2 then return random(0, 4000) / 8 end
  if r == 3 then return random(2) == 1 end
  if r == 4 then return "s" .. random(99) end
  return long("v" .. random(9999))
end

local function key()
  if random(4) == 1 then return random(100) end
  return "k" .. random(300)
end

local function pick(list) return list[random(#list)] end

local OPS = {
  function(s, root) pick(root.tables)[key()] = value() end,                 -- set
  function(s, root) pick(root.tables)[key()] = nil end,                     -- delete
  function(s, root)                                                         -- shrink
    local t, from = pick(root.tables), random(300)
    for k = from, math.min(300, from + 60) do t["k" .. k] = nil end
  end,
  function(s, root) local l = pick(root.lists); table.insert(l, random(#l + 1), value()) end,
  function(s, root) local l = pick(root.lists); if #l > 0 then table.remove(l, random(#l)) end end,
  function(s, root) local l = pick(root.lists); if #l > 0 then l[random(#l)] = value() end end,
  function(s, root) s.add(pick(root.sets), random(40)) end,
  function(s, root) s.discard(pick(root.sets), random(40)) end,
  function(s, root)                                                         -- object field
    local o = pick(root.objs)
    o["f" .. random(8)] = random(3) == 1 and nil or value()
  end,
  function(s, root)                                                         -- a cycle in or out
    local slot = "c" .. random(NC)
    if random(2) == 1 then
      local a, b = s.table(), s.table()
      a.peer, b.peer, a.v = b, a, value()
      root.cyc[slot] = a
    else
      root.cyc[slot] = nil
    end
  end,
  function(s, root)                                                         -- shared references
    local t = pick(root.tables)
    t["ref" .. random(3)] = random(2) == 1 and pick(root.lists) or pick(root.objs)
  end,
  function(s, root)                                                         -- a subtable replaced
    local sub = s.table()
    sub.x, sub.y = value(), value()
    pick(root.tables)["sub" .. random(4)] = sub
  end,
}

local function op(s, root) OPS[random(#OPS)](s, root) end

-- init(s) -- the initial root (in the caller's transaction)
function M.init(s)
  local root = s.table()
  for _, name in ipairs { "tables", "lists", "sets", "objs" } do root[name] = s.list() end
  for i = 1, NT do root.tables[i] = s.table() end
  for i = 1, NL do root.lists[i] = s.list() end
  for i = 1, NS do root.sets[i] = s.set() end
  for i = 1, NO do root.objs[i] = s.object() end
  root.cyc = s.table()
  root.n = 0
  return root
end

-- step(s, root, i, seed) -- step i, committed
function M.step(s, root, i, seed)
  math.randomseed(seed, i)
  local big = i % 13 == 0
  s.transaction(function()
    for _ = 1, big and 300 or random(6) do op(s, root) end
    if big then root.big = ("%d:"):format(i) .. ("b"):rep(200000) end
    if i % 4 == 0 then s.transaction(function() op(s, root) end) end
    root.n = i
  end)
end

-- doomed(pool, root, i) -- a transaction of changes that raises: nothing
-- of it may remain
local function doomed(pool, root, i)
  local ok, err = pcall(pool.transaction, pool, function()
    root.tables[1].doomed = long("doomed")
    root.lists[1]:insert(1, "doomed")
    root.sets[1]:add("doomed")
    root.objs[1].f1 = "doomed"
    root.cyc.c1 = { doomed = true }
    root.n = -i
    error("doomed step")
  end)
  assert(not ok and tostring(err):find("doomed step"), "the doomed transaction: " .. tostring(err))
end

-- }===========================================================

-- {=========================================================== the check

local function scalar(v)
  if math.type(v) == "integer" then return ("i%d"):format(v) end
  if math.type(v) == "float" then return ("f%a"):format(v) end
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

-- dump(root, kind) -- a canonical text of everything reachable from root
-- (containers numbered in the order met, keys sorted) and the number of
-- containers
function M.dump(root, kind)
  local ids, queue, out = {}, {}, {}
  local function text(v)
    local k = kind(v)
    if not k then return scalar(v) end
    if not ids[v] then
      queue[#queue + 1] = v
      ids[v] = #queue
      return ("@%d%s"):format(ids[v], k)
    end
    return "@" .. ids[v]
  end
  text(root)
  local i = 1
  while queue[i] do
    local v, entries = queue[i], {}
    if kind(v) == "list" then
      for j = 1, #v do entries[j] = { j, v[j] } end
    else                                         -- a set's pairs give its elements
      for k, x in pairs(v) do entries[#entries + 1] = { k, x } end
      table.sort(entries, function(a, b) return scalar(a[1]) < scalar(b[1]) end)
    end
    local line = {}
    for j, e in ipairs(entries) do line[j] = scalar(e[1]) .. "=" .. text(e[2]) end
    out[i] = i .. ":" .. table.concat(line, ",")
    i = i + 1
  end
  return table.concat(out, "\n"), #queue
end

-- model(seed) -- the model before step 1; advance(m, n) brings it to step n
function M.model(seed)
  local s = model_side()
  return { side = s, root = M.init(s), n = 0, seed = seed }
end

function M.advance(m, n)
  for i = m.n + 1, n do M.step(m.side, m.root, i, m.seed) end
  m.n = math.max(m.n, n)
end

-- first_difference(a, b) -- the first line where two dumps differ
local function first_difference(a, b)
  local la, lb = {}, {}
  for l in (a .. "\n"):gmatch("(.-)\n") do la[#la + 1] = l end
  for l in (b .. "\n"):gmatch("(.-)\n") do lb[#lb + 1] = l end
  for i = 1, math.max(#la, #lb) do
    if la[i] ~= lb[i] then
      return ("line %d: pool %s\n  model %s"):format(i, tostring(la[i]):sub(1, 300),
                                                    tostring(lb[i]):sub(1, 300))
    end
  end
end

-- check(pool, m) -- nil, or what is wrong with the pool; the model m
-- (of M.model, not past the pool's step) is advanced to the pool's step
function M.check(pool, m)
  local root = pool.root
  if root == nil then return nil end             -- created, not initialised yet
  local n = root.n
  if math.type(n) ~= "integer" or n < 0 then return "root.n is " .. tostring(n) end
  if n < m.n then return ("step %d had been seen, the pool holds %d"):format(m.n, n) end
  local got, reachable = M.dump(root, pmem.type)
  M.advance(m, n)
  local want = M.dump(m.root, m.side.kind)
  if got ~= want then return ("step %d: %s"):format(n, first_difference(got, want)) end
  root, got = nil, nil
  local live = pool:gc().live
  if live ~= reachable then
    return ("a collection left %d containers, %d are reachable"):format(live, reachable)
  end
  local _, _, bad, refs = pmem._audit(pool)
  if bad ~= 0 or refs ~= 0 then
    return ("pmem._audit: %d heap mismatches, %d wrong reference counts"):format(bad, refs)
  end
end

-- }===========================================================

-- {=========================================================== the processes

local function run(path, seed, sync, steps)
  io.stdout:setvbuf("no")
  local pool = assert(pmem.open(path, "c", { size = POOL_SIZE, sync = sync }))
  local s = pool_side(pool)
  if pool.root == nil then pool:transaction(function() pool.root = M.init(s) end) end
  local root = pool.root
  print("started " .. root.n)
  for i = root.n + 1, steps or math.huge do
    if i % 5 == 0 then doomed(pool, root, i) end
    M.step(s, root, i, seed)
    print("committed " .. i)
    if i % 7 == 0 then pool:gc() end
  end
  pool:close()
  print("closed")
end

-- verify(path, m) -> the pool's step, or nil, "unopenable" or
-- "inconsistent" and a message (the pool is closed)
function M.verify(path, m)
  class()
  local pool, err = pmem.open(path)
  if not pool then return nil, "unopenable", tostring(err) end
  local ok, bad = pcall(M.check, pool, m)
  local n = ok and not bad and pool.root and pool.root.n
  local closed, cerr = pcall(pool.close, pool)
  if ok and not bad and not closed then ok, bad = false, "close: " .. tostring(cerr) end
  if not ok or bad then return nil, "inconsistent", tostring(bad) end
  return n or -1
end

local function verify(path, seed)
  local n, kind, msg = M.verify(path, M.model(seed))
  if not n then
    print(kind .. ": " .. msg)
    os.exit(kind == "unopenable" and 3 or 2)
  end
  print("ok " .. n)
end

if arg and arg[1] == "run" then
  return run(arg[2], tonumber(arg[3]), arg[4], tonumber(arg[5]))
elseif arg and arg[1] == "verify" then
  return verify(arg[2], tonumber(arg[3]))
end

-- }===========================================================

return M
