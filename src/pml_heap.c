/*
** pml_heap.c -- a read-only view of libpmemobj's on-media heap (pml_heap.h).
**
** Every read goes through rd16/rd32/rd64 after a bounds check against the
** mapping, so any bits in the file give an answer, never a fault; every
** loop is bounded by a size that was checked first.
*/
#include <string.h>

#include "pml_hash.h"
#include "pml_heap.h"

#define CHUNKSIZE        ((uint64_t)256 << 10)
#define MAX_CHUNK        (UINT16_MAX - 7)
#define ZONE_HDR_SIZE    64
#define ZONE_META        (ZONE_HDR_SIZE + 8 * (uint64_t)MAX_CHUNK)  /* 512 KiB */
#define ZONE_MAX_SIZE    (ZONE_META + CHUNKSIZE * MAX_CHUNK)
#define ZONE_MAGIC       0xC3F0A2D2u
#define HEAP_HDR_SIZE    1024
#define HEAP_SIGNATURE   "MEMORY_HEAP_HDR"   /* 16 bytes with the NUL */
#define RUN_HDR_SIZE     16                  /* block_size, alignment */
#define RUN_CONTENT(n)   ((CHUNKSIZE - RUN_HDR_SIZE) + ((uint64_t)(n) - 1) * CHUNKSIZE)
#define RUN_DEF_BITMAP   (8 * 38)            /* fixed bitmaps: 38 words */
#define RUN_DEF_NBITS    (64 * 38)
#define RUN_DEF_SIZE(n)  (RUN_CONTENT(n) - RUN_DEF_BITMAP)
#define SIZE_MASK        (((uint64_t)1 << 48) - 1)   /* header size bits */

enum { CH_FREE = 2, CH_USED = 3, CH_RUN = 4, CH_RUN_DATA = 5 };
enum { F_COMPACT = 1, F_NONE = 2, F_ALIGNED = 4, F_FLEX = 8 };

typedef struct Chunk {
  uint16_t type, flags;
  uint32_t size_idx;
} Chunk;

typedef struct Zone {
  uint64_t off;         /* zone header */
  uint32_t nchunks;
} Zone;

/* a run's geometry (memblock_run_bitmap and run_get_data_start) */
typedef struct Run {
  uint64_t bitmap;      /* offset of the bitmap words */
  uint64_t data;        /* offset of unit 0 (its allocation header) */
  uint64_t unit;        /* block size */
  uint64_t nbits;       /* units in the run */
  unsigned hsize;       /* allocation header size */
} Run;

static int in(const pml_Heap *h, uint64_t off, uint64_t n) {
  return off <= h->size && n <= h->size - off;
}

static uint64_t rd64(const pml_Heap *h, uint64_t off) {
  uint64_t v;
  memcpy(&v, h->base + off, sizeof v);
  return v;
}

int pml_heap_boot(pml_Heap *h, const char *base, uint64_t size,
                  uint64_t heap_off, const char **why) {
  memset(h, 0, sizeof *h);
  h->base = base;
  h->size = size;
  if (!in(h, heap_off, HEAP_HDR_SIZE + ZONE_META) || heap_off < 8192 || (heap_off & 4095)) {
    *why = "heap offset outside the file";
    return -1;
  }
  if (memcmp(base + heap_off, HEAP_SIGNATURE, sizeof HEAP_SIGNATURE) != 0 ||
      rd64(h, heap_off + 40) != CHUNKSIZE || rd64(h, heap_off + 48) != MAX_CHUNK) {
    *why = "bad heap header";
    return -1;
  }
  h->zone0 = heap_off + HEAP_HDR_SIZE;
  h->nzones = (uint32_t)((size - h->zone0) / ZONE_MAX_SIZE +
                         ((size - h->zone0) % ZONE_MAX_SIZE >= ZONE_META));
  return 0;
}

/* zone -- zone z, if its header is valid and its chunks lie in the file */
static int zone(const pml_Heap *h, uint32_t z, Zone *out) {
  if (z >= h->nzones) return 0;
  out->off = h->zone0 + (uint64_t)z * ZONE_MAX_SIZE;
  uint64_t w = rd64(h, out->off);             /* magic, size_idx */
  out->nchunks = (uint32_t)(w >> 32);
  return (uint32_t)w == ZONE_MAGIC && out->nchunks <= MAX_CHUNK &&
         in(h, out->off + ZONE_META, out->nchunks * CHUNKSIZE);
}

