// SPDX-License-Identifier: GPL-2.0
/*
 * The fast path: PRE_ROUTING hooks that answer plain NTP client requests in
 * place and hand everything else to the stack untouched.
 *
 * Every UDP datagram to a served port is counted as a request and ends in
 * exactly one outcome counter.  Nothing before the final reply build writes
 * to the packet, so every "pass" really is the packet as it arrived.
 */
#include <linux/bottom_half.h>
#include <linux/inetdevice.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter_ipv6.h>
#include <linux/skbuff.h>
#include <linux/udp.h>
#include <net/addrconf.h>
#include <net/dst.h>
#include <net/dst_metadata.h>
#include <net/ip.h>
#include <net/ip6_checksum.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/l3mdev.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/route.h>
#include <net/xfrm.h>

#include "netns.h"
#include "hook.h"
#include "ratelimit.h"

/*
 * After the raw table (-300), so that operators' raw rules (bans, ACLs,
 * NOTRACK of their own) see requests first; before conntrack (-200), so that
 * conntrack never sees an answered request, nor its reply (marked
 * untracked): no NOTRACK rules needed, no table churn.  Defragmentation
 * (-400) has already run when conntrack is loaded; we pass reassembled
 * datagrams on.
 */
#define NTPK_PRI_IPV4	(NF_IP_PRI_RAW + 50)
#define NTPK_PRI_IPV6	(NF_IP6_PRI_RAW + 50)

static_assert(NTPK_PRI_IPV4 > NF_IP_PRI_RAW && NTPK_PRI_IPV4 < NF_IP_PRI_CONNTRACK);
static_assert(NTPK_PRI_IPV6 > NF_IP6_PRI_RAW && NTPK_PRI_IPV6 < NF_IP6_PRI_CONNTRACK);

/* What the hook decided about one request; a counter for each. */
struct ntpk_req {
	struct ntpk_net *nn;
	const struct ntpk_config *cfg;
	const struct ntpk_state *st;
	unsigned int thoff;
	unsigned int ulen;
	__be16 sport;
	__be16 dport;
	ktime_t rx;
	u64 age;		/* of the state, ns, rounded up */
	bool own_dst;		/* we attached the input route */
	bool kod;
	bool leaked;
	s8 min_poll;		/* the rate limit's interval, as chronyd */
};

static bool port_served(const struct ntpk_config *cfg, __be16 port)
{
	unsigned int i;

	for (i = 0; i < cfg->nports; i++)
		if (cfg->ports[i] == port)
			return true;
	return false;
}

static bool addr4_served(const struct ntpk_config *cfg, __be32 addr)
{
	unsigned int i;

	if (!cfg->naddr4 && !cfg->naddr6)
		return true;
	for (i = 0; i < cfg->naddr4; i++)
		if (cfg->addr4[i] == addr)
			return true;
	return false;
}

static bool addr6_served(const struct ntpk_config *cfg,
			 const struct in6_addr *addr)
{
	unsigned int i;

	if (!cfg->naddr4 && !cfg->naddr6)
		return true;
	for (i = 0; i < cfg->naddr6; i++)
		if (ipv6_addr_equal(&cfg->addr6[i], addr))
			return true;
	return false;
}

/*
 * The receive timestamp: skb->tstamp when the stack has already taken it
 * (some socket asked for receive timestamps), which is earlier and closer to
 * the wire; otherwise the clock now, at hook entry.
 */
static ktime_t rx_time(const struct sk_buff *skb)
{
	ktime_t t = skb_tstamp(skb);

	return t ? t : ktime_get_real();
}

static u64 ktime_to_ntp(ktime_t t)
{
	struct timespec64 ts = ktime_to_timespec64(t);

	return ntp_ts_from_unix(ts.tv_sec, ts.tv_nsec);
}

/*
 * Checks common to both families once the UDP header is known to be sane:
 * the NTP payload, the server state and the rate limiter.  Returns the
 * counter to bump when the request is not ours to answer, or 0.
 */
static enum ntpk_stats_attr check_payload(struct sk_buff *skb,
					  struct ntpk_req *r)
{
	unsigned int plen = r->ulen - sizeof(struct udphdr);
	u8 buf = 0;
	const u8 *lvm = &buf;

	/* Linear in practice: a pointer into the head, no copy. */
	if (plen) {
		lvm = skb_header_pointer(skb, r->thoff + sizeof(struct udphdr),
					 1, &buf);
		if (!lvm)
			return NTPK_STATS_A_DROP_MALFORMED;
	}

