// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The VIPs on the announcing device, over rtnetlink (vip.h).  Addresses go
 * on with global scope, as host routes, and IPv6 ones without duplicate
 * address detection: the same VIP is on every node of the cluster, and a
 * tentative address is neither usable nor exported by a routing daemon.
 * Each goes on with a finite lifetime, the lease, that the caller renews:
 * a follow killed outright leaves addresses that the kernel removes when
 * their lease runs out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "vip.h"

struct vip {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char dev[IF_NAMESIZE];
	struct ntpk_addr addrs[VIP_MAX];
	unsigned int n;
	char buf[8192] __attribute__((aligned(8)));
};

int vip_open(const char *dev, const struct ntpk_addr *addrs, unsigned int n,
	     struct vip **vp)
{
	struct vip *v;
	int err;

	if (n > VIP_MAX || strlen(dev) >= IF_NAMESIZE)
		return -EINVAL;
	if (!if_nametoindex(dev))
		return -errno;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v->dev, dev, strlen(dev) + 1);
	memcpy(v->addrs, addrs, n * sizeof(*addrs));
	v->n = n;
	v->seq = (uint32_t)time(NULL);
	v->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!v->nl)
		goto fail;
	if (mnl_socket_bind(v->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	v->portid = mnl_socket_get_portid(v->nl);
	*vp = v;
	return 0;
fail:
	err = -errno;
	vip_close(v);
	return err;
}

void vip_close(struct vip *v)
{
	if (!v)
		return;
	if (v->nl)
		mnl_socket_close(v->nl);
	free(v);
}

/* One RTM_NEWADDR or RTM_DELADDR, and its ack. */
static int vip_one(struct vip *v, unsigned int ifindex,
		   const struct ntpk_addr *a, bool present, uint32_t lease_s)
{
	struct ifa_cacheinfo ci = {
		.ifa_prefered = lease_s,
		.ifa_valid = lease_s,
	};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(v->buf);
	struct ifaddrmsg *ifa;
	size_t alen = a->family == AF_INET ? sizeof(a->in) : sizeof(a->in6);
	ssize_t got;
	int ret;

	nlh->nlmsg_type = present ? RTM_NEWADDR : RTM_DELADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (present)
		nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_REPLACE;
	nlh->nlmsg_seq = ++v->seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = a->family == AF_INET ? 32 : 128;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, alen, &a->in6);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, &a->in6);
	if (present)
		mnl_attr_put(nlh, IFA_CACHEINFO, sizeof(ci), &ci);
	if (a->family == AF_INET6 && present)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);

	if (mnl_socket_sendto(v->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		got = mnl_socket_recvfrom(v->nl, v->buf, sizeof(v->buf));
		if (got < 0)
			return -errno;
		ret = mnl_cb_run(v->buf, (size_t)got, v->seq, v->portid,
				 NULL, NULL);
	} while (ret > 0);
	if (ret < 0 && !present && errno == EADDRNOTAVAIL)
		return 0;		/* already off */
	return ret < 0 ? -errno : 0;
}

int vip_apply(struct vip *v, bool present, uint32_t lease_s, char *what,
	      size_t len)
{
	char abuf[INET6_ADDRSTRLEN];
	unsigned int i, ifindex;
	int err;

	ifindex = if_nametoindex(v->dev);
	if (!ifindex) {
		err = -errno;
		snprintf(what, len, "device %s", v->dev);
		/* No device, no address on it: withdrawn all the same. */
		return present || err != -ENODEV ? err : 0;
	}
	for (i = 0; i < v->n; i++) {
		err = vip_one(v, ifindex, &v->addrs[i], present, lease_s);
		if (err) {
			inet_ntop(v->addrs[i].family, &v->addrs[i].in6, abuf,
				  sizeof(abuf));
			snprintf(what, len, "%s on %s", abuf, v->dev);
			return err;
		}
	}
	return 0;
}
