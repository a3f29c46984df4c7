/*
** pmtool.c -- the pmtool host program (top layer, beside pmlua): look
** into, check, repair, dump, restore and reshape pmlua pools
** (docs/pmtool.1, docs/pmtool.md).
**
** This file owns the command line: the subcommands and their help, sizes,
** exit statuses (0 success; 1 a problem, said in one line on stderr that
** names the pool; 2 a usage error), and the short commands made of the
** other pt_* files' parts (dump, restore, resize, compact, gc). pmtool
** uses the core layer (pml_*) only: no Lua, and nothing a pool holds or
** names is ever run.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pml_gc.h"
#include "pt_int.h"

static char errbuf[1024];

int pt_err(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
  va_end(ap);
  return -1;
}

const char *pt_errmsg(void) { return errbuf; }

int pt_open(pml_Pool *p, const char *path, int flag) {
  pml_Opts o = { .size = 0, .mode = 0666, .sync = PML_SYNC_FULL };   /* no creation */
  pml_pool_init(p, NULL, NULL);
  if (pml_pool_open(p, path, flag, &o) != PML_OK) return pt_err("%s", p->err);
  return 0;
}

/* {====================================================== help */

typedef struct Command {
  const char *name;
  int nargs;                /* the positional arguments it needs (at least) */
  int (*run)(int argc, char **argv);
  const char *usage, *help;
} Command;

/* }====================================================== */

/* {====================================================== sizes */

/* parse_size -- "64M", "1G", "512K", "100000000" (bytes); 0 if not a size */
static size_t parse_size(const char *s) {
  char *e;
  errno = 0;
  unsigned long long n = strtoull(s, &e, 10);
  if (e == s || errno || s[0] == '-') return 0;
  int shift = 0;
  switch (*e) {
    case 'k': case 'K': shift = 10; e++; break;
    case 'm': case 'M': shift = 20; e++; break;
    case 'g': case 'G': shift = 30; e++; break;
    case 't': case 'T': shift = 40; e++; break;
    default: break;
  }
  if (*e == 'i' && shift) e++;
  if (*e == 'B' || *e == 'b') e++;
  if (*e != '\0' || n > (SIZE_MAX >> shift)) return 0;
  return (size_t)n << shift;
}

/* }====================================================== */

/* {====================================================== commands */

/* read_pool -- the graph of the pool at path, strictly (damage stops it) */
static int read_pool(const char *path, pml_Pool *p, pt_Graph *g, int keep_open) {
  if (pt_open(p, path, 'r') != 0) return -1;
  int st = pt_read(p, path, g, 1, NULL);
  if (!keep_open || st != 0) pml_pool_close(p, 0);
  if (st != 0) pt_graph_free(g);
  return st;
}

/* write_out -- write g by fn to file (through a temporary name and a
   rename, so a reader never sees half of it), or to stdout if NULL or "-" */
static int write_out(const char *pool, const char *file, const pt_Graph *g, int json) {
  if (file == NULL || strcmp(file, "-") == 0) {
    long st = json ? pt_json_write(g, stdout, pool) : pt_text_write(g, stdout);
    if (fflush(stdout) != 0 || st < 0) return pt_err("%s: cannot write the dump: %s", pool, strerror(errno));
    return st > 0 ? pt_err("%s: %ld values could not be written as JSON (said above)", pool, st) : 0;
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", file, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (f == NULL) return pt_err("%s: %s", file, strerror(errno));
  static char buf[1 << 16];
  setvbuf(f, buf, _IOFBF, sizeof buf);
  long st = json ? pt_json_write(g, f, pool) : pt_text_write(g, f);
  int ok = st >= 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int e = errno;
  if (fclose(f) != 0) ok = 0;
  if (!ok || rename(tmp, file) != 0) {
    e = ok ? errno : e;
    unlink(tmp);
    return pt_err("%s: cannot write %s: %s", pool, file, strerror(e));
  }
  return st > 0 ? pt_err("%s: %ld values could not be written as JSON (said above)", pool, st) : 0;
}

static int cmd_dump(int argc, char **argv) {
  const char *pool = NULL, *file = NULL;
  int json = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) json = 1;
    else if (argv[i][0] == '-' && argv[i][1]) return pt_err("dump: unknown option '%s'", argv[i]);
    else if (pool == NULL) pool = argv[i];
    else if (file == NULL) file = argv[i];
    else return pt_err("dump: too many arguments");
  }
  pml_Pool p;
  pt_Graph g;
  if (read_pool(pool, &p, &g, 0) != 0) return -1;
  int st = write_out(pool, file, &g, json);
  pt_graph_free(&g);
  return st;
}

/* read_dump -- the dump in file ("-": stdin) into g */
static int read_dump(const char *file, pt_Graph *g) {
  int fd = strcmp(file, "-") == 0 ? 0 : open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return pt_err("%s: %s", file, strerror(errno));
  pt_Buf b = { 0 };
  char chunk[1 << 16];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof chunk)) > 0) pt_buf_add(&b, chunk, (size_t)n);
  int e = errno;
  if (fd != 0) close(fd);
  if (n < 0) { pt_buf_free(&b); return pt_err("%s: %s", file, strerror(e)); }
  int st = pt_text_read(file, b.s ? b.s : "", b.n, g);
  pt_buf_free(&b);
  if (st != 0) pt_graph_free(g);
  return st;
}

