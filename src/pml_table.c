/*
** pml_table.c -- persistent insertion-ordered hash tables (pml_table.h).
*/
#include <string.h>

#include "pml_table.h"
#include "pml_ref.h"
#include "pml_tx.h"
#include "pml_valid.h"

#define SLOT(h32, idx)  (((uint64_t)(h32) << 32) | ((uint64_t)(idx) + 1))
#define SLOT_IDX(s)     ((s & 0xffffffffu) - 1)
#define SLOT_H32(s)     ((uint32_t)((s) >> 32))

uint64_t pml_table_new(pml_Pool *p, unsigned type, int *st) {
  size_t n = type == PML_TOBJECT ? sizeof(pml_Object) : sizeof(pml_Table);
  uint64_t off = pml_tx_alloc(p, n, type, 1, st);
  if (off == 0) return 0;
  pml_hdr(p, off)->kind = type;
  *st = pml_ref_born(p, off);
  return off;
}

pml_Entry *pml_table_find(pml_Pool *p, const pml_Table *t, const pml_Val *k,
                          uint64_t h) {
  if (t->body == 0) return NULL;
  char *b = pml_ptr(p, t->body);
  uint64_t *slots = pml_tbody_slots(b);
  pml_Entry *es = pml_tbody_entries(b, t->cap);
  uint64_t mask = 2 * t->cap - 1;
  uint32_t h32 = (uint32_t)(h >> 32);
  /* at most every slot once, and only indexes below used: a damaged body
     can make a lookup miss, never loop or read outside it */
  for (uint64_t i = h & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
    uint64_t s = slots[i];
    if (s == 0) return NULL;
    if (SLOT_H32(s) == h32 && SLOT_IDX(s) < t->used) {
      pml_Entry *e = &es[SLOT_IDX(s)];
      if (pml_cell_iskey(p, &e->key, k)) return e;
    }
  }
  return NULL;
}

/* free_slot -- a free slot of body b (capacity cap) for hash h */
static uint64_t *free_slot(char *b, uint64_t cap, uint64_t h) {
  uint64_t *slots = pml_tbody_slots(b);
  uint64_t mask = 2 * cap - 1, i = h & mask;
  /* used < cap <= half the slots: a free slot exists (bounded all the same) */
  for (uint64_t n = 0; slots[i] != 0 && n <= mask; n++) i = (i + 1) & mask;
  return &slots[i];
}

/*
** rebuild -- move the live entries into a new body of room for `need`
** keys (growing or shrinking); dead keys are released. The new body is a
** fresh allocation, so only the header is snapshotted.
*/
static int rebuild(pml_Pool *p, pml_Table *t, uint64_t need) {
  uint64_t cap = 4;
  while (cap < need + need / 2) cap *= 2;
  int st;
  uint64_t nb = pml_tx_alloc(p, pml_tbody_size(cap), PML_TTBODY, 1, &st);
  if (nb == 0) return st;
  char *b = pml_ptr(p, nb);
  pml_Entry *dst = pml_tbody_entries(b, cap);
  uint64_t n = 0;
  if (t->body != 0) {
    char *ob = pml_ptr(p, t->body);
    pml_Entry *src = pml_tbody_entries(ob, t->cap);
    for (uint64_t i = 0; i < t->used; i++) {
      pml_Entry *e = &src[i];
      if (e->val.tag != PML_CNIL) {
        uint64_t h = pml_cell_hash(p, &e->key);
        dst[n] = *e;
        *free_slot(b, cap, h) = SLOT(h >> 32, n);
        n++;
      } else if (e->key.tag != PML_CTOMB) {
        if ((st = pml_cell_release(p, &e->key)) != PML_OK) return st;
      }
    }
    if ((st = pml_tx_free(p, t->body, PML_TTBODY)) != PML_OK) return st;
  }
  if ((st = pml_tx_snap(p, &t->count, 4 * sizeof(uint64_t))) != PML_OK) return st;
  t->used = n;
  t->cap = cap;
  t->body = nb;
  return PML_OK;
}

/* drop_body -- an emptied table gives its body back */
static int drop_body(pml_Pool *p, pml_Table *t) {
  int st = pml_table_free_body(p, t, 1);
  if (st != PML_OK) return st;
  st = pml_tx_snap(p, &t->count, 4 * sizeof(uint64_t));
  if (st == PML_OK) t->count = t->used = t->cap = t->body = 0;
  return st;
}

/* insert -- append a new entry for k (absent from the table) */
static int insert(pml_Pool *p, pml_Table *t, const pml_Val *k, uint64_t h,
                  const pml_Val *v) {
  int st;
  if (t->used == t->cap && (st = rebuild(p, t, t->count + 1)) != PML_OK) return st;
  char *b = pml_ptr(p, t->body);
  pml_Entry *e = &pml_tbody_entries(b, t->cap)[t->used];
  if ((st = pml_tx_fresh(p, e, sizeof *e)) != PML_OK) return st;
  if ((st = pml_cell_init(p, &e->key, k)) != PML_OK) return st;
  if ((st = pml_cell_init(p, &e->val, v)) != PML_OK) return st;
  uint64_t *slot = free_slot(b, t->cap, h);
  if ((st = pml_tx_snap(p, slot, sizeof *slot)) != PML_OK) return st;
  *slot = SLOT(h >> 32, t->used);
  if ((st = pml_tx_snap(p, &t->count, 2 * sizeof(uint64_t))) != PML_OK) return st;
  t->count++;
  t->used++;
  return PML_OK;
}

