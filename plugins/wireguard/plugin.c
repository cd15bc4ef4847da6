/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard plugin's table. It observes one interface through whichever backend serves it,
 * plans the changes that would make it match the compiled mesh, and applies them (apply.c).
 *
 * Plan keeps, in the state, the desired device it compared (endpoints resolved, the node's own
 * public key), and apply works from that copy and the observed device: the actions' payloads
 * only say which resource and which fields, so what is applied is exactly what was planned.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "diff.h"
#include "keys.h"
#include "log.h"
#include "plugin.h"
#include "util.h"

struct wg_state {
	char *ifname; /* set by the options; NULL to follow the desired device */
	char *node;
	char *state_dir; /* where the node's key is; NULL when none was given */
	const struct ppn_wg_backend *forced;
	struct ppn_wg_device *observed;       /* NULL until an observe succeeded */
	const struct ppn_wg_backend *backend; /* the one that read it; NULL when absent */
	struct ppn_wg_device *planned;        /* the desired device of the last plan */
};

static int wg_open(const struct ppn_plugin_options *options, void **out)
{
	const struct ppn_wg_backend *forced = NULL;
	struct wg_state *state;

	if (options->backend) {
		forced = ppn_wg_backend_by_name(options->backend);
		if (!forced) {
			ppn_err("plugin 'wireguard': backend '%s' is not 'kernel' or 'userspace'",
				options->backend);
			return -EINVAL;
		}
	}

	state = ppn_xcalloc(1, sizeof(*state));
	state->ifname = options->ifname ? ppn_xstrdup(options->ifname) : NULL;
	state->node = options->node ? ppn_xstrdup(options->node) : NULL;
	state->state_dir = options->state_dir ? ppn_xstrdup(options->state_dir) : NULL;
	state->forced = forced;
	*out = state;
	return 0;
}

static void wg_close(void *opaque)
{
	struct wg_state *state = opaque;

	if (!state)
		return;
	ppn_wg_device_free(state->observed);
	ppn_wg_device_free(state->planned);
	free(state->ifname);
	free(state->node);
	free(state->state_dir);
	free(state);
}

static const char *interface_name(const struct wg_state *state, const struct ppn_desired *desired)
{
	if (state->ifname)
		return state->ifname;
	if (desired && desired->wireguard && desired->wireguard->ifname)
		return desired->wireguard->ifname;
	return PPN_DEFAULT_INTERFACE;
}

static int wg_observe(void *opaque, const struct ppn_desired *desired)
{
	struct wg_state *state = opaque;
	const struct ppn_wg_backend *backend;
	struct ppn_wg_device *device;
	int r = ppn_wg_observe(interface_name(state, desired), state->forced, &device, &backend);

	if (r < 0)
		return r;

	ppn_wg_device_free(state->observed);
	state->observed = device;
	state->backend = backend;
	return 0;
}

static void *memdup(const void *data, size_t count, size_t size)
{
	void *copy;

	if (count == 0)
		return NULL;
	copy = ppn_xmalloc(count * size);
	memcpy(copy, data, count * size);
	return copy;
}

/* The desired endpoint as an IP literal, so that the diff compares it with what the device
 * holds; a name that does not resolve now is compared as written. */
static char *resolved_host(const struct ppn_wg_peer *peer)
{
	char key[PPN_KEY_B64_LEN + 1];
	const char *reason;
	char *host;

	if (!peer->endpoint.host)
		return NULL;
	if (ppn_wg_endpoint_resolve(&peer->endpoint, &host, &reason) == 0)
		return host;

	ppn_key_to_base64(&peer->public_key, key);
	ppn_warn("wireguard/peer '%s': cannot resolve endpoint '%s': %s; comparing it as written",
		 peer->name ? peer->name : key, peer->endpoint.host, reason);
	return ppn_xstrdup(peer->endpoint.host);
}

