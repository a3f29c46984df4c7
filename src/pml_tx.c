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

/* no_log_room -- the message for a log that found no room (pml_wal_expect,
   pml_wal_room); the transaction is rolled back by the caller */
static int no_log_room(pml_Pool *p, int e) {
  p->errnum = e;
  snprintf(p->err, sizeof p->err, "%.300s: no room for the pool's log: %s; the "
           "change was rolled back: free space on the device, or delete data from "
           "the pool", p->wal.path,
           e == EFBIG ? "the process's file size limit (ulimit -f)" : strerror(e));
  return PML_ESYS;
}

/* expect -- the log notes the n bytes at ptr that the transaction changes */
static int expect(pml_Pool *p, const void *ptr, size_t n) {
  int e = pml_wal_expect(&p->wal, ptr, n);
  return e == 0 ? PML_OK : e == ENOMEM ? PML_ENOMEM : no_log_room(p, e);
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
  pml_wal_forget(&p->wal);
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

/* allocator metadata and lane pages a commit may write, per action */
#define PAGES_PER_ACT   2
#define PAGES_LANES     8

int pml_tx_commit(pml_Pool *p) {
  if (!p->tx.open) return PML_OK;
  int room_e = pml_wal_room(&p->wal, p->tx.acts * PAGES_PER_ACT + PAGES_LANES);
  if (room_e != 0) {
    pml_tx_abort(p);
    return no_log_room(p, room_e);
  }
  if (pmemobj_tx_stage() == TX_STAGE_WORK) pmemobj_tx_commit();
  int committed = pmemobj_tx_stage() == TX_STAGE_ONCOMMIT;
  int e = pmemobj_tx_end();
  end(p, committed);
  if (!committed) return status(p, e ? e : ECANCELED);
  if (pml_wal_commit(&p->wal) != 0) return log_failed(p);
  /* room freed for one size becomes room for any once the runs it leaves
     empty are given back: do it for every eighth of the pool freed */
  p->tx.freed += p->tx.freebytes;
  if (p->tx.freed >= p->room.used / 8) {
    p->tx.freed = 0;
    pml_pool_recycle(p);
  }
  return PML_OK;
}

/* room -- blocks on the device for n more bytes of the heap (an
   allocation, or a log extension libpmemobj allocates for a snapshot) */
static int room(pml_Pool *p, uint64_t n) {
  return pml_room_reserve(&p->room, n) == 0 ? PML_OK : PML_EROOM;
}

/* island -- a block placed past the room reserved from the pool's start
   (pml_room_note reserved it): its zone's headers and its chunk's start
   (a run's header) get blocks too, so that no page holding the heap's
   metadata or data is ever a hole the device may refuse (pml_wal.c skips
   such pages at a checkpoint: free space) */
static int island(pml_Pool *p, uint64_t off) {
  uint64_t zone_off, chunk;
  if (off + 1 <= p->room.used || p->room.fd < 0) return 0;
  pml_heap_meta(&p->heap, off, &zone_off, &chunk);
  if (zone_off && pml_room_note(&p->room, zone_off, PML_HEAP_ZONE_META) != 0) return -1;
  return chunk && chunk < off ? pml_room_note(&p->room, chunk, off - chunk) : 0;
}

int pml_tx_snap(pml_Pool *p, void *ptr, size_t n) {
  p->epoch++;
  p->tx.snap += pml_tx_snapcost(n);
  /* past the lane's undo log libpmemobj allocates extensions for it */
  if (p->tx.snap + BUF_SLACK > LANE_UNDO && room(p, n + LANE_UNDO) != PML_OK)
    return PML_EROOM;
  int st = expect(p, ptr, n);
  return st != PML_OK ? st : status(p, pmemobj_tx_add_range_direct(ptr, n));
}

int pml_tx_fresh(pml_Pool *p, void *ptr, size_t n) {
  p->epoch++;
  int st = expect(p, ptr, n);
  if (st != PML_OK) return st;
  return status(p, pmemobj_tx_xadd_range_direct(ptr, n,
                POBJ_XADD_NO_SNAPSHOT | POBJ_XADD_ASSUME_INITIALIZED));
}

uint64_t pml_tx_alloc(pml_Pool *p, size_t n, unsigned type, int zero, int *st) {
  p->epoch++;
  p->tx.acts++;
  if ((*st = room(p, n)) != PML_OK) return 0;
  PMEMoid oid = pmemobj_tx_xalloc(n, type, zero ? POBJ_XALLOC_ZERO : 0);
  if (OID_IS_NULL(oid)) {
    *st = status(p, errno ? errno : ENOMEM);
    return 0;
  }
  if (pml_room_note(&p->room, oid.off, n) != 0 || island(p, oid.off) != 0) {
    *st = PML_EROOM;              /* the transaction rolls it back */
    return 0;
  }
  if ((*st = expect(p, pml_ptr(p, oid.off), n)) != PML_OK) return 0;
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
  int st = expect(p, pml_ptr(p, off - 16), 16);       /* its header */
  if (st != PML_OK) return st;
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
