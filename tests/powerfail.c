/*
** powerfail.c -- a power failure at a chosen sync, for tests
** (tests/test_powerfail.lua). An LD_PRELOAD library.
**
** It keeps, for every file of one directory (PMLUA_PF_DIR) that the
** process syncs, a shadow holding only what the file system has been
** asked to make durable: the file's content at its last fsync/fdatasync
** (a file not synced since the shim first saw it keeps the content it had
** then; a new file is empty). At the PMLUA_PF_AT-th sync of such a file
** or of the directory (counted from 1), before that sync happens, it
** writes the shadows into PMLUA_PF_OUT and ends the process (exit status
** 99): what a power failure at that instant could leave, at its worst.
** Without PMLUA_PF_AT it counts, and prints "powerfail: N syncs" at exit.
**
** PMLUA_PF_DROP=SUFFIX: syncs of files whose name ends in SUFFIX leave
** their shadow as it was (a log written without its sync: the negative
** control).
**
** PMLUA_PF_NOSNAP=N: every N-th pmemobj_tx_add_range_direct (pmlua's
** snapshot of pool memory it is about to change) returns success without
** snapshotting: a change made outside the undo log, the second negative
** control. Neither the range's old content is kept for a rollback nor its
** new content persisted at the commit.
**
** Simplifications: a file's name and its removal are durable at once;
** data written through a shared mapping and msync is not followed (the
** log engine writes pools with pwrite; the test says so if an msync of a
** watched file happens, by the count in PMLUA_PF_OUT/msync).
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXFILES 64

typedef struct Shadow {
  char name[NAME_MAX + 1];
  char *data;
  size_t len;
} Shadow;

static Shadow shadows[MAXFILES];
static int nshadows;
static long syncs, crash_at, nosnap, snaps;
static const char *dir, *out, *drop;

/* slurp -- the content of path (NULL, 0 if it cannot be read) */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  *len = 0;
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc(n > 0 ? (size_t)n : 1);
  if (b != NULL && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
  fclose(f);
  *len = n > 0 ? (size_t)n : 0;
  return b;
}

/* watched -- the name (in dir) of the file open as fd, or NULL; "." for
   the directory itself */
static const char *watched(int fd, char *buf, size_t n) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t k = readlink(link, buf, n - 1);
  if (k <= 0 || dir == NULL) return NULL;
  buf[k] = 0;
  size_t d = strlen(dir);
  if (strcmp(buf, dir) == 0) return ".";
  if (strncmp(buf, dir, d) != 0 || buf[d] != '/' || strchr(buf + d + 1, '/')) return NULL;
  return buf + d + 1;
}

static Shadow *shadow(const char *name) {
  for (int i = 0; i < nshadows; i++)
    if (strcmp(shadows[i].name, name) == 0) return &shadows[i];
  return NULL;
}

/* take_all -- shadow every file of dir, as it is now */
static void take_all(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL && nshadows < MAXFILES) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    Shadow *s = &shadows[nshadows++];
    char path[PATH_MAX];
    snprintf(s->name, sizeof s->name, "%s", e->d_name);
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    s->data = slurp(path, &s->len);
  }
  if (d != NULL) closedir(d);
}

static void crash(void) {
  for (int i = 0; i < nshadows; i++) {
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, shadows[i].name);
    if (stat(path, &st) != 0) continue;          /* removed since */
    snprintf(path, sizeof path, "%s/%s", out, shadows[i].name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) _exit(98);
    if (shadows[i].len) fwrite(shadows[i].data, 1, shadows[i].len, f);
    fclose(f);
  }
  _exit(99);
}

/* synced -- fd is about to be synced: crash here, or update its shadow */
static void synced(int fd) {
  char buf[PATH_MAX];
  const char *name = watched(fd, buf, sizeof buf);
  if (name == NULL) return;
  if (++syncs == crash_at) crash();
  if (strcmp(name, ".") == 0) return;
  Shadow *s = shadow(name);
  if (s == NULL && nshadows < MAXFILES) {        /* created since: empty */
    s = &shadows[nshadows++];
    snprintf(s->name, sizeof s->name, "%s", name);
  }
  size_t d = strlen(drop ? drop : ""), n = strlen(name);
  if (s == NULL || (drop && *drop && n >= d && strcmp(name + n - d, drop) == 0)) return;
  free(s->data);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  s->data = slurp(path, &s->len);
}

__attribute__((constructor)) static void init(void) {
  dir = getenv("PMLUA_PF_DIR");
  out = getenv("PMLUA_PF_OUT");
  drop = getenv("PMLUA_PF_DROP");
  const char *at = getenv("PMLUA_PF_AT");
  crash_at = at ? atol(at) : 0;
  const char *ns = getenv("PMLUA_PF_NOSNAP");
  nosnap = ns ? atol(ns) : 0;
  unsetenv("LD_PRELOAD");                  /* not in the children (trial) */
  if (dir != NULL) take_all();             /* durable: as the process finds it */
}

__attribute__((destructor)) static void fini(void) {
  if (dir != NULL && crash_at == 0) fprintf(stderr, "powerfail: %ld syncs\n", syncs);
}

int fsync(int fd) {
  static int (*next)(int);
  if (!next) next = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  synced(fd);
  return next(fd);
}

int fdatasync(int fd) {
  static int (*next)(int);
  if (!next) next = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  synced(fd);
  return next(fd);
}

/* pmemobj_tx_add_range_direct -- libpmemobj's, but every PMLUA_PF_NOSNAP-th
   call is dropped */
int pmemobj_tx_add_range_direct(const void *ptr, size_t size) {
  static int (*next)(const void *, size_t);
  if (!next) next = (int (*)(const void *, size_t))dlsym(RTLD_NEXT, "pmemobj_tx_add_range_direct");
  if (nosnap > 0 && ++snaps % nosnap == 0) return 0;
  return next(ptr, size);
}
