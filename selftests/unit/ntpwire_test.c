// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Host unit tests for ntpkctl's NTP wire helpers (userspace/ntpwire.c),
 * KTAP output.
 *
 * The fixed dates are literal constants, the same as ntp_test.c checks
 * against the module's packet core.  Then ntpwire and kmod/ntp.c are run
 * side by side on pseudo-random values: ntpkctl parses and prints the
 * timestamps the module puts on the wire, so the two must agree to the bit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktap.h"
#include "ntp.h"
#include "ntpwire.h"

#define NSEC_PER_SEC	1000000000LL
#define ERA0_END	2085978496LL	/* 2036-02-07 06:28:16 UTC, era 1 second 0 */
#define Y2040		2208988800LL	/* 2040-01-01 00:00:00 UTC */

static uint8_t *xmalloc(size_t len)
{
	uint8_t *p = malloc(len);

	if (!p && len) {
		perror("malloc");
		exit(1);
	}
	return p;
}

/* ---- constants and header fields ----------------------------------- */

static void test_constants(void)
{
	CHECK_EQ(NW_PKT_LEN, 48, "packet length");
	CHECK_EQ(NW_MODE_CLIENT, 3, "client mode");
	CHECK_EQ(NW_MODE_SERVER, 4, "server mode");
	CHECK_EQ(NW_LEAP_UNSYNC, 3, "leap unsynchronised");
	CHECK_EQ(NW_STRATUM_MAX, 15, "stratum");
	CHECK_EQ(NW_UNIX_OFFSET, 2208988800LL, "1900 to 1970");
	CHECK_EQ(NW_OFF_LVM, 0, "LI VN Mode");
	CHECK_EQ(NW_OFF_STRATUM, 1, "stratum");
	CHECK_EQ(NW_OFF_POLL, 2, "poll");
	CHECK_EQ(NW_OFF_PRECISION, 3, "precision");
	CHECK_EQ(NW_OFF_ROOT_DELAY, 4, "root delay");
	CHECK_EQ(NW_OFF_ROOT_DISP, 8, "root dispersion");
	CHECK_EQ(NW_OFF_REFID, 12, "reference id");
	CHECK_EQ(NW_OFF_REFTIME, 16, "reference timestamp");
	CHECK_EQ(NW_OFF_ORIGIN, 24, "origin timestamp");
	CHECK_EQ(NW_OFF_RX, 32, "receive timestamp");
	CHECK_EQ(NW_OFF_TX, 40, "transmit timestamp");
	/* the module reads and writes the same wire */
	CHECK_EQ(NW_PKT_LEN, NTP_PKT_LEN, "module");
	CHECK_EQ(NW_OFF_ROOT_DELAY, NTP_OFF_ROOT_DELAY, "module");
	CHECK_EQ(NW_OFF_REFTIME, NTP_OFF_REFTIME, "module");
	CHECK_EQ(NW_OFF_ORIGIN, NTP_OFF_ORIGIN, "module");
	CHECK_EQ(NW_OFF_RX, NTP_OFF_RX, "module");
	CHECK_EQ(NW_OFF_TX, NTP_OFF_TX, "module");
}

static void test_lvm(void)
{
	unsigned int leap, version, mode;
	uint8_t *pkt = xmalloc(1);

	for (leap = 0; leap < 4; leap++)
	for (version = 0; version < 8; version++)
	for (mode = 0; mode < 8; mode++) {
		pkt[0] = nw_lvm(leap, version, mode);
		CHECK_EQ(pkt[0], leap << 6 | version << 3 | mode,
			 "li %u vn %u mode %u", leap, version, mode);
		CHECK_EQ(nw_leap(pkt), leap, "byte 0x%02x", pkt[0]);
		CHECK_EQ(nw_version(pkt), version, "byte 0x%02x", pkt[0]);
		CHECK_EQ(nw_mode(pkt), mode, "byte 0x%02x", pkt[0]);
	}
	CHECK_EQ(nw_lvm(0, 4, NW_MODE_CLIENT), 0x23, "follow's request");
	free(pkt);
}

