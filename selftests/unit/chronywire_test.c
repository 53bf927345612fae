// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Host unit tests for follow's chronyd protocol bytes
 * (userspace/chronywire.c) and the dispersion arithmetic it pushes with
 * (userspace/ntpwire.c), KTAP output.
 *
 * The float vectors are worked out by hand from the format's definition (a
 * 7-bit two's complement exponent over a 25-bit two's complement
 * coefficient, value coef * 2^(exp - 25)), not taken from chrony.  Then an
 * encoder written here from the same definition, rounding to nearest or
 * truncating, checks on pseudo-random values that the decoded upper bound
 * is never below the true value and never more than two units above.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ktap.h"
#include "chronywire.h"
#include "disprate.h"
#include "ntpwire.h"

static uint32_t fl(int exp, int32_t coef)
{
	return ((uint32_t)exp & 0x7f) << 25 | ((uint32_t)coef & 0x1ffffff);
}

/* ---- chrony's float ------------------------------------------------ */

static void test_float_vectors(void)
{
	/* the packing itself */
	CHECK_EQ(fl(2, 1 << 23), 0x04800000, "1.0");
	CHECK_EQ(fl(2, -(1 << 23)), 0x05800000, "-1.0");
	CHECK_EQ(fl(-1, (1 << 24) - 1), 0xfeffffff, "max coef, exp -1");
	CHECK_EQ(fl(0, -(1 << 24)), 0x01000000, "min coef");

	CHECK_EQ(cw_float(0) == 0.0, 1, "zero");
	CHECK_EQ(cw_float(0x04800000) == 1.0, 1, "1.0");
	CHECK_EQ(cw_float(0x05800000) == -1.0, 1, "-1.0");
	CHECK_EQ(cw_float(0x01000000) == -0.5, 1, "-2^24 * 2^-25");
	CHECK_EQ(cw_float(0x04c00000) == 1.5, 1, "3 * 2^22 * 2^-23");
	CHECK_EQ(cw_float(0xfeffffff) == (16777215.0 / 67108864.0), 1,
		 "(2^24 - 1) * 2^-26");
	CHECK_EQ(cw_float(fl(-64, 1)) == ldexp(1.0, -89), 1, "smallest");
	CHECK_EQ(cw_float(fl(63, (1 << 24) - 1)) == ldexp(16777215.0, 38), 1,
		 "largest");
	/* 0.5 s: exp 0, coef 2^24 does not fit; exp 1, coef 2^23 */
	CHECK_EQ(cw_float(fl(1, 1 << 23)) == 0.5, 1, "0.5");
	/* 1 ms is not a power of two: coef 2^33 * 10^-3 rounded, exp -8 */
	CHECK_EQ(fabs(cw_float(fl(-8, 8589935)) - 0.001) < ldexp(1.0, -34), 1,
		 "1 ms");
}

static void test_float_upper_vectors(void)
{
	/* zero is exact */
	CHECK_EQ(cw_float_upper(0, 1000000000), 0, "zero");
	/* (2^23 + 1) * 10^9 / 2^23 = 10^9 + 119.2... */
	CHECK_EQ(cw_float_upper(0x04800000, 1000000000), 1000000120ULL, "1 s");
	CHECK_EQ(cw_float_upper(0x05800000, 1000000000), 1000000120ULL, "-1 s");
	/* (3 * 2^22 + 1) * 1000 / 2^23 = 1500.000119...: 1.5 ppm in ppb */
	CHECK_EQ(cw_float_upper(0x04c00000, 1000), 1501, "1.5 ppm");
	/* (2^24 + 1) * 10^9 / 2^25 = 500000029.8...: -0.5 s */
	CHECK_EQ(cw_float_upper(0x01000000, 1000000000), 500000030ULL, "-0.5 s");
	/* 2 * 10^9 * 2^-89: below a nanosecond, still 1 */
	CHECK_EQ(cw_float_upper(fl(-64, 1), 1000000000), 1, "smallest");
	/* 2^24 * 10^9 * 2^38 does not fit */
	CHECK_EQ(cw_float_upper(fl(63, (1 << 24) - 1), 1000000000), UINT64_MAX,
		 "saturates");
	/* exactly 2^63 ns fits: (2^24 - 1 + 1) * 2^(32 - 25) * 2^32 */
	CHECK_EQ(cw_float_upper(fl(57, (1 << 24) - 1), 1), 1ULL << 56,
		 "2^56 exactly");
	CHECK_EQ(cw_float_upper(0x04800000, 0), 0, "scale 0");
}