static Chunk chunk(const pml_Heap *h, const Zone *zn, uint32_t c) {
  Chunk ch;
  memcpy(&ch, h->base + zn->off + ZONE_HDR_SIZE + 8 * (uint64_t)c, sizeof ch);
  return ch;
}

static uint64_t chunk_off(const Zone *zn, uint32_t c) {
  return zn->off + ZONE_META + (uint64_t)c * CHUNKSIZE;
}

static unsigned header_size(uint16_t flags) {
  return (flags & F_COMPACT) ? 16 : (flags & F_NONE) ? 0 : 64;
}

/* run -- the geometry of the run whose first chunk is c; 0 if impossible */
static int run(const pml_Heap *h, const Zone *zn, uint32_t c, Chunk ch, Run *r) {
  uint64_t start = chunk_off(zn, c), content = start + RUN_HDR_SIZE;
  uint64_t csize = RUN_CONTENT(ch.size_idx), bsize, nbits;
  r->unit = rd64(h, start);
  uint64_t align = rd64(h, start + 8);
  if (r->unit == 0 || r->unit > csize) return 0;
  if (ch.flags & F_FLEX) {
    uint64_t nvalues = (csize / r->unit + 63) / 64;
    nvalues = ((nvalues + 2 + 7) & ~(uint64_t)7) - 2;       /* cacheline */
    bsize = nvalues * 8;
    if (bsize >= csize) return 0;
    nbits = (csize - bsize) / r->unit;
  } else {
    bsize = RUN_DEF_BITMAP;
    nbits = RUN_DEF_SIZE(ch.size_idx) / r->unit;
    if (nbits > RUN_DEF_NBITS) nbits = RUN_DEF_NBITS;
  }
  r->hsize = header_size(ch.flags);
  if (r->hsize > r->unit) return 0;             /* a header fills its unit */
  r->bitmap = content;
  r->data = content + bsize;
  if (ch.flags & F_ALIGNED) {
    if (align == 0 || (align & (align - 1)) || align > CHUNKSIZE || nbits == 0) return 0;
    nbits--;
    uintptr_t at = (uintptr_t)h->base + r->data + r->hsize;
    r->data = (uint64_t)(((at + align - 1) & ~(uintptr_t)(align - 1)) -
                         (uintptr_t)h->base) - r->hsize;
  }
  /* the units must end inside the run's chunks (an aligned start moves
     them up by up to align - 1 bytes) */
  uint64_t end = start + ch.size_idx * CHUNKSIZE;
  if (r->data >= end) return 0;
  if (nbits > (end - r->data) / r->unit) nbits = (end - r->data) / r->unit;
  r->nbits = nbits;
  return nbits > 0;
}

static int bit(const pml_Heap *h, const Run *r, uint64_t u) {
  return (rd64(h, r->bitmap + 8 * (u / 64)) >> (u % 64)) & 1;
}

/* header -- read the allocation header of the block whose data is at off */
static void header(const pml_Heap *h, uint64_t off, unsigned hsize, pml_Block *b,
                   uint64_t *real) {
  uint64_t at = off - hsize;
  if (hsize == 16) {
    *real = rd64(h, at) & SIZE_MASK;
    b->type = rd64(h, at + 8);
  } else {                                     /* legacy */
    *real = rd64(h, at + 8);
    b->type = rd64(h, at + 56);
  }
  b->off = off;
  b->usable = *real >= hsize ? *real - hsize : 0;
}

/* run_block -- the block starting at unit u of r, if allocated and whole */
static int run_block(const pml_Heap *h, const Run *r, uint64_t u, pml_Block *b) {
  uint64_t real;
  if (u >= r->nbits || !bit(h, r, u) || r->hsize == 0) return 0;
  header(h, r->data + u * r->unit + r->hsize, r->hsize, b, &real);
  if (real == 0 || real % r->unit || real / r->unit > r->nbits - u) return 0;
  for (uint64_t i = 1; i < real / r->unit; i++)
    if (!bit(h, r, u + i)) return 0;
  return 1;
}

/* huge_block -- the block of used chunk c (with header), if whole */
static int huge_block(const pml_Heap *h, const Zone *zn, uint32_t c, Chunk ch,
                      pml_Block *b) {
  uint64_t real;
  unsigned hs = header_size(ch.flags);
  if (hs == 0 || ch.size_idx == 0 || ch.size_idx > zn->nchunks - c) return 0;
  header(h, chunk_off(zn, c) + hs, hs, b, &real);
  return real == ch.size_idx * CHUNKSIZE;
}

