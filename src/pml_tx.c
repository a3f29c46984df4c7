/*
** pml_tx.c -- transactions over libpmemobj, without longjmp (pml_tx.h).
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pml_tx.h"

/* status -- map a libpmemobj errno to a PML_* status */
static int status(pml_Pool *p, int e) {
  if (e == 0) return PML_OK;
  if (e == ENOMEM || e == ENOSPC) return PML_EFULL;
  p->errnum = e;
  snprintf(p->err, sizeof p->err, "%s", pmemobj_errormsg());
  return PML_ESYS;
}

/* what a libpmemobj 1.12 lane's logs hold without allocating: the redo log
   of a transaction 640 bytes (16 per free or allocation), its undo log
   2048 (pml_tx_snapcost per snapshot); a user buffer of n bytes adds n less
   its header and alignment */
#define LANE_REDO   640
#define LANE_UNDO   2048
#define REDO_ENTRY  16
#define BUF_SLACK   192

int pml_tx_open(pml_Pool *p) {
  if (p->intx) return PML_OK;
  if (pmemobj_tx_stage() != TX_STAGE_NONE) {     /* another pool's transaction */
    snprintf(p->err, sizeof p->err, "a transaction of another pool is open");
    p->errnum = EBUSY;
    return PML_ESYS;
  }
  if (pmemobj_tx_begin(p->pop, NULL, TX_PARAM_NONE) != 0) {
    int e = errno;
    if (pmemobj_tx_stage() != TX_STAGE_NONE) pmemobj_tx_end();
    return status(p, e ? e : EINVAL);
  }
  pmemobj_tx_set_failure_behavior(POBJ_TX_FAILURE_RETURN);
  p->intx = 1;
  p->txbulk = 0;
  p->txacts = 1;                  /* the first snapshot adds a redo action */
  p->txsnap = 0;
  p->txfreebytes = 0;
  return PML_OK;
}

int pml_tx_open_bulk(pml_Pool *p) {
  if (p->intx) return PML_OK;
  int st = pml_tx_open(p);
  if (st != PML_OK || p->logbuf == 0) return st;
  char *b = pml_ptr(p, p->logbuf);
  size_t half = PML_LOGBUF_SIZE / 2;
  if (pmemobj_tx_log_append_buffer(TX_LOG_TYPE_INTENT, b, half) != 0 ||
      pmemobj_tx_log_append_buffer(TX_LOG_TYPE_SNAPSHOT, b + half, half) != 0) {
    int e = errno;
    pml_tx_abort(p);
    return status(p, e ? e : EINVAL);
  }
  p->txbulk = 1;
  return PML_OK;
}

int pml_tx_room(const pml_Pool *p, uint64_t acts, uint64_t snap) {
  uint64_t redo = LANE_REDO, undo = LANE_UNDO;
  if (p->txbulk) {
    redo += PML_LOGBUF_SIZE / 2 - BUF_SLACK;
    undo += PML_LOGBUF_SIZE / 2 - BUF_SLACK;
  }
  return (p->txacts + acts) * REDO_ENTRY <= redo && p->txsnap + snap + BUF_SLACK <= undo;
}

/* end_journal -- the transaction is over: its allocations and frees are
   in the heap's own metadata now (or rolled back) */
static void end_journal(pml_Pool *p) {
  pml_map_clear(&p->txnew);
  pml_map_clear(&p->txlen);
  pml_map_clear(&p->txalloc);
  pml_map_clear(&p->txfreed);
}

/* forget_new -- volatile rollback: objects allocated in the transaction are gone */
static void forget_new(pml_Pool *p) {
  size_t i = 0;
  pml_MapSlot *s;
  while ((s = pml_map_next(&p->txnew, &i)) != NULL) {
    pml_map_del(&p->suspects, s->key);
    if (p->hooks) p->hooks->dropped(p->hookud, s->key);
  }
  end_journal(p);
}

