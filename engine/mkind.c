/* SPDX-License-Identifier: MIT */
#include "mkind.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "scalar.h"
#include "util.h"

#define OVERLAY_RULE "an IP network with zero host bits, such as '10.77.0.0/24' or 'fd77::/64'"
#define SSH_KEY_RULE "an SSH public key 'ssh-ed25519 <base64> [comment]'"
#define KEY_RULE     "a WireGuard public key (44 characters of base64 ending in '=')"
#define ADDRESS_RULE                                                                               \
	"an IP address without prefix length (or with /32 or /128), such as '10.77.0.2'"
#define ENDPOINT_RULE                                                                              \
	"an endpoint 'host:port' such as '203.0.113.10:51820', '[2001:db8::1]:51820' or "          \
	"'relay.example.com:51820'"
#define SOURCE_RULE "an absolute path or an http:// or https:// URL"
#define SHA256_RULE "64 lowercase hexadecimal digits"

/* Known in every top mapping, read by the manifest loader itself. */
#define TOP_FIELDS                                                                                 \
	{"apiVersion", false, NULL}, {"kind", false, NULL},                                        \
	{                                                                                          \
		"name", false, NULL                                                                \
	}

static void report_expected(struct ppn_mfile *file, const struct ppn_yentry *entry,
			    const char *what)
{
	_cleanup_free_ char *got = ppn_mfield_describe(entry->value);

	ppn_mfield_report_value(file, entry, "expected %s, got %s", what, got);
}

/* A string that must also pass valid(); what describes it in both messages. */
static bool read_text(struct ppn_mfile *file, const struct ppn_yentry *entry, const char *what,
		      bool (*valid)(const char *), char **out)
{
	_cleanup_free_ char *text = NULL;

	if (!ppn_mfield_string(file, entry, what, &text))
		return false;
	if (valid && !valid(text)) {
		report_expected(file, entry, what);
		return false;
	}
	*out = PPN_TAKE_PTR(text);
	return true;
}

static void replace_string(char **slot, char *value)
{
	free(*slot);
	*slot = value;
}

/* --- ppn.yaml ---------------------------------------------------------------------------- */

static bool is_network(const char *text)
{
	struct ppn_prefix prefix;

	return strchr(text, '/') && ppn_prefix_parse(&prefix, text) == 0;
}

static void read_overlay(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_network *network = object;
	_cleanup_free_ char *text = NULL;

	if (!read_text(file, entry, OVERLAY_RULE, is_network, &text))
		return;
	ppn_prefix_parse(&network->overlay, text);
	network->overlay_loc = ppn_mfield_loc(file, entry->value);
}

static void read_interface(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_network *network = object;
	char *text;

	if (read_text(file, entry, PPN_INTERFACE_RULE, ppn_scalar_is_interface, &text))
		replace_string(&network->interface, text);
}

static void read_listen_port(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_network *network = object;
	uint64_t port;

	if (ppn_mfield_uint(file, entry, 1, 65535, &port))
		network->listen_port = (uint16_t)port;
}

static void read_mtu(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_network *network = object;
	uint64_t mtu;

	if (ppn_mfield_uint(file, entry, 1280, 9000, &mtu))
		network->mtu = (uint32_t)mtu;
}

static void read_controller(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_network *network = object;
	char *name;

	if (!ppn_mfield_name(file, entry, &name))
		return;
	replace_string(&network->controller, name);
	network->controller_loc = ppn_mfield_loc(file, entry->value);
}

static void read_heartbeat(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_network *network = object;

	ppn_mfield_duration(file, entry, 1000, UINT64_MAX, false, "of at least 1s",
			    &network->heartbeat_ms);
}

static void read_admin_name(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_admin *admin = object;
	char *name;

	if (!ppn_mfield_name(file, entry, &name))
		return;
	replace_string(&admin->name, name);
	admin->loc = ppn_mfield_loc(file, entry->value);
}

