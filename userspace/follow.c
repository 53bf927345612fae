// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ntpkctl follow: poll the local NTP daemon as an NTP client and mirror its
 * server state into the kernel, the way a stratum-n+1 server follows its
 * upstream.  The kernel answers only with state we pushed within max-age,
 * so a follower that dies or hangs fails safe: the daemon answers again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "ipc.h"
#include "ntpwire.h"
#include "parse.h"
#include "report.h"
#include "subcommands.h"

#define NSEC_PER_SEC		1000000000LL
/* Longer than any sane round trip to a local daemon, or to anything. */
#define MAX_RTT_NS		NSEC_PER_SEC
/* The daemon reads the same clock; more than this means it is confused. */
#define MAX_CLOCK_DIFF_NS	NSEC_PER_SEC
#define INTERVAL_MIN_MS		100
#define INTERVAL_MAX_MS		3600000

struct follow_opts {
	struct sockaddr_storage src;
	socklen_t srclen;
	char src_name[80];
	uint64_t interval_ms;
	bool once;
	bool verbose;
};

enum status {
	ST_START,
	ST_SYNCED,	/* valid, synchronised reply: state pushed */
	ST_UNSYNCED,	/* a reply, but unsynchronised or not believable */
	ST_LOST,	/* no reply at all */
};

struct poll_result {
	enum status status;
	struct ntpk_state st;
	int64_t rtt_ns;
	int64_t offset_ns;
	char why[128];
};

/*
 * Polls that may still be answered.  A daemon behind a flood (all of it
 * reaches the daemon while ntpk has no state) answers each poll late, after
 * the requests queued before it; the first valid answer to any of these
 * brings the state back, and with it ntpk, which drains the flood.
 */
#define POLLS_KEPT		8

struct sent_poll {
	uint64_t cookie;	/* our transmit timestamp, echoed as origin */
	uint64_t t1;		/* the realtime clock when sent, NTP format */
	struct timespec m1;	/* the monotonic clock when sent */
	bool open;		/* no answer to it seen yet */
};

struct follower {
	const struct follow_opts *o;
	sigset_t waitmask;	/* the mask to wait with: signals let through */
	sigset_t oldmask;	/* restored on return (batch mode goes on) */
	int fd;
	struct ipc *ipc;
	int nl_err;		/* the netlink error last logged; 0 when fine */
	enum status status;
	struct ntpk_state seen;	/* the last poll's state, to log changes */
	struct sent_poll sent[POLLS_KEPT];
	unsigned int nsent;	/* polls sent: the next goes to sent[nsent % KEPT] */
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

/* HOST, HOST:PORT, [V6], [V6]:PORT, or a bare IPv6 address. */
static int parse_source(const char *arg, struct follow_opts *o)
{
	char host[256], port[8] = "123";
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_flags = AI_NUMERICSERV,
	};
	struct addrinfo *res;
	const char *p, *portstr = NULL, *why;
	size_t hlen;
	uint64_t u;
	int err;

