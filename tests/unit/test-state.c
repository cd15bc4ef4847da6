/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state.h"
#include "util.h"

#define COMMIT_A "0123456789abcdef0123456789abcdef01234567"
#define COMMIT_B "fedcba9876543210fedcba9876543210fedcba98"

static int setup(void **state)
{
	char root[] = "/tmp/ppn-src-state-XXXXXX";

	assert_non_null(mkdtemp(root));
	*state = ppn_xstrdup(root);
	return 0;
}

static int teardown(void **state)
{
	_cleanup_free_ char *root = *state;
	_cleanup_free_ char *command = ppn_xasprintf("rm -rf %s", root);

	assert_int_equal(system(command), 0);
	return 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	fputs(text, file);
	assert_int_equal(fclose(file), 0);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	return st.st_mode & 07777;
}

/* Names in dir other than "." and "..", joined with spaces in directory order. */
static char *list_dir(const char *path)
{
	DIR *dir = opendir(path);
	char *names = ppn_xstrdup("");
	struct dirent *entry;

	assert_non_null(dir);
	while ((entry = readdir(dir))) {
		char *joined;

		if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
			continue;
		joined = ppn_xasprintf("%s%s%s", names, names[0] ? " " : "", entry->d_name);
		free(names);
		names = joined;
	}
	closedir(dir);
	return names;
}

static void test_state_prepare_creates_private_dir(void **state)
{
	const char *root = *state;
	_cleanup_free_ char *dir = ppn_xasprintf("%s/var/lib/ppn", root);
	_cleanup_free_ char *parent = ppn_xasprintf("%s/var", root);
	mode_t old_umask = umask(0);

	/* The existing parent keeps its mode; the state directory is 0700 whatever the umask. */
	assert_int_equal(chmod(root, 0751), 0);
	assert_int_equal(ppn_state_prepare(dir), 0);
	umask(old_umask);
	assert_int_equal(mode_of(dir), 0700);
	assert_int_equal(mode_of(root), 0751);
	assert_int_equal(mode_of(parent) & 0700, 0700);

	/* Again: nothing to do, still fine. */
	assert_int_equal(ppn_state_prepare(dir), 0);
	assert_int_equal(mode_of(dir), 0700);
}

static void test_state_prepare_tightens_existing_dir(void **state)
{
	const char *root = *state;
	_cleanup_free_ char *dir = ppn_xasprintf("%s/state", root);
	_cleanup_free_ char *file = ppn_xasprintf("%s/file", root);

	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(ppn_state_prepare(dir), 0);
	assert_int_equal(mode_of(dir), 0700);

	write_text(file, "x");
	assert_int_equal(ppn_state_prepare(file), -ENOTDIR);
	assert_int_equal(ppn_state_prepare(""), -EINVAL);
}

static void test_state_cache_dir(void **state)
{
	_cleanup_free_ char *cache = ppn_state_cache_dir("/var/lib/ppn");

	assert_string_equal(cache, "/var/lib/ppn/cache");
}

static void test_state_applied_roundtrip(void **state)
{
	const char *root = *state;
	_cleanup_free_ char *path = ppn_xasprintf("%s/applied-commit", root);
	_cleanup_free_ char *names = NULL;
	char commit[PPN_COMMIT_HEX_LEN + 1] = "untouched";
	char content[64] = "";
	FILE *file;

	assert_int_equal(ppn_state_read_applied(root, commit), -ENOENT);
	assert_string_equal(commit, "untouched");

	assert_int_equal(ppn_state_write_applied(root, COMMIT_A), 0);
	assert_int_equal(ppn_state_read_applied(root, commit), 0);
	assert_string_equal(commit, COMMIT_A);

	/* Replacing it leaves the new id, one line, and no temporary file beside it. */
	assert_int_equal(ppn_state_write_applied(root, COMMIT_B), 0);
	assert_int_equal(ppn_state_read_applied(root, commit), 0);
	assert_string_equal(commit, COMMIT_B);
	file = fopen(path, "r");
	assert_non_null(file);
	assert_int_equal(fread(content, 1, sizeof(content) - 1, file), PPN_COMMIT_HEX_LEN + 1);
	fclose(file);
	assert_string_equal(content, COMMIT_B "\n");
	names = list_dir(root);
	assert_string_equal(names, "applied-commit");
}

static void test_state_write_refuses_bad_commit(void **state)
{
	const char *root = *state;
	_cleanup_free_ char *names = NULL;

	assert_int_equal(ppn_state_write_applied(root, "0123"), -EINVAL);
	assert_int_equal(ppn_state_write_applied(root, COMMIT_A "0"), -EINVAL);
	assert_int_equal(ppn_state_write_applied(root, "0123456789ABCDEF0123456789abcdef01234567"),
			 -EINVAL);
	assert_int_equal(ppn_state_write_applied(root, "../../../etc/passwd"), -EINVAL);
	names = list_dir(root);
	assert_string_equal(names, "");
}

static void test_state_read_refuses_corrupt_file(void **state)
{
	const char *root = *state;
	_cleanup_free_ char *path = ppn_xasprintf("%s/applied-commit", root);
	const char *corrupt[] = {
		"",
		COMMIT_A,                                     /* no newline */
		COMMIT_A "\n\n",                              /* trailing garbage */
		COMMIT_A "0\n",                               /* too long */
		"0123456789ABCDEF0123456789abcdef01234567\n", /* upper case */
		"0123456789abcdef0123456789abcdef0123456g\n", /* not hex */
		" 123456789abcdef0123456789abcdef01234567\n",
	};
	char commit[PPN_COMMIT_HEX_LEN + 1];

	for (size_t i = 0; i < PPN_ARRAY_SIZE(corrupt); i++) {
		strcpy(commit, "untouched");
		write_text(path, corrupt[i]);
		assert_int_equal(ppn_state_read_applied(root, commit), -EINVAL);
		assert_string_equal(commit, "untouched");
	}

	write_text(path, COMMIT_A "\n");
	assert_int_equal(ppn_state_read_applied(root, commit), 0);
	assert_string_equal(commit, COMMIT_A);
}

/* Writing into a directory that cannot take files fails cleanly and keeps the old id. */
static void test_state_write_failure_keeps_old(void **state)
{
	const char *root = *state;
	_cleanup_free_ char *missing = ppn_xasprintf("%s/missing", root);
	_cleanup_free_ char *path = ppn_xasprintf("%s/applied-commit", root);
	_cleanup_free_ char *keep = ppn_xasprintf("%s/keep", path);
	_cleanup_free_ char *names = NULL;
	char commit[PPN_COMMIT_HEX_LEN + 1];

	assert_int_equal(ppn_state_write_applied(missing, COMMIT_A), -ENOENT);

	/* The name is taken by a directory: the rename fails, the temporary file goes away. */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mkdir(keep, 0700), 0);
	assert_true(ppn_state_write_applied(root, COMMIT_A) < 0);
	names = list_dir(root);
	assert_string_equal(names, "applied-commit");
	assert_true(ppn_state_read_applied(root, commit) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_state_prepare_creates_private_dir, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_prepare_tightens_existing_dir, setup,
						teardown),
		cmocka_unit_test(test_state_cache_dir),
		cmocka_unit_test_setup_teardown(test_state_applied_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_write_refuses_bad_commit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_read_refuses_corrupt_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_write_failure_keeps_old, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
