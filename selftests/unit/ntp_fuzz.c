// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer target for the NTP packet core (kmod/ntp.c).
 *
 * The input is taken as a received UDP payload, in a heap buffer of exactly
 * its length so that AddressSanitizer catches any read past it.  Its first
 * 32 bytes (zero padded) are also read as values for the timestamp and
 * dispersion helpers.  Any broken invariant ends in __builtin_trap().
 */
#include <stdlib.h>
#include <string.h>

#include "ntp.h"

#define NSEC_PER_SEC	1000000000ULL

static void check(int cond)
{
	if (!cond)
		__builtin_trap();
}

static u64 get_be(const u8 *p, int bytes)
{
	u64 v = 0;
	int i;

	for (i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void fuzz_packet(const u8 *data, size_t size)
{
	static const struct ntp_server_state st = {
		.leap = 0, .stratum = 2, .precision = -24,
		.root_delay = 0x00000123, .root_disp = 0x00000456,
		.refid = 0x7f7f0101, .reftime = 0xe9000000deadbeefULL,
	};
	const u64 rx = 0xe900000112345678ULL, tx = 0xe90000019abcdef0ULL;
	enum ntp_verdict want, got;
	u8 *req, *pkt;
	int version = -1, mode = -1;
	s8 poll, kod_poll;

	req = malloc(size);
	check(req || !size);
	if (size)
		memcpy(req, data, size);

	/* what the verdict must be, derived independently */
	if (size >= 1) {
		mode = req[0] & 7;
		version = (req[0] >> 3) & 7;
	}
	if (size < NTP_PKT_LEN)
		want = NTP_REQ_SHORT;
	else if (size > NTP_PKT_LEN)
		want = NTP_REQ_EXTENSIONS;
	else if (mode != NTP_MODE_CLIENT)
		want = NTP_REQ_NOT_MODE3;
	else if (version < 1 || version > 4)
		want = NTP_REQ_BAD_VERSION;
	else
		want = NTP_REQ_OK;

	got = ntp_check_request(req, size);
	check(got == want);
	if (got != NTP_REQ_OK) {
		free(req);
		return;
	}

	/* the reply, built in place in its own 48-byte buffer */
	pkt = malloc(NTP_PKT_LEN);
	check(pkt != NULL);
	memcpy(pkt, req, NTP_PKT_LEN);
	ntp_build_reply(pkt, &st, 0x00000789, -128, rx);
	check(memcmp(pkt + NTP_OFF_TX, req + NTP_OFF_TX, 8) == 0);
	ntp_set_tx(pkt, tx);

	check((pkt[0] & 7) == NTP_MODE_SERVER);
	check(((pkt[0] >> 3) & 7) == version);
	check(pkt[0] >> 6 == st.leap);
	check(pkt[1] == st.stratum);
	check(pkt[2] == req[2]);
	check((s8)pkt[3] == st.precision);
	check(get_be(pkt + NTP_OFF_ROOT_DELAY, 4) == st.root_delay);
	check(get_be(pkt + NTP_OFF_ROOT_DISP, 4) == 0x00000789);
	check(get_be(pkt + NTP_OFF_REFID, 4) == st.refid);
	check(get_be(pkt + NTP_OFF_REFTIME, 8) == st.reftime);
	check(memcmp(pkt + NTP_OFF_ORIGIN, req + NTP_OFF_TX, 8) == 0);
	check(get_be(pkt + NTP_OFF_RX, 8) == rx);
	check(get_be(pkt + NTP_OFF_TX, 8) == tx);
	check(ntp_check_request(pkt, NTP_PKT_LEN) == NTP_REQ_NOT_MODE3);

	/* and a RATE kiss-o'-death for the same request */
	kod_poll = (s8)(req[1] % 32 - 19);	/* -19 .. 12 */
	memcpy(pkt, req, NTP_PKT_LEN);
	ntp_build_kod(pkt, kod_poll, rx);
	ntp_set_tx(pkt, tx);
	poll = (s8)req[2] > kod_poll ? (s8)req[2] : kod_poll;
	check(pkt[0] == (3 << 6 | version << 3 | NTP_MODE_SERVER));
	check(pkt[1] == 0);
	check((s8)pkt[2] == poll);
	check(pkt[3] == 0);
	check(get_be(pkt + NTP_OFF_ROOT_DELAY, 8) == 0);
	check(memcmp(pkt + NTP_OFF_REFID, "RATE", 4) == 0);
	check(get_be(pkt + NTP_OFF_REFTIME, 8) == 0);
	check(memcmp(pkt + NTP_OFF_ORIGIN, req + NTP_OFF_TX, 8) == 0);
	check(get_be(pkt + NTP_OFF_RX, 8) == rx);
	check(get_be(pkt + NTP_OFF_TX, 8) == tx);

	free(pkt);
	free(req);
}

static void fuzz_values(const u8 *data, size_t size)
{
	u8 v[36] = { 0 };
	u64 ts, raw_pivot, raw_sec, age, back, mult, clamped;
	s64 pivot, s, sec;
	u32 ns, nsec, disp, d, rate, exact;
	__int128 diff;
	unsigned __int128 inc;

	memcpy(v, data, size < sizeof(v) ? size : sizeof(v));
	ts = get_be(v, 8);
	raw_pivot = get_be(v + 8, 8);
	raw_sec = get_be(v + 16, 8);
	ns = (u32)get_be(v + 24, 4);
	disp = (u32)get_be(v + 28, 4);
	rate = (u32)get_be(v + 32, 4);

	/* Unix seconds within +-2^61: any time a clock can read */
	pivot = (s64)raw_pivot >> 2;

	/* exact round trip for any value within 2^31 s of the pivot */
	s = pivot + (s32)(u32)raw_sec;
	ns %= NSEC_PER_SEC;
	ntp_ts_to_unix(ntp_ts_from_unix(s, ns), pivot, &sec, &nsec);
	check(sec == s && nsec == ns);

	/*
	 * Any 64-bit timestamp: a normalised result in the pivot's window,
	 * with the same era second, within 1 ns of the exact value.
	 */
	ntp_ts_to_unix(ts, pivot, &sec, &nsec);
	check(nsec < NSEC_PER_SEC);
	check(sec - pivot >= -(1LL << 31) && sec - pivot <= (1LL << 31));
	back = ntp_ts_from_unix(sec, nsec);
	/* 1 ns is 4.29 fraction units: back may be up to 4 away from ts */
	diff = (__int128)(s64)(back - ts);
	check(diff >= -4 && diff <= 4);

	/*
	 * dispersion: at any rate, the multiplier rounded up, the growth
	 * rounded up and saturating, never below the exact value and at most
	 * one unit above it, monotonic in age
	 */
	age = get_be(v + 16, 8) >> (v[0] & 63);
	mult = ntp_disp_mult(rate);
	check(mult == (u64)((((unsigned __int128)rate << 78) +
			     999999999999999999ULL) / 1000000000000000000ULL));
	d = ntp_disp_add(disp, age, mult);
	clamped = age > (1ULL << 50) ? 1ULL << 50 : age;
	inc = ((unsigned __int128)clamped * mult + (1ULL << 62) - 1) >> 62;
	check(d == (inc > 0xffffffffULL - disp ? 0xffffffffU : disp + (u32)inc));
	inc = ((unsigned __int128)clamped * rate * 65536 +
	       999999999999999999ULL) / 1000000000000000000ULL;
	exact = inc > 0xffffffffULL - disp ? 0xffffffffU : disp + (u32)inc;
	check(d >= exact && d - exact <= 1);
	check(ntp_disp_add(disp, age / 2, mult) <= d);
	check(ntp_disp_add(disp, 0, mult) == disp);

	/* the leap instant: a month start, after now, within 31 days */
	s = ntp_leap_instant((s64)(raw_sec >> 30));
	check(s % 86400 == 0);
	check(s > (s64)(raw_sec >> 30) && s - (s64)(raw_sec >> 30) <= 31 * 86400);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	fuzz_packet(data, size);
	fuzz_values(data, size);
	return 0;
}
