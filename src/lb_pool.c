/*
** lb_pool.c -- the pool userdata: pmem.open and pmem.create, close and
** finalization, pool.root and pool.path, the constructors (pool:table,
** :list, :tuple, :set, the objects of pool:new), pool:gc.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_int.h"
#include "pml_gc.h"
#include "pml_list.h"
#include "pml_table.h"

lb_Pool *lb_checkpool(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, LB_POOL_MT);
}

/* checkopen -- an open pool (a failure aborts an open transaction) */
lb_Pool *lb_checkopen(lua_State *L, int idx) {
  lb_Pool *pool = lb_checkpool(L, idx);
  if (!pml_isopen(&pool->core)) {
    lb_tx_fail(L);
    lb_raise_closed(L, pool);
  }
  return pool;
}

static void unref_tables(lua_State *L, lb_Pool *pool) {
  luaL_unref(L, LUA_REGISTRYINDEX, pool->cache_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, pool->vattr_ref);
  pool->cache_ref = pool->vattr_ref = LUA_NOREF;
}

/* audit_refs -- debug builds: after a clean close's collection, every
   reference count must equal the references to its container, if they
   did at open (a damaged pool may break the invariant; pmlua must not) */
static void audit_refs(lb_Pool *pool, int clean) {
#ifdef PML_DEBUG
  uint64_t bad;
  if (clean && pool->refs_sound && pool->core.damage == 0 &&
      pml_gc_audit(&pool->core, &bad) != PML_OK) {
    fprintf(stderr, "pmlua (debug): %s: refcount of the container at %llu differs "
            "from its references\n", pool->path, (unsigned long long)bad);
    abort();
  }
#else
  (void)pool;
  (void)clean;
#endif
}

/*
** do_close -- collect what the root does not reach (Lua values no longer
** count), mark the pool cleanly closed, close it. If the collection fails
** the pool is left marked open, so the next open collects in full.
*/
static void do_close(lua_State *L, lb_Pool *pool) {
  if (!pml_isopen(&pool->core)) return;
  pool->L = L;
  lb_tx_closing(L, pool);
  int clean = 0;
  /* a collection needs a transaction of its own: not possible while another
     pool's is open (say, __gc running inside it); the pool then stays marked
     open and the next open collects in full */
  if (!pool->core.readonly && lb_tx_pool() == NULL) {
    pml_GcStats s;
    clean = (pml_gc_full_due(&pool->core) ? pml_gc_full(&pool->core, &s)
                                          : pml_gc_collect(&pool->core, 0, &s)) == PML_OK;
  }
  audit_refs(pool, clean);
  pml_pool_close(&pool->core, clean);
  pml_map_free(&pool->live);
  unref_tables(L, pool);
}

static int pool_close(lua_State *L) {
  lb_Pool *pool = lb_checkpool(L, 1);
  if (lb_tx_in(pool) && pml_isopen(&pool->core)) {
    lb_tx_fail(L);                      /* a failed pool operation aborts it */
    return luaL_error(L, "cannot close a pool inside its transaction");
  }
  do_close(L, pool);
  return 0;
}

/* pool_finalize -- __gc: close (a pool being collected has no transaction
   running: the running one holds its pool) */
static int pool_finalize(lua_State *L) {
  lb_Pool *pool = lb_checkpool(L, 1);
  if (pool->magic == LB_POOL_MAGIC) do_close(L, pool);
  return 0;
}