static void test_be_fields(void)
{
	static const uint8_t b[8] = { 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67 };
	uint8_t *p4 = xmalloc(4), *p8 = xmalloc(8), *buf = xmalloc(NW_PKT_LEN);
	int i, k;

	/* the top bit set: no sign extension anywhere */
	memcpy(p4, b, 4);
	memcpy(p8, b, 8);
	CHECK_EQ(nw_get_be32(p4), 0x89abcdefU, "get_be32");
	CHECK_EQ(nw_get_be64(p8), 0x89abcdef01234567ULL, "get_be64");

	nw_put_be32(p4, 0xfedcba98U);
	CHECK_EQ(memcmp(p4, "\xfe\xdc\xba\x98", 4), 0, "put_be32");
	nw_put_be64(p8, 0x0123456789abcdefULL);
	CHECK_EQ(memcmp(p8, "\x01\x23\x45\x67\x89\xab\xcd\xef", 8), 0, "put_be64");

	/* a field written in a packet leaves the bytes around it alone */
	memset(buf, 0xa5, NW_PKT_LEN);
	nw_put_be32(buf + NW_OFF_ROOT_DISP, 0x00010203U);
	nw_put_be64(buf + NW_OFF_TX, 0x1112131415161718ULL);
	for (i = 0; i < NW_PKT_LEN; i++) {
		uint8_t want = 0xa5;

		if (i >= NW_OFF_ROOT_DISP && i < NW_OFF_ROOT_DISP + 4)
			want = (uint8_t)(i - NW_OFF_ROOT_DISP);
		if (i >= NW_OFF_TX)
			want = (uint8_t)(0x11 + i - NW_OFF_TX);
		CHECK_EQ(buf[i], want, "byte %d", i);
	}

	rng_seed(10);
	for (k = 0; k < 10000; k++) {
		uint64_t v = rng();

		nw_put_be64(p8, v);
		CHECK_EQ(nw_get_be64(p8), v, "be64 round trip");
		for (i = 0; i < 8; i++)
			CHECK_EQ(p8[i], (uint8_t)(v >> (56 - 8 * i)), "be64 byte %d", i);
		nw_put_be32(p4, (uint32_t)v);
		CHECK_EQ(nw_get_be32(p4), (uint32_t)v, "be32 round trip");
	}
	free(p4);
	free(p8);
	free(buf);
}

/* ---- Unix to NTP: fixed dates --------------------------------------- */

static void test_ts_from_unix_1900(void)
{
	CHECK_EQ(nw_ts_from_unix(-2208988800LL, 0), 0x0000000000000000ULL, "1900-01-01");
	CHECK_EQ(nw_ts_from_unix(-2208988800LL + 1, 0), 0x0000000100000000ULL, "1900-01-01 00:00:01");
	CHECK_EQ(nw_ts_from_unix(-2208988800LL - 1, 0), 0xffffffff00000000ULL, "1899-12-31 23:59:59");
}

static void test_ts_from_unix_1970(void)
{
	CHECK_EQ(nw_ts_from_unix(0, 0), 0x83aa7e8000000000ULL, "1970-01-01");
	CHECK_EQ(nw_ts_from_unix(946684800LL, 0), 0xbc17c20000000000ULL, "2000-01-01");
}

static void test_ts_from_unix_2036(void)
{
	CHECK_EQ(nw_ts_from_unix(ERA0_END, 0), 0x0000000000000000ULL, "2036 rollover");
	CHECK_EQ(nw_ts_from_unix(ERA0_END - 1, 999999999), 0xfffffffffffffffbULL, "last ns of era 0");
	CHECK_EQ(nw_ts_from_unix(ERA0_END + 1, 500000000), 0x0000000180000000ULL, "era 1 second 1.5");
}

static void test_ts_from_unix_2040(void)
{
	/* era 1 second 123010304 */
	CHECK_EQ(nw_ts_from_unix(Y2040, 0), 0x0754fd0000000000ULL, "2040-01-01");
}

static void test_frac_from_nsec(void)
{
	static const struct {
		uint32_t nsec;
		uint32_t frac;
	} tab[] = {
		{ 0, 0x00000000 },
		{ 1, 0x00000004 },		/* 4.294967296 rounded down */
		{ 250000000, 0x40000000 },
		{ 500000000, 0x80000000 },
		{ 999999999, 0xfffffffb },	/* 4294967291.705 rounded down */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tab); i++) {
		CHECK_EQ(nw_frac_from_nsec(tab[i].nsec), tab[i].frac, "nsec %u", tab[i].nsec);
		CHECK_EQ(nw_ts_from_unix(0, tab[i].nsec),
			 0x83aa7e8000000000ULL | tab[i].frac, "1970, nsec %u", tab[i].nsec);
		CHECK_EQ(nw_ts_from_unix(ERA0_END, tab[i].nsec),
			 tab[i].frac, "era 1, nsec %u", tab[i].nsec);
	}
}

/* ---- NTP to Unix: fixed dates and the era pivot --------------------- */

