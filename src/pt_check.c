/*
** pt_check.c -- pmtool check: is a pool sound, and where is it not? And
** --repair: fix, in a copy, what needs no guess.
**
** What a sound pool is (docs/layout.md), checked in this order:
**  1. libpmemobj's heap metadata and lanes (pml_heap_check*), the root;
**  2. every allocation, by a walk of the heap: containers, strings,
**     bodies, item arrays, the log reserve;
**  3. what the root reaches, breadth first (the path of each container);
**  4. each allocated container: its header, body or items, counts, class
**     name; each cell: tag, encoding, strings, references; a table's index
**     finds each live key, and only once;
**  5. each container's refcount equals the references to it (from every
**     allocated container and the root cell, as the collector counts);
**  6. after a clean close, nothing allocated is unreachable: containers
**     reached from the root, strings, bodies and arrays owned by exactly
**     one of them, the pool's count of containers exact.
** Each problem has a kind (the names below, in the output and in
** docs/pmtool.md), a place (a path from the root, or "unreachable ..."),
** the offset, and what is wrong. Nothing is written; every offset is
** checked with pml_heap before it is read through.
*/
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pml_cell.h"
#include "pml_gc.h"
#include "pml_list.h"
#include "pml_table.h"
#include "pml_valid.h"
#include "pt_int.h"

/* the kinds of problem */
enum {
  K_HEAP, K_ROOT, K_DANGLING, K_WRONG_KIND, K_BAD_STRING, K_STRING_LENGTH,
  K_SHORT_STRING, K_BAD_TAG, K_TABLE_BODY, K_COUNT, K_LIST_ITEMS, K_INDEX,
  K_DUPLICATE_KEY, K_KEY, K_NON_CANONICAL, K_CLASS_NAME, K_SET_VALUE,
  K_REFCOUNT, K_UNREACHABLE, K_LEAK, K_SHARED, K_NOBJECTS, K_N
};
static const char *const kind_names[K_N] = {
  "heap", "root", "dangling", "wrong-kind", "bad-string", "string-length",
  "short-string", "bad-tag", "table-body", "count", "list-items", "index",
  "duplicate-key", "key", "non-canonical", "class-name", "set-value",
  "refcount", "unreachable", "leak", "shared", "nobjects"
};

#define MAX_LINES 200       /* problems written in full; the rest counted */

/* a container the root reaches: how (for its path) */
typedef struct Reach {
  uint64_t off;
  uint64_t parent;          /* index in reach of the container holding the
                               reference; UINT64_MAX: the root cell */
  uint64_t cell;            /* offset of that cell */
} Reach;

typedef struct Check {
  pml_Pool *p;
  const char *path;
  FILE *out;
  long problems, kinds[K_N];
  int clean;                /* the last run closed the pool */
  pml_Block *blocks;        /* every allocation */
  uint64_t nblocks;
  Reach *reach;             /* what the root reaches, breadth first */
  uint64_t nreach;
  pml_Map where;            /* container -> index in reach + 1 */
  pml_Map refs;             /* container -> references met */
  pml_Map owners;           /* string, body, items -> cells/containers owning it */
  pml_Map sound;            /* container -> 1 sound, 2 unsound */
  uint64_t containers;      /* allocated */
  int quiet;                /* a first look: nothing reported or counted */
} Check;

/* {====================================================== places */

/* key_step -- the path step of the key cell c: .name, ["a b"], [3], [table@off] */
static void key_step(Check *c, const pml_Cell *k, pt_Buf *b) {
  size_t len;
  const char *s;
  pt_Val v = { 0 };
  switch (k->tag) {
    case PML_CSSTR: case PML_CLSTR:
      s = (k->tag == PML_CSSTR && k->slen > PML_SSTR_MAX) ? NULL : pml_cell_str(c->p, k, &len);
      if (s == NULL) { pt_buf_puts(b, "[<damaged string>]"); return; }
      if (pt_is_name(s, len)) { pt_buf_add(b, ".", 1); pt_buf_add(b, s, len); return; }
      pt_buf_add(b, "[", 1);
      pt_fmt_str(b, s, len);
      pt_buf_add(b, "]", 1);
      return;
    case PML_CINT: pt_buf_printf(b, "[%lld]", (long long)k->u.i); return;
    case PML_CFLT: v.tag = PT_FLT; v.u.d = k->u.d; break;
    case PML_CTRUE: pt_buf_puts(b, "[true]"); return;
    case PML_CFALSE: pt_buf_puts(b, "[false]"); return;
    case PML_CREF: case PML_CDEADREF:
      pt_buf_printf(b, "[<container at %llu>]", (unsigned long long)k->u.off);
      return;
    default: pt_buf_printf(b, "[<tag %u>]", k->tag); return;
  }
  pt_buf_add(b, "[", 1);
  pt_fmt_val(NULL, b, &v);
  pt_buf_add(b, "]", 1);
}

