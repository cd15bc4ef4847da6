/* SPDX-License-Identifier: MIT */
/*
 * The userspace backend: wireguard-go's UAPI, a line protocol of key=value pairs on a unix
 * socket. A "get=1" request is answered with the device's keys, then one block per peer that
 * starts with its public_key, then "errno=N" and an empty line. Keys are hex. Setting is in
 * uapiset.c, starting wireguard-go in launch.c.
 */
#include "backend.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* How long a silent daemon is waited for; a reply for 10,000 peers takes under 0.1 s. */
#define UAPI_TIMEOUT_S 10

struct uapi_parser {
	struct ppn_wg_device *device;
	struct ppn_wg_peer *peer; /* the block being read; NULL before the first public_key */
	bool have_errno;
	int status;             /* the reply's errno, negative */
	const char *failed_key; /* the known key whose value was malformed, for the log */
	bool truncated;         /* the reply ended before its errno and empty line */
};

static int key_from_hex(struct ppn_key *out, const char *hex)
{
	size_t len;

	if (strlen(hex) != 2 * PPN_KEY_LEN)
		return -EPROTO;
	if (OPENSSL_hexstr2buf_ex(out->bytes, sizeof(out->bytes), &len, hex, '\0') != 1)
		return -EPROTO;
	return len == PPN_KEY_LEN ? 0 : -EPROTO;
}

/* X25519: the public key is the private key times the base point. */
static int public_from_private(const struct ppn_key *private_key, struct ppn_key *out)
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, private_key->bytes,
						      PPN_KEY_LEN);
	size_t len = PPN_KEY_LEN;
	int ok;

	if (!pkey)
		return -EPROTO;
	ok = EVP_PKEY_get_raw_public_key(pkey, out->bytes, &len) == 1 && len == PPN_KEY_LEN;
	EVP_PKEY_free(pkey);
	return ok ? 0 : -EPROTO;
}

static int set_private_key(struct uapi_parser *parser, const char *value)
{
	struct ppn_key secret, public_key;
	int r = key_from_hex(&secret, value);

	if (r == 0)
		r = public_from_private(&secret, &public_key);
	ppn_wipe(&secret, sizeof(secret));
	if (r < 0)
		return r;

	parser->device->public_key = public_key;
	parser->device->has_public_key = true;
	return 0;
}

static int set_listen_port(struct uapi_parser *parser, const char *value)
{
	unsigned port;

	if (ppn_parse_uint(value, UINT16_MAX, &port) < 0)
		return -EPROTO;
	parser->device->listen_port = (uint16_t)port;
	return 0;
}

static int start_peer(struct uapi_parser *parser, const char *value)
{
	struct ppn_key key;

	if (key_from_hex(&key, value) < 0)
		return -EPROTO;
	parser->peer = ppn_wg_device_add_peer(parser->device, &key);
	return 0;
}

static int set_endpoint(struct uapi_parser *parser, const char *value)
{
	struct ppn_endpoint endpoint;

	if (ppn_wg_endpoint_parse(value, &endpoint) < 0)
		return -EPROTO;
	free(parser->peer->endpoint.host);
	parser->peer->endpoint = endpoint;
	return 0;
}

static int set_keepalive(struct uapi_parser *parser, const char *value)
{
	unsigned seconds;

	if (ppn_parse_uint(value, UINT16_MAX, &seconds) < 0)
		return -EPROTO;
	parser->peer->keepalive_s = (uint16_t)seconds;
	return 0;
}

static int set_handshake(struct uapi_parser *parser, const char *value)
{
	uint64_t seconds;

	if (ppn_parse_u64(value, INT64_MAX, &seconds) < 0)
		return -EPROTO;
	parser->peer->last_handshake_s = (int64_t)seconds;
	return 0;
}

static int set_rx_bytes(struct uapi_parser *parser, const char *value)
{
	return ppn_parse_u64(value, UINT64_MAX, &parser->peer->rx_bytes) < 0 ? -EPROTO : 0;
}

static int set_tx_bytes(struct uapi_parser *parser, const char *value)
{
	return ppn_parse_u64(value, UINT64_MAX, &parser->peer->tx_bytes) < 0 ? -EPROTO : 0;
}

