/* SPDX-License-Identifier: MIT */
#include "fileset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const manifest_dirs[] = {"nodes", "peers", "images", "vms", "placements"};

void ppn_fileset_add_owned(struct ppn_fileset *set, const char *path, const char *display,
			   char *data, size_t size)
{
	struct ppn_file *file;

	ppn_grow(&set->files, &set->cap, set->count + 1, sizeof(*set->files));
	file = &set->files[set->count++];
	file->path = ppn_xstrdup(path);
	file->display = ppn_xstrdup(display);
	file->data = data;
	file->size = size;
}

void ppn_fileset_add(struct ppn_fileset *set, const char *path, const char *display,
		     const void *data, size_t size)
{
	char *copy = ppn_xmalloc(size);

	memcpy(copy, data, size);
	ppn_fileset_add_owned(set, path, display, copy, size);
}

static int file_cmp(const void *a, const void *b)
{
	const struct ppn_file *x = a, *y = b;

	return strcmp(x->path, y->path);
}

void ppn_fileset_sort(struct ppn_fileset *set)
{
	if (set->count > 1)
		qsort(set->files, set->count, sizeof(*set->files), file_cmp);
}

void ppn_fileset_release(struct ppn_fileset *set)
{
	for (size_t i = 0; i < set->count; i++) {
		free(set->files[i].path);
		free(set->files[i].display);
		free(set->files[i].data);
	}
	free(set->files);
	free(set->display_prefix);
	*set = (struct ppn_fileset){0};
}

int ppn_fileset_is_manifest_dir(const char *dir)
{
	for (size_t i = 0; i < PPN_ARRAY_SIZE(manifest_dirs); i++)
		if (strcmp(dir, manifest_dirs[i]) == 0)
			return 1;
	return 0;
}

/* Reads at most one byte past the size limit: enough for the loader to refuse the file. */
static int read_file(int dirfd, const char *name, char **out, size_t *size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t cap = PPN_MANIFEST_MAX_SIZE + 1, len = 0;
	_cleanup_free_ char *data = NULL;

	if (fd < 0)
		return -errno;

	data = ppn_xmalloc(cap);
	while (len < cap) {
		ssize_t n = read(fd, data + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}

	*out = PPN_TAKE_PTR(data);
	*size = len;
	return 0;
}

/* Paths under the current directory show bare ("peers/a.yaml"), as the user would type them. */
static char *display_path(const char *root, const char *path)
{
	if (strcmp(root, ".") == 0)
		return ppn_xstrdup(path);
	if (strcmp(root, "/") == 0)
		return ppn_xasprintf("/%s", path);
	return ppn_xasprintf("%s/%s", root, path);
}

static int add_file(struct ppn_fileset *set, int dirfd, const char *name, const char *path,
		    const char *root, struct ppn_diags *diags)
{
	_cleanup_free_ char *display = display_path(root, path);
	_cleanup_free_ char *data = NULL;
	size_t size = 0;
	int r;

	r = read_file(dirfd, name, &data, &size);
	if (r < 0) {
		ppn_diags_add(diags, display, 0, 0, "cannot read: %s", strerror(-r));
		return r;
	}
	ppn_fileset_add(set, path, display, data, size);
	return 0;
}

static int compare_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *entry)
{
	return strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0;
}

/*
 * Every entry of a kind directory is handed to the loader, whatever its type or extension, so
 * that it can refuse what does not belong there instead of ignoring it. Subdirectories are
 * added as empty files whose path ends in '/'.
 */
static int read_kind_dir(struct ppn_fileset *set, int rootfd, const char *kind, const char *root,
			 struct ppn_diags *diags)
{
	_cleanup_close_ int dirfd = openat(rootfd, kind, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent **entries;
	int count, r = 0;

	if (dirfd < 0 && errno == ENOENT)
		return 0;
	if (dirfd < 0) {
		_cleanup_free_ char *display = NULL;

		r = -errno;
		display = display_path(root, kind);
		ppn_diags_add(diags, display, 0, 0, "expected a directory of manifests: %s",
			      strerror(-r));
		return r;
	}

	count = scandirat(dirfd, ".", &entries, skip_dots, compare_names);
	if (count < 0)
		return -errno;

	for (int i = 0; i < count; i++) {
		_cleanup_free_ char *path = ppn_xasprintf("%s/%s", kind, entries[i]->d_name);
		struct stat st;

		if (fstatat(dirfd, entries[i]->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			_cleanup_free_ char *dir_path = ppn_xasprintf("%s/", path);
			_cleanup_free_ char *display = display_path(root, dir_path);

			ppn_fileset_add(set, dir_path, display, "", 0);
		} else if (add_file(set, dirfd, entries[i]->d_name, path, root, diags) < 0) {
			r = -EIO;
		}
		free(entries[i]);
	}
	free(entries);
	return r;
}

int ppn_fileset_read_dir(struct ppn_fileset *set, const char *root_arg, struct ppn_diags *diags)
{
	_cleanup_free_ char *root = ppn_xstrdup(root_arg);
	_cleanup_close_ int rootfd = -1;
	size_t len = strlen(root);
	int r = 0;

	while (len > 1 && root[len - 1] == '/')
		root[--len] = '\0';
	free(set->display_prefix);
	set->display_prefix = display_path(root, "");

	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		r = -errno;
		ppn_diags_add(diags, root, 0, 0, "cannot open directory: %s", strerror(-r));
		return r;
	}

	if (faccessat(rootfd, "ppn.yaml", F_OK, 0) == 0 &&
	    add_file(set, rootfd, "ppn.yaml", "ppn.yaml", root, diags) < 0)
		r = -EIO;

	for (size_t i = 0; i < PPN_ARRAY_SIZE(manifest_dirs); i++) {
		int k = read_kind_dir(set, rootfd, manifest_dirs[i], root, diags);

		if (k < 0 && r == 0)
			r = k;
	}

	ppn_fileset_sort(set);
	return r;
}
