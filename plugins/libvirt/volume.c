/* SPDX-License-Identifier: MIT */
/*
 * Volumes in ppn's pool: created from XML (a leftover of the same name is deleted first, so a
 * step interrupted by a crash is simply done again) and filled through a libvirt stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "lv.h"
#include "util.h"

/*
 * libvirt's test driver cannot upload (virStorageVolUpload is not supported there), and it
 * keeps volumes only in memory. Its volumes still have paths, so ppn writes the bytes there
 * itself: the pool directory is a local directory in that case. A real pool always takes
 * the stream, so the same code serves a remote host.
 */
static int open_local(virStorageVolPtr volume, struct ppn_lv_writer *writer, char **why)
{
	_cleanup_free_ char *path = virStorageVolGetPath(volume);

	if (!path) {
		*why = ppn_xasprintf("cannot find the volume's path: %s", ppn_lv_error());
		return -EIO;
	}
	writer->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (writer->fd < 0) {
		int r = -errno;

		*why = ppn_xasprintf("cannot open '%s': %s", path, strerror(errno));
		return r;
	}
	return 0;
}

int ppn_lv_writer_open(virStorageVolPtr volume, uint64_t size, bool *no_upload,
		       struct ppn_lv_writer *writer, char **why)
{
	virStreamPtr stream;

	*writer = (struct ppn_lv_writer){.fd = -1};
	if (*no_upload)
		return open_local(volume, writer, why);

	stream = virStreamNew(virStorageVolGetConnect(volume), 0);
	if (!stream) {
		*why = ppn_xasprintf("cannot open a stream: %s", ppn_lv_error());
		return -EIO;
	}
	if (virStorageVolUpload(volume, stream, 0, size, 0) == 0) {
		writer->stream = stream;
		return 0;
	}
	if (!ppn_lv_error_is(VIR_ERR_NO_SUPPORT)) {
		*why = ppn_xasprintf("cannot upload: %s", ppn_lv_error());
		virStreamFree(stream);
		return -EIO;
	}
	virStreamFree(stream);
	*no_upload = true;
	return open_local(volume, writer, why);
}

static int stream_send(virStreamPtr stream, const char *data, size_t size, char **why)
{
	while (size > 0) {
		int n = virStreamSend(stream, data, size);

		if (n < 0) {
			*why = ppn_xasprintf("cannot send data: %s", ppn_lv_error());
			return -EIO;
		}
		data += n;
		size -= (size_t)n;
	}
	return 0;
}

static int fd_write(int fd, const char *data, size_t size, char **why)
{
	int r = ppn_write_all(fd, data, size);

	if (r < 0)
		*why = ppn_xasprintf("cannot write: %s", strerror(-r));
	return r;
}

int ppn_lv_writer_write(struct ppn_lv_writer *writer, const void *data, size_t size, char **why)
{
	if (writer->stream)
		return stream_send(writer->stream, data, size, why);
	return fd_write(writer->fd, data, size, why);
}

int ppn_lv_writer_finish(struct ppn_lv_writer *writer, bool durable, char **why)
{
	int r = 0;

	if (writer->stream) {
		if (virStreamFinish(writer->stream) < 0) {
			*why = ppn_xasprintf("cannot finish the upload: %s", ppn_lv_error());
			r = -EIO;
		}
		virStreamFree(writer->stream);
		writer->stream = NULL;
		return r;
	}

	if (durable && fdatasync(writer->fd) < 0) {
		r = -errno;
		*why = ppn_xasprintf("cannot sync: %s", strerror(errno));
	}
	if (close(writer->fd) < 0 && r == 0) {
		r = -errno;
		*why = ppn_xasprintf("cannot close: %s", strerror(errno));
	}
	writer->fd = -1;
	return r;
}

void ppn_lv_writer_abort(struct ppn_lv_writer *writer)
{
	if (writer->stream) {
		virStreamAbort(writer->stream);
		virStreamFree(writer->stream);
		writer->stream = NULL;
	}
	if (writer->fd >= 0) {
		close(writer->fd);
		writer->fd = -1;
	}
}

int ppn_lv_volume_delete(virStoragePoolPtr pool, const char *name, char **why)
{
	virStorageVolPtr volume = virStorageVolLookupByName(pool, name);
	int r = 0;

	if (!volume) {
		if (ppn_lv_error_is(VIR_ERR_NO_STORAGE_VOL))
			return 0;
		*why = ppn_xasprintf("cannot look up volume '%s': %s", name, ppn_lv_error());
		return -EIO;
	}
	if (virStorageVolDelete(volume, 0) < 0) {
		*why = ppn_xasprintf("cannot delete volume '%s': %s", name, ppn_lv_error());
		r = -EIO;
	}
	virStorageVolFree(volume);
	return r;
}

/* A leftover of the same name, from a pass interrupted after it made the volume, is
 * replaced: creating first and deleting only on a clash saves a lookup per volume. */
int ppn_lv_volume_create(virStoragePoolPtr pool, const char *name, const char *xml,
			 virStorageVolPtr *out, char **why)
{
	virStorageVolPtr volume = virStorageVolCreateXML(pool, xml, 0);
	virStorageVolPtr leftover;
	_cleanup_free_ char *cause = NULL;

	if (volume) {
		*out = volume;
		return 0;
	}
	cause = ppn_xstrdup(ppn_lv_error());
	leftover = virStorageVolLookupByName(pool, name);
	if (!leftover) {
		*why = ppn_xasprintf("cannot create volume '%s': %s", name, cause);
		return -EIO;
	}
	if (virStorageVolDelete(leftover, 0) < 0) {
		*why = ppn_xasprintf("cannot delete the leftover volume '%s': %s", name,
				     ppn_lv_error());
		virStorageVolFree(leftover);
		return -EIO;
	}
	virStorageVolFree(leftover);

	volume = virStorageVolCreateXML(pool, xml, 0);
	if (!volume) {
		*why = ppn_xasprintf("cannot create volume '%s': %s", name, ppn_lv_error());
		return -EIO;
	}
	*out = volume;
	return 0;
}
