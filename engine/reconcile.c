/* SPDX-License-Identifier: MIT */
#include "reconcile.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "fileset.h"
#include "keys.h"
#include "log.h"
#include "manifest.h"
#include "mesh.h"
#include "plugin.h"
#include "source.h"
#include "state.h"

/* One commit of the fleet repo, loaded whole. */
struct commit_view {
	char id[PPN_COMMIT_HEX_LEN + 1];
	struct ppn_fleet *fleet; /* NULL when the commit is absent or invalid */
};

/*
 * Observing a WireGuard interface takes about as long as loading a large commit and needs
 * nothing of the commit but the interface's name. So the WireGuard plugin observes the
 * interface that --interface or the commit's ppn.yaml names on a thread of its own, while the
 * commit is read and loaded. Observing only reads: when the commit turns out invalid the
 * observation is dropped, what it logged too, and when the fleet that ends up enforced names
 * another interface it is made again.
 */
struct early_observation {
	char *ifname; /* the interface it observes; NULL when there is no early observation */
	pthread_t thread;
	bool running;
	int result;               /* of the plugin's open, or else of its observe */
	struct ppn_log_held held; /* what the observation logged, printed once it is used */
};

/* Everything one pass holds; released by pass_release(). */
struct pass {
	const struct ppn_reconcile_options *options;
	struct ppn_source *source;
	struct commit_view wanted;  /* what the ref points to now */
	struct commit_view applied; /* what this node applied last, if it can be read */
	const struct commit_view *enforced;
	struct ppn_wg_device *wireguard;
	struct ppn_loaded_plugin *plugins[2]; /* WireGuard's first */
	size_t n_plugins;
	int wireguard_error; /* why the WireGuard plugin could not be loaded */
	struct early_observation early;
};

static void finish_early(struct early_observation *early)
{
	if (early->running)
		pthread_join(early->thread, NULL);
	early->running = false;
}

static void pass_release(struct pass *pass)
{
	finish_early(&pass->early);
	free(pass->early.ifname);
	ppn_log_held_release(&pass->early.held);
	for (size_t i = 0; i < pass->n_plugins; i++)
		ppn_plugin_unload(pass->plugins[i]);
	ppn_wg_device_free(pass->wireguard);
	ppn_fleet_free(pass->wanted.fleet);
	ppn_fleet_free(pass->applied.fleet);
	ppn_source_free(pass->source);
}

/*
 * A fetch that fails is not fatal: the node keeps enforcing what its mirror already holds, so
 * an unreachable git server never tears anything down.
 */
static int open_source(struct pass *pass)
{
	const struct ppn_reconcile_options *options = pass->options;
	_cleanup_free_ char *cache_dir = ppn_state_cache_dir(options->state_dir);
	int r;

	r = ppn_source_open(options->repo, cache_dir, &pass->source);
	if (r < 0)
		return r;

	if (ppn_source_fetch(pass->source) < 0)
		ppn_warn("source '%s': fetch failed; using the last fetched state", options->repo);

	r = ppn_source_resolve(pass->source, options->ref, pass->wanted.id);
	if (r == -ENOENT)
		ppn_err("source '%s': no ref '%s'", options->repo, options->ref);
	return r;
}

/* ---- Plugins ---- */

static struct ppn_plugin_options plugin_options(const struct pass *pass, const char *ifname)
{
	const struct ppn_reconcile_options *options = pass->options;

	return (struct ppn_plugin_options){
		.node = options->node,
		.state_dir = options->state_dir,
		.backend = options->backend,
		.ifname = ifname,
		.dry_run = options->dry_run,
	};
}

static const char *plugin_dir(const struct pass *pass)
{
	return pass->options->plugin_dir ? pass->options->plugin_dir : ppn_plugin_default_dir();
}

/* Loads the WireGuard plugin once: a second call returns the first one's result. */
static int load_wireguard(struct pass *pass)
{
	if (pass->n_plugins > 0 || pass->wireguard_error < 0)
		return pass->wireguard_error;

	pass->wireguard_error =
		ppn_plugin_load_named(plugin_dir(pass), "wireguard", &pass->plugins[0]);
	if (pass->wireguard_error == 0)
		pass->n_plugins = 1;
	return pass->wireguard_error;
}

