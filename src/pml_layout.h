/*
** pml_layout.h -- the on-pool format: every struct that lives in a pool.
**
** See docs/layout.md. All fields are sized; offsets are pool-relative (the
** PMEMoid's off; the pool uuid is implied by the pool that holds the cell).
** Any change to a struct here that older code cannot read must bump
** PML_FORMAT_VERSION.
*/
#ifndef pml_layout_h
#define pml_layout_h

#include <stddef.h>
#include <stdint.h>

#define PML_LAYOUT          "pmlua"       /* libpmemobj layout name */
#define PML_MAGIC           "pmlua\0\0"   /* 8 bytes incl. NUL, in pml_Root */
#define PML_FORMAT_VERSION  2       /* growing pools (pml_Root.grow) */
#define PML_FORMAT_FIXED    1       /* fixed-size pools keep version 1 */

/* pml_Root.state: whether the last run closed the pool */
#define PML_STATE_CLEAN  0
#define PML_STATE_OPEN   1

/*
** Cell tags. A cell is 16 bytes: tag, then either an inline short string
** (length in byte 1, bytes 2..15) or an 8-byte payload at byte 8.
** Encoding is canonical (unused bytes zero), so two cells hold equal keys
** iff their 16 bytes are equal -- except PML_CLSTR, compared by content.
*/
enum {
  PML_CNIL = 0,     /* nil; also a dead table entry's value */
  PML_CFALSE,
  PML_CTRUE,
  PML_CINT,         /* u.i */
  PML_CFLT,         /* u.d */
  PML_CSSTR,        /* short string inline, len <= PML_SSTR_MAX */
  PML_CLSTR,        /* long string: u.off of a pml_Str owned by this cell */
  PML_CREF,         /* container: u.off of a pml_Hdr-headed object */
  PML_CTOMB,        /* table entry key of a removed entry (never matches) */
  PML_CDEADREF      /* key of a dead entry that was a container: the
                       reference is dropped, the offset kept so that next()
                       can continue from the key (matches it as a key) */
};

#define PML_SSTR_MAX 14

typedef struct pml_Cell {
  uint8_t tag;
  uint8_t slen;     /* PML_CSSTR: length */
  uint8_t s[6];     /* PML_CSSTR: first 6 bytes (continues into u) */
  union {
    int64_t i;
    double d;
    uint64_t off;
    uint8_t s8[8];
  } u;
} pml_Cell;

#define pml_cell_sstr(c)  ((char *)(c)->s)   /* 14 contiguous bytes */

/* pmemobj type numbers of the objects pmlua allocates */
enum {
  PML_TSTR = 1,     /* pml_Str */
  PML_TTABLE,       /* pml_Table */
  PML_TLIST,        /* pml_List */
  PML_TOBJECT,      /* pml_Object */
  PML_TTUPLE,       /* pml_List, immutable */
  PML_TSET,         /* pml_Table whose values are all true */
  PML_TTBODY,       /* table body: slots + entries */
  PML_TLITEMS,      /* list items: pml_Cell[cap] */
  PML_TLOG          /* the log reserve (pml_Root.logbuf) */
};

/* a long string; immutable once written, owned by exactly one cell */
typedef struct pml_Str {
  uint64_t len;
  char data[];      /* len bytes + NUL */
} pml_Str;

/*
** Header of every container (table, list, object, tuple, set).
** refcount counts the PML_CREF cells (in the root and in containers)
** that point at this object; a dead key (PML_CDEADREF) does not count.
*/
typedef struct pml_Hdr {
  uint32_t kind;    /* PML_TTABLE, ... */
  uint32_t flags;
  uint64_t refcount;
} pml_Hdr;

/*
** Hash table in insertion order (compact layout). The body holds
** 2*cap slots then cap entries; entries[0..used) in insertion order.
** A slot is 0 (empty) or (hash32 << 32 | entry index + 1).
** A removed key keeps its entry with value nil (so next() can continue
** from it) until the entry is re-set (key becomes PML_CTOMB, the key is
** appended anew) or the body is rebuilt; a container key drops its
** reference at once (PML_CDEADREF).
*/
typedef struct pml_Entry {
  pml_Cell key;
  pml_Cell val;
} pml_Entry;

