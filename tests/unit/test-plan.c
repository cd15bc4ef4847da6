/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"
#include "util.h"

#define KEY_AIR   "Im2keTvARDkiQ5iKwaQKR0CT4Zk9debZTCDgKJNiGgc="
#define KEY_PRO   "KBFUROvAOD5uARVfnk5h9EEjCq0hRT+bsLr5LhNqUGo="
#define KEY_STALE "+PhSZdH0j/wT3gcRvzJjNP00dSTH0jk0Owib0y0h8h0="
#define COMMIT    "0123456789abcdef0123456789abcdef01234567"

static void plan_start(struct ppn_plan *plan, const char *commit)
{
	ppn_plan_init(plan);
	plan->node = ppn_xstrdup("macbook-air");
	plan->ref = ppn_xstrdup("refs/heads/main");
	plan->commit = commit ? ppn_xstrdup(commit) : NULL;
}

/* One action of each op, plus a reason, a change with no old side, and a change-less action. */
static void small_plan(struct ppn_plan *plan)
{
	struct ppn_action *action;

	plan_start(plan, COMMIT);
	ppn_plan_add_note(plan, "backend: %s", "wireguard-go (userspace)");

	action = ppn_plan_add(plan, PPN_OP_UPDATE, "wireguard/interface", "ppn0");
	ppn_action_add_change(action, "public-key", NULL, KEY_AIR);
	ppn_action_add_change(action, "mtu", "1280", "1420");

	action = ppn_plan_add(plan, PPN_OP_CREATE, "wireguard/peer", "macbook-pro");
	ppn_action_add_change(action, "public-key", NULL, KEY_PRO);
	ppn_action_add_change(action, "allowed-ips", NULL, "10.77.0.2/32");

	action = ppn_plan_add(plan, PPN_OP_DELETE, "wireguard/peer", KEY_STALE);
	ppn_action_set_reason(action, "not in the %s", "manifests");
	ppn_action_add_change(action, "public-key", KEY_STALE, NULL);

	action = ppn_plan_add(plan, PPN_OP_REPLACE, "libvirt/domain", "web");
	ppn_action_set_reason(action, "memory changes need a new domain");
	ppn_action_add_change(action, "memory", "1GiB", "2GiB");

	ppn_plan_add(plan, PPN_OP_START, "libvirt/domain", "ci-runner");
	ppn_plan_add(plan, PPN_OP_CREATE, "wireguard/route", "10.77.0.2/32");
}

/* Renders into memory and returns the text (owned by the caller). */
static char *render(const struct ppn_plan *plan, int (*renderer)(const struct ppn_plan *, FILE *))
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	assert_non_null(out);
	assert_int_equal(renderer(plan, out), 0);
	assert_int_equal(fclose(out), 0);
	return text;
}

static void test_plan_text(void **unused)
{
	static const char expected[] =
		"Plan for node 'macbook-air' from 'refs/heads/main' at commit 0123456789ab\n"
		"backend: wireguard-go (userspace)\n"
		"\n"
		"~ wireguard/interface 'ppn0'\n"
		"    public-key: (none) -> " KEY_AIR "\n"
		"    mtu: 1280 -> 1420\n"
		"+ wireguard/peer 'macbook-pro'\n"
		"    public-key: " KEY_PRO "\n"
		"    allowed-ips: 10.77.0.2/32\n"
		"- wireguard/peer '" KEY_STALE "' (not in the manifests)\n"
		"    public-key: " KEY_STALE "\n"
		"! libvirt/domain 'web' (memory changes need a new domain)\n"
		"    memory: 1GiB -> 2GiB\n"
		"> libvirt/domain 'ci-runner'\n"
		"+ wireguard/route '10.77.0.2/32'\n"
		"\n"
		"Plan: 2 to create, 1 to update, 1 to replace, 1 to delete, 1 to start.\n";
	struct ppn_plan plan;
	_cleanup_free_ char *text = NULL;

	small_plan(&plan);
	text = render(&plan, ppn_plan_render_text);
	assert_string_equal(text, expected);
	ppn_plan_release(&plan);
}

