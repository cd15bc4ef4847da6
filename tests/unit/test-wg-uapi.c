/* SPDX-License-Identifier: MIT */
/*
 * The UAPI reader against replies recorded from wireguard-go 0.0.20220316 (tests/data/wg-uapi/,
 * see its README), and against malformed variants of them.
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

#include "../integration/wg-text.h"
#include "wireguard/backend.h"

#include "util.h"
#include "wgconf.h"

/* wg pubkey of the recording's private keys, and the peers' keys, from `wg show dump`. */
#define KEY_R1 "AGk2xaU2mQ/PsOPUN2ZdNeXTSh2toqWvQEjn6pwIAzc="
#define KEY_R2 "ni3ZyfvWx4Y9UiQ4xFV0gfmf6g55jh/yeuZTEbb7WFg="
#define KEY_P3 "6kk2jsLl/D4PL+CHkJI42A2xue7eROtYbpQxvKe/v1k="
#define KEY_P4 "5E8kcL4ivpecNwSymRkywJtY7MkFrOTWt2EM9hmYXzQ="

static const char three_peers_text[] =
	"interface ppnw-r1\npresent no\npublic_key " KEY_R1 "\nlisten_port 51820\nmtu 0\nup no\n"
	/* peers in key order: 9e2d..., e44f..., ea49... */
	"peer " KEY_R2 " endpoint 10.201.0.2:51821\n"
	"peer " KEY_R2 " keepalive 0\n"
	"peer " KEY_R2 " allowed_ip 10.99.0.2/32\n"
	"peer " KEY_R2 " allowed_ip fd99::2/128\n"
	"peer " KEY_R2 " handshake 1796325665\n"
	"peer " KEY_R2 " rx 348\n"
	"peer " KEY_R2 " tx 404\n"
	"peer " KEY_P4 " endpoint none\n"
	"peer " KEY_P4 " keepalive 0\n"
	"peer " KEY_P4 " allowed_ip 10.99.4.0/24\n"
	"peer " KEY_P4 " allowed_ip 10.99.5.0/24\n"
	"peer " KEY_P4 " handshake 0\n"
	"peer " KEY_P4 " rx 0\n"
	"peer " KEY_P4 " tx 0\n"
	"peer " KEY_P3 " endpoint [2001:db8::3]:51820\n"
	"peer " KEY_P3 " keepalive 25\n"
	"peer " KEY_P3 " allowed_ip 10.99.3.0/24\n"
	"peer " KEY_P3 " handshake 0\n"
	"peer " KEY_P3 " rx 0\n"
	"peer " KEY_P3 " tx 0\n";

static char *data_path(const char *name)
{
	const char *dir = getenv("PPN_TEST_DATA");

	assert_non_null(dir);
	return ppn_xasprintf("%s/wg-uapi/%s", dir, name);
}

/* Parses a recorded reply into a new device named ifname; returns the parser's result. */
static int parse_file(const char *name, const char *ifname, struct ppn_wg_device **out)
{
	_cleanup_free_ char *path = data_path(name);
	FILE *reply = fopen(path, "r");
	int r;

	assert_non_null(reply);
	*out = ppn_wg_device_new(ifname);
	r = ppn_wg_uapi_parse(reply, *out);
	fclose(reply);
	return r;
}

static void assert_device_text(const struct ppn_wg_device *device, const char *expected)
{
	_cleanup_free_ char *text = wg_text_render(device);

	assert_string_equal(text, expected);
}

static void test_wg_uapi_three_peers(void **unused)
{
	struct ppn_wg_device *device;

	assert_int_equal(parse_file("get-three-peers.txt", "ppnw-r1", &device), 0);
	assert_device_text(device, three_peers_text);
	ppn_wg_device_free(device);
}

/* The other end of the recording: its public key is the one the first device lists. */
static void test_wg_uapi_one_peer(void **unused)
{
	struct ppn_wg_device *device;

	assert_int_equal(parse_file("get-one-peer.txt", "ppnw-r2", &device), 0);
	assert_device_text(device, "interface ppnw-r2\npresent no\npublic_key " KEY_R2
				   "\nlisten_port 51821\nmtu 0\nup no\n"
				   "peer " KEY_R1 " endpoint 10.201.0.1:51820\n"
				   "peer " KEY_R1 " keepalive 0\n"
				   "peer " KEY_R1 " allowed_ip 10.99.0.1/32\n"
				   "peer " KEY_R1 " handshake 1796325665\n"
				   "peer " KEY_R1 " rx 404\n"
				   "peer " KEY_R1 " tx 348\n");
	ppn_wg_device_free(device);
}

/* A daemon nobody configured: a random port, no key, no peers. */
static void test_wg_uapi_fresh_device(void **unused)
{
	struct ppn_wg_device *device;

	assert_int_equal(parse_file("get-fresh.txt", "ppnw-r3", &device), 0);
	assert_device_text(device, "interface ppnw-r3\npresent no\npublic_key none\n"
				   "listen_port 53083\nmtu 0\nup no\n");
	assert_false(device->has_public_key);
	ppn_wg_device_free(device);
}

