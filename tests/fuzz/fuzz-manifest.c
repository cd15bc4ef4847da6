/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the manifest loader: the input replaces one file of examples/fleet (its first byte
 * picks which), the other files stay valid so that the rules spanning files run too. Besides
 * not crashing, every outcome must keep the loader's promises: a fleet xor diagnostics, and
 * each diagnostic one line with a position inside the file and a message in house style.
 *
 * Built as a libFuzzer target with clang. With PPN_FUZZ_DRIVER, main() mutates the example
 * files itself: `fuzz-manifest [iterations [seed]]`.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileset.h"
#include "manifest.h"
#include "util.h"

static struct ppn_fileset example;

static void load_example(void)
{
	const char *root = getenv("PPN_SOURCE_ROOT");
	_cleanup_free_ char *dir = NULL;
	struct ppn_diags diags = {0};

	if (example.count)
		return;
	dir = ppn_xasprintf("%s/examples/fleet", root ? root : PPN_SOURCE_DIR);
	if (ppn_fileset_read_dir(&example, dir, &diags) < 0 || example.count == 0) {
		fprintf(stderr, "fuzz-manifest: cannot read '%s'\n", dir);
		abort();
	}
	ppn_diags_release(&diags);
}

static void check_diag(const struct ppn_diag *diag)
{
	const char *message = diag->message;
	size_t len = strlen(message);

	/* One line, house style: no capital at the start, no final period. */
	if (strchr(message, '\n') || strchr(diag->path, '\n') || len == 0 ||
	    (message[0] >= 'A' && message[0] <= 'Z') || message[len - 1] == '.') {
		fprintf(stderr, "fuzz-manifest: bad message '%s'\n", message);
		abort();
	}
	if ((diag->line == 0) != (diag->column == 0)) {
		fprintf(stderr, "fuzz-manifest: half a position %u:%u\n", diag->line, diag->column);
		abort();
	}
}

static void load_with(size_t victim, const uint8_t *data, size_t size)
{
	struct ppn_fileset set = {.display_prefix = ppn_xstrdup("")};
	struct ppn_diags diags = {0};
	struct ppn_fleet *fleet = NULL;
	int r;

	for (size_t i = 0; i < example.count; i++) {
		const struct ppn_file *file = &example.files[i];

		if (i == victim)
			ppn_fileset_add(&set, file->path, file->path, data, size);
		else
			ppn_fileset_add(&set, file->path, file->path, file->data, file->size);
	}

	r = ppn_manifest_load(&set, &fleet, &diags);
	if ((r == 0) != (diags.count == 0) || (r == 0) != (fleet != NULL)) {
		fprintf(stderr, "fuzz-manifest: result %d with %zu diagnostics\n", r, diags.count);
		abort();
	}
	for (size_t i = 0; i < diags.count; i++)
		check_diag(&diags.items[i]);

	ppn_fleet_free(fleet);
	ppn_diags_release(&diags);
	ppn_fileset_release(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load_example();
	if (size == 0)
		return 0;
	load_with(data[0] % example.count, data + 1, size - 1);
	return 0;
}

#ifdef PPN_FUZZ_DRIVER

/* Pieces that reach the strict reader's corners more often than random bytes do. */
static const char *const tokens[] = {
	"\t",
	"&a ",
	"*a",
	"!!str ",
	"---\n",
	": ",
	"- ",
	"[",
	"]",
	"{",
	"}",
	"\xff",
	"\xc3",
	"\r\n",
	"\r",
	"yes",
	"no",
	"~",
	"null",
	"0",
	"042",
	"1:30",
	"GiB",
	"ms",
	"\"",
	"'",
	"#",
	"? ",
	"<<: ",
	"|\n  ",
	">\n  ",
	"\\0",
	"\xef\xbb\xbf",
	"\xc2\x85",
	"%TAG ! x\n",
	"10.77.0.",
	"::",
	"name: ",
	"kind: ",
	"\n  ",
	"9999999999999999999999",
};

static size_t pick(size_t n)
{
	return n ? (size_t)rand() % n : 0;
}

/* One random edit of buf (len bytes, room for cap); returns the new length. */
static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
	size_t at = pick(len + 1), n;
	const char *token;

	switch (rand() % 5) {
	case 0: /* flip a byte */
		if (len)
			buf[pick(len)] ^= (uint8_t)(1 << (rand() % 8));
		return len;
	case 1: /* delete a run */
		n = pick(16) + 1;
		if (at + n > len)
			n = len - at;
		memmove(buf + at, buf + at + n, len - at - n);
		return len - n;
	case 2: /* duplicate a run */
		n = pick(64) + 1;
		if (at + n > len)
			n = len - at;
		if (len + n > cap)
			return len;
		memmove(buf + at + n, buf + at, len - at);
		return len + n;
	default: /* insert a token */
		token = tokens[pick(PPN_ARRAY_SIZE(tokens))];
		n = strlen(token);
		if (len + n > cap)
			return len;
		memmove(buf + at + n, buf + at, len - at);
		memcpy(buf + at, token, n);
		return len + n;
	}
}

int main(int argc, char **argv)
{
	unsigned long iterations = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	unsigned seed = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1;
	size_t cap = 1 << 16;
	_cleanup_free_ uint8_t *buf = ppn_xmalloc(cap);

	load_example();
	srand(seed);
	for (unsigned long i = 0; i < iterations; i++) {
		size_t victim = pick(example.count);
		size_t len = example.files[victim].size, edits = pick(8) + 1;

		memcpy(buf, example.files[victim].data, len);
		for (size_t e = 0; e < edits; e++)
			len = mutate(buf, len, cap);
		load_with(victim, buf, len);
	}
	printf("fuzz-manifest: %lu inputs, seed %u, no failure\n", iterations, seed);
	ppn_fileset_release(&example);
	return 0;
}

#endif