static bool is_ssh_key(const char *text)
{
	return ppn_scalar_check_ssh_ed25519(text) == 0;
}

static void read_admin_key(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_admin *admin = object;
	char *key;

	if (read_text(file, entry, SSH_KEY_RULE, is_ssh_key, &key))
		replace_string(&admin->ssh_key, key);
}

static const struct ppn_mfield admin_fields[] = {
	{"name", true, read_admin_name},
	{"sshKey", true, read_admin_key},
};

static void read_admins(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_network *network = object;
	const struct ppn_ynode *list = entry->value;

	if (!ppn_mfield_is(file, entry, PPN_YNODE_SEQUENCE,
			   "a list of admins, each with 'name' and 'sshKey'"))
		return;

	network->admins = ppn_xcalloc(list->count, sizeof(*network->admins));
	for (size_t i = 0; i < list->count; i++) {
		struct ppn_yentry item = {NULL, list->items[i]};
		struct ppn_admin *admin = &network->admins[network->n_admins++];

		admin->loc = ppn_mfield_loc(file, item.value);
		if (ppn_mfield_is(file, &item, PPN_YNODE_MAPPING,
				  "an admin: a mapping with 'name' and 'sshKey'"))
			ppn_mfield_read_all(file, item.value, admin_fields,
					    PPN_ARRAY_SIZE(admin_fields), admin);
	}
}

static void read_allow_mass_removal(struct ppn_mfile *file, const struct ppn_yentry *entry,
				    void *object)
{
	struct ppn_network *network = object;

	ppn_mfield_bool(file, entry, &network->allow_mass_removal);
}

static const struct ppn_mfield network_fields[] = {
	TOP_FIELDS,
	{"overlay", true, read_overlay},
	{"interface", false, read_interface},
	{"listenPort", false, read_listen_port},
	{"mtu", false, read_mtu},
	{"controller", false, read_controller},
	{"heartbeat", false, read_heartbeat},
	{"admins", false, read_admins},
	{"allowMassRemoval", false, read_allow_mass_removal},
};

void ppn_mkind_read_network(struct ppn_mfile *file, const struct ppn_ynode *root,
			    struct ppn_network *network)
{
	network->interface = ppn_xstrdup(PPN_DEFAULT_INTERFACE);
	network->listen_port = PPN_DEFAULT_PORT;
	network->mtu = PPN_DEFAULT_MTU;
	network->heartbeat_ms = PPN_DEFAULT_HEARTBEAT;
	network->overlay_loc = network->loc;
	network->controller_loc = network->loc;

	ppn_mfield_read_all(file, root, network_fields, PPN_ARRAY_SIZE(network_fields), network);
}

/* --- nodes/<name>.yaml ------------------------------------------------------------------- */

static void read_node_type(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	static const char *const types[] = {
		[PPN_NODE_BARE_METAL] = "bare-metal",
		[PPN_NODE_LEASED] = "leased",
		[PPN_NODE_CLOUD_VM] = "cloud-vm",
	};
	struct ppn_node *node = object;
	unsigned type;

	if (ppn_mfield_choice(file, entry, types, PPN_ARRAY_SIZE(types), &type))
		node->type = (enum ppn_node_type)type;
}

static void read_libvirt_uri(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_node *node = object;
	char *uri;

	if (ppn_mfield_string(file, entry, NULL, &uri))
		replace_string(&node->libvirt_uri, uri);
}

static void read_label(struct ppn_mfile *file, const struct ppn_yentry *entry,
		       struct ppn_node *node)
{
	const struct ppn_ynode *key = entry->key;
	char *value;

	if (memchr(key->text, '\0', key->len) || !ppn_scalar_is_name(key->text)) {
		_cleanup_free_ char *got = ppn_mfield_describe(key);

		ppn_mfield_report(file, key, "expected a label key that is %s, got %s",
				  PPN_MFIELD_NAME_RULE, got);
		return;
	}
	if (!ppn_mfield_string(file, entry, NULL, &value))
		return;
	node->labels[node->n_labels++] = (struct ppn_label){ppn_xstrdup(key->text), value};
}

