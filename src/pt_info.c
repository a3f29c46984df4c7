/*
** pt_info.c -- pmtool info: what a pool is and holds, as text or JSON.
** It reads the pool as pt_read does, leniently: damaged values are counted
** (and check says where they are), never followed.
*/
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pt_int.h"

#define TOP 10              /* the largest containers shown */

typedef struct Class {
  uint64_t at, len;         /* the name, in the graph's arena */
  uint64_t n;
} Class;

typedef struct Info {
  uint64_t file, used, total, version, state, nobjects, damaged;
  int logged;
  uint64_t types[8], kinds[8];
  Class *classes;
  uint64_t nclasses;
  uint64_t top[TOP], ntop;  /* node ids, largest first */
} Info;

static uint64_t entries(const pt_Node *nd) {
  return nd->kind == PML_TTABLE || nd->kind == PML_TOBJECT ? nd->n / 2 : nd->n;
}

/* add_class -- one object more of the class named by v */
static void add_class(Info *in, const pt_Graph *g, const pt_Val *v) {
  for (uint64_t i = 0; i < in->nclasses; i++)
    if (in->classes[i].len == v->len && memcmp(g->arena + in->classes[i].at, pt_strp(g, v), v->len) == 0) {
      in->classes[i].n++;
      return;
    }
  in->classes = pt_alloc(in->classes, (in->nclasses + 1) * sizeof *in->classes);
  in->classes[in->nclasses++] = (Class){ v->u.at, v->len, 1 };
}

/* add_top -- keep the TOP largest containers, largest first */
static void add_top(Info *in, const pt_Graph *g, uint64_t id) {
  uint64_t n = entries(&g->nodes[id]), i = in->ntop;
  if (i == TOP && entries(&g->nodes[in->top[TOP - 1]]) >= n) return;
  if (i < TOP) in->ntop++;
  else i = TOP - 1;
  while (i > 0 && entries(&g->nodes[in->top[i - 1]]) < n) {
    in->top[i] = in->top[i - 1];
    i--;
  }
  in->top[i] = id;
}

static void tally(Info *in, const pt_Graph *g) {
  for (uint64_t i = 0; i < g->nvals; i++) in->types[g->vals[i].tag]++;
  if (g->root.tag != PT_NIL) in->types[g->root.tag]++;
  for (uint64_t id = 1; id <= g->nnodes; id++) {
    in->kinds[g->nodes[id].kind]++;
    if (g->nodes[id].kind == PML_TOBJECT) add_class(in, g, &g->nodes[id].cls);
    add_top(in, g, id);
  }
}

static void text(const Info *in, const pt_Graph *g, const char *path) {
  printf("pool            %s\n", path);
  printf("file size       %llu bytes\n", (unsigned long long)in->file);
  printf("heap            %llu bytes used, %llu free (of %llu)\n", (unsigned long long)in->used,
         (unsigned long long)(in->total - in->used), (unsigned long long)in->total);
  printf("format version  %llu\n", (unsigned long long)in->version);
  printf("last run        %s\n", in->state == PML_STATE_CLEAN ? "closed the pool cleanly" :
         "did not close the pool (the next open collects what it left)");
  if (in->logged) printf("log             %s-wal holds commits not yet in the pool file\n", path);
  printf("containers      %llu allocated, %llu reachable\n", (unsigned long long)in->nobjects,
         (unsigned long long)g->nnodes);
  printf("values by type ");
  uint64_t bools = in->types[PT_FALSE] + in->types[PT_TRUE];
  printf(" boolean %llu, integer %llu, float %llu, string %llu, reference %llu",
         (unsigned long long)bools, (unsigned long long)in->types[PT_INT],
         (unsigned long long)in->types[PT_FLT], (unsigned long long)in->types[PT_STR],
         (unsigned long long)in->types[PT_REF]);
  if (in->damaged) printf(", damaged %llu (see pmtool check)", (unsigned long long)in->damaged);
  printf("\ncontainers by kind ");
  for (uint32_t k = PML_TTABLE; k <= PML_TSET; k++)
    printf("%s%s %llu", k == PML_TTABLE ? "" : ", ", pt_kind_name(k), (unsigned long long)in->kinds[k]);
  printf("\n");
  if (in->nclasses) {
    printf("objects by class");
    for (uint64_t i = 0; i < in->nclasses; i++) {
      pt_Buf b = { 0 };
      pt_fmt_str(&b, g->arena + in->classes[i].at, in->classes[i].len);
      printf("%s %s %llu", i ? "," : "", pt_buf_str(&b), (unsigned long long)in->classes[i].n);
      pt_buf_free(&b);
    }
    printf("\n");
  }
  if (in->ntop) printf("largest containers\n");
  for (uint64_t i = 0; i < in->ntop; i++) {
    pt_Buf b = { 0 };
    const pt_Node *nd = &g->nodes[in->top[i]];
    pt_path_node(g, in->top[i], &b);
    printf("  %-8s %10llu entries  %s\n", pt_kind_name(nd->kind), (unsigned long long)entries(nd),
           pt_buf_str(&b));
    pt_buf_free(&b);
  }
}

