-- test_damage.lua -- pools damaged in the exact places that once crashed or
-- hung pmlua (a root offset outside the file, a zeroed allocation header in a
-- pool that needs recovery, a table body pointing at another allocation), the
-- heap view that guards every offset (checked against libpmemobj's own walk),
-- and the trial open's lock after its caller is killed. Each damaged pool is
-- opened in a child process under a time limit: a signal or a hang fails.
local lu = require "luaunit"
local helper = require "helper"
local q = helper.q

-- descriptor fields of a pmemobj pool (see src/pml_heap.h)
local DSC_ROOT_OFF, DSC_ROOT_SIZE = 6144, 6160
-- pml_Root: magic 8, version 8, state 8, nobjects 8, root cell 16
local ROOT_STATE, ROOT_CELL_OFF = 16, 40
-- pml_Table: header 16, count, used, cap, body
local TABLE_CAP, TABLE_BODY = 32, 40

local function peek(path, at)
  local f = assert(io.open(path, "rb"))
  f:seek("set", at)
  local v = string.unpack("<I8", f:read(8))
  f:close()
  return v
end

local function poke(path, at, v, n)
  local f = assert(io.open(path, "r+b"))
  f:seek("set", at)
  f:write(n and string.rep("\0", n) or string.pack("<I8", v))
  f:close()
end

-- the offset of the table stored at key k of the root table (a string key)
local function table_at(path, k)
  local root = peek(path, DSC_ROOT_OFF)
  local t = peek(path, root + ROOT_CELL_OFF)
  local cap, body = peek(path, t + TABLE_CAP), peek(path, t + TABLE_BODY)
  local entries = body + 16 * cap
  for i = 0, cap - 1 do
    local e = entries + 32 * i
    local f = assert(io.open(path, "rb"))
    f:seek("set", e)
    local key = f:read(16)
    f:close()
    if key:byte(1) == 5 and key:sub(3, 2 + key:byte(2)) == k then
      return peek(path, e + 24)
    end
  end
  error("setup: key " .. k .. " not found")
end

-- a closed pool: root = { a = { x = 1, s = <long string> }, b = { 1, 2 }, l = list }
local function sample_pool()
  local path = helper.pool_path("damage.pmem")
  local p = assert(pmem.open(path, "x", pmem.MIN_POOL_SIZE))
  p.root = { a = { x = 1, s = ("s"):rep(100) }, b = { 1, 2 }, l = p:list { "x", { 3 } } }
  p:close()
  return path
end

-- a child that opens the pool (flag), walks it, writes, collects, closes and
-- reopens; prints NIL <msg> or DONE lines. Run under a time limit.
local WALK = [[
local path, flag = ...
local function walk(v, seen)
  if pmem.type(v) and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do walk(k, seen) walk(x, seen) end
  end
end
for round = 1, 2 do
  local p, msg = pmem.open(path, flag)
  if not p then print("NIL " .. msg) return end
  pcall(function() walk(p.root, {}) end)
  if flag ~= "r" then
    pcall(function() p.root.a = nil end)
    pcall(function() p:gc() end)
  end
  p:close()
  print("DONE")
end
]]

-- run_walk -- run WALK on path; returns its output; fails on a signal or hang
local function run_walk(path, flag)
  local dir = helper.tmpdir()
  local script = dir .. "/walk.lua"
  local f = assert(io.open(script, "w")); f:write(WALK); f:close()
  local out, code, err = helper.run_cmd("timeout -s KILL 60 " .. q(helper.PMLUA) .. " "
    .. q(script) .. " " .. q(path) .. " " .. (flag or "w"))
  lu.assertEquals(code, 0, ("the child crashed or hung (status %s): %s%s"):format(
    tostring(code), out, err))
  return out
end

-- refill -- open the pool after a damaged run, allocate enough to reuse
-- anything wrongly freed, check the heap view; returns root.b as a table
local function refill(path)
  local p = assert(pmem.open(path))
  p.root.fill = p:list()
  p:transaction(function()
    for i = 1, 600 do p.root.fill:append { i, ("f"):rep(i % 40) } end
  end)
  local objects, walked, bad = pmem._audit(p)
  lu.assertEquals({ walked, bad }, { objects, 0 })
  local b = pmem.tolua(p.root.b)
  p:close()
  return b
end

TestDamage = {}

function TestDamage.test_root_offset_past_the_end_of_the_file()
  for _, flag in ipairs { "w", "r" } do
    local path = sample_pool()
    poke(path, DSC_ROOT_OFF, helper.file_size(path) + 4096)
    local out = run_walk(path, flag)
    lu.assertStrMatches(out, "NIL .*damaged pool %(no root object at offset %d+%)\n")
  end
end

function TestDamage.test_root_offset_inside_another_allocation()
  local path = sample_pool()
  poke(path, DSC_ROOT_OFF, table_at(path, "a") + 16)
  lu.assertStrContains(run_walk(path), "damaged pool (no root object")
end

function TestDamage.test_root_size_changed()
  local path = sample_pool()
  poke(path, DSC_ROOT_SIZE, 4096)
  lu.assertStrContains(run_walk(path, "r"), "damaged pool (root object of 4096 bytes)")
end

-- a pool that needs recovery is swept in full at open: the sweep walks the
-- heap itself, so a zeroed allocation header cannot make it loop
function TestDamage.test_zeroed_allocation_header_in_an_unclean_pool()
  local path = sample_pool()
  local root = peek(path, DSC_ROOT_OFF)
  poke(path, root + ROOT_STATE, 1)                       -- "the last run crashed"
  poke(path, table_at(path, "b") - 16, nil, 16)
  local out = run_walk(path)
  lu.assertStrMatches(out, "NIL [^\n]*damaged pool[^\n]*\n")
end

-- lane 0's undo log made to name itself as its next part: libpmemobj's own
-- open follows the chain forever. In a pool that needs recovery the trial
-- open's child is killed at the time limit, and leaves no lock: a second
-- open says the same. A cleanly closed pool's lanes are checked before
-- libpmemobj sees them.
function TestDamage.test_lane_log_that_loops()
  local path = sample_pool()
  local lanes = peek(path, 5120)                     -- descriptor: lanes_offset
  local undo = lanes + 256 + 704                     -- internal and external redo logs
  poke(path, undo + 8, undo)                          -- ulog.next
  local code_ = 'for _ = 1, 2 do print(select(2, pmem.open(os.getenv("P")))) end'
  local out, code, err = helper.run_cmd("P=" .. q(path) .. " timeout -s KILL 60 "
    .. q(helper.PMLUA) .. " -e " .. q(code_))
  lu.assertEquals(code, 0, out .. err)
  lu.assertEquals(out, (path .. ": damaged pool (bad lane log)\t22\n"):rep(2))
  poke(path, peek(path, DSC_ROOT_OFF) + ROOT_STATE, 1)   -- "the last run crashed"
  -- the trial runs in a spawned pmlua checker (not a fork of the caller):
  -- while it hangs (until the opener gives up), its command line is there
  -- to be seen
  out = helper.run_cmd("P=" .. q(path) .. " PMLUA_OPEN_TIMEOUT=5 " .. q(helper.PMLUA)
    .. " -e " .. q('print(select(2, pmem.open(os.getenv("P"))))') .. " & "
    .. "while kill -0 $! 2>/dev/null; do if grep -qsaP '\\x00--pmlua-trial-open\\x00' /proc/[0-9]*/cmdline; "
    .. "then echo spawned; break; fi; sleep 0.02; done; wait")
  lu.assertStrContains(out, "spawned\n")
  lu.assertStrContains(out, "did not finish opening it within 5 s")
  out, code, err = helper.run_cmd("P=" .. q(path) .. " PMLUA_OPEN_TIMEOUT=1 "
    .. "timeout -s KILL 60 " .. q(helper.PMLUA) .. " -e " .. q(code_))
  lu.assertEquals(code, 0, out .. err)
  local msg = path .. ": damaged pool (libpmemobj did not finish opening it within 1 s)\t22\n"
  lu.assertEquals(out, msg .. msg)
  -- the same in a host that ignores SIGCHLD (the kernel would reap the
  -- trial child unseen, and the real open would loop)
  out, code, err = helper.run_cmd("trap '' CHLD; P=" .. q(path) .. " PMLUA_OPEN_TIMEOUT=1 "
    .. "timeout -s KILL 60 " .. q(helper.PMLUA) .. " -e " .. q(code_))
  lu.assertEquals(code, 0, out .. err)
  lu.assertEquals(out, msg .. msg)
end

-- the body of table a made to point at table b's header: freeing a would
-- hand libpmemobj an offset that is not a body (SIGFPE or a corrupt heap)
function TestDamage.test_table_body_pointing_at_another_allocation()
  local path = sample_pool()
  local a, b = table_at(path, "a"), table_at(path, "b")
  poke(path, a + TABLE_BODY, b)
  lu.assertStrContains(run_walk(path), "DONE")
  -- nothing was freed through the bad offset: table b survives new
  -- allocations, and the heap is what libpmemobj says it is
  lu.assertEquals(refill(path), { 1, 2 })
end

-- the same damage with a body offset in the middle of an allocation
function TestDamage.test_table_body_pointing_inside_an_allocation()
  local path = sample_pool()
  local a = table_at(path, "a")
  poke(path, a + TABLE_BODY, peek(path, a + TABLE_BODY) + 64)
  lu.assertStrContains(run_walk(path), "DONE")
  lu.assertEquals(refill(path), { 1, 2 })
end

-- a table whose hash index is zeroed: iterating meets keys the index does
-- not find, which is damage, not a user's invalid key
function TestDamage.test_damaged_index_is_reported_as_damage()
  local path = sample_pool()
  local root = peek(path, DSC_ROOT_OFF)
  local t = peek(path, root + ROOT_CELL_OFF)
  poke(path, peek(path, t + TABLE_BODY), nil, 16 * peek(path, t + TABLE_CAP))
  local out = helper.child_ok([[
    local p = assert(pmem.open(..., "r"))
    print(pcall(function() for k in pairs(p.root) do end end))
    print(pcall(pmem.next, p.root, "no such key"))
    p:close()]], path)
  lu.assertStrMatches(out, "false\t[^\n]*damaged pool[^\n]*\nfalse\t[^\n]*invalid key to 'next'\n")
end

-- "pool is full" names the pool, its size and use
function TestDamage.test_pool_full_message()
  local path = helper.fast_pool_path()
  local p = assert(pmem.open(path, "x", pmem.MIN_POOL_SIZE))
  p.root = p:list()
  local ok, err = pcall(function()
    for _ = 1, 1000 do p.root:append(("x"):rep(100000)) end
  end)
  lu.assertFalse(ok)
  lu.assertStrMatches(err, ".*" .. path:gsub("%p", "%%%0")
    .. ": pool is full %(a 8%.0 MiB file, %d+%.%d MiB used by %d+ allocations; %d+%.%d MiB "
    .. "taken by the allocator's runs and chunks%); the change "
    .. "was rolled back: delete data you no longer need, or copy the data into a larger pool")
  p:close()
end

TestHeapView = {}

-- pmlua's view of the heap agrees with libpmemobj's object walk: the same
-- objects, types and usable sizes, and no offset next to one is taken for one
function TestHeapView.test_heap_view_matches_libpmemobj()
  local path = helper.fast_pool_path()
  local p = assert(pmem.open(path, "x", 64 * 1024 * 1024))
  p.root = { t = {}, l = p:list(), s = p:set { 1, 2, 3 } }
  local r = p.root
  p:transaction(function()
    for i = 1, 2000 do
      r.t[i] = ("v"):rep(i % 300)
      r.l:append { i }
    end
  end)
  r.huge = ("H"):rep(3 * 1024 * 1024)                     -- whole chunks
  r.big = ("B"):rep(200000)
  for i = 1, 2000, 3 do r.t[i] = nil end
  local objects, walked, bad = pmem._audit(p)
  lu.assertTrue(objects > 4000, "objects: " .. objects)
  lu.assertEquals(walked, objects)
  lu.assertEquals(bad, 0)
  p:gc()
  p:close()
  p = assert(pmem.open(path))
  objects, walked, bad = pmem._audit(p)
  lu.assertEquals({ walked, bad }, { objects, 0 })
  p:close()
end

TestTruncated = {}

-- another program truncates an open pool's file: touching the lost pages
-- ends the process with a message naming the pool, not a bare SIGBUS
function TestTruncated.test_truncated_while_open()
  for _, flag in ipairs { "w", "r" } do
    local path = sample_pool()
    local out, code, err = helper.child([[
      local path, flag = ...
      local p = assert(pmem.open(path, flag))
      os.execute("truncate -s 8192 '" .. path .. "'")
      print(p.root.a.s)
      print("NOT REACHED")]], path, flag)
    lu.assertEquals(code, 1, out .. err)
    lu.assertNotStrContains(out, "NOT REACHED")
    lu.assertStrContains(err, "pmlua: " .. path .. ": the pool's file was truncated or "
                         .. "replaced while the pool was open")
  end
end

TestLaneLog = {}

-- a redo log extension that points at a place in the heap holding no log
-- (capacity 0 there): libpmemobj divided by zero appending pmlua's log
-- reserve to it in the collection at open; now the lane check refuses it
function TestLaneLog.test_extension_without_a_log_is_refused()
  local path = helper.pool_path()
  helper.child_env_ok(helper.DIRECT, [[
    local p = assert(pmem.open(arg[1], "c", 64 * 1024 * 1024))
    p.root = { l = p:list() }
    for i = 1, 200 do p.root.l:append({ i = i }) end
    os.exit(0)]], path)
  local f = assert(io.open(path, "r+b"))
  f:seek("set", 5120)
  local lanes = string.unpack("<I8", f:read(8))
  f:seek("set", lanes + 256 + 8)           -- lane 0, external redo log, next
  f:write(string.pack("<I8", 16 * 1024 * 1024))
  f:close()
  local out, code, err = helper.child([[
    local p, msg = pmem.open(arg[1])
    print(p, msg)]], path)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "nil\t" .. path .. ": damaged pool (bad lane log)\n")
