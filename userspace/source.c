// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Choosing a source (see source.h); what the sources share is in
 * src_common.c.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "source.h"

int src_open(const char *spec, struct source **srcp)
{
	struct stat st;

	if (!strcmp(spec, "chronyd"))
		return src_chronyd_open(SRC_CHRONYD_SOCKET, srcp);
	if (!strncmp(spec, "chronyd:", 8))
		return src_chronyd_open(spec + 8, srcp);
	if (strcmp(spec, "auto"))
		return src_ntp_open(spec, srcp);
	/*
	 * A socket we may not look at is still chronyd's: following it then
	 * says why it cannot, instead of quietly polling over NTP.
	 */
	if (stat(SRC_CHRONYD_SOCKET, &st) == 0 ||
	    (errno != ENOENT && errno != ENOTDIR))
		return src_chronyd_open(SRC_CHRONYD_SOCKET, srcp);
	return src_ntp_open(SRC_NTP_DEFAULT, srcp);
}

void src_close(struct source *src)
{
	if (src)
		src->ops->close(src);
}
