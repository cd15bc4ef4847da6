/* SPDX-License-Identifier: MIT */
#include "plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* A table is usable when it was built for this ABI and has every mandatory operation. */
static const char *table_problem(const struct ppn_plugin *table)
{
	if (table->abi != PPN_PLUGIN_ABI)
		return "it was built for another plugin ABI";
	if (!table->name || !table->name[0])
		return "it has no name";
	if (!table->kinds || !table->kinds[0])
		return "it owns no resource kind";
	if (!table->open || !table->close || !table->observe || !table->plan)
		return "a mandatory operation (open, close, observe, plan) is missing";
	return NULL;
}

int ppn_plugin_load(const char *path, struct ppn_loaded_plugin **out)
{
	const struct ppn_plugin *table;
	struct ppn_loaded_plugin *plugin;
	const char *problem;
	void *module;

	if (access(path, F_OK) < 0) {
		int r = -errno;

		ppn_err("plugin '%s': cannot load: %s", path, strerror(-r));
		return r;
	}

	module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!module) {
		ppn_err("plugin '%s': cannot load: %s", path, dlerror());
		return -ENOEXEC;
	}

	table = dlsym(module, PPN_PLUGIN_SYMBOL);
	problem = table ? table_problem(table) : "it does not export '" PPN_PLUGIN_SYMBOL "'";
	if (problem) {
		ppn_err("plugin '%s': not a ppn plugin: %s", path, problem);
		dlclose(module);
		return -ENOEXEC;
	}

	plugin = ppn_xcalloc(1, sizeof(*plugin));
	plugin->table = table;
	plugin->module = module;
	plugin->path = ppn_xstrdup(path);
	*out = plugin;
	return 0;
}

int ppn_plugin_load_named(const char *dir, const char *name, struct ppn_loaded_plugin **out)
{
	_cleanup_free_ char *path = ppn_xasprintf("%s/ppn-%s.so", dir, name);

	return ppn_plugin_load(path, out);
}

void ppn_plugin_unload(struct ppn_loaded_plugin *plugin)
{
	if (!plugin)
		return;

	if (plugin->state)
		plugin->table->close(plugin->state);
	if (plugin->module)
		dlclose(plugin->module);
	free(plugin->path);
	free(plugin);
}

/* Programs run from the build tree load the plugins built beside them, not installed ones. */
static bool running_from_build_tree(void)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t root_len = strlen(PPN_BUILD_ROOT);

	if (len < 0)
		return false;
	exe[len] = '\0';
	return strncmp(exe, PPN_BUILD_ROOT, root_len) == 0 && exe[root_len] == '/';
}

const char *ppn_plugin_default_dir(void)
{
	const char *env = getenv("PPN_PLUGIN_DIR");

	if (env && env[0])
		return env;
	return running_from_build_tree() ? PPN_BUILD_PLUGIN_DIR : PPN_PLUGIN_INSTALL_DIR;
}
