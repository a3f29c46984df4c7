/*
** lb_change.c -- the change protocol and transactions: every change to a
** pool goes lb_begin .. lb_end (see lb_int.h); pool:transaction and the
** thread's transaction state; the guard that makes a failed pool
** operation abort the transaction; automatic collections between changes.
*/
#include <stdio.h>
#include <stdlib.h>

#include "lb_int.h"
#include "lpmem.h"
#include "pml_gc.h"
#include "pml_tx.h"

/*
** The thread's pool:transaction: at most one at a time (another pool's
** cannot begin inside it, and changes to another pool raise). Written
** only here, by the transitions named below:
**
**   none --tx_enter--> running --rollback--> aborted
**    ^                    |                     |
**    +------tx_leave------+---------------------+
**
** running: the function runs and the pool's changes join libpmemobj's
** transaction (pml_tx). aborted: a failed pool operation rolled it back;
** further changes raise "transaction aborted" until the outermost
** pool:transaction returns. A nested pool:transaction joins the state.
*/
typedef struct Tx {
  lb_Pool *pool;        /* NULL: none */
  int aborted;
  int full;             /* a change ran out of room: make room at the end */
} Tx;

static _Thread_local Tx tx;

lb_Pool *lb_tx_pool(void) { return tx.pool; }

/* {====================================================== transitions */

/* tx_enter -- the outermost pool:transaction of pool begins (a read-only
   pool gets no libpmemobj transaction, but the same bookkeeping) */
static void tx_enter(lua_State *L, lb_Pool *pool) {
  pool->L = L;
  int st = pool->core.readonly ? PML_OK : pml_tx_open(&pool->core);
  if (st != PML_OK) lb_raise(L, pool, st);
  tx = (Tx){ pool, 0, 0 };
  lb_forget_cause(L);
}

/* tx_leave -- the outermost pool:transaction returned: none again */
static Tx tx_leave(void) {
  Tx was = tx;
  tx = (Tx){ NULL, 0, 0 };
  return was;
}

/* rollback -- roll back pool's open change or transaction; a running
   pool:transaction of pool is aborted */
static void rollback(lua_State *L, lb_Pool *pool) {
  pool->L = L;
  pml_tx_abort(&pool->core);
  if (tx.pool == pool) tx.aborted = 1;
}

void lb_tx_fail(lua_State *L) {
  if (tx.pool != NULL) rollback(L, tx.pool);
}

void lb_tx_closing(lua_State *L, lb_Pool *pool) {
  if (pml_tx_active(&pool->core)) rollback(L, pool);
  if (tx.pool == pool) tx_leave();
}

int lb_tx_in(const lb_Pool *pool) { return tx.pool == pool; }

/* }====================================================== */

/* {====================================================== changes */

void lb_check_writable(lua_State *L, lb_Pool *pool) {
  if (!pml_isopen(&pool->core)) lb_raise_closed(L, pool);
  if (pool->core.readonly) luaL_error(L, "%s: pool is read-only", pool->path);
  if (tx.pool != NULL && tx.pool != pool) {
    rollback(L, tx.pool);
    luaL_error(L, "cannot change a pool inside a transaction of another pool "
               "(that transaction is aborted)");
  }
  if (tx.aborted) lb_raise_aborted(L);
}

/*
** autogc -- collect, keeping what Lua values hold. Only between changes,
** outside any transaction: every result of earlier changes is then held
** by a proxy or reachable. A failure is left for the close (pml_gc.h).
*/
static void autogc(lua_State *L, lb_Pool *pool) {
  pml_GcStats s;
  pool->L = L;
  pml_gc_collect(&pool->core, PML_GC_HELD | PML_GC_AUTO, &s);
}

void lb_collect(lua_State *L, lb_Pool *pool) { autogc(L, pool); }

/*
** make_room -- after a change ran out of room and was rolled back: collect,
** give libpmemobj's empty runs back as free chunks (room freed for one size
** becomes room for any), and get the log reserve back if it could not be had
*/
static void make_room(lua_State *L, lb_Pool *pool) {
  autogc(L, pool);
  pml_pool_recycle(&pool->core);
  pml_pool_reserve(&pool->core);
}

/*
** The change window, watched in debug builds: from lb_begin's open to
** lb_end, no Lua allocation (pmlua's debug allocator asks lpmem_in_window)
** and no raise (a raise leaves the window open; the next lb_begin sees it).
*/
#ifdef PML_DEBUG
static _Thread_local int window;
int lpmem_in_window(void) { return window; }
static void window_open(void) {
  if (window) {
    fprintf(stderr, "pmlua (debug): a Lua error escaped a change window\n");
    abort();
  }
  window = 1;
}
#define window_close()  (window = 0)
#else
#define window_open()   ((void)0)
#define window_close()  ((void)0)
#endif

static void begin(lua_State *L, lb_Pool *pool, int bulk) {
  lb_check_writable(L, pool);
  pool->L = L;
  if (pml_gc_due(&pool->core)) autogc(L, pool);
  int st = bulk ? pml_tx_open_bulk(&pool->core) : pml_tx_open(&pool->core);
  if (st != PML_OK) lb_raise(L, pool, st);
  window_open();
}
void lb_begin(lua_State *L, lb_Pool *pool) { begin(L, pool, 0); }
void lb_begin_bulk(lua_State *L, lb_Pool *pool) { begin(L, pool, 1); }

