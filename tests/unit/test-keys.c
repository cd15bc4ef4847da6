/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys.h"
#include "util.h"

static int make_state_dir(void **state)
{
	char *dir = ppn_xstrdup("/tmp/ppn-keys-XXXXXX");

	assert_non_null(mkdtemp(dir));
	*state = dir;
	return 0;
}

static int remove_state_dir(void **state)
{
	_cleanup_free_ char *command = ppn_xasprintf("rm -rf '%s'", (char *)*state);

	assert_int_equal(system(command), 0);
	free(*state);
	return 0;
}

static char *key_path(const char *dir)
{
	return ppn_xasprintf("%s/%s", dir, PPN_KEY_FILE);
}

/* The reference: wg(8) computing the public key of the stored private key. */
static void wg_pubkey(const char *dir, char out[PPN_KEY_B64_LEN + 1])
{
	_cleanup_free_ char *path = key_path(dir);
	_cleanup_free_ char *command = ppn_xasprintf("wg pubkey < '%s'", path);
	FILE *pipe = popen(command, "r");

	assert_non_null(pipe);
	assert_non_null(fgets(out, PPN_KEY_B64_LEN + 1, pipe));
	assert_int_equal(pclose(pipe), 0);
}

static void test_keys_generate_matches_wg_pubkey(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *path = key_path(dir);
	char ours[PPN_KEY_B64_LEN + 1], theirs[PPN_KEY_B64_LEN + 1];
	struct ppn_key public_key;
	struct stat st;

	assert_int_equal(ppn_keys_generate(dir, false, &public_key), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	ppn_key_to_base64(&public_key, ours);
	wg_pubkey(dir, theirs);
	assert_string_equal(ours, theirs);
}

static void test_keys_generate_refuses_to_overwrite(void **state)
{
	const char *dir = *state;
	struct ppn_key first, second, again;

	assert_int_equal(ppn_keys_generate(dir, false, &first), 0);
	assert_int_equal(ppn_keys_generate(dir, false, &second), -EEXIST);
	assert_int_equal(ppn_keys_ensure(dir, &again), 0);
	assert_memory_equal(first.bytes, again.bytes, PPN_KEY_LEN);

	assert_int_equal(ppn_keys_generate(dir, true, &second), 0);
	assert_memory_not_equal(first.bytes, second.bytes, PPN_KEY_LEN);
	assert_int_equal(ppn_keys_ensure(dir, &again), 0);
	assert_memory_equal(second.bytes, again.bytes, PPN_KEY_LEN);
}

static void test_keys_ensure_creates_once(void **state)
{
	const char *dir = *state;
	struct ppn_key first, second;

	assert_int_equal(ppn_keys_ensure(dir, &first), 0);
	assert_int_equal(ppn_keys_ensure(dir, &second), 0);
	assert_memory_equal(first.bytes, second.bytes, PPN_KEY_LEN);
}

static void test_keys_load_refuses_readable_file(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *path = key_path(dir);
	struct ppn_secret_key secret;
	struct ppn_key public_key;

	assert_int_equal(ppn_keys_generate(dir, false, &public_key), 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(ppn_keys_load(dir, &secret), -EPERM);
}

static void test_keys_load_refuses_garbage(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *path = key_path(dir);
	struct ppn_secret_key secret;
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	fputs("not a key\n", file);
	fclose(file);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(ppn_keys_load(dir, &secret), -EINVAL);
}

static void test_keys_load_missing(void **state)
{
	struct ppn_secret_key secret;

	assert_int_equal(ppn_keys_load(*state, &secret), -ENOENT);
}

static void test_keys_reads_a_wg_genkey_key(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *path = key_path(dir);
	_cleanup_free_ char *command = ppn_xasprintf("umask 077; wg genkey > '%s'", path);
	char ours[PPN_KEY_B64_LEN + 1], theirs[PPN_KEY_B64_LEN + 1];
	struct ppn_secret_key secret;
	struct ppn_key public_key;

	assert_int_equal(system(command), 0);
	assert_int_equal(ppn_keys_load(dir, &secret), 0);
	assert_int_equal(ppn_keys_public(&secret, &public_key), 0);
	ppn_secret_key_wipe(&secret);

	ppn_key_to_base64(&public_key, ours);
	wg_pubkey(dir, theirs);
	assert_string_equal(ours, theirs);
}

#define KEYS_TEST(name) cmocka_unit_test_setup_teardown(name, make_state_dir, remove_state_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		KEYS_TEST(test_keys_generate_matches_wg_pubkey),
		KEYS_TEST(test_keys_generate_refuses_to_overwrite),
		KEYS_TEST(test_keys_ensure_creates_once),
		KEYS_TEST(test_keys_load_refuses_readable_file),
		KEYS_TEST(test_keys_load_refuses_garbage),
		KEYS_TEST(test_keys_load_missing),
		KEYS_TEST(test_keys_reads_a_wg_genkey_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
