/* SPDX-License-Identifier: MIT */
/*
 * wg-kernel-observe: the kernel backend of the WireGuard plugin against real kernel WireGuard.
 * It runs as /init's payload in a QEMU guest (see run.sh), statically linked.
 *
 * As fixture it creates two interfaces through rtnetlink and configures them with
 * WG_CMD_SET_DEVICE, both built from the very device values the observation must then give
 * back:
 *   ppnw-k0  a known private key, a port, three peers with endpoints, keepalives and
 *            allowed-ips, an address per family, three routes, MTU 1380, up;
 *   ppnw-k1  one peer with 2,000 allowed-ips and 50 more peers: the kernel must split the
 *            dump over several messages and split that one peer between two of them.
 * Then it observes both with the plugin's own code (probe, generic netlink, rtnetlink) and
 * compares every fact.
 *
 * Then the other way round: the plugin's table (open, observe, plan, apply, as the engine
 * calls it) applies hand-built desired devices to interfaces that do not exist yet, which it
 * creates through rtnetlink:
 *   ppna-k2  two peers, an address per family, forwarding, with a key born in a state
 *            directory of the test's;
 *   ppna-k3  one peer with 2,000 allowed-ips and 50 more peers: a set that the plugin must
 *            split over several messages, that one peer across two of them.
 * Each is observed back equal, and a second plan finds nothing to do.
 *
 * The last line is "PPN-WG-KERNEL: PASS" or "PPN-WG-KERNEL: FAIL".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <linux/wireguard.h>
#include <net/if.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "diff.h"
#include "keys.h"
#include "log.h"
#include "plan.h"
#include "plugin.h"
#include "util.h"
#include "wg-text.h"
#include "wgconf.h"

/* The plugin's table, compiled into this program rather than loaded. */
extern const struct ppn_plugin ppn_plugin;

#define STATE_DIR "/ppna-state"

#define PRIVATE_KEY "0L5mROx5ID6c1KqPzb4tllusUV+l/DhK7swwt8B/dGM="
#define PUBLIC_KEY  "kR3zEVzc5ivG+Z5Uu9wpSjAeYGVobyWDTV9zikkuGnE=" /* wg pubkey, on the host */
#define PEER_A      "grf1XWPe4HFyozDf3BXNThW6LXvVOUQ0z7+sFRV7TB0="
#define PEER_B      "4LSedMcoRzT9NJvEMxn1MT4VVkaqQVjCnQnm9/dfik0="
#define PEER_C      "L1uH8L9/C2MOYf4UNO+tFoucrO3TrleKUdUzkUVkFjE="

#define BIG_ALLOWED_IPS 2000
#define MORE_PEERS      50
#define IPS_PER_MESSAGE 400 /* keeps each fixture message well under libnl's 32 KiB send buffer */

struct fixture {
	struct nl_sock *route;
	struct nl_sock *genl;
	int family;
};

static int failures;

_printf_(2, 3) static void check(bool ok, const char *fmt, ...)
{
	va_list args;

	printf("%s: ", ok ? "ok" : "FAILED");
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	putchar('\n');
	if (!ok)
		failures++;
}

static struct ppn_key key_from(const char *base64)
{
	struct ppn_key key;

	if (ppn_key_from_base64(&key, base64) < 0)
		abort();
	return key;
}

static struct ppn_prefix prefix_from(const char *text)
{
	struct ppn_prefix prefix = {0};
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');

	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - text), text);
	prefix.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(prefix.family, addr, prefix.addr) != 1)
		abort();
	prefix.len = (uint8_t)atoi(slash + 1);
	return prefix;
}

static struct ppn_wg_peer *add_peer(struct ppn_wg_device *device, const struct ppn_key *key,
				    const char *host, uint16_t port, uint16_t keepalive_s)
{
	struct ppn_wg_peer *peer = ppn_wg_device_add_peer(device, key);

	peer->endpoint.host = host ? ppn_xstrdup(host) : NULL;
	peer->endpoint.port = port;
	peer->keepalive_s = keepalive_s;
	return peer;
}

static void add_ips(struct ppn_wg_peer *peer, const char *const *texts, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct ppn_prefix prefix = prefix_from(texts[i]);

		ppn_wg_peer_add_allowed_ip(peer, &prefix);
	}
}

