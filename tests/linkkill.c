/*
** linkkill.c -- kill -9 right after libpmemobj persists a link to a log
** buffer, for tests (tests/test_crash.lua, TestLogReserve). An LD_PRELOAD
** library, built by the test itself; the pool must be opened with
** PMEM_IS_PMEM_FORCE=1, so that libpmemobj persists through libpmem's
** pmem_persist and pmem_flush (the direct engine) and they reach this.
**
** libpmemobj links a buffer given with pmemobj_tx_log_append_buffer to a
** lane's log by storing its offset, rounded up to 64 bytes, in the `next`
** of the log before it and persisting those 8 bytes alone. So the first
** persist of exactly 8 bytes holding a multiple of 64 in [PMLUA_LK_LO,
** PMLUA_LK_HI) -- a part of pmlua's log reserve, as pool offsets: its
** first half is lent to the redo log, at the commit; its second to the
** undo log, when the transaction starts -- is that link: once it is
** persisted, the process kills itself with SIGKILL, as kill -9 would at
** that instant. Its stores so far are in the file (a shared mapping), as
** after any kill.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t lo, hi;

static uint64_t env(const char *name) {
  const char *s = getenv(name);
  return s != NULL ? strtoull(s, NULL, 0) : 0;
}

__attribute__((constructor)) static void init(void) {
  lo = env("PMLUA_LK_LO");
  hi = env("PMLUA_LK_HI");
}

/* after -- the n bytes at addr were persisted: the link we wait for? */
static void after(const void *addr, size_t n) {
  uint64_t v;
  if (n != sizeof v || hi == 0) return;
  memcpy(&v, addr, sizeof v);
  if (v >= lo && v < hi && v % 64 == 0) raise(SIGKILL);
}

void pmem_persist(const void *addr, size_t n) {
  static void (*real)(const void *, size_t);
  if (real == NULL) real = (void (*)(const void *, size_t))dlsym(RTLD_NEXT, "pmem_persist");
  real(addr, n);
  after(addr, n);
}

void pmem_flush(const void *addr, size_t n) {
  static void (*real)(const void *, size_t);
  if (real == NULL) real = (void (*)(const void *, size_t))dlsym(RTLD_NEXT, "pmem_flush");
  real(addr, n);
  after(addr, n);
}
