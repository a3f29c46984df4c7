/*
** pml_cell.c -- value cells (pml_cell.h).
*/
#include <math.h>
#include <string.h>

#include "pml_cell.h"
#include "pml_ref.h"
#include "pml_tx.h"
#include "pml_valid.h"

/*
** set_image -- store v's canonical image as two whole words (x86-64 is
** little-endian: word 0 holds tag, slen and 6 string bytes; word 1 the
** payload). Whole-word stores let the hash read them straight back.
*/
static void set_image(pml_Val *v, int tag, uint64_t w0, uint64_t w1) {
  uint64_t w[2] = { w0 | (uint64_t)(uint8_t)tag, w1 };
  v->tag = tag;
  memcpy(&v->img, w, sizeof w);
}

void pml_val_str(pml_Val *v, const char *s, size_t len) {
  v->s = s;
  v->len = len;
  if (len > PML_SSTR_MAX) { v->tag = PML_CLSTR; return; }
  uint64_t w0 = (uint64_t)len << 8, w1 = 0;
  const unsigned char *b = (const unsigned char *)s;
  for (size_t i = 0; i < len; i++) {                 /* short: in registers */
    if (i < 6) w0 |= (uint64_t)b[i] << (16 + 8 * i);
    else w1 |= (uint64_t)b[i] << (8 * (i - 6));
  }
  set_image(v, PML_CSSTR, w0, w1);
}

void pml_val_int(pml_Val *v, int64_t i) { v->u.i = i; set_image(v, PML_CINT, 0, (uint64_t)i); }
void pml_val_flt(pml_Val *v, double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  v->u.d = d;
  set_image(v, PML_CFLT, 0, b);
}
void pml_val_ref(pml_Val *v, uint64_t off) { v->u.off = off; set_image(v, PML_CREF, 0, off); }
void pml_val_tag(pml_Val *v, int tag) { set_image(v, tag, 0, 0); }

/* mix64 -- finaliser of a 64-bit hash */
static uint64_t mix64(uint64_t h) {
  h ^= h >> 33; h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

/* hash_bytes -- content hash of a long string, 8 bytes a step */
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

/* hash_image -- hash of a canonical cell image */
static uint64_t hash_image(const pml_Cell *c) {
  uint64_t w[2];
  memcpy(w, c, sizeof w);
  return mix64(w[0] * 0x9e3779b97f4a7c15ULL ^ w[1]);
}

uint64_t pml_val_hash(const pml_Val *k) {
  return k->tag == PML_CLSTR ? hash_bytes(k->s, k->len) : hash_image(&k->img);
}

uint64_t pml_cell_hash(pml_Pool *p, const pml_Cell *c) {
  if (c->tag != PML_CLSTR) return hash_image(c);
  pml_Str *s = pml_str(p, c->u.off);
  return s ? hash_bytes(s->data, s->len) : 0;
}

const char *pml_cell_str(pml_Pool *p, const pml_Cell *c, size_t *len) {
  if (c->tag == PML_CSSTR) {
    *len = c->slen <= PML_SSTR_MAX ? c->slen : 0;
    return (const char *)c->s;
  }
  pml_Str *s = pml_str(p, c->u.off);
  *len = s ? s->len : 0;
  return s ? s->data : NULL;
}

int pml_cell_iskey(pml_Pool *p, const pml_Cell *c, const pml_Val *k) {
  if (k->tag != PML_CLSTR) {
    uint64_t a[2], b[2];
    memcpy(a, c, sizeof a);
    memcpy(b, &k->img, sizeof b);
    if (a[0] == b[0] && a[1] == b[1]) return 1;
    return k->tag == PML_CREF && c->tag == PML_CDEADREF && c->u.off == k->u.off;
  }
  if (c->tag != PML_CLSTR) return 0;
  pml_Str *s = pml_str(p, c->u.off);
  return s && s->len == k->len && memcmp(s->data, k->s, k->len) == 0;
}

/* encode -- fill dst (already in the transaction) with v */
static int encode(pml_Pool *p, pml_Cell *dst, const pml_Val *v) {
  pml_Cell c;
  int st = PML_OK;
  switch (v->tag) {
    case PML_CLSTR: {
      memset(&c, 0, sizeof c);
      c.tag = PML_CLSTR;
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
      c = v->img;
      break;
    default:
      c = v->img;
      break;
  }
  *dst = c;
  return st;
}

int pml_cell_release(pml_Pool *p, const pml_Cell *c) {
  if (c->tag == PML_CLSTR)
    return pml_str(p, c->u.off) ? pml_tx_free(p, c->u.off, PML_TSTR) : PML_EDAMAGED;
  if (c->tag == PML_CREF)
    return pml_container_at(p, c->u.off) ? pml_ref_dec(p, c->u.off) : PML_EDAMAGED;
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
