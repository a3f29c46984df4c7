-- test_open.lua -- creating and opening pools as a user would meet them:
-- read-only files and read-only opens, permission bits given as Lua numbers,
-- creations that fail or are killed half-way (no file may be left behind),
-- long file names; the trial open, skipped only for a pool whose lanes are
-- as pmlua's clean close sealed them.
local lu = require "luaunit"
local helper = require "helper"
local q = helper.q

local ROOT = helper.run_cmd("id -u") == "0\n"

local function ls_all(dir)
  local out = helper.run_cmd("ls -A " .. q(dir))
  local names = {}
  for name in out:gmatch("[^\n]+") do names[#names + 1] = name end
  table.sort(names)
  return names
end

local function sample(path)
  local p = assert(pmem.open(path, "x", pmem.MIN_POOL_SIZE))
  p.root = { greeting = "hello", n = 42 }
  p:close()
end

-- as_reader(src, ...) -- run src in a child that cannot write the pool
-- file: as user nobody when the tests run as root (root writes anything)
local function as_reader(src, ...)
  if not ROOT then return helper.child(src, ...) end
  local dir = helper.tmpdir()
  local f = dir .. "/reader.lua"
  local h = assert(io.open(f, "w")); h:write(src); h:close()
  os.execute("chmod 755 " .. q(dir) .. " && chmod 644 " .. q(f))
  local args = {}
  for i = 1, select("#", ...) do args[i] = q(select(i, ...)) end
  return helper.run_cmd("setpriv --reuid=65534 --regid=65534 --clear-groups "
    .. q(helper.PMLUA) .. " " .. q(f) .. " " .. table.concat(args, " "))
end

-- a pool file no one may write, in a directory others may enter
local function readonly_pool(unclean)
  local dir = helper.tmpdir()
  os.execute("chmod 755 " .. q(dir))
  local path = dir .. "/ro.pmem"
  sample(path)
  if unclean then helper.child_env_ok(helper.DIRECT, "assert(pmem.open(...)) os.exit(0)", path) end
  os.execute("chmod 444 " .. q(path))
  return path
end

TestReadOnly = {}

function TestReadOnly.test_r_needs_only_read_permission()
  local path = readonly_pool()
  local out, code, err = as_reader([[
    local p = assert(pmem.open(..., "r"))
    print(p.root.greeting, p.root.n, tostring(p))
    p:close()
    local w, msg = pmem.open(..., "w")
    print(w, msg)]], path)
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "hello\t42\tpmem.pool (" .. path .. ") read-only\n")
  lu.assertStrContains(out, "nil\t" .. path .. ": Permission denied")
end

local content = helper.read_file

function TestReadOnly.test_r_never_writes_the_file()
  local path = helper.pool_path()
  sample(path)
  local before = content(path)
  helper.child_ok([[
    local p = assert(pmem.open(..., "r"))
    for k, v in pairs(p.root) do local _ = tostring(k) .. tostring(v) end
    p:close()]], path)
  lu.assertTrue(content(path) == before, "the file changed")
end

-- a pool that needs recovery is recovered in memory: the file stays as it
-- was -- with either engine: the direct one leaves libpmemobj's logs in the
-- file, the log engine its committed changes in PATH-wal
function TestReadOnly.test_r_on_an_unclean_pool_recovers_in_memory()
  for _, env in ipairs({ helper.DIRECT, "PMLUA_ENGINE=log" }) do
    local path = helper.pool_path()
    sample(path)
    helper.child_env_ok(env, "local p = assert(pmem.open(...)) p.root.n = 43 os.exit(0)", path)
    local before, log = content(path), content(path .. "-wal")
    lu.assertEquals(log ~= nil, env ~= helper.DIRECT, env)
    lu.assertEquals(helper.child_ok([[
      local p = assert(pmem.open(..., "r"))
      print(p.root.n)
      p:close()]], path), "43\n", env)
    lu.assertTrue(content(path) == before, env .. ": the file changed")
    lu.assertTrue(content(path .. "-wal") == log, env .. ": the log changed")
  end
end

