// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The netlink boundary: the only file that knows about generic netlink,
 * attributes and acks.  Every request asks for an ack, so that every
 * command either succeeds visibly or returns the kernel's errno together
 * with its extended ack message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "ipc.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* A dump interrupted by a concurrent change is retried this often. */
#define DUMP_RETRIES 8

#define SEND_BUF 4096
/*
 * The kernel sizes dump skbs by the receive buffers it has seen, up to a
 * few pages; 32 KiB is comfortably above what one ntpk message needs.
 */
#define RECV_BUF 32768

struct ipc {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	uint16_t family;
	char extack[256];
	/* Netlink headers are read in place: keep them aligned. */
	char rbuf[RECV_BUF] __attribute__((aligned(8)));
};

typedef int (*msg_cb)(const struct nlmsghdr *nlh, void *data);

const char *ipc_extack(const struct ipc *ipc)
{
	return ipc->extack[0] ? ipc->extack : NULL;
}

static bool attr_len_is(const struct nlattr *a, size_t len)
{
	return mnl_attr_get_payload_len(a) == len;
}

/*
 * NLMSG_ERROR (an ack when error is 0) and NLMSG_DONE may both carry
 * extended ack TLVs; keep the message, and name a missing attribute.
 */
static int parse_ack(struct ipc *ipc, const struct nlmsghdr *nlh, int error,
		     size_t tlv_off)
{
	const struct nlattr *a;
	const char *msg = NULL;
	long miss_type = -1;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) ||
	    tlv_off > mnl_nlmsg_get_payload_len(nlh))
		goto out;
	mnl_attr_for_each(a, nlh, tlv_off) {
		switch (mnl_attr_get_type(a)) {
		case NLMSGERR_ATTR_MSG:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				msg = mnl_attr_get_str(a);
			break;
		case NLMSGERR_ATTR_MISS_TYPE:
			if (attr_len_is(a, sizeof(uint32_t)))
				miss_type = mnl_attr_get_u32(a);
			break;
		}
	}
	if (msg && miss_type >= 0)
		snprintf(ipc->extack, sizeof(ipc->extack),
			 "%s (attribute type %ld)", msg, miss_type);
	else if (msg)
		snprintf(ipc->extack, sizeof(ipc->extack), "%s", msg);
	else if (miss_type >= 0)
		snprintf(ipc->extack, sizeof(ipc->extack),
			 "missing attribute type %ld", miss_type);
out:
	/* Some subsystems report errors with a positive sign. */
	return error > 0 ? -error : error;
}

static int parse_error_msg(struct ipc *ipc, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e;
	size_t off = sizeof(*e);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
		return -EBADMSG;
	e = mnl_nlmsg_get_payload(nlh);
	/* Unless capped, the kernel echoes our request before the TLVs. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->error)
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	return parse_ack(ipc, nlh, e->error, MNL_ALIGN(off));
}

static int parse_done_msg(struct ipc *ipc, const struct nlmsghdr *nlh)
{
	int error = 0;

	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int))
		memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof(int));
	return parse_ack(ipc, nlh, error, MNL_ALIGN(sizeof(int)));
}

/*
 * Send one request and read until its ack (or the end of its dump).  Data
 * messages go to cb; the first error it returns is kept while the rest of
 * the answer is drained, so that nothing stale is left on the socket.
 */
static int talk(struct ipc *ipc, struct nlmsghdr *req, msg_cb cb, void *data)
{
	bool intr = false;
	int err = 0;

	ipc->extack[0] = '\0';
	req->nlmsg_seq = ++ipc->seq;
	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (mnl_socket_sendto(ipc->nl, req, req->nlmsg_len) < 0)
		return -errno;

	for (;;) {
		const struct nlmsghdr *nlh;
		ssize_t n;
		int len;

		n = mnl_socket_recvfrom(ipc->nl, ipc->rbuf, sizeof(ipc->rbuf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)ipc->rbuf;
		     mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			int ret;

			if (!mnl_nlmsg_seq_ok(nlh, ipc->seq) ||
			    !mnl_nlmsg_portid_ok(nlh, ipc->portid))
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			switch (nlh->nlmsg_type) {
			case NLMSG_NOOP:
				continue;
			case NLMSG_ERROR:
				ret = parse_error_msg(ipc, nlh);
				return err ? err : ret;
			case NLMSG_DONE:
				ret = parse_done_msg(ipc, nlh);
				if (!ret && intr)
					ret = -EINTR;
				return err ? err : ret;
			case NLMSG_OVERRUN:
				return -ENOBUFS;
			}
			if (cb && !err)
				err = cb(nlh, data);
		}
	}
}

static struct nlmsghdr *msg_start(char *buf, uint16_t type, uint8_t cmd,
				  uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

static struct nlmsghdr *ntpk_msg(struct ipc *ipc, char *buf, uint8_t cmd)
{
	return msg_start(buf, ipc->family, cmd, NTPK_GENL_VERSION);
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	uint16_t *family = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
		    attr_len_is(a, sizeof(uint16_t)))
			*family = mnl_attr_get_u16(a);
	}
	return 0;
}

