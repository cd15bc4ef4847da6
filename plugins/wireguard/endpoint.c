/* SPDX-License-Identifier: MIT */
#include "backend.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#include "util.h"

/* A host address in the one numeric form used for comparing endpoints. */
static int numeric_host(const struct sockaddr *address, socklen_t len, char **out)
{
	char host[NI_MAXHOST];

	if (address->sa_family != AF_INET && address->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (getnameinfo(address, len, host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
		return -EINVAL;

	*out = ppn_xstrdup(host);
	return 0;
}

int ppn_wg_endpoint_from_sockaddr(const struct sockaddr *address, socklen_t len,
				  struct ppn_endpoint *out)
{
	uint16_t port;
	char *host;
	int r;

	if (address->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		port = ntohs(((const struct sockaddr_in *)address)->sin_port);
	else if (address->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		port = ntohs(((const struct sockaddr_in6 *)address)->sin6_port);
	else
		return -EAFNOSUPPORT;

	r = numeric_host(address, len, &host);
	if (r < 0)
		return r;
	*out = (struct ppn_endpoint){.host = host, .port = port};
	return 0;
}

/*
 * Looks host up with getaddrinfo and returns the first IPv4 or IPv6 address in numeric form;
 * flags AI_NUMERICHOST refuses names. The resolver's reason goes to *reason on failure.
 */
static int lookup_host(const char *host, int flags, char **out, const char **reason)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_protocol = IPPROTO_UDP,
		.ai_flags = flags,
	};
	struct addrinfo *found = NULL;
	int r = getaddrinfo(host, NULL, &hints, &found);

	if (r != 0) {
		*reason = gai_strerror(r);
		return -EHOSTUNREACH;
	}

	r = -EHOSTUNREACH;
	*reason = "no IPv4 or IPv6 address";
	for (const struct addrinfo *ai = found; ai; ai = ai->ai_next) {
		r = numeric_host(ai->ai_addr, ai->ai_addrlen, out);
		if (r != -EAFNOSUPPORT)
			break;
	}
	freeaddrinfo(found);
	return r;
}

/* Splits "host:port" or "[host]:port" into a newly allocated host and the port's text. */
static int split_endpoint(const char *text, char **host, const char **port)
{
	const char *colon;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		*host = ppn_xstrndup(text + 1, (size_t)(close - text - 1));
		*port = close + 2;
		return 0;
	}

	/* Without brackets the host is IPv4 or a name: it has no colon of its own. */
	colon = strchr(text, ':');
	if (!colon || strchr(colon + 1, ':'))
		return -EINVAL;
	*host = ppn_xstrndup(text, (size_t)(colon - text));
	*port = colon + 1;
	return 0;
}

int ppn_wg_endpoint_parse(const char *text, struct ppn_endpoint *out)
{
	_cleanup_free_ char *host = NULL;
	char *canonical;
	const char *port_text, *reason;
	unsigned port;

	if (split_endpoint(text, &host, &port_text) < 0)
		return -EINVAL;
	if (ppn_parse_uint(port_text, UINT16_MAX, &port) < 0)
		return -EINVAL;
	if (lookup_host(host, AI_NUMERICHOST, &canonical, &reason) < 0)
		return -EINVAL;

	*out = (struct ppn_endpoint){.host = canonical, .port = (uint16_t)port};
	return 0;
}

int ppn_wg_endpoint_resolve(const struct ppn_endpoint *endpoint, char **host, const char **reason)
{
	return lookup_host(endpoint->host, 0, host, reason);
}

int ppn_wg_endpoint_sockaddr(const struct ppn_endpoint *endpoint, struct sockaddr_storage *out,
			     socklen_t *len)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	};
	_cleanup_free_ char *bare = NULL;
	const char *host = endpoint->host;
	struct addrinfo *found = NULL;
	char port[8];
	int r;

	if (!host)
		return -EINVAL;
	if (host[0] == '[' && host[strlen(host) - 1] == ']')
		host = bare = ppn_xstrndup(host + 1, strlen(host) - 2);
	snprintf(port, sizeof(port), "%u", endpoint->port);
	if (getaddrinfo(host, port, &hints, &found) != 0)
		return -EINVAL;

	r = -EINVAL;
	if (found->ai_addrlen <= sizeof(*out) &&
	    (found->ai_family == AF_INET || found->ai_family == AF_INET6)) {
		memset(out, 0, sizeof(*out));
		memcpy(out, found->ai_addr, found->ai_addrlen);
		*len = found->ai_addrlen;
		r = 0;
	}
	freeaddrinfo(found);
	return r;
}
