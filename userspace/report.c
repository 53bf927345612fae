// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Every failure ends as one line on stderr and a documented exit code.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ipc.h"
#include "report.h"

const char *prog = "ntpkctl";
bool json_output;

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

int exit_code_for(int err)
{
	if (err == -EPERM || err == -EACCES)
		return EXIT_PERM;
	return err ? EXIT_FAILED : EXIT_OK;
}

int ipc_report(const struct ipc *ipc, int err, const char *fmt, ...)
{
	const char *ext = ipc ? ipc_extack(ipc) : NULL;
	va_list ap;

	if (!err && !ext)
		return EXIT_OK;
	fprintf(stderr, "%s: ", prog);
	if (!err)
		fputs("warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(-err));
	if (ext)
		fprintf(stderr, ": %s", ext);
	if (err == -EPERM || err == -EACCES)
		fputs(" (CAP_NET_ADMIN needed)", stderr);
	fputc('\n', stderr);
	return exit_code_for(err);
}

int ipc_connect(struct ipc **ipcp)
{
	int err = ipc_open(ipcp);

	if (err == -ENOENT) {
		fprintf(stderr,
			"%s: ntpk module not available (no generic netlink family \"%s\")\n",
			prog, NTPK_GENL_NAME);
		return EXIT_NOMODULE;
	}
	if (err)
		return ipc_report(NULL, err, "cannot open generic netlink");
	return EXIT_OK;
}
