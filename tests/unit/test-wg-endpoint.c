/* SPDX-License-Identifier: MIT */
/*
 * Endpoints of the WireGuard plugin: the one numeric form that both backends produce and that
 * desired endpoints are resolved to, so that the diff compares like with like.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wireguard/backend.h"

#include "util.h"

static void assert_parsed(const char *text, const char *host, unsigned port)
{
	struct ppn_endpoint endpoint;

	assert_int_equal(ppn_wg_endpoint_parse(text, &endpoint), 0);
	assert_string_equal(endpoint.host, host);
	assert_int_equal(endpoint.port, port);
	free(endpoint.host);
}

static void test_wg_endpoint_parse(void **unused)
{
	assert_parsed("192.0.2.1:51820", "192.0.2.1", 51820);
	assert_parsed("[2001:db8::1]:1", "2001:db8::1", 1);
	/* written out long, as a daemon might: the same canonical text */
	assert_parsed("[2001:0db8:0000::0001]:65535", "2001:db8::1", 65535);
	assert_parsed("[::ffff:192.0.2.1]:51820", "::ffff:192.0.2.1", 51820);
}

static void test_wg_endpoint_parse_refuses_malformed(void **unused)
{
	static const char *const bad[] = {
		"192.0.2.1",          /* no port */
		"192.0.2.1:",         /* empty port */
		"192.0.2.1:65536",    /* port out of range */
		"192.0.2.1:051820",   /* leading zero */
		"2001:db8::1:51820",  /* IPv6 without brackets */
		"[2001:db8::1]51820", /* no colon after the bracket */
		"[2001:db8::1:51820", /* no closing bracket */
		"example.com:51820",  /* a name: the daemons report addresses only */
		"192.0.2.300:51820",  ":51820",
	};
	struct ppn_endpoint endpoint = {0};

	for (size_t i = 0; i < PPN_ARRAY_SIZE(bad); i++)
		assert_int_equal(ppn_wg_endpoint_parse(bad[i], &endpoint), -EINVAL);
	assert_null(endpoint.host);
}

static void test_wg_endpoint_from_sockaddr(void **unused)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(51820)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	struct sockaddr unknown = {.sa_family = AF_UNIX};
	struct ppn_endpoint endpoint;

	inet_pton(AF_INET, "198.51.100.7", &v4.sin_addr);
	assert_int_equal(
		ppn_wg_endpoint_from_sockaddr((struct sockaddr *)&v4, sizeof(v4), &endpoint), 0);
	assert_string_equal(endpoint.host, "198.51.100.7");
	assert_int_equal(endpoint.port, 51820);
	free(endpoint.host);

	inet_pton(AF_INET6, "2001:db8:0:0::7", &v6.sin6_addr);
	assert_int_equal(
		ppn_wg_endpoint_from_sockaddr((struct sockaddr *)&v6, sizeof(v6), &endpoint), 0);
	assert_string_equal(endpoint.host, "2001:db8::7");
	assert_int_equal(endpoint.port, 443);
	free(endpoint.host);

	assert_int_equal(ppn_wg_endpoint_from_sockaddr(&unknown, sizeof(unknown), &endpoint),
			 -EAFNOSUPPORT);
}

/* Literals resolve to themselves in canonical form; "localhost" to a loopback address of
 * either family, whichever the resolver lists first. */
static void test_wg_endpoint_resolve(void **unused)
{
	struct ppn_endpoint literal = {.host = "2001:0db8::0009", .port = 51820};
	struct ppn_endpoint name = {.host = "localhost", .port = 51820};
	const char *reason = NULL;
	char *host;

	assert_int_equal(ppn_wg_endpoint_resolve(&literal, &host, &reason), 0);
	assert_string_equal(host, "2001:db8::9");
	free(host);

	assert_int_equal(ppn_wg_endpoint_resolve(&name, &host, &reason), 0);
	assert_true(strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0);
	free(host);

	/* A dotted quad is its own canonical form; the short forms inet_aton knows are not. */
	literal.host = "192.0.2.1";
	assert_int_equal(ppn_wg_endpoint_resolve(&literal, &host, &reason), 0);
	assert_string_equal(host, "192.0.2.1");
	free(host);
	literal.host = "10.1";
	assert_int_equal(ppn_wg_endpoint_resolve(&literal, &host, &reason), 0);
	assert_string_equal(host, "10.0.0.1");
	free(host);
}

/* Socket addresses as the kernel takes them: from literals only, brackets or not. */
static void test_wg_endpoint_sockaddr(void **unused)
{
	struct ppn_endpoint v4 = {.host = "192.0.2.1", .port = 51820};
	struct ppn_endpoint v6 = {.host = "[2001:db8::1]", .port = 443};
	struct ppn_endpoint scoped = {.host = "fe80::1%lo", .port = 1};
	struct ppn_endpoint name = {.host = "localhost", .port = 1};
	struct ppn_endpoint none = {0};
	struct sockaddr_storage address;
	const struct sockaddr_in *in = (const struct sockaddr_in *)&address;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&address;
	uint8_t want6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	socklen_t len;

	assert_int_equal(ppn_wg_endpoint_sockaddr(&v4, &address, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(in->sin_family, AF_INET);
	assert_int_equal(ntohs(in->sin_port), 51820);
	assert_int_equal(ntohl(in->sin_addr.s_addr), 0xc0000201);

	assert_int_equal(ppn_wg_endpoint_sockaddr(&v6, &address, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 443);
	assert_memory_equal(in6->sin6_addr.s6_addr, want6, 16);

	assert_int_equal(ppn_wg_endpoint_sockaddr(&scoped, &address, &len), 0);
	assert_int_equal(in6->sin6_scope_id, if_nametoindex("lo"));

	assert_int_equal(ppn_wg_endpoint_sockaddr(&name, &address, &len), -EINVAL);
	assert_int_equal(ppn_wg_endpoint_sockaddr(&none, &address, &len), -EINVAL);
}

static void test_wg_endpoint_resolve_failure_gives_reason(void **unused)
{
	/* An empty name: refused by the resolver itself, without asking DNS. */
	struct ppn_endpoint empty = {.host = "", .port = 51820};
	const char *reason = NULL;
	char *host = NULL;

	assert_int_equal(ppn_wg_endpoint_resolve(&empty, &host, &reason), -EHOSTUNREACH);
	assert_non_null(reason);
	assert_null(host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wg_endpoint_parse),
		cmocka_unit_test(test_wg_endpoint_parse_refuses_malformed),
		cmocka_unit_test(test_wg_endpoint_from_sockaddr),
		cmocka_unit_test(test_wg_endpoint_resolve),
		cmocka_unit_test(test_wg_endpoint_resolve_failure_gives_reason),
		cmocka_unit_test(test_wg_endpoint_sockaddr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
