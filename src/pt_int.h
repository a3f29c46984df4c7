/*
** pt_int.h -- what pmtool's files share: the reachable graph of a pool
** held in memory (pt_Graph), growable text (pt_Buf), messages and the
** progress bar.
**
** pmtool is a host program on the core layer (pml_*), like pmlua is one on
** the binding: it never includes a Lua header and runs nothing the pool
** holds or names. Its files, bottom up:
**   pt_graph.c     the graph in memory, values as dump tokens, paths
**   pt_read.c      a pool -> the graph (every offset checked first)
**   pt_text.c      the graph <-> the dump format (docs/pmtool.md)
**   pt_json.c      the graph -> JSON, where JSON can hold it
**   pt_build.c     the graph -> a new pool, atomically (temporary name)
**   pt_check.c     check and repair of a pool
**   pt_info.c      info; pt_dot.c the graph as Graphviz dot
**   pt_progress.c  the progress bar; pmtool.c the command line
*/
#ifndef pt_int_h
#define pt_int_h

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pml_pool.h"

/* {====================================================== text */

typedef struct pt_Buf {
  char *s;
  size_t n, cap;
} pt_Buf;

void pt_buf_add(pt_Buf *b, const char *s, size_t n);
void pt_buf_puts(pt_Buf *b, const char *s);
void pt_buf_printf(pt_Buf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
void pt_buf_free(pt_Buf *b);
/* the buffer as a C string (NUL-terminated, owned by b) */
const char *pt_buf_str(pt_Buf *b);

/* memory or die: pmtool has no use for a half-made answer */
void *pt_alloc(void *old, size_t n);

/* }====================================================== */

/* {====================================================== the graph */

/* a value of the graph: what a cell holds, with containers as node ids */
enum { PT_NIL, PT_FALSE, PT_TRUE, PT_INT, PT_FLT, PT_STR, PT_REF, PT_BAD };

typedef struct pt_Val {
  uint8_t tag;
  uint64_t len;             /* PT_STR: its bytes */
  union {
    int64_t i;
    double d;
    uint64_t id;            /* PT_REF: the node */
    uint64_t at;            /* PT_STR: offset of the bytes in the arena */
  } u;
} pt_Val;

/*
** A container. Its values are vals[first .. first + n): a table's or an
** object's entries as key, value pairs in iteration order; a set's
** members; a list's or tuple's items.
*/
typedef struct pt_Node {
  uint32_t kind;            /* PML_TTABLE, PML_TLIST, ... */
  pt_Val cls;               /* objects: the class name (PT_STR) */
  uint64_t first, n;
  uint64_t off;             /* its offset in the pool read (0 if parsed) */
  uint64_t parent;          /* the node that reached it first (0: the root cell) */
  uint64_t via;             /* the index in vals of that reference */
  uint64_t line;            /* parsed: its header's line */
} pt_Node;

/* nodes[1 .. nnodes]: ids from 1, in the order a breadth-first walk from
   the root meets them; the values of each are contiguous, in id order */
typedef struct pt_Graph {
  pt_Node *nodes;
  uint64_t nnodes, capnodes;
  pt_Val *vals;
  uint64_t nvals, capvals;
  char *arena;              /* the bytes of every string */
  uint64_t narena, caparena;
  pt_Val root;
} pt_Graph;

void pt_graph_init(pt_Graph *g);
void pt_graph_free(pt_Graph *g);
/* a new node of kind: its id */
uint64_t pt_graph_node(pt_Graph *g, uint32_t kind);
/* one value more at the end of vals (the current node's) */
pt_Val *pt_graph_val(pt_Graph *g);
/* v becomes the string s of n bytes (copied into the arena) */
void pt_graph_str(pt_Graph *g, pt_Val *v, const char *s, uint64_t n);
#define pt_strp(g, v)   ((g)->arena + (v)->u.at)
/* the node whose values hold index i */
uint64_t pt_graph_owner(const pt_Graph *g, uint64_t i);
/* the name of kind ("table", "list", ...) and back (0 if none) */
const char *pt_kind_name(uint32_t kind);
uint32_t pt_kind_of(const char *name, size_t n);

/* v as a dump token (docs/pmtool.md): nil, true, 12, 1.5, "s", @3 */
void pt_fmt_val(const pt_Graph *g, pt_Buf *b, const pt_Val *v);
/* a string as a quoted dump token */
void pt_fmt_str(pt_Buf *b, const char *s, uint64_t n);
/* the path of node id from the root: root.games[3]; and of value i */
void pt_path_node(const pt_Graph *g, uint64_t id, pt_Buf *b);
void pt_path_val(const pt_Graph *g, uint64_t i, pt_Buf *b);
/* the path of value i of node id (while the graph is being made) */
void pt_path_in(const pt_Graph *g, uint64_t id, uint64_t i, pt_Buf *b);
/* bytes of the well-formed UTF-8 sequence at s (n left), or 0 */
int pt_utf8_len(const unsigned char *s, uint64_t n);
/* would s read as .name in a path (a Lua name)? */
int pt_is_name(const char *s, uint64_t n);
/* one step of a path: .name or [key] (key: a value of the graph) */
void pt_path_step(const pt_Graph *g, pt_Buf *b, const pt_Val *key);

/* }====================================================== */

/* {====================================================== reading and building */

/*
** pt_read -- the graph reachable from the root of the open pool p. Every
** offset is checked (pml_valid) before it is followed. strict: the first
** damage met is an error (pt_err names its path and offset); otherwise a
** damaged value reads as PT_BAD and is counted in *damaged. 0 or -1.
*/
int pt_read(pml_Pool *p, const char *path, pt_Graph *g, int strict, uint64_t *damaged);

/* pt_text_write -- the dump of g to f; 0 or -1 */
int pt_text_write(const pt_Graph *g, FILE *f);
/* pt_text_read -- the dump of n bytes at s (named name) into g; 0 or -1 */
int pt_text_read(const char *name, const char *s, size_t n, pt_Graph *g);
/* pt_json_write -- g as JSON to f; the values JSON cannot hold are
   written as null and each said on stderr; returns how many (or -1) */
long pt_json_write(const pt_Graph *g, FILE *f, const char *pool);

/*
** pt_build -- make the pool at path from g, of the size, maximum size and
** permission bits o gives (pml_Opts: size alone, a fixed pool; else a
** growing one): built and checked under a temporary name in path's
** directory, synced, then renamed over path (replace) or linked to it
** (failing if it exists). A crash at any point leaves path as it was.
** 0 or -1 (pt_err).
*/
int pt_build(const pt_Graph *g, const char *path, const pml_Opts *o, int replace);
/* remove the temporary files of builds whose process died, in dir */
void pt_build_sweep(const char *dir);

/* open the pool at path read-only (flag 'r') or to be written ('w'),
   with pmtool's message on failure; 0 or -1 */
int pt_open(pml_Pool *p, const char *path, int flag);

/* }====================================================== */

/* {====================================================== messages */

/* pt_err -- the error of this run, "POOL: problem" (one line); -1 */
int pt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *pt_errmsg(void);

/* the progress bar (stderr, on a terminal, after a second): total may be
   an estimate (0: unknown) */
void pt_progress_start(const char *what, uint64_t total);
void pt_progress(uint64_t done);
void pt_progress_end(void);

/* a test hook: PMTOOL_CRASH_AT=name kills the process (SIGKILL) when it
   reaches the point name (tests/test_pmtool.lua) */
void pt_crash_point(const char *name);

/* }====================================================== */

/* the subcommands (pt_check.c, pt_info.c, pt_dot.c, pmtool.c) */
int pt_check(const char *path, int argc, char **argv);
int pt_info(const char *path, int argc, char **argv);
int pt_graphviz(const char *path, int argc, char **argv);

/* a check of the open pool p: problems written to out (NULL: none
   written); returns the number of problems, or -1 */
long pt_check_pool(pml_Pool *p, const char *path, FILE *out);

#endif
