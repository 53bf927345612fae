/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ntpkctl's own NTP wire helpers: the header fields that follow reads and
 * writes as an NTP client, and the timestamp conversions that parse and
 * format use.  The module has its own NTP code in kmod/; the two share only
 * kmod/uapi/linux/ntpk.h.  The conversions give the same numbers as the
 * module's, which selftests/unit/ntpwire_test.c checks.
 */
#ifndef NTPKCTL_NTPWIRE_H
#define NTPKCTL_NTPWIRE_H

#include <stdint.h>

#define NW_PKT_LEN		48	/* the header, no extension fields or MAC */
#define NW_MODE_CLIENT		3
#define NW_MODE_SERVER		4
#define NW_LEAP_UNSYNC		3
#define NW_STRATUM_MAX		15

/* Seconds from 1900-01-01 (the NTP epoch) to 1970-01-01 (the Unix one). */
#define NW_UNIX_OFFSET		2208988800LL

/* Byte offsets of the header fields (RFC 5905, figure 8). */
#define NW_OFF_LVM		0	/* leap 2 bits, version 3, mode 3 */
#define NW_OFF_STRATUM		1
#define NW_OFF_POLL		2
#define NW_OFF_PRECISION	3
#define NW_OFF_ROOT_DELAY	4
#define NW_OFF_ROOT_DISP	8
#define NW_OFF_REFID		12
#define NW_OFF_REFTIME		16
#define NW_OFF_ORIGIN		24
#define NW_OFF_RX		32
#define NW_OFF_TX		40

static inline uint8_t nw_lvm(unsigned int leap, unsigned int version,
			     unsigned int mode)
{
	return (uint8_t)((leap & 3) << 6 | (version & 7) << 3 | (mode & 7));
}

static inline unsigned int nw_leap(const uint8_t *pkt)
{
	return pkt[NW_OFF_LVM] >> 6;
}

static inline unsigned int nw_version(const uint8_t *pkt)
{
	return (pkt[NW_OFF_LVM] >> 3) & 7;
}

static inline unsigned int nw_mode(const uint8_t *pkt)
{
	return pkt[NW_OFF_LVM] & 7;
}

uint32_t nw_get_be32(const uint8_t *p);
uint64_t nw_get_be64(const uint8_t *p);
void nw_put_be32(uint8_t *p, uint32_t v);
void nw_put_be64(uint8_t *p, uint64_t v);

/*
 * Nanoseconds to NTP short format (16.16 seconds), rounded up so that a
 * bound stays a bound; UINT32_MAX (65536 s) and above saturate.
 */
uint32_t nw_short_from_ns_ceil(uint64_t ns);
/*
 * NTP short format to nanoseconds, rounded down: within a nanosecond, and
 * nw_short_from_ns_ceil() gives back the same value.
 */
uint64_t nw_short_to_ns(uint32_t v);

/*
 * The root dispersion to push, ns: the daemon's (disp_ns), aged by age_ns
 * at rate_ppb, plus the error ntpk adds; the aging rounded up, the sum
 * saturating.  age_ns is capped at an hour (more is no follower's case).
 */
uint64_t nw_disp_bound_ns(uint64_t disp_ns, uint64_t error_ns,
			  uint64_t age_ns, uint32_t rate_ppb);

/* floor(nsec * 2^32 / 10^9), for nsec below 10^9. */
uint32_t nw_frac_from_nsec(uint32_t nsec);
/*
 * Unix time to an NTP timestamp (32.32 seconds since 1900), nsec below
 * 10^9.  The seconds wrap modulo 2^32: 2036-02-07 06:28:16 UTC is era 1,
 * second 0.
 */
uint64_t nw_ts_from_unix(int64_t sec, uint32_t nsec);
/*
 * The inverse, taking the era that puts *sec within 68 years (2^31 s) of
 * pivot, a Unix time.  *nsec is below 10^9, and a timestamp made by
 * nw_ts_from_unix() comes back to the very nanosecond.
 */
void nw_ts_to_unix(uint64_t ts, int64_t pivot, int64_t *sec, uint32_t *nsec);

#endif