static int pool_collect(lua_State *L) {
  lb_Pool *pool = lb_checkopen(L, 1);
  if (pool->core.readonly) return luaL_error(L, "%s: pool is read-only", pool->path);
  if (lb_tx_pool() != NULL) return luaL_error(L, "cannot collect inside a transaction");
  lua_gc(L, LUA_GCCOLLECT);               /* forget proxies no one holds */
  if (!pml_isopen(&pool->core)) return lb_raise_closed(L, pool);  /* a finalizer */
  pool->L = L;
  pml_GcStats s;
  int st = pml_gc_collect(&pool->core, PML_GC_HELD, &s);
  if (st != PML_OK) return lb_raise(L, pool, st);   /* close collects in full */
  pml_pool_recycle(&pool->core);
  pml_pool_reserve(&pool->core);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)s.live);
  lua_setfield(L, -2, "live");
  lua_pushinteger(L, (lua_Integer)s.collected);
  lua_setfield(L, -2, "collected");
  lua_pushinteger(L, (lua_Integer)s.damaged);
  lua_setfield(L, -2, "damaged");
  return 1;
}

static int pool_index(lua_State *L) {
  lb_Pool *pool = lb_checkpool(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "root") == 0) {
    lb_checkopen(L, 1);
    lb_pushcell(L, pool, &pool->core.root->root);
  } else if (k && strcmp(k, "path") == 0) {
    lua_getiuservalue(L, 1, 1);
  } else {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));           /* methods */
  }
  return 1;
}

static int pool_newindex(lua_State *L) {
  lb_Pool *pool = lb_checkpool(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k == NULL || strcmp(k, "root") != 0)
    return luaL_error(L, "cannot set field '%s' of a pool (only 'root')",
                      k ? k : luaL_typename(L, 2));
  lb_check_writable(L, pool);
  lb_Copy c;
  pml_Val v;
  lb_prepare(L, pool, 3, &c);
  lb_begin(L, pool);
  int st = lb_value(L, pool, 3, &c, &v);
  if (st == PML_OK) st = pml_cell_set(&pool->core, &pool->core.root->root, &v);
  lb_end(L, pool, st);
  return 0;
}

static int pool_tostring(lua_State *L) {
  lb_Pool *pool = lb_checkpool(L, 1);
  lua_getiuservalue(L, 1, 1);
  lua_pushfstring(L, "pmem.pool (%s)%s", lua_tostring(L, -1),
                  pml_isopen(&pool->core) ? (pool->core.readonly ? " read-only" : "") : " closed");
  return 1;
}

/* newcontainer -- pool:table([t]), pool:list([seq]), pool:tuple([seq]),
   pool:set([seq]): a new container of type, filled from the plain table
   at 2 (a sequence for a list, tuple or set) */
static int newcontainer(lua_State *L, unsigned type) {
  lb_Pool *pool = lb_checkopen(L, 1);
  int has = !lua_isnoneornil(L, 2);
  if (has) luaL_checktype(L, 2, LUA_TTABLE);
  lb_check_writable(L, pool);
  lua_settop(L, 2);
  lb_Copy c;
  lb_plan_init(&c);
  lua_Integer n = 0;
  if (has && type == PML_TTABLE) {
    lb_plan(L, pool, 2, &c);
  } else if (has) {
    n = (lua_Integer)lua_rawlen(L, 2);
    lb_plan_open(L, &c);                         /* below the items pushed next */
    for (lua_Integer i = 1; i <= n; i++) {
      lua_pushinteger(L, i);
      if (lua_rawgeti(L, 2, i) == LUA_TNIL)
        luaL_error(L, "bad argument #1 to '%s' (the sequence has a hole at %I: "
                   "a %s holds no nil)", lb_kindname(type), i, lb_kindname(type));
      c.key = lua_gettop(L) - 1;              /* errors say where: [i] */
      if (type == PML_TSET) { pml_Val k; lb_checkkey(L, pool, -1, &k, &c); }
      else lb_plan(L, pool, -1, &c);
      lua_pop(L, 2);
    }
  }
  lb_plan_done(L, &c);
  lb_begin(L, pool);
  pml_Pool *p = &pool->core;   /* from here to lb_end: nothing raises */
  int st = lb_copy(L, pool, &c);
  uint64_t off = 0;
  if (type == PML_TTABLE) {
    off = has ? (c.n ? c.offs[0] : 0) : 0;
    if (st == PML_OK && off == 0) off = pml_table_new(p, PML_TTABLE, &st);
  } else if (st == PML_OK) {
    pml_Val yes;
    pml_val_tag(&yes, PML_CTRUE);
    if (type == PML_TSET) off = pml_table_new(p, type, &st);
    else off = pml_list_new(p, type, &st);
    if (st == PML_OK && type != PML_TSET) st = pml_list_reserve(p, pml_list(p, off), (uint64_t)n);
    for (lua_Integer i = 1; i <= n && st == PML_OK; i++) {
      pml_Val v;
      lua_rawgeti(L, 2, i);                   /* on the stack while v is used */
      if (type == PML_TSET) {
        lb_tokey(L, -1, &v);
        st = pml_table_set(p, pml_table(p, off), &v, pml_val_hash(&v), &yes);
      } else {
        lb_toval(L, -1, &c, &v);
        st = pml_list_append(p, pml_list(p, off), &v);
      }
      lua_pop(L, 1);
    }
  }
  lb_end(L, pool, st);
  lb_pushproxy(L, pool, off);
  return 1;
}
static int pool_table(lua_State *L) { return newcontainer(L, PML_TTABLE); }
static int pool_list(lua_State *L) { return newcontainer(L, PML_TLIST); }
static int pool_tuple(lua_State *L) { return newcontainer(L, PML_TTUPLE); }
static int pool_set(lua_State *L) { return newcontainer(L, PML_TSET); }

