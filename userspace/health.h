/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * follow --vip: whether the node's own time service is good enough to
 * announce the node.  This is the second of follow's two health signals,
 * and deliberately looser than the first (whether ntpk's fast path may
 * answer, decide() in follow.c): the fast path steps aside for reasons
 * that hit every node of a cluster at the same moment and say nothing
 * about the daemon's time (a correction above --max-error after an
 * upstream step, smoothing, the window around a leap second).  The node
 * then answers from its daemon, slower but correct, so it stays in the
 * route.  The service is bad only when the daemon is: unsynchronised,
 * gone, silent for longer than the module's max-age, above --max-stratum,
 * or with a root distance above --vip-max-distance.
 */
#ifndef NTPKCTL_HEALTH_H
#define NTPKCTL_HEALTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "source.h"

struct health_opts {
	unsigned int max_stratum;
	uint64_t max_distance_ns;	/* root delay / 2 + root dispersion */
};

struct health {
	struct health_opts o;
	bool answered;			/* some reading was answered */
	uint32_t reason;		/* the last answered reading's verdict */
	char why[256];			/* and its explanation */
	struct timespec answer;		/* CLOCK_MONOTONIC: when it was taken */
	int64_t leap_at;		/* Unix seconds of an announced leap, or 0 */
};

void health_init(struct health *h, const struct health_opts *o);
/*
 * The verdict on reading r, taken at realtime now: NTPK_REASON_NONE when
 * the time service is good, else the reason (NTPK_REASON_UNSYNC, _STRATUM,
 * _DISTANCE, _DAEMON_GONE, _EXPIRED, _FOLLOW_STOPPED), with why in words.
 * max_age_ms is the module's max-age: a reading without an answer
 * (SRC_LOST) keeps the last answered reading's verdict until the silence
 * has lasted that long.
 */
uint32_t health_judge(struct health *h, const struct src_reading *r,
		      const struct timespec *now_real, uint64_t max_age_ms,
		      char *why, size_t len);

#endif
