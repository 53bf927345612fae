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

/* The origin timestamp is the request's transmit timestamp, bit for bit. */
static void reply_header(u8 *pkt, u8 leap, u8 stratum, s8 poll, s8 precision)
{
	int i;

	for (i = 0; i < 8; i++)
		pkt[NTP_OFF_ORIGIN + i] = pkt[NTP_OFF_TX + i];
	pkt[NTP_OFF_LVM] = leap << 6 | pkt_version(pkt) << 3 | NTP_MODE_SERVER;
	pkt[NTP_OFF_STRATUM] = stratum;
	pkt[NTP_OFF_POLL] = (u8)poll;
	pkt[NTP_OFF_PRECISION] = (u8)precision;
}

/*
 * Turn a validated request into a reply in place.  The transmit timestamp
 * is left to ntp_set_tx(), to be read as late as possible.
 */
void ntp_build_reply(u8 *pkt, const struct ntp_server_state *st,
		     u32 root_disp, u64 rx)
{
	reply_header(pkt, st->leap, st->stratum, (s8)pkt[NTP_OFF_POLL],
		     st->precision);
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
	s8 req_poll = (s8)pkt[NTP_OFF_POLL];

	reply_header(pkt, NTP_LEAP_UNSYNC, 0, req_poll > poll ? req_poll : poll,
		     0);
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
 * Root dispersion grows by 15 ppm of the state's age (RFC 5905 PHI), in NTP
 * short format, rounded up and saturating.  15e-6 * 65536 / 1e9 per ns is
 * 6 / 5^14, divided in two steps so that each divisor fits in 32 bits.
 */
u32 ntp_disp_add(u32 root_disp, u64 age_ns)
{
	const u32 five7 = 78125;
	u64 inc;

	if (age_ns > 1ULL << 50)
		age_ns = 1ULL << 50;
	inc = ntp_div_u64(age_ns * 6 + five7 - 1, five7);
	inc = ntp_div_u64(inc + five7 - 1, five7);
	if (inc > 0xffffffffULL - root_disp)
		return 0xffffffffU;
	return root_disp + (u32)inc;
}
