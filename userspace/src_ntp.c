// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The NTP source: poll the local daemon (ntpd, ntpsec, chronyd or any
 * other) as an NTP client over loopback, the way a stratum-n+1 server
 * follows its upstream.  The daemon's own root dispersion comes from its
 * reply; the error ntpk adds is what the exchange cannot rule out about the
 * kernel clock against the daemon's: |offset| + rtt/2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ntpwire.h"
#include "parse.h"
#include "report.h"
#include "source.h"

/* Longer than any sane round trip to a local daemon, or to anything. */
#define MAX_RTT_NS		SRC_NSEC_PER_SEC
/*
 * A daemon reached over NTP says nothing of how fast its dispersion grows:
 * RFC 5905's PHI, 15 ppm, as the module always assumed, unless its replies
 * show faster (disprate.h: a chronyd early after its start).  Nor does it
 * say its frequency: the kernel's at the reading stands for it.
 */
#define NTP_DISP_RATE_PPB	15000
/* chronyd's refid while it serves a smoothed time (127.127.1.255). */
static const uint8_t refid_smooth[4] = { 0x7f, 0x7f, 0x01, 0xff };

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

struct ntp_source {
	struct source src;
	int fd;
	struct sent_poll sent[POLLS_KEPT];
	unsigned int nsent;	/* polls sent: the next goes to sent[nsent % KEPT] */
};

/* HOST, HOST:PORT, [V6], [V6]:PORT, or a bare IPv6 address. */
static int resolve(const char *arg, struct sockaddr_storage *ss,
		   socklen_t *sslen, char *name, size_t namelen)
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
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	err = getnameinfo((struct sockaddr *)ss, *sslen, host, sizeof(host),
			  port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	if (err)
		return usage_error("follow: bad source address");
	snprintf(name, namelen, ss->ss_family == AF_INET6 ? "ntp [%s]:%s" :
		 "ntp %s:%s", host, port);
	return EXIT_OK;
}

static int64_t ts_diff_ns(uint64_t a, uint64_t b)
{
	return (int64_t)(((__int128)(int64_t)(a - b) * SRC_NSEC_PER_SEC) >> 32);
}

static uint64_t realtime_ntp(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return nw_ts_from_unix(ts.tv_sec, (uint32_t)ts.tv_nsec);
}

/*
 * Everything a reply must satisfy before the kernel may speak for it.  A
 * reply that does not hold up is no answer (SRC_LOST): only the daemon's
 * word that it is unsynchronised is evidence.
 */
static void check_reply(const uint8_t *pkt, uint64_t t1, uint64_t t4,
			int64_t elapsed_ns, struct src_reading *r)
{
	unsigned int mode = nw_mode(pkt);
	unsigned int version = nw_version(pkt);
	uint64_t t2 = nw_get_be64(pkt + NW_OFF_RX);
	uint64_t t3 = nw_get_be64(pkt + NW_OFF_TX);
	int64_t proc_ns, offset_ns;

	r->leap = nw_leap(pkt);
	r->stratum = pkt[NW_OFF_STRATUM];
	r->precision = (int8_t)pkt[NW_OFF_PRECISION];
	/* Rounded down to the nanosecond, so that follow gets the same back. */
	r->root_delay_ns = nw_short_to_ns(nw_get_be32(pkt + NW_OFF_ROOT_DELAY));
	r->root_disp_ns = nw_short_to_ns(nw_get_be32(pkt + NW_OFF_ROOT_DISP));
	memcpy(r->refid, pkt + NW_OFF_REFID, 4);
	r->reftime = nw_get_be64(pkt + NW_OFF_REFTIME);

	if (mode != NW_MODE_SERVER)
		return src_set(r, SRC_LOST, "invalid reply: mode %u", mode);
	if (version != 3 && version != 4)
		return src_set(r, SRC_LOST, "invalid reply: version %u", version);
	if (r->leap == NW_LEAP_UNSYNC || r->stratum < 1 ||
	    r->stratum > NW_STRATUM_MAX)
		return src_set(r, SRC_UNSYNCED, "leap %u stratum %u",
			       r->leap, r->stratum);
	if (r->precision < -32 || r->precision > 0)
		return src_set(r, SRC_LOST, "invalid reply: precision %d",
			       r->precision);
	proc_ns = ts_diff_ns(t3, t2);
	r->rtt_ns = elapsed_ns - proc_ns;
	offset_ns = (ts_diff_ns(t2, t1) + ts_diff_ns(t3, t4)) / 2;
	if (proc_ns < 0 || r->rtt_ns < 0 || r->rtt_ns >= MAX_RTT_NS)
		return src_set(r, SRC_LOST,
			       "invalid reply: round trip %lld ns, daemon processing %lld ns",
			       (long long)r->rtt_ns, (long long)proc_ns);
	/*
	 * The daemon's clock is within rtt/2 of offset from ours, so the
	 * kernel clock is within |offset| + rtt/2 of the daemon's.
	 */
	r->correction_ns = offset_ns;
	r->error_ns = (uint64_t)(offset_ns < 0 ? -offset_ns : offset_ns) +
		      (uint64_t)(r->rtt_ns + 1) / 2;
	r->disp_rate_ppb = NTP_DISP_RATE_PPB;
	/* NTP short format: 2^-16 s, rounded down above. */
	r->disp_res_ns = (SRC_NSEC_PER_SEC >> 16) + 1;
	r->smoothing = !memcmp(r->refid, refid_smooth, 4);
	r->status = SRC_SYNCED;
	if (r->smoothing)
		snprintf(r->why, sizeof(r->why), "refid 127.127.1.255");
}

