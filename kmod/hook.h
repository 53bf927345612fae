/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _NTPK_HOOK_H
#define _NTPK_HOOK_H

#include <linux/types.h>

struct net;

int ntpk_hooks_init(void);
void ntpk_hooks_uninit(void);
/* Registers or unregisters the namespace's hooks: the fast path's switch. */
int ntpk_set_enabled(struct net *net, bool on);

#endif /* _NTPK_HOOK_H */
