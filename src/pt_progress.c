/*
** pt_progress.c -- pmtool's progress bar: on stderr, only when stderr is a
** terminal, and only once an operation has run for a second (so quick ones
** and scripts see nothing). One operation at a time; redrawn at most ten
** times a second.
*/
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "pt_int.h"

#define WIDTH 30

static struct {
  const char *what;
  uint64_t total;
  double start, drawn;
  int shown, tty;
} bar;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void pt_progress_start(const char *what, uint64_t total) {
  bar.what = what;
  bar.total = total;
  bar.start = now();
  bar.drawn = 0;
  bar.shown = 0;
  bar.tty = isatty(2);
}

void pt_progress(uint64_t done) {
  if (!bar.tty) return;
  double t = now();
  if (t - bar.start < 1.0 || t - bar.drawn < 0.1) return;
  bar.drawn = t;
  bar.shown = 1;
  if (bar.total == 0 || done > bar.total) {
    fprintf(stderr, "\r%-10s %llu", bar.what, (unsigned long long)done);
  } else {
    int fill = (int)(WIDTH * done / bar.total);
    fprintf(stderr, "\r%-10s [%.*s%*s] %3d%%", bar.what, fill,
            "##############################", WIDTH - fill, "",
            (int)(100 * done / bar.total));
  }
  fflush(stderr);
}

void pt_progress_end(void) {
  if (bar.shown) fprintf(stderr, "\r%*s\r", WIDTH + 20, "");
  bar.shown = 0;
}
