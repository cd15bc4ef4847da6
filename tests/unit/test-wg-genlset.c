/* SPDX-License-Identifier: MIT */
/*
 * The kernel backend's WG_CMD_SET_DEVICE messages, built into memory without a kernel and read
 * back with libnl's own parser: every peer and allowed-ip exactly once and in order, the flags
 * of each part, no message over the limit, and no message left with room for what came next.
 */
#include <errno.h>
#include <linux/wireguard.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wireguard/backend.h"
#include "wireguard/diff.h"

#include "util.h"
#include "wgconf.h"

#define FAMILY   0x42 /* any id: nothing is sent */
#define BIG_IPS  5000
#define N_PEERS  1000
#define IP4_SIZE 28 /* an IPv4 allowed-ip: its nest, family, address and mask */
#define IP6_SIZE 40

/* A message as emit saw it, copied out before the builder wipes it. */
struct message {
	void *data;
	size_t first;
	size_t count;
};

struct capture {
	struct message *messages;
	size_t n_messages;
	size_t cap_messages;
	size_t max_size;
	int fail_at; /* emit fails on this message (1-based); 0: never */
};

/* One part of a peer, as decoded. */
struct part {
	struct ppn_key key;
	uint32_t flags;
	bool has_flags;
	bool has_endpoint;
	bool has_keepalive;
	struct ppn_prefix *ips;
	size_t n_ips;
	size_t message;
};

struct decoded {
	struct part *parts;
	size_t n_parts;
	size_t cap_parts;
};

static int capture_message(struct nl_msg *msg, size_t first, size_t count, void *arg)
{
	struct capture *capture = arg;
	struct nlmsghdr *hdr = nlmsg_hdr(msg);
	struct message *copy;

	if (capture->fail_at && (int)capture->n_messages + 1 == capture->fail_at)
		return -EIO;
	assert_true(hdr->nlmsg_len <= capture->max_size);
	ppn_grow(&capture->messages, &capture->cap_messages, capture->n_messages + 1,
		 sizeof(*capture->messages));
	copy = &capture->messages[capture->n_messages++];
	copy->data = ppn_xmalloc(hdr->nlmsg_len);
	memcpy(copy->data, hdr, hdr->nlmsg_len);
	copy->first = first;
	copy->count = count;
	return 0;
}

static void capture_release(struct capture *capture)
{
	for (size_t i = 0; i < capture->n_messages; i++)
		free(capture->messages[i].data);
	free(capture->messages);
}

/* ---- Decoding with libnl ---- */

static const struct nla_policy device_policy[WGDEVICE_A_MAX + 1] = {
	[WGDEVICE_A_IFNAME] = {.type = NLA_NUL_STRING},
	[WGDEVICE_A_PRIVATE_KEY] = {.minlen = WG_KEY_LEN, .maxlen = WG_KEY_LEN},
	[WGDEVICE_A_LISTEN_PORT] = {.type = NLA_U16},
	[WGDEVICE_A_FLAGS] = {.type = NLA_U32},
	[WGDEVICE_A_PEERS] = {.type = NLA_NESTED},
};

static const struct nla_policy peer_policy[WGPEER_A_MAX + 1] = {
	[WGPEER_A_PUBLIC_KEY] = {.minlen = WG_KEY_LEN, .maxlen = WG_KEY_LEN},
	[WGPEER_A_FLAGS] = {.type = NLA_U32},
	[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] = {.type = NLA_U16},
	[WGPEER_A_ALLOWEDIPS] = {.type = NLA_NESTED},
};

static const struct nla_policy ip_policy[WGALLOWEDIP_A_MAX + 1] = {
	[WGALLOWEDIP_A_FAMILY] = {.type = NLA_U16},
	[WGALLOWEDIP_A_CIDR_MASK] = {.type = NLA_U8},
};

static void decode_ip(struct part *part, struct nlattr *attr)
{
	struct nlattr *tb[WGALLOWEDIP_A_MAX + 1];
	struct ppn_prefix prefix = {0};

	assert_int_equal(nla_parse_nested(tb, WGALLOWEDIP_A_MAX, attr, ip_policy), 0);
	assert_non_null(tb[WGALLOWEDIP_A_FAMILY]);
	assert_non_null(tb[WGALLOWEDIP_A_IPADDR]);
	assert_non_null(tb[WGALLOWEDIP_A_CIDR_MASK]);
	prefix.family = nla_get_u16(tb[WGALLOWEDIP_A_FAMILY]);
	prefix.len = nla_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK]);
	assert_int_equal(nla_len(tb[WGALLOWEDIP_A_IPADDR]), prefix.family == AF_INET ? 4 : 16);
	memcpy(prefix.addr, nla_data(tb[WGALLOWEDIP_A_IPADDR]),
	       (size_t)nla_len(tb[WGALLOWEDIP_A_IPADDR]));
	part->ips = ppn_xrealloc(part->ips, (part->n_ips + 1) * sizeof(*part->ips));
	part->ips[part->n_ips++] = prefix;
}

