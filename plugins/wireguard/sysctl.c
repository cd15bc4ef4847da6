/* SPDX-License-Identifier: MIT */
/*
 * Forwarding on one interface, through its own settings under /proc/sys/net: a relay forwards
 * what arrives on its WireGuard interface, and nothing else on the host changes. The global
 * switches (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding) are never touched.
 *
 * XXX: IPv6 forwards only when net.ipv6.conf.all.forwarding is on as well (Linux before 6.17
 * has no per-interface switch that forwards); the per-interface setting is set all the same,
 * and the global one is left to the host's administrator.
 */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* The name becomes a path: it must be one component. The loader checks this; so does this. */
static bool name_is_safe(const char *ifname)
{
	size_t len = strlen(ifname);

	return len > 0 && len < IFNAMSIZ && !strchr(ifname, '/') && strcmp(ifname, ".") != 0 &&
	       strcmp(ifname, "..") != 0;
}

static char *setting_path(const char *ifname, bool ipv6)
{
	return ppn_xasprintf("/proc/sys/net/%s/conf/%s/forwarding", ipv6 ? "ipv6" : "ipv4", ifname);
}

static int read_setting(const char *ifname, bool ipv6, bool *on)
{
	_cleanup_free_ char *path = setting_path(ifname, ipv6);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char text[16];
	ssize_t len;

	if (fd < 0)
		return -errno;
	len = read(fd, text, sizeof(text) - 1);
	if (len < 0)
		return -errno;
	text[len] = '\0';
	*on = strtol(text, NULL, 10) != 0;
	return 0;
}

static int write_setting(const char *ifname, bool ipv6)
{
	_cleanup_free_ char *path = setting_path(ifname, ipv6);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (write(fd, "1\n", 2) != 2)
		return -errno;
	return 0;
}

int ppn_wg_sysctl_forwarding(const char *ifname, bool ipv6, bool *on)
{
	bool v4 = false, v6 = true;
	int r = name_is_safe(ifname) ? 0 : -EINVAL;

	if (r == 0)
		r = read_setting(ifname, false, &v4);
	if (r == 0 && ipv6)
		r = read_setting(ifname, true, &v6);
	if (r == 0)
		*on = v4 && v6;
	return r;
}

int ppn_wg_sysctl_enable_forwarding(const char *ifname, bool ipv6)
{
	int r = name_is_safe(ifname) ? 0 : -EINVAL;

	if (r == 0)
		r = write_setting(ifname, false);
	if (r == 0 && ipv6)
		r = write_setting(ifname, true);
	return r;
}
