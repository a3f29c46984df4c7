/*
** lpmem.c -- the pmem module's binding layer: pools, transactions, value
** conversion, proxies and their cache. The per-type metamethods are in
** lpmem_types.c; the parts written in Lua are in lua/ files (embedded).
** This is the only layer that raises Lua errors (see lpmem_int.h).
*/
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lpmem.h"
#include "lpmem_int.h"
#include "pml_embed.h"
#include "pml_gc.h"
#include "pml_list.h"
#include "pml_table.h"
#include "pml_tx.h"
#include "pml_valid.h"

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

int lpm_raise_closed(lua_State *L, lpm_Pool *pool) {
  return luaL_error(L, "%s: pool is closed", pool->path);
}

/*
** The transaction's errors (registry fields, one open transaction per
** thread): CAUSE the first error that aborted the open pool:transaction,
** TRACE {error, traceback} of the last error that escaped a
** pool:transaction, for the host's message handler (lpm_pushtraceback).
*/
#define CAUSE  "pmem.cause"
#define TRACE  "pmem.traceback"

/* embedded -- is ar's function one of pmem's own Lua parts? */
static int embedded(const lua_Debug *ar) {
  for (const pml_Embedded *e = pml_embedded; e->name; e++)
    if (strcmp(ar->source, e->name) == 0) return 1;
  return 0;
}

/* push_user_where -- "chunk:line: " of the first Lua function at or above
   level that is not one of pmem's Lua parts, or "" */
static void push_user_where(lua_State *L, int level) {
  lua_Debug ar;
  for (int n = 0; n < 100 && lua_getstack(L, level, &ar); n++, level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0 && !embedded(&ar)) {
      lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
      return;
    }
  }
  lua_pushliteral(L, "");
}

/* is_cfunc -- in a message handler: is the function at level f (any C
   function if f is NULL)? */
static int is_cfunc(lua_State *L, int level, lua_CFunction f) {
  lua_Debug ar;
  if (!lua_getstack(L, level, &ar) || !lua_getinfo(L, "f", &ar)) return 0;
  lua_CFunction fn = lua_tocfunction(L, -1);
  lua_pop(L, 1);
  return fn != NULL && (f == NULL || fn == f);
}

/* raised_by -- in a message handler: was the error raised by C function f
   (level 1; any C function if NULL), called by C function g (level 2;
   anything if NULL)? */
static int raised_by(lua_State *L, lua_CFunction f, lua_CFunction g) {
  return is_cfunc(L, 1, f) && (g == NULL || is_cfunc(L, 2, g));
}

/* locate -- the error at 1, raised by C code below a C frame, gets the
   position of the user's code that made the call (luaL_error saw a C
   caller and gave none) */
static void locate(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING) return;
  push_user_where(L, 2);
  lua_pushvalue(L, 1);
  lua_concat(L, 2);
  lua_replace(L, 1);
}

/* note_cause -- the error at idx is why the open transaction aborted,
   unless an earlier one already is */
static void note_cause(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  if (lua_getfield(L, LUA_REGISTRYINDEX, CAUSE) == LUA_TNIL) {
    lua_pushvalue(L, idx);
    lua_setfield(L, LUA_REGISTRYINDEX, CAUSE);
  }
  lua_pop(L, 1);
}

/* push_aborted -- "transaction aborted", naming its cause if known */
static void push_aborted(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, CAUSE) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushliteral(L, "transaction aborted");
    return;
  }
  const char *cause = luaL_tolstring(L, -1, NULL);
  lua_pushfstring(L, "transaction aborted (by an earlier error: %s)", cause);
  lua_replace(L, -3);
  lua_pop(L, 1);
}

/* raise_aborted -- raise "transaction aborted" where the caller is */
static int raise_aborted(lua_State *L) {
  luaL_where(L, 1);
  push_aborted(L);
  lua_concat(L, 2);
  return lua_error(L);
}

static void forget_cause(lua_State *L) {
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, CAUSE);
}

