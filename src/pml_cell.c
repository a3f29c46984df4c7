/*
** pml_cell.c -- value cells and reference counts (pml_cell.h).
*/
#include <math.h>
#include <string.h>

#include "pml_cell.h"
#include "pml_tx.h"

void pml_val_str(pml_Val *v, const char *s, size_t len) {
  v->tag = len <= PML_SSTR_MAX ? PML_CSSTR : PML_CLSTR;
  v->s = s;
  v->len = len;
}

/* mix64 -- finaliser of a 64-bit hash */
static uint64_t mix64(uint64_t h) {
  h ^= h >> 33; h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

/* hash_bytes -- 8 bytes a step; the same for a string stored short or long */
static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    h ^= h >> 32;
    s += 8; n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, s, n);
  return mix64(h ^ w);
}

uint64_t pml_val_hash(const pml_Val *k) {
  switch (k->tag) {
    case PML_CSSTR: case PML_CLSTR: return hash_bytes(k->s, k->len);
    case PML_CINT: return mix64((uint64_t)k->u.i);
    case PML_CFLT: { uint64_t b; memcpy(&b, &k->u.d, 8); return mix64(b ^ 0x5bd1e995); }
    case PML_CREF: return mix64(k->u.off ^ 0x27d4eb2f165667c5ULL);
    default: return mix64((uint64_t)k->tag * 0x9e3779b97f4a7c15ULL);
  }
}

uint64_t pml_cell_hash(pml_Pool *p, const pml_Cell *c) {
  pml_Val k;
  k.tag = c->tag;
  k.u.off = c->u.off;                       /* copies i / d / off alike */
  if (c->tag == PML_CSSTR || c->tag == PML_CLSTR) k.s = pml_cell_str(p, c, &k.len);
  return pml_val_hash(&k);
}

const char *pml_cell_str(pml_Pool *p, const pml_Cell *c, size_t *len) {
  if (c->tag == PML_CSSTR) {
    *len = c->slen;
    return (const char *)c->s;
  }
  pml_Str *s = pml_ptr(p, c->u.off);
  *len = s->len;
  return s->data;
}

int pml_cell_iskey(pml_Pool *p, const pml_Cell *c, const pml_Val *k) {
  if (c->tag != k->tag) return 0;
  switch (k->tag) {
    case PML_CSSTR:
      return c->slen == k->len && memcmp(c->s, k->s, k->len) == 0;
    case PML_CLSTR: {
      pml_Str *s = pml_ptr(p, c->u.off);
      return s->len == k->len && memcmp(s->data, k->s, k->len) == 0;
    }
    case PML_CINT: return c->u.i == k->u.i;
    case PML_CFLT: return c->u.d == k->u.d;
    case PML_CREF: return c->u.off == k->u.off;
    default: return 1;                       /* booleans: the tag says it */
  }
}

int pml_ref_inc(pml_Pool *p, uint64_t off) {
  pml_Hdr *h = pml_hdr(p, off);
  int st = pml_tx_snap(p, &h->refcount, sizeof h->refcount);
  if (st == PML_OK) h->refcount++;
  return st;
}

int pml_ref_dec(pml_Pool *p, uint64_t off) {
  pml_Hdr *h = pml_hdr(p, off);
  int st = pml_tx_snap(p, &h->refcount, sizeof h->refcount);
  if (st != PML_OK) return st;
  h->refcount--;
  int isnew;
  return pml_map_put(&p->suspects, off, &isnew) ? PML_OK : PML_ENOMEM;
}

/* encode -- fill dst (already in the transaction) with v */
static int encode(pml_Pool *p, pml_Cell *dst, const pml_Val *v) {
  pml_Cell c;
  int st = PML_OK;
  memset(&c, 0, sizeof c);
  c.tag = (uint8_t)v->tag;
  switch (v->tag) {
    case PML_CINT: c.u.i = v->u.i; break;
    case PML_CFLT: c.u.d = v->u.d; break;
    case PML_CSSTR:
      c.slen = (uint8_t)v->len;
      memcpy(c.s, v->s, v->len);
      break;
    case PML_CLSTR: {
      uint64_t off = pml_tx_alloc(p, sizeof(pml_Str) + v->len + 1, PML_TSTR, 0, &st);
      if (st != PML_OK) return st;
      pml_Str *s = pml_ptr(p, off);
      s->len = v->len;
      memcpy(s->data, v->s, v->len);
      s->data[v->len] = '\0';
      c.u.off = off;
      break;
    }
    case PML_CREF:
      st = pml_ref_inc(p, v->u.off);
      c.u.off = v->u.off;
      break;
    default: break;
  }
  *dst = c;
  return st;
}

int pml_cell_release(pml_Pool *p, const pml_Cell *c) {
  if (c->tag == PML_CLSTR) return pml_tx_free(p, c->u.off);
  if (c->tag == PML_CREF) return pml_ref_dec(p, c->u.off);
  return PML_OK;
}

int pml_cell_init(pml_Pool *p, pml_Cell *dst, const pml_Val *v) {
  return encode(p, dst, v);
}

int pml_cell_set(pml_Pool *p, pml_Cell *dst, const pml_Val *v) {
  int st = pml_tx_snap(p, dst, sizeof *dst);
  if (st == PML_OK) st = pml_cell_release(p, dst);
  if (st == PML_OK) st = encode(p, dst, v);
  return st;
}
