/*
** lb_error.c -- the binding's errors: the messages of core statuses, and
** what makes an error raised inside pool:transaction read as it would
** outside it (the caller's position and names, the cause of an abort,
** the traceback of where it was raised).
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lb_int.h"
#include "lpmem.h"
#include "pml_embed.h"
#include "pml_valid.h"

/* usage -- count the pool's allocations and their bytes (a failure path) */
typedef struct Usage { uint64_t bytes, n; } Usage;
static int count_block(void *ud, const pml_Block *b) {
  Usage *u = ud;
  u->bytes += b->usable;
  u->n++;
  return 0;
}

/* full -- "pool is full", with the pool's path, size and use, and a way on */
static const char *full(lb_Pool *pool) {
  Usage u = { 0, 0 };
  pml_heap_walk(&pool->core.heap, count_block, &u);
  char what[64];
  snprintf(what, sizeof what, pool->core.root->grow ? "it reached its maximum size, "
           "%.1f MiB" : "a %.1f MiB file", pool->core.size / 1048576.0);
  /* the chunks the allocator holds: with few live bytes, what size classes
     left (each class's runs serve it alone; docs/reference.md, limits) */
  uint64_t chunks, total, end;
  pml_heap_usage(&pool->core.heap, &chunks, &total, &end);
  snprintf(pool->core.err, sizeof pool->core.err,
           "%.200s: pool is full (%s, %.1f MiB used by %llu allocations; %.1f MiB taken "
           "by the allocator's runs and chunks); the change was rolled back: delete data "
           "you no longer need, or copy the data into a larger pool", pool->path, what,
           u.bytes / 1048576.0, (unsigned long long)u.n, chunks / 1048576.0);
  return pool->core.err;
}

/* noroom -- the device (or the file size limit) stopped the pool growing */
static const char *noroom(lb_Pool *pool) {
  const pml_Room *r = &pool->core.room;
  snprintf(pool->core.err, sizeof pool->core.err,
           "%.300s: no room for the pool to grow past %.1f MiB: %s; the change was "
           "rolled back: free space on the device, or delete data from the pool",
           pool->path, r->reserved / 1048576.0,
           r->err == EFBIG ? "the process's file size limit (ulimit -f)" : strerror(r->err));
  return pool->core.err;
}

const char *lb_message(lb_Pool *pool, int st) {
  switch (st) {
    case PML_EFULL: return full(pool);
    case PML_EROOM: return noroom(pool);
    case PML_ENOMEM: return "not enough memory";
    case PML_EKEY: return "invalid key to 'next'";
    case PML_EINDEX: return "position out of bounds";
    case PML_EDAMAGED: return "damaged pool (an invalid reference or size in the pool)";
    default: return pool->core.err[0] ? pool->core.err : "pool operation failed";
  }
}

int lb_raise(lua_State *L, lb_Pool *pool, int st) {
  if (st == PML_EDAMAGED) pml_valid_met(&pool->core);
  return luaL_error(L, "%s", lb_message(pool, st));
}

int lb_raise_closed(lua_State *L, lb_Pool *pool) {
  return luaL_error(L, "%s: pool is closed", pool->path);
}

/*
** The transaction's errors (registry fields, one open transaction per
** thread): CAUSE the first error that aborted the open pool:transaction,
** TRACE {error, traceback} of the last error that escaped a
** pool:transaction, for the host's message handler (lpmem_pushtraceback).
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
  push_user_where(L, 2);
  lua_pushvalue(L, 1);
  lua_concat(L, 2);
  lua_replace(L, 1);
}

/* lb_note_cause -- the error at idx is why the open transaction aborted,
   unless an earlier one already is */
void lb_note_cause(lua_State *L, int idx) {
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

/* lb_raise_aborted -- raise "transaction aborted" where the caller is */
int lb_raise_aborted(lua_State *L) {
  luaL_where(L, 1);
  push_aborted(L);
  lua_concat(L, 2);
  return lua_error(L);
}

void lb_forget_cause(lua_State *L) {
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, CAUSE);
}

int lpmem_pushtraceback(lua_State *L, int idx) {
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

/* lb_note_traceback -- remember where the error at 1 was raised (the
   innermost pool:transaction it escapes records it) */
void lb_note_traceback(lua_State *L) {
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

/* rename_argerror -- an argument error raised by the guarded function
   names it '?' (called by lb_guard, not by Lua code): name it as the
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

void lb_error_as_called(lua_State *L, lua_CFunction f, lua_CFunction g) {
  if (lua_type(L, 1) != LUA_TSTRING || !raised_by(L, f, g)) return;
  rename_argerror(L);
  locate(L);
}
