-- helper.lua -- what every test suite shares: the pmlua binary, temporary
-- directories, and child processes (real ones: reopen and crash tests run
-- scripts in a fresh pmlua process).
local M = {}

M.PMLUA = assert(os.getenv("PMLUA"), "run the tests through 'make test'")
M.LUA54 = os.getenv("LUA54") or "lua5.4"
M.PMEM_SO_DIR = os.getenv("PMEM_SO_DIR")   -- empty under 'make check'
M.SANITIZED = os.getenv("PMLUA_SANITIZED") ~= nil

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.q = sh_quote

-- read_cmd(cmd) -> stdout, exit status (number), stderr
function M.run_cmd(cmd, stdin)
  local errf = os.tmpname()
  local inf
  if stdin then
    inf = os.tmpname()
    local f = assert(io.open(inf, "wb")); f:write(stdin); f:close()
    cmd = cmd .. " <" .. inf
  else
    cmd = cmd .. " </dev/null"
  end
  local p = assert(io.popen("(" .. cmd .. ") 2>" .. errf, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  local ef = io.open(errf, "rb"); local err = ef:read("a"); ef:close()
  os.remove(errf); if inf then os.remove(inf) end
  return out, code, err
end

-- a fresh directory, removed at exit of the test process
local dirs = {}
function M.tmpdir()
  local p = io.popen("mktemp -d " .. (os.getenv("PMLUA_TEST_TMP") or "/tmp") .. "/pmlua-test.XXXXXX")
  local d = p:read("l"); p:close()
  dirs[#dirs + 1] = d
  return d
end
-- check_left(dir, log) -- with PMTOOL_SWEEP set (tests/run.sh): `pmtool
-- check` every pmlua pool the suite leaves in dir, one line each in the file
-- log: suite, pool, exit status, pmtool's verdict
local function check_left(dir, log)
  local pmtool = M.PMLUA:gsub("pmlua$", "pmtool")
  local files = io.popen("find " .. sh_quote(dir) .. " -type f -size +8k 2>/dev/null")
  local out = io.open(log, "a")
  for f in files:lines() do
    local h = io.open(f, "rb")
    local head = h and h:read(4200) or ""
    if h then h:close() end
    if head:sub(1, 7) == "PMEMOBJ" and head:sub(4097, 4102) == "pmlua\0" then
      local _, code, err = M.run_cmd(sh_quote(pmtool) .. " check " .. sh_quote(f) .. " >/dev/null")
      out:write(("%s\t%s\t%d\t%s\n"):format(arg and arg[0] or "?", f, code,
                                              (err:gsub("\n.*", ""))))
    end
  end
  files:close()
  out:close()
end

local function cleanup()
  local sweep = os.getenv("PMTOOL_SWEEP")
  for i = #dirs, 1, -1 do
    if sweep and sweep ~= "" then check_left(dirs[i], sweep) end
    os.execute("rm -rf " .. sh_quote(dirs[i]))
    dirs[i] = nil
  end
end
setmetatable(dirs, { __gc = cleanup })
-- test files end with os.exit(lu.LuaUnit.run()), which skips __gc: clean first
local real_exit = os.exit
os.exit = function(...)
  cleanup()
  return real_exit(...)
end

-- skip(why) -- skip the running test (luaunit's skip) and say why on stdout,
-- where tests/run.sh shows it: a test that cannot run here is seen not to
function M.skip(why)
  io.write("\n  skipped: ", why, "\n")   -- after luaunit's dots of this line
  require("luaunit").skip(why)
end

-- the size of the file at path, in bytes
function M.file_size(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

-- the bytes of the file at path, or nil if it cannot be opened
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- replace the file at path with the bytes s
function M.write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- a path for a pool (not yet created) in a fresh directory
function M.pool_path(name)
  return M.tmpdir() .. "/" .. (name or "test.pmem")
end

-- like pool_path, but in a fresh directory of /dev/shm when there is one
-- (and PMLUA_TEST_TMP is not set): on an ordinary file each change costs
-- several msyncs (about 1.5 ms), too slow for tests of 100,000 changes
function M.fast_pool_path(name)
  if os.getenv("PMLUA_TEST_TMP") or not os.rename("/dev/shm", "/dev/shm") then
    return M.pool_path(name)
  end
  local p = io.popen("mktemp -d /dev/shm/pmlua-test.XXXXXX 2>/dev/null")
  local d = p:read("l"); p:close()
  if not d then return M.pool_path(name) end
  dirs[#dirs + 1] = d
  return d .. "/" .. (name or "test.pmem")
end

-- newpool([size [, path]]) -> pool, path: a new pool (flag "x")
function M.newpool(size, path)
  local pmem = require "pmem"
  path = path or M.pool_path()
  return assert(pmem.open(path, "x", size or pmem.MIN_POOL_SIZE)), path
end

-- run a Lua chunk in a child pmlua process: returns stdout, exit code, stderr.
-- The chunk sees its extra arguments as ... and arg.
function M.child(src, ...)
  return M.child_env("", src, ...)
end

-- like child, with environment assignments env ("NAME=value ...")
function M.child_env(env, src, ...)
  local f = os.tmpname()
  local h = assert(io.open(f, "w")); h:write(src); h:close()
  local args = {}
  for i = 1, select("#", ...) do args[i] = sh_quote(select(i, ...)) end
  local out, code, err = M.run_cmd(env .. " " .. sh_quote(M.PMLUA) .. " " .. f .. " "
                                   .. table.concat(args, " "))
  os.remove(f)
  return out, code, err
end

-- the engine of a run that leaves a pool file marked open when it dies:
-- the direct one (the log engine leaves the file at its last checkpoint and
-- the changes since in PATH-wal; docs/durability.md)
M.DIRECT = "PMLUA_ENGINE=direct"

-- like child_env, but asserts a zero exit and returns stdout
function M.child_env_ok(env, src, ...)
  local out, code, err = M.child_env(env, src, ...)
  if code ~= 0 then error("child failed (" .. tostring(code) .. "): " .. err .. out, 2) end
  return out
end

-- like child, but asserts a zero exit and returns stdout
function M.child_ok(src, ...)
  local out, code, err = M.child(src, ...)
  if code ~= 0 then error("child failed (" .. tostring(code) .. "): " .. err .. out, 2) end
  return out
end

-- in_child(prefix, path, body, ...) -- run prefix .. body in a fresh pmlua
-- with the pool at path open as `pool`, its root as `root` (extra
-- arguments in arg[2..]); the child closes the pool; returns its stdout
function M.in_child(prefix, path, body, ...)
  return M.child_ok(prefix .. [[
local pool = assert(pmem.open(arg[1]))
local root = pool.root
]] .. body .. "\npool:close()\n", path, ...)
end

return M
