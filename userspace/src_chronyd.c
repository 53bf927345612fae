// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The chronyd source: ask chronyd itself, over its Unix-domain command
 * socket, as chronyc does ("chronyc tracking", "chronyc smoothing").  This
 * channel carries no client traffic and costs microseconds, so follow polls
 * it ten times a second, and chronyd's own account of the clock comes with
 * it: how far its time is from the kernel clock the module stamps with
 * (the correction it is still slewing out), and how fast its dispersion
 * grows.
 *
 * chronyd answers a Unix-domain datagram to the address it came from, so
 * follow binds a socket of its own, as chronyc does, next to chronyd's
 * (the directory is chronyd's, and chronyd must be able to reach it):
 * DIR/ntpkctl.PID.RANDOM.sock, made reachable by chronyd's user with the
 * umask cleared around bind() (a chmod() of a path could be redirected).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "chronywire.h"
#include "ntpwire.h"
#include "report.h"
#include "source.h"

/*
 * chronyd ages its root dispersion at skew + |residual frequency| + its
 * maxclockerror (REF_GetReferenceParams); the last is configuration that
 * the tracking report does not carry.  Its default, 1 ppm, is the least
 * it can be; a larger one is measured (disprate.h).
 */
#define CHRONYD_MAX_CLOCK_ERROR_PPB	1000
/*
 * chrony's floats carry a 25-bit signed coefficient: a value is within
 * 2^-23 of itself, and cw_float_upper() adds up to a nanosecond.
 */
#define CW_FLOAT_RES_SHIFT		23
/* A request is sent twice at most: again at half the wait. */
#define ATTEMPTS		2

struct chronyd_source {
	struct source src;
	struct sockaddr_un daemon;	/* chronyd's socket */
	socklen_t daemon_len;
	struct sockaddr_un local;	/* ours; sun_path[0] == 0 when none */
	dev_t local_dev;
	ino_t local_ino;
	int fd;
	int8_t precision;
};

static void unbind(struct chronyd_source *c)
{
	struct stat st;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	/* Only our own: the path may have been removed, and reused. */
	if (c->local.sun_path[0] && !lstat(c->local.sun_path, &st) &&
	    st.st_dev == c->local_dev && st.st_ino == c->local_ino)
		unlink(c->local.sun_path);
	c->local.sun_path[0] = '\0';
}

/*
 * Our reply socket, (re)made when it is missing: chronyd's runtime
 * directory goes, with our socket in it, when chronyd stops.
 */
static bool ensure_socket(struct chronyd_source *c, struct src_reading *r)
{
	char dir[sizeof(c->daemon.sun_path)];
	uint32_t rnd;
	struct stat st;
	mode_t old;
	int err;

	if (c->fd >= 0 && !lstat(c->local.sun_path, &st) &&
	    st.st_dev == c->local_dev && st.st_ino == c->local_ino)
		return true;
	unbind(c);
	memcpy(dir, c->daemon.sun_path, sizeof(dir));
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)random();
	c->local.sun_family = AF_UNIX;
	if (snprintf(c->local.sun_path, sizeof(c->local.sun_path),
		     "%s/ntpkctl.%d.%08x.sock", dirname(dir), (int)getpid(),
		     rnd) >= (int)sizeof(c->local.sun_path)) {
		c->local.sun_path[0] = '\0';
		r->exit_code = EXIT_USAGE;
		src_set(r, SRC_FATAL, "%s: path too long for our reply socket beside it",
			c->daemon.sun_path);
		return false;
	}
	c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = errno;
		c->local.sun_path[0] = '\0';
		r->exit_code = EXIT_FAILED;
		src_set(r, SRC_FATAL, "socket: %s", strerror(err));
		return false;
	}
	old = umask(0);
	err = bind(c->fd, (struct sockaddr *)&c->local, sizeof(c->local)) ?
	      errno : 0;
	umask(old);
	if (!err && lstat(c->local.sun_path, &st))
		err = errno;
	if (err) {
		close(c->fd);
		c->fd = -1;
		if (err == ENOENT) {
			/* No directory: chronyd is not running. */
			src_set(r, SRC_GONE, "%s: %s", dir, strerror(err));
		} else {
			r->exit_code = err == EACCES || err == EPERM ?
				       EXIT_PERM : EXIT_FAILED;
			src_set(r, SRC_FATAL,
				"cannot bind the reply socket %s: %s (follow needs to create it in the directory of chronyd's socket, as chronyc does: run it as root)",
				c->local.sun_path, strerror(err));
		}
		c->local.sun_path[0] = '\0';
		return false;
	}
	c->local_dev = st.st_dev;
	c->local_ino = st.st_ino;
	return true;
}

