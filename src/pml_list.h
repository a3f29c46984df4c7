/*
** pml_list.h -- persistent sequences (lists and tuples; pml_layout.h).
**
** Positions here are 0-based; the binding layer speaks Lua's 1-based.
** Cost: a read is O(1); replacing snapshots one 16-byte cell; appending
** adds the new cell without a snapshot (it lies past len) and snapshots
** len; growth and shrinkage copy into a fresh allocation (amortised O(1),
** nothing but the header snapshotted). insert/remove in the middle
** snapshot the cells they shift. Changing functions run inside a transaction.
*/
#ifndef pml_list_h
#define pml_list_h

#include "pml_cell.h"

#define pml_list(p, off)        ((pml_List *)pml_ptr(p, off))
#define pml_list_items(p, l)    ((pml_Cell *)pml_ptr(p, (l)->items))

uint64_t pml_list_new(pml_Pool *p, unsigned type, int *st);
/* make room for n cells in all */
int pml_list_reserve(pml_Pool *p, pml_List *l, uint64_t n);
int pml_list_append(pml_Pool *p, pml_List *l, const pml_Val *v);
/* replace item i; PML_EINDEX unless i < len (likewise below) */
int pml_list_set(pml_Pool *p, pml_List *l, uint64_t i, const pml_Val *v);
/* insert v before item i (i <= len) */
int pml_list_insert(pml_Pool *p, pml_List *l, uint64_t i, const pml_Val *v);
/* remove item i (i < len), shifting the rest down */
int pml_list_remove(pml_Pool *p, pml_List *l, uint64_t i);
/* remove every item. Their frees must fit the transaction's logs as they
   are (pml_tx_room); if they do not, the items go to a new dead list,
   which the next collection frees batch by batch (*deferred set) */
int pml_list_clear(pml_Pool *p, pml_List *l, int *deferred);
void pml_list_refs(pml_Pool *p, const pml_List *l,
                   void (*fn)(void *ud, uint64_t off), void *ud);
/* are the long strings of l's items all sound (pml_str)? */
int pml_list_strings_ok(pml_Pool *p, const pml_List *l);
/* free the items array and the long strings it owns; drop references if decref */
int pml_list_free_items(pml_Pool *p, pml_List *l, int decref);

#endif
