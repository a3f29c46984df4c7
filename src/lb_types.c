/*
** lb_types.c -- metamethods and methods of the proxies: table, list,
** tuple, set, object. Reads are the hot path: they check the proxy, look
** the key up in place and push the value, allocating nothing (but a
** proxy the first time a container is read in a run).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_int.h"
#include "pml_list.h"
#include "pml_table.h"

static const char *const kindnames[] = {
  NULL, NULL, "table", "list", "object", "tuple", "set"
};

const char *lb_kindname(unsigned kind) {
  return kind < sizeof kindnames / sizeof *kindnames && kindnames[kind]
         ? kindnames[kind] : "?";
}

/* registry keys of the method tables of the kinds whose __index is a
   function (the function looks them up after the keys) */
static const char kindmethods[sizeof kindnames / sizeof *kindnames];

int lb_newmeta(lua_State *L, unsigned kind) {
  return lua_rawgetp(L, LUA_REGISTRYINDEX, &kindnames[kind]);
}

/* {====================================================== helpers */

#define CORE(px)    (&(px)->pool->core)
#define TABLE(px)   ((pml_Table *)(px)->obj)
#define LIST(px)    ((pml_List *)(px)->obj)

/* kinds by the layout of their object (kinds are below 8: pml_container_ok
   admits no other). A metamethod or iterator may be handed a proxy of
   another kind (an iterator called by hand, debug.getmetatable): it must
   check the layout before reading the object. */
#define TABLE_KINDS  ((1u << PML_TTABLE) | (1u << PML_TOBJECT) | (1u << PML_TSET))
#define LIST_KINDS   ((1u << PML_TLIST) | (1u << PML_TTUPLE))
#define ANY_KIND     (TABLE_KINDS | LIST_KINDS)
#define HAS_KIND(px, kinds)  (((1u << (px)->kind) & (kinds)) != 0)

/* checkkind -- px, if its kind is one of kinds; raises otherwise */
static lb_Proxy *checkkind(lua_State *L, int idx, lb_Proxy *px, unsigned kinds) {
  if (!HAS_KIND(px, kinds))
    luaL_typeerror(L, idx, kinds == LIST_KINDS ? "pmem list" : "pmem table");
  return px;
}

/* alive -- the hot-path check: a proxy of one of kinds, of an open pool,
   not rolled back */
static inline lb_Proxy *alive(lua_State *L, int idx, unsigned kinds) {
  lb_Proxy *px = lb_toproxy(L, idx);
  if (px == NULL || px->obj == NULL || !pml_isopen(&px->pool->core))
    px = lb_checkproxy(L, idx);                /* raises the right error */
  return checkkind(L, idx, px, kinds);
}

/* readkey -- key at idx for a read of px; 0 if it cannot be stored there */
static int readkey(lua_State *L, lb_Proxy *px, int idx, pml_Val *k) {
  if (!lb_tokey(L, idx, k)) return 0;
  if (k->tag == PML_CREF && lb_toproxy(L, idx)->pool != px->pool) return 0;
  return 1;
}

/* getkey -- push t[key at idx] (nil if absent) */
static void getkey(lua_State *L, lb_Proxy *px, int idx) {
  pml_Val k;
  pml_Entry *e = readkey(L, px, idx, &k)
      ? pml_table_find(CORE(px), TABLE(px), &k, pml_val_hash(&k)) : NULL;
  if (e) lb_pushcell(L, px->pool, &e->val);
  else lua_pushnil(L);
}

/* setkey -- t[key at ki] = value at vi, as one change */
static void setkey(lua_State *L, lb_Proxy *px, int ki, int vi) {
  lb_Pool *pool = px->pool;
  pml_Val k, v;
  lb_Copy c;
  lb_checkkey(L, pool, ki, &k, NULL);
  lb_prepare(L, pool, vi, &c);
  lb_begin(L, pool);
  int st = lb_value(L, pool, vi, &c, &v);
  if (st == PML_OK) {
    lb_tokey(L, ki, &k);               /* the stack may have moved: re-read */
    st = pml_table_set(CORE(px), TABLE(px), &k, pml_val_hash(&k), &v);
  }
  lb_end(L, pool, st);
}

