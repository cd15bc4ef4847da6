/* SPDX-License-Identifier: MIT */
/*
 * The userspace backend's set requests: the exact text for each kind of peer change, the
 * private key kept out of the growing buffer and wiped, and the same text streamed over a real
 * unix socket, with the reply read back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "wireguard/backend.h"
#include "wireguard/diff.h"

#include "util.h"
#include "wgconf.h"

/* Keys whose hex is easy to read: every byte the same. */
#define HEX_11 "1111111111111111111111111111111111111111111111111111111111111111"
#define HEX_22 "2222222222222222222222222222222222222222222222222222222222222222"
#define HEX_33 "3333333333333333333333333333333333333333333333333333333333333333"
#define HEX_44 "4444444444444444444444444444444444444444444444444444444444444444"
#define HEX_AB "abababababababababababababababababababababababababababababababab"

static struct ppn_prefix prefix(const char *text)
{
	struct ppn_prefix out;

	assert_int_equal(ppn_prefix_parse(&out, text), 0);
	return out;
}

static struct ppn_wg_peer *add_peer(struct ppn_wg_device *device, uint8_t fill, const char *host,
				    uint16_t keepalive_s, const char *ip1, const char *ip2)
{
	struct ppn_key key;
	struct ppn_wg_peer *peer;
	struct ppn_prefix one = prefix(ip1);

	memset(key.bytes, fill, sizeof(key.bytes));
	peer = ppn_wg_device_add_peer(device, &key);
	peer->endpoint.host = host ? ppn_xstrdup(host) : NULL;
	peer->endpoint.port = 51820;
	peer->keepalive_s = keepalive_s;
	ppn_wg_peer_add_allowed_ip(peer, &one);
	if (ip2) {
		struct ppn_prefix two = prefix(ip2);

		ppn_wg_peer_add_allowed_ip(peer, &two);
	}
	return peer;
}

static char *request_text(const struct ppn_wg_uapi_request *request)
{
	return ppn_xasprintf("%.*s%s", (int)request->head_len, request->head, request->body);
}

static bool all_zero(const void *data, size_t size)
{
	const uint8_t *bytes = data;

	for (size_t i = 0; i < size; i++)
		if (bytes[i])
			return false;
	return true;
}

