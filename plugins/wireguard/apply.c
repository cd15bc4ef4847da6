/* SPDX-License-Identifier: MIT */
/*
 * One apply of the WireGuard plugin: the actions the diff made, carried out in the order a
 * working interface needs.
 *
 *   1. the interface, when it is missing: a kernel link, or wireguard-go where the kernel has
 *      no WireGuard (or the user said so);
 *   2. the WireGuard side in one set request: the private key when the key changes, the
 *      port, and only the peers that differ;
 *   3. the link: MTU and up;
 *   4. addresses, then routes (a route through a link that is down is refused): removals
 *      first, so that nothing stale stands in the way of what is added;
 *   5. forwarding, for a relay.
 *
 * Each action finds what it is about through its payload (struct ppn_wg_change, diff.h) and
 * reads the values to send from the desired device the plan was made from, so nothing is
 * parsed back out of the plan's text. A failed action does not stop the others; each failure
 * is logged under the action's own resource.
 */
#include "backend.h"

#include <errno.h>
#include <string.h>

#include "diff.h"
#include "keys.h"
#include "log.h"
#include "util.h"

#define KIND_INTERFACE "wireguard/interface"
#define KIND_PEER      "wireguard/peer"
#define KIND_ADDRESS   "wireguard/address"
#define KIND_ROUTE     "wireguard/route"

#define NONE SIZE_MAX

struct apply_pass {
	const struct ppn_wg_apply_context *context;
	const struct ppn_wg_backend *backend; /* serves the interface; NULL when it is missing */
	struct ppn_action *const *actions;
	size_t count;
	int *results;
	size_t interface;      /* index of the interface's action, or NONE */
	unsigned iface_fields; /* what that action changes */
};

static const struct ppn_wg_change *change_of(const struct ppn_action *action)
{
	return action->payload;
}

static bool is_kind(const struct ppn_action *action, const char *kind)
{
	return strcmp(action->kind, kind) == 0;
}

/* Keeps the action's first error and logs this one, resource first, cause last. */
static void fail_because(struct apply_pass *pass, size_t index, const char *what, int r,
			 const char *cause)
{
	const struct ppn_action *action = pass->actions[index];

	if (pass->results[index] == 0)
		pass->results[index] = r;
	ppn_err("%s '%s': cannot %s: %s", action->kind, action->name, what, cause);
}

static void fail(struct apply_pass *pass, size_t index, const char *what, int r)
{
	fail_because(pass, index, what, r, strerror(-r));
}

/* What an action does, in a log line: "add", "change", "remove". */
static const char *verb_of(const struct ppn_action *action)
{
	switch (action->op) {
	case PPN_OP_CREATE:
		return is_kind(action, KIND_INTERFACE) ? "create" : "add";
	case PPN_OP_DELETE:
		return "remove";
	default:
		return "change";
	}
}

static void fail_interface(struct apply_pass *pass, const char *what, int r)
{
	if (pass->interface != NONE)
		fail(pass, pass->interface, what, r);
}

/* ---- 1. The interface ---- */

/* Without a forced backend, as wg-quick does: the kernel's, else wireguard-go's. */
static int create_interface(struct apply_pass *pass)
{
	const char *ifname = pass->context->ifname;
	const struct ppn_wg_backend *backend = pass->context->forced;
	int r;

	if (!backend) {
		backend = &ppn_wg_backend_kernel;
		r = backend->create(ifname, pass->context->state_dir);
		if (r == -EOPNOTSUPP) {
			ppn_info("wireguard/interface '%s': no WireGuard in this kernel; using "
				 "wireguard-go",
				 ifname);
			backend = &ppn_wg_backend_userspace;
			r = backend->create(ifname, pass->context->state_dir);
		}
	} else {
		r = backend->create(ifname, pass->context->state_dir);
		if (r == -EOPNOTSUPP)
			ppn_err("wireguard/interface '%s': this kernel has no WireGuard; the "
				"userspace backend would use wireguard-go",
				ifname);
	}
	if (r == 0)
		pass->backend = backend;
	return r;
}

/* ---- 2. The WireGuard side ---- */

static int load_private_key(struct apply_pass *pass, struct ppn_secret_key *secret)
{
	const char *dir = pass->context->state_dir;
	_cleanup_free_ char *cause = NULL;
	int r = dir ? ppn_keys_load(dir, secret) : -ENOENT;

	if (r == 0)
		return 0;
	if (r == -ENOENT && dir)
		cause = ppn_xasprintf("no key in '%s/%s'; run 'ppn keygen' to make one", dir,
				      PPN_KEY_FILE);
	else if (r == -ENOENT)
		cause = ppn_xstrdup("no state directory to read the node's key from");
	else
		cause = ppn_xasprintf("'%s/%s': %s", dir, PPN_KEY_FILE, strerror(-r));
	if (pass->interface != NONE)
		fail_because(pass, pass->interface, "set the private key", r, cause);
	return r;
}

