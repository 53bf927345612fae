// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * apply: make a namespace's configuration exactly what a file says
 * (/etc/ntpk.conf at boot, from ntpk-follow.service).  The file is read and
 * checked whole before anything is sent, so a bad line changes nothing; it
 * is the whole configuration, so a directive left out means its default.
 * The format is documented in ntpkctl(8):
 *
 *	# comment (also after a directive)
 *	enable | disable
 *	port N[,N...]
 *	max-age SECONDS
 *	leap-window SECONDS
 *	dscp N
 *	addr ADDR [ADDR...]          (repeatable)
 *	ratelimit off | ratelimit [interval N] [burst N] [leak N] [kod on|off]
 *	                              [table-size N] [v6-prefix N]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "ipc.h"
#include "parse.h"
#include "report.h"
#include "subcommands.h"

/* Past this, a file is probably not a configuration file at all. */
#define MAX_ERRORS 20

enum directive {
	D_ENABLE,	/* enable or disable */
	D_PORT,
	D_MAX_AGE,
	D_LEAP_WINDOW,
	D_DSCP,
	D_RATELIMIT,
	NDIRECTIVES
};

struct conf {
	/* Parsing context. */
	const char *file;
	unsigned int line;
	unsigned int nerrors;
	unsigned int seen_on[NDIRECTIVES];	/* line, 0 when not given */
	unsigned int addr_line[MODEL_MAX_ADDRS];

	/* The result. */
	struct ntpk_config cfg;
	struct ntpk_ratelimit rl;
	struct ntpk_addr addrs[MODEL_MAX_ADDRS];
	unsigned int naddrs;
};

