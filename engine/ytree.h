/* SPDX-License-Identifier: MIT */
#ifndef PPN_YTREE_H
#define PPN_YTREE_H

/*
 * A strict YAML reader for manifests: libyaml's events become a small tree of nodes that keep
 * their line and column. Everything the fleet repo format refuses at the YAML level is refused
 * here, with the position of the first problem: more than one document, anchors, aliases,
 * tags, duplicate or non-scalar keys, tabs, invalid UTF-8, NUL and control characters, files
 * over PPN_MANIFEST_MAX_SIZE, and libyaml's own syntax errors. A UTF-8 byte order mark and CRLF
 * line ends are accepted.
 *
 * The tree does not resolve types: a scalar keeps its text and whether it was written plain,
 * and the manifest loader decides what it may be.
 */

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "fileset.h"

enum ppn_ynode_kind {
	PPN_YNODE_SCALAR,
	PPN_YNODE_MAPPING,
	PPN_YNODE_SEQUENCE,
};

struct ppn_yentry {
	struct ppn_ynode *key; /* always a scalar */
	struct ppn_ynode *value;
};

struct ppn_ynode {
	enum ppn_ynode_kind kind;
	unsigned line;   /* 1-based */
	unsigned column; /* 1-based, in characters */

	/* A scalar: its text (NUL-terminated; len also counts a NUL written as "\0"). */
	char *text;
	size_t len;
	bool plain; /* written without quotes or a block indicator: YAML would resolve its type */

	/* A mapping's entries in document order, or a sequence's items. */
	struct ppn_yentry *entries;
	struct ppn_ynode **items;
	size_t count;
	size_t cap;
};

/*
 * Parses one file's bytes. On success returns 0 and the root node in *out, owned by the caller
 * (NULL when the file holds no document at all, such as an empty file or only comments). On
 * any problem returns -EINVAL and adds exactly one diagnostic at path, for the first problem in
 * the file; *out is untouched.
 */
int ppn_ytree_parse(const char *data, size_t size, const char *path, struct ppn_ynode **out,
		    struct ppn_diags *diags);

/*
 * Frees a whole tree, given the root that ppn_ytree_parse() returned (every node of a tree is
 * freed with it, never on its own); NULL is fine.
 */
void ppn_ytree_free(struct ppn_ynode *root);

/*
 * Parsing ahead: a second thread parses the files of a file set while the caller takes their
 * trees one by one, in order. For each file the caller gets exactly what ppn_ytree_parse()
 * would give, the same tree or the same diagnostic, whatever the timing: a file that the
 * helper has not claimed yet when it is asked for is parsed by the caller itself, and only the
 * caller adds diagnostics. The helper stays at most a few dozen files ahead, so that only a
 * few trees wait in memory.
 */
struct ppn_ytree_ahead;

/*
 * Starts parsing the files of set for which wanted() is true (a guess that only saves work:
 * any file can still be taken). set must stay unchanged until ppn_ytree_ahead_free(). Never
 * fails: without a second thread, every file is parsed when it is taken.
 */
struct ppn_ytree_ahead *ppn_ytree_ahead_new(const struct ppn_fileset *set,
					    bool (*wanted)(const struct ppn_file *file));

/*
 * As ppn_ytree_parse() of set->files[index], reporting at path. Each call must ask for a
 * higher index than the one before it.
 */
int ppn_ytree_ahead_take(struct ppn_ytree_ahead *ahead, size_t index, const char *path,
			 struct ppn_ynode **out, struct ppn_diags *diags);

/* Stops the helper and frees what it parsed that was not taken; NULL is fine. */
void ppn_ytree_ahead_free(struct ppn_ytree_ahead *ahead);

/* The entry of a mapping whose key is text; NULL when absent or when node is no mapping. */
const struct ppn_yentry *ppn_ytree_find(const struct ppn_ynode *node, const char *text);

/* "a mapping", "a list" or "a scalar": for messages that describe what was found. */
const char *ppn_ytree_kind_name(const struct ppn_ynode *node);

#endif