static void check_to_unix(uint64_t ts, int64_t pivot, int64_t want_sec,
			  uint32_t want_nsec, const char *what)
{
	int64_t sec = 0x5a5a5a5a;
	uint32_t nsec = 0x5a5a5a5a;

	nw_ts_to_unix(ts, pivot, &sec, &nsec);
	CHECK_EQ(sec, want_sec, "%s", what);
	CHECK_EQ(nsec, want_nsec, "%s", what);
}

static void test_ts_to_unix_known(void)
{
	check_to_unix(0x0000000000000000ULL, -2000000000LL, -2208988800LL, 0, "1900, pivot 1906");
	check_to_unix(0x83aa7e8000000000ULL, 1700000000LL, 0, 0, "1970, pivot 2023");
	check_to_unix(0x83aa7e8080000000ULL, 0, 0, 500000000, "1970.5, pivot 1970");
	check_to_unix(0x83aa7e80fffffffbULL, 1700000000LL, 0, 999999999, "1970 + 999999999 ns");
	check_to_unix(0xbc17c20000000000ULL, 1700000000LL, 946684800LL, 0, "2000, pivot 2023");
	check_to_unix(0x0000000000000000ULL, 1700000000LL, ERA0_END, 0, "era 1 second 0, pivot 2023");
	check_to_unix(0x0000000000000004ULL, 1700000000LL, ERA0_END, 1, "era 1 + 1 ns, pivot 2023");
	check_to_unix(0xffffffff00000000ULL, ERA0_END, ERA0_END - 1, 0, "last second of era 0, pivot 2036");
	check_to_unix(0x0754fd0000000000ULL, ERA0_END, Y2040, 0, "2040, pivot 2036");
	check_to_unix(0x0754fd0000000000ULL, 0, Y2040 - (1LL << 32), 0, "2040 bits, pivot 1970 (1904)");
	check_to_unix(0x83aa7e8000000000ULL, ERA0_END + (1LL << 31), 1LL << 32, 0, "1970 bits, pivot 2104 (2106)");
}

/* Up from 0xfffffffc the fraction rounds up to a whole second. */
static void test_ts_to_unix_carry(void)
{
	check_to_unix(0x83aa7e80fffffffbULL, 0, 0, 999999999, "frac 0xfffffffb");
	check_to_unix(0x83aa7e80fffffffcULL, 0, 1, 0, "frac 0xfffffffc");
	check_to_unix(0x83aa7e80ffffffffULL, 0, 1, 0, "frac 0xffffffff");
	/* carried across the era rollover */
	check_to_unix(0xffffffffffffffffULL, 1700000000LL, ERA0_END, 0, "end of era 0, pivot 2023");
	check_to_unix(0xffffffffffffffffULL, ERA0_END, ERA0_END, 0, "end of era 0, pivot 2036");
}

/* The era chosen puts the result within 2^31 s of the pivot. */
static void test_ts_to_unix_era_window(void)
{
	static const int64_t pivots[] = { -2208988800LL, 0, 1700000000LL, ERA0_END,
					  Y2040, 4000000000LL, -7000000000LL };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pivots); i++) {
		int64_t p = pivots[i];

		check_to_unix(nw_ts_from_unix(p, 0), p, p, 0, "at the pivot");
		check_to_unix(nw_ts_from_unix(p - (1LL << 31), 5), p, p - (1LL << 31), 5,
			      "2^31 s before");
		check_to_unix(nw_ts_from_unix(p + (1LL << 31) - 1, 5), p, p + (1LL << 31) - 1, 5,
			      "2^31 - 1 s after");
		/* one second further: the same bits, an era earlier */
		check_to_unix(nw_ts_from_unix(p + (1LL << 31), 5), p, p - (1LL << 31), 5,
			      "2^31 s after");
		check_to_unix(nw_ts_from_unix(p + (3LL << 32) + 9, 5), p, p + 9, 5,
			      "three eras after");
	}
}

/* ---- round trips ----------------------------------------------------- */

static void roundtrip(int64_t s, uint32_t ns, int64_t pivot)
{
	int64_t sec = 0x5a5a5a5a;
	uint32_t nsec = 0x5a5a5a5a;

	nw_ts_to_unix(nw_ts_from_unix(s, ns), pivot, &sec, &nsec);
	if (sec != s || nsec != ns)
		diag("round trip %" PRId64 ".%09u pivot %" PRId64 " gave %" PRId64 ".%09u",
		     s, ns, pivot, sec, nsec);
}

