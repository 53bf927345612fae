// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The NTP packet core.  See ntp.h: no kernel dependency here, the host unit
 * tests and the fuzzer build this very file.
 */
#include "ntp.h"

#define NSEC_PER_SEC_U32	1000000000U

static void put_be32(u8 *p, u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put_be64(u8 *p, u64 v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (u32)v);
}

static u8 pkt_version(const u8 *pkt)
{
	return (pkt[NTP_OFF_LVM] >> 3) & 7;
}

enum ntp_verdict ntp_check_request(const u8 *pkt, size_t len)
{
	u8 version;

	if (len < NTP_PKT_LEN)
		return NTP_REQ_SHORT;
	if (len > NTP_PKT_LEN)
		return NTP_REQ_EXTENSIONS;
	if ((pkt[NTP_OFF_LVM] & 7) != NTP_MODE_CLIENT)
		return NTP_REQ_NOT_MODE3;
	version = pkt_version(pkt);
	if (version < NTP_VERSION_MIN || version > NTP_VERSION_MAX)
		return NTP_REQ_BAD_VERSION;
	return NTP_REQ_OK;
}

bool ntp_state_synced(const struct ntp_server_state *st)
{
	return st->leap != NTP_LEAP_UNSYNC &&
	       st->stratum >= 1 && st->stratum <= NTP_STRATUM_MAX;
}

/*
 * The origin timestamp is the request's transmit timestamp, bit for bit.
 * The poll is the request's, raised to min_poll: a server that rate limits
 * asks for no shorter an interval than its limit's, as chronyd does.
 */
static void reply_header(u8 *pkt, u8 leap, u8 stratum, s8 min_poll,
			 s8 precision)
{
	s8 poll = (s8)pkt[NTP_OFF_POLL];
	int i;

	if (poll < min_poll)
		poll = min_poll;

	for (i = 0; i < 8; i++)
		pkt[NTP_OFF_ORIGIN + i] = pkt[NTP_OFF_TX + i];
	pkt[NTP_OFF_LVM] = leap << 6 | pkt_version(pkt) << 3 | NTP_MODE_SERVER;
	pkt[NTP_OFF_STRATUM] = stratum;
	pkt[NTP_OFF_POLL] = (u8)poll;
	pkt[NTP_OFF_PRECISION] = (u8)precision;
}

/*
 * Turn a validated request into a reply in place.  The transmit timestamp
 * is left to ntp_set_tx(), to be read as late as possible.  min_poll is
 * S8_MIN without rate limiting.
 */
void ntp_build_reply(u8 *pkt, const struct ntp_server_state *st,
		     u32 root_disp, s8 min_poll, u64 rx)
{
	reply_header(pkt, st->leap, st->stratum, min_poll, st->precision);
	put_be32(pkt + NTP_OFF_ROOT_DELAY, st->root_delay);
	put_be32(pkt + NTP_OFF_ROOT_DISP, root_disp);
	put_be32(pkt + NTP_OFF_REFID, st->refid);
	put_be64(pkt + NTP_OFF_REFTIME, st->reftime);
	put_be64(pkt + NTP_OFF_RX, rx);
}

/*
 * A RATE kiss-o'-death (RFC 5905, section 7.4): LI 3, stratum 0, refid
 * "RATE", and a poll no lower than the rate limit's interval, so that a
 * compliant client backs off.
 */
void ntp_build_kod(u8 *pkt, s8 poll, u64 rx)
{
	reply_header(pkt, NTP_LEAP_UNSYNC, 0, poll, 0);
	put_be32(pkt + NTP_OFF_ROOT_DELAY, 0);
	put_be32(pkt + NTP_OFF_ROOT_DISP, 0);
	put_be32(pkt + NTP_OFF_REFID, 0x52415445);	/* "RATE" */
	put_be64(pkt + NTP_OFF_REFTIME, 0);
	put_be64(pkt + NTP_OFF_RX, rx);
}

void ntp_set_tx(u8 *pkt, u64 tx)
{
	put_be64(pkt + NTP_OFF_TX, tx);
}

/*
 * Exact to the nanosecond: the fraction is rounded down, so that rounding
 * up in ntp_ts_to_unix() gives back the same nanosecond.  The seconds wrap
 * modulo 2^32, which is the NTP era rollover (2036-02-07 06:28:16 UTC is
 * era 1, second 0).
 */