static int add_allowed_ip(struct uapi_parser *parser, const char *value)
{
	struct ppn_prefix prefix;

	if (ppn_prefix_parse(&prefix, value) < 0)
		return -EPROTO;
	ppn_wg_peer_add_allowed_ip(parser->peer, &prefix);
	return 0;
}

/* "errno=0" or "errno=-22"; the sign is not trusted, an error is made negative. */
static int set_errno(struct uapi_parser *parser, const char *value)
{
	unsigned number;

	if (ppn_parse_uint(value[0] == '-' ? value + 1 : value, 4095, &number) < 0)
		return -EPROTO;
	parser->have_errno = true;
	parser->status = -(int)number;
	return 0;
}

/* A value that is read and not kept: checked only for being there. */
static int ignore_value(struct uapi_parser *parser, const char *value)
{
	return 0;
}

struct uapi_key {
	const char *key;
	bool in_peer; /* true: only valid after a public_key line */
	int (*handle)(struct uapi_parser *parser, const char *value);
};

static const struct uapi_key uapi_keys[] = {
	{"private_key", false, set_private_key},
	{"listen_port", false, set_listen_port},
	{"fwmark", false, ignore_value},
	{"public_key", false, start_peer},
	{"preshared_key", true, ignore_value},
	{"protocol_version", true, ignore_value},
	{"endpoint", true, set_endpoint},
	{"persistent_keepalive_interval", true, set_keepalive},
	{"last_handshake_time_sec", true, set_handshake},
	{"last_handshake_time_nsec", true, ignore_value},
	{"rx_bytes", true, set_rx_bytes},
	{"tx_bytes", true, set_tx_bytes},
	{"allowed_ip", true, add_allowed_ip},
	{"errno", false, set_errno},
};

static const struct uapi_key *find_key(const char *key)
{
	for (size_t i = 0; i < PPN_ARRAY_SIZE(uapi_keys); i++)
		if (strcmp(uapi_keys[i].key, key) == 0)
			return &uapi_keys[i];
	return NULL;
}

/* Handles one line without its newline: 0 to go on, 1 at the end of the reply, or -EPROTO. */
static int parse_line(struct uapi_parser *parser, char *line)
{
	const struct uapi_key *known;
	char *equals;
	int r;

	if (line[0] == '\0')
		return parser->have_errno ? 1 : -EPROTO;
	if (parser->have_errno)
		return -EPROTO;

	equals = strchr(line, '=');
	if (!equals)
		return -EPROTO;
	*equals = '\0';

	known = find_key(line);
	if (!known) {
		ppn_debug("wireguard/interface '%s': skipping UAPI key '%s'",
			  parser->device->ifname, line);
		return 0;
	}
	parser->failed_key = known->key;
	if (known->in_peer && !parser->peer)
		return -EPROTO;
	r = known->handle(parser, equals + 1);
	if (r == 0)
		parser->failed_key = NULL;
	return r;
}

/* Reads lines until the reply ends. Every line is wiped once read: one held a private key. */
static int parse_lines(struct uapi_parser *parser, FILE *reply, unsigned *line_number)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0, read_errno;

	while ((len = getline(&line, &cap, reply)) >= 0) {
		++*line_number;
		if (len > 0 && line[len - 1] == '\n') {
			line[len - 1] = '\0';
			r = parse_line(parser, line);
		} else {
			parser->truncated = true; /* cut off inside this line */
			r = -EPROTO;
		}
		ppn_wipe(line, cap);
		if (r != 0)
			break;
	}
	read_errno = errno;
	if (line)
		ppn_wipe(line, cap);
	free(line);

	if (r == 0 && ferror(reply))
		return read_errno == EAGAIN || read_errno == EWOULDBLOCK ? -ETIMEDOUT : -read_errno;
	if (r == 0) {
		parser->truncated = true;
		return -EPROTO;
	}
	return r;
}

/* One line for a reply that could not be used, naming the line but never a value. */
static void log_failure(const struct uapi_parser *parser, const char *ifname, int r,
			unsigned line_number)
{
	if (r == parser->status)
		ppn_err("wireguard/interface '%s': wireguard-go refused to report the device: %s",
			ifname, strerror(-r));
	else if (r == -EPROTO && parser->truncated)
		ppn_err("wireguard/interface '%s': the UAPI reply ended early, after line %u",
			ifname, line_number);
	else if (r == -EPROTO && parser->failed_key)
		ppn_err("wireguard/interface '%s': malformed UAPI reply: bad '%s' at line %u",
			ifname, parser->failed_key, line_number);
	else if (r == -EPROTO)
		ppn_err("wireguard/interface '%s': malformed UAPI reply at line %u", ifname,
			line_number);
	else
		ppn_err("wireguard/interface '%s': cannot read the UAPI reply: %s", ifname,
			strerror(-r));
}

