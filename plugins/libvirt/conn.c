/* SPDX-License-Identifier: MIT */
/*
 * The connection to the node's hypervisor and ppn's storage pool on it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libvirt/virterror.h>
#include <libxml/uri.h>

#include "lv.h"
#include "util.h"

const char *ppn_lv_uri(const struct ppn_lv_state *state, const struct ppn_desired *desired)
{
	const char *forced = getenv(PPN_LV_ENV_URI);
	const struct ppn_node *node = NULL;

	if (forced && *forced)
		return forced;
	if (desired && desired->fleet && state->node)
		node = ppn_fleet_node(desired->fleet, state->node);
	if (node && node->libvirt_uri)
		return node->libvirt_uri;
	return PPN_DEFAULT_LIBVIRT;
}

int ppn_lv_connect(struct ppn_lv_state *state, const char *uri)
{
	virConnectPtr conn;

	if (state->conn && strcmp(state->uri, uri) == 0)
		return 0;

	conn = virConnectOpen(uri);
	if (!conn) {
		lv_err(state, "libvirt/connection '%s': cannot connect: %s", uri, ppn_lv_error());
		return -ECONNREFUSED;
	}
	if (state->conn)
		virConnectClose(state->conn);
	free(state->uri);
	state->conn = conn;
	state->uri = ppn_xstrdup(uri);
	state->no_upload = false;
	/* Facts such as the host's memory belong to the host behind the URI. */
	state->facts_ready = false;
	return 0;
}

/* Whether the URI names a host other than this one, and its scheme. */
static bool uri_parts(const char *uri, bool *remote, bool *test)
{
	xmlURIPtr parsed = xmlParseURI(uri);

	if (!parsed)
		return false;
	*remote = parsed->server && *parsed->server;
	*test = parsed->scheme && strcmp(parsed->scheme, "test") == 0;
	xmlFreeURI(parsed);
	return true;
}

bool ppn_lv_uri_is_test(const char *uri)
{
	bool remote, test;

	return uri_parts(uri, &remote, &test) && test;
}

bool ppn_lv_uri_is_local(const char *uri)
{
	bool remote, test;

	return uri_parts(uri, &remote, &test) && !remote && !test;
}

int ppn_lv_make_dirs(const char *dir, mode_t mode)
{
	_cleanup_free_ char *copy = ppn_xstrdup(dir);

	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int ppn_lv_mkdir(const struct ppn_lv_state *state, const char *dir)
{
	int r = ppn_lv_make_dirs(dir, 0755);

	if (r < 0)
		lv_err(state, "libvirt/pool '%s': cannot create directory '%s': %s",
		       state->pool_name, dir, strerror(-r));
	return r;
}

static int pool_define(struct ppn_lv_state *state, virStoragePoolPtr *out)
{
	_cleanup_free_ char *xml = NULL;
	virStoragePoolPtr pool;
	int r = ppn_lv_mkdir(state, state->pool_dir);

	if (r < 0)
		return r;
	r = ppn_lv_xml_pool(state->pool_name, state->pool_dir, &xml);
	if (r < 0)
		return r;

	pool = virStoragePoolDefineXML(state->conn, xml, 0);
	if (!pool) {
		lv_err(state, "libvirt/pool '%s': cannot define: %s", state->pool_name,
		       ppn_lv_error());
		return -EIO;
	}
	if (virStoragePoolBuild(pool, 0) < 0)
		lv_warn(state, "libvirt/pool '%s': cannot build: %s", state->pool_name,
			ppn_lv_error());
	if (virStoragePoolSetAutostart(pool, 1) < 0)
		lv_warn(state, "libvirt/pool '%s': cannot mark it autostart: %s", state->pool_name,
			ppn_lv_error());
	lv_info(state, "libvirt/pool '%s': defined at '%s'", state->pool_name, state->pool_dir);
	*out = pool;
	return 0;
}

static int pool_activate(struct ppn_lv_state *state, virStoragePoolPtr pool)
{
	int active = virStoragePoolIsActive(pool);

	if (active == 1)
		return 0;
	if (active < 0 || virStoragePoolCreate(pool, 0) < 0) {
		lv_err(state, "libvirt/pool '%s': cannot start: %s", state->pool_name,
		       ppn_lv_error());
		return -EIO;
	}
	return 0;
}

int ppn_lv_pool_ensure(struct ppn_lv_state *state, virStoragePoolPtr *out)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(state->conn, state->pool_name);
	int r;

	if (!pool && !ppn_lv_error_is(VIR_ERR_NO_STORAGE_POOL)) {
		lv_err(state, "libvirt/pool '%s': cannot look it up: %s", state->pool_name,
		       ppn_lv_error());
		return -EIO;
	}
	if (!pool) {
		r = pool_define(state, &pool);
		if (r < 0)
			return r;
	}

	r = pool_activate(state, pool);
	if (r < 0) {
		virStoragePoolFree(pool);
		return r;
	}
	*out = pool;
	return 0;
}