static void read_labels(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_node *node = object;
	const struct ppn_ynode *map = entry->value;

	if (!ppn_mfield_is(file, entry, PPN_YNODE_MAPPING, "a mapping of label names to strings"))
		return;

	node->labels = ppn_xcalloc(map->count, sizeof(*node->labels));
	for (size_t i = 0; i < map->count; i++)
		read_label(file, &map->entries[i], node);
}

static void read_cordoned(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_node *node = object;

	ppn_mfield_bool(file, entry, &node->cordoned);
}

static const struct ppn_mfield node_fields[] = {
	TOP_FIELDS,
	{"type", true, read_node_type},
	{"libvirtUri", false, read_libvirt_uri},
	{"labels", false, read_labels},
	{"cordoned", false, read_cordoned},
};

void ppn_mkind_read_node(struct ppn_mfile *file, const struct ppn_ynode *root,
			 struct ppn_node *node)
{
	node->libvirt_uri = ppn_xstrdup(PPN_DEFAULT_LIBVIRT);

	ppn_mfield_read_all(file, root, node_fields, PPN_ARRAY_SIZE(node_fields), node);
}

/* --- peers/<name>.yaml ------------------------------------------------------------------- */

static void read_public_key(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_peer *peer = object;
	_cleanup_free_ char *text = NULL;

	if (!ppn_mfield_string(file, entry, KEY_RULE, &text))
		return;
	if (ppn_key_from_base64(&peer->public_key, text) < 0) {
		report_expected(file, entry, KEY_RULE);
		return;
	}
	peer->public_key_loc = ppn_mfield_loc(file, entry->value);
}

/* A host address: written bare, or with the family's full prefix length. */
static bool is_host_address(const struct ppn_prefix *prefix)
{
	return prefix->len == (prefix->family == AF_INET ? 32 : 128);
}

static void read_address(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_peer *peer = object;
	_cleanup_free_ char *text = NULL;
	struct ppn_prefix address;

	if (!ppn_mfield_string(file, entry, ADDRESS_RULE, &text))
		return;
	if (ppn_prefix_parse(&address, text) < 0 || !is_host_address(&address)) {
		report_expected(file, entry, ADDRESS_RULE);
		return;
	}
	peer->address = address;
	peer->address_loc = ppn_mfield_loc(file, entry->value);
}

static void read_endpoint(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_peer *peer = object;
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *got = NULL;
	char *host;
	uint16_t port;
	int r;

	if (!ppn_mfield_string(file, entry, ENDPOINT_RULE, &text))
		return;

	r = ppn_scalar_parse_endpoint(text, &host, &port);
	if (r == 0) {
		replace_string(&peer->endpoint.host, host);
		peer->endpoint.port = port;
		peer->endpoint_loc = ppn_mfield_loc(file, entry->value);
		return;
	}

	got = ppn_mfield_describe(entry->value);
	if (r == -ERANGE)
		ppn_mfield_report_value(file, entry,
					"expected an endpoint with a port from 1 to 65535, got %s",
					got);
	else
		report_expected(file, entry, ENDPOINT_RULE);
}

static void read_relay(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_peer *peer = object;

	ppn_mfield_bool(file, entry, &peer->relay);
}

static void read_keepalive(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_peer *peer = object;
	uint64_t ms;

	if (ppn_mfield_duration(file, entry, 1000, 65535 * 1000, true,
				"from 1s to 65535s in whole seconds", &ms))
		peer->keepalive_s = (uint32_t)(ms / 1000);
}

static const struct ppn_mfield peer_fields[] = {
	TOP_FIELDS,
	{"publicKey", true, read_public_key},
	{"address", true, read_address},
	{"endpoint", false, read_endpoint},
	{"relay", false, read_relay},
	{"persistentKeepalive", false, read_keepalive},
};

