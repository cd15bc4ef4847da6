/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdalign.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

void ppn_freep(void *pointer)
{
	free(*(void **)pointer);
}

void ppn_fclosep(FILE **file)
{
	if (*file)
		fclose(*file);
}

void ppn_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static void *out_of_memory(void)
{
	fputs("ppn: out of memory\n", stderr);
	abort();
}

void *ppn_xmalloc(size_t size)
{
	void *pointer = malloc(size ? size : 1);

	return pointer ? pointer : out_of_memory();
}

void *ppn_xcalloc(size_t count, size_t size)
{
	void *pointer = calloc(count ? count : 1, size ? size : 1);

	return pointer ? pointer : out_of_memory();
}

void *ppn_xrealloc(void *pointer, size_t size)
{
	pointer = realloc(pointer, size ? size : 1);
	return pointer ? pointer : out_of_memory();
}

char *ppn_xstrdup(const char *text)
{
	char *copy = strdup(text);

	return copy ? copy : out_of_memory();
}

char *ppn_xstrndup(const char *text, size_t len)
{
	char *copy = strndup(text, len);

	return copy ? copy : out_of_memory();
}

char *ppn_xvasprintf(const char *fmt, va_list args)
{
	char *text;

	if (vasprintf(&text, fmt, args) < 0)
		return out_of_memory();
	return text;
}

char *ppn_xasprintf(const char *fmt, ...)
{
	va_list args;
	char *text;

	va_start(args, fmt);
	text = ppn_xvasprintf(fmt, args);
	va_end(args);
	return text;
}

void ppn_grow(void *array, size_t *cap, size_t need, size_t size)
{
	void **slot = array;
	size_t new_cap = *cap ? *cap : 8;

	if (need <= *cap)
		return;
	while (new_cap < need)
		new_cap *= 2;
	*slot = ppn_xrealloc(*slot, new_cap * size);
	*cap = new_cap;
}

/* The first block fits a typical manifest's tree; later ones double, up to a limit. */
#define ARENA_FIRST_BLOCK 4096
#define ARENA_MAX_BLOCK   (1024 * 1024)
#define ARENA_ALIGN       _Alignof(max_align_t)

struct ppn_arena_block {
	struct ppn_arena_block *previous;
	alignas(ARENA_ALIGN) unsigned char data[];
};

static size_t align_up(size_t size)
{
	return (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

/* Starts a new block with room for at least need bytes. */
static void arena_add_block(struct ppn_arena *arena, size_t need)
{
	size_t size = arena->size ? arena->size * 2 : ARENA_FIRST_BLOCK;
	struct ppn_arena_block *block;

	if (size > ARENA_MAX_BLOCK)
		size = ARENA_MAX_BLOCK;
	if (size < need)
		size = need;
	if (size > SIZE_MAX - sizeof(*block))
		out_of_memory();

	block = ppn_xmalloc(sizeof(*block) + size);
	block->previous = arena->block;
	arena->block = block;
	arena->used = 0;
	arena->size = size;
}

void *ppn_arena_alloc(struct ppn_arena *arena, size_t size)
{
	void *pointer;

	size = align_up(size ? size : 1);
	if (!arena->block || arena->size - arena->used < size)
		arena_add_block(arena, size);
	pointer = arena->block->data + arena->used;
	arena->used += size;
	return pointer;
}

void ppn_arena_grow(struct ppn_arena *arena, void *array, size_t *cap, size_t need, size_t size)
{
	void **slot = array;
	size_t new_cap = *cap ? *cap : 8;
	void *grown;

	if (need <= *cap)
		return;
	while (new_cap < need)
		new_cap *= 2;
	if (new_cap > SIZE_MAX / size)
		out_of_memory();

	grown = ppn_arena_alloc(arena, new_cap * size);
	if (*cap)
		memcpy(grown, *slot, *cap * size);
	*slot = grown;
	*cap = new_cap;
}

void ppn_arena_release(struct ppn_arena *arena)
{
	struct ppn_arena_block *block = arena->block;

	while (block) {
		struct ppn_arena_block *previous = block->previous;

		free(block);
		block = previous;
	}
	*arena = (struct ppn_arena){0};
}

int ppn_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
	uint64_t value = 0;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	if (text[0] == '0' && text[1] != '\0')
		return -EINVAL;

	for (const char *p = text; *p; p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (value > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		value = value * 10 + digit;
	}
	if (value > max)
		return -ERANGE;

	*out = value;
	return 0;
}

int ppn_parse_uint(const char *text, unsigned max, unsigned *out)
{
	uint64_t value;
	int r = ppn_parse_u64(text, max, &value);

	if (r < 0)
		return r;
	*out = (unsigned)value;
	return 0;
}

void ppn_wipe(void *pointer, size_t size)
{
	OPENSSL_cleanse(pointer, size);
}

bool ppn_thread_start(pthread_t *thread, void *(*run)(void *), void *arg)
{
	sigset_t all, old;
	bool started;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	started = pthread_create(thread, NULL, run, arg) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return started;
}

int ppn_write_all(int fd, const void *data, size_t size)
{
	const char *next = data;

	while (size > 0) {
		ssize_t n = write(fd, next, size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		next += n;
		size -= (size_t)n;
	}
	return 0;
}
