/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fileset.h"
#include "manifest.h"
#include "mesh.h"
#include "model.h"
#include "util.h"
#include "wgconf.h"

/* ---- Building fleets by hand ---- */

static struct ppn_fleet *fleet_new(const char *overlay)
{
	struct ppn_fleet *fleet = ppn_fleet_new();

	assert_non_null(fleet);
	fleet->network.name = ppn_xstrdup("test");
	fleet->network.interface = ppn_xstrdup("ppn0");
	fleet->network.listen_port = 51820;
	fleet->network.mtu = 1420;
	assert_int_equal(ppn_prefix_parse(&fleet->network.overlay, overlay), 0);
	return fleet;
}

/* A key unique to a fleet's index i, different from any name order. */
static struct ppn_key test_key(size_t i)
{
	struct ppn_key key;

	for (size_t b = 0; b < PPN_KEY_LEN; b++)
		key.bytes[b] = (uint8_t)((i * 37 + b * 11 + 5) ^ (i >> 8));
	key.bytes[0] = (uint8_t)(255 - (i & 0xff));
	key.bytes[1] = (uint8_t)(i >> 8);
	return key;
}

/* endpoint: "host:port" or NULL; an IPv6 literal goes without brackets here. */
static struct ppn_peer *fleet_add_peer(struct ppn_fleet *fleet, const char *name,
				       const char *address, const char *host, uint16_t port,
				       bool relay)
{
	size_t cap = fleet->n_peers;
	struct ppn_peer *peer;

	ppn_grow(&fleet->peers, &cap, fleet->n_peers + 1, sizeof(*fleet->peers));
	peer = &fleet->peers[fleet->n_peers];
	*peer = (struct ppn_peer){
		.name = ppn_xstrdup(name),
		.public_key = test_key(fleet->n_peers),
		.endpoint = {.host = host ? ppn_xstrdup(host) : NULL, .port = port},
		.relay = relay,
		.keepalive_s = PPN_DEFAULT_KEEPALIVE,
	};
	fleet->n_peers++;
	assert_int_equal(ppn_prefix_parse(&peer->address, address), 0);
	return peer;
}

static int peer_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ppn_peer *)a)->name, ((const struct ppn_peer *)b)->name);
}

/* The loader keeps peers sorted by name; the lookups bisect on it. */
static void fleet_seal(struct ppn_fleet *fleet)
{
	qsort(fleet->peers, fleet->n_peers, sizeof(*fleet->peers), peer_name_cmp);
}

static struct ppn_wg_device *compile(const struct ppn_fleet *fleet, const char *node)
{
	struct ppn_wg_device *device = NULL;

	assert_int_equal(ppn_mesh_compile(fleet, node, &device), 0);
	assert_non_null(device);
	return device;
}

/* ---- Looking at a result ---- */

static const struct ppn_wg_peer *find_peer(const struct ppn_wg_device *device, const char *name)
{
	for (size_t i = 0; i < device->n_peers; i++)
		if (device->peers[i].name && strcmp(device->peers[i].name, name) == 0)
			return &device->peers[i];
	return NULL;
}

/* "a/len, b/len", to compare a peer's allowed-ips in one assertion. */
static void allowed_ips_text(const struct ppn_wg_peer *peer, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < peer->n_allowed_ips; i++) {
		char one[PPN_PREFIX_STRLEN];

		ppn_prefix_to_string(&peer->allowed_ips[i], false, one);
		used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", one);
		assert_true(used < size);
	}
}

static void assert_peer(const struct ppn_wg_device *device, const char *name,
			const char *allowed_ips, const char *host, uint16_t port,
			uint16_t keepalive_s)
{
	const struct ppn_wg_peer *peer = find_peer(device, name);
	char text[4096];

	assert_non_null(peer);
	allowed_ips_text(peer, text, sizeof(text));
	assert_string_equal(text, allowed_ips);
	if (host) {
		assert_non_null(peer->endpoint.host);
		assert_string_equal(peer->endpoint.host, host);
		assert_int_equal(peer->endpoint.port, port);
	} else {
		assert_null(peer->endpoint.host);
	}
	assert_int_equal(peer->keepalive_s, keepalive_s);
}

