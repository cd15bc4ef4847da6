/* SPDX-License-Identifier: MIT */
#ifndef PPN_TEST_WG_TEXT_H
#define PPN_TEST_WG_TEXT_H

/*
 * The text form in which the WireGuard plugin's tests compare devices: one fact per line, so
 * that a shell script can build the same text from `wg show dump` and `ip`, sort both and diff.
 *
 *   interface NAME / present yes|no / public_key B64|none / listen_port N / mtu N / up yes|no
 *   address A/LEN / route A/LEN
 *   peer B64 endpoint HOST:PORT|[HOST]:PORT|none / peer B64 keepalive N
 *   peer B64 allowed_ip A/LEN / peer B64 handshake N / peer B64 rx N / peer B64 tx N
 */

#include "wgconf.h"

/* Returns the device's text form, newly allocated, lines in the device's own order. */
char *wg_text_render(const struct ppn_wg_device *device);

#endif
