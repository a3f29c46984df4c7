/*
** pml_wal.c -- the log engine (pml_wal.h): capture of the pages holding
** what libpmemobj persists, the log's frames, replay and checkpoints.
**
** The log file: a 32-byte header (magic "PMLUAWAL", version, the pool's
** uuid, a salt drawn when the log is created or restarted), then frames.
** A frame: magic, flags (FRAME_COMMIT on the last frame of a commit), the
** payload's length, the salt, and a checksum chained from the previous
** frame's (the first from the header's), then the payload: records of
** (offset in the pool, length, bytes padded to 8). Replay takes the frames
** in order while magic, salt, bounds and checksums hold, and applies those
** up to the last commit frame among them.
**
** Crash safety: while a log exists the pool file is written only with
** pages of frames whose commit frame is in the synced log (replay, or a
** checkpoint right after a commit, from the mapping); the log is restarted
** (new salt, synced) only after the pool file holding its pages is synced.
** So the file and its log give, at every instant, the state after some
** commit.
*/
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "pml_hash.h"
#include "pml_room.h"
#include "pml_wal.h"

#define LOG_MAGIC     "PMLUAWAL"
#define LOG_VERSION   1
#define LOG_HDR       32            /* magic, version, uuid, salt */
#define FRAME_MAGIC   0x464c4d50u   /* "PMLF" */
#define FRAME_HDR     32            /* magic, flags, length, salt, checksum */
#define FRAME_COMMIT  1u
#define REC_HDR       16            /* offset, length */
#define SPILL         ((size_t)4 << 20)   /* captured bytes past which a
                                             frame is written at once */
#define FRAME_MAX     (SPILL + 2 * REC_HDR + 16)
#define CHECKPOINT_AT ((uint64_t)16 << 20)  /* log bytes that trigger one;
                                               PMLUA_WAL_CHECKPOINT */
#define POOL_UUID     40            /* the pool header's uuid (16 bytes) */
#define LOG_STEP      ((uint64_t)1 << 20)  /* the log grows by this much */

#define LINE          64            /* what a record of a page's change
                                       covers at least (log_page) */
#define CACHE_MAX     ((size_t)16384) /* pages a replay holds before
                                         writing them (64 MiB) */
#define WINDOW        ((size_t)1 << 20) /* the log read at a time (replay) */
#define pad8(n)       (((n) + 7) & ~(size_t)7)

/* {====================================================== bytes */

static void put64(unsigned char *b, uint64_t v) { memcpy(b, &v, 8); }
static uint64_t get64(const unsigned char *b) { uint64_t v; memcpy(&v, b, 8); return v; }

