-- test_powerfail.lua -- power failures at every sync of the log engine
-- (docs/durability.md): a workload of transactions runs under the shim
-- tests/powerfail.c, which at its k-th sync leaves only what had been made
-- durable, for every k in turn. Each image must open at a transaction
-- boundary (checked invariants) and, under sync = "full", hold every
-- transaction whose commit had returned. A negative control (the log's
-- syncs dropped) must be caught. Checkpoints are made frequent
-- (PMLUA_WAL_CHECKPOINT) so that crashes land inside them too.
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
local pool = assert(pmem.open(arg[1]))
local root, sum = pool.root, 0
for i = 1, #root.acct do sum = sum + root.acct[i] end
assert(sum == tonumber(arg[2]), "money is not conserved: " .. sum)
assert(#root.hist == root.n, "history " .. #root.hist .. " for " .. root.n .. " transfers")
for i = 1, #root.hist do assert(root.hist[i] == i, "history entry " .. i) end
if root.n >= 7 then
  local i = root.n - root.n % 7
  assert(root.big == string.rep(string.char(64 + i % 26), 70000 + i), "large value")
end
print(root.n)
pool:close()
]]

local write = helper.write_file

-- a fresh pool with the accounts, closed
local function base_pool(dir)
  local path = dir .. "/bank.pmem"
  helper.child_ok(([[
    local pool = assert(pmem.create(arg[1], pmem.MIN_POOL_SIZE))
    local acct = {}
    for i = 1, %d do acct[i] = %d end
    pool.root = { acct = acct, hist = pool:list(), n = 0 }
    pool:close()]]):format(ACCOUNTS, TOTAL // ACCOUNTS), path)
  return path
end

local scripts = helper.tmpdir()
write(scripts .. "/workload.lua", WORKLOAD)
write(scripts .. "/verify.lua", VERIFY)

local function env(dir, out, at, extra)
  local asan = helper.SANITIZED and "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 " or ""
  return ("%sLD_PRELOAD=%s PMLUA_PF_DIR=%s PMLUA_PF_OUT=%s %s PMLUA_WAL_CHECKPOINT=65536 "
          .. "PMLUA_ENGINE=log %s "):format(asan, q(SHIM), q(dir), q(out),
          at and "PMLUA_PF_AT=" .. at or "", extra or "")
end

-- run(sync, at, extra) -> exit code, commits printed, stderr: the workload
-- on a copy of the base pool, crashing at sync number at (nil: never)
local base_dir = helper.tmpdir()
local base = base_pool(base_dir)
local function run(sync, at, extra)
  local dir, out = helper.tmpdir(), helper.tmpdir()
  os.execute("cp " .. q(base) .. " " .. q(dir .. "/bank.pmem"))
  local stdout, code, err = helper.run_cmd(env(dir, out, at, extra) .. q(helper.PMLUA) .. " "
    .. q(scripts .. "/workload.lua") .. " " .. q(dir .. "/bank.pmem") .. " " .. sync .. " "
    .. TRANSFERS)
  local committed = 0
  for i in stdout:gmatch("committed (%d+)") do committed = tonumber(i) end
  return code, committed, err, out
end

-- the image in out: how many transfers it holds, or nil and the error
local function verify(out)
  local stdout, code, err = helper.run_cmd(q(helper.PMLUA) .. " " .. q(scripts .. "/verify.lua")
    .. " " .. q(out .. "/bank.pmem") .. " " .. TOTAL)
  if code ~= 0 then return nil, err end
  return tonumber(stdout)
end

local function syncs(sync)
  local code, committed, err = run(sync)
  lu.assertEquals({ code, committed }, { 0, TRANSFERS }, err)
  local n = tonumber(err:match("powerfail: (%d+) syncs"))
  lu.assertNotNil(n, err)
  return n
end

-- sweep(sync, extra) -> images checked, failures (text): a crash at every
-- sync of the workload in turn
local function sweep(sync, extra, points, first)
  local failures, checked = {}, 0
  for _, at in ipairs(points) do
    if first and #failures > 0 then break end
    local code, committed, err, out = run(sync, at, extra)
    if code == 99 then
      checked = checked + 1
      local n, verr = verify(out)
      if n == nil then
        failures[#failures + 1] = ("sync %d: the image does not verify: %s"):format(at, verr)
      elseif sync == "full" and n < committed then
        failures[#failures + 1] = ("sync %d: %d transfers returned, the image holds %d")
          :format(at, committed, n)
      elseif n > committed + 1 then
        failures[#failures + 1] = ("sync %d: the image holds %d transfers, only %d began")
          :format(at, n, committed + 1)
      end
    elseif code ~= 0 then
      failures[#failures + 1] = ("sync %d: the workload failed (%s): %s"):format(at, code, err)
    end
  end
  return checked, failures
end

local function every(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

TestPowerFail = {}

function TestPowerFail.test_full_every_sync_point()
  local n = syncs("full")
  lu.assertTrue(n >= TRANSFERS, "a sync per commit at least: " .. n)
  local checked, failures = sweep("full", nil, every(n))
  lu.assertEquals(failures, {})
  lu.assertEquals(checked, n, "every sync point crashed once")
  io.stderr:write(("     powerfail: %d sync points of %d transfers (full), every image checked\n")
                  :format(n, TRANSFERS))
end

function TestPowerFail.test_normal_never_leaves_a_partial_transaction()
  -- the syncer thread's syncs come at its own times: the sweep covers the
  -- points this run reaches
  local n = syncs("normal")
  local checked, failures = sweep("normal", nil, every(n + 2))
  lu.assertEquals(failures, {})
  lu.assertTrue(checked >= 3, "crashes happened: " .. checked)
end

function TestPowerFail.test_negative_control_log_without_sync()
  -- the log's syncs dropped: commits return without being durable, and the
  -- sweep must see a lost one
  local n = syncs("full")
  local _, failures = sweep("full", "PMLUA_PF_DROP=-wal", every(n), true)
  lu.assertTrue(#failures > 0, "dropping the log's syncs went unnoticed")
  local lost = false
  for _, f in ipairs(failures) do lost = lost or f:find("returned, the image holds") ~= nil end
  lu.assertTrue(lost, table.concat(failures, "\n"))
end

os.exit(lu.LuaUnit.run())
