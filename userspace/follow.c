// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ntpkctl follow: read the local daemon's server state from a source
 * (source.h: chronyd's command socket, or NTP over loopback) and mirror it
 * into the kernel, with a root dispersion that covers what ntpk adds: the
 * module stamps replies with the kernel clock, and the daemon's time is not
 * the kernel clock (chronyd slews a correction out of it, and an NTP
 * exchange only bounds the difference).  So a reply never claims more
 * accuracy than the daemon has, and when ntpk's own error exceeds
 * --max-error the state is withdrawn and the daemon answers.
 *
 * Only evidence withdraws the state: the daemon says it is unsynchronised,
 * smooths its time, its socket refuses us, or the error is above the bound.
 * A poll without an answer is no evidence (under a flood it is the usual
 * case); the module's max-age acts on silence.
 *
 * The module ages the root dispersion from the reading at the daemon's own
 * rate (measured, disprate.h) plus how fast the kernel clock leaves the
 * daemon's time: |kernel frequency - the daemon's| (kclock.h).  A daemon
 * that stops running leaves its last slew in the kernel, so the kernel's
 * frequency is watched at every poll and every WATCH_MS of every wait,
 * answered or not: a faster rate is pushed for the same reading at once,
 * and above the module's cap the state is withdrawn.
 *
 * With --vip, a second verdict decides whether the node announces its
 * anycast addresses (announce.h): its time service's (health.h), which
 * the fast path's going aside does not touch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "announce.h"
#include "disprate.h"
#include "format.h"
#include "health.h"
#include "ipc.h"
#include "kclock.h"
#include "ntpwire.h"
#include "parse.h"
#include "report.h"
#include "source.h"
#include "subcommands.h"

#define INTERVAL_MIN_MS		100
#define INTERVAL_MAX_MS		3600000
/*
 * The default bound on the error ntpk adds.  Pool monitoring scores a
 * server down from 75-100 ms off; 1 ms is far below that, and far below
 * what any client on the Internet can resolve, yet well above the tens of
 * microseconds of a loopback exchange and of chronyd's corrections once it
 * is locked (typically microseconds).  So it holds in steady state and
 * withdraws while chronyd slews out a real offset (after a start, a step
 * of the reference, a suspend).
 */
#define MAX_ERROR_DEFAULT_NS	1000000ULL
#define MAX_ERROR_MAX_NS	1000000000ULL
#define NO_DECISION		UINT32_MAX
/*
 * --vip: a node two levels below a stratum 1 serves the pool well; lower
 * than that it has lost its good upstreams and should leave the cluster.
 */
#define MAX_STRATUM_DEFAULT	4
/*
 * --vip: the root distance (root delay / 2 + root dispersion) beyond which
 * the node's daemon no longer serves time its clients would use.  ntpd and
 * ntpsec clients refuse a server above MAXDIST, 1.5 s, counting their own
 * path's half delay and the dispersion of their own poll on top of the
 * server's distance; chrony clients refuse above maxdistance, 3 s.  At 1 s
 * every common client still takes the node's answers with half a second
 * to spare for its path.  It is no bound on the offset the pool monitor
 * measures (it scores servers down from 75-100 ms off): a distance is what
 * the daemon can vouch for, and a daemon holding over without upstreams
 * passes 100 ms after hours in which its time is still good to
 * milliseconds.  Withdrawing there would take out every node of a cluster
 * at once when their shared upstreams fail, the outage the VIP is meant
 * to prevent; the monitor itself takes out a node that is really off.
 */
#define VIP_MAX_DISTANCE_DEFAULT_NS	1000000000ULL
/* NTP's MAXDISP: no root distance means anything beyond it. */
#define VIP_MAX_DISTANCE_MAX_NS		16000000000ULL
/* A daemon back from trouble holds its time this long before it rejoins. */
#define HOLD_DOWN_DEFAULT_MS	60000ULL
#define HOLD_DOWN_MAX_MS	3600000ULL
/*
 * --vip: the addresses are leased, and renewed every third of the lease,
 * so a follow killed outright (SIGKILL, a crash) leaves them at most this
 * long.  Three polls with their waits at least: a slow poll never lets
 * it run out.
 */
#define VIP_LEASE_MIN_S		10
/*
 * How often the kernel's frequency is checked while follow waits: a change
 * is in the pushed rate within this, so an unannounced one (500 ppm, the
 * most adjtimex's frequency takes) is unaccounted for 5 us at most.
 */
#define WATCH_MS		10
/* The error of kclock_freq_ppb() and of a float ppm estimate, rounded up. */
#define FREQ_SLOP_PPB		2
/* A slew worth a line in the log even without --verbose: 100 ppm. */
#define SLEW_LOG_PPB		100000
/*
 * --vip: the time service goes to the module at every change and at least
 * this often, so that a module loaded again has it back soon, and an age
 * beyond it in show says that follow is not running.
 */
#define SERVICE_REFRESH_MS	10000

struct follow_opts {
	const char *source;
	uint64_t interval_ms;	/* 0: the source's default */
	uint64_t max_error_ns;
	bool once;
	bool dry_run;
	bool verbose;
	struct announce_opts vip;	/* vip.nvips 0: no --vip */
	uint64_t vip_max_distance_ns;
	bool vip_tuned;			/* --max-stratum, --hold-down or
					 * --vip-max-distance given */
};

struct follower {
	const struct follow_opts *o;
	struct source *src;
	sigset_t waitmask;	/* the mask to wait with: signals let through */
	sigset_t oldmask;	/* restored on return (batch mode goes on) */
	struct ipc *ipc;
	int nl_err;		/* the netlink error last logged; 0 when fine */
	uint32_t reason;	/* the last decision: NTPK_REASON_NONE is serving */
	bool lost;		/* the last poll had no answer */
	struct ntpk_state served;	/* the last state pushed, to log changes */
	struct announce *announce;	/* --vip */
	struct disp_meter meter;	/* the daemon's measured ageing rate */
	/* The rates of the reading last pushed, while it is served: */
	uint32_t daemon_rate;		/* ppb: its own dispersion's */
	bool freq_exact;		/* freq_ref is the daemon's */
	int64_t freq_ref;		/* ppb: the kernel's, keeping its time */
	struct health health;		/* --vip: the time service's verdicts */
	uint32_t service;		/* the last verdict, NO_DECISION at first */
	bool service_sent;		/* the module has these two: */
	uint32_t service_sent_reason;
	bool service_announced;
	struct timespec service_sent_at;	/* CLOCK_MONOTONIC */
	int service_err;		/* the failure to send it last logged */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
	char buf[FMT_LEN];
	struct timespec now;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &now);
	fprintf(stderr, "%s %s follow: ", format_timespec(&now, buf), prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- options ---- */

/* A non-negative decimal with a unit: s (default), ms, us or ns; to ns. */
static const char *parse_duration_ns(const char *s, uint64_t max, uint64_t *out)
{
	static const struct { const char *unit; uint64_t ns; } units[] = {
		{ "", 1000000000ULL }, { "s", 1000000000ULL },
		{ "ms", 1000000ULL }, { "us", 1000ULL }, { "ns", 1ULL },
	};
	uint64_t ipart = 0, frac = 0, fscale = 1;
	const char *p = s;
	unsigned int i;

	if (*p < '0' || *p > '9')
		return "not a duration (e.g. 1ms, 500us, 0.002)";
	for (; *p >= '0' && *p <= '9'; p++) {
		if (ipart > 1000000000ULL)
			return "too large";
		ipart = ipart * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (fscale >= 1000000000ULL)
				return "too many decimals";
			frac = frac * 10 + (uint64_t)(*p - '0');
			fscale *= 10;
		}
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit))
			continue;
		if (frac * units[i].ns % fscale)
			return "finer than a nanosecond";
		if (ipart > max / units[i].ns ||
		    ipart * units[i].ns + frac * units[i].ns / fscale > max)
			return "must be at most 1 s";
		*out = ipart * units[i].ns + frac * units[i].ns / fscale;
		return NULL;
	}
	return "unknown unit (s, ms, us or ns)";
}