/* full_pwrite -- write all n bytes of b at off: 0 or an errno */
static int full_pwrite(int fd, const void *b, size_t n, uint64_t off) {
  const char *s = b;
  while (n > 0) {
    ssize_t k = pwrite(fd, s, n, (off_t)off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return k < 0 ? errno : EIO;
    s += k; n -= (size_t)k; off += (uint64_t)k;
  }
  return 0;
}

/* full_pread -- read all n bytes at off into b: 0, or -1 (short or error) */
static int full_pread(int fd, void *b, size_t n, uint64_t off) {
  char *s = b;
  while (n > 0) {
    ssize_t k = pread(fd, s, n, (off_t)off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    s += k; n -= (size_t)k; off += (uint64_t)k;
  }
  return 0;
}

static int zeros(const unsigned char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

/* pool_uuid -- the pool file's uuid, folded to 64 bits (0 if unreadable) */
static uint64_t pool_uuid(int pfd) {
  unsigned char u[16];
  if (full_pread(pfd, u, sizeof u, POOL_UUID) != 0) return 0;
  return get64(u) ^ get64(u + 8);
}

/* frame_sum -- a frame's checksum, chained from prev */
static uint64_t frame_sum(uint64_t prev, uint32_t flags, uint64_t salt,
                          const void *payload, size_t len) {
  uint64_t seed = prev ^ (salt * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)flags << 56);
  return pml_hash(payload, len, seed);
}

static void header(unsigned char h[LOG_HDR], uint64_t uuid, uint64_t salt) {
  memcpy(h, LOG_MAGIC, 8);
  put64(h + 8, LOG_VERSION);
  put64(h + 16, uuid);
  put64(h + 24, salt);
}

/* }====================================================== */

/* {====================================================== replay */

typedef struct Scan {
  int lfd, pfd;             /* pfd < 0 and mem NULL: check only */
  char *mem;                /* apply to this mapping of the pool instead */
  uint64_t lsize, psize;
  uint64_t salt, chain;
  unsigned char *buf;
  uint64_t commit_end;      /* end of the last commit frame seen */
  uint64_t free_from;       /* pages past it the device may refuse: free
                               space (pml_Wal.room), skipped */
  pml_Map cached;           /* page offset + 1 -> its index in cache */
  unsigned char *cache;     /* pages of the file being replayed into */
  unsigned char *win;       /* WINDOW bytes of the log from win_at */
  uint64_t win_at, win_len;
} Scan;

/* log_read -- n bytes of the log at pos into b, through a window of it
   (frames are read in order, most far smaller than it): 0, or -1 */
static int log_read(Scan *s, void *b, size_t n, uint64_t pos) {
  if (s->win == NULL || n > WINDOW) return full_pread(s->lfd, b, n, pos);
  if (pos < s->win_at || pos + n > s->win_at + s->win_len) {
    uint64_t len = s->lsize - pos < WINDOW ? s->lsize - pos : WINDOW;
    if (len < n || full_pread(s->lfd, s->win, len, pos) != 0) return -1;
    s->win_at = pos;
    s->win_len = len;
  }
  memcpy(b, s->win + (pos - s->win_at), n);
  return 0;
}

/* records_ok -- do the records of payload b (n bytes) stay inside the pool? */
static int records_ok(const unsigned char *b, size_t n, uint64_t psize) {
  size_t r = 0;
  while (r < n) {
    if (n - r < REC_HDR) return 0;
    uint64_t off = get64(b + r), len = get64(b + r + 8);
    if (len > n - r - REC_HDR || off > psize || len > psize - off) return 0;
    r += REC_HDR + pad8(len);
  }
  return r == n;
}

/*
** flush_cache -- write the pages a replay into the file holds, and forget
** them: 0 or an errno. Never past the file size limit (EFBIG, not
** SIGXFSZ); a page past s->free_from that the device refuses is free
** space (pml_room.h).
*/
static int flush_cache(Scan *s) {
  uint64_t lim = pml_room_fsize_limit();
  size_t i = 0;
  pml_MapSlot *m;
  int e = 0;
  while (e == 0 && (m = pml_map_next(&s->cached, &i)) != NULL) {
    uint64_t off = m->key - 1;
    e = off + PML_WAL_PAGE > lim ? EFBIG
        : full_pwrite(s->pfd, s->cache + m->val * PML_WAL_PAGE, PML_WAL_PAGE, off);
    if (e == ENOSPC && off >= s->free_from) e = 0;
  }
  pml_map_clear(&s->cached);
  return e;
}

/* cached_page -- the page at off of the file being replayed into, read
   into the cache if it is not there (zeros past the file's end); NULL on
   an error (*e) */
static unsigned char *cached_page(Scan *s, uint64_t off, int *e) {
  int isnew;
  if (s->cached.count >= CACHE_MAX && pml_map_find(&s->cached, off + 1) == NULL &&
      (*e = flush_cache(s)) != 0)
    return NULL;
  pml_MapSlot *m = pml_map_put(&s->cached, off + 1, &isnew);
  if (m == NULL) return *e = ENOMEM, NULL;
  if (!isnew) return s->cache + m->val * PML_WAL_PAGE;
  m->val = s->cached.count - 1;
  unsigned char *pg = s->cache + m->val * PML_WAL_PAGE;
  ssize_t k;
  while ((k = pread(s->pfd, pg, PML_WAL_PAGE, (off_t)off)) < 0 && errno == EINTR) {}
  if (k < 0) {                          /* never zeros for what failed */
    pml_map_del(&s->cached, off + 1);
    return *e = errno, NULL;
  }
  memset(pg + k, 0, PML_WAL_PAGE - (size_t)k);   /* past the file's end */
  return pg;
}

/*
** apply_records -- the records of a frame (checked) into the pool mapped
** at s->mem, or into the pages of the file s->pfd, held in a cache
** (flush_cache): a record may be a few bytes (log_page), and a replay
** writes each page once
*/
static int apply_records(Scan *s, const unsigned char *b, size_t n) {
  for (size_t r = 0; r < n;) {
    uint64_t off = get64(b + r), len = get64(b + r + 8);
    const unsigned char *src = b + r + REC_HDR;
    r += REC_HDR + pad8(len);
    if (s->mem != NULL) {
      memcpy(s->mem + off, src, len);
      continue;
    }
    while (len > 0) {
      uint64_t pg = off & ~(uint64_t)(PML_WAL_PAGE - 1), in = off - pg;
      uint64_t k = len < PML_WAL_PAGE - in ? len : PML_WAL_PAGE - in;
      int e = 0;
      unsigned char *p = cached_page(s, pg, &e);
      if (p == NULL) return e;
      memcpy(p + in, src, k);
      off += k; src += k; len -= k;
    }
  }
  return 0;
}

/*
** scan -- walk the frames from LOG_HDR while they hold; with s->pfd >= 0,
** apply those that end at or before upto. Sets s->commit_end. 0 or errno
** (of a write to the pool).
*/
static int scan(Scan *s, uint64_t upto) {
  uint64_t pos = LOG_HDR;
  s->commit_end = LOG_HDR;
  while (s->lsize - pos >= FRAME_HDR) {
    unsigned char h[FRAME_HDR];
    if (log_read(s, h, FRAME_HDR, pos) != 0) break;
    uint32_t magic, flags;
    memcpy(&magic, h, 4);
    memcpy(&flags, h + 4, 4);
    uint64_t len = get64(h + 8);
    if (magic != FRAME_MAGIC || get64(h + 16) != s->salt || len > FRAME_MAX ||
        len > s->lsize - pos - FRAME_HDR || (flags & ~FRAME_COMMIT) != 0)
      break;
    if (log_read(s, s->buf, len, pos + FRAME_HDR) != 0) break;
    uint64_t sum = frame_sum(s->chain, flags, s->salt, s->buf, len);
    if (sum != get64(h + 24) || !records_ok(s->buf, len, s->psize)) break;
    s->chain = sum;
    pos += FRAME_HDR + len;
    if ((s->pfd >= 0 || s->mem != NULL) && pos <= upto) {
      int e = apply_records(s, s->buf, len);
      if (e) return e;
    }
    if (flags & FRAME_COMMIT) s->commit_end = pos;
  }
  return 0;
}

/*
** replay -- apply the committed frames of the log lfd (checked header,
** salt) to the pool file pfd and sync it, or, with mem, to the pool
** mapped there (size bytes, the file's). 0 or an errno.
*/
static int replay(int lfd, int pfd, char *mem, uint64_t salt, uint64_t chain0,
                  uint64_t free_from) {
  struct stat ls, ps;
  if (fstat(lfd, &ls) != 0 || fstat(pfd, &ps) != 0) return errno;
  Scan s = { lfd, -1, NULL, (uint64_t)ls.st_size, (uint64_t)ps.st_size, salt,
             chain0, malloc(FRAME_MAX), LOG_HDR, free_from, { 0 }, NULL,
             malloc(WINDOW), 0, 0 };
  if (s.buf == NULL) {
    free(s.win);
    return ENOMEM;
  }
  pml_map_init(&s.cached);
  int e = scan(&s, 0);
  uint64_t upto = s.commit_end;
  if (e == 0 && upto > LOG_HDR && mem == NULL &&
      (s.cache = malloc(CACHE_MAX * PML_WAL_PAGE)) == NULL)
    e = ENOMEM;
  if (e == 0 && upto > LOG_HDR) {
    s.pfd = mem ? -1 : pfd;
    s.mem = mem;
    s.chain = chain0;
    e = scan(&s, upto);
    if (e == 0 && mem == NULL) e = flush_cache(&s);
    if (e == 0 && mem == NULL && fdatasync(pfd) != 0) e = errno;
  }
  pml_map_free(&s.cached);
  free(s.cache);
  free(s.win);
  free(s.buf);
  return e;
}

int pml_wal_path(const char *path, char *out, size_t n) {
  return snprintf(out, n, "%s-wal", path) < (int)n ? 0 : -1;
}

/*
** load -- check the log at lpath against the pool file pfd and replay its
** committed frames (into the file, or into mem): 0 (also if there is no
** log, or only a header torn at its creation; *found says if there was
** one), or an errno with a message in err
*/
static int load(const char *lpath, int pfd, char *mem, int *found, char *err,
                size_t errlen) {
  *found = 0;
  int lfd = open(lpath, O_RDONLY | O_CLOEXEC);
  if (lfd < 0) {
    if (errno == ENOENT) return 0;
    snprintf(err, errlen, "%s: %s", lpath, strerror(errno));
    return errno;
  }
  *found = 1;
  unsigned char h[LOG_HDR];
  struct stat st;
  int e = 0;
  if (fstat(lfd, &st) != 0 || !S_ISREG(st.st_mode)) {
    e = EINVAL;
    snprintf(err, errlen, "%s: not a pmlua log (not a regular file)", lpath);
  } else if (st.st_size < LOG_HDR) {
    /* torn at creation, before any commit (the first sync covers it) */
  } else if (full_pread(lfd, h, LOG_HDR, 0) != 0) {
    e = EIO;
    snprintf(err, errlen, "%s: cannot read the log: %s", lpath, strerror(EIO));
  } else if (memcmp(h, LOG_MAGIC, 8) == 0) {
    if (get64(h + 8) != LOG_VERSION) {
      e = EINVAL;
      snprintf(err, errlen, "%s: log version %llu is not supported", lpath,
               (unsigned long long)get64(h + 8));
    } else if (get64(h + 16) != pool_uuid(pfd)) {
      e = EINVAL;
      snprintf(err, errlen, "%s: the log of another pool (move it away to open "
               "this one)", lpath);
    } else if ((e = replay(lfd, pfd, mem, get64(h + 24), pml_hash(h, LOG_HDR, 0),
                           UINT64_MAX)) != 0) {
      snprintf(err, errlen, "%s: cannot replay the log: %s", lpath, strerror(e));
    }
  } else if (!zeros(h, LOG_HDR)) {
    e = EINVAL;
    snprintf(err, errlen, "%s: not a pmlua log (move it away to open the pool)", lpath);
  }                         /* a header of zeros: torn at creation, as above */
  close(lfd);
  return e;
}

int pml_wal_recover(const char *lpath, int pfd, char *err, size_t errlen) {
  int found, e = load(lpath, pfd, NULL, &found, err, errlen);
  if (e == 0 && found) unlink(lpath);
  return e;
}

int pml_wal_read(const char *lpath, int pfd, char *mem, int *found, char *err,
                 size_t errlen) {
  return load(lpath, pfd, mem, found, err, errlen);
}

/* }====================================================== */

/* {====================================================== the log */

static int fail(pml_Wal *w, int e) {
  if (w->err == 0) w->err = e ? e : EIO;
  return w->err;
}

static uint64_t new_salt(void) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    s = (uint64_t)t.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid() << 32 ^ (uint64_t)t.tv_sec;
  }
  return s ? s : 1;
}

