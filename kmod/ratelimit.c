// SPDX-License-Identifier: GPL-2.0
/*
 * Per-client rate limiting with chrony's semantics (interval, burst, leak,
 * kod), for millions of clients and without locks.
 *
 * Each client hashes (siphash, per-table random key, so collisions cannot be
 * aimed) to one 8-byte slot of a power-of-two table.  The slot holds the
 * client's theoretical arrival time (GCRA, the virtual-scheduling form of a
 * token bucket): a request at time t conforms when tat - t <= (burst - 1) *
 * period, and then moves tat to max(tat, t) + period.  Clients that collide
 * share a budget; nobody else's slot is ever touched.
 *
 * Updates are plain loads and stores: two CPUs racing on one slot may lose an
 * update, which only makes the count approximate.  A slot value that no
 * sequence of updates could produce (torn on 32-bit, or left by a clock
 * jump) is treated as idle, so no client can be blocked forever.
 */
#include <linux/bitops.h>
#include <linux/log2.h>
#include <linux/random.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "uapi/linux/ntpk.h"
#include "ratelimit.h"

struct ntpk_rl {
	struct rcu_head rcu;
	struct ntpk_rl_params p;
	u64 period;		/* ns */
	u64 tolerance;		/* ns: (burst - 1) * period */
	u32 leak_mask;
	u32 mask;		/* table_size - 1 */
	u64 v6_mask_hi;
	u64 v6_mask_lo;
	siphash_key_t key;
	u64 slots[];
};

void ntpk_rl_default(struct ntpk_rl_params *p)
{
	p->flags = 0;
	p->interval = NTPK_RL_INTERVAL_DEFAULT;
	p->burst = NTPK_RL_BURST_DEFAULT;
	p->leak = NTPK_RL_LEAK_DEFAULT;
	p->table_size = NTPK_RL_TABLE_DEFAULT;
	p->v6_prefix = NTPK_RL_V6_PREFIX_DEFAULT;
}

static u64 prefix_mask(unsigned int bits)
{
	if (!bits)
		return 0;
	if (bits >= 64)
		return ~0ULL;
	return ~0ULL << (64 - bits);
}

struct ntpk_rl *ntpk_rl_create(const struct ntpk_rl_params *p)
{
	struct ntpk_rl *rl;

	if (!is_power_of_2(p->table_size))
		return ERR_PTR(-EINVAL);
	/*
	 * Up to 256 MiB, pinned for as long as the setting stays: charged to
	 * the memory cgroup of whoever asked (root of any user namespace may
	 * ask, see netlink.c).  A failure reaches them as an error message,
	 * so the kernel log need not say it too.
	 */
	rl = kvzalloc(struct_size(rl, slots, p->table_size),
		      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!rl)
		return ERR_PTR(-ENOMEM);
	rl->p = *p;
	if (p->interval >= 0)
		rl->period = NSEC_PER_SEC << p->interval;
	else
		rl->period = NSEC_PER_SEC >> -p->interval;
	rl->tolerance = (u64)(p->burst - 1) * rl->period;
	rl->leak_mask = p->leak ? (1U << p->leak) - 1 : U32_MAX;
	rl->mask = p->table_size - 1;
	rl->v6_mask_hi = prefix_mask(p->v6_prefix);
	rl->v6_mask_lo = p->v6_prefix > 64 ? prefix_mask(p->v6_prefix - 64) : 0;
	get_random_bytes(&rl->key, sizeof(rl->key));
	return rl;
}

void ntpk_rl_free(struct ntpk_rl *rl)
{
	kvfree(rl);
}

void ntpk_rl_free_rcu(struct ntpk_rl *rl)
{
	if (rl)
		kvfree_rcu(rl, rcu);
}

const struct ntpk_rl_params *ntpk_rl_params(const struct ntpk_rl *rl)
{
	return &rl->p;
}

static enum ntpk_rl_verdict rl_account(struct ntpk_rl *rl, u64 hash)
{
	u64 *slot = &rl->slots[hash & rl->mask];
	u64 now = ktime_get_mono_fast_ns();
	u64 limit = now + rl->tolerance;
	u64 tat = READ_ONCE(*slot);

	/* Idle, or a value no update could have left (see the top). */
	if (tat < now || tat > limit + 2 * rl->period)
		tat = now;
	if (tat <= limit) {
		WRITE_ONCE(*slot, tat + rl->period);
		return NTPK_RL_PASS;
	}
	if (rl->leak_mask != U32_MAX && !(get_random_u32() & rl->leak_mask))
		return NTPK_RL_LEAK;
	/* One KoD per period at most: it costs the client a period too. */
	if ((rl->p.flags & NTPK_RL_F_KOD) && tat <= limit + rl->period) {
		WRITE_ONCE(*slot, tat + rl->period);
		return NTPK_RL_KOD;
	}
	return NTPK_RL_DROP;
}

enum ntpk_rl_verdict ntpk_rl_check4(struct ntpk_rl *rl, __be32 addr)
{
	return rl_account(rl, siphash_1u32((__force u32)addr, &rl->key));
}

enum ntpk_rl_verdict ntpk_rl_check6(struct ntpk_rl *rl,
				    const struct in6_addr *addr)
{
	u64 hi = get_unaligned_be64(&addr->s6_addr[0]) & rl->v6_mask_hi;
	u64 lo = get_unaligned_be64(&addr->s6_addr[8]) & rl->v6_mask_lo;

	return rl_account(rl, siphash_2u64(hi, lo, &rl->key));
}
