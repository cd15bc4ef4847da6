/* SPDX-License-Identifier: MIT */
/*
 * One observation of the interface: the link through rtnetlink, then its WireGuard side
 * through the backend that serves it, chosen as wg(8) chooses.
 */
#include "backend.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "util.h"

const struct ppn_wg_backend *ppn_wg_backend_by_name(const char *name)
{
	if (strcmp(name, ppn_wg_backend_userspace.name) == 0)
		return &ppn_wg_backend_userspace;
	if (strcmp(name, ppn_wg_backend_kernel.name) == 0)
		return &ppn_wg_backend_kernel;
	return NULL;
}

/*
 * The UAPI socket is checked first, as wg(8) does: wireguard-go serves a TUN link, which
 * tells nothing by its kind. Then the kernel, when the link is of kind wireguard.
 */
static int probe_backend(const char *ifname, const struct ppn_wg_backend **out)
{
	static const struct ppn_wg_backend *const order[] = {
		&ppn_wg_backend_userspace,
		&ppn_wg_backend_kernel,
	};

	for (size_t i = 0; i < PPN_ARRAY_SIZE(order); i++) {
		int r = order[i]->probe(ifname);

		if (r < 0)
			return r;
		if (r > 0) {
			*out = order[i];
			return 0;
		}
	}

	ppn_err("wireguard/interface '%s': the link exists but is not WireGuard's", ifname);
	return -EEXIST;
}

/* A socket left for a link this namespace does not have is worth a word: wireguard-go will
 * not start under that name until it is gone. */
static void warn_if_socket_without_link(const char *ifname)
{
	if (ppn_wg_backend_userspace.probe(ifname) > 0)
		ppn_warn(
			"wireguard/interface '%s': no link here, yet a UAPI socket: stale or not ours",
			ifname);
}

int ppn_wg_observe(const char *ifname, const struct ppn_wg_backend *forced,
		   struct ppn_wg_device **device, const struct ppn_wg_backend **backend)
{
	struct ppn_wg_device *observed = ppn_wg_device_new(ifname);
	const struct ppn_wg_backend *used = forced;
	int r = ppn_wg_rtnl_read_link(ifname, observed);

	if (r == -ENODEV) {
		warn_if_socket_without_link(ifname);
		*device = observed;
		*backend = NULL;
		return 0;
	}

	if (r == 0 && !used)
		r = probe_backend(ifname, &used);
	if (r == 0)
		r = used->get_device(ifname, observed);
	if (r < 0) {
		ppn_wg_device_free(observed);
		return r;
	}

	ppn_wg_device_normalize(observed);
	*device = observed;
	*backend = used;
	return 0;
}
