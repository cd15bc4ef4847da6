/* SPDX-License-Identifier: MIT */
#ifndef PPN_WIREGUARD_BACKEND_H
#define PPN_WIREGUARD_BACKEND_H

/*
 * The WireGuard plugin's inside. A backend reads and changes the WireGuard side of one
 * interface (private key, port, peers): wireguard-go through its UAPI socket, or the kernel
 * through generic netlink. The link itself (MTU, up, addresses, routes, forwarding) is read and
 * changed through rtnetlink and /proc/sys whichever backend serves it. Observing never writes.
 *
 * Functions that fill a struct ppn_wg_device leave it untouched when they fail.
 */

#include <stdio.h>
#include <sys/socket.h>

#include "keys.h"
#include "model.h"
#include "plan.h"
#include "wgconf.h"

struct nl_msg;
struct nl_sock;

/* What one peer operation of a set request does. */
enum ppn_wg_peer_verb {
	PPN_WG_PEER_ADD,    /* create the peer with every field it has */
	PPN_WG_PEER_UPDATE, /* change the fields named, only if the peer still exists */
	PPN_WG_PEER_REMOVE,
};

struct ppn_wg_peer_op {
	enum ppn_wg_peer_verb verb;
	const struct ppn_wg_peer *peer; /* the desired peer; for a removal only its key counts */
	unsigned fields;                /* enum ppn_wg_field (diff.h): what to send */
	int result;                     /* written by set_device(): 0 or -errno */
};

/*
 * One change of a device's WireGuard configuration: what set_device() sends. Peers not named
 * in ops are left alone, so their sessions survive.
 */
struct ppn_wg_set {
	const struct ppn_secret_key *private_key; /* NULL: leave the key as it is */
	bool set_listen_port;
	uint16_t listen_port;
	struct ppn_wg_peer_op *ops;
	size_t n_ops;
	int device_result; /* written by set_device(): the key and port's 0 or -errno */
};

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

	/*
	 * Creates the interface ifname, which does not exist yet. A daemon started for it logs
	 * into a file under state_dir (NULL: onto our standard error). Returns 0, -EOPNOTSUPP
	 * (not logged) when this backend cannot serve here, or -errno with the cause logged.
	 */
	int (*create)(const char *ifname, const char *state_dir);

	/*
	 * Sends set in as few requests as the backend allows: one for wireguard-go, as many
	 * netlink messages as the size limit needs for the kernel. Writes set->device_result and
	 * each op's result; an op whose request failed gets that request's error. Returns 0 when
	 * everything succeeded, else the first error, with the request's cause logged.
	 */
	int (*set_device)(const char *ifname, struct ppn_wg_set *set);
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

/* The same for what rtnetlink read: present, MTU, up, forwarding, addresses and routes. */
void ppn_wg_device_take_link(struct ppn_wg_device *into, struct ppn_wg_device *from);

/* uapi.c */

/* The UAPI socket of ifname, newly allocated. */
char *ppn_wg_uapi_socket_path(const char *ifname);

/*
 * Connects to the UAPI socket at path, with send and receive timeouts. Returns the socket,
 * -ENODEV when nothing listens there, or -errno.
 */
int ppn_wg_uapi_connect(const char *path);

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
 * except those the kernel made itself (proto kernel); IPv4 and IPv6; and whether it forwards
 * (see sysctl.c). Returns 0, -ENODEV when there is no such link, or -errno with the cause
 * logged.
 */
int ppn_wg_rtnl_read_link(const char *ifname, struct ppn_wg_device *into);

/*
 * Writes the link's kind ("wireguard", "tun"; "" when it has none) into kind. Returns 0,
 * -ENODEV when there is no such link, or -errno with the cause logged.
 */
int ppn_wg_rtnl_link_kind(const char *ifname, char *kind, size_t size);

/* A libnl error code (NLE_*, either sign) as the nearest negative errno. */
int ppn_wg_nl_errno(int nl_error);

/* uapiset.c */

/* The userspace backend's set_device(): the same at ifname's socket. */
int ppn_wg_uapi_set_device(const char *ifname, struct ppn_wg_set *set);

/*
 * A UAPI "set=1" request, in two parts so that the secret never lands in a buffer that grows:
 * head holds "set=1" and, when the key changes, the private_key line (wiped by release);
 * body holds the rest, down to the empty line that ends the request.
 */
struct ppn_wg_uapi_request {
	char head[160];
	size_t head_len;
	char *body;
	size_t body_len;
	size_t body_cap;
};

/*
 * Writes set as a request: listen_port, then per op its public_key and what the op's fields
 * name. An update carries update_only=true so that it never creates a peer half-configured;
 * a peer's endpoint is only sent when the op's fields name it, so a peer behind NAT keeps the
 * one it was learned from. The request is released with ppn_wg_uapi_request_release().
 */
void ppn_wg_uapi_request_build(struct ppn_wg_uapi_request *request, const struct ppn_wg_set *set);

/* Wipes the head (which may hold the private key) and frees the body. */
void ppn_wg_uapi_request_release(struct ppn_wg_uapi_request *request);

/*
 * Sends set to the UAPI socket at path as one request, the same text request_build() makes,
 * streamed: the body goes out in chunks while later peers are still being written. Reads the
 * reply's errno into set->device_result and every op's result. Returns 0, the daemon's error
 * (negative), -ENODEV when nothing listens, or -errno, logged under ifname.
 */