/*
 * The format's encoder, written from its definition: normalise so that the
 * coefficient fits 25 bits signed, then round to nearest or truncate.
 */
static uint32_t encode(double x, bool truncate)
{
	int exp, neg = x < 0;
	double m, c;
	int64_t coef;

	if (x == 0.0)
		return 0;
	m = frexp(fabs(x), &exp);	/* |x| = m * 2^exp, m in [0.5, 1) */
	c = ldexp(m, 24);		/* [2^23, 2^24): fits, exp - 25 + 24 */
	coef = truncate ? (int64_t)c : (int64_t)llround(c);
	exp += 1;
	if (coef >= 1 << 24) {
		coef >>= 1;
		exp++;
	}
	if (exp < -64 || exp > 63)
		return 0;
	return fl(exp, (int32_t)(neg ? -coef : coef));
}

static void test_float_bound_holds(void)
{
	unsigned int i;

	rng_seed(12);
	for (i = 0; i < 200000; i++) {
		/* magnitudes from 1 ns to 100 s, both signs */
		double x = ldexp((double)(rng() >> 11) / 9007199254740992.0,
				 (int)(rng() % 37) - 30);
		bool trunc = rng() & 1;
		uint32_t f;
		uint64_t up, want;

		if (rng() & 1)
			x = -x;
		f = encode(x, trunc);
		if (!f)
			continue;
		up = cw_float_upper(f, 1000000000);
		want = (uint64_t)ceil(fabs(x) * 1e9);
		if (up < want)
			diag("x %.17g (%s): upper %" PRIu64 " ns < %" PRIu64,
			     x, trunc ? "truncated" : "rounded", up, want);
		/* and no looser than two units of the coefficient */
		if ((double)up > fabs(x) * 1e9 * (1 + ldexp(1.0, -21)) + 1)
			diag("x %.17g: upper %" PRIu64 " ns too loose", x, up);
		if (fabs(cw_float(f) - x) > fabs(x) * ldexp(1.0, -23))
			diag("x %.17g: decoded %.17g", x, cw_float(f));
	}
}

/* ---- packets --------------------------------------------------------- */

static void test_request(void)
{
	uint8_t buf[CW_MAX_REQ_LEN];
	size_t len, i;
	unsigned int nonzero = 0;

	memset(buf, 0xaa, sizeof(buf));
	len = cw_request(buf, CW_REQ_TRACKING, 1, 0x01020304);
	/* padded to the tracking reply: 28 + 76 */
	CHECK_EQ(len, 104, "tracking request length");
	CHECK_EQ(buf[0], 6, "version");
	CHECK_EQ(buf[1], 1, "request");
	CHECK_EQ(buf[2] | buf[3], 0, "reserved");
	CHECK_EQ(buf[4] << 8 | buf[5], 33, "command");
	CHECK_EQ(buf[6] << 8 | buf[7], 1, "attempt");
	CHECK_EQ(nw_get_be32(buf + 8), 0x01020304, "sequence");
	for (i = 12; i < len; i++)
		nonzero += buf[i] != 0;
	CHECK_EQ(nonzero, 0, "pads and padding zero");

	len = cw_request(buf, CW_REQ_SMOOTHING, 0, 7);
	CHECK_EQ(len, 52, "smoothing request length: 28 + 24");
	CHECK_EQ(buf[4] << 8 | buf[5], 51, "command");
	CHECK_EQ(cw_request(buf, 14, 0, 7), 0, "another command");
}