/* Drops whatever an earlier, abandoned exchange left to read. */
static void drain(int fd)
{
	uint8_t buf[256];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

static bool send_failed(struct chronyd_source *c, struct src_reading *r,
			int err)
{
	const char *path = c->daemon.sun_path;

	switch (err) {
	case ECONNREFUSED:
	case ENOENT:
		/* Nobody reads the socket, or there is none: chronyd is gone. */
		src_set(r, SRC_GONE, "%s: %s", path, strerror(err));
		return true;
	case EACCES:
	case EPERM:
		r->exit_code = EXIT_PERM;
		src_set(r, SRC_FATAL,
			"%s: %s (chronyd's command socket: run follow as root, with CAP_DAC_OVERRIDE, as chronyc must be)",
			path, strerror(err));
		return true;
	case EAGAIN:
	case ENOBUFS:
		/* chronyd's queue is full: it is busy, not gone. */
		return false;
	}
	src_set(r, SRC_LOST, "send to %s: %s", path, strerror(err));
	return true;
}

/*
 * One request and its reply into buf.  Returns the reply's status, or -1
 * with r set (gone, lost, fatal).
 */
static int exchange(struct chronyd_source *c, uint16_t cmd, uint8_t *buf,
		    size_t buflen, struct src_reading *r)
{
	uint8_t req[CW_MAX_REQ_LEN];
	char why[160] = "";
	struct timespec start, deadline;
	struct sockaddr_un from;
	socklen_t fromlen;
	enum cw_verdict v;
	uint16_t status;
	uint8_t version;
	uint32_t seq;
	int64_t wait_ns = (int64_t)c->src.timeout_ms * 1000000 / ATTEMPTS;
	size_t len;
	ssize_t n;
	int attempt, ret;

	if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq))
		seq = (uint32_t)random();
	drain(c->fd);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (attempt = 0; attempt < ATTEMPTS; attempt++) {
		/*
		 * The same sequence each time: a late reply to the first
		 * attempt answers the second as well.
		 */
		len = cw_request(req, cmd, (uint16_t)attempt, seq);
		if (sendto(c->fd, req, len, 0, (struct sockaddr *)&c->daemon,
			   c->daemon_len) < 0 && send_failed(c, r, errno))
			return -1;
		deadline = start;
		src_add_ns(&deadline, wait_ns * (attempt + 1));
		for (;;) {
			ret = src_wait(&c->src, c->fd, &deadline);
			if (ret < 0) {
				src_set(r, SRC_LOST, "poll: %s", strerror(-ret));
				return -1;
			}
			if (ret == 0)
				break;
			fromlen = sizeof(from);
			n = recvfrom(c->fd, buf, buflen, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fromlen);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n < 0) {
				src_set(r, SRC_LOST, "receive: %s", strerror(errno));
				return -1;
			}
			/* Anyone may write to our socket; only chronyd counts. */
			if (fromlen <= offsetof(struct sockaddr_un, sun_path) ||
			    strncmp(from.sun_path, c->daemon.sun_path,
				    sizeof(from.sun_path))) {
				snprintf(why, sizeof(why), "a datagram not from %s",
					 c->daemon.sun_path);
				continue;
			}
			v = cw_check_reply(buf, (size_t)n, cmd, seq, &status,
					   &version, why, sizeof(why));
			if (v == CW_REPLY)
				return status;
			if (v == CW_BADVERSION) {
				r->exit_code = EXIT_FAILED;
				src_set(r, SRC_FATAL,
					"%s speaks command protocol version %u, ntpkctl speaks %u: upgrade ntpkctl, or follow chronyd over NTP (--source 127.0.0.1:123)",
					c->daemon.sun_path, version,
					CW_PROTO_VERSION);
				return -1;
			}
			/* Not a reply to this request: keep waiting. */
		}
	}
	src_set(r, SRC_LOST, "no reply from %s within %llu ms%s%s",
		c->daemon.sun_path, (unsigned long long)c->src.timeout_ms,
		why[0] ? "; ignored " : "", why);
	return -1;
}

/* A rate in ppm, as an upper bound in ppb; huge ones only need to stay huge. */
static uint64_t ppb(uint32_t f)
{
	uint64_t v = cw_float_upper(f, 1000);

	return v > UINT32_MAX ? UINT32_MAX : v;
}