/* ppnw-k0: what the fixture sets and the observation must give back, fact for fact. */
static struct ppn_wg_device *small_device(void)
{
	static const char *const a_ips[] = {"10.99.0.2/32", "fd99::2/128"};
	static const char *const b_ips[] = {"10.99.2.0/24", "fd99:2::/64"};
	static const char *const c_ips[] = {"10.99.3.0/24", "10.99.4.0/24"};
	static const char *const addresses[] = {"10.99.0.1/24", "fd99::1/64"};
	static const char *const routes[] = {"10.99.2.0/24", "10.99.3.0/24", "fd99:2::/64"};
	struct ppn_wg_device *device = ppn_wg_device_new("ppnw-k0");
	struct ppn_key a = key_from(PEER_A), b = key_from(PEER_B), c = key_from(PEER_C);

	device->present = device->up = device->has_public_key = true;
	device->public_key = key_from(PUBLIC_KEY);
	device->listen_port = 51820;
	device->mtu = 1380;
	add_ips(add_peer(device, &a, "10.203.0.2", 51821, 0), a_ips, PPN_ARRAY_SIZE(a_ips));
	add_ips(add_peer(device, &b, "192.0.2.7", 51820, 25), b_ips, PPN_ARRAY_SIZE(b_ips));
	add_ips(add_peer(device, &c, "2001:db8::3", 51899, 15), c_ips, PPN_ARRAY_SIZE(c_ips));
	for (size_t i = 0; i < PPN_ARRAY_SIZE(addresses); i++) {
		struct ppn_prefix prefix = prefix_from(addresses[i]);

		ppn_wg_device_add_address(device, &prefix);
	}
	for (size_t i = 0; i < PPN_ARRAY_SIZE(routes); i++) {
		struct ppn_prefix prefix = prefix_from(routes[i]);

		ppn_wg_device_add_route(device, &prefix);
	}
	ppn_wg_device_normalize(device);
	return device;
}

/* Distinct keys that are easy to make: byte i of key n is a mix of both. */
static struct ppn_key numbered_key(unsigned n)
{
	struct ppn_key key;

	for (unsigned i = 0; i < PPN_KEY_LEN; i++)
		key.bytes[i] = (uint8_t)(n * 151 + i * 29 + 7);
	return key;
}

/* ppnw-k1: no private key, down, no addresses; a dump too large for one message. */
static struct ppn_wg_device *big_device(void)
{
	struct ppn_wg_device *device = ppn_wg_device_new("ppnw-k1");
	struct ppn_key key = numbered_key(0);
	struct ppn_wg_peer *big;

	device->present = true;
	device->listen_port = 51821;
	device->mtu = 1420;
	big = add_peer(device, &key, "198.51.100.1", 51820, 0);
	for (unsigned i = 0; i < BIG_ALLOWED_IPS; i++) {
		struct ppn_prefix prefix = {
			.family = AF_INET, .addr = {10, 100, i / 256, i % 256}, .len = 32};

		ppn_wg_peer_add_allowed_ip(big, &prefix);
	}
	for (unsigned n = 1; n <= MORE_PEERS; n++) {
		struct ppn_prefix v4 = {.family = AF_INET, .addr = {10, 101, n, 0}, .len = 24};
		struct ppn_prefix v6 = {
			.family = AF_INET6, .addr = {0xfd, 0, 1, 1, 0, n}, .len = 64};
		struct ppn_wg_peer *peer;

		key = numbered_key(n);
		peer = add_peer(device, &key, NULL, 0, n % 2 ? 0 : 20);
		ppn_wg_peer_add_allowed_ip(peer, &v4);
		ppn_wg_peer_add_allowed_ip(peer, &v6);
	}
	ppn_wg_device_normalize(device);
	return device;
}

static int fixture_open(struct fixture *fx)
{
	fx->route = nl_socket_alloc();
	fx->genl = nl_socket_alloc();
	if (!fx->route || !fx->genl)
		return -NLE_NOMEM;
	if (nl_connect(fx->route, NETLINK_ROUTE) < 0 || genl_connect(fx->genl) < 0)
		return -NLE_BAD_SOCK;
	fx->family = genl_ctrl_resolve(fx->genl, WG_GENL_NAME);
	return fx->family < 0 ? fx->family : 0;
}