/* The kernel autoloads ntpk.ko on this lookup (MODULE_ALIAS_GENL_FAMILY). */
static int resolve_family(struct ipc *ipc)
{
	char buf[SEND_BUF];
	struct nlmsghdr *nlh;
	uint16_t family = 0;
	int err;

	nlh = msg_start(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, NTPK_GENL_NAME);
	err = talk(ipc, nlh, family_cb, &family);
	if (err)
		return err;
	if (!family)
		return -EPROTO;
	ipc->family = family;
	return 0;
}

int ipc_open(struct ipc **ipcp)
{
	struct ipc *ipc;
	int one = 1;
	int err;

	ipc = calloc(1, sizeof(*ipc));
	if (!ipc)
		return -ENOMEM;
	ipc->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!ipc->nl) {
		err = -errno;
		free(ipc);
		return err;
	}
	if (mnl_socket_bind(ipc->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto fail;
	}
	/* Both exist since Linux 4.12; without them we only lose detail. */
	mnl_socket_setsockopt(ipc->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(ipc->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	ipc->portid = mnl_socket_get_portid(ipc->nl);
	ipc->seq = (uint32_t)random();
	err = resolve_family(ipc);
	if (err)
		goto fail;
	*ipcp = ipc;
	return 0;
fail:
	mnl_socket_close(ipc->nl);
	free(ipc);
	return err;
}

void ipc_close(struct ipc *ipc)
{
	if (!ipc)
		return;
	mnl_socket_close(ipc->nl);
	free(ipc);
}

/* ---- NTPK_CMD_GET ---- */

static int parse_ports(const struct nlattr *nest, struct ntpk_config *cfg)
{
	const struct nlattr *a;

	cfg->nports = 0;
	mnl_attr_for_each_nested(a, nest) {
		if (mnl_attr_get_type(a) != NTPK_PORT_A_PORT)
			continue;
		if (!attr_len_is(a, sizeof(uint16_t)) ||
		    cfg->nports >= NTPK_MAX_PORTS)
			return -EPROTO;
		cfg->ports[cfg->nports++] = mnl_attr_get_u16(a);
	}
	return 0;
}

static int parse_config(const struct nlattr *nest, struct ntpk_config *cfg)
{
	const struct nlattr *a;
	int err;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case NTPK_CONFIG_A_FLAGS:
			if (!attr_len_is(a, sizeof(uint32_t)))
				return -EPROTO;
			cfg->flags = mnl_attr_get_u32(a);
			cfg->has |= CONFIG_HAS_FLAGS;
			break;
		case NTPK_CONFIG_A_MAX_AGE:
			if (!attr_len_is(a, sizeof(uint32_t)))
				return -EPROTO;
			cfg->max_age = mnl_attr_get_u32(a);
			cfg->has |= CONFIG_HAS_MAX_AGE;
			break;
		case NTPK_CONFIG_A_PORTS:
			err = parse_ports(a, cfg);
			if (err)
				return err;
			cfg->has |= CONFIG_HAS_PORTS;
			break;
		case NTPK_CONFIG_A_NADDRS:
			if (!attr_len_is(a, sizeof(uint32_t)))
				return -EPROTO;
			cfg->naddrs = mnl_attr_get_u32(a);
			cfg->has |= CONFIG_HAS_NADDRS;
			break;
		case NTPK_CONFIG_A_LEAP_WINDOW:
			if (!attr_len_is(a, sizeof(uint32_t)))
				return -EPROTO;
			cfg->leap_window_ms = mnl_attr_get_u32(a);
			cfg->has |= CONFIG_HAS_LEAP_WINDOW;
			break;
		case NTPK_CONFIG_A_DSCP:
			if (!attr_len_is(a, sizeof(uint8_t)))
				return -EPROTO;
			cfg->dscp = mnl_attr_get_u8(a);
			cfg->has |= CONFIG_HAS_DSCP;
			break;
		}
	}
	return 0;
}

