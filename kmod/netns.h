/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _NTPK_NETNS_H
#define _NTPK_NETNS_H

#include <linux/percpu.h>
#include <linux/in6.h>
#include <linux/timekeeping.h>
#include <linux/ktime.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/u64_stats_sync.h>
#include <linux/uidgid.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "uapi/linux/ntpk.h"
#include "ntp.h"

struct ntpk_rl;

/* Written whole by netlink under ntpk_net.lock, read by the hooks under RCU. */
struct ntpk_config {
	struct rcu_head rcu;
	u32 flags;			/* NTPK_CONFIG_F_* */
	u32 max_age;			/* seconds */
	u32 leap_window_ms;
	ktime_t leap_window;
	u8 dscp;
	unsigned int nports;
	unsigned int naddr4;
	unsigned int naddr6;
	__be16 ports[NTPK_MAX_PORTS];
	__be32 addr4[NTPK_MAX_ADDRS];
	struct in6_addr addr6[NTPK_MAX_ADDRS];
};

struct ntpk_state {
	struct rcu_head rcu;
	u64 stamp;			/* CLOCK_BOOTTIME ns when pushed */
	u64 read_age;			/* ns from the daemon's reading to the push */
	bool synced;
	bool has_error;			/* the three informational values */
	bool has_slew_rate;
	struct ntp_server_state ntp;
	ktime_t leap;			/* realtime of the leap, KTIME_MAX if none */
	u64 disp_mult;			/* ntp_disp_mult(disp_rate) */
	u32 disp_rate;			/* ppb */
	u32 slew_rate;			/* ppb, part of disp_rate */
	s64 correction;			/* ns */
	u64 error;			/* ns */
	u64 max_error;			/* ns */
};

struct ntpk_pcpu_stats {
	u64_stats_t cnt[__NTPK_STATS_A_MAX];
	struct u64_stats_sync syncp;
};

struct ntpk_net {
	struct mutex lock;		/* writers: every netlink handler */
	struct ntpk_config __rcu *cfg;
	struct ntpk_state __rcu *state;
	struct ntpk_rl __rcu *rl;
	struct ntpk_pcpu_stats __percpu *stats;
	u64 stats_base[__NTPK_STATS_A_MAX];	/* sums at the last reset */
	unsigned int addr_gen;		/* bumped on every address change */
	u32 clear_reason;		/* NTPK_REASON_*, while there is no state */
	/*
	 * The node's time service as follow --vip last reported it: read
	 * and written under lock only, never by the hooks.
	 */
	bool service_set;
	bool service_announced;
	u32 service_reason;		/* NTPK_REASON_* */
	u64 service_stamp;		/* ntpk_now() when set */
	kuid_t uid;			/* sock_net_uid(net, NULL), for replies' routes */
	bool hooks_on;
};

extern unsigned int ntpk_net_id;

static inline struct ntpk_net *ntpk_net(const struct net *net)
{
	return net_generic(net, ntpk_net_id);
}

/* Hot path: BH disabled (hook.c), so this CPU's counters are ours alone. */
static inline void ntpk_count(struct ntpk_net *nn, enum ntpk_stats_attr c)
{
	struct ntpk_pcpu_stats *st = this_cpu_ptr(nn->stats);

	u64_stats_update_begin(&st->syncp);
	u64_stats_inc(&st->cnt[c]);
	u64_stats_update_end(&st->syncp);
}

/*
 * Ages count from the daemon's reading: the time since the push plus how
 * old the reading was then.  The time since the push is read from the
 * clock itself (CLOCK_BOOTTIME, ntpk_now()), not from jiffies: jiffies lag
 * the clock whenever the tick is late, as on a VM whose vCPU the host has
 * just run again after a pause, and a state aged by them would claim its
 * dispersion as it was that long ago.  BOOTTIME, not MONOTONIC, so that a
 * suspend ages it too.  The difference is unsigned: a NOW before the
 * stamp, which the clock never gives, reads as an age past the cap.
 */
static inline u64 ntpk_now(void)
{
	return ktime_get_boottime_ns();
}

/* Beyond any max age (NTPK_MAX_AGE_MAX): where ages stop counting. */
#define NTPK_AGE_CAP_SEC	(2 * NTPK_MAX_AGE_MAX)

static inline u64 ntpk_state_age_ns(const struct ntpk_state *st, u64 now)
{
	u64 since = now - st->stamp;

	if (since >= (u64)NTPK_AGE_CAP_SEC * NSEC_PER_SEC)
		return (u64)NTPK_AGE_CAP_SEC * NSEC_PER_SEC;
	return st->read_age + since;
}

/* In ms, as the uapi reports it, rounded up and exact past 2^32 ms. */
static inline u64 ntpk_state_age_ms(const struct ntpk_state *st, u64 now)
{
	return DIV_ROUND_UP_ULL(st->read_age, NSEC_PER_MSEC) +
	       DIV_ROUND_UP_ULL(now - st->stamp, NSEC_PER_MSEC);
}

static inline bool ntpk_state_fresh(const struct ntpk_config *cfg, u64 age_ns)
{
	return age_ns < (u64)cfg->max_age * NSEC_PER_SEC;
}

static inline bool ntpk_state_usable_at(const struct ntpk_state *st,
					const struct ntpk_config *cfg, u64 now)
{
	return st && st->synced &&
	       ntpk_state_fresh(cfg, ntpk_state_age_ns(st, now));
}

static inline bool ntpk_state_usable(const struct ntpk_state *st,
				     const struct ntpk_config *cfg)
{
	return ntpk_state_usable_at(st, cfg, ntpk_now());
}

int ntpk_netns_init(void);
void ntpk_netns_uninit(void);
void ntpk_stats_read(struct ntpk_net *nn, u64 *sum);
void ntpk_stats_reset(struct ntpk_net *nn);

#endif /* _NTPK_NETNS_H */
