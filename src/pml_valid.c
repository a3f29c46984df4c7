/*
** pml_valid.c -- is what the pool says sound? (pml_valid.h)
*/
#include "pml_pool.h"
#include "pml_tx.h"
#include "pml_valid.h"

void pml_valid_met(pml_Pool *p) {
  p->damage++;
}

/* sound -- ok, counting a failed check as damage met */
static int sound(pml_Pool *p, int ok) {
  if (!ok) pml_valid_met(p);
  return ok;
}

pml_Str *pml_str(pml_Pool *p, uint64_t off) {
  pml_Block b;
  if (!sound(p, pml_tx_block(p, off, &b) && b.type == PML_TSTR &&
                b.usable >= sizeof(pml_Str)))
    return NULL;
  pml_Str *s = pml_ptr(p, off);
  return sound(p, s->len < b.usable - sizeof(pml_Str)) ? s : NULL;   /* room for NUL */
}

static int container_at(pml_Pool *p, uint64_t off) {
  pml_Block b;
  if (!pml_tx_block(p, off, &b) || b.usable < sizeof(pml_Hdr)) return 0;
  switch (b.type) {
    case PML_TTABLE: case PML_TLIST: case PML_TOBJECT: case PML_TTUPLE: case PML_TSET:
      return pml_hdr(p, off)->kind == b.type;
    default:
      return 0;
  }
}

int pml_container_at(pml_Pool *p, uint64_t off) {
  return sound(p, container_at(p, off));
}

static int table_ok(pml_Pool *p, const pml_Table *t) {
  if (t->body == 0) return t->cap == 0 && t->used == 0 && t->count == 0;
  return t->cap > 0 && (t->cap & (t->cap - 1)) == 0 && t->cap <= ((uint64_t)1 << 31) &&
         t->used <= t->cap && t->count <= t->used &&
         pml_tx_live(p, t->body, PML_TTBODY, pml_tbody_size(t->cap));
}

static int list_ok(pml_Pool *p, const pml_List *l) {
  if (l->items == 0) return l->cap == 0 && l->len == 0;
  return l->len <= l->cap && l->cap <= ((uint64_t)1 << 40) &&
         pml_tx_live(p, l->items, PML_TLITEMS, l->cap * sizeof(pml_Cell));
}

static int container_ok(pml_Pool *p, uint64_t off) {
  pml_Block b;
  if (!container_at(p, off) || !pml_tx_block(p, off, &b)) return 0;
  switch (b.type) {
    case PML_TTABLE: case PML_TSET:
      return b.usable >= sizeof(pml_Table) && table_ok(p, pml_ptr(p, off));
    case PML_TOBJECT: {
      if (b.usable < sizeof(pml_Object) || !table_ok(p, pml_ptr(p, off))) return 0;
      const pml_Cell *c = &((pml_Object *)pml_ptr(p, off))->cls;
      return (c->tag == PML_CSSTR && c->slen <= PML_SSTR_MAX) ||
             (c->tag == PML_CLSTR && pml_str(p, c->u.off) != NULL);
    }
    case PML_TLIST: case PML_TTUPLE:
      return b.usable >= sizeof(pml_List) && list_ok(p, pml_ptr(p, off));
    default:
      return 0;
  }
}

int pml_container_ok(pml_Pool *p, uint64_t off) {
  return sound(p, container_ok(p, off));
}