static int cmd_restore(int argc, char **argv) {
  const char *file = NULL, *pool = NULL;
  size_t size = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
      if ((size = parse_size(argv[++i])) == 0) return pt_err("restore: '%s' is not a size", argv[i]);
    } else if (file == NULL) file = argv[i];
    else if (pool == NULL) pool = argv[i];
    else return pt_err("restore: too many arguments");
  }
  if (pool == NULL) return pt_err("restore: FILE and POOL are needed");
  if (access(pool, F_OK) == 0) return pt_err("%s: exists (pmtool restore makes a new pool)", pool);
  if (size && size < PML_MIN_POOL_SIZE)
    return pt_err("%s: size %zu is below the minimum of %zu bytes", pool, size, PML_MIN_POOL_SIZE);
  pt_Graph g;
  if (read_dump(file, &g) != 0) return -1;
  mode_t um = umask(0);
  umask(um);
  /* --size: a fixed pool of that size; else one that grows, as pmem.open's */
  pml_Opts o = { .size = size, .mode = 0666 & ~um };
  int st = pt_build(&g, pool, &o, 0);
  pt_graph_free(&g);
  return st;
}

/* collect -- open the pool at path to be written, collect in full, close
   cleanly: what pmlua's open does after a crash, for any pool (its log
   replayed by the open) */
static int collect(const char *path, pml_GcStats *s) {
  pml_Pool p;
  if (pt_open(&p, path, 'w') != 0) return -1;
  int st = pml_pool_start_run(&p);
  if (st == PML_OK) st = pml_gc_full(&p, s);
  if (st == PML_OK) pml_pool_recycle(&p);
  pml_pool_close(&p, st == PML_OK);
  if (st != PML_OK)
    return pt_err("%s: the collection stopped: %s", path, st == PML_EDAMAGED ?
                  "the heap is damaged (see pmtool check)" : p.err[0] ? p.err : "out of room");
  return 0;
}

static int cmd_gc(int argc, char **argv) {
  pml_GcStats s;
  if (collect(argv[0], &s) != 0) return -1;
  printf("%s: collected %llu containers, %llu live, %llu damaged left in place\n", argv[0],
         (unsigned long long)s.collected, (unsigned long long)s.live,
         (unsigned long long)s.damaged);
  return 0;
}

