/* SPDX-License-Identifier: MIT */
/*
 * What this node should run, and the names of everything a VM becomes. Names are derived
 * from manifest names only (DNS labels), so they are deterministic and never need escaping
 * as libvirt names.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lv.h"
#include "util.h"

void ppn_lv_hex(const uint8_t *bytes, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static const char *format_name(enum ppn_image_format format)
{
	return format == PPN_IMAGE_QCOW2 ? "qcow2" : "raw";
}

char *ppn_lv_base_volume(const struct ppn_image *image)
{
	char hex[PPN_LV_SHA_HEX];

	ppn_lv_hex(image->sha256, PPN_SHA256_LEN, hex);
	return ppn_xasprintf(PPN_LV_BASE_PREFIX "%s-%.12s.%s", image->name, hex,
			     format_name(image->format));
}

/* Each part is framed by its length, so that moving bytes between user-data and
 * network-config, or dropping an empty network-config, changes the fingerprint. */
static void hash_part(EVP_MD_CTX *ctx, const char *label, const char *text)
{
	char frame[64];
	int len = text ? snprintf(frame, sizeof(frame), "%s %zu\n", label, strlen(text))
		       : snprintf(frame, sizeof(frame), "%s absent\n", label);

	EVP_DigestUpdate(ctx, frame, (size_t)len);
	if (text)
		EVP_DigestUpdate(ctx, text, strlen(text));
}

void ppn_lv_cloud_init_sha256(const struct ppn_cloud_init *cloud_init, char out[PPN_LV_SHA_HEX])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t digest[PPN_SHA256_LEN];

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		fputs("ppn: cannot start SHA-256\n", stderr);
		abort();
	}
	hash_part(ctx, "user-data", cloud_init->user_data);
	hash_part(ctx, "network-config", cloud_init->network_config);
	EVP_DigestFinal_ex(ctx, digest, NULL);
	EVP_MD_CTX_free(ctx);
	ppn_lv_hex(digest, sizeof(digest), out);
}

/* A pin wins over a placement. */
static bool placed_here(const struct ppn_fleet *fleet, const struct ppn_vm *vm, const char *node)
{
	const struct ppn_placement *placement;

	if (vm->pin)
		return strcmp(vm->pin, node) == 0;
	placement = ppn_fleet_placement(fleet, vm->name);
	return placement && strcmp(placement->node, node) == 0;
}

static void want_init(struct ppn_lv_want *want, const struct ppn_fleet *fleet,
		      const struct ppn_vm *vm)
{
	want->vm = vm;
	want->image = ppn_fleet_image(fleet, vm->image);
	want->domain = ppn_xasprintf(PPN_LV_DOMAIN_PREFIX "%s", vm->name);
	want->overlay = ppn_xasprintf(PPN_LV_DOMAIN_PREFIX "%s" PPN_LV_OVERLAY_EXT, vm->name);
	want->seed = ppn_xasprintf(PPN_LV_DOMAIN_PREFIX "%s" PPN_LV_SEED_SUFFIX, vm->name);
	want->base = want->image ? ppn_lv_base_volume(want->image) : NULL;
	want->instance_id = ppn_xasprintf("%s-%" PRIu32, vm->name, vm->cloud_init.generation);
	ppn_lv_cloud_init_sha256(&vm->cloud_init, want->cloud_init_sha256);
}

void ppn_lv_wants(const struct ppn_fleet *fleet, const char *node, struct ppn_lv_want **out,
		  size_t *count)
{
	struct ppn_lv_want *wants = NULL;
	size_t n = 0;

	/* The fleet's VMs are sorted by name, so the result is too. */
	if (fleet && node) {
		wants = ppn_xcalloc(fleet->n_vms, sizeof(*wants));
		for (size_t i = 0; i < fleet->n_vms; i++)
			if (placed_here(fleet, &fleet->vms[i], node))
				want_init(&wants[n++], fleet, &fleet->vms[i]);
	}
	*out = wants;
	*count = n;
}

void ppn_lv_wants_free(struct ppn_lv_want *wants, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(wants[i].domain);
		free(wants[i].overlay);
		free(wants[i].seed);
		free(wants[i].base);
		free(wants[i].instance_id);
	}
	free(wants);
}

const struct ppn_lv_want *ppn_lv_wants_find(const struct ppn_lv_want *wants, size_t count,
					    const char *vm)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(wants[mid].vm->name, vm);

		if (c == 0)
			return &wants[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool ends_with(const char *text, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(text + len - n, suffix, n) == 0;
}

char *ppn_lv_volume_vm(const char *volume)
{
	size_t prefix = strlen(PPN_LV_DOMAIN_PREFIX);
	size_t len = strlen(volume);

	if (strncmp(volume, PPN_LV_DOMAIN_PREFIX, prefix) != 0)
		return NULL;
	if (ends_with(volume, len, PPN_LV_SEED_SUFFIX))
		len -= strlen(PPN_LV_SEED_SUFFIX);
	else if (ends_with(volume, len, PPN_LV_OVERLAY_EXT))
		len -= strlen(PPN_LV_OVERLAY_EXT);
	else
		return NULL;
	if (len <= prefix)
		return NULL;
	return ppn_xstrndup(volume + prefix, len - prefix);
}

void ppn_lv_format_size(uint64_t bytes, char out[32])
{
	static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};

	for (size_t i = 0; i < PPN_ARRAY_SIZE(units); i++) {
		uint64_t unit = UINT64_C(1) << (10 * (PPN_ARRAY_SIZE(units) - i));

		if (bytes >= unit && bytes % unit == 0) {
			snprintf(out, 32, "%" PRIu64 "%s", bytes / unit, units[i]);
			return;
		}
	}
	snprintf(out, 32, "%" PRIu64 "B", bytes);
}