static void *observe_thread(void *opaque)
{
	struct pass *pass = opaque;
	struct ppn_loaded_plugin *plugin = pass->plugins[0];
	const struct ppn_desired nothing_yet = {0};

	ppn_log_hold_begin(&pass->early.held);
	pass->early.result = plugin->table->observe(plugin->state, &nothing_yet);
	ppn_log_hold_end();
	return NULL;
}

/* The interface the commit about to be loaded most likely names, or NULL. */
static char *guess_interface(struct pass *pass)
{
	_cleanup_free_ char *data = NULL;
	size_t size;

	if (pass->options->ifname)
		return ppn_xstrdup(pass->options->ifname);
	if (ppn_source_read_file(pass->source, pass->wanted.id, "ppn.yaml", &data, &size) < 0)
		return NULL;
	return ppn_manifest_guess_interface(data, size);
}

/* Best effort: without a guess or a plugin, the usual observation does the work later. */
static void observe_early(struct pass *pass)
{
	struct early_observation *early = &pass->early;
	struct ppn_plugin_options options;
	struct ppn_loaded_plugin *plugin;

	early->ifname = guess_interface(pass);
	if (!early->ifname || load_wireguard(pass) < 0) {
		free(PPN_TAKE_PTR(early->ifname));
		return;
	}

	plugin = pass->plugins[0];
	options = plugin_options(pass, early->ifname);
	early->result = plugin->table->open(&options, &plugin->state);
	if (early->result < 0)
		return;
	early->running = ppn_thread_start(&early->thread, observe_thread, pass);
	if (!early->running)
		observe_thread(pass);
}

/*
 * Waits for the early observation. True when it was of ifname, with its result in *result;
 * false when there was none, or it looked at another interface and was dropped.
 */
static bool take_early(struct pass *pass, const char *ifname, int *result)
{
	struct early_observation *early = &pass->early;
	struct ppn_loaded_plugin *plugin = pass->plugins[0];

	if (!early->ifname)
		return false;
	finish_early(early);
	if (strcmp(early->ifname, ifname) == 0) {
		ppn_log_held_print(&early->held);
		*result = early->result;
		return true;
	}

	ppn_debug("wireguard/interface '%s': observed early, but commit %.12s names '%s'",
		  early->ifname, pass->enforced->id, ifname);
	ppn_log_held_release(&early->held);
	plugin->table->close(plugin->state);
	plugin->state = NULL;
	free(PPN_TAKE_PTR(early->ifname));
	return false;
}

/* Loads a commit; with report set, its problems are printed as path:line:column lines. */
static int load_commit(struct pass *pass, struct commit_view *view, bool report)
{
	struct ppn_fileset set = {0};
	struct ppn_diags diags = {0};
	int r;

	r = ppn_source_read(pass->source, view->id, &set);
	if (r == 0)
		r = ppn_manifest_load(&set, &view->fleet, &diags);
	if (r < 0 && report && diags.count > 0) {
		ppn_err("commit %.12s ('%s'): refused, %zu problem%s in the manifests", view->id,
			pass->options->ref, diags.count, diags.count == 1 ? "" : "s");
		ppn_diags_print(&diags, stderr);
	}

	ppn_diags_release(&diags);
	ppn_fileset_release(&set);
	return r;
}

/* The last applied commit is optional: a first pass has none, and a moved repo may lack it. */
static void load_applied(struct pass *pass)
{
	if (ppn_state_read_applied(pass->options->state_dir, pass->applied.id) < 0)
		return;
	if (strcmp(pass->applied.id, pass->wanted.id) == 0)
		return;
	if (load_commit(pass, &pass->applied, false) < 0)
		ppn_warn("commit %.12s: last applied, but no longer readable from '%s'",
			 pass->applied.id, pass->options->repo);
}

static size_t count_removed(const struct ppn_fleet *before, const struct ppn_fleet *after,
			    bool peers)
{
	size_t removed = 0;

	if (peers) {
		for (size_t i = 0; i < before->n_peers; i++)
			removed += !ppn_fleet_peer(after, before->peers[i].name);
	} else {
		for (size_t i = 0; i < before->n_vms; i++)
			removed += !ppn_fleet_vm(after, before->vms[i].name);
	}
	return removed;
}

/*
 * A commit that removes more than half of the peers or VMs at once is more often a mistake (a
 * bad merge, a wrong directory) than a wish; it must say that it is meant.
 */
