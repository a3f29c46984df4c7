/*
** lb_proxy.c -- proxies, the Lua face of stored containers: one per
** container and run, from a weak cache; their life (a proxy holds its
** container until finalized); objects' classes and __load; the core's
** hooks (held, dropped).
*/
#include <string.h>

#include "lb_int.h"
#include "pml_valid.h"

lb_Proxy *lb_checkproxy(lua_State *L, int idx) {
  lb_Proxy *px = lb_toproxy(L, idx);
  if (px == NULL || !pml_isopen(&px->pool->core) || px->obj == NULL)
    lb_tx_fail(L);                      /* a failed pool operation aborts it */
  if (px == NULL) luaL_typeerror(L, idx, "persistent value");
  if (!pml_isopen(&px->pool->core)) lb_raise_closed(L, px->pool);
  if (px->obj == NULL)
    luaL_error(L, "persistent value no longer exists (its creation was rolled back, "
               "or a finalizer brought back a collected proxy)");
  return px;
}

lb_Proxy *lb_checkwrite(lua_State *L, int idx) {
  lb_Proxy *px = lb_checkproxy(L, idx);
  lb_check_writable(L, px->pool);
  return px;
}

/* load_object -- first time an object is seen in this run: give it a
   table of volatile attributes and run its class's __load */
static void load_object(lua_State *L, lb_Pool *pool, uint64_t off, int px) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, pool->vattr_ref);
  if (lua_rawgeti(L, -1, (lua_Integer)off) != LUA_TNIL) { lua_pop(L, 2); return; }
  lua_pop(L, 1);
  lua_newtable(L);
  lua_rawseti(L, -2, (lua_Integer)off);
  lua_pop(L, 1);
  lua_getiuservalue(L, px, 2);
  if (lua_getfield(L, -1, "__load") == LUA_TFUNCTION) {
    lua_pushvalue(L, px);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
  } else {
    lua_pop(L, 2);
  }
}

/* set_class -- the class of object proxy px (user value 2) and the
   metatable of its class's objects, found (or required) by the Lua
   layer's resolver ("pmem.classof" in the registry, see lua/pmem.lua) */
static void set_class(lua_State *L, lb_Pool *pool, const pml_Object *o, int px) {
  size_t len;
  const char *name = pml_cell_str(&pool->core, &o->cls, &len);
  if (name == NULL) lb_raise(L, pool, PML_EDAMAGED);
  lua_getfield(L, LUA_REGISTRYINDEX, "pmem.classof");
  lua_pushlstring(L, name, len);
  lua_call(L, 1, 2);
  lua_setmetatable(L, px);
  lua_setiuservalue(L, px, 2);
}

void lb_pushproxy(lua_State *L, lb_Pool *pool, uint64_t off) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, pool->cache_ref);
  if (lua_rawgeti(L, -1, (lua_Integer)off) != LUA_TNIL) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);                                        /* cache */
  if (!pml_container_ok(&pool->core, off)) lb_raise(L, pool, PML_EDAMAGED);
  pml_Hdr *h = pml_hdr(&pool->core, off);
  lb_Proxy *p = lua_newuserdatauv(L, sizeof *p, LB_PROXY_UV);
  memset(p, 0, sizeof *p);
  p->magic = LB_PROXY_MAGIC;
  p->kind = h->kind;
  p->pool = pool;
  p->obj = h;
  p->off = off;
  int px = lua_gettop(L);
  int isnew;
  pml_MapSlot *live = pml_map_put(&pool->live, off, &isnew);
  if (live == NULL) luaL_error(L, "not enough memory");
  live->val++;                          /* undone by lb_proxy_gc */
  lb_newmeta(L, h->kind);         /* first: its __gc undoes the count above */
  lua_setmetatable(L, px);
  lua_rawgeti(L, px - 1, 0);                            /* the pool */
  lua_setiuservalue(L, px, 1);
  if (h->kind == PML_TOBJECT) set_class(L, pool, (pml_Object *)h, px);
  lua_pushvalue(L, px);
  lua_rawseti(L, px - 1, (lua_Integer)off);
  lua_remove(L, px - 1);                                /* cache */
  if (h->kind == PML_TOBJECT) load_object(L, pool, off, lua_gettop(L));
}

void lb_pushcell_slow(lua_State *L, lb_Pool *pool, const pml_Cell *c) {
  if (!pml_isopen(&pool->core)) lb_raise_closed(L, pool);   /* Lua ran */
  switch (c->tag) {
    case PML_CFALSE: lua_pushboolean(L, 0); break;
    case PML_CTRUE: lua_pushboolean(L, 1); break;
    case PML_CINT: lua_pushinteger(L, c->u.i); break;
    case PML_CFLT: lua_pushnumber(L, c->u.d); break;
    case PML_CSSTR: case PML_CLSTR: {
      size_t len;
      const char *str = pml_cell_str(&pool->core, c, &len);
      if (str == NULL) lb_raise(L, pool, PML_EDAMAGED);
      lua_pushlstring(L, str, len);
      break;
    }
    case PML_CREF: lb_pushproxy(L, pool, c->u.off); break;
    default: lua_pushnil(L); break;
  }
}

/*
** hook_held -- the core asks: does a live Lua value hold off? Yes while a
** proxy of it has not been finalized. (Not "is it in the weak cache": Lua
** clears weak entries before finalizers run, and a finalizer can bring a
** proxy back.) A finalized proxy is dead (proxy_gc), so a proxy that a
** finalizer brings back raises instead of reaching a freed object.
*/
static int hook_held(void *ud, uint64_t off) {
  lb_Pool *pool = ud;
  return pml_map_find(&pool->live, off) != NULL;
}

/* proxy_gc -- __gc of every proxy: it no longer holds its object */
int lb_proxy_gc(lua_State *L) {
  lb_Proxy *px = lb_toproxy(L, 1);
  if (px == NULL || px->obj == NULL) return 0;
  px->obj = NULL;
  px->ic_epoch = 0;
  lb_Pool *pool = px->pool;
  if (!pml_isopen(&pool->core)) return 0;         /* closed: maps are gone */
  pml_MapSlot *s = pml_map_find(&pool->live, px->off);
  if (s && --s->val == 0) pml_map_del(&pool->live, px->off);
  return 0;
}

/* hook_dropped -- off is gone: its proxy (if any) is dead, its volatile
   attributes forgotten. Sets fields to nil only, which never allocates. */
static void hook_dropped(void *ud, uint64_t off) {
  lb_Pool *pool = ud;
  lua_State *L = pool->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, pool->cache_ref);
  lb_Proxy *px = (lua_rawgeti(L, -1, (lua_Integer)off) == LUA_TUSERDATA)
                  ? lb_toproxy(L, -1) : NULL;
  if (px && px->obj) {                  /* dead now: no longer holds off */
    px->obj = NULL;
    px->ic_epoch = 0;
    pml_MapSlot *s = pml_map_find(&pool->live, off);
    if (s && --s->val == 0) pml_map_del(&pool->live, off);
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_rawseti(L, -2, (lua_Integer)off);
  lua_rawgeti(L, LUA_REGISTRYINDEX, pool->vattr_ref);
  lua_pushnil(L);
  lua_rawseti(L, -2, (lua_Integer)off);
  lua_pop(L, 2);
}

const pml_Hooks lb_hooks = { hook_held, hook_dropped };