static void copy_peer(struct ppn_wg_peer *copy, const struct ppn_wg_peer *peer)
{
	*copy = *peer;
	copy->name = peer->name ? ppn_xstrdup(peer->name) : NULL;
	copy->endpoint.host = resolved_host(peer);
	copy->allowed_ips =
		memdup(peer->allowed_ips, peer->n_allowed_ips, sizeof(*peer->allowed_ips));
	copy->cap_allowed_ips = peer->n_allowed_ips;
}

/* A private copy of the desired device with every endpoint resolved. */
static struct ppn_wg_device *copy_resolved(const struct ppn_wg_device *desired)
{
	struct ppn_wg_device *copy = ppn_xmalloc(sizeof(*copy));

	*copy = *desired;
	copy->ifname = ppn_xstrdup(desired->ifname);
	copy->addresses =
		memdup(desired->addresses, desired->n_addresses, sizeof(*copy->addresses));
	copy->cap_addresses = desired->n_addresses;
	copy->routes = memdup(desired->routes, desired->n_routes, sizeof(*copy->routes));
	copy->cap_routes = desired->n_routes;

	copy->peers = desired->n_peers ? ppn_xcalloc(desired->n_peers, sizeof(*copy->peers)) : NULL;
	copy->cap_peers = desired->n_peers;
	for (size_t i = 0; i < desired->n_peers; i++)
		copy_peer(&copy->peers[i], &desired->peers[i]);
	return copy;
}

static void add_backend_note(const struct wg_state *state, struct ppn_plan *plan)
{
	const char *ifname = state->observed->ifname;

	if (!state->observed->present)
		ppn_plan_add_note(plan, "interface '%s' does not exist yet", ifname);
	else
		ppn_plan_add_note(plan, "interface '%s' observed through %s", ifname,
				  state->backend->description);
}

static void note_key_mismatch(const struct wg_state *state, const struct ppn_key *local,
			      const struct ppn_key *manifest, struct ppn_plan *plan)
{
	char local_text[PPN_KEY_B64_LEN + 1], manifest_text[PPN_KEY_B64_LEN + 1];

	ppn_key_to_base64(local, local_text);
	ppn_key_to_base64(manifest, manifest_text);
	ppn_plan_add_note(plan,
			  "the node's key '%s' differs from peers/%s.yaml ('%s'): other nodes will "
			  "not accept it until the manifest is updated",
			  local_text, state->node ? state->node : "?", manifest_text);
}

/*
 * The interface must present the key this node holds, whatever its manifest says (a key
 * rotated before the manifest caught up): a plan with the manifest's key would ask for a key
 * the device can never get. The private key is held only to derive its public half. Without
 * a key file (a dry run on a node that never started), the manifest's key is compared.
 */
static int use_local_key(const struct wg_state *state, struct ppn_wg_device *desired,
			 struct ppn_plan *plan)
{
	struct ppn_secret_key secret;
	struct ppn_key local;
	int r;

	if (!state->state_dir)
		return 0;
	r = ppn_keys_load(state->state_dir, &secret);
	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = ppn_keys_public(&secret, &local);
	ppn_secret_key_wipe(&secret);
	if (r < 0) {
		ppn_err("wireguard/interface '%s': cannot read the node's key in '%s': %s",
			desired->ifname, state->state_dir, strerror(-r));
		return r;
	}

	if (desired->has_public_key && ppn_key_cmp(&local, &desired->public_key) != 0)
		note_key_mismatch(state, &local, &desired->public_key, plan);
	desired->public_key = local;
	desired->has_public_key = true;
	return 0;
}

static int peer_key_cmp(const void *a, const void *b)
{
	const struct ppn_peer *const *x = a, *const *y = b;

	return ppn_key_cmp(&(*x)->public_key, &(*y)->public_key);
}

static int key_peer_cmp(const void *key, const void *element)
{
	const struct ppn_peer *const *peer = element;

	return ppn_key_cmp(key, &(*peer)->public_key);
}