int pml_heap_block(const pml_Heap *h, uint64_t off, pml_Block *b) {
  pml_Block tmp;
  Zone zn;
  Run r;
  if (b == NULL) b = &tmp;
  if (h->base == NULL || off < h->zone0) return 0;
  uint64_t rel = off - h->zone0;
  if (!zone(h, (uint32_t)(rel / ZONE_MAX_SIZE), &zn) ||
      rel / ZONE_MAX_SIZE >= h->nzones) return 0;
  rel %= ZONE_MAX_SIZE;
  if (rel < ZONE_META || (rel - ZONE_META) / CHUNKSIZE >= zn.nchunks) return 0;
  uint32_t c = (uint32_t)((rel - ZONE_META) / CHUNKSIZE);
  Chunk ch = chunk(h, &zn, c);
  if (ch.type == CH_RUN_DATA) {
    if (ch.size_idx > c) return 0;
    c -= ch.size_idx;
    ch = chunk(h, &zn, c);
    if (ch.type != CH_RUN) return 0;
  }
  if (ch.type == CH_USED)
    return off == chunk_off(&zn, c) + header_size(ch.flags) && huge_block(h, &zn, c, ch, b);
  if (ch.type != CH_RUN || ch.size_idx == 0 || ch.size_idx > zn.nchunks - c ||
      !run(h, &zn, c, ch, &r) || off < r.data + r.hsize)
    return 0;
  uint64_t pos = off - r.hsize - r.data;
  return pos % r.unit == 0 && run_block(h, &r, pos / r.unit, b);
}

int pml_heap_has(const pml_Heap *h, uint64_t off, uint64_t type, uint64_t n) {
  pml_Block b;
  return pml_heap_block(h, off, &b) && b.type == type && b.usable >= n;
}

/* each_run_block -- fn for every allocation of run r; -1 on a bad header */
static int each_run_block(const pml_Heap *h, const Run *r,
                          int (*fn)(void *, const pml_Block *), void *ud) {
  pml_Block b;
  for (uint64_t u = 0; u < r->nbits; ) {
    if (!bit(h, r, u)) { u++; continue; }
    if (!run_block(h, r, u, &b)) return -1;
    if (fn(ud, &b)) return 1;
    u += (b.usable + r->hsize) / r->unit;
  }
  return 0;
}

/*
** walk -- visit every zone's chunks, checking each span's header and each
** run's geometry; with fn, visit every allocation too. The chunk index
** grows by at least one each step and never passes the zone's chunks.
*/
static int walk(const pml_Heap *h, int (*fn)(void *, const pml_Block *), void *ud,
                const char **why) {
  Zone zn;
  Run r;
  pml_Block b;
  for (uint32_t z = 0; z < h->nzones && zone(h, z, &zn); z++) {
    for (uint32_t c = 0; c < zn.nchunks; ) {
      Chunk ch = chunk(h, &zn, c);
      int st = 0;
      if (ch.size_idx == 0 || ch.size_idx > zn.nchunks - c) {
        *why = "bad chunk header";
        return -1;
      }
      if (ch.type == CH_USED) {
        if (!huge_block(h, &zn, c, ch, &b)) { *why = "bad allocation header"; return -1; }
        if (fn) st = fn(ud, &b);
      } else if (ch.type == CH_RUN) {
        if (!run(h, &zn, c, ch, &r)) { *why = "bad run header"; return -1; }
        if (fn) st = each_run_block(h, &r, fn, ud);
        if (st < 0) { *why = "bad allocation header"; return -1; }
      } else if (ch.type != CH_FREE) {
        *why = "bad chunk type";
        return -1;
      }
      if (st) return 0;                         /* fn asked to stop */
      c += ch.size_idx;
    }
  }
  return 0;
}

int pml_heap_walk(const pml_Heap *h, int (*fn)(void *ud, const pml_Block *b),
                  void *ud) {
  const char *why;
  return walk(h, fn, ud, &why);
}

int pml_heap_check(const pml_Heap *h, const char **why) {
  return walk(h, NULL, NULL, why);
}