/*
** reserve_log -- the log's blocks written (with zeros) up to where a frame
** of n more bytes ends, a LOG_STEP at a time: a frame then lands on blocks
** the file already has, and its fdatasync writes data, no metadata (a
** growing file costs a journal commit per sync). Zeros end a replay.
*/
static int grow_log(pml_Wal *w, uint64_t n) {
  static const unsigned char zeros[65536];
  if (w->end + n <= w->alloc) return 0;
  uint64_t to = (w->end + n + LOG_STEP - 1) / LOG_STEP * LOG_STEP;
  uint64_t lim = pml_room_fsize_limit();
  if (to > lim) to = lim;                      /* writes past it: SIGXFSZ */
  if (w->end + n > to) return EFBIG;
  for (uint64_t at = w->alloc; at < to; at += sizeof zeros) {
    int e = full_pwrite(w->fd, zeros, to - at < sizeof zeros ? to - at : sizeof zeros, at);
    if (e) return e;
  }
  w->alloc = to;
  return 0;
}

static int reserve_log(pml_Wal *w, uint64_t n) {
  int e = grow_log(w, n);
  return e ? fail(w, e) : 0;
}

/* restart -- a new generation: header with a new salt, synced (stale
   frames behind it no longer chain) */
static int restart(pml_Wal *w) {
  unsigned char h[LOG_HDR];
  w->salt = new_salt();
  header(h, w->uuid, w->salt);
  int e = full_pwrite(w->fd, h, LOG_HDR, 0);
  if (e == 0 && fdatasync(w->fd) != 0) e = errno;
  if (e) return fail(w, e);
  w->chain = pml_hash(h, LOG_HDR, 0);
  w->end = w->commits_end = LOG_HDR;
  return 0;
}

