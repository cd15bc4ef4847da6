/* SPDX-License-Identifier: MIT */
/*
 * Readers fill a scratch device and move its contents into the caller's only once everything
 * was read, so that a failed read leaves the caller's device as it was.
 */
#include "backend.h"

#define SWAP_MEMBER(a, b, member)                                                                  \
	do {                                                                                       \
		__typeof__((a)->member) swap_ = (a)->member;                                       \
		(a)->member = (b)->member;                                                         \
		(b)->member = swap_;                                                               \
	} while (0)

void ppn_wg_device_take_config(struct ppn_wg_device *into, struct ppn_wg_device *from)
{
	into->has_public_key = from->has_public_key;
	into->public_key = from->public_key;
	into->listen_port = from->listen_port;
	SWAP_MEMBER(into, from, peers);
	SWAP_MEMBER(into, from, n_peers);
	SWAP_MEMBER(into, from, cap_peers);
}

void ppn_wg_device_take_link(struct ppn_wg_device *into, struct ppn_wg_device *from)
{
	into->present = from->present;
	into->mtu = from->mtu;
	into->up = from->up;
	into->forwarding = from->forwarding;
	SWAP_MEMBER(into, from, addresses);
	SWAP_MEMBER(into, from, n_addresses);
	SWAP_MEMBER(into, from, cap_addresses);
	SWAP_MEMBER(into, from, routes);
	SWAP_MEMBER(into, from, n_routes);
	SWAP_MEMBER(into, from, cap_routes);
}
