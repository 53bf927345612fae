// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The measured ageing rate of the daemon's root dispersion: see disprate.h.
 *
 * The measurement is an upper bound.  The span is the shortest the two
 * answers can be apart (the second request's sending minus the first
 * answer's arrival), and the growth the largest the two rounded values
 * allow (each may be res_ns above the exact one).  It is made only where
 * those margins are small: a span of at least 50 ms, at least 16 times the
 * two round trips (a late answer under a flood tells nothing), and long
 * enough that the resolution adds at most 2 ppm (7.6 s for NTP's 15 us,
 * microseconds for chronyd's floats).
 */
#include "disprate.h"

#define SPAN_MIN_NS	50000000LL
#define RTT_RATIO	16
#define RES_RATIO	500000		/* res / span <= 2e-6 */
#define RATE_MAX_PPB	UINT32_MAX

static uint32_t add_sat(uint32_t a, uint32_t b)
{
	return a > RATE_MAX_PPB - b ? RATE_MAX_PPB : a + b;
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static void start(struct disp_meter *m, uint64_t reftime, uint64_t disp_ns,
		  const struct timespec *taken, int64_t rtt_ns)
{
	m->have_first = true;
	m->reftime = reftime;
	m->disp_ns = disp_ns;
	m->done = ns(taken) + rtt_ns;
	m->rtt_ns = rtt_ns;
	m->measured_ppb = 0;
}

uint32_t disp_meter_rate(struct disp_meter *m, uint64_t reftime,
			 uint64_t disp_ns, uint64_t res_ns,
			 const struct timespec *taken, int64_t rtt_ns,
			 uint32_t computed_ppb)
{
	uint32_t rate = add_sat(computed_ppb, m->excess_ppb);
	double growth, ppb;
	int64_t span;

	if (!m->have_first || m->reftime != reftime) {
		start(m, reftime, disp_ns, taken, rtt_ns);
		return rate;
	}
	span = ns(taken) - m->done;
	if (span < SPAN_MIN_NS || span < RTT_RATIO * (m->rtt_ns + rtt_ns) ||
	    (double)span < (double)res_ns * RES_RATIO)
		return m->measured_ppb > rate ? m->measured_ppb : rate;
	/* The first value may be res_ns high, this one res_ns low. */
	growth = (double)disp_ns - (double)m->disp_ns + 2.0 * (double)res_ns;
	ppb = growth > 0 ? growth * 1e9 / (double)span + 1 : 0;
	m->measured_ppb = ppb >= RATE_MAX_PPB ? RATE_MAX_PPB : (uint32_t)ppb;
	m->excess_ppb = m->measured_ppb > computed_ppb ?
			m->measured_ppb - computed_ppb : 0;
	return m->measured_ppb > rate ? m->measured_ppb : rate;
}