/*
 * Reads one datagram, and when the kernel stamped it (SO_TIMESTAMPNS) when
 * it arrived: a reply read after a while is measured from its arrival.
 */
static ssize_t recv_stamped(int fd, uint8_t *buf, size_t len,
			    struct timespec *rx)
{
	/* CMSG_FIRSTHDR() hands out the buffer as a struct cmsghdr. */
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
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

static struct sent_poll *find_poll(struct ntp_source *s, const uint8_t *pkt)
{
	uint64_t origin = nw_get_be64(pkt + NW_OFF_ORIGIN);
	unsigned int i;

	for (i = 0; i < POLLS_KEPT; i++)
		if (s->sent[i].open && s->sent[i].cookie == origin)
			return &s->sent[i];
	return NULL;
}

/* Checks a reply to poll p that arrived at rx (realtime). */
static void measure(const struct sent_poll *p, const uint8_t *pkt,
		    const struct timespec *rx, struct src_reading *r)
{
	struct timespec m4, now;
	int64_t elapsed_ns, queued_ns;

	clock_gettime(CLOCK_MONOTONIC, &m4);
	clock_gettime(CLOCK_REALTIME, &now);
	elapsed_ns = src_mono_diff_ns(&m4, &p->m1);
	/*
	 * How long it waited for us to read it (two readings of one clock).
	 * A stamp from before the poll was sent (another CPU's clock, a
	 * step) is not believed: the reply is then measured as read.
	 */
	queued_ns = src_mono_diff_ns(&now, rx);
	if (queued_ns < 0 || queued_ns > elapsed_ns) {
		queued_ns = 0;
		rx = &now;
	}
	r->taken = p->m1;
	check_reply(pkt, p->t1, nw_ts_from_unix(rx->tv_sec, (uint32_t)rx->tv_nsec),
		    elapsed_ns - queued_ns, r);
}

/* Nothing listens on the port (ICMP port unreachable): the daemon is gone. */
static void failed(const struct source *src, struct src_reading *r,
		   const char *what, int err)
{
	if (err == ECONNREFUSED)
		src_set(r, SRC_GONE, "%s: %s", src->name, strerror(err));
	else
		src_set(r, SRC_LOST, "%s: %s: %s", src->name, what,
			strerror(err));
}

static void ntp_read(struct source *src, struct src_reading *r)
{
	struct ntp_source *s = (struct ntp_source *)src;
	struct sent_poll *cur = &s->sent[s->nsent++ % POLLS_KEPT], *p;
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

	timeout_ns = (int64_t)src->timeout_ms * 1000000;
	clock_gettime(CLOCK_MONOTONIC, &cur->m1);
	cur->t1 = realtime_ntp();
	r->taken = cur->m1;
	deadline = cur->m1;
	src_add_ns(&deadline, timeout_ns);
	cur->open = false;
	if (send(s->fd, req, sizeof(req), 0) < 0)
		return failed(src, r, "send", errno);
	cur->open = true;
	for (;;) {
		ret = src_wait(src, s->fd, &deadline);
		if (ret < 0)
			return src_set(r, SRC_LOST, "poll: %s", strerror(-ret));
		if (ret == 0)
			return src_set(r, SRC_LOST, "no reply within %lld ms",
				       (long long)(timeout_ns / 1000000));
		n = recv_stamped(s->fd, buf, sizeof(buf), &rx);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return failed(src, r, "receive", errno);
		/* Not NTP, not ours, or a duplicate: keep waiting. */
		p = n < NW_PKT_LEN ? NULL : find_poll(s, buf);
		if (!p)
			continue;
		p->open = false;
		measure(p, buf, &rx, r);
		if (p == cur || r->status == SRC_SYNCED)
			return;
		/* A late answer that does not hold up: wait for this poll's. */
		memset(r, 0, sizeof(*r));
		r->taken = cur->m1;
	}
}

static void ntp_close(struct source *src)
{
	struct ntp_source *s = (struct ntp_source *)src;

	close(s->fd);
	free(s);
}

static const struct source_ops ntp_ops = {
	.kind = "ntp",
	.interval_ms = 1000,
	/* The poll's socket queue is the clients': give up with the interval. */
	.timeout_ms = 0,
	.read = ntp_read,
	.close = ntp_close,
};

int src_ntp_open(const char *hostport, struct source **srcp)
{
	struct ntp_source *s = calloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	int ret;

	if (!s) {
		fprintf(stderr, "%s: follow: out of memory\n", prog);
		return EXIT_FAILED;
	}
	s->src.ops = &ntp_ops;
	ret = resolve(hostport, &ss, &sslen, s->src.name, sizeof(s->src.name));
	if (ret)
		goto err;
	s->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		fprintf(stderr, "%s: follow: socket: %s\n", prog, strerror(errno));
		ret = EXIT_FAILED;
		goto err;
	}
	/* Without receive timestamps replies are measured when read. */
	setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){ 1 }, sizeof(int));
	if (connect(s->fd, (const struct sockaddr *)&ss, sslen) < 0) {
		fprintf(stderr, "%s: follow: connect %s: %s\n", prog,
			s->src.name, strerror(errno));
		close(s->fd);
		ret = EXIT_FAILED;
		goto err;
	}
	*srcp = &s->src;
	return EXIT_OK;
err:
	free(s);
	return ret;
}
