/*
** pml_tx.c -- transactions over libpmemobj, without longjmp (pml_tx.h).
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pml_pool.h"
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

void pml_tx_init(pml_Pool *p) {
  pml_map_init(&p->tx.alloc);
  pml_map_init(&p->tx.frees);
  pml_map_init(&p->tx.lens);
}

void pml_tx_free_state(pml_Pool *p) {
  pml_map_free(&p->tx.alloc);
  pml_map_free(&p->tx.frees);
  pml_map_free(&p->tx.lens);
}

/* log_failed -- the message for a pool whose log could not be written */
static int log_failed(pml_Pool *p) {
  p->errnum = p->wal.err;
  snprintf(p->err, sizeof p->err, "%.300s: cannot write the pool's log (%s): the "
           "last change is not durable and no more are accepted; close and reopen "
           "the pool (it holds every change committed before)", p->wal.path,
           strerror(p->wal.err));
  return PML_ESYS;
}

int pml_tx_open(pml_Pool *p) {
  if (p->tx.open) return PML_OK;
  if (p->wal.err) return log_failed(p);
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
  p->tx.open = 1;
  p->tx.bulk = 0;
  p->tx.acts = 1;                 /* the first snapshot adds a redo action */
  p->tx.snap = 0;
  p->tx.freebytes = 0;
  p->tx.onend = NULL;
  return PML_OK;
}

int pml_tx_open_bulk(pml_Pool *p) {
  if (p->tx.open) return PML_OK;
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
  p->tx.bulk = 1;
  return PML_OK;
}

int pml_tx_room(const pml_Pool *p, uint64_t acts, uint64_t snap) {
  uint64_t redo = LANE_REDO, undo = LANE_UNDO;
  if (p->tx.bulk) {
    redo += PML_LOGBUF_SIZE / 2 - BUF_SLACK;
    undo += PML_LOGBUF_SIZE / 2 - BUF_SLACK;
  }
  return (p->tx.acts + acts) * REDO_ENTRY <= redo && p->tx.snap + snap + BUF_SLACK <= undo;
}

/* end -- the transaction is over, committed or rolled back: its
   allocations and frees are in the heap's own metadata now (or undone),
   and the module above that asked is told */
static void end(pml_Pool *p, int committed) {
  p->tx.open = 0;
  if (!committed) p->epoch++;                   /* the undo log restored data */
  pml_map_clear(&p->tx.alloc);
  pml_map_clear(&p->tx.frees);
  pml_map_clear(&p->tx.lens);
  void (*onend)(pml_Pool *, int) = p->tx.onend;
  p->tx.onend = NULL;
  if (onend) onend(p, committed);
}

void pml_tx_abort(pml_Pool *p) {
  if (!p->tx.open) return;
  if (pmemobj_tx_stage() == TX_STAGE_WORK) pmemobj_tx_abort(ECANCELED);
  pmemobj_tx_end();
  end(p, 0);
}

int pml_tx_commit(pml_Pool *p) {
  if (!p->tx.open) return PML_OK;
  if (pmemobj_tx_stage() == TX_STAGE_WORK) pmemobj_tx_commit();
  int committed = pmemobj_tx_stage() == TX_STAGE_ONCOMMIT;
  int e = pmemobj_tx_end();
  end(p, committed);
  if (!committed) return status(p, e ? e : ECANCELED);
  if (pml_wal_commit(&p->wal) != 0) return log_failed(p);
  /* room freed for one size becomes room for any once the runs it leaves
     empty are given back: do it for every eighth of the pool freed */
  p->tx.freed += p->tx.freebytes;
  if (p->tx.freed >= p->size / 8) {
    p->tx.freed = 0;
    pml_pool_recycle(p);
  }
  return PML_OK;
}

int pml_tx_snap(pml_Pool *p, void *ptr, size_t n) {
  p->epoch++;
  p->tx.snap += pml_tx_snapcost(n);
  return status(p, pmemobj_tx_add_range_direct(ptr, n));
}

int pml_tx_fresh(pml_Pool *p, void *ptr, size_t n) {
  p->epoch++;
  return status(p, pmemobj_tx_xadd_range_direct(ptr, n,
                POBJ_XADD_NO_SNAPSHOT | POBJ_XADD_ASSUME_INITIALIZED));
}

uint64_t pml_tx_alloc(pml_Pool *p, size_t n, unsigned type, int zero, int *st) {
  p->epoch++;
  p->tx.acts++;
  PMEMoid oid = pmemobj_tx_xalloc(n, type, zero ? POBJ_XALLOC_ZERO : 0);
  if (OID_IS_NULL(oid)) {
    *st = status(p, errno ? errno : ENOMEM);
    return 0;
  }
  int isnew;
  pml_MapSlot *s = pml_map_put(&p->tx.alloc, oid.off, &isnew);
  if (s == NULL) {
    *st = PML_ENOMEM;
    return 0;
  }
  s->val = ((uint64_t)n << 8) | type;
  pml_map_del(&p->tx.frees, oid.off);       /* a block freed, then reused */
  *st = PML_OK;
  return oid.off;
}

int pml_tx_block(pml_Pool *p, uint64_t off, pml_Block *b) {
  pml_MapSlot *s;
  if (p->tx.frees.count && pml_map_find(&p->tx.frees, off)) return 0;
  if (p->tx.alloc.count && (s = pml_map_find(&p->tx.alloc, off)) != NULL) {
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
  if (pml_map_put(&p->tx.frees, off, &isnew) == NULL) return PML_ENOMEM;
  pml_map_del(&p->tx.alloc, off);
  PMEMoid oid = { p->uuid_lo, off };
  p->epoch++;
  p->tx.acts++;
  p->tx.freebytes += pmemobj_alloc_usable_size(oid);
  return status(p, pmemobj_tx_free(oid));
}

int pml_tx_len_note(pml_Pool *p, uint64_t off, uint64_t len) {
  int isnew;
  pml_MapSlot *s = pml_map_put(&p->tx.lens, off, &isnew);
  if (s == NULL) return PML_ENOMEM;
  if (isnew) s->val = len;
  return PML_OK;
}

int pml_tx_len_at_start(const pml_Pool *p, uint64_t off, uint64_t *len) {
  const pml_MapSlot *s = pml_map_find(&p->tx.lens, off);
  if (s != NULL) *len = s->val;
  return s != NULL;
}
