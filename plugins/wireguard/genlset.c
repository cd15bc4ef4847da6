/* SPDX-License-Identifier: MIT */
/*
 * Changing a kernel WireGuard device: WG_CMD_SET_DEVICE messages, never with
 * WGDEVICE_F_REPLACE_PEERS, so that peers no message names keep their sessions. A set too
 * large for one message is split: each message is filled until the next attribute would not
 * fit, and a peer whose allowed-ips overflow goes on in the next message under its key again.
 */
#include "backend.h"

#include <errno.h>
#include <linux/wireguard.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <string.h>

#include "diff.h"
#include "log.h"
#include "util.h"

struct builder {
	int family;
	const char *ifname;
	const struct ppn_wg_set *set;
	size_t max_size;
	int (*emit)(struct nl_msg *msg, size_t first, size_t count, void *arg);
	void *arg;

	struct nl_msg *msg;   /* the message being filled */
	struct nlattr *peers; /* its WGDEVICE_A_PEERS, NULL until a peer goes in */
	size_t first;         /* the first op with a part in it */
	size_t count;         /* how many ops have a part in it */
	bool sent_one;        /* the device's own attributes went in the first message */
};

/* ---- Sizes: what the next attribute needs, so that nothing is put that does not fit ---- */

static size_t address_size(int family)
{
	return family == AF_INET ? 4 : 16;
}

static size_t allowed_ip_size(const struct ppn_prefix *prefix)
{
	return nla_total_size(0) + nla_total_size(sizeof(uint16_t)) +
	       nla_total_size(address_size(prefix->family)) + nla_total_size(sizeof(uint8_t));
}

static bool sends_endpoint(const struct ppn_wg_peer_op *op, bool first_part)
{
	return first_part && op->verb != PPN_WG_PEER_REMOVE &&
	       (op->fields & PPN_WG_FIELD_ENDPOINT) && op->peer->endpoint.host;
}

static bool sends_keepalive(const struct ppn_wg_peer_op *op, bool first_part)
{
	return first_part && op->verb != PPN_WG_PEER_REMOVE &&
	       (op->fields & PPN_WG_FIELD_KEEPALIVE);
}

/*
 * The bytes a part of a peer needs: the peers attribute if the message has none yet, the
 * peer's own nest, key and flags, in its first part the endpoint and keepalive, and when
 * allowed-ips remain (next is the first of them) their nest and that first one: a part always
 * carries at least one, so that every part moves forward.
 */
static size_t part_size(const struct builder *b, const struct ppn_wg_peer_op *op, bool first_part,
			size_t endpoint_len, const struct ppn_prefix *next)
{
	size_t size =
		nla_total_size(0) + nla_total_size(WG_KEY_LEN) + nla_total_size(sizeof(uint32_t));

	if (!b->peers)
		size += nla_total_size(0);
	if (sends_endpoint(op, first_part))
		size += nla_total_size(endpoint_len);
	if (sends_keepalive(op, first_part))
		size += nla_total_size(sizeof(uint16_t));
	if (next)
		size += nla_total_size(0) + allowed_ip_size(next);
	return size;
}

static size_t room(const struct builder *b)
{
	return b->max_size - nlmsg_hdr(b->msg)->nlmsg_len;
}

/* ---- Messages ---- */

static int put_device(struct builder *b)
{
	const struct ppn_wg_set *set = b->set;
	int r = 0;

	if (set->private_key)
		r = nla_put(b->msg, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, set->private_key->bytes);
	if (r == 0 && set->set_listen_port)
		r = nla_put_u16(b->msg, WGDEVICE_A_LISTEN_PORT, set->listen_port);
	return r;
}

static int start_message(struct builder *b)
{
	int r = -NLE_NOMEM;

	b->msg = nlmsg_alloc_size(b->max_size);
	b->peers = NULL;
	b->count = 0;
	if (b->msg && genlmsg_put(b->msg, NL_AUTO_PORT, NL_AUTO_SEQ, b->family, 0, 0,
				  WG_CMD_SET_DEVICE, WG_GENL_VERSION))
		r = nla_put_string(b->msg, WGDEVICE_A_IFNAME, b->ifname);
	if (r == 0 && !b->sent_one)
		r = put_device(b);
	return r < 0 ? -EMSGSIZE : 0;
}

/* Hands the message over, then wipes it: the first one may hold the private key. */
static int finish_message(struct builder *b)
{
	int r;

	if (b->peers)
		nla_nest_end(b->msg, b->peers);
	r = b->emit(b->msg, b->first, b->count, b->arg);
	ppn_wipe(nlmsg_hdr(b->msg), nlmsg_get_max_size(b->msg));
	nlmsg_free(b->msg);
	b->msg = NULL;
	b->sent_one = true;
	return r;
}

/*
 * Makes sure the current message has room for the next part of op (see part_size()), starting
 * a new message when it has not. -EMSGSIZE when even an empty message is too small.
 */