/*
 * --vip, --vip-dev, --max-stratum, --hold-down, --vip-max-distance and its
 * value.
 */
static int parse_vip_arg(const char *w, const char *v, struct follow_opts *o)
{
	struct announce_opts *a = &o->vip;
	const char *why;
	uint64_t n;

	if (!strcmp(w, "--vip-dev")) {
		if (!*v || strlen(v) >= IF_NAMESIZE || strchr(v, '/'))
			return usage_error("follow: invalid --vip-dev \"%s\"", v);
		a->dev = v;
		return EXIT_OK;
	}
	if (!strcmp(w, "--vip")) {
		if (a->nvips == VIP_MAX)
			return usage_error("follow: at most %u --vip", VIP_MAX);
		why = parse_addr(v, &a->vips[a->nvips]);
		if (why)
			return usage_error("follow: invalid --vip \"%s\": %s",
					   v, why);
		a->nvips++;
		return EXIT_OK;
	}
	o->vip_tuned = true;
	if (!strcmp(w, "--vip-max-distance")) {
		why = parse_duration_ns(v, UINT64_MAX / 2, &n);
		if (!why && !n)
			why = "must be above 0";
		if (!why && n > VIP_MAX_DISTANCE_MAX_NS)
			why = "must be at most 16 s";
		if (why)
			return usage_error("follow: invalid --vip-max-distance \"%s\": %s",
					   v, why);
		o->vip_max_distance_ns = n;
		return EXIT_OK;
	}
	if (!strcmp(w, "--max-stratum")) {
		why = parse_uint(v, 1, 15, &n);
		if (why)
			return usage_error("follow: invalid --max-stratum \"%s\": %s",
					   v, why);
		a->max_stratum = (unsigned int)n;
		return EXIT_OK;
	}
	why = parse_msec(v, 0, HOLD_DOWN_MAX_MS, &a->hold_down_ms);
	if (why)
		return usage_error("follow: invalid --hold-down \"%s\": %s", v, why);
	return EXIT_OK;
}