end

-- a transaction whose snapshots outgrew lane 0's undo log (2 KiB) leaves
-- its first extension linked there after the commit, and a clean close
-- leaves it too in a pool without a log reserve (under 16 MiB: no bulk
-- transaction at close frees it); libpmemobj frees it at the next open.
-- The lane check used to refuse that pool as damaged. It still refuses the
-- extension with its capacity zeroed where libpmemobj reads it: past the
-- link rounded up to 64 bytes (the link is the allocation's offset)
local function pool_with_undo_extension(path, engine)
  os.remove(path)
  helper.child_env_ok(engine, [[
    local p = assert(pmem.open(arg[1], "c", pmem.MIN_POOL_SIZE))
    p.root = {}
    local t = p.root
    for i = 1, 300 do t[i] = i end
    p:transaction(function() for i = 1, 300 do t[i] = -i end end)
    p:close()]], path)
  local next_ = peek(path, peek(path, 5120) + 256 + 704 + 8)  -- lane 0's undo log
  lu.assertNotEquals(next_, 0, "lane 0's undo log has no extension")
  return next_
end

function TestLaneLog.test_undo_extension_left_by_a_commit_is_sound()
  local path = helper.pool_path()
  for _, engine in ipairs { "", helper.DIRECT } do
    pool_with_undo_extension(path, engine)
    local out = helper.child_ok([[
      local p = assert(pmem.open(arg[1]))
      print(p.root[1], p.root[300])
      p:close()
      p = assert(pmem.open(arg[1]))
      print(#p.root)
      p:close()]], path)
    lu.assertEquals(out, "-1\t-300\n300\n", engine)
  end
  local ext = pool_with_undo_extension(path, "")
  poke(path, (ext + 63) // 64 * 64 + 16, 0)                -- its ulog.capacity
  local out, code, err = helper.child("print(pmem.open(arg[1]))", path)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "nil\t" .. path .. ": damaged pool (bad lane log)\t22\n")
end

-- a process killed right after libpmemobj linked pmlua's log reserve to a
-- lane's log (tests/linkkill.c, an LD_PRELOAD library built here; the
-- direct engine, PMEM_IS_PMEM_FORCE=1): at the commit of a collection's
-- batch (the redo log: libpmemobj's recovery keeps the link, and the next
-- commit in that lane would free the reserve as a log of its own), or when
-- the batch starts (the undo log: libpmemobj's recovery unlinks it). The
-- pool opens, with either engine, as it was before the batch, and its
-- lanes keep no link into the reserve.
local function linkkill_so()
  local so = helper.tmpdir() .. "/linkkill.so"
  local out, code, err = helper.run_cmd(("cc -O2 -shared -fPIC -o %s tests/linkkill.c -ldl")
                                        :format(q(so)))
  if code ~= 0 then helper.skip("cannot build tests/linkkill.c: " .. err .. out) end
  return so
end

local LOGBUF_SIZE = 256 * 1024 - 16        -- PML_LOGBUF_SIZE
local ROOT_LOGBUF = 48

-- the links of every lane's logs into [lo, hi)
local function links_into(path, lo, hi)
  local lanes, n, found = peek(path, 5120), peek(path, 5128), {}
  for i = 0, n - 1 do
    for _, at in ipairs { 0, 256, 256 + 704 } do
      local next_ = peek(path, lanes + i * 3072 + at + 8)
      if next_ >= lo and next_ < hi then found[#found + 1] = next_ end
    end
  end
  return found
end

-- killed_pool(path, so, half) -- a pool at path whose collection was killed
-- right after the link to the half ("redo" or "undo") of its log reserve;
-- returns the reserve's offset
local function killed_pool(path, so, half)
  local asan = helper.SANITIZED and "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 " or ""
  os.remove(path)
  helper.child_env_ok("PMEM_IS_PMEM_FORCE=1", [[
    local p = assert(pmem.open(arg[1], "c", 32 * 1024 * 1024))
    p.root = { n = 0, l = p:list() }
    for i = 1, 500 do p.root.l:append({ i = i }) end
    p:close()]], path)
  local lo = peek(path, peek(path, DSC_ROOT_OFF) + ROOT_LOGBUF)
  lu.assertNotEquals(lo, 0, "no log reserve")
  local mid = lo + LOGBUF_SIZE // 2
  local from, to = half == "redo" and lo or mid, half == "redo" and mid or lo + LOGBUF_SIZE
  local _, code = helper.child_env(("%sLD_PRELOAD=%s PMEM_IS_PMEM_FORCE=1 PMLUA_LK_LO=%d "
                                    .. "PMLUA_LK_HI=%d"):format(asan, q(so), from, to), [[
    local p = assert(pmem.open(arg[1]))
    p.root.n = 1
    p.root.l = nil
    p:gc()
    print("not killed")]], path)
  lu.assertEquals(code, 137, half .. ": the child was not killed at the link")
  if half == "redo" then
    lu.assertEquals(#links_into(path, from, to), 1, "no link left into the reserve")
  end
  return lo
end

function TestLaneLog.test_log_reserve_linked_by_a_killed_collection()
  local so = linkkill_so()
  local path = helper.fast_pool_path()
  for _, half in ipairs { "redo", "undo" } do
    for _, engine in ipairs { "PMEM_IS_PMEM_FORCE=1", "PMLUA_ENGINE=log" } do
      local lo = killed_pool(path, so, half)
      local out = helper.child_env_ok(engine, [[
        local p = assert(pmem.open(arg[1]))
        print(p.root.n, p.root.l)
        p.root.m = p:list()
        for i = 1, 50 do p.root.m:append({ i }) end
        p.root.m = nil
        p:gc()
        p.root.k = { "a change that is not a collection" }
        p:close()
        p = assert(pmem.open(arg[1]))
        print(p.root.k[1])
        p:close()]], path)
      lu.assertEquals(out, "1\tnil\na change that is not a collection\n", half .. " " .. engine)
      lu.assertEquals(links_into(path, lo, lo + LOGBUF_SIZE), {}, half .. " " .. engine)
    end
  end
end

-- only a log marked as lent, followed by a sound chain, is unlinked: the
-- same link is refused when the log there is not marked, or links on to
-- a place that holds no log
function TestLaneLog.test_damaged_link_into_the_log_reserve_is_refused()
  local so = linkkill_so()
  local path = helper.fast_pool_path()
  for _, field in ipairs { 32, 8 } do                   -- its flags; its next
    local lo = killed_pool(path, so, "redo")
    local log = links_into(path, lo, lo + LOGBUF_SIZE // 2)[1]
    poke(path, log + field, field == 32 and 0 or 16 * 1024 * 1024)
    local out, code, err = helper.child("print(pmem.open(arg[1]))", path)
    lu.assertEquals(code, 0, err)
    lu.assertEquals(out, "nil\t" .. path .. ": damaged pool (bad lane log)\t22\n", field)
  end
end

TestLock = {}

-- a process killed while opening its pool (during the trial open, whose
-- child holds libpmemobj's lock for a moment) leaves nothing that holds the
-- pool: an open right after the kill succeeds, every time
function TestLock.test_killed_opener_leaves_no_lock()
  local path = sample_pool()
  local script = helper.tmpdir() .. "/opener.lua"
  local f = assert(io.open(script, "w"))
  f:write([[
local path = ...
while true do
  local p = pmem.open(path)
  if p then p:close() end
end
]])
  f:close()
  local failures = {}
  for i = 1, tonumber(os.getenv("PMLUA_KILLED_OPENS") or 60) do
    local h = assert(io.popen(("sh -c 'echo $$; exec %s %s %s' 2>&1"):format(
      q(helper.PMLUA), q(script), q(path))))
    local pid = tonumber(h:read("l"))
    os.execute(("sleep %.3f"):format(0.02 + (i % 10) * 0.005))
    os.execute("kill -9 " .. pid)
    h:read("a")
    h:close()
    local p, msg = pmem.open(path)
    if p then p:close() else failures[#failures + 1] = msg end
  end
  lu.assertEquals(failures, {})
end

-- the descriptor's heap size lies outside every checksum, and libpmemobj
-- trusts it: on a sealed (cleanly closed) pool a wrong one must still send
-- the open through the trial, which sees libpmemobj crash
function TestDamage.test_heap_size_in_a_sealed_pool()
  local path = sample_pool()
  poke(path, 6176, 1)                                -- descriptor: heap_size
  lu.assertStrContains(run_walk(path), "NIL " .. path .. ": damaged pool (libpmemobj crashed opening it")
end

-- the reference-count audit (pmem._audit's fourth result, and debug
-- builds' check at close) can fail: a count one too high is found
function TestDamage.test_audit_finds_a_wrong_reference_count()
  local path = sample_pool()
  local b = table_at(path, "b")
  lu.assertEquals(helper.child_ok("local p = assert(pmem.open(...)); print(select(4, pmem._audit(p)))", path), "0\n")
  poke(path, b + 8, peek(path, b + 8) + 1)               -- pml_Hdr.refcount
  local out = helper.child_ok("local p = assert(pmem.open(...)); print(select(4, pmem._audit(p))); p:close()", path)
  lu.assertEquals(out, b .. "\n")
end

os.exit(lu.LuaUnit.run())
