/*
** lpmem.c -- the pmem module's binding layer: pools, transactions, value
** conversion, proxies and their cache. The per-type metamethods are in
** lpmem_types.c; the parts written in Lua are in lua/ files (embedded).
** This is the only layer that raises Lua errors (see lpmem_int.h).
*/
#include <errno.h>
#include <string.h>

#include "lpmem.h"
#include "lpmem_int.h"
#include "pml_embed.h"
#include "pml_gc.h"
#include "pml_list.h"
#include "pml_table.h"
#include "pml_tx.h"

_Thread_local lpm_Pool *lpm_txpool;

/* {====================================================== errors */

/* usage -- count the pool's allocations and their bytes (a failure path) */
typedef struct Usage { uint64_t bytes, n; } Usage;
static int count_block(void *ud, const pml_Block *b) {
  Usage *u = ud;
  u->bytes += b->usable;
  u->n++;
  return 0;
}

/* full -- "pool is full", with the pool's path, size and use, and a way on */
static const char *full(lpm_Pool *pool) {
  Usage u = { 0, 0 };
  pml_heap_walk(&pool->core.heap, count_block, &u);
  snprintf(pool->core.err, sizeof pool->core.err,
           "%.300s: pool is full (a %.1f MiB file, %.1f MiB used by %llu allocations); "
           "the change was rolled back: delete data you no longer need, or copy the "
           "data into a larger pool", pool->path, pool->core.size / 1048576.0,
           u.bytes / 1048576.0, (unsigned long long)u.n);
  return pool->core.err;
}

static const char *message(lpm_Pool *pool, int st) {
  switch (st) {
    case PML_EFULL: return full(pool);
    case PML_ENOMEM: return "not enough memory";
    case PML_EKEY: return "invalid key to 'next'";
    case PML_EINDEX: return "position out of bounds";
    case PML_EDAMAGED: return "damaged pool (an invalid reference or size in the pool)";
    default: return pool->core.err[0] ? pool->core.err : "pool operation failed";
  }
}

int lpm_raise(lua_State *L, lpm_Pool *pool, int st) {
  return luaL_error(L, "%s", message(pool, st));
}

/* }====================================================== */

/* {====================================================== changes */

/* abort_tx -- roll back pool's open transaction; an open
   pool:transaction then refuses further writes */
static void abort_tx(lpm_Pool *pool, lua_State *L) {
  pool->L = L;
  pml_tx_abort(&pool->core);
  if (pool->txdepth > 0) pool->txaborted = 1;
}

void lpm_check_writable(lua_State *L, lpm_Pool *pool) {
  if (!pml_isopen(&pool->core)) luaL_error(L, "pool is closed");
  if (pool->core.readonly) luaL_error(L, "pool is read-only");
  if (lpm_txpool != NULL && lpm_txpool != pool) {
    lpm_Pool *other = lpm_txpool;
    abort_tx(other, L);
    luaL_error(L, "cannot change a pool inside a transaction of another pool "
               "(that transaction is aborted)");
  }
  if (pool->txaborted) luaL_error(L, "transaction aborted");
}

#define GC_PACE_MIN 4096

/*
** autogc -- collect, keeping what Lua values hold, and pace the next
** automatic collection at twice the suspects left (amortised O(1) per
** change). Only between changes, outside any transaction: every result
** of earlier changes is then held by a proxy or reachable.
*/
static void autogc(lua_State *L, lpm_Pool *pool) {
  pml_GcStats s;
  pool->L = L;
  if (pml_gc_collect(&pool->core, 1, &s) != PML_OK)
    pool->core.unclean = 1;               /* half done: close collects in full */
  size_t left = pool->core.suspects.count;
  pool->gc_pace = left * 2 > GC_PACE_MIN ? left * 2 : GC_PACE_MIN;
}

void lpm_collect(lua_State *L, lpm_Pool *pool) { autogc(L, pool); }

/*
** make_room -- after a change ran out of room and was rolled back: collect,
** give libpmemobj's empty runs back as free chunks (room freed for one size
** becomes room for any), and get the log reserve back if it could not be had
*/
static void make_room(lua_State *L, lpm_Pool *pool) {
  autogc(L, pool);
  pml_pool_recycle(&pool->core);
  pml_pool_reserve(&pool->core);
}