static int make_room(struct builder *b, const struct ppn_wg_peer_op *op, bool first_part,
		     size_t endpoint_len, const struct ppn_prefix *pending)
{
	int r;

	if (part_size(b, op, first_part, endpoint_len, pending) <= room(b))
		return 0;
	r = finish_message(b);
	if (r == 0)
		r = start_message(b);
	if (r == 0 && part_size(b, op, first_part, endpoint_len, pending) > room(b))
		r = -EMSGSIZE;
	return r;
}

/* ---- Peers ---- */

static uint32_t part_flags(const struct ppn_wg_peer_op *op, bool first_part)
{
	if (op->verb == PPN_WG_PEER_REMOVE)
		return WGPEER_F_REMOVE_ME;
	/* A later part only adds to what the first made; it must not bring back a peer whose
	 * first part failed. */
	if (!first_part)
		return WGPEER_F_UPDATE_ONLY;
	if (op->verb == PPN_WG_PEER_UPDATE)
		return WGPEER_F_UPDATE_ONLY |
		       (op->fields & PPN_WG_FIELD_ALLOWED_IPS ? WGPEER_F_REPLACE_ALLOWEDIPS : 0);
	return op->fields & PPN_WG_FIELD_ALLOWED_IPS ? WGPEER_F_REPLACE_ALLOWEDIPS : 0;
}

static int put_allowed_ip(struct nl_msg *msg, const struct ppn_prefix *prefix)
{
	struct nlattr *ip = nla_nest_start(msg, NLA_F_NESTED);
	int r = ip ? 0 : -NLE_NOMEM;

	if (r == 0)
		r = nla_put_u16(msg, WGALLOWEDIP_A_FAMILY, (uint16_t)prefix->family);
	if (r == 0)
		r = nla_put(msg, WGALLOWEDIP_A_IPADDR, (int)address_size(prefix->family),
			    prefix->addr);
	if (r == 0)
		r = nla_put_u8(msg, WGALLOWEDIP_A_CIDR_MASK, prefix->len);
	if (r == 0)
		nla_nest_end(msg, ip);
	return r;
}

/* As many allowed-ips from *next on as the message holds; make_room() left room for one. */
static int put_allowed_ips(struct builder *b, const struct ppn_wg_peer *peer, size_t *next,
			   size_t end)
{
	struct nlattr *ips = nla_nest_start(b->msg, WGPEER_A_ALLOWEDIPS | NLA_F_NESTED);
	int r = ips ? 0 : -NLE_NOMEM;

	while (r == 0 && *next < end && allowed_ip_size(&peer->allowed_ips[*next]) <= room(b)) {
		r = put_allowed_ip(b->msg, &peer->allowed_ips[*next]);
		if (r == 0)
			++*next;
	}
	if (r == 0)
		nla_nest_end(b->msg, ips);
	return r;
}

static int put_part_header(struct builder *b, const struct ppn_wg_peer_op *op, bool first_part,
			   const struct sockaddr_storage *endpoint, size_t endpoint_len)
{
	int r = nla_put(b->msg, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, op->peer->public_key.bytes);

	if (r == 0)
		r = nla_put_u32(b->msg, WGPEER_A_FLAGS, part_flags(op, first_part));
	if (r == 0 && sends_endpoint(op, first_part))
		r = nla_put(b->msg, WGPEER_A_ENDPOINT, (int)endpoint_len, endpoint);
	if (r == 0 && sends_keepalive(op, first_part))
		r = nla_put_u16(b->msg, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
				op->peer->keepalive_s);
	return r;
}

/* One part of op `index`: its header, then allowed-ips from *next while they fit. */
static int put_part(struct builder *b, size_t index, bool first_part,
		    const struct sockaddr_storage *endpoint, size_t endpoint_len, size_t *next,
		    size_t end)
{
	const struct ppn_wg_peer_op *op = &b->set->ops[index];
	struct nlattr *peer;
	int r = 0;

	if (!b->peers) {
		b->peers = nla_nest_start(b->msg, WGDEVICE_A_PEERS | NLA_F_NESTED);
		if (!b->peers)
			return -EMSGSIZE;
	}
	peer = nla_nest_start(b->msg, NLA_F_NESTED);
	if (!peer)
		return -EMSGSIZE;
	r = put_part_header(b, op, first_part, endpoint, endpoint_len);
	if (r == 0 && *next < end)
		r = put_allowed_ips(b, op->peer, next, end);
	if (r < 0)
		return -EMSGSIZE;
	nla_nest_end(b->msg, peer);

	if (b->count == 0)
		b->first = index;
	b->count = index - b->first + 1;
	return 0;
}

/* The allowed-ips an op sends: all of the peer's when they change, else none. */
static size_t allowed_ips_sent(const struct ppn_wg_peer_op *op)
{
	if (op->verb == PPN_WG_PEER_REMOVE || !(op->fields & PPN_WG_FIELD_ALLOWED_IPS))
		return 0;
	return op->peer->n_allowed_ips;
}

