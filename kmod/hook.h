/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _NTPK_HOOK_H
#define _NTPK_HOOK_H

struct net;

int ntpk_hooks_register(struct net *net);
void ntpk_hooks_unregister(struct net *net);

#endif /* _NTPK_HOOK_H */
