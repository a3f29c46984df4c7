-- test_wal.lua -- the log a crashed run leaves beside its pool (PATH-wal,
-- docs/durability.md) is a file a user can hand to pmlua like any other:
-- damaged, truncated, foreign or garbage logs give a clear error or are
-- replayed up to their last intact commit, never a crash or a hang, and
-- the pool still holds a commit.
local lu = require "luaunit"
local helper = require "helper"
local q = helper.q

local read, write = helper.read_file, helper.write_file

-- a pool whose run died after 30 commits (n = 1..30, each with a list
-- entry), leaving its log
local function crashed(dir)
  local path = dir .. "/c.pmem"
  helper.child_env_ok("PMLUA_ENGINE=log", [[
    local pool = assert(pmem.open(arg[1], "c", pmem.MIN_POOL_SIZE))
    pool.root = { n = 0, l = pool:list() }
    for i = 1, 30 do
      pool:transaction(function() pool.root.n = i; pool.root.l:append(i * 10) end)
    end
    os.exit(0)]], path)
  return path, read(path), read(path .. "-wal")
end

-- the check run on each damaged copy: opens, verifies the invariant, prints
local CHECK = [[
local pool, err = pmem.open(arg[1])
if not pool then print("refused", err) return end
local root = pool.root
if root ~= nil then
  assert(#root.l == root.n, "list " .. #root.l .. " for n " .. root.n)
  for i = 1, #root.l do assert(root.l[i] == i * 10) end
end
print("opened", root and root.n)
pool:close()
]]

local MUTANTS = tonumber(os.getenv("PMLUA_WAL_MUTANTS")) or 60

TestWal = {}

function TestWal.test_an_intact_log_replays_every_commit()
  local dir = helper.tmpdir()
  local path, _, log = crashed(dir)
  lu.assertNotNil(log, "the run left its log")
  lu.assertEquals(helper.child_ok(CHECK, path), "opened\t30\n")
  lu.assertNil(read(path .. "-wal"), "replayed and removed")
end

function TestWal.test_damaged_logs_never_crash()
  local dir = helper.tmpdir()
  local _, pool, log = crashed(dir)
  math.randomseed(os.time())
  local counts = { refused = 0, opened = 0 }
  local work = helper.tmpdir()
  local f = work .. "/check.lua"
  write(f, CHECK)
  for i = 1, MUTANTS do
    local m, kind = log, i % 6
    if kind == 0 then                                -- flipped bytes
      for _ = 1, math.random(1, 8) do
        local at = math.random(1, #m)
        m = m:sub(1, at - 1) .. string.char(m:byte(at) ~ math.random(1, 255)) .. m:sub(at + 1)
      end
    elseif kind == 1 then                            -- truncated
      m = m:sub(1, math.random(0, #m - 1))
    elseif kind == 2 then                            -- garbage appended
      local g = {}
      for j = 1, math.random(1, 4096) do g[j] = string.char(math.random(0, 255)) end
      m = m .. table.concat(g)
    elseif kind == 3 then                            -- a frame's length made huge
      local at = 32 + 8
      m = m:sub(1, at) .. string.pack("<I8", math.random(1, 1 << 62)) .. m:sub(at + 9)
    elseif kind == 4 then                            -- the header's uuid changed
      m = m:sub(1, 16) .. string.pack("<I8", math.random(1, 1 << 62)) .. m:sub(25)
    else                                             -- pure garbage
      local g = {}
      for j = 1, math.random(1, 8192) do g[j] = string.char(math.random(0, 255)) end
      m = table.concat(g)
    end
    local path = work .. "/m" .. i .. ".pmem"
    write(path, pool)
    write(path .. "-wal", m)
    local out, code, err = helper.run_cmd("timeout 20 " .. q(helper.PMLUA) .. " " .. q(f)
                                          .. " " .. q(path))
    lu.assertEquals(code, 0, ("mutant %d (kind %d): exit %s: %s%s"):format(i, kind, code, out, err))
    local what, n = out:match("^(%a+)\t(.-)\n$")
    lu.assertNotNil(what, out)
    counts[what] = counts[what] + 1
    if what == "opened" then
      lu.assertTrue(tonumber(n) == nil or tonumber(n) <= 30, out)
    else
      lu.assertTrue(n:find(path .. "-wal: ", 1, true) == 1, "the message names the log: " .. out)
    end
    os.remove(path)
    os.remove(path .. "-wal")
  end
  io.stderr:write(("     damaged logs: %d tried, %d opened at a commit, %d refused\n")
                  :format(MUTANTS, counts.opened, counts.refused))
  lu.assertTrue(counts.opened > 0 and counts.refused > 0)
end

os.exit(lu.LuaUnit.run())
