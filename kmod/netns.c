// SPDX-License-Identifier: GPL-2.0
/*
 * Per network namespace state: configuration, server state, rate limiter and
 * counters.  Writers (netlink, under nn->lock) swap whole objects; the hooks
 * read them under RCU.
 */
#include <linux/netdevice.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "netns.h"
#include "ratelimit.h"

unsigned int ntpk_net_id __read_mostly;

static int __net_init ntpk_net_init(struct net *net)
{
	struct ntpk_net *nn = ntpk_net(net);
	struct ntpk_config *cfg;

	cfg = kzalloc(sizeof(*cfg), GFP_KERNEL);
	if (!cfg)
		return -ENOMEM;
	cfg->max_age = NTPK_MAX_AGE_DEFAULT;
	cfg->leap_window_ms = NTPK_LEAP_WINDOW_DEFAULT;
	cfg->leap_window = ms_to_ktime(NTPK_LEAP_WINDOW_DEFAULT);
	cfg->nports = 1;
	cfg->ports[0] = htons(NTPK_PORT_DEFAULT);

	nn->stats = netdev_alloc_pcpu_stats(struct ntpk_pcpu_stats);
	if (!nn->stats) {
		kfree(cfg);
		return -ENOMEM;
	}
	mutex_init(&nn->lock);
	nn->clear_reason = NTPK_REASON_NEVER_PUSHED;
	/* A namespace's user namespace never changes: map its root once. */
	nn->uid = sock_net_uid(net, NULL);
	RCU_INIT_POINTER(nn->cfg, cfg);
	return 0;
}

static void __net_exit ntpk_net_exit(struct net *net)
{
	struct ntpk_net *nn = ntpk_net(net);

	/* No netlink socket of this namespace is left: nothing writes. */
	ntpk_rl_free(rcu_dereference_protected(nn->rl, true));
	kfree(rcu_dereference_protected(nn->state, true));
	kfree(rcu_dereference_protected(nn->cfg, true));
	free_percpu(nn->stats);
}

static struct pernet_operations ntpk_net_ops = {
	.init = ntpk_net_init,
	.exit = ntpk_net_exit,
	.id = &ntpk_net_id,
	.size = sizeof(struct ntpk_net),
};

static void stats_sum(struct ntpk_net *nn, u64 *sum)
{
	int cpu, i;

	memset(sum, 0, sizeof(u64) * __NTPK_STATS_A_MAX);
	for_each_possible_cpu(cpu) {
		const struct ntpk_pcpu_stats *st = per_cpu_ptr(nn->stats, cpu);
		u64 v[__NTPK_STATS_A_MAX];
		unsigned int start;

		do {
			start = u64_stats_fetch_begin(&st->syncp);
			for (i = 0; i < __NTPK_STATS_A_MAX; i++)
				v[i] = u64_stats_read(&st->cnt[i]);
		} while (u64_stats_fetch_retry(&st->syncp, start));
		for (i = 0; i < __NTPK_STATS_A_MAX; i++)
			sum[i] += v[i];
	}
}

/*
 * The per-CPU counters only ever grow: a reset records the current sums and
 * readers subtract them, so no CPU's counter is ever written from outside.
 */
void ntpk_stats_read(struct ntpk_net *nn, u64 *sum)
{
	int i;

	stats_sum(nn, sum);
	for (i = 0; i < __NTPK_STATS_A_MAX; i++)
		sum[i] -= nn->stats_base[i];
}

void ntpk_stats_reset(struct ntpk_net *nn)
{
	stats_sum(nn, nn->stats_base);
}

int ntpk_netns_init(void)
{
	return register_pernet_subsys(&ntpk_net_ops);
}

void ntpk_netns_uninit(void)
{
	unregister_pernet_subsys(&ntpk_net_ops);
}
