/*
** pml_gc.c -- garbage collection of stored containers (pml_gc.h).
*/
#include <stdlib.h>

#include "pml_cell.h"
#include "pml_gc.h"
#include "pml_list.h"
#include "pml_ref.h"
#include "pml_table.h"
#include "pml_tx.h"
#include "pml_valid.h"

#define BATCH 1024        /* containers freed per transaction */

typedef struct Vec {
  uint64_t *v;
  size_t n, cap;
} Vec;

/* one collection's state */
typedef struct Gc {
  pml_Pool *p;
  int st;                 /* first failure */
  int use_held;
  uint64_t barrier;       /* the pool's root container (0 if none): live,
                             never entered by the trial deletion */
  Vec work;               /* stack of offsets */
  Vec freed;              /* freed in the open batch: reported after commit */
  pml_Map a, b;           /* trial counts / black set, or the mark set */
  pml_GcStats *stats;
} Gc;

static void push(Gc *g, uint64_t off) {
  Vec *s = &g->work;
  if (s->n == s->cap) {
    size_t nc = s->cap ? 2 * s->cap : 256;
    uint64_t *nv = realloc(s->v, nc * sizeof *nv);
    if (nv == NULL) { g->st = PML_ENOMEM; return; }
    s->v = nv; s->cap = nc;
  }
  s->v[s->n++] = off;
}

static void vec_add(Gc *g, Vec *s, uint64_t off) {
  Vec w = g->work;
  g->work = *s;
  push(g, off);
  *s = g->work;
  g->work = w;
}

static int is_container(unsigned type) {
  return type == PML_TTABLE || type == PML_TLIST || type == PML_TOBJECT ||
         type == PML_TTUPLE || type == PML_TSET;
}

static uint64_t rc(Gc *g, uint64_t off) { return pml_hdr(g->p, off)->refcount; }

/*
** child_ok -- check a reference before following it. A reference that is
** not a sound container is not followed, and never freed through: damage
** costs the room it holds (counted in stats->damaged), not the pool.
*/
static int child_ok(Gc *g, uint64_t off) {
  if (g->st != PML_OK) return 0;
  if (pml_container_ok(g->p, off)) return 1;
  g->stats->damaged++;
  return 0;
}

/* freeable -- may the garbage container at off be freed? Its long strings
   must all be sound too (freeing them hands their offsets to libpmemobj) */
static int freeable(Gc *g, uint64_t off) {
  pml_Pool *p = g->p;
  pml_Hdr *h = pml_hdr(p, off);
  int ok = pml_container_ok(p, off);
  if (ok && (h->kind == PML_TLIST || h->kind == PML_TTUPLE))
    ok = pml_list_strings_ok(p, (pml_List *)h);
  else if (ok)
    ok = pml_table_strings_ok(p, (pml_Table *)h);
  if (!ok) {
    g->stats->damaged++;
    pml_ref_clear_suspect(p, off);
  }
  return ok;
}

static int held(Gc *g, uint64_t off) {
  pml_Pool *p = g->p;
  return g->use_held && p->hooks && p->hooks->held(p->hookud, off);
}

/* each_child -- call fn for every container the one at off references */
static void each_child(Gc *g, uint64_t off, void (*fn)(void *, uint64_t)) {
  if (!pml_container_ok(g->p, off)) return;   /* counted where it is met */
  pml_Hdr *h = pml_hdr(g->p, off);
  switch (h->kind) {
    case PML_TTABLE: case PML_TSET: case PML_TOBJECT:
      pml_table_refs(g->p, (pml_Table *)h, fn, g);
      break;
    case PML_TLIST: case PML_TTUPLE:
      pml_list_refs(g->p, (pml_List *)h, fn, g);
      break;
    default: break;
  }
}

/* flush -- commit the open batch, report what it freed, open the next */
static void flush(Gc *g, int reopen) {
  pml_Pool *p = g->p;
  if (g->st == PML_OK) g->st = pml_tx_commit(p);
  else pml_tx_abort(p);
  if (g->st == PML_OK) {
    for (size_t i = 0; i < g->freed.n; i++) {
      pml_ref_clear_suspect(p, g->freed.v[i]);
      if (p->hooks) p->hooks->dropped(p->hookud, g->freed.v[i]);
    }
    g->stats->collected += g->freed.n;
  }
  g->freed.n = 0;
  if (reopen && g->st == PML_OK) g->st = pml_tx_open_bulk(p);
}

/* a batch ends before its logs would have to grow (by allocations, which
   fail on a full pool): room kept for one cell (a free or a snapshot) and
   for finishing a container (its array, cls, header, nobjects, a cut) */
#define CELL_ACTS   5       /* 2 cells, cls, body, header */
#define CELL_SNAP   (3 * pml_tx_snapcost(sizeof(uint64_t)) + pml_tx_snapcost(2 * sizeof(uint64_t)))
#define batch_full(g)  (!pml_tx_room((g)->p, CELL_ACTS, CELL_SNAP))

