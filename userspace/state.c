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

/* The first NREQUIRED are required; the error words go together. */
enum {
	W_LEAP, W_STRATUM, W_PRECISION, W_REFID, W_ROOTDELAY, W_ROOTDISP,
	W_REFTIME, NREQUIRED,
	W_DISPRATE = NREQUIRED, W_CORRECTION, W_ERROR, W_MAXERROR, NWORDS
};

#define ERROR_WORDS (1U << W_CORRECTION | 1U << W_ERROR | 1U << W_MAXERROR)

/* Far beyond any clock error worth serving; keeps ns within int64_t. */
#define ERROR_MAX_SEC 1000000

static const char *const words[NWORDS] = {
	[W_LEAP] = "leap",
	[W_STRATUM] = "stratum",
	[W_PRECISION] = "precision",
	[W_REFID] = "refid",
	[W_ROOTDELAY] = "rootdelay",
	[W_ROOTDISP] = "rootdisp",
	[W_REFTIME] = "reftime",
	[W_DISPRATE] = "disprate",
	[W_CORRECTION] = "correction",
	[W_ERROR] = "error",
	[W_MAXERROR] = "maxerror",
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
		case W_REFTIME:
			why = parse_reftime(v, &st->reftime);
			break;
		case W_DISPRATE:
			why = parse_uint(v, 0, NTPK_DISP_RATE_MAX, &u);
			st->disp_rate = (uint32_t)u;
			st->has_disp_rate = true;
			break;
		case W_CORRECTION:
			why = parse_nsec(v, true, ERROR_MAX_SEC, &st->correction_ns);
			break;
		case W_ERROR:
			why = parse_nsec(v, false, ERROR_MAX_SEC, &s);
			st->error_ns = (uint64_t)s;
			break;
		default:
			why = parse_nsec(v, false, ERROR_MAX_SEC, &s);
			st->max_error_ns = (uint64_t)s;
			break;
		}
		if (why)
			return usage_error("state set: invalid %s \"%s\": %s",
					   w, v, why);
	}
	for (k = 0; k < NREQUIRED; k++)
		if (!(seen & 1U << k))
			return usage_error("state set: %s is required", words[k]);
	if ((seen & ERROR_WORDS) && (seen & ERROR_WORDS) != ERROR_WORDS)
		return usage_error("state set: correction, error and maxerror go together");
	st->has_error = seen & ERROR_WORDS;
	return EXIT_OK;
}

static int parse_clear(int argc, char *argv[], uint32_t *reason)
{
	const char *why;

	if (argc == 2)
		return EXIT_OK;
	if (strcmp(argv[2], "reason"))
		return usage_error("state clear: unexpected \"%s\"", argv[2]);
	if (argc == 3)
		return usage_error("state clear: reason needs a value");
	if (argc > 4)
		return usage_error("state clear: unexpected \"%s\"", argv[4]);
	why = parse_clear_reason(argv[3], reason);
	if (why)
		return usage_error("state clear: invalid reason \"%s\": %s",
				   argv[3], why);
	return EXIT_OK;
}

int state_main(int argc, char *argv[])
{
	struct ntpk_state st = { 0 };
	uint32_t reason = 0;
	struct ipc *ipc;
	int ret;

	if (argc < 2)
		return usage_error("state: expected set or clear");
	if (!strcmp(argv[1], "set")) {
		ret = parse_state(argc, argv, &st);
		if (ret)
			return ret;
	} else if (!strcmp(argv[1], "clear")) {
		ret = parse_clear(argc, argv, &reason);
		if (ret)
			return ret;
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
		ret = ipc_report(ipc, ipc_state_clear(ipc, reason),
				 "state clear");
	ipc_close(ipc);
	return ret;
}