typedef struct pml_Table {
  pml_Hdr h;
  uint64_t count;   /* live keys */
  uint64_t used;    /* entries in use, live or dead */
  uint64_t cap;     /* entries in the body (power of 2), 0 if no body */
  uint64_t body;    /* offset of the PML_TTBODY object, 0 if none */
} pml_Table;

#define pml_tbody_slots(b)       ((uint64_t *)(b))
#define pml_tbody_entries(b, c)  ((pml_Entry *)((uint64_t *)(b) + 2 * (c)))
#define pml_tbody_size(c)        ((c) * (2 * sizeof(uint64_t) + sizeof(pml_Entry)))

/* an object: attributes in a table, plus its class name */
typedef struct pml_Object {
  pml_Table t;
  pml_Cell cls;     /* PML_CSSTR or PML_CLSTR */
} pml_Object;

/* list and tuple: items[0..len) in a PML_TLITEMS array of cap cells */
typedef struct pml_List {
  pml_Hdr h;
  uint64_t len;
  uint64_t cap;
  uint64_t items;   /* offset, 0 if cap == 0 */
} pml_List;

/* the pool's root object (pmemobj_root) */
typedef struct pml_Root {
  char magic[8];            /* PML_MAGIC */
  uint64_t version;         /* PML_FORMAT_VERSION */
  uint64_t state;           /* PML_STATE_* */
  uint64_t nobjects;        /* containers allocated (live after a GC) */
  pml_Cell root;            /* pool.root */
  uint64_t logbuf;          /* the log reserve: offset of a PML_TLOG object
                               whose two halves extend the redo and undo logs
                               of collections and bulk frees (0 if none) */
  uint64_t seal;            /* the lanes' hash at the last clean close by
                               pmlua (pml_heap_lanes_seal), 0 if none */
  uint64_t grow;            /* version 2: nonzero for a growing pool, whose
                               file at rest may end before its heap does
                               (pml_room.h); version 1: not there (0) */
  uint64_t reserved[5];
} pml_Root;

/*
** The format is little-endian, with these sizes and offsets (x86-64 and
** the other 64-bit little-endian ABIs lay the structs out so): a build
** where they differ would misread every pool, so it does not compile.
*/
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pmlua's pool format is little-endian; this target is not"
#endif
_Static_assert(sizeof(pml_Cell) == 16 && offsetof(pml_Cell, u) == 8, "pml_Cell");
_Static_assert(offsetof(pml_Cell, slen) == 1 && offsetof(pml_Cell, s) == 2, "pml_Cell");
_Static_assert(sizeof(pml_Str) == 8 && offsetof(pml_Str, data) == 8, "pml_Str");
_Static_assert(sizeof(pml_Hdr) == 16 && offsetof(pml_Hdr, refcount) == 8, "pml_Hdr");
_Static_assert(sizeof(pml_Entry) == 32 && offsetof(pml_Entry, val) == 16, "pml_Entry");
_Static_assert(sizeof(pml_Table) == 48 && offsetof(pml_Table, count) == 16 &&
               offsetof(pml_Table, used) == 24 && offsetof(pml_Table, cap) == 32 &&
               offsetof(pml_Table, body) == 40, "pml_Table");
_Static_assert(sizeof(pml_Object) == 64 && offsetof(pml_Object, cls) == 48, "pml_Object");
_Static_assert(sizeof(pml_List) == 40 && offsetof(pml_List, len) == 16 &&
               offsetof(pml_List, cap) == 24 && offsetof(pml_List, items) == 32, "pml_List");
_Static_assert(sizeof(pml_Root) == 112 && offsetof(pml_Root, version) == 8 &&
               offsetof(pml_Root, state) == 16 && offsetof(pml_Root, nobjects) == 24 &&
               offsetof(pml_Root, root) == 32 && offsetof(pml_Root, logbuf) == 48 &&
               offsetof(pml_Root, seal) == 56 && offsetof(pml_Root, grow) == 64,
               "pml_Root");

#endif
