-- test_luarocks.lua -- the rock, pmem-VERSION-1.rockspec: `luarocks make`
-- builds the module and installs it into a scratch tree, where the stock
-- lua5.4 loads it; it finds libpmemobj through LuaRocks' PMEMOBJ_DIR,
-- PMEMOBJ_INCDIR and PMEMOBJ_LIBDIR; its version is the module's.
--
-- luarocks is an optional dependency (scripts/deps.sh installs it as root):
-- without it the tests that need it say they are skipped. The rock builds in
-- build/rock/ (make rock), apart from the suites' build, and without the
-- calling make's variables (make check's sanitizers, make debug's audits):
-- it is the module a user gets.
local lu = require "luaunit"
local h = require "helper"
local q = h.q

local ROOT = (h.run_cmd("pwd"):gsub("\n$", ""))
local VERSION = h.read_file("src/lpmem.h"):match('#define PML_VERSION "([^"]+)"')
local ROCKSPEC = "pmem-" .. VERSION .. "-1.rockspec"
-- luarocks as from a user's shell: without what the calling make put in the
-- environment (its flags, and the variables of its command line: make check's
-- B, OPT, LDFLAGS, DEBUG; VENDOR)
local LUAROCKS = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u B -u OPT -u LDFLAGS -u DEBUG -u VENDOR "
                 .. "luarocks --lua-version=5.4"
-- the stock interpreter with only the tree's modules on its C path
local function lua54(tree)
  return "env -u LUA_INIT -u LUA_INIT_5_4 -u LUA_CPATH_5_4 LUA_CPATH="
         .. q(tree .. "/lib/lua/5.4/?.so") .. " " .. q(h.LUA54)
end

-- luarocks make [ARGS] into a new tree: the tree, stdout and stderr, exit status
local function make_rock(args)
  local tree = h.tmpdir()
  local out, code, err = h.run_cmd(LUAROCKS .. " make --tree " .. q(tree) .. " "
                                   .. (args or "") .. " " .. q(ROCKSPEC))
  return tree, out .. err, code
end

local function need_luarocks()
  if select(2, h.run_cmd("command -v luarocks")) ~= 0 then
    h.skip("luarocks is not installed (scripts/deps.sh installs it as root)")
  end
end

TestRock = {}

function TestRock.test_rockspec_is_the_modules_version()
  local spec = {}
  assert(loadfile(ROCKSPEC, "t", spec), "no " .. ROCKSPEC .. " for PML_VERSION " .. VERSION)()
  lu.assertEquals(spec.package, "pmem")
  lu.assertEquals(spec.version, VERSION .. "-1")
end

-- built, installed into the tree, loaded by lua5.4 from there; a pool written
-- by one process is read back by another; luarocks remove takes it away
function TestRock.test_make_installs_the_module_for_stock_lua()
  need_luarocks()
  local tree, log, code = make_rock()
  lu.assertEquals(code, 0, log)
  local so = tree .. "/lib/lua/5.4/pmem.so"
  lu.assertNotNil(h.read_file(so), "no " .. so .. "\n" .. log)
  lu.assertStrContains(h.run_cmd(LUAROCKS .. " list --porcelain --tree " .. q(tree)),
                       "pmem\t" .. VERSION .. "-1\tinstalled")
  lu.assertEquals(h.run_cmd("readelf -d " .. q(so) .. " | grep -ciE 'rpath|runpath'"), "0\n")
  lu.assertEquals(h.run_cmd("grep -c " .. q(ROOT) .. " " .. q(so)), "0\n",
                  "the checkout's path is in the installed module")

  local dir = h.tmpdir()
  local out = h.run_cmd("cd " .. q(dir) .. " && " .. lua54(tree) .. " -e " .. q([[
    local pmem = require "pmem"
    print(package.searchpath("pmem", package.cpath), pmem.VERSION)
    local pool <close> = assert(pmem.open("rock.pmem", "c"))
    pool.root = { greeting = "hello", list = pool:list({ 1, 2, 3 }) }
  ]]))
  lu.assertEquals(out, so .. "\t" .. VERSION .. "\n")
  out = h.run_cmd("cd " .. q(dir) .. " && " .. lua54(tree) .. " -e " .. q([[
    local pool <close> = assert(require("pmem").open("rock.pmem"))
    print(pool.root.greeting, #pool.root.list, pool.root.list[3])
  ]]))
  lu.assertEquals(out, "hello\t3\t3\n")

  local _, rc, err = h.run_cmd(LUAROCKS .. " remove --tree " .. q(tree) .. " pmem")
  lu.assertEquals(rc, 0, err)
  lu.assertNil(h.read_file(so), "luarocks remove left pmem.so")
end

-- the directories given for libpmemobj are the ones the build uses: a
-- header there is compiled (here one that stops the build), a library there
-- is linked (here one that is not a library); a missing one is named
function TestRock.test_pmemobj_directories_reach_the_build()
  need_luarocks()
  local fake = h.tmpdir()
  os.execute("mkdir -p " .. q(fake .. "/include") .. " " .. q(fake .. "/lib"))
  h.write_file(fake .. "/include/libpmemobj.h", '#error "the header of PMEMOBJ_INCDIR"\n')
  h.write_file(fake .. "/lib/libpmemobj.so", "not a library\n")
  local sys = h.run_cmd('dirname "$(cc -print-file-name=libpmemobj.so)"'):gsub("\n$", "")

  local _, log, code = make_rock("PMEMOBJ_INCDIR=" .. q(fake .. "/include")
                                 .. " PMEMOBJ_LIBDIR=" .. q(sys))
  lu.assertNotEquals(code, 0)
  lu.assertStrContains(log, "the header of PMEMOBJ_INCDIR")

  _, log, code = make_rock("PMEMOBJ_LIBDIR=" .. q(fake .. "/lib"))
  lu.assertNotEquals(code, 0)
  lu.assertStrContains(log, fake .. "/lib/libpmemobj.so")

  _, log, code = make_rock("PMEMOBJ_DIR=" .. q(fake .. "/none"))
  lu.assertNotEquals(code, 0)
  lu.assertStrContains(log, "libpmemobj.h")
end

os.exit(lu.LuaUnit.run())
