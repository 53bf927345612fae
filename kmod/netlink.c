// SPDX-License-Identifier: GPL-2.0
/*
 * The "ntpk" generic netlink family: the only way to configure the module.
 * See uapi/linux/ntpk.h for the attribute trees.
 *
 * Privilege: every write needs CAP_NET_ADMIN over the user namespace that
 * owns the network namespace (GENL_UNS_ADMIN_PERM), so any user may
 * configure ntpk in namespaces of their own (unshare -Urn).  What they can
 * pin that way is bounded: a rate limit table over NTPK_RL_TABLE_UNPRIV_MAX
 * entries needs CAP_NET_ADMIN in the initial user namespace as well, and
 * the table is charged to the caller's memory cgroup (ratelimit.c).
 *
 * Locking: the family is parallel_ops, so genl_mutex is not held and a
 * namespace zeroing a 256 MiB table stalls no other namespace's requests
 * and no other genetlink family.  What genl_mutex used to serialise, and
 * what protects it now:
 *  - everything in struct ntpk_net, the only state the handlers write:
 *    that namespace's nn->lock, held from pre_doit to post_doit around
 *    every doit and by the address dump around each of its passes;
 *  - the dump's cursor (cb->args[0], cb->seq): the netlink_callback is
 *    one dump's own, and its socket's cb_mutex runs the passes one at a
 *    time; addr_gen, which cb->seq follows, is read under nn->lock;
 *  - this file's statics (policies, range validations, ops, the family):
 *    never written after genl_register_family(), and ntpk_net_id is set
 *    before it (main.c);
 *  - the netfilter hooks ntpk_set_enabled() (un)registers: per namespace,
 *    under nf_hook_mutex inside nf_register_net_hooks().
 * A namespace's pernet exit runs only once no socket in it is left, so no
 * handler can hold the nn->lock of a namespace going away.
 */
#include <linux/slab.h>
#include <linux/stringify.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/time_namespace.h>
#include <net/genetlink.h>
#include <net/ipv6.h>

#include "hook.h"
#include "netns.h"
#include "netlink.h"
#include "ratelimit.h"

#define ntpk_deref(nn, p) \
	rcu_dereference_protected(p, lockdep_is_held(&(nn)->lock))

static const struct nla_policy port_policy[NTPK_PORT_A_MAX + 1] = {
	[NTPK_PORT_A_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
};

/* Above what an s16 policy bound holds: full ranges. */
static struct netlink_range_validation leap_window_range = {
	.min = 0,
	.max = NTPK_LEAP_WINDOW_MAX,
};

static struct netlink_range_validation disp_rate_range = {
	.min = 0,
	.max = NTPK_DISP_RATE_MAX,
};

static const struct nla_policy config_policy[NTPK_CONFIG_A_MAX + 1] = {
	[NTPK_CONFIG_A_FLAGS] = { .type = NLA_U32 },
	[NTPK_CONFIG_A_MAX_AGE] = NLA_POLICY_RANGE(NLA_U32, 1, NTPK_MAX_AGE_MAX),
	[NTPK_CONFIG_A_PORTS] = NLA_POLICY_NESTED(port_policy),
	[NTPK_CONFIG_A_NADDRS] = { .type = NLA_REJECT,
				   .reject_message = "read-only attribute" },
	[NTPK_CONFIG_A_LEAP_WINDOW] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &leap_window_range),
	[NTPK_CONFIG_A_DSCP] = NLA_POLICY_MAX(NLA_U8, NTPK_DSCP_MAX),
};

static const struct nla_policy state_policy[NTPK_STATE_A_MAX + 1] = {
	[NTPK_STATE_A_PAD] = { .type = NLA_REJECT },
	[NTPK_STATE_A_LEAP] = NLA_POLICY_MAX(NLA_U8, NTP_LEAP_UNSYNC),
	[NTPK_STATE_A_STRATUM] = NLA_POLICY_MAX(NLA_U8, 16),
	[NTPK_STATE_A_PRECISION] = NLA_POLICY_RANGE(NLA_S8, -32, 0),
	[NTPK_STATE_A_ROOT_DELAY] = { .type = NLA_U32 },
	[NTPK_STATE_A_ROOT_DISP] = { .type = NLA_U32 },
	[NTPK_STATE_A_REFID] = { .type = NLA_BE32 },
	[NTPK_STATE_A_REFTIME] = { .type = NLA_U64 },
	[NTPK_STATE_A_AGE_MSEC] = { .type = NLA_REJECT,
				    .reject_message = "read-only attribute" },
	[NTPK_STATE_A_USABLE] = { .type = NLA_REJECT,
				  .reject_message = "read-only attribute" },
	[NTPK_STATE_A_DISP_RATE] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &disp_rate_range),
	[NTPK_STATE_A_CORRECTION] = { .type = NLA_S64 },
	[NTPK_STATE_A_ERROR] = { .type = NLA_U64 },
	[NTPK_STATE_A_MAX_ERROR] = { .type = NLA_U64 },
	[NTPK_STATE_A_TAKEN] = { .type = NLA_U64 },
	[NTPK_STATE_A_SLEW_RATE] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &disp_rate_range),
};

