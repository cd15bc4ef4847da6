/* SPDX-License-Identifier: MIT */
#ifndef PPN_WIREGUARD_BACKEND_H
#define PPN_WIREGUARD_BACKEND_H

/*
 * The WireGuard plugin's inside. A backend reads the WireGuard side of one interface (public
 * key, port, peers): wireguard-go through its UAPI socket, or the kernel through generic
 * netlink. The link itself (MTU, up, addresses, routes) is read through rtnetlink whichever
 * backend serves it. Nothing here writes to a device.
 *
 * Functions that fill a struct ppn_wg_device leave it untouched when they fail.
 */

#include <stdio.h>
#include <sys/socket.h>

#include "model.h"
#include "wgconf.h"

/* Where wireguard-go and wg(8) put the UAPI sockets; the path is compiled into both. */
#define PPN_WG_UAPI_DIR "/var/run/wireguard"

struct ppn_wg_backend {
	const char *name;        /* "userspace" or "kernel", as options->backend forces it */
	const char *description; /* "wireguard-go (userspace API)", for the plan's note */

	/* Returns 1 when this backend serves ifname, 0 when it does not, or -errno. */
	int (*probe)(const char *ifname);

	/*
	 * Reads the device's public key, listen port and peers into `into` (normalized), leaving
	 * its other members alone. Returns 0, -ENODEV when there is no such device, or -errno;
	 * the cause is logged with the interface first.
	 */
	int (*get_device)(const char *ifname, struct ppn_wg_device *into);
};

extern const struct ppn_wg_backend ppn_wg_backend_userspace;
extern const struct ppn_wg_backend ppn_wg_backend_kernel;

/* The backend named "userspace" or "kernel"; NULL for any other name. */
const struct ppn_wg_backend *ppn_wg_backend_by_name(const char *name);

/*
 * Reads interface ifname as it is now: *device gets a new device (owned by the caller) with
 * present = false when the link does not exist, and *backend the backend that read it (NULL
 * when absent). forced, when not NULL, is used instead of probing. Returns 0 or -errno with
 * the cause logged.
 */
int ppn_wg_observe(const char *ifname, const struct ppn_wg_backend *forced,
		   struct ppn_wg_device **device, const struct ppn_wg_backend **backend);

/* device.c */

/*
 * Moves what a backend read (public key, listen port, peers) from `from` into `into`; the
 * peers `into` had go to `from`, which the caller frees.
 */
void ppn_wg_device_take_config(struct ppn_wg_device *into, struct ppn_wg_device *from);

/* The same for what rtnetlink read: present, MTU, up, addresses and routes. */
void ppn_wg_device_take_link(struct ppn_wg_device *into, struct ppn_wg_device *from);

/* uapi.c */

/*
 * Parses the reply to a UAPI "get=1" request, up to and including its "errno=N" line and the
 * empty line after it. A private key is turned into its public key and wiped, never kept.
 * Keys this parser does not know are skipped. Returns 0; the reply's own errno (negative)
 * when it is not 0; or -EPROTO for a malformed or truncated reply, with the line logged
 * under into->ifname.
 */
int ppn_wg_uapi_parse(FILE *reply, struct ppn_wg_device *into);

/*
 * Sends "get=1" to the UAPI socket at path and parses the reply (see above) into `into`.
 * Returns 0, -ENODEV when nothing listens there, -ETIMEDOUT when the daemon does not answer,
 * or an error of ppn_wg_uapi_parse().
 */
int ppn_wg_uapi_get_device_at(const char *path, struct ppn_wg_device *into);

/* rtnl.c */

/*
 * Reads the link ifname through rtnetlink: present, MTU and IFF_UP, its addresses except
 * link-scope ones, and the routes of the main table whose only next hop leaves through it,
 * except those the kernel made itself (proto kernel); IPv4 and IPv6. Returns 0, -ENODEV when
 * there is no such link, or -errno with the cause logged.
 */
int ppn_wg_rtnl_read_link(const char *ifname, struct ppn_wg_device *into);

/*
 * Writes the link's kind ("wireguard", "tun"; "" when it has none) into kind. Returns 0,
 * -ENODEV when there is no such link, or -errno with the cause logged.
 */
int ppn_wg_rtnl_link_kind(const char *ifname, char *kind, size_t size);

/* A libnl error code (NLE_*, either sign) as the nearest negative errno. */
int ppn_wg_nl_errno(int nl_error);

/* endpoint.c */

/*
 * Writes a numeric endpoint for a socket address (IPv4 or IPv6, with scope when it has one) to
 * *out; the host is newly allocated. Returns 0, or -EAFNOSUPPORT for another family.
 */
int ppn_wg_endpoint_from_sockaddr(const struct sockaddr *address, socklen_t len,
				  struct ppn_endpoint *out);

/*
 * Parses a numeric endpoint as wireguard-go prints it: "192.0.2.1:51820" or
 * "[2001:db8::1]:51820". The host in *out is newly allocated, in the same canonical form as
 * ppn_wg_endpoint_from_sockaddr() gives. Returns 0 or -EINVAL.
 */
int ppn_wg_endpoint_parse(const char *text, struct ppn_endpoint *out);

/*
 * Resolves endpoint's host (an IP literal or a DNS name) to the first IPv4 or IPv6 address
 * a UDP port can use, in canonical numeric form, written newly allocated to *host. Returns 0,
 * or -EHOSTUNREACH when the name does not resolve, with the resolver's reason in *reason (a
 * static string).
 */
int ppn_wg_endpoint_resolve(const struct ppn_endpoint *endpoint, char **host, const char **reason);

/* plugin.c */

/*
 * The device the last successful observe read, for the plugin's own tests (which find it with
 * dlsym); NULL before one. state is the plugin state that open() made. Borrowed.
 */
const struct ppn_wg_device *ppn_wg_plugin_observed(const void *state);

#endif