int lpm_pushtraceback(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  if (lua_getfield(L, LUA_REGISTRYINDEX, TRACE) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  lua_rawgeti(L, -1, 1);
  if (!lua_rawequal(L, -1, idx)) {
    lua_pop(L, 2);
    return 0;
  }
  lua_rawgeti(L, -2, 2);
  lua_replace(L, -3);
  lua_pop(L, 1);
  lua_pushnil(L);                        /* shown once */
  lua_setfield(L, LUA_REGISTRYINDEX, TRACE);
  return 1;
}

/* note_traceback -- remember where the error at 1 was raised (the
   innermost pool:transaction it escapes records it) */
static void note_traceback(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, TRACE) == LUA_TTABLE) {
    lua_rawgeti(L, -1, 1);
    int known = lua_rawequal(L, -1, 1);
    lua_pop(L, 2);
    if (known) return;
  } else {
    lua_pop(L, 1);
  }
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  luaL_traceback(L, L, NULL, 1);
  lua_rawseti(L, -2, 2);
  lua_setfield(L, LUA_REGISTRYINDEX, TRACE);
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
  if (!pml_isopen(&pool->core)) lpm_raise_closed(L, pool);
  if (pool->core.readonly) luaL_error(L, "%s: pool is read-only", pool->path);
  if (lpm_txpool != NULL && lpm_txpool != pool) {
    lpm_Pool *other = lpm_txpool;
    abort_tx(other, L);
    luaL_error(L, "cannot change a pool inside a transaction of another pool "
               "(that transaction is aborted)");
  }
  if (pool->txaborted) raise_aborted(L);
}

/*
** autogc -- collect, keeping what Lua values hold. Only between changes,
** outside any transaction: every result of earlier changes is then held
** by a proxy or reachable. A failure is left for the close (pml_gc.h).
*/
static void autogc(lua_State *L, lpm_Pool *pool) {
  pml_GcStats s;
  pool->L = L;
  pml_gc_collect(&pool->core, 1, &s);
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

static _Thread_local lua_CFunction guarded;   /* what lpm_guard runs now */

/* rename_argerror -- an argument error raised by the guarded function
   names it '?' (called by lpm_guard, not by Lua code): name it as the
   caller did (level 2 of the handler), not counting a method's self */
static void rename_argerror(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  int arg, skip = 0;
  lua_Debug ar;
  if (sscanf(msg, "bad argument #%d to '?' %n", &arg, &skip) < 1 || skip == 0 ||
      !lua_getstack(L, 2, &ar) || !lua_getinfo(L, "n", &ar) || ar.name == NULL)
    return;
  if (strcmp(ar.namewhat, "method") == 0 && --arg == 0)
    lua_pushfstring(L, "calling '%s' on bad self %s", ar.name, msg + skip);
  else
    lua_pushfstring(L, "bad argument #%d to '%s' %s", arg, ar.name, msg + skip);
  lua_replace(L, 1);
}

/* guard_msgh -- lpm_guard's message handler: an error raised by the
   guarded function itself gets the names and the position the caller
   would see without the guard; it is the cause of the transaction's abort */
static int guard_msgh(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING && raised_by(L, guarded, NULL)) {
    rename_argerror(L);
    locate(L);
  }
  note_cause(L, 1);
  return 1;
}

int lpm_guard(lua_State *L, lua_CFunction f) {
  if (lpm_txpool == NULL) return f(L);
  int n = lua_gettop(L);
  lua_CFunction outer = guarded;
  guarded = f;
  lua_pushcfunction(L, guard_msgh);
  lua_pushcfunction(L, f);
  lua_rotate(L, 1, 2);
  int st = lua_pcall(L, n, LUA_MULTRET, 1);
  guarded = outer;
  lua_remove(L, 1);                     /* the handler */
  if (st != LUA_OK) {
    if (lpm_txpool) abort_tx(lpm_txpool, L);
    return lua_error(L);
  }
  return lua_gettop(L);
}

