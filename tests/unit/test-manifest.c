/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileset.h"
#include "manifest.h"
#include "model.h"
#include "scalar.h"
#include "util.h"
#include "ytree.h"

/* --- helpers ----------------------------------------------------------------------------- */

static const char *env_path(const char *name)
{
	const char *value = getenv(name);

	if (!value)
		fail_msg("%s is not set: run the test through meson", name);
	return value;
}

static char *read_text_file(const char *path)
{
	_cleanup_fclose_ FILE *file = fopen(path, "rb");
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	char buffer[4096];
	size_t n;

	assert_non_null(out);
	if (!file) {
		fclose(out);
		free(text);
		return NULL;
	}
	while ((n = fread(buffer, 1, sizeof(buffer), file)) > 0)
		fwrite(buffer, 1, n, out);
	fclose(out);
	return text;
}

static char *diags_text(const struct ppn_diags *diags)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	assert_non_null(out);
	ppn_diags_print(diags, out);
	fclose(out);
	return text;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void copy_file(const char *from, const char *to)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char buffer[65536];
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buffer, sizeof(buffer))) > 0)
		assert_int_equal(write(out, buffer, (size_t)n), n);
	assert_int_equal(n, 0);
}

/* Copies the tree at from over to, creating directories as needed. */
static void copy_tree(const char *from, const char *to)
{
	DIR *dir = opendir(from);
	struct dirent *entry;

	assert_non_null(dir);
	mkdir(to, 0755);
	while ((entry = readdir(dir))) {
		_cleanup_free_ char *src = NULL, *dst = NULL;
		struct stat st;

		if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
			continue;
		src = ppn_xasprintf("%s/%s", from, entry->d_name);
		dst = ppn_xasprintf("%s/%s", to, entry->d_name);
		assert_int_equal(lstat(src, &st), 0);
		if (S_ISDIR(st.st_mode))
			copy_tree(src, dst);
		else
			copy_file(src, dst);
	}
	closedir(dir);
}

/* A copy of examples/fleet with a case's "remove" list deleted and its "files" laid over. */
static char *make_case_copy(const char *case_dir)
{
	_cleanup_free_ char *example =
		ppn_xasprintf("%s/examples/fleet", env_path("PPN_SOURCE_ROOT"));
	_cleanup_free_ char *files = ppn_xasprintf("%s/files", case_dir);
	_cleanup_free_ char *remove_path = ppn_xasprintf("%s/remove", case_dir);
	_cleanup_free_ char *removals = read_text_file(remove_path);
	char *dir = ppn_xstrdup("/tmp/ppn-test-manifest-XXXXXX");

	assert_non_null(mkdtemp(dir));
	copy_tree(example, dir);

	for (char *line = removals ? strtok(removals, "\n") : NULL; line;
	     line = strtok(NULL, "\n")) {
		_cleanup_free_ char *victim = ppn_xasprintf("%s/%s", dir, line);

		remove_tree(victim);
	}
	if (access(files, F_OK) == 0)
		copy_tree(files, dir);
	return dir;
}

/* Loads a directory the way `ppn validate` run inside it would; returns the printed text. */
static char *load_dir_from_inside(const char *dir, int *result)
{
	_cleanup_close_ int back = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct ppn_fileset set = {0};
	struct ppn_diags diags = {0};
	struct ppn_fleet *fleet = NULL;
	char *text;

	assert_true(back >= 0);
	assert_int_equal(chdir(dir), 0);
	ppn_fileset_read_dir(&set, ".", &diags);
	*result = ppn_manifest_load(&set, &fleet, &diags);
	assert_int_equal(fchdir(back), 0);

	/* The fleet comes out whole or not at all. */
	if (*result == 0)
		assert_non_null(fleet);
	else
		assert_null(fleet);
	text = diags_text(&diags);

	ppn_fleet_free(fleet);
	ppn_diags_release(&diags);
	ppn_fileset_release(&set);
	return text;
}

static int compare_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *entry)
{
	return entry->d_name[0] != '.';
}

/* The case directories of tests/data/<kind>/, sorted; freed by the caller. */
static int list_cases(const char *kind, struct dirent ***cases)
{
	_cleanup_free_ char *root = ppn_xasprintf("%s/%s", env_path("PPN_TEST_DATA"), kind);
	int count = scandir(root, cases, skip_dots, compare_names);

	if (count < 0)
		fail_msg("cannot list '%s': %s", root, strerror(errno));
	return count;
}

/* Runs one corpus case; returns whether it behaved. */
static bool run_case(const char *kind, const char *name)
{
	_cleanup_free_ char *case_dir =
		ppn_xasprintf("%s/%s/%s", env_path("PPN_TEST_DATA"), kind, name);
	_cleanup_free_ char *expected_path = ppn_xasprintf("%s/expected", case_dir);
	_cleanup_free_ char *expected = read_text_file(expected_path);
	_cleanup_free_ char *copy = make_case_copy(case_dir);
	_cleanup_free_ char *got = NULL;
	int result;
	bool good = strcmp(kind, "good") == 0;

	got = load_dir_from_inside(copy, &result);
	remove_tree(copy);

	if (!good && !expected) {
		print_error("bad/%s: no 'expected' file\n", name);
		return false;
	}
	if (good ? result == 0 && got[0] == '\0' : result == -EINVAL && strcmp(got, expected) == 0)
		return true;

	print_error("%s/%s: result %d\n--- expected\n%s--- got\n%s", kind, name, result,
		    good ? "" : expected, got);
	return false;
}

static void run_corpus(const char *kind, int minimum)
{
	struct dirent **cases;
	int count = list_cases(kind, &cases), failures = 0;

	for (int i = 0; i < count; i++) {
		if (!run_case(kind, cases[i]->d_name))
			failures++;
		free(cases[i]);
	}
	free(cases);

	assert_true(count >= minimum);
	assert_int_equal(failures, 0);
}

/* The example fleet with one file replaced (or added) by text, loaded from memory. */
static int load_example_with(const char *path, const char *text, struct ppn_fleet **fleet,
			     struct ppn_diags *diags)
{
	_cleanup_free_ char *example =
		ppn_xasprintf("%s/examples/fleet", env_path("PPN_SOURCE_ROOT"));
	struct ppn_fileset read = {0}, set = {0};
	int r;