/* sync_dir -- make the log's name durable in its directory */
static void sync_dir(const char *lpath) {
  char d[sizeof ((pml_Wal *)0)->path];
  snprintf(d, sizeof d, "%s", lpath);
  int fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) { fsync(fd); close(fd); }
}

/* open_log -- create the log, its header synced: 0, or an errno (no log
   then: the device may be full, nothing is broken) */
static int open_log(pml_Wal *w) {
  unsigned char h[LOG_HDR];
  w->fd = open(w->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, w->mode);
  if (w->fd < 0) return errno;
  w->salt = new_salt();
  header(h, w->uuid, w->salt);
  int e = full_pwrite(w->fd, h, LOG_HDR, 0);  /* the header first: a log is
                                          never longer than a header without one */
  if (e == 0 && fdatasync(w->fd) != 0) e = errno;
  if (e) {
    close(w->fd);
    unlink(w->path);
    w->fd = -1;
    return e;
  }
  w->alloc = LOG_HDR;
  w->chain = pml_hash(h, LOG_HDR, 0);
  w->end = w->commits_end = LOG_HDR;
  sync_dir(w->path);
  return 0;
}

static int create_log(pml_Wal *w) {
  int e = open_log(w);
  return e ? fail(w, e) : 0;
}

/* frame -- write the n bytes of records at b as a frame (flags) */
static int frame(pml_Wal *w, uint32_t flags, const unsigned char *b, size_t n) {
  unsigned char h[FRAME_HDR];
  uint32_t magic = FRAME_MAGIC;
  uint64_t sum = frame_sum(w->chain, flags, w->salt, b, n);
  memcpy(h, &magic, 4);
  memcpy(h + 4, &flags, 4);
  put64(h + 8, n);
  put64(h + 16, w->salt);
  put64(h + 24, sum);
  if (reserve_log(w, FRAME_HDR + n) != 0) return w->err;
  struct iovec v[2] = { { h, FRAME_HDR }, { (void *)b, n } };
  ssize_t k = pwritev(w->fd, v, 2, (off_t)w->end);   /* one call, mostly */
  int e = k < 0 ? errno : 0;
  if (e == 0 && (size_t)k < FRAME_HDR)
    e = full_pwrite(w->fd, h + k, FRAME_HDR - (size_t)k, w->end + (uint64_t)k);
  if (e == 0 && (size_t)k < FRAME_HDR + n) {
    size_t done = (size_t)k > FRAME_HDR ? (size_t)k - FRAME_HDR : 0;
    e = full_pwrite(w->fd, b + done, n - done, w->end + FRAME_HDR + done);
  }
  if (e) return fail(w, e);
  w->chain = sum;
  w->end += FRAME_HDR + n;
  return 0;
}

/* grow -- room for n more bytes in the buffer */
static int grow(pml_Wal *w, size_t n) {
  if (w->len + n <= w->cap) return 0;
  size_t cap = w->cap ? w->cap : 4096;
  while (cap < w->len + n) cap *= 2;
  unsigned char *b = realloc(w->buf, cap);
  if (b == NULL) return fail(w, ENOMEM), -1;
  w->buf = b;
  w->cap = cap;
  return 0;
}

/* add_record -- a record of the n bytes at src, for pool offset off */
static int add_record(pml_Wal *w, uint64_t off, const void *src, size_t n) {
  if (grow(w, REC_HDR + pad8(n)) != 0) return -1;
  unsigned char *r = w->buf + w->len;
  put64(r, off);
  put64(r + 8, n);
  memcpy(r + REC_HDR, src, n);
  memset(r + REC_HDR + n, 0, pad8(n) - n);
  w->len += REC_HDR + pad8(n);
  return 0;
}

