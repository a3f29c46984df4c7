/*
** pml_pool.c -- pool lifetime: atomic creation, open with format checks,
** run state, close (pml_pool.h).
**
** Opening trusts nothing in the file. pmlua reads the pool header and the
** descriptor itself before libpmemobj sees them, checks the root object and
** the heap's metadata through pml_heap, and lets libpmemobj open a pool that
** was not cleanly closed only after a trial open in a child process has
** survived (libpmemobj's log recovery may crash or loop on a damaged lane).
** A cleanly closed pool opened read-only is mapped by pmlua itself: no
** libpmemobj, no write permission needed, nothing written.
*/
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <poll.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pml_fault.h"
#include "pml_pool.h"

/* where libpmemobj keeps the layout name: after the 4 KiB pool header */
#define HDR_SIGNATURE      "PMEMOBJ"
#define HDR_LAYOUT_OFFSET  4096
#define HDR_MIN_FILE       8192
#define TRIAL_NAME         "pmlua-trial"     /* the trial child's comm */
#define TRIAL_TIMEOUT_MS   10000             /* default; PMLUA_OPEN_TIMEOUT */
#define TEMP_TAG           ".pmlua-new."     /* named temporary files */
#define DSC_SIZE           2048              /* the checksummed descriptor */
#define DSC_CHECKSUM       (DSC_SIZE - 8)    /* its checksum, last word */

/* fail -- record an error (errno e) and return PML_ESYS */
static int fail(pml_Pool *p, int e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, sizeof p->err, fmt, ap);
  va_end(ap);
  p->errnum = e;
  return PML_ESYS;
}

void pml_pool_init(pml_Pool *p, const pml_Hooks *hooks, void *hookud) {
  memset(p, 0, sizeof *p);
  pml_tx_init(p);
  pml_ref_init(p);
  p->hooks = hooks;
  p->hookud = hookud;
  p->epoch = 1;
  p->fd = -1;
  pml_room_open(&p->room, -1, 0, 0, 0);
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* {====================================================== creation */

/*
** init_root -- give a just-created pool its root object (magic, version).
** Runs before the pool is linked to its name, so a crash here leaves no
** pool at the path.
*/
static int init_root(PMEMobjpool *pop, int grow) {
  PMEMoid r = pmemobj_root(pop, sizeof(pml_Root));
  if (OID_IS_NULL(r)) return -1;
  pml_Root *root = pmemobj_direct(r);
  memcpy(root->magic, PML_MAGIC, sizeof root->magic);
  root->version = grow ? PML_FORMAT_VERSION : PML_FORMAT_FIXED;
  root->grow = grow != 0;
  root->state = PML_STATE_CLEAN;
  pmemobj_persist(pop, root, sizeof *root);
  return 0;
}

/* sync_dir -- make a rename or link in the directory dir durable */
static void sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) { fsync(fd); close(fd); }
}

/*
** dsc_checksum -- libpmemobj's checksum of the pool descriptor d (DSC_SIZE
** bytes): Fletcher-64 over little-endian 32-bit words, the checksum word
** itself counted as zero (PMDK util_checksum)
*/
static uint64_t dsc_checksum(const unsigned char *d) {
  uint32_t lo = 0, hi = 0;
  for (size_t i = 0; i < DSC_SIZE; i += 4) {
    uint32_t w;
    memcpy(&w, d + i, sizeof w);
    if (i < DSC_CHECKSUM) lo += w;
    hi += lo;
  }
  return (uint64_t)hi << 32 | lo;
}

/*
** set_lanes -- give the just-built pool at fpath PML_NLANES lanes instead
** of libpmemobj's 1024. Every open recovers every lane the descriptor
** counts, and touching their 3 MiB was most of an open's time; a pmlua
** process holds one lane per pool. The lanes keep their offset and the
** heap its place (the space of the others stays unused). Precondition:
** the pool is closed and not yet linked to its name, so a crash here
** leaves no pool.
*/
static int set_lanes(pml_Pool *p, const char *path, const char *fpath) {
  unsigned char d[DSC_SIZE];
  uint64_t n = PML_NLANES, sum;
  int fd = open(fpath, O_RDWR | O_CLOEXEC), st = PML_OK;
  if (fd < 0) return fail(p, errno, "%s: %s", path, strerror(errno));
  if (pread(fd, d, sizeof d, HDR_LAYOUT_OFFSET) != (ssize_t)sizeof d)
    st = fail(p, EIO, "%s: cannot read the new pool's descriptor", path);
  if (st == PML_OK) {
    memcpy(d + PML_DSC_NLANES - HDR_LAYOUT_OFFSET, &n, sizeof n);
    sum = dsc_checksum(d);
    memcpy(d + DSC_CHECKSUM, &sum, sizeof sum);
    if (pwrite(fd, d, sizeof d, HDR_LAYOUT_OFFSET) != (ssize_t)sizeof d ||
        fdatasync(fd) != 0)
      st = fail(p, errno ? errno : EIO, "%s: %s", path, strerror(errno ? errno : EIO));
  }
  close(fd);
  return st;
}

/* build -- make the file at fpath (existing, sized) a pmlua pool */
static int build(pml_Pool *p, const char *path, const char *fpath, int grow) {
  /* libpmemobj gives a pool all its blocks at creation unless told not
     to: a growing pool's file must stay sparse */
  int at_create = !grow;
  pmemobj_ctl_set(NULL, "fallocate.at_create", &at_create);
  PMEMobjpool *pop = pmemobj_create(fpath, PML_LAYOUT, 0, 0);
  at_create = 1;
  pmemobj_ctl_set(NULL, "fallocate.at_create", &at_create);
  if (pop == NULL) {
    int e = errno;
    if (e == ENOSPC) return fail(p, e, "%s: %s", path, strerror(e));
    return fail(p, e, "%s: cannot create pool: %s", path, pmemobj_errormsg());
  }
  int ok = init_root(pop, grow) == 0;
  pmemobj_close(pop);
  if (!ok) return fail(p, ENOMEM, "%s: cannot create pool root", path);
  return set_lanes(p, path, fpath);
}

/* Geometry -- a new pool's file: its size (the heap's end), the blocks
   reserved at once, whether it grows */
typedef struct Geometry {
  uint64_t size, reserve;
  int grow;
} Geometry;

/* libpmemobj 1.12's heap offset in a pool it creates (1024 lanes) */
#define CREATED_HEAP_OFF   3153920

/* geometry -- the file for options o in directory dir (pml_Opts); a
   growing pool's heap is made of whole zones (pml_heap_whole) */