/* pool_newobject -- pool:_newobject(classname): an empty object (the Lua
   layer runs init inside a transaction around this) */
static int pool_newobject(lua_State *L) {
  lb_Pool *pool = lb_checkopen(L, 1);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  pml_Val v;
  pml_val_str(&v, name, len);
  lb_begin(L, pool);
  int st;
  uint64_t off = pml_table_new(&pool->core, PML_TOBJECT, &st);
  if (st == PML_OK) {
    pml_Object *o = pml_ptr(&pool->core, off);
    st = pml_cell_init(&pool->core, &o->cls, &v);
  }
  lb_end(L, pool, st);
  lb_pushproxy(L, pool, off);
  return 1;
}

/* check_size, check_mode -- an option's value (argument arg, or field
   name of the options table there) */
static uint64_t check_size(lua_State *L, lua_Integer size, int arg) {
  if (size < (lua_Integer)PML_MIN_POOL_SIZE)
    luaL_argerror(L, arg, lua_pushfstring(L, "pool size %I is below the minimum "
                  "(pmem.MIN_POOL_SIZE = %I)", size, (lua_Integer)PML_MIN_POOL_SIZE));
  if ((uint64_t)size > PML_POOL_MAX)
    luaL_argerror(L, arg, lua_pushfstring(L, "pool size %I is above the maximum "
                  "(%I, 16 TiB)", size, (lua_Integer)PML_POOL_MAX));
  return (uint64_t)size;
}

static unsigned check_mode(lua_State *L, lua_Integer mode, int arg) {
  if (mode < 0 || mode > 0777)
    luaL_argerror(L, arg, lua_pushfstring(L, "mode %I is not permission bits "
                  "(0 to 511, octal 0777; Lua has no octal literals: write "
                  "tonumber(\"644\", 8), which is 420)", mode));
  return (unsigned)mode;
}

/* opt_integer -- options.name, an integer or nil (dflt) */
static lua_Integer opt_integer(lua_State *L, int t, const char *name, lua_Integer dflt) {
  int ty = lua_getfield(L, t, name);
  int isint;
  lua_Integer v = lua_tointegerx(L, -1, &isint);
  if (ty != LUA_TNIL && !isint)
    luaL_argerror(L, t, lua_pushfstring(L, "option '%s' must be an integer, not %s",
                                        name, luaL_typename(L, -1)));
  lua_pop(L, 1);
  return ty == LUA_TNIL ? dflt : v;
}