/* has_int -- is t[i] non-nil? */
static int has_int(lb_Proxy *px, lua_Integer i) {
  pml_Val k;
  pml_val_int(&k, i);
  pml_Entry *e = pml_table_find(CORE(px), TABLE(px), &k, pml_val_hash(&k));
  return e != NULL && e->val.tag != PML_CNIL;
}

/* border -- a border of the table, as Lua's unbound search finds one */
static lua_Integer border(lb_Proxy *px) {
  if (!has_int(px, 1)) return 0;
  lua_Unsigned i = 1, j = 2;
  while (has_int(px, (lua_Integer)j)) {
    i = j;
    if (j > (lua_Unsigned)LUA_MAXINTEGER / 2) {   /* overflow: linear search */
      while (has_int(px, (lua_Integer)(i + 1))) i++;
      return (lua_Integer)i;
    }
    j *= 2;
  }
  while (j - i > 1) {                               /* t[i] present, t[j] absent */
    lua_Unsigned m = (i + j) / 2;
    if (has_int(px, (lua_Integer)m)) i = m; else j = m;
  }
  return (lua_Integer)i;
}

/* table_next -- next(t, k) over the live entries in insertion order */
static int table_next_(lua_State *L) {
  lb_Proxy *px = alive(L, 1, TABLE_KINDS);
  pml_Entry *e;
  int st;
  if (lua_isnoneornil(L, 2)) {
    st = pml_table_next(CORE(px), TABLE(px), NULL, 0, &e);
  } else {
    pml_Val k;
    if (!readkey(L, px, 2, &k)) return luaL_error(L, "invalid key to 'next'");
    st = pml_table_next(CORE(px), TABLE(px), &k, pml_val_hash(&k), &e);
  }
  if (st != PML_OK) return lb_raise(L, px->pool, st);
  if (e == NULL) { lua_pushnil(L); return 1; }
  pml_Entry copy = *e;            /* pushing the key may run Lua (__load) */
  lb_pushcell(L, px->pool, &copy.key);
  lb_pushcell(L, px->pool, &copy.val);
  return 2;
}
static int table_next(lua_State *L) { return lb_guard(L, table_next_); }