int lpm_guard(lua_State *L, lua_CFunction f) {
  if (lpm_txpool == NULL) return f(L);
  int n = lua_gettop(L);
  lua_pushcfunction(L, f);
  lua_insert(L, 1);
  if (lua_pcall(L, n, LUA_MULTRET, 0) != LUA_OK) {
    if (lpm_txpool) abort_tx(lpm_txpool, L);
    return lua_error(L);
  }
  return lua_gettop(L);
}

static void begin(lua_State *L, lpm_Pool *pool, int bulk) {
  lpm_check_writable(L, pool);
  pool->L = L;
  if (!pool->core.intx && pool->core.suspects.count > pool->gc_pace) autogc(L, pool);
  int st = bulk ? pml_tx_open_bulk(&pool->core) : pml_tx_open(&pool->core);
  if (st != PML_OK) lpm_raise(L, pool, st);
}
void lpm_begin(lua_State *L, lpm_Pool *pool) { begin(L, pool, 0); }
void lpm_begin_bulk(lua_State *L, lpm_Pool *pool) { begin(L, pool, 1); }

void lpm_end(lua_State *L, lpm_Pool *pool, int st) {
  pool->L = L;
  if (st != PML_OK) {
    abort_tx(pool, L);
    /* out of room in a change of its own: free what deleted data left,
       so that the next attempt can find room (in a pool:transaction, once
       it has been rolled back) */
    if (st == PML_EFULL && pool->txdepth == 0) make_room(L, pool);
    else if (st == PML_EFULL) pool->txfull = 1;
    lpm_raise(L, pool, st);
  }
  if (pool->txdepth == 0 && (st = pml_tx_commit(&pool->core)) != PML_OK) {
    if (st == PML_EFULL) make_room(L, pool);
    lpm_raise(L, pool, st);
  }
}

/* }====================================================== */

/* {====================================================== proxies */

lpm_Proxy *lpm_checkproxy(lua_State *L, int idx) {
  lpm_Proxy *px = lpm_toproxy(L, idx);
  if ((px == NULL || !pml_isopen(&px->pool->core) || px->obj == NULL) && lpm_txpool)
    abort_tx(lpm_txpool, L);            /* a failed pool operation aborts it */
  if (px == NULL) luaL_typeerror(L, idx, "persistent value");
  if (!pml_isopen(&px->pool->core)) luaL_error(L, "pool is closed");
  if (px->obj == NULL)
    luaL_error(L, "persistent value no longer exists (its creation was rolled back, "
               "or a finalizer brought back a collected proxy)");
  return px;
}

lpm_Proxy *lpm_checkwrite(lua_State *L, int idx) {
  lpm_Proxy *px = lpm_checkproxy(L, idx);
  lpm_check_writable(L, px->pool);
  return px;
}

/* load_object -- first time an object is seen in this run: give it a
   table of volatile attributes and run its class's __load */
static void load_object(lua_State *L, lpm_Pool *pool, uint64_t off, int px) {
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

/* set_class -- user value 2 of object proxy px: its class, found (or
   required) by the Lua layer's pmem._classof(name) */
static void set_class(lua_State *L, lpm_Pool *pool, const pml_Object *o, int px) {
  size_t len;
  const char *name = pml_cell_str(&pool->core, &o->cls, &len);
  if (name == NULL) lpm_raise(L, pool, PML_EDAMAGED);
  lua_getfield(L, LUA_REGISTRYINDEX, "pmem.classof");
  lua_pushlstring(L, name, len);
  lua_call(L, 1, 1);
  lua_setiuservalue(L, px, 2);
}

void lpm_pushproxy(lua_State *L, lpm_Pool *pool, uint64_t off) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, pool->cache_ref);
  if (lua_rawgeti(L, -1, (lua_Integer)off) != LUA_TNIL) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);                                        /* cache */
  if (!pml_container_ok(&pool->core, off)) lpm_raise(L, pool, PML_EDAMAGED);
  pml_Hdr *h = pml_hdr(&pool->core, off);
  lpm_Proxy *p = lua_newuserdatauv(L, sizeof *p, LPM_PROXY_UV);
  memset(p, 0, sizeof *p);
  p->magic = LPM_PROXY_MAGIC;
  p->kind = h->kind;
  p->pool = pool;
  p->obj = h;
  p->off = off;
  int px = lua_gettop(L);
  int isnew;
  pml_MapSlot *live = pml_map_put(&pool->live, off, &isnew);
  if (live == NULL) luaL_error(L, "not enough memory");
  live->val++;                          /* undone by lpm_proxy_gc */
  lpm_newmeta(L, h->kind);
  lua_setmetatable(L, px);
  lua_rawgeti(L, px - 1, 0);                            /* the pool */
  lua_setiuservalue(L, px, 1);
  if (h->kind == PML_TOBJECT) set_class(L, pool, (pml_Object *)h, px);
  lua_pushvalue(L, px);
  lua_rawseti(L, px - 1, (lua_Integer)off);
  lua_remove(L, px - 1);                                /* cache */
  if (h->kind == PML_TOBJECT) load_object(L, pool, off, lua_gettop(L));
}