/* Add, change, remove and a peer behind NAT in one request, with the key and the port. */
static void test_wg_uapiset_request_text(void **unused)
{
	struct ppn_wg_device *device = ppn_wg_device_new("ppna0");
	struct ppn_wg_peer_op ops[5];
	struct ppn_secret_key secret;
	struct ppn_wg_uapi_request request;
	struct ppn_wg_set set = {.private_key = &secret,
				 .set_listen_port = true,
				 .listen_port = 51820,
				 .ops = ops,
				 .n_ops = 5};
	_cleanup_free_ char *text = NULL;

	add_peer(device, 0x11, "192.0.2.1", 25, "10.77.0.1/32", "10.77.0.3/32");
	add_peer(device, 0x22, "2001:db8::2", 0, "10.77.0.2/32", "fd77::2/128");
	add_peer(device, 0x33, NULL, 0, "10.77.0.33/32", NULL);
	add_peer(device, 0x44, NULL, 25, "10.77.0.4/32", NULL);
	memset(secret.bytes, 0xab, sizeof(secret.bytes));

	ops[0] = (struct ppn_wg_peer_op){PPN_WG_PEER_ADD, &device->peers[0],
					 PPN_WG_FIELD_ENDPOINT | PPN_WG_FIELD_KEEPALIVE |
						 PPN_WG_FIELD_ALLOWED_IPS};
	/* A change of endpoint and allowed-ips, keepalive going off. */
	ops[1] = (struct ppn_wg_peer_op){PPN_WG_PEER_UPDATE, &device->peers[1],
					 PPN_WG_FIELD_ENDPOINT | PPN_WG_FIELD_KEEPALIVE |
						 PPN_WG_FIELD_ALLOWED_IPS};
	ops[2] = (struct ppn_wg_peer_op){PPN_WG_PEER_REMOVE, &device->peers[2], 0};
	/* Behind NAT: no endpoint is declared, so none is ever sent, whatever the fields say. */
	ops[3] = (struct ppn_wg_peer_op){PPN_WG_PEER_ADD, &device->peers[3],
					 PPN_WG_FIELD_ENDPOINT | PPN_WG_FIELD_KEEPALIVE |
						 PPN_WG_FIELD_ALLOWED_IPS};
	ops[4] = (struct ppn_wg_peer_op){PPN_WG_PEER_UPDATE, &device->peers[3],
					 PPN_WG_FIELD_KEEPALIVE};

	ppn_wg_uapi_request_build(&request, &set);
	text = request_text(&request);
	assert_string_equal(text, "set=1\n"
				  "private_key=" HEX_AB "\n"
				  "listen_port=51820\n"
				  "public_key=" HEX_11 "\n"
				  "endpoint=192.0.2.1:51820\n"
				  "persistent_keepalive_interval=25\n"
				  "replace_allowed_ips=true\n"
				  "allowed_ip=10.77.0.1/32\n"
				  "allowed_ip=10.77.0.3/32\n"
				  "public_key=" HEX_22 "\n"
				  "update_only=true\n"
				  "endpoint=[2001:db8::2]:51820\n"
				  "persistent_keepalive_interval=0\n"
				  "replace_allowed_ips=true\n"
				  "allowed_ip=10.77.0.2/32\n"
				  "allowed_ip=fd77::2/128\n"
				  "public_key=" HEX_33 "\n"
				  "remove=true\n"
				  "public_key=" HEX_44 "\n"
				  "persistent_keepalive_interval=25\n"
				  "replace_allowed_ips=true\n"
				  "allowed_ip=10.77.0.4/32\n"
				  "public_key=" HEX_44 "\n"
				  "update_only=true\n"
				  "persistent_keepalive_interval=25\n"
				  "\n");
	/* The key is only in the head, never in the body that grew. */
	assert_null(strstr(request.body, "private_key"));
	assert_null(strstr(request.body, HEX_AB));

	ppn_wg_uapi_request_release(&request);
	assert_true(all_zero(request.head, sizeof(request.head)));
	assert_int_equal(request.head_len, 0);
	assert_null(request.body);
	ppn_wg_device_free(device);
}

/* Without a key change there is no private_key line; an update with nothing but allowed-ips
 * replaces them and touches nothing else. */
static void test_wg_uapiset_without_key(void **unused)
{
	struct ppn_wg_device *device = ppn_wg_device_new("ppna0");
	struct ppn_wg_peer_op op;
	struct ppn_wg_uapi_request request;
	struct ppn_wg_set set = {.ops = &op, .n_ops = 1};
	_cleanup_free_ char *text = NULL;

	add_peer(device, 0x11, "192.0.2.1", 25, "10.77.0.1/32", NULL);
	op = (struct ppn_wg_peer_op){PPN_WG_PEER_UPDATE, &device->peers[0],
				     PPN_WG_FIELD_ALLOWED_IPS};
	ppn_wg_uapi_request_build(&request, &set);
	text = request_text(&request);
	assert_string_equal(text, "set=1\n"
				  "public_key=" HEX_11 "\n"
				  "update_only=true\n"
				  "replace_allowed_ips=true\n"
				  "allowed_ip=10.77.0.1/32\n"
				  "\n");
	ppn_wg_uapi_request_release(&request);
	ppn_wg_device_free(device);
}

/* ---- Over a real socket ---- */

/* Reads one request up to its empty line, then answers reply. Exits 0 when the request was
 * the expected one. */
static void serve_one(int listener, const char *expected, const char *reply)
{
	size_t want = strlen(expected), got = 0;
	char *request = malloc(want + 4096);
	int fd = accept(listener, NULL, NULL);

	if (fd < 0 || !request)
		_exit(2);
	while (got < 2 || request[got - 2] != '\n' || request[got - 1] != '\n') {
		ssize_t r = read(fd, request + got, want + 4096 - got);

		if (r <= 0)
			_exit(3);
		got += (size_t)r;
	}
	if (write(fd, reply, strlen(reply)) != (ssize_t)strlen(reply))
		_exit(4);
	_exit(got == want && memcmp(request, expected, want) == 0 ? 0 : 1);
}

/*
 * Sends set to a server that answers reply, through the streaming sender; the server checks
 * it received exactly the text request_build() makes. Returns what the sender made of the
 * reply.
 */