static int parse_follow_args(int argc, char *argv[], struct follow_opts *o)
{
	const char *why;
	int i, ret;

	o->source = "auto";
	o->max_error_ns = MAX_ERROR_DEFAULT_NS;
	o->vip.max_stratum = MAX_STRATUM_DEFAULT;
	o->vip.hold_down_ms = HOLD_DOWN_DEFAULT_MS;
	o->vip_max_distance_ns = VIP_MAX_DISTANCE_DEFAULT_NS;
	for (i = 1; i < argc; i++) {
		const char *w = argv[i], *v;

		if (!strcmp(w, "--once")) {
			o->once = true;
			continue;
		}
		if (!strcmp(w, "--dry-run")) {
			o->dry_run = true;
			continue;
		}
		if (!strcmp(w, "--verbose")) {
			o->verbose = true;
			continue;
		}
		if (strcmp(w, "--source") && strcmp(w, "--interval") &&
		    strcmp(w, "--max-error") && strcmp(w, "--vip") &&
		    strcmp(w, "--vip-dev") && strcmp(w, "--max-stratum") &&
		    strcmp(w, "--hold-down") && strcmp(w, "--vip-max-distance"))
			return usage_error("follow: unknown option \"%s\"", w);
		if (i + 1 >= argc)
			return usage_error("follow: %s needs a value", w);
		v = argv[++i];
		if (!strncmp(w, "--vip", 5) || !strcmp(w, "--max-stratum") ||
		    !strcmp(w, "--hold-down")) {
			ret = parse_vip_arg(w, v, o);
			if (ret)
				return ret;
		} else if (!strcmp(w, "--source")) {
			o->source = v;
		} else if (!strcmp(w, "--interval")) {
			why = parse_msec(v, INTERVAL_MIN_MS, INTERVAL_MAX_MS,
					 &o->interval_ms);
			if (why)
				return usage_error("follow: invalid --interval \"%s\": %s",
						   v, why);
		} else {
			why = parse_duration_ns(v, MAX_ERROR_MAX_NS,
						&o->max_error_ns);
			if (why)
				return usage_error("follow: invalid --max-error \"%s\": %s",
						   v, why);
		}
	}
	if (!o->vip.nvips != !o->vip.dev)
		return usage_error("follow: --vip and --vip-dev go together");
	if (o->vip_tuned && !o->vip.nvips)
		return usage_error("follow: --max-stratum, --hold-down and --vip-max-distance need --vip");
	if (o->vip.nvips && (o->once || o->dry_run))
		return usage_error("follow: --vip does not go with --once or --dry-run");
	return EXIT_OK;
}

/* ---- deciding ---- */

/*
 * What to do with a reading (not SRC_LOST): NTPK_REASON_NONE to push it,
 * or the reason to withdraw, with why for the log.
 */
