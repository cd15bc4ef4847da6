/* SPDX-License-Identifier: MIT */
#ifndef PPN_LV_H
#define PPN_LV_H

/*
 * The libvirt plugin's insides, shared by its files and its tests. A VM placed on this node
 * becomes three things, all named from the VM's manifest name so that a pass interrupted
 * between any two steps is finished or cleaned by the next one, never duplicated:
 *
 *   ppn-<vm>              the domain, carrying ppn's metadata (which marks it as owned)
 *   ppn-<vm>.qcow2        the copy-on-write overlay, over a verified base image
 *   ppn-<vm>-seed.iso     the NoCloud seed, an ISO9660 image labelled cidata
 *
 * Base images are volumes base-<image>-<first 12 hex of sha256>.<format> in ppn's pool; a
 * new image content gets a new volume, so VMs over the old one keep their backing file.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <libvirt/libvirt.h>

#include "log.h"
#include "model.h"
#include "plan.h"
#include "plugin.h"

#define PPN_LV_NS_URI        "https://ppn.invalid/xmlns/vm/1"
#define PPN_LV_NS_PREFIX     "ppn"
#define PPN_LV_DOMAIN_PREFIX "ppn-"
#define PPN_LV_OVERLAY_EXT   ".qcow2"
#define PPN_LV_SEED_SUFFIX   "-seed.iso"
#define PPN_LV_BASE_PREFIX   "base-"
#define PPN_LV_POOL          "ppn"
#define PPN_LV_SHA_HEX       (2 * PPN_SHA256_LEN + 1)

/* Environment variables: see plugins/libvirt/README.md. */
#define PPN_LV_ENV_URI   "PPN_LIBVIRT_URI"
#define PPN_LV_ENV_POOL  "PPN_LIBVIRT_POOL"
#define PPN_LV_ENV_FACTS "PPN_FACTS_OVERRIDE"

/* What ppn writes into a domain's metadata element: what the domain was built from. */
struct ppn_lv_meta {
	char *vm;
	char *image;
	char *base; /* the base volume's name */
	char *type; /* "kvm" or "qemu" */
	char *instance_id;
	uint32_t generation;
	uint64_t memory; /* bytes, as the manifest asked */
	uint32_t vcpus;
	uint64_t disk;
	char cloud_init_sha256[PPN_LV_SHA_HEX];
};

/* One of ppn's domains as observed. */
struct ppn_lv_domain {
	char *name;
	struct ppn_lv_meta meta;
	bool running;
	uint64_t memory; /* bytes, what the domain has (virDomainGetInfo) */
	uint32_t vcpus;
};

struct ppn_lv_observed {
	bool pool_present;
	bool volumes_known;            /* false while the pool exists but is inactive */
	struct ppn_lv_domain *domains; /* sorted by meta.vm */
	size_t n_domains;
	size_t cap_domains;
	char **volumes; /* names in ppn's pool, sorted */
	size_t n_volumes;
	size_t cap_volumes;
	char **verified; /* base volumes whose checksum this node has checked, sorted */
	size_t n_verified;
	size_t cap_verified;
};

/* A VM this node should run, with the names derived from it. Pointers borrow the fleet. */
struct ppn_lv_want {
	const struct ppn_vm *vm;
	const struct ppn_image *image; /* NULL when the fleet lacks it (the loader forbids that) */
	char *domain;
	char *overlay;
	char *seed;
	char *base;
	char *instance_id;
	char cloud_init_sha256[PPN_LV_SHA_HEX];
};

/* An image whose verification failed in this process: VMs over it fail with the reason. */
struct ppn_lv_image_failure {
	char *image;
	char *reason;
	int error;
};

struct ppn_lv_state {
	char *node;
	char *state_dir;
	char *pool_name;
	char *pool_dir;
	char *console_dir;
	char *verified_dir;

	char *uri;
	virConnectPtr conn;
	bool no_upload; /* the driver takes no uploads (the test driver) */

	struct ppn_facts facts;
	bool facts_ready;
	char *kvm_reason;     /* why KVM is or is not usable, for the plan notes */
	char *facts_override; /* the override file in use, or NULL */
	struct ppn_facts override;
	bool override_memory_total, override_memory_available, override_kvm;
	char *log_suffix; /* "" or "; facts overridden by FILE (simulation)" */

	struct ppn_lv_observed observed;
	bool observed_ok;

	struct ppn_lv_image_failure *failures;
	size_t n_failures;
	size_t cap_failures;
};

/* ---- plugin.c ---- */

/* Logs one line with the state's suffix (the simulation marker) appended. */
void ppn_lv_log(const struct ppn_lv_state *state, int level, const char *fmt, ...) _printf_(3, 4);
#define lv_err(s, ...)   ppn_lv_log(s, LOG_ERR, __VA_ARGS__)
#define lv_warn(s, ...)  ppn_lv_log(s, LOG_WARNING, __VA_ARGS__)
#define lv_info(s, ...)  ppn_lv_log(s, LOG_INFO, __VA_ARGS__)
#define lv_debug(s, ...) ppn_lv_log(s, LOG_DEBUG, __VA_ARGS__)

