/*
** lb_int.h -- what the binding layer's files share: the pool and proxy
** userdata, value conversion, and the rule for changing a pool.
**
** The rule (two longjmp systems): every change runs as
**     lb_begin(L, pool)    -- may raise; opens or joins the transaction
**     ... core calls only: no Lua API call that can raise ...
**     lb_end(L, pool, st)  -- commits, or rolls back and then raises
** so a Lua error never unwinds through an open single-change transaction,
** and libpmemobj (begun with no jump buffer, failures returned) never
** longjmps through Lua frames. Everything that can raise (argument checks,
** value conversion, planning a deep copy) happens before lb_begin.
*/
#ifndef lb_int_h
#define lb_int_h

#include "lua.h"
#include "lauxlib.h"

#include "lb_peek.h"
#include "pml_cell.h"
#include "pml_pool.h"

#define LB_POOL_MAGIC   0x706d6c50u     /* "Plmp" */
#define LB_PROXY_MAGIC  0x706d6c58u

#if defined(__GNUC__)
#define LB_NOINLINE  __attribute__((noinline))   /* keeps fast paths lean */
#else
#define LB_NOINLINE
#endif

#define LB_POOL_MT  "pmem.pool"

/* the pool userdata */
typedef struct lb_Pool {
  uint32_t magic;
  int cache_ref;        /* registry: off -> proxy (weak values) */
  int vattr_ref;        /* registry: off -> _v_ attribute table (this run) */
  pml_Map live;         /* off -> proxies not yet finalized: "held by Lua" */
  lua_State *L;         /* the thread calling in, for the core's hooks */
  const char *path;     /* as given to pmem.open (anchored: user value 1) */
#ifdef PML_DEBUG
  int refs_sound;       /* the reference counts were right at open */
#endif
  pml_Pool core;
} lb_Pool;

#define LB_IC_WAYS 4            /* string keys a table proxy remembers */

/*
** A proxy: the Lua face of one stored container. User values: 1 the pool
** userdata (kept alive), 2 the class table (objects), 3.. the string keys
** of the inline cache (anchored there, so their addresses cannot be
** reused; the debug library can remove an anchor, and then a later string
** at that address reads the old key's value: wrong, never unsafe).
**
** The inline cache of a table remembers the value cells of the last
** LB_IC_WAYS string keys read (filled round robin), so that a loop over a
** few fields hits. It is exact while ic_epoch == pool->core.epoch: the core changes
** the epoch before any pool memory changes, at rollback and at close, and
** the binding zeroes ic_epoch (never a core epoch) when the proxy dies. So a
** hit also proves the proxy alive and its pool open.
*/
typedef struct lb_Proxy {
  uint32_t magic;
  uint32_t kind;          /* PML_TTABLE, ... */
  lb_Pool *pool;
  void *obj;              /* base + off; NULL if its creation was rolled back */
  uint64_t off;
  uint64_t ic_epoch;      /* inline cache: core epoch when filled; 0 empty */
  const void *ic_key[LB_IC_WAYS];     /* lua_topointer of string keys (user
                                         values 3..), NULL if unused */
  const pml_Cell *ic_val[LB_IC_WAYS]; /* the keys' value cells */
  unsigned ic_next;       /* the way the next miss fills */
} lb_Proxy;

#define LB_PROXY_UV (2 + LB_IC_WAYS)

/* a plan for deep-copying plain Lua tables (lb_plan / lb_copy) */
typedef struct lb_Copy {
  int map;              /* stack index: table -> plan index, or 0 if none;
                           map + 1: index -> table; map + 2: where each
                           table was found (for error messages) */
  int n;                /* tables planned */
  int cur, key;         /* while planning: the table being checked (0: the
                           value itself) and the stack index of its key
                           being checked (0: none) */
  uint64_t *offs;       /* their new offsets, filled by lb_copy */
} lb_Copy;

/* -- lb_error.c: messages, and errors inside pool:transaction -- */
const char *lb_message(lb_Pool *pool, int st);     /* of a PML_* status */
int lb_raise(lua_State *L, lb_Pool *pool, int st);
int lb_raise_closed(lua_State *L, lb_Pool *pool);   /* "PATH: pool is closed" */
/* "transaction aborted (by an earlier error: ...)", where the caller is */
int lb_raise_aborted(lua_State *L);
/* in a message handler: if the error (at 1) was raised by C function f
   (NULL: any) called by g (NULL: anything), give it the names and the
   position the user's call would have given it */
void lb_error_as_called(lua_State *L, lua_CFunction f, lua_CFunction g);
/* the cause of the running transaction's abort: the first error noted
   (idx), forgotten when a transaction begins or raises its own error */
void lb_note_cause(lua_State *L, int idx);
void lb_forget_cause(lua_State *L);
/* in a message handler: remember where the error at 1 was raised
   (lpmem_pushtraceback gives it to the host) */
void lb_note_traceback(lua_State *L);

/* -- lb_change.c: the change protocol, pool:transaction -- */
/* the pool whose pool:transaction runs in this thread, or NULL; is it pool? */
lb_Pool *lb_tx_pool(void);
int lb_tx_in(const lb_Pool *pool);
/* a pool operation failed: the running transaction (if any) is rolled
   back and aborted */
void lb_tx_fail(lua_State *L);
/* pool is closing: its change or transaction is rolled back and ends */
void lb_tx_closing(lua_State *L, lb_Pool *pool);
/* raises unless pool may be changed now (open, writable, not aborted,
   no other pool's transaction running) */
