/*
** pt_read.c -- a pool's reachable graph into memory (pt_read, pt_int.h).
**
** A breadth-first walk from the root cell: a container gets its id when a
** reference first meets it, and its values are read when its turn comes,
** so ids follow the walk and each node's values are contiguous. Nothing is
** followed before pml_valid has found it sound: a container must be a live
** allocation of its header's kind with a sound body or items
** (pml_container_ok), a long string a live string allocation holding its
** length (pml_str).
*/
#include <stdlib.h>
#include <string.h>

#include "pml_list.h"
#include "pml_table.h"
#include "pml_valid.h"
#include "pt_int.h"

typedef struct Reader {
  pml_Pool *p;
  const char *path;
  pt_Graph *g;
  pml_Map ids;              /* container offset -> node id */
  int strict;
  uint64_t damaged;
  int failed;
} Reader;

/* damage -- a value that is not sound: an error (strict) or PT_BAD */
static void damage(Reader *r, pt_Val *v, uint64_t owner, uint64_t off, const char *what) {
  r->damaged++;
  v->tag = PT_BAD;
  if (!r->strict || r->failed) return;
  pt_Buf b = { 0 };
  if (owner == 0) pt_buf_puts(&b, "root");
  else pt_path_in(r->g, owner, (uint64_t)(v - r->g->vals), &b);
  pt_err("%s: damaged at %s (offset %llu): %s; see pmtool check", r->path,
         pt_buf_str(&b), (unsigned long long)off, what);
  pt_buf_free(&b);
  r->failed = 1;
}

/* ref -- the node of the sound container at off, new ones queued */
static void ref(Reader *r, pt_Val *v, uint64_t owner, uint64_t off) {
  int isnew;
  if (!pml_container_ok(r->p, off)) {
    damage(r, v, owner, off, "a reference to what is not a sound container");
    return;
  }
  pml_MapSlot *s = pml_map_put(&r->ids, off, &isnew);
  if (s == NULL) pt_alloc(NULL, SIZE_MAX);       /* out of memory: dies */
  if (isnew) {
    uint64_t id = pt_graph_node(r->g, pml_hdr(r->p, off)->kind);
    pt_Node *nd = &r->g->nodes[id];
    nd->off = off;
    nd->parent = owner;
    nd->via = owner ? (uint64_t)(v - r->g->vals) : 0;
    s->val = id;
  }
  v->tag = PT_REF;
  v->u.id = s->val;
}

/* cell -- the value of cell c, read into v (a value of node owner) */
static void cell(Reader *r, const pml_Cell *c, pt_Val *v, uint64_t owner) {
  size_t len;
  const char *s;
  uint64_t coff = pml_off(r->p, c);
  switch (c->tag) {
    case PML_CNIL: v->tag = PT_NIL; break;
    case PML_CFALSE: v->tag = PT_FALSE; break;
    case PML_CTRUE: v->tag = PT_TRUE; break;
    case PML_CINT: v->tag = PT_INT; v->u.i = c->u.i; break;
    case PML_CFLT: v->tag = PT_FLT; v->u.d = c->u.d; break;
    case PML_CSSTR:
      if (c->slen > PML_SSTR_MAX) damage(r, v, owner, coff, "a short string longer than 14 bytes");
      else pt_graph_str(r->g, v, pml_cell_sstr(c), c->slen);
      break;
    case PML_CLSTR:
      if ((s = pml_cell_str(r->p, c, &len)) == NULL)
        damage(r, v, owner, c->u.off, "a string that is not a live string allocation");
      else pt_graph_str(r->g, v, s, len);
      break;
    case PML_CREF: ref(r, v, owner, c->u.off); break;
    default: damage(r, v, owner, coff, "a cell of an impossible tag"); break;
  }
}

/* table -- the live entries of the table (set, object) of node id */
static void table(Reader *r, uint64_t id, const pml_Table *t) {
  if (t->body == 0) return;
  const pml_Entry *es = pml_tbody_entries(pml_ptr(r->p, t->body), t->cap);
  int set = r->g->nodes[id].kind == PML_TSET;
  for (uint64_t i = 0; i < t->used && !r->failed; i++) {
    if (es[i].val.tag == PML_CNIL) continue;     /* a removed key */
    pt_Val *k = pt_graph_val(r->g);
    if (es[i].key.tag == PML_CNIL || es[i].key.tag == PML_CTOMB || es[i].key.tag == PML_CDEADREF)
      damage(r, k, id, pml_off(r->p, &es[i].key), "a live entry with a dead key");
    else cell(r, &es[i].key, k, id);
    if (set) {
      if (es[i].val.tag != PML_CTRUE)
        damage(r, k, id, pml_off(r->p, &es[i].val), "a set member whose value is not true");
      continue;
    }
    cell(r, &es[i].val, pt_graph_val(r->g), id);
  }
}

static void list(Reader *r, uint64_t id, const pml_List *l) {
  const pml_Cell *items = l->items ? pml_ptr(r->p, l->items) : NULL;
  for (uint64_t i = 0; i < l->len && !r->failed; i++) {
    pt_Val *v = pt_graph_val(r->g);
    if (items[i].tag == PML_CNIL) damage(r, v, id, pml_off(r->p, &items[i]), "a nil item");
    else cell(r, &items[i], v, id);
  }
}

/* node -- read the values of node id (its container was found sound) */
static void node(Reader *r, uint64_t id) {
  pml_Pool *p = r->p;
  uint64_t off = r->g->nodes[id].off;
  r->g->nodes[id].first = r->g->nvals;
  switch (r->g->nodes[id].kind) {
    case PML_TOBJECT: {
      const pml_Object *o = pml_ptr(p, off);
      size_t len;
      const char *s = pml_cell_str(p, &o->cls, &len);   /* sound: container_ok */
      pt_graph_str(r->g, &r->g->nodes[id].cls, s ? s : "", s ? len : 0);
      table(r, id, &o->t);
      break;
    }
    case PML_TTABLE: case PML_TSET: table(r, id, pml_ptr(p, off)); break;
    default: list(r, id, pml_ptr(p, off)); break;
  }
  r->g->nodes[id].n = r->g->nvals - r->g->nodes[id].first;
}

int pt_read(pml_Pool *p, const char *path, pt_Graph *g, int strict, uint64_t *damaged) {
  Reader r = { p, path, g, { NULL, 0, 0, 0 }, strict, 0, 0 };
  pml_map_init(&r.ids);
  pt_graph_init(g);
  pt_progress_start("reading", p->root->nobjects);
  g->root.tag = PT_NIL;
  /* the root cell: a value of no node (owner 0) */
  pt_Val *rv = pt_graph_val(g);
  cell(&r, &p->root->root, rv, 0);
  g->root = *rv;
  g->nvals = 0;                                 /* not a node's value */
  for (uint64_t id = 1; id <= g->nnodes && !r.failed; id++) {
    node(&r, id);
    if ((id & 1023) == 0) pt_progress(id);
  }
  pt_progress_end();
  pml_map_free(&r.ids);
  if (damaged) *damaged = r.damaged;
  return r.failed ? -1 : 0;
}