static int table_pairs(lua_State *L) {
  alive(L, 1, TABLE_KINDS);
  lua_pushcfunction(L, table_next);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

/* }====================================================== */

/* {====================================================== tables */

/* ic_set -- remember the value cell e of the string key at stack idx (a
   cache of an older epoch is emptied first) */
static void ic_set(lua_State *L, lb_Proxy *px, int idx, pml_Entry *e) {
  if (px->ic_epoch != px->pool->core.epoch) {
    memset(px->ic_key, 0, sizeof px->ic_key);
    px->ic_epoch = px->pool->core.epoch;
  }
  unsigned way = px->ic_next++ % LB_IC_WAYS;
  lua_pushvalue(L, idx);
  lua_setiuservalue(L, 1, 3 + (int)way);  /* anchors the string */
  px->ic_key[way] = lua_topointer(L, idx);
  px->ic_val[way] = &e->val;
}

/* ic_find -- the cached value cell of key (a string's address), or NULL */
static inline const pml_Cell *ic_find(const lb_Proxy *px, const void *key) {
  if (px->ic_epoch != px->pool->core.epoch || key == NULL) return NULL;
  for (int i = 0; i < LB_IC_WAYS; i++)
    if (px->ic_key[i] == key) return px->ic_val[i];
  return NULL;
}

/* ic_audit -- debug builds: a cache hit c must be what a lookup finds */
static void ic_audit(lua_State *L, lb_Proxy *px, const pml_Cell *c) {
#ifdef PML_DEBUG
  size_t n;
  const char *s = lua_tolstring(L, 2, &n);
  pml_Val k;
  pml_val_str(&k, s, n);
  pml_Entry *e = pml_table_find(CORE(px), TABLE(px), &k, pml_val_hash(&k));
  if (e == NULL || &e->val != c) {
    fprintf(stderr, "pmlua (debug): the read cache of %s gave a cell a lookup "
            "does not\n", px->pool->path);
    abort();
  }
#else
  (void)L;
  (void)px;
  (void)c;
#endif
}

/* table_index_miss -- t[k] without the inline cache; fills it for a
   string key found with a value */
static LB_NOINLINE int table_index_miss(lua_State *L) {
  lb_Proxy *px = alive(L, 1, TABLE_KINDS);
  if (lua_type(L, 2) != LUA_TSTRING) {
    getkey(L, px, 2);
    return 1;
  }
  size_t n;
  const char *s = lua_tolstring(L, 2, &n);
  pml_Val k;
  pml_val_str(&k, s, n);
  pml_Entry *e = pml_table_find(CORE(px), TABLE(px), &k, pml_val_hash(&k));
  if (e == NULL || e->val.tag == PML_CNIL) {
    lua_pushnil(L);
    return 1;
  }
  ic_set(L, px, 2, e);
  lb_pushcell(L, px->pool, &e->val);
  return 1;
}

/*
** table_index -- t[k]. A hit of the inline cache needs the epoch (nothing
** changed, see lb_Proxy) and the key's identity. Only strings are anchored
** as ic_key, and no other Lua value has their addresses (through the C
** API, a light userdata forged by C to hold one would read that string's
** value; read from the stack, its tag tells it apart).
*/
static int table_index(lua_State *L) {
  lb_Proxy *px;
  const void *key;
  if (lb_peek_on) {
    const lb_Slot *a = lb_peek_func(L);
    if (lb_peek_top(L) != a + 3 || (px = lb_peek_proxy(&a[1])) == NULL)
      return table_index_miss(L);
    key = (a[2].tt & LB_COLLECTABLE) ? a[2].v.p : NULL;
  } else {
    if ((px = lb_toproxy(L, 1)) == NULL) return table_index_miss(L);
    key = lua_topointer(L, 2);
  }
  const pml_Cell *c = ic_find(px, key);
  if (c == NULL) return table_index_miss(L);
  ic_audit(L, px, c);
  lb_pushcell(L, px->pool, c);
  return 1;
}

static int table_newindex(lua_State *L) {
  setkey(L, checkkind(L, 1, lb_checkwrite(L, 1), TABLE_KINDS), 2, 3);
  return 0;
}

static int table_len(lua_State *L) {
  lua_pushinteger(L, border(alive(L, 1, TABLE_KINDS)));
  return 1;
}

/* }====================================================== */

/* {====================================================== objects */

/* isvolatile -- attribute names starting with "_v_" live in this run only */
static int isvolatile(lua_State *L, int idx) {
  size_t n;
  const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &n) : NULL;
  return s != NULL && n >= 3 && memcmp(s, "_v_", 3) == 0;
}

/* push_vattrs -- the object's table of volatile attributes */
static void push_vattrs(lua_State *L, lb_Proxy *px) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, px->pool->vattr_ref);
  if (lua_rawgeti(L, -1, (lua_Integer)px->off) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, (lua_Integer)px->off);
  }
  lua_remove(L, -2);
}

/* class_fallback -- obj[k] for a k the object does not store: the class
   field (through its parents), else what the class's __index gives (a
   function is called with the object and k, a table is indexed by k) */