static void chronyd_read(struct source *src, struct src_reading *r)
{
	struct chronyd_source *c = (struct chronyd_source *)src;
	uint8_t buf[512];
	struct cw_tracking t;
	struct cw_smoothing sm;
	struct timespec done;
	uint64_t rate;
	double corr, freq;
	int status;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_MONOTONIC, &r->taken);
	if (!ensure_socket(c, r))
		return;

	status = exchange(c, CW_REQ_TRACKING, buf, sizeof(buf), r);
	if (status < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &done);
	r->rtt_ns = src_mono_diff_ns(&done, &r->taken);
	if (status != CW_STT_SUCCESS)
		return src_set(r, SRC_LOST, "tracking: status %d (%s)", status,
			       cw_status_str((uint16_t)status));
	if (!cw_parse_tracking(buf, &t))
		return src_set(r, SRC_LOST, "tracking: invalid leap status %u",
			       t.leap);
	r->leap = (uint8_t)t.leap;
	r->stratum = t.stratum > 255 ? 255 : (uint8_t)t.stratum;
	r->precision = c->precision;
	nw_put_be32(r->refid, t.ref_id);
	r->reftime = t.ref_sec || t.ref_nsec ?
		     nw_ts_from_unix(t.ref_sec, t.ref_nsec) : 0;
	/*
	 * chronyd's root dispersion in the report is already aged to the
	 * moment it answered, as its own NTP replies are to their transmit
	 * time.  Its time is the kernel clock plus the correction, and the
	 * module stamps with the kernel clock alone: |correction| is the
	 * error ntpk adds.  Every bound is rounded up, float encoding and all.
	 */
	r->root_delay_ns = cw_float_upper(t.root_delay, 1000000000);
	r->root_disp_ns = cw_float_upper(t.root_disp, 1000000000);
	r->error_ns = cw_float_upper(t.correction, 1000000000);
	corr = cw_float(t.correction) * 1e9;
	r->correction_ns = corr >= 9e18 ? INT64_MAX :
			   corr <= -9e18 ? INT64_MIN : (int64_t)corr;
	rate = ppb(t.skew) + ppb(t.resid_freq) + CHRONYD_MAX_CLOCK_ERROR_PPB;
	r->disp_rate_ppb = rate > UINT32_MAX ? UINT32_MAX : (uint32_t)rate;
	r->disp_res_ns = (r->root_disp_ns >> CW_FLOAT_RES_SHIFT) + 2;
	/*
	 * chronyd sets the kernel to minus its frequency estimate, plus the
	 * slew of its correction (sys_generic.c): the difference from this
	 * is how fast the kernel clock leaves chronyd's time.
	 */
	freq = -cw_float(t.freq) * 1e3;
	r->has_freq = true;
	r->freq_ppb = freq >= 9e18 ? INT64_MAX : freq <= -9e18 ? INT64_MIN :
		      (int64_t)freq;

	/*
	 * chronyd's word for "not synchronised" is reference ID 0 with leap
	 * status 3 and stratum 0; with a local reference it serves (stratum
	 * "local stratum", 127.127.1.1) and so does ntpk.
	 */
	if (t.ref_id == 0 || r->leap == CW_LEAP_UNSYNC || r->stratum == 0 ||
	    r->stratum > NW_STRATUM_MAX)
		return src_set(r, SRC_UNSYNCED,
			       "chronyd not synchronised: reference ID %08X, leap %u, stratum %u",
			       t.ref_id, r->leap, r->stratum);

	status = exchange(c, CW_REQ_SMOOTHING, buf, sizeof(buf), r);
	if (status < 0)
		return;
	if (status == CW_STT_SUCCESS) {
		cw_parse_smoothing(buf, &sm);
		r->smoothing = sm.flags & CW_SMT_FLAG_ACTIVE;
		if (r->smoothing)
			snprintf(r->why, sizeof(r->why),
				 "chronyd smooths its time (offset %+.9f s%s)",
				 cw_float(sm.offset),
				 sm.flags & CW_SMT_FLAG_LEAPONLY ? ", leap only" : "");
	} else if (status != CW_STT_NOTENABLED) {
		/* Not enabled is the usual answer: no smoothtime. */
		return src_set(r, SRC_LOST, "smoothing: status %d (%s)", status,
			       cw_status_str((uint16_t)status));
	}
	r->status = SRC_SYNCED;
}

static void chronyd_close(struct source *src)
{
	struct chronyd_source *c = (struct chronyd_source *)src;

	unbind(c);
	free(c);
}

static const struct source_ops chronyd_ops = {
	.kind = "chronyd",
	/* A change must reach the wire within 200 ms. */
	.interval_ms = 100,
	/*
	 * chronyd answers in microseconds, unless a flood keeps it busy:
	 * then an answer 300 ms late still brings the state back.
	 */
	.timeout_ms = 1000,
	.read = chronyd_read,
	.close = chronyd_close,
};

int src_chronyd_open(const char *path, struct source **srcp)
{
	struct chronyd_source *c;
	/* Room for our own name beside it: "/ntpkctl.PID.RANDOM.sock". */
	size_t max = sizeof(c->daemon.sun_path) - 40;

	if (!path[0] || path[0] != '/' || strlen(path) > max)
		return usage_error("follow: chronyd's socket must be an absolute path of at most %zu bytes",
				   max);
	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "%s: follow: out of memory\n", prog);
		return EXIT_FAILED;
	}
	c->src.ops = &chronyd_ops;
	snprintf(c->src.name, sizeof(c->src.name), "chronyd %s", path);
	c->daemon.sun_family = AF_UNIX;
	strcpy(c->daemon.sun_path, path);
	c->daemon_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				    strlen(path) + 1);
	c->fd = -1;
	c->precision = src_clock_precision();
	*srcp = &c->src;
	return EXIT_OK;
}