static uint32_t decide(const struct src_reading *r, uint64_t max_error_ns,
		       uint32_t daemon_rate, uint32_t slew, char *why,
		       size_t len)
{
	snprintf(why, len, "%s", r->why);
	switch (r->status) {
	case SRC_SYNCED:
		break;
	case SRC_UNSYNCED:
		return NTPK_REASON_UNSYNC;
	case SRC_GONE:
		return NTPK_REASON_DAEMON_GONE;
	default:
		return NTPK_REASON_FOLLOW_STOPPED;
	}
	if (r->smoothing)
		return NTPK_REASON_SMOOTHING;
	if (r->error_ns > max_error_ns) {
		snprintf(why, len,
			 "error %.9f s (daemon minus kernel clock %+.9f s) above --max-error %.9f s",
			 r->error_ns / 1e9, r->correction_ns / 1e9,
			 max_error_ns / 1e9);
		return NTPK_REASON_ERROR_BOUND;
	}
	if (daemon_rate > NTPK_DISP_RATE_MAX) {
		snprintf(why, len,
			 "the daemon's dispersion grows at %u ppb, above the module's %u",
			 daemon_rate, NTPK_DISP_RATE_MAX);
		return NTPK_REASON_UNSYNC;
	}
	if (slew > NTPK_DISP_RATE_MAX - daemon_rate) {
		snprintf(why, len,
			 "the kernel clock leaves the daemon's time at %u ppb (its dispersion grows at %u), above the module's %u",
			 slew, daemon_rate, NTPK_DISP_RATE_MAX);
		return NTPK_REASON_ERROR_BOUND;
	}
	return NTPK_REASON_NONE;
}

/*
 * How fast the kernel clock leaves the daemon's time at kernel frequency
 * k (ppb), rounded up; UINT32_MAX for anything beyond.
 */
static uint32_t slew_ppb(const struct follower *f, int64_t k)
{
	int64_t d = k - f->freq_ref;
	uint64_t m = d < 0 ? -(uint64_t)d : (uint64_t)d;

	if (f->freq_exact)
		m += FREQ_SLOP_PPB;
	return m >= UINT32_MAX ? UINT32_MAX : (uint32_t)m;
}

/*
 * The state to push: the daemon's root dispersion at the reading plus the
 * error ntpk adds, rounded up; the module ages it from the reading (the
 * request's sending: the daemon answered after it) at the daemon's rate
 * plus the slew's.
 */
static void build_state(const struct src_reading *r, uint64_t max_error_ns,
			uint32_t daemon_rate, uint32_t slew,
			struct ntpk_state *st)
{
	memset(st, 0, sizeof(*st));
	st->leap = r->leap;
	st->stratum = r->stratum;
	st->precision = r->precision;
	memcpy(st->refid, r->refid, sizeof(st->refid));
	st->reftime = r->reftime;
	st->root_delay = nw_short_from_ns_ceil(r->root_delay_ns);
	st->root_disp = nw_short_from_ns_ceil(
		nw_disp_bound_ns(r->root_disp_ns, r->error_ns, 0, 0));
	st->has_taken = true;
	st->taken_ns = (uint64_t)r->taken.tv_sec * SRC_NSEC_PER_SEC +
		       (uint64_t)r->taken.tv_nsec;
	st->has_disp_rate = true;
	st->disp_rate = daemon_rate + slew;
	st->has_slew_rate = true;
	st->slew_rate = slew;
	st->has_error = true;
	st->correction_ns = r->correction_ns;
	st->error_ns = r->error_ns;
	st->max_error_ns = max_error_ns;
}

/* ---- the kernel side ---- */

/*
 * Pushes st, or withdraws with reason when st is NULL.  Reopens the family
 * on failure: the module may be back.
 */
static int act(struct follower *f, const struct ntpk_state *st, uint32_t reason)
{
	const char *what = st ? "state set" : "state clear";
	const char *ext;
	int err;

	if (f->o->dry_run)
		return 0;
	if (!f->ipc) {
		err = ipc_open(&f->ipc);
		if (err) {
			f->ipc = NULL;
			if (err != f->nl_err && err == -ENOENT)
				logmsg("netlink: ntpk module not available");
			else if (err != f->nl_err)
				logmsg("netlink: cannot open: %s", strerror(-err));
			f->nl_err = err;
			return err;
		}
	}
	err = st ? ipc_state_set(f->ipc, st) : ipc_state_clear(f->ipc, reason);
	if (err) {
		ext = ipc_extack(f->ipc);
		if (err != f->nl_err)
			logmsg("netlink: %s: %s%s%s", what, strerror(-err),
			       ext ? ": " : "", ext ? ext : "");
		f->nl_err = err;
		ipc_close(f->ipc);
		f->ipc = NULL;
		return err;
	}
	if (f->nl_err) {
		logmsg("netlink: working again");
		f->nl_err = 0;
	}
	return 0;
}

