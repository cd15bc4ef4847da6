/* SPDX-License-Identifier: MIT */
/*
 * Base images. The node copies an image's source (a file on the node, or a download of a URL)
 * into ppn's pool and checks its SHA-256 in the same pass over the bytes (OpenSSL, streaming);
 * only a copy whose digest matched is kept. VMs are backed by the copy, never by the source,
 * which could change after the check.
 *
 * That a copy was checked is recorded as an empty file <state_dir>/libvirt/verified/<volume>.
 * <sha256>, written (and synced) after the copy's bytes were synced: a copy interrupted by a
 * crash has no record and is made again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "lv.h"
#include "util.h"

#define COPY_CHUNK (1024 * 1024)

char *ppn_lv_image_record(const struct ppn_image *image)
{
	_cleanup_free_ char *volume = ppn_lv_base_volume(image);
	char hex[PPN_LV_SHA_HEX];

	ppn_lv_hex(image->sha256, PPN_SHA256_LEN, hex);
	return ppn_xasprintf("%s.%s", volume, hex);
}

static int record_write(const struct ppn_lv_state *state, const char *path, char **why)
{
	_cleanup_close_ int fd = -1;
	_cleanup_close_ int dir = -1;
	int r = ppn_lv_make_dirs(state->verified_dir, 0755);

	if (r < 0) {
		*why = ppn_xasprintf("cannot create '%s': %s", state->verified_dir, strerror(-r));
		return r;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0)
		dir = open(state->verified_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || dir < 0 || fsync(fd) < 0 || fsync(dir) < 0) {
		r = -errno;
		*why = ppn_xasprintf("cannot record the check in '%s': %s", path, strerror(errno));
		return r;
	}
	return 0;
}

static bool is_url(const char *source)
{
	return strncmp(source, "http://", 7) == 0 || strncmp(source, "https://", 8) == 0;
}

/* The source's bytes, as a descriptor at offset 0: the file itself, or a download of it. */
static int source_open(struct ppn_lv_state *state, const struct ppn_image *image, struct stat *st,
		       char **why)
{
	int fd = -1;

	if (is_url(image->source)) {
		int r = ppn_lv_download(state, image, &fd, why);

		if (r < 0)
			return r;
	} else {
		fd = open(image->source, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int r = -errno;

			*why = ppn_xasprintf("cannot open '%s': %s", image->source,
					     strerror(errno));
			return r;
		}
	}

	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		*why = ppn_xasprintf("'%s' is not a regular file", image->source);
		return -EINVAL;
	}
	return fd;
}

/* Reads the whole source once, hashing what it sends. */
static int copy_hashing(int fd, uint64_t size, struct ppn_lv_writer *writer,
			uint8_t digest[PPN_SHA256_LEN], char **why)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_free_ char *buffer = ppn_xmalloc(COPY_CHUNK);
	uint64_t done = 0;
	int r = 0;

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		*why = ppn_xstrdup("cannot start SHA-256");
		return -ENOMEM;
	}
	while (r == 0 && done < size) {
		ssize_t n = read(fd, buffer, COPY_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			*why = ppn_xstrdup(n < 0 ? strerror(errno)
						 : "the source shrank while read");
			break;
		}
		EVP_DigestUpdate(ctx, buffer, (size_t)n);
		r = ppn_lv_writer_write(writer, buffer, (size_t)n, why);
		done += (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, digest, NULL);
	EVP_MD_CTX_free(ctx);
	return r;
}

static int check_digest(const struct ppn_image *image, const uint8_t digest[PPN_SHA256_LEN],
			char **why)
{
	char want[PPN_LV_SHA_HEX], got[PPN_LV_SHA_HEX];

	if (memcmp(digest, image->sha256, PPN_SHA256_LEN) == 0)
		return 0;
	ppn_lv_hex(image->sha256, PPN_SHA256_LEN, want);
	ppn_lv_hex(digest, PPN_SHA256_LEN, got);
	*why = ppn_xasprintf("sha256 mismatch: the manifest says %s, '%s' has %s", want,
			     image->source, got);
	return -EBADMSG;
}

/* Creates the volume and fills it; on any failure the volume is gone again. */
static int import_volume(struct ppn_lv_state *state, virStoragePoolPtr pool, const char *name,
			 int fd, uint64_t size, const struct ppn_image *image, char **why)
{
	_cleanup_free_ char *xml = NULL;
	struct ppn_lv_writer writer;
	uint8_t digest[PPN_SHA256_LEN];
	virStorageVolPtr volume;
	int r;

	/* The pool holds bytes: the format that counts is written in each overlay. */
	r = ppn_lv_xml_volume(name, size, "raw", NULL, NULL, &xml);
	if (r == 0)
		r = ppn_lv_volume_create(pool, name, xml, &volume, why);
	if (r < 0)
		return r;

	r = ppn_lv_writer_open(volume, size, &state->no_upload, &writer, why);
	if (r == 0) {
		r = copy_hashing(fd, size, &writer, digest, why);
		if (r == 0)
			r = check_digest(image, digest, why);
		if (r == 0)
			r = ppn_lv_writer_finish(&writer, true, why);
		else
			ppn_lv_writer_abort(&writer);
	}
	if (r < 0 && virStorageVolDelete(volume, 0) < 0)
		lv_debug(state, "libvirt/image '%s': cannot delete the rejected copy: %s",
			 image->name, ppn_lv_error());
	virStorageVolFree(volume);
	return r;
}

int ppn_lv_image_import(struct ppn_lv_state *state, virStoragePoolPtr pool,
			const struct ppn_image *image, char **why)
{
	_cleanup_free_ char *volume = ppn_lv_base_volume(image);
	_cleanup_free_ char *name = ppn_lv_image_record(image);
	_cleanup_free_ char *record = ppn_xasprintf("%s/%s", state->verified_dir, name);
	struct stat st;
	int fd, r;

	fd = source_open(state, image, &st, why);
	if (fd < 0)
		return fd;

	if (unlink(record) < 0 && errno != ENOENT)
		lv_warn(state, "libvirt/image '%s': cannot remove '%s': %s", image->name, record,
			strerror(errno));
	r = import_volume(state, pool, volume, fd, (uint64_t)st.st_size, image, why);
	close(fd);
	if (r == 0)
		r = record_write(state, record, why);
	return r;
}

int ppn_lv_image_read_verified(struct ppn_lv_state *state, struct ppn_lv_observed *observed)
{
	DIR *dir = opendir(state->verified_dir);
	struct dirent *entry;

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((entry = readdir(dir))) {
		if (entry->d_name[0] == '.')
			continue;
		ppn_grow(&observed->verified, &observed->cap_verified, observed->n_verified + 1,
			 sizeof(*observed->verified));
		observed->verified[observed->n_verified++] = ppn_xstrdup(entry->d_name);
	}
	closedir(dir);
	return 0;
}