static struct netlink_range_validation rl_table_range = {
	.min = NTPK_RL_TABLE_MIN,
	.max = NTPK_RL_TABLE_MAX,
};

/* NTPK_RL_TABLE_UNPRIV_MAX is in the uapi header, quoted by the message. */
static_assert(NTPK_RL_TABLE_DEFAULT <= NTPK_RL_TABLE_UNPRIV_MAX);
#define RL_TABLE_UNPRIV_MSG "rate limit table over " \
	__stringify(NTPK_RL_TABLE_UNPRIV_MAX) \
	" entries needs CAP_NET_ADMIN in the initial user namespace"

static const struct nla_policy rl_policy[NTPK_RL_A_MAX + 1] = {
	[NTPK_RL_A_FLAGS] = { .type = NLA_U32 },
	[NTPK_RL_A_INTERVAL] = NLA_POLICY_RANGE(NLA_S8, -19, 12),
	[NTPK_RL_A_BURST] = NLA_POLICY_RANGE(NLA_U32, 1, 255),
	[NTPK_RL_A_LEAK] = NLA_POLICY_MAX(NLA_U8, 16),
	[NTPK_RL_A_TABLE_SIZE] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &rl_table_range),
	[NTPK_RL_A_V6_PREFIX] = NLA_POLICY_RANGE(NLA_U8, 16, 128),
};

static const struct nla_policy addr_policy[NTPK_ADDR_A_MAX + 1] = {
	[NTPK_ADDR_A_IN] = NLA_POLICY_EXACT_LEN(sizeof(struct in_addr)),
	[NTPK_ADDR_A_IN6] = NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
};

static const struct nla_policy service_policy[NTPK_SERVICE_A_MAX + 1] = {
	[NTPK_SERVICE_A_PAD] = { .type = NLA_REJECT },
	[NTPK_SERVICE_A_REASON] = NLA_POLICY_MAX(NLA_U32, __NTPK_REASON_MAX - 1),
	[NTPK_SERVICE_A_ANNOUNCED] = NLA_POLICY_MAX(NLA_U8, 1),
	[NTPK_SERVICE_A_AGE_MSEC] = { .type = NLA_REJECT,
				      .reject_message = "read-only attribute" },
};

static const struct nla_policy ntpk_policy[NTPK_A_MAX + 1] = {
	[NTPK_A_CONFIG] = NLA_POLICY_NESTED(config_policy),
	[NTPK_A_STATE] = NLA_POLICY_NESTED(state_policy),
	[NTPK_A_STATS] = { .type = NLA_REJECT,
			   .reject_message = "read-only attribute" },
	[NTPK_A_RATELIMIT] = NLA_POLICY_NESTED(rl_policy),
	[NTPK_A_ADDR] = NLA_POLICY_NESTED(addr_policy),
	[NTPK_A_REASON] = { .type = NLA_U32 },
	[NTPK_A_STATUS] = { .type = NLA_REJECT,
			    .reject_message = "read-only attribute" },
	[NTPK_A_SERVICE] = NLA_POLICY_NESTED(service_policy),
};

static struct genl_family ntpk_genl_family;

static int put_config(struct sk_buff *msg, const struct ntpk_config *cfg)
{
	struct nlattr *nest, *ports;
	unsigned int i;

	nest = nla_nest_start(msg, NTPK_A_CONFIG);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(msg, NTPK_CONFIG_A_FLAGS, cfg->flags) ||
	    nla_put_u32(msg, NTPK_CONFIG_A_MAX_AGE, cfg->max_age) ||
	    nla_put_u32(msg, NTPK_CONFIG_A_NADDRS, cfg->naddr4 + cfg->naddr6) ||
	    nla_put_u32(msg, NTPK_CONFIG_A_LEAP_WINDOW, cfg->leap_window_ms) ||
	    nla_put_u8(msg, NTPK_CONFIG_A_DSCP, cfg->dscp))
		return -EMSGSIZE;
	ports = nla_nest_start(msg, NTPK_CONFIG_A_PORTS);
	if (!ports)
		return -EMSGSIZE;
	for (i = 0; i < cfg->nports; i++)
		if (nla_put_u16(msg, NTPK_PORT_A_PORT, ntohs(cfg->ports[i])))
			return -EMSGSIZE;
	nla_nest_end(msg, ports);
	nla_nest_end(msg, nest);
	return 0;
}