static void assert_prefix_list(const struct ppn_prefix *prefixes, size_t count,
			       const char *expected)
{
	struct ppn_wg_peer holder = {.allowed_ips = (struct ppn_prefix *)prefixes,
				     .n_allowed_ips = count};
	char text[4096];

	allowed_ips_text(&holder, text, sizeof(text));
	assert_string_equal(text, expected);
}

/* ---- Cases ---- */

static void test_mesh_direct_peers(void **unused)
{
	struct ppn_fleet *fleet = fleet_new("10.77.0.0/24");
	struct ppn_wg_device *device;

	fleet_add_peer(fleet, "alpha", "10.77.0.1", "198.51.100.1", 51820, false);
	fleet_add_peer(fleet, "beta", "10.77.0.2", "beta.example.com", 51999, false);
	fleet_add_peer(fleet, "gamma", "10.77.0.3", "198.51.100.3", 51820, false);
	fleet_seal(fleet);

	device = compile(fleet, "alpha");
	assert_string_equal(device->ifname, "ppn0");
	assert_int_equal(device->listen_port, 51820);
	assert_int_equal(device->mtu, 1420);
	assert_true(device->present);
	assert_true(device->up);
	assert_true(device->has_public_key);
	assert_int_equal(
		ppn_key_cmp(&device->public_key, &ppn_fleet_peer(fleet, "alpha")->public_key), 0);
	assert_prefix_list(device->addresses, device->n_addresses, "10.77.0.1/32");
	assert_int_equal(device->n_peers, 2);
	assert_peer(device, "beta", "10.77.0.2/32", "beta.example.com", 51999, 0);
	assert_peer(device, "gamma", "10.77.0.3/32", "198.51.100.3", 51820, 0);
	assert_prefix_list(device->routes, device->n_routes, "10.77.0.2/32, 10.77.0.3/32");
	assert_true(ppn_key_cmp(&device->peers[0].public_key, &device->peers[1].public_key) < 0);

	ppn_wg_device_free(device);
	ppn_fleet_free(fleet);
}

/* Two laptops behind NAT and one relay: the shape of the example fleet. */
static struct ppn_fleet *nat_fleet(void)
{
	struct ppn_fleet *fleet = fleet_new("10.77.0.0/24");

	fleet_add_peer(fleet, "relay", "10.77.0.1", "203.0.113.10", 51820, true);
	fleet_add_peer(fleet, "laptop-a", "10.77.0.2", NULL, 0, false)->keepalive_s = 15;
	fleet_add_peer(fleet, "laptop-b", "10.77.0.3", NULL, 0, false);
	fleet_add_peer(fleet, "server", "10.77.0.4", "198.51.100.4", 51820, false);
	fleet_seal(fleet);
	return fleet;
}

static void test_mesh_nat_through_relay(void **unused)
{
	struct ppn_fleet *fleet = nat_fleet();
	struct ppn_wg_device *device = compile(fleet, "laptop-a");

	/* The other laptop rides on the relay; the server is reached directly. */
	assert_int_equal(device->n_peers, 2);
	assert_peer(device, "relay", "10.77.0.1/32, 10.77.0.3/32", "203.0.113.10", 51820, 15);
	assert_peer(device, "server", "10.77.0.4/32", "198.51.100.4", 51820, 15);
	assert_null(find_peer(device, "laptop-b"));
	assert_prefix_list(device->routes, device->n_routes,
			   "10.77.0.1/32, 10.77.0.3/32, 10.77.0.4/32");
	ppn_wg_device_free(device);

	/* A node with an endpoint lists the laptops with their own address and no keepalive. */
	device = compile(fleet, "server");
	assert_int_equal(device->n_peers, 3);
	assert_peer(device, "laptop-a", "10.77.0.2/32", NULL, 0, 0);
	assert_peer(device, "laptop-b", "10.77.0.3/32", NULL, 0, 0);
	assert_peer(device, "relay", "10.77.0.1/32", "203.0.113.10", 51820, 0);
	ppn_wg_device_free(device);
	ppn_fleet_free(fleet);
}

