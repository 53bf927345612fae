// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit cases for the NTP packet core (ntp.c), run in kernel context on the
 * debug test kernel by scripts/check-debug: the same cases as the host unit
 * tests in selftests/unit/ntp_test.c, so the code ntpk.ko runs is proven
 * with the kernel's compiler flags, div_u64() and KASAN watching the
 * buffers.  Expected values are computed here independently of ntp.c.
 * A second suite, ntpk_state, checks the state's age and freshness
 * (netns.h) at clock values no test run lives to see.
 *
 * The randomised loops run a tenth of the host's iterations: under TCG
 * with KASAN every iteration costs a hundred times more, and the host
 * tests already cover the range.
 *
 * ntp.c is included rather than linked, so that this module carries its own
 * copy and needs nothing exported from ntpk.ko.
 */
#include <kunit/test.h>
#include <linux/math64.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/time.h>

#include "ntp.c"
#include "netns.h"

#define MAX_DIAG	8	/* failure messages printed per test */

static unsigned int fails;	/* failed checks in the current test */

#define diag(test, fmt, ...) do {					\
	if (fails == MAX_DIAG)						\
		kunit_info(test, "(further failures of this test not shown)"); \
	if (fails++ < MAX_DIAG)						\
		KUNIT_FAIL(test, fmt, ##__VA_ARGS__);			\
	else								\
		kunit_set_failure(test);				\
} while (0)

#define CHECK_EQ(test, got, want, fmt, ...) do {			\
	unsigned long long _g = (unsigned long long)(got);		\
	unsigned long long _w = (unsigned long long)(want);		\
	if (_g != _w)							\
		diag(test, "%s = 0x%llx, want 0x%llx (" fmt ")",	\
		     #got, _g, _w, ##__VA_ARGS__);			\
} while (0)

/* splitmix64: a fixed seed makes every run check the same values. */
static u64 rng_state;

static void rng_seed(u64 seed)
{
	rng_state = seed;
}