static int geometry(pml_Pool *p, const char *path, const char *dir,
                    const pml_Opts *o, Geometry *g) {
  g->grow = o->size == 0 || o->max_size != 0;
  g->size = !g->grow ? o->size : o->max_size ? o->max_size : pml_room_default_max(dir);
  if (g->grow && g->size > CREATED_HEAP_OFF)
    g->size = (CREATED_HEAP_OFF + pml_heap_whole(g->size - CREATED_HEAP_OFF) + 4095) &
              ~(uint64_t)4095;
  g->reserve = !g->grow ? g->size : o->size > PML_ROOM_FRESH ? o->size : PML_ROOM_FRESH;
  if (g->size >= PML_MIN_POOL_SIZE) return PML_OK;
  return fail(p, EFBIG, "%s: no room for a pool: the file size limit or the file "
              "system allows %llu bytes, less than the minimum pool size", path,
              (unsigned long long)g->size);
}

/* reserve -- give the new file fd its size and its first blocks */
static int reserve(pml_Pool *p, const char *path, int fd, const Geometry *g) {
  int e = pml_room_make(fd, g->size, g->reserve);
  return e == 0 ? PML_OK : fail(p, e, "%s: %s", path, strerror(e));
}

/*
** sweep_stale -- remove named temporary files of creations whose process
** died (kill -9 during create where O_TMPFILE is not supported):
** "*.pmlua-new.PID.N" with PID gone.
*/
static void sweep_stale(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *t = strstr(e->d_name, TEMP_TAG);
    if (e->d_name[0] != '.' || t == NULL) continue;
    long pid = strtol(t + sizeof TEMP_TAG - 1, NULL, 10);
    if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
      char f[4096];
      if (snprintf(f, sizeof f, "%s/%s", dir, e->d_name) < (int)sizeof f) unlink(f);
    }
  }
  closedir(d);
}

/*
** create_named -- creation where the file system has no O_TMPFILE: build
** under a short temporary name (any legal name stays creatable), link,
** unlink. A crash leaves the temporary file, removed by the next open or
** create in the directory (sweep_stale).
*/
static int create_named(pml_Pool *p, const char *path, const char *dir,
                        const Geometry *g, unsigned mode) {
  static unsigned counter;
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s/" TEMP_TAG "%ld.%u", dir, (long)getpid(),
               counter++) >= (int)sizeof tmp)
    return fail(p, ENAMETOOLONG, "%s: %s", path, strerror(ENAMETOOLONG));
  int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return fail(p, errno, "%s: %s", path, strerror(errno));
  int st = reserve(p, path, fd, g);
  close(fd);
  if (st == PML_OK) st = build(p, path, tmp, g->grow);
  if (st == PML_OK && link(tmp, path) != 0)
    st = fail(p, errno, "%s: %s", path, strerror(errno));
  unlink(tmp);
  return st;
}

/*
** create -- create a pool at path atomically. The pool is built complete in
** an unnamed file of the same directory (O_TMPFILE, with the mode given, so
** the umask applies as for any file) and then linked to its name: link
** fails if path exists, so 'x' holds even against a racing creator, and a
** crash at any point leaves no file behind. Returns PML_OK, or PML_ESYS with
** errnum EEXIST if path exists.
*/
static int create(pml_Pool *p, const char *path, const pml_Opts *o) {
  char dbuf[4096];
  snprintf(dbuf, sizeof dbuf, "%s", path);
  const char *dir = dirname(dbuf);
  Geometry g;
  if (geometry(p, path, dir, o, &g) != PML_OK) return PML_ESYS;
  sweep_stale(dir);
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, o->mode);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
    return create_named(p, path, dir, &g, o->mode);
  if (fd < 0) return fail(p, errno, "%s: %s", path, strerror(errno));
  char fpath[64];
  snprintf(fpath, sizeof fpath, "/proc/self/fd/%d", fd);
  int st = reserve(p, path, fd, &g);
  if (st == PML_OK) st = build(p, path, fpath, g.grow);
  if (st == PML_OK && linkat(AT_FDCWD, fpath, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0)
    st = fail(p, errno, "%s: %s", path, strerror(errno));
  close(fd);
  if (st == PML_OK) sync_dir(dir);
  return st;
}

/* }====================================================== */

/* {====================================================== checks */

/*
** precheck -- look at the file before libpmemobj does, to name the problem:
** missing, not a pmemobj pool, or a pool of another layout. Sets p->size to
** the file's size (UINT64_MAX for a poolset, which libpmemobj maps).
*/
static int precheck(pml_Pool *p, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(p, errno, "%s: %s", path, strerror(errno));
  char hdr[HDR_LAYOUT_OFFSET + 64];
  ssize_t n = pread(fd, hdr, sizeof hdr, 0);
  struct stat st;
  int isreg = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  close(fd);
  if (!isreg) return fail(p, EINVAL, "%s: not a pmlua pool (not a regular file)", path);
  p->size = (uint64_t)st.st_size;
  if (n >= (ssize_t)sizeof "PMEMPOOLSET" - 1 && memcmp(hdr, "PMEMPOOLSET", 11) == 0) {
    p->size = UINT64_MAX;
    return PML_OK;
  }
  if (n < (ssize_t)sizeof hdr || st.st_size < HDR_MIN_FILE)
    return fail(p, EINVAL, "%s: not a pmlua pool (file too small: %lld bytes)",
                path, (long long)st.st_size);
  if (memcmp(hdr, HDR_SIGNATURE, sizeof HDR_SIGNATURE) != 0)
    return fail(p, EINVAL, "%s: not a pmlua pool (no pmemobj pool signature)", path);
  const char *layout = hdr + HDR_LAYOUT_OFFSET;
  if (strncmp(layout, PML_LAYOUT, 64) != 0)
    return fail(p, EINVAL, "%s: not a pmlua pool (pmemobj layout '%.*s')",
                path, 63, layout);
  return PML_OK;
}

/* dsc -- the pool descriptor's word at off, of the pool mapped at base
   (the file is at least HDR_MIN_FILE bytes: precheck) */
static uint64_t dsc(const char *base, uint64_t off) {
  uint64_t v;
  memcpy(&v, base + off, sizeof v);
  return v;
}

