/* SPDX-License-Identifier: MIT */
/*
 * The NoCloud seed: an ISO9660 image with the volume id "cidata" holding meta-data, user-data
 * and, when given, network-config. It is written with libarchive's ISO9660 writer, into a
 * buffer in memory, with Rock Ridge and Joliet names (how guest kernels and cloud-init read
 * them). libarchive rather than libisofs: its BSD licence suits ppn's MIT one, and no external
 * program is run.
 */
#include <errno.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "lv.h"
#include "util.h"

/* pad: 300 KiB of zeros after the last file, as genisoimage writes by default, so that a guest
 * kernel reading ahead past the end of the data still reads inside the device. */
#define SEED_OPTIONS "iso9660:volume-id=cidata,iso9660:rockridge,iso9660:joliet,iso9660:pad"

/* The image as libarchive writes it, grown as needed. */
struct seed_buffer {
	uint8_t *data;
	size_t size;
	size_t cap;
};

static la_ssize_t append(struct archive *archive, void *opaque, const void *data, size_t size)
{
	struct seed_buffer *buffer = opaque;

	ppn_grow(&buffer->data, &buffer->cap, buffer->size + size, 1);
	memcpy(buffer->data + buffer->size, data, size);
	buffer->size += size;
	return (la_ssize_t)size;
}

/* One regular file, mode 0444, in the image's root. */
static int add_file(struct archive *archive, const char *name, const char *text)
{
	struct archive_entry *entry = archive_entry_new();
	size_t len = strlen(text);
	int r = ARCHIVE_OK;

	archive_entry_set_pathname(entry, name);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0444);
	archive_entry_set_size(entry, (la_int64_t)len);

	r = archive_write_header(archive, entry);
	if (r == ARCHIVE_OK && archive_write_data(archive, text, len) != (la_ssize_t)len)
		r = ARCHIVE_FATAL;
	archive_entry_free(entry);
	return r == ARCHIVE_OK ? 0 : -EIO;
}

static int add_files(struct archive *archive, const struct ppn_lv_seed_files *files)
{
	int r = add_file(archive, "meta-data", files->meta_data);

	if (r == 0)
		r = add_file(archive, "user-data", files->user_data);
	if (r == 0 && files->network_config)
		r = add_file(archive, "network-config", files->network_config);
	return r;
}

static int write_image(struct archive *archive, const struct ppn_lv_seed_files *files,
		       struct seed_buffer *buffer)
{
	if (archive_write_set_format_iso9660(archive) != ARCHIVE_OK ||
	    archive_write_set_options(archive, SEED_OPTIONS) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(archive, 1) != ARCHIVE_OK ||
	    archive_write_open2(archive, buffer, NULL, append, NULL, NULL) != ARCHIVE_OK)
		return -EIO;

	if (add_files(archive, files) < 0)
		return -EIO;
	return archive_write_close(archive) == ARCHIVE_OK ? 0 : -EIO;
}

int ppn_lv_seed_build(const struct ppn_lv_seed_files *files, uint8_t **data, size_t *size,
		      char **why)
{
	struct archive *archive = archive_write_new();
	struct seed_buffer buffer = {0};
	int r;

	if (!archive) {
		*why = ppn_xstrdup("libarchive: out of memory");
		return -ENOMEM;
	}

	r = write_image(archive, files, &buffer);
	if (r < 0) {
		*why = ppn_xasprintf("libarchive: cannot write the ISO9660 image: %s",
				     archive_error_string(archive) ? archive_error_string(archive)
								   : "unknown error");
		free(buffer.data);
	} else {
		*data = buffer.data;
		*size = buffer.size;
	}
	archive_write_free(archive);
	return r;
}