static int round_trip(struct ppn_wg_set *set, const char *reply)
{
	char dir[] = "/tmp/ppna-test-uapiset.XXXXXX";
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	struct ppn_wg_uapi_request request;
	_cleanup_free_ char *expected = NULL, *path = NULL;
	int listener, status, r;
	pid_t child;

	ppn_wg_uapi_request_build(&request, set);
	expected = request_text(&request);
	ppn_wg_uapi_request_release(&request);

	assert_non_null(mkdtemp(dir));
	path = ppn_xasprintf("%s/ppna0.sock", dir);
	strcpy(address.sun_path, path);
	listener = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(listener, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(listener, 1), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		serve_one(listener, expected, reply);
	close(listener);

	r = ppn_wg_uapi_set_device_at(path, "ppna0", set);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	unlink(path);
	rmdir(dir);

	assert_int_equal(set->device_result, r);
	for (size_t i = 0; i < set->n_ops; i++)
		assert_int_equal(set->ops[i].result, r);
	return r;
}

static void test_wg_uapiset_replies(void **unused)
{
	struct ppn_wg_set set = {.set_listen_port = true, .listen_port = 51999};

	assert_int_equal(round_trip(&set, "errno=0\n\n"), 0);
	assert_int_equal(round_trip(&set, "errno=-22\n\n"), -EINVAL);
	assert_int_equal(round_trip(&set, "errno=1\n\n"), -EPERM);
	assert_int_equal(round_trip(&set, "errno=zz\n\n"), -EPROTO);
	assert_int_equal(round_trip(&set, "listen_port=1\nerrno=0\n\n"), -EPROTO);
	assert_int_equal(round_trip(&set, "errno=0\n"), -EPROTO);
}

/* A set far larger than one chunk arrives whole and in order, key included. */
static void test_wg_uapiset_streamed(void **unused)
{
	struct ppn_wg_device *device = ppn_wg_device_new("ppna0");
	struct ppn_wg_peer_op *ops = ppn_xcalloc(3000, sizeof(*ops));
	struct ppn_secret_key secret;
	struct ppn_wg_set set = {.private_key = &secret, .ops = ops, .n_ops = 3000};

	memset(secret.bytes, 0x77, sizeof(secret.bytes));
	for (unsigned i = 0; i < 3000; i++) {
		char ip1[32], ip2[32], host[32];

		snprintf(ip1, sizeof(ip1), "10.%u.%u.1/32", i >> 8, i & 0xff);
		snprintf(ip2, sizeof(ip2), "10.%u.%u.2/32", i >> 8, i & 0xff);
		snprintf(host, sizeof(host), "192.0.2.%u", i % 250);
		add_peer(device, (uint8_t)i, host, 25, ip1, ip2);
	}
	for (unsigned i = 0; i < 3000; i++)
		ops[i] = (struct ppn_wg_peer_op){PPN_WG_PEER_ADD, &device->peers[i],
						 PPN_WG_FIELD_ENDPOINT | PPN_WG_FIELD_ALLOWED_IPS |
							 PPN_WG_FIELD_KEEPALIVE};
	assert_int_equal(round_trip(&set, "errno=0\n\n"), 0);
	free(ops);
	ppn_wg_device_free(device);
}

static void test_wg_uapiset_nobody_listening(void **unused)
{
	struct ppn_wg_peer_op op = {.verb = PPN_WG_PEER_REMOVE};
	struct ppn_wg_set set = {.set_listen_port = true, .listen_port = 1, .ops = &op, .n_ops = 1};
	struct ppn_wg_device *device = ppn_wg_device_new("ppna0");

	op.peer = add_peer(device, 0x11, NULL, 0, "10.0.0.1/32", NULL);
	assert_int_equal(ppn_wg_uapi_set_device_at("/nonexistent/ppna0.sock", "ppna0", &set),
			 -ENODEV);
	assert_int_equal(set.device_result, -ENODEV);
	assert_int_equal(op.result, -ENODEV);
	ppn_wg_device_free(device);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wg_uapiset_request_text),
		cmocka_unit_test(test_wg_uapiset_without_key),
		cmocka_unit_test(test_wg_uapiset_replies),
		cmocka_unit_test(test_wg_uapiset_streamed),
		cmocka_unit_test(test_wg_uapiset_nobody_listening),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