static size_t reply(uint8_t *buf, uint8_t version, uint16_t cmd,
		    uint16_t rpy, uint16_t status, uint32_t seq, size_t len)
{
	memset(buf, 0, len);
	buf[0] = version;
	buf[1] = 2;
	buf[4] = (uint8_t)(cmd >> 8);
	buf[5] = (uint8_t)cmd;
	buf[6] = (uint8_t)(rpy >> 8);
	buf[7] = (uint8_t)rpy;
	buf[8] = (uint8_t)(status >> 8);
	buf[9] = (uint8_t)status;
	nw_put_be32(buf + 16, seq);
	return len;
}

static void test_check_reply(void)
{
	uint8_t buf[CW_TRACKING_LEN];
	char why[160];
	uint16_t status = 0xffff;
	uint8_t version = 0;
	size_t n;

#define CHECK_REPLY(len, want, what) do {				\
	why[0] = 0;							\
	CHECK_EQ(cw_check_reply(buf, len, CW_REQ_TRACKING, 0xabcd,	\
				&status, &version, why, sizeof(why)),	\
		 want, "%s: %s", what, why);				\
} while (0)

	n = reply(buf, 6, 33, 5, 0, 0xabcd, sizeof(buf));
	CHECK_REPLY(n, CW_REPLY, "good");
	CHECK_EQ(status, 0, "status");
	CHECK_EQ(version, 6, "version");
	CHECK_REPLY(n - 1, CW_IGNORE, "one byte short");
	CHECK_EQ(strstr(why, "expected 104") != NULL, 1, "says: %s", why);
	CHECK_REPLY(27, CW_IGNORE, "shorter than a header");

	buf[1] = 1;
	CHECK_REPLY(n, CW_IGNORE, "a request");
	CHECK_EQ(strstr(why, "packet type") != NULL, 1, "says: %s", why);
	buf[1] = 2;
	buf[3] = 1;
	CHECK_REPLY(n, CW_IGNORE, "reserved");
	buf[3] = 0;

	reply(buf, 6, 51, 5, 0, 0xabcd, sizeof(buf));
	CHECK_REPLY(n, CW_IGNORE, "another command");
	CHECK_EQ(strstr(why, "command 51") != NULL, 1, "says: %s", why);
	reply(buf, 6, 33, 5, 0, 0xabce, sizeof(buf));
	CHECK_REPLY(n, CW_IGNORE, "another sequence");
	CHECK_EQ(strstr(why, "sequence") != NULL, 1, "says: %s", why);
	reply(buf, 6, 33, 13, 0, 0xabcd, sizeof(buf));
	CHECK_REPLY(n, CW_IGNORE, "another report");
	CHECK_EQ(strstr(why, "reply type 13") != NULL, 1, "says: %s", why);

	/* chronyd of another version: its version, BADPKTVERSION, 28 bytes */
	n = reply(buf, 7, 33, 1, 18, 0xabcd, 28);
	CHECK_REPLY(n, CW_BADVERSION, "bad version");
	CHECK_EQ(version, 7, "its version");
	n = reply(buf, 5, 33, 5, 0, 0xabcd, sizeof(buf));
	CHECK_REPLY(n, CW_BADVERSION, "version 5 reply");

	/* an error status has a short reply, and is a reply */
	n = reply(buf, 6, 33, 1, 2, 0xabcd, 28);
	CHECK_REPLY(n, CW_REPLY, "unauthorised");
	CHECK_EQ(status, 2, "status");
	n = reply(buf, 6, 51, 1, 6, 0xabcd, 28);
	CHECK_EQ(cw_check_reply(buf, n, CW_REQ_SMOOTHING, 0xabcd, &status,
				&version, why, sizeof(why)), CW_REPLY,
		 "smoothing not enabled");
	CHECK_EQ(status, CW_STT_NOTENABLED, "status");
#undef CHECK_REPLY
}

