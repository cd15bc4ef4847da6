/* SPDX-License-Identifier: MIT */
#ifndef PPN_FILESET_H
#define PPN_FILESET_H

/*
 * The manifest files of one commit (or of one directory), in memory. The loader reads only
 * from here, so where the bytes came from (a git tree, a directory) is of no concern to it.
 */

#include <stddef.h>

#include "diag.h"

#define PPN_MANIFEST_MAX_SIZE (1024 * 1024)

struct ppn_file {
	char *path;    /* inside the fleet repo, '/'-separated: "peers/gcp-relay.yaml" */
	char *display; /* as errors show it: the path the user gave, joined with path */
	char *data;    /* not NUL-terminated; may hold any bytes */
	size_t size;
};

struct ppn_fileset {
	char *display_prefix;   /* prepended to a path in errors about a file that is missing */
	struct ppn_file *files; /* sorted by path once ppn_fileset_sort() ran */
	size_t count;
	size_t cap;
};

/* Copies path, display and data into a new entry. */
void ppn_fileset_add(struct ppn_fileset *set, const char *path, const char *display,
		     const void *data, size_t size);

/* As ppn_fileset_add(), but the entry takes over data (from malloc) instead of a copy. */
void ppn_fileset_add_owned(struct ppn_fileset *set, const char *path, const char *display,
			   char *data, size_t size);
void ppn_fileset_sort(struct ppn_fileset *set);
void ppn_fileset_release(struct ppn_fileset *set);

/*
 * True for the paths the loader reads: "ppn.yaml" and files directly inside nodes/, peers/,
 * images/, vms/ and placements/. Other files of a fleet repo (a README) are not manifests.
 */
int ppn_fileset_is_manifest_dir(const char *dir);

/*
 * Reads the manifests of a directory tree (ppn.yaml and the five kind directories) into set,
 * with display paths prefixed by root. Files over PPN_MANIFEST_MAX_SIZE are still added, so
 * the loader can refuse them with their path. Returns 0 or -errno, with a diagnostic for each
 * file that could not be read.
 */
int ppn_fileset_read_dir(struct ppn_fileset *set, const char *root, struct ppn_diags *diags);

#endif
