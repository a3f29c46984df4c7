-- test_install.lua -- make install and make uninstall, as a Debian package's
-- build uses them: into a scratch DESTDIR, with PREFIX /usr/local and /usr.
-- Every file lands where it belongs with its mode, and none holds the
-- checkout's path; the installed pmlua, pmtool and the stock lua5.4 (which
-- finds pmem.so on its default path under the prefix) share a pool from
-- another directory; the example C host (examples/embed/host.c, as
-- installed) builds against the installed header and module and the
-- system's Lua library alone; uninstall leaves the tree as it found it.
--
-- make runs with the suites' build directory (that of $PMLUA) and the
-- calling make's variables, so that it only links build/install/. A
-- sanitizer build (make check) is not one to install: skipped there.
local lu = require "luaunit"
local h = require "helper"
local q = h.q

local ROOT = (h.run_cmd("pwd"):gsub("\n$", ""))
local B = h.PMLUA:gsub("/pmlua$", "")
if B:sub(1, #ROOT + 1) == ROOT .. "/" then B = B:sub(#ROOT + 2) end
local VERSION = h.read_file("src/lpmem.h"):match('#define PML_VERSION "([^"]+)"')

local function need_install()
  if h.SANITIZED then h.skip("a sanitizer build is not installed (make test checks the install)") end
end

-- make TARGET DESTDIR PREFIX: its output, exit status
local function make(target, destdir, prefix)
  local out, code, err = h.run_cmd("make -s " .. target .. " B=" .. q(B) .. " DESTDIR="
                                   .. q(destdir) .. " PREFIX=" .. q(prefix))
  return out .. err, code
end

-- the files and directories under dir: { ["usr/bin/x"] = "755 f", ... }
local function tree(dir)
  local t = {}
  for line in h.run_cmd("find " .. q(dir) .. " -mindepth 1 -printf '%m %y %P\\n'"):gmatch("[^\n]+") do
    local mode, kind, path = line:match("^(%d+) (%a) (.+)$")
    t[path] = mode .. " " .. kind
  end
  return t
end

-- one install under /usr/local, shared by the tests that only look at it
local shared
local function installed()
  if not shared then
    shared = h.tmpdir()
    local log, code = make("install", shared, "/usr/local")
    lu.assertEquals(code, 0, log)
  end
  return shared, shared .. "/usr/local"
end

TestInstall = {}

-- each piece where it belongs, with Debian's modes (a shared library is not
-- executable); the manifest lists exactly what is there; no installed file
-- holds the checkout's path (rpath, debug information, strings)
function TestInstall.test_files_modes_and_no_checkout_path()
  need_install()
  local dest = installed()
  local t = tree(dest)
  local want = {
    ["usr/local/bin/pmlua"] = "755 f", ["usr/local/bin/pmtool"] = "755 f",
    ["usr/local/lib/lua/5.4/pmem.so"] = "644 f",
    ["usr/local/include/pmlua/lpmem.h"] = "644 f",
    ["usr/local/share/pmlua/manifest"] = "644 f",
    ["usr/local/share/doc/pmlua/README.md"] = "644 f",
    ["usr/local/share/doc/pmlua/examples/embed/host.c"] = "644 f",
    ["usr/local/share/doc/pmlua/examples/hello_world.lua"] = "644 f",
  }
  for f in h.run_cmd("ls docs/*.md docs/*.1"):gmatch("[^\n]+") do
    local at = f:match("%.1$") and "usr/local/share/man/man1/" .. f:sub(6)
               or "usr/local/share/doc/pmlua/" .. f
    want[at] = "644 f"
  end
  for path, kind in pairs(want) do lu.assertEquals(t[path], kind, path) end
  local places = { "usr/local/bin/", "usr/local/lib/lua/5.4/", "usr/local/include/pmlua/",
                   "usr/local/share/man/man1/", "usr/local/share/doc/pmlua/",
                   "usr/local/share/pmlua/" }
  local listed = {}
  for path, kind in pairs(t) do
    if kind:sub(-1) == "f" then
      local ok = false
      for _, p in ipairs(places) do ok = ok or path:sub(1, #p) == p end
      lu.assertTrue(ok, "installed outside its places: " .. path)
      if path ~= "usr/local/share/pmlua/manifest" then listed[#listed + 1] = "/" .. path end
    end
  end
  table.sort(listed)
  local manifest = h.read_file(dest .. "/usr/local/share/pmlua/manifest")
  local files = {}
  for f in manifest:gmatch("f (%S+)") do files[#files + 1] = f end
  lu.assertEquals(files, listed)
  lu.assertEquals(h.run_cmd("grep -rlF " .. q(ROOT) .. " " .. q(dest)), "",
                  "installed files that hold the checkout's path")
  lu.assertEquals(h.run_cmd("for f in " .. q(dest) .. "/usr/local/bin/* " .. q(dest)
                            .. "/usr/local/lib/lua/5.4/*; do readelf -d $f; done"
                            .. " | grep -ciE 'rpath|runpath'"), "0\n")
end

-- from another directory: the installed pmlua writes a pool, a second
-- process of the stock lua5.4 (the installed pmem.so) reads it, pmtool checks it
function TestInstall.test_installed_programs_share_a_pool()
  need_install()
  local _, prefix = installed()
  local dir = h.tmpdir()
  local cd = "cd " .. q(dir) .. " && "
  local out = h.run_cmd(cd .. q(prefix .. "/bin/pmlua") .. " -v")
  lu.assertStrContains(out, "pmlua " .. VERSION .. " (pmem module)\n")
  out = h.run_cmd(cd .. q(prefix .. "/bin/pmlua") .. " -e " .. q([[
    local pool <close> = assert(pmem.open("shared.pmem", "c"))
    pool.root = { by = "pmlua", list = pool:list({ 1, 2, 3 }) }
    print("written")
  ]]))
  lu.assertEquals(out, "written\n")
  out = h.run_cmd(cd .. "env -u LUA_CPATH_5_4 LUA_CPATH=" .. q(prefix .. "/lib/lua/5.4/?.so")
                  .. " " .. q(h.LUA54) .. " -e " .. q([[
    local pmem = require "pmem"
    local pool <close> = assert(pmem.open("shared.pmem"))
    print(package.searchpath("pmem", package.cpath), pool.root.by, #pool.root.list)
  ]]))
  lu.assertEquals(out, prefix .. "/lib/lua/5.4/pmem.so\tpmlua\t3\n")
  local _, code, err = h.run_cmd(cd .. q(prefix .. "/bin/pmtool") .. " check shared.pmem")
  lu.assertEquals(code, 0, err)
end

-- examples/embed/host.c, as installed, built with the installed header and
-- module and the system's Lua 5.4 only; it counts its runs, recovers after a
-- run killed with the pool open (the trial open spawns the host itself), and
-- reports an error with its traceback
function TestInstall.test_embedding_host_builds_against_the_install()
  need_install()
  if not h.read_file("/usr/include/lua5.4/lua.h")
     or not h.run_cmd("cc -print-file-name=liblua5.4.so"):find("^/") then
    h.skip("no system Lua 5.4 headers and shared library (liblua5.4-dev) to build a host with")
  end
  local _, prefix = installed()
  local dir = h.tmpdir()
  local cd = "cd " .. q(dir) .. " && "
  local mod = prefix .. "/lib/lua/5.4"
  local out, code, err = h.run_cmd(cd .. "cc -Wall -Wextra -Werror -o host "
    .. q(prefix .. "/share/doc/pmlua/examples/embed/host.c") .. " -I" .. q(prefix .. "/include/pmlua")
    .. " -I/usr/include/lua5.4 -L" .. q(mod) .. " -l:pmem.so -Wl,-rpath," .. q(mod) .. " -llua5.4")
  lu.assertEquals(code, 0, out .. err)
  lu.assertEquals(h.run_cmd(cd .. "./host counter.pmem"), "runs 1\n")
  lu.assertEquals(h.run_cmd(cd .. "./host counter.pmem"), "runs 2\n")
  out, code, err = h.run_cmd(cd .. q(prefix .. "/bin/pmlua") .. " -e " .. q([[
    local pool = assert(pmem.open("counter.pmem"))
    pool.root.runs = pool.root.runs + 1
    os.execute("kill -9 " .. io.open("/proc/self/stat"):read("n"))
  ]]))
  lu.assertNotEquals(code, 0, "the run was not killed")
  lu.assertEquals(h.run_cmd(cd .. "./host counter.pmem"), "runs 4\n")
  out, code, err = h.run_cmd(cd .. "./host no/such/dir.pmem")
  lu.assertEquals({ out, code }, { "", 1 })
  lu.assertStrMatches(err, "%./host: host:2: no/such/dir%.pmem: [^\n]*\nstack traceback:\n.*")
end

-- PREFIX=/usr: pmem.so where Debian's Lua modules are, which the stock
-- lua5.4's default path searches (under DESTDIR here); uninstall empties it
function TestInstall.test_prefix_usr_is_on_lua54s_path()
  need_install()
  local dest = h.tmpdir()
  local log, code = make("install", dest, "/usr")
  lu.assertEquals(code, 0, log)
  local found = h.run_cmd("env -u LUA_CPATH -u LUA_CPATH_5_4 " .. q(h.LUA54) .. " -e " .. q(([[
    local path = package.cpath:gsub("/usr/", %q .. "/usr/")
    print(package.searchpath("pmem", path))
  ]]):format(dest))):gsub("\n$", "")
  lu.assertStrMatches(found, dest:gsub("%p", "%%%0") .. "/usr/lib/[^/]+/lua/5%.4/pmem%.so")
  lu.assertNotNil(h.read_file(dest .. "/usr/include/pmlua/lpmem.h"))
  log, code = make("uninstall", dest, "/usr")
  lu.assertEquals(code, 0, log)
  lu.assertEquals(tree(dest), {})
end

-- uninstall removes what the installs put there (two installs: an
-- upgrade), then the directories they made; what was there before stays;
-- a second uninstall has nothing to remove and says so
function TestInstall.test_uninstall_removes_exactly_what_was_installed()
  need_install()
  local dest = h.tmpdir()
  os.execute("mkdir -p " .. q(dest .. "/usr/local/bin") .. " " .. q(dest .. "/usr/local/share/doc"))
  h.write_file(dest .. "/usr/local/bin/other", "#!/bin/sh\n")
  local before = tree(dest)
  for _ = 1, 2 do
    local log, code = make("install", dest, "/usr/local")
    lu.assertEquals(code, 0, log)
  end
  lu.assertNotNil(h.read_file(dest .. "/usr/local/bin/pmlua"))
  local log, code = make("uninstall", dest, "/usr/local")
  lu.assertEquals(code, 0, log)
  lu.assertEquals(tree(dest), before)
  log, code = make("uninstall", dest, "/usr/local")
  lu.assertNotEquals(code, 0)
  lu.assertStrContains(log, "nothing was installed")
end

os.exit(lu.LuaUnit.run())
