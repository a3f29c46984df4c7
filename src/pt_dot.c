/*
** pt_dot.c -- pmtool graph: the object graph as Graphviz dot, and SVG or
** PNG through Graphviz's `dot` when it is installed. A container is a box
** with its kind, class and first scalar entries; a reference is an edge
** labelled with its key or index. The walk starts at the root or at
** --root PATH, goes --depth levels deep (default 4) and draws at most
** MAX_NODES containers (the rest are counted in a note).
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pt_int.h"

#define MAX_NODES   1000
#define MAX_LINES   8           /* scalar entries shown in a box */
#define MAX_TEXT    40          /* bytes of a value shown */

/* dot_esc -- s escaped for a dot string, truncated to MAX_TEXT */
static void dot_esc(pt_Buf *out, const char *s, size_t n) {
  if (n > MAX_TEXT) n = MAX_TEXT;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"' || s[i] == '\\' || s[i] == '{' || s[i] == '}' || s[i] == '<' ||
        s[i] == '>' || s[i] == '|')
      pt_buf_add(out, "\\", 1);
    pt_buf_add(out, &s[i], 1);
  }
}

/* token -- the value v as dot-escaped text */
static void token(const pt_Graph *g, pt_Buf *out, const pt_Val *v) {
  pt_Buf t = { 0 };
  if (v->tag == PT_REF) pt_buf_printf(&t, "%s@%llu", pt_kind_name(g->nodes[v->u.id].kind),
                                      (unsigned long long)v->u.id);
  else pt_fmt_val(g, &t, v);
  dot_esc(out, t.s ? t.s : "", t.n);
  if (t.n > MAX_TEXT) pt_buf_puts(out, "...");
  pt_buf_free(&t);
}

/* find -- the value of key k in node id (a table, object or set), or the
   item k of a list; NULL if none */
static const pt_Val *find(const pt_Graph *g, uint64_t id, const pt_Val *k) {
  const pt_Node *nd = &g->nodes[id];
  const pt_Val *v = &g->vals[nd->first];
  if (nd->kind == PML_TLIST || nd->kind == PML_TTUPLE)
    return k->tag == PT_INT && k->u.i >= 1 && (uint64_t)k->u.i <= nd->n ? &v[k->u.i - 1] : NULL;
  uint64_t step = nd->kind == PML_TSET ? 1 : 2;
  for (uint64_t i = 0; i < nd->n; i += step)
    if (v[i].tag == k->tag && (k->tag == PT_STR ? v[i].len == k->len &&
        memcmp(pt_strp(g, &v[i]), pt_strp(g, k), k->len) == 0 : v[i].u.i == k->u.i))
      return step == 2 ? &v[i + 1] : &v[i];
  return NULL;
}

/* resolve -- the container at path (root.a[2]["x y"]), or 0 with pt_err */
static uint64_t resolve(pt_Graph *g, const char *pool, const char *path) {
  const pt_Val *cur = &g->root;
  const char *s = path;
  if (strncmp(s, "root", 4) != 0) goto bad;
  s += 4;
  while (*s) {
    pt_Val k = { 0 };
    if (cur->tag != PT_REF) return pt_err("%s: %s: '%.*s' is not a container", pool, path,
                                          (int)(s - path), path), 0;
    if (*s == '.') {
      size_t n = strcspn(s + 1, ".[");
      pt_graph_str(g, &k, s + 1, n);
      s += 1 + n;
    } else if (*s == '[' && s[1] == '"') {
      const char *e = strstr(s + 2, "\"]");
      if (e == NULL) goto bad;
      pt_graph_str(g, &k, s + 2, (size_t)(e - s - 2));
      s = e + 2;
    } else if (*s == '[') {
      char *e;
      k.tag = PT_INT;
      if (strncmp(s, "[true]", 6) == 0) { k.tag = PT_TRUE; s += 6; }
      else if (strncmp(s, "[false]", 7) == 0) { k.tag = PT_FALSE; s += 7; }
      else {
        k.u.i = strtoll(s + 1, &e, 10);
        if (e == s + 1 || *e != ']') goto bad;
        s = e + 1;
      }
    } else {
      goto bad;
    }
    if ((cur = find(g, cur->u.id, &k)) == NULL)
      return pt_err("%s: %s: no such value ('%.*s' holds no such key)", pool, path,
                    (int)(s - path), path), 0;
  }
  if (cur->tag != PT_REF) return pt_err("%s: %s is not a container", pool, path), 0;
  return cur->u.id;
bad:
  return pt_err("%s: '%s' is not a path (write it as root.name[3][\"a key\"])", pool, path), 0;
}