/*
** check_root -- with the pool mapped at p->base: the heap's header, the
** root object (its offset is outside every checksum libpmemobj keeps), and
** that the root is ours, of a format we read. Sets p->root.
*/
static int check_root(pml_Pool *p, const char *path) {
  const char *why;
  uint64_t heap_off = dsc(p->base, PML_DSC_HEAP_OFF);
  if (p->size == UINT64_MAX)                  /* a poolset: what it maps */
    p->size = heap_off + dsc(p->base, PML_DSC_HEAP_SIZE);
  if (pml_heap_boot(&p->heap, p->base, p->size, heap_off, &why) != 0)
    return fail(p, EINVAL, "%s: damaged pool (%s)", path, why);
  uint64_t off = dsc(p->base, PML_DSC_ROOT_OFF), rsize = dsc(p->base, PML_DSC_ROOT_SIZE);
  if (rsize != sizeof(pml_Root))
    return fail(p, EINVAL, "%s: damaged pool (root object of %llu bytes)", path,
                (unsigned long long)rsize);
  if (!pml_heap_has(&p->heap, off, POBJ_ROOT_TYPE_NUM, sizeof(pml_Root)))
    return fail(p, EINVAL, "%s: damaged pool (no root object at offset %llu)", path,
                (unsigned long long)off);
  p->root = pml_ptr(p, off);
  if (memcmp(p->root->magic, PML_MAGIC, sizeof p->root->magic) != 0)
    return fail(p, EINVAL, "%s: damaged pool (bad root magic)", path);
  if (p->root->version != PML_FORMAT_VERSION && p->root->version != PML_FORMAT_FIXED)
    return fail(p, EINVAL, "%s: pool format version %llu is not supported "
                "(this pmlua reads versions %d and %d)", path,
                (unsigned long long)p->root->version, PML_FORMAT_FIXED, PML_FORMAT_VERSION);
  if (p->root->state != PML_STATE_CLEAN && p->root->state != PML_STATE_OPEN)
    return fail(p, EINVAL, "%s: damaged pool (bad run state)", path);
  return PML_OK;
}

int pml_pool_sync(pml_Pool *p) {
  int e = pml_wal_sync(&p->wal);
  return e ? fail(p, e, "%s: cannot sync the log: %s", p->wal.path, strerror(e)) : PML_OK;
}

/* }====================================================== */

/* {====================================================== trial open */

/*
** sealed -- may the pool at path skip the trial open? Yes if pmlua closed
** it cleanly and its lanes are as that close sealed them: libpmemobj's
** recovery at open replays only what the lanes hold, and lanes a clean
** close left cannot crash it. libpmemobj's open also walks the heap's
** zone and chunk headers, which a damaged file can make it loop on:
** those are checked here first (a clean pool's heap is consistent, nothing
** is left to replay), on a read-only mapping of the file, trusting none of
** it. It also trusts the descriptor's heap size (outside every checksum),
** which can make it crash: a pool whose heap size is not what pmlua
** creates (the rest of the file) gets the trial. Sets *skip; a status (a
** damaged heap is refused at once).
*/
static int sealed(pml_Pool *p, const char *path, int *skip) {
  *skip = 0;
  if (p->size == UINT64_MAX) return PML_OK;             /* a poolset */
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PML_OK;
  char *m = mmap(NULL, p->size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return PML_OK;
  uint64_t lanes_off = dsc(m, PML_DSC_LANES_OFF), nlanes = dsc(m, PML_DSC_NLANES);
  uint64_t root_off = dsc(m, PML_DSC_ROOT_OFF), heap_off = dsc(m, PML_DSC_HEAP_OFF);
  pml_Heap h;
  const char *why = NULL;
  int st = PML_OK;
  int booted = pml_heap_boot(&h, m, p->size, heap_off, &why) == 0 &&
               pml_heap_has(&h, root_off, POBJ_ROOT_TYPE_NUM, sizeof(pml_Root));
  const pml_Root *root = booted ? (const pml_Root *)(m + root_off) : NULL;
  if (root != NULL && memcmp(root->magic, PML_MAGIC, sizeof root->magic) == 0 &&
      root->state == PML_STATE_CLEAN && root->seal != 0) {
    if (pml_heap_check(&h, &why) != 0 ||
        pml_heap_check_lanes(&h, lanes_off, nlanes, &why) != 0)
      st = fail(p, EINVAL, "%s: damaged pool (%s)", path, why);
    else
      *skip = dsc(m, PML_DSC_HEAP_SIZE) == p->size - heap_off &&
              dsc(m, PML_DSC_CONVERSION) == 0 &&
              pml_heap_lanes_seal(m + lanes_off, nlanes * PML_LANE_SIZE) == root->seal;
  }
  munmap(m, p->size);
  return st;
}

static long trial_timeout_ms(void) {
  const char *s = getenv("PMLUA_OPEN_TIMEOUT");
  double secs = s ? strtod(s, NULL) : 0;
  if (secs > 86400) secs = 86400;                 /* a day: no overflow */
  return secs > 0 ? (long)(secs * 1000) : TRIAL_TIMEOUT_MS;
}

/* set_cow -- map pools opened from now on privately (changes never reach
   the file: recovery for a read-only open) */
static void set_cow(int on) {
  pmemobj_ctl_set(NULL, "copy_on_write.at_open", &on);
}

/* wait_exit -- wait until child pid has exited or ms have passed: poll on
   a pidfd where the kernel has them, else short sleeps */
static void wait_exit(pid_t pid, long ms) {
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    struct pollfd pf = { fd, POLLIN, 0 };
    long start = now_ms(), left = ms;
    while (left > 0 && poll(&pf, 1, left > INT_MAX ? INT_MAX : (int)left) < 0 &&
           errno == EINTR)
      left = ms - (now_ms() - start);
    close(fd);
    return;
  }
  for (long start = now_ms(), nap = 1; now_ms() - start <= ms; nap = nap < 16 ? 2 * nap : nap) {
    siginfo_t si;
    si.si_pid = 0;
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid != 0)
      return;
    sleep_ms(nap);
  }
}

/*
** reap -- wait for the trial child at most ms milliseconds, then kill it;
** the child is always reaped, so it holds no lock once this returns.
** Returns its status, or -1 if it had to be killed.
*/
static int reap(pid_t pid, long ms) {
  int status;
  wait_exit(pid, ms);
  pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) return status;
  if (r < 0) return 0;                      /* not ours to wait for */
  kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return -1;
}

/*
** trial_open -- open the pool once in a forked child first: libpmemobj's
** recovery of a damaged lane may crash or loop, and neither may reach the
** caller. The child dies with its caller (PDEATHSIG) and is killed if it
** takes longer than the time limit; its open may replay the pool's logs,
** which the real open would do anyway.
*/
static int trial(pml_Pool *p, const char *path, const char *fpath, int fd, int cow);

static int trial_open(pml_Pool *p, const char *path, const char *fpath, int fd, int cow) {
  /* a host that ignores SIGCHLD would have the child reaped by the kernel,
     and its crash unseen: the default action while the trial runs */
  struct sigaction dfl, old;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, &old);
  int st = trial(p, path, fpath, fd, cow);
  sigaction(SIGCHLD, &old, NULL);
  return st;
}

