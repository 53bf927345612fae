/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The netlink boundary.  Every function returns 0 or a negative errno; when
 * the kernel explained a failure (extended ack), ipc_extack() has the text.
 */
#ifndef NTPKCTL_IPC_H
#define NTPKCTL_IPC_H

#include <stdbool.h>
#include <stdint.h>
#include "model.h"

struct ipc;

/* -ENOENT means the "ntpk" family is absent and could not be autoloaded. */
int ipc_open(struct ipc **ipcp);
void ipc_close(struct ipc *ipc);
const char *ipc_extack(const struct ipc *ipc);

int ipc_get(struct ipc *ipc, struct ntpk_model *m);
int ipc_addr_list(struct ipc *ipc, struct ntpk_model *m);
/* Sends the members cfg->has names, and the whole rate limit when rl. */
int ipc_set(struct ipc *ipc, const struct ntpk_config *cfg,
	    const struct ntpk_ratelimit *rl);
/* The optional members go when their has_ flags say so. */
int ipc_state_set(struct ipc *ipc, const struct ntpk_state *st);
/* reason NTPK_REASON_*, or 0 to send none (the kernel takes CLEARED). */
int ipc_state_clear(struct ipc *ipc, uint32_t reason);
/* The time service's verdict: reason NTPK_REASON_*, NONE when good. */
int ipc_service_set(struct ipc *ipc, uint32_t reason, bool announced);
/* NTPK_CMD_ADDR_ADD or NTPK_CMD_ADDR_DEL. */
int ipc_addr(struct ipc *ipc, uint8_t cmd, const struct ntpk_addr *addr);
/* A command without attributes: STATS_RESET, ADDR_FLUSH. */
int ipc_command(struct ipc *ipc, uint8_t cmd);

#endif