void lpm_pushcell_slow(lua_State *L, lpm_Pool *pool, const pml_Cell *c) {
  if (!pml_isopen(&pool->core)) luaL_error(L, "pool is closed");  /* Lua ran */
  switch (c->tag) {
    case PML_CFALSE: lua_pushboolean(L, 0); break;
    case PML_CTRUE: lua_pushboolean(L, 1); break;
    case PML_CINT: lua_pushinteger(L, c->u.i); break;
    case PML_CFLT: lua_pushnumber(L, c->u.d); break;
    case PML_CSSTR: case PML_CLSTR: {
      size_t len;
      const char *str = pml_cell_str(&pool->core, c, &len);
      if (str == NULL) lpm_raise(L, pool, PML_EDAMAGED);
      lua_pushlstring(L, str, len);
      break;
    }
    case PML_CREF: lpm_pushproxy(L, pool, c->u.off); break;
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
  lpm_Pool *pool = ud;
  return pml_map_find(&pool->live, off) != NULL;
}

/* proxy_gc -- __gc of every proxy: it no longer holds its object */
int lpm_proxy_gc(lua_State *L) {
  lpm_Proxy *px = lpm_toproxy(L, 1);
  if (px == NULL || px->obj == NULL) return 0;
  px->obj = NULL;
  px->ic_epoch = 0;
  lpm_Pool *pool = px->pool;
  if (!pml_isopen(&pool->core)) return 0;         /* closed: maps are gone */
  pml_MapSlot *s = pml_map_find(&pool->live, px->off);
  if (s && --s->val == 0) pml_map_del(&pool->live, px->off);
  return 0;
}

/* hook_dropped -- off is gone: its proxy (if any) is dead, its volatile
   attributes forgotten. Sets fields to nil only, which never allocates. */
static void hook_dropped(void *ud, uint64_t off) {
  lpm_Pool *pool = ud;
  lua_State *L = pool->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, pool->cache_ref);
  lpm_Proxy *px = (lua_rawgeti(L, -1, (lua_Integer)off) == LUA_TUSERDATA)
                  ? lpm_toproxy(L, -1) : NULL;
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

static const pml_Hooks hooks = { hook_held, hook_dropped };

/* }====================================================== */

/* {====================================================== values */

int lpm_tokey(lua_State *L, int idx, pml_Val *k) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      pml_val_str(k, s, n);
      return 1;
    }
    case LUA_TNUMBER: {
      int isint;
      lua_Integer i = lua_tointegerx(L, idx, &isint);
      if (isint) { pml_val_int(k, i); return 1; }
      pml_val_flt(k, lua_tonumber(L, idx));
      return k->u.d == k->u.d;                  /* nan is no key */
    }
    case LUA_TBOOLEAN:
      pml_val_tag(k, lua_toboolean(L, idx) ? PML_CTRUE : PML_CFALSE);
      return 1;
    case LUA_TUSERDATA: {
      lpm_Proxy *px = lpm_toproxy(L, idx);
      if (px == NULL || px->obj == NULL) return 0;
      pml_val_ref(k, px->off);
      return 1;
    }
    default: return 0;
  }
}

/* check_ref -- a proxy may be stored in pool only if it is of that pool */
static void check_ref(lua_State *L, lpm_Pool *pool, int idx) {
  lpm_Proxy *px = lpm_toproxy(L, idx);
  if (px == NULL) luaL_error(L, "cannot store a userdata in a pool");
  if (px->pool != pool)
    luaL_error(L, "cannot store a persistent %s of another pool", lpm_kindname(px->kind));
  lpm_checkproxy(L, idx);
}

