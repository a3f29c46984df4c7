/*
** pml_gc.h -- garbage collection of stored containers.
**
** Containers carry reference counts (pml_cell.c keeps them); every
** container that is new or whose count dropped is a suspect. A collection
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

#include "pml_pool.h"

typedef struct pml_GcStats {
  uint64_t live;        /* containers in the pool afterwards */
  uint64_t collected;   /* containers freed */
  uint64_t damaged;     /* unsound references or garbage left alone */
} pml_GcStats;

/* is the container at off well-formed enough to follow (header in the
   pool, a known kind, its body or items in the pool and sizes coherent)? */
int pml_container_ok(pml_Pool *p, uint64_t off);

/* collect the suspects; held objects survive only if use_held */
int pml_gc_collect(pml_Pool *p, int use_held, pml_GcStats *out);
/* mark from the root and sweep the whole pool (after a crash) */
int pml_gc_full(pml_Pool *p, pml_GcStats *out);

#endif
