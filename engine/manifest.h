/* SPDX-License-Identifier: MIT */
#ifndef PPN_MANIFEST_H
#define PPN_MANIFEST_H

/*
 * Turns a commit's manifest files into a typed, validated fleet. Every rule of the fleet repo
 * format is checked here: YAML strictness (one document, no anchors, aliases, duplicate keys,
 * tabs or invalid UTF-8), strict scalars (booleans, integers, sizes, durations), the fields of
 * each kind, names that match their files, and the rules that span files (unique names, keys
 * and addresses; addresses inside the overlay; references that resolve; a relay when a peer
 * has no endpoint).
 */

#include "diag.h"
#include "fileset.h"
#include "model.h"

/*
 * Loads every file of set. On success returns 0 and the fleet in *out (owned by the caller).
 * If any file breaks any rule, returns -EINVAL, leaves *out untouched and appends one
 * diagnostic per problem found, sorted by path, line and column: a commit is taken whole or
 * not at all.
 */
int ppn_manifest_load(const struct ppn_fileset *set, struct ppn_fleet **out,
		      struct ppn_diags *diags);

/*
 * A guess made before the commit is checked: the interface that the Network manifest in data
 * (the bytes of a ppn.yaml) names, the default when it names none, or NULL when the YAML is
 * unreadable or the name is not a valid interface name. Only for work that merely reads and
 * that the caller makes again when the loaded fleet names another interface. Returns a string
 * the caller frees.
 */
char *ppn_manifest_guess_interface(const char *data, size_t size);

#endif