/*
** The trial runs libpmemobj's open in another process. A host that can
** start itself as the checker (pmlua, pmtool: pml_pool_trial_exe) spawns
** it with posix_spawn, whose cost does not grow with the caller's memory
** and which is safe in a threaded host; otherwise (pmem.so in another
** interpreter) the process forks. The checker gets the pool as fd
** TRIAL_FD, and the parent's pid, to die with it.
*/
#define TRIAL_FD  100
#define TRIAL_ARG "--pmlua-trial-open"

/*
** The checker's program, chosen once, at the top of the host's main.
** pmlua and pmtool name themselves "/proc/self/exe": the file the process
** runs, even after it was moved, replaced or deleted (CHECKER_EXE). Under
** valgrind it is not: the process runs valgrind's tool, /proc/self/exe is
** the tool's file, while valgrind answers open and readlink of it with the
** program's file and name. Then the checker is spawned by that name
** (valgrind --trace-children follows it), but only while the name is
** still the program's file; after that, forked (CHECKER_NAME). The
** checker is never a program other than the caller's own.
*/
static struct {
  enum { CHECKER_FORK, CHECKER_EXE, CHECKER_NAME } how;
  const char *exe;
  char name[PATH_MAX];        /* CHECKER_NAME: the program's name ... */
  dev_t dev;                  /* ... and file at startup */
  ino_t ino;
} checker;

void pml_pool_trial_exe(const char *exe) {
  struct stat self, prog;
  checker.how = CHECKER_FORK;
  if (exe == NULL) return;
  checker.exe = exe;
  checker.how = CHECKER_EXE;
  int fd = open(exe, O_RDONLY | O_CLOEXEC);
  int known = fd >= 0 && fstat(fd, &prog) == 0 && stat(exe, &self) == 0;
  if (fd >= 0) close(fd);
  if (!known || (prog.st_dev == self.st_dev && prog.st_ino == self.st_ino)) return;
  ssize_t n = readlink(exe, checker.name, sizeof checker.name - 1);
  checker.name[n > 0 ? n : 0] = '\0';
  checker.dev = prog.st_dev;
  checker.ino = prog.st_ino;
  checker.how = CHECKER_NAME;
}

/* checker_path -- the program to spawn as the checker now, or NULL: fork */
static const char *checker_path(void) {
  struct stat st;
  switch (checker.how) {
  case CHECKER_EXE: return checker.exe;
  case CHECKER_NAME:
    return stat(checker.name, &st) == 0 && st.st_dev == checker.dev &&
           st.st_ino == checker.ino ? checker.name : NULL;
  default: return NULL;
  }
}

/* trial_child -- the checker's work, in the forked or spawned process:
   named for held_by_trial, dying with the parent, opening the pool */
static void trial_child(pid_t parent, const char *fpath, int cow) {
  prctl(PR_SET_NAME, TRIAL_NAME);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(0);
  set_cow(cow);
  PMEMobjpool *pop = pmemobj_open(fpath, PML_LAYOUT);
  if (pop) pmemobj_close(pop);
  _exit(0);                               /* libpmemobj returned: no crash */
}

int pml_pool_trial_main(int argc, char **argv) {
  if (argc != 5 || strcmp(argv[1], TRIAL_ARG) != 0) return 0;
  trial_child((pid_t)strtol(argv[4], NULL, 10), argv[2], argv[3][0] == '1');
  return 1;
}

/* spawn -- the checker started as program exe, or -1 (errno set) */
static pid_t spawn(const char *exe, int fd, int cow, pid_t parent) {
  char fdpath[32], ppid[24];
  snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", TRIAL_FD);
  snprintf(ppid, sizeof ppid, "%ld", (long)parent);
  char *argv[] = { (char *)"pmlua", (char *)TRIAL_ARG, fdpath,
                   (char *)(cow ? "1" : "0"), ppid, NULL };
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int e = posix_spawn_file_actions_init(&fa);
  if (e == 0) {
    e = posix_spawn_file_actions_adddup2(&fa, fd, TRIAL_FD);
    if (e == 0) e = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
  }
  errno = e;
  return e == 0 ? pid : -1;
}

/* start -- the checker's pid: spawned, or else (no program to spawn, or
   the spawn failed) forked; -1 (errno set) if neither could start it */
static pid_t start(const char *fpath, int fd, int cow) {
  pid_t parent = getpid();
  const char *exe = fd >= 0 ? checker_path() : NULL;
  pid_t pid = exe != NULL ? spawn(exe, fd, cow, parent) : -1;
  if (pid >= 0) return pid;
  pid = fork();
  if (pid == 0) trial_child(parent, fpath, cow);
  return pid;
}

/* trial -- trial_open's start, wait and verdict */
static int trial(pml_Pool *p, const char *path, const char *fpath, int fd, int cow) {
  pid_t pid = start(fpath, fd, cow);
  if (pid < 0)                     /* unchecked, the open could crash or loop */
    return fail(p, errno, "%s: cannot start the checker of a trial open (%s)", path,
                strerror(errno));
  long limit = trial_timeout_ms();
  int status = reap(pid, limit);
  if (status == -1)
    return fail(p, EINVAL, "%s: damaged pool (libpmemobj did not finish opening it "
                "within %ld s)", path, limit / 1000);
  /* a crash is a signal, or (under a sanitizer, which catches the signal
     and exits) any status but 0 */
  if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
    return fail(p, EINVAL, "%s: damaged pool (libpmemobj crashed opening it, %s %d)", path,
                WIFSIGNALED(status) ? "signal" : "exit status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  return PML_OK;
}

/* is_trial -- is process pid a trial child (of any pmlua process)? */
static int is_trial(long pid) {
  char f[64], comm[32] = "";
  snprintf(f, sizeof f, "/proc/%ld/comm", pid);
  FILE *fp = fopen(f, "re");
  if (fp == NULL) return 0;
  int ok = fgets(comm, sizeof comm, fp) != NULL;
  fclose(fp);
  return ok && strncmp(comm, TRIAL_NAME, sizeof TRIAL_NAME - 1) == 0;
}

/*
** held_by_trial -- is the flock on path held by a trial child? Such a lock
** is gone within the trial's time limit: its parent waits for it or, if
** killed, takes it down with it (PDEATHSIG), only not at the same instant.
*/
static int held_by_trial(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return 0;
  FILE *fp = fopen("/proc/locks", "re");
  if (fp == NULL) return 0;
  char line[256];
  int found = 0;
  while (!found && fgets(line, sizeof line, fp)) {
    long pid;
    unsigned maj, min;
    unsigned long ino;
    if (sscanf(line, "%*d: FLOCK %*s %*s %ld %x:%x:%lu", &pid, &maj, &min, &ino) == 4 &&
        ino == st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev))
      found = is_trial(pid);
  }
  fclose(fp);
  return found;
}

