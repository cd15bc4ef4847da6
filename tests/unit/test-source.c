/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "diag.h"
#include "fileset.h"
#include "source.h"
#include "util.h"

/*
 * Every test gets a fresh directory with a real bare "remote.git", a clone "work" that commits
 * and pushes with the git CLI, and an empty "cache" for the mirrors.
 */
struct repos {
	char *root;
	char *remote;
	char *work;
	char *cache;
};

#define GIT "git -c user.name=ppn-test -c user.email=test@ppn.invalid -c init.defaultBranch=main"

static void run(const char *fmt, ...) _printf_(1, 2);
static void run(const char *fmt, ...)
{
	_cleanup_free_ char *command = NULL;
	va_list args;

	va_start(args, fmt);
	command = ppn_xvasprintf(fmt, args);
	va_end(args);
	if (system(command) != 0)
		fail_msg("command failed: %s", command);
}

static char *run_output(const char *fmt, ...) _printf_(1, 2);
static char *run_output(const char *fmt, ...)
{
	_cleanup_free_ char *command = NULL;
	char buffer[256] = "";
	va_list args;
	FILE *pipe;

	va_start(args, fmt);
	command = ppn_xvasprintf(fmt, args);
	va_end(args);
	pipe = popen(command, "r");
	assert_non_null(pipe);
	if (!fgets(buffer, sizeof(buffer), pipe))
		buffer[0] = '\0';
	assert_int_equal(pclose(pipe), 0);
	buffer[strcspn(buffer, "\n")] = '\0';
	return ppn_xstrdup(buffer);
}

static int setup(void **state)
{
	struct repos *repos = ppn_xcalloc(1, sizeof(*repos));
	char root[] = "/tmp/ppn-src-test-XXXXXX";

	assert_non_null(mkdtemp(root));
	repos->root = ppn_xstrdup(root);
	repos->remote = ppn_xasprintf("%s/remote.git", root);
	repos->work = ppn_xasprintf("%s/work", root);
	repos->cache = ppn_xasprintf("%s/cache", root);
	run(GIT " init -q --bare %s", repos->remote);
	run(GIT " clone -q %s %s 2>/dev/null", repos->remote, repos->work);
	*state = repos;
	return 0;
}

static int teardown(void **state)
{
	struct repos *repos = *state;

	run("rm -rf %s", repos->root);
	free(repos->root);
	free(repos->remote);
	free(repos->work);
	free(repos->cache);
	free(repos);
	return 0;
}

/* Commits everything in the work tree and pushes it to branch; returns the commit id. */
static char *commit_and_push(struct repos *repos, const char *branch, const char *message)
{
	run(GIT " -C %s add -A", repos->work);
	run(GIT " -C %s commit -q --allow-empty -m '%s'", repos->work, message);
	run(GIT " -C %s push -q origin HEAD:refs/heads/%s 2>/dev/null", repos->work, branch);
	return run_output(GIT " -C %s rev-parse HEAD", repos->work);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	_cleanup_free_ char *path = ppn_xasprintf("%s/%s", dir, name);
	_cleanup_free_ char *parent = ppn_xstrdup(path);
	FILE *file;

	*strrchr(parent, '/') = '\0';
	run("mkdir -p %s", parent);
	file = fopen(path, "w");
	assert_non_null(file);
	fputs(text, file);
	assert_int_equal(fclose(file), 0);
}

static const struct ppn_file *find(const struct ppn_fileset *set, const char *path)
{
	for (size_t i = 0; i < set->count; i++)
		if (strcmp(set->files[i].path, path) == 0)
			return &set->files[i];
	return NULL;
}

static struct ppn_source *open_fetched(struct repos *repos, const char *url)
{
	struct ppn_source *source = NULL;

	assert_int_equal(ppn_source_open(url, repos->cache, &source), 0);
	assert_non_null(source);
	assert_int_equal(ppn_source_fetch(source), 0);
	return source;
}

/* Reads branch's commit into a fresh set, checking that resolving matches the expected id. */
static void read_branch(struct ppn_source *source, const char *branch, const char *expected,
			struct ppn_fileset *set)
{
	char commit[PPN_COMMIT_HEX_LEN + 1];

	assert_int_equal(ppn_source_resolve(source, branch, commit), 0);
	assert_string_equal(commit, expected);
	assert_int_equal(ppn_source_read(source, commit, set), 0);
}

