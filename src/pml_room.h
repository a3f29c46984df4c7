/*
** pml_room.h -- the pool file's room: how big the file is at rest and
** while open, and the device's blocks reserved ahead of the heap's use.
**
** A growing pool (format version 2, pml_Root.grow) has a heap as large as
** its maximum size, but the file holds blocks only where the heap is in
** use. While the pool is open its file is that large (a sparse tail);
** a clean close cuts the free tail off, and the next open extends the
** file again before anything maps it (libpmemobj requires the whole
** heap in the file; its zone headers of zeros past the end are zones not
** yet used, which it initializes when it first needs them).
**
** Blocks are reserved (fallocate) ahead of the heap's highest use before
** each allocation may go past them: a full device or the process's file
** size limit (RLIMIT_FSIZE) fails that allocation with a status, before
** anything changed, and never as a SIGBUS of a store into a hole (the
** direct engine's shared mapping) or a failed checkpoint (the log
** engine). Fixed-size pools (grow 0, versions 1 and 2) were given all
** their blocks at creation; nothing grows or shrinks them.
** Core layer: no Lua, no libpmemobj calls.
*/
#ifndef pml_room_h
#define pml_room_h

#include <stdint.h>

#define PML_ROOM_AHEAD   ((uint64_t)8 << 20)   /* reserved past the use */
#define PML_ROOM_STEP    ((uint64_t)16 << 20)  /* reservations grow by at
                                                  least this, or an eighth */
#define PML_ROOM_FRESH   ((uint64_t)8 << 20)   /* a new growing pool's blocks */
#define PML_ROOM_MAX     ((uint64_t)16 << 30)  /* default maximum: 16 GiB (one
                                                  libpmemobj zone: each more
                                                  adds about 2.5 ms to an open,
                                                  its header read from a hole),
                                                  or less (pml_room_default_max) */

typedef struct pml_Room {
  int fd;                   /* the pool file (reservations), -1 if none */
  int grow;                 /* a growing pool */
  uint64_t size;            /* the heap's end: the file's size while open */
  uint64_t used;            /* past the heap's highest use (a bound) */
  uint64_t reserved;        /* blocks reserved from 0 up to here */
  int err;                  /* errno of the last failed reservation */
} pml_Room;

/* the process's file size limit (RLIMIT_FSIZE), UINT64_MAX if none */
uint64_t pml_room_fsize_limit(void);
/* a new growing pool's maximum size in the directory dir, if none was
   given: PML_ROOM_MAX, less if the file system or the file size limit is
   smaller (4 KiB multiple) */
uint64_t pml_room_default_max(const char *dir);
/* give the new, empty file fd its size: size bytes, with blocks for the
   first reserve of them; 0 or an errno */
int pml_room_make(int fd, uint64_t size, uint64_t reserve);
/* before anything maps it: extend the file fd, if shorter, to size (the
   heap's end); 0 or an errno */
int pml_room_extend(int fd, uint64_t size);

/* the pool is open: its heap ends at size, and is used up to used
   (pml_heap_usage); a growing one's file is fd (taken over), -1 for
   others (they reserve nothing) */
void pml_room_open(pml_Room *r, int fd, int grow, uint64_t size, uint64_t used);
/* make room for an allocation of n bytes: blocks reserved past the
   highest use by n + PML_ROOM_AHEAD. 0, or an errno (ENOSPC, EFBIG:
   nothing reserved; the allocation must not be made) */
int pml_room_reserve_slow(pml_Room *r, uint64_t n);
static inline int pml_room_reserve(pml_Room *r, uint64_t n) {
  if (r->fd < 0 || r->used + n + PML_ROOM_AHEAD <= r->reserved) return 0;
  return pml_room_reserve_slow(r, n);
}
/* an allocation of n bytes was made at off (libpmemobj places it where
   it fits best, almost always below the highest use: a pool's zones are
   all whole, pml_heap_zones): blocks for it if past those reserved. 0 or
   an errno, as pml_room_reserve */
int pml_room_note_slow(pml_Room *r, uint64_t off, uint64_t n);
static inline int pml_room_note(pml_Room *r, uint64_t off, uint64_t n) {
  if (off + n <= r->used || r->fd < 0) return 0;
  return pml_room_note_slow(r, off, n);
}
/* the pool is closed: if clean (and held by the caller: no other process
   opened it since), a growing pool's file is cut to end (past its heap's
   last chunk in use). Releases r */
void pml_room_close(pml_Room *r, int clean, uint64_t end);

#endif