static const struct ppn_peer **peers_by_key(const struct ppn_fleet *fleet)
{
	const struct ppn_peer **by_key = ppn_xcalloc(fleet->n_peers + 1, sizeof(*by_key));

	for (size_t i = 0; i < fleet->n_peers; i++)
		by_key[i] = &fleet->peers[i];
	qsort(by_key, fleet->n_peers, sizeof(*by_key), peer_key_cmp);
	return by_key;
}

/*
 * The diff sees devices only, so to it a peer to remove is "not in the manifests". When the
 * fleet does hold that key, the reason is another: it is this node's own key, or a peer behind
 * NAT that this node, behind NAT as well, reaches through the relay and never directly.
 */
static void explain_removals(struct ppn_plan *plan, size_t first, const struct ppn_fleet *fleet,
			     const char *node)
{
	_cleanup_free_ const struct ppn_peer **by_key = NULL;

	for (size_t i = first; fleet && i < plan->n_actions; i++) {
		struct ppn_action *action = &plan->actions[i];
		const struct ppn_wg_change *change = action->payload;
		const struct ppn_peer **found;

		if (action->op != PPN_OP_DELETE || strcmp(action->kind, "wireguard/peer") != 0)
			continue;
		if (!by_key)
			by_key = peers_by_key(fleet);
		found = bsearch(&change->public_key, by_key, fleet->n_peers, sizeof(*by_key),
				key_peer_cmp);
		if (!found)
			continue;

		if (node && strcmp((*found)->name, node) == 0)
			ppn_action_set_reason(action, "this node's own key");
		else
			ppn_action_set_reason(action, "peer '%s', reached through the relay",
					      (*found)->name);
	}
}

static int wg_plan(void *opaque, const struct ppn_desired *desired, struct ppn_plan *plan)
{
	struct wg_state *state = opaque;
	struct ppn_wg_device *resolved;
	size_t first = plan->n_actions;
	int r;

	if (!state->observed) {
		ppn_err("wireguard/interface '%s': cannot plan: it was not observed",
			interface_name(state, desired));
		return -EINVAL;
	}

	add_backend_note(state, plan);
	if (!desired || !desired->wireguard)
		return 0;

	resolved = copy_resolved(desired->wireguard);
	r = use_local_key(state, resolved, plan);
	if (r == 0)
		r = ppn_wg_diff(resolved, state->observed, plan);
	if (r == 0)
		explain_removals(plan, first, desired->fleet, state->node);
	if (r < 0) {
		ppn_wg_device_free(resolved);
		return r;
	}
	ppn_wg_device_free(state->planned);
	state->planned = resolved;
	return 0;
}

/*
 * desired is the same the plan was made from; the copy kept at plan time is used instead,
 * since its endpoints were resolved then and the actions were made from exactly it.
 */
static int wg_apply(void *opaque, const struct ppn_desired *desired,
		    struct ppn_action *const *actions, size_t count, int *results)
{
	struct wg_state *state = opaque;
	struct ppn_wg_apply_context context;

	if (!state->planned || !state->observed) {
		ppn_err("wireguard/interface '%s': cannot apply: nothing was planned",
			interface_name(state, desired));
		for (size_t i = 0; i < count; i++)
			results[i] = -EINVAL;
		return count ? -EINVAL : 0;
	}

	context = (struct ppn_wg_apply_context){
		.ifname = state->observed->ifname,
		.state_dir = state->state_dir,
		.forced = state->forced,
		.backend = state->backend,
		.desired = state->planned,
		.observed = state->observed,
	};
	return ppn_wg_apply(&context, actions, count, results);
}

const struct ppn_wg_device *ppn_wg_plugin_observed(const void *opaque)
{
	const struct wg_state *state = opaque;

	return state->observed;
}

static const char *const wg_kinds[] = {
	"wireguard/interface", "wireguard/peer", "wireguard/address", "wireguard/route", NULL,
};

const struct ppn_plugin ppn_plugin = {
	.abi = PPN_PLUGIN_ABI,
	.name = "wireguard",
	.kinds = wg_kinds,
	.open = wg_open,
	.close = wg_close,
	.observe = wg_observe,
	.plan = wg_plan,
	.apply = wg_apply,
	.facts = NULL,
};