static void test_mesh_node_is_relay(void **unused)
{
	struct ppn_fleet *fleet = nat_fleet();
	struct ppn_wg_device *device = compile(fleet, "relay");

	assert_int_equal(device->n_peers, 3);
	assert_peer(device, "laptop-a", "10.77.0.2/32", NULL, 0, 0);
	assert_peer(device, "laptop-b", "10.77.0.3/32", NULL, 0, 0);
	assert_peer(device, "server", "10.77.0.4/32", "198.51.100.4", 51820, 0);
	assert_prefix_list(device->addresses, device->n_addresses, "10.77.0.1/32");
	ppn_wg_device_free(device);
	ppn_fleet_free(fleet);
}

/* Of two relays, every NAT node picks the one with the smallest name, whatever the order. */
static void test_mesh_two_relays(void **unused)
{
	struct ppn_fleet *fleet = fleet_new("10.77.0.0/24");
	struct ppn_wg_device *device;

	fleet_add_peer(fleet, "relay-b", "10.77.0.1", "203.0.113.11", 51820, true);
	fleet_add_peer(fleet, "nat-1", "10.77.0.5", NULL, 0, false);
	fleet_add_peer(fleet, "relay-a", "10.77.0.9", "203.0.113.10", 51820, true);
	fleet_add_peer(fleet, "nat-2", "10.77.0.6", NULL, 0, false);
	fleet_seal(fleet);

	device = compile(fleet, "nat-1");
	assert_int_equal(device->n_peers, 2);
	assert_peer(device, "relay-a", "10.77.0.6/32, 10.77.0.9/32", "203.0.113.10", 51820, 25);
	assert_peer(device, "relay-b", "10.77.0.1/32", "203.0.113.11", 51820, 25);
	ppn_wg_device_free(device);

	device = compile(fleet, "nat-2");
	assert_peer(device, "relay-a", "10.77.0.5/32, 10.77.0.9/32", "203.0.113.10", 51820, 25);
	assert_peer(device, "relay-b", "10.77.0.1/32", "203.0.113.11", 51820, 25);
	ppn_wg_device_free(device);

	/* Relays list everyone directly, each other included. */
	device = compile(fleet, "relay-b");
	assert_int_equal(device->n_peers, 3);
	assert_peer(device, "relay-a", "10.77.0.9/32", "203.0.113.10", 51820, 0);
	assert_peer(device, "nat-1", "10.77.0.5/32", NULL, 0, 0);
	ppn_wg_device_free(device);
	ppn_fleet_free(fleet);
}

static void test_mesh_ipv6_overlay(void **unused)
{
	struct ppn_fleet *fleet = fleet_new("fd77::/64");
	struct ppn_wg_device *device;

	fleet_add_peer(fleet, "relay", "fd77::1", "2001:db8::1", 51820, true);
	fleet_add_peer(fleet, "nat-a", "fd77::a", NULL, 0, false);
	fleet_add_peer(fleet, "nat-b", "fd77::b", NULL, 0, false);
	fleet_seal(fleet);

	device = compile(fleet, "nat-a");
	assert_prefix_list(device->addresses, device->n_addresses, "fd77::a/128");
	assert_int_equal(device->n_peers, 1);
	assert_peer(device, "relay", "fd77::1/128, fd77::b/128", "2001:db8::1", 51820, 25);
	assert_prefix_list(device->routes, device->n_routes, "fd77::1/128, fd77::b/128");
	ppn_wg_device_free(device);

	device = compile(fleet, "relay");
	assert_peer(device, "nat-a", "fd77::a/128", NULL, 0, 0);
	assert_peer(device, "nat-b", "fd77::b/128", NULL, 0, 0);
	ppn_wg_device_free(device);
	ppn_fleet_free(fleet);
}