static void test_parse(void)
{
	uint8_t buf[CW_TRACKING_LEN];
	struct cw_tracking t;
	struct cw_smoothing s;
	unsigned int i;

	reply(buf, 6, 33, 5, 0, 1, sizeof(buf));
	nw_put_be32(buf + 28, 0x7f7f0101);
	buf[52] = 0;
	buf[53] = 3;			/* stratum */
	buf[55] = 1;			/* leap: insert */
	nw_put_be32(buf + 56, 0x7fffffff);	/* no high word */
	nw_put_be32(buf + 60, 1700000000);
	nw_put_be32(buf + 64, 123456789);
	/* Every float distinct, so that a swapped or dropped field shows. */
	nw_put_be32(buf + 68, 0x04800000);	/* correction 1 s */
	nw_put_be32(buf + 72, 0x04a00000);	/* last offset 1.25 s */
	nw_put_be32(buf + 76, 0x04900000);	/* rms offset 1.125 s */
	nw_put_be32(buf + 80, 0x0b400000);	/* frequency -12 ppm */
	nw_put_be32(buf + 84, 0x00c00000);	/* residual frequency 0.375 ppm */
	nw_put_be32(buf + 88, 0x04c00000);	/* skew 1.5 ppm */
	nw_put_be32(buf + 92, 0xf0c00000);	/* root delay 0.00146484375 s */
	nw_put_be32(buf + 96, 0x01000000);	/* root dispersion -0.5 */
	nw_put_be32(buf + 100, 0x14800000);	/* update interval 256 s */
	CHECK_EQ(cw_parse_tracking(buf, &t), true, "valid");
	CHECK_EQ(t.ref_id, 0x7f7f0101, "ref id");
	CHECK_EQ(t.stratum, 3, "stratum");
	CHECK_EQ(t.leap, 1, "leap");
	CHECK_EQ(t.ref_sec, 1700000000, "seconds");
	CHECK_EQ(t.ref_nsec, 123456789, "nanoseconds");
	CHECK_EQ(t.correction, 0x04800000, "correction");
	CHECK_EQ(t.last_offset, 0x04a00000, "last offset");
	CHECK_EQ(t.rms_offset, 0x04900000, "rms offset");
	CHECK_EQ(t.freq, 0x0b400000, "frequency");
	CHECK_EQ(t.resid_freq, 0x00c00000, "residual frequency");
	CHECK_EQ(t.skew, 0x04c00000, "skew");
	CHECK_EQ(t.root_delay, 0xf0c00000, "root delay");
	CHECK_EQ(t.root_disp, 0x01000000, "root dispersion");
	CHECK_EQ(t.update_ivl, 0x14800000, "update interval");
	CHECK_EQ(cw_float(t.correction) == 1.0, true, "correction value");
	CHECK_EQ(cw_float(t.last_offset) == 1.25, true, "last offset value");
	CHECK_EQ(cw_float(t.rms_offset) == 1.125, true, "rms offset value");
	CHECK_EQ(cw_float(t.freq) == -12.0, true, "frequency value");
	CHECK_EQ(cw_float(t.resid_freq) == 0.375, true, "residual value");
	CHECK_EQ(cw_float(t.skew) == 1.5, true, "skew value");
	CHECK_EQ(cw_float(t.root_delay) == 0.00146484375, true, "delay value");
	CHECK_EQ(cw_float(t.root_disp) == -0.5, true, "dispersion value");
	CHECK_EQ(cw_float(t.update_ivl) == 256.0, true, "interval value");

	/* Leap statuses 0..3 are chronyd's; anything else is no report. */
	for (i = 0; i < 8; i++) {
		buf[54] = 0;
		buf[55] = (uint8_t)i;
		CHECK_EQ(cw_parse_tracking(buf, &t), i <= 3, "leap %u", i);
	}
	buf[54] = 1;
	buf[55] = 0;
	CHECK_EQ(cw_parse_tracking(buf, &t), false, "leap 256");
	buf[54] = 0;
	buf[55] = 1;

	nw_put_be32(buf + 56, 1);	/* a 64-bit time */
	nw_put_be32(buf + 64, 2000000000);	/* clamped */
	cw_parse_tracking(buf, &t);
	CHECK_EQ(t.ref_sec, (1LL << 32) + 1700000000, "high word");
	CHECK_EQ(t.ref_nsec, 999999999, "nanoseconds clamped");

	reply(buf, 6, 51, 13, 0, 1, CW_SMOOTHING_LEN);
	nw_put_be32(buf + 28, 3);
	nw_put_be32(buf + 32, 0x04800000);
	cw_parse_smoothing(buf, &s);
	CHECK_EQ(s.flags, CW_SMT_FLAG_ACTIVE | CW_SMT_FLAG_LEAPONLY, "flags");
	CHECK_EQ(s.offset, 0x04800000, "offset");
}

