/* SPDX-License-Identifier: MIT */
#ifndef PPN_MCHECK_H
#define PPN_MCHECK_H

/*
 * The manifest rules that span files: unique names, public keys, addresses and admins;
 * addresses inside the overlay; references to nodes, images and VMs that exist; a peer for
 * every node; a relay when some peer has no endpoint.
 */

#include "diag.h"
#include "model.h"

/*
 * Checks fleet, whose files each passed their own rules and whose arrays are sorted by name.
 * Adds one diagnostic per problem, naming the other place for a duplicate. Returns the number
 * of problems found.
 */
size_t ppn_mcheck_fleet(const struct ppn_fleet *fleet, struct ppn_diags *diags);

#endif
