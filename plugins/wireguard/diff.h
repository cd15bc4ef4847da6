/* SPDX-License-Identifier: MIT */
#ifndef PPN_WIREGUARD_DIFF_H
#define PPN_WIREGUARD_DIFF_H

/*
 * The WireGuard plan: a comparison of two values of one type, the interface a node should have
 * and the one it has. Kept apart from the backends so that it runs, and is tested, without a
 * device.
 */

#include "plan.h"
#include "wgconf.h"

/* What an action changes, as bits of struct ppn_wg_change's fields. */
enum ppn_wg_field {
	PPN_WG_FIELD_PUBLIC_KEY = 1 << 0, /* interface: the private key behind it */
	PPN_WG_FIELD_LISTEN_PORT = 1 << 1,
	PPN_WG_FIELD_MTU = 1 << 2,
	PPN_WG_FIELD_UP = 1 << 3,
	PPN_WG_FIELD_FORWARDING = 1 << 4,
	PPN_WG_FIELD_ENDPOINT = 1 << 5, /* peer */
	PPN_WG_FIELD_ALLOWED_IPS = 1 << 6,
	PPN_WG_FIELD_KEEPALIVE = 1 << 7,
};

/*
 * The payload of every action the diff makes (action->payload, freed with the plan): what apply
 * needs to find the resource and what to send, so that it never parses the plan's text. The
 * values themselves are read from the desired device at apply time.
 */
struct ppn_wg_change {
	/* wireguard/peer: whose, and its place in the desired device the diff compared (in the
	 * observed one for a delete), so that apply finds it without a search */
	struct ppn_key public_key;
	size_t index;

	struct ppn_prefix prefix; /* wireguard/address, wireguard/route: which */
	unsigned fields;          /* enum ppn_wg_field: what differs; on a create, what to set */
};

/*
 * Appends to plan the actions that turn observed into desired, of the kinds
 * "wireguard/interface", "wireguard/peer", "wireguard/address" and "wireguard/route", in this
 * order: the interface; peer creates and updates by desired name; peer deletes by public key;
 * addresses; routes. Both devices must be normalized (ppn_wg_device_normalize()): peers are
 * matched by public key in one sorted pass. A peer declared without an endpoint keeps whatever
 * endpoint the device learned from a handshake. Endpoints are compared as IP literals by value,
 * otherwise as written: resolve DNS names in desired first. Both devices are borrowed.
 * Forwarding is only ever turned on: a node that is not a relay leaves it as it finds it.
 * Every action carries a struct ppn_wg_change as its payload. Returns 0.
 */
int ppn_wg_diff(const struct ppn_wg_device *desired, const struct ppn_wg_device *observed,
		struct ppn_plan *plan);

/* The enum ppn_wg_field bits in which two peers of one key differ (endpoint, allowed-ips,
 * keepalive), by the rules above. */
unsigned ppn_wg_peer_differences(const struct ppn_wg_peer *desired,
				 const struct ppn_wg_peer *observed);

/* Writes value in decimal to out (room for 10 digits, no NUL); returns the length. */
size_t ppn_wg_decimal_format(char *out, unsigned value);

/*
 * Writes "addr/len" to out, the same text as ppn_prefix_to_string(prefix, false, ...) but
 * without printf, and without a NUL; out has PPN_PREFIX_STRLEN bytes. Returns the length.
 */
size_t ppn_wg_prefix_format(char *out, const struct ppn_prefix *prefix);

#endif
