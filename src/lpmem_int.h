/*
** lpmem_int.h -- what the binding layer's files share: the pool and proxy
** userdata, value conversion, and the rule for changing a pool.
**
** The rule (two longjmp systems): every change runs as
**     lpm_begin(L, pool)    -- may raise; opens or joins the transaction
**     ... core calls only: no Lua API call that can raise ...
**     lpm_end(L, pool, st)  -- commits, or rolls back and then raises
** so a Lua error never unwinds through an open single-change transaction,
** and libpmemobj (begun with no jump buffer, failures returned) never
** longjmps through Lua frames. Everything that can raise (argument checks,
** value conversion, planning a deep copy) happens before lpm_begin.
*/
#ifndef lpmem_int_h
#define lpmem_int_h

#include "lua.h"
#include "lauxlib.h"

#include "lpmem_peek.h"
#include "pml_cell.h"
#include "pml_pool.h"

#define LPM_POOL_MAGIC   0x706d6c50u     /* "Plmp" */
#define LPM_PROXY_MAGIC  0x706d6c58u

#if defined(__GNUC__)
#define LPM_NOINLINE  __attribute__((noinline))   /* keeps fast paths lean */
#else
#define LPM_NOINLINE
#endif

#define LPM_POOL_MT  "pmem.pool"

/* the pool userdata */
typedef struct lpm_Pool {
  uint32_t magic;
  int txdepth;          /* pool:transaction nesting */
  int txaborted;        /* an error aborted the open pool:transaction */
  int txfull;           /* a change in the open pool:transaction ran out of room */
  int cache_ref;        /* registry: off -> proxy (weak values) */
  int vattr_ref;        /* registry: off -> _v_ attribute table (this run) */
  pml_Map live;         /* off -> proxies not yet finalized: "held by Lua" */
  lua_State *L;         /* the thread calling in, for the core's hooks */
  const char *path;     /* as given to pmem.open (anchored: user value 1) */
  pml_Pool core;
} lpm_Pool;

/*
** A proxy: the Lua face of one stored container. User values: 1 the pool
** userdata (kept alive), 2 the class table (objects), 3 the string key of
** the inline cache (anchored there, so its address cannot be reused; the
** debug library can remove the anchor, and then a later string at that
** address reads the old key's value: wrong, never unsafe).
**
** The inline cache of a table remembers the value cell of the last string
** key read. It is exact while ic_epoch == pool->core.epoch: the core changes
** the epoch before any pool memory changes, at rollback and at close, and
** the binding zeroes ic_epoch (never a core epoch) when the proxy dies. So a
** hit also proves the proxy alive and its pool open.
*/
typedef struct lpm_Proxy {
  uint32_t magic;
  uint32_t kind;          /* PML_TTABLE, ... */
  lpm_Pool *pool;
  void *obj;              /* base + off; NULL if its creation was rolled back */
  uint64_t off;
  uint64_t ic_epoch;      /* inline cache: core epoch when filled; 0 empty */
  const void *ic_key;     /*   lua_topointer of its key (user value 3) */
  const pml_Cell *ic_val; /*   the key's value cell */
} lpm_Proxy;

#define LPM_PROXY_UV 3

/* a plan for deep-copying plain Lua tables (lpm_plan / lpm_copy) */
typedef struct lpm_Copy {
  int map;              /* stack index: table -> plan index, or 0 if none;
                           map + 1: index -> table; map + 2: where each
                           table was found (for error messages) */
  int n;                /* tables planned */
  int cur, key;         /* while planning: the table being checked (0: the
                           value itself) and the stack index of its key
                           being checked (0: none) */
  uint64_t *offs;       /* their new offsets, filled by lpm_copy */
} lpm_Copy;

/* -- lpmem.c -- */
extern _Thread_local lpm_Pool *lpm_txpool;  /* pool whose transaction is open */

lpm_Pool *lpm_checkpool(lua_State *L, int idx);
/* the proxy at idx, if it is one (else NULL); never raises. The size check
   keeps a light userdata or a smaller userdata from being read. */
