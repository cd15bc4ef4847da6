/* SPDX-License-Identifier: MIT */
/*
 * source-fetch URL CACHE_DIR [REF]: opens the mirror of URL, fetches, resolves REF (main by
 * default) and reads that commit. Prints "commit <id>" and one "file <path> <size>" line per
 * manifest, or "error <errno name>" and exits 1. The integration scripts drive it against
 * real servers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fileset.h"
#include "source.h"

static int fail(int r)
{
	printf("error %s\n", strerrorname_np(-r) ?: "unknown");
	return 1;
}

int main(int argc, char **argv)
{
	char commit[PPN_COMMIT_HEX_LEN + 1];
	struct ppn_fileset set = {0};
	struct ppn_source *source;
	int r;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: source-fetch URL CACHE_DIR [REF]\n");
		return 2;
	}

	r = ppn_source_open(argv[1], argv[2], &source);
	if (r < 0)
		return fail(r);
	r = ppn_source_fetch(source);
	if (r == 0)
		r = ppn_source_resolve(source, argc == 4 ? argv[3] : "main", commit);
	if (r == 0)
		r = ppn_source_read(source, commit, &set);
	ppn_source_free(source);
	if (r < 0)
		return fail(r);

	printf("commit %s\n", commit);
	for (size_t i = 0; i < set.count; i++)
		printf("file %s %zu\n", set.files[i].path, set.files[i].size);
	ppn_fileset_release(&set);
	return 0;
}