static int put_state(struct sk_buff *msg, const struct ntpk_state *st,
		     const struct ntpk_config *cfg)
{
	u64 now = ntpk_now();
	struct nlattr *nest;

	if (!st)
		return 0;
	nest = nla_nest_start(msg, NTPK_A_STATE);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u8(msg, NTPK_STATE_A_LEAP, st->ntp.leap) ||
	    nla_put_u8(msg, NTPK_STATE_A_STRATUM, st->ntp.stratum) ||
	    nla_put_s8(msg, NTPK_STATE_A_PRECISION, st->ntp.precision) ||
	    nla_put_u32(msg, NTPK_STATE_A_ROOT_DELAY, st->ntp.root_delay) ||
	    nla_put_u32(msg, NTPK_STATE_A_ROOT_DISP, st->ntp.root_disp) ||
	    nla_put_be32(msg, NTPK_STATE_A_REFID, htonl(st->ntp.refid)) ||
	    nla_put_u64_64bit(msg, NTPK_STATE_A_REFTIME, st->ntp.reftime,
			      NTPK_STATE_A_PAD) ||
	    nla_put_u64_64bit(msg, NTPK_STATE_A_AGE_MSEC,
			      ntpk_state_age_ms(st, now), NTPK_STATE_A_PAD) ||
	    nla_put_u8(msg, NTPK_STATE_A_USABLE,
		       ntpk_state_usable_at(st, cfg, now)) ||
	    nla_put_u32(msg, NTPK_STATE_A_DISP_RATE, st->disp_rate))
		return -EMSGSIZE;
	if (st->has_slew_rate &&
	    nla_put_u32(msg, NTPK_STATE_A_SLEW_RATE, st->slew_rate))
		return -EMSGSIZE;
	if (st->has_error &&
	    (nla_put_s64(msg, NTPK_STATE_A_CORRECTION, st->correction,
			 NTPK_STATE_A_PAD) ||
	     nla_put_u64_64bit(msg, NTPK_STATE_A_ERROR, st->error,
			       NTPK_STATE_A_PAD) ||
	     nla_put_u64_64bit(msg, NTPK_STATE_A_MAX_ERROR, st->max_error,
			       NTPK_STATE_A_PAD)))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

/*
 * Why the fast path is off, in the order an operator would look: the
 * switch, then whether there is a state, then what is wrong with it.
 */
static u32 status_reason(const struct ntpk_net *nn,
			 const struct ntpk_config *cfg,
			 const struct ntpk_state *st, ktime_t now)
{
	if (!(cfg->flags & NTPK_CONFIG_F_ENABLED))
		return NTPK_REASON_DISABLED;
	if (!st)
		return nn->clear_reason;
	if (!st->synced)
		return NTPK_REASON_UNSYNC;
	if (!ntpk_state_usable(st, cfg))
		return NTPK_REASON_EXPIRED;
	if (now >= st->leap - cfg->leap_window)
		return NTPK_REASON_LEAP_WINDOW;
	return NTPK_REASON_NONE;
}

static int put_status(struct sk_buff *msg, const struct ntpk_net *nn,
		      const struct ntpk_config *cfg,
		      const struct ntpk_state *st)
{
	ktime_t now = ktime_get_real();
	struct nlattr *nest;

	nest = nla_nest_start(msg, NTPK_A_STATUS);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(msg, NTPK_STATUS_A_REASON,
			status_reason(nn, cfg, st, now)))
		return -EMSGSIZE;
	/* While the state holds it: no reply from that state after it. */
	if (st && st->leap != KTIME_MAX &&
	    nla_put_u64_64bit(msg, NTPK_STATUS_A_LEAP_AT,
			      div_u64(st->leap, NSEC_PER_SEC),
			      NTPK_STATUS_A_PAD))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int put_service(struct sk_buff *msg, const struct ntpk_net *nn)
{
	struct nlattr *nest;

	if (!nn->service_set)
		return 0;
	nest = nla_nest_start(msg, NTPK_A_SERVICE);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(msg, NTPK_SERVICE_A_REASON, nn->service_reason) ||
	    nla_put_u8(msg, NTPK_SERVICE_A_ANNOUNCED, nn->service_announced) ||
	    nla_put_u64_64bit(msg, NTPK_SERVICE_A_AGE_MSEC,
			      div_u64(ntpk_now() - nn->service_stamp,
				      NSEC_PER_MSEC),
			      NTPK_SERVICE_A_PAD))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int put_stats(struct sk_buff *msg, struct ntpk_net *nn)
{
	u64 sum[__NTPK_STATS_A_MAX];
	struct nlattr *nest;
	int i;

	ntpk_stats_read(nn, sum);
	nest = nla_nest_start(msg, NTPK_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	for (i = NTPK_STATS_A_REQUESTS; i < __NTPK_STATS_A_MAX; i++)
		if (nla_put_u64_64bit(msg, i, sum[i], NTPK_STATS_A_PAD))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int put_ratelimit(struct sk_buff *msg, const struct ntpk_rl *rl)
{
	struct ntpk_rl_params def;
	const struct ntpk_rl_params *p;
	struct nlattr *nest;

	if (rl) {
		p = ntpk_rl_params(rl);
	} else {
		ntpk_rl_default(&def);
		p = &def;
	}
	nest = nla_nest_start(msg, NTPK_A_RATELIMIT);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(msg, NTPK_RL_A_FLAGS, p->flags) ||
	    nla_put_s8(msg, NTPK_RL_A_INTERVAL, p->interval) ||
	    nla_put_u32(msg, NTPK_RL_A_BURST, p->burst) ||
	    nla_put_u8(msg, NTPK_RL_A_LEAK, p->leak) ||
	    nla_put_u32(msg, NTPK_RL_A_TABLE_SIZE, p->table_size) ||
	    nla_put_u8(msg, NTPK_RL_A_V6_PREFIX, p->v6_prefix))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int ntpk_nl_get(struct sk_buff *skb, struct genl_info *info)
{
	struct ntpk_net *nn = ntpk_net(genl_info_net(info));
	const struct ntpk_config *cfg = ntpk_deref(nn, nn->cfg);
	const struct ntpk_state *st;
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &ntpk_genl_family, 0, NTPK_CMD_GET);
	if (!hdr)
		goto nospace;
	st = ntpk_deref(nn, nn->state);
	if (put_config(msg, cfg) ||
	    put_state(msg, st, cfg) ||
	    put_status(msg, nn, cfg, st) ||
	    put_service(msg, nn) ||
	    put_stats(msg, nn) ||
	    put_ratelimit(msg, ntpk_deref(nn, nn->rl)))
		goto nospace;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int parse_ports(struct ntpk_config *cfg, const struct nlattr *attr,
		       struct netlink_ext_ack *extack)
{
	const struct nlattr *a;
	unsigned int n = 0, i;
	int rem;

	nla_for_each_nested(a, attr, rem) {
		__be16 port = htons(nla_get_u16(a));

		if (n == NTPK_MAX_PORTS) {
			NL_SET_ERR_MSG_ATTR(extack, a, "too many ports");
			return -E2BIG;
		}
		for (i = 0; i < n; i++) {
			if (cfg->ports[i] == port) {
				NL_SET_ERR_MSG_ATTR(extack, a, "duplicate port");
				return -EINVAL;
			}
		}
		cfg->ports[n++] = port;
	}
	if (!n) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "at least one port needed");
		return -EINVAL;
	}
	cfg->nports = n;
	return 0;
}