static int class_fallback(lua_State *L) {
  lua_getiuservalue(L, 1, 2);                    /* class (inherits by __index) */
  lua_pushvalue(L, 2);
  if (lua_gettable(L, -2) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  int t = lua_getfield(L, -1, "__index");
  if (t == LUA_TFUNCTION) {
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, 1);
  } else if (t != LUA_TNIL && !lua_rawequal(L, -1, -2)) {
    lua_pushvalue(L, 2);
    lua_gettable(L, -2);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

static int object_index(lua_State *L) {
  lb_Proxy *px = alive(L, 1, TABLE_KINDS);
  if (lua_type(L, 2) == LUA_TSTRING) {
    if (isvolatile(L, 2)) {
      push_vattrs(L, px);
      lua_pushvalue(L, 2);
      lua_rawget(L, -2);
      return 1;
    }
    if (strcmp(lua_tostring(L, 2), "_p_pool") == 0) {
      lua_getiuservalue(L, 1, 1);
      return 1;
    }
  }
  getkey(L, px, 2);
  if (!lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);
  return class_fallback(L);
}

/* object_store -- obj[k] = v; unless raw, a k the object does not store
   goes to the class's __newindex if it has one (a function is called with
   the object, k and v; a table gets t[k] = v) */
static int object_store(lua_State *L, int raw) {
  if (isvolatile(L, 2)) {
    push_vattrs(L, alive(L, 1, TABLE_KINDS));
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
  }
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "_p_pool") == 0)
    return luaL_error(L, "cannot set '_p_pool' of an object");
  lb_Proxy *px = alive(L, 1, TABLE_KINDS);
  lua_settop(L, 3);
  lua_getiuservalue(L, 1, 2);
  if (!raw && lua_getfield(L, 4, "__newindex") != LUA_TNIL) {
    getkey(L, px, 2);
    if (lua_isnil(L, -1)) {                     /* not stored: the class's turn */
      lua_pop(L, 1);
      if (lua_type(L, 5) == LUA_TFUNCTION) {
        lua_pushvalue(L, 1);
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 3);
        lua_call(L, 3, 0);
      } else {
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 3);
        lua_settable(L, 5);
      }
      return 0;
    }
  }
  lua_settop(L, 3);
  setkey(L, checkkind(L, 1, lb_checkwrite(L, 1), TABLE_KINDS), 2, 3);
  return 0;
}

static int object_newindex(lua_State *L) { return object_store(L, 0); }

/* }====================================================== */

/* {====================================================== lists and tuples */

/* position -- integer position of the key at idx, or 0 if it is none */
static int position(lua_State *L, int idx, lua_Integer *i) {
  int ok;
  *i = lua_tointegerx(L, idx, &ok);
  return ok && lua_type(L, idx) == LUA_TNUMBER;
}

/* list_index_miss -- l[k] for any k: items, then methods */
static LB_NOINLINE int list_index_miss(lua_State *L) {
  lb_Proxy *px = alive(L, 1, LIST_KINDS);
  lua_Integer i;
  if (position(L, 2, &i)) {
    pml_List *l = LIST(px);
    if (i >= 1 && (lua_Unsigned)i <= l->len)
      lb_pushcell(L, px->pool, &pml_list_items(CORE(px), l)[i - 1]);
    else
      lua_pushnil(L);
    return 1;
  }
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kindmethods[px->kind]) != LUA_TTABLE)
    return luaL_error(L, "pmem: the methods of %s are gone from the registry",
                      lb_kindname(px->kind));
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

/* list_index -- l[i]; the fast path takes a live proxy and an integer
   position in 1..#l */
static int list_index(lua_State *L) {
  lb_Proxy *px;
  lua_Integer i;
  if (lb_peek_on) {
    const lb_Slot *a = lb_peek_func(L);
    if (lb_peek_top(L) != a + 3 || (px = lb_peek_proxy(&a[1])) == NULL ||
        a[2].tt != LB_TAG_INT)
      return list_index_miss(L);
    i = a[2].v.i;
  } else {
    if ((px = lb_toproxy(L, 1)) == NULL || !lua_isinteger(L, 2))
      return list_index_miss(L);
    i = lua_tointegerx(L, 2, NULL);
  }
  if (HAS_KIND(px, LIST_KINDS) && px->obj != NULL && pml_isopen(&px->pool->core)) {
    const pml_List *l = LIST(px);
    if ((lua_Unsigned)i - 1 < l->len) {
      lb_pushcell(L, px->pool, &pml_list_items(CORE(px), l)[i - 1]);
      return 1;
    }
  }
  return list_index_miss(L);
}

