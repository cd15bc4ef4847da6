/* SPDX-License-Identifier: MIT */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "util.h"

void ppn_secret_key_wipe(struct ppn_secret_key *secret)
{
	ppn_wipe(secret, sizeof(*secret));
}

int ppn_keys_public(const struct ppn_secret_key *secret, struct ppn_key *public_key)
{
	EVP_PKEY *pkey =
		EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret->bytes, PPN_KEY_LEN);
	size_t len = PPN_KEY_LEN;
	int r = 0;

	if (!pkey)
		return -EINVAL;
	if (EVP_PKEY_get_raw_public_key(pkey, public_key->bytes, &len) != 1 || len != PPN_KEY_LEN)
		r = -EINVAL;
	EVP_PKEY_free(pkey);
	return r;
}

/* Clamped as `wg genkey` does, so that the stored key is the one the device will use. */
static int generate_secret(struct ppn_secret_key *secret)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	size_t len = PPN_KEY_LEN;
	int r = 0;

	if (!pkey)
		return -EIO;
	if (EVP_PKEY_get_raw_private_key(pkey, secret->bytes, &len) != 1 || len != PPN_KEY_LEN)
		r = -EIO;
	EVP_PKEY_free(pkey);

	secret->bytes[0] &= 248;
	secret->bytes[31] = (secret->bytes[31] & 127) | 64;
	return r;
}

/* Written aside with mode 0600 from the start, synced, then renamed into place. */
static int store_secret(const char *state_dir, const struct ppn_secret_key *secret, bool replace)
{
	_cleanup_free_ char *path = ppn_xasprintf("%s/%s", state_dir, PPN_KEY_FILE);
	_cleanup_free_ char *tmp = ppn_xasprintf("%s/.%s.new", state_dir, PPN_KEY_FILE);
	char text[PPN_KEY_B64_LEN + 2];
	int fd, r;

	EVP_EncodeBlock((unsigned char *)text, secret->bytes, PPN_KEY_LEN);
	text[PPN_KEY_B64_LEN] = '\n';
	text[PPN_KEY_B64_LEN + 1] = '\0';

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = ppn_write_all(fd, text, PPN_KEY_B64_LEN + 1);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);

	/* link() refuses to overwrite, which is what a first start needs. */
	if (r == 0 && replace && rename(tmp, path) < 0)
		r = -errno;
	if (r == 0 && !replace && link(tmp, path) < 0)
		r = -errno;
	unlink(tmp);
out:
	ppn_wipe(text, sizeof(text));
	return r;
}

int ppn_keys_generate(const char *state_dir, bool replace, struct ppn_key *public_key)
{
	struct ppn_secret_key secret;
	int r;

	r = generate_secret(&secret);
	if (r == 0)
		r = ppn_keys_public(&secret, public_key);
	if (r == 0)
		r = store_secret(state_dir, &secret, replace);

	ppn_secret_key_wipe(&secret);
	return r;
}

static int read_key_text(int fd, char *text, size_t size)
{
	ssize_t n = read(fd, text, size - 1);

	if (n < 0)
		return -errno;
	text[n] = '\0';
	if (n == PPN_KEY_B64_LEN + 1 && text[PPN_KEY_B64_LEN] == '\n')
		text[PPN_KEY_B64_LEN] = '\0';
	return 0;
}

int ppn_keys_load(const char *state_dir, struct ppn_secret_key *secret)
{
	_cleanup_free_ char *path = ppn_xasprintf("%s/%s", state_dir, PPN_KEY_FILE);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char text[PPN_KEY_B64_LEN + 8];
	struct ppn_key decoded;
	struct stat st;
	int r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		ppn_err("key '%s': readable by others (mode %04o); expected 0600", path,
			(unsigned)(st.st_mode & 07777));
		return -EPERM;
	}

	r = read_key_text(fd, text, sizeof(text));
	if (r == 0)
		r = ppn_key_from_base64(&decoded, text);
	if (r == 0)
		memcpy(secret->bytes, decoded.bytes, PPN_KEY_LEN);

	ppn_wipe(text, sizeof(text));
	ppn_wipe(&decoded, sizeof(decoded));
	return r;
}

int ppn_keys_ensure(const char *state_dir, struct ppn_key *public_key)
{
	struct ppn_secret_key secret;
	int r = ppn_keys_load(state_dir, &secret);

	if (r == -ENOENT) {
		r = ppn_keys_generate(state_dir, false, public_key);
		if (r == 0)
			ppn_info("key '%s/%s': created a new WireGuard key pair", state_dir,
				 PPN_KEY_FILE);
		return r;
	}
	if (r == 0)
		r = ppn_keys_public(&secret, public_key);
	ppn_secret_key_wipe(&secret);
	return r;
}
