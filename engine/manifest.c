/* SPDX-License-Identifier: MIT */
#include "manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mcheck.h"
#include "mfield.h"
#include "mkind.h"
#include "scalar.h"
#include "util.h"
#include "ytree.h"

/*
 * How the pieces fit: ytree.c reads one file's YAML strictly into a tree, mkind.c reads each
 * kind's fields from it (through the typed readers of mfield.c), and mcheck.c checks the rules
 * that span files. This file walks the file set, checks the layout of the repository and the
 * three keys every manifest starts with, and decides whether a fleet comes out at all.
 */

/* The fleet being built, with the capacities of its arrays. */
struct loader {
	struct ppn_fleet *fleet;
	struct ppn_ytree_ahead *parser; /* parses the file set's YAML ahead of the loader */
	size_t cap_nodes;
	size_t cap_peers;
	size_t cap_images;
	size_t cap_vms;
	size_t cap_placements;
	size_t cap_paths;
	bool have_network;
};

struct kind_dir {
	const char *dir; /* NULL for ppn.yaml */
	enum ppn_kind kind;
	const char *what;  /* the kind expected, for messages: "kind 'Node'" */
	const char *place; /* where such files are, for messages: "a file in 'nodes/'" */
	/* Adds the manifest to the fleet; it owns name from here. */
	void (*load)(struct loader *loader, struct ppn_mfile *file, const struct ppn_ynode *root,
		     char *name, struct ppn_loc loc);
};

/* A new zeroed element at the end of *array. */
static void *append(void *array, size_t *count, size_t *cap, size_t size)
{
	char *element;

	ppn_grow(array, cap, *count + 1, size);
	element = *(char **)array + (*count)++ * size;
	memset(element, 0, size);
	return element;
}

static void load_network(struct loader *loader, struct ppn_mfile *file,
			 const struct ppn_ynode *root, char *name, struct ppn_loc loc)
{
	struct ppn_network *network = &loader->fleet->network;

	network->name = name;
	network->loc = loc;
	ppn_mkind_read_network(file, root, network);
}

static void load_node(struct loader *loader, struct ppn_mfile *file, const struct ppn_ynode *root,
		      char *name, struct ppn_loc loc)
{
	struct ppn_fleet *fleet = loader->fleet;
	struct ppn_node *node =
		append(&fleet->nodes, &fleet->n_nodes, &loader->cap_nodes, sizeof(*node));

	node->name = name;
	node->loc = loc;
	ppn_mkind_read_node(file, root, node);
}

static void load_peer(struct loader *loader, struct ppn_mfile *file, const struct ppn_ynode *root,
		      char *name, struct ppn_loc loc)
{
	struct ppn_fleet *fleet = loader->fleet;
	struct ppn_peer *peer =
		append(&fleet->peers, &fleet->n_peers, &loader->cap_peers, sizeof(*peer));

	peer->name = name;
	peer->loc = loc;
	ppn_mkind_read_peer(file, root, peer);
}

static void load_image(struct loader *loader, struct ppn_mfile *file, const struct ppn_ynode *root,
		       char *name, struct ppn_loc loc)
{
	struct ppn_fleet *fleet = loader->fleet;
	struct ppn_image *image =
		append(&fleet->images, &fleet->n_images, &loader->cap_images, sizeof(*image));

	image->name = name;
	image->loc = loc;
	ppn_mkind_read_image(file, root, image);
}

static void load_vm(struct loader *loader, struct ppn_mfile *file, const struct ppn_ynode *root,
		    char *name, struct ppn_loc loc)
{
	struct ppn_fleet *fleet = loader->fleet;
	struct ppn_vm *vm = append(&fleet->vms, &fleet->n_vms, &loader->cap_vms, sizeof(*vm));

	vm->name = name;
	vm->loc = loc;
	ppn_mkind_read_vm(file, root, vm);
}

static void load_placement(struct loader *loader, struct ppn_mfile *file,
			   const struct ppn_ynode *root, char *name, struct ppn_loc loc)
{
	struct ppn_fleet *fleet = loader->fleet;
	struct ppn_placement *placement = append(&fleet->placements, &fleet->n_placements,
						 &loader->cap_placements, sizeof(*placement));

	placement->name = name;
	placement->loc = loc;
	ppn_mkind_read_placement(file, root, placement);
}

