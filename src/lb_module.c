/*
** lb_module.c -- luaopen_pmem: the module table, its functions, the
** metatables, and the Lua parts (the lua/ files, embedded) run once.
*/
#include "lb_int.h"
#include "lpmem.h"
#include "pml_embed.h"

static int pm_type(lua_State *L) {
  lb_Proxy *px = lb_toproxy(L, 1);
  if (px == NULL) lua_pushnil(L);
  else lua_pushstring(L, lb_kindname(px->kind));
  return 1;
}

/* pmem._poolof(v) -- the pool of a persistent value */
static int pm_poolof(lua_State *L) {
  if (lb_toproxy(L, 1) == NULL) return luaL_typeerror(L, 1, "persistent value");
  lua_getiuservalue(L, 1, 1);
  return 1;
}

/* pmem._alive(v) -- may v be used (pool open, not rolled back)? */
static int pm_alive(lua_State *L) {
  lb_Proxy *px = lb_toproxy(L, 1);
  lua_pushboolean(L, px && px->obj && pml_isopen(&px->pool->core));
  return 1;
}

/* pmem._class(obj) -- the class of an object */
static int pm_class(lua_State *L) {
  lb_Proxy *px = lb_toproxy(L, 1);
  if (px == NULL || px->kind != PML_TOBJECT) return luaL_typeerror(L, 1, "pmem object");
  lua_getiuservalue(L, 1, 2);
  return 1;
}

/* pmem.classname(obj) -- the class name stored with an object (whether
   or not its class is loaded) */
static int pm_classname(lua_State *L) {
  lb_Proxy *px = lb_checkproxy(L, 1);
  if (px->kind != PML_TOBJECT) return luaL_typeerror(L, 1, "pmem object");
  size_t len;
  const char *name = pml_cell_str(&px->pool->core, &((pml_Object *)px->obj)->cls, &len);
  if (name == NULL) return lb_raise(L, px->pool, PML_EDAMAGED);
  lua_pushlstring(L, name, len);
  return 1;
}

static const luaL_Reg module_funcs[] = {
  {"open", lb_open},
  {"create", lb_create},
  {"type", pm_type},
  {"_poolof", pm_poolof},
  {"_alive", pm_alive},
  {"_class", pm_class},
  {"classname", pm_classname},
  {"_audit", lb_audit},
  {NULL, NULL}
};

/*
** run_lua_parts -- run the embedded lua/ files chunks with (module, pool
** methods); a chunk may return the class resolver, kept in the registry
** as "pmem.classof" for lb_pushproxy.
*/
static void run_lua_parts(lua_State *L, int module, int methods) {
  for (const pml_Embedded *e = pml_embedded; e->name; e++) {
    if (luaL_loadbuffer(L, e->src, e->len, e->name) != LUA_OK) lua_error(L);
    lua_pushvalue(L, module);
    lua_pushvalue(L, methods);
    lua_call(L, 2, 1);
    if (lua_isfunction(L, -1)) lua_setfield(L, LUA_REGISTRYINDEX, "pmem.classof");
    else lua_pop(L, 1);
  }
}

int luaopen_pmem(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "pmem.module");
  if (!lua_isnil(L, -1)) return 1;                  /* one module a state */
  lua_pop(L, 1);
  luaL_newlib(L, module_funcs);
  int module = lua_gettop(L);
  lua_pushinteger(L, (lua_Integer)PML_MIN_POOL_SIZE);
  lua_setfield(L, module, "MIN_POOL_SIZE");
  lua_pushinteger(L, PML_FORMAT_VERSION);
  lua_setfield(L, module, "FORMAT_VERSION");
  lua_pushliteral(L, PML_VERSION);
  lua_setfield(L, module, "VERSION");
  lua_pushboolean(L, lb_peek_on);              /* reads from Lua's stack */
  lua_setfield(L, module, "_peek");
  lb_open_pool_meta(L);
  lb_open_types(L, module);
  run_lua_parts(L, module, module + 1);
  lua_pushnil(L);                    /* the Lua parts keep them: users may not */
  lua_setfield(L, module, "_meta");
  lua_pushnil(L);
  lua_setfield(L, module, "_methods");
  lua_settop(L, module);
  lua_pushvalue(L, module);
  lua_setfield(L, LUA_REGISTRYINDEX, "pmem.module");
  return 1;
}

void lpmem_trial_host(int argc, char **argv, const char *exe) {
  pml_pool_trial_main(argc, argv);
  pml_pool_trial_exe(exe);
}
