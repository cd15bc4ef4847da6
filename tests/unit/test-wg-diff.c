/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "plan.h"
#include "util.h"
#include "wgconf.h"
#include "wireguard/diff.h"

/* ---- Building devices by hand ---- */

/* A key per index whose byte order differs from the index order, so that names and keys sort
 * differently. */
static struct ppn_key test_key(unsigned i)
{
	struct ppn_key key;

	for (size_t b = 0; b < PPN_KEY_LEN; b++)
		key.bytes[b] = (uint8_t)(i * 13 + b);
	key.bytes[0] = (uint8_t)(200 - i % 200);
	key.bytes[1] = (uint8_t)(i / 200);
	key.bytes[2] = (uint8_t)(i >> 16);
	return key;
}

static char *key_text(unsigned i)
{
	struct ppn_key key = test_key(i);
	char text[PPN_KEY_B64_LEN + 1];

	ppn_key_to_base64(&key, text);
	return ppn_xstrdup(text);
}

static struct ppn_prefix prefix(const char *text)
{
	struct ppn_prefix out;

	assert_int_equal(ppn_prefix_parse(&out, text), 0);
	return out;
}

static struct ppn_wg_device *device_new(bool present)
{
	struct ppn_wg_device *device = ppn_wg_device_new("ppn0");
	struct ppn_prefix address = prefix("10.77.0.1/32");

	device->present = present;
	if (!present)
		return device;
	device->up = true;
	device->has_public_key = true;
	device->public_key = test_key(0);
	device->listen_port = 51820;
	device->mtu = 1420;
	ppn_wg_device_add_address(device, &address);
	return device;
}

/* allowed: comma-separated prefixes; host: NULL for none. Routes follow the allowed-ips. */
static struct ppn_wg_peer *add_peer(struct ppn_wg_device *device, unsigned key, const char *name,
				    const char *host, uint16_t port, uint16_t keepalive_s,
				    const char *allowed)
{
	struct ppn_key public_key = test_key(key);
	struct ppn_wg_peer *peer = ppn_wg_device_add_peer(device, &public_key);
	_cleanup_free_ char *list = ppn_xstrdup(allowed);
	char *save = NULL;

	peer->name = name ? ppn_xstrdup(name) : NULL;
	peer->endpoint.host = host ? ppn_xstrdup(host) : NULL;
	peer->endpoint.port = port;
	peer->keepalive_s = keepalive_s;
	for (char *item = strtok_r(list, ", ", &save); item; item = strtok_r(NULL, ", ", &save)) {
		struct ppn_prefix one = prefix(item);

		ppn_wg_peer_add_allowed_ip(peer, &one);
		ppn_wg_device_add_route(device, &one);
	}
	return peer;
}

/* The desired side names its peers; the observed side only knows keys. */
static void add_both(struct ppn_wg_device *desired, struct ppn_wg_device *observed, unsigned key,
		     const char *name, const char *host, uint16_t keepalive_s, const char *allowed)
{
	add_peer(desired, key, name, host, 51820, keepalive_s, allowed);
	add_peer(observed, key, NULL, host, 51820, keepalive_s, allowed);
}

/* A peer of a normalized device, by the index its key was made from. */
static struct ppn_wg_peer *observed_peer(struct ppn_wg_device *device, unsigned key)
{
	struct ppn_key public_key = test_key(key);
	const struct ppn_wg_peer *peer = ppn_wg_device_find_peer(device, &public_key);

	assert_non_null(peer);
	return (struct ppn_wg_peer *)peer;
}

static char *plan_text(struct ppn_wg_device *desired, struct ppn_wg_device *observed)
{
	struct ppn_plan plan;
	char *text = NULL;
	size_t size = 0;
	FILE *out;

	ppn_wg_device_normalize(desired);
	ppn_wg_device_normalize(observed);
	ppn_plan_init(&plan);
	plan.node = ppn_xstrdup("macbook-air");
	plan.commit = ppn_xstrdup("0123456789abcdef0123456789abcdef01234567");
	plan.ref = ppn_xstrdup("main");
	assert_int_equal(ppn_wg_diff(desired, observed, &plan), 0);

	out = open_memstream(&text, &size);
	assert_non_null(out);
	assert_int_equal(ppn_plan_render_text(&plan, out), 0);
	fclose(out);
	ppn_plan_release(&plan);
	return text;
}

