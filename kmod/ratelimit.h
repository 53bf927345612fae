/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _NTPK_RATELIMIT_H
#define _NTPK_RATELIMIT_H

#include <linux/types.h>
#include <linux/in6.h>

struct ntpk_rl_params {
	u32 flags;		/* NTPK_RL_F_* */
	s8 interval;		/* log2 seconds */
	u8 leak;		/* answer 1 in 2^leak limited requests; 0: none */
	u8 v6_prefix;
	u32 burst;
	u32 table_size;		/* power of two */
};

enum ntpk_rl_verdict {
	NTPK_RL_PASS,
	NTPK_RL_LEAK,
	NTPK_RL_KOD,
	NTPK_RL_DROP,
};

struct ntpk_rl;

void ntpk_rl_default(struct ntpk_rl_params *p);
struct ntpk_rl *ntpk_rl_create(const struct ntpk_rl_params *p);
void ntpk_rl_free(struct ntpk_rl *rl);
void ntpk_rl_free_rcu(struct ntpk_rl *rl);
const struct ntpk_rl_params *ntpk_rl_params(const struct ntpk_rl *rl);
enum ntpk_rl_verdict ntpk_rl_check4(struct ntpk_rl *rl, __be32 addr);
enum ntpk_rl_verdict ntpk_rl_check6(struct ntpk_rl *rl,
				    const struct in6_addr *addr);

#endif /* _NTPK_RATELIMIT_H */