/* box -- node id's line of dot */
static void box(const pt_Graph *g, pt_Buf *out, uint64_t id) {
  const pt_Node *nd = &g->nodes[id];
  int pairs = nd->kind == PML_TTABLE || nd->kind == PML_TOBJECT;
  uint64_t shown = 0;
  pt_buf_printf(out, "  n%llu [label=\"%s@%llu", (unsigned long long)id, pt_kind_name(nd->kind),
                (unsigned long long)id);
  if (nd->kind == PML_TOBJECT) {
    pt_buf_puts(out, " ");
    token(g, out, &nd->cls);
  }
  pt_buf_printf(out, " (%llu)\\l", (unsigned long long)(pairs ? nd->n / 2 : nd->n));
  for (uint64_t i = 0; i < nd->n && shown < MAX_LINES; i += 1 + pairs) {
    const pt_Val *k = &g->vals[nd->first + i], *v = pairs ? k + 1 : k;
    if (v->tag == PT_REF || k->tag == PT_REF) continue;   /* an edge */
    if (pairs) { token(g, out, k); pt_buf_puts(out, " = "); }
    else if (nd->kind != PML_TSET) pt_buf_printf(out, "[%llu] ", (unsigned long long)i + 1);
    token(g, out, v);
    pt_buf_puts(out, "\\l");
    shown++;
  }
  pt_buf_puts(out, "\"];\n");
}

/* draw -- the dot text of what start reaches within depth levels */
static void draw(const pt_Graph *g, uint64_t start, uint64_t depth, pt_Buf *out) {
  uint64_t *level = pt_alloc(NULL, (g->nnodes + 1) * sizeof *level);
  uint64_t *queue = pt_alloc(NULL, (g->nnodes + 1) * sizeof *queue), head = 0, tail = 0, cut = 0;
  memset(level, 0, (g->nnodes + 1) * sizeof *level);
  pt_buf_puts(out, "digraph pmlua {\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n"
              "  edge [fontname=\"monospace\", fontsize=9];\n");
  level[start] = 1;
  queue[tail++] = start;
  while (head < tail) {
    uint64_t id = queue[head++];
    const pt_Node *nd = &g->nodes[id];
    int pairs = nd->kind == PML_TTABLE || nd->kind == PML_TOBJECT;
    box(g, out, id);
    for (uint64_t i = 0; i < nd->n; i++) {
      const pt_Val *v = &g->vals[nd->first + i];
      if (v->tag != PT_REF) continue;
      uint64_t to = v->u.id;
      if (level[to] == 0 && (level[id] > depth || tail >= MAX_NODES)) { cut++; continue; }
      if (level[to] == 0) { level[to] = level[id] + 1; queue[tail++] = to; }
      pt_buf_printf(out, "  n%llu -> n%llu [label=\"", (unsigned long long)id, (unsigned long long)to);
      if (pairs && i % 2 == 0) pt_buf_puts(out, "(key)");
      else if (pairs) token(g, out, v - 1);
      else if (nd->kind == PML_TSET) pt_buf_puts(out, "(member)");
      else pt_buf_printf(out, "[%llu]", (unsigned long long)i + 1);
      pt_buf_puts(out, "\"];\n");
    }
  }
  if (cut)
    pt_buf_printf(out, "  more [shape=note, label=\"%llu references not followed "
                  "(--depth, or %d containers drawn)\"];\n", (unsigned long long)cut, MAX_NODES);
  pt_buf_puts(out, "}\n");
  free(level);
  free(queue);
}

