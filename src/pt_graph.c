/*
** pt_graph.c -- pmtool's graph of a pool in memory, values written as
** dump tokens, and paths from the root (pt_int.h).
*/
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt_int.h"

/* {====================================================== text */

void *pt_alloc(void *old, size_t n) {
  void *p = realloc(old, n ? n : 1);
  if (p == NULL) {
    fputs("pmtool: out of memory\n", stderr);
    exit(3);
  }
  return p;
}

static void grow(pt_Buf *b, size_t n) {
  if (b->n + n + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->n + n + 1) cap *= 2;
  b->s = pt_alloc(b->s, cap);
  b->cap = cap;
}

void pt_buf_add(pt_Buf *b, const char *s, size_t n) {
  grow(b, n);
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = '\0';
}

void pt_buf_puts(pt_Buf *b, const char *s) { pt_buf_add(b, s, strlen(s)); }

void pt_buf_printf(pt_Buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  grow(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)n;
}

void pt_buf_free(pt_Buf *b) {
  free(b->s);
  b->s = NULL;
  b->n = b->cap = 0;
}

const char *pt_buf_str(pt_Buf *b) {
  grow(b, 0);
  b->s[b->n] = '\0';
  return b->s;
}

/* }====================================================== */

/* {====================================================== the graph */

void pt_graph_init(pt_Graph *g) {
  memset(g, 0, sizeof *g);
  g->root.tag = PT_NIL;
}

void pt_graph_free(pt_Graph *g) {
  free(g->nodes);
  free(g->vals);
  free(g->arena);
  pt_graph_init(g);
}

uint64_t pt_graph_node(pt_Graph *g, uint32_t kind) {
  if (g->nnodes + 2 > g->capnodes) {
    g->capnodes = g->capnodes ? 2 * g->capnodes : 1024;
    g->nodes = pt_alloc(g->nodes, g->capnodes * sizeof *g->nodes);
  }
  uint64_t id = ++g->nnodes;
  pt_Node *nd = &g->nodes[id];
  memset(nd, 0, sizeof *nd);
  nd->kind = kind;
  nd->cls.tag = PT_NIL;
  return id;
}

pt_Val *pt_graph_val(pt_Graph *g) {
  if (g->nvals == g->capvals) {
    g->capvals = g->capvals ? 2 * g->capvals : 4096;
    g->vals = pt_alloc(g->vals, g->capvals * sizeof *g->vals);
  }
  pt_Val *v = &g->vals[g->nvals++];
  memset(v, 0, sizeof *v);
  return v;
}

void pt_graph_str(pt_Graph *g, pt_Val *v, const char *s, uint64_t n) {
  if (g->narena + n > g->caparena) {
    uint64_t cap = g->caparena ? g->caparena : 65536;
    while (cap < g->narena + n) cap *= 2;
    g->arena = pt_alloc(g->arena, cap);
    g->caparena = cap;
  }
  v->tag = PT_STR;
  v->len = n;
  v->u.at = g->narena;
  if (n) memcpy(g->arena + g->narena, s, n);
  g->narena += n;
}

uint64_t pt_graph_owner(const pt_Graph *g, uint64_t i) {
  uint64_t lo = 1, hi = g->nnodes;           /* first is nondecreasing in id */
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2;
    if (g->nodes[mid].first <= i) lo = mid;
    else hi = mid - 1;
  }
  while (lo < g->nnodes && g->nodes[lo].first + g->nodes[lo].n <= i) lo++;
  return lo;
}

static const char *const kinds[] = {
  [PML_TTABLE] = "table", [PML_TLIST] = "list", [PML_TOBJECT] = "object",
  [PML_TTUPLE] = "tuple", [PML_TSET] = "set"
};

const char *pt_kind_name(uint32_t kind) {
  return kind < sizeof kinds / sizeof *kinds && kinds[kind] ? kinds[kind] : "?";
}

