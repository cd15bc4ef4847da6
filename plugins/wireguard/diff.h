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

/*
 * Appends to plan the actions that turn observed into desired, of the kinds
 * "wireguard/interface", "wireguard/peer", "wireguard/address" and "wireguard/route", in this
 * order: the interface; peer creates and updates by desired name; peer deletes by public key;
 * addresses; routes. Both devices must be normalized (ppn_wg_device_normalize()): peers are
 * matched by public key in one sorted pass. A peer declared without an endpoint keeps whatever
 * endpoint the device learned from a handshake. Endpoints are compared as IP literals by value,
 * otherwise as written: resolve DNS names in desired first. Both devices are borrowed.
 * Returns 0.
 */
int ppn_wg_diff(const struct ppn_wg_device *desired, const struct ppn_wg_device *observed,
		struct ppn_plan *plan);

#endif
