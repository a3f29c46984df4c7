/*
** pml_list.c -- persistent sequences (pml_list.h).
*/
#include <string.h>

#include "pml_list.h"
#include "pml_ref.h"
#include "pml_tx.h"
#include "pml_valid.h"

#define MIN_CAP 4

uint64_t pml_list_new(pml_Pool *p, unsigned type, int *st) {
  uint64_t off = pml_tx_alloc(p, sizeof(pml_List), type, 1, st);
  if (off == 0) return 0;
  pml_hdr(p, off)->kind = type;
  *st = pml_ref_born(p, off);
  return off;
}

/* resize -- move the items into a fresh array of cap cells */
static int resize(pml_Pool *p, pml_List *l, uint64_t cap) {
  int st;
  uint64_t ni = pml_tx_alloc(p, cap * sizeof(pml_Cell), PML_TLITEMS, 0, &st);
  if (ni == 0) return st;
  if (l->len) memcpy(pml_ptr(p, ni), pml_list_items(p, l), l->len * sizeof(pml_Cell));
  if (l->items != 0 && (st = pml_tx_free(p, l->items, PML_TLITEMS)) != PML_OK) return st;
  if ((st = pml_tx_snap(p, &l->len, 3 * sizeof(uint64_t))) != PML_OK) return st;
  l->cap = cap;
  l->items = ni;
  return PML_OK;
}

int pml_list_reserve(pml_Pool *p, pml_List *l, uint64_t n) {
  if (n <= l->cap) return PML_OK;
  uint64_t cap = l->cap < MIN_CAP ? MIN_CAP : l->cap;
  while (cap < n) cap *= 2;
  return resize(p, l, cap);
}

/* shrink -- give room back when a list falls below a quarter of its array */
static int shrink(pml_Pool *p, pml_List *l) {
  if (l->cap <= 2 * MIN_CAP || l->len >= l->cap / 4) return PML_OK;
  return resize(p, l, l->len * 2 < MIN_CAP ? MIN_CAP : l->len * 2);
}

/* set_len -- snapshot and change the length; the first change in a
   transaction records the length it began with (see add_cell) */
static int set_len(pml_Pool *p, pml_List *l, uint64_t len) {
  int st = pml_tx_len_note(p, pml_off(p, l), l->len);
  if (st == PML_OK) st = pml_tx_snap(p, &l->len, sizeof l->len);
  if (st == PML_OK) l->len = len;
  return st;
}

/*
** add_cell -- add cell i (== len) to the transaction before writing it.
** A cell at or past the length the transaction began with holds nothing
** committed, so it needs no snapshot; one below it (the list shrank
** earlier in this transaction) does.
*/
static int add_cell(pml_Pool *p, pml_List *l, pml_Cell *c) {
  uint64_t start;
  if (pml_tx_len_at_start(p, pml_off(p, l), &start) && l->len < start)
    return pml_tx_snap(p, c, sizeof *c);
  return pml_tx_fresh(p, c, sizeof *c);
}

int pml_list_append(pml_Pool *p, pml_List *l, const pml_Val *v) {
  int st = pml_list_reserve(p, l, l->len + 1);
  if (st != PML_OK) return st;
  pml_Cell *c = &pml_list_items(p, l)[l->len];
  if ((st = add_cell(p, l, c)) != PML_OK) return st;
  if ((st = pml_cell_init(p, c, v)) != PML_OK) return st;
  return set_len(p, l, l->len + 1);
}

int pml_list_set(pml_Pool *p, pml_List *l, uint64_t i, const pml_Val *v) {
  if (i >= l->len) return PML_EINDEX;
  return pml_cell_set(p, &pml_list_items(p, l)[i], v);
}

int pml_list_insert(pml_Pool *p, pml_List *l, uint64_t i, const pml_Val *v) {
  if (i > l->len) return PML_EINDEX;
  if (i == l->len) return pml_list_append(p, l, v);
  int st = pml_list_reserve(p, l, l->len + 1);
  if (st != PML_OK) return st;
  pml_Cell *items = pml_list_items(p, l);
  /* the cells i..len-1 move up one: snapshots of them, and the new last
     cell as an append adds it (never a snapshot of a cell never written) */
  if ((st = add_cell(p, l, &items[l->len])) != PML_OK ||
      (st = pml_tx_snap(p, &items[i], (l->len - i) * sizeof(pml_Cell))) != PML_OK)
    return st;
  memmove(&items[i + 1], &items[i], (l->len - i) * sizeof(pml_Cell));
  if ((st = pml_cell_init(p, &items[i], v)) != PML_OK) return st;
  return set_len(p, l, l->len + 1);
}

int pml_list_remove(pml_Pool *p, pml_List *l, uint64_t i) {
  if (i >= l->len) return PML_EINDEX;
  pml_Cell *items = pml_list_items(p, l);
  int st = pml_cell_release(p, &items[i]);
  if (st != PML_OK) return st;
  if (i + 1 < l->len) {
    if ((st = pml_tx_snap(p, &items[i], (l->len - i) * sizeof(pml_Cell))) != PML_OK)
      return st;
    memmove(&items[i], &items[i + 1], (l->len - i - 1) * sizeof(pml_Cell));
  }
  if ((st = set_len(p, l, l->len - 1)) != PML_OK) return st;
  return shrink(p, l);
}

int pml_list_clear(pml_Pool *p, pml_List *l, int *deferred) {
  uint64_t frees = l->items != 0, refs = 0;
  pml_Cell *items = l->items ? pml_list_items(p, l) : NULL;
  for (uint64_t i = 0; i < l->len; i++) {
    frees += items[i].tag == PML_CLSTR;
    refs += items[i].tag == PML_CREF;
  }
  int st;
  *deferred = !pml_tx_room(p, frees, (refs + 2) * pml_tx_snapcost(3 * sizeof(uint64_t)));
  if (!*deferred) {
    st = pml_list_free_items(p, l, 1);
  } else {                            /* a dead list takes the items over */
    uint64_t off = pml_list_new(p, PML_TLIST, &st);
    if (off == 0) return st;
    pml_List *d = pml_list(p, off);   /* allocated in this transaction */
    d->len = l->len;
    d->cap = l->cap;
    d->items = l->items;
  }
  if (st == PML_OK) st = pml_tx_snap(p, &l->len, 3 * sizeof(uint64_t));
  if (st == PML_OK) l->len = l->cap = l->items = 0;
  return st;
}

void pml_list_refs(pml_Pool *p, const pml_List *l,
                   void (*fn)(void *ud, uint64_t off), void *ud) {
  pml_Cell *items = l->items ? pml_list_items(p, l) : NULL;
  for (uint64_t i = 0; i < l->len; i++)
    if (items[i].tag == PML_CREF) fn(ud, items[i].u.off);
}

int pml_list_strings_ok(pml_Pool *p, const pml_List *l) {
  pml_Cell *items = l->items ? pml_list_items(p, l) : NULL;
  for (uint64_t i = 0; i < l->len; i++)
    if (items[i].tag == PML_CLSTR && pml_str(p, items[i].u.off) == NULL) return 0;
  return 1;
}

int pml_list_free_items(pml_Pool *p, pml_List *l, int decref) {
  if (l->items == 0) return PML_OK;
  pml_Cell *items = pml_list_items(p, l);
  int st = PML_OK;
  for (uint64_t i = 0; i < l->len && st == PML_OK; i++)
    if (items[i].tag == PML_CLSTR || (decref && items[i].tag == PML_CREF))
      st = pml_cell_release(p, &items[i]);
  return st == PML_OK ? pml_tx_free(p, l->items, PML_TLITEMS) : st;
}