static u64 rng(void)
{
	u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Exactly len bytes, so that KASAN reports any access beyond them. */
static u8 *alloc_pkt(struct kunit *test, size_t len)
{
	u8 *p = kunit_kmalloc(test, len, GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	return p;
}

/* An independent big-endian writer for building expected packets. */
static void be_put(u8 *p, u64 v, int bytes)
{
	int i;

	for (i = bytes - 1; i >= 0; i--) {
		p[i] = (u8)v;
		v >>= 8;
	}
}

static void show_pkt_diff(struct kunit *test, const u8 *got, const u8 *want,
			  const char *what)
{
	int i;

	for (i = 0; i < NTP_PKT_LEN; i++)
		if (got[i] != want[i])
			diag(test, "%s: byte %d = 0x%02x, want 0x%02x",
			     what, i, got[i], want[i]);
}

/* ---- timestamps ---------------------------------------------------- */

/* floor(nsec * 2^32 / 1e9), the documented fraction; nsec < 2^30. */
static u32 frac_of(u32 nsec)
{
	return (u32)(((u64)nsec << 32) / NSEC_PER_SEC);
}

static void ts_from_unix_1900(struct kunit *test)
{
	CHECK_EQ(test, ntp_ts_from_unix(-2208988800LL, 0), 0x0000000000000000ULL, "1900-01-01");
	CHECK_EQ(test, ntp_ts_from_unix(-2208988800LL + 1, 0), 0x0000000100000000ULL, "1900-01-01 00:00:01");
	CHECK_EQ(test, ntp_ts_from_unix(-2208988800LL - 1, 0), 0xffffffff00000000ULL, "1899-12-31 23:59:59");
}

static void ts_from_unix_1970(struct kunit *test)
{
	CHECK_EQ(test, ntp_ts_from_unix(0, 0), 0x83aa7e8000000000ULL, "1970-01-01");
	/* 2000-01-01 00:00:00 UTC */
	CHECK_EQ(test, ntp_ts_from_unix(946684800LL, 0), 0xbc17c20000000000ULL, "2000-01-01");
}

static void ts_from_unix_2036(struct kunit *test)
{
	/* 2036-02-07 06:28:16 UTC: era 1, second 0 */
	CHECK_EQ(test, ntp_ts_from_unix(2085978496LL, 0), 0x0000000000000000ULL, "2036 rollover");
	CHECK_EQ(test, ntp_ts_from_unix(2085978495LL, 999999999), 0xfffffffffffffffbULL, "last ns of era 0");
	CHECK_EQ(test, ntp_ts_from_unix(2085978497LL, 500000000), 0x0000000180000000ULL, "era 1 second 1.5");
}

static void ts_from_unix_2040(struct kunit *test)
{
	/* 2040-01-01 00:00:00 UTC is Unix 2208988800, era 1 second 123010304 */
	CHECK_EQ(test, ntp_ts_from_unix(2208988800LL, 0), 0x0754fd0000000000ULL, "2040-01-01");
}

static void ts_from_unix_fraction(struct kunit *test)
{
	static const struct {
		u32 nsec;
		u32 frac;
	} tab[] = {
		{ 0, 0x00000000 },
		{ 1, 0x00000004 },		/* 4.294967296 rounded down */
		{ 500000000, 0x80000000 },
		{ 250000000, 0x40000000 },
		{ 999999999, 0xfffffffb },	/* 4294967291.705 rounded down */
	};
	size_t i;
	int k;

	for (i = 0; i < ARRAY_SIZE(tab); i++) {
		CHECK_EQ(test, ntp_ts_from_unix(0, tab[i].nsec),
			 0x83aa7e8000000000ULL | tab[i].frac, "nsec %u", tab[i].nsec);
		CHECK_EQ(test, ntp_ts_from_unix(2085978496LL, tab[i].nsec),
			 tab[i].frac, "era 1, nsec %u", tab[i].nsec);
	}
	rng_seed(1);
	for (k = 0; k < 20000; k++) {
		u32 nsec = (u32)(rng() % NSEC_PER_SEC);
		s64 sec = (s64)(rng() % 10000000000ULL) - 5000000000LL;
		u64 want = ((u64)(u32)(sec + 2208988800LL) << 32) | frac_of(nsec);

		CHECK_EQ(test, ntp_ts_from_unix(sec, nsec), want, "sec %lld nsec %u", sec, nsec);
	}
}

static void ts_to_unix_known(struct kunit *test)
{
	s64 sec;
	u32 nsec;

	ntp_ts_to_unix(0x83aa7e8080000000ULL, 0, &sec, &nsec);
	CHECK_EQ(test, sec, 0, "1970.5");
	CHECK_EQ(test, nsec, 500000000, "1970.5");

	ntp_ts_to_unix(0x83aa7e80fffffffbULL, 1700000000LL, &sec, &nsec);
	CHECK_EQ(test, sec, 0, "1970 + 999999999 ns, pivot 2023");
	CHECK_EQ(test, nsec, 999999999, "1970 + 999999999 ns, pivot 2023");

	ntp_ts_to_unix(0x0000000000000004ULL, 1700000000LL, &sec, &nsec);
	CHECK_EQ(test, sec, 2085978496LL, "era 1 second 0, pivot 2023");
	CHECK_EQ(test, nsec, 1, "era 1 second 0, pivot 2023");

	ntp_ts_to_unix(0x0000000000000000ULL, -1000000000LL, &sec, &nsec);
	CHECK_EQ(test, sec, -2208988800LL, "era 0 second 0, pivot 1938");
	CHECK_EQ(test, nsec, 0, "era 0 second 0, pivot 1938");

	ntp_ts_to_unix(0x0754fd0000000000ULL, 2085978496LL, &sec, &nsec);
	CHECK_EQ(test, sec, 2208988800LL, "2040, pivot 2036");

	ntp_ts_to_unix(0x0754fd0000000000ULL, 0, &sec, &nsec);
	CHECK_EQ(test, sec, 2208988800LL - 4294967296LL, "2040 bits, pivot 1970 (era 0: 1904)");
}

static void roundtrip(struct kunit *test, s64 s, u32 ns, s64 pivot)
{
	s64 sec = 0x5a5a5a5a;
	u32 nsec = 0x5a5a5a5a;

	ntp_ts_to_unix(ntp_ts_from_unix(s, ns), pivot, &sec, &nsec);
	if (sec != s || nsec != ns)
		diag(test, "round trip %lld.%09u pivot %lld gave %lld.%09u",
		     s, ns, pivot, sec, nsec);
}

static void ts_roundtrip_nsec_ranges(struct kunit *test)
{
	static const s64 secs[] = { 0, 1700000000LL, 2085978495LL, 2085978496LL,
				    -2208988800LL };
	static const u32 start[] = { 0, 500000000 - (1 << 16), 1000000000 - (1 << 17) };
	size_t i, r;
	u32 ns;

	for (i = 0; i < ARRAY_SIZE(secs); i++)
		for (r = 0; r < ARRAY_SIZE(start); r++)
			for (ns = start[r]; ns < start[r] + (1 << 17); ns++)
				roundtrip(test, secs[i], ns, secs[i]);
}

static void ts_roundtrip_random(struct kunit *test)
{
	int k;

	rng_seed(2);
	for (k = 0; k < 200000; k++) {
		/* pivot anywhere in +-2^40 s, value within 2^31 s of it */
		s64 pivot = (s64)(rng() % (2ULL << 40)) - (1LL << 40);
		s64 delta = (s64)(rng() % (1ULL << 32)) - (1LL << 31);
		u32 ns = (u32)(rng() % NSEC_PER_SEC);

		roundtrip(test, pivot + delta, ns, pivot);
	}
}

static void ts_roundtrip_era_2036(struct kunit *test)
{
	static const s64 pivots[] = {
		2085978496LL - 1000000000LL,	/* 2004: before the rollover */
		1700000000LL,			/* 2023 */
		2085978495LL,			/* the last second of era 0 */
		2085978496LL,			/* the first second of era 1 */
		2085978496LL + 1000000000LL,	/* 2067: after it */
		2208988800LL,			/* 2040 */
	};
	size_t i;
	s64 s;
	u32 ns;

	for (i = 0; i < ARRAY_SIZE(pivots); i++) {
		for (s = 2085978496LL - 10000; s < 2085978496LL + 10000; s++) {
			ns = (u32)((u64)s * 2654435761U % NSEC_PER_SEC);
			roundtrip(test, s, ns, pivots[i]);
		}
		roundtrip(test, 2085978495LL, 999999999, pivots[i]);
		roundtrip(test, 2085978496LL, 0, pivots[i]);
		roundtrip(test, 2085978496LL, 1, pivots[i]);
	}
}

/* The era chosen is the one within 2^31 s (68 years) of the pivot. */
static void ts_to_unix_era_window(struct kunit *test)
{
	static const s64 pivots[] = { -2208988800LL, 0, 1700000000LL,
				      2085978496LL, 4000000000LL, -7000000000LL };
	static const s64 off[] = { 1LL << 31, (1LL << 32) + 5,
				   -(1LL << 31) - 7, -(5LL << 32) };
	size_t i, k;
	s64 s, sec;
	u32 nsec;

	for (i = 0; i < ARRAY_SIZE(pivots); i++) {
		s64 p = pivots[i];

		roundtrip(test, p - (1LL << 31) + 1, 123, p);
		roundtrip(test, p + (1LL << 31) - 1, 999999999, p);
		roundtrip(test, p, 0, p);
		/* outside the window: same second of the era, moved into it */
		for (k = 0; k < ARRAY_SIZE(off); k++) {
			s = p + off[k];
			ntp_ts_to_unix(ntp_ts_from_unix(s, 7), p, &sec, &nsec);
			if ((u32)(sec - s) != 0 || sec - p > (1LL << 31) ||
			    p - sec > (1LL << 31) || nsec != 7)
				diag(test, "ts of %lld with pivot %lld gave %lld.%09u",
				     s, p, sec, nsec);
		}
	}
}

/*
 * Any 64-bit timestamp, not only those made by ntp_ts_from_unix(), must
 * convert to a normalised (sec, nsec) within one nanosecond of its exact
 * value: nsec < 1e9.  128-bit products and differences only; the kernel
 * has no 128-bit division.
 */
static void check_to_unix_any(struct kunit *test, u64 ts, s64 pivot)
{
	s64 sec;
	u32 nsec;
	__int128 exact, got;

	ntp_ts_to_unix(ts, pivot, &sec, &nsec);
	if (nsec >= NSEC_PER_SEC) {
		diag(test, "ts 0x%016llx pivot %lld: nsec %u is not below 1000000000 (sec %lld)",
		     ts, pivot, nsec, sec);
		return;
	}
	/* both in units of 2^-32 ns, relative to the second the era gives */
	exact = (__int128)(u32)ts * NSEC_PER_SEC;
	got = ((__int128)(sec - pivot - (s32)((u32)(ts >> 32) -
		(u32)(pivot + 2208988800LL))) * NSEC_PER_SEC + nsec) << 32;
	if (got - exact >= ((__int128)1 << 32) || exact - got >= ((__int128)1 << 32))
		diag(test, "ts 0x%016llx pivot %lld: %lld.%09u is not within 1 ns",
		     ts, pivot, sec, nsec);
}

static void ts_to_unix_nsec_normalized(struct kunit *test)
{
	u64 f;
	int k;

	for (f = 0; f < 0x2000; f++) {
		check_to_unix_any(test, 0x83aa7e8000000000ULL | f, 0);
		check_to_unix_any(test, 0x83aa7e8000000000ULL | (0xffffffffULL - f), 0);
		check_to_unix_any(test, 0xffffffff00000000ULL | (0xffffffffULL - f), 2085978495LL);
	}
	rng_seed(3);
	for (k = 0; k < 100000; k++)
		check_to_unix_any(test, rng(), 1700000000LL);
}

/* ---- request check ------------------------------------------------- */

static enum ntp_verdict expected_verdict(size_t len, int mode, int version)
{
	if (len < 48)
		return NTP_REQ_SHORT;
	if (len > 48)
		return NTP_REQ_EXTENSIONS;
	if (mode != 3)
		return NTP_REQ_NOT_MODE3;
	if (version < 1 || version > 4)
		return NTP_REQ_BAD_VERSION;
	return NTP_REQ_OK;
}

static void check_request_len(struct kunit *test, size_t len)
{
	int mode, version, li, fill, n;
	size_t i;
	u8 *pkt;

	/* Every fill, LI, version and mode: 3 * 4 * 8 * 8 packets. */
	for (n = 0; n < 3 * 4 * 8 * 8; n++) {
		fill = n / (4 * 8 * 8);
		li = n / (8 * 8) % 4;
		version = n / 8 % 8;
		mode = n % 8;
		/* kmalloc(0) gives ZERO_SIZE_PTR: any access faults */
		pkt = len ? alloc_pkt(test, len) : ZERO_SIZE_PTR;
		for (i = 0; i < len; i++)
			pkt[i] = fill == 0 ? 0 : fill == 1 ? 0xff : (u8)rng();
		if (len)
			pkt[0] = (u8)(li << 6 | version << 3 | mode);
		CHECK_EQ(test, ntp_check_request(pkt, len),
			 expected_verdict(len, mode, version),
			 "len %zu li %d vn %d mode %d fill %d", len, li, version, mode, fill);
		if (len)
			kunit_kfree(test, pkt);
	}
}

#define CHECK_REQUEST_TEST(n)					\
static void check_request_len_##n(struct kunit *test)		\
{								\
	rng_seed(100 + n);					\
	check_request_len(test, n);				\
}
CHECK_REQUEST_TEST(0)
CHECK_REQUEST_TEST(1)
CHECK_REQUEST_TEST(47)
CHECK_REQUEST_TEST(48)
CHECK_REQUEST_TEST(49)
CHECK_REQUEST_TEST(68)
CHECK_REQUEST_TEST(72)
CHECK_REQUEST_TEST(1000)

/* ---- replies ------------------------------------------------------- */

/* A 48-byte request with random filler and the given header. */
static u8 *make_request(struct kunit *test, int li, int version, s8 poll,
			u64 tx)
{
	u8 *pkt = alloc_pkt(test, NTP_PKT_LEN);
	int i;

	for (i = 0; i < NTP_PKT_LEN; i++)
		pkt[i] = (u8)rng();
	pkt[0] = (u8)(li << 6 | version << 3 | 3);
	pkt[2] = (u8)poll;
	be_put(pkt + 40, tx, 8);
	return pkt;
}

static void build_reply_golden(struct kunit *test)
{
	static const u8 req[48] = {
		0xe3, 0x00, 0x06, 0xec,		/* LI 3, VN 4, mode 3; poll 6 */
		0x00, 0x01, 0x00, 0x00,
		0x00, 0x01, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
		0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
		0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0xf0, 0x0d,
	};
	static const u8 want[48] = {
		0x64, 0x02, 0x06, 0xe9,		/* LI 1, VN 4, mode 4; stratum 2; poll 6; precision -23 */
		0x00, 0x00, 0x12, 0x34,		/* root delay */
		0x00, 0x00, 0x0a, 0xbc,		/* root dispersion: the argument */
		0xc0, 0xa8, 0x00, 0x01,		/* refid */
		0xe8, 0xf1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,	/* reftime */
		0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0xf0, 0x0d,	/* origin */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,	/* rx */
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,	/* tx */
	};
	const struct ntp_server_state st = {
		.leap = 1, .stratum = 2, .precision = -23,
		.root_delay = 0x00001234, .root_disp = 0x0000ffff,
		.refid = 0xc0a80001, .reftime = 0xe8f1d2c3b4a59687ULL,
	};
	u8 *pkt = alloc_pkt(test, NTP_PKT_LEN);

	memcpy(pkt, req, sizeof(req));
	CHECK_EQ(test, ntp_check_request(pkt, NTP_PKT_LEN), NTP_REQ_OK, "golden request");
	ntp_build_reply(pkt, &st, 0x00000abc, -128, 0x0102030405060708ULL);
	/* before ntp_set_tx() the transmit field is still the request's */
	CHECK_EQ(test, memcmp(pkt + 40, req + 40, 8), 0, "tx untouched before ntp_set_tx");
	ntp_set_tx(pkt, 0x1112131415161718ULL);
	show_pkt_diff(test, pkt, want, "golden reply");
}

static void check_reply_version(struct kunit *test, int version)
{
	static const s8 polls[] = { -128, -6, -1, 0, 6, 10, 17, 127 };
	static const s8 precs[] = { -128, -32, -20, -1, 0, 5, 127 };
	size_t p, q, n;
	int leap, i;

	rng_seed(200 + version);
	/* Every leap, poll and precision, in this order. */
	for (n = 0; n < 4 * ARRAY_SIZE(polls) * ARRAY_SIZE(precs); n++) {
		leap = n / (ARRAY_SIZE(polls) * ARRAY_SIZE(precs));
		p = n / ARRAY_SIZE(precs) % ARRAY_SIZE(polls);
		q = n % ARRAY_SIZE(precs);
		struct ntp_server_state st = {
			.leap = (u8)leap,
			.stratum = (u8)(1 + rng() % 15),
			.precision = precs[q],
			.root_delay = (u32)rng(),
			.root_disp = (u32)rng(),
			.refid = (u32)rng(),
			.reftime = rng(),
		};
		u32 disp = (u32)rng();
		/* half without a rate limit, half with one of -19 .. 12 */
		s8 minp = rng() & 1 ? -128 : (s8)((int)(rng() % 32) - 19);
		u64 rx = rng(), tx = rng(), otx = rng();
		u8 *pkt = make_request(test, (int)(rng() & 3), version,
				       polls[p], otx);
		u8 want[48];
		char what[96];

		want[0] = (u8)(leap << 6 | version << 3 | 4);
		want[1] = st.stratum;
		want[2] = (u8)(polls[p] > minp ? polls[p] : minp);
		want[3] = (u8)precs[q];
		be_put(want + 4, st.root_delay, 4);
		be_put(want + 8, disp, 4);
		be_put(want + 12, st.refid, 4);
		be_put(want + 16, st.reftime, 8);
		be_put(want + 24, otx, 8);
		be_put(want + 32, rx, 8);
		be_put(want + 40, otx, 8);	/* not yet set */

		ntp_build_reply(pkt, &st, disp, minp, rx);
		snprintf(what, sizeof(what), "v%d leap %d poll %d/%d prec %d before tx",
			 version, leap, polls[p], minp, precs[q]);
		show_pkt_diff(test, pkt, want, what);

		ntp_set_tx(pkt, tx);
		be_put(want + 40, tx, 8);
		snprintf(what, sizeof(what), "v%d leap %d poll %d/%d prec %d",
			 version, leap, polls[p], minp, precs[q]);
		show_pkt_diff(test, pkt, want, what);
		/* the reply is never taken for a request */
		CHECK_EQ(test, ntp_check_request(pkt, NTP_PKT_LEN), NTP_REQ_NOT_MODE3, "%s", what);
		for (i = 0; i < 8; i++)
			CHECK_EQ(test, pkt[24 + i], (u8)(otx >> (56 - 8 * i)), "origin byte %d", i);
		kunit_kfree(test, pkt);
	}
}

static void build_reply_v1(struct kunit *test) { check_reply_version(test, 1); }
static void build_reply_v2(struct kunit *test) { check_reply_version(test, 2); }
static void build_reply_v3(struct kunit *test) { check_reply_version(test, 3); }
static void build_reply_v4(struct kunit *test) { check_reply_version(test, 4); }

static void build_kod(struct kunit *test)
{
	static const s8 req_polls[] = { -128, -6, 0, 3, 6, 10, 17, 127 };
	static const s8 rl_polls[] = { -19, -6, 0, 6, 12, 17 };
	size_t a, b, n;
	int version;

	rng_seed(300);
	/* Every version 1-4, request poll and rate limit poll, in order. */
	for (n = 0; n < 4 * ARRAY_SIZE(req_polls) * ARRAY_SIZE(rl_polls); n++) {
		version = 1 + n / (ARRAY_SIZE(req_polls) * ARRAY_SIZE(rl_polls));
		a = n / ARRAY_SIZE(rl_polls) % ARRAY_SIZE(req_polls);
		b = n % ARRAY_SIZE(rl_polls);
		u64 rx = rng(), tx = rng(), otx = rng();
		u8 *pkt = make_request(test, (int)(rng() & 3), version,
				       req_polls[a], otx);
		s8 poll = max(req_polls[a], rl_polls[b]);
		u8 want[48];
		char what[80];

		memset(want, 0, sizeof(want));
		want[0] = (u8)(3 << 6 | version << 3 | 4);
		want[1] = 0;
		want[2] = (u8)poll;
		want[3] = 0;
		want[12] = 'R';
		want[13] = 'A';
		want[14] = 'T';
		want[15] = 'E';
		be_put(want + 24, otx, 8);
		be_put(want + 32, rx, 8);
		be_put(want + 40, tx, 8);

		ntp_build_kod(pkt, rl_polls[b], rx);
		ntp_set_tx(pkt, tx);
		snprintf(what, sizeof(what), "kod v%d req poll %d rl poll %d",
			 version, req_polls[a], rl_polls[b]);
		show_pkt_diff(test, pkt, want, what);
		kunit_kfree(test, pkt);
	}
}

static void set_tx(struct kunit *test)
{
	static const u8 want[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	u8 *pkt = alloc_pkt(test, NTP_PKT_LEN);
	int i;

	memset(pkt, 0xa5, NTP_PKT_LEN);
	ntp_set_tx(pkt, 0x0123456789abcdefULL);
	for (i = 0; i < 40; i++)
		CHECK_EQ(test, pkt[i], 0xa5, "byte %d", i);
	for (i = 0; i < 8; i++)
		CHECK_EQ(test, pkt[40 + i], want[i], "tx byte %d", i);
}

/* ---- state and dispersion ------------------------------------------ */

static void state_synced(struct kunit *test)
{
	static const u8 strata[] = { 0, 1, 2, 15, 16, 255 };
	struct ntp_server_state st;
	size_t s;
	int leap;

	for (leap = 0; leap < 4; leap++)
		for (s = 0; s < ARRAY_SIZE(strata); s++) {
			memset(&st, 0xff, sizeof(st));
			st.leap = (u8)leap;
			st.stratum = strata[s];
			CHECK_EQ(test, ntp_state_synced(&st),
				 leap != 3 && strata[s] >= 1 && strata[s] <= 15,
				 "leap %d stratum %u", leap, strata[s]);
		}
}

#define PHI_PPB		15000	/* RFC 5905 PHI, NTPK_DISP_RATE_DEFAULT */
#define AGE_MAX		(1ULL << 50)
#define E18		1000000000000000000ULL

static u64 phi(void)
{
	return ntp_disp_mult(PHI_PPB);
}

static u32 saturate(u32 disp, __uint128_t inc)
{
	return inc > 0xffffffffULL - disp ? 0xffffffffU : disp + (u32)inc;
}

/*
 * The exact growth: rate ppb in 16.16 seconds per ns is rate * 65536 / 1e18;
 * rounded up.  What ntp_disp_add() may exceed by one unit, never undercut.
 */
static u32 disp_exact(u32 disp, u64 age, u32 rate)
{
	/*
	 * age * rate * 2^16 / (2^18 * 5^18) is age * rate / (4 * 5^18); the
	 * kernel has no 128-bit division, so the quotient comes from
	 * mul_u64_u64_div_u64() and the rounding from comparing products.
	 */
	const u64 den = 4 * 3814697265625ULL;
	u64 q = mul_u64_u64_div_u64(age, rate, den);

	if ((__uint128_t)q * den != (__uint128_t)age * rate)
		q++;
	return saturate(disp, q);
}

/*
 * The multiplier as documented: rate * 2^(16 + 62) / 1e18, rounded up;
 * the quotient from mul_u64_u64_div_u64() on rate * 2^20 (below 2^52 for
 * any u32 rate) times 2^58, the rounding from comparing the exact products.
 */
static u64 mult_want(u32 rate)
{
	u64 q = mul_u64_u64_div_u64((u64)rate << 20, 1ULL << 58, E18);

	if ((__uint128_t)q * E18 != (__uint128_t)rate << 78)
		q++;
	return q;
}

/* ntp_disp_add() as documented: age clamped, times mult, rounded up. */
static u32 disp_want(u32 disp, u64 age, u64 mult)
{
	__uint128_t prod;

	if (age > AGE_MAX)
		age = AGE_MAX;
	prod = (__uint128_t)age * mult;
	return saturate(disp, (prod + (1ULL << 62) - 1) >> 62);
}

static void disp_mult(struct kunit *test)
{
	u32 rate;
	int k;

	CHECK_EQ(test, ntp_disp_mult(0), 0, "rate 0 never grows");
	CHECK_EQ(test, ntp_disp_mult(1), 302232, "1 ppb: 302231.45 rounded up");
	CHECK_EQ(test, ntp_disp_mult(15000), 4533471824ULL, "15 ppm");
	CHECK_EQ(test, ntp_disp_mult(1000000), 302231454904ULL, "1000 ppm");
	CHECK_EQ(test, ntp_disp_mult(0xffffffff), mult_want(0xffffffff), "u32 max");
	rng_seed(401);
	for (k = 0; k < 10000; k++) {
		rate = (u32)rng() >> (rng() % 32);
		CHECK_EQ(test, ntp_disp_mult(rate), mult_want(rate), "rate %u", rate);
	}
}

static void disp_add_zero_age(struct kunit *test)
{
	static const u32 d[] = { 0, 1, 0x10000, 0x12345678, 0xfffffffe, 0xffffffff };
	static const u32 rates[] = { 0, 1, PHI_PPB, 1000000, 0xffffffff };
	size_t i, r;

	for (i = 0; i < ARRAY_SIZE(d); i++)
		for (r = 0; r < ARRAY_SIZE(rates); r++)
			CHECK_EQ(test, ntp_disp_add(d[i], 0, ntp_disp_mult(rates[r])),
				 d[i], "disp 0x%x rate %u", d[i], rates[r]);
}

static void disp_add_known(struct kunit *test)
{
	CHECK_EQ(test, ntp_disp_add(0, 1, phi()), 1, "1 ns rounds up");
	CHECK_EQ(test, ntp_disp_add(0, 1000000000ULL, phi()), 1, "1 s: 0.98304 -> 1");
	CHECK_EQ(test, ntp_disp_add(100, 1000000000ULL, phi()), 101, "1 s");
	CHECK_EQ(test, ntp_disp_add(0, 1000000000000ULL, phi()), 984, "1000 s: 983.04 -> 984");
	CHECK_EQ(test, ntp_disp_add(0x10000, 3600000000000ULL, phi()), 0x10000 + 3539, "3600 s: 3538.944 -> 3539");
	/*
	 * 5^14 ns is exactly 6 units at 15 ppm; the rounded-up multiplier
	 * puts an exact whole number one unit above, as documented.
	 */
	CHECK_EQ(test, ntp_disp_add(0, 6103515625ULL - 1, phi()), 6, "just below 6");
	CHECK_EQ(test, ntp_disp_add(0, 6103515625ULL, phi()), 7, "exactly 6: one above");
	CHECK_EQ(test, ntp_disp_add(0, 6103515625ULL + 1, phi()), 7, "just above 6");
	CHECK_EQ(test, ntp_disp_add(0, 1000 * 6103515625ULL, phi()), 6001, "exactly 6000: one above");
	/* Other rates: 1 ms is 65.536 units. */
	CHECK_EQ(test, ntp_disp_add(0, 1000000000000ULL, ntp_disp_mult(1000)), 66, "1 ppm, 1000 s");
	CHECK_EQ(test, ntp_disp_add(0, 1000000000ULL, ntp_disp_mult(1000000)), 66, "1000 ppm, 1 s");
	CHECK_EQ(test, ntp_disp_add(0, 3600000000000ULL, ntp_disp_mult(1000000)), 235930, "1000 ppm, 3600 s: 235929.6");
	CHECK_EQ(test, ntp_disp_add(0, 100000000000ULL, ntp_disp_mult(50000)), 328, "50 ppm, 100 s: 327.68");
	CHECK_EQ(test, ntp_disp_add(0, 3600000000000ULL, ntp_disp_mult(1)), 1, "1 ppb, 3600 s: 0.236");
	CHECK_EQ(test, ntp_disp_add(0x1234, 3600000000000ULL, ntp_disp_mult(0)), 0x1234, "rate 0");
}

static void disp_add_exact(struct kunit *test)
{
	u64 age, prev_age = 0, mult;
	u32 d, rate, got, exact, v, prev = 0;
	int k;

	rng_seed(400);
	for (k = 0; k < 100000; k++) {
		age = rng() >> (14 + rng() % 50);	/* up to 2^50 ns, all scales */
		d = (u32)rng() >> (rng() % 32);
		rate = k % 4 ? (u32)rng() % (1000000 + 1) : PHI_PPB;
		mult = ntp_disp_mult(rate);
		got = ntp_disp_add(d, age, mult);
		CHECK_EQ(test, got, disp_want(d, age, mult),
			 "disp 0x%x age %llu rate %u", d, age, rate);
		/* Never below the exact value, at most one unit above. */
		exact = disp_exact(d, age, rate);
		if (got < exact || got - exact > 1)
			diag(test, "disp 0x%x age %llu rate %u: %u, exact %u",
			     d, age, rate, got, exact);
	}
	/* monotonic in the age */
	for (age = 0; age < 100000000000ULL; age += 7919 * 12345) {
		v = ntp_disp_add(0, age, phi());
		if (v < prev)
			diag(test, "age %llu gave %u < %u at age %llu",
			     age, v, prev, prev_age);
		prev = v;
		prev_age = age;
	}
	/* and in the rate */
	prev = 0;
	for (rate = 0; rate <= 1000000; rate += 997) {
		v = ntp_disp_add(0, 5000000000ULL, ntp_disp_mult(rate));
		if (v < prev)
			diag(test, "rate %u gave %u < %u", rate, v, prev);
		prev = v;
	}
}

static void disp_add_saturate(struct kunit *test)
{
	CHECK_EQ(test, ntp_disp_add(0xffffffff - 984, 1000000000000ULL, phi()), 0xffffffff, "exact fit");
	CHECK_EQ(test, ntp_disp_add(0xffffffff - 985, 1000000000000ULL, phi()), 0xfffffffe, "one below");
	CHECK_EQ(test, ntp_disp_add(0xffffffff - 983, 1000000000000ULL, phi()), 0xffffffff, "one over");
	CHECK_EQ(test, ntp_disp_add(0xffffffff, 1, phi()), 0xffffffff, "at max");
	CHECK_EQ(test, ntp_disp_add(0xfffffffe, 1, phi()), 0xffffffff, "1 ns to max");
	CHECK_EQ(test, ntp_disp_add(0xffffffff, 1000000000000ULL, phi()), 0xffffffff, "at max, 1000 s");
	CHECK_EQ(test, ntp_disp_add(0xfff00000, 1ULL << 50, phi()), 0xffffffff, "large age near max");
	CHECK_EQ(test, ntp_disp_add(0, 1ULL << 50, ntp_disp_mult(0xffffffff)), 0xffffffff, "u32 max rate");
}

/*
 * Ages beyond 2^50 ns (13 days, far beyond NTPK_MAX_AGE_MAX) are clamped
 * to 2^50 ns: ceil(2^50 * 15 * 65536 / 1e15) = 1106805, with no overflow
 * in the intermediate products.
 */
static void disp_add_huge_age(struct kunit *test)
{
	static const u64 ages[] = { 1ULL << 50, (1ULL << 50) + 1, 1ULL << 51,
				    1ULL << 60, 1ULL << 61, 3ULL << 61,
				    1ULL << 63, 0xffffffffffffffffULL };
	size_t i;

	CHECK_EQ(test, disp_exact(0, 1ULL << 50, PHI_PPB), 1106805, "independent clamp value");
	for (i = 0; i < ARRAY_SIZE(ages); i++) {
		CHECK_EQ(test, ntp_disp_add(0, ages[i], phi()), 1106805, "age 0x%llx", ages[i]);
		CHECK_EQ(test, ntp_disp_add(0x10000, ages[i], phi()), 0x10000 + 1106805, "age 0x%llx", ages[i]);
		CHECK_EQ(test, ntp_disp_add(0xffffffff - 1106805, ages[i], phi()), 0xffffffff, "age 0x%llx", ages[i]);
		CHECK_EQ(test, ntp_disp_add(0xffffffff - 1106804, ages[i], phi()), 0xffffffff, "age 0x%llx", ages[i]);
		CHECK_EQ(test, ntp_disp_add(0xffffffff - 1106806, ages[i], phi()), 0xfffffffe, "age 0x%llx", ages[i]);
		CHECK_EQ(test, ntp_disp_add(0, ages[i], ntp_disp_mult(1000000)), 73786977, "1000 ppm, age 0x%llx", ages[i]);
	}
}

/* ---- leap second instant ------------------------------------------ */

static void leap_instant_known(struct kunit *test)
{
	static const struct {
		s64 now, want;
		const char *what;
	} tab[] = {
		/* the real leaps: June 30 2015, Dec 31 2016 */
		{ 1435708790, 1435708800, "2015-06-30T23:59:50 -> 2015-07-01" },
		{ 1435708799, 1435708800, "2015-06-30T23:59:59 -> 2015-07-01" },
		{ 1483228790, 1483228800, "2016-12-31T23:59:50 -> 2017-01-01" },
		{ 1483228799, 1483228800, "2016-12-31T23:59:59 -> 2017-01-01" },
		{ 1480550399, 1480550400, "2016-11-30T23:59:59 -> 2016-12-01" },
		/* the first second of a month is in that month */
		{ 1483228800, 1485907200, "2017-01-01T00:00:00 -> 2017-02-01" },
		/* Dec -> Jan */
		{ 946684799, 946684800, "1999-12-31T23:59:59 -> 2000-01-01" },
		/* February: leap years by 4, not by 100, by 400 */
		{ 1455062400, 1456790400, "2016-02-10 -> 2016-03-01" },
		{ 1456790399, 1456790400, "2016-02-29T23:59:59 -> 2016-03-01" },
		{ 1425124800, 1425168000, "2015-02-28T12:00 -> 2015-03-01" },
		{ 951782400, 951868800, "2000-02-29 -> 2000-03-01" },
		{ 4107456000, 4107542400, "2100-02-28 -> 2100-03-01 (no Feb 29)" },
		/* the epoch, the NTP era rollover, beyond */
		{ 0, 2678400, "1970-01-01 -> 1970-02-01" },
		{ -1, 2678400, "before 1970 counts as 1970-01-01" },
		{ 2085978496, 2087942400, "2036-02-07T06:28:16 -> 2036-03-01" },
		{ 2210198400, 2211667200, "2040-01-15 -> 2040-02-01" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tab); i++)
		CHECK_EQ(test, ntp_leap_instant(tab[i].now), tab[i].want, "%s", tab[i].what);
}

/* Against the kernel's own calendar: the 1st of the next month, 00:00. */
static void leap_instant_time64_to_tm(struct kunit *test)
{
	struct tm tm;
	s64 now, want;
	int k, mon;
	long year;

	rng_seed(403);
	for (k = 0; k < 20000; k++) {
		/* 1970 .. about 2540, and every month end's last seconds */
		now = (s64)(rng() % (1ULL << 34));
		if (k % 2)
			now = ntp_leap_instant(now) - 1 - (s64)(rng() % 3);
		time64_to_tm(now, 0, &tm);
		year = tm.tm_year + 1900;
		mon = tm.tm_mon + 1;		/* the next month, 0-based */
		if (mon == 12) {
			mon = 0;
			year++;
		}
		want = mktime64(year, mon + 1, 1, 0, 0, 0);
		CHECK_EQ(test, ntp_leap_instant(now), want, "now %lld", now);
	}
}

/* ---- suite --------------------------------------------------------- */

static int ntpk_ntp_test_init(struct kunit *test)
{
	fails = 0;
	return 0;
}

static struct kunit_case ntpk_ntp_cases[] = {
	KUNIT_CASE(ts_from_unix_1900),
	KUNIT_CASE(ts_from_unix_1970),
	KUNIT_CASE(ts_from_unix_2036),
	KUNIT_CASE(ts_from_unix_2040),
	KUNIT_CASE(ts_from_unix_fraction),
	KUNIT_CASE(ts_to_unix_known),
	KUNIT_CASE(ts_roundtrip_nsec_ranges),
	KUNIT_CASE(ts_roundtrip_random),
	KUNIT_CASE(ts_roundtrip_era_2036),
	KUNIT_CASE(ts_to_unix_era_window),
	KUNIT_CASE(ts_to_unix_nsec_normalized),
	KUNIT_CASE(check_request_len_0),
	KUNIT_CASE(check_request_len_1),
	KUNIT_CASE(check_request_len_47),
	KUNIT_CASE(check_request_len_48),
	KUNIT_CASE(check_request_len_49),
	KUNIT_CASE(check_request_len_68),
	KUNIT_CASE(check_request_len_72),
	KUNIT_CASE(check_request_len_1000),
	KUNIT_CASE(build_reply_golden),
	KUNIT_CASE(build_reply_v1),
	KUNIT_CASE(build_reply_v2),
	KUNIT_CASE(build_reply_v3),
	KUNIT_CASE(build_reply_v4),
	KUNIT_CASE(build_kod),
	KUNIT_CASE(set_tx),
	KUNIT_CASE(state_synced),
	KUNIT_CASE(disp_mult),
	KUNIT_CASE(disp_add_zero_age),
	KUNIT_CASE(disp_add_known),
	KUNIT_CASE(disp_add_exact),
	KUNIT_CASE(disp_add_saturate),
	KUNIT_CASE(disp_add_huge_age),
	KUNIT_CASE(leap_instant_known),
	KUNIT_CASE(leap_instant_time64_to_tm),
	{}
};

static struct kunit_suite ntpk_ntp_suite = {
	.name = "ntpk_ntp",
	.init = ntpk_ntp_test_init,
	.test_cases = ntpk_ntp_cases,
};
kunit_test_suite(ntpk_ntp_suite);

/* ---- the state's age (netns.h) ------------------------------------ */

/* Stamps (CLOCK_BOOTTIME ns) from 0 to just before the u64 wraps. */
static const u64 stamps[] = {
	0, (1ULL << 32) - 10, (1ULL << 63) - 10, U64_MAX - 10,
};

/*
 * A state is usable for max_age, then never again, however long it is
 * left: ages are unsigned differences, so none wraps back to young.
 */
static void state_usable_across_wrap(struct kunit *test)
{
	const u64 max = 5ULL * NSEC_PER_SEC;
	const struct ntpk_config cfg = { .max_age = 5 };
	/* Ages in ns; the largest a u64 holds is the last. */
	static const u64 stale[] = {
		5ULL * NSEC_PER_SEC, 5ULL * NSEC_PER_SEC + 1, 3600ULL * NSEC_PER_SEC,
		1ULL << 33, (1ULL << 63) + 5ULL * NSEC_PER_SEC,
		U64_MAX / 2 + 5ULL * NSEC_PER_SEC + 1, U64_MAX - 1, U64_MAX,
	};
	struct ntpk_state st = { .synced = true };
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(stamps); i++) {
		st.stamp = stamps[i];
		st.read_age = 0;
		CHECK_EQ(test, ntpk_state_usable_at(&st, &cfg, st.stamp), 1,
			 "stamp %llu, age 0", st.stamp);
		CHECK_EQ(test, ntpk_state_usable_at(&st, &cfg, st.stamp + max - 1),
			 1, "stamp %llu, age max_age - 1 ns", st.stamp);
		for (j = 0; j < ARRAY_SIZE(stale); j++)
			CHECK_EQ(test, ntpk_state_usable_at(&st, &cfg,
							    st.stamp + stale[j]),
				 0, "stamp %llu, age %llu", st.stamp, stale[j]);
		/* A reading 1 s old at the push has a second less. */
		st.read_age = NSEC_PER_SEC;
		CHECK_EQ(test, ntpk_state_usable_at(&st, &cfg,
						    st.stamp + max - NSEC_PER_SEC - 1),
			 1, "stamp %llu, read 1 s before, max_age - 1 s - 1 ns",
			 st.stamp);
		CHECK_EQ(test, ntpk_state_usable_at(&st, &cfg,
						    st.stamp + max - NSEC_PER_SEC),
			 0, "stamp %llu, read 1 s before, max_age - 1 s",
			 st.stamp);
		st.read_age = (u64)NTPK_AGE_CAP_SEC * NSEC_PER_SEC;
		CHECK_EQ(test, ntpk_state_usable_at(&st, &cfg, st.stamp), 0,
			 "stamp %llu, read at the cap", st.stamp);
	}
	st.read_age = 0;
	st.synced = false;
	CHECK_EQ(test, ntpk_state_usable_at(&st, &cfg, st.stamp), 0, "unsynced");
	CHECK_EQ(test, ntpk_state_usable_at(NULL, &cfg, 0), 0, "no state");
}

/*
 * The age in ns is the time since the push plus the reading's age at the
 * push, exactly; it stops counting at the cap, and a clock before the
 * stamp reads as past it.
 */
static void state_age_ns_exact(struct kunit *test)
{
	struct ntpk_state st = { .read_age = 1234567 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(stamps); i++) {
		st.stamp = stamps[i];
		CHECK_EQ(test, ntpk_state_age_ns(&st, st.stamp), 1234567,
			 "stamp %llu, at the push", st.stamp);
		CHECK_EQ(test, ntpk_state_age_ns(&st, st.stamp + 3ULL * NSEC_PER_SEC + 1),
			 1234567 + 3ULL * NSEC_PER_SEC + 1, "stamp %llu, 3 s", st.stamp);
		CHECK_EQ(test, ntpk_state_age_ns(&st, st.stamp +
					       (u64)NTPK_AGE_CAP_SEC * NSEC_PER_SEC),
			 (u64)NTPK_AGE_CAP_SEC * NSEC_PER_SEC,
			 "stamp %llu, at the cap", st.stamp);
		CHECK_EQ(test, ntpk_state_age_ns(&st, st.stamp - 1),
			 (u64)NTPK_AGE_CAP_SEC * NSEC_PER_SEC,
			 "stamp %llu, 1 ns before it", st.stamp);
	}
}

/* The age in ms past 2^32 ms (49.7 days), rounded up, from any stamp. */
static void state_age_ms_64bit(struct kunit *test)
{
	static const u64 secs[] = {
		0, 1, 4294967, 4294968, 5000000, 1000000000, 1ULL << 33,
	};
	struct ntpk_state st = { .read_age = 2500001 };
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(stamps); i++) {
		st.stamp = stamps[i];
		for (j = 0; j < ARRAY_SIZE(secs); j++) {
			CHECK_EQ(test, ntpk_state_age_ms(&st, st.stamp +
							 secs[j] * NSEC_PER_SEC),
				 secs[j] * MSEC_PER_SEC + 3,
				 "stamp %llu, %llu s", st.stamp, secs[j]);
			CHECK_EQ(test, ntpk_state_age_ms(&st, st.stamp +
							 secs[j] * NSEC_PER_SEC + 1),
				 secs[j] * MSEC_PER_SEC + 4,
				 "stamp %llu, %llu s + 1 ns", st.stamp, secs[j]);
		}
	}
}

static struct kunit_case ntpk_state_cases[] = {
	KUNIT_CASE(state_usable_across_wrap),
	KUNIT_CASE(state_age_ns_exact),
	KUNIT_CASE(state_age_ms_64bit),
	{}
};

static struct kunit_suite ntpk_state_suite = {
	.name = "ntpk_state",
	.init = ntpk_ntp_test_init,
	.test_cases = ntpk_state_cases,
};
kunit_test_suite(ntpk_state_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit cases for ntpk's NTP packet core and state age");