static int create_link(struct fixture *fx, const char *ifname)
{
	struct rtnl_link *link = rtnl_link_alloc();
	int r;

	rtnl_link_set_name(link, ifname);
	r = rtnl_link_set_type(link, "wireguard");
	if (r == 0)
		r = rtnl_link_add(fx->route, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(link);
	return r;
}

static int link_index(struct fixture *fx, const char *ifname)
{
	struct rtnl_link *link;
	int r = rtnl_link_get_kernel(fx->route, 0, ifname, &link);

	if (r < 0)
		return r;
	r = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return r;
}

static int set_link(struct fixture *fx, const struct ppn_wg_device *device)
{
	struct rtnl_link *link, *change = rtnl_link_alloc();
	int r = rtnl_link_get_kernel(fx->route, 0, device->ifname, &link);

	if (r < 0) {
		rtnl_link_put(change);
		return r;
	}
	rtnl_link_set_mtu(change, device->mtu);
	if (device->up)
		rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(fx->route, link, change, 0);
	rtnl_link_put(change);
	rtnl_link_put(link);
	return r;
}

static struct nl_addr *nl_prefix(const struct ppn_prefix *prefix)
{
	struct nl_addr *addr =
		nl_addr_build(prefix->family, prefix->addr, prefix->family == AF_INET ? 4 : 16);

	nl_addr_set_prefixlen(addr, prefix->len);
	return addr;
}

static int add_address(struct fixture *fx, int ifindex, const struct ppn_prefix *prefix)
{
	struct rtnl_addr *addr = rtnl_addr_alloc();
	struct nl_addr *local = nl_prefix(prefix);
	int r;

	rtnl_addr_set_ifindex(addr, ifindex);
	rtnl_addr_set_local(addr, local);
	rtnl_addr_set_flags(addr, IFA_F_NODAD);
	r = rtnl_addr_add(fx->route, addr, 0);
	nl_addr_put(local);
	rtnl_addr_put(addr);
	return r;
}

static int add_route(struct fixture *fx, int ifindex, const struct ppn_prefix *prefix)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *hop = rtnl_route_nh_alloc();
	struct nl_addr *dst = nl_prefix(prefix);
	int r;

	rtnl_route_set_family(route, (uint8_t)prefix->family);
	rtnl_route_set_dst(route, dst);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, RTPROT_BOOT);
	rtnl_route_set_scope(route, RT_SCOPE_LINK);
	rtnl_route_nh_set_ifindex(hop, ifindex);
	rtnl_route_add_nexthop(route, hop);
	r = rtnl_route_add(fx->route, route, NLM_F_CREATE | NLM_F_EXCL);
	nl_addr_put(dst);
	rtnl_route_put(route);
	return r;
}

static struct nl_msg *set_message(struct fixture *fx, const char *ifname)
{
	struct nl_msg *msg = nlmsg_alloc_size(64 * 1024);

	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, fx->family, 0, 0, WG_CMD_SET_DEVICE,
			 WG_GENL_VERSION))
		abort();
	nla_put_string(msg, WGDEVICE_A_IFNAME, ifname);
	return msg;
}

static int send_and_ack(struct fixture *fx, struct nl_msg *msg)
{
	int r = nl_send_auto(fx->genl, msg);

	nlmsg_free(msg);
	return r < 0 ? r : nl_wait_for_ack(fx->genl);
}

/* The device message: port, the private key when there is one, and no peers left over. */
static int set_interface(struct fixture *fx, const struct ppn_wg_device *device,
			 const char *private_key)
{
	struct nl_msg *msg = set_message(fx, device->ifname);

	nla_put_u16(msg, WGDEVICE_A_LISTEN_PORT, device->listen_port);
	nla_put_u32(msg, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
	if (private_key) {
		struct ppn_key secret = key_from(private_key);

		nla_put(msg, WGDEVICE_A_PRIVATE_KEY, PPN_KEY_LEN, secret.bytes);
		ppn_wipe(&secret, sizeof(secret));
	}
	return send_and_ack(fx, msg);
}

static void put_endpoint(struct nl_msg *msg, const struct ppn_endpoint *endpoint)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(endpoint->port)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(endpoint->port)};

	if (inet_pton(AF_INET, endpoint->host, &v4.sin_addr) == 1)
		nla_put(msg, WGPEER_A_ENDPOINT, sizeof(v4), &v4);
	else if (inet_pton(AF_INET6, endpoint->host, &v6.sin6_addr) == 1)
		nla_put(msg, WGPEER_A_ENDPOINT, sizeof(v6), &v6);
	else
		abort();
}

