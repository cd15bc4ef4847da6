/* SPDX-License-Identifier: MIT */
#include "wgconf.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct ppn_wg_device *ppn_wg_device_new(const char *ifname)
{
	struct ppn_wg_device *device = ppn_xcalloc(1, sizeof(*device));

	device->ifname = ppn_xstrdup(ifname);
	return device;
}

static void peer_release(struct ppn_wg_peer *peer)
{
	free(peer->name);
	free(peer->endpoint.host);
	free(peer->allowed_ips);
}

void ppn_wg_device_free(struct ppn_wg_device *device)
{
	if (!device)
		return;

	for (size_t i = 0; i < device->n_peers; i++)
		peer_release(&device->peers[i]);
	free(device->peers);
	free(device->addresses);
	free(device->routes);
	free(device->ifname);
	free(device);
}

struct ppn_wg_peer *ppn_wg_device_add_peer(struct ppn_wg_device *device,
					   const struct ppn_key *public_key)
{
	struct ppn_wg_peer *peer;

	ppn_grow(&device->peers, &device->cap_peers, device->n_peers + 1, sizeof(*device->peers));
	peer = &device->peers[device->n_peers++];
	*peer = (struct ppn_wg_peer){.public_key = *public_key};
	return peer;
}

static void prefix_append(struct ppn_prefix **array, size_t *count, size_t *cap,
			  const struct ppn_prefix *prefix)
{
	ppn_grow(array, cap, *count + 1, sizeof(**array));
	(*array)[(*count)++] = *prefix;
}

void ppn_wg_peer_add_allowed_ip(struct ppn_wg_peer *peer, const struct ppn_prefix *prefix)
{
	prefix_append(&peer->allowed_ips, &peer->n_allowed_ips, &peer->cap_allowed_ips, prefix);
}

void ppn_wg_device_add_address(struct ppn_wg_device *device, const struct ppn_prefix *prefix)
{
	prefix_append(&device->addresses, &device->n_addresses, &device->cap_addresses, prefix);
}

void ppn_wg_device_add_route(struct ppn_wg_device *device, const struct ppn_prefix *prefix)
{
	prefix_append(&device->routes, &device->n_routes, &device->cap_routes, prefix);
}

static int prefix_qsort_cmp(const void *a, const void *b)
{
	return ppn_prefix_cmp(a, b);
}

static void prefixes_normalize(struct ppn_prefix *array, size_t *count)
{
	size_t kept = 0;

	if (*count < 2)
		return;
	qsort(array, *count, sizeof(*array), prefix_qsort_cmp);
	for (size_t i = 0; i < *count; i++)
		if (kept == 0 || ppn_prefix_cmp(&array[kept - 1], &array[i]) != 0)
			array[kept++] = array[i];
	*count = kept;
}

static int peer_qsort_cmp(const void *a, const void *b)
{
	const struct ppn_wg_peer *x = a, *y = b;

	return ppn_key_cmp(&x->public_key, &y->public_key);
}

void ppn_wg_device_normalize(struct ppn_wg_device *device)
{
	prefixes_normalize(device->addresses, &device->n_addresses);
	prefixes_normalize(device->routes, &device->n_routes);
	for (size_t i = 0; i < device->n_peers; i++)
		prefixes_normalize(device->peers[i].allowed_ips, &device->peers[i].n_allowed_ips);
	if (device->n_peers > 1)
		qsort(device->peers, device->n_peers, sizeof(*device->peers), peer_qsort_cmp);
}

const struct ppn_wg_peer *ppn_wg_device_find_peer(const struct ppn_wg_device *device,
						  const struct ppn_key *public_key)
{
	struct ppn_wg_peer needle = {.public_key = *public_key};

	return bsearch(&needle, device->peers, device->n_peers, sizeof(*device->peers),
		       peer_qsort_cmp);
}
