// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * What the sources share: waiting with follow's signal mask (and its
 * watch), monotonic arithmetic, the clock's precision.  See source.h;
 * source.c chooses a source, and the sources use these.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "source.h"

int64_t src_mono_diff_ns(const struct timespec *a, const struct timespec *b)
{
	return (a->tv_sec - b->tv_sec) * SRC_NSEC_PER_SEC +
	       (a->tv_nsec - b->tv_nsec);
}

void src_add_ns(struct timespec *t, int64_t ns)
{
	t->tv_sec += ns / SRC_NSEC_PER_SEC;
	t->tv_nsec += ns % SRC_NSEC_PER_SEC;
	if (t->tv_nsec >= SRC_NSEC_PER_SEC) {
		t->tv_sec++;
		t->tv_nsec -= SRC_NSEC_PER_SEC;
	} else if (t->tv_nsec < 0) {
		t->tv_sec--;
		t->tv_nsec += SRC_NSEC_PER_SEC;
	}
}

int src_wait(const struct source *src, int fd, const struct timespec *deadline)
{
	int64_t idle_ns = (int64_t)src->idle_ms * 1000000;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec now, rel, idle;
	int64_t left;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &idle);
	src_add_ns(&idle, idle_ns);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (src->idle && src_mono_diff_ns(&idle, &now) <= 0) {
			src->idle(src->idle_ctx);
			idle = now;
			src_add_ns(&idle, idle_ns);
		}
		left = src_mono_diff_ns(deadline, &now);
		if (left <= 0)
			return 0;
		if (src->idle && src_mono_diff_ns(&idle, &now) < left)
			left = src_mono_diff_ns(&idle, &now);
		rel.tv_sec = left / SRC_NSEC_PER_SEC;
		rel.tv_nsec = left % SRC_NSEC_PER_SEC;
		/* Signals are blocked but inside ppoll: none slips in between. */
		n = ppoll(fd >= 0 ? &pfd : NULL, fd >= 0, &rel, src->waitmask);
		if (n < 0)
			return -errno;
		if (n > 0)
			return 1;
	}
}

void src_set(struct src_reading *r, enum src_status s, const char *fmt, ...)
{
	va_list ap;

	r->status = s;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

int8_t src_clock_precision(void)
{
	struct timespec a, b;
	int64_t d, best = SRC_NSEC_PER_SEC;
	int i, k;

	clock_gettime(CLOCK_REALTIME, &a);
	for (i = 0; i < 1000; i++) {
		clock_gettime(CLOCK_REALTIME, &b);
		d = src_mono_diff_ns(&b, &a);
		if (d > 0 && d < best)
			best = d;
		a = b;
	}
	/* The smallest k with 2^k s >= best: ceil(log2(best / 10^9)). */
	for (k = -30; k < 0; k++)
		if ((uint64_t)best << -k <= (uint64_t)SRC_NSEC_PER_SEC)
			break;
	return (int8_t)k;
}
