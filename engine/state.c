/* SPDX-License-Identifier: MIT */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define APPLIED_FILE "applied-commit"

/* Creates the missing parents of path with the usual mode; existing ones are left as they are. */
static int make_parents(const char *path)
{
	_cleanup_free_ char *copy = ppn_xstrdup(path);

	for (char *slash = strchr(copy + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			return -errno;
		*slash = '/';
	}
	return 0;
}

int ppn_state_prepare(const char *dir)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (dir[0] == '\0')
		return -EINVAL;
	r = make_parents(dir);
	if (r < 0)
		return r;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;

	/* The directory holds a private key: whoever made it, only its owner may look inside. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
		return -errno;
	return 0;
}

char *ppn_state_cache_dir(const char *dir)
{
	return ppn_xasprintf("%s/cache", dir);
}

static bool is_commit_hex(const char *text, size_t len)
{
	if (len != PPN_COMMIT_HEX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
			return false;
	return true;
}

int ppn_state_read_applied(const char *dir, char commit[PPN_COMMIT_HEX_LEN + 1])
{
	_cleanup_free_ char *path = ppn_xasprintf("%s/%s", dir, APPLIED_FILE);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buffer[PPN_COMMIT_HEX_LEN + 2];
	size_t len = 0;

	if (fd < 0)
		return -errno;

	/* One byte more than a valid file holds, to tell a longer one apart. */
	while (len < sizeof(buffer)) {
		ssize_t n = read(fd, buffer + len, sizeof(buffer) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}

	if (len != PPN_COMMIT_HEX_LEN + 1 || buffer[PPN_COMMIT_HEX_LEN] != '\n' ||
	    !is_commit_hex(buffer, PPN_COMMIT_HEX_LEN))
		return -EINVAL;
	memcpy(commit, buffer, PPN_COMMIT_HEX_LEN);
	commit[PPN_COMMIT_HEX_LEN] = '\0';
	return 0;
}

/*
 * Writes data to a new temporary file beside its final place and makes its bytes durable before
 * it may replace the old one. *temp receives the file's name.
 */
static int write_synced(const char *dir, const char *data, size_t len, char **temp)
{
	_cleanup_free_ char *name = ppn_xasprintf("%s/.%s.XXXXXX", dir, APPLIED_FILE);
	int fd = mkostemp(name, O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = ppn_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlink(name);
		return r;
	}
	*temp = PPN_TAKE_PTR(name);
	return 0;
}

/* The rename is durable only once the directory entry itself reached the disk. */
static int sync_dir(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

int ppn_state_write_applied(const char *dir, const char *commit)
{
	_cleanup_free_ char *path = ppn_xasprintf("%s/%s", dir, APPLIED_FILE);
	_cleanup_free_ char *line = NULL, *temp = NULL;
	int r;

	if (!is_commit_hex(commit, strlen(commit)))
		return -EINVAL;
	line = ppn_xasprintf("%s\n", commit);

	r = write_synced(dir, line, strlen(line), &temp);
	if (r < 0)
		return r;
	if (rename(temp, path) < 0) {
		r = -errno;
		unlink(temp);
		return r;
	}
	return sync_dir(dir);
}