/* The only entry of the cache directory: the mirror of the one URL opened. */
static char *only_mirror(struct repos *repos)
{
	DIR *dir = opendir(repos->cache);
	struct dirent *entry;
	char *found = NULL;

	assert_non_null(dir);
	while ((entry = readdir(dir))) {
		if (entry->d_name[0] == '.')
			continue;
		assert_null(found);
		found = ppn_xasprintf("%s/%s", repos->cache, entry->d_name);
	}
	closedir(dir);
	assert_non_null(found);
	return found;
}

static void test_source_reads_example_fleet(void **state)
{
	struct repos *repos = *state;
	const char *root = getenv("PPN_SOURCE_ROOT");
	struct ppn_fileset set = {0};
	_cleanup_free_ char *commit = NULL, *mirror = NULL, *bare = NULL, *on_disk = NULL;
	struct ppn_source *source;
	const struct ppn_file *network;

	assert_non_null(root);
	run("cp -r %s/examples/fleet/. %s/", root, repos->work);
	write_file(repos->work, "README.md", "not a manifest\n");
	write_file(repos->work, "docs/nodes/x.yaml", "nested too deep to be a manifest\n");
	commit = commit_and_push(repos, "main", "example fleet");

	source = open_fetched(repos, repos->remote);
	read_branch(source, "main", commit, &set);

	/* Exactly the manifests that git tracks in the example, and nothing else. */
	on_disk = run_output("cd %s && git ls-files ppn.yaml nodes peers images vms placements | "
			     "wc -l",
			     repos->work);
	assert_int_equal(set.count, strtoul(on_disk, NULL, 10));
	assert_true(set.count >= 9);
	network = find(&set, "ppn.yaml");
	assert_non_null(network);
	assert_non_null(find(&set, "nodes/gcp-relay.yaml"));
	assert_non_null(find(&set, "peers/macbook-air.yaml"));
	assert_non_null(find(&set, "vms/web.yaml"));
	assert_null(find(&set, "README.md"));
	assert_null(find(&set, "docs/nodes/x.yaml"));
	assert_string_equal(set.display_prefix, "");
	for (size_t i = 0; i < set.count; i++) {
		assert_string_equal(set.files[i].display, set.files[i].path);
		if (i > 0)
			assert_true(strcmp(set.files[i - 1].path, set.files[i].path) < 0);
	}

	/* The bytes are the committed ones. */
	{
		_cleanup_free_ char *path = ppn_xasprintf("%s/ppn.yaml", repos->work);
		_cleanup_free_ char *expected = ppn_xmalloc(network->size + 1);
		FILE *file = fopen(path, "rb");

		assert_non_null(file);
		assert_int_equal(fread(expected, 1, network->size + 1, file), network->size);
		fclose(file);
		assert_memory_equal(expected, network->data, network->size);
	}

	/* The mirror is bare: nothing was checked out anywhere in the cache. */
	mirror = only_mirror(repos);
	bare = run_output("git -C %s rev-parse --is-bare-repository", mirror);
	assert_string_equal(bare, "true");
	run("test -z \"$(find %s -name '*.yaml')\"", repos->cache);

	ppn_fileset_release(&set);
	ppn_source_free(source);
}

static void test_source_fetch_sees_new_commit(void **state)
{
	struct repos *repos = *state;
	_cleanup_free_ char *first = NULL, *second = NULL;
	struct ppn_fileset set = {0}, old = {0};
	struct ppn_source *source;

	write_file(repos->work, "peers/a.yaml", "first\n");
	first = commit_and_push(repos, "main", "first");
	source = open_fetched(repos, repos->remote);
	read_branch(source, "main", first, &set);
	assert_memory_equal(find(&set, "peers/a.yaml")->data, "first\n", 6);
	ppn_fileset_release(&set);

	write_file(repos->work, "peers/a.yaml", "second\n");
	write_file(repos->work, "peers/b.yaml", "new\n");
	second = commit_and_push(repos, "main", "second");
	assert_int_equal(ppn_source_fetch(source), 0);
	read_branch(source, "main", second, &set);
	assert_memory_equal(find(&set, "peers/a.yaml")->data, "second\n", 7);
	assert_non_null(find(&set, "peers/b.yaml"));

	/* The older commit stays readable: it is the last good state a node falls back on. */
	assert_int_equal(ppn_source_read(source, first, &old), 0);
	assert_int_equal(old.count, 1);

	ppn_fileset_release(&old);
	ppn_fileset_release(&set);
	ppn_source_free(source);
}

