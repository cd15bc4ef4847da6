/* SPDX-License-Identifier: MIT */
/*
 * Changing a wireguard-go device: one "set=1" request carries every change of a pass, and
 * wireguard-go answers "errno=N" and an empty line. Peers the request does not name are left
 * alone, so their sessions survive. Keys are hex.
 */
#include "backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "diff.h"
#include "log.h"
#include "util.h"

/* Longer than any reply to a set request ("errno=-4095", an empty line). */
#define REPLY_MAX 64

/* The body goes out in pieces of about this size while the rest is written, so that
 * wireguard-go works on the first peers of a large set while later ones are still being made. */
#define SEND_CHUNK (64 * 1024)

static void append(struct ppn_wg_uapi_request *request, const char *text, size_t len)
{
	ppn_grow(&request->body, &request->body_cap, request->body_len + len + 1, 1);
	memcpy(request->body + request->body_len, text, len);
	request->body_len += len;
	request->body[request->body_len] = '\0';
}

static void append_text(struct ppn_wg_uapi_request *request, const char *text)
{
	append(request, text, strlen(text));
}

/* Writes "name=<hex of key>\n" to out, which has room for it; returns its length. */
static size_t key_line(char *out, const char *name, const uint8_t key[PPN_KEY_LEN])
{
	static const char digits[] = "0123456789abcdef";
	size_t len = strlen(name);

	memcpy(out, name, len);
	out[len++] = '=';
	for (size_t i = 0; i < PPN_KEY_LEN; i++) {
		out[len++] = digits[key[i] >> 4];
		out[len++] = digits[key[i] & 0xf];
	}
	out[len++] = '\n';
	return len;
}

static void append_key(struct ppn_wg_uapi_request *request, const char *name,
		       const uint8_t key[PPN_KEY_LEN])
{
	char line[32 + 2 * PPN_KEY_LEN];

	append(request, line, key_line(line, name, key));
}

static void append_number(struct ppn_wg_uapi_request *request, const char *name, unsigned value)
{
	char digits[16];
	size_t len = ppn_wg_decimal_format(digits, value);

	digits[len++] = '\n';
	append_text(request, name);
	append_text(request, "=");
	append(request, digits, len);
}

/* An IPv6 literal goes in brackets, which a host may already carry. */
static void append_endpoint(struct ppn_wg_uapi_request *request,
			    const struct ppn_endpoint *endpoint)
{
	bool brackets = strchr(endpoint->host, ':') && endpoint->host[0] != '[';
	char port[16];
	size_t len = 0;

	append_text(request, brackets ? "endpoint=[" : "endpoint=");
	append_text(request, endpoint->host);
	if (brackets)
		port[len++] = ']';
	port[len++] = ':';
	len += ppn_wg_decimal_format(port + len, endpoint->port);
	port[len++] = '\n';
	append(request, port, len);
}

static void append_allowed_ips(struct ppn_wg_uapi_request *request, const struct ppn_wg_peer *peer)
{
	static const char key[] = "allowed_ip=";

	append_text(request, "replace_allowed_ips=true\n");
	for (size_t i = 0; i < peer->n_allowed_ips; i++) {
		char line[sizeof(key) + PPN_PREFIX_STRLEN + 1];
		size_t len = sizeof(key) - 1;

		memcpy(line, key, len);
		len += ppn_wg_prefix_format(line + len, &peer->allowed_ips[i]);
		line[len++] = '\n';
		append(request, line, len);
	}
}

/*
 * update_only must follow public_key directly: wireguard-go creates the peer on that line and
 * only drops it again when update_only comes next.
 */
static void append_op(struct ppn_wg_uapi_request *request, const struct ppn_wg_peer_op *op)
{
	const struct ppn_wg_peer *peer = op->peer;

	append_key(request, "public_key", peer->public_key.bytes);
	if (op->verb == PPN_WG_PEER_REMOVE) {
		append_text(request, "remove=true\n");
		return;
	}
	if (op->verb == PPN_WG_PEER_UPDATE)
		append_text(request, "update_only=true\n");
	if ((op->fields & PPN_WG_FIELD_ENDPOINT) && peer->endpoint.host)
		append_endpoint(request, &peer->endpoint);
	if (op->fields & PPN_WG_FIELD_KEEPALIVE)
		append_number(request, "persistent_keepalive_interval", peer->keepalive_s);
	if (op->fields & PPN_WG_FIELD_ALLOWED_IPS)
		append_allowed_ips(request, peer);
}