void pml_tx_abort(pml_Pool *p) {
  if (!p->intx) return;
  if (pmemobj_tx_stage() == TX_STAGE_WORK) pmemobj_tx_abort(ECANCELED);
  pmemobj_tx_end();
  p->epoch++;                                   /* the undo log restored data */
  p->intx = 0;
  forget_new(p);
}

int pml_tx_commit(pml_Pool *p) {
  if (!p->intx) return PML_OK;
  if (pmemobj_tx_stage() == TX_STAGE_WORK) pmemobj_tx_commit();
  int committed = pmemobj_tx_stage() == TX_STAGE_ONCOMMIT;
  int e = pmemobj_tx_end();
  p->intx = 0;
  if (!committed) {
    p->epoch++;
    forget_new(p);
    return status(p, e ? e : ECANCELED);
  }
  end_journal(p);
  /* room freed for one size becomes room for any once the runs it leaves
     empty are given back: do it for every eighth of the pool freed */
  p->freed += p->txfreebytes;
  if (p->freed >= p->size / 8) {
    p->freed = 0;
    pml_pool_recycle(p);
  }
  return PML_OK;
}

int pml_tx_snap(pml_Pool *p, void *ptr, size_t n) {
  p->epoch++;
  p->txsnap += pml_tx_snapcost(n);
  return status(p, pmemobj_tx_add_range_direct(ptr, n));
}

int pml_tx_fresh(pml_Pool *p, void *ptr, size_t n) {
  p->epoch++;
  return status(p, pmemobj_tx_xadd_range_direct(ptr, n,
                POBJ_XADD_NO_SNAPSHOT | POBJ_XADD_ASSUME_INITIALIZED));
}

uint64_t pml_tx_alloc(pml_Pool *p, size_t n, unsigned type, int zero, int *st) {
  p->epoch++;
  p->txacts++;
  PMEMoid oid = pmemobj_tx_xalloc(n, type, zero ? POBJ_XALLOC_ZERO : 0);
  if (OID_IS_NULL(oid)) {
    *st = status(p, errno ? errno : ENOMEM);
    return 0;
  }
  int isnew;
  pml_MapSlot *s = pml_map_put(&p->txalloc, oid.off, &isnew);
  if (s == NULL) {
    *st = PML_ENOMEM;
    return 0;
  }
  s->val = ((uint64_t)n << 8) | type;
  pml_map_del(&p->txfreed, oid.off);        /* a block freed, then reused */
  *st = PML_OK;
  return oid.off;
}

int pml_tx_block(pml_Pool *p, uint64_t off, pml_Block *b) {
  pml_MapSlot *s;
  if (p->txfreed.count && pml_map_find(&p->txfreed, off)) return 0;
  if (p->txalloc.count && (s = pml_map_find(&p->txalloc, off)) != NULL) {
    b->off = off;
    b->type = s->val & 0xff;
    b->usable = s->val >> 8;
    return 1;
  }
  return pml_heap_block(&p->heap, off, b);
}

int pml_tx_free(pml_Pool *p, uint64_t off, unsigned type) {
  int isnew;
  if (!pml_tx_live(p, off, type, 0)) return PML_EDAMAGED;
  if (pml_map_put(&p->txfreed, off, &isnew) == NULL) return PML_ENOMEM;
  pml_map_del(&p->txalloc, off);
  PMEMoid oid = { p->uuid_lo, off };
  p->epoch++;
  p->txacts++;
  p->txfreebytes += pmemobj_alloc_usable_size(oid);
  return status(p, pmemobj_tx_free(oid));
}

int pml_tx_note_new(pml_Pool *p, uint64_t off) {
  int isnew;
  int st = pml_tx_snap(p, &p->root->nobjects, sizeof p->root->nobjects);
  if (st != PML_OK) return st;
  p->root->nobjects++;
  if (pml_map_put(&p->txnew, off, &isnew) == NULL) return PML_ENOMEM;
  if (pml_map_put(&p->suspects, off, &isnew) == NULL) return PML_ENOMEM;
  return PML_OK;
}