/* The plan's lines after the header and its blank line, to compare in one assertion. */
static void assert_actions(struct ppn_wg_device *desired, struct ppn_wg_device *observed,
			   const char *expected)
{
	_cleanup_free_ char *text = plan_text(desired, observed);
	const char *body = strstr(text, "\n\n");

	assert_non_null(body);
	assert_string_equal(body + 2, expected);
}

#define HEADER "Plan for node 'macbook-air' from 'main' at commit 0123456789ab\n\n"

/* ---- Cases ---- */

static void test_wg_diff_absent_interface(void **unused)
{
	struct ppn_wg_device *desired = device_new(true);
	struct ppn_wg_device *observed = device_new(false);
	_cleanup_free_ char *relay = key_text(1), *server = key_text(2), *self = key_text(0);
	_cleanup_free_ char *expected = NULL, *text = NULL;

	add_peer(desired, 2, "server", "2001:db8::4", 51820, 25, "10.77.0.4/32");
	add_peer(desired, 1, "relay", "203.0.113.10", 51820, 25, "10.77.0.1/32, 10.77.0.3/32");
	/* Whatever lists an absent interface carries, nothing of them exists. */
	add_peer(observed, 9, NULL, NULL, 0, 0, "10.77.0.9/32");

	expected = ppn_xasprintf(
		HEADER "+ wireguard/interface 'ppn0'\n"
		       "    public-key: %s\n"
		       "    listen-port: 51820\n"
		       "    mtu: 1420\n"
		       "+ wireguard/peer 'relay'\n"
		       "    public-key: %s\n"
		       "    endpoint: 203.0.113.10:51820\n"
		       "    allowed-ips: 10.77.0.1/32, 10.77.0.3/32\n"
		       "    persistent-keepalive: 25s\n"
		       "+ wireguard/peer 'server'\n"
		       "    public-key: %s\n"
		       "    endpoint: [2001:db8::4]:51820\n"
		       "    allowed-ips: 10.77.0.4/32\n"
		       "    persistent-keepalive: 25s\n"
		       "+ wireguard/address '10.77.0.1/32'\n"
		       "+ wireguard/route '10.77.0.1/32'\n"
		       "+ wireguard/route '10.77.0.3/32'\n"
		       "+ wireguard/route '10.77.0.4/32'\n"
		       "\n"
		       "Plan: 7 to create, 0 to update, 0 to replace, 0 to delete, 0 to start.\n",
		self, relay, server);
	text = plan_text(desired, observed);
	assert_string_equal(text, expected);
	ppn_wg_device_free(desired);
	ppn_wg_device_free(observed);
}

static void test_wg_diff_in_sync(void **unused)
{
	struct ppn_wg_device *desired = device_new(true);
	struct ppn_wg_device *observed = device_new(true);
	struct ppn_wg_peer *peer;

	add_both(desired, observed, 1, "relay", "203.0.113.10", 25, "10.77.0.1/32, 10.77.0.3/32");
	add_both(desired, observed, 2, "server", "198.51.100.4", 25, "10.77.0.4/32");
	/* Counters and handshakes are observed facts, not configuration. */
	peer = &observed->peers[observed->n_peers - 1];
	peer->last_handshake_s = 1780000000;
	peer->rx_bytes = 4096;

	assert_actions(desired, observed,
		       "No changes. Node 'macbook-air' matches commit 0123456789ab.\n");
	ppn_wg_device_free(desired);
	ppn_wg_device_free(observed);
}