void lpm_checkkey(lua_State *L, lpm_Pool *pool, int idx, pml_Val *k) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL: luaL_error(L, "index is nil"); break;
    case LUA_TNUMBER:
      if (!lpm_tokey(L, idx, k)) luaL_error(L, "index is NaN");
      return;
    case LUA_TTABLE:
      luaL_error(L, "a Lua table cannot be a key of a persistent value "
                 "(it would be a new copy every time)");
      break;
    case LUA_TUSERDATA: check_ref(L, pool, idx); break;
    case LUA_TSTRING: case LUA_TBOOLEAN: break;
    default:
      luaL_error(L, "cannot use a %s as a key of a persistent value", luaL_typename(L, idx));
  }
  lpm_tokey(L, idx, k);
}

void lpm_plan_init(lpm_Copy *c) {
  c->map = 0;
  c->n = 0;
  c->offs = NULL;
}

/* plan_open -- push the plan's two tables (once): they stay on the stack
   until the change is done */
static void plan_open(lua_State *L, lpm_Copy *c) {
  if (c->map != 0) return;
  luaL_checkstack(L, 8, "deep copy");
  lua_newtable(L);                      /* map: table -> index */
  c->map = lua_gettop(L);
  lua_newtable(L);                      /* list: index -> table */
}

/* plan_table -- add plain table at idx to the plan (once) */
static void plan_table(lua_State *L, lpm_Copy *c, int idx) {
  idx = lua_absindex(L, idx);
  if (lua_getmetatable(L, idx))
    luaL_error(L, "cannot store a table with a metatable");
  plan_open(L, c);
  lua_pushvalue(L, idx);
  if (lua_rawget(L, c->map) != LUA_TNIL) { lua_pop(L, 1); return; }
  lua_pop(L, 1);
  c->n++;
  lua_pushvalue(L, idx);
  lua_pushinteger(L, c->n);
  lua_rawset(L, c->map);
  lua_pushvalue(L, idx);
  lua_rawseti(L, c->map + 1, c->n);
}

/* plan_value -- check a value; queue plain tables */
static void plan_value(lua_State *L, lpm_Pool *pool, int idx, lpm_Copy *c) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL: case LUA_TBOOLEAN: case LUA_TNUMBER: case LUA_TSTRING: return;
    case LUA_TUSERDATA: check_ref(L, pool, idx); return;
    case LUA_TTABLE: plan_table(L, c, idx); return;
    default: luaL_error(L, "cannot store a %s in a pool", luaL_typename(L, idx));
  }
}

void lpm_plan(lua_State *L, lpm_Pool *pool, int idx, lpm_Copy *c) {
  idx = lua_absindex(L, idx);
  int first = c->n + 1;
  plan_value(L, pool, idx, c);
  /* breadth first over the queued tables: check keys and values */
  for (int i = first; c->map && i <= c->n; i++) {
    lua_rawgeti(L, c->map + 1, i);
    int t = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
      pml_Val k;
      lpm_checkkey(L, pool, -2, &k);
      plan_value(L, pool, lua_gettop(L), c);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

/* plan_done -- room for the new offsets (before the transaction) */
static void plan_done(lua_State *L, lpm_Copy *c) {
  if (c->n > 0) c->offs = lua_newuserdatauv(L, (size_t)c->n * sizeof(uint64_t), 0);
}

void lpm_prepare(lua_State *L, lpm_Pool *pool, int vi, lpm_Copy *c) {
  lpm_plan_init(c);
  lpm_plan(L, pool, vi, c);
  plan_done(L, c);
}

int lpm_value(lua_State *L, lpm_Pool *pool, int vi, lpm_Copy *c, pml_Val *v) {
  int st = lpm_copy(L, pool, c);
  if (st == PML_OK) lpm_toval(L, vi, c, v);
  return st;
}

void lpm_toval(lua_State *L, int idx, const lpm_Copy *c, pml_Val *v) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL: pml_val_tag(v, PML_CNIL); break;
    case LUA_TTABLE:
      lua_pushvalue(L, idx);
      lua_rawget(L, c->map);
      pml_val_ref(v, c->offs[lua_tointeger(L, -1) - 1]);
      lua_pop(L, 1);
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) pml_val_int(v, lua_tointeger(L, idx));
      else pml_val_flt(v, lua_tonumber(L, idx));
      break;
    default:                                    /* strings, booleans, proxies */
      if (!lpm_tokey(L, idx, v)) pml_val_tag(v, PML_CNIL);   /* checked before */
  }
}

