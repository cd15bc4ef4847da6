/* SPDX-License-Identifier: MIT */
#include "mcheck.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

struct checker {
	const struct ppn_fleet *fleet;
	struct ppn_diags *diags;
	size_t problems;
};

static void report(struct checker *checker, const struct ppn_loc *at, const char *fmt, ...)
	_printf_(3, 4);

static void report(struct checker *checker, const struct ppn_loc *at, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	ppn_diags_vadd(checker->diags, at->path, at->line, at->column, fmt, args);
	va_end(args);
	checker->problems++;
}

/* "path:line:column", to name the other place of a duplicate. */
static char *loc_text(const struct ppn_loc *loc)
{
	return ppn_xasprintf("%s:%u:%u", loc->path, loc->line, loc->column);
}

/*
 * Names are unique per kind when each equals its file's stem, but the rule does not rely on
 * that. Every manifest struct starts with its name; loc_offset finds its location.
 */
static void check_names(struct checker *checker, const void *array, size_t count, size_t size,
			size_t loc_offset)
{
	const char *base = array;

	for (size_t i = 1; i < count; i++) {
		const char *name = *(char *const *)(base + i * size);
		const char *prev = *(char *const *)(base + (i - 1) * size);
		const struct ppn_loc *loc = (const struct ppn_loc *)(base + i * size + loc_offset);
		const struct ppn_loc *first =
			(const struct ppn_loc *)(base + (i - 1) * size + loc_offset);
		_cleanup_free_ char *where = NULL;

		if (strcmp(name, prev) != 0)
			continue;
		where = loc_text(first);
		report(checker, loc, "name '%s' already used (%s); expected unique names", name,
		       where);
	}
}

static void check_all_names(struct checker *checker)
{
	const struct ppn_fleet *fleet = checker->fleet;

	check_names(checker, fleet->nodes, fleet->n_nodes, sizeof(*fleet->nodes),
		    offsetof(struct ppn_node, loc));
	check_names(checker, fleet->peers, fleet->n_peers, sizeof(*fleet->peers),
		    offsetof(struct ppn_peer, loc));
	check_names(checker, fleet->images, fleet->n_images, sizeof(*fleet->images),
		    offsetof(struct ppn_image, loc));
	check_names(checker, fleet->vms, fleet->n_vms, sizeof(*fleet->vms),
		    offsetof(struct ppn_vm, loc));
	check_names(checker, fleet->placements, fleet->n_placements, sizeof(*fleet->placements),
		    offsetof(struct ppn_placement, loc));
}

static void check_node_ref(struct checker *checker, const char *what, const char *name,
			   const struct ppn_loc *loc)
{
	if (name && !ppn_fleet_node(checker->fleet, name))
		report(checker, loc, "%s '%s' not found; expected a file 'nodes/%s.yaml'", what,
		       name, name);
}

static void check_references(struct checker *checker)
{
	const struct ppn_fleet *fleet = checker->fleet;

	check_node_ref(checker, "controller", fleet->network.controller,
		       &fleet->network.controller_loc);

	for (size_t i = 0; i < fleet->n_nodes; i++)
		if (!ppn_fleet_peer(fleet, fleet->nodes[i].name))
			report(checker, &fleet->nodes[i].loc,
			       "node '%s' has no peer; expected a file 'peers/%s.yaml'",
			       fleet->nodes[i].name, fleet->nodes[i].name);

	for (size_t i = 0; i < fleet->n_vms; i++) {
		const struct ppn_vm *vm = &fleet->vms[i];

		if (!ppn_fleet_image(fleet, vm->image))
			report(checker, &vm->image_loc,
			       "image '%s' not found; expected a file 'images/%s.yaml'", vm->image,
			       vm->image);
		check_node_ref(checker, "pin", vm->pin, &vm->pin_loc);
	}

	for (size_t i = 0; i < fleet->n_placements; i++) {
		const struct ppn_placement *placement = &fleet->placements[i];

		if (!ppn_fleet_vm(fleet, placement->name))
			report(checker, &placement->loc,
			       "no VM '%s' for this placement; expected a file 'vms/%s.yaml' "
			       "(delete a placement together with its VM)",
			       placement->name, placement->name);
		check_node_ref(checker, "node", placement->node, &placement->node_loc);
	}
}

static int peer_key_cmp(const void *a, const void *b)
{
	const struct ppn_peer *x = *(const struct ppn_peer *const *)a;
	const struct ppn_peer *y = *(const struct ppn_peer *const *)b;
	int cmp = ppn_key_cmp(&x->public_key, &y->public_key);

	return cmp ? cmp : strcmp(x->name, y->name);
}

static int peer_address_cmp(const void *a, const void *b)
{
	const struct ppn_peer *x = *(const struct ppn_peer *const *)a;
	const struct ppn_peer *y = *(const struct ppn_peer *const *)b;
	int cmp = ppn_prefix_cmp(&x->address, &y->address);

	return cmp ? cmp : strcmp(x->name, y->name);
}

/* Peers in the order of cmp, so that a value's users are next to each other, first by name. */
static const struct ppn_peer **peers_sorted(const struct ppn_fleet *fleet,
					    int (*cmp)(const void *, const void *))
{
	const struct ppn_peer **peers = ppn_xcalloc(fleet->n_peers, sizeof(*peers));

	for (size_t i = 0; i < fleet->n_peers; i++)
		peers[i] = &fleet->peers[i];
	qsort(peers, fleet->n_peers, sizeof(*peers), cmp);
	return peers;
}

