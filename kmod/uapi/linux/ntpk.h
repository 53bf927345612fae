/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * ntpk: an in-kernel fast path for NTP servers.
 *
 * This header is the whole contract between ntpk.ko and ntpkctl.  Everything
 * is per network namespace: a message acts on the namespace of the netlink
 * socket that sent it.
 *
 * Generic netlink family "ntpk", version NTPK_GENL_VERSION.
 *
 * NTPK_CMD_GET (anyone; doit)
 *   reply:
 *     NTPK_A_CONFIG: NLA_NESTED
 *       NTPK_CONFIG_A_FLAGS: NLA_U32, NTPK_CONFIG_F_*
 *       NTPK_CONFIG_A_MAX_AGE: NLA_U32, seconds
 *       NTPK_CONFIG_A_PORTS: NLA_NESTED
 *         NTPK_PORT_A_PORT: NLA_U16, host order, repeated
 *       NTPK_CONFIG_A_NADDRS: NLA_U32, size of the served-address set
 *       NTPK_CONFIG_A_LEAP_WINDOW: NLA_U32, milliseconds
 *       NTPK_CONFIG_A_DSCP: NLA_U8
 *     NTPK_A_STATE: NLA_NESTED, absent when the module holds no state
 *       NTPK_STATE_A_LEAP .. NTPK_STATE_A_REFTIME as in NTPK_CMD_STATE_SET
 *       NTPK_STATE_A_AGE_MSEC: NLA_U64, time since the daemon was read
 *                              (since the push without TAKEN), rounded up
 *       NTPK_STATE_A_USABLE: NLA_U8, 1 when fresh and synchronised now,
 *                            by the current max age, enabled or not
 *       NTPK_STATE_A_DISP_RATE: NLA_U32, the rate in force (the default
 *                               when the push had none)
 *       NTPK_STATE_A_CORRECTION, NTPK_STATE_A_ERROR, NTPK_STATE_A_MAX_ERROR,
 *       NTPK_STATE_A_SLEW_RATE: as pushed, only when pushed
 *     NTPK_A_STATUS: NLA_NESTED
 *       NTPK_STATUS_A_REASON: NLA_U32, enum ntpk_reason: why the fast path
 *                             does not answer now, NTPK_REASON_NONE when it
 *                             does
 *       NTPK_STATUS_A_LEAP_AT: NLA_U64, Unix seconds of the leap the state
 *                              announces (LI 1 or 2), while the module
 *                              holds that state
 *     NTPK_A_STATS: NLA_NESTED
 *       NTPK_STATS_A_*: NLA_U64 each, summed over all CPUs
 *     NTPK_A_RATELIMIT: NLA_NESTED
 *       NTPK_RL_A_*: as in NTPK_CMD_SET
 *     NTPK_A_SERVICE: NLA_NESTED, absent until NTPK_CMD_SERVICE_SET
 *       NTPK_SERVICE_A_REASON, NTPK_SERVICE_A_ANNOUNCED: as last set
 *       NTPK_SERVICE_A_AGE_MSEC: NLA_U64, time since it was set
 *
 * NTPK_CMD_SET (CAP_NET_ADMIN; every attribute optional, absent = unchanged)
 *     NTPK_A_CONFIG: NLA_NESTED
 *       NTPK_CONFIG_A_FLAGS: NLA_U32, replaces the flags; unknown bits are
 *                            rejected with -EOPNOTSUPP
 *       NTPK_CONFIG_A_MAX_AGE: NLA_U32, 1 .. NTPK_MAX_AGE_MAX seconds
 *       NTPK_CONFIG_A_PORTS: NLA_NESTED, replaces the port list
 *         NTPK_PORT_A_PORT: NLA_U16, 1..65535, 1 .. NTPK_MAX_PORTS of them
 *       NTPK_CONFIG_A_LEAP_WINDOW: NLA_U32, 0 .. NTPK_LEAP_WINDOW_MAX ms:
 *                            requests from this long before a leap second
 *                            go to the daemon, until a state read after the
 *                            leap arrives (default NTPK_LEAP_WINDOW_DEFAULT)
 *       NTPK_CONFIG_A_DSCP: NLA_U8, 0 .. 63: the DSCP of replies (IPv4 TOS,
 *                            IPv6 traffic class, ECN 0), also used to
 *                            route them, as chronyd's dscp directive does
 *                            (for IPv6 from chrony 4.4 on); default 0
 *     NTPK_A_RATELIMIT: NLA_NESTED, replaces the whole rate-limit setting;
 *                       an absent member takes its NTPK_RL_*_DEFAULT
 *       NTPK_RL_A_FLAGS: NLA_U32, NTPK_RL_F_* (required)
 *       NTPK_RL_A_INTERVAL: NLA_S8, log2 seconds, -19 .. 12
 *       NTPK_RL_A_BURST: NLA_U32, 1 .. 255
 *       NTPK_RL_A_LEAK: NLA_U8, 0 .. 16; a limited request is still
 *                       answered with probability 1/2^leak; 0 never leaks
 *       NTPK_RL_A_TABLE_SIZE: NLA_U32, power of two, NTPK_RL_TABLE_MIN .. MAX
 *       NTPK_RL_A_V6_PREFIX: NLA_U8, 16 .. 128, IPv6 client key length
 *
 * NTPK_CMD_STATE_SET (CAP_NET_ADMIN; the first seven attributes required)
 *     NTPK_A_STATE: NLA_NESTED
 *       NTPK_STATE_A_LEAP: NLA_U8, 0..3
 *       NTPK_STATE_A_STRATUM: NLA_U8, 0..16
 *       NTPK_STATE_A_PRECISION: NLA_S8, -32..0, log2 seconds
 *       NTPK_STATE_A_ROOT_DELAY: NLA_U32, NTP short format (16.16 seconds)
 *       NTPK_STATE_A_ROOT_DISP: NLA_U32, NTP short format (16.16 seconds)
 *       NTPK_STATE_A_REFID: NLA_BE32, the four refid bytes as on the wire
 *       NTPK_STATE_A_REFTIME: NLA_U64, NTP timestamp (32.32 seconds)
 *       NTPK_STATE_A_DISP_RATE: NLA_U32, optional, 0 .. NTPK_DISP_RATE_MAX
 *                               ppb (1e-9 s per s): how fast the root
 *                               dispersion of replies grows after the push;
 *                               absent = NTPK_DISP_RATE_DEFAULT
 *       NTPK_STATE_A_CORRECTION: NLA_S64, ns, optional: the daemon's time
 *                               minus the kernel clock at the push
 *       NTPK_STATE_A_ERROR: NLA_U64, ns: the error ntpk adds on top of the
 *                               daemon's (already in ROOT_DISP)
 *       NTPK_STATE_A_MAX_ERROR: NLA_U64, ns: the bound the pusher enforces
 *       These three are informational, and come all three or none.
 *       NTPK_STATE_A_TAKEN: NLA_U64, ns, optional: CLOCK_MONOTONIC, as the
 *                               sender's time namespace reads it, when the
 *                               daemon was read.  ROOT_DISP is the value
 *                               then, and every age (dispersion, max age)
 *                               counts from it, rounded up; absent = the
 *                               push.  A time after the push is refused.
 *       NTPK_STATE_A_SLEW_RATE: NLA_U32, ppb, optional, informational: the
 *                               part of DISP_RATE that is how fast the
 *                               kernel clock leaves the daemon's time
 *                               (|kernel frequency - the daemon's|)
 *     With LI 1 or 2, the leap is at the end of the UTC month of the
 *     reading (the first second of the next one).  From the leap window
 *     before it on, that state is never answered from again: only a state
 *     read after the leap brings the fast path back (see
 *     NTPK_CONFIG_A_LEAP_WINDOW).
 *
 * NTPK_CMD_STATE_CLEAR (CAP_NET_ADMIN)
 *     NTPK_A_REASON: NLA_U32, optional, NTPK_REASON_CLEARED ..
 *                    NTPK_REASON_FOLLOW_STOPPED; absent = CLEARED
 *     Forget the state: every request goes to the daemon again at once.
 *     GET reports the reason until the next push.
 *
 * NTPK_CMD_STATS_RESET (CAP_NET_ADMIN; no attributes)
 *
 * NTPK_CMD_ADDR_ADD, NTPK_CMD_ADDR_DEL (CAP_NET_ADMIN)
 *     NTPK_A_ADDR: NLA_NESTED, exactly one of
 *       NTPK_ADDR_A_IN: NLA_BINARY, 4 bytes, network order
 *       NTPK_ADDR_A_IN6: NLA_BINARY, 16 bytes
 *     Adding a present address gives -EEXIST, deleting an absent one -ENOENT,
 *     more than NTPK_MAX_ADDRS addresses of one family -ENOSPC.  An empty
 *     set (the default) serves every local address of the namespace.
 *
 * NTPK_CMD_ADDR_FLUSH (CAP_NET_ADMIN; no attributes)
 *
 * NTPK_CMD_ADDR_GET (anyone; dump)
 *   one message per served address:
 *     NTPK_A_ADDR: NLA_NESTED, as in NTPK_CMD_ADDR_ADD
 *   A change during the dump sets NLM_F_DUMP_INTR.
 *
 * NTPK_CMD_SERVICE_SET (CAP_NET_ADMIN; both attributes required)
 *     NTPK_A_SERVICE: NLA_NESTED
 *       NTPK_SERVICE_A_REASON: NLA_U32, enum ntpk_reason: why the node's
 *                              own time service (the daemon) is not good
 *                              enough to announce the node, NTPK_REASON_NONE
 *                              when it is; only NONE, EXPIRED, UNSYNC,
 *                              DAEMON_GONE, FOLLOW_STOPPED, STRATUM and
 *                              DISTANCE (others -EINVAL)
 *       NTPK_SERVICE_A_ANNOUNCED: NLA_U8, 0..1: the node's anycast addresses
 *                              are on their announcing device now
 *     The second health signal, beside the fast path's (NTPK_A_STATUS):
 *     ntpkctl follow --vip reports it on every change, every 10 s and when
 *     it exits.
 *     The module only keeps it for GET; it changes no reply.
 */

#ifndef _UAPI_LINUX_NTPK_H
#define _UAPI_LINUX_NTPK_H

#define NTPK_GENL_NAME		"ntpk"
#define NTPK_GENL_VERSION	1

#define NTPK_MAX_PORTS		8
#define NTPK_MAX_ADDRS		64
#define NTPK_MAX_AGE_DEFAULT	5
#define NTPK_MAX_AGE_MAX	3600
#define NTPK_PORT_DEFAULT	123

#define NTPK_RL_TABLE_MIN	(1U << 10)
#define NTPK_RL_TABLE_MAX	(1U << 25)
/*
 * The largest table (8 MiB) that a namespace whose user namespace is not the
 * initial one may have: what the default needs, well below the 256 MiB of
 * NTPK_RL_TABLE_MAX, which needs CAP_NET_ADMIN in the initial user
 * namespace.  Written out so that the kernel's error message can quote it.
 */
#define NTPK_RL_TABLE_UNPRIV_MAX	1048576
#define NTPK_RL_INTERVAL_DEFAULT	3
#define NTPK_RL_BURST_DEFAULT		8
#define NTPK_RL_LEAK_DEFAULT		2
#define NTPK_RL_TABLE_DEFAULT		(1U << 20)
#define NTPK_RL_V6_PREFIX_DEFAULT	64

#define NTPK_DISP_RATE_DEFAULT	15000		/* ppb: RFC 5905 PHI */
#define NTPK_DISP_RATE_MAX	1000000		/* ppb: 1000 ppm */
#define NTPK_LEAP_WINDOW_DEFAULT	2000	/* ms */
#define NTPK_LEAP_WINDOW_MAX		600000	/* ms */
#define NTPK_DSCP_MAX			63

enum ntpk_cmd {
	NTPK_CMD_UNSPEC,
	NTPK_CMD_GET,
	NTPK_CMD_SET,
	NTPK_CMD_STATE_SET,
	NTPK_CMD_STATE_CLEAR,
	NTPK_CMD_STATS_RESET,
	NTPK_CMD_ADDR_ADD,
	NTPK_CMD_ADDR_DEL,
	NTPK_CMD_ADDR_FLUSH,
	NTPK_CMD_ADDR_GET,
	NTPK_CMD_SERVICE_SET,
	__NTPK_CMD_MAX
};
#define NTPK_CMD_MAX (__NTPK_CMD_MAX - 1)

enum ntpk_attr {
	NTPK_A_UNSPEC,
	NTPK_A_CONFIG,
	NTPK_A_STATE,
	NTPK_A_STATS,
	NTPK_A_RATELIMIT,
	NTPK_A_ADDR,
	NTPK_A_REASON,
	NTPK_A_STATUS,
	NTPK_A_SERVICE,
	__NTPK_A_MAX
};
#define NTPK_A_MAX (__NTPK_A_MAX - 1)

enum ntpk_config_flag {
	NTPK_CONFIG_F_ENABLED = 1U << 0,	/* hooks registered */
	__NTPK_CONFIG_F_ALL = NTPK_CONFIG_F_ENABLED
};

enum ntpk_config_attr {
	NTPK_CONFIG_A_UNSPEC,
	NTPK_CONFIG_A_FLAGS,
	NTPK_CONFIG_A_MAX_AGE,
	NTPK_CONFIG_A_PORTS,
	NTPK_CONFIG_A_NADDRS,
	NTPK_CONFIG_A_LEAP_WINDOW,
	NTPK_CONFIG_A_DSCP,
	__NTPK_CONFIG_A_MAX
};
#define NTPK_CONFIG_A_MAX (__NTPK_CONFIG_A_MAX - 1)

enum ntpk_port_attr {
	NTPK_PORT_A_UNSPEC,
	NTPK_PORT_A_PORT,
	__NTPK_PORT_A_MAX
};
#define NTPK_PORT_A_MAX (__NTPK_PORT_A_MAX - 1)

enum ntpk_state_attr {
	NTPK_STATE_A_UNSPEC,
	NTPK_STATE_A_PAD,
	NTPK_STATE_A_LEAP,
	NTPK_STATE_A_STRATUM,
	NTPK_STATE_A_PRECISION,
	NTPK_STATE_A_ROOT_DELAY,
	NTPK_STATE_A_ROOT_DISP,
	NTPK_STATE_A_REFID,
	NTPK_STATE_A_REFTIME,
	NTPK_STATE_A_AGE_MSEC,
	NTPK_STATE_A_USABLE,
	NTPK_STATE_A_DISP_RATE,
	NTPK_STATE_A_CORRECTION,
	NTPK_STATE_A_ERROR,
	NTPK_STATE_A_MAX_ERROR,
	NTPK_STATE_A_TAKEN,
	NTPK_STATE_A_SLEW_RATE,
	__NTPK_STATE_A_MAX
};
#define NTPK_STATE_A_MAX (__NTPK_STATE_A_MAX - 1)

enum ntpk_status_attr {
	NTPK_STATUS_A_UNSPEC,
	NTPK_STATUS_A_PAD,
	NTPK_STATUS_A_REASON,
	NTPK_STATUS_A_LEAP_AT,
	__NTPK_STATUS_A_MAX
};
#define NTPK_STATUS_A_MAX (__NTPK_STATUS_A_MAX - 1)

enum ntpk_service_attr {
	NTPK_SERVICE_A_UNSPEC,
	NTPK_SERVICE_A_PAD,
	NTPK_SERVICE_A_REASON,
	NTPK_SERVICE_A_ANNOUNCED,
	NTPK_SERVICE_A_AGE_MSEC,
	__NTPK_SERVICE_A_MAX
};
#define NTPK_SERVICE_A_MAX (__NTPK_SERVICE_A_MAX - 1)

/*
 * Why the fast path does not answer.  STATE_CLEAR accepts CLEARED ..
 * FOLLOW_STOPPED; the module works out the others itself.  The same words
 * say why the node's time service is not good (NTPK_CMD_SERVICE_SET):
 * EXPIRED (its daemon silent for longer than max-age), UNSYNC, DAEMON_GONE,
 * FOLLOW_STOPPED, and the two of its own, STRATUM and DISTANCE.
 */
enum ntpk_reason {
	NTPK_REASON_NONE,		/* usable: the fast path answers */
	NTPK_REASON_NEVER_PUSHED,	/* no state since load / netns creation */
	NTPK_REASON_EXPIRED,		/* older than max-age: nobody pushed */
	NTPK_REASON_CLEARED,		/* state clear without a reason (operator) */
	NTPK_REASON_UNSYNC,		/* daemon: unsynchronised, LI 3, stratum 0/16 */
	NTPK_REASON_DAEMON_GONE,	/* the daemon's socket refused: it is gone */
	NTPK_REASON_ERROR_BOUND,	/* error ntpk would add > max-error */
	NTPK_REASON_SMOOTHING,		/* chronyd smooths its time (smoothtime) */
	NTPK_REASON_FOLLOW_STOPPED,	/* ntpkctl follow exited (SIGTERM) */
	NTPK_REASON_LEAP_WINDOW,	/* a leap second is near, or past and no state read after it */
	NTPK_REASON_DISABLED,		/* hooks off (set disable) */
	NTPK_REASON_STRATUM,		/* service: above follow's --max-stratum */
	NTPK_REASON_DISTANCE,		/* service: root distance above --vip-max-distance */
	__NTPK_REASON_MAX
};

/* The reasons NTPK_CMD_SERVICE_SET takes: the time service's, one bit each. */
#define NTPK_SERVICE_REASONS						\
	(1U << NTPK_REASON_NONE | 1U << NTPK_REASON_EXPIRED |		\
	 1U << NTPK_REASON_UNSYNC | 1U << NTPK_REASON_DAEMON_GONE |	\
	 1U << NTPK_REASON_FOLLOW_STOPPED | 1U << NTPK_REASON_STRATUM |	\
	 1U << NTPK_REASON_DISTANCE)

/*
 * Every UDP datagram to a served port that reaches an enabled namespace's
 * hook is a request (loopback ones too: ntpkctl follow's polls of the local
 * daemon show up as PASS_LOOPBACK) and ends in exactly one
 * of the other counters but RL_LEAKED (which also counts as a reply), so:
 * REQUESTS = REPLIES + KOD + RL_DROPPED + all PASS_* + all DROP_*.
 */
enum ntpk_stats_attr {
	NTPK_STATS_A_UNSPEC,
	NTPK_STATS_A_PAD,
	NTPK_STATS_A_REQUESTS,		/* UDP datagrams to a served port */
	NTPK_STATS_A_REPLIES,		/* mode 4 replies sent */
	/* Not served, or what the stack would not deliver locally: by its
	 * input route (ip rules, forwarding), a VRF, its IPsec policy, or
	 * another host's frame on a bridge.
	 */
	NTPK_STATS_A_PASS_NOT_OURS,
	NTPK_STATS_A_PASS_UNUSUAL,	/* fragment, IP options, IPv6 ext header, GSO, UDP padding, tunnel metadata */
	/* Source port 0, a bogus or local source address, or one the
	 * stack's input route refuses (martian, rp_filter).
	 */
	NTPK_STATS_A_PASS_BAD_SOURCE,
	NTPK_STATS_A_PASS_LOOPBACK,	/* arrived on a loopback device */
	NTPK_STATS_A_PASS_SHORT,	/* NTP payload under 48 bytes */
	NTPK_STATS_A_PASS_EXTENSIONS,	/* payload over 48 bytes: extension fields, MAC */
	NTPK_STATS_A_PASS_NOT_MODE3,
	NTPK_STATS_A_PASS_BAD_VERSION,	/* version 0 or 5..7 */
	NTPK_STATS_A_PASS_NO_STATE,	/* no fresh, synchronised server state */
	NTPK_STATS_A_DROP_MALFORMED,	/* truncated, bad UDP length */
	NTPK_STATS_A_DROP_CHECKSUM,	/* bad UDP checksum, zero on IPv6 */
	NTPK_STATS_A_DROP_ROUTE,	/* unused since PASS_ROUTE: always 0 */
	NTPK_STATS_A_DROP_XMIT,		/* reply could not be built or sent */
	NTPK_STATS_A_RL_DROPPED,	/* rate limited, dropped */
	NTPK_STATS_A_RL_LEAKED,		/* rate limited but answered (leak) */
	NTPK_STATS_A_RL_KOD,		/* rate limited, RATE kiss-o'-death sent */
	NTPK_STATS_A_PASS_LEAP,		/* a leap second near, or past the state */
	NTPK_STATS_A_PASS_ROUTE,	/* no route back to the client: the daemon decides */
	__NTPK_STATS_A_MAX
};
#define NTPK_STATS_A_MAX (__NTPK_STATS_A_MAX - 1)

enum ntpk_rl_flag {
	NTPK_RL_F_ENABLED = 1U << 0,
	NTPK_RL_F_KOD = 1U << 1,	/* answer limited requests with RATE KoD */
	__NTPK_RL_F_ALL = NTPK_RL_F_ENABLED | NTPK_RL_F_KOD
};

enum ntpk_rl_attr {
	NTPK_RL_A_UNSPEC,
	NTPK_RL_A_FLAGS,
	NTPK_RL_A_INTERVAL,
	NTPK_RL_A_BURST,
	NTPK_RL_A_LEAK,
	NTPK_RL_A_TABLE_SIZE,
	NTPK_RL_A_V6_PREFIX,
	__NTPK_RL_A_MAX
};
#define NTPK_RL_A_MAX (__NTPK_RL_A_MAX - 1)

enum ntpk_addr_attr {
	NTPK_ADDR_A_UNSPEC,
	NTPK_ADDR_A_IN,
	NTPK_ADDR_A_IN6,
	__NTPK_ADDR_A_MAX
};
#define NTPK_ADDR_A_MAX (__NTPK_ADDR_A_MAX - 1)

#endif /* _UAPI_LINUX_NTPK_H */
