-- test_powerfail.lua -- power failures at every sync of the log engine
-- (docs/durability.md): a workload of transactions runs under the shim
-- tests/powerfail.c, which at its k-th sync leaves only what had been made
-- durable, for every k in turn. Each image must open at a transaction
-- boundary (checked invariants) and, under sync = "full", hold every
-- transaction whose commit had returned. Two workloads: transfers between
-- accounts (below), and the mixed workload of tests/mixed.lua (tables that
-- rehash, lists changed in the middle, sets, objects, cycles freed by the
-- collector, large and nested transactions; each image compared whole with
-- a model, collected, audited). Two negative controls must be caught: the
-- log's syncs dropped, and snapshots dropped (changes made outside the undo
-- log). Checkpoints are made frequent (PMLUA_WAL_CHECKPOINT) so that crashes
-- land inside them too.
--
-- PMLUA_PF_STRIDE=k: the mixed workload crashes at every k-th sync point
-- (default 4; make torture: 1, every point, and PMLUA_PF_STEPS steps).
local lu = require "luaunit"
local helper = require "helper"
local q = helper.q

local SHIM = os.getenv("PMLUA_POWERFAIL")
local ACCOUNTS, TOTAL, TRANSFERS = 8, 8000, 24

-- the workload: transfers between accounts, each with its history entry;
-- now and then a large value (several frames, a checkpoint); prints the
-- number of transactions committed after each commit returns
local WORKLOAD = [[
local path, sync, n = arg[1], arg[2], tonumber(arg[3])
io.stdout:setvbuf("no")
local pool = assert(pmem.open(path, "w", { sync = sync }))
local root = pool.root
math.randomseed(7)
for i = root.n + 1, root.n + n do
  pool:transaction(function()
    local a, b = math.random(#root.acct), math.random(#root.acct)
    local amount = math.random(0, root.acct[a])
    root.acct[a] = root.acct[a] - amount
    root.acct[b] = root.acct[b] + amount
    root.hist:append(i)
    if i % 7 == 0 then root.big = string.rep(string.char(64 + i % 26), 70000 + i) end
    root.n = i
  end)
  print("committed " .. i)
end
pool:close()
print("closed")
]]

-- the check of an image: the invariants, and the number of transfers in it
local VERIFY = [[
local pool, err = pmem.open(arg[1])
if not pool then print("unopenable: " .. tostring(err)) os.exit(3) end
local root, sum = pool.root, 0
for i = 1, #root.acct do sum = sum + root.acct[i] end
assert(sum == tonumber(arg[2]), "money is not conserved: " .. sum)
assert(#root.hist == root.n, "history " .. #root.hist .. " for " .. root.n .. " transfers")
for i = 1, #root.hist do assert(root.hist[i] == i, "history entry " .. i) end
if root.n >= 7 then
  local i = root.n - root.n % 7
  assert(root.big == string.rep(string.char(64 + i % 26), 70000 + i), "large value")
end
print("ok " .. root.n)
pool:close()
]]

local write = helper.write_file

local scripts = helper.tmpdir()
write(scripts .. "/workload.lua", WORKLOAD)
write(scripts .. "/verify.lua", VERIFY)

local MIXED = "tests/mixed.lua"
local SEED = 11
local STEPS = tonumber(os.getenv("PMLUA_PF_STEPS")) or 30
local STRIDE = tonumber(os.getenv("PMLUA_PF_STRIDE")) or 4

-- the two workloads: the pool file's name, the base pool (made once), the
-- command that runs the workload on path, the command that verifies an
-- image (prints "ok N"; exit 3: unopenable), the transactions it commits
local WORKLOADS = {
  bank = {
    file = "bank.pmem", steps = TRANSFERS,
    make = function(path)
      helper.child_ok(([[
        local pool = assert(pmem.create(arg[1], pmem.MIN_POOL_SIZE))
        local acct = {}
        for i = 1, %d do acct[i] = %d end
        pool.root = { acct = acct, hist = pool:list(), n = 0 }
        pool:close()]]):format(ACCOUNTS, TOTAL // ACCOUNTS), path)
    end,
    run = function(path, sync)
      return ("%s %s %s %d"):format(q(scripts .. "/workload.lua"), q(path), sync, TRANSFERS)
    end,
    verify = function(path) return ("%s %s %d"):format(q(scripts .. "/verify.lua"), q(path), TOTAL) end,
  },
  mixed = {
    file = "mixed.pmem", steps = STEPS,
    make = function(path)
      helper.run_cmd(("%s %s run %s %d full 0"):format(q(helper.PMLUA), MIXED, q(path), SEED))
    end,
    run = function(path, sync) return ("%s run %s %d %s %d"):format(MIXED, q(path), SEED, sync, STEPS) end,
    verify = function(path) return ("%s verify %s %d"):format(MIXED, q(path), SEED) end,
  },
}

local function env(dir, out, at, extra)
  local asan = helper.SANITIZED and "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 " or ""
  return ("%sLD_PRELOAD=%s PMLUA_PF_DIR=%s PMLUA_PF_OUT=%s %s PMLUA_WAL_CHECKPOINT=65536 "
          .. "PMLUA_ENGINE=log %s "):format(asan, q(SHIM), q(dir), q(out),
          at and "PMLUA_PF_AT=" .. at or "", extra or "")
end

-- base(w) -- the base pool of workload w (made on first use)
local function base(w)
  if not w.base then
    w.base = helper.tmpdir() .. "/" .. w.file
    w.make(w.base)
    assert(helper.file_size(w.base) > 0, "no base pool for " .. w.file)
  end
  return w.base
end

-- run(w, sync, at, extra) -> exit code, commits printed, stderr, image
-- directory: workload w on a copy of its base pool in dir, crashing at sync
-- number at (nil: never) and leaving the image in out
local dir, out = helper.tmpdir(), helper.tmpdir()
local function run(w, sync, at, extra)
  os.execute(("rm -f %s/* %s/*; cp %s %s"):format(q(dir), q(out), q(base(w)), q(dir .. "/" .. w.file)))
  local stdout, code, err = helper.run_cmd(env(dir, out, at, extra) .. q(helper.PMLUA) .. " "
    .. w.run(dir .. "/" .. w.file, sync))
  local committed = 0
  for i in stdout:gmatch("committed (%d+)") do committed = tonumber(i) end
  return code, committed, err, out
end

-- verify(w, out) -> transactions the image holds, or nil, "unopenable" or
-- "inconsistent", and the message
local function verify(w, out)
  local stdout, code, err = helper.run_cmd(q(helper.PMLUA) .. " " .. w.verify(out .. "/" .. w.file))
  local n = tonumber(stdout:match("^ok (%-?%d+)"))
  if code == 0 and n then return n end
  return nil, code == 3 and "unopenable" or "inconsistent", stdout .. err
end

local function syncs(w, sync)
  local code, committed, err = run(w, sync)
  lu.assertEquals({ code, committed }, { 0, w.steps }, err)
  local n = tonumber(err:match("powerfail: (%d+) syncs"))
  lu.assertNotNil(n, err)
  return n
end

-- judge(st, w, sync, at, committed, out) -- count the image of a crash at
-- sync point at, after commits up to committed had returned
local function judge(st, w, sync, at, committed, out)
  st.tried = st.tried + 1
  local n, kind, msg = verify(w, out)
  if n == nil then
    st[kind] = st[kind] + 1
    st.failures[#st.failures + 1] = ("sync %d: the image is %s: %s"):format(at, kind, msg)
  elseif sync == "full" and n < committed then
    st.inconsistent = st.inconsistent + 1
    st.failures[#st.failures + 1] = ("sync %d: %d transactions returned, the image holds %d")
      :format(at, committed, n)
  elseif n > committed + 1 then
    st.inconsistent = st.inconsistent + 1
    st.failures[#st.failures + 1] = ("sync %d: the image holds %d transactions, only %d began")
      :format(at, n, committed + 1)
  else
    st.consistent = st.consistent + 1
  end
end

-- sweep(w, sync, extra, points, first) -> counts {tried, consistent,
-- inconsistent, unopenable, failures}: a crash at each sync point of
-- points in turn (first: stop at the first failure)
local function sweep(w, sync, extra, points, first)
  local st = { tried = 0, consistent = 0, inconsistent = 0, unopenable = 0, failures = {} }
  for _, at in ipairs(points) do
    if first and #st.failures > 0 then break end
    local code, committed, err, out = run(w, sync, at, extra)
    if code == 99 then
      judge(st, w, sync, at, committed, out)
    elseif code ~= 0 then
      st.failures[#st.failures + 1] = ("sync %d: the workload failed (%s): %s"):format(at, code, err)
    end
  end
  return st
end

-- every(n, stride) -- 1..n, every stride-th (starting at 1, and n itself)
local function every(n, stride)
  local t = {}
  for i = 1, n, stride or 1 do t[#t + 1] = i end
  if t[#t] ~= n then t[#t + 1] = n end
  return t
end

-- report(name, st, total) -- the suite's line of counts
local function report(name, st, total)
  print(("\n  powerfail %s: %d of %d sync points tried, %d consistent, %d inconsistent, %d unopenable")
        :format(name, st.tried, total, st.consistent, st.inconsistent, st.unopenable))
end

TestPowerFail = {}

function TestPowerFail.test_full_every_sync_point()
  local w = WORKLOADS.bank
  local n = syncs(w, "full")
  lu.assertTrue(n >= TRANSFERS, "a sync per commit at least: " .. n)
  local st = sweep(w, "full", nil, every(n))
  report("transfers, full", st, n)
  lu.assertEquals(st.failures, {})
  lu.assertEquals(st.tried, n, "every sync point crashed once")
end

function TestPowerFail.test_normal_never_leaves_a_partial_transaction()
  -- the syncer thread's syncs come at its own times: the sweep covers the
  -- points this run reaches
  local w = WORKLOADS.bank
  local n = syncs(w, "normal")
  local st = sweep(w, "normal", nil, every(n + 2))
  lu.assertEquals(st.failures, {})
  lu.assertTrue(st.tried >= 3, "crashes happened: " .. st.tried)
end

-- the mixed workload (tests/mixed.lua) at every STRIDE-th sync point
local function mixed(sync)
  local w = WORKLOADS.mixed
  local n = syncs(w, sync)
  local points = every(sync == "normal" and n + 2 or n, STRIDE)
  local st = sweep(w, sync, nil, points)
  report(("mixed, %s, %d steps, every %ssync point"):format(sync, STEPS,
         STRIDE == 1 and "" or STRIDE .. "th "), st, n)
  lu.assertEquals(st.failures, {})
  lu.assertTrue(st.tried >= (sync == "full" and #points or 3), "crashes happened: " .. st.tried)
  lu.assertTrue(n >= (sync == "full" and STEPS or 1), "syncs: " .. n)
end

function TestPowerFail.test_mixed_full()
  mixed("full")
end

function TestPowerFail.test_mixed_normal()
  mixed("normal")
end

-- a negative control: the sweep (stopped at the first failure) must catch
-- the broken run, and the failure must be of the kind given
local function caught(w, extra, want)
  local n = syncs(w, "full")
  local st = sweep(w, "full", extra, every(n), true)
  lu.assertTrue(#st.failures > 0, extra .. " went unnoticed")
  lu.assertStrContains(table.concat(st.failures, "\n"), want)
end

function TestPowerFail.test_negative_control_log_without_sync()
  -- the log's syncs dropped: commits return without being durable, and the
  -- sweep must see a lost one
  caught(WORKLOADS.bank, "PMLUA_PF_DROP=-wal", "returned, the image holds")
end

function TestPowerFail.test_negative_control_change_outside_the_undo_log()
  -- every third snapshot dropped: what the changes of a transaction were
  -- is not in the image of its commit, nor undone by a rollback
  caught(WORKLOADS.mixed, "PMLUA_PF_NOSNAP=3", "the image is inconsistent")
end

os.exit(lu.LuaUnit.run())
