/*
** lpmem_peek.c -- proving the stack layout of lpmem_peek.h on this build.
*/
#include "lpmem_peek.h"

int lpm_peek_on;

#define PROBE_INT  ((lua_Integer)0x5eed0bad1dea)

/* probe -- called with (PROBE_INT, "pmlua", a userdata of 40 bytes and 3
   user values, 2.5, a userdata of 8 bytes and 1 user value): do the slots
   and headers lpmem_peek.h reads hold exactly these? */
static int probe(lua_State *L) {
  const lpm_Slot *a = lpm_peek_func(L);
  int ok = lpm_peek_top(L) == a + 6 && lua_gettop(L) == 5 &&
           a[1].tt == LPM_TAG_INT && a[1].v.i == PROBE_INT &&
           a[2].tt == LPM_TAG_SHRSTR && a[2].v.p == lua_topointer(L, 2) &&
           lpm_peek_udata(&a[3], 40, 3) == lua_touserdata(L, 3) &&
           lpm_peek_udata(&a[3], 40, 2) == NULL && lpm_peek_udata(&a[3], 8, 3) == NULL &&
           a[4].tt == LPM_TAG_FLT && a[4].v.n == 2.5 && lpm_peek_udata(&a[4], 40, 3) == NULL &&
           lpm_peek_udata(&a[5], 8, 1) == lua_touserdata(L, 5);
  lua_pushboolean(L, ok);
  return 1;
}

int lpm_peek_enable(lua_State *L) {
  lua_pushcfunction(L, probe);
  lua_pushinteger(L, PROBE_INT);
  lua_pushliteral(L, "pmlua");
  lua_newuserdatauv(L, 40, 3);
  lua_pushnumber(L, 2.5);
  lua_newuserdatauv(L, 8, 1);
  lua_call(L, 5, 1);
  lpm_peek_on = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return lpm_peek_on;
}
