/* SPDX-License-Identifier: MIT */
#include "scalar.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util.h"

/*
 * YAML 1.1's implicit types, as the common YAML 1.1 readers resolve them. A plain scalar of one
 * of these forms is not a string to those readers, so the loader refuses it where a string is
 * expected rather than guessing what the user meant. The forms, as regular expressions over the
 * whole text (every one of them is checked by hand below, because the loader asks this of every
 * plain value and most values are names or addresses that no form can match):
 *
 *   null   ~ | null | Null | NULL | (empty)
 *   bool   yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
 *   int    [-+]?0b[01_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
 *          | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+
 *   float  [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9_]+([eE][-+][0-9]+)?
 *          | [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
 *          | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
 */

#define DIGITS       "0123456789"
#define DIGITS_UNDER DIGITS "_"

static bool is_one_of(const char *text, const char *const *words, size_t n_words)
{
	for (size_t i = 0; i < n_words; i++)
		if (strcmp(text, words[i]) == 0)
			return true;
	return false;
}

/* True when all of text is made of the characters of set. */
static bool all_of(const char *text, const char *set)
{
	return text[strspn(text, set)] == '\0';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_null(const char *text)
{
	static const char *const words[] = {"", "~", "null", "Null", "NULL"};

	return is_one_of(text, words, PPN_ARRAY_SIZE(words));
}

static bool is_bool(const char *text)
{
	static const char *const words[] = {
		"yes",   "Yes",   "YES",   "no", "No", "NO", "true", "True", "TRUE",
		"false", "False", "FALSE", "on", "On", "ON", "off",  "Off",  "OFF",
	};

	return is_one_of(text, words, PPN_ARRAY_SIZE(words));
}

/*
 * Skips "(:[0-5]?[0-9])+" and returns what follows, or NULL when no group starts at p. Taking
 * two digits whenever they fit is safe: a group is followed by ':', '.' or the end, never by
 * a digit.
 */
static const char *skip_sexagesimal(const char *p)
{
	const char *start = p;

	while (p[0] == ':') {
		if (p[1] >= '0' && p[1] <= '5' && is_digit(p[2]))
			p += 3;
		else if (is_digit(p[1]))
			p += 2;
		else
			break;
	}
	return p == start ? NULL : p;
}

/* "([eE][-+][0-9]+)?" up to the end of the text. */
static bool is_exponent_or_end(const char *p)
{
	if (p[0] == '\0')
		return true;
	if ((p[0] != 'e' && p[0] != 'E') || (p[1] != '-' && p[1] != '+'))
		return false;
	return is_digit(p[2]) && all_of(p + 2, DIGITS);
}

static const char *skip_sign(const char *text)
{
	return text[0] == '-' || text[0] == '+' ? text + 1 : text;
}

static bool is_int(const char *text)
{
	const char *p = skip_sign(text), *rest;

	if (p[0] == '0') {
		if (p[1] == '\0')
			return true;
		if (p[1] == 'b')
			return p[2] != '\0' && all_of(p + 2, "01_");
		if (p[1] == 'x')
			return p[2] != '\0' && all_of(p + 2, DIGITS "abcdefABCDEF_");
		return all_of(p + 1, "01234567_");
	}
	if (p[0] < '1' || p[0] > '9')
		return false;

	rest = p + 1 + strspn(p + 1, DIGITS_UNDER);
	if (rest[0] == '\0')
		return true;
	rest = skip_sexagesimal(rest);
	return rest && rest[0] == '\0';
}

/* The forms that start with a dot, after an optional sign. */
static bool is_dot_float(const char *p, bool sign)
{
	static const char *const infinities[] = {"inf", "Inf", "INF"};
	static const char *const nans[] = {"nan", "NaN", "NAN"};
	size_t digits;

	if (is_one_of(p + 1, infinities, PPN_ARRAY_SIZE(infinities)))
		return true;
	if (sign)
		return false;
	if (is_one_of(p + 1, nans, PPN_ARRAY_SIZE(nans)))
		return true;
	digits = strspn(p + 1, DIGITS_UNDER);
	return digits > 0 && is_exponent_or_end(p + 1 + digits);
}

static bool is_float(const char *text)
{
	const char *p = skip_sign(text), *rest;

	if (p[0] == '.')
		return is_dot_float(p, p != text);
	if (!is_digit(p[0]))
		return false;

	rest = p + 1 + strspn(p + 1, DIGITS_UNDER);
	if (rest[0] == '.') {
		rest++;
		return is_exponent_or_end(rest + strspn(rest, DIGITS_UNDER));
	}
	rest = skip_sexagesimal(rest);
	return rest && rest[0] == '.' && all_of(rest + 1, DIGITS_UNDER);
}

enum ppn_scalar_type ppn_scalar_resolve(const char *text)
{
	/* Every form but the empty null starts with one of these; no word is longer than 5. */
	bool short_word = strnlen(text, 6) <= 5;

	if (text[0] != '\0' && !strchr("~nNyYtTfFoO+-." DIGITS, text[0]))
		return PPN_SCALAR_STRING;

	if (short_word && is_null(text))
		return PPN_SCALAR_NULL;
	if (short_word && is_bool(text))
		return PPN_SCALAR_BOOL;
	if (is_int(text))
		return PPN_SCALAR_INT;
	if (is_float(text))
		return PPN_SCALAR_FLOAT;
	return PPN_SCALAR_STRING;
}

const char *ppn_scalar_type_name(enum ppn_scalar_type type)
{
	switch (type) {
	case PPN_SCALAR_NULL:
		return "null";
	case PPN_SCALAR_BOOL:
		return "a boolean";
	case PPN_SCALAR_INT:
		return "an integer";
	case PPN_SCALAR_FLOAT:
		return "a number";
	default:
		return "a string";
	}
}

int ppn_scalar_parse_bool(const char *text, bool *out)
{
	if (strcmp(text, "true") == 0)
		*out = true;
	else if (strcmp(text, "false") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

struct unit {
	const char *name;
	uint64_t factor;
};

static const struct unit size_units[] = {
	{"B", 1},
	{"KiB", UINT64_C(1) << 10},
	{"MiB", UINT64_C(1) << 20},
	{"GiB", UINT64_C(1) << 30},
	{"TiB", UINT64_C(1) << 40},
	{"kB", UINT64_C(1000)},
	{"MB", UINT64_C(1000000)},
	{"GB", UINT64_C(1000000000)},
	{"TB", UINT64_C(1000000000000)},
};

static const struct unit duration_units[] = {
	{"ms", 1},
	{"s", 1000},
	{"m", 60 * 1000},
	{"h", 60 * 60 * 1000},
};

/* A plain decimal number directly followed by one of units, scaled by the unit's factor. */
static int parse_with_unit(const char *text, const struct unit *units, size_t n_units,
			   uint64_t *out)
{
	size_t digits = strspn(text, "0123456789");
	_cleanup_free_ char *number = NULL;
	uint64_t value;
	int r;

	if (digits == 0)
		return -EINVAL;
	if (text[digits] == '\0')
		return -EDOM;

	number = ppn_xstrndup(text, digits);
	r = ppn_parse_u64(number, UINT64_MAX, &value);
	if (r < 0)
		return r;

	for (size_t i = 0; i < n_units; i++) {
		if (strcmp(text + digits, units[i].name) != 0)
			continue;
		if (value > UINT64_MAX / units[i].factor)
			return -ERANGE;
		*out = value * units[i].factor;
		return 0;
	}
	return -EINVAL;
}

int ppn_scalar_parse_size(const char *text, uint64_t *out)
{
	return parse_with_unit(text, size_units, PPN_ARRAY_SIZE(size_units), out);
}

int ppn_scalar_parse_duration(const char *text, uint64_t *out_ms)
{
	return parse_with_unit(text, duration_units, PPN_ARRAY_SIZE(duration_units), out_ms);
}

static bool is_label_char(char c, bool upper)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       (upper && c >= 'A' && c <= 'Z');
}

/* One DNS label; upper case allowed only where the caller says so (host names). */
static bool is_label(const char *text, size_t len, bool upper)
{
	if (len == 0 || len > 63)
		return false;
	if (text[0] == '-' || text[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_label_char(text[i], upper))
			return false;
	return true;
}

bool ppn_scalar_is_name(const char *text)
{
	return is_label(text, strlen(text), false);
}

bool ppn_scalar_is_interface(const char *text)
{
	size_t len = strlen(text);
	const char *chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

	if (len == 0 || len > 15 || strcmp(text, ".") == 0 || strcmp(text, "..") == 0)
		return false;
	return strspn(text, chars) == len;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int ppn_scalar_parse_sha256(const char *text, uint8_t out[32])
{
	uint8_t bytes[32];

	if (strlen(text) != 64)
		return -EINVAL;
	for (size_t i = 0; i < 32; i++) {
		int high = hex_digit(text[2 * i]), low = hex_digit(text[2 * i + 1]);

		if (high < 0 || low < 0)
			return -EINVAL;
		bytes[i] = (uint8_t)(high << 4 | low);
	}
	memcpy(out, bytes, sizeof(bytes));
	return 0;
}

static bool has_space_or_control(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return true;
	return false;
}

bool ppn_scalar_is_image_source(const char *text)
{
	if (has_space_or_control(text))
		return false;
	if (text[0] == '/')
		return text[1] != '\0';
	if (strncmp(text, "https://", 8) == 0)
		return text[8] != '\0' && text[8] != '/';
	if (strncmp(text, "http://", 7) == 0)
		return text[7] != '\0' && text[7] != '/';
	return false;
}

/*
 * A DNS name of labels separated by dots. The last label may not be all digits, so that a
 * mistyped IPv4 address ("10.77.0") is not taken for a name.
 */
static bool is_dns_name(const char *text)
{
	size_t len = strlen(text);
	const char *label = text;

	if (len == 0 || len > 253)
		return false;
	for (const char *dot; (dot = strchr(label, '.')); label = dot + 1)
		if (!is_label(label, (size_t)(dot - label), true))
			return false;
	return is_label(label, strlen(label), true) && strspn(label, "0123456789") != strlen(label);
}

static bool is_address(int family, const char *text)
{
	uint8_t bytes[16];

	return inet_pton(family, text, bytes) == 1;
}

/* Splits "host:port" or "[v6]:port"; *port_text points into text. */
static int split_endpoint(const char *text, char **host, const char **port_text)
{
	const char *colon;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		*host = ppn_xstrndup(text + 1, (size_t)(close - text - 1));
		*port_text = close + 2;
		return is_address(AF_INET6, *host) ? 0 : -EINVAL;
	}

	colon = strrchr(text, ':');
	if (!colon)
		return -EINVAL;
	*host = ppn_xstrndup(text, (size_t)(colon - text));
	*port_text = colon + 1;
	return is_address(AF_INET, *host) || is_dns_name(*host) ? 0 : -EINVAL;
}

int ppn_scalar_parse_endpoint(const char *text, char **host, uint16_t *port)
{
	_cleanup_free_ char *name = NULL;
	const char *port_text;
	unsigned value;
	int r;

	r = split_endpoint(text, &name, &port_text);
	if (r < 0)
		return r;

	r = ppn_parse_uint(port_text, 65535, &value);
	if (r == -ERANGE || (r == 0 && value == 0))
		return -ERANGE;
	if (r < 0)
		return -EINVAL;

	*host = PPN_TAKE_PTR(name);
	*port = (uint16_t)value;
	return 0;
}

#define SSH_ED25519_B64_LEN  68 /* base64 of the 51-byte blob, which needs no padding */
#define SSH_ED25519_BLOB_LEN 51

/* The SSH wire form's fixed head: string "ssh-ed25519", then the length of a 32-byte key. */
static const uint8_t ssh_ed25519_head[] = {0,   0,   0,   11,  's', 's', 'h', '-', 'e', 'd',
					   '2', '5', '5', '1', '9', 0,   0,   0,   32};

int ppn_scalar_check_ssh_ed25519(const char *text)
{
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t blob[SSH_ED25519_BLOB_LEN + 3];
	const char *b64 = text + strlen("ssh-ed25519 ");
	size_t len;

	if (strncmp(text, "ssh-ed25519 ", strlen("ssh-ed25519 ")) != 0)
		return -EINVAL;

	/* EVP_DecodeBlock skips blanks and accepts padding: check the token's shape first. */
	len = strspn(b64, alphabet);
	if (len != SSH_ED25519_B64_LEN || (b64[len] != '\0' && b64[len] != ' '))
		return -EINVAL;
	if (EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)len) != SSH_ED25519_BLOB_LEN)
		return -EINVAL;
	if (memcmp(blob, ssh_ed25519_head, sizeof(ssh_ed25519_head)) != 0)
		return -EINVAL;

	/* The comment is free text, but on one line. */
	for (const unsigned char *p = (const unsigned char *)b64 + len; *p; p++)
		if (*p < ' ' || *p == 0x7f)
			return -EINVAL;
	return 0;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Levenshtein distance over two rows. Keys worth suggesting are short; when the lengths differ
 * by more than 16 the difference itself is returned, a lower bound far above any threshold, so
 * that a huge key costs nothing.
 */
size_t ppn_scalar_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	_cleanup_free_ size_t *row = NULL;

	if (la > lb + 16 || lb > la + 16)
		return la > lb ? la - lb : lb - la;

	row = ppn_xcalloc(lb + 1, sizeof(*row));
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diagonal = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
			size_t best = diagonal + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diagonal = up;
		}
	}
	return row[lb];
}