/* json_str -- s as a JSON string (bytes that are not UTF-8 as \u00XX) */
static void json_str(const char *s, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20 || c >= 0x7f) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static void json(const Info *in, const pt_Graph *g, const char *path) {
  printf("{\"pool\": ");
  json_str(path, strlen(path));
  printf(", \"file_size\": %llu, \"used\": %llu, \"free\": %llu, \"heap\": %llu, "
         "\"format_version\": %llu, \"clean\": %s, \"log\": %s, \"containers\": %llu, "
         "\"reachable\": %llu, \"damaged\": %llu,\n",
         (unsigned long long)in->file, (unsigned long long)in->used,
         (unsigned long long)(in->total - in->used), (unsigned long long)in->total,
         (unsigned long long)in->version, in->state == PML_STATE_CLEAN ? "true" : "false",
         in->logged ? "true" : "false", (unsigned long long)in->nobjects,
         (unsigned long long)g->nnodes, (unsigned long long)in->damaged);
  printf(" \"values\": {\"boolean\": %llu, \"integer\": %llu, \"float\": %llu, "
         "\"string\": %llu, \"reference\": %llu},\n",
         (unsigned long long)(in->types[PT_FALSE] + in->types[PT_TRUE]),
         (unsigned long long)in->types[PT_INT], (unsigned long long)in->types[PT_FLT],
         (unsigned long long)in->types[PT_STR], (unsigned long long)in->types[PT_REF]);
  printf(" \"kinds\": {");
  for (uint32_t k = PML_TTABLE; k <= PML_TSET; k++)
    printf("%s\"%s\": %llu", k == PML_TTABLE ? "" : ", ", pt_kind_name(k),
           (unsigned long long)in->kinds[k]);
  printf("},\n \"classes\": {");
  for (uint64_t i = 0; i < in->nclasses; i++) {
    printf("%s", i ? ", " : "");
    json_str(g->arena + in->classes[i].at, in->classes[i].len);
    printf(": %llu", (unsigned long long)in->classes[i].n);
  }
  printf("},\n \"largest\": [");
  for (uint64_t i = 0; i < in->ntop; i++) {
    pt_Buf b = { 0 };
    const pt_Node *nd = &g->nodes[in->top[i]];
    pt_path_node(g, in->top[i], &b);
    printf("%s{\"kind\": \"%s\", \"entries\": %llu, \"path\": ", i ? ", " : "",
           pt_kind_name(nd->kind), (unsigned long long)entries(nd));
    json_str(b.s, b.n);
    printf("}");
    pt_buf_free(&b);
  }
  printf("]}\n");
}

int pt_info(const char *path, int argc, char **argv) {
  int asjson = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) asjson = 1;
    else return pt_err("info: unknown option '%s' (see pmtool info --help)", argv[i]);
  }
  pml_Pool p;
  if (pt_open(&p, path, 'r') != 0) return -1;
  Info in;
  memset(&in, 0, sizeof in);
  struct stat st;
  char wal[4200];
  in.file = stat(path, &st) == 0 ? (uint64_t)st.st_size : p.size;
  in.logged = pml_wal_path(path, wal, sizeof wal) == 0 && access(wal, F_OK) == 0;
  uint64_t end;
  pml_heap_usage(&p.heap, &in.used, &in.total, &end);
  in.version = p.root->version;
  in.state = p.root->state;
  in.nobjects = p.root->nobjects;
  pt_Graph g;
  pt_read(&p, path, &g, 0, &in.damaged);
  pml_pool_close(&p, 0);
  tally(&in, &g);
  (asjson ? json : text)(&in, &g, path);
  free(in.classes);
  pt_graph_free(&g);
  return 0;
}
