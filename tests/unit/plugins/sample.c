/* SPDX-License-Identifier: MIT */
/*
 * A real plugin module for the loader's tests, built several times with different defects
 * selected by SAMPLE_DEFECT, so each refusal of the loader is exercised on a real dlopen().
 * It owns nothing real: observe and plan add one action so a test can see the table work.
 */
#include <errno.h>
#include <stdlib.h>

#include "plugin.h"

#define DEFECT_NONE       0
#define DEFECT_ABI        1
#define DEFECT_NO_OBSERVE 2
#define DEFECT_NO_KINDS   3
#define DEFECT_NO_SYMBOL  4

struct sample_state {
	int observed;
};

static int sample_open(const struct ppn_plugin_options *options, void **state)
{
	*state = calloc(1, sizeof(struct sample_state));
	return *state ? 0 : -ENOMEM;
}

static void sample_close(void *state)
{
	free(state);
}

static int sample_observe(void *state, const struct ppn_desired *desired)
{
	struct sample_state *sample = state;

	sample->observed++;
	return 0;
}

static int sample_plan(void *state, const struct ppn_desired *desired, struct ppn_plan *plan)
{
	struct sample_state *sample = state;
	struct ppn_action *action = ppn_plan_add(plan, PPN_OP_CREATE, "sample/thing", "one");

	ppn_action_add_change(action, "observed", NULL, sample->observed ? "yes" : "no");
	return 0;
}

static const char *const sample_kinds[] = {"sample/thing", NULL};
static const char *const no_kinds[] = {NULL};

#if SAMPLE_DEFECT == DEFECT_NO_SYMBOL
const struct ppn_plugin sample_plugin_under_another_name = {
#else
const struct ppn_plugin ppn_plugin = {
#endif
	.abi = SAMPLE_DEFECT == DEFECT_ABI ? PPN_PLUGIN_ABI + 1 : PPN_PLUGIN_ABI,
	.name = "sample",
	.kinds = SAMPLE_DEFECT == DEFECT_NO_KINDS ? no_kinds : sample_kinds,
	.open = sample_open,
	.close = sample_close,
	.observe = SAMPLE_DEFECT == DEFECT_NO_OBSERVE ? NULL : sample_observe,
	.plan = sample_plan,
};