int lpm_copy(lua_State *L, lpm_Pool *pool, lpm_Copy *c) {
  pml_Pool *p = &pool->core;
  int st = PML_OK;
  for (int i = 0; i < c->n && st == PML_OK; i++)
    c->offs[i] = pml_table_new(p, PML_TTABLE, &st);
  for (int i = 1; i <= c->n && st == PML_OK; i++) {
    lua_rawgeti(L, c->map + 1, i);
    int t = lua_gettop(L);
    pml_Table *dst = pml_table(p, c->offs[i - 1]);
    lua_pushnil(L);
    while (st == PML_OK && lua_next(L, t)) {
      pml_Val k, v;
      lpm_tokey(L, -2, &k);
      lpm_toval(L, -1, c, &v);
      st = pml_table_set(p, dst, &k, pml_val_hash(&k), &v);
      lua_pop(L, 1);
    }
    lua_settop(L, t - 1);
  }
  return st;
}

/* }====================================================== */

/* {====================================================== pools */

lpm_Pool *lpm_checkpool(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, LPM_POOL_MT);
}

/* checkopen -- an open pool (a failure aborts an open transaction) */
static lpm_Pool *checkopen(lua_State *L, int idx) {
  lpm_Pool *pool = lpm_checkpool(L, idx);
  if (!pml_isopen(&pool->core)) {
    if (lpm_txpool) abort_tx(lpm_txpool, L);
    luaL_error(L, "pool is closed");
  }
  return pool;
}

static void unref_tables(lua_State *L, lpm_Pool *pool) {
  luaL_unref(L, LUA_REGISTRYINDEX, pool->cache_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, pool->vattr_ref);
  pool->cache_ref = pool->vattr_ref = LUA_NOREF;
}

/*
** do_close -- collect what the root does not reach (Lua values no longer
** count), mark the pool cleanly closed, close it. If the collection fails
** the pool is left marked open, so the next open collects in full.
*/
static void do_close(lua_State *L, lpm_Pool *pool) {
  if (!pml_isopen(&pool->core)) return;
  pool->L = L;
  if (pool->core.intx) abort_tx(pool, L);
  if (lpm_txpool == pool) lpm_txpool = NULL;
  int clean = 0;
  /* a collection needs a transaction of its own: not possible while another
     pool's is open (say, __gc running inside it); the pool then stays marked
     open and the next open collects in full */
  if (!pool->core.readonly && lpm_txpool == NULL) {
    pml_GcStats s;
    clean = (pool->core.unclean ? pml_gc_full(&pool->core, &s)
                                : pml_gc_collect(&pool->core, 0, &s)) == PML_OK;
  }
  pml_pool_close(&pool->core, clean);
  pml_map_free(&pool->live);
  pool->txaborted = 0;
  unref_tables(L, pool);
}

static int pool_close(lua_State *L) {
  lpm_Pool *pool = lpm_checkpool(L, 1);
  if (pool->txdepth > 0 && pml_isopen(&pool->core)) {
    abort_tx(pool, L);                  /* a failed pool operation aborts it */
    return luaL_error(L, "cannot close a pool inside its transaction");
  }
  do_close(L, pool);
  return 0;
}

/* pool_finalize -- __gc: close (a pool being collected has no transaction
   running: the running one holds its pool) */
static int pool_finalize(lua_State *L) {
  lpm_Pool *pool = lpm_checkpool(L, 1);
  if (pool->magic == LPM_POOL_MAGIC) do_close(L, pool);
  return 0;
}