static int parse_config(struct ntpk_config *cfg, const struct nlattr *attr,
			struct netlink_ext_ack *extack)
{
	struct nlattr *tb[NTPK_CONFIG_A_MAX + 1];
	int err;

	err = nla_parse_nested(tb, NTPK_CONFIG_A_MAX, attr, config_policy,
			       extack);
	if (err)
		return err;
	if (tb[NTPK_CONFIG_A_FLAGS]) {
		u32 flags = nla_get_u32(tb[NTPK_CONFIG_A_FLAGS]);

		if (flags & ~__NTPK_CONFIG_F_ALL) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NTPK_CONFIG_A_FLAGS],
					    "unknown config flags");
			return -EOPNOTSUPP;
		}
		cfg->flags = flags;
	}
	if (tb[NTPK_CONFIG_A_MAX_AGE])
		cfg->max_age = nla_get_u32(tb[NTPK_CONFIG_A_MAX_AGE]);
	if (tb[NTPK_CONFIG_A_LEAP_WINDOW]) {
		cfg->leap_window_ms = nla_get_u32(tb[NTPK_CONFIG_A_LEAP_WINDOW]);
		cfg->leap_window = ms_to_ktime(cfg->leap_window_ms);
	}
	if (tb[NTPK_CONFIG_A_DSCP])
		cfg->dscp = nla_get_u8(tb[NTPK_CONFIG_A_DSCP]);
	if (tb[NTPK_CONFIG_A_PORTS])
		return parse_ports(cfg, tb[NTPK_CONFIG_A_PORTS], extack);
	return 0;
}

static int parse_ratelimit(struct ntpk_rl_params *p, const struct nlattr *attr,
			   u32 table_max, struct netlink_ext_ack *extack)
{
	struct nlattr *tb[NTPK_RL_A_MAX + 1];
	int err;

	err = nla_parse_nested(tb, NTPK_RL_A_MAX, attr, rl_policy, extack);
	if (err)
		return err;
	if (!tb[NTPK_RL_A_FLAGS]) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "rate limit flags missing");
		return -EINVAL;
	}
	ntpk_rl_default(p);
	p->flags = nla_get_u32(tb[NTPK_RL_A_FLAGS]);
	if (p->flags & ~__NTPK_RL_F_ALL) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTPK_RL_A_FLAGS],
				    "unknown rate limit flags");
		return -EOPNOTSUPP;
	}
	if (tb[NTPK_RL_A_INTERVAL])
		p->interval = nla_get_s8(tb[NTPK_RL_A_INTERVAL]);
	if (tb[NTPK_RL_A_BURST])
		p->burst = nla_get_u32(tb[NTPK_RL_A_BURST]);
	if (tb[NTPK_RL_A_LEAK])
		p->leak = nla_get_u8(tb[NTPK_RL_A_LEAK]);
	if (tb[NTPK_RL_A_V6_PREFIX])
		p->v6_prefix = nla_get_u8(tb[NTPK_RL_A_V6_PREFIX]);
	if (tb[NTPK_RL_A_TABLE_SIZE]) {
		p->table_size = nla_get_u32(tb[NTPK_RL_A_TABLE_SIZE]);
		if (!is_power_of_2(p->table_size)) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NTPK_RL_A_TABLE_SIZE],
					    "table size must be a power of two");
			return -EINVAL;
		}
		if (p->table_size > table_max) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NTPK_RL_A_TABLE_SIZE],
					    RL_TABLE_UNPRIV_MSG);
			return -EPERM;
		}
	}
	return 0;
}