void lb_end(lua_State *L, lb_Pool *pool, int st) {
  window_close();
  pool->L = L;
  int joined = tx.pool == pool;
  if (st != PML_OK) {
    rollback(L, pool);
    /* out of room in a change of its own: free what deleted data left,
       so that the next attempt can find room (in a pool:transaction, once
       it has been rolled back) */
    if (pml_isfull(st) && !joined) make_room(L, pool);
    else if (pml_isfull(st)) tx.full = 1;
    lb_raise(L, pool, st);
  }
  if (!joined && (st = pml_tx_commit(&pool->core)) != PML_OK) {
    if (pml_isfull(st)) make_room(L, pool);
    lb_raise(L, pool, st);
  }
}

/* }====================================================== */

/* {====================================================== the guard */

static _Thread_local lua_CFunction guarded;   /* what lb_guard runs now */

/* guard_msgh -- lb_guard's message handler: an error raised by the
   guarded function itself gets the names and the position the caller
   would see without the guard; it is the cause of the transaction's abort */
static int guard_msgh(lua_State *L) {
  lb_error_as_called(L, guarded, NULL);
  lb_note_cause(L, 1);
  return 1;
}

int lb_guard(lua_State *L, lua_CFunction f) {
  if (tx.pool == NULL) return f(L);
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
    lb_tx_fail(L);
    return lua_error(L);
  }
  return lua_gettop(L);
}

/* guarded_call -- a pool operation (upvalue 1) run under lb_guard */
static int guarded_call(lua_State *L) {
  return lb_guard(L, lua_tocfunction(L, lua_upvalueindex(1)));
}

void lb_setguarded(lua_State *L, const luaL_Reg *l) {
  for (; l->name != NULL; l++) {
    lua_pushcfunction(L, l->func);
    lua_pushcclosure(L, guarded_call, 1);
    lua_setfield(L, -2, l->name);
  }
}

/* }====================================================== */

/* {====================================================== pool:transaction */

/* tx_msgh -- pool:transaction's message handler: an error raised by a C
   function the transaction called itself gets the user's position; where
   the error was raised is kept for the host's traceback */
static int tx_msgh(lua_State *L) {
  lb_error_as_called(L, NULL, lb_transaction);
  lb_note_traceback(L);
  return 1;
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

/* in_other -- pool:transaction inside another pool's: aborts that one */
static int in_other(lua_State *L) {
  rollback(L, tx.pool);
  luaL_where(L, 1);
  lua_pushliteral(L, "cannot begin a transaction inside a transaction of another "
                  "pool (that transaction is aborted)");
  lua_concat(L, 2);
  lb_note_cause(L, -1);
  return lua_error(L);
}

/* nested_end -- a nested pool:transaction's function returned or raised
   (an error escaping it aborts the outer one: it is the cause) */
static int nested_end(lua_State *L, lb_Pool *pool, int status) {
  if (status == LUA_OK) return lua_gettop(L) - 2;
  rollback(L, pool);
  lb_note_cause(L, -1);
  return lua_error(L);
}

/* outer_end -- the outermost function returned or raised: commit, or
   roll back and raise (its error, or "transaction aborted" if a caught
   error aborted it) */
static int outer_end(lua_State *L, lb_Pool *pool, int status) {
  Tx was = tx_leave();
  if (status != LUA_OK || was.aborted) {
    rollback(L, pool);
    if (was.full && !pool->core.readonly) make_room(L, pool);
    if (status != LUA_OK) {
      lb_forget_cause(L);
      return lua_error(L);                        /* the same error value */
    }
    return lb_raise_aborted(L);
  }
  pool->L = L;
  int st = pml_tx_commit(&pool->core);
  if (pml_isfull(st)) make_room(L, pool);
  if (st != PML_OK) return lb_raise(L, pool, st);
  return lua_gettop(L) - 2;
}

/*
** lb_transaction -- pool:transaction(fn, ...). fn runs under lua_pcall,
** after libpmemobj's transaction has begun and before it ends: no
** libpmemobj frame is on the C stack while Lua code runs. An error rolls
** everything back and is re-raised as it was.
*/
int lb_transaction(lua_State *L) {
  lb_Pool *pool = lb_checkopen(L, 1);
  checkcallable(L, 2);
  if (tx.pool != NULL && tx.pool != pool) return in_other(L);
  if (tx.aborted) return lb_raise_aborted(L);
  int outer = tx.pool == NULL;
  if (outer) tx_enter(L, pool);
  lua_pushcfunction(L, tx_msgh);
  lua_insert(L, 2);
  int status = lua_pcall(L, lua_gettop(L) - 3, LUA_MULTRET, 2);
  if (!pml_isopen(&pool->core)) {          /* closed by os.exit(.., true) & co */
    if (outer) tx_leave();
    if (status != LUA_OK) return lua_error(L);
    return luaL_error(L, "%s: pool was closed inside its transaction (rolled back)",
                      pool->path);
  }
  return outer ? outer_end(L, pool, status) : nested_end(L, pool, status);
}

/* }====================================================== */