/*
** lock_file -- a flock of the pool file (op: LOCK_EX, as libpmemobj's, or
** LOCK_SH) through fd, waiting out a trial child's (bounded by its time
** limit): 0, or the errno of a lock another open holds
*/
static int lock_file(int fd, const char *path, int op) {
  long start = now_ms(), limit = trial_timeout_ms() + 1000;
  while (flock(fd, op | LOCK_NB) != 0) {
    int e = errno;
    if (e != EWOULDBLOCK || now_ms() - start >= limit || !held_by_trial(path)) return e;
    sleep_ms(2);
  }
  return 0;
}

/* }====================================================== */

/* {====================================================== open */

/*
** The pools open in this process, by their file's identity: a second open
** of one of them fails on libpmemobj's flock like an open elsewhere, and
** the message says which it is. Linked through pml_Pool.nextopen; written
** only here (pool_opened, pool_closed).
*/
static pml_Pool *opened;
static pthread_mutex_t opened_lock = PTHREAD_MUTEX_INITIALIZER;

static void pool_opened(pml_Pool *p, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return;
  p->dev = st.st_dev;
  p->ino = st.st_ino;
  pthread_mutex_lock(&opened_lock);
  p->nextopen = opened;
  opened = p;
  pthread_mutex_unlock(&opened_lock);
}

static void pool_closed(pml_Pool *p) {
  pthread_mutex_lock(&opened_lock);
  for (pml_Pool **q = &opened; *q != NULL; q = &(*q)->nextopen)
    if (*q == p) {
      *q = p->nextopen;
      break;
    }
  pthread_mutex_unlock(&opened_lock);
  p->nextopen = NULL;
}

/* open_here -- is the file at path open in this process? */
static int open_here(const char *path) {
  struct stat st;
  int found = 0;
  if (stat(path, &st) != 0) return 0;
  pthread_mutex_lock(&opened_lock);
  for (pml_Pool *q = opened; q != NULL && !found; q = q->nextopen)
    found = q->dev == st.st_dev && q->ino == st.st_ino;
  pthread_mutex_unlock(&opened_lock);
  return found;
}

/* in_use -- the message for a pool whose lock another open holds */
static int in_use(pml_Pool *p, const char *path, int e) {
  if (open_here(path))
    return fail(p, e, "%s: pool is already open in this process (close it first, "
                "or use the pool value you have)", path);
  return fail(p, e, "%s: pool is in use (open in another process)", path);
}

/*
** lib_open -- pmemobj_open, waiting out a trial child's lock (bounded by
** its time limit), with our messages for its failures
*/
static PMEMobjpool *lib_open(pml_Pool *p, const char *path, const char *fpath) {
  long start = now_ms(), limit = trial_timeout_ms() + 1000;
  for (;;) {
    PMEMobjpool *pop = pmemobj_open(fpath, PML_LAYOUT);
    if (pop != NULL) return pop;
    int e = errno;
    if ((e == EAGAIN || e == EWOULDBLOCK) && now_ms() - start < limit &&
        held_by_trial(path)) {
      sleep_ms(2);
      continue;
    }
    if (e == EAGAIN || e == EWOULDBLOCK) in_use(p, path, e);
    else if (e == EACCES || e == EPERM || e == EROFS || e == ENOMEM)
      fail(p, e, "%s: %s", path, strerror(e));
    else
      fail(p, e ? e : EINVAL, "%s: damaged pool, libpmemobj cannot open it (%s)",
           path, pmemobj_errormsg());
    return NULL;
  }
}

/* unmap -- undo own_open's mapping */
static void unmap(pml_Pool *p) {
  munmap(p->base, p->size);
  close(p->fd);
  p->fd = -1;
  p->base = NULL;
  p->root = NULL;
}

