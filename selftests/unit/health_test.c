// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Host unit tests for follow --vip's time-service verdict
 * (userspace/health.c), KTAP output: every reason with its exact words,
 * the boundaries of --max-stratum and --vip-max-distance, leap status 3
 * around a leap the daemon announced (and only then), and silence kept
 * as the last answer's verdict until max-age.
 */
#include <stdio.h>
#include <string.h>
#include <linux/ntpk.h>

#include "ktap.h"
#include "health.h"

#define LEAP_2017	1483228800LL	/* 2017-01-01 00:00:00 UTC */
#define LEAP_2015	1435708800LL	/* 2015-07-01 00:00:00 UTC */
#define MAX_AGE_MS	5000

/* source.c's, without the rest of the sources. */
int64_t src_mono_diff_ns(const struct timespec *a, const struct timespec *b)
{
	return (a->tv_sec - b->tv_sec) * SRC_NSEC_PER_SEC +
	       (a->tv_nsec - b->tv_nsec);
}

static const struct health_opts opts = {
	.max_stratum = 4,
	.max_distance_ns = 1000000000ULL,
};

static char why[256];

/* A reading taken ago_ms before now (CLOCK_MONOTONIC). */
static struct src_reading reading(enum src_status st, unsigned int leap,
				  unsigned int stratum, uint64_t delay_ns,
				  uint64_t disp_ns, int64_t ago_ms)
{
	struct src_reading r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	r.leap = leap;
	r.stratum = stratum;
	r.root_delay_ns = delay_ns;
	r.root_disp_ns = disp_ns;
	clock_gettime(CLOCK_MONOTONIC, &r.taken);
	r.taken.tv_sec -= ago_ms / 1000;
	r.taken.tv_nsec -= (ago_ms % 1000) * 1000000;
	if (r.taken.tv_nsec < 0) {
		r.taken.tv_nsec += 1000000000;
		r.taken.tv_sec--;
	}
	snprintf(r.why, sizeof(r.why), "the source's words");
	return r;
}

static uint32_t judge_at(struct health *h, struct src_reading r, int64_t unix_s,
			 long nsec)
{
	struct timespec now = { .tv_sec = unix_s, .tv_nsec = nsec };

	return health_judge(h, &r, &now, MAX_AGE_MS, why, sizeof(why));
}

#define CHECK_WHY(want) do {						\
	if (strcmp(why, (want)))					\
		diag("%s:%d: why \"%s\", want \"%s\"", __FILE__,	\
		     __LINE__, why, (want));				\
} while (0)

static void test_synced(void)
{
	struct health h;

	health_init(&h, &opts);
	CHECK_EQ(judge_at(&h, reading(SRC_SYNCED, 0, 2, 10000000, 5000000, 0),
			  1700000000, 0), NTPK_REASON_NONE, "good");
	CHECK_WHY("synchronised, stratum 2, root distance 0.010000 s");
	CHECK_EQ(judge_at(&h, reading(SRC_SYNCED, 0, 4, 0, 0, 0), 1700000000, 0),
		 NTPK_REASON_NONE, "stratum at the bound");
	CHECK_EQ(judge_at(&h, reading(SRC_SYNCED, 0, 5, 0, 0, 0), 1700000000, 0),
		 NTPK_REASON_STRATUM, "stratum above");
	CHECK_WHY("stratum 5 above --max-stratum 4");
	/* 1 s / 2 + 0.5 s: at the bound, good; a nanosecond more, bad. */
	CHECK_EQ(judge_at(&h, reading(SRC_SYNCED, 0, 2, 1000000000, 500000000, 0),
			  1700000000, 0), NTPK_REASON_NONE, "distance at the bound");
	CHECK_EQ(judge_at(&h, reading(SRC_SYNCED, 0, 2, 1000000000, 500000001, 0),
			  1700000000, 0), NTPK_REASON_DISTANCE, "distance above");
	CHECK_WHY("root distance 1.000000 s (root delay 1.000000 s / 2 + root dispersion 0.500000 s) above --vip-max-distance 1.000000 s");
	/* The stratum is judged first. */
	CHECK_EQ(judge_at(&h, reading(SRC_SYNCED, 0, 9, 4000000000, 0, 0),
			  1700000000, 0), NTPK_REASON_STRATUM, "both");
}

