/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel API difference ntpk meets, in one place (kmod/Kbuild
 * force-includes this header into every object, as wireguard-linux-compat
 * does).  The .c files are written against the newest API; each block below
 * names the kernel that changed it and recreates the new API on the kernels
 * before.
 *
 * Built and tested on Debian 12's kernels: 6.1 and 6.12.  Nothing here is
 * claimed for other versions; see the note on older kernels at the end.
 */
#ifndef _NTPK_COMPAT_H
#define _NTPK_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "ntpk needs Linux 6.1 or later"
#endif

/*
 * 6.2 ("genetlink: use a separate type for split ops") gave the family's
 * pre_doit/post_doit a const struct genl_split_ops *; before, they took the
 * const struct genl_ops * that the new type was split from.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define genl_split_ops genl_ops
#endif

/*
 * 6.12 ("move asm/unaligned.h to linux/unaligned.h") moved the
 * get_unaligned_*() helpers out of <asm/>.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
#include <asm/unaligned.h>
#else
#include <linux/unaligned.h>
#endif

/*
 * 6.11 ("net: Rename mono_delivery_time to tstamp_type for scalabilty")
 * replaced the skb->mono_delivery_time bit with skb->tstamp_type.  No shim:
 * hook.c asks skb_tstamp(), which every kernel since 5.18 has, and which
 * returns 0 when skb->tstamp holds a delivery time rather than a receive
 * time, whichever field says so.
 *
 * Older kernels: 5.10 to 6.0 would need at least skb_tstamp() (5.18) and
 * genl_family.resv_start_op (6.0); nobody builds or tests ntpk there.
 */

#endif /* _NTPK_COMPAT_H */
