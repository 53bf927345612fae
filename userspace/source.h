/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Where follow gets the server state from: one file per source
 * (src_chronyd.c: chronyd's command socket; src_ntp.c: any daemon over NTP
 * on loopback), each answering the same question, "what would the daemon
 * serve now, and how far is the kernel clock from it?".  follow.c decides
 * what to push or withdraw; a source only reports.
 */
#ifndef NTPKCTL_SOURCE_H
#define NTPKCTL_SOURCE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define SRC_CHRONYD_SOCKET	"/run/chrony/chronyd.sock"
#define SRC_NTP_DEFAULT		"127.0.0.1:123"

enum src_status {
	SRC_SYNCED,	/* the daemon vouches for its time: every field is set */
	SRC_UNSYNCED,	/* the daemon says it is not synchronised: evidence */
	SRC_GONE,	/* its socket refused us or is missing: evidence */
	SRC_LOST,	/* no believable answer this time: NOT evidence */
	SRC_FATAL,	/* cannot talk to it, and retrying will not help */
};

struct src_reading {
	enum src_status status;
	uint8_t leap;
	uint8_t stratum;
	int8_t precision;
	uint8_t refid[4];		/* as on the wire */
	uint64_t reftime;		/* NTP timestamp */
	uint64_t root_delay_ns;
	/* The daemon's own, aged as it would age it to the reading: */
	uint64_t root_disp_ns;
	/*
	 * The error ntpk adds on top: how far the kernel clock, which the
	 * module stamps replies with, may be from the daemon's time.
	 * |correction| for chronyd; |offset| + rtt/2 for NTP.
	 */
	uint64_t error_ns;
	int64_t correction_ns;		/* the daemon's time minus the kernel clock */
	uint32_t disp_rate_ppb;		/* how fast the daemon's dispersion grows */
	uint64_t disp_res_ns;		/* how far root_disp_ns may be off */
	/*
	 * The kernel frequency (kclock.h) at which the kernel clock keeps the
	 * daemon's time, when the daemon says: chronyd's is minus its own
	 * frequency estimate.  Without it the kernel's at the reading stands.
	 */
	bool has_freq;
	int64_t freq_ppb;
	bool smoothing;			/* the daemon serves a smoothed time */
	struct timespec taken;		/* CLOCK_MONOTONIC, request sent */
	int64_t rtt_ns;			/* the exchange's round trip, for logs */
	int exit_code;			/* SRC_FATAL: follow's exit status */
	char why[200];			/* not synced or smoothing: why, for logs */
};

struct source;

struct source_ops {
	const char *kind;		/* "chronyd", "ntp" */
	uint64_t interval_ms;		/* the default poll interval */
	uint64_t timeout_ms;		/* a reading's wait; 0: the interval, <= 1 s */
	void (*read)(struct source *src, struct src_reading *r);
	void (*close)(struct source *src);
};

struct source {
	const struct source_ops *ops;
	char name[160];			/* "chronyd /run/chrony/chronyd.sock" */
	const sigset_t *waitmask;	/* the signals let through while waiting */
	uint64_t timeout_ms;		/* how long one reading may wait */
	/* Called every idle_ms of every wait, if set (follow's watch). */
	void (*idle)(void *ctx);
	void *idle_ctx;
	uint64_t idle_ms;
};

/*
 * spec: "auto" (chronyd's socket when it exists, else NTP on 127.0.0.1:123),
 * "chronyd", "chronyd:PATH", or an NTP HOST[:PORT] / [V6][:PORT].  Returns
 * an exit code; usage errors are printed.
 */
int src_open(const char *spec, struct source **srcp);
void src_close(struct source *src);

static inline void src_read(struct source *src, struct src_reading *r)
{
	src->ops->read(src, r);
}

/* The two kinds, for src_open(). */
int src_chronyd_open(const char *path, struct source **srcp);
int src_ntp_open(const char *hostport, struct source **srcp);

/* ---- helpers shared by the sources (src_common.c) ---- */

#define SRC_NSEC_PER_SEC	1000000000LL

int64_t src_mono_diff_ns(const struct timespec *a, const struct timespec *b);
void src_add_ns(struct timespec *t, int64_t ns);
/*
 * Waits until fd (or, fd < 0, nothing) is readable or deadline
 * (CLOCK_MONOTONIC) passes, with src->waitmask, calling src->idle every
 * src->idle_ms meanwhile: 1 readable, 0 timed out, -EINTR when a signal
 * arrived, another -errno on failure.
 */
int src_wait(const struct source *src, int fd, const struct timespec *deadline);
void src_set(struct src_reading *r, enum src_status s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * The precision of CLOCK_REALTIME as NTP states it, log2 seconds: the
 * smallest step between consecutive readings, rounded up to a power of
 * two (as chronyd measures its own; it has no field for it in tracking).
 */
int8_t src_clock_precision(void);

#endif