/* cell_step -- the step from container off to its cell at cell */
static void cell_step(Check *c, uint64_t off, uint64_t cell, pt_Buf *b) {
  pml_Hdr *h = pml_hdr(c->p, off);
  if (h->kind == PML_TLIST || h->kind == PML_TTUPLE) {
    pml_List *l = (pml_List *)h;
    pt_buf_printf(b, "[%llu]", (unsigned long long)((cell - l->items) / sizeof(pml_Cell) + 1));
    return;
  }
  pml_Table *t = (pml_Table *)h;
  if (h->kind == PML_TOBJECT && cell == off + offsetof(pml_Object, cls)) {
    pt_buf_puts(b, "<class name>");
    return;
  }
  uint64_t es = t->body + 2 * sizeof(uint64_t) * t->cap;
  uint64_t i = (cell - es) / sizeof(pml_Entry);
  const pml_Entry *e = pml_ptr(c->p, es + i * sizeof(pml_Entry));
  key_step(c, &e->key, b);
  if ((cell - es) % sizeof(pml_Entry) == 0) pt_buf_puts(b, "<key>");
}

/* place -- where the container at off is: its path, or unreachable */
static void place(Check *c, uint64_t off, pt_Buf *b) {
  pml_MapSlot *s = pml_map_find(&c->where, off);
  if (s == NULL) { pt_buf_printf(b, "<unreachable %s>", pt_kind_name(pml_hdr(c->p, off)->kind)); return; }
  uint64_t chain[64], n = 0, i = s->val - 1;
  for (; i != UINT64_MAX && n < 64; i = c->reach[i].parent) chain[n++] = i;
  pt_buf_puts(b, i == UINT64_MAX ? "root" : "...");
  while (n-- > 0) {
    Reach *r = &c->reach[chain[n]];
    if (r->parent != UINT64_MAX) cell_step(c, c->reach[r->parent].off, r->cell, b);
  }
}

/* problem -- report one; at is the container (0: the pool), cell the cell
   within it (0: the container itself) */
static void problem(Check *c, int kind, uint64_t at, uint64_t cell, uint64_t off,
                    const char *fmt, ...) {
  if (c->quiet) return;
  c->problems++;
  c->kinds[kind]++;
  if (c->out == NULL || c->problems > MAX_LINES) return;
  pt_Buf b = { 0 };
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (at != 0) {
    place(c, at, &b);
    if (cell != 0) cell_step(c, at, cell, &b);
  } else {
    pt_buf_puts(&b, "pool");
  }
  fprintf(c->out, "%s at %s (offset %llu): %s\n", kind_names[kind], pt_buf_str(&b),
          (unsigned long long)off, msg);
  pt_buf_free(&b);
}

/* }====================================================== */

/* {====================================================== cells */

static int is_container(uint64_t type) {
  return type == PML_TTABLE || type == PML_TLIST || type == PML_TOBJECT ||
         type == PML_TTUPLE || type == PML_TSET;
}

static void count(Check *c, pml_Map *m, uint64_t off) {
  int isnew;
  pml_MapSlot *s = pml_map_put(m, off, &isnew);
  if (s == NULL) pt_alloc(NULL, SIZE_MAX);
  s->val++;
}

/* canonical -- are the bytes a key's encoding leaves unused zero? */
static int canonical(const pml_Cell *k) {
  const unsigned char *b = (const unsigned char *)k;
  int from = 1, to = 16;                    /* the unused range [from, to) */
  switch (k->tag) {
    case PML_CSSTR: from = 2 + (k->slen <= PML_SSTR_MAX ? k->slen : PML_SSTR_MAX); break;
    case PML_CNIL: case PML_CFALSE: case PML_CTRUE: case PML_CTOMB: break;
    default: to = 8; break;
  }
  for (int i = from; i < to; i++)
    if (b[i]) return 0;
  return 1;
}