	switch (ntp_check_request(lvm, plen)) {
	case NTP_REQ_OK:
		break;
	case NTP_REQ_SHORT:
		return NTPK_STATS_A_PASS_SHORT;
	case NTP_REQ_EXTENSIONS:
		return NTPK_STATS_A_PASS_EXTENSIONS;
	case NTP_REQ_NOT_MODE3:
		return NTPK_STATS_A_PASS_NOT_MODE3;
	case NTP_REQ_BAD_VERSION:
		return NTPK_STATS_A_PASS_BAD_VERSION;
	}

	r->st = rcu_dereference(r->nn->state);
	if (!r->st || !r->st->synced)
		return NTPK_STATS_A_PASS_NO_STATE;
	r->age = ntpk_state_age_ns(r->st, ntpk_now());
	if (!ntpk_state_fresh(r->cfg, r->age))
		return NTPK_STATS_A_PASS_NO_STATE;
	/*
	 * Around a leap second the clock steps or is slewed, and only the
	 * daemon knows which second it is in: its requests are its own.  A
	 * state read before the leap is never used again once its window
	 * opens: after the leap only a new reading says what the clock is
	 * (leapsecmode slew leaves it up to a second off for minutes).
	 * Without a leap st->leap is KTIME_MAX: one compare, never true.
	 */
	if (unlikely(r->rx >= r->st->leap - r->cfg->leap_window))
		return NTPK_STATS_A_PASS_LEAP;
	return 0;
}

/* Returns the counter to bump, 0 to answer normally. */
static enum ntpk_stats_attr rate_limit(struct ntpk_req *r, struct ntpk_rl *rl,
				       enum ntpk_rl_verdict v)
{
	/* chronyd's replies ask for a poll no shorter than its limit's. */
	r->min_poll = ntpk_rl_params(rl)->interval;
	switch (v) {
	case NTPK_RL_PASS:
		return 0;
	case NTPK_RL_LEAK:
		r->leaked = true;
		return 0;
	case NTPK_RL_KOD:
		r->kod = true;
		return 0;
	case NTPK_RL_DROP:
		break;
	}
	return NTPK_STATS_A_RL_DROPPED;
}

/* Turn the request's NTP payload into the reply, in place. */
static void fill_ntp(struct ntpk_req *r, u8 *pkt)
{
	const struct ntpk_state *st = r->st;
	u64 rx = ktime_to_ntp(r->rx);

	if (r->kod) {
		ntp_build_kod(pkt, r->min_poll, rx);
	} else {
		ntp_build_reply(pkt, &st->ntp,
				ntp_disp_add(st->ntp.root_disp, r->age,
					     st->disp_mult), r->min_poll, rx);
	}
}

/* Finish a request that is not answered: count it and pass or drop it. */
static unsigned int outcome(struct ntpk_net *nn, enum ntpk_stats_attr c)
{
	ntpk_count(nn, c);
	switch (c) {
	case NTPK_STATS_A_DROP_MALFORMED:
	case NTPK_STATS_A_DROP_CHECKSUM:
	case NTPK_STATS_A_RL_DROPPED:
		return NF_DROP;
	default:
		return NF_ACCEPT;
	}
}

/*
 * The request skb becomes the reply: drop everything the receive path left
 * on it that must not follow it out (what skb_scrub_packet() clears for a
 * packet that changes namespace, and the socket, priority, VLAN tag,
 * redirect bit and delivery time), and keep conntrack away.  A reply leaves
 * as one from chronyd's socket would: priority 0, mark 0, no skb extension
 * (secpath, bridge info), no trace flag.
 *
 * The flow hash stays.  The reply is the request's flow reversed, and the
 * flow dissector's hash is symmetric in addresses and ports (a NIC's RSS
 * hash is of the same flow too): it is a valid hash of the reply's flow,
 * so picking a transmit queue, fq's flow, or the receiver's RPS CPU need
 * not dissect the reply again (640 instructions under icount).  IPv6
 * replaces it with the reply's own (reply6()).
 */
static void scrub(struct sk_buff *skb, struct dst_entry *dst)
{
	skb_orphan(skb);
	skb_scrub_packet(skb, true);
	skb_dst_set(skb, dst);
	nf_ct_set(skb, NULL, IP_CT_UNTRACKED);
	skb->priority = 0;
	__vlan_hwaccel_clear_tag(skb);
	skb_reset_redirect(skb);
	/* Also a monotonic delivery time, which skb_clear_tstamp() keeps. */
	skb_set_delivery_time(skb, 0, 0);
	skb->ip_summed = CHECKSUM_NONE;
}