/* copy_page -- a record of the page at pg (pool offset off), as it is now */
static int copy_page(pml_Wal *w, const char *pg, uint64_t off) {
  return add_record(w, off, pg, PML_WAL_PAGE);
}

/*
** log_page -- a record of the page at pool offset off, as it is now. The
** first time after a checkpoint the whole page, and a copy of it is kept
** (the shadow, w->since's value); then only the runs of 64-byte lines
** that differ from the shadow, which takes them. Replay applies the
** records in order over the file as the checkpoint left it, so it builds
** the page exactly as it is now: the same as the whole page (capture says
** why pages), in a fraction of the bytes (an append: about 5 pages whole,
** a few hundred bytes this way).
*/
static int log_page(pml_Wal *w, uint64_t off) {
  const unsigned char *pg = (const unsigned char *)w->base + off;
  int isnew;
  pml_MapSlot *s = pml_map_put(&w->since, off + 1, &isnew);
  if (s == NULL) return fail(w, ENOMEM), -1;
  unsigned char *sh = (unsigned char *)(uintptr_t)s->val;
  if (sh == NULL) {
    if (copy_page(w, (const char *)pg, off) != 0) return -1;
    if ((sh = malloc(PML_WAL_PAGE)) != NULL) memcpy(sh, pg, PML_WAL_PAGE);
    s->val = (uint64_t)(uintptr_t)sh;
    return 0;
  }
  for (size_t at = 0; at < PML_WAL_PAGE;) {
    if (memcmp(pg + at, sh + at, LINE) == 0) {
      at += LINE;
      continue;
    }
    size_t end = at + LINE;
    while (end < PML_WAL_PAGE && memcmp(pg + end, sh + end, LINE) != 0) end += LINE;
    if (add_record(w, off + at, pg + at, end - at) != 0) return -1;
    memcpy(sh + at, pg + at, end - at);
    at = end;
  }
  return 0;
}

/* clear_since -- a new log generation: no page logged, no shadow kept */
static void clear_since(pml_Wal *w) {
  size_t i = 0;
  pml_MapSlot *s;
  while ((s = pml_map_next(&w->since, &i)) != NULL) free((void *)(uintptr_t)s->val);
  pml_map_clear(&w->since);
}

/* note_logged -- the records of the buffer are going to the log: their
   pages are in the next checkpoint. A whole page copied as captured (while
   the pool opens or closes) also becomes its shadow, if it has one */
static void note_logged(pml_Wal *w) {
  int isnew;
  for (size_t r = 0; r < w->len; r += REC_HDR + pad8(get64(w->buf + r + 8))) {
    uint64_t off = get64(w->buf + r), n = get64(w->buf + r + 8);
    pml_MapSlot *s = pml_map_put(&w->since, (off & ~(uint64_t)(PML_WAL_PAGE - 1)) + 1, &isnew);
    if (s == NULL) fail(w, ENOMEM);
    else if (s->val != 0 && n == PML_WAL_PAGE && (off & (PML_WAL_PAGE - 1)) == 0)
      memcpy((void *)(uintptr_t)s->val, w->buf + r + REC_HDR, PML_WAL_PAGE);
  }
}

/* write_buf -- the buffer as frames of at most SPILL bytes (cut between
   records), the last with flags; empties it */
static int write_buf(pml_Wal *w, uint32_t flags) {
  size_t at = 0;
  note_logged(w);
  do {
    size_t n = 0;
    while (at + n < w->len) {
      size_t r = REC_HDR + pad8(get64(w->buf + at + n + 8));
      if (n > 0 && n + r > SPILL) break;
      n += r;
    }
    if (frame(w, at + n == w->len ? flags : 0, w->buf + at, n) != 0) return w->err;
    at += n;
  } while (at < w->len);
  w->len = 0;
  return w->err;
}

/*
** emit -- write what was captured as frames, the last with flags: the
** records copied already, then the pages referenced, read now (as an
** msync now would write them), a frame whenever SPILL bytes are ready
*/
static int emit(pml_Wal *w, uint32_t flags) {
  if (w->err) return w->err;
  if (w->fd < 0 && create_log(w) != 0) return w->err;
  size_t i = 0;
  pml_MapSlot *s;
  while ((s = pml_map_next(&w->pages, &i)) != NULL) {
    if (w->len + REC_HDR + PML_WAL_PAGE > SPILL && w->len > 0 && write_buf(w, 0) != 0)
      return w->err;
    if (log_page(w, s->key - 1) != 0) return w->err;
  }
  pml_map_clear(&w->pages);
  return write_buf(w, flags);
}

/*
** capture_page -- the page at pg into the next frame. While the pool runs,
** a reference (w->pages, key: the page's offset plus 1), read at the
** commit; while it opens or closes, a copy at once (its address may not
** be mapped at the commit: libpmemobj's own mappings, the closing pool).
** Past SPILL bytes of pages a frame is written at once.
*/
static void capture_page(pml_Wal *w, const char *pg) {
  int isnew;
  unsigned char v;
  if (w->base == NULL || w->copying) {
    /* a damaged pool can make libpmemobj's recovery persist a range it
       never wrote, reaching past any mapping: copy only mapped pages */
    if (mincore((void *)pg, PML_WAL_PAGE, &v) == 0)
      copy_page(w, pg, w->base ? (uint64_t)(pg - w->base) : (uint64_t)(uintptr_t)pg);
    return;
  }
  if (pml_map_put(&w->pages, (uint64_t)(pg - w->base) + 1, &isnew) == NULL) {
    fail(w, ENOMEM);
    return;
  }
  if (isnew && (w->pages.count + 1) * (REC_HDR + PML_WAL_PAGE) + w->len > SPILL)
    emit(w, 0);
}