static void test_mesh_unknown_node(void **unused)
{
	struct ppn_fleet *fleet = nat_fleet();
	struct ppn_wg_device *device = NULL;

	assert_int_equal(ppn_mesh_compile(fleet, "nobody", &device), -ENOENT);
	assert_null(device);
	ppn_fleet_free(fleet);
}

/* ---- Properties over generated fleets ---- */

static int prefix_qsort_cmp(const void *a, const void *b)
{
	return ppn_prefix_cmp(a, b);
}

static struct ppn_fleet *random_fleet(unsigned *seed)
{
	struct ppn_fleet *fleet = fleet_new("10.0.0.0/8");
	size_t n = 2 + (size_t)rand_r(seed) % 40;
	bool any_nat = false, any_relay = false;

	for (size_t i = 0; i < n; i++) {
		char name[32], address[32];
		bool endpoint = rand_r(seed) % 2 == 0;
		struct ppn_peer *peer;

		/* Names in another order than the keys and the addresses. */
		snprintf(name, sizeof(name), "p%03zu", (i * 7919) % 1000);
		snprintf(address, sizeof(address), "10.0.%zu.%zu", i / 200, 1 + i % 200);
		peer = fleet_add_peer(fleet, name, address, endpoint ? "192.0.2.1" : NULL,
				      (uint16_t)(1000 + i), endpoint && rand_r(seed) % 3 == 0);
		peer->keepalive_s = 1 + (uint32_t)rand_r(seed) % 60;
		any_nat |= !endpoint;
		any_relay |= peer->relay;
	}
	/* The loader refuses a NAT peer without a relay; a valid fleet always has one. */
	if (any_nat && !any_relay) {
		for (size_t i = 0; i < n; i++) {
			if (fleet->peers[i].endpoint.host) {
				fleet->peers[i].relay = true;
				any_relay = true;
				break;
			}
		}
		if (!any_relay) {
			fleet->peers[0].endpoint.host = ppn_xstrdup("192.0.2.1");
			fleet->peers[0].relay = true;
		}
	}
	fleet_seal(fleet);
	return fleet;
}

static void check_keepalive(const struct ppn_wg_device *device, const struct ppn_peer *self,
			    const struct ppn_fleet *fleet)
{
	for (size_t i = 0; i < device->n_peers; i++) {
		const struct ppn_wg_peer *peer = &device->peers[i];
		const struct ppn_peer *manifest = ppn_fleet_peer(fleet, peer->name);

		assert_non_null(manifest);
		assert_int_equal(ppn_key_cmp(&peer->public_key, &manifest->public_key), 0);
		if (self->endpoint.host) {
			assert_int_equal(peer->keepalive_s, 0);
			continue;
		}
		/* A NAT node can only list peers it can reach, and keeps each mapping open. */
		assert_non_null(peer->endpoint.host);
		assert_int_equal(peer->keepalive_s, self->keepalive_s);
	}
}

/* Every other peer's address is in exactly one allowed-ips list, and nothing else is. */
static void check_addresses(const struct ppn_wg_device *device, const struct ppn_peer *self,
			    const struct ppn_fleet *fleet)
{
	struct ppn_prefix *all = ppn_xcalloc(fleet->n_peers + 1, sizeof(*all));
	size_t n_all = 0;

	for (size_t i = 0; i < device->n_peers; i++) {
		for (size_t j = 0; j < device->peers[i].n_allowed_ips; j++) {
			assert_true(n_all < fleet->n_peers);
			all[n_all++] = device->peers[i].allowed_ips[j];
		}
	}
	assert_int_equal(n_all, fleet->n_peers - 1);
	qsort(all, n_all, sizeof(*all), prefix_qsort_cmp);

	for (size_t i = 0; i < fleet->n_peers; i++) {
		if (&fleet->peers[i] == self)
			continue;
		assert_non_null(bsearch(&fleet->peers[i].address, all, n_all, sizeof(*all),
					prefix_qsort_cmp));
	}
	for (size_t i = 1; i < n_all; i++)
		assert_int_not_equal(ppn_prefix_cmp(&all[i - 1], &all[i]), 0);

	/* Routes are exactly the allowed-ips. */
	assert_int_equal(device->n_routes, n_all);
	for (size_t i = 0; i < n_all; i++)
		assert_int_equal(ppn_prefix_cmp(&device->routes[i], &all[i]), 0);
	free(all);
}

