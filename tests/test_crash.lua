-- test_crash.lua -- kill -9 at random instants: the pool is always as it
-- was before or after each transaction (or single change), never between.
--
-- A child pmlua process (tests/crash_child.lua) moves money between
-- accounts in transactions that also append a log entry and bump counters,
-- and makes single changes outside transactions. The parent kills it with
-- kill -9 at a random instant, checks the pool, and starts it again on
-- the same pool. Another child runs the mixed workload (tests/mixed.lua:
-- tables, lists, sets, objects, cycles and the collector, nested and large
-- transactions), checked whole against its model after every kill.
--
-- The counts are fixed, not timed, so that runs compare: PMLUA_KILLS kills
-- of the mixed workload (default 50; make torture: 1,000), and a share of
-- it for the others (bank: a quarter, at least 25; large transactions: a
-- tenth each, at least 10).
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"
local mixed = require "mixed"

local q = helper.q
local NACC = 16
local KILLS = tonumber(os.getenv("PMLUA_KILLS")) or 50
local CHILD = "tests/crash_child.lua"
local MIXED = "tests/mixed.lua"
local SPAWN_ENV = ""                -- environment assignments for the child

local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l")); p:close()
  return t
end

local function sleep(s)
  os.execute(("sleep %.3f"):format(s))
end

-- spawn(script, ...) -- start pmlua script ...; returns the popen handle
-- and the pid
local function spawn(script, ...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = q(select(i, ...)) end
  local cmd = ("%s sh -c 'echo $$; exec \"$0\" \"$@\"' %s %s %s 2>&1"):format(
    SPAWN_ENV, q(helper.PMLUA), script, table.concat(args, " "))
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("l"))
  assert(pid, "no pid from the child")
  return p, pid
end

-- kill_at_random(p, pid, early, committed, span) -- kill -9 the child at a
-- random instant: 0.05 s to 0.05 + span s (default 0.35) after it says it
-- has started (and, if committed, has committed a transaction), or (early)
-- 0-30 ms after it was spawned, while it may still be opening the pool;
-- returns true if it had started, and the last commit it printed
local function kill_at_random(p, pid, early, committed, span)
  local started, line = false, nil
  if early then
    sleep(math.random() * 0.03)
  else
    line = p:read("l")
    if not line or not line:match("^started %d+$") then
      os.execute("kill -9 " .. pid .. " 2>/dev/null")
      lu.fail("the child did not start: " .. tostring(line) .. "\n" .. (p:read("a") or ""))
    end
    if committed then                       -- after a commit, however slow
      line = p:read("l")
      lu.assertStrMatches(tostring(line), "committed %d+")
    end
    started = true
    sleep(0.05 + math.random() * (span or 0.35))
  end
  os.execute("kill -9 " .. pid .. " 2>/dev/null")
  local rest = p:read("a")
  local _, how, code = p:close()
  -- the child must die of the signal, not of an error of its own
  lu.assertTrue((how == "signal" and code == 9) or (how == "exit" and code == 137),
                ("the child ended by itself (%s %s): %s"):format(how, code, rest))
  local returned = line and tonumber(line:match("^committed (%d+)"))
  for n in rest:gmatch("committed (%d+)") do returned = tonumber(n) end
  return started, returned
end

