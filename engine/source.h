/* SPDX-License-Identifier: MIT */
#ifndef PPN_SOURCE_H
#define PPN_SOURCE_H

/*
 * The fleet repo as a node sees it: a bare mirror, kept under the state directory, of a
 * remote given as a path, a file:// URL or an ssh URL. Manifests are read straight from the
 * tree of a commit, never from a working tree, so a pass always sees one whole commit.
 */

#include "fileset.h"

#define PPN_COMMIT_HEX_LEN 40

struct ppn_source;

/*
 * Opens the mirror of url under cache_dir, creating it (and cache_dir) when absent. Does not
 * contact the remote. Returns 0 or -errno with the cause logged.
 */
int ppn_source_open(const char *url, const char *cache_dir, struct ppn_source **out);

/* Fetches every branch of the remote into the mirror. Returns 0 or -errno. */
int ppn_source_fetch(struct ppn_source *source);

/* Resolves a branch name ("main") or a full ref to a commit id. -ENOENT when it is absent. */
int ppn_source_resolve(struct ppn_source *source, const char *ref,
		       char commit[PPN_COMMIT_HEX_LEN + 1]);

/*
 * Reads the manifest files of commit's tree (see ppn_fileset_is_manifest_dir) into set, with
 * display paths equal to the paths in the tree.
 */
int ppn_source_read(struct ppn_source *source, const char *commit, struct ppn_fileset *set);

/*
 * Reads one file of commit's tree, such as "ppn.yaml", into *data (malloc'ed, not
 * NUL-terminated) and *size. Returns 0, -ENOENT when the tree has no such regular file, or
 * -errno. Logs nothing: a caller that needs the file reads it with ppn_source_read().
 */
int ppn_source_read_file(struct ppn_source *source, const char *commit, const char *path,
			 char **data, size_t *size);

void ppn_source_free(struct ppn_source *source);

#endif