static void count_sent(struct ntpk_req *r, int err)
{
	if (net_xmit_eval(err)) {
		ntpk_count(r->nn, NTPK_STATS_A_DROP_XMIT);
		return;
	}
	ntpk_count(r->nn, r->kod ? NTPK_STATS_A_RL_KOD : NTPK_STATS_A_REPLIES);
	/* A leaked request counts only once its reply is really sent. */
	if (r->leaked)
		ntpk_count(r->nn, NTPK_STATS_A_RL_LEAKED);
}

/*
 * Routed as chronyd's reply is: from the request's destination address,
 * with no output interface (chronyd sets one only for link-local clients),
 * the configured DSCP, and through xfrm, so that IPsec policy applies.  A
 * reply that cannot be routed is the daemon's to try.
 */
static unsigned int reply4(struct net *net, struct sk_buff *skb,
			   struct ntpk_req *r)
{
	struct iphdr *iph = ip_hdr(skb);
	u8 tos = r->cfg->dscp << 2;
	struct flowi4 fl4 = {
		.daddr = iph->saddr,
		.saddr = iph->daddr,
		.flowi4_tos = RT_TOS(tos),
		.flowi4_proto = IPPROTO_UDP,
		.flowi4_flags = FLOWI_FLAG_ANYSRC,
		.flowi4_uid = r->nn->uid,
		.fl4_sport = r->dport,
		.fl4_dport = r->sport,
	};
	struct udphdr *uh;
	struct rtable *rt;
	__be32 addr;

	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt))
		return outcome(r->nn, NTPK_STATS_A_PASS_ROUTE);
	/* A source that routes back to us, or to a broadcast, is spoofed. */
	if (rt->rt_type != RTN_UNICAST) {
		ip_rt_put(rt);
		return outcome(r->nn, NTPK_STATS_A_PASS_BAD_SOURCE);
	}
	/* Unshares the head only when the request is cloned (a tap). */
	if (skb_ensure_writable(skb, skb->len)) {
		ip_rt_put(rt);
		ntpk_count(r->nn, NTPK_STATS_A_DROP_XMIT);
		return NF_DROP;
	}
	scrub(skb, &rt->dst);
	memset(IPCB(skb), 0, sizeof(*IPCB(skb)));

	iph = ip_hdr(skb);
	uh = (void *)iph + r->thoff;
	addr = iph->saddr;
	iph->saddr = iph->daddr;
	iph->daddr = addr;
	iph->tos = tos;
	iph->ttl = ip4_dst_hoplimit(&rt->dst);
	iph->frag_off = htons(IP_DF);
	iph->id = 0;
	uh->source = r->dport;
	uh->dest = r->sport;

	fill_ntp(r, (u8 *)(uh + 1));
	ntp_set_tx((u8 *)(uh + 1), ktime_to_ntp(ktime_get_real()));
	uh->check = 0;
	uh->check = csum_tcpudp_magic(iph->saddr, iph->daddr, r->ulen,
				      IPPROTO_UDP,
				      csum_partial(uh, r->ulen, 0));
	if (!uh->check)
		uh->check = CSUM_MANGLED_0;

	count_sent(r, ip_local_out(net, NULL, skb));
	return NF_STOLEN;
}

/* What a socket without IPV6_AUTOFLOWLABEL set gets (ip6_autoflowlabel()). */
static bool auto_flowlabel(const struct net *net)
{
	u8 mode = READ_ONCE(net->ipv6.sysctl.auto_flowlabels);

	return mode == IP6_AUTO_FLOW_LABEL_OPTOUT ||
	       mode == IP6_AUTO_FLOW_LABEL_FORCED;
}

static unsigned int reply6(struct net *net, struct sk_buff *skb,
			   struct ntpk_req *r)
{
	struct ipv6hdr *ip6h = ipv6_hdr(skb);
	u8 tclass = r->cfg->dscp << 2;
	struct flowi6 fl6 = {
		.daddr = ip6h->saddr,
		.saddr = ip6h->daddr,
		.flowlabel = ip6_make_flowinfo(tclass, 0),
		.flowi6_proto = IPPROTO_UDP,
		.flowi6_uid = r->nn->uid,
		.fl6_sport = r->dport,
		.fl6_dport = r->sport,
	};
	struct dst_entry *dst;
	struct in6_addr addr;
	struct udphdr *uh;

