/* SPDX-License-Identifier: MIT */
/* ppn validate: checks a fleet repo's manifests, so that CI can refuse a bad pull request. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "diag.h"
#include "fileset.h"
#include "log.h"
#include "manifest.h"
#include "source.h"

/* What the user pointed at: a directory as it is on disk, or a commit of a repository. */
struct target {
	const char *dir;
	char *url; /* owned */
	char *ref; /* owned */
};

static void print_usage(FILE *out)
{
	fputs("Usage: ppn validate PATH|URL[@REF]\n"
	      "Check every manifest of a fleet repo against every rule of the format.\n"
	      "\n"
	      "A directory is read as it is on disk, such as a checkout before you commit.\n"
	      "A bare repository, a URL, or anything followed by @REF is read from that\n"
	      "commit's tree (default ref: main).\n"
	      "\n"
	      "Exit status: 0 when every manifest is valid, 1 otherwise; each problem is\n"
	      "printed on stderr as path:line:column: message.\n",
	      out);
}

static bool is_directory(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A bare repository has HEAD and objects/ at its top; a fleet checkout has ppn.yaml there. */
static bool is_bare_repository(const char *path)
{
	_cleanup_free_ char *head = ppn_xasprintf("%s/HEAD", path);
	_cleanup_free_ char *objects = ppn_xasprintf("%s/objects", path);

	return access(head, F_OK) == 0 && is_directory(objects);
}

static void parse_target(const char *text, struct target *target)
{
	const char *at = strrchr(text, '@');

	if (is_directory(text) && !is_bare_repository(text)) {
		target->dir = text;
		return;
	}

	/* "path@ref" or "url@ref", unless the '@' belongs to "user@host:path". */
	if (at && at != text && !strchr(at, ':')) {
		_cleanup_free_ char *left = ppn_xstrndup(text, (size_t)(at - text));

		if (is_directory(left) || strstr(left, "://") || strchr(left, ':')) {
			target->url = PPN_TAKE_PTR(left);
			target->ref = ppn_xstrdup(at + 1);
			return;
		}
	}
	target->url = ppn_xstrdup(text);
	target->ref = ppn_xstrdup("main");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Reads a commit through a throw-away mirror, so that validating needs no state directory. */
static int read_commit(const struct target *target, struct ppn_fileset *set)
{
	char cache[] = "/tmp/ppn-validate-XXXXXX";
	char commit[PPN_COMMIT_HEX_LEN + 1];
	struct ppn_source *source = NULL;
	int r;

	if (!mkdtemp(cache))
		return -errno;

	r = ppn_source_open(target->url, cache, &source);
	if (r == 0)
		r = ppn_source_fetch(source);
	if (r == 0) {
		r = ppn_source_resolve(source, target->ref, commit);
		if (r == -ENOENT)
			ppn_err("source '%s': no ref '%s'", target->url, target->ref);
	}
	if (r == 0)
		r = ppn_source_read(source, commit, set);

	ppn_source_free(source);
	nftw(cache, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return r;
}

static void print_summary(const char *name, const struct ppn_fleet *fleet)
{
	printf("%s: valid: 1 network, %zu node%s, %zu peer%s, %zu image%s, %zu VM%s, "
	       "%zu placement%s\n",
	       name, fleet->n_nodes, fleet->n_nodes == 1 ? "" : "s", fleet->n_peers,
	       fleet->n_peers == 1 ? "" : "s", fleet->n_images, fleet->n_images == 1 ? "" : "s",
	       fleet->n_vms, fleet->n_vms == 1 ? "" : "s", fleet->n_placements,
	       fleet->n_placements == 1 ? "" : "s");
}

int ppn_cmd_validate(int argc, char **argv)
{
	struct target target = {0};
	struct ppn_fileset set = {0};
	struct ppn_diags diags = {0};
	struct ppn_fleet *fleet = NULL;
	int r;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		print_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		print_usage(stderr);
		return 1;
	}

	parse_target(argv[1], &target);
	if (target.dir)
		r = ppn_fileset_read_dir(&set, target.dir, &diags);
	else
		r = read_commit(&target, &set);
	if (r == 0)
		r = ppn_manifest_load(&set, &fleet, &diags);

	ppn_diags_print(&diags, stderr);
	if (r == 0)
		print_summary(argv[1], fleet);

	ppn_fleet_free(fleet);
	free(target.url);
	free(target.ref);
	ppn_diags_release(&diags);
	ppn_fileset_release(&set);
	return r == 0 ? 0 : 1;
}
