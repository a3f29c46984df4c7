/*
** pt_build.c -- a new pool from pmtool's graph, atomically (pt_build,
** pt_int.h).
**
** The pool is built under a temporary name in the target's directory,
** ".pmtool.NAME.PID.tmp": created complete (pml_pool_open 'x'), filled in
** transactions of a few thousand changes, closed cleanly, opened again
** read-only and checked (pt_check_pool), synced, and only then renamed over
** the target (resize, compact) or linked to it (restore: failing if the
** name exists). A crash before the rename leaves the target as it was and
** a temporary file, which the next build in the directory removes; a crash
** after it leaves the new pool, complete and synced.
**
** Nobody opens the pool while it is built, and it becomes visible only
** after the fsync: so its persists need not reach the file one by one.
** pmtool's build commands run with PMEM_IS_PMEM_FORCE=1 (pmtool.c), which
** makes libpmemobj flush CPU caches instead of calling msync per range,
** and pmlua use its direct engine instead of the log.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pml_cell.h"
#include "pml_list.h"
#include "pml_ref.h"
#include "pml_table.h"
#include "pt_int.h"

#define TMP_TAG   ".pmtool."
#define TMP_END   ".tmp"
#define BATCH     4096              /* changes per transaction */

void pt_crash_point(const char *name) {
  const char *at = getenv("PMTOOL_CRASH_AT");
  if (at != NULL && strcmp(at, name) == 0) raise(SIGKILL);
}

/* tmp_pid -- the pid in a temporary file's name, or 0 if it is not one */
static long tmp_pid(const char *name) {
  size_t n = strlen(name), t = strlen(TMP_END);
  if (strncmp(name, TMP_TAG, strlen(TMP_TAG)) != 0) return 0;
  const char *w = strstr(name, TMP_END "-wal");
  if (w != NULL && w[t + 4] == '\0') n = (size_t)(w - name);
  else if (n < t || strcmp(name + n - t, TMP_END) != 0) return 0;
  size_t e = n - t, s = e;
  while (s > 0 && name[s - 1] >= '0' && name[s - 1] <= '9') s--;
  if (s == e || s == 0 || name[s - 1] != '.') return 0;
  return strtol(name + s, NULL, 10);
}

void pt_build_sweep(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    long pid = tmp_pid(e->d_name);
    if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
      char f[4096];
      if (snprintf(f, sizeof f, "%s/%s", dir, e->d_name) < (int)sizeof f) unlink(f);
    }
  }
  closedir(d);
}

/* {====================================================== filling */

typedef struct Filler {
  pml_Pool *p;
  const pt_Graph *g;
  uint64_t *offs;           /* node id -> the container made for it */
  uint64_t changes;         /* in the open transaction */
  const char *path;
} Filler;

/* step -- one change more; commit and reopen every BATCH */
static int step(Filler *f) {
  if (++f->changes < BATCH) return PML_OK;
  f->changes = 0;
  int st = pml_tx_commit(f->p);
  return st == PML_OK ? pml_tx_open(f->p) : st;
}

/* val -- the pml_Val of graph value v (strings stay in the graph's arena) */
static void val(Filler *f, const pt_Val *v, pml_Val *out) {
  switch (v->tag) {
    case PT_FALSE: pml_val_tag(out, PML_CFALSE); break;
    case PT_TRUE: pml_val_tag(out, PML_CTRUE); break;
    case PT_INT: pml_val_int(out, v->u.i); break;
    case PT_FLT: pml_val_flt(out, v->u.d); break;
    case PT_STR: pml_val_str(out, pt_strp(f->g, v), v->len); break;
    case PT_REF: pml_val_ref(out, f->offs[v->u.id]); break;
    default: pml_val_tag(out, PML_CNIL); break;
  }
}