static void test_source_prunes_deleted_branch(void **state)
{
	struct repos *repos = *state;
	_cleanup_free_ char *commit = NULL;
	char resolved[PPN_COMMIT_HEX_LEN + 1];
	struct ppn_source *source;

	commit = commit_and_push(repos, "main", "base");
	run(GIT " -C %s push -q origin HEAD:refs/heads/join/n9 2>/dev/null", repos->work);
	source = open_fetched(repos, repos->remote);
	assert_int_equal(ppn_source_resolve(source, "join/n9", resolved), 0);
	assert_string_equal(resolved, commit);

	run(GIT " -C %s push -q origin --delete join/n9 2>/dev/null", repos->work);
	assert_int_equal(ppn_source_fetch(source), 0);
	assert_int_equal(ppn_source_resolve(source, "join/n9", resolved), -ENOENT);
	assert_int_equal(ppn_source_resolve(source, "main", resolved), 0);
	ppn_source_free(source);
}

static void test_source_resolve_forms(void **state)
{
	struct repos *repos = *state;
	_cleanup_free_ char *commit = NULL, *upper = NULL;
	char resolved[PPN_COMMIT_HEX_LEN + 1];
	struct ppn_source *source;

	commit = commit_and_push(repos, "main", "base");
	source = open_fetched(repos, repos->remote);

	assert_int_equal(ppn_source_resolve(source, "main", resolved), 0);
	assert_string_equal(resolved, commit);
	memset(resolved, 0, sizeof(resolved));
	assert_int_equal(ppn_source_resolve(source, "refs/heads/main", resolved), 0);
	assert_string_equal(resolved, commit);
	memset(resolved, 0, sizeof(resolved));
	assert_int_equal(ppn_source_resolve(source, commit, resolved), 0);
	assert_string_equal(resolved, commit);

	/* Absent: a branch, a full ref, a well-formed id of no object; the output stays as it was
	 */
	strcpy(resolved, "untouched");
	assert_int_equal(ppn_source_resolve(source, "nope", resolved), -ENOENT);
	assert_int_equal(ppn_source_resolve(source, "refs/heads/nope", resolved), -ENOENT);
	assert_int_equal(
		ppn_source_resolve(source, "0123456789abcdef0123456789abcdef01234567", resolved),
		-ENOENT);
	assert_string_equal(resolved, "untouched");

	/* Not a name: git refuses it, and so does ppn. */
	assert_int_equal(ppn_source_resolve(source, "a..b", resolved), -EINVAL);

	/* Abbreviated ids and upper-case hex are branch names, so they resolve to nothing. */
	commit[12] = '\0';
	assert_int_equal(ppn_source_resolve(source, commit, resolved), -ENOENT);
	upper = run_output("printf %%s %s | tr a-f A-F", commit);
	assert_int_equal(ppn_source_resolve(source, upper, resolved), -ENOENT);
	ppn_source_free(source);
}

static void test_source_file_url(void **state)
{
	struct repos *repos = *state;
	_cleanup_free_ char *commit = NULL, *url = ppn_xasprintf("file://%s", repos->remote);
	struct ppn_fileset set = {0};
	struct ppn_source *source;

	write_file(repos->work, "ppn.yaml", "network\n");
	commit = commit_and_push(repos, "main", "network");
	source = open_fetched(repos, url);
	read_branch(source, "main", commit, &set);
	assert_int_equal(set.count, 1);
	assert_string_equal(set.files[0].path, "ppn.yaml");
	ppn_fileset_release(&set);
	ppn_source_free(source);
}

/* What does not belong in a kind directory reaches the loader, which refuses it by path. */
static void test_source_subdir_and_large_blob(void **state)
{
	struct repos *repos = *state;
	_cleanup_free_ char *commit = NULL, *big = ppn_xmalloc(2 * 1024 * 1024 + 1);
	struct ppn_fileset set = {0};
	const struct ppn_file *file;
	struct ppn_source *source;

	memset(big, 'x', 2 * 1024 * 1024);
	big[2 * 1024 * 1024] = '\0';
	write_file(repos->work, "peers/sub/inner.yaml", "too deep\n");
	write_file(repos->work, "vms/big.yaml", big);
	write_file(repos->work, "nodes/n1.yml", "wrong extension\n");
	commit = commit_and_push(repos, "main", "odd entries");

	source = open_fetched(repos, repos->remote);
	read_branch(source, "main", commit, &set);
	assert_int_equal(set.count, 3);

	file = find(&set, "peers/sub/");
	assert_non_null(file);
	assert_int_equal(file->size, 0);
	assert_null(find(&set, "peers/sub/inner.yaml"));

	file = find(&set, "vms/big.yaml");
	assert_non_null(file);
	assert_int_equal(file->size, PPN_MANIFEST_MAX_SIZE + 1);
	assert_memory_equal(file->data, big, file->size);

	assert_non_null(find(&set, "nodes/n1.yml"));
	ppn_fileset_release(&set);
	ppn_source_free(source);
}