/*
 * Every member up to USABLE must be present: a partial state would print as
 * a lie.  The later ones are optional (a module older than ntpkctl has
 * none), but the informational three come together or not at all.
 */
static int parse_state(const struct nlattr *nest, struct ntpk_state *st)
{
	static const size_t len[NTPK_STATE_A_MAX + 1] = {
		[NTPK_STATE_A_LEAP] = 1,
		[NTPK_STATE_A_STRATUM] = 1,
		[NTPK_STATE_A_PRECISION] = 1,
		[NTPK_STATE_A_ROOT_DELAY] = 4,
		[NTPK_STATE_A_ROOT_DISP] = 4,
		[NTPK_STATE_A_REFID] = 4,
		[NTPK_STATE_A_REFTIME] = 8,
		[NTPK_STATE_A_AGE_MSEC] = 8,
		[NTPK_STATE_A_USABLE] = 1,
		[NTPK_STATE_A_DISP_RATE] = 4,
		[NTPK_STATE_A_CORRECTION] = 8,
		[NTPK_STATE_A_ERROR] = 8,
		[NTPK_STATE_A_MAX_ERROR] = 8,
		[NTPK_STATE_A_SLEW_RATE] = 4,
	};
	const unsigned int error_attrs = 1U << NTPK_STATE_A_CORRECTION |
		1U << NTPK_STATE_A_ERROR | 1U << NTPK_STATE_A_MAX_ERROR;
	const struct nlattr *a;
	unsigned int seen = 0;
	unsigned int t;

	mnl_attr_for_each_nested(a, nest) {
		t = mnl_attr_get_type(a);
		if (t > NTPK_STATE_A_MAX || !len[t])
			continue;
		if (!attr_len_is(a, len[t]))
			return -EPROTO;
		seen |= 1U << t;
		switch (t) {
		case NTPK_STATE_A_LEAP:
			st->leap = mnl_attr_get_u8(a);
			break;
		case NTPK_STATE_A_STRATUM:
			st->stratum = mnl_attr_get_u8(a);
			break;
		case NTPK_STATE_A_PRECISION:
			st->precision = (int8_t)mnl_attr_get_u8(a);
			break;
		case NTPK_STATE_A_ROOT_DELAY:
			st->root_delay = mnl_attr_get_u32(a);
			break;
		case NTPK_STATE_A_ROOT_DISP:
			st->root_disp = mnl_attr_get_u32(a);
			break;
		case NTPK_STATE_A_REFID:
			memcpy(st->refid, mnl_attr_get_payload(a), 4);
			break;
		case NTPK_STATE_A_REFTIME:
			st->reftime = mnl_attr_get_u64(a);
			break;
		case NTPK_STATE_A_AGE_MSEC:
			st->age_msec = mnl_attr_get_u64(a);
			break;
		case NTPK_STATE_A_USABLE:
			st->usable = mnl_attr_get_u8(a) != 0;
			break;
		case NTPK_STATE_A_DISP_RATE:
			st->disp_rate = mnl_attr_get_u32(a);
			st->has_disp_rate = true;
			break;
		case NTPK_STATE_A_CORRECTION:
			st->correction_ns = (int64_t)mnl_attr_get_u64(a);
			break;
		case NTPK_STATE_A_ERROR:
			st->error_ns = mnl_attr_get_u64(a);
			break;
		case NTPK_STATE_A_MAX_ERROR:
			st->max_error_ns = mnl_attr_get_u64(a);
			break;
		case NTPK_STATE_A_SLEW_RATE:
			st->slew_rate = mnl_attr_get_u32(a);
			st->has_slew_rate = true;
			break;
		}
	}
	for (t = NTPK_STATE_A_LEAP; t <= NTPK_STATE_A_USABLE; t++)
		if (len[t] && !(seen & 1U << t))
			return -EPROTO;
	if ((seen & error_attrs) && (seen & error_attrs) != error_attrs)
		return -EPROTO;
	st->has_error = seen & error_attrs;
	return 0;
}