/*
** cell -- check the cell at offset co of container at: its tag, its
** string, its reference (counted); key: it is a key (of a live entry if
** live), so its encoding and value matter too
*/
static void cell(Check *c, uint64_t at, uint64_t co, int key, int live) {
  pml_Pool *p = c->p;
  const pml_Cell *x = pml_ptr(p, co);
  pml_Block b;
  switch (x->tag) {
    case PML_CNIL: case PML_CFALSE: case PML_CTRUE: case PML_CINT:
      break;
    case PML_CFLT:
      if (key && live && isnan(x->u.d)) problem(c, K_KEY, at, co, co, "a key is NaN");
      else if (key && live && x->u.d == floor(x->u.d) && fabs(x->u.d) < 0x1p63)
        problem(c, K_KEY, at, co, co, "the float key %.17g has an integral value "
                "(pmlua stores those as integers)", x->u.d);
      break;
    case PML_CSSTR:
      if (x->slen > PML_SSTR_MAX)
        problem(c, K_SHORT_STRING, at, co, co, "a short string of %u bytes (at most %d)",
                x->slen, PML_SSTR_MAX);
      break;
    case PML_CLSTR:
      count(c, &c->owners, x->u.off);
      if (pml_str(p, x->u.off) != NULL) break;
      if (pml_heap_block(&p->heap, x->u.off, &b) && b.type == PML_TSTR && b.usable >= 8)
        problem(c, K_STRING_LENGTH, at, co, x->u.off, "a string of length %llu in an "
                "allocation of %llu bytes", (unsigned long long)((pml_Str *)pml_ptr(p, x->u.off))->len,
                (unsigned long long)b.usable);
      else
        problem(c, K_BAD_STRING, at, co, x->u.off, "not a live string allocation");
      break;
    case PML_CREF:
      count(c, &c->refs, x->u.off);
      if (!pml_heap_block(&p->heap, x->u.off, &b))
        problem(c, K_DANGLING, at, co, x->u.off, "a reference to no live allocation");
      else if (!is_container(b.type) || b.usable < sizeof(pml_Hdr) ||
               pml_hdr(p, x->u.off)->kind != b.type)
        problem(c, K_WRONG_KIND, at, co, x->u.off, "a reference to an allocation of type "
                "%llu that is not a container of its kind", (unsigned long long)b.type);
      break;
    case PML_CTOMB: case PML_CDEADREF:
      if (!key || live) problem(c, K_BAD_TAG, at, co, co, "a dead key's tag (%u) %s", x->tag,
                                key ? "in a live entry" : "where a value is");
      break;
    default:
      problem(c, K_BAD_TAG, at, co, co, "an impossible tag %u", x->tag);
      return;
  }
  if (key && live && !canonical(x))
    problem(c, K_NON_CANONICAL, at, co, co, "a key whose unused bytes are not zero "
            "(lookups by content miss it)");
}

/* }====================================================== */

/* {====================================================== containers */