/* checklist -- a list (not a tuple) that may be written now */
static lb_Proxy *checklist(lua_State *L) {
  lb_Proxy *px = lb_checkwrite(L, 1);
  if (px->kind == PML_TTUPLE) luaL_error(L, "a tuple is immutable");
  if (px->kind != PML_TLIST) luaL_typeerror(L, 1, "pmem list");
  return px;
}

/* list_change -- one list change: op 'a'ppend, 's'et, 'i'nsert at i (0-based) */
static void list_change(lua_State *L, lb_Proxy *px, int op, uint64_t i, int vi) {
  lb_Pool *pool = px->pool;
  lb_Copy c;
  pml_Val v;
  lb_prepare(L, pool, vi, &c);
  lb_begin(L, pool);
  int st = lb_value(L, pool, vi, &c, &v);
  if (st == PML_OK) {
    pml_List *l = LIST(px);
    if (op == 'a') st = pml_list_append(CORE(px), l, &v);
    else if (op == 's') st = pml_list_set(CORE(px), l, i, &v);
    else st = pml_list_insert(CORE(px), l, i, &v);
  }
  lb_end(L, pool, st);
}

/* list_remove_at -- remove item i (0-based) as one change */
static void list_remove_at(lua_State *L, lb_Proxy *px, uint64_t i) {
  lb_begin(L, px->pool);
  lb_end(L, px->pool, pml_list_remove(CORE(px), LIST(px), i));
}

static int list_newindex(lua_State *L) {
  lb_Proxy *px = checklist(L);
  lua_Integer i;
  if (!position(L, 2, &i))
    return luaL_error(L, "list index must be an integer, not a %s", luaL_typename(L, 2));
  lua_Integer n = (lua_Integer)LIST(px)->len;
  if (lua_isnil(L, 3)) {
    if (i == n && n > 0) list_remove_at(L, px, (uint64_t)(n - 1));
    else if (i >= 1 && i < n)
      return luaL_error(L, "cannot set item %I of a list of %I to nil (a list has no holes)", i, n);
    return 0;
  }
  if (i >= 1 && i <= n) list_change(L, px, 's', (uint64_t)(i - 1), 3);
  else if (i == n + 1) list_change(L, px, 'a', 0, 3);
  else return luaL_error(L, "list index %I out of range (the list has %I items)", i, n);
  return 0;
}

static int list_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)LIST(alive(L, 1, LIST_KINDS))->len);
  return 1;
}

static int list_inext(lua_State *L) {
  lb_Proxy *px = alive(L, 1, LIST_KINDS);
  /* wraps as Lua's own integer arithmetic does: after maxinteger, nothing */
  lua_Integer i = (lua_Integer)((lua_Unsigned)luaL_checkinteger(L, 2) + 1u);
  pml_List *l = LIST(px);
  if (i < 1 || (lua_Unsigned)i > l->len) { lua_pushnil(L); return 1; }
  lua_pushinteger(L, i);
  lb_pushcell(L, px->pool, &pml_list_items(CORE(px), l)[i - 1]);
  return 2;
}

/* pmem.next(v [, k]) -- next() for persistent values (Lua's next sees
   only tables): insertion order for tables, objects and sets, positions
   for lists and tuples */
static int pm_next(lua_State *L) {
  lb_Proxy *px = alive(L, 1, ANY_KIND);
  if (px->kind != PML_TLIST && px->kind != PML_TTUPLE) return table_next(L);
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) {
    lua_pushinteger(L, 0);
    lua_replace(L, 2);
  }
  return list_inext(L);
}

static int list_pairs(lua_State *L) {
  alive(L, 1, LIST_KINDS);
  lua_pushcfunction(L, list_inext);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  return 3;
}

