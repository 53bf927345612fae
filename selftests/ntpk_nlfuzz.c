// SPDX-License-Identifier: GPL-2.0
/*
 * ntpk_nlfuzz: throw malformed generic netlink messages at the "ntpk"
 * family and check that each one is answered with an error (or, for the
 * few valid controls, success) and never with silence.  A crash or a
 * warning shows up in the guest's kernel log, which scripts/vm-run checks.
 *
 * Usage: ntpk_nlfuzz [-s SEED] [-n RANDOM_ITERATIONS] [-v]
 * Run as root in a scratch network namespace: the random part really
 * changes that namespace's configuration.  Exit 0 on success, 1 on a
 * failed expectation, 2 on a usage or setup error.
 *
 * Plain sockets rather than libmnl, so that lengths and flags can lie.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/ntpk.h>

#define EXPECT_ERR	1	/* any negative errno */
#define EXPECT_ACK	2	/* any answer at all */
#define NO_ANSWER	(-10000)

struct msg {
	uint8_t buf[8192];
	size_t len;
	size_t nest[32];
	int depth;
};

static int fd;
static uint16_t family;
static uint32_t seq;
static int failures, cases;
static bool verbose;
static uint64_t rng;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static void msg_init(struct msg *m, uint16_t type, uint16_t flags,
		     uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)m->buf;
	struct genlmsghdr *genl = (struct genlmsghdr *)(m->buf + NLMSG_HDRLEN);

	memset(m->buf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	genl->cmd = cmd;
	genl->version = version;
	m->len = NLMSG_HDRLEN + GENL_HDRLEN;
	m->depth = 0;
}

static struct msg *start(uint8_t cmd)
{
	static struct msg m;

	msg_init(&m, family, 0, cmd, NTPK_GENL_VERSION);
	return &m;
}

/* An attribute whose header claims nla_len, followed by len bytes. */
static void put_lying(struct msg *m, uint16_t type, uint16_t nla_len,
		      const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + m->len);

	if (m->len + NLA_HDRLEN + NLA_ALIGN(len) > sizeof(m->buf))
		return;
	a->nla_type = type;
	a->nla_len = nla_len;
	memcpy(m->buf + m->len + NLA_HDRLEN, data, len);
	memset(m->buf + m->len + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	m->len += NLA_HDRLEN + NLA_ALIGN(len);
}

static void put(struct msg *m, uint16_t type, const void *data, size_t len)
{
	put_lying(m, type, NLA_HDRLEN + len, data, len);
}

static void put_u8(struct msg *m, uint16_t type, uint8_t v)
{
	put(m, type, &v, 1);
}

static void put_u16(struct msg *m, uint16_t type, uint16_t v)
{
	put(m, type, &v, 2);
}

static void put_u32(struct msg *m, uint16_t type, uint32_t v)
{
	put(m, type, &v, 4);
}

static void put_u64(struct msg *m, uint16_t type, uint64_t v)
{
	put(m, type, &v, 8);
}

static void nest_raw(struct msg *m, uint16_t type)
{
	if (m->depth == 32 || m->len + NLA_HDRLEN > sizeof(m->buf))
		return;
	m->nest[m->depth++] = m->len;
	put_lying(m, type, 0, NULL, 0);
}

static void nest(struct msg *m, uint16_t type)
{
	nest_raw(m, type | NLA_F_NESTED);
}

static void end(struct msg *m)
{
	struct nlattr *a;

	if (!m->depth)
		return;
	a = (struct nlattr *)(m->buf + m->nest[--m->depth]);
	a->nla_len = m->len - m->nest[m->depth];
}

/*
 * Send and wait for the ack (or the end of a dump); returns its error, or
 * NO_ANSWER when the kernel stayed silent for 5 seconds.
 */
