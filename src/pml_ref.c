/*
** pml_ref.c -- the lives of stored containers (pml_ref.h).
*/
#include "pml_pool.h"
#include "pml_ref.h"
#include "pml_tx.h"

#define HDR(p, off)  ((pml_Hdr *)pml_ptr(p, off))

void pml_ref_init(pml_Pool *p) {
  pml_map_init(&p->ref.suspects);
  pml_map_init(&p->ref.born);
}

void pml_ref_free_state(pml_Pool *p) {
  pml_map_free(&p->ref.suspects);
  pml_map_free(&p->ref.born);
}

static int suspect(pml_Pool *p, uint64_t off) {
  int isnew;
  return pml_map_put(&p->ref.suspects, off, &isnew) ? PML_OK : PML_ENOMEM;
}

int pml_ref_inc(pml_Pool *p, uint64_t off) {
  pml_Hdr *h = HDR(p, off);
  int st = pml_tx_snap(p, &h->refcount, sizeof h->refcount);
  if (st == PML_OK) h->refcount++;
  return st;
}

int pml_ref_dec(pml_Pool *p, uint64_t off) {
  pml_Hdr *h = HDR(p, off);
  int st = pml_tx_snap(p, &h->refcount, sizeof h->refcount);
  if (st != PML_OK) return st;
  h->refcount--;
  return suspect(p, off);
}

/* tx_end -- the transaction that gave birth ended (pml_TxState.onend): at
   a rollback its containers are gone, so they are no longer suspects and
   the binding is told */
static void tx_end(pml_Pool *p, int committed) {
  size_t i = 0;
  pml_MapSlot *s;
  while (!committed && (s = pml_map_next(&p->ref.born, &i)) != NULL) {
    pml_map_del(&p->ref.suspects, s->key);
    if (p->hooks) p->hooks->dropped(p->hookud, s->key);
  }
  pml_map_clear(&p->ref.born);
}

int pml_ref_born(pml_Pool *p, uint64_t off) {
  int isnew;
  int st = pml_tx_snap(p, &p->root->nobjects, sizeof p->root->nobjects);
  if (st != PML_OK) return st;
  p->root->nobjects++;
  if (pml_map_put(&p->ref.born, off, &isnew) == NULL) return PML_ENOMEM;
  p->tx.onend = tx_end;
  return suspect(p, off);
}

int pml_ref_died(pml_Pool *p, uint64_t off) {
  int st = pml_tx_snap(p, &p->root->nobjects, sizeof p->root->nobjects);
  if (st == PML_OK) p->root->nobjects--;
  return st;
}

int pml_ref_recount(pml_Pool *p, uint64_t n) {
  int st = pml_tx_snap(p, &p->root->nobjects, sizeof p->root->nobjects);
  if (st != PML_OK) return st;
  p->root->nobjects = n;
  pml_map_clear(&p->ref.suspects);
  return PML_OK;
}

uint64_t pml_ref_count(const pml_Pool *p) {
  return p->root ? p->root->nobjects : 0;
}

size_t pml_ref_nsuspects(const pml_Pool *p) {
  return p->ref.suspects.count;
}

const pml_MapSlot *pml_ref_next_suspect(const pml_Pool *p, size_t *i) {
  return pml_map_next(&p->ref.suspects, i);
}

void pml_ref_clear_suspect(pml_Pool *p, uint64_t off) {
  pml_map_del(&p->ref.suspects, off);
}

int pml_ref_keep_suspect(pml_Pool *p, uint64_t off) {
  return suspect(p, off);
}
