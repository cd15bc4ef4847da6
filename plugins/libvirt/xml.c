/* SPDX-License-Identifier: MIT */
/*
 * The XML handed to libvirt, written with libxml2's xmlTextWriter so that every value, a
 * path under a state directory with quotes in it included, is escaped by the library and
 * never pasted into markup.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

#include "lv.h"
#include "util.h"

/* A writer that remembers its first failure, so that building reads as a plain sequence. */
struct xw {
	xmlBufferPtr buffer;
	xmlTextWriterPtr writer;
	bool failed;
};

static void xw_check(struct xw *x, int r)
{
	if (r < 0)
		x->failed = true;
}

static int xw_open(struct xw *x)
{
	*x = (struct xw){.buffer = xmlBufferCreate()};
	if (!x->buffer)
		return -ENOMEM;
	x->writer = xmlNewTextWriterMemory(x->buffer, 0);
	if (!x->writer) {
		xmlBufferFree(x->buffer);
		return -ENOMEM;
	}
	xw_check(x, xmlTextWriterSetIndent(x->writer, 1));
	xw_check(x, xmlTextWriterSetIndentString(x->writer, BAD_CAST "  "));
	return 0;
}

/* Ends the document and hands out its text. */
static int xw_close(struct xw *x, char **out)
{
	int r = 0;

	xw_check(x, xmlTextWriterFlush(x->writer));
	xmlFreeTextWriter(x->writer);
	if (x->failed)
		r = -ENOMEM;
	else
		*out = ppn_xstrdup((const char *)xmlBufferContent(x->buffer));
	xmlBufferFree(x->buffer);
	return r;
}

static void xw_start(struct xw *x, const char *name)
{
	xw_check(x, xmlTextWriterStartElement(x->writer, BAD_CAST name));
}

static void xw_end(struct xw *x)
{
	xw_check(x, xmlTextWriterEndElement(x->writer));
}

static void xw_attr(struct xw *x, const char *name, const char *value)
{
	xw_check(x, xmlTextWriterWriteAttribute(x->writer, BAD_CAST name, BAD_CAST value));
}

static void xw_attrf(struct xw *x, const char *name, const char *fmt, ...) _printf_(3, 4);
static void xw_attrf(struct xw *x, const char *name, const char *fmt, ...)
{
	_cleanup_free_ char *value = NULL;
	va_list args;

	va_start(args, fmt);
	value = ppn_xvasprintf(fmt, args);
	va_end(args);
	xw_attr(x, name, value);
}

static void xw_text(struct xw *x, const char *name, const char *text)
{
	xw_check(x, xmlTextWriterWriteElement(x->writer, BAD_CAST name, BAD_CAST text));
}

static void xw_textf(struct xw *x, const char *name, const char *fmt, ...) _printf_(3, 4);
static void xw_textf(struct xw *x, const char *name, const char *fmt, ...)
{
	_cleanup_free_ char *text = NULL;
	va_list args;

	va_start(args, fmt);
	text = ppn_xvasprintf(fmt, args);
	va_end(args);
	xw_text(x, name, text);
}

/* An empty element with one attribute, such as <format type='qcow2'/>. */
static void xw_leaf(struct xw *x, const char *name, const char *attr, const char *value)
{
	xw_start(x, name);
	xw_attr(x, attr, value);
	xw_end(x);
}

/* ---- Metadata ---- */

static void meta_attributes(struct xw *x, const struct ppn_lv_meta *meta)
{
	xw_attr(x, "name", meta->vm);
	xw_attr(x, "image", meta->image);
	xw_attr(x, "base", meta->base);
	xw_attr(x, "type", meta->type);
	xw_attrf(x, "generation", "%" PRIu32, meta->generation);
	xw_attr(x, "instance-id", meta->instance_id);
	xw_attrf(x, "memory", "%" PRIu64, meta->memory);
	xw_attrf(x, "vcpus", "%" PRIu32, meta->vcpus);
	xw_attrf(x, "disk", "%" PRIu64, meta->disk);
	xw_attr(x, "cloud-init-sha256", meta->cloud_init_sha256);
}

int ppn_lv_xml_meta(const struct ppn_lv_meta *meta, char **out)
{
	struct xw x;
	int r = xw_open(&x);

	if (r < 0)
		return r;
	xw_start(&x, "vm");
	meta_attributes(&x, meta);
	xw_end(&x);
	return xw_close(&x, out);
}

void ppn_lv_meta_release(struct ppn_lv_meta *meta)
{
	free(meta->vm);
	free(meta->image);
	free(meta->base);
	free(meta->type);
	free(meta->instance_id);
	*meta = (struct ppn_lv_meta){0};
}

