/*
** host.c -- a C program that embeds Lua 5.4 and the pmem module, built
** against an installed pmlua (`make install`): the header lpmem.h, pmem.so
** and the system's Lua library. It counts its runs in a pool.
**
** What it shows (docs/reference.md, section 10): lpmem_trial_host first in
** main; luaopen_pmem in package.preload, so that the Lua code's require
** "pmem" finds it; a message handler that asks lpmem_pushtraceback where an
** error escaping pool:transaction was raised.
**
** Build (PREFIX /usr/local; for PREFIX=/usr, M=/usr/lib/$(dpkg-architecture
** -qDEB_HOST_MULTIARCH)/lua/5.4 and the header in /usr/include/pmlua):
**   M=/usr/local/lib/lua/5.4
**   cc -o host host.c -I/usr/local/include/pmlua $(pkg-config --cflags lua5.4) \
**      -L$M -l:pmem.so -Wl,-rpath,$M $(pkg-config --libs lua5.4)
** Run, as many times as you like:
**   ./host counter.pmem      prints "runs 1", then "runs 2", ...
*/

#include <stdio.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "lpmem.h"

/* the Lua part, run with the pool's path as its argument; returns the count */
static const char chunk[] =
  "local pmem = require 'pmem'\n"
  "local pool <close> = assert(pmem.open(..., 'c'))\n"
  "if pool.root == nil then pool.root = { runs = 0, when = pool:list() } end\n"
  "local root = pool.root\n"
  "pool:transaction(function()         -- both changes, or neither\n"
  "  root.runs = root.runs + 1\n"
  "  root.when:append(os.time())\n"
  "end)\n"
  "return root.runs\n";

/* msghandler -- the error message with a traceback: the one of where the
   error was raised when it escaped a pool:transaction, else this stack's */
static int msghandler (lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) msg = lua_pushfstring(L, "(error object is a %s value)",
                                         luaL_typename(L, 1));
  if (lpmem_pushtraceback(L, 1))
    lua_pushfstring(L, "%s\n%s", msg, lua_tostring(L, -1));
  else
    luaL_traceback(L, L, msg, 1);
  return 1;
}

int main (int argc, char **argv) {
  /* before anything else: when pmem.open must try a pool in another process
     (its last run did not close it), it starts this program again with
     arguments that make this call do that work and exit */
  lpmem_trial_host(argc, argv, "/proc/self/exe");
  if (argc != 2) {
    fprintf(stderr, "usage: %s POOL\n", argv[0]);
    return 2;
  }
  lua_State *L = luaL_newstate();
  if (L == NULL) return 1;
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_pmem);
  lua_setfield(L, -2, "pmem");             /* package.preload.pmem */
  lua_pop(L, 1);

  lua_pushcfunction(L, msghandler);
  int status = luaL_loadbuffer(L, chunk, sizeof chunk - 1, "=host");
  if (status == LUA_OK) {
    lua_pushstring(L, argv[1]);
    status = lua_pcall(L, 1, 1, 1);
  }
  if (status == LUA_OK)
    printf("runs %lld\n", (long long)lua_tointeger(L, -1));
  else
    fprintf(stderr, "%s: %s\n", argv[0], lua_tostring(L, -1));
  lua_close(L);
  return status == LUA_OK ? 0 : 1;
}