static void put_allowed_ip(struct nl_msg *msg, const struct ppn_prefix *prefix)
{
	struct nlattr *ip = nla_nest_start(msg, NLA_F_NESTED);

	nla_put_u16(msg, WGALLOWEDIP_A_FAMILY, (uint16_t)prefix->family);
	nla_put(msg, WGALLOWEDIP_A_IPADDR, prefix->family == AF_INET ? 4 : 16, prefix->addr);
	nla_put_u8(msg, WGALLOWEDIP_A_CIDR_MASK, prefix->len);
	nla_nest_end(msg, ip);
}

/* One message per IPS_PER_MESSAGE allowed-ips of a peer: the first one creates the peer, the
 * others add to it, as a configuration tool splits a large peer. */
static int set_peer_chunk(struct fixture *fx, const char *ifname, const struct ppn_wg_peer *peer,
			  size_t first)
{
	struct nl_msg *msg = set_message(fx, ifname);
	struct nlattr *peers = nla_nest_start(msg, WGDEVICE_A_PEERS | NLA_F_NESTED);
	struct nlattr *one = nla_nest_start(msg, NLA_F_NESTED);
	size_t end = first + IPS_PER_MESSAGE;
	struct nlattr *ips;

	nla_put(msg, WGPEER_A_PUBLIC_KEY, PPN_KEY_LEN, peer->public_key.bytes);
	if (first == 0) {
		nla_put_u32(msg, WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS);
		nla_put_u16(msg, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, peer->keepalive_s);
		if (peer->endpoint.host)
			put_endpoint(msg, &peer->endpoint);
	}
	ips = nla_nest_start(msg, WGPEER_A_ALLOWEDIPS | NLA_F_NESTED);
	for (size_t i = first; i < end && i < peer->n_allowed_ips; i++)
		put_allowed_ip(msg, &peer->allowed_ips[i]);
	nla_nest_end(msg, ips);
	nla_nest_end(msg, one);
	nla_nest_end(msg, peers);
	return send_and_ack(fx, msg);
}