/* ---- the measured ageing rate (disprate.c) ----------------------------- */

static struct timespec at_ms(int64_t ms)
{
	struct timespec t = { .tv_sec = 1000 + ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000 };

	return t;
}

static void test_disp_meter(void)
{
	struct disp_meter m = { 0 };
	struct timespec t;
	uint32_t r;

	/* chronyd with maxclockerror 10: 1 ppm said, 10.5 ppm grown. */
	t = at_ms(0);
	r = disp_meter_rate(&m, 1, 1000000, 2, &t, 100000, 1500);
	CHECK_EQ(r, 1500, "first reading: the computed rate");
	t = at_ms(20);
	r = disp_meter_rate(&m, 1, 1000210, 2, &t, 100000, 1500);
	CHECK_EQ(r, 1500, "under 50 ms: no measurement");
	/* 100 ms later (span 99.9 ms after the first answer): +1050 ns. */
	t = at_ms(100);
	r = disp_meter_rate(&m, 1, 1001050, 2, &t, 100000, 1500);
	/* (1050 + 4) / 0.0999 s, rounded up */
	CHECK_EQ(r, 10551, "measured over the span, an upper bound");
	CHECK_EQ(m.excess_ppb, 10551 - 1500, "the excess");
	/* The next reference time starts from the computed rate plus it. */
	t = at_ms(200);
	r = disp_meter_rate(&m, 2, 500000, 2, &t, 100000, 1200);
	CHECK_EQ(r, 1200 + 9051, "new reference time: computed + excess");
	/* A late answer (rtt 10 ms against a 100 ms span) measures nothing. */
	t = at_ms(300);
	r = disp_meter_rate(&m, 2, 501000, 2, &t, 10000000, 1200);
	CHECK_EQ(r, 1200 + 9051, "late answer: no measurement");
	/* A daemon that ages slower than it says: the computed rate stands. */
	t = at_ms(400);
	r = disp_meter_rate(&m, 2, 500010, 2, &t, 100000, 1200);
	CHECK_EQ(m.excess_ppb, 0, "no excess");
	CHECK_EQ(r, 1200 + 9051, "this reading still at the old excess");
	t = at_ms(500);
	r = disp_meter_rate(&m, 3, 500000, 2, &t, 100000, 1200);
	CHECK_EQ(r, 1200, "the excess is gone");

	/* NTP's 15 us resolution: nothing before 7.6 s, then an upper bound. */
	memset(&m, 0, sizeof(m));
	t = at_ms(0);
	disp_meter_rate(&m, 7, 1000000, 15259, &t, 100000, 15000);
	t = at_ms(4000);
	r = disp_meter_rate(&m, 7, 1000000 + 30 * 15259, 15259, &t, 100000, 15000);
	CHECK_EQ(r, 15000, "4 s: too short for NTP's resolution");
	t = at_ms(8000);
	r = disp_meter_rate(&m, 7, 1000000 + 60 * 15259, 15259, &t, 100000, 15000);
	/* (60 + 2) * 15259 ns over 7.9999 s, rounded up */
	CHECK_EQ(r, 118259, "8 s: measured, 118 ppm");
	/* A shrinking dispersion measures 0 growth (ntpd's never ages). */
	t = at_ms(16000);
	r = disp_meter_rate(&m, 7, 0, 15259, &t, 100000, 15000);
	CHECK_EQ(m.measured_ppb, 0, "shrinking: none measured");
	CHECK_EQ(m.excess_ppb, 0, "shrinking: no excess");
	CHECK_EQ(r, 15000 + 103259, "the excess of the reading before");
}

