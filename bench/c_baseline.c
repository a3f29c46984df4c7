/*
** c_baseline.c -- what a careful C programmer gets from libpmemobj directly.
**
** Usage: c_baseline POOLDIR [N_TX1 [N_APPEND [N_TX100 [REPS]]]]
**
** Each benchmark creates its own pool in POOLDIR, runs REPS repetitions and
** removes the pool. Output, one line per figure (median of the repetitions):
**
**   name ops wall_seconds cpu_seconds
**
** wall is CLOCK_MONOTONIC, cpu is CLOCK_PROCESS_CPUTIME_ID (user + system of
** the process, the same thing Lua's os.clock measures). bench/run.sh uses the
** wall figure for its ratios (on an ordinary file most of a transaction is spent
** blocked in msync, which CPU time does not see); both are printed so that a
** noisy machine can be judged.
**
**   c_tx1          N_TX1 one-field transactions (add_range 8 bytes, store, commit)
**   c_append       N_APPEND appends to a persistent array of 16-byte cells, one
**                  transaction each, grown by doubling
**   c_append_first the first tenth of those appends
**   c_append_last  the last tenth of those appends
**   c_tx100        N_TX100 transactions of 100 writes each to distinct 16-byte
**                  fields; ops counts writes, so seconds/ops is the per-write cost
*/
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpmemobj.h>

#define LAYOUT "pmlua_c_baseline"
#define POOL_SIZE ((size_t)64 << 20)
#define MAXREPS 64
#define NFIELDS 100
#define FIRST_CAP 16

struct cell {			/* a 16-byte value cell, like a stored Lua value */
	uint64_t tag;
	uint64_t val;
};

struct root {
	uint64_t field;			/* c_tx1 */
	uint64_t len;			/* c_append: length, capacity, array */
	uint64_t cap;
	PMEMoid arr;
	struct cell f[NFIELDS];		/* c_tx100 */
};

struct sample {
	double wall, cpu;
};

static const char *pooldir;

