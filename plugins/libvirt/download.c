/* SPDX-License-Identifier: MIT */
/*
 * Image sources given as http:// or https:// URLs, fetched with libcurl into a file that has
 * no name in <state_dir>/libvirt, so a crash in the middle of a download leaves nothing
 * behind. The caller then imports it as it would a local file, checking its SHA-256 on the way
 * into the pool: nothing downloaded is trusted before that.
 *
 * Only http and https are followed, redirects included: a URL in a manifest can never make
 * the node read one of its own files (file://) or talk another protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "lv.h"
#include "util.h"

#define PROTOCOLS       "http,https"
#define MAX_REDIRECTS   5L
#define CONNECT_TIMEOUT 30L
/* A transfer slower than this for this long is given up: a stalled server, not a slow one. */
#define LOW_SPEED_BYTES 1024L
#define LOW_SPEED_TIME  60L
/*
 * Bounds for a server that never stops sending: the digest is only known at the end, so
 * without them such a server would hold the pass forever or fill the disk. Far above any cloud
 * image (a few GiB, in minutes).
 */
#define MAX_BYTES    (64ULL << 30)
#define MAX_DURATION (2L * 60 * 60)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_status = CURLE_FAILED_INIT;

static void curl_start(void)
{
	curl_status = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* libcurl's global state lives as long as this module: it goes when the module is unloaded. */
__attribute__((destructor)) static void curl_stop(void)
{
	if (curl_status == CURLE_OK)
		curl_global_cleanup();
}

struct sink {
	int fd;
	unsigned long long written;
	int error; /* errno of the first failed write, or 0 */
};

/* libcurl's write callback: a short count makes it stop with CURLE_WRITE_ERROR. */
static size_t on_data(char *data, size_t size, size_t count, void *opaque)
{
	struct sink *sink = opaque;
	int r;

	sink->written += size * count;
	if (sink->written > MAX_BYTES) {
		sink->error = EFBIG;
		return 0;
	}
	r = ppn_write_all(sink->fd, data, size * count);
	if (r < 0) {
		sink->error = -r;
		return 0;
	}
	return size * count;
}

/* For a filesystem without O_TMPFILE: a named file, unlinked at once. */
static int named_then_unlinked(const char *dir)
{
	_cleanup_free_ char *path = ppn_xasprintf("%s/.download-XXXXXX", dir);
	int fd = mkostemp(path, O_CLOEXEC);

	if (fd >= 0)
		unlink(path);
	return fd;
}

/* A file in dir that has no name, so that it vanishes with its descriptor whatever happens. */
static int unnamed_file(const char *dir, char **why)
{
	int fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);

	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR))
		fd = named_then_unlinked(dir);
	if (fd < 0) {
		int r = -errno;

		*why = ppn_xasprintf("cannot create a file in '%s': %s", dir, strerror(-r));
		return r;
	}
	return fd;
}

static void set_options(CURL *curl, const char *url, struct sink *sink, char *error)
{
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, PROTOCOLS);
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, PROTOCOLS);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(curl, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, MAX_DURATION);
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MAX_BYTES);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "ppn");
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
}

/* Why a transfer failed, in words: libcurl's detailed message when it left one. */
static int transfer_error(CURLcode code, const struct sink *sink, const char *url,
			  const char *error, char **why)
{
	if (code == CURLE_WRITE_ERROR && sink->error == EFBIG) {
		*why = ppn_xasprintf("cannot download '%s': longer than %llu GiB", url,
				     MAX_BYTES >> 30);
		return -EFBIG;
	}
	if (code == CURLE_WRITE_ERROR && sink->error) {
		*why = ppn_xasprintf("cannot store the download of '%s': %s", url,
				     strerror(sink->error));
		return -sink->error;
	}
	*why = ppn_xasprintf("cannot download '%s': %s", url,
			     error[0] ? error : curl_easy_strerror(code));
	switch (code) {
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EPROTONOSUPPORT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	default:
		return -EIO;
	}
}

static double ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* The file a download goes into, in <state_dir>/libvirt, with libcurl ready to fill it. */
static int open_target(struct ppn_lv_state *state, char **why)
{
	_cleanup_free_ char *dir = ppn_xasprintf("%s/libvirt", state->state_dir);
	int r = ppn_lv_make_dirs(dir, 0755);

	if (r < 0) {
		*why = ppn_xasprintf("cannot create '%s': %s", dir, strerror(-r));
		return r;
	}
	pthread_once(&curl_once, curl_start);
	if (curl_status != CURLE_OK) {
		*why = ppn_xasprintf("cannot start libcurl: %s", curl_easy_strerror(curl_status));
		return -ENOMEM;
	}
	return unnamed_file(dir, why);
}

static int fetch(struct ppn_lv_state *state, const struct ppn_image *image, int fd, char **why)
{
	char error[CURL_ERROR_SIZE] = "";
	struct sink sink = {.fd = fd};
	struct timespec start;
	CURL *curl = curl_easy_init();
	CURLcode code;

	if (!curl) {
		*why = ppn_xstrdup("cannot start libcurl");
		return -ENOMEM;
	}

	lv_info(state, "libvirt/image '%s': downloading '%s'", image->name, image->source);
	clock_gettime(CLOCK_MONOTONIC, &start);
	set_options(curl, image->source, &sink, error);
	code = curl_easy_perform(curl);
	curl_easy_cleanup(curl);
	if (code != CURLE_OK)
		return transfer_error(code, &sink, image->source, error, why);

	lv_info(state, "libvirt/image '%s': downloaded %llu bytes in %.0f ms", image->name,
		sink.written, ms_since(&start));
	return 0;
}

int ppn_lv_download(struct ppn_lv_state *state, const struct ppn_image *image, int *out, char **why)
{
	int fd = open_target(state, why);
	int r;

	if (fd < 0)
		return fd;
	r = fetch(state, image, fd, why);
	if (r < 0) {
		close(fd);
		return r;
	}

	lseek(fd, 0, SEEK_SET);
	*out = fd;
	return 0;
}