static const struct kind_dir network_kind = {NULL, PPN_KIND_NETWORK, "kind 'Network'", "'ppn.yaml'",
					     load_network};

static const struct kind_dir kind_dirs[] = {
	{"nodes", PPN_KIND_NODE, "kind 'Node'", "a file in 'nodes/'", load_node},
	{"peers", PPN_KIND_PEER, "kind 'Peer'", "a file in 'peers/'", load_peer},
	{"images", PPN_KIND_IMAGE, "kind 'Image'", "a file in 'images/'", load_image},
	{"vms", PPN_KIND_VM, "kind 'VM'", "a file in 'vms/'", load_vm},
	{"placements", PPN_KIND_PLACEMENT, "kind 'Placement'", "a file in 'placements/'",
	 load_placement},
};

static const struct kind_dir *find_kind_dir(const char *dir, size_t len)
{
	for (size_t i = 0; i < PPN_ARRAY_SIZE(kind_dirs); i++)
		if (strlen(kind_dirs[i].dir) == len && strncmp(kind_dirs[i].dir, dir, len) == 0)
			return &kind_dirs[i];
	return NULL;
}

static bool has_suffix(const char *text, const char *suffix)
{
	size_t len = strlen(text), suffix_len = strlen(suffix);

	return len >= suffix_len && strcmp(text + len - suffix_len, suffix) == 0;
}

/*
 * Only ".yaml" files directly inside a kind directory are manifests; anything else there is a
 * mistake that would otherwise drop a manifest silently. Returns whether entry (the path after
 * the directory) is a manifest's file name.
 */
static bool check_entry(const struct ppn_file *file, const char *dir, const char *entry,
			struct ppn_diags *diags)
{
	_cleanup_free_ char *quoted = NULL;

	if (strchr(entry, '/')) {
		quoted = ppn_scalar_quote(entry, strcspn(entry, "/"));
		ppn_diags_add(
			diags, file->display, 0, 0,
			"expected only '.yaml' files directly in '%s/', got the subdirectory %s",
			dir, quoted);
		return false;
	}
	if (has_suffix(entry, ".yaml"))
		return true;

	quoted = ppn_scalar_quote(entry, strlen(entry));
	if (has_suffix(entry, ".yml")) {
		ppn_diags_add(
			diags, file->display, 0, 0,
			"expected only '.yaml' files in '%s/', got %s (rename it to '%.*s.yaml')",
			dir, quoted, (int)(strlen(entry) - 4), entry);
		return false;
	}
	ppn_diags_add(diags, file->display, 0, 0, "expected only '.yaml' files in '%s/', got %s",
		      dir, quoted);
	return false;
}

/*
 * Which kind a path holds: NULL for a path the loader does not read, or refuses (reported).
 * *stem receives the file's name without ".yaml" when it is a valid name.
 */
static const struct kind_dir *classify(const struct ppn_file *file, struct ppn_diags *diags,
				       char **stem)
{
	const char *slash = strchr(file->path, '/');
	const struct kind_dir *kind;
	const char *entry;
	_cleanup_free_ char *name = NULL;

	if (strcmp(file->path, "ppn.yaml") == 0)
		return &network_kind;
	if (!slash || !(kind = find_kind_dir(file->path, (size_t)(slash - file->path))))
		return NULL;

	entry = slash + 1;
	if (!check_entry(file, kind->dir, entry, diags))
		return NULL;

	name = ppn_xstrndup(entry, strlen(entry) - strlen(".yaml"));
	if (!ppn_scalar_is_name(name)) {
		_cleanup_free_ char *quoted = ppn_scalar_quote(entry, strlen(entry));

		ppn_diags_add(diags, file->display, 0, 0,
			      "expected a file name made of %s and '.yaml', got %s",
			      PPN_MFIELD_NAME_RULE, quoted);
		return kind;
	}
	*stem = PPN_TAKE_PTR(name);
	return kind;
}