static int parse_status(const struct nlattr *nest, struct ntpk_model *m)
{
	const struct nlattr *a;
	bool has_reason = false;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case NTPK_STATUS_A_REASON:
			if (!attr_len_is(a, sizeof(uint32_t)))
				return -EPROTO;
			m->reason = mnl_attr_get_u32(a);
			has_reason = true;
			break;
		case NTPK_STATUS_A_LEAP_AT:
			if (!attr_len_is(a, sizeof(uint64_t)))
				return -EPROTO;
			m->leap_at = mnl_attr_get_u64(a);
			m->has_leap_at = true;
			break;
		}
	}
	return has_reason ? 0 : -EPROTO;
}

static int parse_service(const struct nlattr *nest, struct ntpk_model *m)
{
	const struct nlattr *a;
	unsigned int seen = 0;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case NTPK_SERVICE_A_REASON:
			if (!attr_len_is(a, sizeof(uint32_t)))
				return -EPROTO;
			m->service_reason = mnl_attr_get_u32(a);
			seen |= 1U << NTPK_SERVICE_A_REASON;
			break;
		case NTPK_SERVICE_A_ANNOUNCED:
			if (!attr_len_is(a, sizeof(uint8_t)))
				return -EPROTO;
			m->service_announced = mnl_attr_get_u8(a);
			seen |= 1U << NTPK_SERVICE_A_ANNOUNCED;
			break;
		case NTPK_SERVICE_A_AGE_MSEC:
			if (!attr_len_is(a, sizeof(uint64_t)))
				return -EPROTO;
			m->service_age_msec = mnl_attr_get_u64(a);
			seen |= 1U << NTPK_SERVICE_A_AGE_MSEC;
			break;
		}
	}
	return seen == (1U << NTPK_SERVICE_A_REASON |
			1U << NTPK_SERVICE_A_ANNOUNCED |
			1U << NTPK_SERVICE_A_AGE_MSEC) ? 0 : -EPROTO;
}

static int parse_stats(const struct nlattr *nest, uint64_t *stats)
{
	const struct nlattr *a;
	unsigned int t;

	mnl_attr_for_each_nested(a, nest) {
		t = mnl_attr_get_type(a);
		if (t == NTPK_STATS_A_PAD || t > NTPK_STATS_A_MAX)
			continue;
		if (!attr_len_is(a, sizeof(uint64_t)))
			return -EPROTO;
		stats[t] = mnl_attr_get_u64(a);
	}
	return 0;
}