static int list_append(lua_State *L) {
  lb_Proxy *px = checklist(L);
  luaL_checkany(L, 2);
  if (lua_isnil(L, 2)) return luaL_error(L, "cannot append nil to a list");
  list_change(L, px, 'a', 0, 2);
  return 0;
}

/* l:insert([pos,] v) -- as table.insert */
static int list_insert(lua_State *L) {
  lb_Proxy *px = checklist(L);
  lua_Integer n = (lua_Integer)LIST(px)->len, pos;
  int vi;
  switch (lua_gettop(L)) {
    case 2: pos = n + 1; vi = 2; break;
    case 3:
      pos = luaL_checkinteger(L, 2);
      luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)n + 1u, 2,
                    "position out of bounds");
      vi = 3;
      break;
    default: return luaL_error(L, "wrong number of arguments to 'insert'");
  }
  if (lua_isnil(L, vi)) return luaL_error(L, "cannot insert nil into a list");
  list_change(L, px, 'i', (uint64_t)(pos - 1), vi);
  return 0;
}

/* l:remove([pos]) -- as table.remove: returns the removed value */
static int list_remove(lua_State *L) {
  lb_Proxy *px = checklist(L);
  lua_Integer n = (lua_Integer)LIST(px)->len;
  lua_Integer pos = luaL_optinteger(L, 2, n);
  if (lua_gettop(L) >= 2 && pos != n)
    luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)n, 2, "position out of bounds");
  if (pos < 1 || pos > n) { lua_pushnil(L); return 1; }
  pml_Cell item = pml_list_items(CORE(px), LIST(px))[pos - 1];
  lb_pushcell(L, px->pool, &item);       /* may run Lua (__load): check again */
  px = checklist(L);
  if ((lua_Integer)LIST(px)->len != n)
    return luaL_error(L, "list changed while its item was being removed");
  list_remove_at(L, px, (uint64_t)(pos - 1));
  return 1;
}

static int list_clear(lua_State *L) {
  lb_Proxy *px = checklist(L);
  int deferred;
  lb_begin_bulk(L, px->pool);
  lb_end(L, px->pool, pml_list_clear(CORE(px), LIST(px), &deferred));
  /* items left to the collector: free them now, unless a transaction is open */
  if (deferred && !lb_tx_in(px->pool)) lb_collect(L, px->pool);
  return 0;
}

static int tuple_newindex(lua_State *L) {
  alive(L, 1, LIST_KINDS);
  return luaL_error(L, "a tuple is immutable");
}

/* }====================================================== */

/* {====================================================== sets */

static lb_Proxy *checkset(lua_State *L, int idx) {
  lb_Proxy *px = alive(L, idx, TABLE_KINDS);
  if (px->kind != PML_TSET) luaL_typeerror(L, idx, "pmem set");
  return px;
}

static int set_contains(lua_State *L) {
  lb_Proxy *px = checkset(L, 1);
  getkey(L, px, 2);
  lua_pushboolean(L, !lua_isnil(L, -1));
  return 1;
}

/* set_put -- add (v true) or discard (v nil) the element at 2 */
static void set_put(lua_State *L, lb_Proxy *px, int add) {
  pml_Val k, v;
  pml_val_tag(&v, add ? PML_CTRUE : PML_CNIL);
  lb_checkwrite(L, 1);
  lb_checkkey(L, px->pool, 2, &k, NULL);
  lb_begin(L, px->pool);
  lb_end(L, px->pool, pml_table_set(CORE(px), TABLE(px), &k, pml_val_hash(&k), &v));
}

static int set_add(lua_State *L) {
  set_put(L, checkset(L, 1), 1);
  return 0;
}

static int set_discard(lua_State *L) {
  lb_Proxy *px = checkset(L, 1);
  if (!lua_isnil(L, 2)) set_put(L, px, 0);
  return 0;
}