static void test_wg_uapi_fwmark_is_read_and_skipped(void **unused)
{
	struct ppn_wg_device *device;

	assert_int_equal(parse_file("get-fwmark.txt", "ppnw-r3", &device), 0);
	assert_int_equal(device->listen_port, 40000);
	assert_int_equal(device->n_peers, 0);
	ppn_wg_device_free(device);
}

static void test_wg_uapi_unknown_keys_are_skipped(void **unused)
{
	struct ppn_wg_device *device;

	assert_int_equal(parse_file("unknown-keys.txt", "ppnw-x", &device), 0);
	assert_int_equal(device->listen_port, 51820);
	assert_int_equal(device->n_peers, 1);
	assert_int_equal(device->peers[0].n_allowed_ips, 1);
	ppn_wg_device_free(device);
}

/* A refused request keeps its own errno, and leaves the device as it was. */
static void test_wg_uapi_errno_reply(void **unused)
{
	struct ppn_wg_device *device;

	assert_int_equal(parse_file("errno-invalid.txt", "ppnw-x", &device), -EINVAL);
	assert_device_text(device, "interface ppnw-x\npresent no\npublic_key none\n"
				   "listen_port 0\nmtu 0\nup no\n");
	ppn_wg_device_free(device);
}

/* Every malformed reply is -EPROTO and changes nothing in the device. */
static void test_wg_uapi_malformed(void **unused)
{
	static const char *const files[] = {
		"bad-hex-public-key.txt",
		"short-private-key.txt",
		"missing-errno.txt",
		"bad-endpoint.txt",
		"bad-allowed-ip.txt",
		"allowed-ip-before-peer.txt",
		"errno-without-blank-line.txt",
	};

	for (size_t i = 0; i < PPN_ARRAY_SIZE(files); i++) {
		struct ppn_wg_device *device;

		assert_int_equal(parse_file(files[i], "ppnw-x", &device), -EPROTO);
		assert_false(device->has_public_key);
		assert_int_equal(device->listen_port, 0);
		assert_int_equal(device->n_peers, 0);
		ppn_wg_device_free(device);
	}
}

/* Serves one connection on listener: checks the request is exactly "get=1\n\n", then sends
 * the recorded reply. Exits 0 when the request was right. */
static void serve_one(int listener, const char *reply_path)
{
	char request[64] = "";
	size_t got = 0;
	int fd = accept(listener, NULL, NULL);
	FILE *reply = fopen(reply_path, "r");
	char chunk[4096];
	size_t n;

	if (fd < 0 || !reply)
		_exit(2);
	while (got < sizeof(request) - 1 && !strstr(request, "\n\n")) {
		ssize_t r = read(fd, request + got, sizeof(request) - 1 - got);

		if (r <= 0)
			_exit(3);
		got += (size_t)r;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), reply)) > 0)
		if (write(fd, chunk, n) != (ssize_t)n)
			_exit(4);
	_exit(strcmp(request, "get=1\n\n") == 0 ? 0 : 1);
}

static int listen_at(const char *path)
{
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(address.sun_path));
	strcpy(address.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(fd, 1), 0);
	return fd;
}

/* The whole client: connect, request, read the reply off a real unix socket. */
static void test_wg_uapi_socket_round_trip(void **unused)
{
	char dir[] = "/tmp/ppn-test-wg-uapi.XXXXXX";
	_cleanup_free_ char *reply_path = data_path("get-three-peers.txt");
	_cleanup_free_ char *socket_path = NULL;
	struct ppn_wg_device *device = ppn_wg_device_new("ppnw-r1");
	int listener, status;
	pid_t child;

	assert_non_null(mkdtemp(dir));
	socket_path = ppn_xasprintf("%s/ppnw-r1.sock", dir);
	listener = listen_at(socket_path);
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		serve_one(listener, reply_path);
	close(listener);

	assert_int_equal(ppn_wg_uapi_get_device_at(socket_path, device), 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_device_text(device, three_peers_text);

	unlink(socket_path);
	rmdir(dir);
	ppn_wg_device_free(device);
}

static void test_wg_uapi_nobody_listening(void **unused)
{
	struct ppn_wg_device *device = ppn_wg_device_new("ppnw-none");

	assert_int_equal(ppn_wg_uapi_get_device_at("/nonexistent/ppnw-none.sock", device), -ENODEV);
	assert_int_equal(device->n_peers, 0);
	ppn_wg_device_free(device);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wg_uapi_three_peers),
		cmocka_unit_test(test_wg_uapi_one_peer),
		cmocka_unit_test(test_wg_uapi_fresh_device),
		cmocka_unit_test(test_wg_uapi_fwmark_is_read_and_skipped),
		cmocka_unit_test(test_wg_uapi_unknown_keys_are_skipped),
		cmocka_unit_test(test_wg_uapi_errno_reply),
		cmocka_unit_test(test_wg_uapi_malformed),
		cmocka_unit_test(test_wg_uapi_socket_round_trip),
		cmocka_unit_test(test_wg_uapi_nobody_listening),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
