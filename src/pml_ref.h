/*
** pml_ref.h -- the lives of stored containers: their reference counts,
** the pool's count of containers, the suspect set the collector starts
** from, and the containers born in the open transaction.
**
** Every container that is new or whose count dropped is a suspect: it may
** be garbage, and only suspects (and what they reach) are looked at by a
** collection (pml_gc.h). This module alone writes the suspect set, the
** born set and the pool's count; the collector reads and trims the
** suspects through the functions below. Functions that change pool memory
** must be called inside a transaction.
*/
#ifndef pml_ref_h
#define pml_ref_h

#include <stddef.h>
#include <stdint.h>

#include "pml_map.h"

typedef struct pml_Pool pml_Pool;

/* sub-state of pml_Pool, written only by pml_ref.c */
typedef struct pml_RefState {
  pml_Map suspects;         /* containers new or whose count dropped */
  pml_Map born;             /* containers allocated in the open transaction */
} pml_RefState;

void pml_ref_init(pml_Pool *p);
void pml_ref_free_state(pml_Pool *p);

/* one reference more to / fewer to the container at off (a reference
   fewer makes it a suspect) */
int pml_ref_inc(pml_Pool *p, uint64_t off);
int pml_ref_dec(pml_Pool *p, uint64_t off);
/* the container just allocated at off: counted, a suspect, and forgotten
   (with the binding told, pml_Hooks.dropped) if the transaction rolls back */
int pml_ref_born(pml_Pool *p, uint64_t off);
/* the container at off is freed by the open transaction: uncounted */
int pml_ref_died(pml_Pool *p, uint64_t off);
/* after a full collection: the pool holds n containers, none suspect */
int pml_ref_recount(pml_Pool *p, uint64_t n);
/* the containers in the pool, as counted */
uint64_t pml_ref_count(const pml_Pool *p);

/* the suspects: how many, iteration (i from 0; NULL at the end), and
   dropping one the collector found live or freed */
size_t pml_ref_nsuspects(const pml_Pool *p);
const pml_MapSlot *pml_ref_next_suspect(const pml_Pool *p, size_t *i);
void pml_ref_clear_suspect(pml_Pool *p, uint64_t off);
/* make off a suspect again: the collector found it live only because a Lua
   value holds it, so a later collection must start from it */
int pml_ref_keep_suspect(pml_Pool *p, uint64_t off);

#endif
