/* SPDX-License-Identifier: MIT */
#ifndef PPN_WGCONF_H
#define PPN_WGCONF_H

/*
 * One WireGuard interface as ppn sees it. The same struct describes what a node should have
 * (compiled from the manifests by the mesh compiler) and what it has (read by the WireGuard
 * plugin), so that the plan is a comparison of two values of one type.
 *
 * No private key is ever held here: the desired side names the public key the interface must
 * present, and the observed side keeps only the public key derived from the device's private
 * key.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct ppn_wg_peer {
	struct ppn_key public_key;
	char *name;                     /* manifest name; NULL for a peer only observed */
	struct ppn_endpoint endpoint;   /* host NULL: none declared (desired) or none known */
	uint16_t keepalive_s;           /* 0 = off */
	struct ppn_prefix *allowed_ips; /* sorted by ppn_prefix_cmp, no duplicates */
	size_t n_allowed_ips;
	size_t cap_allowed_ips;

	/* Observed only. */
	int64_t last_handshake_s; /* seconds since the epoch; 0 = never */
	uint64_t rx_bytes;
	uint64_t tx_bytes;
};

struct ppn_wg_device {
	char *ifname;
	bool present; /* observed: the link exists. Desired: always true */
	bool has_public_key;
	struct ppn_key public_key;
	uint16_t listen_port; /* 0 = none / random */
	uint32_t mtu;
	bool up;
	bool forwarding; /* forwards IPv4/IPv6 packets that arrive on it: relays do */

	struct ppn_prefix *addresses; /* sorted, no duplicates */
	size_t n_addresses;
	size_t cap_addresses;
	struct ppn_prefix *routes; /* sorted, no duplicates; main table, this interface */
	size_t n_routes;
	size_t cap_routes;
	struct ppn_wg_peer *peers; /* sorted by public key */
	size_t n_peers;
	size_t cap_peers;
};

struct ppn_wg_device *ppn_wg_device_new(const char *ifname);
void ppn_wg_device_free(struct ppn_wg_device *device);

/* Appends a zeroed peer with this key and returns it (borrowed; valid until the next append). */
struct ppn_wg_peer *ppn_wg_device_add_peer(struct ppn_wg_device *device,
					   const struct ppn_key *public_key);
void ppn_wg_peer_add_allowed_ip(struct ppn_wg_peer *peer, const struct ppn_prefix *prefix);
void ppn_wg_device_add_address(struct ppn_wg_device *device, const struct ppn_prefix *prefix);
void ppn_wg_device_add_route(struct ppn_wg_device *device, const struct ppn_prefix *prefix);

/*
 * Puts every list into the order documented above and drops exact duplicates. Builders append
 * freely and call this once at the end.
 */
void ppn_wg_device_normalize(struct ppn_wg_device *device);

/* Bisects the sorted peers; NULL when absent. */
const struct ppn_wg_peer *ppn_wg_device_find_peer(const struct ppn_wg_device *device,
						  const struct ppn_key *public_key);

#endif
