/*
** pml_hash.h -- the 64-bit hash pmlua stores in pools and logs: the seal of
** a pool's lanes (pml_heap.c) and the checksums of log frames (pml_wal.c).
** Not cryptographic: it detects torn and stale writes and accidents, not
** an adversary. Its values are stored on disk; never change it.
*/
#ifndef pml_hash_h
#define pml_hash_h

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* pml_hash -- hash of the n bytes at data, from seed (never 0) */
static inline uint64_t pml_hash(const void *data, size_t n, uint64_t seed) {
  const unsigned char *b = data;
  uint64_t h[4] = { 0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL,
                    0x165667b19e3779f9ULL, 0x27d4eb2f165667c5ULL };
  size_t i = 0;
  for (; i + 32 <= n; i += 32)              /* four lanes of words at a time */
    for (int k = 0; k < 4; k++) {
      uint64_t w;
      memcpy(&w, b + i + 8 * k, 8);
      h[k] = (h[k] ^ w) * 0xff51afd7ed558ccdULL;
      h[k] ^= h[k] >> 31;
    }
  uint64_t r = n ^ seed;
  for (; i < n; i++) r = (r ^ b[i]) * 0x100000001b3ULL;
  for (int k = 0; k < 4; k++) {
    r = (r ^ h[k]) * 0xc4ceb9fe1a85ec53ULL;
    r ^= r >> 33;
  }
  return r ? r : 1;
}

#endif