/* The head, and the device's own lines that start the body. */
static void start_request(struct ppn_wg_uapi_request *request, const struct ppn_wg_set *set)
{
	static const char verb[] = "set=1\n";

	*request = (struct ppn_wg_uapi_request){0};
	memcpy(request->head, verb, sizeof(verb) - 1);
	request->head_len = sizeof(verb) - 1;
	if (set->private_key)
		request->head_len += key_line(request->head + request->head_len, "private_key",
					      set->private_key->bytes);

	if (set->set_listen_port)
		append_number(request, "listen_port", set->listen_port);
}

void ppn_wg_uapi_request_build(struct ppn_wg_uapi_request *request, const struct ppn_wg_set *set)
{
	start_request(request, set);
	for (size_t i = 0; i < set->n_ops; i++)
		append_op(request, &set->ops[i]);
	append_text(request, "\n");
}

void ppn_wg_uapi_request_release(struct ppn_wg_uapi_request *request)
{
	ppn_wipe(request->head, sizeof(request->head));
	request->head_len = 0;
	free(request->body);
	request->body = NULL;
	request->body_len = request->body_cap = 0;
}

static int send_all(int fd, const char *data, size_t size)
{
	while (size > 0) {
		ssize_t sent = send(fd, data, size, MSG_NOSIGNAL);

		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		data += sent;
		size -= (size_t)sent;
	}
	return 0;
}

static bool reply_complete(const char *reply, size_t len)
{
	return len >= 2 && reply[len - 2] == '\n' && reply[len - 1] == '\n';
}

/* Reads "errno=N" and the empty line; returns -N (the sign is not trusted) or -EPROTO. */
static int read_errno(int fd)
{
	char reply[REPLY_MAX];
	const char *value;
	size_t len = 0;
	unsigned number;

	while (!reply_complete(reply, len)) {
		ssize_t got = recv(fd, reply + len, sizeof(reply) - 1 - len, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (got == 0)
			return -EPROTO;
		len += (size_t)got;
		if (len == sizeof(reply) - 1 && !reply_complete(reply, len))
			return -EPROTO;
	}
	reply[len - 2] = '\0';

	if (strncmp(reply, "errno=", 6) != 0)
		return -EPROTO;
	value = reply[6] == '-' ? reply + 7 : reply + 6;
	if (ppn_parse_uint(value, 4095, &number) < 0)
		return -EPROTO;
	return -(int)number;
}

/* Sends what the body holds and empties it. */
static int send_body(int fd, struct ppn_wg_uapi_request *request)
{
	int r = send_all(fd, request->body, request->body_len);

	request->body_len = 0;
	return r;
}

/*
 * The same text as ppn_wg_uapi_request_build() makes, sent as it is made: the head first
 * (then wiped), the body whenever it holds a chunk.
 */
static int stream_request(int fd, const struct ppn_wg_set *set)
{
	struct ppn_wg_uapi_request request;
	int r;

	start_request(&request, set);
	r = send_all(fd, request.head, request.head_len);
	for (size_t i = 0; r == 0 && i < set->n_ops; i++) {
		append_op(&request, &set->ops[i]);
		if (request.body_len >= SEND_CHUNK)
			r = send_body(fd, &request);
	}
	if (r == 0) {
		append_text(&request, "\n");
		r = send_body(fd, &request);
	}
	ppn_wg_uapi_request_release(&request);
	return r;
}

int ppn_wg_uapi_set_device_at(const char *path, const char *ifname, struct ppn_wg_set *set)
{
	_cleanup_close_ int fd = ppn_wg_uapi_connect(path);
	int r = fd < 0 ? fd : stream_request(fd, set);

	if (r == 0)
		r = read_errno(fd);

	set->device_result = r;
	for (size_t i = 0; i < set->n_ops; i++)
		set->ops[i].result = r;
	if (r < 0)
		ppn_err("wireguard/interface '%s': the set request to '%s' failed: %s", ifname,
			path, strerror(-r));
	else
		ppn_debug("wireguard/interface '%s': sent %zu peer operation%s in one UAPI request",
			  ifname, set->n_ops, set->n_ops == 1 ? "" : "s");
	return r;
}

int ppn_wg_uapi_set_device(const char *ifname, struct ppn_wg_set *set)
{
	_cleanup_free_ char *path = ppn_wg_uapi_socket_path(ifname);

	return ppn_wg_uapi_set_device_at(path, ifname, set);
}