static void test_wg_diff_interface_update(void **unused)
{
	struct ppn_wg_device *desired = device_new(true);
	struct ppn_wg_device *observed = device_new(true);
	_cleanup_free_ char *expected = NULL, *self = key_text(0);

	observed->has_public_key = false;
	observed->listen_port = 0;
	observed->up = false;
	expected = ppn_xasprintf(
		"~ wireguard/interface 'ppn0'\n"
		"    public-key: (none) -> %s\n"
		"    listen-port: 0 -> 51820\n"
		"    up: down -> up\n"
		"\n"
		"Plan: 0 to create, 1 to update, 0 to replace, 0 to delete, 0 to start.\n",
		self);
	assert_actions(desired, observed, expected);
	ppn_wg_device_free(desired);
	ppn_wg_device_free(observed);
}

/* Creates and updates in name order, then deletes in key order (key 8 sorts before key 7). */
static void test_wg_diff_peers_added_changed_stale(void **unused)
{
	struct ppn_wg_device *desired = device_new(true);
	struct ppn_wg_device *observed = device_new(true);
	_cleanup_free_ char *expected = NULL, *k3 = key_text(3), *k7 = key_text(7);
	_cleanup_free_ char *k8 = key_text(8);
	struct ppn_key key7 = test_key(7), key8 = test_key(8);

	assert_true(ppn_key_cmp(&key8, &key7) < 0);

	add_both(desired, observed, 1, "relay", "203.0.113.10", 25, "10.77.0.1/32");
	add_peer(desired, 2, "zeta", "198.51.100.2", 51820, 0, "10.77.0.2/32");
	add_peer(observed, 2, NULL, "198.51.100.99", 51820, 25, "10.77.0.2/32, 10.77.0.5/32");
	add_peer(desired, 3, "alpha", NULL, 0, 0, "10.77.0.3/32");
	add_peer(observed, 8, NULL, "192.0.2.8", 4242, 0, "10.77.0.8/32");
	add_peer(observed, 7, NULL, NULL, 0, 0, "10.77.0.7/32");
	/* The routes of the desired side follow its allowed-ips. */
	observed->n_routes = 0;
	for (size_t i = 0; i < desired->n_routes; i++)
		ppn_wg_device_add_route(observed, &desired->routes[i]);

	expected = ppn_xasprintf(
		"+ wireguard/peer 'alpha'\n"
		"    public-key: %s\n"
		"    allowed-ips: 10.77.0.3/32\n"
		"~ wireguard/peer 'zeta'\n"
		"    endpoint: 198.51.100.99:51820 -> 198.51.100.2:51820\n"
		"    allowed-ips: 10.77.0.2/32, 10.77.0.5/32 -> 10.77.0.2/32\n"
		"    persistent-keepalive: 25s -> (none)\n"
		"- wireguard/peer '%s' (not in the manifests)\n"
		"    public-key: %s\n"
		"    allowed-ips: 10.77.0.8/32\n"
		"- wireguard/peer '%s' (not in the manifests)\n"
		"    public-key: %s\n"
		"    allowed-ips: 10.77.0.7/32\n"
		"\n"
		"Plan: 1 to create, 1 to update, 0 to replace, 2 to delete, 0 to start.\n",
		k3, k8, k8, k7, k7);
	assert_actions(desired, observed, expected);
	ppn_wg_device_free(desired);
	ppn_wg_device_free(observed);
}

/*
 * A peer declared without an endpoint keeps the one its handshakes taught the device; a
 * declared endpoint is compared by address value, with or without IPv6 brackets.
 */