/*
** header -- is the container at off well-formed enough to read its
** cells (its body or items live and large enough, counts coherent)?
** Reports what is not; records the verdict in c->sound.
*/
static int header(Check *c, uint64_t off, const pml_Block *blk) {
  pml_Pool *p = c->p;
  pml_Hdr *h = pml_hdr(p, off);
  int ok = 1, isnew;
  size_t need = blk->type == PML_TOBJECT ? sizeof(pml_Object) :
                blk->type == PML_TLIST || blk->type == PML_TTUPLE ? sizeof(pml_List) : sizeof(pml_Table);
  if (blk->usable < need || h->kind != blk->type) {
    problem(c, K_WRONG_KIND, 0, 0, off, "a container allocation of type %llu whose header "
            "says kind %u (or too small)", (unsigned long long)blk->type, h->kind);
    ok = 0;
  } else if (h->kind == PML_TLIST || h->kind == PML_TTUPLE) {
    pml_List *l = (pml_List *)h;
    if (l->items == 0 ? (l->cap || l->len) : l->len > l->cap || l->cap > ((uint64_t)1 << 40)) {
      problem(c, K_COUNT, off, 0, off, "length %llu, capacity %llu", (unsigned long long)l->len,
              (unsigned long long)l->cap);
      ok = 0;
    } else if (l->items && !pml_heap_has(&p->heap, l->items, PML_TLITEMS, l->cap * sizeof(pml_Cell))) {
      problem(c, K_LIST_ITEMS, off, 0, l->items, "the items are not a live array of %llu cells",
              (unsigned long long)l->cap);
      ok = 0;
    }
    if (ok && l->items && !c->quiet) count(c, &c->owners, l->items);
  } else {
    pml_Table *t = (pml_Table *)h;
    if (t->body == 0 ? (t->cap || t->used || t->count) :
        t->cap == 0 || (t->cap & (t->cap - 1)) || t->cap > ((uint64_t)1 << 31) ||
        t->used > t->cap || t->count > t->used) {
      problem(c, K_COUNT, off, 0, off, "count %llu, used %llu, capacity %llu",
              (unsigned long long)t->count, (unsigned long long)t->used, (unsigned long long)t->cap);
      ok = 0;
    } else if (t->body && !pml_heap_has(&p->heap, t->body, PML_TTBODY, pml_tbody_size(t->cap))) {
      problem(c, K_TABLE_BODY, off, 0, t->body, "the body is not a live table body for "
              "%llu entries", (unsigned long long)t->cap);
      ok = 0;
    }
    if (ok && t->body && !c->quiet) count(c, &c->owners, t->body);
    if (h->kind == PML_TOBJECT) {
      const pml_Cell *k = &((pml_Object *)h)->cls;
      uint64_t co = off + offsetof(pml_Object, cls);
      if (k->tag == PML_CLSTR && !c->quiet) count(c, &c->owners, k->u.off);
      if (!(k->tag == PML_CSSTR && k->slen <= PML_SSTR_MAX) &&
          !(k->tag == PML_CLSTR && pml_str(p, k->u.off) != NULL)) {
        problem(c, K_CLASS_NAME, off, 0, co, "the class name is not a readable string");
        ok = 0;
      }
    }
  }
  pml_MapSlot *s = pml_map_put(&c->sound, off, &isnew);
  if (s == NULL) pt_alloc(NULL, SIZE_MAX);
  s->val = ok ? 1 : 2;
  return ok;
}

static int is_sound(Check *c, uint64_t off) {
  pml_MapSlot *s = pml_map_find(&c->sound, off);
  return s != NULL && s->val == 1;
}

/* as_key -- the key held by cell k, for a lookup (pml_table.c's findable) */
static int as_key(Check *c, const pml_Cell *k, pml_Val *v) {
  if (k->tag == PML_CLSTR) {
    size_t len;
    const char *s = pml_cell_str(c->p, k, &len);
    if (s == NULL) return 0;
    pml_val_str(v, s, len);
    return 1;
  }
  v->tag = k->tag;
  v->u.off = k->u.off;
  v->img = *k;
  return 1;
}

static void table(Check *c, uint64_t off) {
  pml_Pool *p = c->p;
  pml_Table *t = pml_table(p, off);
  int set = pml_hdr(p, off)->kind == PML_TSET;
  if (t->body == 0) return;
  pml_Entry *es = pml_tbody_entries(pml_ptr(p, t->body), t->cap);
  uint64_t *slots = pml_tbody_slots(pml_ptr(p, t->body)), live = 0;
  for (uint64_t i = 0; i < 2 * t->cap; i++) {
    uint64_t s = slots[i];
    if (s != 0 && ((s & 0xffffffffu) == 0 || (s & 0xffffffffu) - 1 >= t->used))
      problem(c, K_INDEX, off, 0, pml_off(p, &slots[i]), "an index slot names entry %llu "
              "of %llu", (unsigned long long)(s & 0xffffffffu), (unsigned long long)t->used);
  }
  for (uint64_t i = 0; i < t->used; i++) {
    int isl = es[i].val.tag != PML_CNIL;
    uint64_t ko = pml_off(p, &es[i].key), vo = pml_off(p, &es[i].val);
    live += isl;
    if (isl && (es[i].key.tag == PML_CNIL || es[i].key.tag == PML_CTOMB ||
                es[i].key.tag == PML_CDEADREF)) {
      problem(c, K_KEY, off, ko, ko, "a live entry whose key is %s",
              es[i].key.tag == PML_CNIL ? "nil" : "dead");
      continue;
    }
    cell(c, off, ko, 1, isl);
    cell(c, off, vo, 0, 0);
    if (set && isl && es[i].val.tag != PML_CTRUE)
      problem(c, K_SET_VALUE, off, ko, vo, "a set member whose value is not true");
    if (!isl) continue;
    pml_Val k;
    if (!as_key(c, &es[i].key, &k)) continue;          /* reported above */
    pml_Entry *e = pml_table_find(p, t, &k, pml_cell_hash(p, &es[i].key));
    if (e == &es[i]) continue;
    if (e != NULL && e->val.tag != PML_CNIL)
      problem(c, K_DUPLICATE_KEY, off, ko, ko, "the key is also entry %llu's",
              (unsigned long long)(e - es));
    else
      problem(c, K_INDEX, off, ko, ko, "a lookup of the key does not find its entry");
  }
  if (live != t->count)
    problem(c, K_COUNT, off, 0, off, "count %llu, but %llu live entries",
            (unsigned long long)t->count, (unsigned long long)live);
}