static void check_api_version(struct ppn_mfile *file, const struct ppn_ynode *root)
{
	const struct ppn_yentry *entry = ppn_ytree_find(root, "apiVersion");
	_cleanup_free_ char *text = NULL;

	if (!entry) {
		ppn_mfield_report(file, root, "missing required key 'apiVersion'");
		return;
	}
	if (!ppn_mfield_string(file, entry, "apiVersion 'ppn/v1'", &text))
		return;
	if (strcmp(text, "ppn/v1") != 0) {
		_cleanup_free_ char *got = ppn_mfield_describe(entry->value);

		ppn_mfield_report_value(file, entry, "expected apiVersion 'ppn/v1', got %s", got);
	}
}

static bool is_known_kind(const char *text)
{
	for (int kind = 0; kind < PPN_KIND_COUNT; kind++)
		if (strcmp(text, ppn_kind_name(kind)) == 0)
			return true;
	return false;
}

/*
 * A file's kind is fixed by its directory. Returns whether the body is worth reading as that
 * kind: not when the file says it is something else.
 */
static bool check_kind(struct ppn_mfile *file, const struct ppn_ynode *root,
		       const struct kind_dir *kind)
{
	const struct ppn_yentry *entry = ppn_ytree_find(root, "kind");
	const char *expected = ppn_kind_name(kind->kind);
	_cleanup_free_ char *text = NULL, *got = NULL;

	if (!entry) {
		ppn_mfield_report(file, root, "missing required key 'kind'");
		return true;
	}
	if (!ppn_mfield_string(file, entry, kind->what, &text))
		return false;
	if (strcmp(text, expected) == 0)
		return true;

	got = ppn_mfield_describe(entry->value);
	if (is_known_kind(text))
		ppn_mfield_report_value(file, entry, "expected kind '%s' for %s, got %s", expected,
					kind->place, got);
	else
		ppn_mfield_report_value(file, entry, "unknown kind %s; expected '%s' for %s", got,
					expected, kind->place);
	return false;
}

/* The manifest's name, which must be its file's stem (ppn.yaml names the network instead). */
static char *read_name(struct ppn_mfile *file, const struct ppn_ynode *root, const char *stem,
		       struct ppn_loc *loc)
{
	const struct ppn_yentry *entry = ppn_ytree_find(root, "name");
	char *name = NULL;

	*loc = ppn_mfield_loc(file, root);
	if (!entry) {
		ppn_mfield_report(file, root, "missing required key 'name'");
		return NULL;
	}
	if (!ppn_mfield_name(file, entry, &name))
		return NULL;

	*loc = ppn_mfield_loc(file, entry->value);
	if (stem && strcmp(name, stem) != 0)
		ppn_mfield_report(file, entry->value,
				  "expected '%s' to match the file name, got '%s'", stem, name);
	return name;
}

static void read_manifest(struct loader *loader, struct ppn_mfile *file,
			  const struct kind_dir *kind, const char *stem,
			  const struct ppn_ynode *root)
{
	const char *top = "a mapping with 'apiVersion', 'kind' and 'name'";
	struct ppn_loc loc;
	char *name;

	if (!root) {
		ppn_diags_add(file->diags, file->path, 1, 1, "expected %s, got an empty file", top);
		return;
	}
	if (root->kind != PPN_YNODE_MAPPING) {
		_cleanup_free_ char *got = ppn_mfield_describe(root);

		ppn_mfield_report(file, root, "expected %s, got %s", top, got);
		return;
	}

	check_api_version(file, root);
	if (!check_kind(file, root, kind))
		return;
	name = read_name(file, root, kind->dir ? stem : NULL, &loc);
	kind->load(loader, file, root, name ? name : ppn_xstrdup(stem ? stem : ""), loc);
}

/* The fleet keeps every path its locations point into. */
static const char *keep_path(struct loader *loader, const char *display)
{
	struct ppn_fleet *fleet = loader->fleet;
	char **slot =
		append(&fleet->paths, &fleet->n_paths, &loader->cap_paths, sizeof(*fleet->paths));

	*slot = ppn_xstrdup(display);
	return *slot;
}

/*
 * Whether the loader reads a file's YAML: as classify() decides without reporting anything,
 * for the parser that works ahead (a wrong guess would only cost time).
 */
static bool is_read(const struct ppn_file *file)
{
	const char *slash = strchr(file->path, '/');

	if (strcmp(file->path, "ppn.yaml") == 0)
		return true;
	return slash && find_kind_dir(file->path, (size_t)(slash - file->path)) &&
	       !strchr(slash + 1, '/') && has_suffix(slash + 1, ".yaml");
}