/* remove -- e's key becomes dead: value nil, key kept for next() */
static int remove_entry(pml_Pool *p, pml_Table *t, pml_Entry *e) {
  pml_Val nil;
  if (t->count == 1) return drop_body(p, t);
  pml_val_tag(&nil, PML_CNIL);
  int st = pml_cell_set(p, &e->val, &nil);
  if (st == PML_OK && e->key.tag == PML_CREF) {   /* drop the key's reference */
    st = pml_tx_snap(p, &e->key, sizeof e->key);
    if (st == PML_OK) st = pml_ref_dec(p, e->key.u.off);
    if (st == PML_OK) e->key.tag = PML_CDEADREF;
  }
  if (st == PML_OK) st = pml_tx_snap(p, &t->count, sizeof t->count);
  if (st == PML_OK) t->count--;
  return st;
}

int pml_table_set(pml_Pool *p, pml_Table *t, const pml_Val *k, uint64_t h,
                  const pml_Val *v) {
  pml_Entry *e = pml_table_find(p, t, k, h);
  if (v->tag == PML_CNIL)
    return (e && e->val.tag != PML_CNIL) ? remove_entry(p, t, e) : PML_OK;
  if (e && e->val.tag != PML_CNIL) return pml_cell_set(p, &e->val, v);
  if (e) {                          /* a dead key set again goes to the end */
    int st = pml_tx_snap(p, &e->key, sizeof e->key);
    if (st == PML_OK) st = pml_cell_release(p, &e->key);
    if (st != PML_OK) return st;
    e->key.tag = PML_CTOMB;
  }
  return insert(p, t, k, h, v);
}

/*
** findable -- does a lookup of e's key find e? Always, in a sound table. A
** damaged one may hold a key twice, and a traversal that continues from the
** key of the second copy would come back to it for ever: next() returns
** only entries whose key leads back to them.
*/
static int findable(pml_Pool *p, const pml_Table *t, const pml_Entry *e) {
  pml_Val k;
  size_t len;
  if (e->key.tag == PML_CLSTR) {
    const char *s = pml_cell_str(p, &e->key, &len);
    if (s == NULL) return 0;
    pml_val_str(&k, s, len);
  } else {
    k.tag = e->key.tag;
    k.u.off = e->key.u.off;
    k.img = e->key;
  }
  return pml_table_find(p, t, &k, pml_cell_hash(p, &e->key)) == e;
}

/*
** missing_key -- next() was given a key the index does not find: a key that
** is not in the table (PML_EKEY), unless an entry holds it all the same and
** the index is damaged (PML_EDAMAGED). A failure path: a linear scan.
*/
static int missing_key(pml_Pool *p, const pml_Table *t, const pml_Val *k) {
  pml_Entry *es = pml_tbody_entries(pml_ptr(p, t->body), t->cap);
  for (uint64_t i = 0; i < t->used; i++)
    if (pml_cell_iskey(p, &es[i].key, k)) return PML_EDAMAGED;
  return PML_EKEY;
}

int pml_table_next(pml_Pool *p, const pml_Table *t, const pml_Val *k,
                   uint64_t h, pml_Entry **out) {
  *out = NULL;
  if (t->body == 0) return PML_OK;        /* empty: every traversal ends */
  pml_Entry *es = pml_tbody_entries(pml_ptr(p, t->body), t->cap);
  uint64_t i = 0;
  if (k != NULL) {
    pml_Entry *e = pml_table_find(p, t, k, h);
    if (e == NULL) return missing_key(p, t, k);
    i = (uint64_t)(e - es) + 1;
  }
  for (; i < t->used; i++)
    if (es[i].val.tag != PML_CNIL) { *out = &es[i]; break; }
  return *out == NULL || findable(p, t, *out) ? PML_OK : PML_EDAMAGED;
}

void pml_table_refs(pml_Pool *p, const pml_Table *t,
                    void (*fn)(void *ud, uint64_t off), void *ud) {
  if (t->body == 0 || fn == NULL) return;
  pml_Entry *es = pml_tbody_entries(pml_ptr(p, t->body), t->cap);
  for (uint64_t i = 0; i < t->used; i++) {
    if (es[i].key.tag == PML_CREF) fn(ud, es[i].key.u.off);
    if (es[i].val.tag == PML_CREF) fn(ud, es[i].val.u.off);
  }
}

int pml_table_strings_ok(pml_Pool *p, const pml_Table *t) {
  if (t->body == 0) return 1;
  pml_Entry *es = pml_tbody_entries(pml_ptr(p, t->body), t->cap);
  for (uint64_t i = 0; i < t->used; i++)
    if ((es[i].key.tag == PML_CLSTR && pml_str(p, es[i].key.u.off) == NULL) ||
        (es[i].val.tag == PML_CLSTR && pml_str(p, es[i].val.u.off) == NULL))
      return 0;
  return 1;
}

/* release -- free c's long string; drop its reference if decref */
static int release(pml_Pool *p, const pml_Cell *c, int decref) {
  if (c->tag == PML_CREF && !decref) return PML_OK;
  return pml_cell_release(p, c);
}

int pml_table_free_body(pml_Pool *p, pml_Table *t, int decref) {
  if (t->body == 0) return PML_OK;
  pml_Entry *es = pml_tbody_entries(pml_ptr(p, t->body), t->cap);
  int st = PML_OK;
  for (uint64_t i = 0; i < t->used && st == PML_OK; i++) {
    st = release(p, &es[i].key, decref);      /* PML_CTOMB: nothing held */
    if (st == PML_OK) st = release(p, &es[i].val, decref);
  }
  return st == PML_OK ? pml_tx_free(p, t->body, PML_TTBODY) : st;
}