static int set_peers(struct fixture *fx, const struct ppn_wg_device *device)
{
	for (size_t p = 0; p < device->n_peers; p++) {
		const struct ppn_wg_peer *peer = &device->peers[p];

		for (size_t first = 0; first == 0 || first < peer->n_allowed_ips;
		     first += IPS_PER_MESSAGE) {
			int r = set_peer_chunk(fx, device->ifname, peer, first);

			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int set_addresses_and_routes(struct fixture *fx, const struct ppn_wg_device *device)
{
	int ifindex = link_index(fx, device->ifname);
	int r = ifindex < 0 ? ifindex : 0;

	for (size_t i = 0; r == 0 && i < device->n_addresses; i++)
		r = add_address(fx, ifindex, &device->addresses[i]);
	for (size_t i = 0; r == 0 && i < device->n_routes; i++)
		r = add_route(fx, ifindex, &device->routes[i]);
	return r;
}

/* Makes the kernel hold `device`: link, WireGuard configuration, link state, addresses, routes. */
static int configure(struct fixture *fx, const struct ppn_wg_device *device,
		     const char *private_key)
{
	int r = create_link(fx, device->ifname);

	if (r == 0)
		r = set_interface(fx, device, private_key);
	if (r == 0)
		r = set_peers(fx, device);
	if (r == 0)
		r = set_link(fx, device);
	if (r == 0)
		r = set_addresses_and_routes(fx, device);
	check(r == 0, "fixture: '%s' configured through rtnetlink and WG_CMD_SET_DEVICE%s%s",
	      device->ifname, r ? ": " : "", r ? nl_geterror(r) : "");
	return r;
}

static int count_message(struct nl_msg *msg, void *arg)
{
	++*(unsigned *)arg;
	return NL_OK;
}

/* How many messages the kernel's dump of ifname takes, read independently of the plugin. */
static unsigned dump_messages(struct fixture *fx, const char *ifname)
{
	struct nl_msg *msg = nlmsg_alloc();
	unsigned count = 0;

	genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, fx->family, 0, NLM_F_DUMP, WG_CMD_GET_DEVICE,
		    WG_GENL_VERSION);
	nla_put_string(msg, WGDEVICE_A_IFNAME, ifname);
	nl_socket_modify_cb(fx->genl, NL_CB_VALID, NL_CB_CUSTOM, count_message, &count);
	if (nl_send_auto(fx->genl, msg) < 0 || nl_recvmsgs_default(fx->genl) < 0)
		count = 0;
	nl_socket_modify_cb(fx->genl, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
	nlmsg_free(msg);
	return count;
}

/* Compares the text forms line by line and shows the first differences. */
static void compare(const char *what, const struct ppn_wg_device *want,
		    const struct ppn_wg_device *got)
{
	char *want_text = wg_text_render(want), *got_text = wg_text_render(got);
	char *want_line, *got_line, *want_save = NULL, *got_save = NULL;
	unsigned lines = 0, shown = 0;
	bool same = strcmp(want_text, got_text) == 0;

	for (char *w = want_text; *w; w++)
		lines += *w == '\n';
	check(same, "'%s': %s, all %u facts", want->ifname, what, lines);

	want_line = strtok_r(want_text, "\n", &want_save);
	got_line = strtok_r(got_text, "\n", &got_save);
	while (!same && shown < 10 && (want_line || got_line)) {
		if (!want_line || !got_line || strcmp(want_line, got_line) != 0) {
			printf("  want: %s\n  got:  %s\n", want_line ? want_line : "(end)",
			       got_line ? got_line : "(end)");
			shown++;
		}
		want_line = want_line ? strtok_r(NULL, "\n", &want_save) : NULL;
		got_line = got_line ? strtok_r(NULL, "\n", &got_save) : NULL;
	}
	free(want_text);
	free(got_text);
}

static struct ppn_wg_device *observe(const char *ifname, const struct ppn_wg_backend *forced,
				     const struct ppn_wg_backend *expected_backend)
{
	const struct ppn_wg_backend *backend = NULL;
	struct ppn_wg_device *device = NULL;
	int r = ppn_wg_observe(ifname, forced, &device, &backend);

	check(r == 0, "'%s' observed%s%s", ifname, r ? ": " : "", r ? strerror(-r) : "");
	if (r < 0)
		return NULL;
	check(backend == expected_backend, "'%s' observed through %s", ifname,
	      backend ? backend->description : "no backend (absent)");
	return device;
}

static void test_small(struct fixture *fx)
{
	struct ppn_wg_device *want = small_device(), *got, *again;

	if (configure(fx, want, PRIVATE_KEY) == 0 &&
	    (got = observe("ppnw-k0", NULL, &ppn_wg_backend_kernel))) {
		compare("observed equals the configuration", want, got);
		check(got->has_public_key && ppn_key_cmp(&got->public_key, &want->public_key) == 0,
		      "the public key the kernel derived is wg pubkey's " PUBLIC_KEY);

		again = observe("ppnw-k0", &ppn_wg_backend_kernel, &ppn_wg_backend_kernel);
		if (again)
			compare("observing again gives the same", got, again);
		ppn_wg_device_free(again);
		ppn_wg_device_free(got);
	}
	ppn_wg_device_free(want);
}

static void test_split_dump(struct fixture *fx)
{
	struct ppn_wg_device *want = big_device(), *got;
	unsigned messages;

	if (configure(fx, want, NULL) != 0) {
		ppn_wg_device_free(want);
		return;
	}
	messages = dump_messages(fx, want->ifname);
	check(messages >= 2, "the kernel split the dump of '%s' over %u messages", want->ifname,
	      messages);

	got = observe(want->ifname, NULL, &ppn_wg_backend_kernel);
	if (got) {
		compare("observed equals the configuration", want, got);
		check(got->n_peers == MORE_PEERS + 1 &&
			      ppn_wg_device_find_peer(got, &want->peers[0].public_key),
		      "%zu peers observed", got->n_peers);
	}
	ppn_wg_device_free(got);
	ppn_wg_device_free(want);
}

static void test_absent_and_forced(void)
{
	struct ppn_wg_device *device = observe("ppnw-k9", NULL, NULL);
	const struct ppn_wg_backend *backend;
	int r;

	check(device && !device->present, "'ppnw-k9', which does not exist, observed as absent");
	ppn_wg_device_free(device);

	device = NULL;
	r = ppn_wg_observe("ppnw-k0", &ppn_wg_backend_userspace, &device, &backend);
	check(r == -ENODEV, "forcing the userspace backend onto a kernel interface fails: %s",
	      strerror(-r));
	ppn_wg_device_free(device);
}

/* ---- Applying through the plugin ---- */

/* ppna-k2: what the plugin must create; the public key is the state directory's. */
static struct ppn_wg_device *apply_small_device(const struct ppn_key *public_key)
{
	static const char *const a_ips[] = {"10.98.1.2/32", "fd98::2/128"};
	static const char *const b_ips[] = {"10.98.2.0/24"};
	static const char *const addresses[] = {"10.98.1.1/32", "fd98::1/128"};
	struct ppn_wg_device *device = ppn_wg_device_new("ppna-k2");
	struct ppn_key a = key_from(PEER_A), b = key_from(PEER_B);

	device->present = device->up = device->has_public_key = device->forwarding = true;
	device->public_key = *public_key;
	device->listen_port = 51822;
	device->mtu = 1380;
	add_ips(add_peer(device, &a, "10.203.0.2", 51821, 25), a_ips, PPN_ARRAY_SIZE(a_ips));
	add_ips(add_peer(device, &b, NULL, 0, 0), b_ips, PPN_ARRAY_SIZE(b_ips));
	for (size_t i = 0; i < PPN_ARRAY_SIZE(addresses); i++) {
		struct ppn_prefix prefix = prefix_from(addresses[i]);

		ppn_wg_device_add_address(device, &prefix);
	}
	return device;
}

/* ppna-k3: the big set, with the node's key and an address. */
static struct ppn_wg_device *apply_big_device(const struct ppn_key *public_key)
{
	struct ppn_wg_device *device = big_device();
	struct ppn_prefix address = prefix_from("10.98.3.1/32");

	free(device->ifname);
	device->ifname = ppn_xstrdup("ppna-k3");
	device->up = device->has_public_key = true;
	device->public_key = *public_key;
	ppn_wg_device_add_address(device, &address);
	return device;
}

/* Every allowed-ip gets a route, as the mesh compiler asks. */
static void add_routes(struct ppn_wg_device *device)
{
	for (size_t i = 0; i < device->n_peers; i++)
		for (size_t j = 0; j < device->peers[i].n_allowed_ips; j++)
			ppn_wg_device_add_route(device, &device->peers[i].allowed_ips[j]);
	ppn_wg_device_normalize(device);
}

static int open_plugin(const char *ifname, void **state)
{
	struct ppn_plugin_options options = {
		.node = "ppna-kernel",
		.state_dir = STATE_DIR,
		.ifname = ifname,
	};

	return ppn_plugin.open(&options, state);
}

/* One engine pass: open, observe, plan, apply every action; returns the failed count. */
static size_t plugin_pass(const struct ppn_wg_device *device, size_t *n_actions)
{
	struct ppn_desired desired = {.wireguard = device};
	struct ppn_action **actions = NULL;
	struct ppn_plan plan;
	int *results = NULL;
	void *state = NULL;
	size_t failed = 0;
	int r = open_plugin(device->ifname, &state);

	ppn_plan_init(&plan);
	if (r == 0)
		r = ppn_plugin.observe(state, &desired);
	if (r == 0)
		r = ppn_plugin.plan(state, &desired, &plan);
	*n_actions = plan.n_actions;
	if (r == 0 && plan.n_actions > 0) {
		actions = ppn_xcalloc(plan.n_actions, sizeof(*actions));
		results = ppn_xcalloc(plan.n_actions, sizeof(*results));
		for (size_t i = 0; i < plan.n_actions; i++)
			actions[i] = &plan.actions[i];
		ppn_plugin.apply(state, &desired, actions, plan.n_actions, results);
		for (size_t i = 0; i < plan.n_actions; i++)
			failed += results[i] < 0;
	}
	if (r < 0)
		failed = SIZE_MAX;
	free(actions);
	free(results);
	ppn_plan_release(&plan);
	ppn_plugin.close(state);
	return failed;
}

/* Observes with a fresh plugin state and compares what it read with want. */
static void check_observed(const struct ppn_wg_device *want)
{
	struct ppn_desired desired = {.wireguard = want};
	const struct ppn_wg_device *got;
	void *state = NULL;
	int r = open_plugin(want->ifname, &state);

	if (r == 0)
		r = ppn_plugin.observe(state, &desired);
	check(r == 0, "'%s' observed after apply", want->ifname);
	if (r == 0) {
		got = ppn_wg_plugin_observed(state);
		compare("observed after apply equals the desired device", want, got);
		check(got->forwarding == want->forwarding, "'%s' forwarding %s", want->ifname,
		      got->forwarding ? "on" : "off");
	}
	ppn_plugin.close(state);
}

static int count_messages(struct nl_msg *msg, size_t first, size_t count, void *arg)
{
	++*(size_t *)arg;
	return 0;
}

/* How many messages the plugin's builder makes of the whole device, for the log. */
static size_t messages_for(const struct ppn_wg_device *device)
{
	struct ppn_wg_peer_op *ops = ppn_xcalloc(device->n_peers, sizeof(*ops));
	struct ppn_wg_set set = {.ops = ops, .n_ops = device->n_peers};
	size_t messages = 0;

	for (size_t i = 0; i < device->n_peers; i++)
		ops[i] = (struct ppn_wg_peer_op){PPN_WG_PEER_ADD, &device->peers[i],
						 PPN_WG_FIELD_ALLOWED_IPS};
	if (ppn_wg_genl_build_set(32, device->ifname, &set, PPN_WG_GENL_MESSAGE_MAX, count_messages,
				  &messages) < 0)
		messages = 0;
	free(ops);
	return messages;
}

static void test_apply(struct ppn_wg_device *want, const char *what)
{
	size_t n_actions = 0, failed;

	add_routes(want);
	failed = plugin_pass(want, &n_actions);
	check(failed == 0 && n_actions > 0, "'%s' (%s): %zu actions applied, %zu failed",
	      want->ifname, what, n_actions, failed);
	check_observed(want);
	failed = plugin_pass(want, &n_actions);
	check(failed == 0 && n_actions == 0, "'%s': a second pass plans %zu actions", want->ifname,
	      n_actions);
}

static void test_apply_through_plugin(void)
{
	struct ppn_wg_device *small, *big;
	struct ppn_key public_key;
	int r = mkdir(STATE_DIR, 0700) < 0 ? -errno : 0;

	if (r == 0)
		r = ppn_keys_generate(STATE_DIR, false, &public_key);
	check(r == 0, "a key pair born in '%s'%s%s", STATE_DIR, r ? ": " : "",
	      r ? strerror(-r) : "");
	if (r < 0)
		return;

	small = apply_small_device(&public_key);
	test_apply(small, "two peers, both families, forwarding");
	ppn_wg_device_free(small);

	big = apply_big_device(&public_key);
	check(messages_for(big) >= 2, "the big set takes %zu messages of at most %d bytes",
	      messages_for(big), PPN_WG_GENL_MESSAGE_MAX);
	test_apply(big, "2,000 allowed-ips on one peer, 50 more peers");
	ppn_wg_device_free(big);
}

int main(void)
{
	struct fixture fx = {0};
	int r = fixture_open(&fx);

	check(r == 0, "netlink sockets open, generic netlink family '%s' resolved%s%s",
	      WG_GENL_NAME, r ? ": " : "", r ? nl_geterror(r) : "");
	if (r == 0) {
		test_small(&fx);
		test_split_dump(&fx);
		test_absent_and_forced();
		test_apply_through_plugin();
	}
	nl_socket_free(fx.route);
	nl_socket_free(fx.genl);

	printf("PPN-WG-KERNEL: %s (%d failed)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
