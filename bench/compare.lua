--[[
compare.lua -- the second part of `make bench` (issue 14): pmlua against what a
Lua programmer would otherwise use to keep state across runs, on the same
machine and in the same run. bench/run.sh runs it once per store and medium and
prints the table.

  pmlua bench/compare.lua list
      the store names, one a line, in table order
  pmlua bench/compare.lua STORE DIR [key=value ...]
      run every workload on STORE with its files in DIR

Stores:
  pmlua, pmlua-...  the pmem module; one store per entry of PMLUA_MODES below
                    (how the pool is opened). A mode this pmlua does not have
                    (its open raises) prints "skip" and the run goes on.
  sqlite-full       SQLite through LuaSQL (Debian lua-sql-sqlite3), WAL,
  sqlite-normal     synchronous=FULL / NORMAL, each change its own transaction
  file              the state in a Lua table, serialised as a Lua chunk and
                    written on every change: temporary file, fsync, rename,
                    fsync of the directory (bench_sys, bench/bench_sys.c)
  lua               plain Lua tables in memory: the ceiling; nothing survives

The state of every store: a key-value table of 1,000 entries k1..k1000
(integers) plus "name" = "bench", and a log of records {t = i, v = "event"}.

Workloads (each change durable as the store makes it, one at a time):
  insert   N new keys, each its own change (removed again, untimed, after each
           repetition)
  update   N updates of existing keys k1..k1000 in turn
  append   N records appended to the log (the log is emptied, untimed, after
           each repetition; the file store rewrites the records so far too)
  tx100    N transactions of 100 updates each (ops counts transactions)
  read     `reads` point reads of k1..k1000 in turn (CPU time); SQLite
           `sql_reads`, one SELECT each (LuaSQL has no prepared statements)
  startup  a new process (`spawns` of them): start the interpreter, open the
           store, read "name", close, exit; pmlua stores run under pmlua, the
           others under `interp` (lua5.4: what their user would run). pmlua
           stores also report startup_ro: the same with pmem.open(PATH, "r")

Keys: reps (repetitions, default 3), target (seconds one repetition of a
write workload should take, default 0.3; N is calibrated to it), min_time (a
calibration run long enough to extrapolate from, default target / 3), cap
(largest N, default 10,000,000; pmlua stores 100,000, so that the records fit
in the default 64 MiB pool; plain Lua the same for insert and append), reads
(default 1,000,000), sql_reads (the same for the SQLite stores, default
100,000: at about 40k reads/s, 1,000,000 would take 25 s a repetition),
spawns (processes per repetition, default 20), pmlua (the pmlua binary for
start-up children, default the interpreter running this), interp (the
interpreter for the other stores' children, default lua5.4), medium ("disk"
or "shm", for the durability text), forced (1 when PMEM_IS_PMEM_FORCE=1),
only (comma-separated workloads); for counting system calls (strace -c):
fixed (N of every write workload, no calibration) and undo=0 (no untimed
clean-up after a repetition).

Output, one line per figure, medians of `reps` repetitions:

  STORE WORKLOAD OPS WALL_SECONDS CPU_SECONDS
  STORE durability TEXT...        what survives, for this medium and mode
  skip STORE WORKLOAD: reason     (WORKLOAD "all": the store could not start)
]]

-- pmlua's durability modes: name, the expression that opens (or creates) the
-- pool at PATH, and the durability it gives on an ordinary disk without
-- PMEM_IS_PMEM_FORCE (/dev/shm and forced runs are described by the medium).
-- A new mode is one more line here; a mode whose open raises is skipped.
local PMLUA_MODES = {
  { "pmlua", [[pmem.open(PATH, "c")]],
    "power loss (the log engine: one fdatasync per commit)" },
  { "pmlua-normal", [[pmem.open(PATH, "c", {sync = "normal"})]],
    "power loss may undo the last commits (sync = \"normal\")" },
}

local OTHER_STORES = { "sqlite-full", "sqlite-normal", "file", "lua" }

local NKEYS = 1000

if arg[1] == "list" then
  for _, m in ipairs(PMLUA_MODES) do print(m[1]) end
  for _, s in ipairs(OTHER_STORES) do print(s) end
  return