/*
** capture -- the pages holding the n bytes persisted at a. Whole pages, as
** msync writes them: libpmemobj on a file that is not persistent memory is
** made for msync, and a crash image holding only the bytes it persisted
** (even in whole cache lines) was found to break its heap on recovery.
*/
static void capture(pml_Wal *w, const char *a, size_t n) {
  if (w->err || n == 0) return;
  uintptr_t p = (uintptr_t)a & ~(uintptr_t)(PML_WAL_PAGE - 1), e = (uintptr_t)a + n;
  for (; p < e && !w->err; p += PML_WAL_PAGE) capture_page(w, (const char *)p);
}

/*
** room -- the log has blocks for the frames of what is noted now and
** extra more pages, or an errno (nothing written that matters: the open
** transaction must be rolled back)
*/
static int room(pml_Wal *w, uint64_t extra) {
  if (w->err) return w->err;
  if (w->fd < 0) {
    int e = open_log(w);
    if (e) return e;
  }
  uint64_t pages = w->pages.count + w->expect.count + extra;
  uint64_t n = w->len + pages * (uint64_t)(REC_HDR + PML_WAL_PAGE);
  return grow_log(w, n + (n / SPILL + 2) * FRAME_HDR);
}

int pml_wal_expect(pml_Wal *w, const void *a, size_t n) {
  if (!w->on || w->base == NULL || n == 0) return 0;
  uintptr_t p = (uintptr_t)a & ~(uintptr_t)(PML_WAL_PAGE - 1), e = (uintptr_t)a + n;
  int isnew, grew = 0;
  for (; p < e; p += PML_WAL_PAGE) {
    if (pml_map_put(&w->expect, (uint64_t)(p - (uintptr_t)w->base) + 1, &isnew) == NULL)
      return ENOMEM;
    grew |= isnew;
  }
  uint64_t pages = w->pages.count + w->expect.count;
  uint64_t bytes = w->len + pages * (uint64_t)(REC_HDR + PML_WAL_PAGE);
  if (!grew || (w->fd >= 0 && w->end + bytes + 4 * FRAME_HDR + LOG_STEP / 4 <= w->alloc))
    return 0;
  return room(w, 0);
}

void pml_wal_forget(pml_Wal *w) {
  if (w->expect.count) pml_map_clear(&w->expect);
}

int pml_wal_room(pml_Wal *w, uint64_t extra) {
  if (!w->on || w->base == NULL) return 0;
  return room(w, extra);
}

/* }====================================================== */

/* {====================================================== capture hook */

static pml_Wal *logged;                      /* attached logs */
static pthread_mutex_t logged_mu = PTHREAD_MUTEX_INITIALIZER;
static __thread pml_Wal *opening;           /* capturing an open */

static pml_Wal *logged_at(const char *a, size_t n) {
  pthread_mutex_lock(&logged_mu);
  pml_Wal *w = logged;
  while (w != NULL && !((uintptr_t)a >= (uintptr_t)w->base &&
                        (uintptr_t)a - (uintptr_t)w->base < w->size))
    w = w->next;
  pthread_mutex_unlock(&logged_mu);
  if (w != NULL && n > w->size - (uint64_t)(a - w->base)) w = NULL;
  return w;
}

/*
** pmem_msync -- libpmem's, as libpmemobj calls it to persist a range of a
** pool that is not persistent memory. This definition comes first in the
** symbol lookup (the executable's, or pmem.so's ahead of libpmem in its
** own lookup scope): ranges of a logged pool are captured (their mapping
** is private, an msync would write nothing), others go to libpmem's.
** pml_wal_attach checks that the capture works before a pool is logged.
*/
__attribute__((visibility("default")))
int pmem_msync(const void *addr, size_t len) {
  static int (*next)(const void *, size_t);
  pml_Wal *w = opening ? opening : logged_at(addr, len);
  if (w != NULL) {
    capture(w, addr, len);
    return 0;
  }
  if (next == NULL) next = (int (*)(const void *, size_t))dlsym(RTLD_NEXT, "pmem_msync");
  return next ? next(addr, len) : msync((void *)((uintptr_t)addr & ~(uintptr_t)4095),
                                        len + ((uintptr_t)addr & 4095), MS_SYNC);
}

/* }====================================================== */

/* {====================================================== life */

