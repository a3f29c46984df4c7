/*
** pt_text.c -- the dump format (docs/pmtool.md): pmtool's graph written as
** text, and read back. Reading runs nothing: it is a line-oriented grammar
** of literals, and every number, reference and key is checked before the
** graph is handed on, with the line named when one is not right.
**
**   pmlua-dump 1
**   root @1
**   @1 table 2            a container: id, kind, [class name,] entries
**     "name" "chess"      a table's entry: key value (insertion order)
**     1 @2
**   @2 list 1             a list's or tuple's item, a set's member: a value
**     2.5
**   end 2                 the number of containers
*/
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pt_int.h"

#define MAGIC "pmlua-dump 1"

/* {====================================================== writing */

int pt_text_write(const pt_Graph *g, FILE *f) {
  pt_Buf b = { 0 };
  pt_buf_puts(&b, MAGIC "\nroot ");
  pt_fmt_val(g, &b, &g->root);
  pt_buf_puts(&b, "\n");
  pt_progress_start("writing", g->nnodes);
  for (uint64_t id = 1; id <= g->nnodes; id++) {
    const pt_Node *nd = &g->nodes[id];
    int pairs = nd->kind == PML_TTABLE || nd->kind == PML_TOBJECT;
    pt_buf_printf(&b, "@%llu %s ", (unsigned long long)id, pt_kind_name(nd->kind));
    if (nd->kind == PML_TOBJECT) {
      pt_fmt_val(g, &b, &nd->cls);
      pt_buf_puts(&b, " ");
    }
    pt_buf_printf(&b, "%llu\n", (unsigned long long)(pairs ? nd->n / 2 : nd->n));
    for (uint64_t i = 0; i < nd->n; i++) {
      pt_buf_puts(&b, pairs && i % 2 ? " " : "  ");
      pt_fmt_val(g, &b, &g->vals[nd->first + i]);
      if (!pairs || i % 2) pt_buf_puts(&b, "\n");
    }
    if (b.n >= 1 << 16) {
      if (fwrite(b.s, 1, b.n, f) != b.n) break;
      b.n = 0;
    }
    if ((id & 1023) == 0) pt_progress(id);
  }
  pt_buf_printf(&b, "end %llu\n", (unsigned long long)g->nnodes);
  size_t n = fwrite(b.s, 1, b.n, f), want = b.n;
  pt_buf_free(&b);
  pt_progress_end();
  return n == want && !ferror(f) ? 0 : -1;
}

/* }====================================================== */

/* {====================================================== reading */

typedef struct Parser {
  const char *name;
  const char *p, *end;      /* the rest of the text */
  const char *eol;          /* the end of the current line */
  uint64_t line;
  pt_Graph *g;
} Parser;

static int perr(Parser *ps, const char *fmt, ...) {
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return pt_err("%s:%llu: %s", ps->name, (unsigned long long)ps->line, msg);
}

/* next_line -- move to the next line that is not blank or a comment; 0
   at the end of the text */
static int next_line(Parser *ps) {
  for (;;) {
    if (ps->eol != NULL) ps->p = ps->eol < ps->end ? ps->eol + 1 : ps->end;
    if (ps->p >= ps->end) return 0;
    ps->line++;
    ps->eol = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
    if (ps->eol == NULL) ps->eol = ps->end;
    const char *q = ps->p;
    while (q < ps->eol && *q == ' ') q++;
    if (q < ps->eol && *q != '#') { ps->p = q; return 1; }
  }
}

