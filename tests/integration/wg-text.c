/* SPDX-License-Identifier: MIT */
#include "wg-text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static void render_endpoint(FILE *out, const char *key, const struct ppn_endpoint *endpoint)
{
	if (!endpoint->host)
		fprintf(out, "peer %s endpoint none\n", key);
	else if (strchr(endpoint->host, ':'))
		fprintf(out, "peer %s endpoint [%s]:%u\n", key, endpoint->host, endpoint->port);
	else
		fprintf(out, "peer %s endpoint %s:%u\n", key, endpoint->host, endpoint->port);
}

static void render_peer(FILE *out, const struct ppn_wg_peer *peer)
{
	char key[PPN_KEY_B64_LEN + 1];
	char prefix[PPN_PREFIX_STRLEN];

	ppn_key_to_base64(&peer->public_key, key);
	render_endpoint(out, key, &peer->endpoint);
	fprintf(out, "peer %s keepalive %u\n", key, peer->keepalive_s);
	for (size_t i = 0; i < peer->n_allowed_ips; i++) {
		ppn_prefix_to_string(&peer->allowed_ips[i], false, prefix);
		fprintf(out, "peer %s allowed_ip %s\n", key, prefix);
	}
	fprintf(out, "peer %s handshake %" PRId64 "\n", key, peer->last_handshake_s);
	fprintf(out, "peer %s rx %" PRIu64 "\n", key, peer->rx_bytes);
	fprintf(out, "peer %s tx %" PRIu64 "\n", key, peer->tx_bytes);
}

static void render_prefixes(FILE *out, const char *what, const struct ppn_prefix *prefixes,
			    size_t count)
{
	char text[PPN_PREFIX_STRLEN];

	for (size_t i = 0; i < count; i++) {
		ppn_prefix_to_string(&prefixes[i], false, text);
		fprintf(out, "%s %s\n", what, text);
	}
}

char *wg_text_render(const struct ppn_wg_device *device)
{
	char key[PPN_KEY_B64_LEN + 1] = "none";
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	if (!out)
		abort();
	if (device->has_public_key)
		ppn_key_to_base64(&device->public_key, key);
	fprintf(out, "interface %s\npresent %s\npublic_key %s\nlisten_port %u\nmtu %u\nup %s\n",
		device->ifname, device->present ? "yes" : "no", key, device->listen_port,
		device->mtu, device->up ? "yes" : "no");
	render_prefixes(out, "address", device->addresses, device->n_addresses);
	render_prefixes(out, "route", device->routes, device->n_routes);
	for (size_t i = 0; i < device->n_peers; i++)
		render_peer(out, &device->peers[i]);
	fclose(out);
	return text;
}
