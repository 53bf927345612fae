/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The netlink boundary.  Every function returns 0 or a negative errno; when
 * the kernel explained a failure (extended ack), ipc_extack() has the text.
 */
#ifndef NTPKCTL_IPC_H
#define NTPKCTL_IPC_H

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
int ipc_state_set(struct ipc *ipc, const struct ntpk_state *st);
/* NTPK_CMD_STATE_CLEAR with NTPK_A_REASON; reason 0 sends none. */
int ipc_state_clear(struct ipc *ipc, uint32_t reason);
/* NTPK_CMD_ADDR_ADD or NTPK_CMD_ADDR_DEL. */
int ipc_addr(struct ipc *ipc, uint8_t cmd, const struct ntpk_addr *addr);
/* A command without attributes: STATE_CLEAR, STATS_RESET, ADDR_FLUSH. */
int ipc_command(struct ipc *ipc, uint8_t cmd);

#endif