/* A required attribute, copied with libc's allocator. */
static char *attr_dup(xmlNodePtr node, const char *name)
{
	xmlChar *value = xmlGetProp(node, BAD_CAST name);
	char *copy;

	if (!value)
		return NULL;
	copy = ppn_xstrdup((const char *)value);
	xmlFree(value);
	return copy;
}

static int attr_u64(xmlNodePtr node, const char *name, uint64_t max, uint64_t *out)
{
	_cleanup_free_ char *text = attr_dup(node, name);

	if (!text)
		return -EBADMSG;
	return ppn_parse_u64(text, max, out) < 0 ? -EBADMSG : 0;
}

static int meta_numbers(xmlNodePtr root, struct ppn_lv_meta *meta)
{
	uint64_t generation, vcpus;

	if (attr_u64(root, "generation", UINT32_MAX, &generation) < 0 ||
	    attr_u64(root, "memory", UINT64_MAX, &meta->memory) < 0 ||
	    attr_u64(root, "vcpus", UINT32_MAX, &vcpus) < 0 ||
	    attr_u64(root, "disk", UINT64_MAX, &meta->disk) < 0)
		return -EBADMSG;
	meta->generation = (uint32_t)generation;
	meta->vcpus = (uint32_t)vcpus;
	return 0;
}

static int meta_read(xmlNodePtr root, struct ppn_lv_meta *meta)
{
	_cleanup_free_ char *sha = NULL;

	if (!root || strcmp((const char *)root->name, "vm") != 0)
		return -EBADMSG;
	sha = attr_dup(root, "cloud-init-sha256");
	meta->vm = attr_dup(root, "name");
	meta->image = attr_dup(root, "image");
	meta->base = attr_dup(root, "base");
	meta->type = attr_dup(root, "type");
	meta->instance_id = attr_dup(root, "instance-id");
	if (!meta->vm || !meta->image || !meta->base || !meta->type || !meta->instance_id)
		return -EBADMSG;
	if (!sha || strlen(sha) != PPN_LV_SHA_HEX - 1)
		return -EBADMSG;
	memcpy(meta->cloud_init_sha256, sha, PPN_LV_SHA_HEX);
	return meta_numbers(root, meta);
}

int ppn_lv_xml_meta_parse(const char *xml, struct ppn_lv_meta *out)
{
	int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
	xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, options);
	struct ppn_lv_meta meta = {0};
	int r;

	if (!doc)
		return -EBADMSG;
	r = meta_read(xmlDocGetRootElement(doc), &meta);
	xmlFreeDoc(doc);
	if (r < 0) {
		ppn_lv_meta_release(&meta);
		return r;
	}
	*out = meta;
	return 0;
}

/* ---- Domain ---- */

static void domain_disks(struct xw *x, const struct ppn_lv_domain_spec *spec)
{
	/* The overlay, with its backing file and that file's format written out, so that
	 * nothing ever probes a format from an image's contents. */
	xw_start(x, "disk");
	xw_attr(x, "type", "file");
	xw_attr(x, "device", "disk");
	xw_start(x, "driver");
	xw_attr(x, "name", "qemu");
	xw_attr(x, "type", "qcow2");
	xw_end(x);
	xw_leaf(x, "source", "file", spec->overlay_path);
	xw_start(x, "backingStore");
	xw_attr(x, "type", "file");
	xw_leaf(x, "format", "type", spec->base_format);
	xw_leaf(x, "source", "file", spec->base_path);
	xw_start(x, "backingStore");
	xw_end(x);
	xw_end(x);
	xw_start(x, "target");
	xw_attr(x, "dev", "vda");
	xw_attr(x, "bus", "virtio");
	xw_end(x);
	xw_end(x);

	xw_start(x, "disk");
	xw_attr(x, "type", "file");
	xw_attr(x, "device", "cdrom");
	xw_start(x, "driver");
	xw_attr(x, "name", "qemu");
	xw_attr(x, "type", "raw");
	xw_end(x);
	xw_leaf(x, "source", "file", spec->seed_path);
	xw_start(x, "target");
	xw_attr(x, "dev", "hdc");
	xw_attr(x, "bus", "ide");
	xw_end(x);
	xw_start(x, "readonly");
	xw_end(x);
	xw_end(x);
}