static void test_plan_json(void **unused)
{
	static const char expected[] = "{\n"
				       "  \"formatVersion\": 1,\n"
				       "  \"node\": \"macbook-air\",\n"
				       "  \"ref\": \"refs/heads/main\",\n"
				       "  \"commit\": \"" COMMIT "\",\n"
				       "  \"notes\": [\n"
				       "    \"backend: wireguard-go (userspace)\"\n"
				       "  ],\n"
				       "  \"actions\": [\n"
				       "    {\n"
				       "      \"op\": \"update\",\n"
				       "      \"kind\": \"wireguard/interface\",\n"
				       "      \"name\": \"ppn0\",\n"
				       "      \"reason\": null,\n"
				       "      \"changes\": [\n"
				       "        {\n"
				       "          \"field\": \"public-key\",\n"
				       "          \"old\": null,\n"
				       "          \"new\": \"" KEY_AIR "\"\n"
				       "        },\n"
				       "        {\n"
				       "          \"field\": \"mtu\",\n"
				       "          \"old\": \"1280\",\n"
				       "          \"new\": \"1420\"\n"
				       "        }\n"
				       "      ]\n"
				       "    },\n"
				       "    {\n"
				       "      \"op\": \"create\",\n"
				       "      \"kind\": \"wireguard/peer\",\n"
				       "      \"name\": \"macbook-pro\",\n"
				       "      \"reason\": null,\n"
				       "      \"changes\": [\n"
				       "        {\n"
				       "          \"field\": \"public-key\",\n"
				       "          \"old\": null,\n"
				       "          \"new\": \"" KEY_PRO "\"\n"
				       "        },\n"
				       "        {\n"
				       "          \"field\": \"allowed-ips\",\n"
				       "          \"old\": null,\n"
				       "          \"new\": \"10.77.0.2/32\"\n"
				       "        }\n"
				       "      ]\n"
				       "    },\n"
				       "    {\n"
				       "      \"op\": \"delete\",\n"
				       "      \"kind\": \"wireguard/peer\",\n"
				       "      \"name\": \"" KEY_STALE "\",\n"
				       "      \"reason\": \"not in the manifests\",\n"
				       "      \"changes\": [\n"
				       "        {\n"
				       "          \"field\": \"public-key\",\n"
				       "          \"old\": \"" KEY_STALE "\",\n"
				       "          \"new\": null\n"
				       "        }\n"
				       "      ]\n"
				       "    },\n"
				       "    {\n"
				       "      \"op\": \"replace\",\n"
				       "      \"kind\": \"libvirt/domain\",\n"
				       "      \"name\": \"web\",\n"
				       "      \"reason\": \"memory changes need a new domain\",\n"
				       "      \"changes\": [\n"
				       "        {\n"
				       "          \"field\": \"memory\",\n"
				       "          \"old\": \"1GiB\",\n"
				       "          \"new\": \"2GiB\"\n"
				       "        }\n"
				       "      ]\n"
				       "    },\n"
				       "    {\n"
				       "      \"op\": \"start\",\n"
				       "      \"kind\": \"libvirt/domain\",\n"
				       "      \"name\": \"ci-runner\",\n"
				       "      \"reason\": null,\n"
				       "      \"changes\": []\n"
				       "    },\n"
				       "    {\n"
				       "      \"op\": \"create\",\n"
				       "      \"kind\": \"wireguard/route\",\n"
				       "      \"name\": \"10.77.0.2/32\",\n"
				       "      \"reason\": null,\n"
				       "      \"changes\": []\n"
				       "    }\n"
				       "  ],\n"
				       "  \"summary\": {\n"
				       "    \"create\": 2,\n"
				       "    \"update\": 1,\n"
				       "    \"replace\": 1,\n"
				       "    \"delete\": 1,\n"
				       "    \"start\": 1,\n"
				       "    \"total\": 6\n"
				       "  }\n"
				       "}\n";
	struct ppn_plan plan;
	_cleanup_free_ char *text = NULL;

	small_plan(&plan);
	text = render(&plan, ppn_plan_render_json);
	assert_string_equal(text, expected);
	ppn_plan_release(&plan);
}

static void test_plan_empty_text(void **unused)
{
	static const char expected[] =
		"Plan for node 'macbook-air' from 'refs/heads/main' at commit 0123456789ab\n"
		"backend: wireguard-go (userspace)\n"
		"\n"
		"No changes. Node 'macbook-air' matches commit 0123456789ab.\n";
	struct ppn_plan plan;
	_cleanup_free_ char *text = NULL;

	plan_start(&plan, COMMIT);
	ppn_plan_add_note(&plan, "backend: wireguard-go (userspace)");
	assert_true(ppn_plan_is_empty(&plan));
	text = render(&plan, ppn_plan_render_text);
	assert_string_equal(text, expected);
	ppn_plan_release(&plan);
}