/* ---- the kernel's frequency ---- */

/*
 * The rates for a synchronised reading: the daemon's own (the larger of
 * what it says and what its dispersion was seen to grow at), and the
 * slew, from the kernel's frequency read now.  Both saturate; decide()
 * judges them.
 */
static void rates(struct follower *f, const struct src_reading *r,
		  uint32_t *daemon_rate, uint32_t *slew)
{
	int64_t k;

	*daemon_rate = disp_meter_rate(&f->meter, r->reftime, r->root_disp_ns,
				       r->disp_res_ns, &r->taken, r->rtt_ns,
				       r->disp_rate_ppb);
	if (kclock_freq_ppb(&k)) {
		/* Nothing bounds the slew: no state can be served. */
		*slew = UINT32_MAX;
		return;
	}
	f->freq_exact = r->has_freq;
	f->freq_ref = r->has_freq ? r->freq_ppb : k;
	*slew = slew_ppb(f, k);
}

/*
 * Every WATCH_MS of every wait, answered or not: while a reading is
 * served, a faster slew than pushed goes to the module at once, for the
 * same reading (the module ages from it, so the new rate covers the whole
 * time since), and one beyond the module's cap withdraws it.
 */
static void watch(void *ctx)
{
	struct follower *f = ctx;
	struct ntpk_state st;
	char why[256];
	uint32_t slew;
	int64_t k;

	if (f->reason != NTPK_REASON_NONE || f->o->dry_run)
		return;
	slew = kclock_freq_ppb(&k) ? UINT32_MAX : slew_ppb(f, k);
	if (slew <= f->served.slew_rate)
		return;
	if (slew > NTPK_DISP_RATE_MAX - f->daemon_rate) {
		snprintf(why, sizeof(why),
			 "the kernel clock leaves the daemon's time at %u ppb (its dispersion grows at %u), above the module's %u",
			 slew, f->daemon_rate, NTPK_DISP_RATE_MAX);
		act(f, NULL, NTPK_REASON_ERROR_BOUND);
		logmsg("withdrawn (%s): %s",
		       reason_word(NTPK_REASON_ERROR_BOUND), why);
		f->reason = NTPK_REASON_ERROR_BOUND;
		return;
	}
	st = f->served;
	st.slew_rate = slew;
	st.disp_rate = f->daemon_rate + slew;
	if (act(f, &st, NTPK_REASON_NONE))
		return;
	f->served = st;
	if (f->o->verbose || slew >= SLEW_LOG_PPB)
		logmsg("kernel frequency %+.3f ppm, %.3f ppm off the daemon's time: ageing at %.3f ppm",
		       k / 1e3, slew / 1e3, st.disp_rate / 1e3);
}

/* ---- the announcement (--vip) ---- */

/*
 * The module's max-age, which the time service's verdict gives a silent
 * daemon too: the fast path serves the last state that long.  The default
 * when the module cannot say.
 */
static uint64_t module_max_age_ms(struct follower *f)
{
	struct ntpk_model m;
	int err;

	if (!f->ipc && ipc_open(&f->ipc)) {
		f->ipc = NULL;
		return NTPK_MAX_AGE_DEFAULT * 1000ULL;
	}
	err = ipc_get(f->ipc, &m);
	if (err) {
		ipc_close(f->ipc);
		f->ipc = NULL;
		return NTPK_MAX_AGE_DEFAULT * 1000ULL;
	}
	if (!(m.config.has & CONFIG_HAS_MAX_AGE))
		return NTPK_MAX_AGE_DEFAULT * 1000ULL;
	return m.config.max_age * 1000ULL;
}

/*
 * Tells the module the time service's verdict and whether the VIPs are
 * on, for show and the metrics, when either changed, the last telling
 * failed, or SERVICE_REFRESH_MS passed.  A module without
 * NTPK_CMD_SERVICE_SET (older) is logged once and changes nothing else.
 */
