/* SPDX-License-Identifier: MIT */
/*
 * The NoCloud seed: an ISO9660 image with the volume id "cidata" holding meta-data, user-data
 * and, when given, network-config. It is built in memory with libisofs (libburnia), so no
 * temporary file and no external program is involved; Rock Ridge and Joliet carry the real
 * file names, which is how guest kernels and cloud-init read them.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* libisofs declares libburn's struct burn_source, through which it hands out the image,
 * only when asked to: libburn itself is not used. */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>

#include "lv.h"
#include "util.h"

#define SEED_VOLUME_ID   "cidata"
#define SEED_FIFO_BLOCKS 48

static pthread_once_t isofs_once = PTHREAD_ONCE_INIT;
static int isofs_status;

/* libisofs keeps process-wide state; it is set up once and torn down with the module. */
static void isofs_init(void)
{
	/* Bit 0: leave the locale alone; the names written here are ASCII. */
	isofs_status = iso_init_with_flag(1);
	if (isofs_status >= 0)
		iso_set_msgs_severities("NEVER", "NEVER", "libisofs");
}

__attribute__((destructor)) static void isofs_exit(void)
{
	if (isofs_status > 0)
		iso_finish();
}

static char *isofs_why(const char *what, int code)
{
	return ppn_xasprintf("libisofs: cannot %s: %s", what, iso_error_to_msg(code));
}

/* Adds one file (mode 0444); the stream owns a copy of the text, the file owns the stream. */
static int add_file(IsoImage *image, const char *name, const char *text, char **why)
{
	size_t len = strlen(text);
	unsigned char *copy = ppn_xmalloc(len + 1);
	IsoStream *stream;
	int r;

	memcpy(copy, text, len);
	r = iso_memory_stream_new(copy, len, &stream);
	if (r < 0) {
		free(copy);
		*why = isofs_why("hold a file", r);
		return -ENOMEM;
	}
	r = iso_image_add_new_file(image, iso_image_get_root(image), name, stream, NULL);
	if (r < 0) {
		iso_stream_unref(stream);
		*why = isofs_why("add a file", r);
		return -EINVAL;
	}
	return 0;
}

static int add_files(IsoImage *image, const struct ppn_lv_seed_files *files, char **why)
{
	int r = add_file(image, "meta-data", files->meta_data, why);

	if (r == 0)
		r = add_file(image, "user-data", files->user_data, why);
	if (r == 0 && files->network_config)
		r = add_file(image, "network-config", files->network_config, why);
	return r;
}

/* Drains the writer libisofs runs in a thread; its output has a size known in advance. */
static int drain(struct burn_source *source, uint8_t **data, size_t *size, char **why)
{
	off_t total = source->get_size(source);
	uint8_t *buffer;
	size_t used = 0;
	int n;

	if (total <= 0) {
		*why = ppn_xstrdup("libisofs: the image has no size");
		return -EIO;
	}
	buffer = ppn_xmalloc((size_t)total);
	while (used < (size_t)total) {
		/* All that is left at once: each wait for the writer thread is a trip through
		 * the scheduler. */
		size_t want = (size_t)total - used;

		n = source->read_xt(source, buffer + used, want > INT_MAX ? INT_MAX : (int)want);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	if (used != (size_t)total) {
		free(buffer);
		*why = ppn_xasprintf("libisofs: the image ended after %zu of %lld bytes", used,
				     (long long)total);
		return -EIO;
	}
	*data = buffer;
	*size = used;
	return 0;
}

/* A seed being written by libisofs' thread. */
struct ppn_lv_seed {
	IsoImage *image;
	struct burn_source *source;
};

static int start_writer(struct ppn_lv_seed *seed, char **why)
{
	IsoWriteOpts *opts = NULL;
	int r = iso_write_opts_new(&opts, 0);

	if (r < 0) {
		*why = isofs_why("set write options", r);
		return -ENOMEM;
	}
	iso_write_opts_set_rockridge(opts, 1);
	iso_write_opts_set_joliet(opts, 1);
	/* A ring that holds a whole seed (about 35 blocks), so the writer never waits for the
	 * reader, and small enough (96 KiB) to come from the heap: the default 2 MiB ring is
	 * mapped and faulted in afresh for every seed, which costs more than the seed does. */
	iso_write_opts_set_fifo_size(opts, SEED_FIFO_BLOCKS);
	r = iso_image_create_burn_source(seed->image, opts, &seed->source);
	iso_write_opts_free(opts);
	if (r < 0) {
		*why = isofs_why("start writing the image", r);
		return -EIO;
	}
	return 0;
}

void ppn_lv_seed_free(struct ppn_lv_seed *seed)
{
	if (!seed)
		return;
	if (seed->source) {
		/* Stops the writer thread when its image was not read to the end. */
		if (seed->source->cancel)
			seed->source->cancel(seed->source);
		seed->source->free_data(seed->source);
		free(seed->source);
	}
	if (seed->image)
		iso_image_unref(seed->image);
	free(seed);
}

int ppn_lv_seed_start(const struct ppn_lv_seed_files *files, struct ppn_lv_seed **out, char **why)
{
	struct ppn_lv_seed *seed;
	int r;

	pthread_once(&isofs_once, isofs_init);
	if (isofs_status < 0) {
		*why = isofs_why("initialise", isofs_status);
		return -EIO;
	}

	seed = ppn_xcalloc(1, sizeof(*seed));
	r = iso_image_new(SEED_VOLUME_ID, &seed->image);
	if (r < 0) {
		free(seed);
		*why = isofs_why("create an image", r);
		return -ENOMEM;
	}
	r = add_files(seed->image, files, why);
	if (r == 0)
		r = start_writer(seed, why);
	if (r < 0) {
		ppn_lv_seed_free(seed);
		return r;
	}
	*out = seed;
	return 0;
}

int ppn_lv_seed_finish(struct ppn_lv_seed *seed, uint8_t **data, size_t *size, char **why)
{
	int r = drain(seed->source, data, size, why);

	ppn_lv_seed_free(seed);
	return r;
}

int ppn_lv_seed_build(const struct ppn_lv_seed_files *files, uint8_t **data, size_t *size,
		      char **why)
{
	struct ppn_lv_seed *seed;
	int r = ppn_lv_seed_start(files, &seed, why);

	if (r < 0)
		return r;
	return ppn_lv_seed_finish(seed, data, size, why);
}
