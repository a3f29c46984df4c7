/*
** pml_pool.c -- pool lifetime: atomic creation, open with format checks,
** run state, close (pml_pool.h).
*/
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "pml_pool.h"

/* where libpmemobj keeps the layout name: after the 4 KiB pool header */
#define HDR_SIGNATURE      "PMEMOBJ"
#define HDR_LAYOUT_OFFSET  4096
#define HDR_MIN_FILE       8192

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
  pml_map_init(&p->txnew);
  pml_map_init(&p->txlen);
  pml_map_init(&p->suspects);
  p->hooks = hooks;
  p->hookud = hookud;
  p->epoch = 1;
}

/*
** init_root -- give a just-created pool its root object (magic, version).
** Runs on the temporary file, so a crash here leaves no pool at the path.
*/
static int init_root(PMEMobjpool *pop) {
  PMEMoid r = pmemobj_root(pop, sizeof(pml_Root));
  if (OID_IS_NULL(r)) return -1;
  pml_Root *root = pmemobj_direct(r);
  memcpy(root->magic, PML_MAGIC, sizeof root->magic);
  root->version = PML_FORMAT_VERSION;
  root->state = PML_STATE_CLEAN;
  pmemobj_persist(pop, root, sizeof *root);
  return 0;
}

/* sync_dir -- make a rename or link in the directory of path durable */
static void sync_dir(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) { fsync(fd); close(fd); }
}

/*
** sweep_stale -- remove temporary files of creations whose process died
** (kill -9 during create): ".NAME.pmlua-new.PID.N" with PID gone.
*/
static void sweep_stale(const char *dir, const char *name) {
  char prefix[512];
  int plen = snprintf(prefix, sizeof prefix, ".%s.pmlua-new.", name);
  DIR *d = opendir(dir);
  if (d == NULL || plen >= (int)sizeof prefix) { if (d) closedir(d); return; }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, prefix, (size_t)plen) != 0) continue;
    long pid = strtol(e->d_name + plen, NULL, 10);
    if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
      char f[4096];
      if (snprintf(f, sizeof f, "%s/%s", dir, e->d_name) < (int)sizeof f) unlink(f);
    }
  }
  closedir(d);
}

/*
** create -- create a pool at path atomically: build it complete under a
** temporary name in the same directory, then link it into place (link
** fails if path exists, so 'x' semantics hold even against a racing
** creator). Returns PML_OK, or PML_ESYS with errnum EEXIST if path exists.
*/
static int create(pml_Pool *p, const char *path, size_t size, unsigned mode) {
  static unsigned counter;
  char tmp[4096], dir[4096], base[4096];
  snprintf(dir, sizeof dir, "%s", path);
  snprintf(base, sizeof base, "%s", path);
  char *d = dirname(dir), *b = basename(base);
  if (snprintf(tmp, sizeof tmp, "%s/.%s.pmlua-new.%ld.%u", d, b, (long)getpid(),
               counter++) >= (int)sizeof tmp)
    return fail(p, ENAMETOOLONG, "%s: %s", path, strerror(ENAMETOOLONG));
  sweep_stale(d, b);
  mode_t um = umask(0);                     /* libpmemobj does not apply it */
  umask(um);
  PMEMobjpool *pop = pmemobj_create(tmp, PML_LAYOUT, size, mode & ~um);
  if (pop == NULL) {
    int e = errno;
    if (e == ENOENT || e == EACCES || e == ENOTDIR || e == EROFS)
      return fail(p, e, "%s: %s", path, strerror(e));
    return fail(p, e, "%s: cannot create pool: %s", path, pmemobj_errormsg());
  }
  int ok = init_root(pop) == 0;
  pmemobj_close(pop);
  if (!ok) {
    unlink(tmp);
    return fail(p, ENOMEM, "%s: cannot create pool root", path);
  }
  int r = link(tmp, path);
  int e = errno;
  unlink(tmp);
  if (r != 0) return fail(p, e, "%s: %s", path, strerror(e));
  sync_dir(path);
  return PML_OK;
}

