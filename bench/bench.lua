--[[
bench.lua -- pmlua's side of `make bench`: the operations c_baseline.c times,
done through the pmem module, plus the read and GC figures.

  pmlua bench/bench.lua POOLDIR [key=value ...]

Keys (defaults in `opt` below): reps, read_time (seconds per read repetition),
set1, append, tx100 (number of 100-write transactions), size (pool bytes),
gc (comma-separated object counts, or "none"), gc_reps, gc_back (children for the
back-pointer collection, 0: none), gc_bpo (pool bytes per
object for the GC pools), only (comma-separated sections to run), tag (a
suffix for the names of the read figures: bench/run.sh runs the reads again
with PMLUA_API_READS=1 and tag=_api).

Output, one line per figure, the median of `reps` repetitions:

  name ops wall_seconds cpu_seconds

the same format as c_baseline. Lines starting with "#" are notes; a section
whose feature errors prints "skip <section>: <error>" and the run goes on.

Clocks: wall time comes from bench_clock (bench/clock.c, CLOCK_MONOTONIC),
CPU time from the same module (CLOCK_PROCESS_CPUTIME_ID, what os.clock reads).
bench/run.sh builds bench_clock and computes its ratios from wall time,
because on an ordinary file a transaction spends most of its time blocked in
msync, which CPU time does not count. If bench_clock cannot be loaded, both
columns fall back to os.clock and a note says so.
]]

local pmem = require "pmem"

local dir = arg[1]
if not dir then
  io.stderr:write("usage: pmlua bench/bench.lua POOLDIR [key=value ...]\n")
  os.exit(2)
end

local opt = {
  reps = 5, read_time = 0.2, set1 = 100000, append = 100000, tx100 = 2000,
  size = 128 * 1024 * 1024, gc = "10000,100000,1000000", gc_reps = 3,
  gc_bpo = 1024, gc_back = 100000, only = "read,set1,append,tx100,gc", tag = "",
}
for i = 2, #arg do
  local k, v = arg[i]:match("^([%w_]+)=(.*)$")
  if not k or opt[k] == nil then
    io.stderr:write("bench.lua: bad argument '", arg[i], "'\n")
    os.exit(2)
  end
  opt[k] = type(opt[k]) == "number" and assert(tonumber(v), arg[i]) or v
end

package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local timing = require "timing"
if timing.note then print(timing.note) end
local mark, since = timing.mark, timing.since

-- report: print the medians of a list of {wall, cpu} samples
local function report(name, ops, samples)
  local w, c = timing.medians(samples)
  print(string.format("%s %d %.6f %.6f", name, ops, w, c))
  io.stdout:flush()
end

local function wanted(section)
  return ("," .. opt.only .. ","):find("," .. section .. ",", 1, true) ~= nil
end

local function oneline(e)
  return (tostring(e):gsub("\n.*", ""))
end

--[[
section: if `group` is among the sections asked for, run fn(pool) on a fresh
pool POOLDIR/lua_<name>.pmem under pcall; an error prints "skip <name>" and
the next section runs. The pool is closed and its file removed whatever
happens.
]]
local function section(name, group, fn, size)
  if not wanted(group) then return end
  local path = dir .. "/lua_" .. name .. ".pmem"
  os.remove(path)
  local pool
  local ok, err = pcall(function()
    local e
    pool, e = pmem.open(path, "c", size or opt.size)
    if not pool then error("pmem.open: " .. tostring(e), 0) end
    fn(pool)
  end)
  if not ok then print("skip " .. name .. ": " .. oneline(err)) end
  if pool then
    local cok, cerr = pcall(pool.close, pool)
    if not cok then print("# " .. name .. ": close raised: " .. oneline(cerr)) end
  end
  os.remove(path)
  io.stdout:flush()
end

--[[
Reads. Every read loop has the same shape, `rounds` rounds of 1000 reads, so
loop overhead is the same for the plain table and the persistent one. The
number of rounds is calibrated so that one repetition takes about read_time
seconds.
]]
local function calibrate(run)
  local rounds = 1
  while true do
    local m = mark()
    run(rounds)
    local t = since(m)[1]
    if t >= 0.02 then
      return math.max(1, math.ceil(rounds * opt.read_time / t))
    end
    rounds = rounds * 4
  end
