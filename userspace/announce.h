/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * follow --vip: the node announces its anycast addresses only while its
 * time is good.  Bad evidence withdraws them at once; they come back only
 * after the time has been good for the whole hold-down, so a flapping
 * daemon does not flap the route.  They are leased: if nothing renews them
 * (follow killed outright), the kernel removes them.
 */
#ifndef NTPKCTL_ANNOUNCE_H
#define NTPKCTL_ANNOUNCE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "vip.h"

struct announce_opts {
	const char *dev;
	struct ntpk_addr vips[VIP_MAX];
	unsigned int nvips;
	unsigned int max_stratum;
	uint64_t hold_down_ms;
	uint32_t lease_s;	/* the VIPs' lifetime, renewed every third */
};

struct announce;

/* Withdraws the VIPs (a previous run may have left them): not announced. */
int announce_open(const struct announce_opts *o, struct announce **ap);
/* Withdraws the VIPs and frees. */
void announce_close(struct announce *a);
/*
 * One verdict at now (CLOCK_MONOTONIC): good, or bad with why.  Logs each
 * transition with log.  Good verdicts also renew the VIPs' lease once a
 * third of it has passed: without verdicts they leave within lease_s.
 */
/* Whether the VIPs are on the device now. */
bool announce_announced(const struct announce *a);
void announce_update(struct announce *a, bool good, const char *why,
		     const struct timespec *now,
		     void (*log)(const char *fmt, ...));

#endif