static void decode_peer(struct decoded *out, struct nlattr *attr, size_t message)
{
	struct nlattr *tb[WGPEER_A_MAX + 1];
	struct part *part;
	int rem;

	assert_true(attr->nla_type & NLA_F_NESTED);
	assert_int_equal(nla_parse_nested(tb, WGPEER_A_MAX, attr, peer_policy), 0);
	assert_non_null(tb[WGPEER_A_PUBLIC_KEY]);
	ppn_grow(&out->parts, &out->cap_parts, out->n_parts + 1, sizeof(*out->parts));
	part = &out->parts[out->n_parts++];
	*part = (struct part){.message = message};
	memcpy(part->key.bytes, nla_data(tb[WGPEER_A_PUBLIC_KEY]), WG_KEY_LEN);
	part->has_flags = tb[WGPEER_A_FLAGS] != NULL;
	part->flags = part->has_flags ? nla_get_u32(tb[WGPEER_A_FLAGS]) : 0;
	part->has_endpoint = tb[WGPEER_A_ENDPOINT] != NULL;
	part->has_keepalive = tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] != NULL;
	if (!tb[WGPEER_A_ALLOWEDIPS])
		return;
	rem = nla_len(tb[WGPEER_A_ALLOWEDIPS]);
	for (struct nlattr *ip = nla_data(tb[WGPEER_A_ALLOWEDIPS]); nla_ok(ip, rem);
	     ip = nla_next(ip, &rem))
		decode_ip(part, ip);
}

/* Decodes one message into parts; returns its device attributes through tb. */
static void decode_message(struct decoded *out, struct nlmsghdr *hdr, size_t message,
			   struct nlattr **tb)
{
	struct genlmsghdr *genl = nlmsg_data(hdr);
	int rem;

	assert_int_equal(hdr->nlmsg_type, FAMILY);
	assert_int_equal(genl->cmd, WG_CMD_SET_DEVICE);
	assert_int_equal(genlmsg_parse(hdr, 0, tb, WGDEVICE_A_MAX, device_policy), 0);
	assert_non_null(tb[WGDEVICE_A_IFNAME]);
	assert_string_equal(nla_get_string(tb[WGDEVICE_A_IFNAME]), "ppna0");
	/* Never REPLACE_PEERS: peers no message names must survive. */
	assert_null(tb[WGDEVICE_A_FLAGS]);
	if (!tb[WGDEVICE_A_PEERS])
		return;
	rem = nla_len(tb[WGDEVICE_A_PEERS]);
	for (struct nlattr *peer = nla_data(tb[WGDEVICE_A_PEERS]); nla_ok(peer, rem);
	     peer = nla_next(peer, &rem))
		decode_peer(out, peer, message);
	assert_int_equal(rem, 0);
}

static void decoded_release(struct decoded *decoded)
{
	for (size_t i = 0; i < decoded->n_parts; i++)
		free(decoded->parts[i].ips);
	free(decoded->parts);
}

/* ---- The set under test ---- */

static struct ppn_key numbered_key(unsigned n)
{
	struct ppn_key key;

	for (unsigned i = 0; i < PPN_KEY_LEN; i++)
		key.bytes[i] = (uint8_t)(n * 7 + i * 13 + (n >> 8));
	key.bytes[0] = (uint8_t)n;
	key.bytes[1] = (uint8_t)(n >> 8);
	return key;
}

/*
 * Peer 0 has 5,000 allowed-ips (IPv4 and IPv6 mixed) and an IPv6 endpoint; then 1,000 peers
 * with one or two allowed-ips each; every tenth an update, every 25th a removal.
 */
static struct ppn_wg_device *make_device(void)
{
	struct ppn_wg_device *device = ppn_wg_device_new("ppna0");
	struct ppn_key key = numbered_key(0);
	struct ppn_wg_peer *big = ppn_wg_device_add_peer(device, &key);