static int check_mass_removal(struct pass *pass)
{
	const struct ppn_fleet *before = pass->applied.fleet, *after = pass->wanted.fleet;
	static const char *const what[] = {"VMs", "peers"};

	if (!before || pass->options->allow_mass_removal || after->network.allow_mass_removal)
		return 0;

	for (int peers = 1; peers >= 0; peers--) {
		size_t total = peers ? before->n_peers : before->n_vms;
		size_t removed = count_removed(before, after, peers);

		if (removed * 2 <= total)
			continue;
		ppn_err("commit %.12s ('%s'): refused, it removes %zu of %zu %s at once; if "
			"that is meant, set 'allowMassRemoval: true' in ppn.yaml for that commit "
			"or pass --allow-mass-removal",
			pass->wanted.id, pass->options->ref, removed, total, what[peers]);
		return -EPERM;
	}
	return 0;
}

/*
 * Chooses the commit to enforce. An invalid or refused commit is never applied in part: the
 * node keeps enforcing the last good one (except in a dry run, which only reports).
 */
static int choose_commit(struct pass *pass, struct ppn_plan *plan, bool *refused)
{
	int r = load_commit(pass, &pass->wanted, true);

	load_applied(pass);
	if (r == 0)
		r = check_mass_removal(pass);
	if (r == 0) {
		pass->enforced = &pass->wanted;
		return 0;
	}

	*refused = true;
	if (pass->options->dry_run || !pass->applied.fleet)
		return r;
	ppn_plan_add_note(plan, "commit %.12s refused; enforcing the last applied commit %.12s",
			  pass->wanted.id, pass->applied.id);
	pass->enforced = &pass->applied;
	return 0;
}

static int compile_desired(struct pass *pass)
{
	const struct ppn_reconcile_options *options = pass->options;
	int r = ppn_mesh_compile(pass->enforced->fleet, options->node, &pass->wireguard);

	if (r == -ENOENT) {
		ppn_err("node '%s': not in the fleet (no peers/%s.yaml)", options->node,
			options->node);
		return r;
	}
	if (r == 0 && options->ifname) {
		free(pass->wireguard->ifname);
		pass->wireguard->ifname = ppn_xstrdup(options->ifname);
	}
	return r;
}

static bool has_vms_placed(const struct ppn_fleet *fleet, const char *node)
{
	if (!fleet)
		return false;
	for (size_t i = 0; i < fleet->n_vms; i++) {
		const struct ppn_vm *vm = &fleet->vms[i];
		const struct ppn_placement *placement = ppn_fleet_placement(fleet, vm->name);
		const char *host = vm->pin ? vm->pin : placement ? placement->node : NULL;

		if (host && strcmp(host, node) == 0)
			return true;
	}
	return false;
}

/*
 * WireGuard is always needed. libvirt only on a node that hosts VMs now or did at the last
 * applied commit (to remove them), so that a relay without libvirt never loads it.
 */
static int load_plugins(struct pass *pass)
{
	const struct ppn_reconcile_options *options = pass->options;
	bool vms = has_vms_placed(pass->enforced->fleet, options->node) ||
		   has_vms_placed(pass->applied.fleet, options->node);
	int r;

	r = load_wireguard(pass);
	if (r < 0 || !vms)
		return r;
	r = ppn_plugin_load_named(plugin_dir(pass), "libvirt", &pass->plugins[pass->n_plugins]);
	if (r < 0)
		return r;
	pass->n_plugins++;
	return 0;
}

/* Asks one plugin for its part of the plan, tagging its actions with its index. */
static int plan_with_plugin(struct pass *pass, size_t index, const struct ppn_desired *desired,
			    struct ppn_plan *plan)
{
	struct ppn_loaded_plugin *plugin = pass->plugins[index];
	struct ppn_plugin_options options = plugin_options(pass, pass->wireguard->ifname);
	size_t first = plan->n_actions;
	int r;

	if (index != 0 || !take_early(pass, pass->wireguard->ifname, &r)) {
		r = plugin->table->open(&options, &plugin->state);
		if (r == 0)
			r = plugin->table->observe(plugin->state, desired);
	}
	if (r == 0)
		r = plugin->table->plan(plugin->state, desired, plan);
	if (r < 0)
		return r;

	for (size_t i = first; i < plan->n_actions; i++)
		plan->actions[i].owner = (int)index;
	return 0;
}

/* Hands each plugin its own actions, in plan order; counts the ones that failed. */
static size_t apply_with_plugin(struct pass *pass, size_t index, const struct ppn_desired *desired,
				struct ppn_plan *plan)
{
	const struct ppn_plugin *table = pass->plugins[index]->table;
	_cleanup_free_ struct ppn_action **actions = NULL;
	_cleanup_free_ int *results = NULL;
	size_t count = 0, failed = 0;

