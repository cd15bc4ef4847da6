/* SPDX-License-Identifier: MIT */
/*
 * The kernel backend: the generic netlink family "wireguard". WG_CMD_GET_DEVICE is a dump, and
 * a device with many peers or allowed-ips comes back in several messages; a peer can be split
 * between two of them, its key repeated at the start of the next. Setting is in genlset.c.
 */
#include "backend.h"

#include <errno.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* Larger than any dump message the kernel sends (32 KiB at most), so that a message is received
 * into one buffer, never reallocated and never peeked: secrets in it are wiped in one place. */
#define DUMP_BUFFER_SIZE (64 * 1024)

/* A dump the device changed under is started again, as wg(8) does; a few times at most. */
#define DUMP_ATTEMPTS 5

struct dump {
	struct ppn_wg_device *device;
	int kernel_error; /* from an NLMSG_ERROR, negative; 0 when none came */
	bool malformed;
};

static const struct nla_policy device_policy[WGDEVICE_A_MAX + 1] = {
	[WGDEVICE_A_IFINDEX] = {.type = NLA_U32},
	[WGDEVICE_A_IFNAME] = {.type = NLA_NUL_STRING},
	[WGDEVICE_A_PUBLIC_KEY] = {.minlen = PPN_KEY_LEN, .maxlen = PPN_KEY_LEN},
	[WGDEVICE_A_LISTEN_PORT] = {.type = NLA_U16},
	[WGDEVICE_A_FWMARK] = {.type = NLA_U32},
	[WGDEVICE_A_PEERS] = {.type = NLA_NESTED},
};

static const struct nla_policy peer_policy[WGPEER_A_MAX + 1] = {
	[WGPEER_A_PUBLIC_KEY] = {.minlen = PPN_KEY_LEN, .maxlen = PPN_KEY_LEN},
	[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] = {.type = NLA_U16},
	[WGPEER_A_LAST_HANDSHAKE_TIME] = {.minlen = sizeof(struct __kernel_timespec)},
	[WGPEER_A_RX_BYTES] = {.type = NLA_U64},
	[WGPEER_A_TX_BYTES] = {.type = NLA_U64},
	[WGPEER_A_ALLOWEDIPS] = {.type = NLA_NESTED},
};

static const struct nla_policy allowed_ip_policy[WGALLOWEDIP_A_MAX + 1] = {
	[WGALLOWEDIP_A_FAMILY] = {.type = NLA_U16},
	[WGALLOWEDIP_A_CIDR_MASK] = {.type = NLA_U8},
};

static int parse_allowed_ip(struct ppn_wg_peer *peer, struct nlattr *attr)
{
	struct nlattr *tb[WGALLOWEDIP_A_MAX + 1];
	struct ppn_prefix prefix = {0};
	size_t size;

	if (nla_parse_nested(tb, WGALLOWEDIP_A_MAX, attr, allowed_ip_policy) < 0)
		return -EPROTO;
	if (!tb[WGALLOWEDIP_A_FAMILY] || !tb[WGALLOWEDIP_A_IPADDR] || !tb[WGALLOWEDIP_A_CIDR_MASK])
		return -EPROTO;

	prefix.family = nla_get_u16(tb[WGALLOWEDIP_A_FAMILY]);
	size = prefix.family == AF_INET ? 4 : prefix.family == AF_INET6 ? 16 : 0;
	prefix.len = nla_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK]);
	if (size == 0 || (size_t)nla_len(tb[WGALLOWEDIP_A_IPADDR]) != size || prefix.len > size * 8)
		return -EPROTO;
	memcpy(prefix.addr, nla_data(tb[WGALLOWEDIP_A_IPADDR]), size);

	ppn_wg_peer_add_allowed_ip(peer, &prefix);
	return 0;
}

static int parse_endpoint(struct ppn_wg_peer *peer, struct nlattr *attr)
{
	struct sockaddr_storage address = {0};
	struct ppn_endpoint endpoint;
	size_t len = (size_t)nla_len(attr);

	/* Copied out: the attribute's payload is only 4-byte aligned. */
	if (len > sizeof(address))
		return -EPROTO;
	memcpy(&address, nla_data(attr), len);
	if (ppn_wg_endpoint_from_sockaddr((struct sockaddr *)&address, len, &endpoint) < 0)
		return -EPROTO;

	free(peer->endpoint.host);
	peer->endpoint = endpoint;
	return 0;
}

/* The peer this attribute continues: the kernel repeats a split peer's key in the next message. */
static struct ppn_wg_peer *peer_for_key(struct ppn_wg_device *device, const struct ppn_key *key)
{
	struct ppn_wg_peer *last = device->n_peers ? &device->peers[device->n_peers - 1] : NULL;

	if (last && ppn_key_cmp(&last->public_key, key) == 0)
		return last;
	return ppn_wg_device_add_peer(device, key);
}

