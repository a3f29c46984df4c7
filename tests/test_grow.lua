-- test_grow.lua -- pools that grow (docs/reference.md, "Size"): a new pool
-- takes little disk and grows with its data up to max_size or the device;
-- a full device or the file size limit fails the change that needed room
-- with a clear error, keeps everything committed, and the pool goes on.
-- Real files, real child processes; the disk-full test mounts a small ext4
-- file system when run as root (as CI does), and the file size limit test
-- needs only prlimit(1).
local lu = require "luaunit"
local h = require "helper"
local pmem = require "pmem"

local MiB = 1024 * 1024

-- blocks(path) -> bytes the file takes on its device
local function blocks(path)
  local out = h.run_cmd("stat -c '%b %B' " .. h.q(path))
  local n, unit = out:match("(%d+) (%d+)")
  return tonumber(n) * tonumber(unit)
end

local function have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
end

-- fill(pool, list, rec, limit) -> records appended (each its own change)
-- until one fails; the error message
local function fill(list, rec, max)
  local n = 0
  while n < max do
    local ok, err = pcall(function() list:append(rec .. n) end)
    if not ok then return n, err end
    n = n + 1
  end
  return n
end

TestGrow = {}

function TestGrow:test_a_fresh_pool_is_small_on_disk()
  local path = h.pool_path()
  local pool = assert(pmem.open(path, "c"))
  local s = pool:stats()
  pool.root = { greeting = "hello" }
  pool:close()
  lu.assertTrue(s.max_size >= 256 * MiB, "max_size " .. s.max_size)
  lu.assertTrue(s.size <= 16 * MiB, "size " .. s.size)
  lu.assertTrue(h.file_size(path) <= 16 * MiB, "file of " .. h.file_size(path))
  lu.assertTrue(blocks(path) <= 16 * MiB, "blocks " .. blocks(path))
  lu.assertEquals(h.in_child('local pmem = require "pmem"', path,
                             "io.write(root.greeting)"), "hello")
end