u64 ntp_ts_from_unix(s64 sec, u32 nsec)
{
	u32 ntp_sec = (u32)(u64)(sec + NTP_UNIX_OFFSET);
	u32 frac = (u32)ntp_div_u64((u64)nsec << 32, NSEC_PER_SEC_U32);

	return (u64)ntp_sec << 32 | frac;
}

/*
 * The inverse, with the era taken as the one that puts the result within
 * 68 years of pivot (Unix seconds), as RFC 5905 section 6 suggests.
 */
void ntp_ts_to_unix(u64 ts, s64 pivot, s64 *sec, u32 *nsec)
{
	u32 pivot_ntp = (u32)(u64)(pivot + NTP_UNIX_OFFSET);
	u64 frac = (u32)ts;

	*sec = pivot + (s32)((u32)(ts >> 32) - pivot_ntp);
	*nsec = (u32)((frac * NSEC_PER_SEC_U32 + 0xffffffffULL) >> 32);
	/* The last four fractions round up into the next second. */
	if (*nsec >= NSEC_PER_SEC_U32) {
		*nsec -= NSEC_PER_SEC_U32;
		(*sec)++;
	}
}

/*
 * The growth of root dispersion at rate_ppb (1e-9 s per s), in NTP short
 * units (2^-16 s) per ns, times 2^NTP_DISP_SHIFT and rounded up.  It is
 * worked out once per push, so that the hot path multiplies and never
 * divides.  rate * 2^16 / 1e18 * 2^62 is rate * 2^60 / 5^18: a long
 * division, 20 bits a step, so that every step fits in 64 bits (the
 * remainder stays below 5^18 < 2^42).
 */
u64 ntp_disp_mult(u32 rate_ppb)
{
	const u64 five18 = 3814697265625ULL;
	u64 q = 0, r = rate_ppb, d;
	int i;

	for (i = 0; i < 3; i++) {
		r <<= 20;
		d = ntp_div64_u64(r, five18);
		q = q << 20 | d;
		r -= d * five18;
	}
	return q + (r != 0);
}

/*
 * Root dispersion grows by age * mult / 2^NTP_DISP_SHIFT (mult from
 * ntp_disp_mult()), in NTP short format, rounded up and saturating.  Ages
 * are clamped to 2^50 ns (13 days, far beyond NTPK_MAX_AGE_MAX).  Over that
 * the rounded-up multiplier adds less than 2^-12 of a unit, so the result
 * is the exact value rounded up, or one unit (15 us) more when the exact
 * value is within that of a whole unit: never less.
 */
u32 ntp_disp_add(u32 root_disp, u64 age_ns, u64 mult)
{
	u64 inc;

	if (age_ns > 1ULL << 50)
		age_ns = 1ULL << 50;
	inc = ntp_mul_u64_u64_shr(age_ns, mult, NTP_DISP_SHIFT);
	/* Rounding up: the product's low bits are those of its 64-bit wrap. */
	if ((age_ns * mult) & ((1ULL << NTP_DISP_SHIFT) - 1))
		inc++;
	if (inc > 0xffffffffULL - root_disp)
		return 0xffffffffU;
	return root_disp + (u32)inc;
}

/*
 * Days from 1 March of year 0 of a 400-year cycle (146097 days) to 1 March
 * of year yoe, 0..400.
 */
static u32 march_year_start(u32 yoe)
{
	return 365 * yoe + yoe / 4 - yoe / 100 + yoe / 400;
}

/*
 * The first second of the UTC month after the one holding now (Unix
 * seconds): the instant of a leap second announced now, since RFC 5905
 * allows one at the end of any month.  Howard Hinnant's civil-from-days
 * ("chrono-Compatible Low-Level Date Algorithms"), on years that begin on
 * 1 March so that February and its leap day come last.  Times before 1970
 * count as 1970-01-01.  Only divisions by constants that fit in 32 bits.
 */
s64 ntp_leap_instant(s64 now)
{
	u64 z, era;
	u32 doe, yoe, doy, mp, next;

	if (now < 0)
		now = 0;
	/* Days since 0000-03-01 (proleptic Gregorian). */
	z = ntp_div_u64((u64)now, 86400) + 719468;
	era = ntp_div_u64(z, 146097);
	doe = (u32)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - march_year_start(yoe);
	mp = (5 * doy + 2) / 153;	/* month: 0 March .. 11 February */
	if (mp < 11)
		next = march_year_start(yoe) + (153 * (mp + 1) + 2) / 5;
	else
		next = march_year_start(yoe + 1);
	return (s64)((era * 146097 + next - 719468) * 86400);
}