#define QUOTE_MAX 60

char *ppn_scalar_quote(const char *text, size_t len)
{
	char *out = ppn_xmalloc(2 + 4 * QUOTE_MAX + 4 + 1);
	size_t n = 0, shown = len;

	/* Cut on a character boundary: never in the middle of a UTF-8 sequence. */
	if (shown > QUOTE_MAX) {
		shown = QUOTE_MAX;
		while (shown > 0 && ((unsigned char)text[shown] & 0xc0) == 0x80)
			shown--;
	}

	out[n++] = '\'';
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)text[i];
		size_t rest = shown - i;

		/* C1 controls and the Unicode line separators would break the line as well. */
		if (c == 0xc2 && rest >= 2 && (unsigned char)text[i + 1] < 0xa0) {
			n += (size_t)sprintf(out + n, "\\u%04x", (unsigned char)text[i + 1]);
			i++;
		} else if (c == 0xe2 && rest >= 3 && (unsigned char)text[i + 1] == 0x80 &&
			   ((unsigned char)text[i + 2] & 0xfe) == 0xa8) {
			n += (size_t)sprintf(out + n, "\\u%04x",
					     0x2000 | ((unsigned char)text[i + 2] & 0x3f));
			i += 2;
		} else if (c == '\n')
			n += (size_t)sprintf(out + n, "\\n");
		else if (c == '\t')
			n += (size_t)sprintf(out + n, "\\t");
		else if (c < ' ' || c == 0x7f)
			n += (size_t)sprintf(out + n, "\\x%02x", c);
		else
			out[n++] = (char)c;
	}
	if (shown < len)
		n += (size_t)sprintf(out + n, "...");
	out[n++] = '\'';
	out[n] = '\0';
	return out;
}