	big->endpoint.host = ppn_xstrdup("2001:db8::1");
	big->endpoint.port = 51820;
	big->keepalive_s = 25;
	for (unsigned i = 0; i < BIG_IPS; i++) {
		struct ppn_prefix v4 = {
			.family = AF_INET, .addr = {10, 1, i >> 8, i & 0xff}, .len = 32};
		struct ppn_prefix v6 = {.family = AF_INET6,
					.addr = {0xfd, 0, 0, 0, 0, 0, i >> 8, i & 0xff},
					.len = 64};

		ppn_wg_peer_add_allowed_ip(big, i % 5 ? &v4 : &v6);
	}
	for (unsigned n = 1; n <= N_PEERS; n++) {
		struct ppn_prefix v4 = {
			.family = AF_INET, .addr = {10, 2, n >> 8, n & 0xff}, .len = 32};
		struct ppn_prefix v6 = {
			.family = AF_INET6, .addr = {0xfd, 2, n >> 8, n & 0xff}, .len = 128};
		struct ppn_wg_peer *peer;

		key = numbered_key(n);
		peer = ppn_wg_device_add_peer(device, &key);
		peer->endpoint.host = n % 3 ? ppn_xasprintf("192.0.2.%u", n % 250) : NULL;
		peer->endpoint.port = 51820;
		peer->keepalive_s = n % 2 ? 0 : 25;
		ppn_wg_peer_add_allowed_ip(peer, &v4);
		if (n % 4 == 0)
			ppn_wg_peer_add_allowed_ip(peer, &v6);
	}
	return device;
}

static void make_ops(const struct ppn_wg_device *device, struct ppn_wg_peer_op *ops)
{
	for (size_t i = 0; i < device->n_peers; i++) {
		const struct ppn_wg_peer *peer = &device->peers[i];
		struct ppn_wg_peer_op *op = &ops[i];

		*op = (struct ppn_wg_peer_op){.peer = peer, .verb = PPN_WG_PEER_ADD};
		op->fields = PPN_WG_FIELD_ALLOWED_IPS;
		if (peer->endpoint.host)
			op->fields |= PPN_WG_FIELD_ENDPOINT;
		if (peer->keepalive_s)
			op->fields |= PPN_WG_FIELD_KEEPALIVE;
		if (i > 0 && i % 10 == 0) {
			op->verb = PPN_WG_PEER_UPDATE;
			op->fields &= (unsigned)(i % 20 ? ~0 : ~PPN_WG_FIELD_ALLOWED_IPS);
		}
		if (i > 0 && i % 25 == 0)
			op->verb = PPN_WG_PEER_REMOVE;
	}
}

static size_t ip_size(const struct ppn_prefix *prefix)
{
	return prefix->family == AF_INET ? IP4_SIZE : IP6_SIZE;
}

static size_t ips_sent(const struct ppn_wg_peer_op *op)
{
	if (op->verb == PPN_WG_PEER_REMOVE || !(op->fields & PPN_WG_FIELD_ALLOWED_IPS))
		return 0;
	return op->peer->n_allowed_ips;
}

static uint32_t first_flags(const struct ppn_wg_peer_op *op)
{
	uint32_t replace = op->fields & PPN_WG_FIELD_ALLOWED_IPS ? WGPEER_F_REPLACE_ALLOWEDIPS : 0;

	switch (op->verb) {
	case PPN_WG_PEER_REMOVE:
		return WGPEER_F_REMOVE_ME;
	case PPN_WG_PEER_UPDATE:
		return WGPEER_F_UPDATE_ONLY | replace;
	default:
		return replace;
	}
}

/* What the first part of op needed in a message that already had peers: key, flags, nest, its
 * endpoint and keepalive, and the first allowed-ip with its nest. */
static size_t first_part_size(const struct ppn_wg_peer_op *op)
{
	size_t size = 4 + 36 + 8;

	if (op->verb != PPN_WG_PEER_REMOVE && (op->fields & PPN_WG_FIELD_ENDPOINT) &&
	    op->peer->endpoint.host)
		size += strchr(op->peer->endpoint.host, ':') ? 32 : 20;
	if (op->verb != PPN_WG_PEER_REMOVE && (op->fields & PPN_WG_FIELD_KEEPALIVE))
		size += 8;
	if (ips_sent(op))
		size += 4 + ip_size(&op->peer->allowed_ips[0]);
	return size;
}

/* Each op's parts are consecutive; the first carries its flags and fields, the later ones only
 * UPDATE_ONLY and allowed-ips; together they hold every allowed-ip once, in order. */
