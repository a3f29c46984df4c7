/*
** pml_valid.h -- checks of what a pool holds, before it is followed or
** freed: a damaged pool may hold any bits. Each check asks the open
** transaction's view of the heap (pml_tx_block) whether an offset is the
** start of a live allocation of the right type and size, then checks the
** header or body found there. Read-only: nothing here changes the pool;
** a failed check is counted in pml_Pool.damage (written only here).
*/
#ifndef pml_valid_h
#define pml_valid_h

#include <stdint.h>

#include "pml_pool.h"

/* the long string at off, or NULL unless a live string allocation holds it */
pml_Str *pml_str(pml_Pool *p, uint64_t off);
/* is off a live container whose header's kind is its allocation's type? */
int pml_container_at(pml_Pool *p, uint64_t off);
/* ... and well-formed enough to follow (its body or items live and of
   the right size, counts coherent, an object's class name sound)? */
int pml_container_ok(pml_Pool *p, uint64_t off);
/* damage met where the checks above do not see it: counted, as every
   failed check is, in pml_Pool.damage */
void pml_valid_met(pml_Pool *p);

#endif