static void test_ts_roundtrip_dates(void)
{
	static const int64_t secs[] = { -2208988800LL, 0, 946684800LL, 1700000000LL,
					ERA0_END - 1, ERA0_END, Y2040 };
	static const uint32_t start[] = { 0, 500000000 - (1 << 15), 1000000000 - (1 << 16) };
	size_t i, r;
	uint32_t ns;

	for (i = 0; i < ARRAY_SIZE(secs); i++)
		for (r = 0; r < ARRAY_SIZE(start); r++)
			for (ns = start[r]; ns < start[r] + (1 << 16); ns++) {
				roundtrip(secs[i], ns, secs[i]);
				/* 34 years either side: still the same era */
				roundtrip(secs[i], ns, secs[i] + (1LL << 30));
				roundtrip(secs[i], ns, secs[i] - (1LL << 30));
			}
}

static void test_ts_roundtrip_random(void)
{
	int k;

	rng_seed(11);
	for (k = 0; k < 200000; k++) {
		/* pivot anywhere in +-2^40 s, value within 2^31 s of it */
		int64_t pivot = (int64_t)(rng() % (2ULL << 40)) - (1LL << 40);
		int64_t delta = (int64_t)(rng() % (1ULL << 32)) - (1LL << 31);
		uint32_t ns = (uint32_t)(rng() % NSEC_PER_SEC);

		roundtrip(pivot + delta, ns, pivot);
	}
}

/* ---- against the module's packet core -------------------------------- */

static void test_agree_from_unix(void)
{
	static const uint32_t edge_ns[] = { 0, 1, 2, 3, 4, 5, 499999999, 500000000,
					    999999995, 999999996, 999999999 };
	int64_t sec;
	uint32_t nsec;
	size_t i;
	int k;

	rng_seed(12);
	for (k = 0; k < 100000; k++) {
		sec = (int64_t)(rng() % (2ULL << 40)) - (1LL << 40);
		nsec = k < 1000 ? edge_ns[k % ARRAY_SIZE(edge_ns)] :
				  (uint32_t)(rng() % NSEC_PER_SEC);
		CHECK_EQ(nw_ts_from_unix(sec, nsec), ntp_ts_from_unix(sec, nsec),
			 "sec %" PRId64 " nsec %u", sec, nsec);
		CHECK_EQ(nw_frac_from_nsec(nsec), (uint32_t)ntp_ts_from_unix(0, nsec),
			 "nsec %u", nsec);
	}
	for (i = 0; i < ARRAY_SIZE(edge_ns); i++)
		for (sec = ERA0_END - 2; sec <= ERA0_END + 1; sec++)
			CHECK_EQ(nw_ts_from_unix(sec, edge_ns[i]),
				 ntp_ts_from_unix(sec, edge_ns[i]),
				 "sec %" PRId64 " nsec %u", sec, edge_ns[i]);
}

static void agree_to_unix(uint64_t ts, int64_t pivot)
{
	int64_t sec, ksec;
	uint32_t nsec, knsec;

	nw_ts_to_unix(ts, pivot, &sec, &nsec);
	ntp_ts_to_unix(ts, pivot, &ksec, &knsec);
	CHECK_EQ(sec, ksec, "ts 0x%016" PRIx64 " pivot %" PRId64, ts, pivot);
	CHECK_EQ(nsec, knsec, "ts 0x%016" PRIx64 " pivot %" PRId64, ts, pivot);
}

static void test_agree_to_unix(void)
{
	uint64_t f;
	int k;

	rng_seed(13);
	for (k = 0; k < 100000; k++) {
		uint64_t ts = rng();
		int64_t pivot = (int64_t)(rng() % (2ULL << 40)) - (1LL << 40);

		agree_to_unix(ts, pivot);
		agree_to_unix(ts, 1700000000LL);
	}
	/* the fractions at both ends, where rounding and carrying happen */
	for (f = 0; f < 0x1000; f++) {
		agree_to_unix(0x83aa7e8000000000ULL | f, 0);
		agree_to_unix(0x83aa7e8000000000ULL | (0xffffffffULL - f), 0);
		agree_to_unix(0xffffffff00000000ULL | (0xffffffffULL - f), ERA0_END - 1);
		agree_to_unix(0xffffffff00000000ULL | (0xffffffffULL - f), ERA0_END);
	}
}

/* ---- runner -------------------------------------------------------- */

static const struct ktap_test tests[] = {
	T(constants),
	T(lvm),
	T(be_fields),
	T(ts_from_unix_1900),
	T(ts_from_unix_1970),
	T(ts_from_unix_2036),
	T(ts_from_unix_2040),
	T(frac_from_nsec),
	T(ts_to_unix_known),
	T(ts_to_unix_carry),
	T(ts_to_unix_era_window),
	T(ts_roundtrip_dates),
	T(ts_roundtrip_random),
	T(agree_from_unix),
	T(agree_to_unix),
};

int main(void)
{
	return ktap_run(tests, ARRAY_SIZE(tests));
}