static inline lpm_Proxy *lpm_toproxy(lua_State *L, int idx) {
  lpm_Proxy *px = lua_touserdata(L, idx);
  if (px == NULL || lua_rawlen(L, idx) != sizeof *px || px->magic != LPM_PROXY_MAGIC)
    return NULL;
  return px;
}

/* lpm_peek_proxy -- the proxy in stack slot a (lpmem_peek.h), if it holds
   one (else NULL): the same checks as lpm_toproxy, on the userdata's header */
static inline lpm_Proxy *lpm_peek_proxy(const lpm_Slot *a) {
  lpm_Proxy *px = lpm_peek_udata(a, sizeof(lpm_Proxy), LPM_PROXY_UV);
  return px != NULL && px->magic == LPM_PROXY_MAGIC ? px : NULL;
}

/* the proxy at idx, alive and its pool open: raises otherwise */
lpm_Proxy *lpm_checkproxy(lua_State *L, int idx);
/* a proxy of a pool that may be written now */
lpm_Proxy *lpm_checkwrite(lua_State *L, int idx);

/* run f(L); while a transaction is open, an error f raises aborts it
   (any failed pool operation aborts the whole transaction) */
int lpm_guard(lua_State *L, lua_CFunction f);
void lpm_begin(lua_State *L, lpm_Pool *pool);
/* the same for a change that frees in bulk: a transaction of its own gets
   the log reserve (pml_tx_open_bulk) */
void lpm_begin_bulk(lua_State *L, lpm_Pool *pool);
void lpm_end(lua_State *L, lpm_Pool *pool, int st);
/* collect now, outside transactions (as the automatic collection does) */
void lpm_collect(lua_State *L, lpm_Pool *pool);
int lpm_raise(lua_State *L, lpm_Pool *pool, int st);
int lpm_raise_closed(lua_State *L, lpm_Pool *pool);   /* "PATH: pool is closed" */
void lpm_check_writable(lua_State *L, lpm_Pool *pool);

/* key at idx for a read: 0 if it cannot be a stored key (never raises) */
int lpm_tokey(lua_State *L, int idx, pml_Val *k);
/* key at idx for a write: raises for nil, nan, tables, unstorable types */
void lpm_checkkey(lua_State *L, lpm_Pool *pool, int idx, pml_Val *k);
/* check that the value at idx is storable in pool; plan the copy of plain
   tables into c (c->map stays 0 when there is none); may raise */
void lpm_plan(lua_State *L, lpm_Pool *pool, int idx, lpm_Copy *c);
void lpm_plan_init(lpm_Copy *c);
/* before the transaction: check the value at vi, plan its copy (may raise) */
void lpm_prepare(lua_State *L, lpm_Pool *pool, int vi, lpm_Copy *c);
/* inside the transaction: make the planned copies and give the value at vi
   in *v (never raises); a status */
int lpm_value(lua_State *L, lpm_Pool *pool, int vi, lpm_Copy *c, pml_Val *v);
/* inside the transaction: make the planned tables (never raises) */
int lpm_copy(lua_State *L, lpm_Pool *pool, lpm_Copy *c);
/* inside the transaction: the value at idx, already checked by lpm_plan */
void lpm_toval(lua_State *L, int idx, const lpm_Copy *c, pml_Val *v);

/* push the value of a stored cell (proxies from the cache) */
void lpm_pushcell_slow(lua_State *L, lpm_Pool *pool, const pml_Cell *c);
static inline void lpm_pushcell(lua_State *L, lpm_Pool *pool, const pml_Cell *c) {
  if (c->tag == PML_CINT) lua_pushinteger(L, c->u.i);
  else if (c->tag == PML_CFLT) lua_pushnumber(L, c->u.d);
  else lpm_pushcell_slow(L, pool, c);
}
void lpm_pushproxy(lua_State *L, lpm_Pool *pool, uint64_t off);
/* __gc of proxies */
int lpm_proxy_gc(lua_State *L);

/* -- lpmem_audit.c -- */
int lpm_audit(lua_State *L);                   /* pmem._audit(pool) */

/* -- lpmem_types.c -- */
void lpm_open_types(lua_State *L, int module);
int lpm_newmeta(lua_State *L, unsigned kind);  /* push the metatable of kind */
const char *lpm_kindname(unsigned kind);

#endif