static int hexval(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
         c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* string -- the quoted string at ps->p into v */
static int string(Parser *ps, pt_Val *v) {
  pt_Buf b = { 0 };
  const char *q = ps->p + 1;
  for (;;) {
    if (q >= ps->eol) { pt_buf_free(&b); return perr(ps, "unfinished string"); }
    unsigned char c = (unsigned char)*q;
    if (c == '"') break;
    if (c < 0x20 || c == 0x7f) { pt_buf_free(&b); return perr(ps, "a control byte in a string (write \\x%02x)", c); }
    if (c != '\\') {
      const char *r = q;
      while (r < ps->eol && *r != '"' && *r != '\\' && (unsigned char)*r >= 0x20 && *r != 0x7f) r++;
      pt_buf_add(&b, q, (size_t)(r - q));
      q = r;
      continue;
    }
    char e = q + 1 < ps->eol ? q[1] : 0, out;
    if (e == 'n') out = '\n';
    else if (e == 't') out = '\t';
    else if (e == '"' || e == '\\') out = e;
    else if (e == 'x' && q + 3 < ps->eol && hexval(q[2]) >= 0 && hexval(q[3]) >= 0) {
      out = (char)(hexval(q[2]) * 16 + hexval(q[3]));
      q += 2;
    } else {
      pt_buf_free(&b);
      return perr(ps, "a bad escape in a string (\\n, \\t, \\\", \\\\ and \\xHH are known)");
    }
    pt_buf_add(&b, &out, 1);
    q += 2;
  }
  pt_graph_str(ps->g, v, b.s ? b.s : "", b.n);
  pt_buf_free(&b);
  ps->p = q + 1;
  return 0;
}

/* number -- the number token [s, e) into v: an integer is digits only,
   anything else is a float (docs/pmtool.md) */
static int number(Parser *ps, const char *s, const char *e, pt_Val *v) {
  char tok[80];
  size_t n = (size_t)(e - s);
  if (n == 0 || n >= sizeof tok) return perr(ps, "a value was expected");
  memcpy(tok, s, n);
  tok[n] = '\0';
  char *end;
  size_t digits = strspn(tok + (tok[0] == '-'), "0123456789");
  if (digits > 0 && digits == n - (tok[0] == '-')) {
    errno = 0;
    long long i = strtoll(tok, &end, 10);
    if (errno == ERANGE) return perr(ps, "integer %s out of range (64 bits)", tok);
    v->tag = PT_INT;
    v->u.i = i;
    return 0;
  }
  v->tag = PT_FLT;
  if (strcmp(tok, "nan") == 0) { v->u.d = NAN; return 0; }
  if (n == 23 && strncmp(tok, "nan(0x", 6) == 0 && tok[22] == ')') {
    uint64_t bits = 0;
    int ok = 1;
    for (int i = 6; i < 22; i++) {
      ok = ok && hexval(tok[i]) >= 0;
      bits = bits << 4 | (uint64_t)(ok ? hexval(tok[i]) : 0);
    }
    memcpy(&v->u.d, &bits, sizeof bits);
    if (ok && isnan(v->u.d)) return 0;
  }
  if (strcmp(tok, "inf") == 0 || strcmp(tok, "-inf") == 0) {
    v->u.d = tok[0] == '-' ? -INFINITY : INFINITY;
    return 0;
  }
  /* a decimal float: digits first, a point or an exponent, nothing else */
  v->u.d = strtod(tok, &end);
  if (*end != '\0' || digits == 0 || strpbrk(tok, ".eE") == NULL ||
      strpbrk(tok, "xXpPnN") != NULL)
    return perr(ps, "'%s' is not a value", tok);
  return 0;
}

/* value -- the token at ps->p into v; then a space or the line's end */
static int value(Parser *ps, pt_Val *v) {
  const char *s = ps->p;
  memset(v, 0, sizeof *v);
  if (s < ps->eol && *s == '"') {
    if (string(ps, v) != 0) return -1;
  } else {
    const char *e = s;
    while (e < ps->eol && *e != ' ') e++;
    size_t n = (size_t)(e - s);
    if (n == 3 && memcmp(s, "nil", 3) == 0) v->tag = PT_NIL;
    else if (n == 4 && memcmp(s, "true", 4) == 0) v->tag = PT_TRUE;
    else if (n == 5 && memcmp(s, "false", 5) == 0) v->tag = PT_FALSE;
    else if (n > 1 && s[0] == '@') {
      uint64_t id = 0;
      for (const char *q = s + 1; q < e; q++) {
        if (*q < '0' || *q > '9' || id > UINT64_MAX / 10 - 1) return perr(ps, "a bad reference");
        id = id * 10 + (uint64_t)(*q - '0');
      }
      v->tag = PT_REF;
      v->u.id = id;
    } else if (number(ps, s, e, v) != 0) {
      return -1;
    }
    ps->p = e;
  }
  if (ps->p < ps->eol && *ps->p == ' ') ps->p++;
  return 0;
}

/* line_end -- nothing may follow on the line */
static int line_end(Parser *ps) {
  return ps->p < ps->eol ? perr(ps, "unexpected text after the value") : 0;
}

/* word -- the word at ps->p ([a-z]+) */
static int word(Parser *ps, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(ps->eol - ps->p) < n || memcmp(ps->p, w, n) != 0) return 0;
  ps->p += n;
  if (ps->p < ps->eol && *ps->p == ' ') ps->p++;
  return 1;
}