/* read_options -- the options table at t: {size =, max_size =, mode =, sync =} */
static void read_options(lua_State *L, int t, pml_Opts *o) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    if (strcmp(k, "size") && strcmp(k, "max_size") && strcmp(k, "mode") && strcmp(k, "sync"))
      luaL_argerror(L, t, lua_pushfstring(L, "unknown option %s (the options are "
                    "size, max_size, mode and sync)", lua_type(L, -2) == LUA_TSTRING ?
                    lua_pushfstring(L, "'%s'", k) : luaL_tolstring(L, -2, NULL)));
    lua_pop(L, 1);
  }
  lua_Integer size = opt_integer(L, t, "size", 0), max = opt_integer(L, t, "max_size", 0);
  o->size = lua_getfield(L, t, "size") == LUA_TNIL ? 0 : check_size(L, size, t);
  o->max_size = lua_getfield(L, t, "max_size") == LUA_TNIL ? 0 : check_size(L, max, t);
  lua_pop(L, 2);
  if (o->max_size != 0 && o->size > o->max_size)
    luaL_argerror(L, t, lua_pushfstring(L, "option 'size' (%I) is above option "
                  "'max_size' (%I)", size, max));
  o->mode = check_mode(L, opt_integer(L, t, "mode", 0666), t);
  const char *sync = lua_getfield(L, t, "sync") == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  if (sync == NULL && !lua_isnil(L, -1))
    luaL_argerror(L, t, lua_pushfstring(L, "option 'sync' must be \"full\" or "
                  "\"normal\", not %s", luaL_typename(L, -1)));
  if (sync != NULL && strcmp(sync, "full") && strcmp(sync, "normal"))
    luaL_argerror(L, t, lua_pushfstring(L, "option 'sync' must be \"full\" or "
                  "\"normal\", not '%s'", sync));
  o->sync = sync != NULL && strcmp(sync, "normal") == 0 ? PML_SYNC_NORMAL : PML_SYNC_FULL;
  lua_pop(L, 1);
}

/* open_pool -- pmem.open and pmem.create: the pool at path (argument 1)
   opened with flag; its options at stack index si: a table, or the size
   with the mode at si + 1 */
static int open_pool(lua_State *L, const char *flag, int si) {
  const char *path = luaL_checkstring(L, 1);
  pml_Opts o = { 0, 0, 0666, PML_SYNC_FULL };
  if (lua_istable(L, si)) {
    read_options(L, si, &o);
  } else {
    o.size = lua_isnoneornil(L, si) ? 0 : check_size(L, luaL_checkinteger(L, si), si);
    o.mode = check_mode(L, luaL_optinteger(L, si + 1, 0666), si + 1);
  }
  /* the userdata exists (closed) before the pool does: an error later
     leaves nothing half-open */
  lb_Pool *pool = lua_newuserdatauv(L, sizeof *pool, 1);
  memset(pool, 0, sizeof *pool);
  pool->magic = LB_POOL_MAGIC;
  pool->cache_ref = pool->vattr_ref = LUA_NOREF;
  pml_map_init(&pool->live);
  pml_pool_init(&pool->core, &lb_hooks, pool);
  luaL_setmetatable(L, LB_POOL_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  pool->path = path;                            /* anchored there */
  lua_newtable(L);                                      /* proxy cache */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -2);
  lua_rawseti(L, -2, 0);                                /* cache[0] = pool */
  pool->cache_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_newtable(L);
  pool->vattr_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  pool->L = L;
  int st = pml_pool_open(&pool->core, path, flag[0], &o);
  /* the last run did not close: collect in full (deferred to close if a
     transaction of another pool is open now) */
  if (st == PML_OK && pml_gc_full_due(&pool->core) && !pool->core.readonly &&
      lb_tx_pool() == NULL) {
    pml_GcStats s;
    if ((st = pml_gc_full(&pool->core, &s)) != PML_OK) {
      char msg[sizeof pool->core.err];
      snprintf(msg, sizeof msg, "%s", lb_message(pool, st));
      snprintf(pool->core.err, sizeof pool->core.err, "%.200s: %.300s", path, msg);
      pml_pool_close(&pool->core, 0);
      st = PML_ESYS;
    }
  }
  if (st == PML_OK) st = pml_pool_start_run(&pool->core);
#ifdef PML_DEBUG
  uint64_t bad;
  pool->refs_sound = st == PML_OK && pool->core.pop != NULL && !pool->core.readonly &&
                     pml_gc_audit(&pool->core, &bad) == PML_OK;
#endif
  if (st != PML_OK) {
    unref_tables(L, pool);
    lua_pushnil(L);
    lua_pushstring(L, pool->core.err);
    lua_pushinteger(L, pool->core.errnum);
    return 3;
  }
  return 1;
}

