/* SPDX-License-Identifier: MIT */
#include "mesh.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

/* The same address, as a host prefix (/32 or /128), whatever length the manifest carried. */
static struct ppn_prefix host_prefix(const struct ppn_prefix *address)
{
	struct ppn_prefix host = *address;

	host.len = address->family == AF_INET ? 32 : 128;
	return host;
}

static bool has_endpoint(const struct ppn_peer *peer)
{
	return peer->endpoint.host != NULL;
}

/*
 * The relay a node behind NAT sends everything through: of all relays but itself, the one with
 * the smallest name, so that every node and every run makes the same choice. NULL when the
 * fleet has none, which the loader refuses whenever a peer lacks an endpoint.
 */
static const struct ppn_peer *choose_relay(const struct ppn_fleet *fleet,
					   const struct ppn_peer *self)
{
	const struct ppn_peer *relay = NULL;

	for (size_t i = 0; i < fleet->n_peers; i++) {
		const struct ppn_peer *peer = &fleet->peers[i];

		if (peer == self || !peer->relay || !has_endpoint(peer))
			continue;
		if (!relay || strcmp(peer->name, relay->name) < 0)
			relay = peer;
	}
	return relay;
}

/*
 * Lists peer on device with its own address. keepalive_s is what this node sends to it: only a
 * node behind NAT keeps its mapping open, and only towards peers it can reach directly.
 */
static struct ppn_wg_peer *list_peer(struct ppn_wg_device *device, const struct ppn_peer *peer,
				     uint16_t keepalive_s)
{
	struct ppn_wg_peer *entry = ppn_wg_device_add_peer(device, &peer->public_key);
	struct ppn_prefix address = host_prefix(&peer->address);

	entry->name = ppn_xstrdup(peer->name);
	if (has_endpoint(peer)) {
		entry->endpoint.host = ppn_xstrdup(peer->endpoint.host);
		entry->endpoint.port = peer->endpoint.port;
		entry->keepalive_s = keepalive_s;
	}
	ppn_wg_peer_add_allowed_ip(entry, &address);
	return entry;
}

static struct ppn_wg_device *device_for(const struct ppn_fleet *fleet, const struct ppn_peer *self)
{
	const struct ppn_network *network = &fleet->network;
	struct ppn_wg_device *device =
		ppn_wg_device_new(network->interface ? network->interface : PPN_DEFAULT_INTERFACE);
	struct ppn_prefix address = host_prefix(&self->address);

	device->present = true;
	device->up = true;
	device->forwarding = self->relay;
	device->has_public_key = true;
	device->public_key = self->public_key;
	device->listen_port = network->listen_port;
	device->mtu = network->mtu;
	ppn_wg_device_add_address(device, &address);
	return device;
}

/* A node with an endpoint (every relay has one) can be reached by all: it lists everyone. */
static void list_all_directly(struct ppn_wg_device *device, const struct ppn_fleet *fleet,
			      const struct ppn_peer *self)
{
	for (size_t i = 0; i < fleet->n_peers; i++)
		if (&fleet->peers[i] != self)
			list_peer(device, &fleet->peers[i], 0);
}

/*
 * A node behind NAT lists the peers it can reach (those with an endpoint) and sends keepalives
 * to them. Another peer behind NAT cannot be reached at all, so its address rides on the
 * relay's allowed-ips and the relay forwards. The relay is listed first so that its index in
 * device->peers stays valid while the others are appended.
 */
static int list_from_nat(struct ppn_wg_device *device, const struct ppn_fleet *fleet,
			 const struct ppn_peer *self)
{
	const struct ppn_peer *relay = choose_relay(fleet, self);
	uint16_t keepalive_s = (uint16_t)self->keepalive_s;
	size_t relay_index = device->n_peers;

	if (!relay)
		return -EINVAL;
	list_peer(device, relay, keepalive_s);

	for (size_t i = 0; i < fleet->n_peers; i++) {
		const struct ppn_peer *peer = &fleet->peers[i];
		struct ppn_prefix address;

		if (peer == self || peer == relay)
			continue;
		if (has_endpoint(peer)) {
			list_peer(device, peer, keepalive_s);
			continue;
		}
		address = host_prefix(&peer->address);
		ppn_wg_peer_add_allowed_ip(&device->peers[relay_index], &address);
	}
	return 0;
}

/* The engine routes every allowed-ip over the interface. */
static void add_routes(struct ppn_wg_device *device)
{
	for (size_t i = 0; i < device->n_peers; i++) {
		const struct ppn_wg_peer *peer = &device->peers[i];

		for (size_t j = 0; j < peer->n_allowed_ips; j++)
			ppn_wg_device_add_route(device, &peer->allowed_ips[j]);
	}
}

int ppn_mesh_compile(const struct ppn_fleet *fleet, const char *node, struct ppn_wg_device **out)
{
	const struct ppn_peer *self = ppn_fleet_peer(fleet, node);
	struct ppn_wg_device *device;
	int r = 0;

	if (!self)
		return -ENOENT;

	device = device_for(fleet, self);
	if (has_endpoint(self) || self->relay)
		list_all_directly(device, fleet, self);
	else
		r = list_from_nat(device, fleet, self);
	if (r < 0) {
		ppn_wg_device_free(device);
		return r;
	}

	add_routes(device);
	ppn_wg_device_normalize(device);
	*out = device;
	return 0;
}
