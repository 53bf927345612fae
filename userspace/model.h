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
};

struct ntpk_config {
	unsigned int has;	/* CONFIG_HAS_* */
	uint32_t flags;		/* NTPK_CONFIG_F_* */
	uint32_t max_age;
	uint16_t ports[NTPK_MAX_PORTS];
	unsigned int nports;
	uint32_t naddrs;
};

struct ntpk_state {
	uint8_t leap;
	uint8_t stratum;
	int8_t precision;
	uint32_t root_delay;	/* NTP short format */
	uint32_t root_disp;	/* NTP short format */
	uint8_t refid[4];	/* as on the wire */
	uint64_t reftime;	/* NTP timestamp */
	bool has_disp_rate;
	uint32_t disp_rate;	/* ppb */
	/* The three informational attributes, sent together: */
	bool has_error;
	int64_t correction_ns;
	uint64_t error_ns;
	uint64_t max_error_ns;
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

#endif
