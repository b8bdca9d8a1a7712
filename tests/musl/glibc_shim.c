/* The few glibc-only symbols that Debian's libstdc++.so.6 and libgcc_s.so.1 (glibc builds) need when
 * they run under musl's dynamic loader, for scripts/musl_bun.mjs: Bun's musl build from npm needs a
 * musl libstdc++, which Debian does not package, so the step runs it with Debian's and this shim
 * (what Alpine's gcompat does at large). Linked as libgcc_s.so.1 with the real one as its dependency,
 * so only musl processes load it. Nothing here is on libipc's path: libipc's musl build needs musl's
 * libc alone; these serve Bun's C++ runtime.
 *
 * Each stand-in is what the symbol means where it matters to a C++ runtime that works without it:
 * random bytes from getrandom, strftime_l itself, thread_local destructors not run at thread exit
 * (they leak: a test process ends soon), "not single-threaded" (the safe answer), no
 * _dl_find_object (the unwinder falls back to dl_iterate_phdr), and an empty CPU model (the generic
 * code paths). */
#define _GNU_SOURCE
#include <locale.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

uint32_t arc4random(void) {
  uint32_t value = 0;
  while (getrandom(&value, sizeof value, 0) != (ssize_t)sizeof value) {
  }
  return value;
}

size_t __strftime_l(char *s, size_t n, const char *format, const struct tm *tm, locale_t locale) {
  return strftime_l(s, n, format, tm, locale);
}

int __cxa_thread_atexit_impl(void (*destructor)(void *), void *object, void *dso) {
  (void)destructor;
  (void)object;
  (void)dso;
  return 0;
}

char __libc_single_threaded = 0;

int _dl_find_object(void *pc, void *result) {
  (void)pc;
  (void)result;
  return -1;
}

struct cpu_model {
  unsigned vendor, type, subtype;
  unsigned features[1];
} __cpu_model;

int __cpu_indicator_init(void) { return 0; }