/* pmem.open(path [, flag [, options | size [, mode]]]) */
int lb_open(lua_State *L) {
  const char *flag = luaL_optstring(L, 2, "w");
  if (strlen(flag) != 1 || strchr("rwcx", flag[0]) == NULL)
    return luaL_error(L, "invalid flag '%s' (expected 'r', 'w', 'c' or 'x')", flag);
  return open_pool(L, flag, 3);
}

/* pmem.create(path [, options | size [, mode]]): open with flag "x" */
int lb_create(lua_State *L) {
  return open_pool(L, "x", 2);
}

/* pool:sync() -- every committed change durable now */
static int pool_sync(lua_State *L) {
  lb_Pool *pool = lb_checkopen(L, 1);
  int st = pml_pool_sync(&pool->core);
  return st == PML_OK ? 0 : lb_raise(L, pool, st);
}

static void setint(lua_State *L, const char *k, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* pool:stats() -- {size, max_size, used, free, sync, engine, log}
   (docs/reference.md) */
static int pool_stats(lua_State *L) {
  lb_Pool *pool = lb_checkopen(L, 1);
  pml_Pool *p = &pool->core;
  uint64_t used, total, end;
  pml_heap_usage(&p->heap, &used, &total, &end);
  lua_createtable(L, 0, 7);
  setint(L, "size", pml_pool_file_size(p, end));
  setint(L, "max_size", p->size);
  setint(L, "used", used);
  setint(L, "free", total - used);
  setint(L, "log", pml_wal_pending(&p->wal));
  lua_pushstring(L, p->sync == PML_SYNC_NORMAL ? "normal" : "full");
  lua_setfield(L, -2, "sync");
  lua_pushstring(L, p->readonly ? "read-only" : p->wal.on ? "log" : "direct");
  lua_setfield(L, -2, "engine");
  return 1;
}

static const luaL_Reg pool_methods[] = {
  {"close", pool_close}, {"transaction", lb_transaction}, {"sync", pool_sync},
  {"stats", pool_stats}, {NULL, NULL}
};
static const luaL_Reg pool_changes[] = {
  {"gc", pool_collect}, {"table", pool_table}, {"list", pool_list},
  {"tuple", pool_tuple}, {"set", pool_set}, {"_newobject", pool_newobject},
  {NULL, NULL}
};
static const luaL_Reg pool_meta[] = {
  {"__tostring", pool_tostring}, {"__gc", pool_finalize}, {"__close", pool_close},
  {NULL, NULL}
};
static const luaL_Reg pool_meta_changes[] = { {"__newindex", pool_newindex}, {NULL, NULL} };

void lb_open_pool_meta(lua_State *L) {
  luaL_newmetatable(L, LB_POOL_MT);
  luaL_setfuncs(L, pool_meta, 0);
  lb_setguarded(L, pool_meta_changes);
  lua_createtable(L, 0, 8);
  luaL_setfuncs(L, pool_methods, 0);
  lb_setguarded(L, pool_changes);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, pool_index, 1);
  lua_setfield(L, -3, "__index");
  lua_pushliteral(L, "pmem.pool");
  lua_setfield(L, -3, "__metatable");
  lua_remove(L, -2);
}