end

local store_name, dir = arg[1], arg[2]
if not store_name or not dir then
  io.stderr:write("usage: pmlua bench/compare.lua list | STORE DIR [key=value ...]\n")
  os.exit(2)
end

local interp0 = arg[-1]
do local i = -1; while arg[i - 1] do i = i - 1; interp0 = arg[i] end end
local opt = {
  reps = 3, target = 0.3, cap = 10000000, reads = 1000000, sql_reads = 100000, spawns = 20,
  pmlua = interp0 or "pmlua", interp = "lua5.4", medium = "disk", forced = 0,
  only = "insert,update,append,tx100,read,startup", start = 4, min_time = 0,
  fixed = 0, undo = 1,
}
local explicit_cap = false
for i = 3, #arg do
  local k, v = arg[i]:match("^([%w_]+)=(.*)$")
  if not k or opt[k] == nil then
    io.stderr:write("compare.lua: bad argument '", tostring(arg[i]), "'\n")
    os.exit(2)
  end
  opt[k] = type(opt[k]) == "number" and assert(tonumber(v), arg[i]) or v
  if k == "cap" then explicit_cap = true end
end
if opt.min_time <= 0 then opt.min_time = opt.target / 3 end

package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local timing = require "timing"
if timing.note then print(timing.note) end
local mark, since = timing.mark, timing.since

local function report(workload, ops, samples)
  local w, c = timing.medians(samples)
  print(string.format("%s %s %d %.6f %.6f", store_name, workload, ops, w, c))
  io.stdout:flush()
end

local function oneline(e) return (tostring(e):gsub("\n.*", "")) end

local function wanted(w)
  return ("," .. opt.only .. ","):find("," .. w .. ",", 1, true) ~= nil
end

-- keys[j] = "kj" (the existing keys), ikeys[i] = "ii" (new keys), built
-- outside the timed loops
local keys = {}
for j = 1, NKEYS do keys[j] = "k" .. j end
local ikeys = setmetatable({}, { __index = function(t, i)
  for j = rawlen(t) + 1, i do rawset(t, j, "i" .. j) end
  return rawget(t, i)
end })
local function initial_kv()
  local kv = { name = "bench" }
  for j = 1, NKEYS do kv[keys[j]] = j end
  return kv
end

local function q(s) return string.format("%q", s) end

-- reader(kv) -> read(n): n point reads of k1..k1000 in turn from kv (a plain
-- or a persistent table), the same loop for both
local function reader(kv)
  return function(n)
    local v
    for i = 1, n do v = kv[keys[i % NKEYS + 1]] end
    return v
  end
end

--[[ Stores. A store is a function(dir) that sets up a fresh store in dir and
returns a table of:
  insert(n), uninsert(n), update(n), append(n), unappend(), tx100(n),
  read(n) -> the last value read, close(), child() -> argv of a start-up
  process (after close), durability (text), cap (largest N, optional)
or raises (message "missing: ..." when a dependency is absent). ]]
local stores = {}

local function durability_of(disk_text)
  if opt.medium == "shm" then return "process crash; not power loss (/dev/shm is RAM)" end
  if tonumber(opt.forced) == 1 then
    return "process crash; NOT power loss (PMEM_IS_PMEM_FORCE=1 on a disk file: no msync)"
  end
  return disk_text
end