static void test_wg_diff_nat_endpoint(void **unused)
{
	struct ppn_wg_device *desired = device_new(true);
	struct ppn_wg_device *observed = device_new(true);

	add_peer(desired, 1, "laptop", NULL, 0, 0, "10.77.0.2/32");
	add_peer(observed, 1, NULL, "198.51.100.77", 40123, 0, "10.77.0.2/32");
	add_peer(desired, 2, "v6", "2001:db8::1", 51820, 0, "10.77.0.3/32");
	add_peer(observed, 2, NULL, "2001:0db8:0:0::1", 51820, 0, "10.77.0.3/32");
	add_peer(desired, 3, "bracketed", "[2001:db8::2]", 51820, 0, "10.77.0.4/32");
	add_peer(observed, 3, NULL, "2001:db8::2", 51820, 0, "10.77.0.4/32");
	add_peer(desired, 4, "named", "relay.example.com", 51820, 0, "10.77.0.5/32");
	add_peer(observed, 4, NULL, "relay.example.com", 51820, 0, "10.77.0.5/32");
	assert_actions(desired, observed,
		       "No changes. Node 'macbook-air' matches commit 0123456789ab.\n");

	/* Another port, or no endpoint known yet, is a difference when one is declared. */
	observed_peer(observed, 2)->endpoint.port = 51821;
	free(observed_peer(observed, 3)->endpoint.host);
	observed_peer(observed, 3)->endpoint.host = NULL;
	assert_actions(desired, observed,
		       "~ wireguard/peer 'bracketed'\n"
		       "    endpoint: (none) -> [2001:db8::2]:51820\n"
		       "~ wireguard/peer 'v6'\n"
		       "    endpoint: [2001:0db8:0:0::1]:51821 -> [2001:db8::1]:51820\n"
		       "\n"
		       "Plan: 0 to create, 2 to update, 0 to replace, 0 to delete, 0 to start.\n");
	ppn_wg_device_free(desired);
	ppn_wg_device_free(observed);
}

static void test_wg_diff_addresses_and_routes(void **unused)
{
	struct ppn_wg_device *desired = device_new(true);
	struct ppn_wg_device *observed = device_new(true);
	struct ppn_prefix v6 = prefix("fd77::1/128"), stale = prefix("10.99.0.1/32");
	struct ppn_prefix route_new = prefix("10.77.0.2/32"), route_old = prefix("10.77.0.9/32");
	struct ppn_prefix route_kept = prefix("10.77.0.3/32");

	ppn_wg_device_add_address(desired, &v6);
	ppn_wg_device_add_address(observed, &stale);
	ppn_wg_device_add_route(desired, &route_new);
	ppn_wg_device_add_route(desired, &route_kept);
	ppn_wg_device_add_route(observed, &route_kept);
	ppn_wg_device_add_route(observed, &route_old);
	assert_actions(desired, observed,
		       "- wireguard/address '10.99.0.1/32'\n"
		       "+ wireguard/address 'fd77::1/128'\n"
		       "+ wireguard/route '10.77.0.2/32'\n"
		       "- wireguard/route '10.77.0.9/32'\n"
		       "\n"
		       "Plan: 2 to create, 0 to update, 0 to replace, 2 to delete, 0 to start.\n");
	ppn_wg_device_free(desired);
	ppn_wg_device_free(observed);
}

/* A relay's interface is made to forward; an interface that forwards without being asked to is
 * left alone. */
static void test_wg_diff_forwarding(void **unused)
{
	struct ppn_wg_device *desired = device_new(true);
	struct ppn_wg_device *observed = device_new(true);
	struct ppn_wg_device *absent = device_new(false);
	_cleanup_free_ char *expected = NULL, *self = key_text(0);

	desired->forwarding = true;
	assert_actions(desired, observed,
		       "~ wireguard/interface 'ppn0'\n"
		       "    forwarding: off -> on\n"
		       "\n"
		       "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete, 0 to start.\n");

	observed->forwarding = true;
	assert_actions(desired, observed,
		       "No changes. Node 'macbook-air' matches commit 0123456789ab.\n");
	desired->forwarding = false;
	assert_actions(desired, observed,
		       "No changes. Node 'macbook-air' matches commit 0123456789ab.\n");

	desired->forwarding = true;
	expected = ppn_xasprintf("+ wireguard/interface 'ppn0'\n"
				 "    public-key: %s\n"
				 "    listen-port: 51820\n"
				 "    mtu: 1420\n"
				 "    forwarding: on\n"
				 "+ wireguard/address '10.77.0.1/32'\n"
				 "\n"
				 "Plan: 2 to create, 0 to update, 0 to replace, 0 to delete, 0 to "
				 "start.\n",
				 self);
	assert_actions(desired, absent, expected);
	ppn_wg_device_free(desired);
	ppn_wg_device_free(observed);
	ppn_wg_device_free(absent);
}