/* ---- the dispersion follow pushes ------------------------------------- */

static void test_short_ceil(void)
{
	unsigned int i;

	CHECK_EQ(nw_short_from_ns_ceil(0), 0, "zero");
	CHECK_EQ(nw_short_from_ns_ceil(1), 1, "1 ns is a whole unit");
	/* one unit is 10^9 / 2^16 = 15258.789... ns */
	CHECK_EQ(nw_short_from_ns_ceil(15258), 1, "just under a unit");
	CHECK_EQ(nw_short_from_ns_ceil(15259), 2, "just over a unit");
	CHECK_EQ(nw_short_from_ns_ceil(1000000000), 0x10000, "1 s");
	CHECK_EQ(nw_short_from_ns_ceil(1000000001), 0x10001, "1 s + 1 ns");
	CHECK_EQ(nw_short_from_ns_ceil(65535999984741ULL), 0xffffffff, "top");
	CHECK_EQ(nw_short_from_ns_ceil(65536000000000ULL), 0xffffffff, "saturates");
	CHECK_EQ(nw_short_from_ns_ceil(UINT64_MAX), 0xffffffff, "saturates");
	CHECK_EQ(nw_short_to_ns(1), 15258, "one unit, rounded down");
	CHECK_EQ(nw_short_to_ns(0x10000), 1000000000, "1 s");
	rng_seed(5);
	for (i = 0; i < 100000; i++) {
		uint32_t v = (uint32_t)rng();
		uint64_t ns = rng() % 65536000000000ULL;

		CHECK_EQ(nw_short_from_ns_ceil(nw_short_to_ns(v)), v,
			 "round trip of 0x%08x", v);
		/* the short value covers ns, by less than one unit */
		if ((uint64_t)nw_short_from_ns_ceil(ns) * 1000000000 < ns << 16 ||
		    ((uint64_t)nw_short_from_ns_ceil(ns) - 1) * 1000000000 >= ns << 16)
			diag("%" PRIu64 " ns: 0x%08x", ns, nw_short_from_ns_ceil(ns));
	}
}

static void test_disp_bound(void)
{
	/* nothing to age */
	CHECK_EQ(nw_disp_bound_ns(1000, 2000, 0, 15000), 3000, "sum");
	/* 1 s at 15 ppm: 15 us */
	CHECK_EQ(nw_disp_bound_ns(0, 0, 1000000000, 15000), 15000, "aged");
	/* 1 ns at 1 ppm: 10^-6 ns, rounded up */
	CHECK_EQ(nw_disp_bound_ns(0, 0, 1, 1000), 1, "aged, rounded up");
	CHECK_EQ(nw_disp_bound_ns(5, 7, 0, 0), 12, "no rate");
	/* an hour at most */
	CHECK_EQ(nw_disp_bound_ns(0, 0, UINT64_MAX, 1000),
		 3600ULL * 1000, "age capped: 3600 s at 1 ppm");
	CHECK_EQ(nw_disp_bound_ns(UINT64_MAX - 1, 5, 0, 0), UINT64_MAX,
		 "saturates");
	/*
	 * chronyd's example: 1.48 us of its own, 0.4999986 s of correction,
	 * 100 ms at 1044 ppb: 104.4 ns more.  On the wire: ceil(x * 2^16 /
	 * 10^9) = 32769 (0x8001).
	 */
	CHECK_EQ(nw_disp_bound_ns(1481, 499998659, 100000000, 1044),
		 1481 + 499998659 + 105, "example");
	CHECK_EQ(nw_short_from_ns_ceil(1481 + 499998659 + 105), 0x8001,
		 "example on the wire");
}

static const struct ktap_test tests[] = {
	T(float_vectors),
	T(float_upper_vectors),
	T(float_bound_holds),
	T(request),
	T(check_reply),
	T(parse),
	T(short_ceil),
	T(disp_bound),
	T(disp_meter),
};

int main(void)
{
	return ktap_run(tests, ARRAY_SIZE(tests));
}