for _, mode in ipairs(PMLUA_MODES) do
  local name, open_src, disk_text = mode[1], mode[2], mode[3]
  stores[name] = function(d)
    local pmem = require "pmem"
    local path = d .. "/cmp.pmem"
    os.remove(path)
    local opener = assert(load("local pmem, PATH = ...; return " .. open_src, "=" .. name))
    local ok, pool, err = pcall(opener, pmem, path)
    if not ok then error("not in this pmlua: " .. open_src .. " raised: " .. oneline(pool), 0) end
    if not pool then error(open_src .. ": " .. tostring(err), 0) end
    pool.root = { name = "bench", kv = initial_kv(), log = pool:list() }
    local root = pool.root
    local kv, log = root.kv, root.log
    local s = { durability = durability_of(disk_text), cap = 100000 }
    function s.insert(n, base)
      for i = 1, n do kv[ikeys[i]] = base + i end
    end
    function s.uninsert(n)
      for b = 0, n - 1, 10000 do
        pool:transaction(function()
          for i = b + 1, math.min(n, b + 10000) do kv[ikeys[i]] = nil end
        end)
      end
    end
    function s.update(n, base)
      for i = 1, n do kv[keys[i % NKEYS + 1]] = base + i end
    end
    function s.append(n, base)
      for i = 1, n do log:append({ t = base + i, v = "event" }) end
    end
    function s.unappend()
      root.log = pool:list()
      log = root.log
      pool:gc()
    end
    function s.tx100(n, base)
      for i = 1, n do
        pool:transaction(function()
          for j = 1, 100 do kv[keys[j]] = base + i end
        end)
      end
    end
    s.read = reader(kv)
    function s.close()
      kv, log, root = nil, nil, nil
      s.read = nil
      pool:close()
    end
    -- the child opens as the mode does, read-write (the guessing game's
    -- pattern); child_ro opens read-only, which takes no libpmemobj open
    local function child(src)
      return { opt.pmlua, "-e", "local pool = assert(" .. src:gsub("PATH", function() return q(path) end) ..
               ") local v = pool.root.name pool:close() assert(v == 'bench')" }
    end
    function s.child() return child(open_src) end
    function s.child_ro() return child([[pmem.open(PATH, "r")]]) end
    return s
  end
end

local function sqlite_store(sync)
  return function(d)
    local ok, drv = pcall(require, "luasql.sqlite3")
    if not ok then
      error("missing: luasql.sqlite3 (Debian package lua-sql-sqlite3; scripts/deps.sh installs it): " ..
            oneline(drv), 0)
    end
    local path = d .. "/cmp.sqlite"
    for _, sfx in ipairs({ "", "-wal", "-shm" }) do os.remove(path .. sfx) end
    local env = assert(drv.sqlite3())
    local conn = assert(env:connect(path))
    -- x(sql) -> the first row's first column, if any
    local function x(sql)
      local r, e = conn:execute(sql)
      if not r then error(sql .. ": " .. tostring(e), 0) end
      if type(r) == "userdata" then
        local v = r:fetch()
        r:close()
        return v
      end
    end
    local jm = x("PRAGMA journal_mode=WAL")
    if jm ~= "wal" then error("PRAGMA journal_mode=WAL gave " .. tostring(jm), 0) end
    x("PRAGMA synchronous=" .. sync)
    x("CREATE TABLE kv(k TEXT PRIMARY KEY, v)")
    x("CREATE TABLE log(id INTEGER PRIMARY KEY, t INTEGER, v TEXT)")
    x("BEGIN")
    x("INSERT INTO kv VALUES('name', 'bench')")
    for j = 1, NKEYS do x(string.format("INSERT INTO kv VALUES('%s', %d)", keys[j], j)) end
    x("COMMIT")
    local exec = conn.execute
    local s = {
      durability = durability_of(sync == "FULL" and "power loss (fsync per commit)" or
                                 "process crash; power loss may undo the last commits"),
      reads = opt.sql_reads,
    }
    function s.insert(n, base)
      for i = 1, n do
        assert(exec(conn, string.format("INSERT INTO kv VALUES('%s', %d)", ikeys[i], base + i)))
      end
    end
    function s.uninsert() x("DELETE FROM kv WHERE k GLOB 'i*'") end
    function s.update(n, base)
      for i = 1, n do
        assert(exec(conn, string.format("UPDATE kv SET v = %d WHERE k = '%s'", base + i, keys[i % NKEYS + 1])))
      end
    end
    function s.append(n, base)
      for i = 1, n do
        assert(exec(conn, string.format("INSERT INTO log(t, v) VALUES(%d, 'event')", base + i)))
      end
    end
    function s.unappend() x("DELETE FROM log") end
    function s.tx100(n, base)
      for i = 1, n do
        assert(exec(conn, "BEGIN"))
        for j = 1, 100 do
          assert(exec(conn, string.format("UPDATE kv SET v = %d WHERE k = '%s'", base + i, keys[j])))
        end
        assert(exec(conn, "COMMIT"))
      end
    end
    function s.read(n)
      local v
      for i = 1, n do
        local cur = exec(conn, string.format("SELECT v FROM kv WHERE k = '%s'", keys[i % NKEYS + 1]))
        v = cur:fetch()
        cur:close()
      end
      return v
    end
    function s.close()
      conn:close()
      env:close()
    end
    function s.child()
      return { opt.interp, "-e", "local env = require('luasql.sqlite3').sqlite3() " ..
               "local c = assert(env:connect(" .. q(path) .. ")) " ..
               "assert(c:execute('PRAGMA synchronous=" .. sync .. "')) " ..
               "local cur = assert(c:execute(\"SELECT v FROM kv WHERE k = 'name'\")) " ..
               "local v = cur:fetch() cur:close() c:close() env:close() assert(v == 'bench')" }
    end
    return s
  end
