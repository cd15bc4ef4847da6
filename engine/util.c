/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <errno.h>
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
