/* SPDX-License-Identifier: MIT */
/*
 * The link side of an interface, the same for both backends: it exists or not, its MTU, whether
 * it is up, its addresses and the routes that lead into it, read through rtnetlink, and whether
 * it forwards, read from /proc/sys.
 */
#include "backend.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "util.h"

int ppn_wg_nl_errno(int nl_error)
{
	static const struct {
		int nl;
		int errno_value;
	} map[] = {
		{NLE_OBJ_NOTFOUND, ENODEV}, {NLE_NODEV, ENODEV},
		{NLE_NOMEM, ENOMEM},        {NLE_PERM, EPERM},
		{NLE_NOACCESS, EACCES},     {NLE_OPNOTSUPP, EOPNOTSUPP},
		{NLE_EXIST, EEXIST},        {NLE_INVAL, EINVAL},
		{NLE_RANGE, ERANGE},        {NLE_MSGSIZE, EMSGSIZE},
		{NLE_BUSY, EBUSY},          {NLE_AGAIN, EAGAIN},
		{NLE_INTR, EINTR},          {NLE_AF_NOSUPPORT, EAFNOSUPPORT},
	};
	int code = nl_error < 0 ? -nl_error : nl_error;

	for (size_t i = 0; i < PPN_ARRAY_SIZE(map); i++)
		if (map[i].nl == code)
			return -map[i].errno_value;
	return -EIO;
}

static void socket_freep(struct nl_sock **sock)
{
	nl_socket_free(*sock);
}

static void link_putp(struct rtnl_link **link)
{
	rtnl_link_put(*link);
}

static void cache_freep(struct nl_cache **cache)
{
	nl_cache_free(*cache);
}

static int route_socket(const char *ifname, struct nl_sock **out)
{
	struct nl_sock *sock = nl_socket_alloc();
	int r;

	if (!sock)
		return -ENOMEM;
	r = nl_connect(sock, NETLINK_ROUTE);
	if (r < 0) {
		ppn_err("wireguard/interface '%s': cannot open an rtnetlink socket: %s", ifname,
			nl_geterror(r));
		nl_socket_free(sock);
		return ppn_wg_nl_errno(r);
	}
	*out = sock;
	return 0;
}

static int get_link(struct nl_sock *sock, const char *ifname, struct rtnl_link **link)
{
	int r = rtnl_link_get_kernel(sock, 0, ifname, link);

	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return -ENODEV;
	if (r < 0) {
		ppn_err("wireguard/interface '%s': cannot read the link: %s", ifname,
			nl_geterror(r));
		return ppn_wg_nl_errno(r);
	}
	return 0;
}

/* addr is an address of prefix_len bits; a default route's has no bytes at all. */
static int prefix_from_nl(struct nl_addr *addr, unsigned prefix_len, struct ppn_prefix *out)
{
	int family = nl_addr_get_family(addr);
	unsigned size = family == AF_INET ? 4 : 16;
	unsigned len = nl_addr_get_len(addr);

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (len > size || prefix_len > size * 8)
		return -EINVAL;

	*out = (struct ppn_prefix){.family = family, .len = (uint8_t)prefix_len};
	memcpy(out->addr, nl_addr_get_binary_addr(addr), len);
	return 0;
}

/* Addresses of the link, except link-scope ones (IPv6 fe80::/64), which the kernel adds. */
static int read_addresses(struct nl_sock *sock, int ifindex, struct ppn_wg_device *into)
{
	_cleanup_(cache_freep) struct nl_cache *cache = NULL;
	int r = rtnl_addr_alloc_cache(sock, &cache);

	if (r < 0) {
		ppn_err("wireguard/interface '%s': cannot read addresses: %s", into->ifname,
			nl_geterror(r));
		return ppn_wg_nl_errno(r);
	}

	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *addr = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(addr);
		struct ppn_prefix prefix;

		if (rtnl_addr_get_ifindex(addr) != ifindex ||
		    rtnl_addr_get_scope(addr) == RT_SCOPE_LINK)
			continue;
		if (local && prefix_from_nl(local, rtnl_addr_get_prefixlen(addr), &prefix) == 0)
			ppn_wg_device_add_address(into, &prefix);
	}
	return 0;
}

/*
 * Routes are read straight from the dump's messages rather than through a libnl cache: a
 * cache hashes and compares every route of the host, which for a relay's ten thousand costs
 * more than the rest of the observation together.
 */
struct route_dump {
	int ifindex;
	struct ppn_wg_device *into;
};

static uint32_t route_table(const struct rtmsg *rtm, struct nlattr *const *attrs)
{
	return attrs[RTA_TABLE] ? nla_get_u32(attrs[RTA_TABLE]) : rtm->rtm_table;
}

/* A route of the main table that leaves through this link alone and that someone added. */
static bool route_is_ours(const struct rtmsg *rtm, struct nlattr *const *attrs, int ifindex)
{
	if (route_table(rtm, attrs) != RT_TABLE_MAIN)
		return false;
	if (rtm->rtm_protocol == RTPROT_KERNEL)
		return false;
	if (attrs[RTA_MULTIPATH] || !attrs[RTA_OIF])
		return false;
	return nla_get_u32(attrs[RTA_OIF]) == (uint32_t)ifindex;
}