static void begin(lua_State *L, lpm_Pool *pool, int bulk) {
  lpm_check_writable(L, pool);
  pool->L = L;
  if (pml_gc_due(&pool->core)) autogc(L, pool);
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
  if (!pml_isopen(&px->pool->core)) lpm_raise_closed(L, px->pool);
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

/* set_class -- the class of object proxy px (user value 2) and the
   metatable of its class's objects, found (or required) by the Lua
   layer's resolver ("pmem.classof" in the registry, see lua/pmem.lua) */
static void set_class(lua_State *L, lpm_Pool *pool, const pml_Object *o, int px) {
  size_t len;
  const char *name = pml_cell_str(&pool->core, &o->cls, &len);
  if (name == NULL) lpm_raise(L, pool, PML_EDAMAGED);
  lua_getfield(L, LUA_REGISTRYINDEX, "pmem.classof");
  lua_pushlstring(L, name, len);
  lua_call(L, 1, 2);
  lua_setmetatable(L, px);
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
  lpm_newmeta(L, h->kind);         /* first: its __gc undoes the count above */
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
  if (!pml_isopen(&pool->core)) lpm_raise_closed(L, pool);   /* Lua ran */
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

/* {------------------------------------------------------ where a bad value is */

#define PATH_MAX_DEPTH 16       /* components shown; deeper paths start "..." */

/* push_key -- the key at idx as a path component: .name, [3], ["a b"], [true] */
static void push_key(lua_State *L, int idx) {
  size_t n;
  const char *s;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      s = lua_tolstring(L, idx, &n);
      size_t i = 0;
      while (i < n && (s[i] == '_' || isalpha((unsigned char)s[i]) ||
                       (i > 0 && isdigit((unsigned char)s[i]))))
        i++;
      if (n > 0 && i == n) lua_pushfstring(L, ".%s", s);
      else lua_pushfstring(L, "[\"%s\"]", s);
      break;
    }
    case LUA_TNUMBER: case LUA_TBOOLEAN:
      lua_pushfstring(L, "[%s]", luaL_tolstring(L, idx, NULL));
      lua_remove(L, -2);
      break;
    default: lua_pushfstring(L, "[%s]", luaL_typename(L, idx));
  }
}

/* push_path -- " (at .a[2].b)": where the key at kidx of planned table
   cur is, from the value being stored; "" at the value itself */
static void push_path(lua_State *L, const lpm_Copy *c, int cur, int kidx) {
  int chain[PATH_MAX_DEPTH], n = 0, cut = 0;
  for (int i = cur; i > 0; ) {          /* leaf to root: from[2i-1] is i's parent */
    if (n == PATH_MAX_DEPTH) { cut = 1; break; }
    chain[n++] = i;
    lua_rawgeti(L, c->map + 2, 2 * i - 1);
    i = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  if (n == 0 && kidx == 0) { lua_pushliteral(L, ""); return; }
  luaL_checkstack(L, PATH_MAX_DEPTH + 4, "error message");
  int base = lua_gettop(L);
  lua_pushstring(L, cut ? " (at ... " : " (at ");
  while (n-- > 0) {                     /* root to leaf */
    if (lua_rawgeti(L, c->map + 2, 2 * chain[n]) == LUA_TNIL) {
      lua_pop(L, 1);                    /* the value itself: no key */
      continue;
    }
    push_key(L, -1);
    lua_remove(L, -2);
  }
  if (kidx != 0) push_key(L, kidx);
  lua_pushliteral(L, ")");
  lua_concat(L, lua_gettop(L) - base);
}

/*
** bad -- raise fmt's message about a value being stored; while a plan
** walks the tables of a deep copy (c->cur, c->key), it says where in the
** value the bad one is
*/
static int bad(lua_State *L, const lpm_Copy *c, int iskey, const char *fmt, ...) {
  va_list ap;
  luaL_where(L, 1);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  if (c != NULL && c->map != 0) push_path(L, c, c->cur, iskey ? 0 : c->key);
  else lua_pushliteral(L, "");
  lua_concat(L, 3);
  return lua_error(L);
}

/* }------------------------------------------------------ */

/* check_ref -- a proxy may be stored in pool only if it is of that pool */
static void check_ref(lua_State *L, lpm_Pool *pool, int idx, const lpm_Copy *c, int iskey) {
  lpm_Proxy *px = lpm_toproxy(L, idx);
  if (px == NULL) bad(L, c, iskey, "cannot store a userdata in a pool");
  if (px->pool != pool && !pml_isopen(&px->pool->core))
    bad(L, c, iskey, "cannot store a persistent %s of a closed pool (%s was closed: "
        "read the value again from the pool as it is open now)",
        lpm_kindname(px->kind), px->pool->path);
  if (px->pool != pool)
    bad(L, c, iskey, "cannot store a persistent %s of another pool (pool:copy(v) "
        "copies it into this one)", lpm_kindname(px->kind));
  lpm_checkproxy(L, idx);
}

/* checkkey -- lpm_checkkey, for a plan c (or none) */
static void checkkey(lua_State *L, lpm_Pool *pool, int idx, pml_Val *k, const lpm_Copy *c) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL: bad(L, c, 1, "index is nil"); break;
    case LUA_TNUMBER:
      if (!lpm_tokey(L, idx, k)) bad(L, c, 1, "index is NaN");
      return;
    case LUA_TTABLE:
      bad(L, c, 1, "a Lua table cannot be a key of a persistent value "
          "(it would be a new copy every time)");
      break;
    case LUA_TUSERDATA: check_ref(L, pool, idx, c, 1); break;
    case LUA_TSTRING: case LUA_TBOOLEAN: break;
    default:
      bad(L, c, 1, "cannot use a %s as a key of a persistent value", luaL_typename(L, idx));
  }
  lpm_tokey(L, idx, k);
}

