/* SPDX-License-Identifier: MIT */
#ifndef PPN_DIAG_H
#define PPN_DIAG_H

/*
 * Diagnostics about a user's files: each one names a path, a line, a column and what was
 * expected there. They are collected rather than printed, so that one call can report every
 * problem of a commit and the caller decides where they go.
 */

#include <stdio.h>

#include "util.h"

struct ppn_diag {
	char *path;
	unsigned line;   /* 1-based; 0 when the problem concerns the whole file */
	unsigned column; /* 1-based; 0 with line 0 */
	char *message;
};

struct ppn_diags {
	struct ppn_diag *items;
	size_t count;
	size_t cap;
};

void ppn_diags_add(struct ppn_diags *diags, const char *path, unsigned line, unsigned column,
		   const char *fmt, ...) _printf_(5, 6);
void ppn_diags_vadd(struct ppn_diags *diags, const char *path, unsigned line, unsigned column,
		    const char *fmt, va_list args) _printf_(5, 0);

/* Prints "path:line:column: message" per diagnostic ("path: message" without a line). */
void ppn_diags_print(const struct ppn_diags *diags, FILE *out);

/* Orders by path, then line, then column, keeping the order of equal positions. */
void ppn_diags_sort(struct ppn_diags *diags);

void ppn_diags_release(struct ppn_diags *diags);

#endif
