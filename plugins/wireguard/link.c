/* SPDX-License-Identifier: MIT */
/*
 * Changing the link side of an interface through rtnetlink: creating a kernel WireGuard link,
 * its MTU and state, its addresses and the routes that lead into it. One socket serves a whole
 * apply, so that ten thousand routes cost ten thousand messages and nothing more. Errors are
 * returned, not logged: apply logs them under the action they belong to.
 */
#include "backend.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "util.h"

struct ppn_wg_link {
	struct nl_sock *sock;
	int ifindex;
};

static int route_socket(struct nl_sock **out)
{
	struct nl_sock *sock = nl_socket_alloc();
	int r;

	if (!sock)
		return -ENOMEM;
	r = nl_connect(sock, NETLINK_ROUTE);
	if (r < 0) {
		nl_socket_free(sock);
		return ppn_wg_nl_errno(r);
	}
	*out = sock;
	return 0;
}

/* libnl's errors are turned into errnos once, at the end of each function below. */
int ppn_wg_link_create(const char *ifname, const char *kind)
{
	struct nl_sock *sock = NULL;
	struct rtnl_link *link;
	int r = route_socket(&sock);

	if (r < 0)
		return r;
	link = rtnl_link_alloc();
	r = link ? rtnl_link_set_type(link, kind) : -NLE_NOMEM;
	if (r == 0) {
		rtnl_link_set_name(link, ifname);
		r = rtnl_link_add(sock, link, NLM_F_CREATE | NLM_F_EXCL);
	}
	rtnl_link_put(link);
	nl_socket_free(sock);
	return r < 0 ? ppn_wg_nl_errno(r) : 0;
}

int ppn_wg_link_open(const char *ifname, struct ppn_wg_link **out)
{
	struct rtnl_link *found = NULL;
	struct nl_sock *sock = NULL;
	struct ppn_wg_link *link;
	int r = route_socket(&sock);

	if (r < 0)
		return r;
	r = rtnl_link_get_kernel(sock, 0, ifname, &found);
	if (r < 0) {
		nl_socket_free(sock);
		return r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV ? -ENODEV : ppn_wg_nl_errno(r);
	}

	link = ppn_xcalloc(1, sizeof(*link));
	link->sock = sock;
	link->ifindex = rtnl_link_get_ifindex(found);
	rtnl_link_put(found);
	*out = link;
	return 0;
}

void ppn_wg_link_close(struct ppn_wg_link *link)
{
	if (!link)
		return;
	nl_socket_free(link->sock);
	free(link);
}

int ppn_wg_link_set(struct ppn_wg_link *link, uint32_t mtu, bool set_state, bool up)
{
	struct rtnl_link *change = rtnl_link_alloc();
	struct rtnl_link *current = NULL;
	int r = change ? rtnl_link_get_kernel(link->sock, link->ifindex, NULL, &current)
		       : -NLE_NOMEM;

	if (r == 0) {
		if (mtu)
			rtnl_link_set_mtu(change, mtu);
		if (set_state && up)
			rtnl_link_set_flags(change, IFF_UP);
		else if (set_state)
			rtnl_link_unset_flags(change, IFF_UP);
		r = rtnl_link_change(link->sock, current, change, 0);
	}
	rtnl_link_put(current);
	rtnl_link_put(change);
	return r < 0 ? ppn_wg_nl_errno(r) : 0;
}

static struct nl_addr *nl_prefix(const struct ppn_prefix *prefix)
{
	struct nl_addr *addr =
		nl_addr_build(prefix->family, prefix->addr, prefix->family == AF_INET ? 4 : 16);

	if (addr)
		nl_addr_set_prefixlen(addr, prefix->len);
	return addr;
}

/* Duplicate address detection has nothing to detect on a tunnel without neighbours; it would
 * only keep an IPv6 address tentative for a second. */
int ppn_wg_link_address(struct ppn_wg_link *link, const struct ppn_prefix *prefix, bool add)
{
	struct rtnl_addr *addr = rtnl_addr_alloc();
	struct nl_addr *local = nl_prefix(prefix);
	int r = -NLE_NOMEM;

	if (addr && local) {
		rtnl_addr_set_ifindex(addr, link->ifindex);
		rtnl_addr_set_local(addr, local);
		if (prefix->family == AF_INET6)
			rtnl_addr_set_flags(addr, IFA_F_NODAD);
		r = add ? rtnl_addr_add(link->sock, addr, NLM_F_EXCL)
			: rtnl_addr_delete(link->sock, addr, 0);
	}
	nl_addr_put(local);
	rtnl_addr_put(addr);
	return r < 0 ? ppn_wg_nl_errno(r) : 0;
}

/*
 * A route is added as `ip route add PREFIX dev IFNAME` would add it. A removal names only the
 * destination, the table and this link, so that it matches whoever added the route, and never
 * a route to the same prefix through another link.
 */
int ppn_wg_link_route(struct ppn_wg_link *link, const struct ppn_prefix *prefix, bool add)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *hop = rtnl_route_nh_alloc();
	struct nl_addr *dst = nl_prefix(prefix);
	int r = -NLE_NOMEM;

	if (route && hop && dst) {
		rtnl_route_set_family(route, (uint8_t)prefix->family);
		rtnl_route_set_dst(route, dst);
		rtnl_route_set_table(route, RT_TABLE_MAIN);
		rtnl_route_set_protocol(route, add ? RTPROT_BOOT : RTPROT_UNSPEC);
		rtnl_route_set_scope(route, RT_SCOPE_LINK);
		rtnl_route_nh_set_ifindex(hop, link->ifindex);
		rtnl_route_add_nexthop(route, hop);
		hop = NULL; /* the route owns it now */
		r = add ? rtnl_route_add(link->sock, route, NLM_F_EXCL)
			: rtnl_route_delete(link->sock, route, 0);
	}
	if (hop)
		rtnl_route_nh_free(hop);
	nl_addr_put(dst);
	rtnl_route_put(route);
	return r < 0 ? ppn_wg_nl_errno(r) : 0;
}