/* One file read alone: the same bytes as in the whole read; anything but a file is absent. */
static void test_source_read_file(void **state)
{
	struct repos *repos = *state;
	_cleanup_free_ char *commit = NULL, *data = NULL;
	struct ppn_source *source;
	size_t size = 0;

	write_file(repos->work, "ppn.yaml", "kind: Network\ninterface: wg7\n");
	write_file(repos->work, "peers/a.yaml", "kind: Peer\n");
	commit = commit_and_push(repos, "main", "two files");
	source = open_fetched(repos, repos->remote);

	assert_int_equal(ppn_source_read_file(source, commit, "ppn.yaml", &data, &size), 0);
	assert_int_equal(size, strlen("kind: Network\ninterface: wg7\n"));
	assert_memory_equal(data, "kind: Network\ninterface: wg7\n", size);
	free(PPN_TAKE_PTR(data));
	assert_int_equal(ppn_source_read_file(source, commit, "peers/a.yaml", &data, &size), 0);
	assert_memory_equal(data, "kind: Peer\n", size);

	assert_int_equal(ppn_source_read_file(source, commit, "peers", &data, &size), -ENOENT);
	assert_int_equal(ppn_source_read_file(source, commit, "vms/x.yaml", &data, &size), -ENOENT);
	assert_int_equal(ppn_source_read_file(source, "main", "ppn.yaml", &data, &size), -EINVAL);
	assert_memory_equal(data, "kind: Peer\n", size); /* untouched by the failures */
	ppn_source_free(source);
}

/* A symbolic link cannot be read in a checkout either: the commit is refused, set untouched. */
static void test_source_symlink_refused(void **state)
{
	struct repos *repos = *state;
	_cleanup_free_ char *commit = NULL;
	struct ppn_fileset set = {0};
	struct ppn_source *source;

	write_file(repos->work, "peers/real.yaml", "real\n");
	run("ln -s real.yaml %s/peers/link.yaml", repos->work);
	commit = commit_and_push(repos, "main", "symlink");

	source = open_fetched(repos, repos->remote);
	ppn_fileset_add(&set, "before", "before", "x", 1);
	assert_int_equal(ppn_source_read(source, commit, &set), -EIO);
	assert_int_equal(set.count, 1);
	assert_string_equal(set.files[0].path, "before");
	assert_null(set.display_prefix);
	ppn_fileset_release(&set);
	ppn_source_free(source);
}

/* Many files, read by two threads: the same paths, order and bytes as reading the work tree. */
static void test_source_reads_many_files(void **state)
{
	struct repos *repos = *state;
	static const char *const kinds[] = {"nodes", "peers", "vms"};
	_cleanup_free_ char *commit = NULL;
	struct ppn_fileset set = {0}, on_disk = {0};
	struct ppn_diags diags = {0};
	struct ppn_source *source;

	for (size_t i = 0; i < 600; i++) {
		_cleanup_free_ char *name = ppn_xasprintf("%s/f%03zu.yaml", kinds[i % 3], i);
		_cleanup_free_ char *text = ppn_xasprintf("name: f%03zu\n%.*s\n", i, (int)(i % 97),
							  "0123456789012345678901234567890123456"
							  "789012345678901234567890123456789012"
							  "3456789012345678901234567890");

		write_file(repos->work, name, text);
	}
	write_file(repos->work, "ppn.yaml", "kind: Network\n");
	commit = commit_and_push(repos, "main", "many files");

	source = open_fetched(repos, repos->remote);
	read_branch(source, "main", commit, &set);
	assert_int_equal(ppn_fileset_read_dir(&on_disk, repos->work, &diags), 0);
	assert_int_equal(set.count, 601);
	assert_int_equal(set.count, on_disk.count);
	for (size_t i = 0; i < set.count; i++) {
		assert_string_equal(set.files[i].path, on_disk.files[i].path);
		assert_int_equal(set.files[i].size, on_disk.files[i].size);
		assert_memory_equal(set.files[i].data, on_disk.files[i].data, set.files[i].size);
	}
	ppn_fileset_release(&on_disk);
	ppn_fileset_release(&set);
	ppn_source_free(source);
}