static void parse_peer_counters(struct ppn_wg_peer *peer, struct nlattr **tb)
{
	if (tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL])
		peer->keepalive_s = nla_get_u16(tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]);
	if (tb[WGPEER_A_LAST_HANDSHAKE_TIME]) {
		struct __kernel_timespec handshake;

		memcpy(&handshake, nla_data(tb[WGPEER_A_LAST_HANDSHAKE_TIME]), sizeof(handshake));
		peer->last_handshake_s = handshake.tv_sec;
	}
	if (tb[WGPEER_A_RX_BYTES])
		peer->rx_bytes = nla_get_u64(tb[WGPEER_A_RX_BYTES]);
	if (tb[WGPEER_A_TX_BYTES])
		peer->tx_bytes = nla_get_u64(tb[WGPEER_A_TX_BYTES]);
}

static int parse_peer(struct ppn_wg_device *device, struct nlattr *attr)
{
	struct nlattr *tb[WGPEER_A_MAX + 1];
	struct ppn_wg_peer *peer;
	struct ppn_key key;
	int rem, r;

	if (nla_parse_nested(tb, WGPEER_A_MAX, attr, peer_policy) < 0 || !tb[WGPEER_A_PUBLIC_KEY])
		return -EPROTO;
	memcpy(key.bytes, nla_data(tb[WGPEER_A_PUBLIC_KEY]), PPN_KEY_LEN);
	peer = peer_for_key(device, &key);

	if (tb[WGPEER_A_ENDPOINT] && parse_endpoint(peer, tb[WGPEER_A_ENDPOINT]) < 0)
		return -EPROTO;
	parse_peer_counters(peer, tb);
	if (!tb[WGPEER_A_ALLOWEDIPS])
		return 0;
	rem = nla_len(tb[WGPEER_A_ALLOWEDIPS]);
	for (struct nlattr *ip = nla_data(tb[WGPEER_A_ALLOWEDIPS]); nla_ok(ip, rem);
	     ip = nla_next(ip, &rem)) {
		r = parse_allowed_ip(peer, ip);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Device attributes come in the first message only; every message may carry peers. */
static int parse_device(struct ppn_wg_device *device, struct nlattr **tb)
{
	int rem, r;

	if (tb[WGDEVICE_A_PUBLIC_KEY]) {
		memcpy(device->public_key.bytes, nla_data(tb[WGDEVICE_A_PUBLIC_KEY]), PPN_KEY_LEN);
		device->has_public_key = true;
	}
	if (tb[WGDEVICE_A_LISTEN_PORT])
		device->listen_port = nla_get_u16(tb[WGDEVICE_A_LISTEN_PORT]);
	if (!tb[WGDEVICE_A_PEERS])
		return 0;
	rem = nla_len(tb[WGDEVICE_A_PEERS]);
	for (struct nlattr *peer = nla_data(tb[WGDEVICE_A_PEERS]); nla_ok(peer, rem);
	     peer = nla_next(peer, &rem)) {
		r = parse_peer(device, peer);
		if (r < 0)
			return r;
	}
	return 0;
}

static int on_device_message(struct nl_msg *msg, void *arg)
{
	struct dump *dump = arg;
	struct nlattr *tb[WGDEVICE_A_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, WGDEVICE_A_MAX, device_policy) < 0 ||
	    parse_device(dump->device, tb) < 0) {
		dump->malformed = true;
		return NL_STOP;
	}
	return NL_OK;
}

static int on_error(struct sockaddr_nl *from, struct nlmsgerr *error, void *arg)
{
	struct dump *dump = arg;

	dump->kernel_error = error->error < 0 ? error->error : -error->error;
	return NL_STOP;
}

static void wipe_attribute(struct nlattr *attr)
{
	if (attr)
		ppn_wipe(nla_data(attr), (size_t)nla_len(attr));
}

/* The device's private key and the peers' preshared keys, wiped where the kernel wrote them. */
static void wipe_secrets(struct nlmsghdr *hdr)
{
	struct genlmsghdr *genl = nlmsg_data(hdr);
	struct nlattr *peers;
	int rem;

	if (hdr->nlmsg_type < NLMSG_MIN_TYPE || !genlmsg_valid_hdr(hdr, 0))
		return;
	wipe_attribute(nla_find(genlmsg_attrdata(genl, 0), genlmsg_attrlen(genl, 0),
				WGDEVICE_A_PRIVATE_KEY));

	peers = nla_find(genlmsg_attrdata(genl, 0), genlmsg_attrlen(genl, 0), WGDEVICE_A_PEERS);
	if (!peers)
		return;
	rem = nla_len(peers);
	for (struct nlattr *peer = nla_data(peers); nla_ok(peer, rem); peer = nla_next(peer, &rem))
		wipe_attribute(nla_find(nla_data(peer), nla_len(peer), WGPEER_A_PRESHARED_KEY));
}

/* libnl's own receive, followed by the wipe, before libnl copies any message out. */
static int receive_and_wipe(struct nl_sock *sock, struct sockaddr_nl *from, unsigned char **buf,
			    struct ucred **creds)
{
	int n = nl_recv(sock, from, buf, creds);
	int rem = n;

	if (n <= 0)
		return n;
	for (struct nlmsghdr *hdr = (struct nlmsghdr *)*buf; nlmsg_ok(hdr, rem);
	     hdr = nlmsg_next(hdr, &rem))
		wipe_secrets(hdr);
	return n;
}

int ppn_wg_genl_open(const char *ifname, struct nl_sock **out, int *family)
{
	struct nl_sock *sock = nl_socket_alloc();
	int r;

	if (!sock)
		return -ENOMEM;
	r = genl_connect(sock);
	if (r == 0)
		r = nl_socket_set_msg_buf_size(sock, DUMP_BUFFER_SIZE);
	if (r < 0) {
		ppn_err("wireguard/interface '%s': cannot open a generic netlink socket: %s",
			ifname, nl_geterror(r));
		nl_socket_free(sock);
		return ppn_wg_nl_errno(r);
	}
	nl_socket_disable_msg_peek(sock);

	*family = genl_ctrl_resolve(sock, WG_GENL_NAME);
	if (*family < 0) {
		ppn_err("wireguard/interface '%s': no WireGuard in this kernel: %s", ifname,
			nl_geterror(*family));
		nl_socket_free(sock);
		return -EPROTONOSUPPORT;
	}
	*out = sock;
	return 0;
}

static int send_dump_request(struct nl_sock *sock, int family, const char *ifname)
{
	struct nl_msg *msg = nlmsg_alloc();
	int r = -NLE_NOMEM;

	if (msg && genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_DUMP,
			       WG_CMD_GET_DEVICE, WG_GENL_VERSION))
		r = nla_put_string(msg, WGDEVICE_A_IFNAME, ifname);
	if (r == 0)
		r = nl_send_auto(sock, msg);
	nlmsg_free(msg);
	if (r < 0) {
		ppn_err("wireguard/interface '%s': cannot ask the kernel for the device: %s",
			ifname, nl_geterror(r));
		return ppn_wg_nl_errno(r);
	}
	return 0;
}