end

local function time_reads(name, run)
  local rounds = calibrate(run)
  local s = {}
  for r = 1, opt.reps do
    local m = mark()
    run(rounds)
    s[r] = since(m)
  end
  report(name, rounds * 1000, s)
end

local function field_reader(t)
  return function(rounds)
    for _ = 1, rounds do
      for _ = 1, 1000 do local x = t.k end -- luacheck: ignore x
    end
  end
end

-- four fields read in turn: a one-entry cache would miss every read
local function fields_reader(t)
  return function(rounds)
    for _ = 1, rounds do
      for _ = 1, 250 do local x = t.a + t.b + t.c + t.d end -- luacheck: ignore x
    end
  end
end

local function list_reader(l)
  return function(rounds)
    for _ = 1, rounds do
      for i = 1, 1000 do local x = l[i] end -- luacheck: ignore x
    end
  end
end

local function plain_list()
  local l = {}
  for i = 1, 1000 do l[i] = i end
  return l
end

if wanted("read") then
  time_reads("lua_plain_read" .. opt.tag, field_reader({ k = 1 }))
  time_reads("lua_plain_read4" .. opt.tag, fields_reader({ a = 1, b = 2, c = 3, d = 4 }))
  time_reads("lua_plain_list_read" .. opt.tag, list_reader(plain_list()))
end

section("table_read", "read", function(pool)
  pool.root = pool:table { k = 1 }
  local t = pool.root
  assert(t.k == 1, "t.k does not read back 1")
  time_reads("pm_table_read" .. opt.tag, field_reader(t))
end)

section("table_read4", "read", function(pool)
  pool.root = pool:table { a = 1, b = 2, c = 3, d = 4 }
  local t = pool.root
  assert(t.a + t.b + t.c + t.d == 10, "t.a .. t.d do not read back")
  time_reads("pm_table_read4" .. opt.tag, fields_reader(t))
end)