static int transact(struct msg *m)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)m->buf;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	static uint8_t rbuf[65536];
	ssize_t n;

	while (m->depth)
		end(m);
	nlh->nlmsg_len = m->len;
	nlh->nlmsg_seq = ++seq;
	if (sendto(fd, m->buf, m->len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		struct nlmsghdr *r;
		size_t left;

		n = recv(fd, rbuf, sizeof(rbuf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? NO_ANSWER : -errno;
		left = n;
		for (r = (struct nlmsghdr *)rbuf; NLMSG_OK(r, left);
		     r = NLMSG_NEXT(r, left)) {
			if (r->nlmsg_seq != seq)
				continue;
			if (r->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(r))->error;
			if (r->nlmsg_type == NLMSG_DONE)
				return *(int *)NLMSG_DATA(r);
		}
	}
}

static void check(const char *name, struct msg *m, int expect)
{
	int err = transact(m);
	bool pass;

	cases++;
	if (expect == EXPECT_ERR)
		pass = err < 0 && err != NO_ANSWER;
	else if (expect == EXPECT_ACK)
		pass = err != NO_ANSWER;
	else
		pass = err == expect;
	if (!pass) {
		failures++;
		printf("# FAIL %s: got %d (%s), expected %d\n", name, err,
		       err == NO_ANSWER ? "no answer" : strerror(-err), expect);
	} else if (verbose) {
		printf("# ok %s: %d\n", name, err);
	}
}

/* The attribute of this type among those in [p, e), or NULL. */
static struct nlattr *find_attr(uint8_t *p, uint8_t *e, uint16_t type)
{
	while (p + NLA_HDRLEN <= e) {
		struct nlattr *a = (struct nlattr *)p;

		if (a->nla_len < NLA_HDRLEN || p + a->nla_len > e)
			return NULL;
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		p += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

static int resolve(void)
{
	struct msg m;
	static uint8_t rbuf[8192];
	struct nlmsghdr *r;
	struct nlattr *a;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t n;

	msg_init(&m, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 1);
	put(&m, CTRL_ATTR_FAMILY_NAME, NTPK_GENL_NAME, sizeof(NTPK_GENL_NAME));
	((struct nlmsghdr *)m.buf)->nlmsg_len = m.len;
	((struct nlmsghdr *)m.buf)->nlmsg_seq = ++seq;
	if (sendto(fd, m.buf, m.len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -1;
	n = recv(fd, rbuf, sizeof(rbuf), 0);
	if (n < 0)
		return -1;
	r = (struct nlmsghdr *)rbuf;
	if (!NLMSG_OK(r, (size_t)n) || r->nlmsg_type != GENL_ID_CTRL)
		return -1;
	a = find_attr((uint8_t *)NLMSG_DATA(r) + GENL_HDRLEN,
		      (uint8_t *)r + r->nlmsg_len, CTRL_ATTR_FAMILY_ID);
	if (a && a->nla_len == NLA_HDRLEN + 2)
		memcpy(&family, (uint8_t *)a + NLA_HDRLEN, 2);
	return family ? 0 : -1;
}

/* NTPK_CONFIG_A_MAX_AGE from a GET, or -1. */
static long get_max_age(void)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	static uint8_t rbuf[65536];
	struct msg *m = start(NTPK_CMD_GET);
	struct nlmsghdr *r = (struct nlmsghdr *)rbuf;
	struct nlattr *cfg, *age;
	uint32_t v;
	ssize_t n;

	((struct nlmsghdr *)m->buf)->nlmsg_flags &= ~NLM_F_ACK;
	((struct nlmsghdr *)m->buf)->nlmsg_len = m->len;
	((struct nlmsghdr *)m->buf)->nlmsg_seq = ++seq;
	if (sendto(fd, m->buf, m->len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -1;
	n = recv(fd, rbuf, sizeof(rbuf), 0);
	if (n < 0 || !NLMSG_OK(r, (size_t)n) || r->nlmsg_type != family)
		return -1;
	cfg = find_attr((uint8_t *)NLMSG_DATA(r) + GENL_HDRLEN,
			(uint8_t *)r + r->nlmsg_len, NTPK_A_CONFIG);
	if (!cfg)
		return -1;
	age = find_attr((uint8_t *)cfg + NLA_HDRLEN,
			(uint8_t *)cfg + cfg->nla_len, NTPK_CONFIG_A_MAX_AGE);
	if (!age || age->nla_len != NLA_HDRLEN + 4)
		return -1;
	memcpy(&v, (uint8_t *)age + NLA_HDRLEN, 4);
	return v;
}

static void state_all_but(struct msg *m, int skip)
{
	uint8_t refid[4] = { 'G', 'P', 'S', 0 };

	nest(m, NTPK_A_STATE);
	if (skip != NTPK_STATE_A_LEAP)
		put_u8(m, NTPK_STATE_A_LEAP, 0);
	if (skip != NTPK_STATE_A_STRATUM)
		put_u8(m, NTPK_STATE_A_STRATUM, 1);
	if (skip != NTPK_STATE_A_PRECISION)
		put_u8(m, NTPK_STATE_A_PRECISION, (uint8_t)-20);
	if (skip != NTPK_STATE_A_ROOT_DELAY)
		put_u32(m, NTPK_STATE_A_ROOT_DELAY, 0);
	if (skip != NTPK_STATE_A_ROOT_DISP)
		put_u32(m, NTPK_STATE_A_ROOT_DISP, 0);
	if (skip != NTPK_STATE_A_REFID)
		put(m, NTPK_STATE_A_REFID, refid, 4);
	if (skip != NTPK_STATE_A_REFTIME)
		put_u64(m, NTPK_STATE_A_REFTIME, 0);
}

static void structured(void)
{
	uint8_t v4[4] = { 192, 0, 2, 1 }, v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint8_t zeros[64] = { 0 };
	struct msg *m;
	int i, skip;
	char name[64];

	/* Controls: the harness must see success where it is due. */
	check("get", start(NTPK_CMD_GET), 0);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_MAX_AGE, 7);
	check("set max-age 7", m, 0);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, -1);
	check("state set complete", m, 0);
	check("state clear", start(NTPK_CMD_STATE_CLEAR), 0);
	check("stats reset", start(NTPK_CMD_STATS_RESET), 0);
	m = start(NTPK_CMD_ADDR_ADD);
	nest(m, NTPK_A_ADDR);
	put(m, NTPK_ADDR_A_IN, v4, 4);
	check("addr add", m, 0);
	m = start(NTPK_CMD_ADDR_ADD);
	nest(m, NTPK_A_ADDR);
	put(m, NTPK_ADDR_A_IN, v4, 4);
	check("addr add again", m, -EEXIST);
	m = start(NTPK_CMD_ADDR_DEL);
	nest(m, NTPK_A_ADDR);
	put(m, NTPK_ADDR_A_IN, v4, 4);
	check("addr del", m, 0);
	m = start(NTPK_CMD_ADDR_DEL);
	nest(m, NTPK_A_ADDR);
	put(m, NTPK_ADDR_A_IN, v4, 4);
	check("addr del again", m, -ENOENT);
	m = start(NTPK_CMD_ADDR_GET);
	((struct nlmsghdr *)m->buf)->nlmsg_flags |= NLM_F_DUMP;
	check("addr dump", m, 0);

	/* Framing. */
	m = start(NTPK_CMD_GET);
	m->len = NLMSG_HDRLEN;
	check("no genl header", m, EXPECT_ERR);
	check("unknown command", start(NTPK_CMD_MAX + 1), EXPECT_ERR);
	check("command 0", start(NTPK_CMD_UNSPEC), EXPECT_ERR);
	check("command 255", start(255), EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	((struct nlmsghdr *)m->buf)->nlmsg_flags |= NLM_F_DUMP;
	check("dump of a doit command", m, EXPECT_ERR);
	m = start(NTPK_CMD_GET);
	put_u32(m, NTPK_A_MAX + 1, 0);
	check("unknown top-level attribute", m, EXPECT_ERR);
	m = start(NTPK_CMD_GET);
	put_u32(m, NTPK_A_UNSPEC, 0);
	check("attribute type 0", m, EXPECT_ERR);
	m = start(NTPK_CMD_GET);
	nest(m, NTPK_A_STATS);
	check("stats attribute sent in", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	put_lying(m, NTPK_A_CONFIG | NLA_F_NESTED, 2, zeros, 4);
	check("attribute length below header", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	put_lying(m, NTPK_A_CONFIG | NLA_F_NESTED, 200, zeros, 8);
	check("attribute length past message", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	put(m, NTPK_A_CONFIG | NLA_F_NESTED, zeros, 4);
	m->buf[m->len++] = 0xff;	/* a stray byte after the last attribute */
	check("trailing garbage", m, EXPECT_ERR);

	/* NTPK_CMD_SET: config. */
	m = start(NTPK_CMD_SET);
	put_u32(m, NTPK_A_CONFIG, 1);
	check("config not nested", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest_raw(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_MAX_AGE, 5);
	check("config nest without NLA_F_NESTED", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u8(m, NTPK_CONFIG_A_FLAGS, 1);
	check("flags as u8", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u64(m, NTPK_CONFIG_A_FLAGS, 1);
	check("flags as u64", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_FLAGS | NLA_F_NESTED, 1);
	check("flags with NLA_F_NESTED", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_FLAGS, ~(uint32_t)__NTPK_CONFIG_F_ALL);
	check("unknown config flags", m, -EOPNOTSUPP);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_MAX_AGE, 0);
	check("max-age 0", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_MAX_AGE, NTPK_MAX_AGE_MAX + 1);
	check("max-age too big", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_LEAP_WINDOW, NTPK_LEAP_WINDOW_MAX + 1);
	check("leap window too big", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u8(m, NTPK_CONFIG_A_LEAP_WINDOW, 1);
	check("leap window as u8", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_NADDRS, 3);
	check("naddrs is read-only", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_MAX + 1, 3);
	check("unknown config attribute", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	nest(m, NTPK_CONFIG_A_PORTS);
	check("empty port list", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	nest(m, NTPK_CONFIG_A_PORTS);
	put_u16(m, NTPK_PORT_A_PORT, 0);
	check("port 0", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	nest(m, NTPK_CONFIG_A_PORTS);
	put_u32(m, NTPK_PORT_A_PORT, 123);
	check("port as u32", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	nest(m, NTPK_CONFIG_A_PORTS);
	put_u8(m, NTPK_PORT_A_PORT, 123);
	check("port as u8", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	nest(m, NTPK_CONFIG_A_PORTS);
	put_u16(m, NTPK_PORT_A_PORT, 123);
	put_u16(m, NTPK_PORT_A_PORT, 123);
	check("duplicate port", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	nest(m, NTPK_CONFIG_A_PORTS);
	for (i = 0; i <= NTPK_MAX_PORTS; i++)
		put_u16(m, NTPK_PORT_A_PORT, 1000 + i);
	check("too many ports", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	nest(m, NTPK_CONFIG_A_PORTS);
	put_u16(m, NTPK_PORT_A_UNSPEC, 123);
	check("port list with type 0", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	nest(m, NTPK_CONFIG_A_PORTS);
	nest(m, NTPK_PORT_A_PORT);
	put_u16(m, NTPK_PORT_A_PORT, 123);
	check("port nested in port", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	for (i = 0; i < 30; i++)
		nest(m, NTPK_A_CONFIG);
	check("config nested 30 deep", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_FLAGS, 0);
	end(m);
	nest(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_FLAGS, 0);
	check("config given twice", m, EXPECT_ACK);

	/* NTPK_CMD_SET: rate limit. */
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u8(m, NTPK_RL_A_BURST, 4);
	check("rate limit without flags", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, ~(uint32_t)__NTPK_RL_F_ALL);
	check("unknown rate limit flags", m, -EOPNOTSUPP);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, NTPK_RL_F_ENABLED);
	put_u8(m, NTPK_RL_A_INTERVAL, 13);
	check("interval 13", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, NTPK_RL_F_ENABLED);
	put_u8(m, NTPK_RL_A_INTERVAL, (uint8_t)-20);
	check("interval -20", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, NTPK_RL_F_ENABLED);
	put_u32(m, NTPK_RL_A_INTERVAL, 3);
	check("interval as u32", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, NTPK_RL_F_ENABLED);
	put_u32(m, NTPK_RL_A_BURST, 0);
	check("burst 0", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, NTPK_RL_F_ENABLED);
	put_u32(m, NTPK_RL_A_BURST, 256);
	check("burst 256", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, NTPK_RL_F_ENABLED);
	put_u8(m, NTPK_RL_A_LEAK, 17);
	check("leak 17", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, NTPK_RL_F_ENABLED);
	put_u32(m, NTPK_RL_A_TABLE_SIZE, NTPK_RL_TABLE_MIN / 2);
	check("table below minimum", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, NTPK_RL_F_ENABLED);
	put_u32(m, NTPK_RL_A_TABLE_SIZE, NTPK_RL_TABLE_MAX * 2);
	check("table above maximum", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, NTPK_RL_F_ENABLED);
	put_u32(m, NTPK_RL_A_TABLE_SIZE, NTPK_RL_TABLE_MIN * 3);
	check("table not a power of two", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, NTPK_RL_F_ENABLED);
	put_u8(m, NTPK_RL_A_V6_PREFIX, 15);
	check("v6 prefix 15", m, EXPECT_ERR);
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_RATELIMIT);
	put_u32(m, NTPK_RL_A_FLAGS, NTPK_RL_F_ENABLED);
	put_u8(m, NTPK_RL_A_V6_PREFIX, 129);
	check("v6 prefix 129", m, EXPECT_ERR);
	/* A bad rate limit must not let the config beside it through. */
	m = start(NTPK_CMD_SET);
	nest(m, NTPK_A_CONFIG);
	put_u32(m, NTPK_CONFIG_A_MAX_AGE, 99);
	end(m);
	nest(m, NTPK_A_RATELIMIT);
	put_u8(m, NTPK_RL_A_LEAK, 1);
	check("good config with bad rate limit", m, EXPECT_ERR);
	cases++;
	if (get_max_age() != 7) {
		failures++;
		printf("# FAIL a rejected set changed max-age to %ld\n",
		       get_max_age());
	}

	/* NTPK_CMD_STATE_SET. */
	check("state set without state", start(NTPK_CMD_STATE_SET), EXPECT_ERR);
	for (skip = NTPK_STATE_A_LEAP; skip <= NTPK_STATE_A_REFTIME; skip++) {
		m = start(NTPK_CMD_STATE_SET);
		state_all_but(m, skip);
		snprintf(name, sizeof(name), "state without attribute %d", skip);
		check(name, m, EXPECT_ERR);
	}
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, NTPK_STATE_A_LEAP);
	put_u8(m, NTPK_STATE_A_LEAP, 4);
	check("leap 4", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, NTPK_STATE_A_STRATUM);
	put_u8(m, NTPK_STATE_A_STRATUM, 17);
	check("stratum 17", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, NTPK_STATE_A_PRECISION);
	put_u8(m, NTPK_STATE_A_PRECISION, 1);
	check("precision 1", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, NTPK_STATE_A_PRECISION);
	put_u8(m, NTPK_STATE_A_PRECISION, (uint8_t)-33);
	check("precision -33", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, NTPK_STATE_A_REFID);
	put(m, NTPK_STATE_A_REFID, "GPS", 3);
	check("refid of 3 bytes", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, NTPK_STATE_A_REFTIME);
	put_u32(m, NTPK_STATE_A_REFTIME, 0);
	check("reftime of 4 bytes", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, NTPK_STATE_A_ROOT_DELAY);
	put_u16(m, NTPK_STATE_A_ROOT_DELAY, 0);
	check("root delay of 2 bytes", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, -1);
	put_u64(m, NTPK_STATE_A_AGE_MSEC, 0);
	check("age is read-only", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, -1);
	put_u8(m, NTPK_STATE_A_USABLE, 1);
	check("usable is read-only", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, -1);
	put_u32(m, NTPK_STATE_A_PAD, 0);
	check("pad sent in", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, -1);
	put_u32(m, NTPK_STATE_A_MAX + 1, 0);
	check("unknown state attribute", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	put_u64(m, NTPK_A_STATE, 0);
	check("state not nested", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, -1);
	put_u32(m, NTPK_STATE_A_DISP_RATE, NTPK_DISP_RATE_MAX + 1);
	check("disp rate too big", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, -1);
	put_u64(m, NTPK_STATE_A_DISP_RATE, 0);
	check("disp rate as u64", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, -1);
	put_u64(m, NTPK_STATE_A_CORRECTION, 1);
	put_u64(m, NTPK_STATE_A_ERROR, 1);
	check("error without max error", m, -EINVAL);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, -1);
	put_u32(m, NTPK_STATE_A_CORRECTION, 1);
	put_u64(m, NTPK_STATE_A_ERROR, 1);
	put_u64(m, NTPK_STATE_A_MAX_ERROR, 1);
	check("correction as u32", m, EXPECT_ERR);
	m = start(NTPK_CMD_STATE_SET);
	state_all_but(m, -1);
	put_u32(m, NTPK_STATE_A_DISP_RATE, NTPK_DISP_RATE_MAX);
	put_u64(m, NTPK_STATE_A_CORRECTION, (uint64_t)-1);
	put_u64(m, NTPK_STATE_A_ERROR, 1);
	put_u64(m, NTPK_STATE_A_MAX_ERROR, 1000000);
	check("state with every optional attribute", m, 0);

	/* NTPK_CMD_STATE_CLEAR: only the reasons a pusher may give. */
	m = start(NTPK_CMD_STATE_CLEAR);
	put_u32(m, NTPK_A_REASON, NTPK_REASON_FOLLOW_STOPPED);
	check("clear with a reason", m, 0);
	m = start(NTPK_CMD_STATE_CLEAR);
	put_u32(m, NTPK_A_REASON, NTPK_REASON_NONE);
	check("clear with reason none", m, -EINVAL);
	m = start(NTPK_CMD_STATE_CLEAR);
	put_u32(m, NTPK_A_REASON, NTPK_REASON_EXPIRED);
	check("clear with reason expired", m, -EINVAL);
	m = start(NTPK_CMD_STATE_CLEAR);
	put_u32(m, NTPK_A_REASON, NTPK_REASON_LEAP_WINDOW);
	check("clear with reason leap window", m, -EINVAL);
	m = start(NTPK_CMD_STATE_CLEAR);
	put_u32(m, NTPK_A_REASON, __NTPK_REASON_MAX);
	check("clear with an unknown reason", m, -EINVAL);
	m = start(NTPK_CMD_STATE_CLEAR);
	put_u8(m, NTPK_A_REASON, NTPK_REASON_CLEARED);
	check("reason as u8", m, EXPECT_ERR);
	m = start(NTPK_CMD_GET);
	nest(m, NTPK_A_STATUS);
	end(m);
	check("status attribute sent in", m, EXPECT_ERR);

	/* Addresses. */
	check("addr add without address", start(NTPK_CMD_ADDR_ADD), EXPECT_ERR);
	check("addr del without address", start(NTPK_CMD_ADDR_DEL), EXPECT_ERR);
	m = start(NTPK_CMD_ADDR_ADD);
	nest(m, NTPK_A_ADDR);
	check("empty address nest", m, EXPECT_ERR);
	m = start(NTPK_CMD_ADDR_ADD);
	nest(m, NTPK_A_ADDR);
	put(m, NTPK_ADDR_A_IN, v4, 4);
	put(m, NTPK_ADDR_A_IN6, v6, 16);
	check("both families at once", m, EXPECT_ERR);
	m = start(NTPK_CMD_ADDR_ADD);
	nest(m, NTPK_A_ADDR);
	put(m, NTPK_ADDR_A_IN, v4, 3);
	check("IPv4 of 3 bytes", m, EXPECT_ERR);
	m = start(NTPK_CMD_ADDR_ADD);
	nest(m, NTPK_A_ADDR);
	put(m, NTPK_ADDR_A_IN, v6, 16);
	check("IPv4 of 16 bytes", m, EXPECT_ERR);
	m = start(NTPK_CMD_ADDR_ADD);
	nest(m, NTPK_A_ADDR);
	put(m, NTPK_ADDR_A_IN6, v4, 4);
	check("IPv6 of 4 bytes", m, EXPECT_ERR);
	m = start(NTPK_CMD_ADDR_ADD);
	nest(m, NTPK_A_ADDR);
	put(m, NTPK_ADDR_A_IN6, zeros, 17);
	check("IPv6 of 17 bytes", m, EXPECT_ERR);
	m = start(NTPK_CMD_ADDR_ADD);
	nest(m, NTPK_A_ADDR);
	put(m, NTPK_ADDR_A_IN, zeros, 4);
	check("IPv4 0.0.0.0", m, EXPECT_ERR);
	m = start(NTPK_CMD_ADDR_ADD);
	nest(m, NTPK_A_ADDR);
	put(m, NTPK_ADDR_A_IN6, zeros, 16);
	check("IPv6 ::", m, EXPECT_ERR);
	m = start(NTPK_CMD_ADDR_ADD);
	nest(m, NTPK_A_ADDR);
	nest(m, NTPK_ADDR_A_IN);
	put(m, NTPK_ADDR_A_IN, v4, 4);
	check("address nested in address", m, EXPECT_ERR);
	m = start(NTPK_CMD_ADDR_ADD);
	put(m, NTPK_A_ADDR, v4, 4);
	check("address not nested", m, EXPECT_ERR);

	/*
	 * NTPK_CMD_SERVICE_SET: the time service's reasons only, both needed;
	 * beyond the policy's bounds, -ERANGE.
	 */
	m = start(NTPK_CMD_SERVICE_SET);
	nest(m, NTPK_A_SERVICE);
	put_u32(m, NTPK_SERVICE_A_REASON, NTPK_REASON_DISTANCE);
	put_u8(m, NTPK_SERVICE_A_ANNOUNCED, 1);
	check("service set", m, 0);
	check("service set without service", start(NTPK_CMD_SERVICE_SET),
	      -EINVAL);
	m = start(NTPK_CMD_SERVICE_SET);
	nest(m, NTPK_A_SERVICE);
	put_u32(m, NTPK_SERVICE_A_REASON, NTPK_REASON_NONE);
	check("service without announced", m, -EINVAL);
	m = start(NTPK_CMD_SERVICE_SET);
	nest(m, NTPK_A_SERVICE);
	put_u8(m, NTPK_SERVICE_A_ANNOUNCED, 0);
	check("service without reason", m, -EINVAL);
	m = start(NTPK_CMD_SERVICE_SET);
	nest(m, NTPK_A_SERVICE);
	put_u32(m, NTPK_SERVICE_A_REASON, NTPK_REASON_ERROR_BOUND);
	put_u8(m, NTPK_SERVICE_A_ANNOUNCED, 1);
	check("service with the fast path's reason", m, -EINVAL);
	m = start(NTPK_CMD_SERVICE_SET);
	nest(m, NTPK_A_SERVICE);
	put_u32(m, NTPK_SERVICE_A_REASON, __NTPK_REASON_MAX);
	put_u8(m, NTPK_SERVICE_A_ANNOUNCED, 1);
	check("service with an unknown reason", m, -ERANGE);
	m = start(NTPK_CMD_SERVICE_SET);
	nest(m, NTPK_A_SERVICE);
	put_u32(m, NTPK_SERVICE_A_REASON, NTPK_REASON_NONE);
	put_u8(m, NTPK_SERVICE_A_ANNOUNCED, 2);
	check("service announced 2", m, -ERANGE);
	m = start(NTPK_CMD_SERVICE_SET);
	nest(m, NTPK_A_SERVICE);
	put_u32(m, NTPK_SERVICE_A_REASON, NTPK_REASON_NONE);
	put_u8(m, NTPK_SERVICE_A_ANNOUNCED, 1);
	put_u64(m, NTPK_SERVICE_A_AGE_MSEC, 0);
	check("service age sent in", m, -EINVAL);
	m = start(NTPK_CMD_SERVICE_SET);
	put_u32(m, NTPK_A_SERVICE, NTPK_REASON_NONE);
	check("service not nested", m, EXPECT_ERR);
}

/* Random trees of attributes: any answer will do, silence or a crash won't. */
static void random_attrs(struct msg *m, int depth)
{
	int n = rnd() % 5, i;
	uint8_t data[40];

	for (i = 0; i < n && m->len < sizeof(m->buf) - 256; i++) {
		uint16_t type = rnd() % 14;

		if (depth < 4 && rnd() % 3 == 0) {
			if (rnd() % 8)
				nest(m, type);
			else
				nest_raw(m, type);
			random_attrs(m, depth + 1);
			end(m);
		} else {
			size_t len = rnd() % sizeof(data), k;

			if (rnd() % 2)
				len = (size_t[]){ 0, 1, 2, 4, 8, 16 }[rnd() % 6];
			for (k = 0; k < len; k++)
				data[k] = rnd();
			if (rnd() % 16 == 0)
				type |= NLA_F_NESTED;
			put(m, type, data, len);
		}
	}
}

/*
 * Well-formed messages with values around their limits, so that the random
 * part also enables, disables, fills and empties things for real.  Table
 * sizes stay small: the guest has little memory.
 */
static void random_wellformed(struct msg *m, uint8_t cmd)
{
	uint8_t addr[16];
	int i, n;

	for (i = 0; i < 16; i++)
		addr[i] = rnd();
	switch (cmd) {
	case NTPK_CMD_SET:
		if (rnd() % 2) {
			nest(m, NTPK_A_CONFIG);
			if (rnd() % 2)
				put_u32(m, NTPK_CONFIG_A_FLAGS, rnd() % 4);
			if (rnd() % 2)
				put_u32(m, NTPK_CONFIG_A_MAX_AGE, rnd() % 3602);
			if (rnd() % 4 == 0)
				put_u32(m, NTPK_CONFIG_A_LEAP_WINDOW,
					rnd() % (NTPK_LEAP_WINDOW_MAX + 2));
			if (rnd() % 2) {
				nest(m, NTPK_CONFIG_A_PORTS);
				for (n = rnd() % (NTPK_MAX_PORTS + 2); n > 0; n--)
					put_u16(m, NTPK_PORT_A_PORT, rnd() % 4 ? 100 + rnd() % 40 : rnd());
				end(m);
			}
			end(m);
		}
		if (rnd() % 2) {
			nest(m, NTPK_A_RATELIMIT);
			if (rnd() % 8)
				put_u32(m, NTPK_RL_A_FLAGS, rnd() % 5);
			if (rnd() % 2)
				put_u8(m, NTPK_RL_A_INTERVAL, (uint8_t)(rnd() % 36 - 21));
			if (rnd() % 2)
				put_u32(m, NTPK_RL_A_BURST, rnd() % 258);
			if (rnd() % 2)
				put_u8(m, NTPK_RL_A_LEAK, rnd() % 18);
			if (rnd() % 2)
				put_u32(m, NTPK_RL_A_TABLE_SIZE,
					rnd() % 4 ? NTPK_RL_TABLE_MIN << rnd() % 5 : rnd() % 70000);
			if (rnd() % 2)
				put_u8(m, NTPK_RL_A_V6_PREFIX, rnd() % 140);
			end(m);
		}
		break;
	case NTPK_CMD_STATE_SET:
		nest(m, NTPK_A_STATE);
		put_u8(m, NTPK_STATE_A_LEAP, rnd() % 5);
		put_u8(m, NTPK_STATE_A_STRATUM, rnd() % 18);
		put_u8(m, NTPK_STATE_A_PRECISION, (uint8_t)(rnd() % 36 - 34));
		put_u32(m, NTPK_STATE_A_ROOT_DELAY, rnd());
		put_u32(m, NTPK_STATE_A_ROOT_DISP, rnd());
		put(m, NTPK_STATE_A_REFID, addr, 4);
		put_u64(m, NTPK_STATE_A_REFTIME, rnd());
		if (rnd() % 2)
			put_u32(m, NTPK_STATE_A_DISP_RATE,
				rnd() % (NTPK_DISP_RATE_MAX + 2));
		if (rnd() % 4 == 0) {
			put_u64(m, NTPK_STATE_A_CORRECTION, rnd());
			put_u64(m, NTPK_STATE_A_ERROR, rnd());
			if (rnd() % 4)
				put_u64(m, NTPK_STATE_A_MAX_ERROR, rnd());
		}
		end(m);
		break;
	case NTPK_CMD_STATE_CLEAR:
		if (rnd() % 2)
			put_u32(m, NTPK_A_REASON, rnd() % (__NTPK_REASON_MAX + 1));
		break;
	case NTPK_CMD_SERVICE_SET:
		nest(m, NTPK_A_SERVICE);
		if (rnd() % 4)
			put_u32(m, NTPK_SERVICE_A_REASON,
				rnd() % (__NTPK_REASON_MAX + 1));
		if (rnd() % 4)
			put_u8(m, NTPK_SERVICE_A_ANNOUNCED, rnd() % 3);
		end(m);
		break;
	case NTPK_CMD_ADDR_ADD:
	case NTPK_CMD_ADDR_DEL:
		/* A small pool, so that adds collide and deletes find them. */
		addr[0] = 10;
		addr[1] = addr[2] = 0;
		addr[3] = rnd() % 80;
		nest(m, NTPK_A_ADDR);
		if (rnd() % 2) {
			put(m, NTPK_ADDR_A_IN, addr, 4);
		} else {
			addr[0] = 0x20;
			addr[1] = 0x01;
			addr[2] = 0x0d;
			addr[3] = 0xb8;
			memset(addr + 4, 0, 11);
			addr[15] = rnd() % 80;
			put(m, NTPK_ADDR_A_IN6, addr, 16);
		}
		end(m);
		break;
	}
}

static void random_round(int iterations)
{
	char name[64];
	struct msg *m;
	int i, k;

	for (i = 0; i < iterations; i++) {
		uint8_t cmd = rnd() % (NTPK_CMD_MAX + 3);

		m = start(cmd);
		if (rnd() % 8 == 0)
			((struct genlmsghdr *)(m->buf + NLMSG_HDRLEN))->version = rnd();
		if (cmd == NTPK_CMD_ADDR_GET || rnd() % 16 == 0)
			((struct nlmsghdr *)m->buf)->nlmsg_flags |= NLM_F_DUMP;
		if (rnd() % 2)
			random_wellformed(m, cmd);
		else
			random_attrs(m, 0);
		while (m->depth)
			end(m);
		/* Sometimes flip bytes after the headers, lengths included. */
		if (m->len > NLMSG_HDRLEN + GENL_HDRLEN && rnd() % 4 == 0)
			for (k = rnd() % 4; k >= 0; k--)
				m->buf[NLMSG_HDRLEN + GENL_HDRLEN +
				       rnd() % (m->len - NLMSG_HDRLEN - GENL_HDRLEN)] ^=
					1 << (rnd() % 8);
		snprintf(name, sizeof(name), "random %d (cmd %u)", i, cmd);
		check(name, m, EXPECT_ACK);
	}
}

int main(int argc, char *argv[])
{
	struct timeval tv = { .tv_sec = 5 };
	int iterations = 2000, opt, one = 1;
	uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;

	while ((opt = getopt(argc, argv, "s:n:v")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			iterations = atoi(optarg);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-s SEED] [-n N] [-v]\n", argv[0]);
			return 2;
		}
	}
	rng = seed ? seed : 1;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0) {
		perror("socket");
		return 2;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Capped acks: the kernel need not echo our garbage back. */
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (resolve()) {
		fprintf(stderr, "ntpk_nlfuzz: generic netlink family \"%s\" not found\n",
			NTPK_GENL_NAME);
		return 2;
	}
	printf("# ntpk_nlfuzz: family %u, seed 0x%llx, %d random messages\n",
	       family, (unsigned long long)seed, iterations);
	structured();
	random_round(iterations);
	printf("# ntpk_nlfuzz: %d cases, %d failed\n", cases, failures);
	return failures ? 1 : 0;
}
