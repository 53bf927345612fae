/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Exit codes and the one-line error messages that go with them.
 */
#ifndef NTPKCTL_REPORT_H
#define NTPKCTL_REPORT_H

#include <stdbool.h>

struct ipc;

/* Documented in the help text; scripts depend on them. */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,	/* the kernel refused, or follow --once failed */
	EXIT_USAGE = 2,		/* unknown word or bad value */
	EXIT_NOMODULE = 3,	/* no "ntpk" generic netlink family */
	EXIT_PERM = 4,		/* EPERM or EACCES: CAP_NET_ADMIN needed */
};

extern const char *prog;
/* -j: JSON instead of text, where a command has both. */
extern bool json_output;

int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit code for a negative errno from ipc_*(). */
int exit_code_for(int err);
/*
 * For err < 0 prints "ntpkctl: WHAT: strerror: extack" and returns the exit
 * code; for 0 prints the kernel's warning, if any, and returns EXIT_OK.
 */
int ipc_report(const struct ipc *ipc, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* ipc_open() and its message; returns an exit code. */
int ipc_connect(struct ipc **ipcp);

#endif
