/* SPDX-License-Identifier: MIT */
/*
 * Reads what ppn owns on the hypervisor: the domains that carry ppn's metadata element and
 * the volumes in ppn's pool. Every other domain is skipped at the first look, so it can
 * neither show up as drift nor be changed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "lv.h"
#include "util.h"

void ppn_lv_observed_release(struct ppn_lv_observed *observed)
{
	for (size_t i = 0; i < observed->n_domains; i++) {
		free(observed->domains[i].name);
		ppn_lv_meta_release(&observed->domains[i].meta);
	}
	free(observed->domains);
	for (size_t i = 0; i < observed->n_volumes; i++)
		free(observed->volumes[i]);
	free(observed->volumes);
	for (size_t i = 0; i < observed->n_verified; i++)
		free(observed->verified[i]);
	free(observed->verified);
	*observed = (struct ppn_lv_observed){0};
}

/* 1 and the metadata when the domain is ppn's, 0 when it is not, or a negative errno. */
static int domain_meta(struct ppn_lv_state *state, virDomainPtr domain, struct ppn_lv_meta *meta)
{
	const char *name = virDomainGetName(domain);
	_cleanup_free_ char *xml =
		virDomainGetMetadata(domain, VIR_DOMAIN_METADATA_ELEMENT, PPN_LV_NS_URI, 0);
	_cleanup_free_ char *expected = NULL;

	if (!xml) {
		/* Not ours, or gone since the listing. */
		if (ppn_lv_error_is(VIR_ERR_NO_DOMAIN_METADATA) ||
		    ppn_lv_error_is(VIR_ERR_NO_DOMAIN))
			return 0;
		lv_err(state, "libvirt/domain '%s': cannot read its metadata: %s", name,
		       ppn_lv_error());
		return -EIO;
	}
	if (ppn_lv_xml_meta_parse(xml, meta) < 0) {
		lv_warn(state,
			"libvirt/domain '%s': its ppn metadata is unreadable; leaving it "
			"alone",
			name);
		return 0;
	}
	expected = ppn_xasprintf(PPN_LV_DOMAIN_PREFIX "%s", meta->vm);
	if (strcmp(expected, name) != 0) {
		lv_warn(state,
			"libvirt/domain '%s': its ppn metadata names VM '%s'; leaving it "
			"alone",
			name, meta->vm);
		ppn_lv_meta_release(meta);
		return 0;
	}
	return 1;
}

static int observe_domain(struct ppn_lv_state *state, virDomainPtr domain,
			  struct ppn_lv_observed *observed)
{
	struct ppn_lv_meta meta = {0};
	struct ppn_lv_domain *seen;
	virDomainInfo info;
	int r = domain_meta(state, domain, &meta);

	if (r <= 0)
		return r;
	if (virDomainGetInfo(domain, &info) < 0) {
		lv_err(state, "libvirt/domain '%s': cannot read its state: %s",
		       virDomainGetName(domain), ppn_lv_error());
		ppn_lv_meta_release(&meta);
		return -EIO;
	}

	ppn_grow(&observed->domains, &observed->cap_domains, observed->n_domains + 1,
		 sizeof(*observed->domains));
	seen = &observed->domains[observed->n_domains++];
	*seen = (struct ppn_lv_domain){
		.name = ppn_xstrdup(virDomainGetName(domain)),
		.meta = meta,
		.running = info.state != VIR_DOMAIN_SHUTOFF && info.state != VIR_DOMAIN_CRASHED,
		.memory = (uint64_t)info.maxMem * 1024,
		.vcpus = info.nrVirtCpu,
	};
	return 0;
}

static int observe_domains(struct ppn_lv_state *state, struct ppn_lv_observed *observed)
{
	virDomainPtr *domains = NULL;
	int n = virConnectListAllDomains(state->conn, &domains, 0);
	int r = 0;

	if (n < 0) {
		lv_err(state, "libvirt/connection '%s': cannot list domains: %s", state->uri,
		       ppn_lv_error());
		return -EIO;
	}
	for (int i = 0; i < n; i++) {
		if (r == 0)
			r = observe_domain(state, domains[i], observed);
		virDomainFree(domains[i]);
	}
	free(domains);
	return r;
}

