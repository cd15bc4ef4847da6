/* SPDX-License-Identifier: MIT */
#include "model.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util.h"

struct ppn_fleet *ppn_fleet_new(void)
{
	return calloc(1, sizeof(struct ppn_fleet));
}

static void network_release(struct ppn_network *network)
{
	free(network->name);
	free(network->interface);
	free(network->controller);
	for (size_t i = 0; i < network->n_admins; i++) {
		free(network->admins[i].name);
		free(network->admins[i].ssh_key);
	}
	free(network->admins);
}

static void node_release(struct ppn_node *node)
{
	free(node->name);
	free(node->libvirt_uri);
	for (size_t i = 0; i < node->n_labels; i++) {
		free(node->labels[i].key);
		free(node->labels[i].value);
	}
	free(node->labels);
}

static void vm_release(struct ppn_vm *vm)
{
	free(vm->name);
	free(vm->image);
	free(vm->pin);
	free(vm->cloud_init.user_data);
	free(vm->cloud_init.network_config);
}

void ppn_fleet_free(struct ppn_fleet *fleet)
{
	if (!fleet)
		return;

	network_release(&fleet->network);
	for (size_t i = 0; i < fleet->n_nodes; i++)
		node_release(&fleet->nodes[i]);
	free(fleet->nodes);
	for (size_t i = 0; i < fleet->n_peers; i++) {
		free(fleet->peers[i].name);
		free(fleet->peers[i].endpoint.host);
	}
	free(fleet->peers);
	for (size_t i = 0; i < fleet->n_images; i++) {
		free(fleet->images[i].name);
		free(fleet->images[i].source);
	}
	free(fleet->images);
	for (size_t i = 0; i < fleet->n_vms; i++)
		vm_release(&fleet->vms[i]);
	free(fleet->vms);
	for (size_t i = 0; i < fleet->n_placements; i++) {
		free(fleet->placements[i].name);
		free(fleet->placements[i].node);
		free(fleet->placements[i].reason);
	}
	free(fleet->placements);
	for (size_t i = 0; i < fleet->n_paths; i++)
		free(fleet->paths[i]);
	free(fleet->paths);
	free(fleet);
}

/*
 * Every manifest struct starts with its name, so one bisection serves all kinds. The arrays are
 * sorted by the loader.
 */
static const void *find_by_name(const void *array, size_t count, size_t size, const char *name)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *const *entry = (const char *const *)((const char *)array + mid * size);
		int cmp = strcmp(name, *entry);

		if (cmp == 0)
			return entry;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct ppn_node *ppn_fleet_node(const struct ppn_fleet *fleet, const char *name)
{
	return find_by_name(fleet->nodes, fleet->n_nodes, sizeof(*fleet->nodes), name);
}

const struct ppn_peer *ppn_fleet_peer(const struct ppn_fleet *fleet, const char *name)
{
	return find_by_name(fleet->peers, fleet->n_peers, sizeof(*fleet->peers), name);
}

const struct ppn_image *ppn_fleet_image(const struct ppn_fleet *fleet, const char *name)
{
	return find_by_name(fleet->images, fleet->n_images, sizeof(*fleet->images), name);
}

const struct ppn_vm *ppn_fleet_vm(const struct ppn_fleet *fleet, const char *name)
{
	return find_by_name(fleet->vms, fleet->n_vms, sizeof(*fleet->vms), name);
}

const struct ppn_placement *ppn_fleet_placement(const struct ppn_fleet *fleet, const char *name)
{
	return find_by_name(fleet->placements, fleet->n_placements, sizeof(*fleet->placements),
			    name);
}

const char *ppn_kind_name(enum ppn_kind kind)
{
	static const char *const names[PPN_KIND_COUNT] = {
		[PPN_KIND_NETWORK] = "Network", [PPN_KIND_NODE] = "Node",
		[PPN_KIND_PEER] = "Peer",       [PPN_KIND_IMAGE] = "Image",
		[PPN_KIND_VM] = "VM",           [PPN_KIND_PLACEMENT] = "Placement",
	};

	return kind < PPN_KIND_COUNT ? names[kind] : "?";
}

