/* SPDX-License-Identifier: MIT */
#include "diag.h"

#include <stdlib.h>
#include <string.h>

void ppn_diags_vadd(struct ppn_diags *diags, const char *path, unsigned line, unsigned column,
		    const char *fmt, va_list args)
{
	struct ppn_diag *diag;

	ppn_grow(&diags->items, &diags->cap, diags->count + 1, sizeof(*diags->items));
	diag = &diags->items[diags->count++];
	diag->path = ppn_xstrdup(path);
	diag->line = line;
	diag->column = column;
	diag->message = ppn_xvasprintf(fmt, args);
}

void ppn_diags_add(struct ppn_diags *diags, const char *path, unsigned line, unsigned column,
		   const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	ppn_diags_vadd(diags, path, line, column, fmt, args);
	va_end(args);
}

void ppn_diags_print(const struct ppn_diags *diags, FILE *out)
{
	for (size_t i = 0; i < diags->count; i++) {
		const struct ppn_diag *diag = &diags->items[i];

		if (diag->line)
			fprintf(out, "%s:%u:%u: %s\n", diag->path, diag->line, diag->column,
				diag->message);
		else
			fprintf(out, "%s: %s\n", diag->path, diag->message);
	}
}

static int diag_cmp(const void *a, const void *b)
{
	const struct ppn_diag *x = a, *y = b;
	int cmp = strcmp(x->path, y->path);

	if (cmp)
		return cmp;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return x < y ? -1 : (x > y);
}

void ppn_diags_sort(struct ppn_diags *diags)
{
	/* qsort is not stable; the address tie-break keeps insertion order for equal keys. */
	if (diags->count > 1)
		qsort(diags->items, diags->count, sizeof(*diags->items), diag_cmp);
}

void ppn_diags_release(struct ppn_diags *diags)
{
	for (size_t i = 0; i < diags->count; i++) {
		free(diags->items[i].path);
		free(diags->items[i].message);
	}
	free(diags->items);
	*diags = (struct ppn_diags){0};
}
