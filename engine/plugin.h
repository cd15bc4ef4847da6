/* SPDX-License-Identifier: MIT */
#ifndef PPN_PLUGIN_H
#define PPN_PLUGIN_H

/*
 * The plugin table. A plugin observes and changes one family of real resources (WireGuard
 * interfaces, libvirt domains). Each is a shared module that exports one symbol,
 * PPN_PLUGIN_SYMBOL, of type const struct ppn_plugin. The engine links none of a plugin's
 * libraries: a relay without libvirt runs with the WireGuard module alone.
 *
 * Contract for every operation: return 0 on success or a negative errno; log the cause with
 * the resource first before returning an error. Pointers passed in are borrowed for the
 * duration of the call.
 */

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "plan.h"
#include "wgconf.h"

/* Bumped whenever struct ppn_plugin or anything it points to changes incompatibly. */
#define PPN_PLUGIN_ABI    1
#define PPN_PLUGIN_SYMBOL "ppn_plugin"

/* Everything a plugin may want to know about the node it runs on and how it was asked to. */
struct ppn_plugin_options {
	const char *node;      /* this node's name */
	const char *state_dir; /* ppn's state directory; a plugin keeps its files under it */
	const char *backend;   /* a backend the user forced (plugin-specific), or NULL to probe */
	const char *ifname;    /* WireGuard: the interface to manage */
	bool dry_run;
};

/* What a commit asks of this node, compiled by the engine. Members a plugin does not own are
 * ignored by it. */
struct ppn_desired {
	const struct ppn_fleet *fleet;
	const struct ppn_wg_device *wireguard;
};

/* What a node offers, reported in its status and used for placement. */
struct ppn_facts {
	uint64_t memory_total; /* bytes; 0 = unknown */
	uint64_t memory_available;
	bool kvm_usable;
	bool kvm_known;
};

struct ppn_plugin {
	uint32_t abi; /* PPN_PLUGIN_ABI at the plugin's build */
	const char *name;
	const char *const *kinds; /* resource kinds it owns ("wireguard/peer"), NULL-terminated */

	/* Mandatory. open() allocates the plugin's state; close() frees it and accepts NULL. */
	int (*open)(const struct ppn_plugin_options *options, void **state);
	void (*close)(void *state);

	/*
	 * Mandatory. Reads the real state the plugin owns and keeps it in *state; resources it
	 * does not own are never read into it. A missing resource is not an error. It may run on
	 * another thread than open(), though never at the same time as another call on the same
	 * state, and before the commit is loaded: then desired holds neither a fleet nor a
	 * WireGuard configuration, and what to observe is in the options given to open().
	 */
	int (*observe)(void *state, const struct ppn_desired *desired);

	/* Mandatory. Appends the actions that turn the last observed state into the desired one. */
	int (*plan)(void *state, const struct ppn_desired *desired, struct ppn_plan *plan);

	/*
	 * Optional (NULL: the plugin only observes). Carries out the actions it made, in plan
	 * order, as one batch, so that a backend may send several in one message. results[i]
	 * receives 0 or a negative errno for actions[i]: one failed action does not stop the
	 * others. Returns 0 when every action succeeded, else the first error.
	 */
	int (*apply)(void *state, const struct ppn_desired *desired,
		     struct ppn_action *const *actions, size_t count, int *results);

	/* Optional. */
	int (*facts)(void *state, struct ppn_facts *facts);
};

/* A plugin the loader has opened: its table, its module handle and its state. */
struct ppn_loaded_plugin {
	const struct ppn_plugin *table;
	void *module;
	void *state;
	char *path;
};

/*
 * Opens the module at path, checks its table (ABI, name, mandatory operations) and returns it
 * in *out, not yet opened. Returns -ENOENT when the file is missing, -ENOEXEC when it is not
 * a ppn plugin or has another ABI, with the reason logged.
 */
int ppn_plugin_load(const char *path, struct ppn_loaded_plugin **out);

/* Loads "<dir>/ppn-<name>.so". */
int ppn_plugin_load_named(const char *dir, const char *name, struct ppn_loaded_plugin **out);

/* Closes the plugin's state if open, then the module. NULL is fine. */
void ppn_plugin_unload(struct ppn_loaded_plugin *plugin);

/* Where plugins are looked for when the user does not say: $PPN_PLUGIN_DIR, else the
 * directory the build installed them to. */
const char *ppn_plugin_default_dir(void);

#endif
