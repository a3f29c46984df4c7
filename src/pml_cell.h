/*
** pml_cell.h -- value cells: the one place where a value is encoded into
** a stored 16-byte cell, released from one, compared and hashed as a key.
** A PML_CREF cell holds a reference count on its container (pml_ref.h).
**
** A pml_Val is a value on its way in (the binding layer builds it from a
** Lua value). Every function that changes pool memory must be called
** inside a transaction (pml_tx_open).
*/
#ifndef pml_cell_h
#define pml_cell_h

#include <stddef.h>
#include <stdint.h>

#include "pml_pool.h"

/*
** A value on its way in. Except for long strings, img is the value's
** canonical cell image (what encode stores), which also serves as the key
** for hashing and comparison: two such keys are equal iff their images are.
*/
typedef struct pml_Val {
  int tag;              /* PML_C*: PML_CSSTR/PML_CLSTR chosen by length */
  union { int64_t i; double d; uint64_t off; } u;
  const char *s;        /* strings */
  size_t len;
  pml_Cell img;         /* canonical image; not for PML_CLSTR */
} pml_Val;

void pml_val_str(pml_Val *v, const char *s, size_t len);
void pml_val_int(pml_Val *v, int64_t i);
void pml_val_flt(pml_Val *v, double d);
void pml_val_ref(pml_Val *v, uint64_t off);
/* nil, false, true (tags without payload) */
void pml_val_tag(pml_Val *v, int tag);

/* hash of a key (never called with nil) */
uint64_t pml_val_hash(const pml_Val *k);
/* hash of the key stored in c (equal to pml_val_hash of that key) */
uint64_t pml_cell_hash(pml_Pool *p, const pml_Cell *c);
/* does stored key c hold key k? */
int pml_cell_iskey(pml_Pool *p, const pml_Cell *c, const pml_Val *k);

/* write v into fresh memory dst (nothing released; dst already added) */
int pml_cell_init(pml_Pool *p, pml_Cell *dst, const pml_Val *v);
/* snapshot dst, release what it held, write v */
int pml_cell_set(pml_Pool *p, pml_Cell *dst, const pml_Val *v);
/* give up what c holds: free its long string, drop its reference */
int pml_cell_release(pml_Pool *p, const pml_Cell *c);

/* string bytes of a PML_CSSTR / PML_CLSTR cell; NULL if damaged */
const char *pml_cell_str(pml_Pool *p, const pml_Cell *c, size_t *len);


#endif
