/*
** pt_json.c -- pmtool dump --json: the graph as JSON, where JSON can hold
** it (docs/pmtool.md). A table whose keys are all strings is an object, one
** whose keys are 1..n in order an array; an object is a JSON object with
** its class name under "__class"; lists, tuples and sets are arrays. What
** JSON cannot hold -- a cycle, a container met a second time (JSON has no
** references; copies could grow without bound), other keys, a string that
** is not UTF-8, nan and inf -- is written as null and said on stderr with
** its path.
** The walk keeps its own stack: a chain of a million containers is no
** deeper for it than one.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pt_int.h"

#define MAX_NOTES 100

typedef struct Frame {
  uint64_t id, i;
  int obj;                  /* written as a JSON object (keys and values) */
} Frame;

typedef struct Json {
  const pt_Graph *g;
  FILE *f;
  const char *pool;
  long lossy;
  char *state;              /* node id -> 0 unseen, 1 on the stack, 2 written */
  Frame *stack;
  uint64_t depth;
} Json;

/* note -- one value JSON cannot hold; where is the value's index (or
   UINT64_MAX: the root) */
static void note(Json *j, uint64_t where, const char *what) {
  if (++j->lossy > MAX_NOTES) return;
  pt_Buf b = { 0 };
  if (where == UINT64_MAX) pt_buf_puts(&b, "root");
  else pt_path_val(j->g, where, &b);
  fprintf(stderr, "pmtool dump --json: %s: %s: %s\n", j->pool, pt_buf_str(&b), what);
  pt_buf_free(&b);
}

static int utf8(const unsigned char *s, uint64_t n) {
  for (uint64_t i = 0, len; i < n; i += len)
    if ((len = (uint64_t)pt_utf8_len(s + i, n - i)) == 0) return 0;
  return 1;
}

static void str(Json *j, const char *s, uint64_t n) {
  fputc('"', j->f);
  for (uint64_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') fprintf(j->f, "\\%c", c);
    else if (c == '\n') fputs("\\n", j->f);
    else if (c == '\t') fputs("\\t", j->f);
    else if (c < 0x20 || c == 0x7f) fprintf(j->f, "\\u%04x", c);
    else fputc(c, j->f);
  }
  fputc('"', j->f);
}

/* shape -- how node id is written: 1 an object, 0 an array, -1 not at all */
static int shape(Json *j, uint64_t id) {
  const pt_Node *nd = &j->g->nodes[id];
  const pt_Val *v = &j->g->vals[nd->first];
  if (nd->kind != PML_TTABLE && nd->kind != PML_TOBJECT) return 0;
  int strs = 1, seq = nd->kind == PML_TTABLE;
  for (uint64_t i = 0; i < nd->n; i += 2) {
    strs = strs && v[i].tag == PT_STR && utf8((const unsigned char *)pt_strp(j->g, &v[i]), v[i].len) &&
           !(nd->kind == PML_TOBJECT && v[i].len == 7 && memcmp(pt_strp(j->g, &v[i]), "__class", 7) == 0);
    seq = seq && v[i].tag == PT_INT && v[i].u.i == (int64_t)(i / 2 + 1);
  }
  return seq && nd->n > 0 ? 0 : strs ? 1 : -1;
}

/* value -- write v (at index where); a container is pushed, to be written
   by the loop in pt_json_write */
static void value(Json *j, const pt_Val *v, uint64_t where) {
  char s[64];
  switch (v->tag) {
    case PT_FALSE: fputs("false", j->f); return;
    case PT_TRUE: fputs("true", j->f); return;
    case PT_INT: fprintf(j->f, "%lld", (long long)v->u.i); return;
    case PT_FLT:
      if (!isfinite(v->u.d)) { note(j, where, "nan or inf (written as null)"); break; }
      for (int prec = 15; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v->u.d);
        if (strtod(s, NULL) == v->u.d) break;
      }
      fputs(s, j->f);
      if (strpbrk(s, ".e") == NULL) fputs(".0", j->f);
      return;
    case PT_STR:
      if (!utf8((const unsigned char *)pt_strp(j->g, v), v->len)) {
        note(j, where, "a string that is not UTF-8 (written as null)");
        break;
      }
      str(j, pt_strp(j->g, v), v->len);
      return;
    case PT_REF: {
      uint64_t id = v->u.id;
      int sh = shape(j, id);
      if (j->state[id] == 1) { note(j, where, "a cycle (written as null)"); break; }
      if (sh < 0) { note(j, where, "a table whose keys are not all strings (written as null)"); break; }
      if (j->state[id] == 2) {
        note(j, where, "a container met before (written as null: JSON has no references)");
        break;
      }
      j->state[id] = 1;
      j->stack[j->depth++] = (Frame){ id, 0, sh };
      fputc(sh ? '{' : '[', j->f);
      if (j->g->nodes[id].kind == PML_TOBJECT) {
        fputs("\"__class\": ", j->f);
        str(j, pt_strp(j->g, &j->g->nodes[id].cls), j->g->nodes[id].cls.len);
        if (j->g->nodes[id].n) fputs(", ", j->f);
      }
      return;
    }
    default: break;
  }
  fputs("null", j->f);
}

long pt_json_write(const pt_Graph *g, FILE *f, const char *pool) {
  Json j = { g, f, pool, 0, pt_alloc(NULL, g->nnodes + 1), NULL, 0 };
  memset(j.state, 0, g->nnodes + 1);
  j.stack = pt_alloc(NULL, (g->nnodes + 1) * sizeof *j.stack);
  value(&j, &g->root, UINT64_MAX);
  while (j.depth > 0) {
    Frame *fr = &j.stack[j.depth - 1];
    const pt_Node *nd = &g->nodes[fr->id];
    uint64_t step = fr->obj || nd->kind == PML_TTABLE ? 2 : 1;
    if (fr->i >= nd->n) {
      fputc(fr->obj ? '}' : ']', f);
      j.state[fr->id] = 2;
      j.depth--;
      continue;
    }
    uint64_t at = nd->first + fr->i;
    if (fr->i) fputs(", ", f);
    fr->i += step;
    if (fr->obj) {
      str(&j, pt_strp(g, &g->vals[at]), g->vals[at].len);
      fputs(": ", f);
    }
    value(&j, &g->vals[at + step - 1], at + step - 1);
  }
  fputc('\n', f);
  free(j.state);
  free(j.stack);
  if (j.lossy > MAX_NOTES)
    fprintf(stderr, "pmtool dump --json: %s: ... and %ld more\n", pool, j.lossy - MAX_NOTES);
  return ferror(f) ? -1 : j.lossy;
}
