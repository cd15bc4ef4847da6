/* SPDX-License-Identifier: MIT */
#ifndef PPN_SCALAR_H
#define PPN_SCALAR_H

/*
 * The strict scalar types of the manifests, as pure functions of a NUL-terminated text. They
 * know nothing about files or positions: the manifest loader turns their verdicts into
 * diagnostics. Every parser writes its output only on success.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a YAML 1.1 reader would make of a plain (unquoted) scalar. */
enum ppn_scalar_type {
	PPN_SCALAR_STRING,
	PPN_SCALAR_NULL,  /* "", "~", "null" */
	PPN_SCALAR_BOOL,  /* "true", "yes", "On", ... */
	PPN_SCALAR_INT,   /* "12", "012", "0x2a", "1_000", "1:30" */
	PPN_SCALAR_FLOAT, /* "1.5", "1.", ".inf", ".nan" */
};

/* Classifies a plain scalar the way YAML 1.1 resolves its implicit types (no timestamps). */
enum ppn_scalar_type ppn_scalar_resolve(const char *text);

/* A type's name for messages: "a boolean", "an integer", ... */
const char *ppn_scalar_type_name(enum ppn_scalar_type type);

/* Only "true" and "false". Returns 0 or -EINVAL. */
int ppn_scalar_parse_bool(const char *text, bool *out);

/*
 * A size: a plain decimal integer directly followed by B, KiB, MiB, GiB, TiB (powers of 1024)
 * or kB, MB, GB, TB (powers of 1000), in bytes. Returns 0; -EDOM for a bare number (the unit
 * is missing); -ERANGE when the bytes overflow 64 bits; -EINVAL for any other shape.
 */
int ppn_scalar_parse_size(const char *text, uint64_t *out);

/*
 * A duration: a plain decimal integer directly followed by ms, s, m or h, in milliseconds.
 * Returns 0, -EDOM (no unit), -ERANGE (overflow) or -EINVAL, as ppn_scalar_parse_size().
 */
int ppn_scalar_parse_duration(const char *text, uint64_t *out_ms);

/* A DNS label: 1 to 63 of a-z, 0-9 and '-', no '-' at either end. */
bool ppn_scalar_is_name(const char *text);

/* A network interface name: 1 to 15 of A-Za-z0-9_.-, neither "." nor "..". */
bool ppn_scalar_is_interface(const char *text);
#define PPN_INTERFACE_RULE                                                                         \
	"an interface name of 1 to 15 characters of A-Z, a-z, 0-9, '_', '.' and '-'"

/* 64 lowercase hexadecimal digits into 32 bytes. Returns 0 or -EINVAL. */
int ppn_scalar_parse_sha256(const char *text, uint8_t out[32]);

/* An absolute path ("/...") or an http:// or https:// URL, without spaces or controls. */
bool ppn_scalar_is_image_source(const char *text);

/*
 * "host:port" where host is an IPv4 literal, a bracketed IPv6 literal or a DNS name, and port
 * a plain decimal from 1 to 65535. *host receives a new string without brackets (owned by the
 * caller). Returns 0; -ERANGE when only the port is out of range; -EINVAL otherwise.
 */
int ppn_scalar_parse_endpoint(const char *text, char **host, uint16_t *port);

/*
 * An OpenSSH public key line "ssh-ed25519 <base64> [comment]" whose base64 decodes to the SSH
 * wire form of an Ed25519 key: the string "ssh-ed25519" and a 32-byte string. Returns 0 or
 * -EINVAL.
 */
int ppn_scalar_check_ssh_ed25519(const char *text);

/*
 * A user's text for a one-line message: in single quotes, control characters escaped ("\n",
 * "\x01"), cut after 60 bytes with "...". Returns a new string owned by the caller.
 */
char *ppn_scalar_quote(const char *text, size_t len);

/* Edit distance between two keys, ignoring ASCII case: for "did you mean" suggestions. */
size_t ppn_scalar_distance(const char *a, const char *b);

#endif