/* push_shown -- the value at idx as an error message shows it: a string
   quoted, anything else as tostring gives it */
static const char *push_shown(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TSTRING) return luaL_tolstring(L, idx, NULL);
  lua_getglobal(L, "string");
  lua_getfield(L, -1, "format");
  lua_pushliteral(L, "%q");
  lua_pushvalue(L, idx);
  lua_call(L, 2, 1);
  lua_remove(L, -2);
  return lua_tostring(L, -1);
}

static int set_remove(lua_State *L) {
  lb_Proxy *px = checkset(L, 1);
  getkey(L, px, 2);
  if (lua_isnil(L, -1))
    return luaL_error(L, "element %s not in set (s:discard(x) removes an element "
                      "if it is there)", push_shown(L, 2));
  lua_pop(L, 1);
  set_put(L, px, 0);
  return 0;
}

static int set_newindex(lua_State *L) {
  checkset(L, 1);
  return luaL_error(L, "a pmem set cannot be assigned to: s:add(x) adds x, "
                    "s:discard(x) removes it");
}

static int set_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)TABLE(checkset(L, 1))->count);
  return 1;
}

/* }====================================================== */

/* {====================================================== raw access */

/*
** rawget, rawset and rawlen, extended to persistent values (the standard
** ones raise for a userdata): the stored value alone, without class
** fields, methods or a class's __index/__newindex/__len. On anything else
** they are the standard functions.
*/
static int pm_rawget(lua_State *L) {
  if (lb_toproxy(L, 1) == NULL) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    lua_rawget(L, 1);
    return 1;
  }
  lb_Proxy *px = alive(L, 1, ANY_KIND);
  lua_Integer i;
  if (HAS_KIND(px, TABLE_KINDS)) getkey(L, px, 2);
  else if (position(L, 2, &i) && i >= 1 && (lua_Unsigned)i <= LIST(px)->len)
    lb_pushcell(L, px->pool, &pml_list_items(CORE(px), LIST(px))[i - 1]);
  else lua_pushnil(L);
  return 1;
}

static int pm_rawset(lua_State *L) {
  if (lb_toproxy(L, 1) == NULL) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
  }
  lb_Proxy *px = alive(L, 1, ANY_KIND);
  luaL_checkany(L, 3);
  lua_settop(L, 3);
  switch (px->kind) {
    case PML_TOBJECT: object_store(L, 1); break;
    case PML_TLIST: list_newindex(L); break;
    case PML_TTUPLE: tuple_newindex(L); break;
    case PML_TSET: set_newindex(L); break;
    default: table_newindex(L); break;
  }
  lua_settop(L, 1);
  return 1;
}

static int pm_rawlen(lua_State *L) {
  lb_Proxy *px = lb_toproxy(L, 1);
  if (px == NULL) {
    int t = lua_type(L, 1);
    luaL_argexpected(L, t == LUA_TTABLE || t == LUA_TSTRING, 1, "table or string");
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, 1));
    return 1;
  }
  px = alive(L, 1, ANY_KIND);
  if (px->kind == PML_TSET) return set_len(L);
  if (HAS_KIND(px, LIST_KINDS)) return list_len(L);
  return table_len(L);
}

/* }====================================================== */

/* metamethods and methods of each kind; the changes (and the operations
   that may fail inside a transaction) run under lb_guard */