int pml_wal_begin(pml_Wal *w, const char *path, int pfd, int sync, const pml_Room *room) {
  struct stat st;
  memset(w, 0, sizeof *w);
  if (pfd < 0) return errno;
  if (pml_wal_path(path, w->path, sizeof w->path) != 0 ||
      access("/proc/self/pagemap", R_OK) != 0) {          /* pml_wal_dirty */
    close(pfd);
    return ENOTSUP;
  }
  w->fd = -1;
  w->pfd = pfd;
  w->sync = sync;
  w->room = room;
  w->mode = fstat(pfd, &st) == 0 ? (unsigned)(st.st_mode & 0777) : 0600;
  w->uuid = pool_uuid(pfd);
  const char *c = getenv("PMLUA_WAL_CHECKPOINT");
  w->checkpoint_at = c != NULL && strtoull(c, NULL, 10) >= 4096 ? strtoull(c, NULL, 10)
                                                                 : CHECKPOINT_AT;
  pml_map_init(&w->pages);
  pml_map_init(&w->since);
  pml_map_init(&w->expect);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  w->on = 1;
  opening = w;
  return 0;
}

int pml_wal_attach(pml_Wal *w, const char *base, uint64_t size) {
  opening = NULL;
  /* the open's records hold addresses: keep those of the pool's mapping,
     as offsets (libpmemobj also writes the pool header's shutdown state
     through a private mapping of its own, which reaches no file) */
  size_t r = 0, kept = 0;
  while (r < w->len) {
    uint64_t a = get64(w->buf + r) - (uintptr_t)base, n = get64(w->buf + r + 8);
    size_t rl = REC_HDR + pad8(n);
    if (a < size && n <= size - a) {
      put64(w->buf + r, a);
      memmove(w->buf + kept, w->buf + r, rl);
      kept += rl;
    }
    r += rl;
  }
  w->len = kept;
  if (kept == 0 || w->err) return -1;
  w->base = base;
  w->size = size;
  pthread_mutex_lock(&logged_mu);
  w->next = logged;
  logged = w;
  pthread_mutex_unlock(&logged_mu);
  return 0;
}

/*
** pml_wal_dirty -- capture every page of the mapping this run changed.
** libpmemobj persists what a crash must find; a clean close must also keep
** the stores it never persisted (on persistent memory, and through a
** shared mapping, they reach the file at close), so every page that the
** copy-on-write mapping made private goes into the last frame. The kernel
** says which: their /proc/self/pagemap entries are no longer file pages.
*/
int pml_wal_dirty(pml_Wal *w, uint64_t upto) {
  if (!w->on || w->base == NULL || w->err) return w->err;
  long ps = sysconf(_SC_PAGESIZE);
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(w, errno);
  uint64_t first = (uintptr_t)w->base / (uint64_t)ps;
  uint64_t n = (upto < w->size ? upto : w->size) / (uint64_t)ps;
  uint64_t e[512];
  for (uint64_t i = 0; i < n && !w->err; i += 512) {
    size_t k = n - i < 512 ? (size_t)(n - i) : 512;
    if (full_pread(fd, e, k * 8, (first + i) * 8) != 0) { fail(w, EIO); break; }
    for (size_t j = 0; j < k; j++) {
      int present = (int)(e[j] >> 63 & 1), swapped = (int)(e[j] >> 62 & 1);
      int filepage = (int)(e[j] >> 61 & 1);
      if ((present && !filepage) || swapped)
        capture(w, w->base + (i + j) * (uint64_t)ps, (size_t)ps);
    }
  }
  close(fd);
  return w->err;
}

void pml_wal_closing(pml_Wal *w, int keep) {
  if (!w->on || w->base == NULL) return;
  if (keep && (w->len > 0 || w->pages.count > 0)) emit(w, 0);
  w->len = 0;
  pml_map_clear(&w->pages);
  w->copying = 1;
}

static void detach(pml_Wal *w) {
  if (opening == w) opening = NULL;
  pthread_mutex_lock(&logged_mu);
  pml_Wal **q = &logged;
  while (*q != NULL && *q != w) q = &(*q)->next;
  if (*q == w) *q = w->next;
  pthread_mutex_unlock(&logged_mu);
}

/* free_from -- where the pages a growing pool's room never reserved
   begin: they hold no data (pml_room.h), and a full device refuses them */
static uint64_t free_from(const pml_Wal *w) {
  if (w->room == NULL || w->room->fd < 0) return UINT64_MAX;
  return w->room->reserved > w->room->used ? w->room->reserved : w->room->used;
}

/* pool_pwrite -- n bytes of b into the pool file at off: 0 or an errno
   (EFBIG past the file size limit lim, where a write raises SIGXFSZ) */
static int pool_pwrite(pml_Wal *w, const void *b, size_t n, uint64_t off, uint64_t lim) {
  return off + n > lim ? EFBIG : full_pwrite(w->pfd, b, n, off);
}

/*
** release -- after a checkpoint from the mapping: the private copies of
** the pages it wrote hold what the file now holds, so they are dropped
** (a copy-on-write pool would otherwise keep every page the run ever
** changed in memory); the next touch reads the page from the file. Only
** right after a commit: no page is referenced for a later frame.
*/
static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void release(pml_Wal *w) {
  uint64_t *at = malloc(w->since.count * sizeof *at);
  size_t i = 0, n = 0;
  pml_MapSlot *s;
  if (at == NULL) return;                  /* kept: only memory is lost */
  while ((s = pml_map_next(&w->since, &i)) != NULL) at[n++] = s->key - 1;
  qsort(at, n, sizeof *at, cmp_u64);
  for (size_t j = 0, k; j < n; j = k) {    /* runs of adjacent pages: one call */
    for (k = j + 1; k < n && at[k] == at[k - 1] + PML_WAL_PAGE; k++) {}
    madvise((void *)(w->base + at[j]), (size_t)(at[k - 1] - at[j]) + PML_WAL_PAGE,
            MADV_DONTNEED);
  }
  free(at);
}