static void list(Check *c, uint64_t off) {
  pml_Pool *p = c->p;
  pml_List *l = pml_list(p, off);
  for (uint64_t i = 0; i < l->len; i++) {
    uint64_t co = l->items + i * sizeof(pml_Cell);
    if (((pml_Cell *)pml_ptr(p, co))->tag == PML_CNIL)
      problem(c, K_BAD_TAG, off, co, co, "a nil item (a list has no holes)");
    else
      cell(c, off, co, 0, 0);
  }
}

/* }====================================================== */

/* {====================================================== the walks */

static int add_block(void *ud, const pml_Block *b) {
  Check *c = ud;
  if ((c->nblocks & (c->nblocks - 1)) == 0 && c->nblocks >= 1024)
    c->blocks = pt_alloc(c->blocks, 2 * c->nblocks * sizeof *c->blocks);
  else if (c->nblocks == 0)
    c->blocks = pt_alloc(c->blocks, 1024 * sizeof *c->blocks);
  c->blocks[c->nblocks++] = *b;
  return 0;
}

/* reach_add -- the container at off, met through the cell at cell of
   reach[parent]: queued once, if it is an allocated container (only a
   sound one is followed) */
static void reach_add(Check *c, uint64_t off, uint64_t parent, uint64_t cell) {
  int isnew;
  if (pml_map_find(&c->sound, off) == NULL) return;
  pml_MapSlot *s = pml_map_put(&c->where, off, &isnew);
  if (s == NULL) pt_alloc(NULL, SIZE_MAX);
  if (!isnew) return;
  s->val = c->nreach + 1;
  c->reach[c->nreach++] = (Reach){ off, parent, cell };
}

/* reach_all -- breadth first from the root cell, through every reference
   cell the collector follows (pml_table_refs, pml_list_refs) */
static void reach_all(Check *c) {
  pml_Pool *p = c->p;
  c->reach = pt_alloc(NULL, (c->containers + 1) * sizeof *c->reach);
  if (p->root->root.tag == PML_CREF)
    reach_add(c, p->root->root.u.off, UINT64_MAX, 0);
  for (uint64_t i = 0; i < c->nreach; i++) {
    uint64_t off = c->reach[i].off;
    pml_Hdr *h = pml_hdr(p, off);
    if (!is_sound(c, off)) continue;
    if (h->kind == PML_TLIST || h->kind == PML_TTUPLE) {
      pml_List *l = (pml_List *)h;
      for (uint64_t j = 0; j < l->len; j++) {
        pml_Cell *x = (pml_Cell *)pml_ptr(p, l->items) + j;
        if (x->tag == PML_CREF) reach_add(c, x->u.off, i, pml_off(p, x));
      }
    } else if (((pml_Table *)h)->body) {
      pml_Table *t = (pml_Table *)h;
      pml_Entry *es = pml_tbody_entries(pml_ptr(p, t->body), t->cap);
      for (uint64_t j = 0; j < t->used; j++) {
        if (es[j].key.tag == PML_CREF) reach_add(c, es[j].key.u.off, i, pml_off(p, &es[j].key));
        if (es[j].val.tag == PML_CREF) reach_add(c, es[j].val.u.off, i, pml_off(p, &es[j].val));
      }
    }
    if ((i & 4095) == 0) pt_progress(c->containers + i);
  }
}