static void check_unique_keys(struct checker *checker)
{
	_cleanup_free_ const struct ppn_peer **peers = peers_sorted(checker->fleet, peer_key_cmp);
	size_t first = 0;

	for (size_t i = 1; i < checker->fleet->n_peers; i++) {
		_cleanup_free_ char *where = NULL;

		if (ppn_key_cmp(&peers[first]->public_key, &peers[i]->public_key) != 0) {
			first = i;
			continue;
		}
		where = loc_text(&peers[first]->public_key_loc);
		report(checker, &peers[i]->public_key_loc, "public key already used by '%s' (%s)",
		       peers[first]->name, where);
	}
}

static void check_unique_addresses(struct checker *checker)
{
	_cleanup_free_ const struct ppn_peer **peers =
		peers_sorted(checker->fleet, peer_address_cmp);
	size_t first = 0;

	for (size_t i = 1; i < checker->fleet->n_peers; i++) {
		_cleanup_free_ char *where = NULL;
		char text[PPN_PREFIX_STRLEN];

		if (ppn_prefix_cmp(&peers[first]->address, &peers[i]->address) != 0) {
			first = i;
			continue;
		}
		where = loc_text(&peers[first]->address_loc);
		ppn_prefix_to_string(&peers[i]->address, true, text);
		report(checker, &peers[i]->address_loc, "address '%s' already used by '%s' (%s)",
		       text, peers[first]->name, where);
	}
}

/* For an IPv4 overlay with room for them: 0 for its network address, 1 for broadcast. */
static int special_address(const struct ppn_prefix *overlay, const struct ppn_prefix *address)
{
	bool all_zero = true, all_one = true;

	if (overlay->family != AF_INET || overlay->len >= 31)
		return -1;
	for (unsigned bit = overlay->len; bit < 32; bit++) {
		bool set = address->addr[bit / 8] & (0x80 >> (bit % 8));

		all_zero = all_zero && !set;
		all_one = all_one && set;
	}
	return all_zero ? 0 : all_one ? 1 : -1;
}

static void check_inside_overlay(struct checker *checker, const struct ppn_peer *peer)
{
	const struct ppn_network *network = &checker->fleet->network;
	bool inside = ppn_prefix_contains(&network->overlay, &peer->address);
	int special = inside ? special_address(&network->overlay, &peer->address) : -1;
	char overlay[PPN_PREFIX_STRLEN], address[PPN_PREFIX_STRLEN];
	_cleanup_free_ char *where = NULL;

	/* Only a problem is worth the text: the check runs for every peer. */
	if (inside && special < 0)
		return;
	where = loc_text(&network->overlay_loc);
	ppn_prefix_to_string(&network->overlay, false, overlay);
	ppn_prefix_to_string(&peer->address, true, address);

	if (!inside)
		report(checker, &peer->address_loc,
		       "expected an address inside the overlay '%s' (%s), got '%s'", overlay, where,
		       address);
	else
		report(checker, &peer->address_loc,
		       "expected a host address inside the overlay '%s' (%s), got its %s address "
		       "'%s'",
		       overlay, where, special ? "broadcast" : "network", address);
}

/* Peers behind NAT reach the others only through a relay (which has an endpoint: mkind.c). */
static void check_relays(struct checker *checker)
{
	const struct ppn_fleet *fleet = checker->fleet;
	const struct ppn_peer *behind_nat = NULL;
	bool any_relay = false;

	for (size_t i = 0; i < fleet->n_peers; i++) {
		const struct ppn_peer *peer = &fleet->peers[i];

		if (!peer->endpoint.host && !behind_nat)
			behind_nat = peer;
		any_relay = any_relay || peer->relay;
	}

	if (behind_nat && !any_relay)
		report(checker, &behind_nat->loc,
		       "peer '%s' has no endpoint and no peer is a relay; expected at least one "
		       "peer with 'relay: true' and an endpoint",
		       behind_nat->name);
}

static int admin_cmp(const void *a, const void *b)
{
	const struct ppn_admin *x = *(const struct ppn_admin *const *)a;
	const struct ppn_admin *y = *(const struct ppn_admin *const *)b;
	int cmp = strcmp(x->name, y->name);

	if (cmp)
		return cmp;
	if (x->loc.line != y->loc.line)
		return x->loc.line < y->loc.line ? -1 : 1;
	return x->loc.column < y->loc.column ? -1 : (x->loc.column > y->loc.column);
}

static void check_admins(struct checker *checker)
{
	const struct ppn_network *network = &checker->fleet->network;
	_cleanup_free_ const struct ppn_admin **admins =
		ppn_xcalloc(network->n_admins, sizeof(*admins));
	size_t first = 0;

	for (size_t i = 0; i < network->n_admins; i++)
		admins[i] = &network->admins[i];
	qsort(admins, network->n_admins, sizeof(*admins), admin_cmp);

	for (size_t i = 1; i < network->n_admins; i++) {
		_cleanup_free_ char *where = NULL;

		if (strcmp(admins[first]->name, admins[i]->name) != 0) {
			first = i;
			continue;
		}
		where = loc_text(&admins[first]->loc);
		report(checker, &admins[i]->loc,
		       "admin '%s' already listed (%s); expected each "
		       "admin once",
		       admins[i]->name, where);
	}
}

size_t ppn_mcheck_fleet(const struct ppn_fleet *fleet, struct ppn_diags *diags)
{
	struct checker checker = {fleet, diags, 0};

	check_all_names(&checker);
	check_references(&checker);
	check_unique_keys(&checker);
	check_unique_addresses(&checker);
	for (size_t i = 0; i < fleet->n_peers; i++)
		check_inside_overlay(&checker, &fleet->peers[i]);
	check_relays(&checker);
	check_admins(&checker);
	return checker.problems;
}