	/* Link-local clients are only reachable through the interface. */
	if (ipv6_addr_type(&fl6.daddr) & IPV6_ADDR_LINKLOCAL)
		fl6.flowi6_oif = skb->dev->ifindex;
	dst = ip6_route_output(net, NULL, &fl6);
	if (dst->error) {
		dst_release(dst);
		return outcome(r->nn, NTPK_STATS_A_PASS_ROUTE);
	}
	if ((dst->dev->flags & IFF_LOOPBACK) ||
	    (dst_rt6_info(dst)->rt6i_flags & RTF_LOCAL)) {
		dst_release(dst);
		return outcome(r->nn, NTPK_STATS_A_PASS_BAD_SOURCE);
	}
	/* As ip6_dst_lookup_flow() does for a socket: IPsec policy. */
	dst = xfrm_lookup_route(net, dst, flowi6_to_flowi(&fl6), NULL, 0);
	if (IS_ERR(dst))
		return outcome(r->nn, NTPK_STATS_A_PASS_ROUTE);
	if (skb_ensure_writable(skb, skb->len)) {
		dst_release(dst);
		ntpk_count(r->nn, NTPK_STATS_A_DROP_XMIT);
		return NF_DROP;
	}
	scrub(skb, dst);
	memset(IP6CB(skb), 0, sizeof(*IP6CB(skb)));

	ip6h = ipv6_hdr(skb);
	uh = (void *)ip6h + r->thoff;
	addr = ip6h->saddr;
	ip6h->saddr = ip6h->daddr;
	ip6h->daddr = addr;
	/*
	 * The flow label from the reply's flow, as the stack's: without a
	 * hash, ip6_make_flowlabel() hashes fl6 and sets that as the hash.
	 */
	skb_clear_hash(skb);
	ip6_flow_hdr(ip6h, tclass,
		     ip6_make_flowlabel(net, skb, 0, auto_flowlabel(net), &fl6));
	ip6h->hop_limit = ip6_dst_hoplimit(dst);
	uh->source = r->dport;
	uh->dest = r->sport;

	fill_ntp(r, (u8 *)(uh + 1));
	ntp_set_tx((u8 *)(uh + 1), ktime_to_ntp(ktime_get_real()));
	uh->check = 0;
	uh->check = csum_ipv6_magic(&ip6h->saddr, &ip6h->daddr, r->ulen,
				    IPPROTO_UDP,
				    csum_partial(uh, r->ulen, 0));
	if (!uh->check)
		uh->check = CSUM_MANGLED_0;

	count_sent(r, ip6_local_out(net, NULL, skb));
	return NF_STOLEN;
}

/*
 * The UDP checks of udp_error() in nf_conntrack_proto_udp.c, which nobody
 * has run yet at this priority.  A datagram shorter than the IP payload is
 * legal (trailing padding) but unusual: the stack trims it, we pass it on.
 */
static enum ntpk_stats_attr check_udp(struct sk_buff *skb,
				      const struct udphdr *uh,
				      struct ntpk_req *r)
{
	unsigned int iplen = skb->len - r->thoff;

	r->ulen = ntohs(uh->len);
	r->sport = uh->source;
	r->dport = uh->dest;
	if (r->ulen < sizeof(*uh) || r->ulen > iplen)
		return NTPK_STATS_A_DROP_MALFORMED;
	if (r->ulen < iplen)
		return NTPK_STATS_A_PASS_UNUSUAL;
	return 0;
}

/* br_netfilter runs our hook for bridged frames, turning OTHERHOST into HOST. */
static bool bridged_otherhost(const struct sk_buff *skb)
{
#if IS_ENABLED(CONFIG_BRIDGE_NETFILTER)
	const struct nf_bridge_info *nb = nf_bridge_info_get(skb);

	return nb && nb->pkt_otherhost;
#else
	return false;
#endif
}

/*
 * Would the stack deliver the request to a local socket?  Its own input
 * route says (ip rules, VRF tables, rp_filter, AnyIP routes, blackhole and
 * prohibit routes, addresses on a down device), then the inbound IPsec
 * policy that UDP checks before queueing to a socket.  The route is
 * attached as ip_rcv_finish() would attach it; ntpk_pass() drops it again
 * from a request we pass on, since mangle rules after us may still set the
 * mark that policy routing keys on.  Returns the counter of a request the
 * stack would not deliver, 0 for one it would.
 */