/* root -- the pool-level checks: heap, lanes, root object */
static void root_checks(Check *c) {
  pml_Pool *p = c->p;
  const char *why;
  uint64_t lanes, nlanes;
  memcpy(&lanes, p->base + PML_DSC_LANES_OFF, 8);
  memcpy(&nlanes, p->base + PML_DSC_NLANES, 8);
  if (pml_heap_check(&p->heap, &why) != 0)
    problem(c, K_HEAP, 0, 0, p->heap.zone0, "libpmemobj's heap metadata: %s", why);
  /* the lanes of a pool its last run did not close are libpmemobj's to
     recover at the next open (a read-only look sees them unrecovered, or
     recovered in a private copy whose log extensions stay linked): pmlua
     checks them at open only when a clean close sealed them, and so does
     this */
  if (c->clean && pml_heap_check_lanes(&p->heap, lanes, nlanes, &why) != 0)
    problem(c, K_HEAP, 0, 0, lanes, "libpmemobj's lanes: %s", why);
  if (p->root->logbuf != 0 && !pml_heap_has(&p->heap, p->root->logbuf, PML_TLOG, PML_LOGBUF_SIZE))
    problem(c, K_ROOT, 0, 0, pml_off(p, &p->root->logbuf), "the log reserve is not a live "
            "log allocation");
  else if (p->root->logbuf != 0)
    count(c, &c->owners, p->root->logbuf);
  pml_Block b;
  const pml_Cell *r = &p->root->root;
  uint64_t ro = pml_off(p, r);
  if (r->tag > PML_CREF)
    problem(c, K_BAD_TAG, 0, 0, ro, "the root cell has tag %u", r->tag);
  else if (r->tag == PML_CREF) {
    count(c, &c->refs, r->u.off);
    if (!pml_heap_block(&p->heap, r->u.off, &b))
      problem(c, K_DANGLING, 0, 0, r->u.off, "the root is a reference to no live allocation");
    else if (!is_container(b.type) || pml_hdr(p, r->u.off)->kind != b.type)
      problem(c, K_WRONG_KIND, 0, 0, r->u.off, "the root is a reference to what is not a container");
  } else if (r->tag == PML_CLSTR) {
    count(c, &c->owners, r->u.off);
    if (pml_str(p, r->u.off) == NULL)
      problem(c, K_BAD_STRING, 0, 0, r->u.off, "the root's string is not a live string");
  } else if (r->tag == PML_CSSTR && r->slen > PML_SSTR_MAX) {
    problem(c, K_SHORT_STRING, 0, 0, ro, "the root's short string is %u bytes", r->slen);
  }
}

/* accounts -- counts against references, and what nothing owns or reaches */
static void accounts(Check *c) {
  pml_Pool *p = c->p;
  for (uint64_t i = 0; i < c->nblocks; i++) {
    const pml_Block *b = &c->blocks[i];
    pml_MapSlot *s;
    if (is_container(b->type)) {
      if (!is_sound(c, b->off)) continue;
      s = pml_map_find(&c->refs, b->off);
      uint64_t n = s ? s->val : 0, rc = pml_hdr(p, b->off)->refcount;
      if (rc != n)
        problem(c, K_REFCOUNT, b->off, 0, b->off, "refcount %llu, but %llu references",
                (unsigned long long)rc, (unsigned long long)n);
      if (c->clean && pml_map_find(&c->where, b->off) == NULL)
        problem(c, K_UNREACHABLE, b->off, 0, b->off, "allocated, and not reachable from "
                "the root after a clean close");
    } else if (b->type == PML_TSTR || b->type == PML_TTBODY || b->type == PML_TLITEMS ||
               b->type == PML_TLOG) {
      s = pml_map_find(&c->owners, b->off);
      if (s != NULL && s->val > 1)
        problem(c, K_SHARED, 0, 0, b->off, "%s held by %llu owners (one owner each)",
                b->type == PML_TSTR ? "a string" : "an array", (unsigned long long)s->val);
      else if (s == NULL && c->clean)
        problem(c, K_LEAK, 0, 0, b->off, "an allocation of type %llu (%llu bytes) that "
                "nothing holds", (unsigned long long)b->type, (unsigned long long)b->usable);
    }
  }
  if (c->clean && p->root->nobjects != c->containers)
    problem(c, K_NOBJECTS, 0, 0, pml_off(p, &p->root->nobjects), "the root counts %llu "
            "containers, the heap holds %llu", (unsigned long long)p->root->nobjects,
            (unsigned long long)c->containers);
}

static void check_free(Check *c) {
  free(c->blocks);
  free(c->reach);
  pml_map_free(&c->where);
  pml_map_free(&c->refs);
  pml_map_free(&c->owners);
  pml_map_free(&c->sound);
}

