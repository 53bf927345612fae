/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The plain model of one namespace's ntpk: what NTPK_CMD_GET returns and
 * what the set commands send.  Parsing fills it, printing reads it, and
 * ipc.c is the only place that turns it into netlink attributes.
 */
#ifndef NTPKCTL_MODEL_H
#define NTPKCTL_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <linux/ntpk.h>

struct ntpk_addr {
	int family;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr in;
		struct in6_addr in6;
	};
};

/* Which members of a config are present (GET) or to be sent (SET). */
enum {
	CONFIG_HAS_FLAGS = 1U << 0,
	CONFIG_HAS_MAX_AGE = 1U << 1,
	CONFIG_HAS_PORTS = 1U << 2,
	CONFIG_HAS_NADDRS = 1U << 3,
	CONFIG_HAS_LEAP_WINDOW = 1U << 4,
	CONFIG_HAS_DSCP = 1U << 5,
};

struct ntpk_config {
	unsigned int has;	/* CONFIG_HAS_* */
	uint32_t flags;		/* NTPK_CONFIG_F_* */
	uint32_t max_age;
	uint16_t ports[NTPK_MAX_PORTS];
	unsigned int nports;
	uint32_t naddrs;
	uint32_t leap_window_ms;
	uint8_t dscp;
};

struct ntpk_state {
	uint8_t leap;
	uint8_t stratum;
	int8_t precision;
	uint32_t root_delay;	/* NTP short format */
	uint32_t root_disp;	/* NTP short format */
	uint8_t refid[4];	/* as on the wire */
	uint64_t reftime;	/* NTP timestamp */
	/* Optional when pushed; GET always has the rate in force. */
	bool has_disp_rate;
	uint32_t disp_rate;	/* ppb: root dispersion growth after the reading */
	/* Optional: when the daemon was read (CLOCK_MONOTONIC, ns). */
	bool has_taken;
	uint64_t taken_ns;
	/* Optional, informational: the part of disp_rate that is the slew. */
	bool has_slew_rate;
	uint32_t slew_rate;	/* ppb: |kernel frequency - the daemon's| */
	/* Informational, pushed and read back all three or none. */
	bool has_error;
	int64_t correction_ns;	/* the daemon's time minus the kernel clock */
	uint64_t error_ns;	/* what ntpk adds to the daemon's error */
	uint64_t max_error_ns;	/* the bound the pusher enforces */
	/* Only in GET replies: */
	uint64_t age_msec;
	bool usable;
};

struct ntpk_ratelimit {
	uint32_t flags;		/* NTPK_RL_F_* */
	int8_t interval;
	uint32_t burst;
	uint8_t leak;
	uint32_t table_size;
	uint8_t v6_prefix;
};

/*
 * The kernel counts NTPK_MAX_ADDRS per address family; room for both, so
 * that a full set still lists.
 */
#define MODEL_MAX_ADDRS (2 * NTPK_MAX_ADDRS)

struct ntpk_model {
	struct ntpk_config config;
	bool has_state;
	struct ntpk_state state;
	/* Why the fast path does not answer, and the pending leap. */
	bool has_status;
	uint32_t reason;	/* NTPK_REASON_* */
	bool has_leap_at;
	uint64_t leap_at;	/* Unix seconds */
	/*
	 * The second health signal: the node's own time service, as
	 * follow --vip last set it (absent until then).
	 */
	bool has_service;
	uint32_t service_reason;	/* NTPK_REASON_*, NONE when good */
	bool service_announced;		/* the VIPs are on their device */
	uint64_t service_age_msec;
	bool has_stats;
	uint64_t stats[NTPK_STATS_A_MAX + 1];	/* indexed by NTPK_STATS_A_* */
	bool has_ratelimit;
	struct ntpk_ratelimit ratelimit;
	/* From the NTPK_CMD_ADDR_GET dump, not from GET itself. */
	struct ntpk_addr addrs[MODEL_MAX_ADDRS];
	unsigned int naddrs;
};

struct ntpk_counter {
	int attr;		/* NTPK_STATS_A_* */
	const char *name;	/* stable snake_case name, as in the uapi */
	const char *help;	/* one line, for the Prometheus HELP comment */
};

/* In uapi order; the names are part of ntpkctl's output contract. */
extern const struct ntpk_counter ntpk_counters[];
extern const unsigned int ntpk_ncounters;

void ratelimit_defaults(struct ntpk_ratelimit *rl);

/*
 * The stable word of a NTPK_REASON_* ("never-pushed", "daemon-gone"...),
 * part of ntpkctl's output contract like the counter names; "unknown" for
 * a reason newer than this ntpkctl.
 */
const char *reason_word(uint32_t reason);
/*
 * Whether a reason can say why the time service is bad (SERVICE_SET takes
 * only these), and whether only it can (never the fast path's).
 */
bool reason_is_service(uint32_t reason);
bool reason_is_service_only(uint32_t reason);
/* The reason a word names; false for none. */
bool reason_from_word(const char *word, uint32_t *reason);

#endif