static void report_service(struct follower *f, uint32_t reason, bool announced)
{
	struct timespec now;
	const char *ext;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (f->service_sent && f->service_sent_reason == reason &&
	    f->service_announced == announced &&
	    src_mono_diff_ns(&now, &f->service_sent_at) <
	    SERVICE_REFRESH_MS * 1000000LL)
		return;
	f->service_sent = false;
	if (!f->ipc && ipc_open(&f->ipc)) {
		f->ipc = NULL;
		return;		/* act() logs the module's absence */
	}
	err = ipc_service_set(f->ipc, reason, announced);
	if (err) {
		ext = ipc_extack(f->ipc);
		if (err != f->service_err)
			logmsg("netlink: service set: %s%s%s", strerror(-err),
			       ext ? ": " : "", ext ? ext : "");
		f->service_err = err;
		return;
	}
	if (f->service_err)
		logmsg("netlink: service set works again");
	f->service_err = 0;
	f->service_sent = true;
	f->service_sent_reason = reason;
	f->service_announced = announced;
	f->service_sent_at = now;
}

/*
 * The node's two health signals, kept apart.  reason and why are the fast
 * path's verdict on this reading (decide()): ntpk answers or the daemon
 * does.  The VIPs follow the other, the time service's (health.h): a node
 * whose fast path stepped aside still serves correct time from its daemon
 * and stays in the route.
 */
static void judge(struct follower *f, const struct src_reading *r,
		  uint32_t reason, const char *why)
{
	struct timespec now, real;
	char verdict[320], svc_why[256];
	uint32_t svc;

	clock_gettime(CLOCK_REALTIME, &real);
	svc = health_judge(&f->health, r, &real,
			   r->status == SRC_LOST ? module_max_age_ms(f) : 0,
			   svc_why, sizeof(svc_why));
	if (svc != f->service) {
		if (svc != NTPK_REASON_NONE)
			logmsg("service: bad (%s): %s", reason_word(svc), svc_why);
		else if (r->status != SRC_LOST && reason != NTPK_REASON_NONE)
			logmsg("service: good (%s); the daemon answers, the fast path is off (%s): %s",
			       svc_why, reason_word(reason), why);
		else
			logmsg("service: good (%s)", svc_why);
	}
	f->service = svc;
	snprintf(verdict, sizeof(verdict), "%s: %s", reason_word(svc), svc_why);
	clock_gettime(CLOCK_MONOTONIC, &now);
	announce_update(f->announce, svc == NTPK_REASON_NONE, verdict, &now,
			logmsg);
	report_service(f, svc, announce_announced(f->announce));
}

/* At exit, whatever the exit: the node stops announcing, and says so. */
static void vip_stop(struct follower *f)
{
	if (!f->announce)
		return;
	announce_close(f->announce);
	f->announce = NULL;
	report_service(f, NTPK_REASON_FOLLOW_STOPPED, false);
}

/* ---- logging ---- */

static const char *describe(const struct ntpk_state *st, char *buf, size_t len)
{
	char refid[FMT_LEN], rd[FMT_LEN], rp[FMT_LEN];

	snprintf(buf, len, "leap %u stratum %u refid %s rootdelay %s rootdisp %s",
		 st->leap, st->stratum, format_refid(st->refid, st->stratum, refid),
		 format_ntp_short(st->root_delay, rd),
		 format_ntp_short(st->root_disp, rp));
	return buf;
}

static bool same_source(const struct ntpk_state *a, const struct ntpk_state *b)
{
	return a->leap == b->leap && a->stratum == b->stratum &&
	       !memcmp(a->refid, b->refid, sizeof(a->refid));
}

static const char *status_word(enum src_status s)
{
	switch (s) {
	case SRC_SYNCED:
		return "synced";
	case SRC_UNSYNCED:
		return "unsynced";
	case SRC_GONE:
		return "gone";
	case SRC_LOST:
		return "lost";
	case SRC_FATAL:
		return "fatal";
	}
	return "?";
}

/* --verbose: what the source said, before any decision. */
static void log_reading(const struct follower *f, const struct src_reading *r)
{
	char refid[FMT_LEN];

	if (r->status != SRC_SYNCED && r->status != SRC_UNSYNCED) {
		logmsg("read %s: %s: %s", f->src->name, status_word(r->status),
		       r->why);
		return;
	}
	logmsg("read %s: %s leap %u stratum %u precision %d refid %s rootdelay %.9f rootdisp %.9f correction %+.9f error %.9f disprate %u ppb freq %s%.3f ppm smoothing %s rtt %.6f",
	       f->src->name, status_word(r->status), r->leap, r->stratum,
	       r->precision, format_refid_hex(r->refid, refid),
	       r->root_delay_ns / 1e9, r->root_disp_ns / 1e9,
	       r->correction_ns / 1e9, r->error_ns / 1e9, r->disp_rate_ppb,
	       r->has_freq ? "" : "(unknown) ", r->freq_ppb / 1e3,
	       r->smoothing ? "yes" : "no", r->rtt_ns / 1e9);
}