/* libvirt's message for the last failed call on this thread; never NULL. */
const char *ppn_lv_error(void);
/* True when the last failed libvirt call failed with this virErrorNumber. */
bool ppn_lv_error_is(int code);

/* ---- conn.c ---- */

/* The URI to use: $PPN_LIBVIRT_URI, else the node manifest's, else qemu:///system. */
const char *ppn_lv_uri(const struct ppn_lv_state *state, const struct ppn_desired *desired);
/* Connects (again, when the URI changed). Returns 0 or -errno, logged. */
int ppn_lv_connect(struct ppn_lv_state *state, const char *uri);
/* True when the URI names this machine's hypervisor (not the test driver, not a remote). */
bool ppn_lv_uri_is_local(const char *uri);
bool ppn_lv_uri_is_test(const char *uri);
/* Creates dir and its missing parents, logging nothing. 0 or -errno. */
int ppn_lv_make_dirs(const char *dir, mode_t mode);
/* The same with mode 0755, logging a failure. */
int ppn_lv_mkdir(const struct ppn_lv_state *state, const char *dir);
/* Looks up ppn's pool, creating, building and starting it when absent or inactive. The
 * returned pool is owned by the caller (virStoragePoolFree). */
int ppn_lv_pool_ensure(struct ppn_lv_state *state, virStoragePoolPtr *out);

/* ---- names.c ---- */

/* The VMs of the fleet that this node should run: a pin names this node, or there is no pin
 * and the placement does. Sorted by name; free with ppn_lv_wants_free(). */
void ppn_lv_wants(const struct ppn_fleet *fleet, const char *node, struct ppn_lv_want **out,
		  size_t *count);
void ppn_lv_wants_free(struct ppn_lv_want *wants, size_t count);
const struct ppn_lv_want *ppn_lv_wants_find(const struct ppn_lv_want *wants, size_t count,
					    const char *vm);
/* "base-<image>-<12 hex>.<format>", newly allocated. */
char *ppn_lv_base_volume(const struct ppn_image *image);
/* A fingerprint of what the seed says apart from the instance-id: user-data and
 * network-config (absent and empty differ). */
void ppn_lv_cloud_init_sha256(const struct ppn_cloud_init *cloud_init, char out[PPN_LV_SHA_HEX]);
/* The VM a volume of ppn's belongs to (newly allocated), or NULL for a base image or a
 * volume ppn did not name. */
char *ppn_lv_volume_vm(const char *volume);
/* "2GiB", "512MiB", or "1000000000B" when no binary unit divides it. */
void ppn_lv_format_size(uint64_t bytes, char out[32]);
void ppn_lv_hex(const uint8_t *bytes, size_t len, char *out);

/* ---- xml.c ---- */

/* Everything the domain XML says; strings are borrowed. */
struct ppn_lv_domain_spec {
	const char *name;
	const char *uuid; /* NULL: libvirt picks one */
	const char *type; /* "kvm" or "qemu" */
	const struct ppn_lv_meta *meta;
	uint64_t memory_kib;
	uint32_t vcpus;
	const char *overlay_path;
	const char *base_path;
	const char *base_format; /* "qcow2" or "raw" */
	const char *seed_path;
	const char *console_path;
};

/* Domain XML, escaped by libxml2's writer. Returns 0 and a string (free()) or -ENOMEM. */
int ppn_lv_xml_domain(const struct ppn_lv_domain_spec *spec, char **out);
/* The metadata element alone, as virDomainSetMetadata takes it. */
int ppn_lv_xml_meta(const struct ppn_lv_meta *meta, char **out);
/* Parses a metadata element (as virDomainGetMetadata returns it). -EBADMSG when malformed. */
int ppn_lv_xml_meta_parse(const char *xml, struct ppn_lv_meta *out);
void ppn_lv_meta_release(struct ppn_lv_meta *meta);
/* A volume of capacity bytes (allocation 0). backing_path NULL: a plain raw file. */
int ppn_lv_xml_volume(const char *name, uint64_t capacity, const char *format,
		      const char *backing_path, const char *backing_format, char **out);
/* A dir pool at path. */
int ppn_lv_xml_pool(const char *name, const char *path, char **out);

/* ---- seed.c ---- */

/* The three files of a NoCloud seed. network_config NULL: no such file. */
struct ppn_lv_seed_files {
	const char *meta_data;
	const char *user_data;
	const char *network_config;
};

/* Builds the ISO9660 image (Rock Ridge and Joliet names, volume id "cidata") in memory.
 * Returns 0 with *data (free()) and *size, or a negative errno with *why set (free()). */
int ppn_lv_seed_build(const struct ppn_lv_seed_files *files, uint8_t **data, size_t *size,
		      char **why);

/* ---- volume.c ---- */

/* Writes a volume's bytes: through virStorageVolUpload, or, for a driver without uploads
 * (the test driver), straight into the volume's file, which then must be on this machine. */
