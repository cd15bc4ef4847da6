/* SPDX-License-Identifier: MIT */
/*
 * wg-apply-bench: the WireGuard plugin's apply against wg(8), on one generated set of peers.
 *
 *   wg-apply-bench [-n PEERS] [-r REPLACED] [-e MOVED] conf
 *       prints the set's [Peer] sections, for `wg setconf` and `wg syncconf`;
 *   wg-apply-bench [-n PEERS] [-r REPLACED] [-e MOVED] [-v] apply IFNAME STATE_DIR
 *       builds the same set as a desired device (key from STATE_DIR, port 51820, MTU 1420,
 *       up, no addresses or routes: what `wg setconf` sets) and runs the plugin module as the
 *       engine does: open, observe, plan, apply. Prints "observe_ms", "plan_ms", "apply_ms",
 *       "actions" and "failed" lines. -v logs at debug level, where the plugin counts the peer
 *       operations of each request.
 *
 * Peer i has a key and an allowed-ip (10.200.x.y/32) of its own and an endpoint. With -r R the
 * first R peers are replaced by others (new keys, 10.201.x.y/32); with -e M the first M keep
 * their key but move to another endpoint port. Keys are 32 bytes from a fixed sequence: wg(8)
 * and WireGuard take any 32 bytes as a public key, so no curve work is needed to make them.
 * wg-apply.sh drives it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"
#include "log.h"
#include "plan.h"
#include "plugin.h"
#include "util.h"
#include "wgconf.h"

struct options {
	unsigned peers;
	unsigned replaced;
	unsigned moved;
};

/* splitmix64: a fixed, well-spread sequence, so that every run makes the same keys. */
static uint64_t next_random(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct ppn_key peer_key(unsigned index, unsigned generation)
{
	uint64_t seed = ((uint64_t)generation << 32) | index;
	struct ppn_key key;

	for (size_t i = 0; i < PPN_KEY_LEN; i += 8) {
		uint64_t word = next_random(&seed);

		memcpy(key.bytes + i, &word, 8);
	}
	return key;
}

/* Peer index as the options make it: its generation (1 when replaced) and endpoint port. */
static void peer_shape(const struct options *options, unsigned i, unsigned *generation,
		       uint16_t *port)
{
	*generation = i < options->replaced ? 1 : 0;
	*port = i < options->moved ? 51821 : 51820;
}

static struct ppn_wg_device *make_device(const struct options *options, const char *ifname,
					 const struct ppn_key *public_key)
{
	struct ppn_wg_device *device = ppn_wg_device_new(ifname);

	device->present = device->up = device->has_public_key = true;
	device->public_key = *public_key;
	device->listen_port = 51820;
	device->mtu = 1420;
	for (unsigned i = 0; i < options->peers; i++) {
		unsigned generation;
		uint16_t port;
		struct ppn_key key;
		struct ppn_prefix ip = {.family = AF_INET, .len = 32};
		struct ppn_wg_peer *peer;

		peer_shape(options, i, &generation, &port);
		key = peer_key(i, generation);
		peer = ppn_wg_device_add_peer(device, &key);
		peer->name = ppn_xasprintf("peer-%05u", i);
		peer->endpoint.host =
			ppn_xasprintf("10.%u.%u.%u", 100 + generation, i >> 8, i & 0xff);
		peer->endpoint.port = port;
		ip.addr[0] = 10;
		ip.addr[1] = (uint8_t)(200 + generation);
		ip.addr[2] = (uint8_t)(i >> 8);
		ip.addr[3] = (uint8_t)(i & 0xff);
		ppn_wg_peer_add_allowed_ip(peer, &ip);
	}
	ppn_wg_device_normalize(device);
	return device;
}

static int print_conf(const struct options *options)
{
	struct ppn_key none = {{0}};
	struct ppn_wg_device *device = make_device(options, "conf", &none);

	for (size_t i = 0; i < device->n_peers; i++) {
		const struct ppn_wg_peer *peer = &device->peers[i];
		char key[PPN_KEY_B64_LEN + 1], ip[PPN_PREFIX_STRLEN];

		ppn_key_to_base64(&peer->public_key, key);
		ppn_prefix_to_string(&peer->allowed_ips[0], false, ip);
		printf("\n[Peer]\nPublicKey = %s\nEndpoint = %s:%u\nAllowedIPs = %s\n", key,
		       peer->endpoint.host, peer->endpoint.port, ip);
	}
	ppn_wg_device_free(device);
	return fflush(stdout) == 0 ? 0 : -EIO;
}

static double now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

/* Hands every action to apply, as the engine does; returns the number that failed. */
static size_t apply_all(const struct ppn_loaded_plugin *plugin, const struct ppn_desired *desired,
			struct ppn_plan *plan)
{
	_cleanup_free_ struct ppn_action **actions =
		ppn_xcalloc(plan->n_actions + 1, sizeof(*actions));
	_cleanup_free_ int *results = ppn_xcalloc(plan->n_actions + 1, sizeof(*results));
	size_t failed = 0;

	for (size_t i = 0; i < plan->n_actions; i++)
		actions[i] = &plan->actions[i];
	if (plan->n_actions > 0)
		plugin->table->apply(plugin->state, desired, actions, plan->n_actions, results);
	for (size_t i = 0; i < plan->n_actions; i++)
		failed += results[i] < 0;
	return failed;
}

static int run_pass(struct ppn_loaded_plugin *plugin,
		    const struct ppn_plugin_options *plugin_options,
		    const struct ppn_desired *desired)
{
	const struct ppn_plugin *table = plugin->table;
	struct ppn_plan plan;
	double t0, t1, t2, t3;
	size_t failed;
	int r;

	ppn_plan_init(&plan);
	t0 = now_ms();
	r = table->open(plugin_options, &plugin->state);
	if (r == 0)
		r = table->observe(plugin->state, desired);
	t1 = now_ms();
	if (r == 0)
		r = table->plan(plugin->state, desired, &plan);
	t2 = now_ms();
	if (r < 0) {
		ppn_plan_release(&plan);
		return r;
	}
	failed = apply_all(plugin, desired, &plan);
	t3 = now_ms();

	printf("observe_ms %.1f\nplan_ms %.1f\napply_ms %.1f\nactions %zu\nfailed %zu\n", t1 - t0,
	       t2 - t1, t3 - t2, plan.n_actions, failed);
	ppn_plan_release(&plan);
	return failed ? -EIO : 0;
}

static int apply(const struct options *options, const char *ifname, const char *state_dir)
{
	struct ppn_plugin_options plugin_options = {
		.node = "ppna-bench",
		.state_dir = state_dir,
		.ifname = ifname,
	};
	struct ppn_loaded_plugin *plugin = NULL;
	struct ppn_wg_device *device;
	struct ppn_key public_key;
	int r = ppn_keys_ensure(state_dir, &public_key);

	if (r < 0)
		return r;
	r = ppn_plugin_load_named(ppn_plugin_default_dir(), "wireguard", &plugin);
	if (r < 0)
		return r;
	device = make_device(options, ifname, &public_key);
	r = run_pass(plugin, &plugin_options, &(struct ppn_desired){.wireguard = device});
	ppn_plugin_unload(plugin);
	ppn_wg_device_free(device);
	return r;
}

static int usage(void)
{
	fprintf(stderr, "usage: wg-apply-bench [-n PEERS] [-r REPLACED] [-e MOVED] [-v] conf\n"
			"       wg-apply-bench [-n PEERS] [-r REPLACED] [-e MOVED] [-v] apply "
			"IFNAME STATE_DIR\n");
	return 2;
}

static int parse_count(const char *text, unsigned *out)
{
	return ppn_parse_uint(text, 1000000, out);
}

int main(int argc, char **argv)
{
	struct options options = {.peers = 10000};
	int option, r;

	while ((option = getopt(argc, argv, "n:r:e:v")) != -1) {
		r = 0;
		if (option == 'n')
			r = parse_count(optarg, &options.peers);
		else if (option == 'r')
			r = parse_count(optarg, &options.replaced);
		else if (option == 'e')
			r = parse_count(optarg, &options.moved);
		else if (option == 'v')
			ppn_log_set_level(LOG_DEBUG);
		else
			return usage();
		if (r < 0)
			return usage();
	}

	if (argc - optind == 1 && strcmp(argv[optind], "conf") == 0)
		r = print_conf(&options);
	else if (argc - optind == 3 && strcmp(argv[optind], "apply") == 0)
		r = apply(&options, argv[optind + 1], argv[optind + 2]);
	else
		return usage();
	if (r < 0)
		fprintf(stderr, "wg-apply-bench: %s\n", strerror(-r));
	return r < 0 ? 1 : 0;
}