/* The fast formatter writes exactly what the model's does, for both families. */
static void test_wg_diff_prefix_format(void **unused)
{
	for (unsigned i = 0; i < 20000; i++) {
		struct ppn_prefix prefix = {.family = i % 2 ? AF_INET6 : AF_INET};
		char want[PPN_PREFIX_STRLEN], got[PPN_PREFIX_STRLEN];
		size_t len;

		for (size_t b = 0; b < 16; b++)
			prefix.addr[b] =
				(uint8_t)((i * 2654435761u) >> (b % 4 * 8)) & (b % 3 ? 0xff : 0);
		if (prefix.family == AF_INET)
			memset(prefix.addr + 4, 0, 12);
		prefix.len = (uint8_t)(i % (prefix.family == AF_INET ? 33 : 129));
		ppn_prefix_to_string(&prefix, false, want);
		len = ppn_wg_prefix_format(got, &prefix);
		got[len] = '\0';
		assert_string_equal(got, want);
	}
}

static const struct ppn_wg_change *payload(const struct ppn_plan *plan, size_t i)
{
	assert_true(i < plan->n_actions);
	assert_non_null(plan->actions[i].payload);
	assert_true(plan->actions[i].payload_free == free);
	return plan->actions[i].payload;
}

/* Every action carries what apply needs: the peer's key or the prefix, and the fields to set. */
static void test_wg_diff_payloads(void **unused)
{
	struct ppn_wg_device *desired = device_new(true);
	struct ppn_wg_device *observed = device_new(true);
	struct ppn_key key1 = test_key(1), key2 = test_key(2), key3 = test_key(3);
	struct ppn_key key7 = test_key(7);
	struct ppn_prefix stale = prefix("10.99.0.1/32");
	struct ppn_plan plan;

	add_both(desired, observed, 1, "relay", "203.0.113.10", 25, "10.77.0.1/32");
	observed_peer(observed, 1)->keepalive_s = 0;
	add_peer(desired, 2, "nat", NULL, 0, 25, "10.77.0.2/32");
	add_peer(observed, 2, NULL, "198.51.100.9", 40000, 25, "10.77.0.2/32, 10.77.0.9/32");
	add_peer(desired, 3, "new", NULL, 0, 0, "10.77.0.3/32");
	add_peer(observed, 7, NULL, NULL, 0, 0, "10.77.0.7/32");
	ppn_wg_device_add_address(observed, &stale);
	observed->mtu = 1280;
	observed->n_routes = 0;
	for (size_t i = 0; i < desired->n_routes; i++)
		ppn_wg_device_add_route(observed, &desired->routes[i]);
	ppn_wg_device_normalize(desired);
	ppn_wg_device_normalize(observed);

	ppn_plan_init(&plan);
	assert_int_equal(ppn_wg_diff(desired, observed, &plan), 0);
	assert_int_equal(plan.n_actions, 6);
	assert_int_equal(payload(&plan, 0)->fields, PPN_WG_FIELD_MTU);
	/* Creates and updates by name: nat, new, relay. The peer behind NAT changes its
	 * allowed-ips only: the endpoint it was learned from stays. */
	assert_memory_equal(payload(&plan, 1)->public_key.bytes, key2.bytes, PPN_KEY_LEN);
	assert_int_equal(payload(&plan, 1)->fields, PPN_WG_FIELD_ALLOWED_IPS);
	assert_memory_equal(payload(&plan, 2)->public_key.bytes, key3.bytes, PPN_KEY_LEN);
	assert_int_equal(payload(&plan, 2)->fields, PPN_WG_FIELD_ALLOWED_IPS);
	assert_memory_equal(payload(&plan, 3)->public_key.bytes, key1.bytes, PPN_KEY_LEN);
	assert_int_equal(payload(&plan, 3)->fields, PPN_WG_FIELD_KEEPALIVE);
	assert_memory_equal(payload(&plan, 4)->public_key.bytes, key7.bytes, PPN_KEY_LEN);
	assert_int_equal(plan.actions[4].op, PPN_OP_DELETE);
	assert_int_equal(payload(&plan, 4)->fields, 0);
	assert_int_equal(plan.actions[5].op, PPN_OP_DELETE);
	assert_string_equal(plan.actions[5].kind, "wireguard/address");
	assert_int_equal(ppn_prefix_cmp(&payload(&plan, 5)->prefix, &stale), 0);
	/* Each peer is where its index says: in desired, or in observed for the delete. */
	for (size_t i = 1; i <= 4; i++) {
		const struct ppn_wg_device *side = i == 4 ? observed : desired;
		const struct ppn_wg_change *change = payload(&plan, i);

		assert_true(change->index < side->n_peers);
		assert_memory_equal(side->peers[change->index].public_key.bytes,
				    change->public_key.bytes, PPN_KEY_LEN);
	}
	ppn_plan_release(&plan);

	/* A create sets everything the peer has. */
	ppn_wg_device_free(observed);
	observed = device_new(false);
	ppn_plan_init(&plan);
	assert_int_equal(ppn_wg_diff(desired, observed, &plan), 0);
	assert_int_equal(payload(&plan, 0)->fields, PPN_WG_FIELD_PUBLIC_KEY |
							    PPN_WG_FIELD_LISTEN_PORT |
							    PPN_WG_FIELD_MTU | PPN_WG_FIELD_UP);
	assert_string_equal(plan.actions[3].name, "relay");
	assert_int_equal(payload(&plan, 3)->fields,
			 PPN_WG_FIELD_ENDPOINT | PPN_WG_FIELD_ALLOWED_IPS | PPN_WG_FIELD_KEEPALIVE);
	ppn_plan_release(&plan);
	ppn_wg_device_free(desired);
	ppn_wg_device_free(observed);
}