-- the log engine: a crashed pool's log is read, not replayed, by a reader
-- without write permission
function TestReadOnly.test_r_reads_the_log_of_a_crashed_pool()
  local dir = helper.tmpdir()
  os.execute("chmod 755 " .. q(dir))
  local path = dir .. "/ro.pmem"
  sample(path)
  helper.child_env_ok("PMLUA_ENGINE=log", [[
    local p = assert(pmem.open(...))
    p.root.n = 44
    p:transaction(function() p.root.greeting = "bye" p.root.extra = {1, 2} end)
    os.exit(0)]], path)
  os.execute("chmod 444 " .. q(path) .. " " .. q(path .. "-wal"))
  local out, code, err = as_reader([[
    local p = assert(pmem.open(..., "r"))
    print(p.root.n, p.root.greeting, #p.root.extra)]], path)
  lu.assertEquals({ out, code }, { "44\tbye\t2\n", 0 }, err)
  lu.assertEquals(helper.child_ok([[
    local p = assert(pmem.open(...))
    print(p.root.n, p.root.greeting, #p.root.extra)
    p:close()]], path), "44\tbye\t2\n")
  lu.assertNil(content(path .. "-wal"), "the open replayed the log and removed it")
end

function TestReadOnly.test_r_on_an_unclean_pool_without_write_permission()
  local path = readonly_pool(true)
  local out, code, err = as_reader([[
    local p, msg, e = pmem.open(..., "r")
    print(p, msg, e)]], path)
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "nil\t" .. path .. ": the pool was not closed cleanly; its "
                       .. "recovery needs write permission to the file")
end

TestMode = {}

function TestMode.test_mode_must_be_permission_bits()
  local dir = helper.tmpdir()
  for _, mode in ipairs { 644, -1, 512, 0x10000 } do
    local ok, err = pcall(pmem.open, dir .. "/m.pmem", "c", pmem.MIN_POOL_SIZE, mode)
    lu.assertFalse(ok, "mode " .. mode)
    lu.assertStrContains(err, "mode " .. mode .. " is not permission bits")
    lu.assertStrContains(err, 'tonumber("644", 8)')
  end
  lu.assertEquals(ls_all(dir), {})
end

function TestMode.test_mode_and_umask()
  local dir = helper.tmpdir()
  local f = assert(io.open(dir .. "/mk.lua", "w"))
  f:write("assert(pmem.open(..., 'x', pmem.MIN_POOL_SIZE, tonumber('664', 8))):close()")
  f:close()
  local out = helper.run_cmd("umask 027 && " .. q(helper.PMLUA) .. " " .. q(dir .. "/mk.lua")
    .. " " .. q(dir .. "/m.pmem") .. " && stat -c %a " .. q(dir .. "/m.pmem"))
  lu.assertEquals(out, "640\n")
end

TestCreate = {}

-- a creation that fails leaves nothing (here: no room for the size asked)
function TestCreate.test_failed_create_leaves_no_file()
  local dir = helper.tmpdir()
  local p, msg = pmem.open(dir .. "/big.pmem", "x", 1 << 44)
  lu.assertNil(p)
  lu.assertStrContains(msg, dir .. "/big.pmem: ")
  lu.assertEquals(ls_all(dir), {})
end

-- a creator killed at any instant leaves no file but, maybe, the pool
function TestCreate.test_killed_creator_leaves_no_stray_file()
  local dir = helper.tmpdir()
  local path = dir .. "/k.pmem"
  local script = helper.tmpdir() .. "/creator.lua"
  local f = assert(io.open(script, "w"))
  f:write("assert(pmem.open(..., 'x', 64 * 1024 * 1024)):close()")
  f:close()
  local pools = 0
  for i = 1, 12 do
    os.remove(path)
    local h = assert(io.popen(("sh -c 'echo $$; exec \"$0\" \"$@\"' %s %s %s 2>&1"):format(
      q(helper.PMLUA), q(script), q(path))))
    local pid = tonumber(h:read("l"))
    os.execute(("sleep %.3f"):format(i * 0.004))
    os.execute("kill -9 " .. pid .. " 2>/dev/null")
    h:read("a")
    h:close()
    local names = ls_all(dir)
    if #names == 1 then
      lu.assertEquals(names, { "k.pmem" })
      assert(pmem.open(path)):close()                -- a whole pool, or none
      pools = pools + 1
    else
      lu.assertEquals(names, {})
    end
  end
  lu.assertTrue(pools < 12, "no kill landed during a creation")
end

-- any name io.open can create makes a pool
function TestCreate.test_long_file_name()
  local dir = helper.tmpdir()
  local name = ("n"):rep(245)
  local path = dir .. "/" .. name
  local p, msg = pmem.open(path, "x", pmem.MIN_POOL_SIZE)
  lu.assertNotNil(p, msg)
  p.root = 1
  p:close()
  lu.assertEquals(ls_all(dir), { name })
end

---------------------------------------------------------------------------
TestSeal = {}

-- word(path, off [, value]) -- the little-endian 64-bit word at off of the
-- file, after writing value there if given
local function word(path, off, value)
  local f = assert(io.open(path, "r+b"))
  if value then f:seek("set", off); f:write(string.pack("<I8", value)) end
  f:seek("set", off)
  local w = string.unpack("<I8", f:read(8))
  f:close()
  return w
end

-- trials(path [, flag]) -> how many child processes pmem.open(path) waited
-- for (a trial open is one; the count is the children's page faults, which
-- only a reaped child adds to), and whether the open worked
local function trials(path, flag)
  local out = helper.child_ok([[
    local function cminflt()
      local f = io.open("/proc/self/stat"); local s = f:read("a"); f:close()
      return tonumber(s:match("^%d+ %b() %S+" .. string.rep(" %S+", 7) .. " (%d+)"))
    end
    local before = cminflt()
    local p, err = pmem.open(arg[1], arg[2])
    print(cminflt() - before, p ~= nil, err)
    if p then p:close() end
  ]], path, flag or "w")
  local faults, ok = out:match("^(%d+)\t(%a+)")
  return tonumber(faults) > 0 and 1 or 0, ok == "true"
end

-- pool descriptor words (docs/layout.md)
local LANES, NLANES, ROOT_OFF = 5120, 5128, 6144

function TestSeal.test_clean_pool_opens_without_trial()
  local path = helper.pool_path()
  sample(path)
  lu.assertEquals({ trials(path) }, { 0, true })
  lu.assertEquals({ trials(path, "r") }, { 0, true })
  lu.assertEquals({ trials(path) }, { 0, true }, "the seal is renewed at every clean close")
end

function TestSeal.test_changed_lanes_get_a_trial()
  local path = helper.pool_path()
  sample(path)
  local lanes, nlanes = word(path, LANES), word(path, NLANES)
  -- a byte in the undo log area of the last lane: not a log header
  local off = lanes + (nlanes - 1) * 3072 + 2500
  word(path, off, word(path, off) ~ 0xff)
  lu.assertEquals({ trials(path) }, { 1, true })
  lu.assertEquals({ trials(path) }, { 0, true }, "sealed again by that open's clean close")
end

function TestSeal.test_unsealed_and_crashed_pools_get_a_trial()
  local path = helper.pool_path()
  sample(path)
  local root = word(path, ROOT_OFF)
  lu.assertNotEquals(word(path, root + 56), 0, "a clean close writes the seal")
  word(path, root + 56, 0)                   -- as a pmlua before the seal left it
  lu.assertEquals({ trials(path) }, { 1, true })
  lu.assertEquals({ trials(path) }, { 0, true })
  helper.child_env_ok(helper.DIRECT, "local p = assert(pmem.open(...)); p.root.x = 1; os.exit(0)", path)
  lu.assertEquals(word(path, root + 16), 1, "the run did not close")
  lu.assertEquals({ trials(path) }, { 1, true })
end

TestChecker = {}

-- crashed(path) -- a pool whose last run did not close it: an open must
-- run the trial, in a checker process
local function crashed(path)
  sample(path)
  helper.child_env_ok(helper.DIRECT, "local p = assert(pmem.open(...)); p.root.x = 1; os.exit(0)", path)
end

-- own_copy() -> a copy of the pmlua binary in a fresh directory, or nil
-- and why not (tests/memcheck.sh gives a wrapper script as PMLUA)
local function own_copy()
  local f = assert(io.open(helper.PMLUA, "rb"))
  local head = f:read(4)
  f:close()
  if head ~= "\127ELF" then return nil, "PMLUA is not the program itself" end
  local copy = helper.tmpdir() .. "/pmlua"
  assert(os.execute("cp " .. q(helper.PMLUA) .. " " .. q(copy)))
  return copy
end

-- the script run by own_copy() in the tests below: opens pool arg[1]
-- (a trial), then puts at its own program's name a program that, run as
-- the checker, would pass every pool (exit 0) and leave the file arg[4],
-- and opens pool arg[2] (a trial, which must not run it)
local IMPOSTOR = [[
local a, b, self, mark = table.unpack(arg)
local p, msg = pmem.open(a)
print(p ~= nil, msg)
if p then p:close() end
os.remove(self)
local f = assert(io.open(self, "w"))
f:write("#!/bin/sh\n: >'" .. mark .. "'\n")
f:close()
os.execute("chmod 755 '" .. self .. "'")
p, msg = pmem.open(b)
print(p ~= nil, msg)
if p then p:close() end
]]

local function run_impostor(prefix)
  local copy, why = own_copy()
  if not copy then lu.skip(why) end
  local a, b = helper.pool_path(), helper.pool_path()
  crashed(a)
  crashed(b)
  local dir = helper.tmpdir()
  local script, mark = dir .. "/impostor.lua", dir .. "/ran"
  helper.write_file(script, IMPOSTOR)
  local out, code, err = helper.run_cmd(prefix .. q(copy) .. " " .. q(script) .. " "
    .. q(a) .. " " .. q(b) .. " " .. q(copy) .. " " .. q(mark))
  lu.assertEquals({ out, code }, { "true\tnil\ntrue\tnil\n", 0 }, err)
  lu.assertNil(helper.read_file(mark), "the program now at pmlua's name ran as the checker")
  return copy
end

-- pmlua starts itself again as the checker: the program it runs, even
-- after its file was deleted and another program put at its name
function TestChecker.test_checker_is_the_running_program()
  run_impostor("")
end

-- under valgrind /proc/self/exe is valgrind's tool: the checker is spawned
-- by the program's name, which valgrind --trace-children follows (before,
-- every trial failed: "libpmemobj crashed opening it, exit status 1"),
-- and forked once that name is another file
function TestChecker.test_checker_under_valgrind()
  if helper.SANITIZED then lu.skip("a sanitizer build does not run under valgrind") end
  if helper.run_cmd("command -v valgrind") == "" then lu.skip("valgrind is not installed") end
  local logs = helper.tmpdir()
  local copy = run_impostor("valgrind --tool=none --trace-children=yes --trace-children-skip='*/sh' "
    .. "--log-file=" .. q(logs .. "/vg.%p") .. " ")
  local out = helper.run_cmd("cat " .. q(logs) .. "/vg.*")
  lu.assertStrContains(out, "Command: " .. copy .. " --pmlua-trial-open ")
end

TestLanes = {}

-- set_lanes(path, n) -- give the pool at path n lanes in its descriptor,
-- with the checksum libpmemobj checks (Fletcher-64 of the 2 KiB at 4096,
-- its last word counted as zero)
local function set_lanes(path, n)
  local f = assert(io.open(path, "r+b"))
  f:seek("set", 4096)
  local d = f:read(2048)
  d = d:sub(1, 1032) .. string.pack("<I8", n) .. d:sub(1041)
  local lo, hi = 0, 0
  for i = 1, 2048, 4 do
    if i <= 2040 then lo = (lo + string.unpack("<I4", d, i)) & 0xffffffff end
    hi = (hi + lo) & 0xffffffff
  end
  f:seek("set", 4096)
  f:write(d:sub(1, 2040), string.pack("<I8", hi << 32 | lo))
  f:close()
end

function TestLanes.test_new_pools_have_64_lanes()
  local path = helper.pool_path()
  sample(path)
  lu.assertEquals(word(path, NLANES), 64)
  lu.assertEquals({ trials(path) }, { 0, true })
end

function TestLanes.test_pools_with_1024_lanes_still_open()
  -- as pmlua made them before 2026-12-01 (libpmemobj's default): the
  -- descriptor's count is what libpmemobj and pmlua's checks follow
  local path = helper.pool_path()
  sample(path)
  set_lanes(path, 1024)
  lu.assertEquals({ trials(path) }, { 1, true }, "the seal covered 64 lanes")
  lu.assertEquals({ trials(path) }, { 0, true }, "resealed over 1024")
  helper.in_child("", path, "root.n = root.n + 1")
  lu.assertEquals(helper.in_child("", path, "print(root.n, root.greeting)"), "43\thello\n")
  lu.assertEquals(word(path, NLANES), 1024, "an open never changes the lane count")
end

function TestLanes.test_a_process_uses_at_most_64_lanes()
  -- libpmemobj picks among PMEMOBJ_NLANES lanes (default 1024) of a pool
  -- of 64: pmlua lowers it before its first open, and keeps a lower one
  local path = helper.pool_path()
  sample(path)
  local src = "local p = assert(pmem.open(arg[1])); print(os.getenv('PMEMOBJ_NLANES')); p:close()"
  local f = helper.tmpdir() .. "/lanes.lua"
  local h = assert(io.open(f, "w")); h:write(src); h:close()
  for given, seen in pairs({ ["1024"] = "64", ["8"] = "8", ["0"] = "64", [""] = "64" }) do
    local env = given == "" and "unset PMEMOBJ_NLANES; " or "PMEMOBJ_NLANES=" .. given .. " "
    local out, code, err = helper.run_cmd(env .. q(helper.PMLUA) .. " " .. q(f) .. " " .. q(path))
    lu.assertEquals({ out, code }, { seen .. "\n", 0 }, err)
  end
end

os.exit(lu.LuaUnit.run())