int ppn_wg_uapi_set_device_at(const char *path, const char *ifname, struct ppn_wg_set *set);

/* genl.c */

/*
 * Opens a generic netlink socket and resolves the "wireguard" family. Returns 0, or
 * -EPROTONOSUPPORT when the kernel has no WireGuard, or -errno; logged under ifname.
 */
int ppn_wg_genl_open(const char *ifname, struct nl_sock **out, int *family);

/* genlset.c */

/* The kernel backend's set_device(). */
int ppn_wg_genl_set_device(const char *ifname, struct ppn_wg_set *set);

/* The largest WG_CMD_SET_DEVICE message sent: well within the kernel's limits, and small
 * enough for the 16-bit length of the peers attribute that holds nearly all of it. */
#define PPN_WG_GENL_MESSAGE_MAX (32 * 1024)

/*
 * Builds set as WG_CMD_SET_DEVICE messages for family, none larger than max_size bytes. A
 * message is filled until the next attribute would not fit; a peer whose allowed-ips do not
 * fit goes on in the next message without WGPEER_F_REPLACE_ALLOWEDIPS (only its first part
 * replaces) and with WGPEER_F_UPDATE_ONLY. The device's key and port go in the first message.
 * Each full message is handed to emit with the range of ops that have a part in it
 * [first, first + count); emit's message is wiped and freed after it returns, and an error it
 * returns stops the building. Returns 0, -EMSGSIZE when max_size cannot hold one peer, or
 * emit's error.
 */
int ppn_wg_genl_build_set(int family, const char *ifname, const struct ppn_wg_set *set,
			  size_t max_size,
			  int (*emit)(struct nl_msg *msg, size_t first, size_t count, void *arg),
			  void *arg);

/* launch.c */

/*
 * Starts `wireguard-go ifname` (no shell) and waits, a bounded time, for its UAPI socket.
 * What it prints is appended to PPN_WG_GO_LOG under state_dir (to our standard error when
 * there is no state_dir or that file cannot be opened). Returns 0, or -errno with the cause logged,
 * its last line of output too.
 */
#define PPN_WG_GO_LOG "wireguard-go.log"
int ppn_wg_userspace_start(const char *ifname, const char *state_dir);

/* link.c: the link side of apply, through rtnetlink; nothing here logs. */

struct ppn_wg_link;

/* Creates a link of kind (such as "wireguard"). Returns 0, -EOPNOTSUPP when the kernel does
 * not know the kind, -EEXIST, or -errno. */
int ppn_wg_link_create(const char *ifname, const char *kind);

/* Opens ifname for changes. Returns 0, -ENODEV when there is no such link, or -errno. */
int ppn_wg_link_open(const char *ifname, struct ppn_wg_link **out);
void ppn_wg_link_close(struct ppn_wg_link *link);

/* Sets the MTU (0: leave it) and, when set_state is true, brings the link up or down. */
int ppn_wg_link_set(struct ppn_wg_link *link, uint32_t mtu, bool set_state, bool up);

/* Adds (add true) or removes an address of the link. */
int ppn_wg_link_address(struct ppn_wg_link *link, const struct ppn_prefix *prefix, bool add);

/* Adds or removes the route to prefix in the main table through this link alone. */
int ppn_wg_link_route(struct ppn_wg_link *link, const struct ppn_prefix *prefix, bool add);

/* sysctl.c */

/*
 * Reads whether ifname forwards what arrives on it: IPv4 always, IPv6 too when ipv6 is true.
 * Returns 0, or -errno when a setting cannot be read.
 */
int ppn_wg_sysctl_forwarding(const char *ifname, bool ipv6, bool *on);

/* Turns forwarding on for ifname alone (never the global switch): IPv4, and IPv6 when ipv6. */
int ppn_wg_sysctl_enable_forwarding(const char *ifname, bool ipv6);

/* apply.c */

/* Everything one apply needs; borrowed. */
struct ppn_wg_apply_context {
	const char *ifname;
	const char *state_dir;                /* where the node's private key is */
	const struct ppn_wg_backend *forced;  /* the backend the user forced, or NULL */
	const struct ppn_wg_backend *backend; /* the one that observed it; NULL when absent */
	const struct ppn_wg_device *desired;  /* as planned: endpoints resolved, local key */
	const struct ppn_wg_device *observed;
};

/*
 * Carries out actions the diff made (each with its struct ppn_wg_change payload) in one pass:
 * the interface, then every peer change in one set request, the link's MTU and state,
 * addresses, routes and forwarding. results[i] gets 0 or -errno for actions[i], and each
 * failure is logged with its resource first. Returns 0, or the first error.
 */
int ppn_wg_apply(const struct ppn_wg_apply_context *context, struct ppn_action *const *actions,
		 size_t count, int *results);

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

/*
 * The socket address of an endpoint whose host is an IP literal (IPv6 with or without
 * brackets, with a scope or not), as the kernel takes it. Returns 0, or -EINVAL for a name.
 */
int ppn_wg_endpoint_sockaddr(const struct ppn_endpoint *endpoint, struct sockaddr_storage *out,
			     socklen_t *len);

/* plugin.c */

/*
 * The device the last successful observe read, for the plugin's own tests (which find it with
 * dlsym); NULL before one. state is the plugin state that open() made. Borrowed.
 */
const struct ppn_wg_device *ppn_wg_plugin_observed(const void *state);

#endif