/* The peer at the place the diff noted, checked by key; searched for if it is not there. */
static const struct ppn_wg_peer *find_peer(const struct ppn_wg_device *device,
					   const struct ppn_wg_change *change)
{
	if (change->index < device->n_peers &&
	    ppn_key_cmp(&device->peers[change->index].public_key, &change->public_key) == 0)
		return &device->peers[change->index];
	return ppn_wg_device_find_peer(device, &change->public_key);
}

/*
 * The peer operation an action stands for. A desired endpoint that is still a name (it did
 * not resolve when the plan was made) cannot be sent: that peer fails alone.
 */
static int peer_op(const struct apply_pass *pass, const struct ppn_action *action,
		   struct ppn_wg_peer_op *op)
{
	const struct ppn_wg_change *change = change_of(action);
	const struct ppn_wg_device *side =
		action->op == PPN_OP_DELETE ? pass->context->observed : pass->context->desired;
	const struct ppn_wg_peer *peer = find_peer(side, change);
	struct sockaddr_storage address;
	socklen_t len;

	if (!peer)
		return -ESTALE;
	*op = (struct ppn_wg_peer_op){.peer = peer, .fields = change->fields};
	if (action->op == PPN_OP_DELETE)
		op->verb = PPN_WG_PEER_REMOVE;
	else
		op->verb = action->op == PPN_OP_CREATE ? PPN_WG_PEER_ADD : PPN_WG_PEER_UPDATE;

	if ((op->fields & PPN_WG_FIELD_ENDPOINT) && peer->endpoint.host &&
	    ppn_wg_endpoint_sockaddr(&peer->endpoint, &address, &len) < 0)
		return -EHOSTUNREACH;
	return 0;
}

/* The peer operations of this pass, with owners[i] the index of ops[i]'s action. */
static void collect_ops(struct apply_pass *pass, struct ppn_wg_set *set, size_t *owners)
{
	for (size_t i = 0; i < pass->count; i++) {
		const struct ppn_action *action = pass->actions[i];
		int r;

		if (!is_kind(action, KIND_PEER))
			continue;
		r = peer_op(pass, action, &set->ops[set->n_ops]);
		if (r == -EHOSTUNREACH)
			fail_because(pass, i, verb_of(action), r, "its endpoint is not an address");
		else if (r < 0)
			fail_because(pass, i, verb_of(action), r,
				     "it is not in the plan's devices");
		else
			owners[set->n_ops++] = i;
	}
}

static size_t set_units(const struct ppn_wg_set *set)
{
	return set->n_ops + (set->private_key || set->set_listen_port ? 1 : 0);
}

/*
 * Sends the set. wireguard-go and the kernel both stop at the first change they refuse, so
 * when a request of several changes fails, each failed change goes again on its own: the ones
 * that were fine succeed and only the bad one fails. Not when the device itself is gone or
 * silent, which each retry would only confirm.
 */
static void send_set(struct apply_pass *pass, struct ppn_wg_set *set)
{
	const char *ifname = pass->context->ifname;
	int r = pass->backend->set_device(ifname, set);

	if (r == 0 || r == -ENODEV || r == -ETIMEDOUT || set_units(set) < 2)
		return;

	if (set->device_result < 0 && (set->private_key || set->set_listen_port)) {
		struct ppn_wg_set alone = *set;

		alone.ops = NULL;
		alone.n_ops = 0;
		pass->backend->set_device(ifname, &alone);
		set->device_result = alone.device_result;
	}
	for (size_t i = 0; i < set->n_ops; i++) {
		struct ppn_wg_set alone = {.ops = &set->ops[i], .n_ops = 1};

		if (set->ops[i].result < 0)
			pass->backend->set_device(ifname, &alone);
	}
}

/* The interface fails only for its own part: a request that carried no key or port and failed
 * for a peer is that peer's failure. */
static void record_set(struct apply_pass *pass, const struct ppn_wg_set *set, const size_t *owners)
{
	if ((set->private_key || set->set_listen_port) && set->device_result < 0)
		fail_interface(pass, "configure WireGuard", set->device_result);
	for (size_t i = 0; i < set->n_ops; i++)
		if (set->ops[i].result < 0)
			fail(pass, owners[i], verb_of(pass->actions[owners[i]]),
			     set->ops[i].result);
}

/* A pass with nothing to change on the WireGuard side sends nothing at all. */
static void configure_wireguard(struct apply_pass *pass)
{
	_cleanup_free_ struct ppn_wg_peer_op *ops = ppn_xcalloc(pass->count + 1, sizeof(*ops));
	_cleanup_free_ size_t *owners = ppn_xcalloc(pass->count + 1, sizeof(*owners));
	struct ppn_wg_set set = {.ops = ops};
	struct ppn_secret_key secret;

	if ((pass->iface_fields & PPN_WG_FIELD_PUBLIC_KEY) && load_private_key(pass, &secret) == 0)
		set.private_key = &secret;
	if (pass->iface_fields & PPN_WG_FIELD_LISTEN_PORT) {
		set.set_listen_port = true;
		set.listen_port = pass->context->desired->listen_port;
	}
	collect_ops(pass, &set, owners);

	if (set_units(&set) > 0) {
		send_set(pass, &set);
		record_set(pass, &set, owners);
	}
	ppn_secret_key_wipe(&secret);
}