/*
 * All or nothing: everything is parsed and allocated before anything is
 * published, and the hooks are (un)registered last, the only step that can
 * fail after allocation.
 */
static int ntpk_nl_set(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct ntpk_net *nn = ntpk_net(net);
	struct ntpk_config *old = ntpk_deref(nn, nn->cfg), *cfg;
	struct ntpk_rl *rl = NULL, *old_rl;
	struct ntpk_rl_params p;
	int err;

	cfg = kmemdup(old, sizeof(*old), GFP_KERNEL);
	if (!cfg)
		return -ENOMEM;
	if (info->attrs[NTPK_A_CONFIG]) {
		err = parse_config(cfg, info->attrs[NTPK_A_CONFIG],
				   info->extack);
		if (err)
			goto err_cfg;
	}
	if (info->attrs[NTPK_A_RATELIMIT]) {
		/* Both the socket's opener and the sender must hold it. */
		u32 table_max = netlink_capable(skb, CAP_NET_ADMIN) ?
				NTPK_RL_TABLE_MAX : NTPK_RL_TABLE_UNPRIV_MAX;

		err = parse_ratelimit(&p, info->attrs[NTPK_A_RATELIMIT],
				      table_max, info->extack);
		if (err)
			goto err_cfg;
		if (p.flags & NTPK_RL_F_ENABLED) {
			rl = ntpk_rl_create(&p);
			if (IS_ERR(rl)) {
				err = PTR_ERR(rl);
				NL_SET_ERR_MSG(info->extack,
					       "cannot allocate the rate limit table");
				goto err_cfg;
			}
		}
	}
	err = ntpk_set_enabled(net, cfg->flags & NTPK_CONFIG_F_ENABLED);
	if (err) {
		NL_SET_ERR_MSG(info->extack, "cannot register netfilter hooks");
		goto err_rl;
	}

	rcu_assign_pointer(nn->cfg, cfg);
	kfree_rcu(old, rcu);
	if (info->attrs[NTPK_A_RATELIMIT]) {
		old_rl = ntpk_deref(nn, nn->rl);
		rcu_assign_pointer(nn->rl, rl);
		ntpk_rl_free_rcu(old_rl);
	}
	return 0;

err_rl:
	if (!IS_ERR_OR_NULL(rl))
		ntpk_rl_free(rl);
err_cfg:
	kfree(cfg);
	return err;
}

static const int state_required[] = {
	NTPK_STATE_A_LEAP, NTPK_STATE_A_STRATUM, NTPK_STATE_A_PRECISION,
	NTPK_STATE_A_ROOT_DELAY, NTPK_STATE_A_ROOT_DISP, NTPK_STATE_A_REFID,
	NTPK_STATE_A_REFTIME,
};

static const int state_error_attrs[] = {
	NTPK_STATE_A_CORRECTION, NTPK_STATE_A_ERROR, NTPK_STATE_A_MAX_ERROR,
};

/* The informational values come all three or none: a part would mislead. */
static int check_error_attrs(struct nlattr **tb, struct nlattr *nest,
			     struct netlink_ext_ack *extack)
{
	unsigned int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(state_error_attrs); i++)
		n += !!tb[state_error_attrs[i]];
	if (n && n < ARRAY_SIZE(state_error_attrs)) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "correction, error and max error go together");
		return -EINVAL;
	}
	return n ? 1 : 0;
}

/*
 * A leap announced by a reading is at the end of the reading's month.  Ten
 * minutes (the widest window) are taken off, so that a reading just after
 * a leap, from a daemon that still says LI 1, names the leap just past
 * rather than one a month away: the fast path then stays off until the
 * daemon says LI 0.  No daemon announces a leap in the first minutes of
 * its month.
 */
static ktime_t leap_instant(u8 li, ktime_t read)
{
	time64_t sec = div_s64(read, NSEC_PER_SEC);

	if (li != 1 && li != 2)
		return KTIME_MAX;
	return ktime_set(ntp_leap_instant(sec - NTPK_LEAP_WINDOW_MAX / MSEC_PER_SEC),
			 0);
}

/*
 * The sender's CLOCK_MONOTONIC, in its time namespace, as the host's: what
 * timens_ktime_to_host() does, whose worker is not exported to modules.
 * Netlink runs a request in the sender's own task, so current is the
 * sender.
 */
static ktime_t mono_to_host(ktime_t t)
{
#ifdef CONFIG_TIME_NS
	t -= timespec64_to_ktime(current->nsproxy->time_ns->offsets.monotonic);
#endif
	return t;
}

/*
 * How long ago the daemon was read: TAKEN is the sender's CLOCK_MONOTONIC.
 * Rounded up by a nanosecond: our clock read came after the sender's.
 */
static int read_age(const struct nlattr *taken, u64 *age,
		    struct netlink_ext_ack *extack)
{
	ktime_t now = ktime_get(), t;

	*age = 0;
	if (!taken)
		return 0;
	t = mono_to_host(ns_to_ktime(nla_get_u64(taken)));
	if (t > now) {
		NL_SET_ERR_MSG_ATTR(extack, taken,
				    "reading time is after the push");
		return -EINVAL;
	}
	*age = min_t(u64, now - t + 1, (u64)NTPK_AGE_CAP_SEC * NSEC_PER_SEC);
	return 0;
}

