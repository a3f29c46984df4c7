/*
** pml_tx.h -- transactions over libpmemobj, without longjmp.
**
** Transactions begin with a NULL jump buffer and the POBJ_TX_FAILURE_RETURN
** behaviour: libpmemobj never longjmps, every failure comes back as a
** status. The caller must not let a Lua error escape between pml_tx_open
** and pml_tx_commit/pml_tx_abort (the binding layer guarantees it).
** Nested use joins the open transaction (pml_Pool.intx).
*/
#ifndef pml_tx_h
#define pml_tx_h

#include "pml_pool.h"

/* open a transaction on p, or join the one open */
int pml_tx_open(pml_Pool *p);
/* the same, with the pool's log reserve appended to the logs of a new
   transaction: for collections and bulk frees */
int pml_tx_open_bulk(pml_Pool *p);
/* do the open transaction's logs still hold acts more frees or allocations
   and snap more snapshot bytes (pml_tx_snapcost) without growing? Growing
   them allocates, which fails on a full pool */
int pml_tx_room(const pml_Pool *p, uint64_t acts, uint64_t snap);
/* undo-log bytes of a snapshot of n bytes (entry header, cache-line aligned) */
#define pml_tx_snapcost(n)  (((uint64_t)(n) + 24 + 63) & ~(uint64_t)63)
/* commit and end the open transaction; on failure it is rolled back */
int pml_tx_commit(pml_Pool *p);
/* roll back and end the open transaction (no-op if none) */
void pml_tx_abort(pml_Pool *p);

/* snapshot [ptr, ptr+n) into the undo log before changing it */
int pml_tx_snap(pml_Pool *p, void *ptr, size_t n);
/* add [ptr, ptr+n) without a snapshot: for memory not yet in use (past a
   length that is itself snapshotted); it is flushed at commit */
int pml_tx_fresh(pml_Pool *p, void *ptr, size_t n);
/* allocate n bytes of pmemobj type type; 0 (status in *st) on failure */
uint64_t pml_tx_alloc(pml_Pool *p, size_t n, unsigned type, int zero, int *st);
/* free the allocation of type at off: PML_EDAMAGED (nothing freed) unless
   pml_tx_live holds for it */
int pml_tx_free(pml_Pool *p, uint64_t off, unsigned type);
/* is off a live allocation, as the open transaction sees the heap (its
   allocations in, its frees out)? Fills b. Every offset read from a pool
   is checked here before it is followed or freed */
int pml_tx_block(pml_Pool *p, uint64_t off, pml_Block *b);
/* ... and is it one of type with at least n usable bytes? */
static inline int pml_tx_live(pml_Pool *p, uint64_t off, unsigned type, uint64_t n) {
  pml_Block b;
  return pml_tx_block(p, off, &b) && b.type == type && b.usable >= n;
}
/* record a container allocated in this transaction (forgotten on abort) */
int pml_tx_note_new(pml_Pool *p, uint64_t off);

#endif