/* A destination of dst_len bits; a default route has no RTA_DST at all. */
static int route_prefix(const struct rtmsg *rtm, const struct nlattr *dst, struct ppn_prefix *out)
{
	unsigned size = rtm->rtm_family == AF_INET ? 4 : 16;
	int len = dst ? nla_len(dst) : 0;

	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return -EAFNOSUPPORT;
	if ((unsigned)len > size || rtm->rtm_dst_len > size * 8 || (dst && (unsigned)len != size))
		return -EINVAL;

	*out = (struct ppn_prefix){.family = rtm->rtm_family, .len = rtm->rtm_dst_len};
	if (dst)
		memcpy(out->addr, nla_data(dst), (size_t)len);
	return 0;
}

static int on_route(struct nl_msg *msg, void *arg)
{
	struct route_dump *dump = arg;
	struct nlmsghdr *header = nlmsg_hdr(msg);
	struct nlattr *attrs[RTA_MAX + 1];
	const struct rtmsg *rtm;
	struct ppn_prefix prefix;

	if (header->nlmsg_type != RTM_NEWROUTE ||
	    nlmsg_parse(header, sizeof(*rtm), attrs, RTA_MAX, NULL) < 0)
		return NL_SKIP;
	rtm = nlmsg_data(header);

	if (route_is_ours(rtm, attrs, dump->ifindex) &&
	    route_prefix(rtm, attrs[RTA_DST], &prefix) == 0)
		ppn_wg_device_add_route(dump->into, &prefix);
	return NL_OK;
}

/*
 * Asks for family's routes of the main table through ifindex. With strict checking the kernel
 * filters them itself; a kernel without it sends every route, which on_route() sorts out the
 * same. One family at a time: a request for all of them would reach MPLS too, whose dump
 * refuses a table filter and so would fail the whole request where that module is loaded.
 */
static int request_routes(struct nl_sock *sock, int family, int ifindex)
{
	struct rtmsg rtm = {.rtm_family = (unsigned char)family, .rtm_table = RT_TABLE_MAIN};
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_DUMP);
	int r;

	if (!msg)
		return -NLE_NOMEM;
	r = nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO);
	if (r == 0)
		r = nla_put_u32(msg, RTA_OIF, (uint32_t)ifindex);
	if (r == 0)
		r = nl_send_auto(sock, msg);
	nlmsg_free(msg);
	return r < 0 ? r : 0;
}

static int read_routes(struct nl_sock *sock, int ifindex, struct ppn_wg_device *into)
{
	static const int families[] = {AF_INET, AF_INET6};
	struct route_dump dump = {.ifindex = ifindex, .into = into};
	int strict = 1;
	int r = nl_socket_modify_cb(sock, NL_CB_VALID, NL_CB_CUSTOM, on_route, &dump);

	setsockopt(nl_socket_get_fd(sock), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &strict,
		   sizeof(strict));
	for (size_t i = 0; r == 0 && i < PPN_ARRAY_SIZE(families); i++) {
		r = request_routes(sock, families[i], ifindex);
		if (r == 0)
			r = nl_recvmsgs_default(sock);
	}
	if (r < 0) {
		ppn_err("wireguard/interface '%s': cannot read routes: %s", into->ifname,
			nl_geterror(r));
		return ppn_wg_nl_errno(r);
	}
	return 0;
}

static bool has_ipv6_address(const struct ppn_wg_device *device)
{
	for (size_t i = 0; i < device->n_addresses; i++)
		if (device->addresses[i].family == AF_INET6)
			return true;
	return false;
}

/*
 * Forwarding counts as on when IPv4 forwards and, if the link has an IPv6 address, IPv6 too:
 * the same families apply sets. A setting that cannot be read counts as off, so that apply
 * sets it, and says why.
 */
static void read_forwarding(struct ppn_wg_device *device)
{
	int r = ppn_wg_sysctl_forwarding(device->ifname, has_ipv6_address(device),
					 &device->forwarding);

	if (r < 0) {
		ppn_debug("wireguard/interface '%s': cannot read its forwarding setting: %s",
			  device->ifname, strerror(-r));
		device->forwarding = false;
	}
}

int ppn_wg_rtnl_read_link(const char *ifname, struct ppn_wg_device *into)
{
	_cleanup_(socket_freep) struct nl_sock *sock = NULL;
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	struct ppn_wg_device *scratch;
	int r = route_socket(ifname, &sock);

	if (r == 0)
		r = get_link(sock, ifname, &link);
	if (r < 0)
		return r;

	scratch = ppn_wg_device_new(ifname);
	r = read_addresses(sock, rtnl_link_get_ifindex(link), scratch);
	if (r == 0)
		r = read_routes(sock, rtnl_link_get_ifindex(link), scratch);
	if (r == 0) {
		read_forwarding(scratch);
		scratch->present = true;
		scratch->mtu = rtnl_link_get_mtu(link);
		scratch->up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
		ppn_wg_device_normalize(scratch);
		ppn_wg_device_take_link(into, scratch);
	}
	ppn_wg_device_free(scratch);
	return r;
}

int ppn_wg_rtnl_link_kind(const char *ifname, char *kind, size_t size)
{
	_cleanup_(socket_freep) struct nl_sock *sock = NULL;
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	const char *type;
	int r = route_socket(ifname, &sock);

	if (r == 0)
		r = get_link(sock, ifname, &link);
	if (r < 0)
		return r;

	type = rtnl_link_get_type(link);
	snprintf(kind, size, "%s", type ? type : "");
	return 0;
}