static int pool_collect_(lua_State *L) {
  lpm_Pool *pool = checkopen(L, 1);
  if (pool->core.readonly) return luaL_error(L, "pool is read-only");
  if (lpm_txpool != NULL) return luaL_error(L, "cannot collect inside a transaction");
  lua_gc(L, LUA_GCCOLLECT);               /* forget proxies no one holds */
  if (!pml_isopen(&pool->core)) return luaL_error(L, "pool is closed");  /* a finalizer */
  pool->L = L;
  pml_GcStats s;
  int st = pml_gc_collect(&pool->core, 1, &s);
  if (st != PML_OK) {
    pool->core.unclean = 1;             /* half done: close collects in full */
    return lpm_raise(L, pool, st);
  }
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
static int pool_collect(lua_State *L) { return lpm_guard(L, pool_collect_); }

/*
** pool_transaction -- pool:transaction(fn, ...). fn runs under lua_pcall,
** after libpmemobj's transaction has begun and before it ends: no
** libpmemobj frame is on the C stack while Lua code runs. An error rolls
** everything back and is re-raised as it was.
*/
static int pool_transaction(lua_State *L) {
  lpm_Pool *pool = checkopen(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (lpm_txpool != NULL && lpm_txpool != pool) {
    abort_tx(lpm_txpool, L);
    return luaL_error(L, "cannot begin a transaction inside a transaction of another "
                      "pool (that transaction is aborted)");
  }
  if (pool->txaborted) return luaL_error(L, "transaction aborted");
  int outer = pool->txdepth == 0;
  if (outer) {
    pool->L = L;                        /* read-only: no libpmemobj transaction,
                                           but the same abort bookkeeping */
    int st = pool->core.readonly ? PML_OK : pml_tx_open(&pool->core);
    if (st != PML_OK) return lpm_raise(L, pool, st);
    lpm_txpool = pool;
    pool->txfull = 0;
  }
  pool->txdepth++;
  int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  if (pool->txdepth > 0) pool->txdepth--;
  if (!pml_isopen(&pool->core)) {          /* closed by os.exit(.., true) & co */
    if (outer) lpm_txpool = NULL;
    if (status != LUA_OK) return lua_error(L);
    return luaL_error(L, "pool was closed inside its transaction (rolled back)");
  }
  if (outer) lpm_txpool = NULL;
  if (status != LUA_OK) {
    abort_tx(pool, L);
    if (outer) {
      pool->txaborted = 0;
      if (pool->txfull && !pool->core.readonly) make_room(L, pool);
    }
    return lua_error(L);                          /* the same error value */
  }
  if (!outer) return lua_gettop(L) - 1;
  if (pool->txaborted) {
    pool->txaborted = 0;
    if (pool->txfull && !pool->core.readonly) make_room(L, pool);
    return luaL_error(L, "transaction aborted");
  }
  pool->L = L;
  int st = pml_tx_commit(&pool->core);
  if (st == PML_EFULL) make_room(L, pool);
  if (st != PML_OK) return lpm_raise(L, pool, st);
  return lua_gettop(L) - 1;
}

static int pool_index(lua_State *L) {
  lpm_Pool *pool = lpm_checkpool(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "root") == 0) {
    checkopen(L, 1);
    lpm_pushcell(L, pool, &pool->core.root->root);
  } else if (k && strcmp(k, "path") == 0) {
    lua_getiuservalue(L, 1, 1);
  } else {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));           /* methods */
  }
  return 1;
}

static int pool_newindex_(lua_State *L) {
  lpm_Pool *pool = lpm_checkpool(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k == NULL || strcmp(k, "root") != 0)
    return luaL_error(L, "cannot set field '%s' of a pool (only 'root')",
                      k ? k : luaL_typename(L, 2));
  lpm_check_writable(L, pool);
  lpm_Copy c;
  pml_Val v;
  lpm_prepare(L, pool, 3, &c);
  lpm_begin(L, pool);
  int st = lpm_value(L, pool, 3, &c, &v);
  if (st == PML_OK) st = pml_cell_set(&pool->core, &pool->core.root->root, &v);
  lpm_end(L, pool, st);
  return 0;
}
static int pool_newindex(lua_State *L) { return lpm_guard(L, pool_newindex_); }

static int pool_tostring(lua_State *L) {
  lpm_Pool *pool = lpm_checkpool(L, 1);
  lua_getiuservalue(L, 1, 1);
  lua_pushfstring(L, "pmem.pool (%s)%s", lua_tostring(L, -1),
                  pml_isopen(&pool->core) ? (pool->core.readonly ? " read-only" : "") : " closed");
  return 1;
}

/* pool_newcontainer -- pool:_new(kind [, seq]): a new table, list, tuple or
   set, filled from plain table seq (sequence for list, tuple, set) */
