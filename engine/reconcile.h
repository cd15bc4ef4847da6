/* SPDX-License-Identifier: MIT */
#ifndef PPN_RECONCILE_H
#define PPN_RECONCILE_H

/*
 * One reconcile pass: source, load, desire, observe, plan, and, unless this is a dry run,
 * apply. The pass is level-triggered: it compares the whole desired state with the whole
 * observed state every time, so running it twice changes nothing the second time.
 */

#include <stdbool.h>

#include "plan.h"

struct ppn_reconcile_options {
	const char *repo; /* path, file:// or ssh URL of the fleet repo */
	const char *ref;  /* branch or ref holding the desired state */
	const char *node; /* this node's name in the fleet */
	const char *state_dir;
	const char *ifname;  /* overrides the Network's interface when set */
	const char *backend; /* forces a WireGuard backend when set */
	const char *plugin_dir;
	bool dry_run;
	bool allow_mass_removal; /* the command says that removing most peers or VMs is meant */
};

/*
 * Runs one pass and fills plan (initialised by the caller) with what differs; unless this is
 * a dry run, applies it and records the commit as applied. Problems in the manifests are
 * printed to stderr as path:line:column diagnostics.
 *
 * A commit that is invalid, or removes too much at once, is refused whole: *refused is set,
 * and the pass enforces the last applied commit instead (a dry run only reports). Returns 0
 * when the pass completed (check *refused too), -EIO when some actions failed (each is
 * logged), or another negative errno when the pass could not run.
 */
int ppn_reconcile_pass(const struct ppn_reconcile_options *options, struct ppn_plan *plan,
		       bool *refused);

#endif