/* Peers behind NAT reach the others through a relay: it must be reachable itself. */
static void check_relay_endpoint(struct ppn_mfile *file, const struct ppn_ynode *root,
				 const struct ppn_peer *peer)
{
	const struct ppn_yentry *relay = ppn_ytree_find(root, "relay");

	/* An endpoint that was written but refused has been reported already. */
	if (!peer->relay || ppn_ytree_find(root, "endpoint"))
		return;
	ppn_mfield_report(file, relay->value,
			  "expected an 'endpoint' beside 'relay: true' (peers behind NAT must "
			  "reach their relay)");
}

void ppn_mkind_read_peer(struct ppn_mfile *file, const struct ppn_ynode *root,
			 struct ppn_peer *peer)
{
	peer->keepalive_s = PPN_DEFAULT_KEEPALIVE;
	peer->public_key_loc = peer->loc;
	peer->address_loc = peer->loc;
	peer->endpoint_loc = peer->loc;

	ppn_mfield_read_all(file, root, peer_fields, PPN_ARRAY_SIZE(peer_fields), peer);
	check_relay_endpoint(file, root, peer);
}

/* --- images/<name>.yaml ------------------------------------------------------------------ */

static void read_source(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_image *image = object;
	char *source;

	if (read_text(file, entry, SOURCE_RULE, ppn_scalar_is_image_source, &source))
		replace_string(&image->source, source);
}

static void read_format(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	static const char *const formats[] = {
		[PPN_IMAGE_QCOW2] = "qcow2",
		[PPN_IMAGE_RAW] = "raw",
	};
	struct ppn_image *image = object;
	unsigned format;

	if (ppn_mfield_choice(file, entry, formats, PPN_ARRAY_SIZE(formats), &format))
		image->format = (enum ppn_image_format)format;
}

static bool is_sha256(const char *text)
{
	uint8_t digest[PPN_SHA256_LEN];

	return ppn_scalar_parse_sha256(text, digest) == 0;
}

static void read_sha256(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_image *image = object;
	_cleanup_free_ char *text = NULL;

	if (read_text(file, entry, SHA256_RULE, is_sha256, &text))
		ppn_scalar_parse_sha256(text, image->sha256);
}

static const struct ppn_mfield image_fields[] = {
	TOP_FIELDS,
	{"source", true, read_source},
	{"format", true, read_format},
	{"sha256", true, read_sha256},
};

void ppn_mkind_read_image(struct ppn_mfile *file, const struct ppn_ynode *root,
			  struct ppn_image *image)
{
	ppn_mfield_read_all(file, root, image_fields, PPN_ARRAY_SIZE(image_fields), image);
}

/* --- vms/<name>.yaml --------------------------------------------------------------------- */

static void read_vm_image(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_vm *vm = object;
	char *name;

	if (!ppn_mfield_name(file, entry, &name))
		return;
	replace_string(&vm->image, name);
	vm->image_loc = ppn_mfield_loc(file, entry->value);
}

static void read_memory(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_vm *vm = object;

	ppn_mfield_size(file, entry, UINT64_C(64) << 20, "64MiB", &vm->memory);
}

static void read_vcpus(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_vm *vm = object;
	uint64_t vcpus;

	if (ppn_mfield_uint(file, entry, 1, 256, &vcpus))
		vm->vcpus = (uint32_t)vcpus;
}

static void read_disk(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_vm *vm = object;

	ppn_mfield_size(file, entry, UINT64_C(1) << 30, "1GiB", &vm->disk);
}

