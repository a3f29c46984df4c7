/*
** lb_value.c -- Lua values into pool values: keys, storable values, and
** the deep copy of plain tables, planned (checked, may raise) before the
** change and made (never raises) inside it. A bad value deep in a table
** is named by its path.
*/
#include <ctype.h>
#include <stdarg.h>

#include "lb_int.h"
#include "pml_table.h"

int lb_tokey(lua_State *L, int idx, pml_Val *k) {
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
      lb_Proxy *px = lb_toproxy(L, idx);
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
static void push_path(lua_State *L, const lb_Copy *c, int cur, int kidx) {
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
static int bad(lua_State *L, const lb_Copy *c, int iskey, const char *fmt, ...) {
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
static void check_ref(lua_State *L, lb_Pool *pool, int idx, const lb_Copy *c, int iskey) {
  lb_Proxy *px = lb_toproxy(L, idx);
  if (px == NULL) bad(L, c, iskey, "cannot store a userdata in a pool");
  if (px->pool != pool && !pml_isopen(&px->pool->core))
    bad(L, c, iskey, "cannot store a persistent %s of a closed pool (%s was closed: "
        "read the value again from the pool as it is open now)",
        lb_kindname(px->kind), px->pool->path);
  if (px->pool != pool)
    bad(L, c, iskey, "cannot store a persistent %s of another pool (pool:copy(v) "
        "copies it into this one)", lb_kindname(px->kind));
  lb_checkproxy(L, idx);
}

/* checkkey -- lb_checkkey, for a plan c (or none) */
void lb_checkkey(lua_State *L, lb_Pool *pool, int idx, pml_Val *k, const lb_Copy *c) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL: bad(L, c, 1, "index is nil"); break;
    case LUA_TNUMBER:
      if (!lb_tokey(L, idx, k)) bad(L, c, 1, "index is NaN");
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
  lb_tokey(L, idx, k);
}

void lb_plan_init(lb_Copy *c) {
  c->map = 0;
  c->n = 0;
  c->cur = 0;
  c->key = 0;
  c->offs = NULL;
}

/* plan_open -- push the plan's three tables (once): they stay on the
   stack until the change is done */
void lb_plan_open(lua_State *L, lb_Copy *c) {
  if (c->map != 0) return;
  luaL_checkstack(L, 8, "deep copy");
  lua_newtable(L);                      /* map: table -> index */
  c->map = lua_gettop(L);
  lua_newtable(L);                      /* list: index -> table */
  lua_newtable(L);                      /* from: 2i-1 -> parent index, 2i -> key */
}

/* plan_table -- add plain table at idx to the plan (once), found at the
   key c->key of planned table c->cur */
static void plan_table(lua_State *L, lb_Copy *c, int idx) {
  idx = lua_absindex(L, idx);
  if (lua_getmetatable(L, idx)) bad(L, c, 0, "cannot store a table with a metatable");
  lb_plan_open(L, c);
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
static void plan_value(lua_State *L, lb_Pool *pool, int idx, lb_Copy *c) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL: case LUA_TBOOLEAN: case LUA_TNUMBER: case LUA_TSTRING: return;
    case LUA_TUSERDATA: check_ref(L, pool, idx, c, 0); return;
    case LUA_TTABLE: plan_table(L, c, idx); return;
    default: bad(L, c, 0, "cannot store a %s", luaL_typename(L, idx));
  }
}

void lb_plan(lua_State *L, lb_Pool *pool, int idx, lb_Copy *c) {
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
      lb_checkkey(L, pool, t + 1, &k, c);
      plan_value(L, pool, t + 2, c);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  c->cur = c->key = 0;
}

/* plan_done -- room for the new offsets (before the transaction) */
void lb_plan_done(lua_State *L, lb_Copy *c) {
  if (c->n > 0) c->offs = lua_newuserdatauv(L, (size_t)c->n * sizeof(uint64_t), 0);
}

void lb_prepare(lua_State *L, lb_Pool *pool, int vi, lb_Copy *c) {
  lb_plan_init(c);
  lb_plan(L, pool, vi, c);
  lb_plan_done(L, c);
}

int lb_value(lua_State *L, lb_Pool *pool, int vi, lb_Copy *c, pml_Val *v) {
  int st = lb_copy(L, pool, c);
  if (st == PML_OK) lb_toval(L, vi, c, v);
  return st;
}

void lb_toval(lua_State *L, int idx, const lb_Copy *c, pml_Val *v) {
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
      if (!lb_tokey(L, idx, v)) pml_val_tag(v, PML_CNIL);   /* checked before */
  }
}

int lb_copy(lua_State *L, lb_Pool *pool, lb_Copy *c) {
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
      lb_tokey(L, -2, &k);
      lb_toval(L, -1, c, &v);
      st = pml_table_set(p, dst, &k, pml_val_hash(&k), &v);
      lua_pop(L, 1);
    }
    lua_settop(L, t - 1);
  }
  return st;
}

