/* SPDX-License-Identifier: MIT */
#include "source.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "log.h"

#define URL_CONFIG    "ppn.url"
#define FETCH_REFSPEC "+refs/heads/*:refs/heads/*"
#define NAME_HINT_MAX 32
#define SSH_PORT      22

struct ppn_source {
	char *url;
	char *local_path; /* the repository's path for a local remote, else NULL */
	char *ssh_host;   /* NULL for a local remote */
	unsigned ssh_port;
	git_repository *repo;
	git_remote *remote;
};

/* What the callbacks of one fetch share: which credential comes next. */
struct fetch_context {
	const struct ppn_source *source;
	unsigned credential_step;
};

static const char *const kind_dirs[] = {"nodes", "peers", "images", "vms", "placements"};

static const char *git_message(void)
{
	const git_error *error = git_error_last();

	return error && error->message ? error->message : "unknown libgit2 error";
}

/* libgit2's codes, as the -errno values ppn's callers understand. */
static int errno_from_git(int code)
{
	switch (code) {
	case GIT_ENOTFOUND:
		return -ENOENT;
	case GIT_EAUTH:
		return -EACCES;
	case GIT_ECERTIFICATE:
		return -EPERM;
	case GIT_EINVALIDSPEC:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* ---- where the remote lives ---- */

/* Splits "user@host:port" (or "user@[v6]:port") into host and port; the user is not needed. */
static int split_authority(const char *start, size_t len, char **host, unsigned *port)
{
	_cleanup_free_ char *authority = ppn_xstrndup(start, len);
	char *at = strrchr(authority, '@'), *name = at ? at + 1 : authority, *colon;
	unsigned number = SSH_PORT;

	if (name[0] == '[') {
		char *close = strchr(name, ']');

		if (!close || (close[1] != '\0' && close[1] != ':'))
			return -EINVAL;
		*close = '\0';
		colon = close[1] == ':' ? close + 1 : NULL;
		name++;
	} else {
		colon = strchr(name, ':');
		if (colon)
			*colon = '\0';
	}

	if (colon && ppn_parse_uint(colon + 1, 65535, &number) < 0)
		return -EINVAL;
	if (name[0] == '\0' || number == 0)
		return -EINVAL;

	/* Host names are matched in lower case, as ssh does. */
	for (char *c = name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	*host = ppn_xstrdup(name);
	*port = number;
	return 0;
}

/* As git does: a colon before any slash makes "host:path" or "[v6]:path", else it is a path. */
static int classify_scp_like(struct ppn_source *source)
{
	const char *url = source->url, *slash = strchr(url, '/'), *bracket = strchr(url, ']');
	const char *colon = strchr(bracket && (!slash || bracket < slash) ? bracket : url, ':');

	if (!colon || (slash && slash < colon)) {
		source->local_path = ppn_xstrdup(url);
		return 0;
	}
	if (colon[1] == '\0')
		return -EINVAL;
	return split_authority(url, (size_t)(colon - url), &source->ssh_host, &source->ssh_port);
}

/*
 * Sorts the URL into a local remote (a path or file://) or an ssh one (ssh:// or scp-like
 * "user@host:path"), keeping host and port for the host key check. Other schemes are refused:
 * a fleet repo is reached over ssh or on this machine.
 */
static int classify_url(struct ppn_source *source)
{
	const char *url = source->url, *slash, *scheme;

	if (url[0] == '\0')
		return -EINVAL;
	if (strncmp(url, "file://", 7) == 0) {
		if (url[7] != '/')
			return -EINVAL;
		/* libgit2 decodes %-escapes; it also reports a missing path then. */
		if (!strchr(url, '%'))
			source->local_path = ppn_xstrdup(url + 7);
		return 0;
	}

	if (strncmp(url, "ssh://", 6) == 0) {
		const char *authority = url + 6;

		slash = strchr(authority, '/');
		if (!slash || slash[1] == '\0')
			return -EINVAL;
		return split_authority(authority, (size_t)(slash - authority), &source->ssh_host,
				       &source->ssh_port);
	}
	scheme = strstr(url, "://");
	if (scheme && !memchr(url, '/', (size_t)(scheme - url)))
		return -EPROTONOSUPPORT;

	return classify_scp_like(source);
}

/* A readable hint from the URL's last component, "fleet" for ".../Fleet.git/"; may be empty. */
static void name_hint(const char *url, char hint[NAME_HINT_MAX + 1])
{
	const char *base = url + strlen(url);
	size_t len = 0;

	while (base > url && base[-1] == '/')
		base--;
	while (base > url && base[-1] != '/' && base[-1] != ':')
		base--;
	for (; *base && *base != '/' && len < NAME_HINT_MAX; base++) {
		if (strncmp(base, ".git", 4) == 0 && (base[4] == '\0' || base[4] == '/'))
			break;
		hint[len++] = isalnum((unsigned char)*base) || *base == '_'
				      ? (char)tolower((unsigned char)*base)
				      : '-';
	}
	hint[len] = '\0';
}

/*
 * The mirror's directory name: the SHA-256 of the URL, so that no URL text can form a path,
 * and the hint for the people who list the cache.
 */
static char *mirror_name(const char *url)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1], hint[NAME_HINT_MAX + 1];

	SHA256((const unsigned char *)url, strlen(url), digest);
	for (size_t i = 0; i < sizeof(digest); i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	name_hint(url, hint);

	return hint[0] ? ppn_xasprintf("%s-%s.git", hex, hint) : ppn_xasprintf("%s.git", hex);
}

/* ---- opening the mirror ---- */

/*
 * The remote lives in memory only, made exactly from the URL: no insteadOf rewriting from a
 * git configuration, and none of the config lookups of a named remote, in which libgit2 1.5
 * leaks memory.
 */
static int create_remote(struct ppn_source *source)
{
	git_remote_create_options options = GIT_REMOTE_CREATE_OPTIONS_INIT;

	options.repository = source->repo;
	options.fetchspec = FETCH_REFSPEC;
	options.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	return git_remote_create_with_opts(&source->remote, source->url, &options);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/*
 * Creates the bare mirror aside and renames it into place, so that a crash halfway never
 * leaves a half-made repository where the next run would look for one.
 */
static int create_mirror(const char *path, const char *url)
{
	_cleanup_free_ char *aside = ppn_xasprintf("%s.new-%ld", path, (long)getpid());
	git_repository *repo = NULL;
	git_config *config = NULL;
	int r;

	/* The URL is written down for people who look into the cache; ppn goes by the name. */
	r = git_repository_init(&repo, aside, 1);
	if (r == 0)
		r = git_repository_config(&config, repo);
	if (r == 0)
		r = git_config_set_string(config, URL_CONFIG, url);
	git_config_free(config);
	git_repository_free(repo);
	if (r == 0 && rename(aside, path) < 0) {
		/* Another process may have won the race: its mirror is as good as this one. */
		if (errno != ENOTEMPTY && errno != EEXIST) {
			git_error_set(GIT_ERROR_OS, "cannot rename '%s': %s", aside,
				      strerror(errno));
			r = -1;
		}
	}
	nftw(aside, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return r;
}

static int open_mirror(struct ppn_source *source, const char *cache_dir)
{
	_cleanup_free_ char *name = mirror_name(source->url);
	_cleanup_free_ char *path = ppn_xasprintf("%s/%s", cache_dir, name);
	int r;

	if (mkdir(cache_dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		ppn_err("source '%s': cannot create cache directory '%s': %s", source->url,
			cache_dir, strerror(-r));
		return r;
	}

	r = access(path, F_OK) == 0 ? 0 : create_mirror(path, source->url);
	if (r == 0)
		r = git_repository_open_bare(&source->repo, path);
	if (r == 0)
		r = create_remote(source);
	if (r < 0) {
		ppn_err("source '%s': cannot open mirror '%s': %s", source->url, path,
			git_message());
		return errno_from_git(r);
	}
	return 0;
}

/*
 * Counted: each source holds one reference, given back by ppn_source_free().
 *
 * libgit2 hashes every object again each time it reads one ("strict hash verification", on
 * by default; git itself does not do this). Objects enter the mirror only through a fetch,
 * whose indexer computes each object's id from its content, so an object that does not match
 * its id never gets in; hashing it again on every read took a third of the time to read a
 * commit's manifests. What that would still catch is a mirror changed on disk after the fetch:
 * the state directory is root's and 0700, and zlib's check value still refuses most corrupted
 * objects.
 */
static int init_libgit2(void)
{
	if (git_libgit2_init() < 0)
		return -1;
	if (git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0) < 0) {
		git_libgit2_shutdown();
		return -1;
	}
	return 0;
}

int ppn_source_open(const char *url, const char *cache_dir, struct ppn_source **out)
{
	struct ppn_source *source;
	int r;

	if (init_libgit2() < 0) {
		ppn_err("source '%s': cannot initialize libgit2: %s", url, git_message());
		return -EIO;
	}
	source = ppn_xcalloc(1, sizeof(*source));
	source->url = ppn_xstrdup(url);

	r = classify_url(source);
	if (r == -EPROTONOSUPPORT)
		ppn_err("source '%s': unsupported URL scheme; expected a path, file:// or ssh",
			url);
	else if (r < 0)
		ppn_err("source '%s': malformed URL", url);
	if (r < 0)
		goto fail;

	r = open_mirror(source, cache_dir);
	if (r < 0)
		goto fail;

	*out = source;
	return 0;

fail:
	ppn_source_free(source);
	return r;
}

void ppn_source_free(struct ppn_source *source)
{
	if (!source)
		return;
	git_remote_free(source->remote);
	git_repository_free(source->repo);
	free(source->local_path);
	free(source->ssh_host);
	free(source->url);
	free(source);
	git_libgit2_shutdown();
}

/* ---- ssh: credentials and host keys ---- */

static char *home_path(const char *name)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (!home || home[0] == '\0') {
		pw = getpwuid(geteuid());
		home = pw ? pw->pw_dir : "/";
	}
	return ppn_xasprintf("%s/%s", home, name);
}

static char *key_file_path(void)
{
	const char *key = getenv("PPN_SSH_KEY");

	return key && key[0] ? ppn_xstrdup(key) : home_path(".ssh/id_ed25519");
}

/* A user name for a URL that has none, as ssh would pick it: the local user's. */
static int username_credential(git_credential **out)
{
	struct passwd *pw = getpwuid(geteuid());

	if (!pw) {
		git_error_set_str(GIT_ERROR_SSH, "no user name in the URL and none for this uid");
		return GIT_EAUTH;
	}
	return git_credential_username_new(out, pw->pw_name);
}

static int key_file_credential(git_credential **out, const char *user)
{
	_cleanup_free_ char *key = key_file_path();
	_cleanup_free_ char *pub = ppn_xasprintf("%s.pub", key);

	if (access(key, R_OK) < 0) {
		git_error_set(GIT_ERROR_SSH, "ssh-agent refused or absent, and key file '%s': %s",
			      key, strerror(errno));
		return GIT_EAUTH;
	}
	return git_credential_ssh_key_new(out, user, access(pub, R_OK) == 0 ? pub : NULL, key,
					  NULL);
}

/*
 * libgit2 calls this again each time the server refuses what it got, so each call offers the
 * next thing: the agent's identities, then the key file.
 */
static int credentials_cb(git_credential **out, const char *url, const char *user_from_url,
			  unsigned int allowed, void *payload)
{
	struct fetch_context *context = payload;
	const char *agent = getenv("SSH_AUTH_SOCK");

	if (allowed & GIT_CREDENTIAL_USERNAME)
		return username_credential(out);
	if (!(allowed & GIT_CREDENTIAL_SSH_KEY)) {
		git_error_set_str(GIT_ERROR_SSH, "server offers no public key authentication");
		return GIT_EAUTH;
	}

	/* Without an agent, libgit2 fails the whole fetch instead of asking again. */
	if (context->credential_step == 0 && (!agent || agent[0] == '\0'))
		context->credential_step = 1;

	switch (context->credential_step++) {
	case 0:
		return git_credential_ssh_key_from_agent(out, user_from_url);
	case 1:
		return key_file_credential(out, user_from_url);
	default:
		git_error_set_str(GIT_ERROR_SSH, "no ssh-agent identity or key file was accepted");
		return GIT_EAUTH;
	}
}

static char *known_hosts_path(void)
{
	const char *path = getenv("PPN_SSH_KNOWN_HOSTS");

	return path && path[0] ? ppn_xstrdup(path) : home_path(".ssh/known_hosts");
}

/* Decodes base64 into a new buffer; -EINVAL for anything but whole, padded base64. */
static int base64_decode(const char *text, unsigned char **out, size_t *len)
{
	size_t in = strlen(text), pad = 0;
	_cleanup_free_ unsigned char *data = NULL;
	int n;

	if (in == 0 || in % 4 != 0 || in > INT32_MAX)
		return -EINVAL;
	data = ppn_xmalloc(in / 4 * 3);
	n = EVP_DecodeBlock(data, (const unsigned char *)text, (int)in);
	if (n < 0)
		return -EINVAL;
	pad = (text[in - 1] == '=') + (text[in - 2] == '=');

	*len = (size_t)n - pad;
	*out = PPN_TAKE_PTR(data);
	return 0;
}

/* A hashed name, "|1|salt|hmac": HMAC-SHA1 keyed with the salt, over the host name. */
static bool hashed_name_matches(const char *pattern, const char *name)
{
	_cleanup_free_ char *copy = ppn_xstrdup(pattern + 3);
	_cleanup_free_ unsigned char *salt = NULL, *hash = NULL;
	unsigned char mac[EVP_MAX_MD_SIZE];
	char *bar = strchr(copy, '|');
	size_t salt_len, hash_len;
	unsigned mac_len = 0;

	if (!bar)
		return false;
	*bar = '\0';
	if (base64_decode(copy, &salt, &salt_len) < 0 ||
	    base64_decode(bar + 1, &hash, &hash_len) < 0)
		return false;
	if (!HMAC(EVP_sha1(), salt, (int)salt_len, (const unsigned char *)name, strlen(name), mac,
		  &mac_len))
		return false;
	return mac_len == hash_len && CRYPTO_memcmp(mac, hash, hash_len) == 0;
}

/* The host field: comma-separated names, or one hashed name. */
static bool host_field_matches(const char *field, const char *name)
{
	_cleanup_free_ char *copy = ppn_xstrdup(field);
	char *save = NULL;

	if (strncmp(field, "|1|", 3) == 0)
		return hashed_name_matches(field, name);

	/* TODO: wildcard and negated patterns; until then such lines match nothing (fail closed) */
	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
		if (strcmp(p, name) == 0)
			return true;
	return false;
}

/* The key blob starts with its own type name; the line's type field must be that name. */
static bool key_matches(const char *type, const char *base64, const git_cert_hostkey *cert)
{
	_cleanup_free_ unsigned char *blob = NULL;
	size_t len, type_len = strlen(type);

	if (base64_decode(base64, &blob, &len) < 0)
		return false;
	if (len != cert->hostkey_len || memcmp(blob, cert->hostkey, len) != 0)
		return false;
	return len >= 4 + type_len && blob[0] == 0 && blob[1] == 0 &&
	       (size_t)(blob[2] << 8 | blob[3]) == type_len &&
	       memcmp(blob + 4, type, type_len) == 0;
}

enum host_verdict { HOST_UNKNOWN, HOST_KNOWN, HOST_REVOKED };

/* One known_hosts line: "[@marker] hosts type base64 [comment]". */
static enum host_verdict check_line(char *line, const char *name, const git_cert_hostkey *cert)
{
	char *save = NULL, *fields[4];
	bool revoked = false;
	int count = 0;

	for (char *p = strtok_r(line, " \t\r\n", &save); p && count < 4;
	     p = strtok_r(NULL, " \t\r\n", &save))
		fields[count++] = p;
	if (count == 0 || fields[0][0] == '#')
		return HOST_UNKNOWN;

	if (fields[0][0] == '@') {
		/* A CA line vouches for certificates, which libssh2 does not present. */
		if (strcmp(fields[0], "@revoked") != 0 || count < 4)
			return HOST_UNKNOWN;
		revoked = true;
		memmove(fields, fields + 1, 3 * sizeof(*fields));
		count--;
	}
	if (count < 3 || !key_matches(fields[1], fields[2], cert))
		return HOST_UNKNOWN;
	if (revoked)
		return HOST_REVOKED;
	return host_field_matches(fields[0], name) ? HOST_KNOWN : HOST_UNKNOWN;
}

static int check_known_hosts(const char *path, const char *name, const git_cert_hostkey *cert)
{
	_cleanup_fclose_ FILE *file = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	enum host_verdict verdict = HOST_UNKNOWN;
	size_t cap = 0;

	if (!file) {
		git_error_set(GIT_ERROR_SSH, "cannot read known hosts '%s': %s", path,
			      strerror(errno));
		return GIT_ECERTIFICATE;
	}
	while (getline(&line, &cap, file) >= 0) {
		enum host_verdict v = check_line(line, name, cert);

		if (v == HOST_REVOKED) {
			git_error_set(GIT_ERROR_SSH, "host key of '%s' is revoked in '%s'", name,
				      path);
			return GIT_ECERTIFICATE;
		}
		if (v == HOST_KNOWN)
			verdict = v;
	}
	if (verdict != HOST_KNOWN) {
		git_error_set(GIT_ERROR_SSH, "host key of '%s' is not in known hosts '%s'", name,
			      path);
		return GIT_ECERTIFICATE;
	}
	return 0;
}

/*
 * Accepts an ssh server only when its exact host key is listed for it in the known hosts file,
 * whatever libgit2 concluded on its own: ppn never trusts a host on first use.
 */
static int certificate_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	const struct fetch_context *context = payload;
	const git_cert_hostkey *hostkey = (const git_cert_hostkey *)cert;
	_cleanup_free_ char *path = known_hosts_path();
	_cleanup_free_ char *name = NULL;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2 || !(hostkey->type & GIT_CERT_SSH_RAW)) {
		git_error_set_str(GIT_ERROR_SSH, "server presented no raw ssh host key");
		return GIT_ECERTIFICATE;
	}
	if (!context->source->ssh_host) {
		git_error_set_str(GIT_ERROR_SSH, "ssh host key offered for a local remote");
		return GIT_ECERTIFICATE;
	}

	/* known_hosts names a host on another port than 22 as "[host]:port", as ssh does. */
	if (context->source->ssh_port == SSH_PORT)
		name = ppn_xstrdup(context->source->ssh_host);
	else
		name = ppn_xasprintf("[%s]:%u", context->source->ssh_host,
				     context->source->ssh_port);
	return check_known_hosts(path, name, hostkey);
}

/* ---- fetching ---- */

static void log_fetch_error(const struct ppn_source *source)
{
	const char *message = git_message();
	struct stat st;

	/* libgit2 words its refusal of another user's repository as a missing config value. */
	if (source->local_path && strstr(message, "safe.directory") &&
	    stat(source->local_path, &st) == 0 && st.st_uid != geteuid()) {
		ppn_err("source '%s': cannot fetch: owned by uid %u; not in git's safe.directory",
			source->url, (unsigned)st.st_uid);
		return;
	}
	ppn_err("source '%s': cannot fetch: %s", source->url, message);
}

int ppn_source_fetch(struct ppn_source *source)
{
	git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
	struct fetch_context context = {.source = source};
	int r;

	/* libgit2 calls a missing local repository an "unsupported URL protocol". */
	if (source->local_path && access(source->local_path, F_OK) < 0) {
		r = -errno;
		ppn_err("source '%s': cannot fetch: %s", source->url, strerror(-r));
		return r;
	}

	options.prune = GIT_FETCH_PRUNE;
	options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	options.update_fetchhead = 0;
	options.callbacks.credentials = credentials_cb;
	options.callbacks.certificate_check = certificate_cb;
	options.callbacks.payload = &context;

	r = git_remote_fetch(source->remote, NULL, &options, "ppn: fetch");
	if (r < 0) {
		log_fetch_error(source);
		return errno_from_git(r);
	}
	return 0;
}

/* ---- resolving and reading ---- */

static bool is_commit_hex(const char *text)
{
	size_t i;

	for (i = 0; text[i]; i++)
		if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
			return false;
	return i == PPN_COMMIT_HEX_LEN;
}

static int lookup_commit_hex(struct ppn_source *source, const char *hex, git_commit **out)
{
	git_oid oid;

	if (git_oid_fromstr(&oid, hex) < 0)
		return GIT_EINVALIDSPEC;
	return git_commit_lookup(out, source->repo, &oid);
}

static int resolve_ref(struct ppn_source *source, const char *ref, git_oid *out)
{
	_cleanup_free_ char *full = NULL;
	git_reference *reference = NULL;
	git_object *object = NULL;
	git_commit *commit = NULL;
	int r;

	if (is_commit_hex(ref)) {
		r = lookup_commit_hex(source, ref, &commit);
		if (r == 0)
			git_oid_cpy(out, git_commit_id(commit));
		git_commit_free(commit);
		return r;
	}

	full = strncmp(ref, "refs/", 5) == 0 ? ppn_xstrdup(ref)
					     : ppn_xasprintf("refs/heads/%s", ref);
	r = git_reference_lookup(&reference, source->repo, full);
	if (r == 0)
		r = git_reference_peel(&object, reference, GIT_OBJECT_COMMIT);
	if (r == 0)
		git_oid_cpy(out, git_object_id(object));
	git_object_free(object);
	git_reference_free(reference);
	return r;
}

int ppn_source_resolve(struct ppn_source *source, const char *ref,
		       char commit[PPN_COMMIT_HEX_LEN + 1])
{
	git_oid oid;
	int r = resolve_ref(source, ref, &oid);

	if (r == GIT_ENOTFOUND || r == GIT_EPEEL)
		return -ENOENT;
	if (r < 0) {
		ppn_err("source '%s': cannot resolve '%s': %s", source->url, ref, git_message());
		return errno_from_git(r);
	}
	git_oid_tostr(commit, PPN_COMMIT_HEX_LEN + 1, &oid);
	return 0;
}

/*
 * Reading a commit's files: the tree is listed first, then the blobs are read by two threads,
 * each through a repository of its own (libgit2 objects are not shared between threads), and
 * last the files are added in the tree's order. Inflating blobs is most of the work, and each
 * blob inflates on its own. Whatever the timing, the first problem in the tree's order is the
 * one reported, as when reading one file after the other.
 */

enum job_kind {
	JOB_BLOB,  /* a file to read */
	JOB_EMPTY, /* a subtree or submodule, added as an empty "path/" */
	JOB_FAIL,  /* what cannot be read: listing stopped here */
};

struct job {
	enum job_kind kind;
	char *path;
	git_oid id;
	char *data; /* a blob's first bytes, once read */
	size_t size;
	int error;     /* libgit2's code when reading or listing failed, else 0 */
	char *message; /* and its message */
};

struct jobs {
	struct job *items;
	size_t count;
	size_t cap;
	const char *repo_path;
	atomic_size_t next; /* the next job to read, for whichever thread comes first */
};

static struct job *jobs_add(struct jobs *jobs, enum job_kind kind, char *path)
{
	struct job *job;

	ppn_grow(&jobs->items, &jobs->cap, jobs->count + 1, sizeof(*jobs->items));
	job = &jobs->items[jobs->count++];
	*job = (struct job){.kind = kind, .path = path};
	return job;
}

/* Records a failure of listing, with libgit2's message; listing stops here. */
static int jobs_fail(struct jobs *jobs, int error)
{
	struct job *job = jobs_add(jobs, JOB_FAIL, NULL);

	job->error = error;
	job->message = ppn_xstrdup(git_message());
	return error;
}

static void jobs_release(struct jobs *jobs)
{
	for (size_t i = 0; i < jobs->count; i++) {
		free(jobs->items[i].path);
		free(jobs->items[i].data);
		free(jobs->items[i].message);
	}
	free(jobs->items);
}

/* "kind/name"; a new string. Not through printf: it runs once per file of the commit. */
static char *join_path(const char *kind, const char *name)
{
	size_t kind_len = strlen(kind), name_len = strlen(name);
	char *path = ppn_xmalloc(kind_len + 1 + name_len + 1);

	memcpy(path, kind, kind_len);
	path[kind_len] = '/';
	memcpy(path + kind_len + 1, name, name_len + 1);
	return path;
}

/*
 * The same verdicts as reading a directory: a subtree (and a submodule, which a checkout shows
 * as a directory) is added as "path/" for the loader to refuse; a symbolic link cannot be read.
 */
static int list_kind_entry(const git_tree_entry *entry, const char *kind, struct jobs *jobs)
{
	_cleanup_free_ char *path = join_path(kind, git_tree_entry_name(entry));

	switch (git_tree_entry_filemode(entry)) {
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		git_oid_cpy(&jobs_add(jobs, JOB_BLOB, PPN_TAKE_PTR(path))->id,
			    git_tree_entry_id(entry));
		return 0;
	case GIT_FILEMODE_TREE:
	case GIT_FILEMODE_COMMIT:
		jobs_add(jobs, JOB_EMPTY, ppn_xasprintf("%s/", path));
		return 0;
	default:
		git_error_set(GIT_ERROR_INVALID, "'%s' is not a regular file", path);
		return jobs_fail(jobs, GIT_EINVALID);
	}
}

static int list_kind_dir(struct ppn_source *source, const git_tree *root, const char *kind,
			 struct jobs *jobs)
{
	const git_tree_entry *entry = git_tree_entry_byname(root, kind);
	git_tree *tree = NULL;
	int r = 0;

	if (!entry)
		return 0;
	if (git_tree_entry_type(entry) != GIT_OBJECT_TREE) {
		git_error_set(GIT_ERROR_INVALID, "'%s' is not a directory", kind);
		return jobs_fail(jobs, GIT_EINVALID);
	}

	r = git_tree_lookup(&tree, source->repo, git_tree_entry_id(entry));
	if (r < 0)
		return jobs_fail(jobs, r);
	for (size_t i = 0; r == 0 && i < git_tree_entrycount(tree); i++)
		r = list_kind_entry(git_tree_entry_byindex(tree, i), kind, jobs);
	git_tree_free(tree);
	return r;
}

/* Lists what to read, in order, up to and including the first thing that cannot be read. */
static void list_tree(struct ppn_source *source, const git_tree *root, struct jobs *jobs)
{
	const git_tree_entry *network = git_tree_entry_byname(root, "ppn.yaml");
	int r = 0;

	if (network && git_tree_entry_filemode(network) != GIT_FILEMODE_BLOB &&
	    git_tree_entry_filemode(network) != GIT_FILEMODE_BLOB_EXECUTABLE) {
		git_error_set_str(GIT_ERROR_INVALID, "'ppn.yaml' is not a regular file");
		jobs_fail(jobs, GIT_EINVALID);
		return;
	}
	if (network)
		git_oid_cpy(&jobs_add(jobs, JOB_BLOB, ppn_xstrdup("ppn.yaml"))->id,
			    git_tree_entry_id(network));

	for (size_t i = 0; r == 0 && i < PPN_ARRAY_SIZE(kind_dirs); i++)
		r = list_kind_dir(source, root, kind_dirs[i], jobs);
}

/* Reads a blob's first bytes, one past the size limit: enough for the loader to refuse it. */
static void read_blob(git_repository *repo, struct job *job)
{
	git_blob *blob = NULL;
	/* XXX: libgit2 loads a whole blob to hand out its first bytes; a huge one costs memory */
	int r = git_blob_lookup(&blob, repo, &job->id);

	if (r < 0) {
		job->error = r;
		job->message = ppn_xstrdup(git_message());
		return;
	}
	job->size = (size_t)git_blob_rawsize(blob);
	if (job->size > PPN_MANIFEST_MAX_SIZE + 1)
		job->size = PPN_MANIFEST_MAX_SIZE + 1;
	job->data = ppn_xmalloc(job->size);
	memcpy(job->data, git_blob_rawcontent(blob), job->size);
	git_blob_free(blob);
}

/* Reads blobs until none is left; each thread calls it with its own repository. */
static void read_jobs(git_repository *repo, struct jobs *jobs)
{
	size_t i;

	while ((i = atomic_fetch_add(&jobs->next, 1)) < jobs->count)
		if (jobs->items[i].kind == JOB_BLOB)
			read_blob(repo, &jobs->items[i]);
}

/* The second reader. Without a repository of its own, it leaves every blob to the first. */
static void *reader_thread(void *arg)
{
	struct jobs *jobs = arg;
	git_repository *repo = NULL;

	if (git_repository_open_bare(&repo, jobs->repo_path) == 0)
		read_jobs(repo, jobs);
	git_repository_free(repo);
	return NULL;
}

static void read_blobs(struct ppn_source *source, struct jobs *jobs)
{
	pthread_t thread;
	bool helped;

	jobs->repo_path = git_repository_path(source->repo);
	atomic_init(&jobs->next, 0);
	helped = jobs->count > 1 && ppn_thread_start(&thread, reader_thread, jobs);
	read_jobs(source->repo, jobs);
	if (helped)
		pthread_join(thread, NULL);
}

/*
 * Adds what was read to set, in the tree's order. At the first job that failed, returns its
 * code with its message as libgit2's last error, as if it had just failed here.
 */
static int add_jobs(struct jobs *jobs, struct ppn_fileset *set)
{
	for (size_t i = 0; i < jobs->count; i++) {
		struct job *job = &jobs->items[i];

		if (job->error) {
			git_error_set_str(GIT_ERROR_INVALID, job->message);
			return job->error;
		}
		if (job->kind == JOB_BLOB)
			ppn_fileset_add_owned(set, job->path, job->path, PPN_TAKE_PTR(job->data),
					      job->size);
		else
			ppn_fileset_add(set, job->path, job->path, "", 0);
	}
	return 0;
}

static int read_tree(struct ppn_source *source, const git_tree *root, struct ppn_fileset *set)
{
	struct jobs jobs = {0};
	int r;

	list_tree(source, root, &jobs);
	read_blobs(source, &jobs);
	r = add_jobs(&jobs, set);
	jobs_release(&jobs);
	return r;
}

static int read_file_of_tree(struct ppn_source *source, const git_tree *root, const char *path,
			     char **data, size_t *size)
{
	git_tree_entry *entry = NULL;
	struct job job = {0};
	int r = git_tree_entry_bypath(&entry, root, path);

	if (r < 0)
		return r;
	if (git_tree_entry_filemode(entry) != GIT_FILEMODE_BLOB &&
	    git_tree_entry_filemode(entry) != GIT_FILEMODE_BLOB_EXECUTABLE)
		r = GIT_ENOTFOUND;
	if (r == 0) {
		git_oid_cpy(&job.id, git_tree_entry_id(entry));
		read_blob(source->repo, &job);
		r = job.error;
	}
	git_tree_entry_free(entry);
	free(job.message);
	if (r < 0) {
		free(job.data);
		return r;
	}
	*data = job.data;
	*size = job.size;
	return 0;
}

int ppn_source_read_file(struct ppn_source *source, const char *commit_hex, const char *path,
			 char **data, size_t *size)
{
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	int r;

	if (!is_commit_hex(commit_hex))
		return -EINVAL;
	r = lookup_commit_hex(source, commit_hex, &commit);
	if (r == 0)
		r = git_commit_tree(&tree, commit);
	if (r == 0)
		r = read_file_of_tree(source, tree, path, data, size);
	git_tree_free(tree);
	git_commit_free(commit);
	return r < 0 ? errno_from_git(r) : 0;
}

/* Moves every file of from to the end of to; from is left empty. */
static void move_files(struct ppn_fileset *to, struct ppn_fileset *from)
{
	ppn_grow(&to->files, &to->cap, to->count + from->count, sizeof(*to->files));
	memcpy(to->files + to->count, from->files, from->count * sizeof(*from->files));
	to->count += from->count;
	from->count = 0;
}

int ppn_source_read(struct ppn_source *source, const char *commit_hex, struct ppn_fileset *set)
{
	struct ppn_fileset read = {0};
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	int r;

	if (!is_commit_hex(commit_hex)) {
		ppn_err("source '%s': '%s' is not a full commit id", source->url, commit_hex);
		return -EINVAL;
	}

	r = lookup_commit_hex(source, commit_hex, &commit);
	if (r == 0)
		r = git_commit_tree(&tree, commit);
	if (r == 0)
		r = read_tree(source, tree, &read);
	git_tree_free(tree);
	git_commit_free(commit);
	if (r < 0) {
		ppn_err("source '%s': cannot read commit '%s': %s", source->url, commit_hex,
			git_message());
		ppn_fileset_release(&read);
		return r == GIT_EINVALID ? -EIO : errno_from_git(r);
	}

	move_files(set, &read);
	ppn_fileset_release(&read);
	free(set->display_prefix);
	set->display_prefix = ppn_xstrdup("");
	ppn_fileset_sort(set);
	return 0;
}