static int put_op(struct builder *b, size_t index)
{
	const struct ppn_wg_peer_op *op = &b->set->ops[index];
	const struct ppn_prefix *ips = op->peer->allowed_ips;
	size_t end = allowed_ips_sent(op), next = 0;
	struct sockaddr_storage endpoint;
	socklen_t endpoint_len = 0;
	bool first_part = true;
	int r = 0;

	if (sends_endpoint(op, true))
		r = ppn_wg_endpoint_sockaddr(&op->peer->endpoint, &endpoint, &endpoint_len);

	/* Parts follow each other until every allowed-ip is in one; a peer without any to send
	 * has exactly one part. */
	do {
		const struct ppn_prefix *pending = next < end ? &ips[next] : NULL;

		if (r == 0)
			r = make_room(b, op, first_part, endpoint_len, pending);
		if (r == 0)
			r = put_part(b, index, first_part, &endpoint, endpoint_len, &next, end);
		first_part = false;
	} while (r == 0 && next < end);
	return r;
}

int ppn_wg_genl_build_set(int family, const char *ifname, const struct ppn_wg_set *set,
			  size_t max_size,
			  int (*emit)(struct nl_msg *msg, size_t first, size_t count, void *arg),
			  void *arg)
{
	struct builder b = {
		.family = family,
		.ifname = ifname,
		.set = set,
		.max_size = max_size,
		.emit = emit,
		.arg = arg,
	};
	int r = start_message(&b);

	for (size_t i = 0; r == 0 && i < set->n_ops; i++)
		r = put_op(&b, i);
	if (r == 0)
		return finish_message(&b);

	if (b.msg) {
		ppn_wipe(nlmsg_hdr(b.msg), nlmsg_get_max_size(b.msg));
		nlmsg_free(b.msg);
	}
	return r;
}

/* ---- Sending ---- */

struct sender {
	struct nl_sock *sock;
	struct ppn_wg_set *set;
	size_t messages;
	int first_error;
};

static int on_ack(struct nl_msg *msg, void *arg)
{
	return NL_STOP;
}

static int on_error(struct sockaddr_nl *from, struct nlmsgerr *error, void *arg)
{
	*(int *)arg = error->error < 0 ? error->error : -error->error;
	return NL_STOP;
}

static int send_and_wait(struct nl_sock *sock, struct nl_msg *msg)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int kernel_error = 0, r;

	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, NULL);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &kernel_error);
	r = nl_send_auto(sock, msg);
	if (r >= 0)
		r = nl_recvmsgs(sock, cb);
	nl_cb_put(cb);

	if (kernel_error)
		return kernel_error;
	return r < 0 ? ppn_wg_nl_errno(r) : 0;
}

/* A message the kernel refuses fails the ops that have a part in it; the others go on. */
static int send_message(struct nl_msg *msg, size_t first, size_t count, void *arg)
{
	struct sender *sender = arg;
	int r = send_and_wait(sender->sock, msg);

	if (++sender->messages == 1)
		sender->set->device_result = r;
	if (r == 0)
		return 0;
	for (size_t i = first; i < first + count; i++)
		if (sender->set->ops[i].result == 0)
			sender->set->ops[i].result = r;
	if (sender->first_error == 0)
		sender->first_error = r;
	return 0;
}

/* The kernel's answer to a refused message would otherwise echo the whole message back,
 * private key included. */
static void cap_acks(struct nl_sock *sock)
{
	int one = 1;

	setsockopt(nl_socket_get_fd(sock), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
}

static void fail_all(struct ppn_wg_set *set, int r)
{
	set->device_result = r;
	for (size_t i = 0; i < set->n_ops; i++)
		set->ops[i].result = r;
}

int ppn_wg_genl_set_device(const char *ifname, struct ppn_wg_set *set)
{
	struct sender sender = {.set = set};
	int family, r = ppn_wg_genl_open(ifname, &sender.sock, &family);

	if (r < 0) {
		fail_all(set, r);
		return r;
	}
	cap_acks(sender.sock);
	fail_all(set, 0);

	r = ppn_wg_genl_build_set(family, ifname, set, PPN_WG_GENL_MESSAGE_MAX, send_message,
				  &sender);
	nl_socket_free(sender.sock);
	if (r < 0) {
		fail_all(set, r);
		ppn_err("wireguard/interface '%s': cannot build the set request: %s", ifname,
			strerror(-r));
		return r;
	}
	if (sender.first_error < 0)
		ppn_err("wireguard/interface '%s': the kernel refused a set message: %s", ifname,
			strerror(-sender.first_error));
	ppn_debug("wireguard/interface '%s': sent %zu peer operation%s in %zu netlink message%s",
		  ifname, set->n_ops, set->n_ops == 1 ? "" : "s", sender.messages,
		  sender.messages == 1 ? "" : "s");
	return sender.first_error;
}