static void test_bad(void)
{
	struct health h;

	health_init(&h, &opts);
	CHECK_EQ(judge_at(&h, reading(SRC_UNSYNCED, 3, 0, 0, 0, 0), 1700000000, 0),
		 NTPK_REASON_UNSYNC, "unsynchronised");
	CHECK_WHY("the source's words");
	CHECK_EQ(judge_at(&h, reading(SRC_GONE, 0, 0, 0, 0, 0), 1700000000, 0),
		 NTPK_REASON_DAEMON_GONE, "gone");
	CHECK_EQ(judge_at(&h, reading(SRC_FATAL, 0, 0, 0, 0, 0), 1700000000, 0),
		 NTPK_REASON_FOLLOW_STOPPED, "fatal");
}

static void test_leap(void)
{
	struct health h;

	/* Announced on the last day: LI 3 in the 3 s around it is kept. */
	health_init(&h, &opts);
	CHECK_EQ(judge_at(&h, reading(SRC_SYNCED, 1, 2, 0, 0, 0), LEAP_2017 - 10, 0),
		 NTPK_REASON_NONE, "LI 1");
	CHECK_EQ(h.leap_at, LEAP_2017, "the leap instant");
	CHECK_EQ(judge_at(&h, reading(SRC_UNSYNCED, 3, 2, 0, 0, 0), LEAP_2017 - 1,
			  500000000), NTPK_REASON_NONE, "LI 3 from 23:59:59.5 (leapsecmode system)");
	CHECK_EQ(judge_at(&h, reading(SRC_UNSYNCED, 3, 2, 0, 0, 0), LEAP_2017 + 1, 0),
		 NTPK_REASON_NONE, "LI 3 1 s after");
	CHECK_WHY("leap status 3 within 3 s of the leap it announced: synchronised, stratum 2, root distance 0.000000 s");
	CHECK_EQ(judge_at(&h, reading(SRC_UNSYNCED, 3, 2, 0, 0, 0), LEAP_2017 + 3, 0),
		 NTPK_REASON_NONE, "LI 3 3 s after");
	CHECK_EQ(judge_at(&h, reading(SRC_UNSYNCED, 3, 2, 0, 0, 0), LEAP_2017 + 4, 0),
		 NTPK_REASON_UNSYNC, "LI 3 4 s after");
	CHECK_EQ(h.leap_at, 0, "forgotten after the grace");

	/* Never announced: LI 3 at midnight is a loss of synchronisation. */
	health_init(&h, &opts);
	CHECK_EQ(judge_at(&h, reading(SRC_SYNCED, 0, 2, 0, 0, 0), LEAP_2017 - 10, 0),
		 NTPK_REASON_NONE, "LI 0");
	CHECK_EQ(judge_at(&h, reading(SRC_UNSYNCED, 3, 2, 0, 0, 0), LEAP_2017 + 1, 0),
		 NTPK_REASON_UNSYNC, "LI 3 unannounced");

	/* Announced, then withdrawn (LI 0 before it): forgotten. */
	health_init(&h, &opts);
	judge_at(&h, reading(SRC_SYNCED, 1, 2, 0, 0, 0), LEAP_2017 - 43200, 0);
	judge_at(&h, reading(SRC_SYNCED, 0, 2, 0, 0, 0), LEAP_2017 - 43100, 0);
	CHECK_EQ(h.leap_at, 0, "withdrawn");
	CHECK_EQ(judge_at(&h, reading(SRC_UNSYNCED, 3, 2, 0, 0, 0), LEAP_2017 + 1, 0),
		 NTPK_REASON_UNSYNC, "LI 3 after a withdrawn announcement");

	/* A June leap; and LI 1 still heard just after the instant. */
	health_init(&h, &opts);
	judge_at(&h, reading(SRC_SYNCED, 1, 2, 0, 0, 0), LEAP_2015 - 5, 0);
	CHECK_EQ(h.leap_at, LEAP_2015, "June");
	health_init(&h, &opts);
	judge_at(&h, reading(SRC_SYNCED, 1, 2, 0, 0, 0), LEAP_2017, 500000000);
	CHECK_EQ(h.leap_at, LEAP_2017, "LI 1 just after names the leap just past");
	CHECK_EQ(judge_at(&h, reading(SRC_UNSYNCED, 3, 2, 0, 0, 0), LEAP_2017 + 1, 0),
		 NTPK_REASON_NONE, "LI 3 after it");

	/* A bad verdict before the leap stays bad through it. */
	health_init(&h, &opts);
	judge_at(&h, reading(SRC_SYNCED, 1, 7, 0, 0, 0), LEAP_2017 - 10, 0);
	CHECK_EQ(judge_at(&h, reading(SRC_UNSYNCED, 3, 7, 0, 0, 0), LEAP_2017 + 1, 0),
		 NTPK_REASON_STRATUM, "stratum through the leap");
}