/*
** own_map -- map the pool file p->fd for own_open: shared and read-only;
** or, if the pool has a log (its last run crashed under the log engine),
** private, with the log's committed frames replayed into the mapping (the
** file is not written), then read-only. *logged says which.
*/
static int own_map(pml_Pool *p, const char *path, int *logged) {
  char lpath[sizeof p->wal.path], why[sizeof p->err];
  struct stat st;
  *logged = pml_wal_path(path, lpath, sizeof lpath) == 0 && access(lpath, F_OK) == 0;
  int prot = PROT_READ | (*logged ? PROT_WRITE : 0);
  if (fstat(p->fd, &st) != 0) return fail(p, errno, "%s: %s", path, strerror(errno));
  uint64_t fsize = (uint64_t)st.st_size < p->size ? (uint64_t)st.st_size : p->size;
  /* a growing pool at rest: its heap's free tail, cut off the file, is
     mapped as the zeros an extended file would read */
  void *m = mmap(NULL, p->size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return fail(p, errno, "%s: %s", path, strerror(errno));
  p->base = m;
  if (mmap(m, fsize, prot, MAP_FIXED | (*logged ? MAP_PRIVATE : MAP_SHARED), p->fd, 0) == MAP_FAILED)
    return fail(p, errno, "%s: %s", path, strerror(errno));
  if (!*logged) return PML_OK;
  int e = pml_wal_read(lpath, p->fd, m, logged, why, sizeof why);
  if (e != 0) return fail(p, e, "%s", why);
  if (mprotect(m, p->size, PROT_READ) != 0)
    return fail(p, errno, "%s: %s", path, strerror(errno));
  return PML_OK;
}

/*
** own_open -- map a pool read-only, without libpmemobj: one cleanly
** closed, or one whose log gives its last commit (the log engine's lanes
** hold nothing to recover at a commit). A shared flock keeps libpmemobj
** openers (exclusive) out while it is open. Returns PML_OK; PML_EFULL (as
** "not possible here") if the pool needs libpmemobj: a poolset, or a pool
** whose last run did not close it.
*/
static int own_open(pml_Pool *p, const char *path) {
  if (p->size == UINT64_MAX) return PML_EFULL;
  p->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (p->fd < 0) return fail(p, errno, "%s: %s", path, strerror(errno));
  int e = lock_file(p->fd, path, LOCK_SH);
  if (e != 0) {
    close(p->fd);
    p->fd = -1;
    return in_use(p, path, e);
  }
  int logged = 0, st = own_map(p, path, &logged);
  if (st == PML_OK) st = check_root(p, path);
  if (st == PML_OK && p->root->state != PML_STATE_CLEAN && !logged) st = PML_EFULL;
  if (st != PML_OK && p->base != NULL) unmap(p);
  else if (st != PML_OK) { close(p->fd); p->fd = -1; }
  return st;
}

/*
** persistent_memory -- is the file fd on persistent memory, where
** libpmemobj's own persists are the cheapest durable path? A DAX file
** (it maps with MAP_SYNC), or libpmem told so (PMEM_IS_PMEM_FORCE=1).
** PMLUA_ENGINE=direct|log overrides (docs/durability.md).
*/
static int persistent_memory(int fd) {
  const char *e = getenv("PMLUA_ENGINE");
  if (e != NULL && strcmp(e, "direct") == 0) return 1;
  if (e != NULL && strcmp(e, "log") == 0) return 0;
  e = getenv("PMEM_IS_PMEM_FORCE");
  if (e != NULL && atoi(e) == 1) return 1;
  void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
  if (m == MAP_FAILED) return 0;
  munmap(m, 4096);
  return 1;
}

/*
** logged_open -- libpmemobj's open, through the log engine where the file
** is not persistent memory and the pool is opened to be written: mapped
** copy-on-write, its persists captured from the start of the open (the
** recovery of its lanes included). If nothing was captured, libpmemobj
** does not persist through the engine's hook here: the pool is opened
** again, directly (nothing reached the file meanwhile).
*/
static PMEMobjpool *logged_open(pml_Pool *p, const char *path, const char *lpath, int fd) {
  int logged = !p->readonly && fd >= 0 && p->size != UINT64_MAX &&
               !persistent_memory(fd);
  if (logged && pml_wal_begin(&p->wal, path, dup(fd), p->sync, &p->room) != 0) {
    pml_wal_end(&p->wal, 0, 1);
    logged = 0;
  }
  set_cow(p->readonly || logged);
  PMEMobjpool *pop = lib_open(p, path, lpath);
  set_cow(0);
  if (!logged) return pop;
  if (pop != NULL && pml_wal_attach(&p->wal, (const char *)pop, p->size) == 0)
    return pop;
  if (pop != NULL) pmemobj_close(pop);
  pml_wal_end(&p->wal, 0, 1);
  return pop != NULL ? lib_open(p, path, lpath) : NULL;
}

/*
** unlink_lent -- unlink from the lanes' redo logs the log reserve a crash
** left linked (pml_heap_lent_link), in the pool file fd, before
** libpmemobj opens the pool: its open builds each lane's volatile chain of
** logs from the file, so a link unlinked after it would stay in that
** chain (and the lane's next commit frees the reserve as its own log:
** libpmemobj crashes). Only logs libpmemobj's recovery leaves alone are
** touched (capacity 0: nothing to replay); the trial's recovery, just
** run, left every redo log so.
**
** Crash safety: each unlink is one aligned 8-byte write of a `next` (one
** sector), of a link whose target is a sound chain: any subset of them
** reaching the file leaves chains as libpmemobj's own unlinking does, and
** the next open finds and unlinks what is left (idempotent). An exclusive
** flock keeps out a process that has the pool open (the lanes are its
** own); the gate keeps out other openers.
*/
static void unlink_lent(pml_Pool *p, int fd) {
  if (p->size == UINT64_MAX || flock(fd, LOCK_EX | LOCK_NB) != 0) return;
  char *m = mmap(NULL, p->size, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    flock(fd, LOCK_UN);
    return;
  }
  uint64_t root_off = dsc(m, PML_DSC_ROOT_OFF), at, to;
  pml_Heap h;
  const char *why;
  int synced = 1;
  if (pml_heap_boot(&h, m, p->size, dsc(m, PML_DSC_HEAP_OFF), &why) == 0 &&
      pml_heap_has(&h, root_off, POBJ_ROOT_TYPE_NUM, sizeof(pml_Root))) {
    uint64_t lo = ((const pml_Root *)(m + root_off))->logbuf;
    /* each write unlinks a log: as many as the lanes' chains can hold */
    for (int n = 0; n < 1 << 16 && pml_heap_has(&h, lo, PML_TLOG, PML_LOGBUF_SIZE) &&
         pml_heap_lent_link(&h, dsc(m, PML_DSC_LANES_OFF), dsc(m, PML_DSC_NLANES),
                            lo, lo + PML_LOGBUF_SIZE, &at, &to); n++) {
      if (pwrite(fd, &to, sizeof to, (off_t)at) != (ssize_t)sizeof to) break;
      synced = 0;
    }
  }
  if (!synced) fdatasync(fd);
  munmap(m, p->size);
  flock(fd, LOCK_UN);
}

/*
** lib_open_checked -- open through libpmemobj, trial first unless the
** pool was created by this call; check the root and the heap. libpmemobj
** is given the file as /proc/self/fd/N: it derives longer names from the
** path it is given (its bad-block recovery file), which a long legal file
** name would push past the file system's limit.
*/
static int lib_open_checked(pml_Pool *p, const char *path, int created) {
  char fpath[64];
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
    return fail(p, errno, "%s: %s", path, strerror(errno));
  if (fd < 0 || access("/proc/self/fd", F_OK) != 0) snprintf(fpath, sizeof fpath, "%s", "");
  else snprintf(fpath, sizeof fpath, "/proc/self/fd/%d", fd);
  const char *lpath = fpath[0] ? fpath : path;
  int skip = created, st = created ? PML_OK : sealed(p, path, &skip);
  if (st == PML_OK && !skip) st = trial_open(p, path, lpath, fd, p->readonly);
  /* a sealed pool has no lent log linked: its lanes were checked */
  if (st == PML_OK && !skip && !p->readonly && fd >= 0) unlink_lent(p, fd);
  if (st == PML_OK) p->pop = logged_open(p, path, lpath, fd);
  if (st != PML_OK || p->pop == NULL) {
    if (fd >= 0) close(fd);
    return st != PML_OK ? st : PML_ESYS;
  }
  p->base = (char *)p->pop;
  const char *why;
  st = check_root(p, path);
  /* the heap and lanes of a pool created or sealed were checked already */
  if (st == PML_OK && !p->readonly && !skip &&
      (pml_heap_check(&p->heap, &why) != 0 ||
       pml_heap_check_lanes(&p->heap, dsc(p->base, PML_DSC_LANES_OFF),
                            dsc(p->base, PML_DSC_NLANES), &why) != 0))
    st = fail(p, EINVAL, "%s: damaged pool (%s)", path, why);
  if (st != PML_OK) {
    if (fd >= 0) close(fd);
    pml_wal_closing(&p->wal, 0);
    pmemobj_close(p->pop);
    pml_wal_end(&p->wal, 0, 1);
    p->pop = NULL;
    p->base = NULL;
    p->root = NULL;
    return st;
  }
  uint64_t used, total, end;
  pml_heap_usage(&p->heap, &used, &total, &end);
  int grow = !p->readonly && fd >= 0 && p->root->grow != 0;
  pml_room_open(&p->room, grow ? dup(fd) : -1, grow, p->size, end);
  if (fd >= 0) close(fd);
  p->uuid_lo = pmemobj_oid(p->root).pool_uuid_lo;
  p->crashed = p->root->state == PML_STATE_OPEN;
  p->unsealed = !skip;
  pml_pool_reserve(p);                    /* before the collection at open */
  return PML_OK;
}

/*
** recover_log -- replay the log a run left beside the pool (pml_wal.h)
** before anything else reads the file, under an exclusive flock (a pool
** open elsewhere holds libpmemobj's, and owns the log)
*/
static int recover_log(pml_Pool *p, const char *path) {
  char lpath[sizeof p->wal.path];
  if (pml_wal_path(path, lpath, sizeof lpath) != 0) return PML_OK;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0 && access(lpath, F_OK) != 0) return PML_OK;   /* libpmemobj says why */
  if (fd < 0)
    return fail(p, errno, "%s: the pool was not closed cleanly; replaying its log "
                "%s needs write permission to the pool (open it once with 'w')", path, lpath);
  /* the lock first, the log after: a run open elsewhere (its flock held)
     may start its log at any time, and one that closed keeps it until it
     passes the gate, which this open holds */
  int e = lock_file(fd, path, LOCK_EX);
  if (e != 0) {
    close(fd);
    return in_use(p, path, e);
  }
  if (access(lpath, F_OK) != 0) {
    close(fd);
    return PML_OK;
  }
  char why[sizeof p->err];
  e = pml_wal_recover(lpath, fd, why, sizeof why);
  close(fd);
  return e ? fail(p, e, "%s", why) : PML_OK;
}