static void conf_error(struct conf *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void conf_error(struct conf *c, const char *fmt, ...)
{
	va_list ap;

	if (++c->nerrors > MAX_ERRORS)
		return;
	fprintf(stderr, "%s:%u: ", c->file, c->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A directive given once only: false (and an error) the second time. */
static bool first_time(struct conf *c, enum directive d, const char *what)
{
	if (c->seen_on[d]) {
		conf_error(c, "%s given twice (first on line %u)", what,
			   c->seen_on[d]);
		return false;
	}
	c->seen_on[d] = c->line;
	return true;
}

static bool same_addr(const struct ntpk_addr *a, const struct ntpk_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->in.s_addr == b->in.s_addr;
	return !memcmp(&a->in6, &b->in6, sizeof(a->in6));
}

static int find_addr(const struct ntpk_addr *set, unsigned int n,
		     const struct ntpk_addr *a)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (same_addr(&set[i], a))
			return (int)i;
	return -1;
}

static unsigned int count_family(const struct ntpk_addr *set, unsigned int n,
				 int family)
{
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		k += set[i].family == family;
	return k;
}

/* What the kernel refuses to serve, refused here with a line number. */
static const char *unservable(const struct ntpk_addr *a)
{
	if (a->family == AF_INET6) {
		if (IN6_IS_ADDR_UNSPECIFIED(&a->in6) ||
		    IN6_IS_ADDR_MULTICAST(&a->in6) ||
		    IN6_IS_ADDR_LOOPBACK(&a->in6))
			return "not a unicast address ntpk can serve (unspecified, multicast or loopback)";
	} else {
		uint32_t h = ntohl(a->in.s_addr);

		if ((h >> 24) == 0 || (h >> 24) == 127 ||
		    (h >> 28) == 0xe || h == 0xffffffff)
			return "not a unicast address ntpk can serve (0/8, loopback, multicast or broadcast)";
	}
	return NULL;
}

static void parse_addr_words(struct conf *c, char **w, int n)
{
	struct ntpk_addr a;
	const char *why;
	char buf[FMT_LEN];
	int i, k;

	if (n < 1) {
		conf_error(c, "addr needs at least one address");
		return;
	}
	for (i = 0; i < n; i++) {
		why = parse_addr(w[i], &a);
		if (!why)
			why = unservable(&a);
		if (why) {
			conf_error(c, "invalid address \"%s\": %s", w[i], why);
			continue;
		}
		k = find_addr(c->addrs, c->naddrs, &a);
		if (k >= 0) {
			conf_error(c, "duplicate address %s (first on line %u)",
				   format_addr(&a, buf), c->addr_line[k]);
			continue;
		}
		if (count_family(c->addrs, c->naddrs, a.family) == NTPK_MAX_ADDRS) {
			conf_error(c, "too many %s addresses: at most %d",
				   a.family == AF_INET ? "IPv4" : "IPv6",
				   NTPK_MAX_ADDRS);
			continue;
		}
		c->addr_line[c->naddrs] = c->line;
		c->addrs[c->naddrs++] = a;
	}
}

static void parse_ratelimit_words(struct conf *c, char **w, int n)
{
	static const char *const words[] = {
		"interval", "burst", "leak", "kod", "table-size", "v6-prefix",
	};
	const unsigned int nwords = sizeof(words) / sizeof(words[0]);
	struct ntpk_ratelimit *rl = &c->rl;
	unsigned int seen = 0, k;
	const char *why;
	uint64_t u;
	int64_t s;
	bool on;
	int i;

	if (n == 1 && !strcmp(w[0], "off"))
		return;		/* the default */
	rl->flags = NTPK_RL_F_ENABLED;
	for (i = 0; i < n; i++) {
		for (k = 0; k < nwords; k++)
			if (!strcmp(w[i], words[k]))
				break;
		if (k == nwords) {
			conf_error(c, "ratelimit: unknown word \"%s\"%s", w[i],
				   !strcmp(w[i], "off") ?
				   " (\"ratelimit off\" stands alone)" : "");
			return;
		}
		if (seen & 1U << k) {
			conf_error(c, "ratelimit: %s given twice", words[k]);
			return;
		}
		seen |= 1U << k;
		if (i + 1 >= n) {
			conf_error(c, "ratelimit: %s needs a value", words[k]);
			return;
		}
		i++;
		switch (k) {
		case 0:
			why = parse_int(w[i], -19, 12, &s);
			rl->interval = (int8_t)s;
			break;
		case 1:
			why = parse_uint(w[i], 1, 255, &u);
			rl->burst = (uint32_t)u;
			break;
		case 2:
			why = parse_uint(w[i], 0, 16, &u);
			rl->leak = (uint8_t)u;
			break;
		case 3:
			why = parse_onoff(w[i], &on);
			if (!why && on)
				rl->flags |= NTPK_RL_F_KOD;
			break;
		case 4:
			why = parse_uint(w[i], NTPK_RL_TABLE_MIN,
					 NTPK_RL_TABLE_MAX, &u);
			if (!why && (u & (u - 1)))
				why = "must be a power of two";
			rl->table_size = (uint32_t)u;
			break;
		default:
			why = parse_uint(w[i], 16, 128, &u);
			rl->v6_prefix = (uint8_t)u;
			break;
		}
		if (why) {
			conf_error(c, "ratelimit: invalid %s \"%s\": %s",
				   words[k], w[i], why);
			return;
		}
	}
}

/* One line's words, comment already cut off; n >= 1. */
static void parse_directive(struct conf *c, char **w, int n)
{
	const char *why;
	uint64_t u;

	if (!strcmp(w[0], "enable") || !strcmp(w[0], "disable")) {
		if (n > 1) {
			conf_error(c, "%s: unexpected \"%s\"", w[0], w[1]);
			return;
		}
		if (!first_time(c, D_ENABLE, "enable/disable"))
			return;
		c->cfg.flags = w[0][0] == 'e' ? NTPK_CONFIG_F_ENABLED : 0;
	} else if (!strcmp(w[0], "port")) {
		if (n != 2) {
			conf_error(c, "port needs one value: N[,N...]");
			return;
		}
		if (!first_time(c, D_PORT, "port"))
			return;
		why = parse_ports(w[1], c->cfg.ports, &c->cfg.nports);
		if (why)
			conf_error(c, "invalid port \"%s\": %s", w[1], why);
	} else if (!strcmp(w[0], "max-age")) {
		if (n != 2) {
			conf_error(c, "max-age needs one value: SECONDS");
			return;
		}
		if (!first_time(c, D_MAX_AGE, "max-age"))
			return;
		why = parse_uint(w[1], 1, NTPK_MAX_AGE_MAX, &u);
		if (why)
			conf_error(c, "invalid max-age \"%s\": %s", w[1], why);
		else
			c->cfg.max_age = (uint32_t)u;
	} else if (!strcmp(w[0], "leap-window")) {
		if (n != 2) {
			conf_error(c, "leap-window needs one value: SECONDS");
			return;
		}
		if (!first_time(c, D_LEAP_WINDOW, "leap-window"))
			return;
		why = parse_msec(w[1], 0, NTPK_LEAP_WINDOW_MAX, &u);
		if (why)
			conf_error(c, "invalid leap-window \"%s\": %s", w[1], why);
		else
			c->cfg.leap_window_ms = (uint32_t)u;
	} else if (!strcmp(w[0], "dscp")) {
		if (n != 2) {
			conf_error(c, "dscp needs one value: 0..%d", NTPK_DSCP_MAX);
			return;
		}
		if (!first_time(c, D_DSCP, "dscp"))
			return;
		why = parse_uint(w[1], 0, NTPK_DSCP_MAX, &u);
		if (why)
			conf_error(c, "invalid dscp \"%s\": %s", w[1], why);
		else
			c->cfg.dscp = (uint8_t)u;
	} else if (!strcmp(w[0], "addr")) {
		parse_addr_words(c, w + 1, n - 1);
	} else if (!strcmp(w[0], "ratelimit")) {
		if (!first_time(c, D_RATELIMIT, "ratelimit"))
			return;
		parse_ratelimit_words(c, w + 1, n - 1);
	} else {
		conf_error(c, "unknown directive \"%s\" (enable, disable, port, max-age, leap-window, dscp, addr, ratelimit)",
			   w[0]);
	}
}

#define MAX_WORDS 64

static void parse_line(struct conf *c, char *line, size_t len)
{
	static const char blanks[] = " \t\r\n\v\f";
	char *w[MAX_WORDS], *p, *save;
	int n = 0;

	if (strlen(line) != len) {
		conf_error(c, "NUL byte in line");
		return;
	}
	p = strchr(line, '#');
	if (p)
		*p = '\0';
	for (p = strtok_r(line, blanks, &save); p;
	     p = strtok_r(NULL, blanks, &save)) {
		if (n == MAX_WORDS) {
			conf_error(c, "more than %d words in one line", MAX_WORDS);
			return;
		}
		w[n++] = p;
	}
	if (n)
		parse_directive(c, w, n);
}

/* 0, EXIT_USAGE (errors printed) or EXIT_FAILED (file unreadable). */
static int parse_file(struct conf *c, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;

	memset(c, 0, sizeof(*c));
	c->file = strcmp(path, "-") ? path : "<stdin>";
	c->cfg.has = CONFIG_HAS_FLAGS | CONFIG_HAS_MAX_AGE | CONFIG_HAS_PORTS |
		     CONFIG_HAS_LEAP_WINDOW | CONFIG_HAS_DSCP;
	c->cfg.flags = 0;
	c->cfg.max_age = NTPK_MAX_AGE_DEFAULT;
	c->cfg.leap_window_ms = NTPK_LEAP_WINDOW_DEFAULT;
	c->cfg.ports[0] = NTPK_PORT_DEFAULT;
	c->cfg.nports = 1;
	ratelimit_defaults(&c->rl);

	f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, path,
			strerror(errno));
		return EXIT_FAILED;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		c->line++;
		parse_line(c, line, (size_t)len);
	}
	free(line);
	if (ferror(f)) {
		fprintf(stderr, "%s: cannot read %s: %s\n", prog, path,
			strerror(errno));
		if (f != stdin)
			fclose(f);
		return EXIT_FAILED;
	}
	if (f != stdin)
		fclose(f);
	if (c->nerrors > MAX_ERRORS)
		fprintf(stderr, "%s: %u errors, the first %d shown\n", c->file,
			c->nerrors, MAX_ERRORS);
	if (c->nerrors) {
		fprintf(stderr, "%s: %s not applied: nothing changed\n", prog,
			c->file);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static bool ratelimit_equal(const struct ntpk_ratelimit *a,
			    const struct ntpk_ratelimit *b)
{
	if (a->flags != b->flags)
		return false;
	if (!(a->flags & NTPK_RL_F_ENABLED))
		return true;	/* off: the parameters do not matter */
	return a->interval == b->interval && a->burst == b->burst &&
	       a->leak == b->leak && a->table_size == b->table_size &&
	       a->v6_prefix == b->v6_prefix;
}

/*
 * Config and rate limit in one NTPK_CMD_SET.  An unchanged rate limit is
 * not sent: replacing it would forget every client's history, and a
 * restart of the service would reset the limiter.
 */
static int apply_set(struct ipc *ipc, const struct conf *c,
		     const struct ntpk_model *cur)
{
	const struct ntpk_ratelimit *rl = &c->rl;

	if (cur->has_ratelimit && ratelimit_equal(&cur->ratelimit, &c->rl))
		rl = NULL;
	return ipc_report(ipc, ipc_set(ipc, &c->cfg, rl), "apply %s: set",
			  c->file);
}

static int addr_step(struct ipc *ipc, const struct conf *c, uint8_t cmd,
		     const struct ntpk_addr *a)
{
	char buf[FMT_LEN];
	int err = ipc_addr(ipc, cmd, a);

	/* Someone else got there first: the goal is reached all the same. */
	if ((cmd == NTPK_CMD_ADDR_ADD && err == -EEXIST) ||
	    (cmd == NTPK_CMD_ADDR_DEL && err == -ENOENT))
		err = 0;
	return ipc_report(ipc, err, "apply %s: addr %s %s", c->file,
			  cmd == NTPK_CMD_ADDR_ADD ? "add" : "del",
			  format_addr(a, buf));
}

/*
 * Replace the served set by the file's.  An empty set serves every local
 * address, so the set must never pass through empty on the way, as a flush
 * would make it: new addresses are added first and old ones deleted last.
 * When a family's table is full, one old address of that family goes just
 * before each new one comes, so the set shrinks to no less than the table
 * size minus one.
 */
static int apply_addrs(struct ipc *ipc, const struct conf *c,
		       const struct ntpk_model *cur)
{
	bool gone[MODEL_MAX_ADDRS] = { false };
	unsigned int i, k, n4, n6, *n;
	int ret;

	n4 = count_family(cur->addrs, cur->naddrs, AF_INET);
	n6 = count_family(cur->addrs, cur->naddrs, AF_INET6);
	for (i = 0; i < c->naddrs; i++) {
		const struct ntpk_addr *a = &c->addrs[i];

		if (find_addr(cur->addrs, cur->naddrs, a) >= 0)
			continue;
		n = a->family == AF_INET ? &n4 : &n6;
		if (*n >= NTPK_MAX_ADDRS) {
			/*
			 * The family holds NTPK_MAX_ADDRS addresses, a is not
			 * one of them and the file has at most that many, so
			 * one of them is not in the file.
			 */
			for (k = 0; k < cur->naddrs; k++)
				if (!gone[k] && cur->addrs[k].family == a->family &&
				    find_addr(c->addrs, c->naddrs, &cur->addrs[k]) < 0)
					break;
			if (k == cur->naddrs)
				return ipc_report(ipc, -ENOSPC, "apply %s: addr add",
						  c->file);
			ret = addr_step(ipc, c, NTPK_CMD_ADDR_DEL, &cur->addrs[k]);
			if (ret)
				return ret;
			gone[k] = true;
			(*n)--;
		}
		ret = addr_step(ipc, c, NTPK_CMD_ADDR_ADD, a);
		if (ret)
			return ret;
		(*n)++;
	}
	for (k = 0; k < cur->naddrs; k++) {
		if (gone[k] || find_addr(c->addrs, c->naddrs, &cur->addrs[k]) >= 0)
			continue;
		ret = addr_step(ipc, c, NTPK_CMD_ADDR_DEL, &cur->addrs[k]);
		if (ret)
			return ret;
	}
	return EXIT_OK;
}

static int apply_conf(const struct conf *c)
{
	static struct ntpk_model cur;
	struct ipc *ipc;
	int ret, err;

	ret = ipc_connect(&ipc);
	if (ret)
		return ret;
	err = ipc_get(ipc, &cur);
	if (!err)
		err = ipc_addr_list(ipc, &cur);
	if (err) {
		ret = ipc_report(ipc, err, "apply %s: get", c->file);
		goto out;
	}
	/*
	 * Never serve a set of addresses the file does not ask for: with
	 * the hooks going on, the addresses come first; going off, last.
	 */
	if (c->cfg.flags & NTPK_CONFIG_F_ENABLED) {
		ret = apply_addrs(ipc, c, &cur);
		if (!ret)
			ret = apply_set(ipc, c, &cur);
	} else {
		ret = apply_set(ipc, c, &cur);
		if (!ret)
			ret = apply_addrs(ipc, c, &cur);
	}
out:
	ipc_close(ipc);
	return ret;
}

int apply_main(int argc, char *argv[])
{
	static struct conf c;
	bool check = false;
	const char *path = NULL;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--check"))
			check = true;
		else if (path)
			return usage_error("apply: more than one file");
		else if (argv[i][0] == '-' && argv[i][1])
			return usage_error("apply: unknown option \"%s\"", argv[i]);
		else
			path = argv[i];
	}
	if (!path)
		return usage_error("apply: expected a file (try ntpkctl help apply)");
	ret = parse_file(&c, path);
	if (ret || check)
		return ret;
	return apply_conf(&c);
}
