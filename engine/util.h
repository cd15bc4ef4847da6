/* SPDX-License-Identifier: MIT */
#ifndef PPN_UTIL_H
#define PPN_UTIL_H

/*
 * Small helpers every module uses. Allocation failures end the program: ppn cannot do anything
 * sensible without memory, and checking every strdup would bury the logic that matters.
 */

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define _cleanup_(f)      __attribute__((cleanup(f)))
#define _cleanup_free_    _cleanup_(ppn_freep)
#define _cleanup_fclose_  _cleanup_(ppn_fclosep)
#define _cleanup_close_   _cleanup_(ppn_closep)
#define _printf_(a, b)    __attribute__((format(printf, a, b)))
#define _unused_          __attribute__((unused))
#define PPN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void ppn_freep(void *pointer);
void ppn_fclosep(FILE **file);
void ppn_closep(int *fd);

/* Hands a cleanup-managed pointer over to the caller: returns it and leaves NULL behind. */
#define PPN_TAKE_PTR(p)                                                                            \
	({                                                                                         \
		__typeof__(p) taken_ = (p);                                                        \
		(p) = NULL;                                                                        \
		taken_;                                                                            \
	})

void *ppn_xmalloc(size_t size);
void *ppn_xcalloc(size_t count, size_t size);
void *ppn_xrealloc(void *pointer, size_t size);
char *ppn_xstrdup(const char *text);
char *ppn_xstrndup(const char *text, size_t len);
char *ppn_xasprintf(const char *fmt, ...) _printf_(1, 2);
char *ppn_xvasprintf(const char *fmt, va_list args) _printf_(1, 0);

/*
 * Makes room for at least `need` elements of `size` bytes in *array, whose capacity is *cap.
 * Grows geometrically so that appending n elements costs O(n).
 */
void ppn_grow(void *array, size_t *cap, size_t need, size_t size);

/*
 * An arena: many small allocations carved out of a few large blocks, all freed at once. For
 * data that lives and dies together, such as the tree of one YAML file, where a malloc and a
 * free per node would cost more than reading the node. Zero-initialize it; nothing else is
 * needed before the first allocation.
 */
struct ppn_arena {
	struct ppn_arena_block *block; /* the newest block; each links to the one before */
	size_t used;                   /* bytes of block handed out */
	size_t size;                   /* bytes block can hand out */
};

/*
 * Returns size bytes, uninitialized and aligned for any type, owned by the arena: valid until
 * ppn_arena_release() and never freed on their own.
 */
void *ppn_arena_alloc(struct ppn_arena *arena, size_t size);

/*
 * As ppn_grow(), for an array allocated in arena: a full array is copied to a place twice its
 * size, and the old place stays unused until the arena is released.
 */
void ppn_arena_grow(struct ppn_arena *arena, void *array, size_t *cap, size_t need, size_t size);

/* Frees every block of arena and leaves it empty, ready for reuse. */
void ppn_arena_release(struct ppn_arena *arena);

/*
 * Parses a plain decimal number: digits only, no sign, no leading zero (except "0" itself),
 * at most max. Returns 0, or -EINVAL for another shape and -ERANGE above max.
 */
int ppn_parse_uint(const char *text, unsigned max, unsigned *out);
int ppn_parse_u64(const char *text, uint64_t max, uint64_t *out);

/* write() until all of data is written, through EINTR and short writes. 0 or -errno. */
int ppn_write_all(int fd, const void *data, size_t size);

/*
 * pthread_create() for a helper thread that takes no signals: they stay with the threads that
 * expect them. True when the thread started.
 */
bool ppn_thread_start(pthread_t *thread, void *(*run)(void *), void *arg);

/* Overwrites memory that held a secret in a way the compiler may not remove. */
void ppn_wipe(void *pointer, size_t size);

#endif