void ppn_key_to_base64(const struct ppn_key *key, char out[PPN_KEY_B64_LEN + 1])
{
	EVP_EncodeBlock((unsigned char *)out, key->bytes, PPN_KEY_LEN);
}

/*
 * Only the canonical base64 text of 32 bytes is a key: decoding and encoding again must give
 * the same text back, which refuses an '=' inside the text and stray low bits in the last
 * character, exactly as wg(8) does.
 */
int ppn_key_from_base64(struct ppn_key *out, const char *text)
{
	uint8_t decoded[PPN_KEY_LEN + 1]; /* EVP_DecodeBlock writes whole 3-byte groups */
	char again[PPN_KEY_B64_LEN + 1];
	struct ppn_key key;

	if (strlen(text) != PPN_KEY_B64_LEN)
		return -EINVAL;
	if (EVP_DecodeBlock(decoded, (const unsigned char *)text, PPN_KEY_B64_LEN) !=
	    PPN_KEY_LEN + 1)
		return -EINVAL;

	memcpy(key.bytes, decoded, PPN_KEY_LEN);
	ppn_key_to_base64(&key, again);
	if (strcmp(again, text) != 0)
		return -EINVAL;

	*out = key;
	return 0;
}

static size_t family_bytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

void ppn_prefix_to_string(const struct ppn_prefix *prefix, bool host_short,
			  char out[PPN_PREFIX_STRLEN])
{
	char addr[INET6_ADDRSTRLEN];
	unsigned host_len = family_bytes(prefix->family) * 8;

	if (!inet_ntop(prefix->family, prefix->addr, addr, sizeof(addr)))
		strcpy(addr, "?");
	if (host_short && prefix->len == host_len)
		snprintf(out, PPN_PREFIX_STRLEN, "%s", addr);
	else
		snprintf(out, PPN_PREFIX_STRLEN, "%s/%u", addr, prefix->len);
}

static bool host_bits_clear(const struct ppn_prefix *prefix)
{
	size_t total = family_bytes(prefix->family);

	for (size_t bit = prefix->len; bit < total * 8; bit++)
		if (prefix->addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

int ppn_prefix_parse(struct ppn_prefix *out, const char *text)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t addr_len = slash ? (size_t)(slash - text) : strlen(text);
	struct ppn_prefix prefix = {0};

	if (addr_len == 0 || addr_len >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, text, addr_len);
	addr[addr_len] = '\0';

	if (inet_pton(AF_INET, addr, prefix.addr) == 1)
		prefix.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, prefix.addr) == 1)
		prefix.family = AF_INET6;
	else
		return -EINVAL;

	prefix.len = family_bytes(prefix.family) * 8;
	if (slash) {
		unsigned len;

		if (ppn_parse_uint(slash + 1, prefix.len, &len) < 0)
			return -EINVAL;
		prefix.len = len;
	}
	if (!host_bits_clear(&prefix))
		return -EINVAL;

	*out = prefix;
	return 0;
}

int ppn_prefix_cmp(const struct ppn_prefix *a, const struct ppn_prefix *b)
{
	int cmp;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	cmp = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (cmp)
		return cmp;
	return (int)a->len - (int)b->len;
}

bool ppn_prefix_contains(const struct ppn_prefix *net, const struct ppn_prefix *addr)
{
	if (net->family != addr->family || addr->len < net->len)
		return false;

	for (unsigned bit = 0; bit < net->len; bit++) {
		uint8_t mask = 0x80 >> (bit % 8);

		if ((net->addr[bit / 8] & mask) != (addr->addr[bit / 8] & mask))
			return false;
	}
	return true;
}

int ppn_key_cmp(const struct ppn_key *a, const struct ppn_key *b)
{
	return memcmp(a->bytes, b->bytes, PPN_KEY_LEN);
}
