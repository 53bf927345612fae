/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The anycast addresses (VIPs) on the device a routing daemon announces
 * from: added as host routes (/32, /128) or removed, over rtnetlink.  BIRD's
 * "direct" and FRR's "connected" routes follow the addresses; nothing here
 * knows about BGP.
 */
#ifndef NTPKCTL_VIP_H
#define NTPKCTL_VIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model.h"

#define VIP_MAX 16

struct vip;

/* dev must exist now; it is looked up by name again on every change. */
int vip_open(const char *dev, const struct ntpk_addr *addrs, unsigned int n,
	     struct vip **vp);
void vip_close(struct vip *v);
/*
 * Puts every address on the device (present) or takes every one off;
 * those already as asked count as done.  An address put on lives lease_s
 * seconds (its valid and preferred lifetimes), after which the kernel
 * removes it, unless it is put on again; putting it on again renews it.
 * 0, or the first -errno, with what names the address or the device that
 * failed.
 */
int vip_apply(struct vip *v, bool present, uint32_t lease_s, char *what,
	      size_t len);

#endif