static int pool_newcontainer_(lua_State *L) {
  lpm_Pool *pool = checkopen(L, 1);
  static const char *const kinds[] = { "table", "list", "tuple", "set", NULL };
  static const unsigned types[] = { PML_TTABLE, PML_TLIST, PML_TTUPLE, PML_TSET };
  unsigned type = types[luaL_checkoption(L, 2, NULL, kinds)];
  int has = !lua_isnoneornil(L, 3);
  if (has) luaL_checktype(L, 3, LUA_TTABLE);
  lpm_check_writable(L, pool);
  lua_settop(L, 3);
  lpm_Copy c;
  lpm_plan_init(&c);
  lua_Integer n = 0;
  if (has && type == PML_TTABLE) {
    lpm_plan(L, pool, 3, &c);
  } else if (has) {
    n = (lua_Integer)lua_rawlen(L, 3);
    plan_open(L, &c);                         /* below the items pushed next */
    for (lua_Integer i = 1; i <= n; i++) {
      if (lua_rawgeti(L, 3, i) == LUA_TNIL)
        luaL_error(L, "sequence has a hole at %I (a list holds no nil)", i);
      if (type == PML_TSET) { pml_Val k; lpm_checkkey(L, pool, -1, &k); }
      else lpm_plan(L, pool, -1, &c);
      lua_pop(L, 1);
    }
  }
  plan_done(L, &c);
  lpm_begin(L, pool);
  pml_Pool *p = &pool->core;   /* from here to lpm_end: nothing raises */
  int st = lpm_copy(L, pool, &c);
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
      lua_rawgeti(L, 3, i);                   /* on the stack while v is used */
      if (type == PML_TSET) {
        lpm_tokey(L, -1, &v);
        st = pml_table_set(p, pml_table(p, off), &v, pml_val_hash(&v), &yes);
      } else {
        lpm_toval(L, -1, &c, &v);
        st = pml_list_append(p, pml_list(p, off), &v);
      }
      lua_pop(L, 1);
    }
  }
  lpm_end(L, pool, st);
  lpm_pushproxy(L, pool, off);
  return 1;
}
static int pool_newcontainer(lua_State *L) { return lpm_guard(L, pool_newcontainer_); }

/* pool_newobject -- pool:_newobject(classname): an empty object (the Lua
   layer runs init inside a transaction around this) */
static int pool_newobject_(lua_State *L) {
  lpm_Pool *pool = checkopen(L, 1);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  pml_Val v;
  pml_val_str(&v, name, len);
  lpm_begin(L, pool);
  int st;
  uint64_t off = pml_table_new(&pool->core, PML_TOBJECT, &st);
  if (st == PML_OK) {
    pml_Object *o = pml_ptr(&pool->core, off);
    st = pml_cell_init(&pool->core, &o->cls, &v);
  }
  lpm_end(L, pool, st);
  lpm_pushproxy(L, pool, off);
  return 1;
}
static int pool_newobject(lua_State *L) { return lpm_guard(L, pool_newobject_); }