/* cut -- a dead container keeps its first n cells; commit the batch */
static void cut(Gc *g, pml_Hdr *h, uint64_t n) {
  pml_Pool *p = g->p;
  if (h->kind == PML_TLIST || h->kind == PML_TTUPLE) {
    pml_List *l = (pml_List *)h;
    if ((g->st = pml_tx_snap(p, &l->len, sizeof l->len)) == PML_OK) l->len = n;
  } else {
    pml_Table *t = (pml_Table *)h;               /* count, used */
    if ((g->st = pml_tx_snap(p, &t->count, 2 * sizeof(uint64_t))) == PML_OK) {
      t->used = n / 2;
      if (t->count > t->used) t->count = t->used;
    }
  }
  flush(g, 1);
}

/*
** free_container -- free the dead object at off: the long strings its
** cells own, the references they hold (through dec: each caller knows
** which children to count down), its body or items, its header. Cells go
** last first; when the batch's logs are used up midway, the container is
** cut to the cells left and the batch committed, so that every committed
** state is a smaller dead container and freeing needs no room of its own.
*/
static void free_container(Gc *g, uint64_t off, void (*dec)(void *, uint64_t)) {
  pml_Pool *p = g->p;
  pml_Hdr *h = pml_hdr(p, off);
  pml_Cell *c = NULL;
  uint64_t n, unit, arr;
  if (g->st != PML_OK || !freeable(g, off)) return;
  if (h->kind == PML_TLIST || h->kind == PML_TTUPLE) {
    pml_List *l = (pml_List *)h;
    arr = l->items;
    c = arr ? pml_ptr(p, arr) : NULL;
    n = arr ? l->len : 0;
    unit = 1;
  } else {                                      /* table, set, object */
    pml_Table *t = (pml_Table *)h;
    arr = t->body;
    c = arr ? (pml_Cell *)pml_tbody_entries(pml_ptr(p, arr), t->cap) : NULL;
    n = arr ? 2 * t->used : 0;                  /* an entry is key, value */
    unit = 2;
  }
  while (n > 0 && g->st == PML_OK) {
    if (n % unit == 0 && batch_full(g)) { cut(g, h, n); continue; }
    pml_Cell *x = &c[--n];
    if (x->tag == PML_CLSTR) g->st = pml_cell_release(p, x);
    else if (x->tag == PML_CREF) dec(g, x->u.off);
  }
  int st = g->st;
  if (st == PML_OK && h->kind == PML_TOBJECT) st = pml_cell_release(p, &((pml_Object *)h)->cls);
  if (st == PML_OK && arr) st = pml_tx_free(p, arr, unit == 1 ? PML_TLITEMS : PML_TTBODY);
  if (st == PML_OK) st = pml_tx_free(p, off, h->kind);
  if (st == PML_OK) st = pml_ref_died(p, off);
  if (st != PML_OK) { g->st = st; return; }
  vec_add(g, &g->freed, off);
  if (g->freed.n >= BATCH || batch_full(g)) flush(g, 1);
}

/* ---- phase 1: zero counts ---- */

static void dec_child(void *ud, uint64_t off) {
  Gc *g = ud;
  if (!child_ok(g, off)) return;
  if (g->st != PML_OK) return;
  g->st = pml_ref_dec(g->p, off);
  if (g->st == PML_OK && rc(g, off) == 0) push(g, off);
}

static void zero_counts(Gc *g) {
  size_t i = 0;
  const pml_MapSlot *s;
  while ((s = pml_ref_next_suspect(g->p, &i)) != NULL)
    if (rc(g, s->key) == 0) push(g, s->key);
  while (g->work.n > 0 && g->st == PML_OK) {
    uint64_t off = g->work.v[--g->work.n];
    if (held(g, off)) continue;                 /* stays a suspect */
    free_container(g, off, dec_child);
  }
}

/* ---- phase 2: trial deletion of cycles ---- */

static void gray_child(void *ud, uint64_t off) {
  Gc *g = ud;
  if (off == g->barrier || !child_ok(g, off)) return;
  int isnew;
  pml_MapSlot *s = pml_map_put(&g->a, off, &isnew);
  if (s == NULL) { g->st = PML_ENOMEM; return; }
  if (isnew) { s->val = rc(g, off); push(g, off); }
  s->val--;
}

static void black_child(void *ud, uint64_t off) {
  Gc *g = ud;
  if (off == g->barrier || !child_ok(g, off)) return;
  int isnew;
  if (pml_map_put(&g->b, off, &isnew) == NULL) g->st = PML_ENOMEM;
  else if (isnew) push(g, off);
}