static int parse_ratelimit(const struct nlattr *nest, struct ntpk_ratelimit *rl)
{
	const struct nlattr *a;

	ratelimit_defaults(rl);
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case NTPK_RL_A_FLAGS:
			if (!attr_len_is(a, 4))
				return -EPROTO;
			rl->flags = mnl_attr_get_u32(a);
			break;
		case NTPK_RL_A_INTERVAL:
			if (!attr_len_is(a, 1))
				return -EPROTO;
			rl->interval = (int8_t)mnl_attr_get_u8(a);
			break;
		case NTPK_RL_A_BURST:
			if (!attr_len_is(a, 4))
				return -EPROTO;
			rl->burst = mnl_attr_get_u32(a);
			break;
		case NTPK_RL_A_LEAK:
			if (!attr_len_is(a, 1))
				return -EPROTO;
			rl->leak = mnl_attr_get_u8(a);
			break;
		case NTPK_RL_A_TABLE_SIZE:
			if (!attr_len_is(a, 4))
				return -EPROTO;
			rl->table_size = mnl_attr_get_u32(a);
			break;
		case NTPK_RL_A_V6_PREFIX:
			if (!attr_len_is(a, 1))
				return -EPROTO;
			rl->v6_prefix = mnl_attr_get_u8(a);
			break;
		}
	}
	return 0;
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ntpk_model *m = data;
	const struct nlattr *a;
	int err = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case NTPK_A_CONFIG:
			err = parse_config(a, &m->config);
			break;
		case NTPK_A_STATE:
			err = parse_state(a, &m->state);
			m->has_state = true;
			break;
		case NTPK_A_STATUS:
			err = parse_status(a, m);
			m->has_status = true;
			break;
		case NTPK_A_SERVICE:
			err = parse_service(a, m);
			m->has_service = true;
			break;
		case NTPK_A_STATS:
			err = parse_stats(a, m->stats);
			m->has_stats = true;
			break;
		case NTPK_A_RATELIMIT:
			err = parse_ratelimit(a, &m->ratelimit);
			m->has_ratelimit = true;
			break;
		}
		if (err)
			return err;
	}
	return 0;
}

int ipc_get(struct ipc *ipc, struct ntpk_model *m)
{
	char buf[SEND_BUF];
	int err;

	m->config.has = 0;
	m->has_state = m->has_stats = m->has_ratelimit = false;
	m->has_status = m->has_leap_at = m->has_service = false;
	memset(&m->state, 0, sizeof(m->state));
	memset(m->stats, 0, sizeof(m->stats));
	err = talk(ipc, ntpk_msg(ipc, buf, NTPK_CMD_GET), get_cb, m);
	if (err == -EPROTO && !ipc->extack[0])
		snprintf(ipc->extack, sizeof(ipc->extack),
			 "malformed reply from the kernel");
	return err;
}

/* ---- NTPK_CMD_ADDR_GET ---- */

static int parse_addr(const struct nlattr *nest, struct ntpk_addr *addr)
{
	const struct nlattr *a;
	int n = 0;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case NTPK_ADDR_A_IN:
			if (!attr_len_is(a, sizeof(addr->in)))
				return -EPROTO;
			addr->family = AF_INET;
			memcpy(&addr->in, mnl_attr_get_payload(a), sizeof(addr->in));
			n++;
			break;
		case NTPK_ADDR_A_IN6:
			if (!attr_len_is(a, sizeof(addr->in6)))
				return -EPROTO;
			addr->family = AF_INET6;
			memcpy(&addr->in6, mnl_attr_get_payload(a), sizeof(addr->in6));
			n++;
			break;
		}
	}
	return n == 1 ? 0 : -EPROTO;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ntpk_model *m = data;
	const struct nlattr *a;
	int err;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != NTPK_A_ADDR)
			continue;
		if (m->naddrs >= MODEL_MAX_ADDRS)
			return -EOVERFLOW;
		err = parse_addr(a, &m->addrs[m->naddrs]);
		if (err)
			return err;
		m->naddrs++;
	}
	return 0;
}