/* make -- the empty container of node id */
static int make(Filler *f, uint64_t id) {
  const pt_Node *nd = &f->g->nodes[id];
  pml_Pool *p = f->p;
  int st;
  if (nd->kind == PML_TLIST || nd->kind == PML_TTUPLE) {
    f->offs[id] = pml_list_new(p, nd->kind, &st);
    if (st == PML_OK) st = pml_list_reserve(p, pml_list(p, f->offs[id]), nd->n);
  } else {
    f->offs[id] = pml_table_new(p, nd->kind, &st);
  }
  if (st == PML_OK && nd->kind == PML_TOBJECT) {
    pml_Val cls;
    val(f, &nd->cls, &cls);
    pml_Object *o = pml_ptr(p, f->offs[id]);      /* allocated in this transaction */
    st = pml_cell_init(p, &o->cls, &cls);
  }
  return st;
}

/* fill -- the values of node id into its container */
static int fill(Filler *f, uint64_t id) {
  const pt_Node *nd = &f->g->nodes[id];
  pml_Pool *p = f->p;
  const pt_Val *vs = &f->g->vals[nd->first];
  int st = PML_OK;
  pml_Val k, v;
  pml_val_tag(&v, PML_CTRUE);
  if (nd->kind == PML_TLIST || nd->kind == PML_TTUPLE) {
    pml_List *l = pml_list(p, f->offs[id]);
    for (uint64_t i = 0; i < nd->n && st == PML_OK; i++) {
      val(f, &vs[i], &v);
      st = pml_list_append(p, l, &v);
      if (st == PML_OK) st = step(f);
    }
    return st;
  }
  pml_Table *t = pml_table(p, f->offs[id]);
  int pairs = nd->kind != PML_TSET;
  for (uint64_t i = 0; i < nd->n && st == PML_OK; i += 1 + pairs) {
    uint64_t before = t->count;
    val(f, &vs[i], &k);
    if (pairs) val(f, &vs[i + 1], &v);
    st = pml_table_set(p, t, &k, pml_val_hash(&k), &v);
    if (st == PML_OK && t->count != before + 1) {
      pt_Buf b = { 0 };
      pt_fmt_val(f->g, &b, &vs[i]);
      pt_err("%s: container @%llu (line %llu) holds the key %s twice", f->path,
             (unsigned long long)id, (unsigned long long)nd->line, pt_buf_str(&b));
      pt_buf_free(&b);
      return -1;
    }
    if (st == PML_OK) st = step(f);
  }
  return st;
}

/* fill_pool -- the whole graph into the open pool p */
static int fill_pool(pml_Pool *p, const pt_Graph *g, const char *path) {
  Filler f = { p, g, pt_alloc(NULL, (g->nnodes + 1) * sizeof(uint64_t)), 0, path };
  int st = pml_tx_open(p);
  pt_progress_start("building", 2 * g->nnodes);
  for (uint64_t id = 1; id <= g->nnodes && st == PML_OK; id++) {
    st = make(&f, id);
    if (st == PML_OK) st = step(&f);
    if ((id & 1023) == 0) pt_progress(id);
  }
  for (uint64_t id = 1; id <= g->nnodes && st == PML_OK; id++) {
    st = fill(&f, id);
    if ((id & 1023) == 0) pt_progress(g->nnodes + id);
  }
  if (st == PML_OK) {
    pml_Val r;
    val(&f, &g->root, &r);
    st = pml_cell_set(p, &p->root->root, &r);
  }
  /* every node is reachable (pt_read reads only those, pt_text_read
     refuses others): the count is exact and nothing is garbage */
  if (st == PML_OK) st = pml_ref_recount(p, g->nnodes);
  if (st == PML_OK) st = pml_tx_commit(p);
  else pml_tx_abort(p);
  pt_progress_end();
  free(f.offs);
  return st;
}

/* }====================================================== */