static enum ntpk_stats_attr local4(struct sk_buff *skb,
				   const struct iphdr *iph, struct ntpk_req *r)
{
	if (!skb_valid_dst(skb)) {
		/* Tunnel metadata (collect_md) keys the stack's lookup. */
		if (skb_dst(skb))
			return NTPK_STATS_A_PASS_UNUSUAL;
		r->own_dst = true;
		/*
		 * An unreachable destination still gets a route (to
		 * ip_error); what fails outright is a martian or
		 * reverse-path-filtered source, the destination having
		 * been checked by then.
		 */
		if (ip_route_input_noref(skb, iph->daddr, iph->saddr, iph->tos,
					 skb->dev))
			return NTPK_STATS_A_PASS_BAD_SOURCE;
	}
	if (skb_rtable(skb)->rt_type != RTN_LOCAL ||
	    !xfrm4_policy_check(NULL, XFRM_POLICY_IN, skb))
		return NTPK_STATS_A_PASS_NOT_OURS;
	return 0;
}

static enum ntpk_stats_attr local6(struct sk_buff *skb,
				   const struct ipv6hdr *ip6h,
				   struct ntpk_req *r)
{
	struct flowi6 fl6 = {
		.flowi6_iif = skb->dev->ifindex,
		.daddr = ip6h->daddr,
		.saddr = ip6h->saddr,
		.flowlabel = ip6_flowinfo(ip6h),
		.flowi6_mark = skb->mark,
		.flowi6_proto = IPPROTO_UDP,
		.fl6_sport = r->sport,
		.fl6_dport = r->dport,
	};
	struct dst_entry *dst;

	if (!skb_valid_dst(skb)) {
		if (skb_dst(skb))
			return NTPK_STATS_A_PASS_UNUSUAL;
		r->own_dst = true;
		dst = ip6_route_input_lookup(dev_net(skb->dev), skb->dev, &fl6,
					     skb, RT6_LOOKUP_F_HAS_SADDR |
					     RT6_LOOKUP_F_DST_NOREF);
		skb_dst_set_noref(skb, dst);
	}
	dst = skb_dst(skb);
	if (dst->error ||
	    (dst_rt6_info(dst)->rt6i_flags & (RTF_LOCAL | RTF_ANYCAST)) !=
	    RTF_LOCAL ||
	    !xfrm6_policy_check(NULL, XFRM_POLICY_IN, skb))
		return NTPK_STATS_A_PASS_NOT_OURS;
	return 0;
}

static unsigned int ipv4_in(struct sk_buff *skb,
			    const struct nf_hook_state *state,
			    struct ntpk_req *r)
{
	const struct iphdr *iph = ip_hdr(skb);
	const struct udphdr *uh;
	enum ntpk_stats_attr c;
	struct udphdr _uh;
	struct ntpk_rl *rl;

	/* Non-first fragments carry no port: not recognisably ours. */
	if (iph->protocol != IPPROTO_UDP || (iph->frag_off & htons(IP_OFFSET)))
		return NF_ACCEPT;
	uh = skb_header_pointer(skb, r->thoff, sizeof(_uh), &_uh);
	if (!uh)
		return NF_ACCEPT;
	r->nn = ntpk_net(state->net);
	r->cfg = rcu_dereference(r->nn->cfg);
	/*
	 * Requests that arrive in a VRF are passed on (counted, on the
	 * slave): replies would have to be routed in the VRF's table, and
	 * whether a daemon listens there depends on its binding and on
	 * udp_l3mdev_accept.  The stack runs PRE_ROUTING for them again on
	 * the VRF device: not counted twice.
	 */
	if (!port_served(r->cfg, uh->dest) || netif_is_l3_master(skb->dev))
		return NF_ACCEPT;
	r->rx = rx_time(skb);
	ntpk_count(r->nn, NTPK_STATS_A_REQUESTS);