	actions = ppn_xcalloc(plan->n_actions, sizeof(*actions));
	results = ppn_xcalloc(plan->n_actions, sizeof(*results));
	for (size_t i = 0; i < plan->n_actions; i++)
		if (plan->actions[i].owner == (int)index)
			actions[count++] = &plan->actions[i];
	if (count == 0)
		return 0;

	if (!table->apply) {
		ppn_err("plugin '%s': cannot apply changes", table->name);
		return count;
	}
	table->apply(pass->plugins[index]->state, desired, actions, count, results);
	for (size_t i = 0; i < count; i++)
		failed += results[i] < 0;
	return failed;
}

/* Network first, then VMs: the plugins were loaded in that order. */
static int plan_and_apply(struct pass *pass, struct ppn_plan *plan)
{
	struct ppn_desired desired = {pass->enforced->fleet, pass->wireguard};
	size_t failed = 0;
	int r;

	for (size_t i = 0; i < pass->n_plugins; i++) {
		r = plan_with_plugin(pass, i, &desired, plan);
		if (r < 0)
			return r;
	}
	if (pass->options->dry_run)
		return 0;

	for (size_t i = 0; i < pass->n_plugins; i++)
		failed += apply_with_plugin(pass, i, &desired, plan);
	if (failed > 0) {
		ppn_err("node '%s': %zu of %zu actions failed", pass->options->node, failed,
			plan->n_actions);
		return -EIO;
	}
	return 0;
}

/* The first start of a node creates its key pair, so that there is a key to put in place. */
static int ensure_key(const struct ppn_reconcile_options *options)
{
	char text[PPN_KEY_B64_LEN + 1];
	struct ppn_key public_key;
	int r = ppn_keys_ensure(options->state_dir, &public_key);

	if (r < 0) {
		ppn_err("key '%s/%s': cannot read or create: %s", options->state_dir, PPN_KEY_FILE,
			strerror(-r));
		return r;
	}
	ppn_key_to_base64(&public_key, text);
	ppn_debug("node '%s': public key '%s'", options->node, text);
	return 0;
}

static void describe(const struct pass *pass, struct ppn_plan *plan)
{
	plan->node = ppn_xstrdup(pass->options->node);
	plan->ref = ppn_xstrdup(pass->options->ref);
	plan->commit = ppn_xstrdup(pass->enforced->id);
	if (pass->applied.id[0])
		ppn_plan_add_note(plan, "last applied commit: %.12s", pass->applied.id);
	else
		ppn_plan_add_note(plan, "last applied commit: none");
}

static int run(struct pass *pass, struct ppn_plan *plan, bool *refused)
{
	const struct ppn_reconcile_options *options = pass->options;
	int r;

	/* Source, trust and load: one whole commit, or the last good one. */
	r = open_source(pass);
	if (r == 0) {
		observe_early(pass);
		r = choose_commit(pass, plan, refused);
	}
	if (r < 0)
		return r;
	describe(pass, plan);

	/* Desire, observe, plan, apply. */
	r = compile_desired(pass);
	if (r == 0)
		r = load_plugins(pass);
	if (r == 0)
		r = plan_and_apply(pass, plan);

	/* Record: the applied commit is the last good one, even when an action failed (the next
	 * pass retries it); a refused commit is never recorded. */
	if (!options->dry_run && !*refused && (r == 0 || r == -EIO) &&
	    strcmp(pass->applied.id, pass->enforced->id) != 0 &&
	    ppn_state_write_applied(options->state_dir, pass->enforced->id) < 0)
		ppn_err("state '%s': cannot record the applied commit", options->state_dir);
	return r;
}

int ppn_reconcile_pass(const struct ppn_reconcile_options *options, struct ppn_plan *plan,
		       bool *refused)
{
	struct pass pass = {.options = options};
	int r;

	*refused = false;
	r = ppn_state_prepare(options->state_dir);
	if (r < 0) {
		ppn_err("state '%s': cannot create: %s", options->state_dir, strerror(-r));
		return r;
	}
	if (!options->dry_run) {
		r = ensure_key(options);
		if (r < 0)
			return r;
	}

	r = run(&pass, plan, refused);
	ppn_plan_drop_payloads(plan);
	pass_release(&pass);
	return r;
}