	if (arg[0] == '[') {
		p = strchr(arg, ']');
		if (!p || (p[1] && p[1] != ':'))
			return usage_error("follow: invalid --source \"%s\"", arg);
		hlen = p - arg - 1;
		arg++;
		if (p[1] == ':')
			portstr = p + 2;
	} else {
		p = strchr(arg, ':');
		hlen = strlen(arg);
		if (p && !strchr(p + 1, ':')) {
			hlen = p - arg;
			portstr = p + 1;
		}
	}
	if (!hlen || hlen >= sizeof(host))
		return usage_error("follow: invalid --source host");
	memcpy(host, arg, hlen);
	host[hlen] = '\0';
	if (portstr) {
		why = parse_uint(portstr, 1, 65535, &u);
		if (why)
			return usage_error("follow: invalid --source port \"%s\": %s",
					   portstr, why);
		snprintf(port, sizeof(port), "%u", (unsigned int)u);
	}
	err = getaddrinfo(host, port, &hints, &res);
	if (err)
		return usage_error("follow: cannot resolve \"%s\": %s", host,
				   gai_strerror(err));
	memcpy(&o->src, res->ai_addr, res->ai_addrlen);
	o->srclen = res->ai_addrlen;
	freeaddrinfo(res);
	err = getnameinfo((struct sockaddr *)&o->src, o->srclen, host,
			  sizeof(host), port, sizeof(port),
			  NI_NUMERICHOST | NI_NUMERICSERV);
	if (err)
		return usage_error("follow: bad source address");
	snprintf(o->src_name, sizeof(o->src_name),
		 o->src.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
	return EXIT_OK;
}

static int parse_follow_args(int argc, char *argv[], struct follow_opts *o)
{
	const char *why;
	int i, ret;

	o->interval_ms = 1000;
	ret = parse_source("127.0.0.1:123", o);
	if (ret)
		return ret;
	for (i = 1; i < argc; i++) {
		const char *w = argv[i];

		if (!strcmp(w, "--once")) {
			o->once = true;
		} else if (!strcmp(w, "--verbose")) {
			o->verbose = true;
		} else if (!strcmp(w, "--source") || !strcmp(w, "--interval")) {
			if (i + 1 >= argc)
				return usage_error("follow: %s needs a value", w);
			if (w[2] == 's') {
				ret = parse_source(argv[++i], o);
				if (ret)
					return ret;
				continue;
			}
			why = parse_msec(argv[++i], INTERVAL_MIN_MS,
					 INTERVAL_MAX_MS, &o->interval_ms);
			if (why)
				return usage_error("follow: invalid --interval \"%s\": %s",
						   argv[i], why);
		} else {
			return usage_error("follow: unknown option \"%s\"", w);
		}
	}
	return EXIT_OK;
}

/* ---- the NTP client ---- */

static int64_t ts_diff_ns(uint64_t a, uint64_t b)
{
	return (int64_t)(((__int128)(int64_t)(a - b) * NSEC_PER_SEC) >> 32);
}

static int64_t mono_diff_ns(const struct timespec *a, const struct timespec *b)
{
	return (a->tv_sec - b->tv_sec) * NSEC_PER_SEC + (a->tv_nsec - b->tv_nsec);
}

static uint64_t realtime_ntp(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return nw_ts_from_unix(ts.tv_sec, (uint32_t)ts.tv_nsec);
}

static void set_why(struct poll_result *r, enum status s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_why(struct poll_result *r, enum status s, const char *fmt, ...)
{
	va_list ap;

	r->status = s;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

/* Everything a reply must satisfy before the kernel may speak for it. */
static void check_reply(const uint8_t *pkt, uint64_t t1, uint64_t t4,
			int64_t elapsed_ns, struct poll_result *r)
{
	struct ntpk_state *st = &r->st;
	unsigned int mode = nw_mode(pkt);
	unsigned int version = nw_version(pkt);
	uint64_t t2 = nw_get_be64(pkt + NW_OFF_RX);
	uint64_t t3 = nw_get_be64(pkt + NW_OFF_TX);
	int64_t proc_ns, diff_ns;

	st->leap = nw_leap(pkt);
	st->stratum = pkt[NW_OFF_STRATUM];
	st->precision = (int8_t)pkt[NW_OFF_PRECISION];
	st->root_delay = nw_get_be32(pkt + NW_OFF_ROOT_DELAY);
	st->root_disp = nw_get_be32(pkt + NW_OFF_ROOT_DISP);
	memcpy(st->refid, pkt + NW_OFF_REFID, 4);
	st->reftime = nw_get_be64(pkt + NW_OFF_REFTIME);

	if (mode != NW_MODE_SERVER)
		return set_why(r, ST_UNSYNCED, "invalid reply: mode %u", mode);
	if (version != 3 && version != 4)
		return set_why(r, ST_UNSYNCED, "invalid reply: version %u",
			       version);
	if (st->leap == NW_LEAP_UNSYNC || st->stratum < 1 ||
	    st->stratum > NW_STRATUM_MAX)
		return set_why(r, ST_UNSYNCED, "leap %u stratum %u",
			       st->leap, st->stratum);
	if (st->precision < -32 || st->precision > 0)
		return set_why(r, ST_UNSYNCED, "invalid reply: precision %d",
			       st->precision);
	proc_ns = ts_diff_ns(t3, t2);
	r->rtt_ns = elapsed_ns - proc_ns;
	r->offset_ns = (ts_diff_ns(t2, t1) + ts_diff_ns(t3, t4)) / 2;
	if (proc_ns < 0 || r->rtt_ns < 0 || r->rtt_ns >= MAX_RTT_NS)
		return set_why(r, ST_UNSYNCED,
			       "invalid reply: round trip %lld ns, daemon processing %lld ns",
			       (long long)r->rtt_ns, (long long)proc_ns);
	diff_ns = ts_diff_ns(t3, t4);
	if (diff_ns > MAX_CLOCK_DIFF_NS || diff_ns < -MAX_CLOCK_DIFF_NS)
		return set_why(r, ST_UNSYNCED,
			       "invalid reply: daemon time %+.3f s from ours",
			       diff_ns / 1e9);
	r->status = ST_SYNCED;
	r->why[0] = '\0';
}

/* Waits for fd to become readable until *deadline; 0 on timeout. */
static int wait_readable(struct follower *f, const struct timespec *deadline)
{
	struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
	struct timespec now, rel;
	int64_t left;
	int n;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = mono_diff_ns(deadline, &now);
		if (left <= 0)
			return 0;
		rel.tv_sec = left / NSEC_PER_SEC;
		rel.tv_nsec = left % NSEC_PER_SEC;
		n = ppoll(f->fd >= 0 ? &pfd : NULL, f->fd >= 0, &rel,
			  &f->waitmask);
		if (n < 0 && errno == EINTR) {
			if (stop_signal)
				return -EINTR;
			continue;
		}
		if (n < 0)
			return -errno;
		if (n > 0)
			return 1;
	}
}

/*
 * Reads one datagram, and when the kernel stamped it (SO_TIMESTAMPNS) when
 * it arrived: a reply read after a while is measured from its arrival.
 */
static ssize_t recv_stamped(int fd, uint8_t *buf, size_t len,
			    struct timespec *rx)
{
	char ctl[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;
	ssize_t n;

	n = recvmsg(fd, &msg, MSG_DONTWAIT);
	if (n < 0)
		return n;
	clock_gettime(CLOCK_REALTIME, rx);
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS)
			memcpy(rx, CMSG_DATA(c), sizeof(*rx));
	return n;
}

static struct sent_poll *find_poll(struct follower *f, const uint8_t *pkt)
{
	uint64_t origin = nw_get_be64(pkt + NW_OFF_ORIGIN);
	unsigned int i;

	for (i = 0; i < POLLS_KEPT; i++)
		if (f->sent[i].open && f->sent[i].cookie == origin)
			return &f->sent[i];
	return NULL;
}

/* Checks a reply to poll p that arrived at rx (realtime). */
static void measure(const struct sent_poll *p, const uint8_t *pkt,
		    const struct timespec *rx, struct poll_result *r)
{
	struct timespec m4, now;
	int64_t elapsed_ns, queued_ns;

	clock_gettime(CLOCK_MONOTONIC, &m4);
	clock_gettime(CLOCK_REALTIME, &now);
	elapsed_ns = mono_diff_ns(&m4, &p->m1);
	/*
	 * How long it waited for us to read it (two readings of one clock).
	 * A stamp from before the poll was sent (another CPU's clock, a
	 * step) is not believed: the reply is then measured as read.
	 */
	queued_ns = mono_diff_ns(&now, rx);
	if (queued_ns < 0 || queued_ns > elapsed_ns) {
		queued_ns = 0;
		rx = &now;
	}
	check_reply(pkt, p->t1, nw_ts_from_unix(rx->tv_sec, (uint32_t)rx->tv_nsec),
		    elapsed_ns - queued_ns, r);
}

static void poll_daemon(struct follower *f, struct poll_result *r)
{
	struct sent_poll *cur = &f->sent[f->nsent++ % POLLS_KEPT], *p;
	uint8_t req[NW_PKT_LEN] = { 0 }, buf[1024];
	struct timespec deadline, rx;
	int64_t timeout_ns;
	ssize_t n;
	int ret;

	memset(r, 0, sizeof(*r));
	/*
	 * A random transmit timestamp, as chronyd's own client sends: the
	 * echo proves the reply answers this request, and nothing about our
	 * clock leaks.  Times come from our own clock readings instead.
	 */
	if (getrandom(&cur->cookie, sizeof(cur->cookie), 0) !=
	    sizeof(cur->cookie))
		cur->cookie = realtime_ntp() ^ (uint64_t)random();
	req[NW_OFF_LVM] = nw_lvm(0, 4, NW_MODE_CLIENT);
	nw_put_be64(req + NW_OFF_TX, cur->cookie);

	timeout_ns = (int64_t)f->o->interval_ms * 1000000;
	if (timeout_ns > MAX_RTT_NS)
		timeout_ns = MAX_RTT_NS;
	clock_gettime(CLOCK_MONOTONIC, &cur->m1);
	cur->t1 = realtime_ntp();
	deadline = cur->m1;
	deadline.tv_sec += timeout_ns / NSEC_PER_SEC;
	deadline.tv_nsec += timeout_ns % NSEC_PER_SEC;
	if (deadline.tv_nsec >= NSEC_PER_SEC) {
		deadline.tv_sec++;
		deadline.tv_nsec -= NSEC_PER_SEC;
	}
	cur->open = false;
	if (send(f->fd, req, sizeof(req), 0) < 0)
		return set_why(r, ST_LOST, "send: %s", strerror(errno));
	cur->open = true;
	for (;;) {
		ret = wait_readable(f, &deadline);
		if (ret == -EINTR)
			return set_why(r, ST_START, "interrupted");
		if (ret < 0)
			return set_why(r, ST_LOST, "poll: %s", strerror(-ret));
		if (ret == 0)
			return set_why(r, ST_LOST, "no reply within %lld ms",
				       (long long)(timeout_ns / 1000000));
		n = recv_stamped(f->fd, buf, sizeof(buf), &rx);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return set_why(r, ST_LOST, "%s", strerror(errno));
		/* Not NTP, not ours, or a duplicate: keep waiting. */
		p = n < NW_PKT_LEN ? NULL : find_poll(f, buf);
		if (!p)
			continue;
		p->open = false;
		measure(p, buf, &rx, r);
		if (p == cur || r->status == ST_SYNCED)
			return;
		/* A late answer that does not hold up: wait for this poll's. */
		memset(r, 0, sizeof(*r));
	}
}

/* ---- the kernel side ---- */

/* st NULL clears.  Reopens the family on failure: the module may be back. */
static int push(struct follower *f, const struct ntpk_state *st)
{
	const char *what = st ? "state set" : "state clear";
	const char *ext;
	int err;

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
	err = st ? ipc_state_set(f->ipc, st) :
		   ipc_command(f->ipc, NTPK_CMD_STATE_CLEAR);
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

static bool same_source(const struct ntpk_state *a, const struct ntpk_state *b)
{
	return a->leap == b->leap && a->stratum == b->stratum &&
	       !memcmp(a->refid, b->refid, sizeof(a->refid));
}

static const char *describe(const struct ntpk_state *st, char *buf, size_t len)
{
	char refid[FMT_LEN], rd[FMT_LEN], rp[FMT_LEN];

	snprintf(buf, len, "leap %u stratum %u refid %s rootdelay %s rootdisp %s",
		 st->leap, st->stratum, format_refid(st->refid, st->stratum, refid),
		 format_ntp_short(st->root_delay, rd),
		 format_ntp_short(st->root_disp, rp));
	return buf;
}

/* One line per transition; every poll with --verbose. */
static void log_result(struct follower *f, const struct poll_result *r)
{
	char desc[200];

	if (f->o->verbose) {
		if (r->status == ST_SYNCED)
			logmsg("poll %s: %s precision %d rtt %.6f s offset %+.6f s",
			       f->o->src_name, describe(&r->st, desc, sizeof(desc)),
			       r->st.precision, r->rtt_ns / 1e9,
			       r->offset_ns / 1e9);
		else
			logmsg("poll %s: %s", f->o->src_name, r->why);
	}
	if (f->status == ST_LOST && r->status != ST_LOST)
		logmsg("daemon back: %s answers", f->o->src_name);
	if (r->status == f->status) {
		if (r->status == ST_SYNCED && !same_source(&f->seen, &r->st))
			logmsg("changed: %s", describe(&r->st, desc, sizeof(desc)));
		return;
	}
	switch (r->status) {
	case ST_SYNCED:
		logmsg("synchronised: %s", describe(&r->st, desc, sizeof(desc)));
		break;
	case ST_UNSYNCED:
		logmsg("unsynchronised: %s; state cleared", r->why);
		break;
	case ST_LOST:
		logmsg("daemon lost: %s: %s; state cleared", f->o->src_name,
		       r->why);
		break;
	case ST_START:
		break;
	}
}

static int open_socket(struct follower *f)
{
	const struct follow_opts *o = f->o;

	f->fd = socket(o->src.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0) {
		fprintf(stderr, "%s: follow: socket: %s\n", prog, strerror(errno));
		return EXIT_FAILED;
	}
	/* Without receive timestamps replies are measured when read. */
	setsockopt(f->fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){ 1 }, sizeof(int));
	if (connect(f->fd, (const struct sockaddr *)&o->src, o->srclen) < 0) {
		fprintf(stderr, "%s: follow: connect %s: %s\n", prog,
			o->src_name, strerror(errno));
		close(f->fd);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

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

static int sleep_until(struct follower *f, const struct timespec *when)
{
	int fd = f->fd, ret;

	f->fd = -1;	/* wait for time and signals only */
	ret = wait_readable(f, when);
	f->fd = fd;
	return ret;
}

static void advance(struct timespec *t, uint64_t ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000;
	if (t->tv_nsec >= NSEC_PER_SEC) {
		t->tv_sec++;
		t->tv_nsec -= NSEC_PER_SEC;
	}
}

int follow_main(int argc, char *argv[])
{
	struct follow_opts o = { 0 };
	struct follower f = { .o = &o, .fd = -1 };
	struct poll_result r;
	struct timespec next, now;
	int ret, err;

	if (argc == 2 && is_help(argv[1]))
		return command_usage(argv[0]), EXIT_OK;
	ret = parse_follow_args(argc, argv, &o);
	if (ret)
		return ret;
	ret = open_socket(&f);
	if (ret)
		return ret;
	stop_signal = 0;
	setup_signals(&f);
	if (!o.once)
		logmsg("following %s every %llu.%03llu s", o.src_name,
		       (unsigned long long)(o.interval_ms / 1000),
		       (unsigned long long)(o.interval_ms % 1000));

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop_signal) {
		poll_daemon(&f, &r);
		if (stop_signal)
			break;
		log_result(&f, &r);
		err = push(&f, r.status == ST_SYNCED ? &r.st : NULL);
		f.status = r.status;
		f.seen = r.st;
		if (err == -EPERM || err == -EACCES) {
			fprintf(stderr, "%s: follow: %s: %s (CAP_NET_ADMIN needed)\n",
				prog, r.status == ST_SYNCED ? "state set" : "state clear",
				strerror(-err));
			ret = EXIT_PERM;
			goto out;
		}
		if (o.once) {
			if (err == -ENOENT && !f.ipc)
				ret = EXIT_NOMODULE;
			else if (err)
				ret = EXIT_FAILED;
			else
				ret = r.status == ST_SYNCED ? EXIT_OK : EXIT_FAILED;
			goto out;
		}
		advance(&next, o.interval_ms);
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* Late (suspended, or a slow netlink round): poll now, skip the rest. */
		if (mono_diff_ns(&next, &now) < 0)
			next = now;
		sleep_until(&f, &next);
	}
	push(&f, NULL);
	logmsg("%s: state cleared, exiting", strsignal(stop_signal));
	ret = EXIT_OK;
out:
	restore_signals(&f);
	ipc_close(f.ipc);
	close(f.fd);
	return ret;
}