	if (state->in->flags & IFF_LOOPBACK)
		return outcome(r->nn, NTPK_STATS_A_PASS_LOOPBACK);
	if (skb->pkt_type != PACKET_HOST || bridged_otherhost(skb) ||
	    netif_is_l3_slave(skb->dev) || ipv4_is_multicast(iph->daddr) ||
	    ipv4_is_lbcast(iph->daddr) || ipv4_is_zeronet(iph->daddr) ||
	    ipv4_is_loopback(iph->daddr) || !addr4_served(r->cfg, iph->daddr))
		return outcome(r->nn, NTPK_STATS_A_PASS_NOT_OURS);
	if (ip_is_fragment(iph) || IPCB(skb)->frag_max_size ||
	    r->thoff != sizeof(*iph) || skb_is_gso(skb))
		return outcome(r->nn, NTPK_STATS_A_PASS_UNUSUAL);
	c = check_udp(skb, uh, r);
	if (c)
		return outcome(r->nn, c);
	if (!uh->source || ipv4_is_multicast(iph->saddr) ||
	    ipv4_is_lbcast(iph->saddr) || ipv4_is_loopback(iph->saddr) ||
	    ipv4_is_zeronet(iph->saddr))
		return outcome(r->nn, NTPK_STATS_A_PASS_BAD_SOURCE);
	c = local4(skb, iph, r);
	if (c)
		return outcome(r->nn, c);
	if (uh->check && nf_ip_checksum(skb, state->hook, r->thoff, IPPROTO_UDP))
		return outcome(r->nn, NTPK_STATS_A_DROP_CHECKSUM);
	c = check_payload(skb, r);
	if (c)
		return outcome(r->nn, c);
	rl = rcu_dereference(r->nn->rl);
	if (rl) {
		c = rate_limit(r, rl, ntpk_rl_check4(rl, iph->saddr));
		if (c)
			return outcome(r->nn, c);
	}
	return reply4(state->net, skb, r);
}

static unsigned int ipv6_in(struct sk_buff *skb,
			    const struct nf_hook_state *state,
			    struct ntpk_req *r)
{
	const struct ipv6hdr *ip6h = ipv6_hdr(skb);
	const struct udphdr *uh;
	enum ntpk_stats_attr c;
	struct udphdr _uh;
	struct ntpk_rl *rl;
	bool unusual = false;
	int addr_type;

	r->thoff = sizeof(*ip6h);
	if (ip6h->nexthdr != IPPROTO_UDP) {
		u8 nexthdr = ip6h->nexthdr;
		__be16 frag_off = 0;
		int off;

		/* Extension headers: find out whether it is ours at all. */
		if (!ipv6_ext_hdr(nexthdr))
			return NF_ACCEPT;
		off = ipv6_skip_exthdr(skb, r->thoff, &nexthdr, &frag_off);
		if (off < 0 || nexthdr != IPPROTO_UDP ||
		    (frag_off & htons(IP6_OFFSET)))
			return NF_ACCEPT;
		r->thoff = off;
		unusual = true;
	}
	uh = skb_header_pointer(skb, r->thoff, sizeof(_uh), &_uh);
	if (!uh)
		return NF_ACCEPT;
	r->nn = ntpk_net(state->net);
	r->cfg = rcu_dereference(r->nn->cfg);
	/* A VRF's requests: as in ipv4_in(). */
	if (!port_served(r->cfg, uh->dest) || netif_is_l3_master(skb->dev))
		return NF_ACCEPT;
	r->rx = rx_time(skb);
	ntpk_count(r->nn, NTPK_STATS_A_REQUESTS);

	if (state->in->flags & IFF_LOOPBACK)
		return outcome(r->nn, NTPK_STATS_A_PASS_LOOPBACK);
	if (skb->pkt_type != PACKET_HOST || bridged_otherhost(skb) ||
	    netif_is_l3_slave(skb->dev) || ipv6_addr_is_multicast(&ip6h->daddr) ||
	    !addr6_served(r->cfg, &ip6h->daddr))
		return outcome(r->nn, NTPK_STATS_A_PASS_NOT_OURS);
	if (unusual || IP6CB(skb)->frag_max_size || skb_is_gso(skb))
		return outcome(r->nn, NTPK_STATS_A_PASS_UNUSUAL);
	c = check_udp(skb, uh, r);
	if (c)
		return outcome(r->nn, c);
	addr_type = ipv6_addr_type(&ip6h->saddr);
	if (!uh->source || addr_type == IPV6_ADDR_ANY ||
	    (addr_type & (IPV6_ADDR_MULTICAST | IPV6_ADDR_LOOPBACK |
			  IPV6_ADDR_MAPPED)))
		return outcome(r->nn, NTPK_STATS_A_PASS_BAD_SOURCE);
	c = local6(skb, ip6h, r);
	if (c)
		return outcome(r->nn, c);
	/* A zero UDP checksum is not allowed over IPv6 (RFC 8200). */
	if (!uh->check ||
	    nf_ip6_checksum(skb, state->hook, r->thoff, IPPROTO_UDP))
		return outcome(r->nn, NTPK_STATS_A_DROP_CHECKSUM);
	c = check_payload(skb, r);
	if (c)
		return outcome(r->nn, c);
	rl = rcu_dereference(r->nn->rl);
	if (rl) {
		c = rate_limit(r, rl, ntpk_rl_check6(rl, &ip6h->saddr));
		if (c)
			return outcome(r->nn, c);
	}
	return reply6(state->net, skb, r);
}