/* ---- 3 to 5. The link ---- */

static void change_link_state(struct apply_pass *pass, struct ppn_wg_link *link)
{
	const struct ppn_wg_device *desired = pass->context->desired;
	unsigned fields = pass->iface_fields;
	int r;

	if (!(fields & (PPN_WG_FIELD_MTU | PPN_WG_FIELD_UP)))
		return;
	r = ppn_wg_link_set(link, fields & PPN_WG_FIELD_MTU ? desired->mtu : 0,
			    fields & PPN_WG_FIELD_UP, desired->up);
	if (r < 0)
		fail_interface(pass, "set its MTU and state", r);
}

/* The actions of one kind and op, one prefix each. */
static void change_prefixes(struct apply_pass *pass, struct ppn_wg_link *link, const char *kind,
			    enum ppn_op op)
{
	bool add = op == PPN_OP_CREATE;

	for (size_t i = 0; i < pass->count; i++) {
		const struct ppn_action *action = pass->actions[i];
		const struct ppn_prefix *prefix = &change_of(action)->prefix;
		int r;

		if (action->op != op || !is_kind(action, kind))
			continue;
		if (strcmp(kind, KIND_ADDRESS) == 0)
			r = ppn_wg_link_address(link, prefix, add);
		else
			r = ppn_wg_link_route(link, prefix, add);
		if (r < 0)
			fail(pass, i, verb_of(action), r);
	}
}

static bool has_ipv6_address(const struct ppn_wg_device *device)
{
	for (size_t i = 0; i < device->n_addresses; i++)
		if (device->addresses[i].family == AF_INET6)
			return true;
	return false;
}

static void enable_forwarding(struct apply_pass *pass)
{
	const struct ppn_wg_device *desired = pass->context->desired;
	int r;

	if (!(pass->iface_fields & PPN_WG_FIELD_FORWARDING))
		return;
	r = ppn_wg_sysctl_enable_forwarding(pass->context->ifname, has_ipv6_address(desired));
	if (r < 0)
		fail_interface(pass, "turn forwarding on", r);
}

/* Every action that needs the link fails with r when it cannot be opened. */
static void fail_link_actions(struct apply_pass *pass, int r)
{
	for (size_t i = 0; i < pass->count; i++) {
		const struct ppn_action *action = pass->actions[i];

		if (is_kind(action, KIND_ADDRESS) || is_kind(action, KIND_ROUTE))
			fail(pass, i, verb_of(action), r);
	}
	if (pass->iface_fields & (PPN_WG_FIELD_MTU | PPN_WG_FIELD_UP | PPN_WG_FIELD_FORWARDING))
		fail_interface(pass, "change its link", r);
}

static void configure_link(struct apply_pass *pass)
{
	struct ppn_wg_link *link = NULL;
	int r = ppn_wg_link_open(pass->context->ifname, &link);

	if (r < 0) {
		fail_link_actions(pass, r);
		return;
	}
	change_link_state(pass, link);
	change_prefixes(pass, link, KIND_ADDRESS, PPN_OP_DELETE);
	change_prefixes(pass, link, KIND_ADDRESS, PPN_OP_CREATE);
	change_prefixes(pass, link, KIND_ROUTE, PPN_OP_DELETE);
	change_prefixes(pass, link, KIND_ROUTE, PPN_OP_CREATE);
	ppn_wg_link_close(link);
	enable_forwarding(pass);
}

/* ---- The pass ---- */

static void find_interface(struct apply_pass *pass)
{
	pass->interface = NONE;
	for (size_t i = 0; i < pass->count; i++) {
		if (!is_kind(pass->actions[i], KIND_INTERFACE))
			continue;
		pass->interface = i;
		pass->iface_fields = change_of(pass->actions[i])->fields;
		return;
	}
}

static void fail_everything(struct apply_pass *pass, int r)
{
	for (size_t i = 0; i < pass->count; i++)
		fail(pass, i, verb_of(pass->actions[i]), r);
}

int ppn_wg_apply(const struct ppn_wg_apply_context *context, struct ppn_action *const *actions,
		 size_t count, int *results)
{
	struct apply_pass pass = {
		.context = context,
		.backend = context->backend,
		.actions = actions,
		.count = count,
		.results = results,
	};
	int r = 0;

	if (count == 0)
		return 0;
	memset(results, 0, count * sizeof(*results));
	find_interface(&pass);

	if (pass.interface != NONE && actions[pass.interface]->op == PPN_OP_CREATE)
		r = create_interface(&pass);
	else if (!pass.backend)
		r = -ENODEV; /* planned against a missing interface, yet no create: stale */
	if (r < 0) {
		fail_everything(&pass, r);
		return r;
	}

	configure_wireguard(&pass);
	configure_link(&pass);

	for (size_t i = 0; i < count; i++)
		if (results[i] < 0)
			return results[i];
	return 0;
}
