/*
** pml_room.c -- the pool file's room (pml_room.h): its size at rest and
** while open, blocks reserved ahead of the heap's use, the file size limit.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "pml_room.h"

#define PAGE  ((uint64_t)4096)

uint64_t pml_room_fsize_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
  return (uint64_t)rl.rlim_cur;
}

uint64_t pml_room_default_max(const char *dir) {
  uint64_t max = PML_ROOM_MAX, lim = pml_room_fsize_limit();
  struct statvfs sv;
  if (statvfs(dir, &sv) == 0 && sv.f_blocks > 0 &&
      (uint64_t)sv.f_blocks * sv.f_frsize < max)
    max = (uint64_t)sv.f_blocks * sv.f_frsize;
  if (lim < max) max = lim;
  return max & ~(PAGE - 1);
}

/*
** reserve_blocks -- blocks for [from, to) of fd, which is at least to
** long: fallocate, which fails with ENOSPC when the device is full (and
** reserves nothing then). A file system without fallocate reserves
** nothing: stores then find the device full later (docs/durability.md).
*/
static int reserve_blocks(int fd, uint64_t from, uint64_t to) {
  if (to <= from) return 0;
  int e = posix_fallocate(fd, (off_t)from, (off_t)(to - from));
  return e == EOPNOTSUPP || e == EINVAL ? 0 : e;
}

int pml_room_make(int fd, uint64_t size, uint64_t reserve) {
  if (size > pml_room_fsize_limit()) return EFBIG;      /* not SIGXFSZ */
  if (ftruncate(fd, (off_t)size) != 0) return errno;
  return reserve_blocks(fd, 0, reserve < size ? reserve : size);
}

int pml_room_extend(int fd, uint64_t size) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  if ((uint64_t)st.st_size >= size) return 0;
  if (size > pml_room_fsize_limit()) return EFBIG;
  return ftruncate(fd, (off_t)size) == 0 ? 0 : errno;
}

void pml_room_open(pml_Room *r, int fd, int grow, uint64_t size, uint64_t used) {
  r->fd = fd;
  r->grow = grow;
  r->size = size;
  r->used = used;
  r->reserved = grow ? 0 : size;
  r->err = 0;
  /* what the heap uses had blocks (stores there found them), but for
     parts of its chunks never written yet: all of it now, if the device
     can (a store there must never find it full) */
  if (fd >= 0 && reserve_blocks(fd, 0, (used + PAGE - 1) & ~(PAGE - 1)) == 0)
    r->reserved = (used + PAGE - 1) & ~(PAGE - 1);
}

/*
** pml_room_reserve_slow -- reserve blocks up to used + n + AHEAD, and
** then some (a STEP, or an eighth of what is reserved) so that a growing
** heap reserves rarely; if the device cannot give that much, exactly
** what is needed. Never past the heap's end (libpmemobj finds the pool
** full there) or the file size limit.
*/
int pml_room_reserve_slow(pml_Room *r, uint64_t n) {
  uint64_t need = r->used + n + PML_ROOM_AHEAD, lim = pml_room_fsize_limit();
  if (need > r->size) need = r->size;
  if (need <= r->reserved) return 0;
  if (need > lim) return r->err = EFBIG;
  uint64_t more = r->reserved / 8 > PML_ROOM_STEP ? r->reserved / 8 : PML_ROOM_STEP;
  uint64_t to = (need + more + PAGE - 1) & ~(PAGE - 1);
  if (to > r->size) to = r->size;
  if (to > lim) to = lim & ~(PAGE - 1);
  int e = reserve_blocks(r->fd, r->reserved, to);
  if (e == ENOSPC && to > need) e = reserve_blocks(r->fd, r->reserved, to = need);
  if (e == ENOSPC && r->used + n <= r->reserved)
    return 0;         /* no room ahead: the block may still fit in room the
                         heap freed (pml_room_note checks where it went) */
  if (e) return r->err = e;
  r->reserved = to;
  return 0;
}

int pml_room_note_slow(pml_Room *r, uint64_t off, uint64_t n) {
  if (off > r->reserved) {        /* an island: its own blocks */
    int e = reserve_blocks(r->fd, off & ~(PAGE - 1), (off + n + PAGE - 1) & ~(PAGE - 1));
    return e ? (r->err = e) : 0;
  }
  if (off + n <= r->reserved) {
    r->used = off + n;
    return 0;
  }
  uint64_t to = (off + n + PAGE - 1) & ~(PAGE - 1);
  int e = reserve_blocks(r->fd, r->reserved, to);
  if (e) return r->err = e;
  r->used = off + n;
  r->reserved = to;
  return 0;
}

/*
** pml_room_close -- cut a growing pool's free tail off at a clean close,
** when the caller holds the file (pml_pool.c: no other process opened it
** since libpmemobj's close, none can start to): the tail is free space
** no mapping uses. The cut is not synced: a crash that undoes it leaves a
** longer file, which the next open takes as it is (and extends, or maps
** the missing tail of, whatever the length).
*/
void pml_room_close(pml_Room *r, int clean, uint64_t end) {
  if (r->fd < 0) return;
  end = (end + PAGE - 1) & ~(PAGE - 1);
  if (clean && r->grow && end < r->size) {
    struct stat st;
    if (fstat(r->fd, &st) == 0 && (uint64_t)st.st_size == r->size)
      (void)ftruncate(r->fd, (off_t)end);
  }
  close(r->fd);
  r->fd = -1;
}