int ipc_addr_list(struct ipc *ipc, struct ntpk_model *m)
{
	char buf[SEND_BUF];
	struct nlmsghdr *nlh;
	int tries = 0;
	int err;

	do {
		m->naddrs = 0;
		nlh = ntpk_msg(ipc, buf, NTPK_CMD_ADDR_GET);
		nlh->nlmsg_flags = NLM_F_DUMP;
		err = talk(ipc, nlh, addr_cb, m);
	} while (err == -EINTR && ++tries < DUMP_RETRIES);
	if (err == -EINTR)
		snprintf(ipc->extack, sizeof(ipc->extack),
			 "address dump interrupted %d times by concurrent changes",
			 tries);
	else if ((err == -EPROTO || err == -EOVERFLOW) && !ipc->extack[0])
		snprintf(ipc->extack, sizeof(ipc->extack),
			 "malformed address dump from the kernel");
	return err;
}

/* ---- commands that change things ---- */

int ipc_set(struct ipc *ipc, const struct ntpk_config *cfg,
	    const struct ntpk_ratelimit *rl)
{
	char buf[SEND_BUF];
	struct nlmsghdr *nlh = ntpk_msg(ipc, buf, NTPK_CMD_SET);
	struct nlattr *nest, *ports;
	unsigned int i;

	if (cfg && cfg->has & (CONFIG_HAS_FLAGS | CONFIG_HAS_MAX_AGE |
			       CONFIG_HAS_PORTS | CONFIG_HAS_LEAP_WINDOW |
			       CONFIG_HAS_DSCP)) {
		nest = mnl_attr_nest_start(nlh, NTPK_A_CONFIG);
		if (cfg->has & CONFIG_HAS_FLAGS)
			mnl_attr_put_u32(nlh, NTPK_CONFIG_A_FLAGS, cfg->flags);
		if (cfg->has & CONFIG_HAS_MAX_AGE)
			mnl_attr_put_u32(nlh, NTPK_CONFIG_A_MAX_AGE, cfg->max_age);
		if (cfg->has & CONFIG_HAS_LEAP_WINDOW)
			mnl_attr_put_u32(nlh, NTPK_CONFIG_A_LEAP_WINDOW,
					 cfg->leap_window_ms);
		if (cfg->has & CONFIG_HAS_DSCP)
			mnl_attr_put_u8(nlh, NTPK_CONFIG_A_DSCP, cfg->dscp);
		if (cfg->has & CONFIG_HAS_PORTS) {
			ports = mnl_attr_nest_start(nlh, NTPK_CONFIG_A_PORTS);
			for (i = 0; i < cfg->nports; i++)
				mnl_attr_put_u16(nlh, NTPK_PORT_A_PORT,
						 cfg->ports[i]);
			mnl_attr_nest_end(nlh, ports);
		}
		mnl_attr_nest_end(nlh, nest);
	}
	if (rl) {
		nest = mnl_attr_nest_start(nlh, NTPK_A_RATELIMIT);
		mnl_attr_put_u32(nlh, NTPK_RL_A_FLAGS, rl->flags);
		mnl_attr_put_u8(nlh, NTPK_RL_A_INTERVAL, (uint8_t)rl->interval);
		mnl_attr_put_u32(nlh, NTPK_RL_A_BURST, rl->burst);
		mnl_attr_put_u8(nlh, NTPK_RL_A_LEAK, rl->leak);
		mnl_attr_put_u32(nlh, NTPK_RL_A_TABLE_SIZE, rl->table_size);
		mnl_attr_put_u8(nlh, NTPK_RL_A_V6_PREFIX, rl->v6_prefix);
		mnl_attr_nest_end(nlh, nest);
	}
	return talk(ipc, nlh, NULL, NULL);
}