/*
** checkpoint -- the log's pages into the pool file, synced, then a new log.
** While the pool is mapped (right after a commit), each page the log holds
** is written once, as the mapping has it now (what an msync now would
** write); once it is unmapped, by replaying the log. The log is synced
** first: a crash in between finds every frame there to replay again.
*/
static int checkpoint(pml_Wal *w, int mapped) {
  if (w->fd < 0 || w->end == LOG_HDR) return 0;
  if (fdatasync(w->fd) != 0) return fail(w, errno);
  int e = 0;
  if (mapped) {
    size_t i = 0;
    pml_MapSlot *s;
    uint64_t lim = pml_room_fsize_limit();
    while (e == 0 && (s = pml_map_next(&w->since, &i)) != NULL) {
      e = pool_pwrite(w, w->base + (s->key - 1), PML_WAL_PAGE, s->key - 1, lim);
      if (e == ENOSPC && s->key - 1 >= free_from(w)) e = 0;   /* free space */
    }
    if (e == 0 && fdatasync(w->pfd) != 0) e = errno;
    if (e == 0) release(w);
  } else {
    unsigned char h[LOG_HDR];
    header(h, w->uuid, w->salt);
    e = replay(w->fd, w->pfd, NULL, w->salt, pml_hash(h, LOG_HDR, 0), free_from(w));
  }
  if (e) return fail(w, e);
  clear_since(w);
  return restart(w);
}

static void *syncer(void *ud) {
  pml_Wal *w = ud;
  pthread_mutex_lock(&w->mu);
  while (!w->stopping) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += 1;
    pthread_cond_timedwait(&w->cv, &w->mu, &t);
    if (w->dirty) {
      w->dirty = 0;
      pthread_mutex_unlock(&w->mu);
      fdatasync(w->fd);
      pthread_mutex_lock(&w->mu);
    }
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* written -- a commit frame is in the log: sync it now ("full") or have
   the syncer do it within a second ("normal") */
static int written(pml_Wal *w) {
  if (w->sync == PML_SYNC_FULL)
    return fdatasync(w->fd) == 0 ? 0 : fail(w, errno);
  pthread_mutex_lock(&w->mu);
  w->dirty = 1;
  if (!w->syncer && pthread_create(&w->thread, NULL, syncer, w) == 0) w->syncer = 1;
  pthread_mutex_unlock(&w->mu);
  return w->syncer ? 0 : (fdatasync(w->fd) == 0 ? 0 : fail(w, errno));
}

int pml_wal_commit(pml_Wal *w) {
  if (!w->on || w->base == NULL) return 0;
  if (w->err) return w->err;
  if (w->len == 0 && w->pages.count == 0 && w->commits_end == w->end) return 0;
  if (emit(w, FRAME_COMMIT) != 0 || written(w) != 0) return w->err;
  w->commits++;
  w->commits_end = w->end;
  /* the log's bytes, or the shadows' (a page each), reached the bound */
  int due = w->end >= w->checkpoint_at ||
            w->since.count * (uint64_t)PML_WAL_PAGE >= w->checkpoint_at;
  return due ? checkpoint(w, 1) : 0;
}

int pml_wal_sync(pml_Wal *w) {
  if (!w->on || w->fd < 0) return w->err;
  if (w->err) return w->err;
  pthread_mutex_lock(&w->mu);
  w->dirty = 0;
  pthread_mutex_unlock(&w->mu);
  return fdatasync(w->fd) == 0 ? 0 : fail(w, errno);
}

static void stop_syncer(pml_Wal *w) {
  if (!w->syncer) return;
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  w->syncer = 0;
}

int pml_wal_end(pml_Wal *w, int keep, int own) {
  if (!w->on) return 0;
  detach(w);
  stop_syncer(w);
  int e = w->err;
  if (!keep || !own) {                       /* what no commit ended */
    w->len = 0;
    pml_map_clear(&w->pages);
  }
  if (own && e == 0 && (w->len > 0 || (keep && w->commits_end != w->end)))
    e = emit(w, FRAME_COMMIT);
  if (own && e == 0 && w->fd >= 0) e = checkpoint(w, 0);
  if (own && e == 0 && w->fd >= 0) unlink(w->path);   /* else another's now */
  if (w->fd >= 0) close(w->fd);
  if (w->pfd >= 0) close(w->pfd);
  free(w->buf);
  pml_map_free(&w->pages);
  clear_since(w);
  pml_map_free(&w->since);
  pml_map_free(&w->expect);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  w->on = 0;
  w->fd = w->pfd = -1;
  w->buf = NULL;
  w->base = NULL;
  return e;
}

uint64_t pml_wal_pending(const pml_Wal *w) {
  uint64_t held = w->len + w->pages.count * (uint64_t)(REC_HDR + PML_WAL_PAGE);
  return w->on && w->fd >= 0 ? w->end - LOG_HDR + held : held;
}

/* }====================================================== */