end
stores["sqlite-full"] = sqlite_store("FULL")
stores["sqlite-normal"] = sqlite_store("NORMAL")

-- the state as a Lua chunk, "return {...}", read back with dofile
local function serialise(v, buf)
  local t = type(v)
  if t == "table" then
    buf[#buf + 1] = "{"
    for k, x in pairs(v) do
      buf[#buf + 1] = "["
      serialise(k, buf)
      buf[#buf + 1] = "]="
      serialise(x, buf)
      buf[#buf + 1] = ",\n"
    end
    buf[#buf + 1] = "}"
  elseif t == "string" then
    buf[#buf + 1] = string.format("%q", v)
  elseif math.type(v) == "integer" then
    buf[#buf + 1] = string.format("%d", v)
  elseif t == "number" or t == "boolean" then
    buf[#buf + 1] = string.format("%q", v)
  else
    error("cannot serialise a " .. t)
  end
end

--[[ table_store(save): the state in a plain Lua table; save, if given, is
called after every change (the file store), else nothing survives (the
ceiling). ]]
local function table_store(save, state)
  local kv = state.kv
  local s = {}
  function s.insert(n, base)
    for i = 1, n do kv[ikeys[i]] = base + i; if save then save() end end
  end
  function s.uninsert(n)
    for i = 1, n do kv[ikeys[i]] = nil end
    if save then save() end
  end
  function s.update(n, base)
    for i = 1, n do kv[keys[i % NKEYS + 1]] = base + i; if save then save() end end
  end
  function s.append(n, base)
    local log = state.log
    for i = 1, n do log[#log + 1] = { t = base + i, v = "event" }; if save then save() end end
  end
  function s.unappend()
    state.log = {}
    if save then save() end
  end
  -- a transaction: the 100 writes in a function, then one save
  function s.tx100(n, base)
    for i = 1, n do
      (function() for j = 1, 100 do kv[keys[j]] = base + i end end)()
      if save then save() end
    end
  end
  s.read = reader(kv)
  function s.close() end
  return s
end

stores.file = function(d)
  local ok, sys = pcall(require, "bench_sys")
  if not ok then error("missing: bench_sys (bench/bench_sys.c did not build): " .. oneline(sys), 0) end
  local path, tmp = d .. "/cmp.state.lua", d .. "/cmp.state.lua.tmp"
  local state = { name = "bench", kv = initial_kv(), log = {} }
  -- what a careful Lua program does: the whole state to a temporary file,
  -- fsync, rename over the old file, fsync the directory
  local function save()
    local buf = { "return " }
    serialise(state, buf)
    local f = assert(io.open(tmp, "w"))
    assert(f:write(table.concat(buf)))
    assert(sys.fsync(f))
    f:close()
    assert(os.rename(tmp, path))
    assert(sys.fsync_dir(d))
  end
  save()
  local s = table_store(save, state)
  s.durability = durability_of("power loss (fsync, rename, fsync of the directory)")
  function s.child()
    return { opt.interp, "-e", "local s = dofile(" .. q(path) .. ") assert(s.name == 'bench')" }
  end
  return s
end

stores.lua = function()
  local s = table_store(nil, { name = "bench", kv = initial_kv(), log = {} })
  s.durability = "none: lost when the process ends (the ceiling)"
  -- inserts and appends as many as pmlua's at most, so that the tables have
  -- the same sizes; updates as many as one repetition takes
  s.cap = { insert = 100000, append = 100000, default = 10000000 }
  function s.child()
    return { opt.interp, "-e", "local t = { name = 'bench' } assert(t.name == 'bench')" }
  end
  return s
end

local make = stores[store_name]
if not make then
  io.stderr:write("compare.lua: unknown store '", store_name, "'\n")
  os.exit(2)
end

local ok, s = pcall(make, dir)
if not ok then
  print(string.format("skip %s all: %s", store_name, oneline(s)))
  os.exit(0)
end
print(string.format("%s durability %s", store_name, s.durability))
-- cap_of(workload): the largest N (s.cap: a number, or a table by workload
-- with a default)
local function cap_of(workload)
  local c = s.cap
  if type(c) == "table" then c = c[workload] or c.default end
  return explicit_cap and opt.cap or math.min(opt.cap, c or opt.cap)
end
local cap

-- every write stores a value never stored before (a store may skip a write
-- that changes nothing): base counts the operations run so far
local base = 0
local function run_n(run, n)
  run(n, base)
  base = base + n
end

--[[ calibrate(run, undo): the N for which run(N) takes about opt.target
seconds (wall): N = start, 4 start, ... until one call takes opt.min_time. ]]
local function calibrate(run, undo)
  local n = opt.start
  while true do
    local _ = ikeys[n] -- the new keys are made before the clock starts
    local m = mark()
    run_n(run, n)
    local t = since(m)[1]
    if undo then undo(n) end
    if t >= opt.min_time or n >= cap then
      return math.max(1, math.min(cap, math.ceil(n * opt.target / math.max(t, 1e-9))))
    end
    n = math.min(n * 4, cap)
  end
end

local function timed(workload, run, undo)
  if not wanted(workload) then return end
  cap = cap_of(workload)
  if opt.undo == 0 then undo = nil end
  local okw, err = pcall(function()
    local n = opt.fixed > 0 and math.tointeger(opt.fixed) or calibrate(run, undo)
    local _ = ikeys[n]
    local samples = {}
    for r = 1, opt.reps do
      local m = mark()
      run_n(run, n)
      samples[r] = since(m)
      if undo then undo(n) end
    end
    report(workload, n, samples)
  end)
  if not okw then print(string.format("skip %s %s: %s", store_name, workload, oneline(err))) end
end

timed("insert", s.insert, s.uninsert)
timed("update", s.update)
timed("append", s.append, s.unappend)
timed("tx100", s.tx100)

if wanted("read") then
  local okr, err = pcall(function()
    local n, samples = math.tointeger(s.reads or opt.reads), {}
    for r = 1, opt.reps do
      local m = mark()
      local v = s.read(n)
      samples[r] = since(m)
      assert(math.type(v) == "integer", "a read gave " .. tostring(v))
    end
    report("read", n, samples)
  end)
  if not okr then print(string.format("skip %s read: %s", store_name, oneline(err))) end
end

local okc, cerr = pcall(s.close)
if not okc then print(string.format("# %s: close raised: %s", store_name, oneline(cerr))) end

-- startup(workload, argv): spawns processes of argv, each must exit 0
local function startup(workload, argv)
  local oks, err = pcall(function()
    local sys = require "bench_sys"
    local rc = sys.spawn(argv)
    if rc ~= 0 then error("the child " .. table.concat(argv, " ") .. " exited " .. tostring(rc), 0) end
    local n, samples = math.tointeger(opt.spawns), {}
    for r = 1, opt.reps do
      local m = mark()
      for _ = 1, n do
        rc = sys.spawn(argv)
        if rc ~= 0 then error("a child exited " .. tostring(rc), 0) end
      end
      samples[r] = since(m)
    end
    report(workload, n, samples)
  end)
  if not oks then print(string.format("skip %s %s: %s", store_name, workload, oneline(err))) end
end

if wanted("startup") then
  startup("startup", s.child())
  if s.child_ro then startup("startup_ro", s.child_ro()) end
end
