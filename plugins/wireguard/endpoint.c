/* SPDX-License-Identifier: MIT */
#include "backend.h"

#include <arpa/inet.h>
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
 * A plain IPv4 or IPv6 literal (no scope) in the same form getnameinfo() gives, without the
 * resolver: a relay's plan holds thousands of them. Returns 0, or -EINVAL for anything else.
 */
static int literal_host(const char *host, char **out)
{
	static const int families[] = {AF_INET, AF_INET6};
	char text[INET6_ADDRSTRLEN];
	uint8_t addr[16];

	for (size_t i = 0; i < PPN_ARRAY_SIZE(families); i++) {
		if (inet_pton(families[i], host, addr) != 1)
			continue;
		/* inet_pton takes only the one dotted-quad form of an IPv4 address (no leading
		 * zeros, four parts): it is already canonical. IPv6 has many forms. */
		if (families[i] == AF_INET) {
			*out = ppn_xstrdup(host);
			return 0;
		}
		if (!inet_ntop(families[i], addr, text, sizeof(text)))
			return -EINVAL;
		*out = ppn_xstrdup(text);
		return 0;
	}
	return -EINVAL;
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
	int r = literal_host(host, out);

	if (r == 0)
		return 0;
	r = getaddrinfo(host, NULL, &hints, &found);
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

/* The resolver-free path of ppn_wg_endpoint_sockaddr(), for literals without a scope. */
static int literal_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *out,
			    socklen_t *len)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
		memcpy(out, &v4, sizeof(v4));
		*len = sizeof(v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1) {
		memcpy(out, &v6, sizeof(v6));
		*len = sizeof(v6);
		return 0;
	}
	return -EINVAL;
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
	if (literal_sockaddr(host, endpoint->port, out, len) == 0)
		return 0;
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
