/*
** lb_peek.c -- proving the stack layout of lb_peek.h on this build.
*/
#include "lb_peek.h"

int lb_peek_on;

#define PROBE_INT  ((lua_Integer)0x5eed0bad1dea)

/* probe -- called with (PROBE_INT, "pmlua", a userdata of 40 bytes and 3
   user values, 2.5, a userdata of 8 bytes and 1 user value): do the slots
   and headers lb_peek.h reads hold exactly these? */
static int probe(lua_State *L) {
  const lb_Slot *a = lb_peek_func(L);
  int ok = lb_peek_top(L) == a + 6 && lua_gettop(L) == 5 &&
           a[1].tt == LB_TAG_INT && a[1].v.i == PROBE_INT &&
           a[2].tt == LB_TAG_SHRSTR && a[2].v.p == lua_topointer(L, 2) &&
           lb_peek_udata(&a[3], 40, 3) == lua_touserdata(L, 3) &&
           lb_peek_udata(&a[3], 40, 2) == NULL && lb_peek_udata(&a[3], 8, 3) == NULL &&
           a[4].tt == LB_TAG_FLT && a[4].v.n == 2.5 && lb_peek_udata(&a[4], 40, 3) == NULL &&
           lb_peek_udata(&a[5], 8, 1) == lua_touserdata(L, 5);
  lua_pushboolean(L, ok);
  return 1;
}

int lpmem_peek_enable(lua_State *L) {
  lua_pushcfunction(L, probe);
  lua_pushinteger(L, PROBE_INT);
  lua_pushliteral(L, "pmlua");
  lua_newuserdatauv(L, 40, 3);
  lua_pushnumber(L, 2.5);
  lua_newuserdatauv(L, 8, 1);
  lua_call(L, 5, 1);
  lb_peek_on = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return lb_peek_on;
}
