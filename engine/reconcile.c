/* SPDX-License-Identifier: MIT */
#include "reconcile.h"

#include <errno.h>
#include <string.h>

#include "diag.h"
#include "fileset.h"
#include "log.h"
#include "manifest.h"
#include "mesh.h"
#include "plugin.h"
#include "source.h"
#include "state.h"

/* The commit a pass works on, read whole from the mirror. */
struct commit_view {
	char id[PPN_COMMIT_HEX_LEN + 1];
	struct ppn_fleet *fleet;
};

/*
 * A fetch that fails is not fatal: the node keeps enforcing what its mirror already holds, so
 * an unreachable git server never tears anything down.
 */
static int fetch_and_resolve(const struct ppn_reconcile_options *options, struct ppn_source *source,
			     char id[PPN_COMMIT_HEX_LEN + 1])
{
	int r = ppn_source_fetch(source);

	if (r < 0)
		ppn_warn("source '%s': fetch failed; using the last fetched state", options->repo);

	r = ppn_source_resolve(source, options->ref, id);
	if (r == -ENOENT)
		ppn_err("source '%s': no ref '%s'", options->repo, options->ref);
	return r;
}

static int load_commit(const struct ppn_reconcile_options *options, struct commit_view *view)
{
	_cleanup_free_ char *cache_dir = ppn_state_cache_dir(options->state_dir);
	struct ppn_source *source = NULL;
	struct ppn_fileset set = {0};
	struct ppn_diags diags = {0};
	int r;

	r = ppn_source_open(options->repo, cache_dir, &source);
	if (r < 0)
		return r;

	r = fetch_and_resolve(options, source, view->id);
	if (r == 0)
		r = ppn_source_read(source, view->id, &set);
	if (r == 0) {
		r = ppn_manifest_load(&set, &view->fleet, &diags);
		if (r < 0) {
			ppn_err("commit %.12s ('%s'): refused, %zu problem%s in the manifests",
				view->id, options->ref, diags.count, diags.count == 1 ? "" : "s");
			ppn_diags_print(&diags, stderr);
		}
	}

	ppn_diags_release(&diags);
	ppn_fileset_release(&set);
	ppn_source_free(source);
	return r;
}

static void note_applied_commit(const struct ppn_reconcile_options *options, struct ppn_plan *plan)
{
	char applied[PPN_COMMIT_HEX_LEN + 1];

	if (ppn_state_read_applied(options->state_dir, applied) == 0)
		ppn_plan_add_note(plan, "last applied commit: %.12s", applied);
	else
		ppn_plan_add_note(plan, "last applied commit: none");
}

/* Asks one plugin for its part of the plan, tagging its actions with its index. */
static int plan_with_plugin(struct ppn_loaded_plugin *plugin, int index,
			    const struct ppn_plugin_options *plugin_options,
			    const struct ppn_desired *desired, struct ppn_plan *plan)
{
	size_t first = plan->n_actions;
	int r;

	r = plugin->table->open(plugin_options, &plugin->state);
	if (r < 0)
		return r;
	r = plugin->table->observe(plugin->state, desired);
	if (r < 0)
		return r;
	r = plugin->table->plan(plugin->state, desired, plan);
	if (r < 0)
		return r;

	for (size_t i = first; i < plan->n_actions; i++)
		plan->actions[i].owner = index;
	return 0;
}

static int plan_network(const struct ppn_reconcile_options *options,
			const struct ppn_desired *desired, struct ppn_plan *plan)
{
	struct ppn_plugin_options plugin_options = {
		.node = options->node,
		.state_dir = options->state_dir,
		.backend = options->backend,
		.ifname = desired->wireguard->ifname,
		.dry_run = options->dry_run,
	};
	const char *dir = options->plugin_dir ? options->plugin_dir : ppn_plugin_default_dir();
	struct ppn_loaded_plugin *wireguard = NULL;
	int r;

	r = ppn_plugin_load_named(dir, "wireguard", &wireguard);
	if (r < 0)
		return r;

	r = plan_with_plugin(wireguard, 0, &plugin_options, desired, plan);
	ppn_plugin_unload(wireguard);
	return r;
}

static int compile_desired(const struct ppn_reconcile_options *options,
			   const struct ppn_fleet *fleet, struct ppn_wg_device **out)
{
	int r = ppn_mesh_compile(fleet, options->node, out);

	if (r == -ENOENT) {
		ppn_err("node '%s': not in the fleet (no peers/%s.yaml)", options->node,
			options->node);
		return r;
	}
	if (r == 0 && options->ifname) {
		free((*out)->ifname);
		(*out)->ifname = ppn_xstrdup(options->ifname);
	}
	return r;
}

int ppn_reconcile_pass(const struct ppn_reconcile_options *options, struct ppn_plan *plan)
{
	struct commit_view view = {0};
	struct ppn_wg_device *wireguard = NULL;
	int r;

	/* Source and load: one whole commit, or nothing. */
	r = ppn_state_prepare(options->state_dir);
	if (r < 0) {
		ppn_err("state '%s': cannot create: %s", options->state_dir, strerror(-r));
		return r;
	}
	r = load_commit(options, &view);
	if (r < 0)
		goto out;

	plan->node = ppn_xstrdup(options->node);
	plan->ref = ppn_xstrdup(options->ref);
	plan->commit = ppn_xstrdup(view.id);
	note_applied_commit(options, plan);

	/* Desire, observe, plan. */
	r = compile_desired(options, view.fleet, &wireguard);
	if (r < 0)
		goto out;
	r = plan_network(options, &(struct ppn_desired){view.fleet, wireguard}, plan);

	/* TODO: apply and record the applied commit; the dry run is the only mode so far. */
out:
	ppn_wg_device_free(wireguard);
	ppn_fleet_free(view.fleet);
	return r;
}
