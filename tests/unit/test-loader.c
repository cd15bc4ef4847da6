/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin.h"

/* The sample modules are built next to this test (tests/unit/plugins/meson.build). */
static char *module_path(const char *name)
{
	const char *build = getenv("PPN_BUILD_ROOT");

	assert_non_null(build);
	return ppn_xasprintf("%s/tests/unit/plugins/ppn-%s.so", build, name);
}

static void test_loader_loads_and_drives_a_plugin(void **unused)
{
	_cleanup_free_ char *path = module_path("sample");
	struct ppn_plugin_options options = {.node = "n"};
	struct ppn_loaded_plugin *plugin = NULL;
	struct ppn_desired desired = {0};
	struct ppn_plan plan;

	assert_int_equal(ppn_plugin_load(path, &plugin), 0);
	assert_string_equal(plugin->table->name, "sample");
	assert_string_equal(plugin->table->kinds[0], "sample/thing");
	assert_null(plugin->table->apply);

	ppn_plan_init(&plan);
	assert_int_equal(plugin->table->open(&options, &plugin->state), 0);
	assert_int_equal(plugin->table->observe(plugin->state, &desired), 0);
	assert_int_equal(plugin->table->plan(plugin->state, &desired, &plan), 0);
	assert_int_equal(plan.n_actions, 1);
	assert_string_equal(plan.actions[0].changes[0].new_value, "yes");

	ppn_plan_release(&plan);
	ppn_plugin_unload(plugin);
}

static void expect_refused(const char *name, int expected)
{
	_cleanup_free_ char *path = module_path(name);
	struct ppn_loaded_plugin *plugin = NULL;

	assert_int_equal(ppn_plugin_load(path, &plugin), expected);
	assert_null(plugin);
}

static void test_loader_refuses_another_abi(void **unused)
{
	expect_refused("sample-abi", -ENOEXEC);
}

static void test_loader_refuses_missing_mandatory_operation(void **unused)
{
	expect_refused("sample-no-observe", -ENOEXEC);
}

static void test_loader_refuses_plugin_owning_nothing(void **unused)
{
	expect_refused("sample-no-kinds", -ENOEXEC);
}

static void test_loader_refuses_module_without_table(void **unused)
{
	expect_refused("sample-no-symbol", -ENOEXEC);
}

static void test_loader_reports_missing_file(void **unused)
{
	expect_refused("does-not-exist", -ENOENT);
}

static void test_loader_refuses_file_that_is_not_a_module(void **unused)
{
	char path[] = "/tmp/ppn-loader-XXXXXX";
	int fd = mkstemp(path);
	struct ppn_loaded_plugin *plugin = NULL;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not ELF\n", 8), 8);
	close(fd);

	assert_int_equal(ppn_plugin_load(path, &plugin), -ENOEXEC);
	assert_null(plugin);
	unlink(path);
}

static void test_loader_finds_plugins_by_name(void **unused)
{
	_cleanup_free_ char *dir = NULL;
	const char *build = getenv("PPN_BUILD_ROOT");
	struct ppn_loaded_plugin *plugin = NULL;

	dir = ppn_xasprintf("%s/tests/unit/plugins", build);
	assert_int_equal(ppn_plugin_load_named(dir, "sample", &plugin), 0);
	assert_string_equal(plugin->table->name, "sample");
	ppn_plugin_unload(plugin);
}

static void test_loader_default_dir_follows_environment(void **unused)
{
	setenv("PPN_PLUGIN_DIR", "/somewhere/else", 1);
	assert_string_equal(ppn_plugin_default_dir(), "/somewhere/else");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loader_loads_and_drives_a_plugin),
		cmocka_unit_test(test_loader_refuses_another_abi),
		cmocka_unit_test(test_loader_refuses_missing_mandatory_operation),
		cmocka_unit_test(test_loader_refuses_plugin_owning_nothing),
		cmocka_unit_test(test_loader_refuses_module_without_table),
		cmocka_unit_test(test_loader_reports_missing_file),
		cmocka_unit_test(test_loader_refuses_file_that_is_not_a_module),
		cmocka_unit_test(test_loader_finds_plugins_by_name),
		cmocka_unit_test(test_loader_default_dir_follows_environment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