void lpm_checkkey(lua_State *L, lpm_Pool *pool, int idx, pml_Val *k) {
  checkkey(L, pool, idx, k, NULL);
}

void lpm_plan_init(lpm_Copy *c) {
  c->map = 0;
  c->n = 0;
  c->cur = 0;
  c->key = 0;
  c->offs = NULL;
}

/* plan_open -- push the plan's three tables (once): they stay on the
   stack until the change is done */
static void plan_open(lua_State *L, lpm_Copy *c) {
  if (c->map != 0) return;
  luaL_checkstack(L, 8, "deep copy");
  lua_newtable(L);                      /* map: table -> index */
  c->map = lua_gettop(L);
  lua_newtable(L);                      /* list: index -> table */
  lua_newtable(L);                      /* from: 2i-1 -> parent index, 2i -> key */
}

/* plan_table -- add plain table at idx to the plan (once), found at the
   key c->key of planned table c->cur */
static void plan_table(lua_State *L, lpm_Copy *c, int idx) {
  idx = lua_absindex(L, idx);
  if (lua_getmetatable(L, idx)) bad(L, c, 0, "cannot store a table with a metatable");
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
  lua_pushinteger(L, c->cur);
  lua_rawseti(L, c->map + 2, 2 * c->n - 1);
  if (c->key != 0) lua_pushvalue(L, c->key);
  else lua_pushnil(L);
  lua_rawseti(L, c->map + 2, 2 * c->n);
}

