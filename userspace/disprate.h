/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * How fast the daemon's root dispersion grows, measured rather than
 * assumed.  Between two of the daemon's updates (readings that share a
 * reference time) its root dispersion grows linearly, at the rate it uses
 * itself: for chronyd skew + |residual frequency| + its maxclockerror,
 * which is configuration no report carries.  So the rate is observable
 * from two readings, and follow ages at no less than what it saw.
 */
#ifndef NTPKCTL_DISPRATE_H
#define NTPKCTL_DISPRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct disp_meter {
	bool have_first;
	uint64_t reftime;		/* of the first reading below */
	uint64_t disp_ns;		/* its root dispersion, rounded up */
	int64_t done;			/* ns: when its answer had arrived */
	int64_t rtt_ns;
	uint32_t measured_ppb;		/* for this reference time; 0: none yet */
	/* The last measurement's excess over the computed rate, carried over
	 * to the next reference time: what the daemon adds that its report
	 * does not say (maxclockerror), until a measurement says otherwise. */
	uint32_t excess_ppb;
};

/*
 * The rate to age a synchronised reading's root dispersion at: the larger
 * of the computed one (computed_ppb, with the carried excess) and the one
 * measured over this reference time.  disp_ns is the reading's root
 * dispersion rounded up, res_ns how much it may be above the daemon's
 * exact value (the report's resolution), taken and rtt_ns when it was
 * asked and how long the answer took (CLOCK_MONOTONIC).
 */
uint32_t disp_meter_rate(struct disp_meter *m, uint64_t reftime,
			 uint64_t disp_ns, uint64_t res_ns,
			 const struct timespec *taken, int64_t rtt_ns,
			 uint32_t computed_ppb);

#endif