/*
** heap_end -- where the heap of the pool file fd ends, if the file is a
** growing pool at rest that ends before it (pml_room.h); else 0. Trusts
** nothing: the descriptor's heap offset and size (outside its checksum)
** must be sane and the root object must say the pool grows.
*/
static uint64_t heap_end(int fd, uint64_t fsize) {
  uint64_t d[(PML_DSC_END - PML_DSC_LANES_OFF) / 8];
  pml_Root r;
  if (pread(fd, d, sizeof d, PML_DSC_LANES_OFF) != (ssize_t)sizeof d) return 0;
  uint64_t heap_off = d[(PML_DSC_HEAP_OFF - PML_DSC_LANES_OFF) / 8];
  uint64_t heap_size = d[(PML_DSC_HEAP_SIZE - PML_DSC_LANES_OFF) / 8];
  uint64_t root_off = d[(PML_DSC_ROOT_OFF - PML_DSC_LANES_OFF) / 8];
  if (heap_off < HDR_MIN_FILE || heap_off >= fsize || (heap_off & 4095) ||
      heap_size > PML_POOL_MAX || heap_size <= fsize - heap_off ||
      root_off > fsize - sizeof r ||
      pread(fd, &r, sizeof r, (off_t)root_off) != (ssize_t)sizeof r)
    return 0;
  if (memcmp(r.magic, PML_MAGIC, sizeof r.magic) != 0 ||
      r.version != PML_FORMAT_VERSION || r.grow == 0 || r.state != PML_STATE_CLEAN)
    return 0;
  return heap_off + heap_size;
}

/*
** fit_file -- a growing pool at rest (closed cleanly, its free tail cut
** off) gets its file extended to the heap's end before anything maps it,
** under an exclusive flock (as recover_log); a read-only open maps the
** tail as zeros instead (own_map). Sets p->size to the heap's end.
*/
static int fit_file(pml_Pool *p, const char *path) {
  if (p->size == UINT64_MAX) return PML_OK;             /* a poolset */
  int fd = open(path, p->readonly ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CLOEXEC);
  if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
    fd = open(path, O_RDONLY | O_CLOEXEC);   /* libpmemobj will say why */
  if (fd < 0) return fail(p, errno, "%s: %s", path, strerror(errno));
  uint64_t end = heap_end(fd, p->size);
  int st = PML_OK;
  if (end != 0 && !p->readonly) {
    int e = lock_file(fd, path, LOCK_EX);
    if (e != 0) st = in_use(p, path, e);
    else if ((errno = pml_room_extend(fd, end)) != 0)
      st = fail(p, errno, "%s: cannot extend the pool file to its heap's end: %s",
                path, strerror(errno));
  }
  close(fd);
  if (st == PML_OK && end != 0) p->size = end;
  return st;
}

/* {====================================================== the gate */

/*
** The gate: pmlua's own lock of a pool file, apart from libpmemobj's
** flock (an open file description's byte-range lock, F_OFD_SETLK, on a
** byte no file reaches: the two kinds never interact). A read-write open
** holds it from before it extends the file or replays a log until
** libpmemobj holds the file (pml_pool_open); a close holds it from after
** pmemobj_close until the log is checkpointed and removed and the file
** cut (pml_pool_close). So an open never meets a close half done: without
** it, an open that replayed a closing run's log and started its own could
** see the closer replay the old log over its changes and remove its log.
** Waits for the holder (a close's checkpoint), bounded.
*/
#define GATE_AT  ((off_t)1 << 62)

static int gate_lock(int fd) {
  struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = GATE_AT, .l_len = 1 };
  long start = now_ms(), limit = trial_timeout_ms();
  while (fcntl(fd, F_OFD_SETLK, &l) != 0) {
    if ((errno != EAGAIN && errno != EACCES) || now_ms() - start > limit) return -1;
    sleep_ms(2);
  }
  return 0;
}

/* gate_open -- the gate of the pool file at path, held: its descriptor
   (closing it opens the gate), or -1 if the file cannot be opened for
   writing (the open fails later, and says why) or the wait timed out */
static int gate_open(const char *path) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd >= 0 && gate_lock(fd) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* }====================================================== */

/* open_file -- the open proper, the pool file existing (created says if
   this call made it), under the gate for a read-write open */
static int open_file(pml_Pool *p, const char *path, int flag, const pml_Opts *o, int created) {
  p->readonly = flag == 'r';
  p->sync = o->sync;
  int st = precheck(p, path);
  if (st == PML_OK) st = fit_file(p, path);
  if (st == PML_OK && !p->readonly) st = recover_log(p, path);
  if (st != PML_OK) return st;
  if (p->readonly) {
    st = own_open(p, path);
    if (st != PML_EFULL) return st;
    if (access(path, W_OK) != 0)
      return fail(p, EACCES, "%s: the pool was not closed cleanly; its recovery "
                  "needs write permission to the file (open it once with 'w')", path);
  }
  return lib_open_checked(p, path, created);
}