int ipc_state_set(struct ipc *ipc, const struct ntpk_state *st)
{
	char buf[SEND_BUF];
	struct nlmsghdr *nlh = ntpk_msg(ipc, buf, NTPK_CMD_STATE_SET);
	struct nlattr *nest;

	nest = mnl_attr_nest_start(nlh, NTPK_A_STATE);
	mnl_attr_put_u8(nlh, NTPK_STATE_A_LEAP, st->leap);
	mnl_attr_put_u8(nlh, NTPK_STATE_A_STRATUM, st->stratum);
	mnl_attr_put_u8(nlh, NTPK_STATE_A_PRECISION, (uint8_t)st->precision);
	mnl_attr_put_u32(nlh, NTPK_STATE_A_ROOT_DELAY, st->root_delay);
	mnl_attr_put_u32(nlh, NTPK_STATE_A_ROOT_DISP, st->root_disp);
	mnl_attr_put(nlh, NTPK_STATE_A_REFID, sizeof(st->refid), st->refid);
	mnl_attr_put_u64(nlh, NTPK_STATE_A_REFTIME, st->reftime);
	if (st->has_disp_rate)
		mnl_attr_put_u32(nlh, NTPK_STATE_A_DISP_RATE, st->disp_rate);
	if (st->has_error) {
		mnl_attr_put_u64(nlh, NTPK_STATE_A_CORRECTION,
				 (uint64_t)st->correction_ns);
		mnl_attr_put_u64(nlh, NTPK_STATE_A_ERROR, st->error_ns);
		mnl_attr_put_u64(nlh, NTPK_STATE_A_MAX_ERROR, st->max_error_ns);
	}
	if (st->has_taken)
		mnl_attr_put_u64(nlh, NTPK_STATE_A_TAKEN, st->taken_ns);
	if (st->has_slew_rate)
		mnl_attr_put_u32(nlh, NTPK_STATE_A_SLEW_RATE, st->slew_rate);
	mnl_attr_nest_end(nlh, nest);
	return talk(ipc, nlh, NULL, NULL);
}

int ipc_state_clear(struct ipc *ipc, uint32_t reason)
{
	char buf[SEND_BUF];
	struct nlmsghdr *nlh = ntpk_msg(ipc, buf, NTPK_CMD_STATE_CLEAR);

	if (reason)
		mnl_attr_put_u32(nlh, NTPK_A_REASON, reason);
	return talk(ipc, nlh, NULL, NULL);
}

int ipc_service_set(struct ipc *ipc, uint32_t reason, bool announced)
{
	char buf[SEND_BUF];
	struct nlmsghdr *nlh = ntpk_msg(ipc, buf, NTPK_CMD_SERVICE_SET);
	struct nlattr *nest;

	nest = mnl_attr_nest_start(nlh, NTPK_A_SERVICE);
	mnl_attr_put_u32(nlh, NTPK_SERVICE_A_REASON, reason);
	mnl_attr_put_u8(nlh, NTPK_SERVICE_A_ANNOUNCED, announced);
	mnl_attr_nest_end(nlh, nest);
	return talk(ipc, nlh, NULL, NULL);
}

int ipc_addr(struct ipc *ipc, uint8_t cmd, const struct ntpk_addr *addr)
{
	char buf[SEND_BUF];
	struct nlmsghdr *nlh = ntpk_msg(ipc, buf, cmd);
	struct nlattr *nest;

	nest = mnl_attr_nest_start(nlh, NTPK_A_ADDR);
	if (addr->family == AF_INET)
		mnl_attr_put(nlh, NTPK_ADDR_A_IN, sizeof(addr->in), &addr->in);
	else
		mnl_attr_put(nlh, NTPK_ADDR_A_IN6, sizeof(addr->in6), &addr->in6);
	mnl_attr_nest_end(nlh, nest);
	return talk(ipc, nlh, NULL, NULL);
}

int ipc_command(struct ipc *ipc, uint8_t cmd)
{
	char buf[SEND_BUF];

	return talk(ipc, ntpk_msg(ipc, buf, cmd), NULL, NULL);
}
