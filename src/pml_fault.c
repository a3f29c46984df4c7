/*
** pml_fault.c -- a bus error in an open pool's mapping (pml_fault.h).
**
** A pool is a mapped file. If another program truncates or replaces the file
** while the pool is open (a backup restored with cp, say), touching the
** pages past the new end raises SIGBUS. Nothing can be read or written
** there any more, and libpmemobj cannot be told: the handler names the pool
** and what happened on stderr and ends the process (status 1). A fault
** outside every pool goes to the action that was there before.
**
** The table of watched mappings is written only outside the handler, with
** the signal blocked; the handler only reads it and calls async-signal-safe
** functions (write, sigaction, _exit).
*/
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "pml_fault.h"

#define SLOTS 64
#define NAME  240

typedef struct Watch {
  uintptr_t base, size;     /* size 0: a free slot */
  char path[NAME];
} Watch;

static Watch watches[SLOTS];
static struct sigaction previous;
static volatile sig_atomic_t installed;

static void put(const char *s) {
  ssize_t r = write(2, s, strlen(s));
  (void)r;
}

/* on_bus -- the SIGBUS handler */
static void on_bus(int sig, siginfo_t *si, void *ctx) {
  uintptr_t a = (uintptr_t)si->si_addr;
  (void)ctx;
  for (int i = 0; i < SLOTS; i++) {
    Watch *w = &watches[i];
    if (w->size != 0 && a >= w->base && a - w->base < w->size) {
      put("pmlua: ");
      put(w->path);
      put(": the pool's file was truncated or replaced while the pool was open "
          "(bus error reading it); the process cannot go on. Copy, move or restore "
          "a pool only while it is closed.\n");
      _exit(1);
    }
  }
  sigaction(sig, &previous, NULL);            /* not ours: fault again there */
  installed = 0;                              /* the next watch reinstalls */
}

/* block -- block SIGBUS around a change of the table (0) or undo it (1) */
static void block(int undo, sigset_t *old) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGBUS);
  if (undo) sigprocmask(SIG_SETMASK, old, NULL);
  else sigprocmask(SIG_BLOCK, &s, old);
}

void pml_fault_watch(const void *base, uint64_t size, const char *path) {
  sigset_t old;
  if (!installed) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &previous) != 0) return;
    installed = 1;
  }
  block(0, &old);
  for (int i = 0; i < SLOTS; i++) {
    Watch *w = &watches[i];
    if (w->size != 0) continue;
    size_t n = strlen(path);
    if (n >= NAME) {                          /* keep the end: the file name */
      path += n - (NAME - 4);
      memcpy(w->path, "...", 3);
      memcpy(w->path + 3, path, NAME - 3);
    } else {
      memcpy(w->path, path, n + 1);
    }
    w->base = (uintptr_t)base;
    w->size = size;
    break;
  }
  block(1, &old);
}

void pml_fault_unwatch(const void *base) {
  sigset_t old;
  block(0, &old);
  for (int i = 0; i < SLOTS; i++)
    if (watches[i].size != 0 && watches[i].base == (uintptr_t)base) watches[i].size = 0;
  block(1, &old);
}