int ppn_wg_uapi_parse(FILE *reply, struct ppn_wg_device *into)
{
	struct ppn_wg_device *device = ppn_wg_device_new(into->ifname);
	struct uapi_parser parser = {.device = device};
	unsigned line_number = 0;
	int r = parse_lines(&parser, reply, &line_number);

	if (r == 1)
		r = parser.status; /* the reply is whole: its own errno decides */
	if (r < 0) {
		log_failure(&parser, into->ifname, r, line_number);
	} else {
		ppn_wg_device_normalize(device);
		ppn_wg_device_take_config(into, device);
	}

	ppn_wg_device_free(device);
	return r;
}

int ppn_wg_uapi_connect(const char *path)
{
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	struct timeval timeout = {.tv_sec = UAPI_TIMEOUT_S};
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(path) >= sizeof(address.sun_path))
		return -ENAMETOOLONG;
	strcpy(address.sun_path, path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0)
		return errno == ENOENT || errno == ECONNREFUSED ? -ENODEV : -errno;

	r = fd;
	fd = -1;
	return r;
}

static int send_request(int fd)
{
	static const char request[] = "get=1\n\n";
	ssize_t sent = send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL);

	if (sent < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	return (size_t)sent == sizeof(request) - 1 ? 0 : -EIO;
}

/* The reply passes through a stdio buffer of ours, so that it can be wiped afterwards. */
static int read_reply(int fd, struct ppn_wg_device *into)
{
	char buffer[BUFSIZ];
	FILE *reply = fdopen(fd, "r");
	int r;

	if (!reply) {
		r = -errno;
		close(fd);
		return r;
	}
	setvbuf(reply, buffer, _IOFBF, sizeof(buffer));
	r = ppn_wg_uapi_parse(reply, into);
	fclose(reply);
	ppn_wipe(buffer, sizeof(buffer));
	return r;
}

int ppn_wg_uapi_get_device_at(const char *path, struct ppn_wg_device *into)
{
	int fd = ppn_wg_uapi_connect(path);
	int r;

	if (fd < 0) {
		if (fd != -ENODEV)
			ppn_err("wireguard/interface '%s': cannot connect to '%s': %s",
				into->ifname, path, strerror(-fd));
		return fd;
	}

	r = send_request(fd);
	if (r < 0) {
		ppn_err("wireguard/interface '%s': cannot send a request to '%s': %s", into->ifname,
			path, strerror(-r));
		close(fd);
		return r;
	}
	return read_reply(fd, into);
}

char *ppn_wg_uapi_socket_path(const char *ifname)
{
	return ppn_xasprintf("%s/%s.sock", PPN_WG_UAPI_DIR, ifname);
}

/* As wg(8) decides: a socket file under the UAPI directory means wireguard-go serves it. */
static int userspace_probe(const char *ifname)
{
	_cleanup_free_ char *path = ppn_wg_uapi_socket_path(ifname);
	struct stat st;

	if (stat(path, &st) < 0) {
		int r = -errno;

		if (r == -ENOENT)
			return 0;
		ppn_err("wireguard/interface '%s': cannot look at '%s': %s", ifname, path,
			strerror(-r));
		return r;
	}
	return S_ISSOCK(st.st_mode) ? 1 : 0;
}

static int userspace_get_device(const char *ifname, struct ppn_wg_device *into)
{
	_cleanup_free_ char *path = ppn_wg_uapi_socket_path(ifname);
	int r = ppn_wg_uapi_get_device_at(path, into);

	if (r == -ENODEV)
		ppn_err("wireguard/interface '%s': no wireguard-go listens on '%s'", ifname, path);
	return r;
}

const struct ppn_wg_backend ppn_wg_backend_userspace = {
	.name = "userspace",
	.description = "wireguard-go (userspace API)",
	.probe = userspace_probe,
	.get_device = userspace_get_device,
	.create = ppn_wg_userspace_start,
	.set_device = ppn_wg_uapi_set_device,
};