static void read_needs(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	static const char *const needs[] = {"kvm"};
	struct ppn_vm *vm = object;
	const struct ppn_ynode *list = entry->value;

	if (!ppn_mfield_is(file, entry, PPN_YNODE_SEQUENCE, "a list of needs such as [kvm]"))
		return;

	for (size_t i = 0; i < list->count; i++) {
		struct ppn_yentry item = {NULL, list->items[i]};
		unsigned need;

		if (!ppn_mfield_choice(file, &item, needs, PPN_ARRAY_SIZE(needs), &need))
			continue;
		if (vm->needs_kvm)
			ppn_mfield_report(file, item.value,
					  "expected each need once, got 'kvm' again");
		vm->needs_kvm = true;
	}
}

static void read_pin(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_vm *vm = object;
	char *name;

	if (!ppn_mfield_name(file, entry, &name))
		return;
	replace_string(&vm->pin, name);
	vm->pin_loc = ppn_mfield_loc(file, entry->value);
}

static void read_user_data(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_cloud_init *cloud_init = object;
	char *text;

	if (ppn_mfield_string(file, entry, NULL, &text))
		replace_string(&cloud_init->user_data, text);
}

static void read_network_config(struct ppn_mfile *file, const struct ppn_yentry *entry,
				void *object)
{
	struct ppn_cloud_init *cloud_init = object;
	char *text;

	if (ppn_mfield_string(file, entry, NULL, &text))
		replace_string(&cloud_init->network_config, text);
}

static void read_generation(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_cloud_init *cloud_init = object;
	uint64_t generation;

	if (ppn_mfield_uint(file, entry, 0, UINT32_MAX, &generation))
		cloud_init->generation = (uint32_t)generation;
}

static const struct ppn_mfield cloud_init_fields[] = {
	{"userData", false, read_user_data},
	{"networkConfig", false, read_network_config},
	{"generation", false, read_generation},
};

static void read_cloud_init(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_vm *vm = object;

	if (ppn_mfield_is(file, entry, PPN_YNODE_MAPPING,
			  "a mapping with 'userData', 'networkConfig' or 'generation'"))
		ppn_mfield_read_all(file, entry->value, cloud_init_fields,
				    PPN_ARRAY_SIZE(cloud_init_fields), &vm->cloud_init);
}

static const struct ppn_mfield vm_fields[] = {
	TOP_FIELDS,
	{"image", true, read_vm_image},
	{"memory", true, read_memory},
	{"vcpus", true, read_vcpus},
	{"disk", true, read_disk},
	{"needs", false, read_needs},
	{"pin", false, read_pin},
	{"cloudInit", false, read_cloud_init},
};

void ppn_mkind_read_vm(struct ppn_mfile *file, const struct ppn_ynode *root, struct ppn_vm *vm)
{
	vm->image_loc = vm->loc;
	vm->pin_loc = vm->loc;

	ppn_mfield_read_all(file, root, vm_fields, PPN_ARRAY_SIZE(vm_fields), vm);
}

/* --- placements/<vm>.yaml ---------------------------------------------------------------- */

static void read_placement_node(struct ppn_mfile *file, const struct ppn_yentry *entry,
				void *object)
{
	struct ppn_placement *placement = object;
	char *name;

	if (!ppn_mfield_name(file, entry, &name))
		return;
	replace_string(&placement->node, name);
	placement->node_loc = ppn_mfield_loc(file, entry->value);
}

static void read_reason(struct ppn_mfile *file, const struct ppn_yentry *entry, void *object)
{
	struct ppn_placement *placement = object;
	char *reason;

	if (ppn_mfield_string(file, entry, NULL, &reason))
		replace_string(&placement->reason, reason);
}

static const struct ppn_mfield placement_fields[] = {
	TOP_FIELDS,
	{"node", true, read_placement_node},
	{"reason", false, read_reason},
};

void ppn_mkind_read_placement(struct ppn_mfile *file, const struct ppn_ynode *root,
			      struct ppn_placement *placement)
{
	placement->node_loc = placement->loc;

	ppn_mfield_read_all(file, root, placement_fields, PPN_ARRAY_SIZE(placement_fields),
			    placement);
}
