/* SPDX-License-Identifier: MIT */
#include "mfield.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "scalar.h"
#include "util.h"

static void vreport(struct ppn_mfile *file, const struct ppn_ynode *at, const char *fmt,
		    va_list args) _printf_(3, 0);

static void vreport(struct ppn_mfile *file, const struct ppn_ynode *at, const char *fmt,
		    va_list args)
{
	ppn_diags_vadd(file->diags, file->path, at->line, at->column, fmt, args);
	file->problems++;
}

void ppn_mfield_report(struct ppn_mfile *file, const struct ppn_ynode *at, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vreport(file, at, fmt, args);
	va_end(args);
}

static bool is_empty(const struct ppn_ynode *node)
{
	return node->kind == PPN_YNODE_SCALAR && node->plain && node->len == 0;
}

void ppn_mfield_report_value(struct ppn_mfile *file, const struct ppn_yentry *entry,
			     const char *fmt, ...)
{
	const struct ppn_ynode *at = entry->value;
	va_list args;

	if (entry->key && is_empty(entry->value))
		at = entry->key;
	va_start(args, fmt);
	vreport(file, at, fmt, args);
	va_end(args);
}

char *ppn_mfield_describe(const struct ppn_ynode *value)
{
	if (value->kind != PPN_YNODE_SCALAR)
		return ppn_xstrdup(ppn_ytree_kind_name(value));
	if (is_empty(value))
		return ppn_xstrdup("an empty value");
	return ppn_scalar_quote(value->text, value->len);
}

struct ppn_loc ppn_mfield_loc(const struct ppn_mfile *file, const struct ppn_ynode *node)
{
	return (struct ppn_loc){file->path, node->line, node->column};
}

static const struct ppn_mfield *find_field(const struct ppn_mfield *fields, size_t n_fields,
					   const struct ppn_ynode *key)
{
	for (size_t i = 0; i < n_fields; i++)
		if (strlen(fields[i].key) == key->len && strcmp(fields[i].key, key->text) == 0)
			return &fields[i];
	return NULL;
}

/* The known key nearest to an unknown one, if it is near enough to be what was meant. */
static const char *suggest(const struct ppn_mfield *fields, size_t n_fields, const char *key)
{
	const char *best = NULL;
	size_t best_distance = SIZE_MAX;

	for (size_t i = 0; i < n_fields; i++) {
		size_t distance = ppn_scalar_distance(key, fields[i].key);

		if (distance < best_distance) {
			best = fields[i].key;
			best_distance = distance;
		}
	}
	if (best && (best_distance <= 2 || best_distance * 3 <= strlen(best)))
		return best;
	return NULL;
}

static void report_unknown(struct ppn_mfile *file, const struct ppn_ynode *key,
			   const struct ppn_mfield *fields, size_t n_fields)
{
	_cleanup_free_ char *text = ppn_scalar_quote(key->text, key->len);
	_cleanup_free_ char *known = ppn_xstrdup("");
	const char *suggestion = suggest(fields, n_fields, key->text);

	if (strcmp(key->text, "<<") == 0) {
		ppn_mfield_report(file, key,
				  "expected a key, found the merge key '<<' "
				  "(merge keys are not allowed)");
		return;
	}
	if (suggestion) {
		ppn_mfield_report(file, key, "unknown key %s; did you mean '%s'?", text,
				  suggestion);
		return;
	}

	for (size_t i = 0; i < n_fields; i++) {
		char *longer = ppn_xasprintf("%s%s'%s'", known, i ? ", " : "", fields[i].key);

		free(known);
		known = longer;
	}
	ppn_mfield_report(file, key, "unknown key %s; expected one of %s", text, known);
}

void ppn_mfield_read_all(struct ppn_mfile *file, const struct ppn_ynode *mapping,
			 const struct ppn_mfield *fields, size_t n_fields, void *object)
{
	for (size_t i = 0; i < mapping->count; i++) {
		const struct ppn_yentry *entry = &mapping->entries[i];
		const struct ppn_mfield *field = find_field(fields, n_fields, entry->key);

		if (!field)
			report_unknown(file, entry->key, fields, n_fields);
		else if (field->read)
			field->read(file, entry, object);
	}

	for (size_t i = 0; i < n_fields; i++)
		if (fields[i].required && fields[i].read && !ppn_ytree_find(mapping, fields[i].key))
			ppn_mfield_report(file, mapping, "missing required key '%s'",
					  fields[i].key);
}