static void test_mesh_properties_over_generated_fleets(void **unused)
{
	unsigned seed = 20260601;

	for (int round = 0; round < 300; round++) {
		struct ppn_fleet *fleet = random_fleet(&seed);

		for (size_t i = 0; i < fleet->n_peers; i++) {
			const struct ppn_peer *self = &fleet->peers[i];
			struct ppn_wg_device *device = compile(fleet, self->name);

			assert_null(find_peer(device, self->name));
			check_addresses(device, self, fleet);
			check_keepalive(device, self, fleet);
			for (size_t j = 1; j < device->n_peers; j++)
				assert_true(ppn_key_cmp(&device->peers[j - 1].public_key,
							&device->peers[j].public_key) < 0);
			ppn_wg_device_free(device);
		}
		ppn_fleet_free(fleet);
	}
}

/* ---- The example fleet, through the real loader ---- */

static struct ppn_fleet *load_example(void)
{
	const char *root = getenv("PPN_SOURCE_ROOT");
	_cleanup_free_ char *dir = NULL;
	struct ppn_fileset set = {0};
	struct ppn_diags diags = {0};
	struct ppn_fleet *fleet = NULL;

	assert_non_null(root);
	dir = ppn_xasprintf("%s/examples/fleet", root);
	assert_int_equal(ppn_fileset_read_dir(&set, dir, &diags), 0);
	if (ppn_manifest_load(&set, &fleet, &diags) < 0)
		ppn_diags_print(&diags, stderr);
	assert_int_equal(diags.count, 0);
	assert_non_null(fleet);
	ppn_fileset_release(&set);
	ppn_diags_release(&diags);
	return fleet;
}

static void test_mesh_example_fleet(void **unused)
{
	static const char *const laptops[][2] = {
		{"macbook-air", "macbook-pro"},
		{"macbook-pro", "macbook-air"},
	};
	struct ppn_fleet *fleet;
	struct ppn_wg_device *device;

	fleet = load_example();

	device = compile(fleet, "gcp-relay");
	assert_int_equal(device->n_peers, 2);
	assert_peer(device, "macbook-air", "10.77.0.3/32", NULL, 0, 0);
	assert_peer(device, "macbook-pro", "10.77.0.2/32", NULL, 0, 0);
	assert_prefix_list(device->addresses, device->n_addresses, "10.77.0.1/32");
	ppn_wg_device_free(device);

	for (size_t i = 0; i < PPN_ARRAY_SIZE(laptops); i++) {
		const struct ppn_peer *other = ppn_fleet_peer(fleet, laptops[i][1]);
		char expected[128], other_address[PPN_PREFIX_STRLEN];

		assert_non_null(other);
		ppn_prefix_to_string(&other->address, false, other_address);
		snprintf(expected, sizeof(expected), "10.77.0.1/32, %s", other_address);
		device = compile(fleet, laptops[i][0]);
		assert_int_equal(device->n_peers, 1);
		assert_peer(device, "gcp-relay", expected, "203.0.113.10", 51820, 25);
		assert_string_equal(device->ifname, "ppn0");
		assert_int_equal(device->listen_port, 51820);
		assert_int_equal(device->mtu, 1420);
		ppn_wg_device_free(device);
	}
	ppn_fleet_free(fleet);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mesh_direct_peers),
		cmocka_unit_test(test_mesh_nat_through_relay),
		cmocka_unit_test(test_mesh_node_is_relay),
		cmocka_unit_test(test_mesh_two_relays),
		cmocka_unit_test(test_mesh_ipv6_overlay),
		cmocka_unit_test(test_mesh_unknown_node),
		cmocka_unit_test(test_mesh_properties_over_generated_fleets),
		cmocka_unit_test(test_mesh_example_fleet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