/* count -- a decimal count at the line's end */
static int count(Parser *ps, uint64_t *n) {
  pt_Val v;
  if (value(ps, &v) != 0 || line_end(ps) != 0) return -1;
  if (v.tag != PT_INT || v.u.i < 0) return perr(ps, "a count was expected");
  *n = (uint64_t)v.u.i;
  return 0;
}

/* key_ok -- can v be a key (of a table, object or set)? */
static int key_ok(Parser *ps, const pt_Val *v) {
  if (v->tag == PT_NIL) return perr(ps, "a key is nil");
  if (v->tag == PT_FLT && isnan(v->u.d)) return perr(ps, "a key is NaN");
  if (v->tag == PT_FLT && v->u.d == floor(v->u.d) && fabs(v->u.d) < 0x1p63)
    return perr(ps, "the float key %.17g has an integral value (pmlua stores it as an "
                "integer: write it as one)", v->u.d);
  return 0;
}

/* container -- the header at ps->p ("@id kind [class] n") and its lines */
static int container(Parser *ps) {
  pt_Graph *g = ps->g;
  pt_Val idv;
  if (value(ps, &idv) != 0) return -1;
  if (idv.tag != PT_REF || idv.u.id != g->nnodes + 1)
    return perr(ps, "container @%llu was expected here", (unsigned long long)g->nnodes + 1);
  const char *k = ps->p;
  while (ps->p < ps->eol && *ps->p != ' ') ps->p++;
  uint32_t kind = pt_kind_of(k, (size_t)(ps->p - k));
  if (kind == 0) return perr(ps, "unknown kind '%.*s'", (int)(ps->p - k), k);
  if (ps->p < ps->eol) ps->p++;
  uint64_t id = pt_graph_node(g, kind), n;
  pt_Node *nd = &g->nodes[id];
  nd->line = ps->line;
  if (kind == PML_TOBJECT) {
    pt_Val cls;
    if (value(ps, &cls) != 0) return -1;
    if (cls.tag != PT_STR) return perr(ps, "an object's class name must be a string");
    g->nodes[id].cls = cls;
  }
  if (count(ps, &n) != 0) return -1;
  int pairs = kind == PML_TTABLE || kind == PML_TOBJECT;
  g->nodes[id].first = g->nvals;
  for (uint64_t i = 0; i < n; i++) {
    if (!next_line(ps)) return perr(ps, "the text ends inside container @%llu", (unsigned long long)id);
    for (int j = 0; j <= pairs; j++) {
      pt_Val v;
      if (value(ps, &v) != 0) return -1;
      if ((pairs && j == 0) || kind == PML_TSET) {
        if (key_ok(ps, &v) != 0) return -1;
      } else if (v.tag == PT_NIL && !pairs) {
        return perr(ps, "a %s holds no nil", pt_kind_name(kind));
      } else if (v.tag == PT_NIL) {
        return perr(ps, "a table entry's value is nil (a removed key is not dumped)");
      }
      *pt_graph_val(g) = v;
    }
    if (line_end(ps) != 0) return -1;
  }
  g->nodes[id].n = g->nvals - g->nodes[id].first;
  return 0;
}