/*
 * Writes a commit straight into the mirror, whose nodes/ and peers/ each hold 100 real files,
 * then the entry given: "mode type id<TAB>name", whose id may be missing.
 */
static char *mirror_commit(struct repos *repos, const char *mirror, const char *nodes,
			   const char *peers)
{
	static const char *const script =
		"set -e; cd \"$1\"\n"
		"real() { for i in $(seq 100); do\n"
		"  id=$(echo $i | git hash-object -w --stdin)\n"
		"  printf '100644 blob %s\\tr%03d.yaml\\n' $id $i\n"
		"done; }\n"
		"n=$( (real; printf '%s\\n' \"$2\") | git mktree --missing)\n"
		"p=$( (real; printf '%s\\n' \"$3\") | git mktree --missing)\n"
		"t=$(printf '040000 tree %s\\tnodes\\n040000 tree %s\\tpeers\\n' $n $p |\n"
		"  git mktree)\n"
		"git -c user.name=t -c user.email=t@ppn.invalid commit-tree $t -m odd\n";
	_cleanup_free_ char *path = ppn_xasprintf("%s/mirror-commit.sh", repos->root);

	write_file(repos->root, "mirror-commit.sh", script);
	return run_output("sh %s %s '%s' '%s'", path, mirror, nodes, peers);
}

/*
 * Whichever thread reads what, the first problem in the tree's order is the one reported: a
 * missing blob in nodes/ before a symbolic link in peers/, and the other way round.
 */
static void test_source_first_problem_wins(void **state)
{
	struct repos *repos = *state;
	const char *missing = "100644 blob 0123456789abcdef0123456789abcdef01234567\tlost.yaml";
	const char *link = "120000 blob 0123456789abcdef0123456789abcdef01234568\tlink.yaml";
	_cleanup_free_ char *mirror = NULL, *lost_first = NULL, *link_first = NULL;
	struct ppn_fileset set = {0};
	struct ppn_source *source;

	free(commit_and_push(repos, "main", "base"));
	source = open_fetched(repos, repos->remote);
	mirror = only_mirror(repos);
	lost_first = mirror_commit(repos, mirror, missing, link);
	link_first = mirror_commit(repos, mirror, link, missing);

	assert_int_equal(ppn_source_read(source, lost_first, &set), -ENOENT);
	assert_int_equal(ppn_source_read(source, link_first, &set), -EIO);
	assert_int_equal(set.count, 0);
	ppn_source_free(source);
}

static void test_source_read_refuses_bad_commit(void **state)
{
	struct repos *repos = *state;
	_cleanup_free_ char *commit = NULL;
	struct ppn_fileset set = {0};
	struct ppn_source *source;

	commit = commit_and_push(repos, "main", "base");
	source = open_fetched(repos, repos->remote);
	assert_int_equal(ppn_source_read(source, "main", &set), -EINVAL);
	assert_int_equal(ppn_source_read(source, "0123456789abcdef0123456789abcdef01234567", &set),
			 -ENOENT);
	assert_int_equal(set.count, 0);
	ppn_source_free(source);
}

static void test_source_bad_url(void **state)
{
	struct repos *repos = *state;
	_cleanup_free_ char *missing = ppn_xasprintf("%s/no-such-repo.git", repos->root);
	struct ppn_source *source = NULL;

	assert_int_equal(ppn_source_open("", repos->cache, &source), -EINVAL);
	assert_int_equal(ppn_source_open("ssh://", repos->cache, &source), -EINVAL);
	assert_int_equal(ppn_source_open("ssh://host", repos->cache, &source), -EINVAL);
	assert_int_equal(ppn_source_open("ssh://host:99999/r.git", repos->cache, &source), -EINVAL);
	assert_int_equal(ppn_source_open("ssh://[::1/r.git", repos->cache, &source), -EINVAL);
	assert_int_equal(ppn_source_open("git@host:", repos->cache, &source), -EINVAL);
	assert_int_equal(ppn_source_open("file://relative", repos->cache, &source), -EINVAL);
	assert_int_equal(ppn_source_open("http://example.invalid/r.git", repos->cache, &source),
			 -EPROTONOSUPPORT);
	assert_null(source);

	/* A path of no repository opens (no network at open) and then fails to fetch. */
	assert_int_equal(ppn_source_open(missing, repos->cache, &source), 0);
	assert_int_equal(ppn_source_fetch(source), -ENOENT);
	ppn_source_free(source);

	/* A directory that is no repository: libgit2's failure, as -EIO. */
	assert_int_equal(ppn_source_open(repos->cache, repos->cache, &source), 0);
	assert_int_equal(ppn_source_fetch(source), -EIO);
	ppn_source_free(source);
}