/* now -- read one clock in seconds */
static double now(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void mark(struct sample *s)
{
	s->wall = now(CLOCK_MONOTONIC);
	s->cpu = now(CLOCK_PROCESS_CPUTIME_ID);
}

static struct sample since(const struct sample *a)
{
	struct sample b;
	mark(&b);
	b.wall -= a->wall;
	b.cpu -= a->cpu;
	return b;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* median -- median of n doubles (sorts a copy) */
static double median(const double *v, int n)
{
	double c[MAXREPS];
	memcpy(c, v, sizeof(double) * (size_t)n);
	qsort(c, (size_t)n, sizeof(double), cmpd);
	return n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}

/* report -- print the median wall and cpu times of reps samples */
static void report(const char *name, long ops, const struct sample *s, int reps)
{
	double w[MAXREPS], c[MAXREPS];
	for (int i = 0; i < reps; i++) {
		w[i] = s[i].wall;
		c[i] = s[i].cpu;
	}
	printf("%s %ld %.6f %.6f\n", name, ops, median(w, reps), median(c, reps));
	fflush(stdout);
}

static void die(const char *what)
{
	fprintf(stderr, "c_baseline: %s: %s\n", what, pmemobj_errormsg());
	exit(1);
}

/* pool_create -- create POOLDIR/c_<name>.pool (removing a stale one) */
static PMEMobjpool *pool_create(const char *name, char *path, size_t pathsz)
{
	snprintf(path, pathsz, "%s/c_%s.pool", pooldir, name);
	unlink(path);
	PMEMobjpool *pop = pmemobj_create(path, LAYOUT, POOL_SIZE, 0666);
	if (pop == NULL)
		die(path);
	return pop;
}

static void pool_destroy(PMEMobjpool *pop, const char *path)
{
	pmemobj_close(pop);
	unlink(path);
}

static PMEMoid root_of(PMEMobjpool *pop)
{
	PMEMoid r = pmemobj_root(pop, sizeof(struct root));
	if (OID_IS_NULL(r))
		die("pmemobj_root");
	return r;
}

/*
** tx_fail -- end a failed transaction and exit. Transactions begin with no
** jump buffer, so a failing call has already aborted (stage ONABORT) and
** returned an error; abort here only if it is still in the work stage.
*/
static void tx_fail(const char *what)
{
	if (pmemobj_tx_stage() == TX_STAGE_WORK)
		pmemobj_tx_abort(errno ? errno : EINVAL);
	pmemobj_tx_end();
	die(what);
}

/* tx_finish -- commit the open transaction and end it; 0 on success */
static int tx_finish(void)
{
	if (pmemobj_tx_stage() == TX_STAGE_WORK)
		pmemobj_tx_commit();
	return pmemobj_tx_end();
}

/*
** bench_tx1 -- N one-field transactions: snapshot the 8-byte field, store,
** commit.
*/
static void bench_tx1(long n, int reps)
{
	char path[4096];
	struct sample s[MAXREPS];
	PMEMobjpool *pop = pool_create("tx1", path, sizeof path);
	PMEMoid r = root_of(pop);
	struct root *rp = pmemobj_direct(r);

	for (int k = 0; k < reps; k++) {
		struct sample t0;
		mark(&t0);
		for (long i = 0; i < n; i++) {
			if (pmemobj_tx_begin(pop, NULL, TX_PARAM_NONE) != 0)
				die("tx_begin");
			if (pmemobj_tx_add_range(r, offsetof(struct root, field),
						 sizeof(uint64_t)) != 0)
				tx_fail("tx1 add_range");
			rp->field = (uint64_t)i;
			if (tx_finish() != 0)
				die("tx1 commit");
		}
		s[k] = since(&t0);
	}
	if (rp->field != (uint64_t)(n - 1)) {
		fprintf(stderr, "c_baseline: tx1 check failed\n");
		exit(1);
	}
	report("c_tx1", n, s, reps);
	pool_destroy(pop, path);
}

/*
** append_one -- append one cell to the array in one transaction. Snapshots
** the length (and, when growing, capacity and array too); the new slot is
** beyond the length, so its old contents do not matter: it is only registered
** for flushing at commit (POBJ_XADD_NO_SNAPSHOT). Growth allocates an array of
** twice the capacity inside the transaction (no snapshot needed for fresh
** memory), copies, and frees the old one.
*/
static void append_one(PMEMobjpool *pop, PMEMoid r, struct root *rp, uint64_t v)
{
	if (pmemobj_tx_begin(pop, NULL, TX_PARAM_NONE) != 0)
		die("tx_begin");
	uint64_t len = rp->len;
	if (len == rp->cap) {
		uint64_t ncap = rp->cap ? rp->cap * 2 : FIRST_CAP;
		PMEMoid na = pmemobj_tx_alloc(ncap * sizeof(struct cell), 1);
		if (OID_IS_NULL(na))
			goto fail;
		if (len)
			memcpy(pmemobj_direct(na), pmemobj_direct(rp->arr),
			       len * sizeof(struct cell));
		if (!OID_IS_NULL(rp->arr) && pmemobj_tx_free(rp->arr) != 0)
			goto fail;
		/* len, cap and arr are adjacent: one snapshot */
		if (pmemobj_tx_add_range(r, offsetof(struct root, len),
					 2 * sizeof(uint64_t) + sizeof(PMEMoid)) != 0)
			goto fail;
		rp->cap = ncap;
		rp->arr = na;
	} else if (pmemobj_tx_add_range(r, offsetof(struct root, len),
					sizeof(uint64_t)) != 0) {
		goto fail;
	}
	if (pmemobj_tx_xadd_range(rp->arr, len * sizeof(struct cell),
				  sizeof(struct cell), POBJ_XADD_NO_SNAPSHOT) != 0)
		goto fail;
	struct cell *c = (struct cell *)pmemobj_direct(rp->arr) + len;
	c->tag = 3;
	c->val = v;
	rp->len = len + 1;
	if (tx_finish() != 0)
		die("append commit");
	return;
fail:
	tx_fail("append");
}

/* array_reset -- free the array and zero the length, in one transaction */
static void array_reset(PMEMobjpool *pop, PMEMoid r, struct root *rp)
{
	if (pmemobj_tx_begin(pop, NULL, TX_PARAM_NONE) != 0)
		die("tx_begin");
	if (pmemobj_tx_add_range(r, offsetof(struct root, len),
				 2 * sizeof(uint64_t) + sizeof(PMEMoid)) != 0 ||
	    (!OID_IS_NULL(rp->arr) && pmemobj_tx_free(rp->arr) != 0))
		tx_fail("reset");
	rp->len = rp->cap = 0;
	rp->arr = OID_NULL;
	if (tx_finish() != 0)
		die("reset commit");
}

static void bench_append(long n, int reps)
{
	char path[4096];
	struct sample all[MAXREPS], first[MAXREPS], last[MAXREPS];
	PMEMobjpool *pop = pool_create("append", path, sizeof path);
	PMEMoid r = root_of(pop);
	struct root *rp = pmemobj_direct(r);
	long tenth = n / 10;

	for (int k = 0; k < reps; k++) {
		struct sample t0, t;
		array_reset(pop, r, rp);
		mark(&t0);
		for (long i = 0; i < n; i++) {
			if (i == tenth)
				first[k] = since(&t0);
			if (i == n - tenth)
				mark(&t);
			append_one(pop, r, rp, (uint64_t)i);
		}
		all[k] = since(&t0);
		last[k] = since(&t);
		if (rp->len != (uint64_t)n) {
			fprintf(stderr, "c_baseline: append check failed\n");
			exit(1);
		}
	}
	report("c_append", n, all, reps);
	report("c_append_first", tenth, first, reps);
	report("c_append_last", tenth, last, reps);
	pool_destroy(pop, path);
}

/*
** bench_tx100 -- N transactions, each snapshotting and writing 100 distinct
** 16-byte fields (one add_range per field, as code that does not know in
** advance which fields it will touch must do).
*/
static void bench_tx100(long n, int reps)
{
	char path[4096];
	struct sample s[MAXREPS];
	PMEMobjpool *pop = pool_create("tx100", path, sizeof path);
	PMEMoid r = root_of(pop);
	struct root *rp = pmemobj_direct(r);

	for (int k = 0; k < reps; k++) {
		struct sample t0;
		mark(&t0);
		for (long i = 0; i < n; i++) {
			if (pmemobj_tx_begin(pop, NULL, TX_PARAM_NONE) != 0)
				die("tx_begin");
			for (int j = 0; j < NFIELDS; j++) {
				if (pmemobj_tx_add_range(r, offsetof(struct root, f) +
							 (size_t)j * sizeof(struct cell),
							 sizeof(struct cell)) != 0)
					tx_fail("tx100 add_range");
				rp->f[j].tag = 3;
				rp->f[j].val = (uint64_t)i;
			}
			if (tx_finish() != 0)
				die("tx100 commit");
		}
		s[k] = since(&t0);
	}
	report("c_tx100", n * NFIELDS, s, reps);
	pool_destroy(pop, path);
}

static long arg(int argc, char **argv, int i, long def)
{
	if (argc <= i)
		return def;
	char *end;
	long v = strtol(argv[i], &end, 10);
	if (*end || v <= 0) {
		fprintf(stderr, "c_baseline: bad number '%s'\n", argv[i]);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s POOLDIR [N_TX1 [N_APPEND [N_TX100 [REPS]]]]\n",
			argv[0]);
		return 2;
	}
	pooldir = argv[1];
	long ntx1 = arg(argc, argv, 2, 200000);
	long nappend = arg(argc, argv, 3, 100000);
	long ntx100 = arg(argc, argv, 4, 2000);
	int reps = (int)arg(argc, argv, 5, 5);
	if (reps > MAXREPS)
		reps = MAXREPS;
	if (nappend < 10)
		nappend = 10;

	bench_tx1(ntx1, reps);
	bench_append(nappend, reps);
	bench_tx100(ntx100, reps);
	return 0;
}