static void domain_console(struct xw *x, const struct ppn_lv_domain_spec *spec)
{
	xw_start(x, "serial");
	xw_attr(x, "type", "file");
	xw_leaf(x, "source", "path", spec->console_path);
	xw_leaf(x, "target", "port", "0");
	xw_end(x);

	xw_start(x, "console");
	xw_attr(x, "type", "file");
	xw_leaf(x, "source", "path", spec->console_path);
	xw_start(x, "target");
	xw_attr(x, "type", "serial");
	xw_attr(x, "port", "0");
	xw_end(x);
	xw_end(x);
}

static void domain_os(struct xw *x, const struct ppn_lv_domain_spec *spec)
{
	/* TODO: other architectures; the machine type and bus names assume x86-64. */
	xw_start(x, "os");
	xw_start(x, "type");
	xw_attr(x, "arch", "x86_64");
	xw_attr(x, "machine", "pc");
	xw_check(x, xmlTextWriterWriteString(x->writer, BAD_CAST "hvm"));
	xw_end(x);
	xw_leaf(x, "boot", "dev", "hd");
	xw_end(x);

	xw_start(x, "features");
	xw_start(x, "acpi");
	xw_end(x);
	xw_start(x, "apic");
	xw_end(x);
	xw_end(x);

	/* TCG's default CPU lacks instructions that guest kernels' crypto needs (SSSE3). */
	xw_leaf(x, "cpu", "mode", strcmp(spec->type, "kvm") == 0 ? "host-passthrough" : "maximum");
}

static void domain_metadata(struct xw *x, const struct ppn_lv_meta *meta)
{
	xw_start(x, "metadata");
	xw_check(x, xmlTextWriterStartElementNS(x->writer, BAD_CAST PPN_LV_NS_PREFIX, BAD_CAST "vm",
						BAD_CAST PPN_LV_NS_URI));
	meta_attributes(x, meta);
	xw_end(x);
	xw_end(x);
}

int ppn_lv_xml_domain(const struct ppn_lv_domain_spec *spec, char **out)
{
	struct xw x;
	int r = xw_open(&x);

	if (r < 0)
		return r;
	xw_start(&x, "domain");
	xw_attr(&x, "type", spec->type);
	xw_text(&x, "name", spec->name);
	if (spec->uuid)
		xw_text(&x, "uuid", spec->uuid);
	domain_metadata(&x, spec->meta);
	xw_start(&x, "memory");
	xw_attr(&x, "unit", "KiB");
	xw_check(&x, xmlTextWriterWriteFormatString(x.writer, "%" PRIu64, spec->memory_kib));
	xw_end(&x);
	xw_textf(&x, "vcpu", "%" PRIu32, spec->vcpus);
	domain_os(&x, spec);
	xw_text(&x, "on_poweroff", "destroy");
	xw_text(&x, "on_reboot", "restart");
	xw_text(&x, "on_crash", "destroy");

	xw_start(&x, "devices");
	domain_disks(&x, spec);
	domain_console(&x, spec);
	/* TODO: a NIC; networking VMs into the mesh comes with the overlay bridge. */
	xw_end(&x);
	xw_end(&x);
	return xw_close(&x, out);
}

/* ---- Storage ---- */

int ppn_lv_xml_volume(const char *name, uint64_t capacity, const char *format,
		      const char *backing_path, const char *backing_format, char **out)
{
	struct xw x;
	int r = xw_open(&x);

	if (r < 0)
		return r;
	xw_start(&x, "volume");
	xw_text(&x, "name", name);
	xw_start(&x, "capacity");
	xw_attr(&x, "unit", "bytes");
	xw_check(&x, xmlTextWriterWriteFormatString(x.writer, "%" PRIu64, capacity));
	xw_end(&x);
	xw_start(&x, "allocation");
	xw_attr(&x, "unit", "bytes");
	xw_check(&x, xmlTextWriterWriteString(x.writer, BAD_CAST "0"));
	xw_end(&x);
	xw_start(&x, "target");
	xw_leaf(&x, "format", "type", format);
	xw_end(&x);
	if (backing_path) {
		xw_start(&x, "backingStore");
		xw_text(&x, "path", backing_path);
		xw_leaf(&x, "format", "type", backing_format);
		xw_end(&x);
	}
	xw_end(&x);
	return xw_close(&x, out);
}

int ppn_lv_xml_pool(const char *name, const char *path, char **out)
{
	struct xw x;
	int r = xw_open(&x);

	if (r < 0)
		return r;
	xw_start(&x, "pool");
	xw_attr(&x, "type", "dir");
	xw_text(&x, "name", name);
	xw_start(&x, "target");
	xw_text(&x, "path", path);
	xw_end(&x);
	xw_end(&x);
	return xw_close(&x, out);
}