/* One line per transition. */
static void log_decision(struct follower *f, const struct src_reading *r,
			 const struct ntpk_state *st, uint32_t reason,
			 const char *why)
{
	char desc[200];

	if (reason == NTPK_REASON_NONE) {
		describe(st, desc, sizeof(desc));
		if (f->reason != NTPK_REASON_NONE)
			logmsg("serving: %s (daemon's %.6f + error %.6f s) correction %+.6f s disprate %u ppb (slew %u)",
			       desc, r->root_disp_ns / 1e9, r->error_ns / 1e9,
			       r->correction_ns / 1e9, st->disp_rate,
			       st->slew_rate);
		else if (!same_source(&f->served, st))
			logmsg("changed: %s", desc);
		f->served = *st;
	} else if (reason != f->reason) {
		logmsg("withdrawn (%s): %s", reason_word(reason), why);
	}
	f->reason = reason;
}

/* --dry-run: what would go to the kernel, on stdout, one line a poll. */
static void print_action(const struct src_reading *r, const struct ntpk_state *st,
			 uint32_t reason, const char *why)
{
	char refid[FMT_LEN], rd[FMT_LEN], rp[FMT_LEN], rt[FMT_LEN];

	if (r->status == SRC_LOST) {
		printf("nothing: %s\n", r->why);
	} else if (reason != NTPK_REASON_NONE) {
		printf("withdraw %s: %s\n", reason_word(reason), why);
	} else {
		printf("push leap %u stratum %u precision %d refid %s reftime %s rootdelay %s rootdisp %s rootdisp_raw 0x%08x disprate %u slewrate %u correction %+.9f error %.9f maxerror %.9f\n",
		       st->leap, st->stratum, st->precision,
		       format_refid_hex(st->refid, refid),
		       format_ntp_time(st->reftime, rt),
		       format_ntp_short(st->root_delay, rd),
		       format_ntp_short(st->root_disp, rp), st->root_disp,
		       st->disp_rate, st->slew_rate, st->correction_ns / 1e9,
		       st->error_ns / 1e9, st->max_error_ns / 1e9);
	}
	fflush(stdout);
}

/* ---- the loop ---- */

static void setup_signals(struct follower *f)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	/* No SA_RESTART: the waits must see the signal. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	/* Blocked except inside ppoll(), so none can slip in between. */
	sigprocmask(SIG_BLOCK, &block, &f->oldmask);
	f->waitmask = f->oldmask;
	sigdelset(&f->waitmask, SIGINT);
	sigdelset(&f->waitmask, SIGTERM);
}

static void restore_signals(struct follower *f)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigprocmask(SIG_SETMASK, &f->oldmask, NULL);
}

static int netlink_exit(struct follower *f, int err)
{
	if (err == -ENOENT && !f->ipc)
		return EXIT_NOMODULE;
	return err ? EXIT_FAILED : EXIT_OK;
}