	assert_int_equal(ppn_fileset_read_dir(&read, example, diags), 0);
	set.display_prefix = ppn_xstrdup("");
	for (size_t i = 0; i < read.count; i++)
		if (!path || strcmp(read.files[i].path, path) != 0)
			ppn_fileset_add(&set, read.files[i].path, read.files[i].path,
					read.files[i].data, read.files[i].size);
	if (path && text)
		ppn_fileset_add(&set, path, path, text, strlen(text));

	r = ppn_manifest_load(&set, fleet, diags);
	ppn_fileset_release(&read);
	ppn_fileset_release(&set);
	return r;
}

/* Loads with one file replaced and checks the diagnostics it must produce. */
static void expect_diags(const char *path, const char *text, const char *expected)
{
	struct ppn_diags diags = {0};
	struct ppn_fleet *fleet = NULL;
	_cleanup_free_ char *got = NULL;

	assert_int_equal(load_example_with(path, text, &fleet, &diags), -EINVAL);
	assert_null(fleet);
	got = diags_text(&diags);
	assert_string_equal(got, expected);
	ppn_diags_release(&diags);
}

/* A guess from ppn.yaml alone: only a valid interface name, or the default when none is set. */
static void test_manifest_guess_interface(void **unused)
{
	static const struct {
		const char *yaml;
		const char *ifname; /* NULL: no guess */
	} cases[] = {
		{"kind: Network\ninterface: wg-mesh.1\n", "wg-mesh.1"},
		{"\xef\xbb\xbfinterface: 'ppn7'\r\n", "ppn7"},
		{"kind: Network\nname: acme\n", PPN_DEFAULT_INTERFACE},
		{"kind: Network\ninterface: ../x\n", NULL},
		{"interface: a-name-of-16-char\n", NULL},
		{"interface: [ppn0]\n", NULL},
		{"interface: \"ppn\\0x\"\n", NULL},
		{"interface: a\ninterface: b\n", NULL},
		{"interface: a\n\tmtu: 1\n", NULL},
		{"- interface: a\n", NULL},
		{"# only a comment\n", NULL},
	};

	for (size_t i = 0; i < PPN_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *got =
			ppn_manifest_guess_interface(cases[i].yaml, strlen(cases[i].yaml));

		if (!cases[i].ifname)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].ifname);
	}
}

/* --- scalar parsers ---------------------------------------------------------------------- */

static void test_manifest_scalar_resolve(void **unused)
{
	const char *strings[] = {"ppn0", "10.77.0.1", "1.2.3",     "y", "n",    "ssh-ed25519 AAAA",
				 "0x",   "1e3",       "debian-12", "+", "2GiB", "1:60"};
	const char *nulls[] = {"", "~", "null", "Null", "NULL"};
	const char *bools[] = {"yes", "No", "ON", "off", "True", "FALSE"};
	const char *ints[] = {"0", "12", "012", "0x2a", "1_000", "+1", "-5", "1:30", "0b101"};
	const char *floats[] = {"1.5", "1.", ".5", "-.inf", ".NaN", "1:30.5", "6.8e+3"};

	for (size_t i = 0; i < PPN_ARRAY_SIZE(strings); i++)
		assert_int_equal(ppn_scalar_resolve(strings[i]), PPN_SCALAR_STRING);
	for (size_t i = 0; i < PPN_ARRAY_SIZE(nulls); i++)
		assert_int_equal(ppn_scalar_resolve(nulls[i]), PPN_SCALAR_NULL);
	for (size_t i = 0; i < PPN_ARRAY_SIZE(bools); i++)
		assert_int_equal(ppn_scalar_resolve(bools[i]), PPN_SCALAR_BOOL);
	for (size_t i = 0; i < PPN_ARRAY_SIZE(ints); i++)
		assert_int_equal(ppn_scalar_resolve(ints[i]), PPN_SCALAR_INT);
	for (size_t i = 0; i < PPN_ARRAY_SIZE(floats); i++)
		assert_int_equal(ppn_scalar_resolve(floats[i]), PPN_SCALAR_FLOAT);
}

/* The edges of each YAML 1.1 form, where a hand-written classifier could go wrong. */
static void test_manifest_scalar_resolve_edges(void **unused)
{
	static const struct {
		const char *text;
		enum ppn_scalar_type type;
	} cases[] = {
		{"0b", PPN_SCALAR_STRING},    {"0b_", PPN_SCALAR_INT},
		{"0b12", PPN_SCALAR_STRING},  {"0x", PPN_SCALAR_STRING},
		{"-0x_F", PPN_SCALAR_INT},    {"0xg", PPN_SCALAR_STRING},
		{"08", PPN_SCALAR_STRING},    {"0_7", PPN_SCALAR_INT},
		{"-0", PPN_SCALAR_INT},       {"0:30", PPN_SCALAR_STRING},
		{"1:60", PPN_SCALAR_STRING},  {"1:5:09", PPN_SCALAR_INT},
		{"1:", PPN_SCALAR_STRING},    {"1:0005", PPN_SCALAR_STRING},
		{"0:30.5", PPN_SCALAR_FLOAT}, {"1:5:3.", PPN_SCALAR_FLOAT},
		{"1:5.x", PPN_SCALAR_STRING}, {"1.0e3", PPN_SCALAR_STRING},
		{"1.0e+3", PPN_SCALAR_FLOAT}, {"1e+3", PPN_SCALAR_STRING},
		{".5e-1", PPN_SCALAR_FLOAT},  {"._", PPN_SCALAR_FLOAT},
		{".", PPN_SCALAR_STRING},     {"+.5", PPN_SCALAR_STRING},
		{"+.INF", PPN_SCALAR_FLOAT},  {"-.nan", PPN_SCALAR_STRING},
		{".iNF", PPN_SCALAR_STRING},  {"-", PPN_SCALAR_STRING},
		{"~~", PPN_SCALAR_STRING},    {"nULL", PPN_SCALAR_STRING},
		{"oN", PPN_SCALAR_STRING},    {"yes ", PPN_SCALAR_STRING},
		{"1\n2", PPN_SCALAR_STRING},
	};

	for (size_t i = 0; i < PPN_ARRAY_SIZE(cases); i++) {
		if (ppn_scalar_resolve(cases[i].text) != cases[i].type)
			fail_msg("'%s': expected type %d, got %d", cases[i].text, cases[i].type,
				 ppn_scalar_resolve(cases[i].text));
	}
}

