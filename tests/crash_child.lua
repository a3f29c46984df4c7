-- crash_child.lua -- the process tests/test_crash.lua kills with kill -9.
--
-- usage: pmlua tests/crash_child.lua POOL NACCOUNTS SEED [CAP]
--
-- Opens (or creates) POOL, prints "started <grand>" and then changes the
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
local pmem = require "pmem"

local path, n = arg[1], tonumber(arg[2])
local seed, cap = tonumber(arg[3]) or os.time(), tonumber(arg[4]) or 20000
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