static size_t check_op(const struct decoded *decoded, size_t at, const struct ppn_wg_peer_op *op)
{
	size_t want = ips_sent(op), got = 0;
	const struct part *first = &decoded->parts[at];
	bool endpoint = op->verb != PPN_WG_PEER_REMOVE && (op->fields & PPN_WG_FIELD_ENDPOINT) &&
			op->peer->endpoint.host;

	assert_memory_equal(first->key.bytes, op->peer->public_key.bytes, PPN_KEY_LEN);
	assert_true(first->has_flags);
	assert_int_equal(first->flags, first_flags(op));
	assert_int_equal(first->has_endpoint, endpoint);
	assert_int_equal(first->has_keepalive,
			 op->verb != PPN_WG_PEER_REMOVE && (op->fields & PPN_WG_FIELD_KEEPALIVE));

	for (size_t p = at; p < decoded->n_parts; p++) {
		const struct part *part = &decoded->parts[p];

		if (memcmp(part->key.bytes, op->peer->public_key.bytes, PPN_KEY_LEN) != 0)
			break;
		if (p > at) {
			assert_int_equal(part->flags, WGPEER_F_UPDATE_ONLY);
			assert_false(part->has_endpoint);
			assert_false(part->has_keepalive);
			assert_int_equal(part->message, decoded->parts[p - 1].message + 1);
		}
		assert_true(got + part->n_ips <= want);
		for (size_t i = 0; i < part->n_ips; i++)
			assert_int_equal(
				ppn_prefix_cmp(&part->ips[i], &op->peer->allowed_ips[got + i]), 0);
		got += part->n_ips;
		at = p;
	}
	assert_int_equal(got, want);
	return at + 1;
}

struct built {
	struct ppn_wg_device *device;
	struct ppn_wg_peer_op *ops;
	struct ppn_wg_set set;
	struct ppn_secret_key secret;
	struct capture capture;
	struct decoded decoded;
};

static void build(struct built *b, size_t max_size)
{
	b->device = make_device();
	b->ops = ppn_xcalloc(b->device->n_peers, sizeof(*b->ops));
	make_ops(b->device, b->ops);
	memset(b->secret.bytes, 0x5a, sizeof(b->secret.bytes));
	b->set = (struct ppn_wg_set){
		.private_key = &b->secret,
		.set_listen_port = true,
		.listen_port = 51820,
		.ops = b->ops,
		.n_ops = b->device->n_peers,
	};
	b->capture = (struct capture){.max_size = max_size};
	assert_int_equal(ppn_wg_genl_build_set(FAMILY, "ppna0", &b->set, max_size, capture_message,
					       &b->capture),
			 0);
}

static void built_release(struct built *b)
{
	capture_release(&b->capture);
	decoded_release(&b->decoded);
	free(b->ops);
	ppn_wg_device_free(b->device);
}

/* Decodes every message; checks the device attributes sit in the first one only and that
 * each message's op range is what it holds. */
static void decode_all(struct built *b)
{
	for (size_t m = 0; m < b->capture.n_messages; m++) {
		struct nlattr *tb[WGDEVICE_A_MAX + 1];
		size_t before = b->decoded.n_parts;

		decode_message(&b->decoded, b->capture.messages[m].data, m, tb);
		assert_int_equal(tb[WGDEVICE_A_PRIVATE_KEY] != NULL, m == 0);
		assert_int_equal(tb[WGDEVICE_A_LISTEN_PORT] != NULL, m == 0);
		if (m == 0) {
			assert_memory_equal(nla_data(tb[WGDEVICE_A_PRIVATE_KEY]), b->secret.bytes,
					    WG_KEY_LEN);
			assert_int_equal(nla_get_u16(tb[WGDEVICE_A_LISTEN_PORT]), 51820);
		}
		assert_int_equal(b->capture.messages[m].count, b->decoded.n_parts - before);
	}
}

static void test_wg_genlset_split_large_set(void **unused)
{
	struct built b = {0};
	size_t at = 0;

	build(&b, PPN_WG_GENL_MESSAGE_MAX);
	assert_true(b.capture.n_messages >= 5);
	decode_all(&b);

	for (size_t i = 0; i < b.set.n_ops; i++)
		at = check_op(&b.decoded, at, &b.ops[i]);
	assert_int_equal(at, b.decoded.n_parts);

	/* The big peer spans several messages; exactly one part of it replaces. */
	assert_true(b.decoded.parts[0].message == 0);
	assert_true(b.capture.messages[1].first == 0);
	built_release(&b);
}

/* A message ends only when what came next did not fit: a split peer's next allowed-ip, or the
 * next peer's first part. */