static void test_manifest_scalar_bool(void **unused)
{
	bool value = false;

	assert_int_equal(ppn_scalar_parse_bool("true", &value), 0);
	assert_true(value);
	assert_int_equal(ppn_scalar_parse_bool("false", &value), 0);
	assert_false(value);
	assert_int_equal(ppn_scalar_parse_bool("True", &value), -EINVAL);
	assert_int_equal(ppn_scalar_parse_bool("yes", &value), -EINVAL);
	assert_int_equal(ppn_scalar_parse_bool("", &value), -EINVAL);
}

static void test_manifest_scalar_size(void **unused)
{
	uint64_t bytes = 0;

	assert_int_equal(ppn_scalar_parse_size("512MiB", &bytes), 0);
	assert_int_equal(bytes, UINT64_C(512) << 20);
	assert_int_equal(ppn_scalar_parse_size("2GB", &bytes), 0);
	assert_int_equal(bytes, UINT64_C(2000000000));
	assert_int_equal(ppn_scalar_parse_size("3kB", &bytes), 0);
	assert_int_equal(bytes, 3000);
	assert_int_equal(ppn_scalar_parse_size("0B", &bytes), 0);
	assert_int_equal(bytes, 0);
	assert_int_equal(ppn_scalar_parse_size("16777215TiB", &bytes), 0);
	assert_int_equal(bytes, UINT64_C(16777215) << 40);

	assert_int_equal(ppn_scalar_parse_size("512", &bytes), -EDOM);
	assert_int_equal(ppn_scalar_parse_size("2 GiB", &bytes), -EINVAL);
	assert_int_equal(ppn_scalar_parse_size("1.5GiB", &bytes), -EINVAL);
	assert_int_equal(ppn_scalar_parse_size("2gib", &bytes), -EINVAL);
	assert_int_equal(ppn_scalar_parse_size("02GiB", &bytes), -EINVAL);
	assert_int_equal(ppn_scalar_parse_size("GiB", &bytes), -EINVAL);
	assert_int_equal(ppn_scalar_parse_size("-1GiB", &bytes), -EINVAL);
	assert_int_equal(ppn_scalar_parse_size("16777216TiB", &bytes), -ERANGE);
	assert_int_equal(ppn_scalar_parse_size("99999999999999999999999B", &bytes), -ERANGE);
}