function TestGrow:test_a_size_alone_makes_a_fixed_pool()
  local path = h.pool_path()
  local pool = assert(pmem.open(path, "c", { size = 32 * MiB }))
  lu.assertEquals(pool:stats().size, 32 * MiB)
  lu.assertEquals(pool:stats().max_size, 32 * MiB)
  pool.root = { 1, 2, 3 }
  pool:close()
  lu.assertEquals(h.file_size(path), 32 * MiB)
  lu.assertTrue(blocks(path) >= 32 * MiB)        -- all its blocks, at once
  -- a fixed pool is format version 1: what an older pmlua reads
  local pool2 = assert(pmem.open(path, "r"))
  lu.assertEquals(#pool2.root, 3)
  pool2:close()
end

function TestGrow:test_max_size_is_where_the_pool_is_full()
  local path = h.pool_path()
  local pool = assert(pmem.open(path, "c", { max_size = 24 * MiB }))
  lu.assertEquals(pool:stats().max_size, 24 * MiB)
  pool.root = { log = pool:list() }
  local rec = string.rep("r", 4000)
  local n, err = fill(pool.root.log, rec, 100000)
  lu.assertNotNil(err)
  lu.assertStrContains(err, path .. ": pool is full (it reached its maximum size")
  lu.assertTrue(n > 2000, "only " .. n .. " records")
  -- the pool goes on: delete, then append again
  for _ = 1, 1000 do pool.root.log:remove() end
  pool:gc()
  pool.root.log:append("after")
  pool:close()
  lu.assertTrue(h.file_size(path) <= 24 * MiB)
  lu.assertEquals(h.in_child('local pmem = require "pmem"', path,
    "io.write(#root.log, ' ', root.log[#root.log], ' ', root.log[1])"),
    ("%d after %s0"):format(n - 1000 + 1, rec))
end

function TestGrow:test_grows_to_a_gibibyte_and_back_at_rest()
  local path = h.pool_path()
  local out = h.child_ok([[
    local pmem = require "pmem"
    local pool = assert(pmem.open(arg[1], "c", { sync = "normal" }))
    pool.root = { l = pool:list() }
    local l = pool.root.l
    local chunk = string.rep("x", 64 * 1024)
    local n = 0
    while pool:stats().used < 2^30 do
      pool:transaction(function() for _ = 1, 64 do l:append(chunk .. n); n = n + 1 end end)
    end
    io.write(n, " ", pool:stats().size)
    pool:close()
  ]], path)
  local n, size = out:match("(%d+) (%d+)")
  n, size = tonumber(n), tonumber(size)
  lu.assertTrue(size >= 2^30, "size " .. size)
  lu.assertEquals(h.file_size(path), size)        -- the free tail cut off
  lu.assertTrue(blocks(path) >= 2^30)
  -- every record, in a new process
  lu.assertEquals(h.child_ok([[
    local pmem = require "pmem"
    local pool = assert(pmem.open(arg[1], "r"))
    local l, chunk = pool.root.l, string.rep("x", 64 * 1024)
    for i = 1, #l do assert(l[i] == chunk .. (i - 1), i) end
    io.write(#l)
    pool:close()
  ]], path), tostring(n))
end

function TestGrow:test_a_pool_at_rest_moves_and_copies()
  local path = h.pool_path()
  local pool = assert(pmem.open(path, "c"))
  pool.root = { words = { "one", "two" }, big = string.rep("b", 3 * MiB) }
  pool:close()
  local moved, copied = path .. ".moved", path .. ".copy"
  assert(os.rename(path, moved))
  h.write_file(copied, h.read_file(moved))        -- a plain byte copy
  for _, p in ipairs({ moved, copied }) do
    lu.assertEquals(h.in_child('local pmem = require "pmem"', p,
      "root.words[3] = 'three'; io.write(table.concat({root.words[1], root.words[3], #root.big}, ' '))"),
      "one three " .. 3 * MiB)
  end
end

function TestGrow:test_read_only_open_writes_nothing()
  local path = h.pool_path()
  local pool = assert(pmem.open(path, "c"))
  pool.root = { k = "v" }
  pool:close()
  local before = h.read_file(path)
  local ro = assert(pmem.open(path, "r"))
  lu.assertEquals(ro.root.k, "v")
  lu.assertTrue(ro:stats().max_size > h.file_size(path))
  ro:close()
  lu.assertEquals(h.read_file(path), before)
end

function TestGrow:test_options_are_checked()
  local path = h.pool_path()
  local ok, err = pcall(pmem.open, path, "c", { size = 64 * MiB, max_size = 32 * MiB })
  lu.assertFalse(ok)
  lu.assertStrContains(err, "option 'size' (67108864) is above option 'max_size' (33554432)")
  ok, err = pcall(pmem.open, path, "c", { max_size = 1024 })
  lu.assertFalse(ok)
  lu.assertStrContains(err, "is below the minimum")
  lu.assertNil(io.open(path))
end

-- The file size limit (ulimit -f, here prlimit --fsize) stands for a full
-- device without root: the log of a transaction larger than what the limit
-- leaves fails that transaction, before anything changed, and the pool goes
-- on; past the limit nothing is written (no SIGXFSZ).
function TestGrow:test_file_size_limit_fails_the_change_not_the_pool()
  if not have("prlimit") then lu.skip("no prlimit") end
  local path = h.pool_path()
  h.child_ok('local pmem = require "pmem"; local p = assert(pmem.open(arg[1], "c", '
             .. '{ max_size = 32 * 2^20 })); p.root = {}; p:close()', path)
  -- each transaction replaces 4 MiB with other bytes: the pool stays small,
  -- the log (never checkpointed here) passes the limit of 40 MiB
  local out, code, err = h.child_env("PMLUA_WAL_CHECKPOINT=1000000000 prlimit --fsize="
    .. 40 * MiB, [[
    local pmem = require "pmem"
    local pool = assert(pmem.open(arg[1], "w"))
    local committed, err = 0
    for t = 1, 100 do
      -- other bytes each time: the log cannot keep only what changed
      local chunk = string.rep(string.char(65 + t % 26), 256 * 1024)
      local ok, e = pcall(pool.transaction, pool, function()
        local r = pool.root
        for i = 1, 16 do r[i] = chunk .. t end
      end)
      if not ok then err = e break end
      committed = t
    end
    assert(err, "no error")
    io.write(committed, "\n", err, "\n")
    pool.root.after = "the error"   -- the pool goes on
    pool:close()
  ]], path)
  lu.assertEquals(code, 0, err)
  local committed, msg = out:match("^(%d+)\n(.-)\n$")
  lu.assertNotNil(committed, out)
  lu.assertStrContains(msg, "no room for the pool's log: the process's file size limit")
  lu.assertStrContains(msg, path .. "-wal")
  lu.assertTrue(tonumber(committed) >= 2, out)
  lu.assertEquals(h.in_child('local pmem = require "pmem"', path,
    "io.write(root.after, ' ', root[16]:sub(256 * 1024 + 1))"), "the error " .. committed)
end

-- A full device, for real: a 64 MiB ext4 file system mounted from a file
-- (root only: CI runs as root). The pool (max_size 1 GiB) fills it: the
-- change that needed room fails with the device's error, every committed
-- record stays, deleting lets the program go on.
function TestGrow:test_full_device()
  if not have("mkfs.ext4") or h.run_cmd("id -u") ~= "0\n" then
    lu.skip("needs root and mkfs.ext4")
  end
  local dir = h.tmpdir()
  local img, mnt = dir .. "/fs.img", dir .. "/mnt"
  assert(os.execute("truncate -s 64M " .. h.q(img) .. " && mkfs.ext4 -q -m 0 " .. h.q(img)
                    .. " && mkdir " .. h.q(mnt)))
  if not os.execute("mount -o loop " .. h.q(img) .. " " .. h.q(mnt) .. " 2>/dev/null") then
    lu.skip("cannot mount a loop device here")
  end
  local ok, e = pcall(function()
    local path = mnt .. "/full.pmem"
    local out = h.child_ok([[
      local pmem = require "pmem"
      local pool = assert(pmem.open(arg[1], "c", { max_size = 2^30 }))
      pool.root = { l = pool:list() }
      local l, rec = pool.root.l, string.rep("z", 8000)
      local n, err = 0
      while true do
        local ok, e = pcall(function() l:append(rec .. n) end)
        if not ok then err = e break end
        n = n + 1
      end
      io.write(n, "\n", err, "\n")
      for _ = 1, n // 2 do l:remove() end      -- make room, and go on
      pool:gc()
      local more = 0
      for i = 1, 100 do l:append("again " .. i); more = i end
      io.write(more, "\n")
      pool:close()
    ]], path)
    local n, msg, more = out:match("^(%d+)\n(.-)\n(%d+)\n$")
    lu.assertNotNil(n, out)
    lu.assertTrue(tonumber(n) > 1000, out)
    lu.assertStrContains(msg, path)
    lu.assertStrContains(msg, "No space left on device")
    lu.assertEquals(more, "100")
    lu.assertEquals(h.in_child('local pmem = require "pmem"', path,
      "io.write(#root.l, ' ', root.l[#root.l], ' ', root.l[1]:sub(8001))"),
      ("%d again 100 0"):format(tonumber(n) - tonumber(n) // 2 + 100))
  end)
  os.execute("umount " .. h.q(mnt))
  if not ok then error(e, 0) end
end

os.exit(lu.LuaUnit.run())