int follow_main(int argc, char *argv[])
{
	struct follow_opts o = { 0 };
	struct follower f = { .o = &o, .reason = NO_DECISION,
			      .service = NO_DECISION };
	struct src_reading r;
	struct ntpk_state st;
	struct timespec next, now;
	uint32_t reason, daemon_rate, slew;
	uint64_t interval_ms;
	char why[256];
	int ret, err;

	ret = parse_follow_args(argc, argv, &o);
	if (ret)
		return ret;
	ret = src_open(o.source, &f.src);
	if (ret)
		return ret;
	interval_ms = o.interval_ms ? o.interval_ms : f.src->ops->interval_ms;
	f.src->timeout_ms = f.src->ops->timeout_ms ? f.src->ops->timeout_ms :
			    interval_ms < 1000 ? interval_ms : 1000;
	stop_signal = 0;
	setup_signals(&f);
	f.src->waitmask = &f.waitmask;
	f.src->idle = watch;
	f.src->idle_ctx = &f;
	f.src->idle_ms = WATCH_MS;
	if (o.vip.nvips) {
		o.vip.lease_s = (uint32_t)((3 * (interval_ms +
				f.src->timeout_ms) + 999) / 1000);
		if (o.vip.lease_s < VIP_LEASE_MIN_S)
			o.vip.lease_s = VIP_LEASE_MIN_S;
		err = announce_open(&o.vip, &f.announce);
		if (err) {
			fprintf(stderr, "%s: follow: --vip-dev %s: %s\n", prog,
				o.vip.dev, strerror(-err));
			ret = err == -EPERM || err == -EACCES ? EXIT_PERM :
			      EXIT_FAILED;
			goto out;
		}
	}
	if (!o.once)
		logmsg("following %s every %llu.%03llu s, max error %.6f s%s",
		       f.src->name, (unsigned long long)(interval_ms / 1000),
		       (unsigned long long)(interval_ms % 1000),
		       o.max_error_ns / 1e9, o.dry_run ? " (dry run)" : "");
	if (f.announce) {
		struct health_opts ho = {
			.max_stratum = o.vip.max_stratum,
			.max_distance_ns = o.vip_max_distance_ns,
		};

		health_init(&f.health, &ho);
		logmsg("vip: %u address%s on %s, announced while the daemon is synchronised at stratum %u or better with a root distance of at most %.6f s (the fast path may be off), after %llu.%03llu s of it, leased for %u s",
		       o.vip.nvips, o.vip.nvips == 1 ? "" : "es", o.vip.dev,
		       o.vip.max_stratum, o.vip_max_distance_ns / 1e9,
		       (unsigned long long)(o.vip.hold_down_ms / 1000),
		       (unsigned long long)(o.vip.hold_down_ms % 1000),
		       o.vip.lease_s);
	}

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop_signal) {
		src_read(f.src, &r);
		if (stop_signal)
			break;
		if (o.verbose)
			log_reading(&f, &r);
		if (r.status == SRC_LOST) {
			/* No evidence: nothing is pushed, max-age takes over. */
			if (!f.lost)
				logmsg("no answer from %s: %s; pushing nothing until it answers (the module's max-age withdraws the state if this lasts)",
				       f.src->name, r.why);
			f.lost = true;
			if (f.announce)
				judge(&f, &r, NTPK_REASON_NONE, "");
			if (o.dry_run)
				print_action(&r, NULL, NTPK_REASON_NONE, "");
			if (o.once) {
				ret = EXIT_FAILED;
				goto out;
			}
			goto next_poll;
		}
		if (f.lost)
			logmsg("%s answers again", f.src->name);
		f.lost = false;

		daemon_rate = slew = 0;
		if (r.status == SRC_SYNCED)
			rates(&f, &r, &daemon_rate, &slew);
		reason = decide(&r, o.max_error_ns, daemon_rate, slew, why,
				sizeof(why));
		if (reason == NTPK_REASON_NONE) {
			build_state(&r, o.max_error_ns, daemon_rate, slew, &st);
			f.daemon_rate = daemon_rate;
		}
		log_decision(&f, &r, &st, reason, why);
		if (o.dry_run)
			print_action(&r, &st, reason, why);
		err = act(&f, reason == NTPK_REASON_NONE ? &st : NULL, reason);
		if (err == -EPERM || err == -EACCES) {
			fprintf(stderr, "%s: follow: %s: %s (CAP_NET_ADMIN needed)\n",
				prog, reason == NTPK_REASON_NONE ? "state set" :
				"state clear", strerror(-err));
			ret = EXIT_PERM;
			goto out;
		}
		if (f.announce)
			judge(&f, &r, reason, why);
		if (r.status == SRC_FATAL) {
			ret = r.exit_code ? r.exit_code : EXIT_FAILED;
			goto out;
		}
		if (o.once) {
			ret = netlink_exit(&f, err);
			if (!ret && reason != NTPK_REASON_NONE)
				ret = EXIT_FAILED;
			goto out;
		}
next_poll:
		src_add_ns(&next, (int64_t)interval_ms * 1000000);
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* Late (suspended, or a slow round): poll now, skip the rest. */
		if (src_mono_diff_ns(&next, &now) < 0)
			next = now;
		src_wait(f.src, -1, &next);
	}
	act(&f, NULL, NTPK_REASON_FOLLOW_STOPPED);
	logmsg("%s: withdrawn (%s), exiting", strsignal(stop_signal),
	       reason_word(NTPK_REASON_FOLLOW_STOPPED));
	ret = EXIT_OK;
out:
	vip_stop(&f);
	restore_signals(&f);
	ipc_close(f.ipc);
	src_close(f.src);
	return ret;
}