static void test_wg_genlset_messages_are_full(void **unused)
{
	struct built b = {0};

	build(&b, PPN_WG_GENL_MESSAGE_MAX);
	decode_all(&b);

	for (size_t m = 0; m + 1 < b.capture.n_messages; m++) {
		const struct nlmsghdr *hdr = b.capture.messages[m].data;
		size_t left = PPN_WG_GENL_MESSAGE_MAX - hdr->nlmsg_len;
		const struct message *next = &b.capture.messages[m + 1];
		const struct message *this = &b.capture.messages[m];
		bool continued = this->count > 0 && next->first == this->first + this->count - 1;

		if (continued) {
			const struct ppn_wg_peer_op *op = &b.ops[next->first];
			size_t sent = 0;

			/* The allowed-ips of that peer put so far: the next one did not fit. */
			for (size_t p = 0; p < b.decoded.n_parts; p++)
				if (b.decoded.parts[p].message <= m &&
				    memcmp(b.decoded.parts[p].key.bytes, op->peer->public_key.bytes,
					   PPN_KEY_LEN) == 0)
					sent += b.decoded.parts[p].n_ips;
			assert_true(left < ip_size(&op->peer->allowed_ips[sent]));
		} else {
			assert_true(left < first_part_size(&b.ops[next->first]));
		}
	}
	built_release(&b);
}

/* Other limits split elsewhere, never wrongly: a small one makes hundreds of messages. */
static void test_wg_genlset_small_limit(void **unused)
{
	struct built b = {0};
	size_t at = 0;

	build(&b, 1024);
	assert_true(b.capture.n_messages > 200);
	decode_all(&b);
	for (size_t i = 0; i < b.set.n_ops; i++)
		at = check_op(&b.decoded, at, &b.ops[i]);
	assert_int_equal(at, b.decoded.n_parts);
	built_release(&b);
}

static void test_wg_genlset_too_small(void **unused)
{
	struct ppn_wg_device *device = make_device();
	struct ppn_wg_peer_op op = {.peer = &device->peers[1],
				    .verb = PPN_WG_PEER_ADD,
				    .fields = PPN_WG_FIELD_ALLOWED_IPS};
	struct ppn_wg_set set = {.ops = &op, .n_ops = 1};
	struct capture capture = {.max_size = 96};

	assert_int_equal(
		ppn_wg_genl_build_set(FAMILY, "ppna0", &set, 96, capture_message, &capture),
		-EMSGSIZE);
	capture_release(&capture);
	ppn_wg_device_free(device);
}

/* An error from emit stops the building and is returned. */
static void test_wg_genlset_emit_error(void **unused)
{
	struct ppn_wg_device *device = make_device();
	struct ppn_wg_peer_op *ops = ppn_xcalloc(device->n_peers, sizeof(*ops));
	struct ppn_wg_set set = {.ops = ops, .n_ops = device->n_peers};
	struct capture capture = {.max_size = PPN_WG_GENL_MESSAGE_MAX, .fail_at = 2};

	make_ops(device, ops);
	assert_int_equal(ppn_wg_genl_build_set(FAMILY, "ppna0", &set, PPN_WG_GENL_MESSAGE_MAX,
					       capture_message, &capture),
			 -EIO);
	assert_int_equal(capture.n_messages, 1);
	capture_release(&capture);
	free(ops);
	ppn_wg_device_free(device);
}

/* Only the key: one message, no peers attribute at all. */
static void test_wg_genlset_key_only(void **unused)
{
	struct ppn_secret_key secret;
	struct ppn_wg_set set = {.private_key = &secret};
	struct capture capture = {.max_size = PPN_WG_GENL_MESSAGE_MAX};
	struct decoded decoded = {0};
	struct nlattr *tb[WGDEVICE_A_MAX + 1];

	memset(secret.bytes, 0x11, sizeof(secret.bytes));
	assert_int_equal(ppn_wg_genl_build_set(FAMILY, "ppna0", &set, PPN_WG_GENL_MESSAGE_MAX,
					       capture_message, &capture),
			 0);
	assert_int_equal(capture.n_messages, 1);
	decode_message(&decoded, capture.messages[0].data, 0, tb);
	assert_non_null(tb[WGDEVICE_A_PRIVATE_KEY]);
	assert_null(tb[WGDEVICE_A_PEERS]);
	assert_null(tb[WGDEVICE_A_LISTEN_PORT]);
	assert_int_equal(decoded.n_parts, 0);
	capture_release(&capture);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wg_genlset_split_large_set),
		cmocka_unit_test(test_wg_genlset_messages_are_full),
		cmocka_unit_test(test_wg_genlset_small_limit),
		cmocka_unit_test(test_wg_genlset_too_small),
		cmocka_unit_test(test_wg_genlset_emit_error),
		cmocka_unit_test(test_wg_genlset_key_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
