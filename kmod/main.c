// SPDX-License-Identifier: GPL-2.0
/*
 * ntpk: answers plain NTP client requests in the kernel, before conntrack,
 * with kernel-clock timestamps; everything else goes on to the daemon.
 */
#include <linux/module.h>
#include <net/genetlink.h>

#include "hook.h"
#include "netns.h"
#include "netlink.h"

static int __init ntpk_init(void)
{
	int err;

	err = ntpk_netns_init();
	if (err)
		goto err_netns;
	err = ntpk_hooks_init();
	if (err)
		goto err_hooks;
	err = ntpk_genl_init();
	if (err)
		goto err_genl;
	pr_info("loaded; configure with ntpkctl\n");
	return 0;

err_genl:
	ntpk_hooks_uninit();
err_hooks:
	ntpk_netns_uninit();
err_netns:
	return err;
}

static void __exit ntpk_exit(void)
{
	ntpk_genl_uninit();
	ntpk_hooks_uninit();
	ntpk_netns_uninit();
}

module_init(ntpk_init);
module_exit(ntpk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Fast path for NTP servers: answers client requests before conntrack");
MODULE_AUTHOR("The ntpk developers");
MODULE_ALIAS_GENL_FAMILY(NTPK_GENL_NAME);
MODULE_VERSION(NTPK_VERSION);