/* plan_value -- check a value; queue plain tables */
static void plan_value(lua_State *L, lpm_Pool *pool, int idx, lpm_Copy *c) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL: case LUA_TBOOLEAN: case LUA_TNUMBER: case LUA_TSTRING: return;
    case LUA_TUSERDATA: check_ref(L, pool, idx, c, 0); return;
    case LUA_TTABLE: plan_table(L, c, idx); return;
    default: bad(L, c, 0, "cannot store a %s", luaL_typename(L, idx));
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
    c->cur = i;
    lua_pushnil(L);
    while (lua_next(L, t)) {
      pml_Val k;
      c->key = t + 1;
      checkkey(L, pool, t + 1, &k, c);
      plan_value(L, pool, t + 2, c);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  c->cur = c->key = 0;
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
    lpm_raise_closed(L, pool);
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
  if (pml_tx_active(&pool->core)) abort_tx(pool, L);
  if (lpm_txpool == pool) lpm_txpool = NULL;
  int clean = 0;
  /* a collection needs a transaction of its own: not possible while another
     pool's is open (say, __gc running inside it); the pool then stays marked
     open and the next open collects in full */
  if (!pool->core.readonly && lpm_txpool == NULL) {
    pml_GcStats s;
    clean = (pml_gc_full_due(&pool->core) ? pml_gc_full(&pool->core, &s)
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
  if (pool->core.readonly) return luaL_error(L, "%s: pool is read-only", pool->path);
  if (lpm_txpool != NULL) return luaL_error(L, "cannot collect inside a transaction");
  lua_gc(L, LUA_GCCOLLECT);               /* forget proxies no one holds */
  if (!pml_isopen(&pool->core)) return lpm_raise_closed(L, pool);  /* a finalizer */
  pool->L = L;
  pml_GcStats s;
  int st = pml_gc_collect(&pool->core, 1, &s);
  if (st != PML_OK) return lpm_raise(L, pool, st);   /* close collects in full */
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

/* tx_msgh -- pool:transaction's message handler: an error raised by a C
   function the transaction called itself gets the user's position; where
   the error was raised is kept for the host's traceback */
static int tx_msgh(lua_State *L);

/* tx_fail -- the transaction's function raised the error on top: roll
   back (the whole transaction, if this one is nested) and raise it again */
static int tx_fail(lua_State *L, lpm_Pool *pool, int outer) {
  abort_tx(pool, L);
  if (!outer) note_cause(L, -1);          /* why the outer one aborted */
  else {
    pool->txaborted = 0;
    forget_cause(L);
    if (pool->txfull && !pool->core.readonly) make_room(L, pool);
  }
  return lua_error(L);                            /* the same error value */
}

/* tx_commit -- the outermost function returned: commit, or raise
   "transaction aborted" if a caught error aborted it */
static int tx_commit(lua_State *L, lpm_Pool *pool) {
  if (pool->txaborted) {
    pool->txaborted = 0;
    if (pool->txfull && !pool->core.readonly) make_room(L, pool);
    return raise_aborted(L);
  }
  pool->L = L;
  int st = pml_tx_commit(&pool->core);
  if (st == PML_EFULL) make_room(L, pool);
  if (st != PML_OK) return lpm_raise(L, pool, st);
  return lua_gettop(L) - 2;
}

/* checkcallable -- fn at idx: a function, or a value with __call */
static void checkcallable(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TFUNCTION) return;
  if (luaL_getmetafield(L, idx, "__call") != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  luaL_typeerror(L, idx, "function or callable value");
}

/*
** pool_transaction -- pool:transaction(fn, ...). fn runs under lua_pcall,
** after libpmemobj's transaction has begun and before it ends: no
** libpmemobj frame is on the C stack while Lua code runs. An error rolls
** everything back and is re-raised as it was.
*/
static int pool_transaction(lua_State *L) {
  lpm_Pool *pool = checkopen(L, 1);
  checkcallable(L, 2);
  if (lpm_txpool != NULL && lpm_txpool != pool) {
    abort_tx(lpm_txpool, L);
    luaL_where(L, 1);
    lua_pushliteral(L, "cannot begin a transaction inside a transaction of another "
                    "pool (that transaction is aborted)");
    lua_concat(L, 2);
    note_cause(L, -1);
    return lua_error(L);
  }
  if (pool->txaborted) return raise_aborted(L);
  int outer = pool->txdepth == 0;
  if (outer) {
    pool->L = L;                        /* read-only: no libpmemobj transaction,
                                           but the same abort bookkeeping */
    int st = pool->core.readonly ? PML_OK : pml_tx_open(&pool->core);
    if (st != PML_OK) return lpm_raise(L, pool, st);
    lpm_txpool = pool;
    pool->txfull = 0;
    forget_cause(L);
  }
  pool->txdepth++;
  lua_pushcfunction(L, tx_msgh);
  lua_insert(L, 2);
  int status = lua_pcall(L, lua_gettop(L) - 3, LUA_MULTRET, 2);
  if (pool->txdepth > 0) pool->txdepth--;
  if (outer) lpm_txpool = NULL;
  if (!pml_isopen(&pool->core)) {          /* closed by os.exit(.., true) & co */
    if (status != LUA_OK) return lua_error(L);
    return luaL_error(L, "%s: pool was closed inside its transaction (rolled back)",
                      pool->path);
  }
  if (status != LUA_OK) return tx_fail(L, pool, outer);
  if (!outer) return lua_gettop(L) - 2;
  return tx_commit(L, pool);
}

static int tx_msgh(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING && raised_by(L, NULL, pool_transaction)) locate(L);
  note_traceback(L);
  return 1;
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

/* newcontainer -- pool:table([t]), pool:list([seq]), pool:tuple([seq]),
   pool:set([seq]): a new container of type, filled from the plain table
   at 2 (a sequence for a list, tuple or set) */
static int newcontainer(lua_State *L, unsigned type) {
  lpm_Pool *pool = checkopen(L, 1);
  int has = !lua_isnoneornil(L, 2);
  if (has) luaL_checktype(L, 2, LUA_TTABLE);
  lpm_check_writable(L, pool);
  lua_settop(L, 2);
  lpm_Copy c;
  lpm_plan_init(&c);
  lua_Integer n = 0;
  if (has && type == PML_TTABLE) {
    lpm_plan(L, pool, 2, &c);
  } else if (has) {
    n = (lua_Integer)lua_rawlen(L, 2);
    plan_open(L, &c);                         /* below the items pushed next */
    for (lua_Integer i = 1; i <= n; i++) {
      lua_pushinteger(L, i);
      if (lua_rawgeti(L, 2, i) == LUA_TNIL)
        luaL_error(L, "bad argument #1 to '%s' (the sequence has a hole at %I: "
                   "a %s holds no nil)", lpm_kindname(type), i, lpm_kindname(type));
      c.key = lua_gettop(L) - 1;              /* errors say where: [i] */
      if (type == PML_TSET) { pml_Val k; checkkey(L, pool, -1, &k, &c); }
      else lpm_plan(L, pool, -1, &c);
      lua_pop(L, 2);
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
      lua_rawgeti(L, 2, i);                   /* on the stack while v is used */
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
static int pool_table_(lua_State *L) { return newcontainer(L, PML_TTABLE); }
static int pool_list_(lua_State *L) { return newcontainer(L, PML_TLIST); }
static int pool_tuple_(lua_State *L) { return newcontainer(L, PML_TTUPLE); }
static int pool_set_(lua_State *L) { return newcontainer(L, PML_TSET); }
static int pool_table(lua_State *L) { return lpm_guard(L, pool_table_); }
static int pool_list(lua_State *L) { return lpm_guard(L, pool_list_); }
static int pool_tuple(lua_State *L) { return lpm_guard(L, pool_tuple_); }
static int pool_set(lua_State *L) { return lpm_guard(L, pool_set_); }

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

/* open_pool -- pmem.open and pmem.create: the pool at path (argument 1)
   opened with flag, its size and mode at stack indexes si and mi */
static int open_pool(lua_State *L, const char *flag, int si, int mi) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer size = luaL_optinteger(L, si, (lua_Integer)PML_DEFAULT_SIZE);
  if (size < (lua_Integer)PML_MIN_POOL_SIZE)
    return luaL_error(L, "pool size %I is below the minimum (pmem.MIN_POOL_SIZE = %I)",
                      size, (lua_Integer)PML_MIN_POOL_SIZE);
  lua_Integer mode = luaL_optinteger(L, mi, 0666);
  if (mode < 0 || mode > 0777)
    return luaL_argerror(L, mi, lua_pushfstring(L, "mode %I is not permission bits "
                         "(0 to 511, octal 0777; Lua has no octal literals: write "
                         "tonumber(\"644\", 8), which is 420)", mode));
  /* the userdata exists (closed) before the pool does: an error later
     leaves nothing half-open */
  lpm_Pool *pool = lua_newuserdatauv(L, sizeof *pool, 1);
  memset(pool, 0, sizeof *pool);
  pool->magic = LPM_POOL_MAGIC;
  pool->cache_ref = pool->vattr_ref = LUA_NOREF;
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
  if (st == PML_OK && pml_gc_full_due(&pool->core) && !pool->core.readonly &&
      lpm_txpool == NULL) {
    pml_GcStats s;
    if ((st = pml_gc_full(&pool->core, &s)) != PML_OK) {
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

/* pmem.open(path [, flag [, size [, mode]]]) */
static int pm_open(lua_State *L) {
  const char *flag = luaL_optstring(L, 2, "w");
  if (strlen(flag) != 1 || strchr("rwcx", flag[0]) == NULL)
    return luaL_error(L, "invalid flag '%s' (expected 'r', 'w', 'c' or 'x')", flag);
  return open_pool(L, flag, 3, 4);
}

/* pmem.create(path [, size [, mode]]): open with flag "x" */
static int pm_create(lua_State *L) {
  return open_pool(L, "x", 2, 3);
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

/* pmem.classname(obj) -- the class name stored with an object (whether
   or not its class is loaded) */
static int pm_classname(lua_State *L) {
  lpm_Proxy *px = lpm_checkproxy(L, 1);
  if (px->kind != PML_TOBJECT) return luaL_typeerror(L, 1, "pmem object");
  size_t len;
  const char *name = pml_cell_str(&px->pool->core, &((pml_Object *)px->obj)->cls, &len);
  if (name == NULL) return lpm_raise(L, px->pool, PML_EDAMAGED);
  lua_pushlstring(L, name, len);
  return 1;
}

static const luaL_Reg pool_methods[] = {
  {"close", pool_close},
  {"gc", pool_collect},
  {"transaction", pool_transaction},
  {"table", pool_table},
  {"list", pool_list},
  {"tuple", pool_tuple},
  {"set", pool_set},
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
  {"create", pm_create},
  {"type", pm_type},
  {"_poolof", pm_poolof},
  {"_alive", pm_alive},
  {"_class", pm_class},
  {"classname", pm_classname},
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