/* render -- dot's output of format fmt for the text at b, into file */
static int render(const char *pool, const pt_Buf *b, const char *fmt, const char *file) {
  char cmd[4400];
  if (system("command -v dot >/dev/null 2>&1") != 0)
    return pt_err("%s: Graphviz's dot is not installed (Debian: apt-get install graphviz); "
                  "write .dot and render it elsewhere", pool);
  const char *q = file;
  for (; *q; q++)
    if (*q == '\'') return pt_err("%s: an output name with a quote", pool);
  snprintf(cmd, sizeof cmd, "dot -T%s -o '%s'", fmt, file);
  FILE *f = popen(cmd, "w");
  if (f == NULL) return pt_err("%s: cannot run dot: %s", pool, strerror(errno));
  fwrite(b->s, 1, b->n, f);
  int st = pclose(f);
  return st == 0 ? 0 : pt_err("%s: dot failed (status %d)", pool, WEXITSTATUS(st));
}

int pt_graphviz(const char *path, int argc, char **argv) {
  const char *rootpath = "root", *out = NULL, *fmt = NULL;
  uint64_t depth = 4;
  for (int i = 0; i < argc; i++) {
    char *e;
    if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc) {
      depth = strtoull(argv[++i], &e, 10);
      if (*e || e == argv[i]) return pt_err("graph: --depth takes a number, not '%s'", argv[i]);
    } else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
      rootpath = argv[++i];
    } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
      fmt = argv[++i];
    } else {
      return pt_err("graph: unknown option '%s' (see pmtool graph --help)", argv[i]);
    }
  }
  if (fmt == NULL && out != NULL) {
    const char *dot = strrchr(out, '.');
    fmt = dot && (strcmp(dot, ".svg") == 0 || strcmp(dot, ".png") == 0) ? dot + 1 : "dot";
  }
  if (fmt == NULL) fmt = "dot";
  if (strcmp(fmt, "dot") && strcmp(fmt, "svg") && strcmp(fmt, "png"))
    return pt_err("graph: --format is dot, svg or png, not '%s'", fmt);
  if (strcmp(fmt, "dot") != 0 && out == NULL)
    return pt_err("graph: --format %s needs -o FILE", fmt);
  pml_Pool p;
  if (pt_open(&p, path, 'r') != 0) return -1;
  pt_Graph g;
  uint64_t damaged;
  pt_read(&p, path, &g, 0, &damaged);
  pml_pool_close(&p, 0);
  int st = 0;
  int whole = strcmp(rootpath, "root") == 0;
  uint64_t start = whole ? (g.root.tag == PT_REF ? g.root.u.id : 0) : resolve(&g, path, rootpath);
  pt_Buf b = { 0 };
  if (whole && start == 0) {                  /* the root holds no container */
    pt_buf_puts(&b, "digraph pmlua {\n  root [shape=plaintext, label=\"root = ");
    token(&g, &b, &g.root);
    pt_buf_puts(&b, "\"];\n}\n");
  } else if (start == 0) {
    st = -1;
  } else {
    draw(&g, start, depth, &b);
  }
  if (st == 0 && strcmp(fmt, "dot") != 0) {
    st = render(path, &b, fmt, out);
  } else if (st == 0) {
    FILE *f = out ? fopen(out, "w") : stdout;
    if (f == NULL) st = pt_err("%s: %s", out, strerror(errno));
    else {
      fwrite(b.s, 1, b.n, f);
      if ((out ? fclose(f) : fflush(f)) != 0) st = pt_err("%s: %s", out ? out : "stdout", strerror(errno));
    }
  }
  pt_buf_free(&b);
  pt_graph_free(&g);
  return st;
}