static const luaL_Reg table_meta[] = {
  {"__gc", lb_proxy_gc}, {"__index", table_index}, {"__len", table_len},
  {"__pairs", table_pairs}, {NULL, NULL}
};
static const luaL_Reg table_changes[] = { {"__newindex", table_newindex}, {NULL, NULL} };
static const luaL_Reg object_meta[] = {
  {"__gc", lb_proxy_gc}, {"__index", object_index}, {"__len", table_len},
  {"__pairs", table_pairs}, {NULL, NULL}
};
static const luaL_Reg object_changes[] = { {"__newindex", object_newindex}, {NULL, NULL} };
static const luaL_Reg list_meta[] = {
  {"__gc", lb_proxy_gc}, {"__len", list_len}, {"__pairs", list_pairs}, {NULL, NULL}
};
static const luaL_Reg list_changes[] = { {"__newindex", list_newindex}, {NULL, NULL} };
static const luaL_Reg list_methods[] = {
  {"append", list_append}, {"insert", list_insert}, {"remove", list_remove},
  {"clear", list_clear}, {NULL, NULL}
};
static const luaL_Reg tuple_changes[] = { {"__newindex", tuple_newindex}, {NULL, NULL} };
static const luaL_Reg set_meta[] = {
  {"__gc", lb_proxy_gc}, {"__len", set_len}, {"__pairs", table_pairs}, {NULL, NULL}
};
static const luaL_Reg set_changes[] = { {"__newindex", set_newindex}, {NULL, NULL} };
static const luaL_Reg set_reads[] = { {"contains", set_contains}, {NULL, NULL} };
static const luaL_Reg set_methods[] = {
  {"add", set_add}, {"remove", set_remove}, {"discard", set_discard}, {NULL, NULL}
};

typedef struct Kind {
  unsigned kind;
  const luaL_Reg *meta, *changes;     /* metamethods: plain, guarded */
  const luaL_Reg *reads, *methods;    /* methods: plain, guarded */
  lua_CFunction index;                /* __index function, or NULL */
} Kind;

static const Kind kinds[] = {
  { PML_TTABLE, table_meta, table_changes, NULL, NULL, NULL },
  { PML_TOBJECT, object_meta, object_changes, NULL, NULL, NULL },
  { PML_TLIST, list_meta, list_changes, NULL, list_methods, list_index },
  { PML_TTUPLE, list_meta, tuple_changes, NULL, NULL, list_index },
  { PML_TSET, set_meta, set_changes, set_reads, set_methods, NULL },
};

/*
** newmeta -- the metatable of kind, registered under &kindnames[kind];
** with an __index function, methods (if any) are registered under
** &kindmethods[kind]; module._meta[name] and module._methods[name] expose
** both to the Lua layer. The metatable's hash part has room to spare, so
** that the lookup of __index on every read seldom walks a collision chain.
*/
static void newmeta(lua_State *L, int module, const Kind *k) {
  const char *name = lb_kindname(k->kind);
  lua_createtable(L, 0, 32);
  luaL_setfuncs(L, k->meta, 0);
  lb_setguarded(L, k->changes);
  lua_pushfstring(L, "pmem.%s", name);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__name");
  lua_setfield(L, -2, "__metatable");
  lua_newtable(L);
  if (k->reads) luaL_setfuncs(L, k->reads, 0);
  if (k->methods) lb_setguarded(L, k->methods);
  if (k->index) {                       /* keys first, then methods */
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kindmethods[k->kind]);
    lua_pushcfunction(L, k->index);
    lua_setfield(L, -3, "__index");
  } else if (k->reads || k->methods) {  /* methods only */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "__index");
  }
  lua_getfield(L, module, "_methods");
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, name);
  lua_pop(L, 2);
  lua_getfield(L, module, "_meta");
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kindnames[k->kind]);
}

static const luaL_Reg raw_reads[] = { {"rawget", pm_rawget}, {"rawlen", pm_rawlen}, {NULL, NULL} };
static const luaL_Reg raw_changes[] = { {"rawset", pm_rawset}, {NULL, NULL} };

void lb_open_types(lua_State *L, int module) {
  lua_pushcfunction(L, pm_next);
  lua_setfield(L, module, "next");
  lua_pushglobaltable(L);
  luaL_setfuncs(L, raw_reads, 0);
  lb_setguarded(L, raw_changes);
  lua_pop(L, 1);
  lua_newtable(L);
  lua_setfield(L, module, "_meta");
  lua_newtable(L);
  lua_setfield(L, module, "_methods");
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) newmeta(L, module, &kinds[i]);
}