static int ntpk_nl_state_set(struct sk_buff *skb, struct genl_info *info)
{
	struct ntpk_net *nn = ntpk_net(genl_info_net(info));
	struct nlattr *tb[NTPK_STATE_A_MAX + 1];
	struct nlattr *nest = info->attrs[NTPK_A_STATE];
	struct ntpk_state *st, *old;
	u64 stamp, age;
	int has_error;
	unsigned int i;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, NTPK_A_STATE)) {
		NL_SET_ERR_MSG(info->extack, "state attribute missing");
		return -EINVAL;
	}
	err = nla_parse_nested(tb, NTPK_STATE_A_MAX, nest, state_policy,
			       info->extack);
	if (err)
		return err;
	for (i = 0; i < ARRAY_SIZE(state_required); i++) {
		if (NL_REQ_ATTR_CHECK(info->extack, nest, tb,
				      state_required[i])) {
			NL_SET_ERR_MSG(info->extack,
				       "state needs leap, stratum, precision, root delay, root dispersion, refid and reftime");
			return -EINVAL;
		}
	}
	has_error = check_error_attrs(tb, nest, info->extack);
	if (has_error < 0)
		return has_error;
	/* The stamp first: the age counts from before the reading's. */
	stamp = ntpk_now();
	err = read_age(tb[NTPK_STATE_A_TAKEN], &age, info->extack);
	if (err)
		return err;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	st->ntp.leap = nla_get_u8(tb[NTPK_STATE_A_LEAP]);
	st->ntp.stratum = nla_get_u8(tb[NTPK_STATE_A_STRATUM]);
	st->ntp.precision = nla_get_s8(tb[NTPK_STATE_A_PRECISION]);
	st->ntp.root_delay = nla_get_u32(tb[NTPK_STATE_A_ROOT_DELAY]);
	st->ntp.root_disp = nla_get_u32(tb[NTPK_STATE_A_ROOT_DISP]);
	st->ntp.refid = ntohl(nla_get_be32(tb[NTPK_STATE_A_REFID]));
	st->ntp.reftime = nla_get_u64(tb[NTPK_STATE_A_REFTIME]);
	st->disp_rate = NTPK_DISP_RATE_DEFAULT;
	if (tb[NTPK_STATE_A_DISP_RATE])
		st->disp_rate = nla_get_u32(tb[NTPK_STATE_A_DISP_RATE]);
	st->disp_mult = ntp_disp_mult(st->disp_rate);
	st->has_error = has_error;
	if (has_error) {
		st->correction = nla_get_s64(tb[NTPK_STATE_A_CORRECTION]);
		st->error = nla_get_u64(tb[NTPK_STATE_A_ERROR]);
		st->max_error = nla_get_u64(tb[NTPK_STATE_A_MAX_ERROR]);
	}
	if (tb[NTPK_STATE_A_SLEW_RATE]) {
		st->has_slew_rate = true;
		st->slew_rate = nla_get_u32(tb[NTPK_STATE_A_SLEW_RATE]);
	}
	st->synced = ntp_state_synced(&st->ntp);
	st->leap = leap_instant(st->ntp.leap, ktime_get_real() - age);
	st->stamp = stamp;
	st->read_age = age;

	old = ntpk_deref(nn, nn->state);
	rcu_assign_pointer(nn->state, st);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

static int ntpk_nl_state_clear(struct sk_buff *skb, struct genl_info *info)
{
	struct ntpk_net *nn = ntpk_net(genl_info_net(info));
	struct ntpk_state *old = ntpk_deref(nn, nn->state);
	struct nlattr *a = info->attrs[NTPK_A_REASON];
	u32 reason = NTPK_REASON_CLEARED;

	/* The module works out the other reasons itself: never stored. */
	if (a) {
		reason = nla_get_u32(a);
		if (reason < NTPK_REASON_CLEARED ||
		    reason > NTPK_REASON_FOLLOW_STOPPED) {
			NL_SET_ERR_MSG_ATTR(info->extack, a,
					    "not a reason to clear the state for");
			return -EINVAL;
		}
	}
	nn->clear_reason = reason;
	RCU_INIT_POINTER(nn->state, NULL);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

/* What a time service can be withdrawn for; the rest are the fast path's. */
static bool service_reason_ok(u32 reason)
{
	return reason < __NTPK_REASON_MAX &&
	       (NTPK_SERVICE_REASONS & BIT(reason));
}

static int ntpk_nl_service_set(struct sk_buff *skb, struct genl_info *info)
{
	struct ntpk_net *nn = ntpk_net(genl_info_net(info));
	struct nlattr *tb[NTPK_SERVICE_A_MAX + 1];
	struct nlattr *nest = info->attrs[NTPK_A_SERVICE];
	u32 reason;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, NTPK_A_SERVICE)) {
		NL_SET_ERR_MSG(info->extack, "service attribute missing");
		return -EINVAL;
	}
	err = nla_parse_nested(tb, NTPK_SERVICE_A_MAX, nest, service_policy,
			       info->extack);
	if (err)
		return err;
	if (NL_REQ_ATTR_CHECK(info->extack, nest, tb, NTPK_SERVICE_A_REASON) ||
	    NL_REQ_ATTR_CHECK(info->extack, nest, tb,
			      NTPK_SERVICE_A_ANNOUNCED)) {
		NL_SET_ERR_MSG(info->extack,
			       "service needs a reason and announced");
		return -EINVAL;
	}
	reason = nla_get_u32(tb[NTPK_SERVICE_A_REASON]);
	if (!service_reason_ok(reason)) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[NTPK_SERVICE_A_REASON],
				    "not a reason of the time service");
		return -EINVAL;
	}
	nn->service_reason = reason;
	nn->service_announced = nla_get_u8(tb[NTPK_SERVICE_A_ANNOUNCED]);
	nn->service_stamp = ntpk_now();
	nn->service_set = true;
	return 0;
}

