/* SPDX-License-Identifier: MIT */
/*
 * wg-apply [-n] [-v] [-b BACKEND] FLEET_DIR NODE STATE_DIR IFNAME
 *
 * One reconcile pass of the WireGuard plugin over real manifests: FLEET_DIR is read with the
 * manifest loader, NODE's interface is compiled by the mesh compiler and renamed IFNAME, and
 * the real plugin module, loaded as the engine loads it, observes, plans and applies. Then a
 * fresh plugin state observes and plans again, which must find nothing left to do.
 *
 * Prints the plan as text, then "apply: N actions, M failed" and "after: N actions" (and that
 * second plan when it is not empty). -n plans only (a dry run); -v logs at debug level;
 * -b forces a backend. Exits 0 when in sync afterwards, 2 after a dry run with changes
 * pending, 1 otherwise. wg-apply.sh drives it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "fileset.h"
#include "log.h"
#include "manifest.h"
#include "mesh.h"
#include "plan.h"
#include "plugin.h"
#include "util.h"
#include "wgconf.h"

struct run {
	const char *fleet_dir;
	const char *node;
	const char *state_dir;
	const char *ifname;
	const char *backend;
	bool dry_run;
	struct ppn_fleet *fleet;
	struct ppn_wg_device *device;
	struct ppn_loaded_plugin *plugin;
};

static int load_desired(struct run *run)
{
	struct ppn_fileset set = {0};
	struct ppn_diags diags = {0};
	int r = ppn_fileset_read_dir(&set, run->fleet_dir, &diags);

	if (r == 0)
		r = ppn_manifest_load(&set, &run->fleet, &diags);
	ppn_diags_print(&diags, stderr);
	ppn_diags_release(&diags);
	ppn_fileset_release(&set);
	if (r == 0)
		r = ppn_mesh_compile(run->fleet, run->node, &run->device);
	if (r < 0)
		return r;

	free(run->device->ifname);
	run->device->ifname = ppn_xstrdup(run->ifname);
	return 0;
}

/* Opens a fresh plugin state, observes and plans into plan, as one engine pass does. */
static int observe_and_plan(struct run *run, struct ppn_plan *plan)
{
	const struct ppn_plugin *table = run->plugin->table;
	struct ppn_plugin_options options = {
		.node = run->node,
		.state_dir = run->state_dir,
		.backend = run->backend,
		.ifname = run->ifname,
		.dry_run = run->dry_run,
	};
	struct ppn_desired desired = {run->fleet, run->device};
	int r;

	table->close(run->plugin->state);
	run->plugin->state = NULL;
	ppn_plan_init(plan);
	plan->node = ppn_xstrdup(run->node);
	plan->ref = ppn_xstrdup(run->fleet_dir);

	r = table->open(&options, &run->plugin->state);
	if (r == 0)
		r = table->observe(run->plugin->state, &desired);
	if (r == 0)
		r = table->plan(run->plugin->state, &desired, plan);
	return r;
}

/* Hands every action to apply, as the engine does, and counts the failed ones. */
static size_t apply(struct run *run, struct ppn_plan *plan)
{
	_cleanup_free_ struct ppn_action **actions =
		ppn_xcalloc(plan->n_actions + 1, sizeof(*actions));
	_cleanup_free_ int *results = ppn_xcalloc(plan->n_actions + 1, sizeof(*results));
	struct ppn_desired desired = {run->fleet, run->device};
	size_t failed = 0;

	for (size_t i = 0; i < plan->n_actions; i++)
		actions[i] = &plan->actions[i];
	run->plugin->table->apply(run->plugin->state, &desired, actions, plan->n_actions, results);
	for (size_t i = 0; i < plan->n_actions; i++)
		failed += results[i] < 0;
	printf("apply: %zu actions, %zu failed\n", plan->n_actions, failed);
	return failed;
}

static int run_pass(struct run *run)
{
	struct ppn_plan plan;
	size_t failed;
	int r = observe_and_plan(run, &plan);

	if (r == 0)
		r = ppn_plan_render_text(&plan, stdout);
	if (r < 0 || run->dry_run) {
		bool pending = r == 0 && !ppn_plan_is_empty(&plan);

		ppn_plan_release(&plan);
		return r < 0 ? 1 : pending ? 2 : 0;
	}
	failed = apply(run, &plan);
	ppn_plan_release(&plan);

	r = observe_and_plan(run, &plan);
	if (r == 0)
		printf("after: %zu actions\n", plan.n_actions);
	if (r == 0 && plan.n_actions > 0)
		r = ppn_plan_render_text(&plan, stdout);
	ppn_plan_release(&plan);
	return r < 0 || failed > 0 || plan.n_actions > 0 ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: wg-apply [-n] [-v] [-b BACKEND] FLEET_DIR NODE STATE_DIR IFNAME\n");
	return 1;
}

int main(int argc, char **argv)
{
	struct run run = {0};
	int option, status;

	while ((option = getopt(argc, argv, "nvb:")) != -1) {
		if (option == 'n')
			run.dry_run = true;
		else if (option == 'v')
			ppn_log_set_level(LOG_DEBUG);
		else if (option == 'b')
			run.backend = optarg;
		else
			return usage();
	}
	if (argc - optind != 4)
		return usage();
	run.fleet_dir = argv[optind];
	run.node = argv[optind + 1];
	run.state_dir = argv[optind + 2];
	run.ifname = argv[optind + 3];

	if (load_desired(&run) < 0 ||
	    ppn_plugin_load_named(ppn_plugin_default_dir(), "wireguard", &run.plugin) < 0)
		status = 1;
	else
		status = run_pass(&run);

	ppn_plugin_unload(run.plugin);
	ppn_wg_device_free(run.device);
	ppn_fleet_free(run.fleet);
	return fflush(stdout) == 0 ? status : 1;
}