/* a garbage node's child: only a live one (black, or the barrier) keeps a
   count to drop; a white one may be freed already, and is not followed */
static void dec_black_child(void *ud, uint64_t off) {
  Gc *g = ud;
  if (g->st == PML_OK && (off == g->barrier || pml_map_find(&g->b, off)) &&
      child_ok(g, off))
    g->st = pml_ref_dec(g->p, off);
}

static void cycles(Gc *g) {
  pml_Pool *p = g->p;
  size_t i = 0;
  const pml_MapSlot *s;
  int isnew;
  /* mark gray: trial counts = count minus references from inside */
  while ((s = pml_ref_next_suspect(p, &i)) != NULL) {
    if (rc(g, s->key) == 0) continue;           /* held with no references */
    if (s->key == g->barrier) continue;         /* live; cleared below */
    pml_MapSlot *t = pml_map_put(&g->a, s->key, &isnew);
    if (t == NULL) { g->st = PML_ENOMEM; return; }
    if (isnew) { t->val = rc(g, s->key); push(g, s->key); }
  }
  while (g->work.n > 0 && g->st == PML_OK)
    each_child(g, g->work.v[--g->work.n], gray_child);
  p->gc.walk = g->a.count;
  p->gc.credit = 0;
  if (g->barrier) pml_ref_clear_suspect(p, g->barrier);
  /* scan: what keeps an outside reference, and all it reaches, is live */
  for (i = 0; (s = pml_map_next(&g->a, &i)) != NULL && g->st == PML_OK; )
    if ((s->val > 0 || held(g, s->key)) && pml_map_put(&g->b, s->key, &isnew) && isnew)
      push(g, s->key);
  while (g->work.n > 0 && g->st == PML_OK)
    each_child(g, g->work.v[--g->work.n], black_child);
  /* collect white: garbage cycles */
  for (i = 0; (s = pml_map_next(&g->a, &i)) != NULL && g->st == PML_OK; ) {
    if (pml_map_find(&g->b, s->key)) {
      /* live: no longer suspect -- unless only a Lua value keeps it (and
         what it reaches) alive: then it is a suspect, even if it was not
         one (it was reached from one), and the next collection starts
         from it and reaches the rest again */
      if ((int64_t)s->val > 0 || !held(g, s->key)) pml_ref_clear_suspect(p, s->key);
      else if (pml_ref_keep_suspect(p, s->key) != PML_OK) g->st = PML_ENOMEM;
      continue;
    }
    free_container(g, s->key, dec_black_child);
  }
}

static void gc_done(Gc *g) {
  free(g->work.v);
  free(g->freed.v);
  pml_map_free(&g->a);
  pml_map_free(&g->b);
  g->stats->live = pml_ref_count(g->p);
}

static void gc_init(Gc *g, pml_Pool *p, int use_held, pml_GcStats *out) {
  g->p = p;
  g->use_held = use_held;
  g->barrier = p->root && p->root->root.tag == PML_CREF ? p->root->root.u.off : 0;
  g->work = (Vec){ NULL, 0, 0 };
  g->freed = (Vec){ NULL, 0, 0 };
  pml_map_init(&g->a);
  pml_map_init(&g->b);
  g->stats = out;
  out->live = out->collected = out->damaged = 0;
  g->st = pml_tx_open_bulk(p);
}

#define PACE_MIN 4096

/* cycles_due -- run the trial deletion now? Always, unless automatic and
   not paid for yet (pml_gc_collect) */
static int cycles_due(pml_Pool *p, unsigned flags) {
  if (!(flags & PML_GC_AUTO)) return 1;
  p->gc.credit += pml_ref_nsuspects(p);
  return p->gc.credit >= p->gc.walk / 2;
}

int pml_gc_collect(pml_Pool *p, unsigned flags, pml_GcStats *out) {
  /* no suspect: nothing can have become garbage since the last collection,
     and a transaction of nothing would still write libpmemobj's lane and
     cost the log a frame and a sync (a run that only read would end with
     a write of the pool file at close) */
  if (pml_ref_nsuspects(p) == 0) {
    out->live = pml_ref_count(p);
    out->collected = out->damaged = 0;
    p->gc.pace = 0;
    return PML_OK;
  }
  Gc g;
  gc_init(&g, p, (flags & PML_GC_HELD) != 0, out);
  if (g.st == PML_OK) zero_counts(&g);
  if (g.st == PML_OK && cycles_due(p, flags)) cycles(&g);
  flush(&g, 0);
  gc_done(&g);
  if (g.st != PML_OK) p->gc.failed = 1;         /* half done: the next is full */
  p->gc.pace = 2 * pml_ref_nsuspects(p);
  return g.st;
}

int pml_gc_full_due(const pml_Pool *p) {
  return (p->crashed && !p->gc.recovered) || p->gc.failed;
}