section("list_read", "read", function(pool)
  pool.root = pool:list(plain_list())
  local l = pool.root
  assert(#l == 1000 and l[1] == 1 and l[1000] == 1000, "list does not read back")
  time_reads("pm_list_read" .. opt.tag, list_reader(l))
end)

-- pm_set1: t.k = i, each its own atomic transaction
section("set1", "set1", function(pool)
  pool.root = pool:table { k = 0 }
  local t, n = pool.root, opt.set1
  local s = {}
  for r = 1, opt.reps do
    local m = mark()
    for i = 1, n do t.k = i end
    s[r] = since(m)
  end
  assert(t.k == n, "t.k does not read back the last write")
  report("pm_set1", n, s)
end)

--[[
pm_append: l:append(i) `append` times onto a new list per repetition, timed
as three loops (first tenth, middle, last tenth). The previous repetition's
list is dropped from the root and collected, untimed.
]]
section("append", "append", function(pool)
  pool.root = pool:table()
  local root, n = pool.root, opt.append
  local tenth = n // 10
  local all, first, last = {}, {}, {}
  for r = 1, opt.reps do
    root.l = nil
    pcall(pool.gc, pool)
    local l = pool:list()
    root.l = l
    local m0 = mark()
    for i = 1, tenth do l:append(i) end
    first[r] = since(m0)
    for i = tenth + 1, n - tenth do l:append(i) end
    local m1 = mark()
    for i = n - tenth + 1, n do l:append(i) end
    last[r] = since(m1)
    all[r] = since(m0)
    assert(#l == n and l[n] == n, "list length/contents wrong after appends")
  end
  report("pm_append", n, all)
  report("pm_append_first", tenth, first)
  report("pm_append_last", tenth, last)
end)

-- pm_tx100: 100 writes to distinct existing keys in one transaction
section("tx100", "tx100", function(pool)
  local keys, init = {}, {}
  for j = 1, 100 do
    keys[j] = "k" .. j
    init[keys[j]] = 0
  end
  pool.root = pool:table(init)
  local t, n = pool.root, opt.tx100
  local s = {}
  for r = 1, opt.reps do
    local m = mark()
    for i = 1, n do
      pool:transaction(function() for j = 1, 100 do t[keys[j]] = i end end)
    end
    s[r] = since(m)
  end
  assert(t.k1 == n and t.k100 == n, "tx100 writes do not read back")
  report("pm_tx100", n * 100, s)
end)

--[[
GC (issue 7). For each N: build a pool whose root is a list of N tables {i=i}
(appended 1000 per transaction) and close it. Then, gc_reps times: open the
cleanly closed pool (gc_open_N), replace 100 entries spread over the list by
new tables (gc_change_N), pool:gc() (gc_gc_N), close (gc_close_N).
]]
local function gc_one(n)
  local name = "gc_" .. n
  local path = dir .. "/lua_" .. name .. ".pmem"
  os.remove(path)
  local size = math.max(64 * 1024 * 1024, n * opt.gc_bpo)
  local pool
  local ok, err = pcall(function()
    local e
    pool, e = pmem.open(path, "c", size)
    if not pool then error("pmem.open: " .. tostring(e), 0) end
    local m = mark()
    local l = pool:list()
    pool.root = l
    for b = 0, n - 1, 1000 do
      pool:transaction(function()
        for i = b + 1, math.min(b + 1000, n) do l:append({ i = i }) end
      end)
    end
    local built = since(m)
    m = mark()
    l = nil -- luacheck: ignore l
    pool:close()
    pool = nil
    print(string.format("# %s: build %.3fs, first close %.3fs (pool %d MiB)",
                        name, built[1], since(m)[1], size >> 20))
    local open, change, gc, close = {}, {}, {}, {}
    local stats
    local step = n // 100
    for r = 1, opt.gc_reps do
      m = mark()
      pool, e = pmem.open(path, "w")
      if not pool then error("reopen: " .. tostring(e), 0) end
      open[r] = since(m)
      m = mark()
      local list = pool.root
      for j = 0, 99 do
        local idx = j * step + 1
        list[idx] = { i = -idx }
      end
      change[r] = since(m)
      list = nil -- luacheck: ignore list
      m = mark()
      stats = pool:gc()
      gc[r] = since(m)
      m = mark()
      pool:close()
      pool = nil
      close[r] = since(m)
    end
    report("gc_open_" .. n, 1, open)
    report("gc_change_" .. n, 100, change)
    report("gc_gc_" .. n, 1, gc)
    report("gc_close_" .. n, 1, close)
    if type(stats) == "table" then
      print(string.format("# %s: last gc live=%s collected=%s", name,
                          tostring(stats.live), tostring(stats.collected)))
    end
  end)
  if not ok then print("skip " .. name .. ": " .. oneline(err)) end
  if pool then pcall(pool.close, pool) end
  os.remove(path)
  io.stdout:flush()
  collectgarbage()
end

if wanted("gc") and opt.gc ~= "none" and opt.gc ~= "" then
  for n in tostring(opt.gc):gmatch("%d+") do gc_one(math.tointeger(tonumber(n))) end
end

--[[
Back-pointers (issue 13): a root table of gc_back children {i=i}, with
(gc_back) or without (gc_noback) child.parent = root; gc_reps times: remove
one child, pool:gc(). The trial deletion stops at the pool's root, so the
back-pointers should cost little.
]]
local function gc_back(name, back)
  section(name, "gc", function(pool)
    local n = opt.gc_back
    pool:transaction(function()
      local root = pool:table()
      pool.root = root
      for i = 1, n do
        local c = pool:table({ i = i })
        if back then c.parent = root end
        root[i] = c
      end
    end)
    pool:gc()
    local root, s = pool.root, {}
    for r = 1, opt.gc_reps do
      root[r] = nil
      local m = mark()
      pool:gc()
      s[r] = since(m)
    end
    report(name, 1, s)
  end, math.max(64 * 1024 * 1024, opt.gc_back * 1024))
end

if wanted("gc") and opt.gc_back > 0 then
  gc_back("gc_noback", false)
  gc_back("gc_back", true)
end
