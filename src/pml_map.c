/*
** pml_map.c -- volatile offset maps (see pml_map.h).
*/
#include <stdlib.h>

#include "pml_map.h"

/* mix -- spread an offset's bits (offsets are 16-aligned and clustered) */
static size_t mix(uint64_t k) {
  k ^= k >> 33; k *= 0xff51afd7ed558ccdULL; k ^= k >> 33;
  return (size_t)k;
}

void pml_map_init(pml_Map *m) {
  m->slots = NULL; m->cap = m->count = m->filled = 0;
}

void pml_map_free(pml_Map *m) {
  free(m->slots);
  pml_map_init(m);
}

void pml_map_clear(pml_Map *m) {
  if (m->filled == 0) return;                 /* the common case: O(1) */
  if (m->cap > 1024) { pml_map_free(m); return; }   /* big: do not sweep it */
  for (size_t i = 0; i < m->cap; i++) m->slots[i].key = 0;
  m->count = m->filled = 0;
}

pml_MapSlot *pml_map_find(const pml_Map *m, uint64_t key) {
  if (m->cap == 0) return NULL;
  size_t mask = m->cap - 1;
  for (size_t i = mix(key) & mask; ; i = (i + 1) & mask) {
    pml_MapSlot *s = &m->slots[i];
    if (s->key == key) return s;
    if (s->key == 0) return NULL;
  }
}

/* rehash -- move live keys into a table of newcap slots; -1 if out of memory */
static int rehash(pml_Map *m, size_t newcap) {
  pml_MapSlot *old = m->slots;
  size_t oldcap = m->cap;
  pml_MapSlot *ns = calloc(newcap, sizeof *ns);
  if (ns == NULL) return -1;
  m->slots = ns; m->cap = newcap; m->filled = m->count;
  for (size_t i = 0; i < oldcap; i++) {
    uint64_t k = old[i].key;
    if (k == 0 || k == PML_MAP_DEL) continue;
    size_t j = mix(k) & (newcap - 1);
    while (ns[j].key != 0) j = (j + 1) & (newcap - 1);
    ns[j] = old[i];
  }
  free(old);
  return 0;
}

pml_MapSlot *pml_map_put(pml_Map *m, uint64_t key, int *isnew) {
  pml_MapSlot *s = pml_map_find(m, key);
  if (isnew) *isnew = (s == NULL);
  if (s) return s;
  if ((m->filled + 1) * 4 > m->cap * 3) {     /* keep load <= 3/4 */
    size_t nc = m->cap ? m->cap : 16;
    while ((m->count + 1) * 2 > nc) nc *= 2;
    if (rehash(m, nc) != 0) return NULL;
  }
  size_t mask = m->cap - 1;
  size_t i = mix(key) & mask;
  while (m->slots[i].key != 0 && m->slots[i].key != PML_MAP_DEL) i = (i + 1) & mask;
  if (m->slots[i].key == 0) m->filled++;
  m->slots[i].key = key; m->slots[i].val = 0;
  m->count++;
  return &m->slots[i];
}

void pml_map_del(pml_Map *m, uint64_t key) {
  pml_MapSlot *s = pml_map_find(m, key);
  if (s) { s->key = PML_MAP_DEL; m->count--; }
}

pml_MapSlot *pml_map_next(const pml_Map *m, size_t *i) {
  for (; *i < m->cap; (*i)++) {
    uint64_t k = m->slots[*i].key;
    if (k != 0 && k != PML_MAP_DEL) return &m->slots[(*i)++];
  }
  return NULL;
}