int pml_gc_due(const pml_Pool *p) {
  size_t pace = p->gc.pace > PACE_MIN ? p->gc.pace : PACE_MIN;
  return !pml_tx_active(p) && pml_ref_nsuspects(p) > pace;
}

/* ---- full mark and sweep ---- */

static void mark_child(void *ud, uint64_t off) {
  Gc *g = ud;
  if (!child_ok(g, off)) return;
  int isnew;
  if (pml_map_put(&g->a, off, &isnew) == NULL) g->st = PML_ENOMEM;
  else if (isnew) push(g, off);
}

/* likewise after a full mark: unmarked children are garbage, maybe freed */
static void dec_marked_child(void *ud, uint64_t off) {
  Gc *g = ud;
  if (g->st == PML_OK && pml_map_find(&g->a, off) && child_ok(g, off))
    g->st = pml_ref_dec(g->p, off);
}


typedef struct Sweep {
  Gc *g;
  Vec garbage;            /* unmarked containers */
} Sweep;

/* sweep_block -- a heap walk's visit: an unmarked container is garbage */
static int sweep_block(void *ud, const pml_Block *b) {
  Sweep *sw = ud;
  Gc *g = sw->g;
  if (is_container((unsigned)b->type) && !pml_map_find(&g->a, b->off) &&
      child_ok(g, b->off))                    /* damaged: left alone */
    vec_add(g, &sw->garbage, b->off);
  return g->st != PML_OK;
}

int pml_gc_full(pml_Pool *p, pml_GcStats *out) {
  Gc g;
  gc_init(&g, p, 0, out);
  if (g.st == PML_OK && p->root->root.tag == PML_CREF)
    mark_child(&g, p->root->root.u.off);
  while (g.work.n > 0 && g.st == PML_OK)
    each_child(&g, g.work.v[--g.work.n], mark_child);
  Sweep sw = { &g, { NULL, 0, 0 } };
  if (g.st == PML_OK && pml_heap_walk(&p->heap, sweep_block, &sw) != 0 && g.st == PML_OK)
    g.st = PML_EDAMAGED;
  Vec garbage = sw.garbage;
  for (size_t i = 0; i < garbage.n && g.st == PML_OK; i++) {
    free_container(&g, garbage.v[i], dec_marked_child);
  }
  free(garbage.v);
  if (g.st == PML_OK) g.st = pml_ref_recount(p, g.a.count);
  flush(&g, 0);
  gc_done(&g);
  p->gc.failed = g.st != PML_OK;
  if (g.st == PML_OK) p->gc.recovered = 1;
  return g.st;
}

/* ---- audit ---- */

/* one audit's state: the references counted to each container */
typedef struct Audit {
  pml_Pool *p;
  pml_Map refs;             /* container -> references met */
  uint64_t bad;             /* the first container whose count is wrong */
  int st;
} Audit;

static void count_ref(void *ud, uint64_t off) {
  Audit *a = ud;
  int isnew;
  pml_MapSlot *s = pml_map_put(&a->refs, off, &isnew);
  if (s == NULL) { a->st = PML_ENOMEM; return; }
  if (isnew) s->val = 0;
  s->val++;
}

/* count_block -- a container's references to its children */
static int count_block(void *ud, const pml_Block *b) {
  Audit *a = ud;
  if (!is_container((unsigned)b->type) || !pml_container_ok(a->p, b->off)) return 0;
  pml_Hdr *h = pml_hdr(a->p, b->off);
  if (h->kind == PML_TLIST || h->kind == PML_TTUPLE)
    pml_list_refs(a->p, (pml_List *)h, count_ref, a);
  else
    pml_table_refs(a->p, (pml_Table *)h, count_ref, a);
  return a->st != PML_OK;
}

/* check_block -- does a container's count equal the references met? */
static int check_block(void *ud, const pml_Block *b) {
  Audit *a = ud;
  if (!is_container((unsigned)b->type) || !pml_container_ok(a->p, b->off)) return 0;
  const pml_MapSlot *s = pml_map_find(&a->refs, b->off);
  if (pml_hdr(a->p, b->off)->refcount == (s ? s->val : 0)) return 0;
  a->bad = b->off;
  return 1;
}

int pml_gc_audit(pml_Pool *p, uint64_t *bad) {
  Audit a = { p, { NULL, 0, 0, 0 }, 0, PML_OK };
  pml_map_init(&a.refs);
  if (p->root->root.tag == PML_CREF) count_ref(&a, p->root->root.u.off);
  if (a.st == PML_OK) pml_heap_walk(&p->heap, count_block, &a);
  if (a.st == PML_OK) pml_heap_walk(&p->heap, check_block, &a);
  pml_map_free(&a.refs);
  *bad = a.bad;
  return a.st != PML_OK ? a.st : a.bad != 0 ? PML_EDAMAGED : PML_OK;
}