/* sync_path -- give the file at path its mode and make it durable */
static int sync_path(const char *path, unsigned mode) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  int ok = fchmod(fd, mode) == 0 && fsync(fd) == 0;
  close(fd);
  return ok ? 0 : -1;
}

static void sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) { fsync(fd); close(fd); }
}

/* remove_tmp -- the temporary pool and its log, if any */
static void remove_tmp(const char *tmp) {
  char w[4200];
  unlink(tmp);
  if (snprintf(w, sizeof w, "%s-wal", tmp) < (int)sizeof w) unlink(w);
}

/* make_tmp -- build the pool at tmp and close it cleanly; 0 or -1 */
static int make_tmp(const pt_Graph *g, const char *path, const char *tmp, const pml_Opts *want) {
  pml_Pool p;
  pml_pool_init(&p, NULL, NULL);
  pml_Opts o = { .size = want->size, .max_size = want->max_size, .mode = 0600,
                 .sync = PML_SYNC_NORMAL };
  if (pml_pool_open(&p, tmp, 'x', &o) != PML_OK)
    return pt_err("%s: cannot create the new pool: %s", path, p.err);
  pt_crash_point("build-created");
  int st = pml_pool_start_run(&p);
  if (st == PML_OK) st = fill_pool(&p, g, path);
  if (st == PML_EFULL && o.max_size == 0 && o.size != 0) {
    pt_err("%s: the data does not fit in a pool of %llu bytes", path, (unsigned long long)o.size);
  } else if (st == PML_EFULL) {
    pt_err("%s: the data does not fit in the new pool: %s", path, p.err);
  } else if (st == PML_ENOMEM) {
    pt_err("%s: out of memory", path);
  } else if (st != PML_OK && st != -1) {
    pt_err("%s: cannot build the new pool: %s", path, p.err[0] ? p.err : "damaged");
  }
  pml_pool_close(&p, st == PML_OK);
  return st == PML_OK ? 0 : -1;
}

/* check_tmp -- the built pool, opened afresh, must be sound */
static int check_tmp(const char *path, const char *tmp) {
  pml_Pool p;
  if (pt_open(&p, tmp, 'r') != 0) return -1;
  long n = pt_check_pool(&p, tmp, NULL);
  pml_pool_close(&p, 0);
  if (n != 0)
    return pt_err("%s: the new pool failed its check (%ld problems); nothing was changed",
                  path, n);
  return 0;
}

int pt_build(const pt_Graph *g, const char *path, const pml_Opts *o, int replace) {
  char dbuf[4096], bbuf[4096], tmp[4096];
  snprintf(dbuf, sizeof dbuf, "%s", path);
  snprintf(bbuf, sizeof bbuf, "%s", path);
  const char *dir = dirname(dbuf), *base = basename(bbuf);
  if (snprintf(tmp, sizeof tmp, "%s/" TMP_TAG "%.200s.%ld" TMP_END, dir, base,
               (long)getpid()) >= (int)sizeof tmp)
    return pt_err("%s: %s", path, strerror(ENAMETOOLONG));
  pt_build_sweep(dir);
  remove_tmp(tmp);
  if (make_tmp(g, path, tmp, o) != 0 || check_tmp(path, tmp) != 0) {
    remove_tmp(tmp);
    return -1;
  }
  pt_crash_point("build-checked");
  if (sync_path(tmp, o->mode) != 0) {
    int e = errno;
    remove_tmp(tmp);
    return pt_err("%s: cannot sync the new pool: %s", path, strerror(e));
  }
  pt_crash_point("build-synced");
  int ok = replace ? rename(tmp, path) == 0 : link(tmp, path) == 0;
  int e = errno;
  remove_tmp(tmp);                   /* after link; a no-op after rename */
  if (!ok)
    return pt_err("%s: %s", path, e == EEXIST ? "exists (pmtool restore makes a new pool)"
                                              : strerror(e));
  sync_dir(dir);
  pt_crash_point("build-renamed");
  return 0;
}