/*
** recover -- a pool with a log beside it (PATH-wal: its last run ended
** without closing it) is first opened, collected and closed by a child
** process, as pmlua's next open would: the log is replayed into the pool
** and removed, so that a new pool renamed over this one meets no log of
** another pool. A child, so that the build's settings (PMEM_IS_PMEM_FORCE)
** do not apply to this pool's writes.
*/
static int recover(const char *path) {
  char wal[4200];
  if (pml_wal_path(path, wal, sizeof wal) != 0 || access(wal, F_OK) != 0) return 0;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return pt_err("%s: %s", path, strerror(errno));
  if (pid == 0) {
    pml_GcStats s;
    unsetenv("PMEM_IS_PMEM_FORCE");
    int st = collect(path, &s);
    if (st != 0) fprintf(stderr, "%s\n", pt_errmsg());
    _exit(st == 0 ? 0 : 1);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return pt_err("%s: its log could not be replayed (said above)", path);
  return 0;
}

/*
** reshape -- resize and compact: the pool's graph rebuilt into a new pool
** of size bytes (0: the file's size), checked, then renamed over the pool.
** The pool stays open read-only meanwhile: its shared lock keeps writers
** out until the rename.
*/
static int reshape(const char *path, size_t size, const char *what) {
  struct stat st;
  if (recover(path) != 0) return -1;
  setenv("PMEM_IS_PMEM_FORCE", "1", 1);           /* pt_build.c says why */
  pml_Pool p;
  pt_Graph g;
  if (read_pool(path, &p, &g, 1) != 0) return -1;
  if (stat(path, &st) != 0) {
    pml_pool_close(&p, 0);
    pt_graph_free(&g);
    return pt_err("%s: %s", path, strerror(errno));
  }
  uint64_t used, total, end;
  pml_heap_usage(&p.heap, &used, &total, &end);
  /* the pool's kind stays: a growing pool gets size as its maximum (compact:
     the maximum it has), a fixed one size as its size (compact: its own) */
  int grows = p.root->grow != 0 && p.root->version != PML_FORMAT_FIXED;
  pml_Opts o = { .mode = st.st_mode & 07777 };
  if (grows) o.max_size = size ? size : p.size;
  else o.size = size ? size : (uint64_t)st.st_size;
  uint64_t n = g.nnodes;
  int r = pt_build(&g, path, &o, 1);
  pml_pool_close(&p, 0);
  pt_graph_free(&g);
  if (r == 0)
    printf("%s: %s to %llu bytes%s (%llu containers; %llu bytes were in use)\n", path, what,
           (unsigned long long)(grows ? o.max_size : o.size), grows ? " at most, growing" : "",
           (unsigned long long)n, (unsigned long long)used);
  return r;
}

static int cmd_resize(int argc, char **argv) {
  size_t size = parse_size(argv[1]);
  if (size == 0) return pt_err("%s: '%s' is not a size (bytes, or with K, M, G)", argv[0], argv[1]);
  if (size < PML_MIN_POOL_SIZE)
    return pt_err("%s: size %zu is below the minimum of %zu bytes", argv[0], size, PML_MIN_POOL_SIZE);
  return reshape(argv[0], size, "resized");
}

static int cmd_compact(int argc, char **argv) {
  return reshape(argv[0], 0, "compacted");
}

static int cmd_info(int argc, char **argv) { return pt_info(argv[0], argc - 1, argv + 1); }
static int cmd_check(int argc, char **argv) { return pt_check(argv[0], argc - 1, argv + 1); }
static int cmd_graph(int argc, char **argv) { return pt_graphviz(argv[0], argc - 1, argv + 1); }

/* }====================================================== */

static const Command commands[] = {
  { "info", 1, cmd_info, "pmtool info POOL [--json]",
    "What the pool is and holds: file size, used and free room, format version,\n"
    "whether the last run closed it cleanly, values by type, containers by kind,\n"
    "objects by class name, the largest containers. --json for scripts.\n" },
  { "check", 1, cmd_check, "pmtool check POOL [--repair [-o COPY]]",
    "Validate everything reachable and everything allocated; each problem is\n"
    "written with its kind, its path from the root and its offset. Read-only;\n"
    "exit 0 only for a sound pool. --repair fixes what needs no guess (refcounts,\n"
    "unreachable containers, allocations nothing holds) in a copy (COPY, default\n"
    "POOL.repaired), says what it did and checks the copy.\n" },
  { "gc", 1, cmd_gc, "pmtool gc POOL",
    "Collect in full (mark from the root, sweep the heap) and print the counts.\n" },
  { "dump", 1, cmd_dump, "pmtool dump POOL [FILE|-] [--json]",
    "Write the reachable graph in pmtool's dump format (docs/pmtool.md) to FILE\n"
    "or stdout. --json writes JSON where the data allows and says on stderr where\n"
    "it does not (exit 1 then). A damaged pool is refused (see pmtool check).\n" },
  { "restore", 2, cmd_restore, "pmtool restore FILE|- POOL [--size SIZE]",
    "Build a new pool at POOL from a dump, atomically: POOL appears only when\n"
    "complete, synced and checked. A pool that grows, as pmem.open makes by\n"
    "default; --size SIZE makes a fixed pool of that size.\n" },
  { "resize", 2, cmd_resize, "pmtool resize POOL SIZE",
    "Rebuild the pool at SIZE bytes (K, M, G suffixes): grow it, or shrink it if\n"
    "the data fits; a pool that grows gets SIZE as its maximum. The original is\n"
    "replaced only once the new pool is complete and checked; a crash at any point\n"
    "leaves the original intact.\n" },
  { "compact", 1, cmd_compact, "pmtool compact POOL",
    "Rebuild the pool at its size (a pool that grows: with its maximum) with no\n"
    "free space between its values; as crash-safe as resize.\n" },
  { "graph", 1, cmd_graph,
    "pmtool graph POOL [--depth N] [--root PATH] [-o FILE] [--format dot|svg|png]",
    "The object graph as Graphviz dot (stdout, or FILE); SVG or PNG through\n"
    "Graphviz's dot when it is installed (chosen by --format or FILE's suffix).\n"
    "--root starts at a path such as root.games[3]; --depth limits the levels (4).\n" },
};

static const Command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

static void usage_all(FILE *f) {
  fprintf(f, "usage: pmtool COMMAND POOL ... (pmtool COMMAND --help for one)\n\n");
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    fprintf(f, "  %s\n", commands[i].usage);
  fprintf(f, "\nExit status: 0 success, 1 a problem (one line on stderr), 2 a usage error.\n");
}

int main(int argc, char **argv) {
  pml_pool_trial_main(argc, argv);          /* the checker of a trial open */
  pml_pool_trial_exe("/proc/self/exe");
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage_all(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const Command *c = find_command(argv[1]);
  if (c == NULL) {
    fprintf(stderr, "pmtool: unknown command '%s'\n", argv[1]);
    usage_all(stderr);
    return 2;
  }
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: %s\n\n%s", c->usage, c->help);
      return 0;
    }
  if (argc - 2 < c->nargs) {
    fprintf(stderr, "pmtool %s: missing arguments\nusage: %s\n", c->name, c->usage);
    return 2;
  }
  if (strcmp(c->name, "restore") == 0)
    setenv("PMEM_IS_PMEM_FORCE", "1", 1);    /* pt_build.c says why */
  if (c->run(argc - 2, argv + 2) == 0) return 0;
  fprintf(stderr, "pmtool %s: %s\n", c->name, pt_errmsg());
  return 1;
}