static void test_plan_empty_json(void **unused)
{
	static const char expected[] = "{\n"
				       "  \"formatVersion\": 1,\n"
				       "  \"node\": \"macbook-air\",\n"
				       "  \"ref\": \"refs/heads/main\",\n"
				       "  \"commit\": null,\n"
				       "  \"notes\": [],\n"
				       "  \"actions\": [],\n"
				       "  \"summary\": {\n"
				       "    \"create\": 0,\n"
				       "    \"update\": 0,\n"
				       "    \"replace\": 0,\n"
				       "    \"delete\": 0,\n"
				       "    \"start\": 0,\n"
				       "    \"total\": 0\n"
				       "  }\n"
				       "}\n";
	struct ppn_plan plan;
	_cleanup_free_ char *text = NULL;

	plan_start(&plan, NULL);
	text = render(&plan, ppn_plan_render_json);
	assert_string_equal(text, expected);
	ppn_plan_release(&plan);
}

static void test_plan_counts(void **unused)
{
	struct ppn_plan plan;

	small_plan(&plan);
	assert_false(ppn_plan_is_empty(&plan));
	assert_int_equal(plan.n_actions, 6);
	assert_int_equal(ppn_plan_count(&plan, PPN_OP_CREATE), 2);
	assert_int_equal(ppn_plan_count(&plan, PPN_OP_UPDATE), 1);
	assert_int_equal(ppn_plan_count(&plan, PPN_OP_REPLACE), 1);
	assert_int_equal(ppn_plan_count(&plan, PPN_OP_DELETE), 1);
	assert_int_equal(ppn_plan_count(&plan, PPN_OP_START), 1);
	assert_string_equal(plan.actions[2].reason, "not in the manifests");
	assert_null(plan.actions[1].reason);
	assert_null(plan.actions[0].changes[0].old_value);
	ppn_plan_release(&plan);

	/* Release leaves an empty plan behind. */
	assert_int_equal(plan.n_actions, 0);
	assert_null(plan.actions);
}

static void test_plan_op_names(void **unused)
{
	static const char *const names[] = {"create", "update", "replace", "delete", "start"};
	static const char symbols[] = "+~!->";

	for (enum ppn_op op = 0; op < PPN_OP_COUNT; op++) {
		assert_string_equal(ppn_op_name(op), names[op]);
		assert_int_equal(ppn_op_symbol(op), symbols[op]);
	}
}

static int payload_freed;

static void count_payload_free(void *payload)
{
	payload_freed++;
	free(payload);
}

static void test_plan_release_frees_payload(void **unused)
{
	struct ppn_plan plan;
	struct ppn_action *action;

	plan_start(&plan, COMMIT);
	action = ppn_plan_add(&plan, PPN_OP_CREATE, "wireguard/peer", "x");
	action->payload = ppn_xstrdup("payload");
	action->payload_free = count_payload_free;
	payload_freed = 0;
	ppn_plan_release(&plan);
	assert_int_equal(payload_freed, 1);
}

/* Payloads go before their plugin's module is unloaded; the rest of the plan stays. */
static void test_plan_drop_payloads_keeps_actions(void **unused)
{
	struct ppn_plan plan;
	struct ppn_action *action;

	plan_start(&plan, COMMIT);
	action = ppn_plan_add(&plan, PPN_OP_CREATE, "wireguard/peer", "x");
	action->payload = ppn_xstrdup("payload");
	action->payload_free = count_payload_free;
	payload_freed = 0;

	ppn_plan_drop_payloads(&plan);
	assert_int_equal(payload_freed, 1);
	assert_null(plan.actions[0].payload);
	assert_string_equal(plan.actions[0].name, "x");

	ppn_plan_release(&plan);
	assert_int_equal(payload_freed, 1);
}

/* /dev/full takes the bytes into stdio's buffer and fails when they are flushed. */
static void test_plan_write_failure(void **unused)
{
	struct ppn_plan plan;
	FILE *out;

	small_plan(&plan);
	out = fopen("/dev/full", "w");
	if (!out)
		skip();
	assert_int_equal(ppn_plan_render_text(&plan, out), -ENOSPC);
	fclose(out);

	out = fopen("/dev/full", "w");
	assert_non_null(out);
	assert_int_equal(ppn_plan_render_json(&plan, out), -ENOSPC);
	fclose(out);
	ppn_plan_release(&plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_text),
		cmocka_unit_test(test_plan_json),
		cmocka_unit_test(test_plan_empty_text),
		cmocka_unit_test(test_plan_empty_json),
		cmocka_unit_test(test_plan_counts),
		cmocka_unit_test(test_plan_op_names),
		cmocka_unit_test(test_plan_release_frees_payload),
		cmocka_unit_test(test_plan_drop_payloads_keeps_actions),
		cmocka_unit_test(test_plan_write_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
