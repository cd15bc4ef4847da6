/* SPDX-License-Identifier: MIT */
#ifndef PPN_MFIELD_H
#define PPN_MFIELD_H

/*
 * Typed reading of a manifest's fields from its YAML tree (ytree.h), for the manifest loader.
 * Every reader checks one value against the strict scalar rules, adds one diagnostic when it
 * breaks them ("expected <what>, got <value>") and writes its output only when it does not.
 */

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "model.h"
#include "ytree.h"

/* One file being read: where its diagnostics go and how many it has had. */
struct ppn_mfile {
	const char *path; /* as errors show it; owned by the fleet being built */
	struct ppn_diags *diags;
	size_t problems;
};

/* Adds a diagnostic at a node's position. */
void ppn_mfield_report(struct ppn_mfile *file, const struct ppn_ynode *at, const char *fmt, ...)
	_printf_(3, 4);

/*
 * Adds a diagnostic about an entry's value: at the value, or at the key when the value is
 * empty (an empty value has no position of its own worth showing).
 */
void ppn_mfield_report_value(struct ppn_mfile *file, const struct ppn_yentry *entry,
			     const char *fmt, ...) _printf_(3, 4);

/* A value as messages show it: "'text'", "an empty value", "a mapping", "a list". Owned. */
char *ppn_mfield_describe(const struct ppn_ynode *value);

/* Where node was written, in file (the path is borrowed from the file). */
struct ppn_loc ppn_mfield_loc(const struct ppn_mfile *file, const struct ppn_ynode *node);

/* One known key of a mapping and what reads its value into the object being filled. */
struct ppn_mfield {
	const char *key;
	bool required;
	/* NULL for a key that is known but read by the caller (apiVersion, kind, name). */
	void (*read)(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object);
};

/*
 * Reads every entry of mapping through fields. An unknown key is reported with the nearest
 * known key as a suggestion, or the list of known keys; a missing required key is reported at
 * the mapping.
 */
void ppn_mfield_read_all(struct ppn_mfile *file, const struct ppn_ynode *mapping,
			 const struct ppn_mfield *fields, size_t n_fields, void *object);

/*
 * A string: any scalar but null, and not a plain scalar that YAML would read as another type.
 * what describes the value expected, for messages ("an IP address such as '10.77.0.2'"); NULL
 * means any string. *out is a new string owned by the caller.
 */
bool ppn_mfield_string(struct ppn_mfile *file, const struct ppn_yentry *entry, const char *what,
		       char **out);

/* A string that is a DNS label (a manifest's name). */
bool ppn_mfield_name(struct ppn_mfile *file, const struct ppn_yentry *entry, char **out);

/* Plain true or false. */
bool ppn_mfield_bool(struct ppn_mfile *file, const struct ppn_yentry *entry, bool *out);

/* A plain decimal integer from min to max. */
bool ppn_mfield_uint(struct ppn_mfile *file, const struct ppn_yentry *entry, uint64_t min,
		     uint64_t max, uint64_t *out);

/* A size with a unit, in bytes, at least min (written min_text in messages). */
bool ppn_mfield_size(struct ppn_mfile *file, const struct ppn_yentry *entry, uint64_t min,
		     const char *min_text, uint64_t *out);

/*
 * A duration with a unit, in milliseconds, from min_ms to max_ms, and a whole number of
 * seconds when whole_seconds; range_text says so in messages ("of at least 1s").
 */
bool ppn_mfield_duration(struct ppn_mfile *file, const struct ppn_yentry *entry, uint64_t min_ms,
			 uint64_t max_ms, bool whole_seconds, const char *range_text,
			 uint64_t *out);

/* One of choices (written plain or quoted); *out is its index. */
bool ppn_mfield_choice(struct ppn_mfile *file, const struct ppn_yentry *entry,
		       const char *const *choices, size_t n_choices, unsigned *out);

/* Checks that the value is a node of kind; what describes it for the message. */
bool ppn_mfield_is(struct ppn_mfile *file, const struct ppn_yentry *entry, enum ppn_ynode_kind kind,
		   const char *what);

/* The message part describing a name, shared with the checks of file names. */
#define PPN_MFIELD_NAME_RULE                                                                       \
	"a name of 1 to 63 characters of a-z, 0-9 and '-' that neither starts nor ends with '-'"

#endif
