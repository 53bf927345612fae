// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * state: push or forget the server state by hand (follow does it from the
 * daemon).
 */
#include <string.h>

#include "ipc.h"
#include "parse.h"
#include "report.h"
#include "subcommands.h"

enum {
	W_LEAP, W_STRATUM, W_PRECISION, W_REFID, W_ROOTDELAY, W_ROOTDISP,
	W_REFTIME, NWORDS
};

static const char *const words[NWORDS] = {
	[W_LEAP] = "leap",
	[W_STRATUM] = "stratum",
	[W_PRECISION] = "precision",
	[W_REFID] = "refid",
	[W_ROOTDELAY] = "rootdelay",
	[W_ROOTDISP] = "rootdisp",
	[W_REFTIME] = "reftime",
};

static int parse_state(int argc, char *argv[], struct ntpk_state *st)
{
	unsigned int seen = 0, k;
	const char *why;
	uint64_t u;
	int64_t s;
	int i;

	for (i = 2; i < argc; i++) {
		const char *w = argv[i], *v;

		for (k = 0; k < NWORDS; k++)
			if (!strcmp(w, words[k]))
				break;
		if (k == NWORDS)
			return usage_error("state set: unknown word \"%s\"", w);
		if (seen & 1U << k)
			return usage_error("state set: %s given twice", w);
		seen |= 1U << k;
		if (i + 1 >= argc)
			return usage_error("state set: %s needs a value", w);
		v = argv[++i];
		switch (k) {
		case W_LEAP:
			why = parse_uint(v, 0, 3, &u);
			st->leap = (uint8_t)u;
			break;
		case W_STRATUM:
			why = parse_uint(v, 0, 16, &u);
			st->stratum = (uint8_t)u;
			break;
		case W_PRECISION:
			why = parse_int(v, -32, 0, &s);
			st->precision = (int8_t)s;
			break;
		case W_REFID:
			why = parse_refid(v, st->refid);
			break;
		case W_ROOTDELAY:
			why = parse_ntp_short(v, &st->root_delay);
			break;
		case W_ROOTDISP:
			why = parse_ntp_short(v, &st->root_disp);
			break;
		default:
			why = parse_reftime(v, &st->reftime);
			break;
		}
		if (why)
			return usage_error("state set: invalid %s \"%s\": %s",
					   w, v, why);
	}
	for (k = 0; k < NWORDS; k++)
		if (!(seen & 1U << k))
			return usage_error("state set: %s is required", words[k]);
	return EXIT_OK;
}

int state_main(int argc, char *argv[])
{
	struct ntpk_state st = { 0 };
	struct ipc *ipc;
	int ret;

	if (argc < 2)
		return usage_error("state: expected set or clear");
	if (is_help(argv[1]))
		return command_usage(argv[0]), EXIT_OK;
	if (!strcmp(argv[1], "set")) {
		ret = parse_state(argc, argv, &st);
		if (ret)
			return ret;
	} else if (!strcmp(argv[1], "clear")) {
		if (argc > 2)
			return usage_error("state clear: unexpected \"%s\"",
					   argv[2]);
	} else {
		return usage_error("state: unknown word \"%s\" (set or clear)",
				   argv[1]);
	}

	ret = ipc_connect(&ipc);
	if (ret)
		return ret;
	if (argv[1][0] == 's')
		ret = ipc_report(ipc, ipc_state_set(ipc, &st), "state set");
	else
		ret = ipc_report(ipc, ipc_command(ipc, NTPK_CMD_STATE_CLEAR),
				 "state clear");
	ipc_close(ipc);
	return ret;
}