/*
** lanes_env -- libpmemobj sizes a pool's lane locks by the lane count in
** its descriptor, but picks a lane among PMEMOBJ_NLANES of them (default
** 1024), each new thread starting 8 further on: with a pool of PML_NLANES
** lanes a ninth thread would index past the locks. So the process uses at
** most PML_NLANES lanes of any pool. Runs once, before the first open.
*/
static void lanes_env(void) {
  const char *s = getenv("PMEMOBJ_NLANES");
  char v[16];
  if (s != NULL && atoi(s) > 0 && atoi(s) <= PML_NLANES) return;
  snprintf(v, sizeof v, "%d", PML_NLANES);
  setenv("PMEMOBJ_NLANES", v, 1);
}

int pml_pool_open(pml_Pool *p, const char *path, int flag, const pml_Opts *o) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, lanes_env);
  int st = PML_OK, created = 0;
  if (flag == 'x' || (flag == 'c' && access(path, F_OK) != 0 && errno == ENOENT)) {
    st = create(p, path, o);
    if (st != PML_OK && !(flag == 'c' && p->errnum == EEXIST)) return st;
    created = st == PML_OK;           /* or another creator won: open its pool */
  }
  /* the gate once the file exists, whoever created it */
  int gate = flag == 'r' ? -1 : gate_open(path);
  st = open_file(p, path, flag, o, created);
  if (gate >= 0) close(gate);
  if (st == PML_OK) {
    pml_fault_watch(p->base, p->size, path);
    pool_opened(p, path);
  }
  return st;
}

/*
** pml_pool_reserve -- a transaction's logs hold a few dozen frees and
** snapshots; past that libpmemobj allocates log extensions from the pool,
** which fails when the pool is full -- and so would a collection, the
** only way to get room back. The log reserve, allocated once and kept,
** extends the logs of collections and bulk frees instead (pml_tx_open_bulk).
** Small pools go without: there a chunk is missed (a run of the classes
** for 40 to 400 KiB takes up to 16 chunks), and collections commit in
** smaller batches.
*/
void pml_pool_reserve(pml_Pool *p) {
  if (p->pop == NULL || p->readonly || pml_tx_active(p) || p->logbuf != 0) return;
  if (p->size < PML_LOGBUF_MIN_POOL) return;  /* the lanes' logs only */
  uint64_t off = p->root->logbuf;
  if (off != 0 && pml_heap_has(&p->heap, off, PML_TLOG, PML_LOGBUF_SIZE)) {
    p->logbuf = off;
    return;
  }
  /* none yet (new pool, or made by an older pmlua): allocate one and store
     its offset in the root atomically (no room: the lanes' logs only) */
  struct pobj_action act[2];
  if (pml_room_reserve(&p->room, PML_LOGBUF_SIZE) != 0) return;
  PMEMoid o = pmemobj_reserve(p->pop, &act[0], PML_LOGBUF_SIZE, PML_TLOG);
  if (OID_IS_NULL(o)) return;
  if (pml_room_note(&p->room, o.off, PML_LOGBUF_SIZE) != 0) {
    pmemobj_cancel(p->pop, act, 1);
    return;
  }
  pmemobj_set_value(p->pop, &act[1], &p->root->logbuf, o.off);
  if (pmemobj_publish(p->pop, act, 2) == 0 && pml_wal_commit(&p->wal) == 0)
    p->logbuf = o.off;
}

/*
** pml_pool_recycle -- libpmemobj serves each allocation class from runs of
** 1 to 16 chunks, and keeps each class's current run attached to it even
** when empty; only heap_force_recycle (reached through pmemobj_defrag,
** here of no objects) gives every empty run back as free chunks, usable
** by any size. Cost: a look at every run.
*/
void pml_pool_recycle(pml_Pool *p) {
  if (p->pop == NULL || p->readonly || pml_tx_active(p)) return;
  (void)pmemobj_defrag(p->pop, NULL, 0, NULL);
  (void)pml_wal_commit(&p->wal);             /* a failure refuses later changes */
}

uint64_t pml_pool_file_size(const pml_Pool *p, uint64_t end) {
  if (p->root == NULL || p->root->grow == 0 || p->root->version == PML_FORMAT_FIXED)
    return p->size;
  return (end + 4095) & ~(uint64_t)4095;
}

int pml_pool_start_run(pml_Pool *p) {
  if (p->readonly) return PML_OK;
  p->root->state = PML_STATE_OPEN;
  pmemobj_persist(p->pop, &p->root->state, sizeof p->root->state);
  return PML_OK;
}

/*
** seal -- mark the run closed cleanly, and seal the lanes as they are
** (no transaction is open; their place was checked at open) for the next
** open (sealed). The seal is written first: a crash between the two
** leaves the pool marked open, or sealed by a stale hash that the next
** open will not match.
*/
static void seal(pml_Pool *p) {
  uint64_t lanes_off = dsc(p->base, PML_DSC_LANES_OFF), nlanes = dsc(p->base, PML_DSC_NLANES);
  p->root->seal = pml_heap_lanes_seal(p->base + lanes_off, nlanes * PML_LANE_SIZE);
  pmemobj_persist(p->pop, &p->root->seal, sizeof p->root->seal);
  p->root->state = PML_STATE_CLEAN;
  pmemobj_persist(p->pop, &p->root->state, sizeof p->root->state);
}

void pml_pool_close(pml_Pool *p, int clean) {
  if (!pml_isopen(p)) return;
  pool_closed(p);
  pml_fault_unwatch(p->base);
  if (p->pop == NULL) {
    unmap(p);
  } else {
    /* a clean close of a run that committed nothing leaves the file as it
       was (sealed: the next open needs no trial); the others keep every
       page the run changed, the seal included */
    int keep = clean && (p->wal.commits > 0 || p->crashed || p->unsealed);
    uint64_t used, total, end;
    pml_heap_usage(&p->heap, &used, &total, &end);
    if (!p->readonly && clean) seal(p);
    if (keep) pml_wal_dirty(&p->wal, end);
    pml_wal_closing(&p->wal, keep);
    pmemobj_close(p->pop);
    /* the gate, then the file (libpmemobj's flock, released by its close):
       if another process opened the pool meanwhile, it replayed the log
       and owns it; the file is left as it is */
    int fd = p->wal.on ? p->wal.pfd : p->room.fd;
    int own = fd >= 0 && gate_lock(fd) == 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
    int e = pml_wal_end(&p->wal, keep, own);
    /* a log left for the next open needs the whole file */
    pml_room_close(&p->room, clean && own && e == 0, end);
  }
  p->epoch++;
  p->pop = NULL;
  p->base = NULL;
  p->root = NULL;
  p->heap.base = NULL;
  p->logbuf = 0;
  pml_tx_free_state(p);
  pml_ref_free_state(p);
}

/* }====================================================== */