/*
 * A request we pass on goes to the stack as it arrived: without the input
 * route we looked up, which the stack looks up again after the mangle
 * table.
 */
static unsigned int ntpk_pass(struct sk_buff *skb, const struct ntpk_req *r,
			      unsigned int verdict)
{
	if (verdict == NF_ACCEPT && r->own_dst)
		skb_dst_drop(skb);
	return verdict;
}

/*
 * PRE_ROUTING runs in softirq, except for a packet an NFQUEUE rule in the
 * raw table queued: nf_reinject() runs the hooks after that rule (ours)
 * from the queue's netlink socket, in process context with only the RCU
 * read lock held.  The per-CPU counters are this CPU's only with BH
 * disabled, so there it is disabled for the whole of our work; in
 * softirq, this costs a test of preempt_count.  True when it was disabled
 * here, for bh_restore().
 */
static bool bh_hold(void)
{
	if (likely(in_softirq()))
		return false;
	local_bh_disable();
	return true;
}

static void bh_restore(bool held)
{
	if (unlikely(held))
		local_bh_enable();
}

static unsigned int ntpk_ipv4_in(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	struct ntpk_req r = { .thoff = ip_hdrlen(skb), .min_poll = S8_MIN };
	bool held = bh_hold();
	unsigned int v = ntpk_pass(skb, &r, ipv4_in(skb, state, &r));

	bh_restore(held);
	return v;
}

static unsigned int ntpk_ipv6_in(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	struct ntpk_req r = { .min_poll = S8_MIN };
	bool held = bh_hold();
	unsigned int v = ntpk_pass(skb, &r, ipv6_in(skb, state, &r));

	bh_restore(held);
	return v;
}

static const struct nf_hook_ops ntpk_nf_ops[] = {
	{
		.hook = ntpk_ipv4_in,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NTPK_PRI_IPV4,
	},
	{
		.hook = ntpk_ipv6_in,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NTPK_PRI_IPV6,
	},
};

/* Called under ntpk_net.lock (netlink), or as the namespace goes. */
int ntpk_set_enabled(struct net *net, bool on)
{
	struct ntpk_net *nn = ntpk_net(net);
	int err;

	if (nn->hooks_on == on)
		return 0;
	/*
	 * While we answer, have the stack stamp every packet as it is
	 * received (before RPS and the backlog queue), as it does whenever a
	 * socket asks for receive timestamps: the receive timestamp of a
	 * reply is then the time the request arrived, not the time it got to
	 * our hook.
	 */
	if (on) {
		err = nf_register_net_hooks(net, ntpk_nf_ops,
					    ARRAY_SIZE(ntpk_nf_ops));
		if (err)
			return err;
		net_enable_timestamp();
	} else {
		nf_unregister_net_hooks(net, ntpk_nf_ops,
					ARRAY_SIZE(ntpk_nf_ops));
		net_disable_timestamp();
	}
	nn->hooks_on = on;
	return 0;
}

/*
 * Unhook before the core's synchronize_rcu(), so that netns.c's exit,
 * after it, frees what no hook can still be reading.  Registered after
 * netns.c's pernet operations, so run before their exit, on namespace
 * teardown and on unload alike.
 */
static void __net_exit ntpk_hook_net_pre_exit(struct net *net)
{
	ntpk_set_enabled(net, false);
}

static struct pernet_operations ntpk_hook_net_ops = {
	.pre_exit = ntpk_hook_net_pre_exit,
};

int ntpk_hooks_init(void)
{
	return register_pernet_subsys(&ntpk_hook_net_ops);
}

void ntpk_hooks_uninit(void)
{
	unregister_pernet_subsys(&ntpk_hook_net_ops);
}