/* A plain scalar that YAML reads as something else than a string, said for a message. */
static char *typed_plain(const struct ppn_ynode *value, bool hint)
{
	enum ppn_scalar_type type = ppn_scalar_resolve(value->text);
	_cleanup_free_ char *text = NULL;

	if (type == PPN_SCALAR_STRING)
		return NULL;
	if (value->len == 0)
		return ppn_xstrdup("an empty value");

	text = ppn_scalar_quote(value->text, value->len);
	if (type == PPN_SCALAR_NULL)
		return ppn_xasprintf("%s, which YAML reads as null", text);
	return ppn_xasprintf("%s, which YAML reads as %s%s", text, ppn_scalar_type_name(type),
			     hint ? "; quote it to mean the text" : "");
}

bool ppn_mfield_string(struct ppn_mfile *file, const struct ppn_yentry *entry, const char *what,
		       char **out)
{
	const struct ppn_ynode *value = entry->value;
	_cleanup_free_ char *got = NULL;

	if (value->kind != PPN_YNODE_SCALAR)
		got = ppn_mfield_describe(value);
	else if (value->plain)
		got = typed_plain(value, !what);
	if (got) {
		ppn_mfield_report_value(file, entry, "expected %s, got %s",
					what ? what : "a string", got);
		return false;
	}

	if (memchr(value->text, '\0', value->len)) {
		got = ppn_mfield_describe(value);
		ppn_mfield_report_value(file, entry, "expected %s without NUL characters, got %s",
					what ? what : "a string", got);
		return false;
	}

	*out = ppn_xstrdup(value->text);
	return true;
}

bool ppn_mfield_name(struct ppn_mfile *file, const struct ppn_yentry *entry, char **out)
{
	_cleanup_free_ char *text = NULL;

	if (!ppn_mfield_string(file, entry, PPN_MFIELD_NAME_RULE, &text))
		return false;
	if (!ppn_scalar_is_name(text)) {
		_cleanup_free_ char *got = ppn_mfield_describe(entry->value);

		ppn_mfield_report_value(file, entry, "expected %s, got %s", PPN_MFIELD_NAME_RULE,
					got);
		return false;
	}
	*out = PPN_TAKE_PTR(text);
	return true;
}

bool ppn_mfield_bool(struct ppn_mfile *file, const struct ppn_yentry *entry, bool *out)
{
	const struct ppn_ynode *value = entry->value;
	_cleanup_free_ char *got = NULL;

	if (value->kind == PPN_YNODE_SCALAR && value->plain &&
	    ppn_scalar_parse_bool(value->text, out) == 0)
		return true;

	got = ppn_mfield_describe(value);
	if (value->kind != PPN_YNODE_SCALAR)
		ppn_mfield_report_value(file, entry, "expected true or false, got %s", got);
	else if (!value->plain)
		ppn_mfield_report_value(file, entry,
					"expected true or false without quotes, got the string %s",
					got);
	else if (ppn_scalar_resolve(value->text) == PPN_SCALAR_BOOL)
		ppn_mfield_report_value(
			file, entry,
			"expected true or false, got %s (YAML 1.1 booleans are refused)", got);
	else
		ppn_mfield_report_value(file, entry, "expected true or false, got %s", got);
	return false;
}

/* "042": YAML 1.1 reads it as octal, a reader of the decimal rule would not. */
static bool is_zero_padded(const struct ppn_ynode *value)
{
	return value->kind == PPN_YNODE_SCALAR && value->len > 1 && value->text[0] == '0' &&
	       strspn(value->text, "0123456789") == value->len;
}

/* Says why a value is no integer from min to max, in the words that fit its shape. */
static void report_uint(struct ppn_mfile *file, const struct ppn_yentry *entry, uint64_t min,
			uint64_t max, int r)
{
	const struct ppn_ynode *value = entry->value;
	_cleanup_free_ char *got = ppn_mfield_describe(value);
	_cleanup_free_ char *range = ppn_xasprintf("from %" PRIu64 " to %" PRIu64, min, max);

	if (value->kind == PPN_YNODE_SCALAR && !value->plain)
		ppn_mfield_report_value(file, entry,
					"expected an integer %s without quotes, got the string %s",
					range, got);
	else if (r == -EINVAL && is_zero_padded(value))
		ppn_mfield_report_value(file, entry,
					"expected an integer %s without leading zeros, got %s",
					range, got);
	else if (r == -EINVAL && value->kind == PPN_YNODE_SCALAR && !is_empty(value))
		ppn_mfield_report_value(file, entry, "expected a decimal integer %s, got %s", range,
					got);
	else
		ppn_mfield_report_value(file, entry, "expected an integer %s, got %s", range, got);
}

