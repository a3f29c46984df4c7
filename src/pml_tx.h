/*
** pml_tx.h -- transactions over libpmemobj, without longjmp.
**
** Transactions begin with a NULL jump buffer and the POBJ_TX_FAILURE_RETURN
** behaviour: libpmemobj never longjmps, every failure comes back as a
** status. The caller must not let a Lua error escape between pml_tx_open
** and pml_tx_commit/pml_tx_abort (the binding layer guarantees it).
** Nested use joins the open transaction.
*/
#ifndef pml_tx_h
#define pml_tx_h

#include <stdint.h>

#include "pml_heap.h"
#include "pml_map.h"

typedef struct pml_Pool pml_Pool;

/*
** The open transaction and its journal: a sub-state of pml_Pool written
** only by pml_tx.c. What the transaction allocated and freed is not in
** the heap's bitmaps before commit, so the journal answers for it
** (pml_tx_block); lens keeps each list's length at the transaction's start
** (pml_tx_len_*). onend lets the module above that records the
** transaction's new containers (pml_ref.c) forget them at a rollback.
*/
typedef struct pml_TxState {
  int open;                 /* a libpmemobj transaction is open */
  int bulk;                 /* ... with the log reserve appended to its logs */
  uint64_t acts;            /* redo-log actions (frees, allocations) and */
  uint64_t snap;            /* undo-log bytes (snapshots) it has used */
  uint64_t freebytes;       /* bytes it frees */
  uint64_t freed;           /* bytes freed by commits since libpmemobj's
                               empty runs were last given back */
  pml_Map alloc;            /* offset -> size << 8 | type, allocated in it */
  pml_Map frees;            /* offsets it freed */
  pml_Map lens;             /* list offset -> its length when it began */
  void (*onend)(pml_Pool *p, int committed);  /* set for one transaction by
                               a module above; run when it ends, then cleared */
} pml_TxState;

void pml_tx_init(pml_Pool *p);
void pml_tx_free_state(pml_Pool *p);
/* is a transaction open on p? */
#define pml_tx_active(p)  ((p)->tx.open)


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
/* list journal: note list off's length len before its first change in
   the transaction (status); and the length it had when the transaction
   began, if it changed (1) or not (0) */
int pml_tx_len_note(pml_Pool *p, uint64_t off, uint64_t len);
int pml_tx_len_at_start(const pml_Pool *p, uint64_t off, uint64_t *len);

#endif