static void load_file(struct loader *loader, size_t index, const struct ppn_file *input,
		      struct ppn_diags *diags)
{
	_cleanup_free_ char *stem = NULL;
	const struct kind_dir *kind = classify(input, diags, &stem);
	struct ppn_mfile file = {.diags = diags};
	struct ppn_ynode *root = NULL;

	if (!kind)
		return;
	if (kind == &network_kind)
		loader->have_network = true;

	file.path = keep_path(loader, input->display);
	if (ppn_ytree_ahead_take(loader->parser, index, file.path, &root, diags) < 0)
		return; /* after a YAML error, the rest of the file is not worth reading */

	read_manifest(loader, &file, kind, stem, root);
	ppn_ytree_free(root);
}

static int name_cmp(const void *a, const void *b)
{
	/* Every manifest struct and struct ppn_label start with their name. */
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* qsort() wants a real array even for no elements; an empty kind has none. */
static void sort_by_name(void *array, size_t count, size_t size)
{
	if (count > 1)
		qsort(array, count, size, name_cmp);
}

static void sort_fleet(struct ppn_fleet *fleet)
{
	sort_by_name(fleet->nodes, fleet->n_nodes, sizeof(*fleet->nodes));
	sort_by_name(fleet->peers, fleet->n_peers, sizeof(*fleet->peers));
	sort_by_name(fleet->images, fleet->n_images, sizeof(*fleet->images));
	sort_by_name(fleet->vms, fleet->n_vms, sizeof(*fleet->vms));
	sort_by_name(fleet->placements, fleet->n_placements, sizeof(*fleet->placements));
	for (size_t i = 0; i < fleet->n_nodes; i++)
		sort_by_name(fleet->nodes[i].labels, fleet->nodes[i].n_labels,
			     sizeof(*fleet->nodes[i].labels));
}

static void report_no_network(const struct ppn_fileset *set, struct ppn_diags *diags)
{
	_cleanup_free_ char *path =
		ppn_xasprintf("%sppn.yaml", set->display_prefix ? set->display_prefix : "");

	ppn_diags_add(diags, path, 0, 0, "expected the Network manifest here, found no file");
}

int ppn_manifest_load(const struct ppn_fileset *set, struct ppn_fleet **out,
		      struct ppn_diags *diags)
{
	struct loader loader = {.fleet = ppn_fleet_new()};
	size_t before = diags->count;

	if (!loader.fleet)
		return -ENOMEM;

	/* YAML is most of the work, and each file parses on its own: a second thread helps. */
	loader.parser = ppn_ytree_ahead_new(set, is_read);
	for (size_t i = 0; i < set->count; i++)
		load_file(&loader, i, &set->files[i], diags);
	ppn_ytree_ahead_free(loader.parser);
	if (!loader.have_network)
		report_no_network(set, diags);

	/*
	 * The rules that span files run only when every file passed its own: the values of a
	 * broken file are not to be trusted, and comparing them would mostly repeat its errors
	 * as their consequences.
	 */
	if (diags->count == before) {
		sort_fleet(loader.fleet);
		ppn_mcheck_fleet(loader.fleet, diags);
	}

	if (diags->count > before) {
		ppn_diags_sort(diags);
		ppn_fleet_free(loader.fleet);
		return -EINVAL;
	}
	*out = loader.fleet;
	return 0;
}

char *ppn_manifest_guess_interface(const char *data, size_t size)
{
	struct ppn_diags ignored = {0};
	struct ppn_ynode *root = NULL;
	const struct ppn_yentry *entry;
	char *ifname = NULL;

	ppn_ytree_parse(data, size, "ppn.yaml", &root, &ignored);
	ppn_diags_release(&ignored);
	if (!root || root->kind != PPN_YNODE_MAPPING) {
		ppn_ytree_free(root);
		return NULL;
	}

	entry = ppn_ytree_find(root, "interface");
	if (!entry)
		ifname = ppn_xstrdup(PPN_DEFAULT_INTERFACE);
	else if (entry->value->kind == PPN_YNODE_SCALAR &&
		 strlen(entry->value->text) == entry->value->len &&
		 ppn_scalar_is_interface(entry->value->text))
		ifname = ppn_xstrdup(entry->value->text);
	ppn_ytree_free(root);
	return ifname;
}