bool ppn_mfield_uint(struct ppn_mfile *file, const struct ppn_yentry *entry, uint64_t min,
		     uint64_t max, uint64_t *out)
{
	const struct ppn_ynode *value = entry->value;
	uint64_t number;
	int r = -EINVAL;

	if (value->kind == PPN_YNODE_SCALAR && value->plain && !is_empty(value))
		r = ppn_parse_u64(value->text, max, &number);
	if (r == 0 && number >= min) {
		*out = number;
		return true;
	}

	report_uint(file, entry, min, max, r);
	return false;
}

/* Reads a value with a unit through parse; the messages differ only in their examples. */
static bool read_with_unit(struct ppn_mfile *file, const struct ppn_yentry *entry,
			   int (*parse)(const char *, uint64_t *), const char *kind,
			   const char *units, const char *examples, uint64_t *out)
{
	const struct ppn_ynode *value = entry->value;
	_cleanup_free_ char *got = NULL;
	int r = -EINVAL;

	if (value->kind == PPN_YNODE_SCALAR && !memchr(value->text, '\0', value->len))
		r = parse(value->text, out);
	if (r == 0)
		return true;

	got = ppn_mfield_describe(value);
	if (r == -EDOM) {
		_cleanup_free_ char *key = ppn_scalar_quote(entry->key->text, entry->key->len);

		ppn_mfield_report_value(file, entry, "%s needs a unit, such as %s", key, examples);
	} else if (r == -ERANGE) {
		ppn_mfield_report_value(file, entry, "expected a smaller %s, got %s", kind, got);
	} else {
		ppn_mfield_report_value(file, entry,
					"expected a %s: a whole number and a unit %s, got %s", kind,
					units, got);
	}
	return false;
}

bool ppn_mfield_size(struct ppn_mfile *file, const struct ppn_yentry *entry, uint64_t min,
		     const char *min_text, uint64_t *out)
{
	uint64_t bytes;

	if (!read_with_unit(file, entry, ppn_scalar_parse_size, "size",
			    "B, KiB, MiB, GiB, TiB, kB, MB, GB or TB", "'512MiB' or '2GiB'",
			    &bytes))
		return false;
	if (bytes < min) {
		_cleanup_free_ char *got = ppn_mfield_describe(entry->value);

		ppn_mfield_report_value(file, entry, "expected a size of at least %s, got %s",
					min_text, got);
		return false;
	}
	*out = bytes;
	return true;
}

bool ppn_mfield_duration(struct ppn_mfile *file, const struct ppn_yentry *entry, uint64_t min_ms,
			 uint64_t max_ms, bool whole_seconds, const char *range_text, uint64_t *out)
{
	uint64_t ms;

	if (!read_with_unit(file, entry, ppn_scalar_parse_duration, "duration", "ms, s, m or h",
			    "'30s' or '5m'", &ms))
		return false;
	if (ms < min_ms || ms > max_ms || (whole_seconds && ms % 1000)) {
		_cleanup_free_ char *got = ppn_mfield_describe(entry->value);

		ppn_mfield_report_value(file, entry, "expected a duration %s, got %s", range_text,
					got);
		return false;
	}
	*out = ms;
	return true;
}

bool ppn_mfield_choice(struct ppn_mfile *file, const struct ppn_yentry *entry,
		       const char *const *choices, size_t n_choices, unsigned *out)
{
	const struct ppn_ynode *value = entry->value;
	_cleanup_free_ char *got = NULL;
	_cleanup_free_ char *known = ppn_xstrdup("");

	for (size_t i = 0; value->kind == PPN_YNODE_SCALAR && i < n_choices; i++) {
		if (strlen(choices[i]) == value->len && strcmp(choices[i], value->text) == 0) {
			*out = (unsigned)i;
			return true;
		}
	}

	for (size_t i = 0; i < n_choices; i++) {
		char *longer = ppn_xasprintf("%s%s'%s'", known,
					     i == 0               ? ""
					     : i + 1 == n_choices ? " or "
								  : ", ",
					     choices[i]);

		free(known);
		known = longer;
	}
	got = ppn_mfield_describe(value);
	ppn_mfield_report_value(file, entry, "expected %s, got %s", known, got);
	return false;
}

bool ppn_mfield_is(struct ppn_mfile *file, const struct ppn_yentry *entry, enum ppn_ynode_kind kind,
		   const char *what)
{
	_cleanup_free_ char *got = NULL;

	if (entry->value->kind == kind)
		return true;
	got = ppn_mfield_describe(entry->value);
	ppn_mfield_report_value(file, entry, "expected %s, got %s", what, got);
	return false;
}
