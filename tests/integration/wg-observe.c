/* SPDX-License-Identifier: MIT */
/*
 * wg-observe IFNAME [BACKEND]: loads the real WireGuard plugin module the way the engine does,
 * observes IFNAME and prints what it saw in the text form of wg-text.h, then lines about two
 * plans made against it:
 *
 *   note TEXT                      each note of a plan with nothing desired
 *   plan-self actions N            desired = what was observed: N must be 0
 *   plan-unresolvable action OP KIND NAME
 *   plan-unresolvable change FIELD OLD NEW
 *                                  the same, but the first peer's endpoint is a name that
 *                                  cannot resolve: it is compared as written
 *
 * Exits 0, or 1 with the reason on stderr. wg-observe.sh drives it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "plugin.h"
#include "util.h"
#include "wg-text.h"
#include "wgconf.h"

#define UNRESOLVABLE_HOST "ppnw-unresolvable.invalid"

typedef const struct ppn_wg_device *(*observed_fn)(const void *state);

/* A copy of observed, shaped like a compiled mesh: peers have names. */
static struct ppn_wg_device *desired_from(const struct ppn_wg_device *observed)
{
	struct ppn_wg_device *desired = ppn_wg_device_new(observed->ifname);

	desired->present = true;
	desired->has_public_key = observed->has_public_key;
	desired->public_key = observed->public_key;
	desired->listen_port = observed->listen_port;
	desired->mtu = observed->mtu;
	desired->up = observed->up;
	for (size_t i = 0; i < observed->n_addresses; i++)
		ppn_wg_device_add_address(desired, &observed->addresses[i]);
	for (size_t i = 0; i < observed->n_routes; i++)
		ppn_wg_device_add_route(desired, &observed->routes[i]);
	for (size_t i = 0; i < observed->n_peers; i++) {
		const struct ppn_wg_peer *from = &observed->peers[i];
		struct ppn_wg_peer *peer = ppn_wg_device_add_peer(desired, &from->public_key);

		peer->name = ppn_xasprintf("peer-%zu", i);
		peer->endpoint.host = from->endpoint.host ? ppn_xstrdup(from->endpoint.host) : NULL;
		peer->endpoint.port = from->endpoint.port;
		peer->keepalive_s = from->keepalive_s;
		for (size_t j = 0; j < from->n_allowed_ips; j++)
			ppn_wg_peer_add_allowed_ip(peer, &from->allowed_ips[j]);
	}
	ppn_wg_device_normalize(desired);
	return desired;
}

static void print_plan(const char *label, const struct ppn_plan *plan)
{
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct ppn_action *action = &plan->actions[i];

		printf("%s action %s %s %s\n", label, ppn_op_name(action->op), action->kind,
		       action->name);
		for (size_t j = 0; j < action->n_changes; j++)
			printf("%s change %s %s %s\n", label, action->changes[j].field,
			       action->changes[j].old_value ? action->changes[j].old_value : "-",
			       action->changes[j].new_value ? action->changes[j].new_value : "-");
	}
}

static int plan_with(const struct ppn_loaded_plugin *plugin, const struct ppn_wg_device *device,
		     struct ppn_plan *plan)
{
	struct ppn_desired desired = {.wireguard = device};

	ppn_plan_init(plan);
	return plugin->table->plan(plugin->state, &desired, plan);
}

static int print_notes(const struct ppn_loaded_plugin *plugin)
{
	struct ppn_plan plan;
	int r = plan_with(plugin, NULL, &plan);

	for (size_t i = 0; r == 0 && i < plan.n_notes; i++)
		printf("note %s\n", plan.notes[i]);
	ppn_plan_release(&plan);
	return r;
}

static int print_plans(const struct ppn_loaded_plugin *plugin, const struct ppn_wg_device *observed)
{
	struct ppn_wg_device *desired = desired_from(observed);
	struct ppn_plan plan;
	int r = plan_with(plugin, desired, &plan);

	if (r == 0)
		printf("plan-self actions %zu\n", plan.n_actions);
	ppn_plan_release(&plan);

	if (r == 0 && desired->n_peers > 0) {
		free(desired->peers[0].endpoint.host);
		desired->peers[0].endpoint.host = ppn_xstrdup(UNRESOLVABLE_HOST);
		desired->peers[0].endpoint.port = 51820;
		r = plan_with(plugin, desired, &plan);
		if (r == 0)
			print_plan("plan-unresolvable", &plan);
		ppn_plan_release(&plan);
	}
	ppn_wg_device_free(desired);
	return r;
}

static int observe(struct ppn_loaded_plugin *plugin, const char *ifname, const char *backend)
{
	struct ppn_plugin_options options = {
		.node = "ppnw-test",
		.ifname = ifname,
		.backend = backend,
		.dry_run = true,
	};
	struct ppn_desired nothing = {0};
	const struct ppn_wg_device *observed;
	observed_fn get_observed;
	char *text;
	int r = plugin->table->open(&options, &plugin->state);

	if (r == 0)
		r = plugin->table->observe(plugin->state, &nothing);
	if (r < 0)
		return r;

	get_observed = (observed_fn)dlsym(plugin->module, "ppn_wg_plugin_observed");
	if (!get_observed)
		return -ENOSYS;
	observed = get_observed(plugin->state);
	text = wg_text_render(observed);
	fputs(text, stdout);
	free(text);

	r = print_notes(plugin);
	if (r == 0 && observed->present)
		r = print_plans(plugin, observed);
	return r;
}

int main(int argc, char **argv)
{
	struct ppn_loaded_plugin *plugin;
	int r;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: wg-observe IFNAME [kernel|userspace]\n");
		return 1;
	}

	r = ppn_plugin_load_named(ppn_plugin_default_dir(), "wireguard", &plugin);
	if (r < 0)
		return 1;
	r = observe(plugin, argv[1], argc > 2 ? argv[2] : NULL);
	ppn_plugin_unload(plugin);
	if (r < 0) {
		fprintf(stderr, "wg-observe: '%s': %s\n", argv[1], strerror(-r));
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