void pml_heap_usage(const pml_Heap *h, uint64_t *used, uint64_t *total, uint64_t *end) {
  Zone zn;
  *used = *total = 0;
  *end = h->zone0 + ZONE_META;
  for (uint32_t z = 0; z < h->nzones; z++) {     /* the chunks that fit */
    uint64_t at = h->zone0 + (uint64_t)z * ZONE_MAX_SIZE + ZONE_META;
    uint64_t n = at < h->size ? (h->size - at) / CHUNKSIZE : 0;
    *total += (n < MAX_CHUNK ? n : MAX_CHUNK) * CHUNKSIZE;
  }
  for (uint32_t z = 0; z < h->nzones && zone(h, z, &zn); z++)
    for (uint32_t c = 0; c < zn.nchunks; ) {     /* bounded as walk() */
      Chunk ch = chunk(h, &zn, c);
      if (ch.size_idx == 0 || ch.size_idx > zn.nchunks - c) break;
      if (ch.type == CH_USED || ch.type == CH_RUN) {
        *used += ch.size_idx * CHUNKSIZE;
        *end = chunk_off(&zn, c + ch.size_idx);
      }
      c += ch.size_idx;
    }
  if (*used > *total) *used = *total;
}

void pml_heap_meta(const pml_Heap *h, uint64_t off, uint64_t *zone_off, uint64_t *chunk) {
  *zone_off = *chunk = 0;
  if (off < h->zone0 || off >= h->size) return;
  uint64_t z = (off - h->zone0) / ZONE_MAX_SIZE, zoff = h->zone0 + z * ZONE_MAX_SIZE;
  *zone_off = zoff;
  if (off >= zoff + ZONE_META)
    *chunk = zoff + ZONE_META + (off - zoff - ZONE_META) / CHUNKSIZE * CHUNKSIZE;
}

uint64_t pml_heap_whole(uint64_t size) {
  if (size < HEAP_HDR_SIZE + ZONE_MAX_SIZE) return size;
  return HEAP_HDR_SIZE + (size - HEAP_HDR_SIZE) / ZONE_MAX_SIZE * ZONE_MAX_SIZE;
}

/* {====================================================== lanes */

/*
** A lane is 3 KiB: three logs (struct ulog: checksum, next, capacity,
** gen_num, flags, 3 unused words, then data): the internal redo log (192
** bytes of data), the external redo log (640) and the undo log (2048).
** libpmemobj leaves a redo log's capacity 0 until it first uses it; the
** undo log's is always its size.
**
** An extension is a log of its own in a heap allocation, linked by next.
** next holds the allocation's offset (pmalloc_construct stores the object
** offset there), and the log starts at that offset rounded up to a
** cacheline (ulog_by_offset); its capacity is what fits after it, rounded
** down to cachelines (lane_ulog_constructor, ulog_construct). With
** compact 16-byte allocation headers next is 16 past a cacheline, and the
** 48 bytes from next to the log are the padding of memblock.c's header
** write (stack bytes, never read).
**
** A commit or rollback that used extensions frees all but the first and
** keeps that one linked from the lane, for the next transaction
** (ulog_clobber_data); libpmemobj's open frees it (lane recovery,
** operation_finish with ULOG_FREE_AFTER_FIRST), and so does the first
** transaction given a log buffer (tx_construct_user_buffer). So a cleanly
** closed pool may have one in any lane's undo log, and a redo log keeps
** the extensions a crash left there: every link must be sound. (A log
** buffer pmlua lends a transaction, pmemobj_tx_log_append_buffer, is
** unlinked when the transaction ends; a link to one, inside pmlua's log
** reserve, is not an allocation's start and is refused. A crash can leave
** one: pml_heap_lent_link below finds it, for the open to unlink.)
*/
#define LANE_SIZE        PML_LANE_SIZE
#define ULOG_HDR         64
#define ULOG_ALIGN       64          /* CACHELINE_SIZE */
#define ULOG_MAX_CHAIN   4096

/* links_ok -- the chain of extensions from link next: in the heap, bounded */
static int links_ok(const pml_Heap *h, uint64_t next) {
  pml_Block b;
  for (int n = 0; next != 0; n++) {
    /* the start of a live allocation of libpmemobj's own (type number 0;
       pmlua's start at 1) holding the log header where libpmemobj looks
       for it, and a capacity that fits there (a capacity of 0 made
       libpmemobj divide by zero on the next log append) */
    if (n >= ULOG_MAX_CHAIN || !pml_heap_block(h, next, &b) || b.type != 0)
      return 0;
    uint64_t log = (next + ULOG_ALIGN - 1) & ~(uint64_t)(ULOG_ALIGN - 1);
    uint64_t pad = log - next;                  /* < ULOG_ALIGN: no overflow */
    if (b.usable < pad + ULOG_HDR) return 0;
    uint64_t cap = rd64(h, log + 16);
    if (cap == 0 || (cap & (ULOG_ALIGN - 1)) || cap > b.usable - pad - ULOG_HDR)
      return 0;
    next = rd64(h, log + 8);
  }
  return 1;
}

