-- crash_child.lua -- the process tests/test_crash.lua kills with kill -9.
--
-- usage: pmlua tests/crash_child.lua bank POOL NACCOUNTS SEED [CAP]
--        pmlua tests/crash_child.lua big POOL SEED
--
-- bank: opens (or creates) POOL, prints "started <grand>" and then changes the
-- pool forever, until it is killed:
--   * a transaction moves a random amount between two random accounts,
--     appends a log entry {seq=, from=, to=, amount=} and increments
--     root.transfers and root.grand, all in the same transaction;
--   * single changes outside any transaction, each with its own invariant:
--     root.counter only increases; root.ticks:append(#ticks + 1) keeps
--     ticks[i] == i; root.last = {n = c, s = ("x"):rep(c % 37)} is a new
--     table whose fields agree with each other.
--   * when the log holds CAP entries, one transaction starts a new epoch
--     (initial := the balances, a new empty log and ticks list, base :=
--     grand, transfers := 0), then pool:gc() frees the old ones: this
--     keeps the pool from filling up on a fast file system.
-- The root is {accounts = list of balances, initial = list of balances at
-- the start of the epoch, log = list, transfers = #log, grand = transfers
-- over all epochs, base = grand at the start of the epoch, epoch = integer,
-- counter = integer, ticks = list, last = table, total = sum of balances}.
--
-- big: large transactions, each appending BATCH integers to a list and
-- overwriting KEYS keys of a table; see big() at the end.
local pmem = require "pmem"

local mode = arg[1]
if mode ~= "bank" and mode ~= "big" then error("usage: crash_child.lua bank|big POOL ...") end

-- {============================================ big transactions

-- root = {l = list, t = table, batches = integer, first = integer}: the
-- list holds the batches first..batches, BATCH items each, item i of batch
-- b being b * 1000 + i; t["k1"] .. t["k" .. KEYS] all equal batches. A
-- transaction adds one batch; when the list holds 100 batches, a
-- transaction empties it (first := batches + 1).
local BATCH, KEYS = 400, 200

local function big(path, seed)
  math.randomseed(seed)
  -- PMLUA_CRASH_SYNC: the durability level (docs/durability.md)
  local sync = os.getenv("PMLUA_CRASH_SYNC") or "full"
  local pool = assert(pmem.open(path, "c", { size = 64 * 1024 * 1024, sync = sync }))
  if pool.root == nil then
    pool:transaction(function()
      local t = {}
      for k = 1, KEYS do t["k" .. k] = 0 end
      pool.root = { l = pool:list(), t = t, batches = 0, first = 1 }
    end)
  end
  local root = pool.root
  local l, t = root.l, root.t
  io.stdout:write("started ", root.batches, "\n")
  io.stdout:flush()
  while true do
    pool:transaction(function()
      local b = root.batches + 1
      if b - root.first >= 100 then l:clear(); root.first = b end
      for i = 1, BATCH do l:append(b * 1000 + i) end
      for k = 1, KEYS do t["k" .. k] = b end
      root.batches = b
    end)
    io.stdout:write("committed ", root.batches, "\n")
    io.stdout:flush()
  end
end

if mode == "big" then return big(arg[2], tonumber(arg[3])) end

-- }============================================

local path, n = arg[2], tonumber(arg[3])
local seed, cap = tonumber(arg[4]) or os.time(), tonumber(arg[5]) or 20000
math.randomseed(seed)

local pool = assert(pmem.open(path, "c", 64 * 1024 * 1024))
if pool.root == nil then
  pool:transaction(function()
    local init, total = {}, 0
    for i = 1, n do init[i] = 1000 + i; total = total + init[i] end
    pool.root = {
      accounts = pool:list(init), initial = pool:list(init), total = total,
      log = pool:list(), transfers = 0, grand = 0, base = 0, epoch = 1,
      counter = 0, ticks = pool:list(), last = { n = 0, s = "" },
    }
  end)
end
local root = pool.root
local accounts, log, ticks

local function new_epoch()
  pool:transaction(function()
    root.initial = pool:list(pmem.tolua(accounts))
    root.log = pool:list()
    root.ticks = pool:list()
    root.base = root.grand
    root.transfers = 0
    root.epoch = root.epoch + 1
  end)
  accounts, log, ticks = root.accounts, root.log, root.ticks
  pool:gc()
end

accounts, log, ticks = root.accounts, root.log, root.ticks
if root.transfers >= cap then new_epoch() end

io.stdout:write("started ", root.grand, "\n")
io.stdout:flush()

local function transfer()
  local from = math.random(n)
  local to = math.random(n - 1)
  if to >= from then to = to + 1 end
  local amount = math.random(1, 100)
  accounts[from] = accounts[from] - amount
  accounts[to] = accounts[to] + amount
  local seq = root.transfers + 1
  log:append({ seq = seq, from = from, to = to, amount = amount })
  root.transfers = seq
  root.grand = root.grand + 1
end

while true do
  pool:transaction(transfer)
  local r = math.random(3)
  if r == 1 then
    root.counter = root.counter + 1
  elseif r == 2 then
    ticks:append(#ticks + 1)
  else
    local c = root.counter
    root.last = { n = c, s = ("x"):rep(c % 37) }
  end
  if root.transfers >= cap then new_epoch() end
end
