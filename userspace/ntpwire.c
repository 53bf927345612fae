// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * NTP wire helpers for ntpkctl: big-endian fields and timestamp
 * conversions.  See ntpwire.h.
 */
#include "ntpwire.h"

#define NW_NSEC_PER_SEC		1000000000U

uint32_t nw_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

uint64_t nw_get_be64(const uint8_t *p)
{
	return (uint64_t)nw_get_be32(p) << 32 | nw_get_be32(p + 4);
}

void nw_put_be32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 3; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

void nw_put_be64(uint8_t *p, uint64_t v)
{
	nw_put_be32(p, (uint32_t)(v >> 32));
	nw_put_be32(p + 4, (uint32_t)v);
}

/* 65536 s is 2^16 * 10^9 ns < 2^46: every product below fits in 64 bits. */
uint32_t nw_short_from_ns_ceil(uint64_t ns)
{
	uint64_t v;

	if (ns >= 65536ULL * NW_NSEC_PER_SEC)
		return UINT32_MAX;
	v = ((ns << 16) + NW_NSEC_PER_SEC - 1) / NW_NSEC_PER_SEC;
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

uint64_t nw_short_to_ns(uint32_t v)
{
	return ((uint64_t)v * NW_NSEC_PER_SEC) >> 16;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* 3600 s * (2^32 - 1) ppb < 2^64 */
uint64_t nw_disp_bound_ns(uint64_t disp_ns, uint64_t error_ns,
			  uint64_t age_ns, uint32_t rate_ppb)
{
	uint64_t aged;

	if (age_ns > 3600ULL * NW_NSEC_PER_SEC)
		age_ns = 3600ULL * NW_NSEC_PER_SEC;
	aged = (age_ns * rate_ppb + NW_NSEC_PER_SEC - 1) / NW_NSEC_PER_SEC;
	return add_sat(add_sat(disp_ns, error_ns), aged);
}

/* nsec < 10^9, so nsec * 2^32 fits in 64 bits and the quotient in 32. */
uint32_t nw_frac_from_nsec(uint32_t nsec)
{
	return (uint32_t)(((uint64_t)nsec << 32) / NW_NSEC_PER_SEC);
}

/*
 * The fraction is rounded down, so that nw_ts_to_unix() can round up and
 * land on the same nanosecond.  The sum is taken in unsigned 64 bits, where
 * it wraps instead of overflowing; its low 32 bits are the era's second.
 */
uint64_t nw_ts_from_unix(int64_t sec, uint32_t nsec)
{
	uint32_t era_sec = (uint32_t)((uint64_t)sec + (uint64_t)NW_UNIX_OFFSET);

	return (uint64_t)era_sec << 32 | nw_frac_from_nsec(nsec);
}

void nw_ts_to_unix(uint64_t ts, int64_t pivot, int64_t *sec, uint32_t *nsec)
{
	uint32_t pivot_sec = (uint32_t)((uint64_t)pivot + (uint64_t)NW_UNIX_OFFSET);
	uint32_t ahead = (uint32_t)(ts >> 32) - pivot_sec;	/* modulo 2^32 */
	uint64_t ns;
	int64_t s;

	/* Seconds from the pivot to the timestamp, -2^31 .. 2^31 - 1. */
	s = pivot + (ahead < 0x80000000U ? (int64_t)ahead
					 : (int64_t)ahead - 0x100000000LL);
	/*
	 * ceil(frac * 10^9 / 2^32): at most 10^9, reached by the top few
	 * fractions, which belong to the next second.
	 */
	ns = ((ts & 0xffffffffU) * NW_NSEC_PER_SEC + 0xffffffffU) >> 32;
	if (ns >= NW_NSEC_PER_SEC) {
		ns -= NW_NSEC_PER_SEC;
		s++;
	}
	*sec = s;
	*nsec = (uint32_t)ns;
}