static int ntpk_nl_stats_reset(struct sk_buff *skb, struct genl_info *info)
{
	ntpk_stats_reset(ntpk_net(genl_info_net(info)));
	return 0;
}

struct ntpk_addr {
	bool v6;
	__be32 in;
	struct in6_addr in6;
};

static int parse_addr(struct ntpk_addr *addr, struct genl_info *info)
{
	struct nlattr *nest = info->attrs[NTPK_A_ADDR];
	struct nlattr *tb[NTPK_ADDR_A_MAX + 1];
	int err;

	if (GENL_REQ_ATTR_CHECK(info, NTPK_A_ADDR)) {
		NL_SET_ERR_MSG(info->extack, "address attribute missing");
		return -EINVAL;
	}
	err = nla_parse_nested(tb, NTPK_ADDR_A_MAX, nest, addr_policy,
			       info->extack);
	if (err)
		return err;
	if (!tb[NTPK_ADDR_A_IN] == !tb[NTPK_ADDR_A_IN6]) {
		NL_SET_ERR_MSG_ATTR(info->extack, nest,
				    "exactly one IPv4 or IPv6 address needed");
		return -EINVAL;
	}
	addr->v6 = tb[NTPK_ADDR_A_IN6];
	if (addr->v6) {
		nla_memcpy(&addr->in6, tb[NTPK_ADDR_A_IN6], sizeof(addr->in6));
		if (ipv6_addr_any(&addr->in6) ||
		    ipv6_addr_is_multicast(&addr->in6) ||
		    ipv6_addr_loopback(&addr->in6)) {
			NL_SET_ERR_MSG_ATTR(info->extack, tb[NTPK_ADDR_A_IN6],
					    "not a servable unicast address");
			return -EINVAL;
		}
	} else {
		addr->in = nla_get_in_addr(tb[NTPK_ADDR_A_IN]);
		if (ipv4_is_zeronet(addr->in) || ipv4_is_multicast(addr->in) ||
		    ipv4_is_lbcast(addr->in) || ipv4_is_loopback(addr->in)) {
			NL_SET_ERR_MSG_ATTR(info->extack, tb[NTPK_ADDR_A_IN],
					    "not a servable unicast address");
			return -EINVAL;
		}
	}
	return 0;
}

static int addr_find(const struct ntpk_config *cfg, const struct ntpk_addr *a)
{
	unsigned int i;

	if (a->v6) {
		for (i = 0; i < cfg->naddr6; i++)
			if (ipv6_addr_equal(&cfg->addr6[i], &a->in6))
				return i;
	} else {
		for (i = 0; i < cfg->naddr4; i++)
			if (cfg->addr4[i] == a->in)
				return i;
	}
	return -1;
}

static void publish_addrs(struct ntpk_net *nn, struct ntpk_config *cfg)
{
	struct ntpk_config *old = ntpk_deref(nn, nn->cfg);

	rcu_assign_pointer(nn->cfg, cfg);
	kfree_rcu(old, rcu);
	nn->addr_gen++;
}

static int ntpk_nl_addr_add(struct sk_buff *skb, struct genl_info *info)
{
	struct ntpk_net *nn = ntpk_net(genl_info_net(info));
	const struct ntpk_config *old = ntpk_deref(nn, nn->cfg);
	struct ntpk_config *cfg;
	struct ntpk_addr a;
	int err;

	err = parse_addr(&a, info);
	if (err)
		return err;
	if (addr_find(old, &a) >= 0) {
		NL_SET_ERR_MSG(info->extack, "address already served");
		return -EEXIST;
	}
	if ((a.v6 ? old->naddr6 : old->naddr4) == NTPK_MAX_ADDRS) {
		NL_SET_ERR_MSG(info->extack, "too many served addresses");
		return -ENOSPC;
	}
	cfg = kmemdup(old, sizeof(*old), GFP_KERNEL);
	if (!cfg)
		return -ENOMEM;
	if (a.v6)
		cfg->addr6[cfg->naddr6++] = a.in6;
	else
		cfg->addr4[cfg->naddr4++] = a.in;
	publish_addrs(nn, cfg);
	return 0;
}