struct ppn_lv_writer {
	virStreamPtr stream;
	int fd;
};

/* no_upload: the driver is known to take no uploads; set here when it turns out so. */
int ppn_lv_writer_open(virStorageVolPtr volume, uint64_t size, bool *no_upload,
		       struct ppn_lv_writer *writer, char **why);
int ppn_lv_writer_write(struct ppn_lv_writer *writer, const void *data, size_t size, char **why);
/* durable: the bytes reach the disk before it returns (base images, which are recorded as
 * verified right after). */
int ppn_lv_writer_finish(struct ppn_lv_writer *writer, bool durable, char **why);
void ppn_lv_writer_abort(struct ppn_lv_writer *writer);

/* Deletes the volume of this name in pool when there is one. 0, or -errno with *why. */
int ppn_lv_volume_delete(virStoragePoolPtr pool, const char *name, char **why);
/* Creates a volume from XML, replacing one of the same name (a leftover). */
int ppn_lv_volume_create(virStoragePoolPtr pool, const char *name, const char *xml,
			 virStorageVolPtr *out, char **why);

/* ---- image.c ---- */

/* Verifies image's source against its sha256 while copying it into the pool as volume
 * (its name from ppn_lv_base_volume()), and records it as verified. A mismatch deletes the
 * copy and returns -EBADMSG. Returns 0 or -errno with *why set. */
int ppn_lv_image_import(struct ppn_lv_state *state, virStoragePoolPtr pool,
			const struct ppn_image *image, char **why);
/* The name of the record that says image's content was checked: "<volume>.<sha256>". */
char *ppn_lv_image_record(const struct ppn_image *image);
/* Reads the verified records into observed. */
int ppn_lv_image_read_verified(struct ppn_lv_state *state, struct ppn_lv_observed *observed);

/* ---- download.c ---- */

/* Downloads image's http(s) source into an unnamed file under <state_dir>/libvirt: *out is
 * its descriptor, at offset 0. Returns 0, or -errno with *why set. Checks no digest. */
int ppn_lv_download(struct ppn_lv_state *state, const struct ppn_image *image, int *out,
		    char **why);

/* ---- facts.c ---- */

/* Probes (once) and returns the node's facts, overrides applied. */
int ppn_lv_facts(struct ppn_lv_state *state, struct ppn_facts *out);
/* Reads the override file: $PPN_FACTS_OVERRIDE, else <state_dir>/facts.override when
 * present. 0 when none or read, -EINVAL when malformed (logged with path:line:column). */
int ppn_lv_facts_load_override(struct ppn_lv_state *state);
/* Whether KVM can run a guest here: 1 yes, 0 no (with *why), negative errno if unknown. */
int ppn_lv_kvm_probe(const char *device, char **why);

/* ---- observe.c ---- */

int ppn_lv_observe(struct ppn_lv_state *state);
void ppn_lv_observed_release(struct ppn_lv_observed *observed);
const struct ppn_lv_domain *ppn_lv_observed_domain(const struct ppn_lv_observed *observed,
						   const char *vm);
bool ppn_lv_observed_volume(const struct ppn_lv_observed *observed, const char *name);
bool ppn_lv_observed_verified(const struct ppn_lv_observed *observed, const char *name);

/* ---- diff.c ---- */

/* What applying a libvirt/domain action does, in this order. */
enum {
	PPN_LV_STEP_DESTROY = 1 << 0,     /* stop the domain first (a new disk) */
	PPN_LV_STEP_OVERLAY = 1 << 1,     /* a new overlay */
	PPN_LV_STEP_SEED = 1 << 2,        /* a new seed */
	PPN_LV_STEP_DEFINE = 1 << 3,      /* define the domain from the manifest */
	PPN_LV_STEP_RESTART = 1 << 4,     /* stop it so the new definition takes effect */
	PPN_LV_STEP_LIVE_META = 1 << 5,   /* update the running domain's metadata */
	PPN_LV_STEP_START = 1 << 6,       /* start it when not running */
	PPN_LV_STEP_UNDEFINE = 1 << 7,    /* destroy and undefine */
	PPN_LV_STEP_DEL_VOLUMES = 1 << 8, /* delete its overlay and seed */
};

/* What an action carries to apply: the VM, image or volume it is about, and for a VM the
 * steps, or why it cannot be done here (a VM that needs KVM on a node without). One block,
 * freed with free(): the engine may release a plan after it unloaded the module. */
struct ppn_lv_payload {
	unsigned steps;
	const char *refusal; /* a constant string, or NULL */
	char name[];
};

/* Appends the plugin's actions in a deterministic order: domain deletes, images, domains by
 * VM name, then leftover volumes by name. */
int ppn_lv_plan(struct ppn_lv_state *state, const struct ppn_desired *desired,
		struct ppn_plan *plan);

/* ---- apply.c ---- */

int ppn_lv_apply(struct ppn_lv_state *state, const struct ppn_desired *desired,
		 struct ppn_action *const *actions, size_t count, int *results);

#endif
