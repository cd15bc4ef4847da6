/* SPDX-License-Identifier: MIT */
#ifndef PPN_MESH_H
#define PPN_MESH_H

/*
 * The mesh compiler: a pure function from a valid fleet and a node's name to the WireGuard
 * interface that node should have. Peers with an endpoint are reached directly; two peers that
 * both sit behind NAT reach each other through a relay, whose allowed-ips on each of them carry
 * the other's address. No address is ever in the allowed-ips of two peers of one interface,
 * and only the NAT side sends keepalives.
 */

#include "model.h"
#include "wgconf.h"

/*
 * Compiles the interface for node. Returns 0 and the device in *out (owned by the caller),
 * or -ENOENT when the fleet has no peer of that name.
 */
int ppn_mesh_compile(const struct ppn_fleet *fleet, const char *node, struct ppn_wg_device **out);

#endif