/*
** precheck -- look at the file before libpmemobj does, to name the problem:
** missing, not a pmemobj pool, or a pool of another layout.
*/
static int precheck(pml_Pool *p, const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fail(p, errno, "%s: %s", path, strerror(errno));
  char hdr[HDR_LAYOUT_OFFSET + 64];
  ssize_t n = pread(fd, hdr, sizeof hdr, 0);
  struct stat st;
  int isreg = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  close(fd);
  if (!isreg) return fail(p, EINVAL, "%s: not a pmlua pool (not a regular file)", path);
  p->size = (uint64_t)st.st_size;
  if (n >= (ssize_t)sizeof "PMEMPOOLSET" - 1 && memcmp(hdr, "PMEMPOOLSET", 11) == 0) {
    p->size = UINT64_MAX;                 /* a poolset: libpmemobj checks it */
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

/* check_root -- the root object must be ours, of a format we read */
static int check_root(pml_Pool *p, const char *path) {
  if (pmemobj_root_size(p->pop) != sizeof(pml_Root))
    return fail(p, EINVAL, "%s: damaged pool (root object of %zu bytes)",
                path, pmemobj_root_size(p->pop));
  PMEMoid r = pmemobj_root(p->pop, sizeof(pml_Root));
  p->root = pmemobj_direct(r);
  if (memcmp(p->root->magic, PML_MAGIC, sizeof p->root->magic) != 0)
    return fail(p, EINVAL, "%s: damaged pool (bad root magic)", path);
  if (p->root->version != PML_FORMAT_VERSION)
    return fail(p, EINVAL, "%s: pool format version %llu is not supported "
                "(this pmlua reads version %d)", path,
                (unsigned long long)p->root->version, PML_FORMAT_VERSION);
  if (p->root->state != PML_STATE_CLEAN && p->root->state != PML_STATE_OPEN)
    return fail(p, EINVAL, "%s: damaged pool (bad run state)", path);
  return PML_OK;
}

/*
** trial_open -- open the pool once in a forked child first: libpmemobj
** itself may crash on damaged metadata (lanes, heap headers), and a crash
** there must not take the caller down. The child exits at once; its open
** may replay the pool's logs, which the real open would do anyway.
*/
static int trial_open(pml_Pool *p, const char *path) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return PML_OK;               /* cannot test: go on */
  if (pid == 0) {
    /* die with the caller: a killed caller must not leave the pool locked */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(0);
    PMEMobjpool *pop = pmemobj_open(path, PML_LAYOUT);
    if (pop) pmemobj_close(pop);
    _exit(0);                               /* libpmemobj returned: no crash */
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return PML_OK;
  /* a crash is a signal, or (under a sanitizer, which catches the signal
     and exits) any status but 0 */
  if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
    return fail(p, EINVAL, "%s: damaged pool (libpmemobj crashed opening it, %s %d)", path,
                WIFSIGNALED(status) ? "signal" : "exit status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  return PML_OK;
}

/* open_existing -- pmemobj_open with our messages for its failures */
static int open_existing(pml_Pool *p, const char *path) {
  int st = precheck(p, path);
  if (st == PML_OK) st = trial_open(p, path);
  if (st != PML_OK) return st;
  p->pop = pmemobj_open(path, PML_LAYOUT);
  if (p->pop == NULL) {
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK)
      return fail(p, e, "%s: pool is in use (open in this or another process)", path);
    if (e == EACCES || e == EPERM || e == EROFS || e == ENOMEM)
      return fail(p, e, "%s: %s", path, strerror(e));
    return fail(p, e ? e : EINVAL, "%s: damaged pool, libpmemobj cannot open it (%s)",
                path, pmemobj_errormsg());
  }
  p->base = (char *)p->pop;
  p->uuid_lo = pmemobj_root(p->pop, sizeof(pml_Root)).pool_uuid_lo;
  st = check_root(p, path);
  if (st != PML_OK) {
    pmemobj_close(p->pop);
    p->pop = NULL;
    return st;
  }
  p->unclean = p->root->state == PML_STATE_OPEN;
  return PML_OK;
}

int pml_pool_open(pml_Pool *p, const char *path, int flag, size_t size,
                  unsigned mode) {
  if (flag == 'x' || (flag == 'c' && access(path, F_OK) != 0 && errno == ENOENT)) {
    int st = create(p, path, size, mode);
    if (st != PML_OK && !(flag == 'c' && p->errnum == EEXIST)) return st;
  }
  p->readonly = flag == 'r';
  return open_existing(p, path);
}

int pml_pool_start_run(pml_Pool *p) {
  if (p->readonly) return PML_OK;
  p->root->state = PML_STATE_OPEN;
  pmemobj_persist(p->pop, &p->root->state, sizeof p->root->state);
  return PML_OK;
}

void pml_pool_close(pml_Pool *p, int clean) {
  if (p->pop == NULL) return;
  if (!p->readonly && clean) {
    p->root->state = PML_STATE_CLEAN;
    pmemobj_persist(p->pop, &p->root->state, sizeof p->root->state);
  }
  pmemobj_close(p->pop);
  p->epoch++;
  p->pop = NULL;
  p->base = NULL;
  p->root = NULL;
  pml_map_free(&p->txnew);
  pml_map_free(&p->txlen);
  pml_map_free(&p->suspects);
}