static int receive_dump(struct nl_sock *sock, struct dump *dump)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int r;

	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_device_message, dump);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, dump);
	nl_cb_overwrite_recv(cb, receive_and_wipe);
	r = nl_recvmsgs(sock, cb);
	nl_cb_put(cb);

	if (dump->kernel_error)
		return dump->kernel_error;
	if (dump->malformed)
		return -EPROTO;
	if (r == -NLE_DUMP_INTR)
		return -EAGAIN;
	return r < 0 ? ppn_wg_nl_errno(r) : 0;
}

/* One dump into a new device; -EAGAIN when the device changed while it was being dumped. */
static int dump_device(struct nl_sock *sock, int family, const char *ifname,
		       struct ppn_wg_device **out)
{
	struct dump dump = {.device = ppn_wg_device_new(ifname)};
	int r = send_dump_request(sock, family, ifname);

	if (r == 0)
		r = receive_dump(sock, &dump);
	if (r == -EPROTO)
		ppn_err("wireguard/interface '%s': malformed reply from the kernel", ifname);
	else if (r < 0 && r != -EAGAIN)
		ppn_err("wireguard/interface '%s': cannot read the device from the kernel: %s",
			ifname, strerror(-r));
	if (r < 0) {
		ppn_wg_device_free(dump.device);
		return r;
	}
	*out = dump.device;
	return 0;
}

static int kernel_get_device(const char *ifname, struct ppn_wg_device *into)
{
	struct ppn_wg_device *device = NULL;
	struct nl_sock *sock = NULL;
	int family = -1, r = ppn_wg_genl_open(ifname, &sock, &family);

	for (int attempt = 0; r == 0 && attempt < DUMP_ATTEMPTS; attempt++) {
		r = dump_device(sock, family, ifname, &device);
		if (r != -EAGAIN)
			break;
	}
	nl_socket_free(sock);

	if (r == -EAGAIN)
		ppn_err("wireguard/interface '%s': the device changed during each of %d reads",
			ifname, DUMP_ATTEMPTS);
	if (r < 0)
		return r;

	ppn_wg_device_normalize(device);
	ppn_wg_device_take_config(into, device);
	ppn_wg_device_free(device);
	return 0;
}

/* The kernel serves a link of kind wireguard; wireguard-go's TUN links have kind tun. */
static int kernel_probe(const char *ifname)
{
	char kind[32];
	int r = ppn_wg_rtnl_link_kind(ifname, kind, sizeof(kind));

	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return r;
	return strcmp(kind, "wireguard") == 0;
}

/* A kernel without WireGuard does not know the link kind: that is -EOPNOTSUPP, for the caller
 * to fall back on wireguard-go. */
static int kernel_create(const char *ifname, const char *state_dir _unused_)
{
	int r = ppn_wg_link_create(ifname, "wireguard");

	if (r < 0 && r != -EOPNOTSUPP)
		ppn_err("wireguard/interface '%s': cannot create the link: %s", ifname,
			strerror(-r));
	return r;
}

const struct ppn_wg_backend ppn_wg_backend_kernel = {
	.name = "kernel",
	.description = "the kernel (generic netlink)",
	.probe = kernel_probe,
	.get_device = kernel_get_device,
	.create = kernel_create,
	.set_device = ppn_wg_genl_set_device,
};