-- check -- open the pool read-only and verify every invariant; returns
-- the state seen (nil if the pool was never initialised)
local function check(path, prev, started)
  local f = io.open(path, "rb")
  if not f then
    lu.assertFalse(started, "the pool file vanished after the child had started")
    return nil
  end
  f:close()
  local pool, err = pmem.open(path, "r")
  lu.assertNotNil(pool, "the pool does not open after kill -9: " .. tostring(err))
  local root = pool.root
  if root == nil then
    lu.assertFalse(started, "the root is gone after the child had started")
    pool:close()
    return nil
  end
  local s = {
    epoch = root.epoch, grand = root.grand, base = root.base,
    transfers = root.transfers, counter = root.counter,
  }
  local accounts, initial, log = root.accounts, root.initial, root.log
  lu.assertEquals(#accounts, NACC)
  lu.assertEquals(#initial, NACC)
  -- money is conserved
  local sum, isum = 0, 0
  for i = 1, NACC do
    lu.assertEquals(math.type(accounts[i]), "integer")
    sum, isum = sum + accounts[i], isum + initial[i]
  end
  lu.assertEquals(sum, root.total, "sum of balances changed")
  lu.assertEquals(isum, root.total, "sum of the epoch's initial balances changed")
  -- the log has exactly one well-formed entry per committed transfer, and
  -- replaying it from the initial balances gives the balances
  lu.assertEquals(#log, s.transfers, "log length ~= committed transfers")
  lu.assertEquals(s.grand, s.base + s.transfers, "grand ~= base + transfers")
  local bal = {}
  for i = 1, NACC do bal[i] = initial[i] end
  for i = 1, #log do
    local e = log[i]
    lu.assertEquals(pmem.type(e), "table", "log entry " .. i .. " is not a table")
    lu.assertEquals(e.seq, i, "log entry " .. i .. " has the wrong seq")
    local from, to, amount = e.from, e.to, e.amount
    lu.assertEquals(math.type(from), "integer")
    lu.assertEquals(math.type(to), "integer")
    lu.assertEquals(math.type(amount), "integer")
    lu.assertTrue(from >= 1 and from <= NACC and to >= 1 and to <= NACC and from ~= to,
                  "log entry " .. i .. " has bad accounts")
    lu.assertTrue(amount >= 1 and amount <= 100, "log entry " .. i .. " has a bad amount")
    local n = 0
    for _ in pairs(e) do n = n + 1 end
    lu.assertEquals(n, 4, "log entry " .. i .. " has extra or missing fields")
    bal[from], bal[to] = bal[from] - amount, bal[to] + amount
  end
  for i = 1, NACC do
    lu.assertEquals(accounts[i], bal[i], "account " .. i .. " disagrees with the log")
  end
  -- single changes: ticks[i] == i, last consistent, counter never decreases
  local ticks = root.ticks
  s.ticks = #ticks
  for i = 1, #ticks do lu.assertEquals(ticks[i], i, "ticks[" .. i .. "]") end
  local last = root.last
  lu.assertEquals(pmem.type(last), "table")
  lu.assertEquals(math.type(last.n), "integer")
  lu.assertEquals(last.s, ("x"):rep(last.n % 37))
  lu.assertTrue(last.n <= s.counter, "last.n ahead of the counter")
  if prev then
    lu.assertTrue(s.epoch >= prev.epoch, "epoch went back")
    lu.assertTrue(s.grand >= prev.grand, "committed transfers were lost")
    lu.assertTrue(s.counter >= prev.counter, "counter went back")
    if s.epoch == prev.epoch then
      lu.assertTrue(s.ticks >= prev.ticks, "ticks went back")
    end
  end
  pool:close()
  return s
end

function test_kill9_random_instants()
  local path = helper.pool_path("crash.pmem")
  math.randomseed(os.time())
  local t0 = now()
  local kills, prev, started, early = 0, nil, false, 0
  while kills < math.max(25, KILLS // 4) do
    local p, pid = spawn(CHILD, "bank", path, NACC, math.random(1, 1 << 30))
    local is_early = kills % 7 == 3       -- now and then, kill while opening
    if is_early then early = early + 1 end
    started = kill_at_random(p, pid, is_early) or started
    kills = kills + 1
    prev = check(path, prev, started) or prev
  end
  -- the pool opens for writing (after a crash: a full collection), still
  -- holds, closes cleanly and reopens
  local pool = assert(pmem.open(path, "w"))
  lu.assertNotNil(pool.root)
  pool.root.counter = pool.root.counter + 1
  pool:close()
  local s = check(path, prev, true)
  print(("\n  kill -9: %d kills (%d while opening), %d committed transfers in %d epochs, %.1f s")
        :format(kills, early, s.grand, s.epoch, now() - t0))
  lu.assertTrue(s.grand > 0, "no transfer ever committed")
end

-- big transactions (400 appends and 200 overwrites each) killed mid-way:
-- all of a batch or none of it
local BIG_KILLS = math.max(10, KILLS // 10)

-- check_big(path, prev, started, returned) -- the invariants of the big
-- pool; every batch whose commit had returned (the child printed it) is in
local function check_big(path, prev, started, returned)
  local pool, err = pmem.open(path, "r")
  if not pool then
    lu.assertFalse(started, "the pool does not open after kill -9: " .. tostring(err))
    return nil
  end
  local root = pool.root
  if root == nil then
    lu.assertFalse(started, "the root is gone after the child had started")
    pool:close()
    return nil
  end
  local b, first, l, t = root.batches, root.first, root.l, root.t
  lu.assertEquals(math.type(b), "integer")
  lu.assertEquals(#l, (b - first + 1) * 400, "a batch was partly kept")
  for j = 1, #l do
    local want = (first + (j - 1) // 400) * 1000 + (j - 1) % 400 + 1
    if l[j] ~= want then lu.fail(("l[%d] = %s, expected %d"):format(j, tostring(l[j]), want)) end
  end
  for k = 1, 200 do lu.assertEquals(t["k" .. k], b, "t.k" .. k .. " is not of the last batch") end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  lu.assertEquals(n, 200)
  if prev then lu.assertTrue(b >= prev, "committed batches were lost") end
  if returned then
    lu.assertTrue(b >= returned, ("batch %d had returned, the pool holds %d"):format(returned, b))
  end
  pool:close()
  return b
end

local function kill_big(sync)
  local path = helper.pool_path("big.pmem")
  math.randomseed(os.time() + 1)
  SPAWN_ENV = "PMLUA_CRASH_SYNC=" .. sync
  local prev, started, early = nil, false, 0
  for kill = 1, BIG_KILLS do
    local p, pid = spawn(CHILD, "big", path, math.random(1, 1 << 30))
    local is_early = kill % 5 == 0
    if is_early then early = early + 1 end
    -- every third kill comes after a commit, so that some batches commit
    -- however slow the machine (sanitizers, load) makes a batch
    local s, returned = kill_at_random(p, pid, is_early, kill % 3 == 1)
    started = s or started
    prev = check_big(path, prev, started, returned) or prev
  end
  SPAWN_ENV = ""
  print(("\n  kill -9 in large transactions (sync = %q): %d kills (%d while opening), "
         .. "%d batches committed"):format(sync, BIG_KILLS, early, prev or 0))
  lu.assertTrue(prev and prev > 0, "no batch ever committed")
end

function test_kill9_in_large_transactions()
  kill_big("full")
end

-- "normal": a commit is in the log, not yet synced, when it returns; a
-- killed process loses none of them (the page cache keeps the log)
function test_kill9_normal_loses_no_commit()
  kill_big("normal")
end

-- the mixed workload (tests/mixed.lua), under "full" and "normal" in turn:
-- after each kill the pool is compared whole with the model at its step,
-- holds every step whose commit had returned, and a collection leaves
-- exactly the reachable containers; violations are counted, then listed
function test_kill9_mixed_workload()
  local path = helper.pool_path("mixed.pmem")
  local seed = os.time() % 1000000
  helper.run_cmd(("%s %s run %s %d full 0"):format(q(helper.PMLUA), MIXED, q(path), seed))
  local t0, early, last, violations = now(), 0, 0, {}
  local model = mixed.model(seed)
  for kill = 1, KILLS do
    local sync = kill % 2 == 0 and "normal" or "full"
    local p, pid = spawn(MIXED, "run", path, seed, sync)
    local is_early = kill % 9 == 4
    if is_early then early = early + 1 end
    local _, returned = kill_at_random(p, pid, is_early, false, 0.15)
    local n, kind, msg = mixed.verify(path, model)
    local bad = not n and kind .. ": " .. msg
      or returned and n < returned and ("step %d had returned (%s), the pool holds %d")
                                       :format(returned, sync, n)
    if bad then violations[#violations + 1] = ("kill %d (seed %d): %s"):format(kill, seed, bad) end
    last = n or last
  end
  print(("\n  kill -9 mixed: %d kills (%d while opening), %d violations, %d steps committed, %.1f s")
        :format(KILLS, early, #violations, last, now() - t0))
  lu.assertEquals(violations, {})
  lu.assertTrue(last > 0, "no step ever committed")
end

os.exit(lu.LuaUnit.run())