/* Mirror names come from a hash of the URL: URL text never becomes a path. */
static void test_source_mirror_names(void **state)
{
	struct repos *repos = *state;
	const char *urls[] = {
		"/srv/../../etc/passwd",
		"ssh://git@example.invalid:2222/~/fleet.git",
		"git@example.invalid:team/Fleet Repo.git/",
		"file:///srv/fleet.git",
	};
	struct ppn_source *source;
	regex_t pattern;
	struct dirent *entry;
	size_t count = 0;
	DIR *dir;

	for (size_t i = 0; i < PPN_ARRAY_SIZE(urls); i++) {
		assert_int_equal(ppn_source_open(urls[i], repos->cache, &source), 0);
		ppn_source_free(source);
	}
	/* Opening again finds the same mirror. */
	assert_int_equal(ppn_source_open(urls[1], repos->cache, &source), 0);
	ppn_source_free(source);

	assert_int_equal(regcomp(&pattern, "^[0-9a-f]{64}(-[a-z0-9_-]{1,32})?\\.git$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	dir = opendir(repos->cache);
	assert_non_null(dir);
	while ((entry = readdir(dir))) {
		if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
			continue;
		assert_int_equal(regexec(&pattern, entry->d_name, 0, NULL, 0), 0);
		count++;
	}
	closedir(dir);
	regfree(&pattern);
	assert_int_equal(count, PPN_ARRAY_SIZE(urls));
	run("test -z \"$(find %s/.. -maxdepth 1 -name passwd)\"", repos->cache);
}

/* A mirror opened again (a restart) keeps what it fetched, without touching the remote. */
static void test_source_reopen_keeps_mirror(void **state)
{
	struct repos *repos = *state;
	_cleanup_free_ char *commit = NULL;
	char resolved[PPN_COMMIT_HEX_LEN + 1];
	struct ppn_source *source;

	commit = commit_and_push(repos, "main", "base");
	source = open_fetched(repos, repos->remote);
	ppn_source_free(source);

	run("rm -rf %s", repos->remote);
	assert_int_equal(ppn_source_open(repos->remote, repos->cache, &source), 0);
	assert_int_equal(ppn_source_resolve(source, "main", resolved), 0);
	assert_string_equal(resolved, commit);
	assert_int_equal(ppn_source_fetch(source), -ENOENT);
	assert_int_equal(ppn_source_resolve(source, "main", resolved), 0);
	ppn_source_free(source);
}

/*
 * As with git itself, a local repository of another user is read only when git's safe.directory
 * lists it: a node's reconciler runs as root, the fleet repository may belong to "git".
 */
static void test_source_other_owner_needs_safe_directory(void **state)
{
	struct repos *repos = *state;
	_cleanup_free_ char *home = ppn_xasprintf("%s/home", repos->root);
	_cleanup_free_ char *old_home = ppn_xstrdup(getenv("HOME") ?: "/");
	_cleanup_free_ char *config = NULL;
	struct ppn_source *source;

	if (geteuid() != 0)
		skip();
	free(commit_and_push(repos, "main", "base"));
	run("chown -R nobody %s", repos->remote);

	assert_int_equal(ppn_source_open(repos->remote, repos->cache, &source), 0);
	assert_int_equal(ppn_source_fetch(source), -EIO);
	ppn_source_free(source);

	config = ppn_xasprintf("[safe]\n\tdirectory = %s\n", repos->remote);
	write_file(home, ".gitconfig", config);
	assert_int_equal(setenv("HOME", home, 1), 0);
	assert_int_equal(ppn_source_open(repos->remote, repos->cache, &source), 0);
	assert_int_equal(ppn_source_fetch(source), 0);
	ppn_source_free(source);
	assert_int_equal(setenv("HOME", old_home, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_source_reads_example_fleet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_fetch_sees_new_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_prunes_deleted_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_resolve_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_file_url, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_subdir_and_large_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_read_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_reads_many_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_first_problem_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_read_refuses_bad_commit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_source_bad_url, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_mirror_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_reopen_keeps_mirror, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_other_owner_needs_safe_directory, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
