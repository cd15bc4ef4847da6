/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"
#include "util.h"

static void test_model_key_roundtrip(void **unused)
{
	const char *text = "Im2keTvARDkiQ5iKwaQKR0CT4Zk9debZTCDgKJNiGgc=";
	char back[PPN_KEY_B64_LEN + 1];
	struct ppn_key key;

	assert_int_equal(ppn_key_from_base64(&key, text), 0);
	ppn_key_to_base64(&key, back);
	assert_string_equal(back, text);
}

static void test_model_key_refuses_malformed(void **unused)
{
	struct ppn_key key;

	/* too short, no padding, double padding, not base64 */
	assert_int_equal(ppn_key_from_base64(&key, "Im2keTvARDkiQ5iKw="), -EINVAL);
	assert_int_equal(ppn_key_from_base64(&key, "Im2keTvARDkiQ5iKwaQKR0CT4Zk9debZTCDgKJNiGgcA"),
			 -EINVAL);
	assert_int_equal(ppn_key_from_base64(&key, "Im2keTvARDkiQ5iKwaQKR0CT4Zk9debZTCDgKJNiGg=="),
			 -EINVAL);
	assert_int_equal(ppn_key_from_base64(&key, "Im2keTvARDkiQ5iKwaQKR0CT4Zk9debZTCDgKJNiG!c="),
			 -EINVAL);
	/* What wg(8) refuses too: stray bits in the last character, '=' inside the text. */
	assert_int_equal(ppn_key_from_base64(&key, "Im2keTvARDkiQ5iKwaQKR0CT4Zk9debZTCDgKJNiGgB="),
			 -EINVAL);
	assert_int_equal(ppn_key_from_base64(&key, "Im2k=TvARDkiQ5iKwaQKR0CT4Zk9debZTCDgKJNiGgc="),
			 -EINVAL);
}

static void test_model_prefix_parse(void **unused)
{
	char text[PPN_PREFIX_STRLEN];
	struct ppn_prefix prefix;

	assert_int_equal(ppn_prefix_parse(&prefix, "10.77.0.0/24"), 0);
	assert_int_equal(prefix.family, AF_INET);
	assert_int_equal(prefix.len, 24);
	ppn_prefix_to_string(&prefix, true, text);
	assert_string_equal(text, "10.77.0.0/24");

	assert_int_equal(ppn_prefix_parse(&prefix, "10.77.0.3"), 0);
	assert_int_equal(prefix.len, 32);
	ppn_prefix_to_string(&prefix, false, text);
	assert_string_equal(text, "10.77.0.3/32");

	assert_int_equal(ppn_prefix_parse(&prefix, "fd77::1"), 0);
	assert_int_equal(prefix.family, AF_INET6);
	assert_int_equal(prefix.len, 128);
}

static void test_model_prefix_refuses_malformed(void **unused)
{
	struct ppn_prefix prefix;

	assert_int_equal(ppn_prefix_parse(&prefix, "10.77.0.1/24"), -EINVAL); /* host bits */
	assert_int_equal(ppn_prefix_parse(&prefix, "10.77.0.0/33"), -EINVAL);
	assert_int_equal(ppn_prefix_parse(&prefix, "10.77.0.0/024"), -EINVAL);
	assert_int_equal(ppn_prefix_parse(&prefix, "10.77.0"), -EINVAL);
	assert_int_equal(ppn_prefix_parse(&prefix, "/24"), -EINVAL);
}

static void test_model_prefix_contains(void **unused)
{
	struct ppn_prefix net, inside, outside, v6;

	assert_int_equal(ppn_prefix_parse(&net, "10.77.0.0/24"), 0);
	assert_int_equal(ppn_prefix_parse(&inside, "10.77.0.200"), 0);
	assert_int_equal(ppn_prefix_parse(&outside, "10.78.0.1"), 0);
	assert_int_equal(ppn_prefix_parse(&v6, "fd77::1"), 0);
	assert_true(ppn_prefix_contains(&net, &inside));
	assert_false(ppn_prefix_contains(&net, &outside));
	assert_false(ppn_prefix_contains(&net, &v6));
}

static void test_model_parse_uint_is_strict(void **unused)
{
	unsigned value;

	assert_int_equal(ppn_parse_uint("0", 10, &value), 0);
	assert_int_equal(value, 0);
	assert_int_equal(ppn_parse_uint("65535", 65535, &value), 0);
	assert_int_equal(ppn_parse_uint("65536", 65535, &value), -ERANGE);
	assert_int_equal(ppn_parse_uint("042", 100, &value), -EINVAL);
	assert_int_equal(ppn_parse_uint("+4", 100, &value), -EINVAL);
	assert_int_equal(ppn_parse_uint("", 100, &value), -EINVAL);
	assert_int_equal(ppn_parse_uint("99999999999999999999999", 100, &value), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_key_roundtrip),
		cmocka_unit_test(test_model_key_refuses_malformed),
		cmocka_unit_test(test_model_prefix_parse),
		cmocka_unit_test(test_model_prefix_refuses_malformed),
		cmocka_unit_test(test_model_prefix_contains),
		cmocka_unit_test(test_model_parse_uint_is_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