/* run -- every check of the open pool p */
static void run(Check *c, pml_Pool *p, const char *path, FILE *out) {
  memset(c, 0, sizeof *c);
  c->p = p;
  c->path = path;
  c->out = out;
  c->clean = p->root->state == PML_STATE_CLEAN;
  pml_map_init(&c->where);
  pml_map_init(&c->refs);
  pml_map_init(&c->owners);
  pml_map_init(&c->sound);
  pt_progress_start("checking", 3 * (p->root->nobjects + 1));
  root_checks(c);
  pml_heap_walk(&p->heap, add_block, c);          /* to the first damage */
  c->quiet = 1;                                   /* soundness first, */
  for (uint64_t i = 0; i < c->nblocks; i++)
    if (is_container(c->blocks[i].type)) {
      c->containers++;
      header(c, c->blocks[i].off, &c->blocks[i]);
    }
  reach_all(c);                                   /* then paths, */
  c->quiet = 0;                                   /* then the report */
  for (uint64_t i = 0; i < c->nblocks; i++)
    if (is_container(c->blocks[i].type)) header(c, c->blocks[i].off, &c->blocks[i]);
  for (uint64_t i = 0, n = 0; i < c->nblocks; i++) {
    uint64_t off = c->blocks[i].off, t = c->blocks[i].type;
    if (!is_container(t) || !is_sound(c, off)) continue;
    if (t == PML_TLIST || t == PML_TTUPLE) list(c, off);
    else table(c, off);
    if ((++n & 4095) == 0) pt_progress(2 * c->containers + n);
  }
  accounts(c);
  pt_progress_end();
}

long pt_check_pool(pml_Pool *p, const char *path, FILE *out) {
  Check c;
  run(&c, p, path, out);
  check_free(&c);
  return c.problems;
}

/* }====================================================== */

/* {====================================================== repair */

/* copy_file -- a copy of the file src at dst (created, not existing),
   under a shared lock: a pool open elsewhere (libpmemobj's exclusive
   lock) is not copied half-written */
static int copy_file(const char *src, const char *dst) {
  int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, ok = 0;
  struct stat st;
  if (in >= 0 && flock(in, LOCK_SH | LOCK_NB) != 0) {
    close(in);
    errno = EBUSY;
    return -1;
  }
  if (in >= 0 && fstat(in, &st) == 0)
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
  if (out >= 0) {
    static char buf[1 << 20];
    ssize_t n;
    ok = 1;
    while (ok && (n = read(in, buf, sizeof buf)) > 0)
      ok = write(out, buf, (size_t)n) == n;
    ok = ok && n == 0 && fsync(out) == 0;
  }
  int e = errno;
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  if (!ok && out >= 0) unlink(dst);
  errno = e;
  return ok ? 0 : -1;
}

/* fix_counts -- every sound container's refcount made its references' */
static int fix_counts(Check *c, long *fixed) {
  pml_Pool *p = c->p;
  int st = pml_tx_open(p);
  for (uint64_t i = 0; i < c->nblocks && st == PML_OK; i++) {
    const pml_Block *b = &c->blocks[i];
    if (!is_container(b->type) || !is_sound(c, b->off)) continue;
    pml_MapSlot *s = pml_map_find(&c->refs, b->off);
    pml_Hdr *h = pml_hdr(p, b->off);
    uint64_t n = s ? s->val : 0;
    if (h->refcount == n) continue;
    st = pml_tx_snap(p, &h->refcount, sizeof h->refcount);
    if (st == PML_OK) { h->refcount = n; (*fixed)++; }
    if (st == PML_OK && *fixed % 1024 == 0) {
      st = pml_tx_commit(p);
      if (st == PML_OK) st = pml_tx_open(p);
    }
  }
  if (st == PML_OK) return pml_tx_commit(p);
  pml_tx_abort(p);
  return st;
}

/* free_leaks -- free what nothing holds: strings, bodies, item arrays */
static int free_leaks(Check *c, long *freed) {
  pml_Pool *p = c->p;
  int st = pml_tx_open_bulk(p);
  for (uint64_t i = 0; i < c->nblocks && st == PML_OK; i++) {
    const pml_Block *b = &c->blocks[i];
    if ((b->type != PML_TSTR && b->type != PML_TTBODY && b->type != PML_TLITEMS &&
         b->type != PML_TLOG) || pml_map_find(&c->owners, b->off) != NULL)
      continue;
    st = pml_tx_free(p, b->off, (unsigned)b->type);
    if (st == PML_OK) (*freed)++;
    if (st == PML_OK && !pml_tx_room(p, 2, 0)) {
      st = pml_tx_commit(p);
      if (st == PML_OK) st = pml_tx_open_bulk(p);
    }
  }
  if (st == PML_OK) return pml_tx_commit(p);
  pml_tx_abort(p);
  return st;
}