void lb_check_writable(lua_State *L, lb_Pool *pool);
void lb_begin(lua_State *L, lb_Pool *pool);
/* the same for a change that frees in bulk: a transaction of its own gets
   the log reserve (pml_tx_open_bulk) */
void lb_begin_bulk(lua_State *L, lb_Pool *pool);
void lb_end(lua_State *L, lb_Pool *pool, int st);
/* collect now, outside transactions (as the automatic collection does) */
void lb_collect(lua_State *L, lb_Pool *pool);
/* run f(L); while a transaction runs, an error f raises aborts it (any
   failed pool operation aborts the whole transaction) */
int lb_guard(lua_State *L, lua_CFunction f);
/* set the functions of l into the table on top, each run under lb_guard:
   the pool operations (changes, and reads that may fail) */
void lb_setguarded(lua_State *L, const luaL_Reg *l);
/* pool:transaction(fn, ...) */
int lb_transaction(lua_State *L);

/* -- lb_proxy.c: proxies and their cache -- */
/* the proxy at idx, if it is one (else NULL); never raises. The size check
   keeps a light userdata or a smaller userdata from being read. */
static inline lb_Proxy *lb_toproxy(lua_State *L, int idx) {
  lb_Proxy *px = lua_touserdata(L, idx);
  if (px == NULL || lua_rawlen(L, idx) != sizeof *px || px->magic != LB_PROXY_MAGIC)
    return NULL;
  return px;
}

/* lb_peek_proxy -- the proxy in stack slot a (lb_peek.h), if it holds
   one (else NULL): the same checks as lb_toproxy, on the userdata's header */
static inline lb_Proxy *lb_peek_proxy(const lb_Slot *a) {
  lb_Proxy *px = lb_peek_udata(a, sizeof(lb_Proxy), LB_PROXY_UV);
  return px != NULL && px->magic == LB_PROXY_MAGIC ? px : NULL;
}

/* the proxy at idx, alive and its pool open: raises otherwise */
lb_Proxy *lb_checkproxy(lua_State *L, int idx);
/* a proxy of a pool that may be written now */
lb_Proxy *lb_checkwrite(lua_State *L, int idx);
/* push the value of a stored cell (proxies from the cache) */
void lb_pushcell_slow(lua_State *L, lb_Pool *pool, const pml_Cell *c);
static inline void lb_pushcell(lua_State *L, lb_Pool *pool, const pml_Cell *c) {
  if (c->tag == PML_CINT) lua_pushinteger(L, c->u.i);
  else if (c->tag == PML_CFLT) lua_pushnumber(L, c->u.d);
  else lb_pushcell_slow(L, pool, c);
}
void lb_pushproxy(lua_State *L, lb_Pool *pool, uint64_t off);
/* __gc of proxies */
int lb_proxy_gc(lua_State *L);
/* the core's callbacks into the binding (pml_Hooks) */
extern const pml_Hooks lb_hooks;

/* -- lb_value.c: Lua values into pool values -- */
/* key at idx for a read: 0 if it cannot be a stored key (never raises) */
int lb_tokey(lua_State *L, int idx, pml_Val *k);
/* key at idx for a write: raises for nil, nan, tables, unstorable types
   (with where it is, if c is a plan being made) */
void lb_checkkey(lua_State *L, lb_Pool *pool, int idx, pml_Val *k, const lb_Copy *c);
/* check that the value at idx is storable in pool; plan the copy of plain
   tables into c (c->map stays 0 when there is none); may raise */
void lb_plan(lua_State *L, lb_Pool *pool, int idx, lb_Copy *c);
void lb_plan_init(lb_Copy *c);
/* push the plan's tables now (below values pushed next), and, the plan
   made, room for the new offsets */
void lb_plan_open(lua_State *L, lb_Copy *c);
void lb_plan_done(lua_State *L, lb_Copy *c);
/* before the transaction: check the value at vi, plan its copy (may raise) */
void lb_prepare(lua_State *L, lb_Pool *pool, int vi, lb_Copy *c);
/* inside the transaction: make the planned copies and give the value at vi
   in *v (never raises); a status */
int lb_value(lua_State *L, lb_Pool *pool, int vi, lb_Copy *c, pml_Val *v);
/* inside the transaction: make the planned tables (never raises) */
int lb_copy(lua_State *L, lb_Pool *pool, lb_Copy *c);
/* inside the transaction: the value at idx, already checked by lb_plan */
void lb_toval(lua_State *L, int idx, const lb_Copy *c, pml_Val *v);

/* -- lb_pool.c: the pool userdata -- */
lb_Pool *lb_checkpool(lua_State *L, int idx);
/* an open pool (a failure aborts the running transaction) */
lb_Pool *lb_checkopen(lua_State *L, int idx);
/* pmem.open, pmem.create; the pool metatable (leaves its methods on top) */
int lb_open(lua_State *L);
int lb_create(lua_State *L);
void lb_open_pool_meta(lua_State *L);

/* -- lb_audit.c: pmem._audit -- */
int lb_audit(lua_State *L);                   /* pmem._audit(pool) */

/* -- lb_types.c: the metamethods and methods of the proxies -- */
void lb_open_types(lua_State *L, int module);
int lb_newmeta(lua_State *L, unsigned kind);  /* push the metatable of kind */
const char *lb_kindname(unsigned kind);

#endif
