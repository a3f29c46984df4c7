/*
** lb_audit.c -- pmem._audit(pool): the self-checks of a pool, for the
** tests: the heap view (pml_heap) against libpmemobj's object walk, on
** pools known to be sound (pmemobj_first/next loop on a damaged heap), and
** every container's reference count against the references to it
** (pml_gc_audit, which debug builds also run at every clean close).
*/
#include "lb_int.h"
#include "pml_gc.h"
#include "pml_heap.h"

typedef struct Count {
  pml_Map seen;           /* off -> type + 1, from pml_heap_walk */
  lua_Integer n;
} Count;

static int note(void *ud, const pml_Block *b) {
  Count *c = ud;
  int isnew;
  pml_MapSlot *s = pml_map_put(&c->seen, b->off, &isnew);
  if (s) s->val = b->type + 1;
  c->n++;
  return 0;
}

/* audit_heap -- returns objects, walked, mismatches (0 when the views agree) */
static int audit_heap(lua_State *L, pml_Pool *p) {
  Count c = { { NULL, 0, 0, 0 }, 0 };
  lua_Integer objects = 0, bad = 0;
  pml_map_init(&c.seen);
  if (pml_heap_walk(&p->heap, note, &c) != 0) bad++;
  for (PMEMoid o = pmemobj_first(p->pop); !OID_IS_NULL(o); o = pmemobj_next(o)) {
    pml_Block b;
    pml_MapSlot *s = pml_map_find(&c.seen, o.off);
    objects++;
    if (!pml_heap_block(&p->heap, o.off, &b) || s == NULL ||
        b.type != pmemobj_type_num(o) || s->val != b.type + 1 ||
        b.usable != pmemobj_alloc_usable_size(o) ||
        pml_heap_block(&p->heap, o.off + 16, NULL) || pml_heap_block(&p->heap, o.off - 16, NULL))
      bad++;
  }
  pml_map_free(&c.seen);
  lua_pushinteger(L, objects);
  lua_pushinteger(L, c.n - 1);                  /* the walk also sees the root */
  lua_pushinteger(L, bad);
  return 3;
}

int lb_audit(lua_State *L) {
  lb_Pool *pool = lb_checkpool(L, 1);
  if (pool->core.pop == NULL) return luaL_error(L, "pool is closed or mapped read-only");
  if (lb_tx_pool() != NULL) return luaL_error(L, "cannot audit inside a transaction");
  audit_heap(L, &pool->core);
  uint64_t bad;
  lua_pushinteger(L, pml_gc_audit(&pool->core, &bad) == PML_OK ? 0 : (lua_Integer)bad);
  return 4;
}