/*
** repair -- in the copy at dst of the pool at src: refcounts set to the
** references counted; what the root does not reach collected (pml_gc_full,
** which also makes the count of containers exact); strings and arrays
** nothing holds freed. Damage that would need a guess (a bad reference, a
** broken index) is left, and the final check says what remains.
*/
static int repair(const char *src, const char *dst) {
  char sw[4200], dw[4200];
  if (copy_file(src, dst) != 0)
    return pt_err("%s: cannot make the copy %s: %s", src, dst,
                  errno == EBUSY ? "pool is in use (open in another process)" : strerror(errno));
  /* a log beside the pool holds its last commits: the copy gets it too */
  if (pml_wal_path(src, sw, sizeof sw) == 0 && pml_wal_path(dst, dw, sizeof dw) == 0 &&
      access(sw, F_OK) == 0 && copy_file(sw, dw) != 0)
    return pt_err("%s: cannot copy its log %s: %s", src, sw, strerror(errno));
  pml_Pool p;
  if (pt_open(&p, dst, 'w') != 0) return -1;
  Check c;
  long counts = 0, leaks = 0;
  pml_GcStats gs = { 0, 0, 0 };
  run(&c, &p, dst, NULL);
  int st = fix_counts(&c, &counts);
  check_free(&c);
  if (st == PML_OK) st = pml_pool_start_run(&p);
  if (st == PML_OK) st = pml_gc_full(&p, &gs);
  if (st == PML_OK) {
    run(&c, &p, dst, NULL);
    st = free_leaks(&c, &leaks);
    check_free(&c);
  }
  pml_pool_close(&p, st == PML_OK);
  if (st != PML_OK) return pt_err("%s: the repair stopped (status %d): %s", dst, st, p.err);
  printf("%s: set %ld refcounts, collected %llu unreachable containers, freed %ld "
         "unowned allocations\n", dst, counts, (unsigned long long)gs.collected, leaks);
  if (pt_open(&p, dst, 'r') != 0) return -1;
  long left = pt_check_pool(&p, dst, stdout);
  pml_pool_close(&p, 0);
  if (left) return pt_err("%s: %ld problems remain (they need a guess to fix)", dst, left);
  printf("%s: sound\n", dst);
  return 0;
}

/* }====================================================== */

static void summary(const Check *c, pt_Buf *b) {
  for (int k = 0; k < K_N; k++)
    if (c->kinds[k]) pt_buf_printf(b, "%s%s %ld", b->n ? ", " : "", kind_names[k], c->kinds[k]);
}

int pt_check(const char *path, int argc, char **argv) {
  const char *out = NULL;
  int fix = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--repair") == 0) fix = 1;
    else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out = argv[++i];
    else return pt_err("check: unknown option '%s' (see pmtool check --help)", argv[i]);
  }
  if (fix) {
    char dflt[4200];
    if (out == NULL) {
      snprintf(dflt, sizeof dflt, "%s.repaired", path);
      out = dflt;
    }
    return repair(path, out);
  }
  pml_Pool p;
  if (pt_open(&p, path, 'r') != 0) return -1;
  Check c;
  run(&c, &p, path, stdout);
  int clean = c.clean;
  uint64_t containers = c.containers, nreach = c.nreach;
  pml_pool_close(&p, 0);
  if (c.problems > MAX_LINES) printf("... and %ld more problems\n", c.problems - MAX_LINES);
  if (c.problems == 0) {
    printf("%s: sound (%llu containers, %llu reachable)%s\n", path,
           (unsigned long long)containers, (unsigned long long)nreach,
           clean ? "" : "; the last run did not close it: the next open collects what "
           "it left unreachable");
    check_free(&c);
    return 0;
  }
  pt_Buf b = { 0 };
  summary(&c, &b);
  pt_err("%s: %ld problem%s (%s)", path, c.problems, c.problems == 1 ? "" : "s", pt_buf_str(&b));
  pt_buf_free(&b);
  check_free(&c);
  return -1;
}
