// Counts heap allocations of a whole process, for the benchmarks' "allocations per event"
// figures: LD_PRELOAD=malloc_count.so PROGRAM prints "malloc_count: N allocations" to stderr at
// exit. Forwards to glibc's allocator; counts malloc, calloc, realloc and posix_memalign calls.
// (A C interposer rather than a Swift package: it must see every allocation in the process.)
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong count;

void *malloc(size_t size) { atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); return __libc_realloc(p, size); }
int posix_memalign(void **p, size_t alignment, size_t size) {
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    *p = __libc_memalign(alignment, size);
    return *p ? 0 : 12;
}

__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "malloc_count: %lu allocations\n", atomic_load(&count));
}
