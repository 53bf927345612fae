// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * follow --vip: when to put the VIPs on the announcing device and when to
 * take them off (announce.h).  The verdicts come from follow; this file
 * only adds the hold-down and keeps trying a change that failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "source.h"

struct announce {
	struct announce_opts o;
	struct vip *vip;
	bool announced;			/* the VIPs are on the device */
	bool holding;			/* good since good_since, not yet on */
	struct timespec good_since;
	struct timespec renewed;	/* when the lease last started */
	int err;			/* the failure last logged, 0 if none */
};

int announce_open(const struct announce_opts *o, struct announce **ap)
{
	struct announce *a;
	char what[64];
	int err;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->o = *o;
	err = vip_open(o->dev, o->vips, o->nvips, &a->vip);
	if (!err)
		err = vip_apply(a->vip, false, 0, what, sizeof(what));
	if (err) {
		vip_close(a->vip);
		free(a);
		return err;
	}
	*ap = a;
	return 0;
}

void announce_close(struct announce *a)
{
	char what[64];

	if (!a)
		return;
	vip_apply(a->vip, false, 0, what, sizeof(what));
	vip_close(a->vip);
	free(a);
}

bool announce_announced(const struct announce *a)
{
	return a && a->announced;
}

/* Puts the VIPs on or off; logs a failure once, and the recovery. */
static bool change(struct announce *a, bool present,
		   void (*log)(const char *fmt, ...))
{
	char what[64];
	int err;

	err = vip_apply(a->vip, present, a->o.lease_s, what, sizeof(what));
	if (err) {
		if (err != a->err)
			log("vip: cannot %s %s: %s; retrying every poll",
			    present ? "add" : "remove", what, strerror(-err));
		a->err = err;
		return false;
	}
	a->err = 0;
	return true;
}

/*
 * Announced and still good: renew the lease once a third of it has passed.
 * If renewing fails until the lease is over, the kernel has taken the
 * addresses off: they come back through the hold-down like any others.
 */
static void renew(struct announce *a, const struct timespec *now,
		  void (*log)(const char *fmt, ...))
{
	int64_t ms = src_mono_diff_ns(now, &a->renewed) / 1000000;

	if (ms < (int64_t)a->o.lease_s * 1000 / 3)
		return;
	if (change(a, true, log)) {
		a->renewed = *now;
		return;
	}
	if (ms >= (int64_t)a->o.lease_s * 1000) {
		a->announced = false;
		log("vip: lease on %s ran out: cannot renew it", a->o.dev);
	}
}

void announce_update(struct announce *a, bool good, const char *why,
		     const struct timespec *now,
		     void (*log)(const char *fmt, ...))
{
	int64_t held_ms;

	if (!good) {
		if (a->holding)
			log("vip: hold-down restarts: %s", why);
		a->holding = false;
		if (a->announced && change(a, false, log)) {
			a->announced = false;
			log("vip: withdrawn from %s: %s", a->o.dev, why);
		}
		return;
	}
	if (a->announced) {
		renew(a, now, log);
		return;
	}
	if (!a->holding) {
		a->holding = true;
		a->good_since = *now;
		if (a->o.hold_down_ms)
			log("vip: time good, announcing on %s after %llu.%03llu s of it",
			    a->o.dev,
			    (unsigned long long)(a->o.hold_down_ms / 1000),
			    (unsigned long long)(a->o.hold_down_ms % 1000));
	}
	held_ms = src_mono_diff_ns(now, &a->good_since) / 1000000;
	if (held_ms < (int64_t)a->o.hold_down_ms)
		return;
	if (change(a, true, log)) {
		a->announced = true;
		a->holding = false;
		a->renewed = *now;
		log("vip: announced on %s (time good for %lld.%03lld s)",
		    a->o.dev, (long long)(held_ms / 1000),
		    (long long)(held_ms % 1000));
	}
}