/* chain_ok -- the extensions of the log at off: in the heap, bounded */
static int chain_ok(const pml_Heap *h, uint64_t off) {
  return links_ok(h, rd64(h, off + 8));
}

int pml_heap_check_lanes(const pml_Heap *h, uint64_t lanes_off, uint64_t nlanes,
                         const char **why) {
  static const uint64_t at[3] = { 0, ULOG_HDR + 192, 2 * ULOG_HDR + 192 + 640 };
  static const uint64_t cap[3] = { 192, 640, 2048 };
  *why = "bad lane log";
  if (lanes_off < 8192 || nlanes == 0 || nlanes > (1 << 20) ||
      lanes_off + nlanes * LANE_SIZE > h->zone0 || !in(h, lanes_off, nlanes * LANE_SIZE))
    return -1;
  for (uint64_t i = 0; i < nlanes; i++) {
    for (int k = 0; k < 3; k++) {
      uint64_t log = lanes_off + i * LANE_SIZE + at[k], c = rd64(h, log + 16);
      if ((c != cap[k] && !(k < 2 && c == 0)) || !chain_ok(h, log)) return -1;
    }
  }
  return 0;
}

/*
** A log buffer lent to a transaction (pmemobj_tx_log_append_buffer) is
** linked to the lane's redo log at the commit (operation_add_user_buffer:
** a log header marked ULOG_USER_OWNED at the buffer rounded up to 64
** bytes, then the link, persisted) and unlinked when the commit's redo log
** has been applied (ulog_free_next). A crash in between leaves the link,
** and libpmemobj's recovery keeps it (ulog_clobber keeps next). Its next
** open builds the lane's volatile chain from it (ulog_rebuild_next_vec),
** and the next commit in that lane frees the buffer as an extension of
** its own (pfree of an offset that starts no allocation: libpmemobj
** crashes) or, given the same buffer again, links it to itself.
*/
#define ULOG_USER_OWNED  1
#define NREDO            2           /* the internal and external redo logs */

/* lent -- is the link next a log in [lo, hi) marked as lent? */
static int lent(const pml_Heap *h, uint64_t next, uint64_t lo, uint64_t hi) {
  uint64_t log = (next + ULOG_ALIGN - 1) & ~(uint64_t)(ULOG_ALIGN - 1);
  return next != 0 && log >= next && log >= lo && hi >= ULOG_HDR &&
         log <= hi - ULOG_HDR && in(h, log, ULOG_HDR) &&
         (rd64(h, log + 32) & ULOG_USER_OWNED);
}

/* past_lent -- the first link from next that is not a lent log */
static uint64_t past_lent(const pml_Heap *h, uint64_t next, uint64_t lo, uint64_t hi) {
  for (int n = 0; n < ULOG_MAX_CHAIN && lent(h, next, lo, hi); n++)
    next = rd64(h, ((next + ULOG_ALIGN - 1) & ~(uint64_t)(ULOG_ALIGN - 1)) + 8);
  return next;
}

int pml_heap_lent_link(const pml_Heap *h, uint64_t lanes_off, uint64_t nlanes,
                       uint64_t lo, uint64_t hi, uint64_t *at, uint64_t *to) {
  static const uint64_t redo[NREDO] = { 0, ULOG_HDR + 192 };
  if (lanes_off < 8192 || nlanes == 0 || nlanes > (1 << 20) ||
      !in(h, lanes_off, nlanes * LANE_SIZE))
    return 0;
  for (uint64_t i = 0; i < nlanes; i++) {
    for (int k = 0; k < NREDO; k++) {
      uint64_t log = lanes_off + i * LANE_SIZE + redo[k];
      /* capacity 0: nothing for libpmemobj's recovery to replay (it reads
         min(capacity, entries) bytes: ulog_recovery_needed) */
      if (rd64(h, log + 16) != 0) continue;
      for (int n = 0; n < ULOG_MAX_CHAIN; n++) {
        uint64_t next = rd64(h, log + 8), after;
        if (next == 0) break;
        if (lent(h, next, lo, hi)) {
          after = past_lent(h, next, lo, hi);
          if (!links_ok(h, after)) break;       /* damaged: refused later */
          *at = log + 8;
          *to = after;
          return 1;
        }
        if (!links_ok(h, next)) break;
        log = (next + ULOG_ALIGN - 1) & ~(uint64_t)(ULOG_ALIGN - 1);
      }
    }
  }
  return 0;
}

/* }====================================================== */

uint64_t pml_heap_lanes_seal(const void *lanes, size_t n) {
  return pml_hash(lanes, n, 0);
}
