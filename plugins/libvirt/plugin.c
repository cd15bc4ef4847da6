/* SPDX-License-Identifier: MIT */
/*
 * The libvirt plugin's table: the VMs placed on this node become libvirt domains over
 * copy-on-write disks and NoCloud seeds. Only this module links libvirt.
 *
 * The connection is made at the first observe, since the URI comes from the node's manifest
 * ($PPN_LIBVIRT_URI overrides it, for tests).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "log.h"
#include "lv.h"
#include "state.h"
#include "util.h"

void ppn_lv_log(const struct ppn_lv_state *state, int level, const char *fmt, ...)
{
	_cleanup_free_ char *message = NULL;
	va_list args;

	if (level > ppn_log_get_level())
		return;
	va_start(args, fmt);
	message = ppn_xvasprintf(fmt, args);
	va_end(args);
	ppn_log(level, "%s%s", message, state && state->log_suffix ? state->log_suffix : "");
}

const char *ppn_lv_error(void)
{
	const char *message = virGetLastErrorMessage();

	return message ? message : "unknown error";
}

bool ppn_lv_error_is(int code)
{
	return virGetLastErrorCode() == code;
}

/* libvirt prints every error to stderr unless told otherwise; ppn logs them itself. */
static void quiet(void *opaque, virErrorPtr error)
{
}

static pthread_once_t libvirt_once = PTHREAD_ONCE_INIT;
static int libvirt_status;

static void libvirt_init(void)
{
	libvirt_status = virInitialize();
	virSetErrorFunc(NULL, quiet);
}

static void lv_close(void *opaque)
{
	struct ppn_lv_state *state = opaque;

	if (!state)
		return;
	if (state->conn)
		virConnectClose(state->conn);
	ppn_lv_observed_release(&state->observed);
	for (size_t i = 0; i < state->n_failures; i++) {
		free(state->failures[i].image);
		free(state->failures[i].reason);
	}
	free(state->failures);
	free(state->node);
	free(state->state_dir);
	free(state->pool_name);
	free(state->pool_dir);
	free(state->console_dir);
	free(state->verified_dir);
	free(state->uri);
	free(state->kvm_reason);
	free(state->facts_override);
	free(state->log_suffix);
	free(state);
}

static int lv_open(const struct ppn_plugin_options *options, void **out)
{
	const char *pool = getenv(PPN_LV_ENV_POOL);
	struct ppn_lv_state *state;
	int r;

	pthread_once(&libvirt_once, libvirt_init);
	if (libvirt_status < 0) {
		ppn_err("plugin 'libvirt': cannot initialise libvirt: %s", ppn_lv_error());
		return -EIO;
	}

	state = ppn_xcalloc(1, sizeof(*state));
	state->node = options->node ? ppn_xstrdup(options->node) : NULL;
	state->state_dir =
		ppn_xstrdup(options->state_dir ? options->state_dir : PPN_DEFAULT_STATE_DIR);
	state->pool_name = ppn_xstrdup(pool && *pool ? pool : PPN_LV_POOL);
	state->pool_dir = ppn_xasprintf("%s/images", state->state_dir);
	state->console_dir = ppn_xasprintf("%s/libvirt/console", state->state_dir);
	state->verified_dir = ppn_xasprintf("%s/libvirt/verified", state->state_dir);
	state->log_suffix = ppn_xstrdup("");

	r = ppn_lv_facts_load_override(state);
	if (r < 0) {
		lv_close(state);
		return r;
	}
	*out = state;
	return 0;
}

static int lv_observe(void *opaque, const struct ppn_desired *desired)
{
	struct ppn_lv_state *state = opaque;
	int r = ppn_lv_connect(state, ppn_lv_uri(state, desired));

	if (r < 0)
		return r;
	return ppn_lv_observe(state);
}

static int lv_plan(void *opaque, const struct ppn_desired *desired, struct ppn_plan *plan)
{
	struct ppn_lv_state *state = opaque;

	if (!state->observed_ok) {
		lv_err(state, "libvirt/connection '%s': cannot plan: nothing was observed",
		       ppn_lv_uri(state, desired));
		return -EINVAL;
	}
	return ppn_lv_plan(state, desired, plan);
}

static int lv_apply(void *opaque, const struct ppn_desired *desired,
		    struct ppn_action *const *actions, size_t count, int *results)
{
	struct ppn_lv_state *state = opaque;

	if (!state->conn) {
		lv_err(state, "libvirt/connection '%s': cannot apply: not connected",
		       ppn_lv_uri(state, desired));
		for (size_t i = 0; i < count; i++)
			results[i] = -ENOTCONN;
		return count ? -ENOTCONN : 0;
	}
	return ppn_lv_apply(state, desired, actions, count, results);
}

static int lv_facts(void *opaque, struct ppn_facts *facts)
{
	return ppn_lv_facts(opaque, facts);
}

static const char *const lv_kinds[] = {
	"libvirt/domain",
	"libvirt/volume",
	"libvirt/image",
	NULL,
};

const struct ppn_plugin ppn_plugin = {
	.abi = PPN_PLUGIN_ABI,
	.name = "libvirt",
	.kinds = lv_kinds,
	.open = lv_open,
	.close = lv_close,
	.observe = lv_observe,
	.plan = lv_plan,
	.apply = lv_apply,
	.facts = lv_facts,
};
