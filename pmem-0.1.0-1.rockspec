-- pmem-0.1.0-1.rockspec -- the pmem module as a LuaRocks rock, for the stock
-- Lua 5.4 interpreter: `luarocks --lua-version=5.4 make` in this checkout
-- (the version is PML_VERSION of src/lpmem.h; tests/test_luarocks.lua keeps
-- them equal). The Makefile builds it (`make rock`: the lua/ parts embedded,
-- no rpath) with the directories LuaRocks found for Lua and libpmemobj;
-- PMEMOBJ_DIR=... (or PMEMOBJ_INCDIR, PMEMOBJ_LIBDIR) on luarocks' command
-- line names another libpmemobj. pmlua and pmtool are not part of the rock
-- (make install).
package = "pmem"
version = "0.1.0-1"
source = {
  -- luarocks make builds the checkout it runs in; no release is published
  url = "git+file://.",
}
description = {
  summary = "Lua values kept in a persistent-memory pool (PMDK libpmemobj)",
  detailed = [[
Tables, lists, sets and objects of your own classes stored under pool.root
behave like plain Lua values, yet survive the program's exit, kill -9 and power
loss; pool:transaction(fn) makes a group of changes all-or-nothing. Pools are
files on persistent memory or on an ordinary disk.]],
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  PMEMOBJ = {
    header = "libpmemobj.h",
    library = "pmemobj",
  },
}
build = {
  type = "make",
  build_target = "rock",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LIBFLAG = "$(LIBFLAG)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    PMEMOBJ_INCDIR = "$(PMEMOBJ_INCDIR)",
    PMEMOBJ_LIBDIR = "$(PMEMOBJ_LIBDIR)",
  },
  install_pass = false,
  install = {
    lib = { pmem = "build/rock/pmem.so" },
  },
}