static void test_silence(void)
{
	struct health h;

	health_init(&h, &opts);
	CHECK_EQ(judge_at(&h, reading(SRC_LOST, 0, 0, 0, 0, 0), 1700000000, 0),
		 NTPK_REASON_EXPIRED, "never answered");
	CHECK_WHY("no answer from the daemon yet: the source's words");
	/* Good 4 s ago: still good; 6 s ago (max-age 5 s): expired. */
	judge_at(&h, reading(SRC_SYNCED, 0, 2, 0, 0, 4000), 1700000000, 0);
	CHECK_EQ(judge_at(&h, reading(SRC_LOST, 0, 0, 0, 0, 0), 1700000000, 0),
		 NTPK_REASON_NONE, "silent 4 s");
	CHECK_WHY("synchronised, stratum 2, root distance 0.000000 s");
	judge_at(&h, reading(SRC_SYNCED, 0, 2, 0, 0, 6000), 1700000000, 0);
	CHECK_EQ(judge_at(&h, reading(SRC_LOST, 0, 0, 0, 0, 0), 1700000000, 0),
		 NTPK_REASON_EXPIRED, "silent 6 s");
	if (strncmp(why, "no answer from the daemon for 6.", 32) ||
	    !strstr(why, " s, max-age 5 s: the source's words"))
		diag("why \"%s\"", why);
	/* Silence keeps a bad verdict bad. */
	judge_at(&h, reading(SRC_SYNCED, 0, 6, 0, 0, 1000), 1700000000, 0);
	CHECK_EQ(judge_at(&h, reading(SRC_LOST, 0, 0, 0, 0, 0), 1700000000, 0),
		 NTPK_REASON_STRATUM, "silent after a bad answer");
	/* A lost reading is not an answer: the silence goes on from the last. */
	judge_at(&h, reading(SRC_SYNCED, 0, 2, 0, 0, 4000), 1700000000, 0);
	judge_at(&h, reading(SRC_LOST, 0, 0, 0, 0, 0), 1700000000, 0);
	judge_at(&h, reading(SRC_LOST, 0, 0, 0, 0, 0), 1700000000, 0);
	CHECK_EQ(h.reason, NTPK_REASON_NONE, "the last answer's verdict");
}

static const struct ktap_test tests[] = {
	T(synced),
	T(bad),
	T(leap),
	T(silence),
};

int main(void)
{
	return ktap_run(tests, ARRAY_SIZE(tests));
}
