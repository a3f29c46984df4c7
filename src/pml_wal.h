/*
** pml_wal.h -- the log engine: durable commits on files that are not
** persistent memory, with one sync per commit (docs/durability.md).
**
** libpmemobj makes each change durable by persisting the ranges it wrote;
** on a file that is not persistent memory that is a pmem_msync call per
** range (4 to 200 and more per transaction). A logged pool is mapped
** copy-on-write instead, so the file does not change while it is open.
** pml_wal.c defines pmem_msync itself: the pages holding the ranges
** libpmemobj persists in a logged pool are noted, and at each commit read
** once and written to the pool's log (PATH-wal) as one frame, with one
** fdatasync ("full") or none ("normal": a thread syncs within a second).
** Checkpoints write the logged pages into the pool file; opening replays a
** log's committed frames before libpmemobj sees the file. Frames are chained by checksums
** under a salt, so replay stops at the first torn, stale or foreign one:
** the file and its log always give the state after some commit.
** Core layer: no Lua.
*/
#ifndef pml_wal_h
#define pml_wal_h

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pml_map.h"
#include "pml_room.h"

enum { PML_SYNC_FULL, PML_SYNC_NORMAL };
#define PML_WAL_PAGE  4096        /* what is captured: whole pages */

typedef struct pml_Wal {
  int on;                   /* the pool is mapped copy-on-write and logged */
  int sync;                 /* PML_SYNC_FULL or PML_SYNC_NORMAL */
  int fd;                   /* the log, -1 until the first frame */
  int pfd;                  /* the pool file (checkpoints), -1 if none */
  const pml_Room *room;     /* the pool file's room (pml_pool.c's): pages
                               past what it reserved are free space */
  unsigned mode;            /* the pool file's permission bits (the log's) */
  char path[4200];          /* the log's path */
  const char *base;         /* the pool's mapping; NULL while it opens */
  uint64_t size;
  uint64_t uuid;            /* the pool's, in the log header */
  uint64_t salt;            /* this generation of the log */
  uint64_t chain;           /* checksum of the last frame written */
  uint64_t end;             /* where the next frame goes */
  uint64_t alloc;           /* bytes of the log file written (reserve_log) */
  unsigned char *buf;       /* pages captured, not yet in a frame */
  size_t len, cap;
  pml_Map pages;            /* pages referenced (offset + 1), read at emit */
  pml_Map since;            /* pages logged since the last checkpoint */
  pml_Map expect;           /* pages the open transaction will change
                               (pml_wal_expect): counted for its log room;
                               libpmemobj's persists capture them */
  int copying;              /* pages are copied when captured (closing) */
  uint64_t commits;         /* commit frames written this run */
  uint64_t commits_end;     /* where the last commit frame ends */
  uint64_t checkpoint_at;   /* log bytes past which a commit checkpoints */
  int err;                  /* errno of a failed write: nothing more is
                               logged, the pool refuses changes */
  /* "normal": the syncer thread */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int dirty;                /* frames written and not synced */
  int stopping;
  int syncer;               /* the thread runs */
  pthread_t thread;
  struct pml_Wal *next;     /* the list of logged pools (the capture) */
} pml_Wal;

/* the log's path for a pool at path: path .. "-wal"; -1 if too long */
int pml_wal_path(const char *path, char *out, size_t n);
/* before libpmemobj opens the pool file pfd (locked by the caller): copy the committed frames of the log at lpath, if any, into it,
   sync it, remove the log. 0, or an errno with a message in err */
int pml_wal_recover(const char *lpath, int pfd, char *err, size_t errlen);
/* the same, without writing anything: into the pool file's private
   mapping mem (of the file's size); *found: was there a log */
int pml_wal_read(const char *lpath, int pfd, char *mem, int *found, char *err,
                 size_t errlen);
/* prepare w for the pool at path (pool file pfd, taken over) and capture
   the ranges this thread persists until pml_wal_attach names the mapping */
int pml_wal_begin(pml_Wal *w, const char *path, int pfd, int sync,
                  const pml_Room *room);
/* the pool is mapped at base (size bytes): captured addresses become
   offsets; 0, or -1 if none was captured (libpmemobj does not persist
   through pmem_msync here: the caller must not log this pool) */
int pml_wal_attach(pml_Wal *w, const char *base, uint64_t size);
/* the open transaction is going to change the n bytes at a (a snapshot,
   a fresh range, an allocation): their pages are counted for its commit
   frame now, and the log given blocks for them. 0, or an errno (ENOSPC,
   EFBIG, ENOMEM): the transaction must be rolled back, nothing is lost */
int pml_wal_expect(pml_Wal *w, const void *a, size_t n);
/* the transaction ended (committed or rolled back): forget its pages */
void pml_wal_forget(pml_Wal *w);
/* before libpmemobj commits: blocks in the log for the commit's frames,
   with extra pages of allocator metadata and lanes. 0 or an errno, as
   pml_wal_expect: a commit frame then always finds the room it needs */
int pml_wal_room(pml_Wal *w, uint64_t extra);
/* a commit point: write what was captured as a commit frame; sync it
   ("full"); checkpoint when the log has grown. 0 or an errno (w->err) */
int pml_wal_commit(pml_Wal *w);
/* before a clean close: capture every page this run changed below upto
   (past the heap's last chunk in use: nothing else changes); stores
   libpmemobj did not persist must reach the file too. 0 or an errno */
int pml_wal_dirty(pml_Wal *w, uint64_t upto);
/* before libpmemobj unmaps the pool (pmemobj_close): with keep, what was
   captured so far goes to the log now (a frame that commits nothing yet),
   without, it is dropped; from now on pages are copied as captured */
void pml_wal_closing(pml_Wal *w, int keep);
/* make every commit durable now (pool:sync()) */
int pml_wal_sync(pml_Wal *w);
/* the pool is closed (libpmemobj unmapped it): with keep, what was
   captured since the last commit is committed; without, dropped. Then the
   log is checkpointed and removed (a failed log is left for the next open
   to replay). Only if own: the caller holds the pool file, no other
   process opened it since libpmemobj's close; otherwise that process
   replayed the log and owns its path, and nothing more is written.
   Releases w; 0 or an errno */
int pml_wal_end(pml_Wal *w, int keep, int own);
/* bytes of log not yet checkpointed */
uint64_t pml_wal_pending(const pml_Wal *w);

#endif