static bool is_ppn_volume(const char *name)
{
	return strncmp(name, PPN_LV_DOMAIN_PREFIX, strlen(PPN_LV_DOMAIN_PREFIX)) == 0 ||
	       strncmp(name, PPN_LV_BASE_PREFIX, strlen(PPN_LV_BASE_PREFIX)) == 0;
}

static int list_volumes(struct ppn_lv_state *state, virStoragePoolPtr pool,
			struct ppn_lv_observed *observed)
{
	virStorageVolPtr *volumes = NULL;
	int n;

	/* The directory may hold files made behind libvirt's back, by an interrupted pass. */
	if (virStoragePoolRefresh(pool, 0) < 0)
		lv_warn(state, "libvirt/pool '%s': cannot refresh: %s", state->pool_name,
			ppn_lv_error());
	n = virStoragePoolListAllVolumes(pool, &volumes, 0);
	if (n < 0) {
		lv_err(state, "libvirt/pool '%s': cannot list volumes: %s", state->pool_name,
		       ppn_lv_error());
		return -EIO;
	}
	for (int i = 0; i < n; i++) {
		const char *name = virStorageVolGetName(volumes[i]);

		if (name && is_ppn_volume(name)) {
			ppn_grow(&observed->volumes, &observed->cap_volumes,
				 observed->n_volumes + 1, sizeof(*observed->volumes));
			observed->volumes[observed->n_volumes++] = ppn_xstrdup(name);
		}
		virStorageVolFree(volumes[i]);
	}
	free(volumes);
	observed->volumes_known = true;
	return 0;
}

/* An absent or inactive pool is not an error: apply creates or starts it. While it is
 * inactive its volumes are unknown, and nothing is planned from their absence. */
static int observe_pool(struct ppn_lv_state *state, struct ppn_lv_observed *observed)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(state->conn, state->pool_name);
	int r = 0;

	if (!pool) {
		if (!ppn_lv_error_is(VIR_ERR_NO_STORAGE_POOL)) {
			lv_err(state, "libvirt/pool '%s': cannot look it up: %s", state->pool_name,
			       ppn_lv_error());
			return -EIO;
		}
		observed->volumes_known = true;
		return 0;
	}
	observed->pool_present = true;
	if (virStoragePoolIsActive(pool) == 1)
		r = list_volumes(state, pool, observed);
	virStoragePoolFree(pool);
	return r;
}

static int domain_cmp(const void *a, const void *b)
{
	const struct ppn_lv_domain *x = a, *y = b;

	return strcmp(x->meta.vm, y->meta.vm);
}

static int string_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* qsort() and bsearch() take no NULL array, even an empty one. */
static void sort(void *items, size_t count, size_t size, int (*cmp)(const void *, const void *))
{
	if (count > 0)
		qsort(items, count, size, cmp);
}

int ppn_lv_observe(struct ppn_lv_state *state)
{
	struct ppn_lv_observed observed = {0};
	int r = observe_domains(state, &observed);

	if (r == 0)
		r = observe_pool(state, &observed);
	if (r == 0)
		r = ppn_lv_image_read_verified(state, &observed);
	if (r < 0) {
		ppn_lv_observed_release(&observed);
		return r;
	}

	sort(observed.domains, observed.n_domains, sizeof(*observed.domains), domain_cmp);
	sort(observed.volumes, observed.n_volumes, sizeof(*observed.volumes), string_cmp);
	sort(observed.verified, observed.n_verified, sizeof(*observed.verified), string_cmp);
	ppn_lv_observed_release(&state->observed);
	state->observed = observed;
	state->observed_ok = true;
	return 0;
}

const struct ppn_lv_domain *ppn_lv_observed_domain(const struct ppn_lv_observed *observed,
						   const char *vm)
{
	struct ppn_lv_domain key = {.meta.vm = (char *)vm};

	if (observed->n_domains == 0)
		return NULL;
	return bsearch(&key, observed->domains, observed->n_domains, sizeof(key), domain_cmp);
}

static bool has_string(char *const *strings, size_t count, const char *name)
{
	if (count == 0)
		return false;
	return bsearch(&name, strings, count, sizeof(*strings), string_cmp) != NULL;
}

bool ppn_lv_observed_volume(const struct ppn_lv_observed *observed, const char *name)
{
	return has_string(observed->volumes, observed->n_volumes, name);
}

bool ppn_lv_observed_verified(const struct ppn_lv_observed *observed, const char *name)
{
	return has_string(observed->verified, observed->n_verified, name);
}
