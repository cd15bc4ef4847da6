/* SPDX-License-Identifier: MIT */
#include "diff.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define KIND_INTERFACE "wireguard/interface"
#define KIND_PEER      "wireguard/peer"
#define KIND_ADDRESS   "wireguard/address"
#define KIND_ROUTE     "wireguard/route"

/* ---- Text forms of values ---- */

/* By hand rather than through printf: a relay's plan and its UAPI request hold tens of
 * thousands of addresses. */
size_t ppn_wg_decimal_format(char *out, unsigned value)
{
	char digits[10];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	for (size_t i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	return n;
}

size_t ppn_wg_prefix_format(char *out, const struct ppn_prefix *prefix)
{
	size_t len = 0;

	if (prefix->family == AF_INET) {
		for (size_t i = 0; i < 4; i++) {
			if (i)
				out[len++] = '.';
			len += ppn_wg_decimal_format(out + len, prefix->addr[i]);
		}
	} else {
		inet_ntop(AF_INET6, prefix->addr, out, INET6_ADDRSTRLEN);
		len = strlen(out);
	}
	out[len++] = '/';
	return len + ppn_wg_decimal_format(out + len, prefix->len);
}

static char *key_text(const struct ppn_key *key)
{
	char text[PPN_KEY_B64_LEN + 1];

	ppn_key_to_base64(key, text);
	return ppn_xstrdup(text);
}

/* "host:port", with an IPv6 literal in brackets; NULL when there is no endpoint. */
static char *endpoint_text(const struct ppn_endpoint *endpoint)
{
	const char *host = endpoint->host;
	bool brackets;
	size_t len, used = 0;
	char *text;

	if (!host)
		return NULL;
	brackets = strchr(host, ':') && host[0] != '[';
	len = strlen(host);
	text = ppn_xmalloc(len + 16);
	if (brackets)
		text[used++] = '[';
	memcpy(text + used, host, len);
	used += len;
	if (brackets)
		text[used++] = ']';
	text[used++] = ':';
	used += ppn_wg_decimal_format(text + used, endpoint->port);
	text[used] = '\0';
	return text;
}

/* "a/len, b/len", built in one pass since a relay's list may hold thousands of prefixes; NULL
 * for none, so that a plan shows them as absent. */
static char *prefixes_text(const struct ppn_prefix *prefixes, size_t count)
{
	char *text;
	size_t used = 0;

	if (count == 0)
		return NULL;
	text = ppn_xmalloc(count * (PPN_PREFIX_STRLEN + 2) + 1);
	text[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		if (i > 0) {
			memcpy(text + used, ", ", 2);
			used += 2;
		}
		used += ppn_wg_prefix_format(text + used, &prefixes[i]);
		text[used] = '\0';
	}
	return text;
}

/* NULL for "off", so that a plan shows it as absent. */
static char *keepalive_text(uint16_t keepalive_s)
{
	return keepalive_s ? ppn_xasprintf("%us", keepalive_s) : NULL;
}

static char *uint_text(unsigned long value)
{
	return ppn_xasprintf("%lu", value);
}

/* ---- Comparisons ---- */

/* An address literal without the brackets an IPv6 endpoint may carry, into buf. */
static const char *bare_host(const char *host, char *buf, size_t size)
{
	size_t len = strlen(host);

	if (len < 2 || host[0] != '[' || host[len - 1] != ']' || len - 2 >= size)
		return host;
	memcpy(buf, host + 1, len - 2);
	buf[len - 2] = '\0';
	return buf;
}

/*
 * IP literals compare by value ("::1" and "0:0::1" are one address); anything else, a DNS
 * name, compares as written.
 */
static bool hosts_equal(const char *a, const char *b)
{
	static const int families[] = {AF_INET, AF_INET6};
	char buf_a[INET6_ADDRSTRLEN], buf_b[INET6_ADDRSTRLEN];
	uint8_t addr_a[16], addr_b[16];

	a = bare_host(a, buf_a, sizeof(buf_a));
	b = bare_host(b, buf_b, sizeof(buf_b));
	for (size_t i = 0; i < PPN_ARRAY_SIZE(families); i++)
		if (inet_pton(families[i], a, addr_a) == 1 &&
		    inet_pton(families[i], b, addr_b) == 1)
			return memcmp(addr_a, addr_b, families[i] == AF_INET ? 4 : 16) == 0;
	return strcmp(a, b) == 0;
}

/*
 * A peer declared without an endpoint sits behind NAT: whatever endpoint the device learned
 * from its handshakes is observed state, never a difference. A device only reports addresses,
 * so a caller resolves declared DNS names first; one left as a name never equals an address.
 */
static bool endpoints_equal(const struct ppn_endpoint *desired, const struct ppn_endpoint *observed)
{
	if (!desired->host)
		return true;
	if (!observed->host)
		return false;
	return desired->port == observed->port && hosts_equal(desired->host, observed->host);
}

static bool prefixes_equal(const struct ppn_prefix *a, size_t n_a, const struct ppn_prefix *b,
			   size_t n_b)
{
	if (n_a != n_b)
		return false;
	for (size_t i = 0; i < n_a; i++)
		if (ppn_prefix_cmp(&a[i], &b[i]) != 0)
			return false;
	return true;
}

/* ---- Changes ---- */

/* Gives the action the payload apply reads (see diff.h) and returns it to be filled in. */
static struct ppn_wg_change *attach_change(struct ppn_action *action, unsigned fields)
{
	struct ppn_wg_change *change = ppn_xcalloc(1, sizeof(*change));

	change->fields = fields;
	action->payload = change;
	action->payload_free = free;
	return change;
}

/* Adds a change and frees both texts, which the plan copies. */
static void add_change_take(struct ppn_action *action, const char *field, char *old_value,
			    char *new_value)
{
	ppn_action_add_change(action, field, old_value, new_value);
	free(old_value);
	free(new_value);
}

/* Only compares, so that the merge pass costs no allocation for peers in sync. */
unsigned ppn_wg_peer_differences(const struct ppn_wg_peer *desired,
				 const struct ppn_wg_peer *observed)
{
	unsigned fields = 0;

	if (!endpoints_equal(&desired->endpoint, &observed->endpoint))
		fields |= PPN_WG_FIELD_ENDPOINT;
	if (!prefixes_equal(desired->allowed_ips, desired->n_allowed_ips, observed->allowed_ips,
			    observed->n_allowed_ips))
		fields |= PPN_WG_FIELD_ALLOWED_IPS;
	if (desired->keepalive_s != observed->keepalive_s)
		fields |= PPN_WG_FIELD_KEEPALIVE;
	return fields;
}

static void add_peer_changes(struct ppn_action *action, const struct ppn_wg_peer *desired,
			     const struct ppn_wg_peer *observed, unsigned fields)
{
	if (fields & PPN_WG_FIELD_ENDPOINT)
		add_change_take(action, "endpoint", endpoint_text(&observed->endpoint),
				endpoint_text(&desired->endpoint));
	if (fields & PPN_WG_FIELD_ALLOWED_IPS)
		add_change_take(action, "allowed-ips",
				prefixes_text(observed->allowed_ips, observed->n_allowed_ips),
				prefixes_text(desired->allowed_ips, desired->n_allowed_ips));
	if (fields & PPN_WG_FIELD_KEEPALIVE)
		add_change_take(action, "persistent-keepalive",
				keepalive_text(observed->keepalive_s),
				keepalive_text(desired->keepalive_s));
}

static const char *peer_name(const struct ppn_wg_peer *peer, char key[PPN_KEY_B64_LEN + 1])
{
	ppn_key_to_base64(&peer->public_key, key);
	return peer->name ? peer->name : key;
}

static void plan_peer_create(struct ppn_plan *plan, const struct ppn_wg_peer *peer, size_t index)
{
	char key[PPN_KEY_B64_LEN + 1];
	struct ppn_action *action =
		ppn_plan_add(plan, PPN_OP_CREATE, KIND_PEER, peer_name(peer, key));
	unsigned fields = PPN_WG_FIELD_ALLOWED_IPS;
	struct ppn_wg_change *change;

	ppn_action_add_change(action, "public-key", NULL, key);
	if (peer->endpoint.host) {
		add_change_take(action, "endpoint", NULL, endpoint_text(&peer->endpoint));
		fields |= PPN_WG_FIELD_ENDPOINT;
	}
	add_change_take(action, "allowed-ips", NULL,
			prefixes_text(peer->allowed_ips, peer->n_allowed_ips));
	if (peer->keepalive_s) {
		add_change_take(action, "persistent-keepalive", NULL,
				keepalive_text(peer->keepalive_s));
		fields |= PPN_WG_FIELD_KEEPALIVE;
	}
	change = attach_change(action, fields);
	change->public_key = peer->public_key;
	change->index = index;
}

static void plan_peer_update(struct ppn_plan *plan, const struct ppn_wg_peer *desired,
			     const struct ppn_wg_peer *observed, size_t index)
{
	char key[PPN_KEY_B64_LEN + 1];
	struct ppn_action *action =
		ppn_plan_add(plan, PPN_OP_UPDATE, KIND_PEER, peer_name(desired, key));
	unsigned fields = ppn_wg_peer_differences(desired, observed);
	struct ppn_wg_change *change;

	add_peer_changes(action, desired, observed, fields);
	change = attach_change(action, fields);
	change->public_key = desired->public_key;
	change->index = index;
}

/* A peer only observed is always named by its key: the device knows no manifest names. */
static void plan_peer_delete(struct ppn_plan *plan, const struct ppn_wg_peer *peer, size_t index)
{
	char key[PPN_KEY_B64_LEN + 1];
	struct ppn_wg_change *change;
	struct ppn_action *action;

	ppn_key_to_base64(&peer->public_key, key);
	action = ppn_plan_add(plan, PPN_OP_DELETE, KIND_PEER, key);
	ppn_action_set_reason(action, "not in the manifests");
	ppn_action_add_change(action, "public-key", key, NULL);
	add_change_take(action, "allowed-ips",
			prefixes_text(peer->allowed_ips, peer->n_allowed_ips), NULL);
	change = attach_change(action, 0);
	change->public_key = peer->public_key;
	change->index = index;
}

/* ---- Interface ---- */

static void plan_interface_create(struct ppn_plan *plan, const struct ppn_wg_device *desired)
{
	struct ppn_action *action =
		ppn_plan_add(plan, PPN_OP_CREATE, KIND_INTERFACE, desired->ifname);
	unsigned fields = PPN_WG_FIELD_LISTEN_PORT | PPN_WG_FIELD_MTU | PPN_WG_FIELD_UP;

	if (desired->has_public_key) {
		add_change_take(action, "public-key", NULL, key_text(&desired->public_key));
		fields |= PPN_WG_FIELD_PUBLIC_KEY;
	}
	add_change_take(action, "listen-port", NULL, uint_text(desired->listen_port));
	add_change_take(action, "mtu", NULL, uint_text(desired->mtu));
	if (desired->forwarding) {
		ppn_action_add_change(action, "forwarding", NULL, "on");
		fields |= PPN_WG_FIELD_FORWARDING;
	}
	attach_change(action, fields);
}

/* A device without a key yet (observed before its first configuration) differs from any. */
static bool key_differs(const struct ppn_wg_device *desired, const struct ppn_wg_device *observed)
{
	if (!desired->has_public_key)
		return false;
	return !observed->has_public_key ||
	       ppn_key_cmp(&desired->public_key, &observed->public_key) != 0;
}

/*
 * Forwarding is turned on for a relay and otherwise left alone: the host may forward on this
 * interface for reasons of its own (VMs it routes for), which are not ppn's to undo.
 */
static unsigned interface_differences(const struct ppn_wg_device *desired,
				      const struct ppn_wg_device *observed)
{
	unsigned fields = 0;

	if (key_differs(desired, observed))
		fields |= PPN_WG_FIELD_PUBLIC_KEY;
	if (desired->listen_port != observed->listen_port)
		fields |= PPN_WG_FIELD_LISTEN_PORT;
	if (desired->mtu != observed->mtu)
		fields |= PPN_WG_FIELD_MTU;
	if (desired->up != observed->up)
		fields |= PPN_WG_FIELD_UP;
	if (desired->forwarding && !observed->forwarding)
		fields |= PPN_WG_FIELD_FORWARDING;
	return fields;
}

static void plan_interface_update(struct ppn_plan *plan, const struct ppn_wg_device *desired,
				  const struct ppn_wg_device *observed)
{
	unsigned fields = interface_differences(desired, observed);
	struct ppn_action *action;

	if (fields == 0)
		return;

	action = ppn_plan_add(plan, PPN_OP_UPDATE, KIND_INTERFACE, desired->ifname);
	if (fields & PPN_WG_FIELD_PUBLIC_KEY)
		add_change_take(action, "public-key",
				observed->has_public_key ? key_text(&observed->public_key) : NULL,
				key_text(&desired->public_key));
	if (fields & PPN_WG_FIELD_LISTEN_PORT)
		add_change_take(action, "listen-port", uint_text(observed->listen_port),
				uint_text(desired->listen_port));
	if (fields & PPN_WG_FIELD_MTU)
		add_change_take(action, "mtu", uint_text(observed->mtu), uint_text(desired->mtu));
	if (fields & PPN_WG_FIELD_UP)
		ppn_action_add_change(action, "up", observed->up ? "up" : "down",
				      desired->up ? "up" : "down");
	if (fields & PPN_WG_FIELD_FORWARDING)
		ppn_action_add_change(action, "forwarding", "off", "on");
	attach_change(action, fields);
}

/* ---- Peers ---- */

/* A desired peer to create (observed NULL) or to update. */
struct pending_peer {
	const struct ppn_wg_peer *desired;
	const struct ppn_wg_peer *observed;
};

static int pending_cmp(const void *a, const void *b)
{
	const struct ppn_wg_peer *x = ((const struct pending_peer *)a)->desired;
	const struct ppn_wg_peer *y = ((const struct pending_peer *)b)->desired;

	if (x->name && y->name)
		return strcmp(x->name, y->name);
	if (x->name || y->name)
		return x->name ? -1 : 1;
	return ppn_key_cmp(&x->public_key, &y->public_key);
}

/* The peer actions gathered by one merge pass, before they are planned. */
struct peer_work {
	struct pending_peer *pending;
	size_t n_pending;
	size_t cap_pending;
	const struct ppn_wg_peer **stale; /* only observed */
	size_t n_stale;
	size_t cap_stale;
};

static void work_pending(struct peer_work *work, const struct ppn_wg_peer *desired,
			 const struct ppn_wg_peer *observed)
{
	ppn_grow(&work->pending, &work->cap_pending, work->n_pending + 1, sizeof(*work->pending));
	work->pending[work->n_pending++] = (struct pending_peer){desired, observed};
}

static void work_stale(struct peer_work *work, const struct ppn_wg_peer *observed)
{
	ppn_grow(&work->stale, &work->cap_stale, work->n_stale + 1, sizeof(*work->stale));
	work->stale[work->n_stale++] = observed;
}

/*
 * Walks both key-sorted peer arrays once, like a merge: a key on one side only is a create or
 * a delete, a key on both an update when some field differs.
 */
static void merge_peers(struct peer_work *work, const struct ppn_wg_peer *desired, size_t n_desired,
			const struct ppn_wg_peer *observed, size_t n_observed)
{
	size_t d = 0, o = 0;

	while (d < n_desired || o < n_observed) {
		int cmp;

		/* A side that ran out sorts after everything left on the other. */
		if (d == n_desired)
			cmp = 1;
		else if (o == n_observed)
			cmp = -1;
		else
			cmp = ppn_key_cmp(&desired[d].public_key, &observed[o].public_key);

		if (cmp > 0) {
			work_stale(work, &observed[o++]);
		} else if (cmp < 0) {
			work_pending(work, &desired[d++], NULL);
		} else {
			if (ppn_wg_peer_differences(&desired[d], &observed[o]) != 0)
				work_pending(work, &desired[d], &observed[o]);
			d++;
			o++;
		}
	}
}

/*
 * Creates and updates are planned in name order, which is how people look for a peer; deletes
 * have no name but a key, and come after them in key order, as the merge found them.
 */
static void plan_peers(struct ppn_plan *plan, const struct ppn_wg_device *desired,
		       const struct ppn_wg_peer *observed, size_t n_observed)
{
	struct peer_work work = {0};

	merge_peers(&work, desired->peers, desired->n_peers, observed, n_observed);

	if (work.n_pending > 1)
		qsort(work.pending, work.n_pending, sizeof(*work.pending), pending_cmp);
	for (size_t i = 0; i < work.n_pending; i++) {
		const struct pending_peer *pending = &work.pending[i];
		size_t index = (size_t)(pending->desired - desired->peers);

		if (pending->observed)
			plan_peer_update(plan, pending->desired, pending->observed, index);
		else
			plan_peer_create(plan, pending->desired, index);
	}
	for (size_t i = 0; i < work.n_stale; i++)
		plan_peer_delete(plan, work.stale[i], (size_t)(work.stale[i] - observed));

	free(work.pending);
	free(work.stale);
}

/* ---- Addresses and routes ---- */

/* One sorted merge of two prefix sets: what only desired has is created, the rest deleted. */
static void plan_prefixes(struct ppn_plan *plan, const char *kind, const struct ppn_prefix *desired,
			  size_t n_desired, const struct ppn_prefix *observed, size_t n_observed)
{
	size_t d = 0, o = 0;

	while (d < n_desired || o < n_observed) {
		char text[PPN_PREFIX_STRLEN];
		struct ppn_action *action;
		int cmp;

		if (d == n_desired)
			cmp = 1;
		else if (o == n_observed)
			cmp = -1;
		else
			cmp = ppn_prefix_cmp(&desired[d], &observed[o]);

		if (cmp == 0) {
			d++;
			o++;
		} else if (cmp < 0) {
			ppn_prefix_to_string(&desired[d], false, text);
			action = ppn_plan_add(plan, PPN_OP_CREATE, kind, text);
			attach_change(action, 0)->prefix = desired[d++];
		} else {
			ppn_prefix_to_string(&observed[o], false, text);
			action = ppn_plan_add(plan, PPN_OP_DELETE, kind, text);
			attach_change(action, 0)->prefix = observed[o++];
		}
	}
}

int ppn_wg_diff(const struct ppn_wg_device *desired, const struct ppn_wg_device *observed,
		struct ppn_plan *plan)
{
	/* An interface that does not exist has nothing on it, whatever its lists say. */
	bool present = observed->present;

	if (present)
		plan_interface_update(plan, desired, observed);
	else
		plan_interface_create(plan, desired);

	plan_peers(plan, desired, observed->peers, present ? observed->n_peers : 0);
	plan_prefixes(plan, KIND_ADDRESS, desired->addresses, desired->n_addresses,
		      observed->addresses, present ? observed->n_addresses : 0);
	plan_prefixes(plan, KIND_ROUTE, desired->routes, desired->n_routes, observed->routes,
		      present ? observed->n_routes : 0);
	return 0;
}