static void test_manifest_scalar_duration(void **unused)
{
	uint64_t ms = 0;

	assert_int_equal(ppn_scalar_parse_duration("30s", &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(ppn_scalar_parse_duration("5m", &ms), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(ppn_scalar_parse_duration("2h", &ms), 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(ppn_scalar_parse_duration("250ms", &ms), 0);
	assert_int_equal(ms, 250);

	assert_int_equal(ppn_scalar_parse_duration("30", &ms), -EDOM);
	assert_int_equal(ppn_scalar_parse_duration("1h30m", &ms), -EINVAL);
	assert_int_equal(ppn_scalar_parse_duration("0.5s", &ms), -EINVAL);
	assert_int_equal(ppn_scalar_parse_duration("30S", &ms), -EINVAL);
	assert_int_equal(ppn_scalar_parse_duration("s", &ms), -EINVAL);
	assert_int_equal(ppn_scalar_parse_duration("9999999999999999999h", &ms), -ERANGE);
}

static void test_manifest_scalar_names(void **unused)
{
	char long_name[65];

	assert_true(ppn_scalar_is_name("gcp-relay"));
	assert_true(ppn_scalar_is_name("a"));
	assert_true(ppn_scalar_is_name("123"));
	assert_false(ppn_scalar_is_name(""));
	assert_false(ppn_scalar_is_name("-a"));
	assert_false(ppn_scalar_is_name("a-"));
	assert_false(ppn_scalar_is_name("Web"));
	assert_false(ppn_scalar_is_name("../x"));
	assert_false(ppn_scalar_is_name("a.b"));
	assert_false(ppn_scalar_is_name("a_b"));
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	assert_false(ppn_scalar_is_name(long_name));
	long_name[63] = '\0';
	assert_true(ppn_scalar_is_name(long_name));

	assert_true(ppn_scalar_is_interface("ppn0"));
	assert_true(ppn_scalar_is_interface("wg_Mesh.1-a"));
	assert_false(ppn_scalar_is_interface("."));
	assert_false(ppn_scalar_is_interface(".."));
	assert_false(ppn_scalar_is_interface(""));
	assert_false(ppn_scalar_is_interface("ppn-mesh-interface"));
	assert_false(ppn_scalar_is_interface("ppn/0"));
}

static void test_manifest_scalar_endpoint(void **unused)
{
	char *host = NULL;
	uint16_t port = 0;

	assert_int_equal(ppn_scalar_parse_endpoint("203.0.113.10:51820", &host, &port), 0);
	assert_string_equal(host, "203.0.113.10");
	assert_int_equal(port, 51820);
	free(host);
	assert_int_equal(ppn_scalar_parse_endpoint("[2001:db8::1]:1", &host, &port), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_int_equal(port, 1);
	free(host);
	assert_int_equal(ppn_scalar_parse_endpoint("relay.Example.com:65535", &host, &port), 0);
	assert_string_equal(host, "relay.Example.com");
	free(host);

	host = NULL;
	assert_int_equal(ppn_scalar_parse_endpoint("203.0.113.10:0", &host, &port), -ERANGE);
	assert_int_equal(ppn_scalar_parse_endpoint("203.0.113.10:65536", &host, &port), -ERANGE);
	assert_int_equal(ppn_scalar_parse_endpoint("203.0.113.10", &host, &port), -EINVAL);
	assert_int_equal(ppn_scalar_parse_endpoint("203.0.113.10:", &host, &port), -EINVAL);
	assert_int_equal(ppn_scalar_parse_endpoint("203.0.113.10:051820", &host, &port), -EINVAL);
	assert_int_equal(ppn_scalar_parse_endpoint("2001:db8::1:51820", &host, &port), -EINVAL);
	assert_int_equal(ppn_scalar_parse_endpoint("[10.0.0.1]:5", &host, &port), -EINVAL);
	assert_int_equal(ppn_scalar_parse_endpoint("[2001:db8::1]5", &host, &port), -EINVAL);
	assert_int_equal(ppn_scalar_parse_endpoint("10.77.0:5", &host, &port), -EINVAL);
	assert_int_equal(ppn_scalar_parse_endpoint("-bad.example:5", &host, &port), -EINVAL);
	assert_int_equal(ppn_scalar_parse_endpoint("a..b:5", &host, &port), -EINVAL);
	assert_int_equal(ppn_scalar_parse_endpoint(":5", &host, &port), -EINVAL);
	assert_null(host);
}

static void test_manifest_scalar_ssh_key(void **unused)
{
	const char *good =
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHw6VT3P7MVoLzkvqYBo+fn83uA8tmLiENh"
		"Q3D01RCr";

	assert_int_equal(ppn_scalar_check_ssh_ed25519(good), 0);
	assert_int_equal(ppn_scalar_check_ssh_ed25519("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHw6VT3"
						      "P7MVoLzkvqYBo+fn83uA8tmLiENhQ3D01RCr a@b c"),
			 0);
	/* an RSA blob, a short key, padding, a wrong algorithm name, a line break */
	assert_int_equal(ppn_scalar_check_ssh_ed25519("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ"
						      "DCk1mZpZ7Qv3s7yR9Lw0pE2a5tXcVb8nHfJ4aa"),
			 -EINVAL);
	assert_int_equal(ppn_scalar_check_ssh_ed25519("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHw6VT3"
						      "P7MVoLzkvqYBo+fn83uA8tmLiENhQ3D01R"),
			 -EINVAL);
	assert_int_equal(ppn_scalar_check_ssh_ed25519("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHw6VT3"
						      "P7MVoLzkvqYBo+fn83uA8tmLiENhQ3D01R=="),
			 -EINVAL);
	assert_int_equal(ppn_scalar_check_ssh_ed25519("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIHHw6VT3P7MV"
						      "oLzkvqYBo+fn83uA8tmLiENhQ3D01RCr"),
			 -EINVAL);
	assert_int_equal(ppn_scalar_check_ssh_ed25519("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHw6VT3"
						      "P7MVoLzkvqYBo+fn83uA8tmLiENhQ3D01RCr a\nb"),
			 -EINVAL);
	assert_int_equal(ppn_scalar_check_ssh_ed25519("ssh-ed25519"), -EINVAL);
}

static void test_manifest_scalar_misc(void **unused)
{
	uint8_t digest[32];
	_cleanup_free_ char *quoted = ppn_scalar_quote("a\nb\x01'\xc2\x85", 7);
	char long_text[100];
	_cleanup_free_ char *cut = NULL;

	assert_int_equal(ppn_scalar_parse_sha256("3f0e4c9d8b1a27e5c6d4f3b2a1908e7d6c5b4a39281706f5"
						 "e4d3c2b1a0998877",
						 digest),
			 0);
	assert_int_equal(digest[0], 0x3f);
	assert_int_equal(digest[31], 0x77);
	assert_int_equal(ppn_scalar_parse_sha256("3F0e4c9d8b1a27e5c6d4f3b2a1908e7d6c5b4a39281706f5"
						 "e4d3c2b1a0998877",
						 digest),
			 -EINVAL);
	assert_int_equal(ppn_scalar_parse_sha256("3f0e", digest), -EINVAL);

	assert_true(ppn_scalar_is_image_source("/var/lib/ppn/debian.qcow2"));
	assert_true(ppn_scalar_is_image_source("https://example.com/a.qcow2"));
	assert_true(ppn_scalar_is_image_source("http://example.com/a.qcow2"));
	assert_false(ppn_scalar_is_image_source("debian.qcow2"));
	assert_false(ppn_scalar_is_image_source("/"));
	assert_false(ppn_scalar_is_image_source("ftp://example.com/a"));
	assert_false(ppn_scalar_is_image_source("https://"));
	assert_false(ppn_scalar_is_image_source("/a b"));

	/* One line whatever the text holds, cut on a character boundary. */
	assert_string_equal(quoted, "'a\\nb\\x01'\\u0085'");
	memset(long_text, 'x', sizeof(long_text));
	memcpy(long_text + 59, "\xc3\xa9", 2);
	cut = ppn_scalar_quote(long_text, sizeof(long_text));
	assert_int_equal(strlen(cut), 1 + 59 + 3 + 1);

	assert_int_equal(ppn_scalar_distance("libvirtURI", "libvirtUri"), 0);
	assert_int_equal(ppn_scalar_distance("memroy", "memory"), 2);
	assert_int_equal(ppn_scalar_distance("vcpu", "vcpus"), 1);
	assert_int_equal(ppn_scalar_distance("", "abc"), 3);
}

/* --- the YAML reader --------------------------------------------------------------------- */

static void expect_ytree_error(const char *data, size_t size, const char *expected)
{
	struct ppn_diags diags = {0};
	struct ppn_ynode *root = NULL;
	_cleanup_free_ char *got = NULL;

	assert_int_equal(ppn_ytree_parse(data, size, "f.yaml", &root, &diags), -EINVAL);
	assert_null(root);
	got = diags_text(&diags);
	assert_string_equal(got, expected);
	ppn_diags_release(&diags);
}

static void test_manifest_ytree_positions(void **unused)
{
	const char *data = "\xef\xbb\xbf# \xc3\xa9t\xc3\xa9\r\na: 1\r\nb:\r\n  - x\r\n  - 'y'\r\n";
	struct ppn_diags diags = {0};
	struct ppn_ynode *root = NULL;
	const struct ppn_yentry *b;

	assert_int_equal(ppn_ytree_parse(data, strlen(data), "f.yaml", &root, &diags), 0);
	assert_int_equal(diags.count, 0);
	assert_int_equal(root->kind, PPN_YNODE_MAPPING);
	assert_int_equal(root->line, 2);
	assert_int_equal(root->column, 1);
	b = ppn_ytree_find(root, "b");
	assert_non_null(b);
	assert_int_equal(b->value->kind, PPN_YNODE_SEQUENCE);
	assert_int_equal(b->value->count, 2);
	assert_int_equal(b->value->items[1]->line, 5);
	assert_int_equal(b->value->items[1]->column, 5);
	assert_string_equal(b->value->items[1]->text, "y");
	assert_false(b->value->items[1]->plain);
	assert_true(b->value->items[0]->plain);
	ppn_ytree_free(root);

	/* Columns count characters, after a byte order mark, as libyaml's do. */
	expect_ytree_error("\xef\xbb\xbf\xc3\xa9: a\tb\n", 10,
			   "f.yaml:1:5: expected spaces, found a tab "
			   "character (tabs are not allowed)\n");
	expect_ytree_error("a: 1\r\nb: \xff\n", 11,
			   "f.yaml:2:4: expected UTF-8 text, found the byte 0xff\n");
	expect_ytree_error("a: \xed\xa0\x80\n", 7,
			   "f.yaml:1:4: expected UTF-8 text, found the byte 0xed\n");
	expect_ytree_error("a: \xc0\xaf\n", 6,
			   "f.yaml:1:4: expected UTF-8 text, found the byte 0xc0\n");
}

/* Positions of refused characters after every kind of line break and of character. */
static void test_manifest_ytree_refused_characters(void **unused)
{
	expect_ytree_error(
		"a: x\nbb: \xc3\xa9\x01\n", 13,
		"f.yaml:2:6: expected printable text, found the control character U+0001\n");
	expect_ytree_error(
		"a: 1\rb: \x7f\n", 10,
		"f.yaml:2:4: expected printable text, found the control character U+007F\n");
	expect_ytree_error(
		"a: 1\r\n\r\nb: \x02", 12,
		"f.yaml:3:4: expected printable text, found the control character U+0002\n");
	expect_ytree_error(
		"a: \"x\xc2\x85y\"\n\x03", 11,
		"f.yaml:3:1: expected printable text, found the control character U+0003\n");
	expect_ytree_error(
		"a: \"\xe2\x80\xa8\"\nb: \xef\xbf\xbe", 15,
		"f.yaml:3:4: expected printable text, found the control character U+FFFE\n");
	expect_ytree_error(
		"k: v\n\n\n  \t", 10,
		"f.yaml:4:3: expected spaces, found a tab character (tabs are not allowed)\n");
}

static void test_manifest_ytree_refusals(void **unused)
{
	char deep[200];
	size_t n = 0;

	expect_ytree_error("a: 1\nb: 2\na: 3\nb: 4\n", 20,
			   "f.yaml:3:1: expected each key once, found 'a' again (first at 1:1)\n");
	/* The earliest problem wins, even when libyaml stops later on. */
	expect_ytree_error("a: 1\na: 2\nb: [\n", 15,
			   "f.yaml:2:1: expected each key once, found 'a' again (first at 1:1)\n");
	expect_ytree_error("a: {x: 1, x: 2}\n", 16,
			   "f.yaml:1:11: expected each key once, found 'x' again (first at 1:5)\n");
	expect_ytree_error("a: &x [1]\n", 10,
			   "f.yaml:1:4: expected a value without anchor, found the anchor '&x' "
			   "(anchors and aliases are not allowed)\n");
	expect_ytree_error("a: !local 1\n", 12,
			   "f.yaml:1:4: expected a value without tag, found the tag '!local' (tags "
			   "are not allowed)\n");
	expect_ytree_error("%TAG !e! tag:example.com,2000:\n---\na: 1\n", 39,
			   "f.yaml:1:1: expected no '%TAG' directive (tags are not allowed)\n");
	expect_ytree_error("a: 1\n...\n---\nb: 1\n", 18,
			   "f.yaml:3:1: expected one YAML document per file, found a second one\n");
	expect_ytree_error("{[a]: 1}\n", 9, "f.yaml:1:2: expected a plain key, found a list\n");

	for (int i = 0; i < 70; i++)
		deep[n++] = '[';
	deep[n++] = '\n';
	expect_ytree_error(deep, n,
			   "f.yaml:1:65: expected at most 64 levels of nesting, found more\n");
}

/*
 * A small mapping compares each key with those before it, a large one sorts its keys: both
 * report the earliest repetition, against the key's first use, and never a third use.
 */
static void test_manifest_ytree_repeated_keys(void **unused)
{
	static const size_t sizes[] = {3, 16, 17, 40};

	for (size_t s = 0; s < PPN_ARRAY_SIZE(sizes); s++) {
		_cleanup_free_ char *text = ppn_xstrdup("");
		_cleanup_free_ char *expected = NULL;
		size_t n = sizes[s];

		/* Keys k0 .. k(n-1), then k1 again three times and k0 again once. */
		for (size_t i = 0; i < n + 4; i++) {
			size_t key = i < n ? i : i == n + 3 ? 0 : 1;
			char *longer = ppn_xasprintf("%sk%zu: %zu\n", text, key, i);

			free(text);
			text = longer;
		}
		expected = ppn_xasprintf("f.yaml:%zu:1: expected each key once, found 'k1' again "
					 "(first at 2:1)\n",
					 n + 1);
		expect_ytree_error(text, strlen(text), expected);
	}
}

/* A tree much larger than a manifest's spans many arena blocks and keeps every value. */
static void test_manifest_ytree_large_tree(void **unused)
{
	const size_t items = 50000;
	size_t len = 0;
	_cleanup_free_ char *text = ppn_xmalloc(items * 8 + 16);
	struct ppn_diags diags = {0};
	struct ppn_ynode *root = NULL;
	const struct ppn_yentry *list;

	len += (size_t)sprintf(text, "list: [");
	for (size_t i = 0; i < items; i++)
		len += (size_t)sprintf(text + len, "%s%zu", i ? "," : "", i);
	len += (size_t)sprintf(text + len, "]\nlast: end\n");

	assert_int_equal(ppn_ytree_parse(text, len, "f.yaml", &root, &diags), 0);
	list = ppn_ytree_find(root, "list");
	assert_non_null(list);
	assert_int_equal(list->value->count, items);
	for (size_t i = 0; i < items; i += 997) {
		char expected[16];

		snprintf(expected, sizeof(expected), "%zu", i);
		assert_string_equal(list->value->items[i]->text, expected);
	}
	assert_string_equal(list->value->items[items - 1]->text, "49999");
	assert_string_equal(ppn_ytree_find(root, "last")->value->text, "end");
	ppn_ytree_free(root);
	ppn_ytree_free(NULL);
}

/* Every file of the ahead tests but each seventh, whose YAML nobody wants. */
static bool ahead_wanted(const struct ppn_file *file)
{
	return strstr(file->path, "-7.yaml") == NULL;
}

/* A tree as text, to compare two trees of one file. */
static void tree_text(const struct ppn_ynode *node, char **text)
{
	char *longer = ppn_xasprintf("%s(%d %u:%u %s", *text, node->kind, node->line, node->column,
				     node->text ? node->text : "");

	free(*text);
	*text = longer;
	for (size_t i = 0; node->kind == PPN_YNODE_MAPPING && i < node->count; i++) {
		tree_text(node->entries[i].key, text);
		tree_text(node->entries[i].value, text);
	}
	for (size_t i = 0; node->kind == PPN_YNODE_SEQUENCE && i < node->count; i++)
		tree_text(node->items[i], text);
	longer = ppn_xasprintf("%s)", *text);
	free(*text);
	*text = longer;
}

/*
 * Parsing ahead on a second thread gives each file exactly what parsing it alone gives, good
 * or bad, taken or skipped, wanted by the helper or not, whatever the timing.
 */
static void test_manifest_ytree_ahead(void **unused)
{
	static const char *const bodies[] = {
		"a: 1\nb: [x, y]\n", "a: 1\na: 2\n", "", "a: \"\\t\"\nb: {c: d}\n", "a: [\n",
		"- 1\n- 2\n",        "k: \tv\n",
	};
	struct ppn_fileset set = {0};
	struct ppn_ytree_ahead *ahead;

	for (size_t i = 0; i < 700; i++) {
		_cleanup_free_ char *path = ppn_xasprintf("f%03zu-%zu.yaml", i, i % 8);
		const char *body = bodies[i % PPN_ARRAY_SIZE(bodies)];

		ppn_fileset_add(&set, path, path, body, strlen(body));
	}

	ahead = ppn_ytree_ahead_new(&set, ahead_wanted);
	for (size_t i = 0; i < set.count; i += 1 + (i % 5 == 0)) {
		const struct ppn_file *file = &set.files[i];
		struct ppn_diags alone_diags = {0}, ahead_diags = {0};
		struct ppn_ynode *alone = NULL, *taken = NULL;
		_cleanup_free_ char *alone_text = ppn_xstrdup(""), *taken_text = ppn_xstrdup("");
		_cleanup_free_ char *alone_diag = NULL, *taken_diag = NULL;
		int r = ppn_ytree_parse(file->data, file->size, "x.yaml", &alone, &alone_diags);

		assert_int_equal(ppn_ytree_ahead_take(ahead, i, "x.yaml", &taken, &ahead_diags), r);
		if (alone)
			tree_text(alone, &alone_text);
		if (taken)
			tree_text(taken, &taken_text);
		assert_string_equal(taken_text, alone_text);
		alone_diag = diags_text(&alone_diags);
		taken_diag = diags_text(&ahead_diags);
		assert_string_equal(taken_diag, alone_diag);

		ppn_ytree_free(alone);
		ppn_ytree_free(taken);
		ppn_diags_release(&alone_diags);
		ppn_diags_release(&ahead_diags);
	}
	ppn_ytree_ahead_free(ahead);
	ppn_ytree_ahead_free(NULL);

	/* Stopped early, with files parsed ahead and never taken. */
	ahead = ppn_ytree_ahead_new(&set, ahead_wanted);
	ppn_ytree_ahead_free(ahead);
	ppn_fileset_release(&set);
}

static void test_manifest_ytree_empty(void **unused)
{
	struct ppn_diags diags = {0};
	struct ppn_ynode *root = (struct ppn_ynode *)&diags;

	assert_int_equal(ppn_ytree_parse("# only a comment\n", 17, "f.yaml", &root, &diags), 0);
	assert_null(root);
	assert_int_equal(ppn_ytree_parse("", 0, "f.yaml", &root, &diags), 0);
	assert_null(root);
	assert_int_equal(diags.count, 0);
}

/* --- loading ----------------------------------------------------------------------------- */

static void test_manifest_example_values(void **unused)
{
	_cleanup_free_ char *example =
		ppn_xasprintf("%s/examples/fleet", env_path("PPN_SOURCE_ROOT"));
	_cleanup_free_ char *ppn_path = ppn_xasprintf("%s/ppn.yaml", example);
	struct ppn_fileset set = {0};
	struct ppn_diags diags = {0};
	struct ppn_fleet *fleet = NULL;
	const struct ppn_peer *relay, *air;
	const struct ppn_node *node;
	const struct ppn_vm *vm;
	char text[PPN_PREFIX_STRLEN], key[PPN_KEY_B64_LEN + 1];

	assert_int_equal(ppn_fileset_read_dir(&set, example, &diags), 0);
	assert_int_equal(ppn_manifest_load(&set, &fleet, &diags), 0);
	assert_int_equal(diags.count, 0);

	/* ppn.yaml */
	assert_string_equal(fleet->network.name, "acme");
	ppn_prefix_to_string(&fleet->network.overlay, false, text);
	assert_string_equal(text, "10.77.0.0/24");
	assert_string_equal(fleet->network.interface, "ppn0");
	assert_int_equal(fleet->network.listen_port, 51820);
	assert_int_equal(fleet->network.mtu, 1420);
	assert_string_equal(fleet->network.controller, "gcp-relay");
	assert_int_equal(fleet->network.heartbeat_ms, 30000);
	assert_false(fleet->network.allow_mass_removal);
	assert_int_equal(fleet->network.n_admins, 1);
	assert_string_equal(fleet->network.admins[0].name, "alice");
	assert_string_equal(fleet->network.admins[0].ssh_key,
			    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHw6VT3P7MVoLzkvqYBo+fn83uA8tmLi"
			    "ENhQ3D01RCr alice@acme.example");
	assert_string_equal(fleet->network.loc.path, ppn_path);
	assert_int_equal(fleet->network.overlay_loc.line, 5);
	assert_int_equal(fleet->network.overlay_loc.column, 10);
	assert_int_equal(fleet->network.controller_loc.line, 9);
	assert_int_equal(fleet->network.controller_loc.column, 13);

	/* nodes, sorted, with defaults and labels sorted by key */
	assert_int_equal(fleet->n_nodes, 3);
	assert_string_equal(fleet->nodes[0].name, "gcp-relay");
	assert_string_equal(fleet->nodes[1].name, "macbook-air");
	assert_string_equal(fleet->nodes[2].name, "macbook-pro");
	node = ppn_fleet_node(fleet, "gcp-relay");
	assert_int_equal(node->type, PPN_NODE_CLOUD_VM);
	assert_string_equal(node->libvirt_uri, "qemu:///system");
	assert_int_equal(node->n_labels, 2);
	assert_string_equal(node->labels[0].key, "provider");
	assert_string_equal(node->labels[0].value, "gcp");
	assert_string_equal(node->labels[1].key, "site");
	assert_string_equal(node->labels[1].value, "europe-west1");
	assert_false(node->cordoned);
	assert_int_equal(node->loc.line, 4);
	assert_int_equal(node->loc.column, 7);
	node = ppn_fleet_node(fleet, "macbook-pro");
	assert_int_equal(node->type, PPN_NODE_BARE_METAL);
	assert_string_equal(node->libvirt_uri, PPN_DEFAULT_LIBVIRT);

	/* peers */
	assert_int_equal(fleet->n_peers, 3);
	relay = ppn_fleet_peer(fleet, "gcp-relay");
	ppn_key_to_base64(&relay->public_key, key);
	assert_string_equal(key, "+PhSZdH0j/wT3gcRvzJjNP00dSTH0jk0Owib0y0h8h0=");
	ppn_prefix_to_string(&relay->address, false, text);
	assert_string_equal(text, "10.77.0.1/32");
	assert_string_equal(relay->endpoint.host, "203.0.113.10");
	assert_int_equal(relay->endpoint.port, 51820);
	assert_true(relay->relay);
	assert_int_equal(relay->keepalive_s, PPN_DEFAULT_KEEPALIVE);
	assert_int_equal(relay->public_key_loc.line, 4);
	assert_int_equal(relay->public_key_loc.column, 12);
	assert_int_equal(relay->endpoint_loc.line, 6);
	assert_int_equal(relay->endpoint_loc.column, 11);
	air = ppn_fleet_peer(fleet, "macbook-air");
	assert_null(air->endpoint.host);
	assert_false(air->relay);
	assert_int_equal(air->keepalive_s, 25);
	assert_int_equal(air->address_loc.line, 6);
	assert_int_equal(air->address_loc.column, 10);
	assert_string_equal(air->address_loc.path, air->loc.path);

	/* images and VMs */
	assert_int_equal(fleet->n_images, 1);
	assert_string_equal(fleet->images[0].source,
			    "https://cloud.debian.org/images/cloud/bookworm/latest/"
			    "debian-12-genericcloud-amd64.qcow2");
	assert_int_equal(fleet->images[0].format, PPN_IMAGE_QCOW2);
	assert_int_equal(fleet->images[0].sha256[0], 0x3f);
	assert_int_equal(fleet->images[0].sha256[31], 0x77);
	assert_int_equal(fleet->n_vms, 2);
	assert_string_equal(fleet->vms[0].name, "ci-runner");
	assert_string_equal(fleet->vms[1].name, "web");
	vm = ppn_fleet_vm(fleet, "ci-runner");
	assert_string_equal(vm->image, "debian-12");
	assert_int_equal(vm->memory, UINT64_C(4) << 30);
	assert_int_equal(vm->vcpus, 2);
	assert_int_equal(vm->disk, UINT64_C(40) << 30);
	assert_true(vm->needs_kvm);
	assert_null(vm->pin);
	assert_string_equal(vm->cloud_init.user_data, "#cloud-config\nhostname: ci-runner\n");
	assert_string_equal(vm->cloud_init.network_config,
			    "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n");
	assert_int_equal(vm->cloud_init.generation, 0);
	assert_int_equal(vm->image_loc.line, 4);
	assert_int_equal(vm->image_loc.column, 8);
	assert_int_equal(fleet->n_placements, 0);

	/* every location points into the fleet's own paths */
	assert_int_equal(fleet->n_paths, 10);
	for (size_t i = 0; i < fleet->n_peers; i++) {
		bool kept = false;

		for (size_t j = 0; j < fleet->n_paths; j++)
			kept = kept || fleet->peers[i].loc.path == fleet->paths[j];
		assert_true(kept);
	}

	ppn_fleet_free(fleet);
	ppn_diags_release(&diags);
	ppn_fileset_release(&set);
}

static void test_manifest_optional_values(void **unused)
{
	struct ppn_diags diags = {0};
	struct ppn_fleet *fleet = NULL;
	const struct ppn_vm *vm;

	assert_int_equal(load_example_with("vms/web.yaml",
					   "apiVersion: ppn/v1\nkind: VM\nname: web\n"
					   "image: debian-12\nmemory: 1536MB\nvcpus: 256\n"
					   "disk: 1GiB\nneeds: []\npin: macbook-pro\n"
					   "cloudInit: {generation: 4294967295}\n",
					   &fleet, &diags),
			 0);
	vm = ppn_fleet_vm(fleet, "web");
	assert_int_equal(vm->memory, UINT64_C(1536000000));
	assert_int_equal(vm->vcpus, 256);
	assert_int_equal(vm->disk, UINT64_C(1) << 30);
	assert_false(vm->needs_kvm);
	assert_string_equal(vm->pin, "macbook-pro");
	assert_int_equal(vm->pin_loc.line, 9);
	assert_int_equal(vm->pin_loc.column, 6);
	assert_null(vm->cloud_init.user_data);
	assert_int_equal(vm->cloud_init.generation, UINT32_MAX);
	ppn_fleet_free(fleet);
	fleet = NULL;

	assert_int_equal(load_example_with("placements/web.yaml",
					   "apiVersion: ppn/v1\nkind: Placement\nname: web\n"
					   "node: macbook-pro\n",
					   &fleet, &diags),
			 0);
	assert_int_equal(fleet->n_placements, 1);
	assert_string_equal(fleet->placements[0].node, "macbook-pro");
	assert_null(fleet->placements[0].reason);
	assert_int_equal(fleet->placements[0].node_loc.line, 4);
	assert_int_equal(diags.count, 0);
	ppn_fleet_free(fleet);
}

/* Rules the corpus leaves out because a JSON Schema cannot say them; the loader does. */
static void test_manifest_value_ranges(void **unused)
{
	expect_diags("vms/web.yaml",
		     "apiVersion: ppn/v1\nkind: VM\nname: web\nimage: debian-12\nmemory: 32MiB\n"
		     "vcpus: 2\ndisk: 1000MiB\n",
		     "vms/web.yaml:5:9: expected a size of at least 64MiB, got '32MiB'\n"
		     "vms/web.yaml:7:7: expected a size of at least 1GiB, got '1000MiB'\n");
	expect_diags("peers/macbook-air.yaml",
		     "apiVersion: ppn/v1\nkind: Peer\nname: macbook-air\n"
		     "publicKey: Im2keTvARDkiQ5iKwaQKR0CT4Zk9debZTCDgKJNiGgc=\n"
		     "address: 10.77.0.3\npersistentKeepalive: 1500ms\n",
		     "peers/macbook-air.yaml:6:22: expected a duration from 1s to 65535s in whole "
		     "seconds, got '1500ms'\n");
	expect_diags("ppn.yaml",
		     "apiVersion: ppn/v1\nkind: Network\nname: acme\noverlay: 10.77.0.1/24\n"
		     "heartbeat: 500ms\n",
		     "ppn.yaml:4:10: expected an IP network with zero host bits, such as "
		     "'10.77.0.0/24' or 'fd77::/64', got '10.77.0.1/24'\n"
		     "ppn.yaml:5:12: expected a duration of at least 1s, got '500ms'\n");
}

static void test_manifest_integer_messages(void **unused)
{
	expect_diags(
		"vms/web.yaml",
		"apiVersion: ppn/v1\nkind: VM\nname: web\nimage: debian-12\nmemory: 2GiB\n"
		"vcpus: [1]\ndisk: 2GiB\ncloudInit:\n  generation:\n",
		"vms/web.yaml:6:8: expected an integer from 1 to 256, got a list\n"
		"vms/web.yaml:9:3: expected an integer from 0 to 4294967295, got an empty value\n");
	expect_diags("ppn.yaml",
		     "apiVersion: ppn/v1\nkind: Network\nname: acme\noverlay: 10.77.0.0/24\n"
		     "mtu: '1420'\nlistenPort: 0x50\n",
		     "ppn.yaml:5:6: expected an integer from 1280 to 9000 without quotes, got the "
		     "string '1420'\n"
		     "ppn.yaml:6:13: expected a decimal integer from 1 to 65535, got '0x50'\n");
}

static void test_manifest_cross_file_rules_wait_for_clean_files(void **unused)
{
	/* vms/web.yaml names a missing image, but another file is broken: only that is said. */
	struct ppn_diags diags = {0};
	struct ppn_fleet *fleet = NULL;
	_cleanup_free_ char *got = NULL;
	const char *image = "apiVersion: ppn/v1\nkind: Image\nname: debian-12\nsource: /x.qcow2\n"
			    "format: qcow2\nsha256: 0a\n";

	assert_int_equal(load_example_with("images/debian-12.yaml", image, &fleet, &diags),
			 -EINVAL);
	got = diags_text(&diags);
	assert_string_equal(got, "images/debian-12.yaml:6:9: expected 64 lowercase hexadecimal "
				 "digits, got '0a'\n");
	ppn_diags_release(&diags);
}

static void test_manifest_keeps_earlier_diagnostics(void **unused)
{
	struct ppn_diags diags = {0};
	struct ppn_fleet *fleet = (struct ppn_fleet *)&diags;
	struct ppn_fileset set = {0};
	_cleanup_free_ char *got = NULL;

	ppn_diags_add(&diags, "zz", 0, 0, "from the caller");
	set.display_prefix = ppn_xstrdup("repo/");
	ppn_fileset_add(&set, "README.md", "repo/README.md", "# not a manifest", 16);
	assert_int_equal(ppn_manifest_load(&set, &fleet, &diags), -EINVAL);
	assert_ptr_equal(fleet, &diags);
	got = diags_text(&diags);
	assert_string_equal(got, "repo/ppn.yaml: expected the Network manifest here, found no "
				 "file\nzz: from the caller\n");
	ppn_diags_release(&diags);
	ppn_fileset_release(&set);
}

static void test_manifest_every_problem_of_a_file(void **unused)
{
	expect_diags(
		"nodes/macbook-pro.yaml",
		"apiVersion: ppn/v2\nkind: Node\ntype: server\nlabels: {Site: x, rack: 12}\n"
		"cordoned: True\nlibvirtUri: ~\nextra: 1\n",
		"nodes/macbook-pro.yaml:1:1: missing required key 'name'\n"
		"nodes/macbook-pro.yaml:1:13: expected apiVersion 'ppn/v1', got 'ppn/v2'\n"
		"nodes/macbook-pro.yaml:3:7: expected 'bare-metal', 'leased' or 'cloud-vm', got "
		"'server'\n"
		"nodes/macbook-pro.yaml:4:10: expected a label key that is a name of 1 to 63 "
		"characters of a-z, 0-9 and '-' that neither starts nor ends with '-', got "
		"'Site'\n"
		"nodes/macbook-pro.yaml:4:25: expected a string, got '12', which YAML reads as an "
		"integer; quote it to mean the text\n"
		"nodes/macbook-pro.yaml:5:11: expected true or false, got 'True' (YAML 1.1 "
		"booleans are refused)\n"
		"nodes/macbook-pro.yaml:6:13: expected a string, got '~', which YAML reads as "
		"null\n"
		"nodes/macbook-pro.yaml:7:1: unknown key 'extra'; expected one of 'apiVersion', "
		"'kind', 'name', 'type', 'libvirtUri', 'labels', 'cordoned'\n");
}

static void test_manifest_bad_corpus(void **unused)
{
	run_corpus("bad", 40);
}

static void test_manifest_good_corpus(void **unused)
{
	run_corpus("good", 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_guess_interface),
		cmocka_unit_test(test_manifest_scalar_resolve),
		cmocka_unit_test(test_manifest_scalar_resolve_edges),
		cmocka_unit_test(test_manifest_scalar_bool),
		cmocka_unit_test(test_manifest_scalar_size),
		cmocka_unit_test(test_manifest_scalar_duration),
		cmocka_unit_test(test_manifest_scalar_names),
		cmocka_unit_test(test_manifest_scalar_endpoint),
		cmocka_unit_test(test_manifest_scalar_ssh_key),
		cmocka_unit_test(test_manifest_scalar_misc),
		cmocka_unit_test(test_manifest_ytree_positions),
		cmocka_unit_test(test_manifest_ytree_refused_characters),
		cmocka_unit_test(test_manifest_ytree_refusals),
		cmocka_unit_test(test_manifest_ytree_repeated_keys),
		cmocka_unit_test(test_manifest_ytree_large_tree),
		cmocka_unit_test(test_manifest_ytree_ahead),
		cmocka_unit_test(test_manifest_ytree_empty),
		cmocka_unit_test(test_manifest_example_values),
		cmocka_unit_test(test_manifest_optional_values),
		cmocka_unit_test(test_manifest_value_ranges),
		cmocka_unit_test(test_manifest_integer_messages),
		cmocka_unit_test(test_manifest_cross_file_rules_wait_for_clean_files),
		cmocka_unit_test(test_manifest_keeps_earlier_diagnostics),
		cmocka_unit_test(test_manifest_every_problem_of_a_file),
		cmocka_unit_test(test_manifest_bad_corpus),
		cmocka_unit_test(test_manifest_good_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
