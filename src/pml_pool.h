/*
** pml_pool.h -- an open pool's volatile state, and pool lifetime:
** create (atomic), open (with format checks), close.
**
** Core layer: no Lua. Functions return a PML_* status; pool-level errors
** leave a message in p->err and the errno in p->errnum.
*/
#ifndef pml_pool_h
#define pml_pool_h

#include <stddef.h>
#include <libpmemobj.h>

#include "pml_gc.h"
#include "pml_heap.h"
#include "pml_layout.h"
#include "pml_map.h"
#include "pml_ref.h"
#include "pml_room.h"
#include "pml_tx.h"
#include "pml_wal.h"

/* statuses of core operations (0 is success) */
enum {
  PML_OK = 0,
  PML_EFULL,        /* the pool is out of room */
  PML_ENOMEM,       /* out of volatile memory */
  PML_ESYS,         /* a system or library error: p->err, p->errnum */
  PML_EKEY,         /* invalid key given to next */
  PML_EINDEX,       /* list position out of range */
  PML_EDAMAGED,     /* the pool holds an impossible offset or size */
  PML_EROOM         /* the device (or the file size limit) has no room for
                       the pool to grow: p->room.err */
};
#define pml_isfull(st)  ((st) == PML_EFULL || (st) == PML_EROOM)

#define PML_MIN_POOL_SIZE  ((size_t)PMEMOBJ_MIN_POOL)
#define PML_POOL_MAX       ((uint64_t)1 << 44)    /* 16 TiB: the largest pool */
/* lanes of a pool pmlua creates (libpmemobj makes 1024); docs/layout.md */
#define PML_NLANES         64
/* the log reserve: one 256 KiB chunk less libpmemobj's 16-byte header,
   so that it is a chunk of its own (a smaller one would tie up a run of
   up to 16 chunks of its allocation class) */
#define PML_LOGBUF_SIZE    ((size_t)256 * 1024 - 16)
#define PML_LOGBUF_MIN_POOL ((size_t)16 << 20)     /* smaller pools have none */

/* callbacks from the core to the binding layer */
typedef struct pml_Hooks {
  /* does a live Lua value of this run hold the object at off? */
  int (*held)(void *ud, uint64_t off);
  /* the object at off is gone (freed, or its allocation rolled back) */
  void (*dropped)(void *ud, uint64_t off);
} pml_Hooks;

typedef struct pml_Pool {
  PMEMobjpool *pop;         /* libpmemobj's handle; NULL if closed, or if
                               mapped by pmlua itself (read-only, clean) */
  char *base;               /* pool base address: object = base + off;
                               NULL once closed (pml_isopen) */
  pml_Root *root;
  uint64_t uuid_lo;
  uint64_t size;            /* bytes mapped from base (offsets must be below) */
  pml_Heap heap;            /* libpmemobj's heap, as pmlua checks it */
  int fd;                   /* own read-only mapping: the file (holds a
                               shared flock); -1 otherwise */
  int readonly;
  int crashed;              /* the previous run did not close the pool */
  int unsealed;             /* opened without the seal of a clean close
                               (a trial open ran): the close must seal it */
  uint64_t damage;          /* failed checks of offsets this run (pml_valid.c) */
  uint64_t logbuf;          /* the log reserve, checked (0 if none) */
  uint64_t epoch;           /* never 0; changes before any change made in a
                               transaction (every snapshot, fresh range,
                               allocation, free), at every rollback and at
                               close: what a reader learned of the pool's
                               objects at epoch e holds while epoch == e */
  /* sub-states, each written only by its module */
  pml_TxState tx;           /* pml_tx.c: the open transaction, its journal */
  pml_RefState ref;         /* pml_ref.c: suspects, born containers */
  pml_GcState gc;           /* pml_gc.c: collection pacing, recovery */
  pml_Wal wal;              /* pml_wal.c: the log engine (wal.on) */
  pml_Room room;            /* pml_room.c: the file's size, blocks reserved */
  int sync;                 /* PML_SYNC_FULL or PML_SYNC_NORMAL, as opened */
  const pml_Hooks *hooks;
  void *hookud;
  uint64_t dev, ino;         /* the file, while open (pml_pool.c's list) */
  struct pml_Pool *nextopen;
  int errnum;
  char err[512];
} pml_Pool;

#define pml_isopen(p)     ((p)->base != NULL)
#define pml_ptr(p, off)   ((void *)((p)->base + (off)))
#define pml_off(p, ptr)   ((uint64_t)((char *)(ptr) - (p)->base))
#define pml_hdr(p, off)   ((pml_Hdr *)pml_ptr(p, off))   /* a container's header */

/* Offsets come from the pool itself, and a damaged pool may hold any bits:
   whatever is followed or freed is first checked by pml_tx_block (pml_tx.h)
   against the heap's own metadata (pml_heap.h). */

void pml_pool_init(pml_Pool *p, const pml_Hooks *hooks, void *hookud);
/* how a pool is opened. For creation only: size, max_size and mode
   (permission bits, the umask applies). size alone: a fixed pool of that
   size; max_size: a growing pool, up to max_size (its first size bytes
   reserved); neither: growing, up to pml_room_default_max. sync is
   PML_SYNC_FULL or _NORMAL */
typedef struct pml_Opts {
  uint64_t size, max_size;  /* 0: not given */
  unsigned mode;
  int sync;
} pml_Opts;

/* flag: 'r', 'w', 'c' or 'x' */
int pml_pool_open(pml_Pool *p, const char *path, int flag, const pml_Opts *o);
/* make every committed change durable now */
int pml_pool_sync(pml_Pool *p);
/* the bytes of the pool's file once closed: a growing pool's is cut
   after its heap's last chunk in use, end (pml_heap_usage) */
uint64_t pml_pool_file_size(const pml_Pool *p, uint64_t end);
/* mark the run as started (state OPEN): after any recovery at open */
int pml_pool_start_run(pml_Pool *p);
/* give the pool its log reserve if it has none (outside transactions) */
void pml_pool_reserve(pml_Pool *p);
/* hand every empty run of libpmemobj's allocation classes back to the
   pool's free chunks, whatever size they served (outside transactions) */
void pml_pool_recycle(pml_Pool *p);
/* close the pool; mark it cleanly closed if clean (and not read-only) */
void pml_pool_close(pml_Pool *p, int clean);

/* the trial open (pml_pool.c) runs in exe, spawned as the checker, when a
   host sets it (pmlua: its own executable); otherwise in a forked child */
void pml_pool_trial_exe(const char *exe);
/* the checker's entry: if argv asks for a trial open, do it and exit
   (never returns then); 0 otherwise */
int pml_pool_trial_main(int argc, char **argv);

#endif
