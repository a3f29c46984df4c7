/*
** pml_map.h -- volatile maps from pool offsets to 64-bit values.
**
** Open addressing, linear probing, power-of-2 capacity; key 0 is never a
** valid offset and marks an empty slot; PML_MAP_DEL marks a removed one.
** Used for GC suspects, mark sets and the transaction journal: memory
** in DRAM only, never in the pool.
*/
#ifndef pml_map_h
#define pml_map_h

#include <stddef.h>
#include <stdint.h>

typedef struct pml_MapSlot {
  uint64_t key;
  uint64_t val;
} pml_MapSlot;

typedef struct pml_Map {
  pml_MapSlot *slots;
  size_t cap;       /* power of 2, or 0 */
  size_t count;     /* live keys */
  size_t filled;    /* live + removed slots */
} pml_Map;

#define PML_MAP_DEL UINT64_MAX

void pml_map_init(pml_Map *m);
void pml_map_free(pml_Map *m);
void pml_map_clear(pml_Map *m);
/* slot of key, or NULL */
pml_MapSlot *pml_map_find(const pml_Map *m, uint64_t key);
/* slot of key, inserted with val 0 if absent (*isnew set); NULL if out of memory */
pml_MapSlot *pml_map_put(pml_Map *m, uint64_t key, int *isnew);
void pml_map_del(pml_Map *m, uint64_t key);

/* iterate: for (i = 0; (s = pml_map_next(m, &i)) != NULL; ) */
pml_MapSlot *pml_map_next(const pml_Map *m, size_t *i);

#endif
