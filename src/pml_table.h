/*
** pml_table.h -- persistent hash tables in insertion order (tables,
** objects and sets all use them; layout in pml_layout.h).
**
** Cost: a lookup is O(1) and allocates nothing; setting an existing key
** snapshots its 16-byte value cell; adding a key snapshots one 8-byte slot
** and 16 bytes of the header (the new entry is past `used`, so it is
** added without a snapshot); a full body is rebuilt into a new allocation
** (amortised O(1), nothing snapshotted but the header). Changing functions
** must run inside a transaction.
*/
#ifndef pml_table_h
#define pml_table_h

#include "pml_cell.h"

#define pml_table(p, off)  ((pml_Table *)pml_ptr(p, off))

/* allocate an empty table of kind type (PML_TTABLE, PML_TOBJECT, PML_TSET) */
uint64_t pml_table_new(pml_Pool *p, unsigned type, int *st);
/* the entry whose key is k (hash h), live or dead (val nil); NULL if none */
pml_Entry *pml_table_find(pml_Pool *p, const pml_Table *t, const pml_Val *k,
                          uint64_t h);
/* t[k] = v; a nil v removes the key */
int pml_table_set(pml_Pool *p, pml_Table *t, const pml_Val *k, uint64_t h,
                  const pml_Val *v);
/* the live entry after key k (first if k is NULL); *out NULL at the end;
   PML_EKEY if k is not in the table */
int pml_table_next(pml_Pool *p, const pml_Table *t, const pml_Val *k,
                   uint64_t h, pml_Entry **out);
/* call fn for every PML_CREF cell (keys and values, dead keys included) */
void pml_table_refs(pml_Pool *p, const pml_Table *t,
                    void (*fn)(void *ud, uint64_t off), void *ud);
/* are the long strings of t's cells all sound (pml_str)? */
int pml_table_strings_ok(pml_Pool *p, const pml_Table *t);
/* free the body and the long strings its cells own; drop the references
   they hold if decref (the GC passes 0: it accounts for them itself) */
int pml_table_free_body(pml_Pool *p, pml_Table *t, int decref);

#endif