uint32_t pt_kind_of(const char *name, size_t n) {
  for (uint32_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
    if (kinds[k] && strlen(kinds[k]) == n && memcmp(kinds[k], name, n) == 0) return k;
  return 0;
}

/* }====================================================== */

/* {====================================================== tokens */

int pt_utf8_len(const unsigned char *s, uint64_t n) {
  int len = s[0] < 0x80 ? 1 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 && s[0] < 0xf0 ? 3 :
            s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
  if (len == 0 || (uint64_t)len > n) return 0;
  for (int i = 1; i < len; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  if (len == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) return 0;
  if (len == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) return 0;
  return len;
}

void pt_fmt_str(pt_Buf *b, const char *str, uint64_t n) {
  const unsigned char *s = (const unsigned char *)str;
  pt_buf_add(b, "\"", 1);
  for (uint64_t i = 0; i < n; ) {
    unsigned char c = s[i];
    int u;
    if (c == '"' || c == '\\') { char e[2] = { '\\', (char)c }; pt_buf_add(b, e, 2); i++; }
    else if (c == '\n') { pt_buf_add(b, "\\n", 2); i++; }
    else if (c == '\t') { pt_buf_add(b, "\\t", 2); i++; }
    else if (c >= 0x20 && c < 0x7f) {
      uint64_t j = i;                        /* a run of plain bytes */
      while (j < n && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\') j++;
      pt_buf_add(b, str + i, j - i);
      i = j;
    } else if (c >= 0x80 && (u = pt_utf8_len(s + i, n - i)) > 0) {
      pt_buf_add(b, str + i, (size_t)u);     /* readable text stays so */
      i += (uint64_t)u;
    } else {
      pt_buf_printf(b, "\\x%02x", c);
      i++;
    }
  }
  pt_buf_add(b, "\"", 1);
}

/*
** fmt_flt -- the shortest of %.15g, %.16g, %.17g that reads back as the
** same double, marked as a float (".0") when it looks like an integer.
** NaNs keep their bits: nan is the usual one, nan(0x...) any other.
*/
static void fmt_flt(pt_Buf *b, double d) {
  char s[64];
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  if (isnan(d)) {
    if (bits == 0x7ff8000000000000ULL) pt_buf_puts(b, "nan");
    else pt_buf_printf(b, "nan(0x%016llx)", (unsigned long long)bits);
    return;
  }
  if (isinf(d)) { pt_buf_puts(b, d < 0 ? "-inf" : "inf"); return; }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(s, sizeof s, "%.*g", prec, d);
    if (strtod(s, NULL) == d && (d != 0 || signbit(strtod(s, NULL)) == signbit(d))) break;
  }
  pt_buf_puts(b, s);
  if (strpbrk(s, ".en") == NULL) pt_buf_puts(b, ".0");
}

void pt_fmt_val(const pt_Graph *g, pt_Buf *b, const pt_Val *v) {
  switch (v->tag) {
    case PT_NIL: pt_buf_puts(b, "nil"); break;
    case PT_FALSE: pt_buf_puts(b, "false"); break;
    case PT_TRUE: pt_buf_puts(b, "true"); break;
    case PT_INT: pt_buf_printf(b, "%lld", (long long)v->u.i); break;
    case PT_FLT: fmt_flt(b, v->u.d); break;
    case PT_STR: pt_fmt_str(b, pt_strp(g, v), v->len); break;
    case PT_REF: pt_buf_printf(b, "@%llu", (unsigned long long)v->u.id); break;
    default: pt_buf_puts(b, "<damaged>"); break;
  }
}

/* }====================================================== */

/* {====================================================== paths */

int pt_is_name(const char *s, uint64_t n) {
  if (n == 0 || n > 64 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
  for (uint64_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return 0;
  return 1;
}

void pt_path_step(const pt_Graph *g, pt_Buf *b, const pt_Val *key) {
  if (key->tag == PT_STR && pt_is_name(pt_strp(g, key), key->len)) {
    pt_buf_add(b, ".", 1);
    pt_buf_add(b, pt_strp(g, key), key->len);
  } else if (key->tag == PT_REF) {
    pt_buf_printf(b, "[%s@%llu]", pt_kind_name(g->nodes[key->u.id].kind),
                  (unsigned long long)key->u.id);
  } else {
    pt_buf_add(b, "[", 1);
    pt_fmt_val(g, b, key);
    pt_buf_add(b, "]", 1);
  }
}

/* step_in -- the step from node id to its value i */
static void step_in(const pt_Graph *g, uint64_t id, uint64_t i, pt_Buf *b) {
  const pt_Node *nd = &g->nodes[id];
  uint64_t k = i - nd->first;
  if (nd->kind == PML_TLIST || nd->kind == PML_TTUPLE) {
    pt_buf_printf(b, "[%llu]", (unsigned long long)k + 1);
  } else if (nd->kind == PML_TSET) {
    pt_path_step(g, b, &g->vals[i]);
  } else {
    pt_path_step(g, b, &g->vals[nd->first + (k & ~(uint64_t)1)]);
    if (k % 2 == 0) pt_buf_puts(b, "(key)");
  }
}

void pt_path_in(const pt_Graph *g, uint64_t id, uint64_t i, pt_Buf *b) {
  pt_path_node(g, id, b);
  step_in(g, id, i, b);
}

void pt_path_val(const pt_Graph *g, uint64_t i, pt_Buf *b) {
  pt_path_in(g, pt_graph_owner(g, i), i, b);
}

void pt_path_node(const pt_Graph *g, uint64_t id, pt_Buf *b) {
  /* the chain of parents, root first; bounded: parents have smaller ids */
  uint64_t depth = 0, *chain = NULL, cap = 0;
  for (uint64_t x = id; x != 0 && depth <= g->nnodes; x = g->nodes[x].parent) {
    if (depth == cap) chain = pt_alloc(chain, (cap = cap ? 2 * cap : 16) * sizeof *chain);
    chain[depth++] = x;
  }
  pt_buf_puts(b, "root");
  while (depth-- > 0) {
    const pt_Node *nd = &g->nodes[chain[depth]];
    if (nd->parent == 0) continue;            /* the root cell itself */
    step_in(g, nd->parent, nd->via, b);
  }
  free(chain);
}

/* }====================================================== */