/* link -- every reference names a container; each gets the parent and
   place a breadth-first walk from the root reaches it by (for paths); a
   container no walk reaches is an error (it would be garbage at once) */
static int link(Parser *ps) {
  pt_Graph *g = ps->g;
  uint64_t *queue = pt_alloc(NULL, (g->nnodes + 1) * sizeof *queue), head = 0, tail = 0;
  char *seen = pt_alloc(NULL, g->nnodes + 1);
  memset(seen, 0, g->nnodes + 1);
  int st = 0;
  for (uint64_t i = 0; i < g->nvals && st == 0; i++)
    if (g->vals[i].tag == PT_REF && (g->vals[i].u.id == 0 || g->vals[i].u.id > g->nnodes)) {
      ps->line = g->nodes[pt_graph_owner(g, i)].line;
      st = perr(ps, "a reference to @%llu, which the text does not define",
                (unsigned long long)g->vals[i].u.id);
    }
  if (st == 0 && g->root.tag == PT_REF) {
    if (g->root.u.id == 0 || g->root.u.id > g->nnodes) {
      ps->line = 2;
      st = perr(ps, "the root is @%llu, which the text does not define",
                (unsigned long long)g->root.u.id);
    } else {
      seen[g->root.u.id] = 1;
      queue[tail++] = g->root.u.id;
    }
  }
  while (st == 0 && head < tail) {
    uint64_t id = queue[head++];
    for (uint64_t i = g->nodes[id].first; i < g->nodes[id].first + g->nodes[id].n; i++) {
      uint64_t to = g->vals[i].u.id;
      if (g->vals[i].tag != PT_REF || seen[to]) continue;
      seen[to] = 1;
      g->nodes[to].parent = id;
      g->nodes[to].via = i;
      queue[tail++] = to;
    }
  }
  for (uint64_t id = 1; id <= g->nnodes && st == 0; id++)
    if (!seen[id]) {
      ps->line = g->nodes[id].line;
      st = perr(ps, "container @%llu is not reachable from the root", (unsigned long long)id);
    }
  free(queue);
  free(seen);
  return st;
}

int pt_text_read(const char *name, const char *s, size_t n, pt_Graph *g) {
  Parser ps = { name, s, s + n, NULL, 0, g };
  pt_graph_init(g);
  if (!next_line(&ps) || !word(&ps, MAGIC) || line_end(&ps) != 0) {
    ps.line = ps.line ? ps.line : 1;
    return perr(&ps, "not a pmtool dump (it starts with \"" MAGIC "\")");
  }
  if (!next_line(&ps) || !word(&ps, "root"))
    return perr(&ps, "'root VALUE' was expected");
  if (value(&ps, &g->root) != 0 || line_end(&ps) != 0) return -1;
  pt_progress_start("parsing", n);
  for (;;) {
    if (!next_line(&ps)) return perr(&ps, "the text ends without its 'end' line (truncated?)");
    if ((g->nnodes & 1023) == 0) pt_progress((uint64_t)(ps.p - s));
    if (word(&ps, "end")) break;
    if (container(&ps) != 0) return -1;
  }
  uint64_t total;
  if (count(&ps, &total) != 0) return -1;
  if (total != g->nnodes)
    return perr(&ps, "'end %llu' but %llu containers", (unsigned long long)total,
                (unsigned long long)g->nnodes);
  if (next_line(&ps)) return perr(&ps, "text after the 'end' line");
  pt_progress_end();
  return link(&ps);
}

/* }====================================================== */
