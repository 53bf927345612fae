/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _NTPK_NETLINK_H
#define _NTPK_NETLINK_H

int ntpk_genl_init(void);
void ntpk_genl_uninit(void);

#endif /* _NTPK_NETLINK_H */
