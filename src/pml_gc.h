/*
** pml_gc.h -- garbage collection of stored containers.
**
** Containers carry reference counts; every container that is new or
** whose count dropped is a suspect (pml_ref.h keeps both). A collection
** looks only at the suspects and what they reach, so its cost grows with
** what the run changed, not with the pool:
**  1. a suspect with no references and not held by a live Lua value is
**     freed, and its children's counts drop (freeing cascades);
**  2. the remaining suspects are roots of a trial deletion (synchronous
**     cycle collection, Bacon & Rajan 2001): counts are decremented along
**     every edge inside the subgraph they reach; nodes left with outside
**     references (or held by Lua) and all they reach are live, the rest
**     is garbage cycles and is freed.
** Frees are committed in batches; a crash between batches leaves only
** unreachable garbage, which pml_gc_full reclaims at the next open (the
** pool's run state says the run did not close).
** pml_gc_full is a mark-and-sweep from the root over every object,
** for the open that follows a crash: the suspects of that run are lost.
** Damage never stops a collection: a reference that is not a sound
** container is not followed, and garbage that is not sound (or holds an
** unsound string) is left in place, never handed to libpmemobj to free.
*/
#ifndef pml_gc_h
#define pml_gc_h

#include <stddef.h>
#include <stdint.h>

typedef struct pml_Pool pml_Pool;

/* sub-state of pml_Pool, written only by pml_gc.c */
typedef struct pml_GcState {
  size_t pace;          /* suspects that make a collection due (0: the least) */
  int recovered;        /* a full collection ran since the open */
  int failed;           /* a collection stopped half-way: the next is full */
  uint64_t walk;        /* containers the last trial deletion walked */
  uint64_t credit;      /* suspects automatic collections met since then */
} pml_GcState;

/* pml_gc_collect's flags */
#define PML_GC_HELD  1  /* what a live Lua value holds survives */
#define PML_GC_AUTO  2  /* an automatic collection: the trial deletion may
                           wait until it is paid for (see pml_gc_collect) */

typedef struct pml_GcStats {
  uint64_t live;        /* containers in the pool afterwards */
  uint64_t collected;   /* containers freed */
  uint64_t damaged;     /* unsound references or garbage left alone */
} pml_GcStats;

/*
** collect the suspects (flags: PML_GC_*). The next automatic collection is
** paced at twice the suspects left (amortised O(1) per change); a failure
** makes the next collection a full one. The trial deletion walks what the
** remaining suspects reach, stopping at the pool's root container (always
** live): a back-pointer to the root costs nothing, one to an inner
** container costs what it reaches. An automatic collection runs it only
** once the suspects met since the last one are at least half what that one
** walked, so its cost stays O(1) per change amortised; until then the
** suspects wait (pool:gc() and the close always run it).
*/
int pml_gc_collect(pml_Pool *p, unsigned flags, pml_GcStats *out);
/* mark from the root and sweep the whole pool */
int pml_gc_full(pml_Pool *p, pml_GcStats *out);
/* must the next collection be a full one (the previous run crashed and
   none ran yet, or a collection failed half-way)? */
int pml_gc_full_due(const pml_Pool *p);
/* is an automatic collection due (outside transactions)? */
int pml_gc_due(const pml_Pool *p);
/* the invariant of reference counting: does every sound container's count
   equal the references to it from containers and the root cell? PML_OK,
   or PML_EDAMAGED with *bad the first container that differs. Outside
   transactions; walks the whole pool */
int pml_gc_audit(pml_Pool *p, uint64_t *bad);

#endif