static void add_many(struct ppn_wg_device *desired, struct ppn_wg_device *observed, unsigned n)
{
	for (unsigned i = 1; i <= n; i++) {
		char name[32], allowed[32];

		snprintf(name, sizeof(name), "peer-%05u", i);
		snprintf(allowed, sizeof(allowed), "10.%u.%u.%u/32", i >> 16, (i >> 8) & 0xff,
			 i & 0xff);
		add_both(desired, observed, i, name, i % 2 ? "192.0.2.1" : NULL, i % 3 ? 25 : 0,
			 allowed);
	}
}

static void test_wg_diff_ten_thousand_in_sync(void **unused)
{
	struct ppn_wg_device *desired = device_new(true);
	struct ppn_wg_device *observed = device_new(true);
	struct ppn_plan plan;

	add_many(desired, observed, 10000);
	ppn_wg_device_normalize(desired);
	ppn_wg_device_normalize(observed);
	assert_int_equal(desired->n_peers, 10000);

	ppn_plan_init(&plan);
	assert_int_equal(ppn_wg_diff(desired, observed, &plan), 0);
	assert_true(ppn_plan_is_empty(&plan));

	/* One change among them is found, and nothing else. */
	observed->peers[4321].keepalive_s = 7;
	assert_int_equal(ppn_wg_diff(desired, observed, &plan), 0);
	assert_int_equal(plan.n_actions, 1);
	assert_int_equal(plan.actions[0].op, PPN_OP_UPDATE);
	assert_string_equal(plan.actions[0].name, desired->peers[4321].name);
	ppn_plan_release(&plan);
	ppn_wg_device_free(desired);
	ppn_wg_device_free(observed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wg_diff_absent_interface),
		cmocka_unit_test(test_wg_diff_in_sync),
		cmocka_unit_test(test_wg_diff_interface_update),
		cmocka_unit_test(test_wg_diff_peers_added_changed_stale),
		cmocka_unit_test(test_wg_diff_nat_endpoint),
		cmocka_unit_test(test_wg_diff_addresses_and_routes),
		cmocka_unit_test(test_wg_diff_forwarding),
		cmocka_unit_test(test_wg_diff_payloads),
		cmocka_unit_test(test_wg_diff_prefix_format),
		cmocka_unit_test(test_wg_diff_ten_thousand_in_sync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