static int ntpk_nl_addr_del(struct sk_buff *skb, struct genl_info *info)
{
	struct ntpk_net *nn = ntpk_net(genl_info_net(info));
	const struct ntpk_config *old = ntpk_deref(nn, nn->cfg);
	struct ntpk_config *cfg;
	struct ntpk_addr a;
	int err, i;

	err = parse_addr(&a, info);
	if (err)
		return err;
	i = addr_find(old, &a);
	if (i < 0) {
		NL_SET_ERR_MSG(info->extack, "address not served");
		return -ENOENT;
	}
	cfg = kmemdup(old, sizeof(*old), GFP_KERNEL);
	if (!cfg)
		return -ENOMEM;
	if (a.v6)
		cfg->addr6[i] = cfg->addr6[--cfg->naddr6];
	else
		cfg->addr4[i] = cfg->addr4[--cfg->naddr4];
	publish_addrs(nn, cfg);
	return 0;
}

static int ntpk_nl_addr_flush(struct sk_buff *skb, struct genl_info *info)
{
	struct ntpk_net *nn = ntpk_net(genl_info_net(info));
	struct ntpk_config *cfg;

	cfg = kmemdup(ntpk_deref(nn, nn->cfg), sizeof(*cfg), GFP_KERNEL);
	if (!cfg)
		return -ENOMEM;
	cfg->naddr4 = 0;
	cfg->naddr6 = 0;
	publish_addrs(nn, cfg);
	return 0;
}

static int put_addr(struct sk_buff *msg, const struct ntpk_config *cfg,
		    unsigned int i)
{
	struct nlattr *nest = nla_nest_start(msg, NTPK_A_ADDR);
	int err;

	if (!nest)
		return -EMSGSIZE;
	if (i < cfg->naddr4)
		err = nla_put_in_addr(msg, NTPK_ADDR_A_IN, cfg->addr4[i]);
	else
		err = nla_put_in6_addr(msg, NTPK_ADDR_A_IN6,
				       &cfg->addr6[i - cfg->naddr4]);
	if (err)
		return err;
	nla_nest_end(msg, nest);
	return 0;
}

/* One message per address; the cursor is in cb->args[0]. */
static int ntpk_nl_addr_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct ntpk_net *nn = ntpk_net(sock_net(skb->sk));
	const struct ntpk_config *cfg;
	unsigned int i = cb->args[0];
	void *hdr;

	mutex_lock(&nn->lock);
	cfg = ntpk_deref(nn, nn->cfg);
	cb->seq = nn->addr_gen + 1;
	for (; i < cfg->naddr4 + cfg->naddr6; i++) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &ntpk_genl_family,
				  NLM_F_MULTI, NTPK_CMD_ADDR_GET);
		if (!hdr)
			break;
		genl_dump_check_consistent(cb, hdr);
		if (put_addr(skb, cfg, i)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
	}
	mutex_unlock(&nn->lock);
	cb->args[0] = i;
	return skb->len;
}

static int ntpk_nl_pre_doit(const struct genl_split_ops *ops,
			    struct sk_buff *skb, struct genl_info *info)
{
	mutex_lock(&ntpk_net(genl_info_net(info))->lock);
	return 0;
}

static void ntpk_nl_post_doit(const struct genl_split_ops *ops,
			      struct sk_buff *skb, struct genl_info *info)
{
	mutex_unlock(&ntpk_net(genl_info_net(info))->lock);
}

static const struct genl_small_ops ntpk_genl_ops[] = {
	{
		.cmd = NTPK_CMD_GET,
		.doit = ntpk_nl_get,
	},
	{
		.cmd = NTPK_CMD_SET,
		.doit = ntpk_nl_set,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = NTPK_CMD_STATE_SET,
		.doit = ntpk_nl_state_set,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = NTPK_CMD_STATE_CLEAR,
		.doit = ntpk_nl_state_clear,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = NTPK_CMD_STATS_RESET,
		.doit = ntpk_nl_stats_reset,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = NTPK_CMD_ADDR_ADD,
		.doit = ntpk_nl_addr_add,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = NTPK_CMD_ADDR_DEL,
		.doit = ntpk_nl_addr_del,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = NTPK_CMD_ADDR_FLUSH,
		.doit = ntpk_nl_addr_flush,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = NTPK_CMD_ADDR_GET,
		.dumpit = ntpk_nl_addr_dump,
	},
	{
		.cmd = NTPK_CMD_SERVICE_SET,
		.doit = ntpk_nl_service_set,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static struct genl_family ntpk_genl_family __ro_after_init = {
	.name = NTPK_GENL_NAME,
	.version = NTPK_GENL_VERSION,
	.maxattr = NTPK_A_MAX,
	.policy = ntpk_policy,
	.netnsok = true,
	.parallel_ops = true,
	.pre_doit = ntpk_nl_pre_doit,
	.post_doit = ntpk_nl_post_doit,
	.module = THIS_MODULE,
	.small_ops = ntpk_genl_ops,
	.n_small_ops = ARRAY_SIZE(ntpk_genl_ops),
	.resv_start_op = NTPK_CMD_ADDR_GET + 1,
};

int ntpk_genl_init(void)
{
	return genl_register_family(&ntpk_genl_family);
}

void ntpk_genl_uninit(void)
{
	genl_unregister_family(&ntpk_genl_family);
}