/* pmem.open(path [, flag [, size [, mode]]]) */
static int pm_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *flag = luaL_optstring(L, 2, "w");
  if (strlen(flag) != 1 || strchr("rwcx", flag[0]) == NULL)
    return luaL_error(L, "invalid flag '%s' (expected 'r', 'w', 'c' or 'x')", flag);
  lua_Integer size = luaL_optinteger(L, 3, (lua_Integer)PML_DEFAULT_SIZE);
  if (size < (lua_Integer)PML_MIN_POOL_SIZE)
    return luaL_error(L, "pool size %I is below the minimum (pmem.MIN_POOL_SIZE = %I)",
                      size, (lua_Integer)PML_MIN_POOL_SIZE);
  lua_Integer mode = luaL_optinteger(L, 4, 0666);
  if (mode < 0 || mode > 0777)
    return luaL_argerror(L, 4, lua_pushfstring(L, "mode %I is not permission bits "
                         "(0 to 511, octal 0777; Lua has no octal literals: write "
                         "tonumber(\"644\", 8), which is 420)", mode));
  /* the userdata exists (closed) before the pool does: an error later
     leaves nothing half-open */
  lpm_Pool *pool = lua_newuserdatauv(L, sizeof *pool, 1);
  memset(pool, 0, sizeof *pool);
  pool->magic = LPM_POOL_MAGIC;
  pool->cache_ref = pool->vattr_ref = LUA_NOREF;
  pool->gc_pace = GC_PACE_MIN;
  pml_map_init(&pool->live);
  pml_pool_init(&pool->core, &hooks, pool);
  luaL_setmetatable(L, LPM_POOL_MT);
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
  int st = pml_pool_open(&pool->core, path, flag[0], (size_t)size, (unsigned)mode);
  /* the last run did not close: collect in full (deferred to close if a
     transaction of another pool is open now) */
  if (st == PML_OK && pool->core.unclean && !pool->core.readonly && lpm_txpool == NULL) {
    pml_GcStats s;
    if ((st = pml_gc_full(&pool->core, &s)) == PML_OK) pool->core.unclean = 0;
    else {
      char msg[sizeof pool->core.err];
      snprintf(msg, sizeof msg, "%s", message(pool, st));
      snprintf(pool->core.err, sizeof pool->core.err, "%.200s: %.300s", path, msg);
      pml_pool_close(&pool->core, 0);
      st = PML_ESYS;
    }
  }
  if (st == PML_OK) st = pml_pool_start_run(&pool->core);
  if (st != PML_OK) {
    unref_tables(L, pool);
    lua_pushnil(L);
    lua_pushstring(L, pool->core.err);
    lua_pushinteger(L, pool->core.errnum);
    return 3;
  }
  return 1;
}

static int pm_type(lua_State *L) {
  lpm_Proxy *px = lpm_toproxy(L, 1);
  if (px == NULL) lua_pushnil(L);
  else lua_pushstring(L, lpm_kindname(px->kind));
  return 1;
}

/* pmem._poolof(v) -- the pool of a persistent value */
static int pm_poolof(lua_State *L) {
  if (lpm_toproxy(L, 1) == NULL) return luaL_typeerror(L, 1, "persistent value");
  lua_getiuservalue(L, 1, 1);
  return 1;
}

/* pmem._alive(v) -- may v be used (pool open, not rolled back)? */
static int pm_alive(lua_State *L) {
  lpm_Proxy *px = lpm_toproxy(L, 1);
  lua_pushboolean(L, px && px->obj && pml_isopen(&px->pool->core));
  return 1;
}

/* pmem._class(obj) -- the class of an object */
static int pm_class(lua_State *L) {
  lpm_Proxy *px = lpm_toproxy(L, 1);
  if (px == NULL || px->kind != PML_TOBJECT) return luaL_typeerror(L, 1, "pmem object");
  lua_getiuservalue(L, 1, 2);
  return 1;
}

static const luaL_Reg pool_methods[] = {
  {"close", pool_close},
  {"gc", pool_collect},
  {"transaction", pool_transaction},
  {"_new", pool_newcontainer},
  {"_newobject", pool_newobject},
  {NULL, NULL}
};

static const luaL_Reg pool_meta[] = {
  {"__newindex", pool_newindex},
  {"__tostring", pool_tostring},
  {"__gc", pool_finalize},
  {"__close", pool_close},
  {NULL, NULL}
};

static const luaL_Reg module_funcs[] = {
  {"open", pm_open},
  {"type", pm_type},
  {"_poolof", pm_poolof},
  {"_alive", pm_alive},
  {"_class", pm_class},
  {"_audit", lpm_audit},
  {NULL, NULL}
};

/* }====================================================== */

/* open_pool_meta -- the pool metatable; leaves the methods table on the stack */
static void open_pool_meta(lua_State *L) {
  luaL_newmetatable(L, LPM_POOL_MT);
  luaL_setfuncs(L, pool_meta, 0);
  luaL_newlib(L, pool_methods);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, pool_index, 1);
  lua_setfield(L, -3, "__index");
  lua_pushliteral(L, "pmem.pool");
  lua_setfield(L, -3, "__metatable");
  lua_remove(L, -2);
}

/*
** run_lua_parts -- run the embedded lua/ files chunks with (module, pool
** methods); a chunk may return the class resolver, kept in the registry
** as "pmem.classof" for lpm_pushproxy.
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
  lua_pushboolean(L, lpm_peek_on);              /* reads from Lua's stack */
  lua_setfield(L, module, "_peek");
  open_pool_meta(L);
  lpm_open_types(L, module);
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
