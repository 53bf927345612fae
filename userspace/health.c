// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * follow --vip: the time service's verdict on each reading (health.h).
 * Only the daemon's own account counts here; what ntpk's fast path makes
 * of it is follow.c's business.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/ntpk.h>

#include "health.h"

/*
 * chronyd reports leap status 3 while it handles a leap second it
 * announced (leap_in_progress in its reference.c): from half a second
 * before the leap (leapsecmode system) to 2 s after it, on every node at
 * once.  Its time is right throughout, so LI 3 this close to a leap that
 * the daemon announced (LI 1 or 2 in an earlier reading) is not taken as
 * a loss of synchronisation.
 */
#define LEAP_GRACE_S		3
/*
 * A leap announced now is at the end of this month.  As the module does
 * (leap_instant() in kmod/netlink.c), ten minutes are taken off, so that
 * an announcement still heard just after the leap names the leap just
 * past rather than one a month away.
 */
#define LEAP_LOOKBACK_S		600

/* The first second of the UTC month after t: where a leap of this month is. */
static int64_t month_end(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	tm.tm_mon++;
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	return (int64_t)timegm(&tm);
}

/* When r was taken; now for a reading that failed before it asked. */
static struct timespec taken(const struct src_reading *r)
{
	struct timespec t = r->taken;

	if (!t.tv_sec && !t.tv_nsec)
		clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

void health_init(struct health *h, const struct health_opts *o)
{
	memset(h, 0, sizeof(*h));
	h->o = *o;
}

/* An answered reading, synchronised: the daemon's own numbers decide. */
static uint32_t judge_synced(const struct health *h, const struct src_reading *r,
			     char *why, size_t len)
{
	uint64_t dist = r->root_delay_ns / 2 + r->root_disp_ns;

	if (r->stratum > h->o.max_stratum) {
		snprintf(why, len, "stratum %u above --max-stratum %u",
			 r->stratum, h->o.max_stratum);
		return NTPK_REASON_STRATUM;
	}
	if (dist > h->o.max_distance_ns) {
		snprintf(why, len,
			 "root distance %.6f s (root delay %.6f s / 2 + root dispersion %.6f s) above --vip-max-distance %.6f s",
			 dist / 1e9, r->root_delay_ns / 1e9, r->root_disp_ns / 1e9,
			 h->o.max_distance_ns / 1e9);
		return NTPK_REASON_DISTANCE;
	}
	snprintf(why, len, "synchronised, stratum %u, root distance %.6f s",
		 r->stratum, dist / 1e9);
	return NTPK_REASON_NONE;
}

/* Silence: the last answer's verdict, until it is older than max-age. */
static uint32_t judge_lost(const struct health *h, const struct src_reading *r,
			   uint64_t max_age_ms, char *why, size_t len)
{
	struct timespec now;
	int64_t silent_ms;

	if (!h->answered) {
		snprintf(why, len, "no answer from the daemon yet: %s", r->why);
		return NTPK_REASON_EXPIRED;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	silent_ms = src_mono_diff_ns(&now, &h->answer) / 1000000;
	if (silent_ms >= (int64_t)max_age_ms) {
		snprintf(why, len,
			 "no answer from the daemon for %" PRId64 ".%03" PRId64 " s, max-age %" PRIu64 " s: %s",
			 silent_ms / 1000, silent_ms % 1000, max_age_ms / 1000,
			 r->why);
		return NTPK_REASON_EXPIRED;
	}
	snprintf(why, len, "%s", h->why);
	return h->reason;
}

uint32_t health_judge(struct health *h, const struct src_reading *r,
		      const struct timespec *now_real, uint64_t max_age_ms,
		      char *why, size_t len)
{
	int64_t now = now_real->tv_sec;
	uint32_t reason;

	switch (r->status) {
	case SRC_LOST:
		return judge_lost(h, r, max_age_ms, why, len);
	case SRC_FATAL:
		snprintf(why, len, "%s", r->why);
		return NTPK_REASON_FOLLOW_STOPPED;
	case SRC_GONE:
		snprintf(why, len, "%s", r->why);
		reason = NTPK_REASON_DAEMON_GONE;
		break;
	case SRC_UNSYNCED:
		if (r->leap == 3 && h->leap_at && h->answered &&
		    now >= h->leap_at - LEAP_GRACE_S &&
		    now <= h->leap_at + LEAP_GRACE_S) {
			/* The last verdict stands, and stays the last. */
			snprintf(why, len,
				 "leap status 3 within %d s of the leap it announced: %s",
				 LEAP_GRACE_S, h->why);
			h->answer = taken(r);
			return h->reason;
		}
		snprintf(why, len, "%s", r->why);
		reason = NTPK_REASON_UNSYNC;
		break;
	case SRC_SYNCED:
	default:
		if (r->leap == 1 || r->leap == 2)
			h->leap_at = month_end(now - LEAP_LOOKBACK_S);
		else if (h->leap_at && now < h->leap_at - LEAP_GRACE_S)
			h->leap_at = 0;		/* the announcement was withdrawn */
		reason = judge_synced(h, r, why, len);
		break;
	}
	if (h->leap_at && now > h->leap_at + LEAP_GRACE_S)
		h->leap_at = 0;
	h->answered = true;
	h->answer = taken(r);
	h->reason = reason;
	snprintf(h->why, sizeof(h->why), "%s", why);
	return reason;
}
