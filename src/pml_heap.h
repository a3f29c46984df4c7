/*
** pml_heap.h -- a read-only view of libpmemobj's on-media heap: which
** offsets start a live allocation (of what type number and usable size),
** every allocation in turn, and a structural check of the heap metadata.
**
** pmlua never follows or frees an offset read from a pool without asking
** here first: libpmemobj itself trusts the offsets it is given (a wrong one
** handed to pmemobj_tx_free corrupts the heap or divides by zero), and its
** own object walk (pmemobj_first/next) loops on a zeroed header. Every walk
** here is bounded by the sizes the zone headers give, and those are checked
** against the mapping first.
**
** The layout followed is libpmemobj's heap format 1.0 (PMDK 1.x,
** heap_layout.h and memblock.c): pool descriptor after the 4 KiB pool
** header, heap header, zones of up to 65528 chunk headers and 256 KiB
** chunks, runs with bitmaps, compact (16-byte) or legacy (64-byte)
** allocation headers. Core layer: no Lua, no libpmemobj calls.
*/
#ifndef pml_heap_h
#define pml_heap_h

#include <stdint.h>

/* the pmemobj pool descriptor fields pmlua reads (offsets in the file) */
#define PML_DSC_LANES_OFF   5120
#define PML_DSC_NLANES      5128
#define PML_DSC_HEAP_OFF    5136
#define PML_DSC_ROOT_OFF    6144
#define PML_DSC_ROOT_SIZE   6160
#define PML_DSC_CONVERSION  6168
#define PML_DSC_HEAP_SIZE   6176
#define PML_DSC_END         6184

typedef struct pml_Heap {
  const char *base;     /* pool base (file offset 0); NULL if not booted */
  uint64_t size;        /* bytes readable from base */
  uint64_t zone0;       /* offset of zone 0 */
  uint32_t nzones;      /* zones that fit in size */
} pml_Heap;

/* a live allocation, as its headers describe it */
typedef struct pml_Block {
  uint64_t off;         /* user data (what a PMEMoid holds) */
  uint64_t type;        /* type number given at allocation */
  uint64_t usable;      /* usable bytes from off */
} pml_Block;

/* boot the view of the heap at heap_off of a pool of size bytes at base:
   0, or -1 with a reason in *why if the heap header is not one */
int pml_heap_boot(pml_Heap *h, const char *base, uint64_t size,
                  uint64_t heap_off, const char **why);
/* is off the start of a live allocation? fills *b (may be NULL) */
int pml_heap_block(const pml_Heap *h, uint64_t off, pml_Block *b);
/* a live allocation of type at off, with at least n usable bytes? */
int pml_heap_has(const pml_Heap *h, uint64_t off, uint64_t type, uint64_t n);
/* call fn for every live allocation (fn returns nonzero to stop); -1 if
   the metadata is damaged (the walk stops there), else 0 */
int pml_heap_walk(const pml_Heap *h, int (*fn)(void *ud, const pml_Block *b),
                  void *ud);
/* check every zone's chunk headers and run headers: 0, or -1 with *why */
int pml_heap_check(const pml_Heap *h, const char **why);
/* the bytes of the heap's chunks in use (a run counts whole, however few
   of its blocks are allocated) and of all its chunks; *end: the offset
   past the last chunk in use (past zone 0's headers if none) */
void pml_heap_usage(const pml_Heap *h, uint64_t *used, uint64_t *total, uint64_t *end);
/* where the metadata of a block at off lies: its zone's headers (zone
   and chunk headers, ZONE_META bytes from *zone_off) and the chunk it
   starts in (a run's header and bitmap at *chunk); 0s if off is not in a
   zone */
void pml_heap_meta(const pml_Heap *h, uint64_t off, uint64_t *zone_off, uint64_t *chunk);
#define PML_HEAP_ZONE_META  ((uint64_t)64 + 8 * 65528)
/* the largest heap of at most size bytes made of whole zones (a heap
   smaller than one zone: size). libpmemobj allocates best fit, the
   smallest free span that fits, across zones: in a heap of whole zones a
   zone in use beats an untouched one, and the heap fills from its start
   (a smaller last zone would be filled first) */
uint64_t pml_heap_whole(uint64_t size);
#define PML_LANE_SIZE 3072      /* bytes of one lane (pml_heap_check_lanes) */

/* a 64-bit hash of the n bytes of the lanes at lanes (never 0): equal
   before and after a file's trip through the disk iff, but for a 2^-64
   chance, the lanes are as they were */
uint64_t pml_heap_lanes_seal(const void *lanes, size_t n);

/* check the lanes' log headers (lanes_off, nlanes from the descriptor):
   capacities libpmemobj can use, extension chains inside the heap and of
   bounded length (a loop would hang its first transaction): 0, or -1 */
int pml_heap_check_lanes(const pml_Heap *h, uint64_t lanes_off, uint64_t nlanes,
                         const char **why);

/* a link, in a lane's redo log or its chain, to a log buffer lent to a
   transaction (marked user-owned) in [lo, hi) -- pmlua's log reserve --
   that a crash left there, in a log libpmemobj's recovery does not replay
   (capacity 0): 1 and the 8 bytes to write, *to at *at, that unlink it
   (and any lent log right after it) from its chain, when what follows is
   a sound chain; else 0. Unlinking them one by one leaves every chain as
   libpmemobj's own unlinking would (ulog_free_next) */
int pml_heap_lent_link(const pml_Heap *h, uint64_t lanes_off, uint64_t nlanes,
                       uint64_t lo, uint64_t hi, uint64_t *at, uint64_t *to);

#endif
