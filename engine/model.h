/* SPDX-License-Identifier: MIT */
#ifndef PPN_MODEL_H
#define PPN_MODEL_H

/*
 * The typed model of a fleet repository: one struct per manifest kind, as the manifest loader
 * fills them after every strictness rule has passed. Everything here is owned by the
 * struct ppn_fleet that holds it and freed by ppn_fleet_free().
 *
 * Every manifest keeps where it came from (struct ppn_loc) so that rules which span files can
 * still name a path, a line and a column.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PPN_KEY_LEN           32
#define PPN_KEY_B64_LEN       44 /* base64 of 32 bytes, with its one '=' */
#define PPN_SHA256_LEN        32
#define PPN_NAME_MAX          63 /* a DNS label */
#define PPN_DEFAULT_INTERFACE "ppn0"
#define PPN_DEFAULT_PORT      51820
#define PPN_DEFAULT_MTU       1420
#define PPN_DEFAULT_KEEPALIVE 25
#define PPN_DEFAULT_HEARTBEAT 30000 /* milliseconds */
#define PPN_DEFAULT_LIBVIRT   "qemu:///system"

/* Where a value was written: borrowed path (owned by the fleet), 1-based line and column. */
struct ppn_loc {
	const char *path;
	unsigned line;
	unsigned column;
};

struct ppn_key {
	uint8_t bytes[PPN_KEY_LEN];
};

/* An IPv4 or IPv6 address with a prefix length; addr is zero-filled past the family's size. */
struct ppn_prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t len;
};

/* host is NULL when there is no endpoint; otherwise an IP literal or a DNS name. */
struct ppn_endpoint {
	char *host;
	uint16_t port;
};

enum ppn_kind {
	PPN_KIND_NETWORK,
	PPN_KIND_NODE,
	PPN_KIND_PEER,
	PPN_KIND_IMAGE,
	PPN_KIND_VM,
	PPN_KIND_PLACEMENT,
	PPN_KIND_COUNT,
};

struct ppn_admin {
	char *name;
	char *ssh_key; /* "ssh-ed25519 <base64> [comment]" */
	struct ppn_loc loc;
};

/* ppn.yaml */
struct ppn_network {
	char *name;
	struct ppn_prefix overlay;
	char *interface;
	uint16_t listen_port;
	uint32_t mtu;
	char *controller; /* a node name, or NULL */
	struct ppn_admin *admins;
	size_t n_admins;
	uint64_t heartbeat_ms;
	bool allow_mass_removal; /* this commit may remove more than half of the peers or VMs */
	struct ppn_loc loc;
	struct ppn_loc overlay_loc;
	struct ppn_loc controller_loc;
};

enum ppn_node_type {
	PPN_NODE_BARE_METAL,
	PPN_NODE_LEASED,
	PPN_NODE_CLOUD_VM,
};

struct ppn_label {
	char *key;
	char *value;
};

/* nodes/<name>.yaml */
struct ppn_node {
	char *name;
	enum ppn_node_type type;
	char *libvirt_uri;
	struct ppn_label *labels;
	size_t n_labels;
	bool cordoned;
	struct ppn_loc loc;
};

/* peers/<name>.yaml */
struct ppn_peer {
	char *name;
	struct ppn_key public_key;
	struct ppn_prefix address; /* a host address: len is 32 or 128 */
	struct ppn_endpoint endpoint;
	bool relay;
	uint32_t keepalive_s; /* sent by this peer when it sits behind NAT */
	struct ppn_loc loc;
	struct ppn_loc public_key_loc;
	struct ppn_loc address_loc;
	struct ppn_loc endpoint_loc;
};

enum ppn_image_format {
	PPN_IMAGE_QCOW2,
	PPN_IMAGE_RAW,
};

/* images/<name>.yaml */
struct ppn_image {
	char *name;
	char *source; /* an absolute path or an http(s) URL */
	enum ppn_image_format format;
	uint8_t sha256[PPN_SHA256_LEN];
	struct ppn_loc loc;
};

struct ppn_cloud_init {
	char *user_data;      /* NULL when absent */
	char *network_config; /* NULL when absent */
	uint32_t generation;  /* bumped by a user who wants a fresh first boot */
};

/* vms/<name>.yaml */
struct ppn_vm {
	char *name;
	char *image;
	uint64_t memory; /* bytes */
	uint32_t vcpus;
	uint64_t disk; /* bytes */
	bool needs_kvm;
	char *pin; /* a node name, or NULL */
	struct ppn_cloud_init cloud_init;
	struct ppn_loc loc;
	struct ppn_loc image_loc;
	struct ppn_loc pin_loc;
};

/* placements/<vm>.yaml, written by the controller */
struct ppn_placement {
	char *name; /* the VM's name */
	char *node;
	char *reason;
	struct ppn_loc loc;
	struct ppn_loc node_loc;
};

/*
 * A whole, valid fleet: one commit's manifests. Arrays are sorted by name so that lookups can
 * bisect and every output is deterministic.
 */
struct ppn_fleet {
	struct ppn_network network;
	struct ppn_node *nodes;
	size_t n_nodes;
	struct ppn_peer *peers;
	size_t n_peers;
	struct ppn_image *images;
	size_t n_images;
	struct ppn_vm *vms;
	size_t n_vms;
	struct ppn_placement *placements;
	size_t n_placements;

	char **paths; /* every path a ppn_loc points into */
	size_t n_paths;
};

struct ppn_fleet *ppn_fleet_new(void);
void ppn_fleet_free(struct ppn_fleet *fleet);

/* Lookups by name in the sorted arrays; NULL when absent. The result is borrowed. */
const struct ppn_node *ppn_fleet_node(const struct ppn_fleet *fleet, const char *name);
const struct ppn_peer *ppn_fleet_peer(const struct ppn_fleet *fleet, const char *name);
const struct ppn_image *ppn_fleet_image(const struct ppn_fleet *fleet, const char *name);
const struct ppn_vm *ppn_fleet_vm(const struct ppn_fleet *fleet, const char *name);
const struct ppn_placement *ppn_fleet_placement(const struct ppn_fleet *fleet, const char *name);

const char *ppn_kind_name(enum ppn_kind kind);

/* Text forms. Buffers are at least PPN_KEY_B64_LEN + 1 and PPN_PREFIX_STRLEN bytes. */
#define PPN_PREFIX_STRLEN 64 /* INET6_ADDRSTRLEN plus "/128", rounded up */
void ppn_key_to_base64(const struct ppn_key *key, char out[PPN_KEY_B64_LEN + 1]);
int ppn_key_from_base64(struct ppn_key *out, const char *text);
/* Writes "a.b.c.d/len"; with host_short, a host prefix (/32, /128) is written without length. */
void ppn_prefix_to_string(const struct ppn_prefix *prefix, bool host_short,
			  char out[PPN_PREFIX_STRLEN]);
/* Parses "addr" (a host prefix) or "addr/len"; -EINVAL when malformed or host bits are set. */
int ppn_prefix_parse(struct ppn_prefix *out, const char *text);
int ppn_prefix_cmp(const struct ppn_prefix *a, const struct ppn_prefix *b);
/* True when addr (any length) lies inside net. */
bool ppn_prefix_contains(const struct ppn_prefix *net, const struct ppn_prefix *addr);
int ppn_key_cmp(const struct ppn_key *a, const struct ppn_key *b);

#endif
