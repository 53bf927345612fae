// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * set and ratelimit: both become one NTPK_CMD_SET message, so that a
 * command line is applied whole or not at all.
 */
#include <string.h>

#include "ipc.h"
#include "parse.h"
#include "report.h"
#include "subcommands.h"

/* The value after a keyword, or NULL (the caller reports it missing). */
static const char *value_of(int argc, char *argv[], int *i)
{
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static int send_set(const struct ntpk_config *cfg,
		    const struct ntpk_ratelimit *rl, bool flags_rmw, bool enable)
{
	static struct ntpk_model cur;
	struct ntpk_config c;
	struct ipc *ipc;
	int ret, err;

	ret = ipc_connect(&ipc);
	if (ret)
		return ret;
	c = cfg ? *cfg : (struct ntpk_config){ 0 };
	if (flags_rmw) {
		/* Only ENABLED exists today; keep any bit we do not know. */
		err = ipc_get(ipc, &cur);
		if (err) {
			ret = ipc_report(ipc, err, "get");
			goto out;
		}
		c.flags = cur.config.flags;
		if (enable)
			c.flags |= NTPK_CONFIG_F_ENABLED;
		else
			c.flags &= ~(uint32_t)NTPK_CONFIG_F_ENABLED;
		c.has |= CONFIG_HAS_FLAGS;
	}
	ret = ipc_report(ipc, ipc_set(ipc, &c, rl), "set");
out:
	ipc_close(ipc);
	return ret;
}

int set_main(int argc, char *argv[])
{
	struct ntpk_config cfg = { 0 };
	bool have_enable = false, enable = false;
	const char *v, *why;
	uint64_t u;
	int i;

	if (argc < 2)
		return usage_error("set: nothing to set (enable, disable, port, max-age, leap-window, dscp)");
	for (i = 1; i < argc; i++) {
		const char *w = argv[i];

		if (!strcmp(w, "enable") || !strcmp(w, "disable")) {
			if (have_enable)
				return usage_error("set: enable/disable given twice");
			have_enable = true;
			enable = w[0] == 'e';
		} else if (!strcmp(w, "port")) {
			if (cfg.has & CONFIG_HAS_PORTS)
				return usage_error("set: port given twice");
			v = value_of(argc, argv, &i);
			if (!v)
				return usage_error("set: port needs a value");
			why = parse_ports(v, cfg.ports, &cfg.nports);
			if (why)
				return usage_error("set: invalid port \"%s\": %s",
						   v, why);
			cfg.has |= CONFIG_HAS_PORTS;
		} else if (!strcmp(w, "max-age")) {
			if (cfg.has & CONFIG_HAS_MAX_AGE)
				return usage_error("set: max-age given twice");
			v = value_of(argc, argv, &i);
			if (!v)
				return usage_error("set: max-age needs a value");
			why = parse_uint(v, 1, NTPK_MAX_AGE_MAX, &u);
			if (why)
				return usage_error("set: invalid max-age \"%s\": %s",
						   v, why);
			cfg.max_age = (uint32_t)u;
			cfg.has |= CONFIG_HAS_MAX_AGE;
		} else if (!strcmp(w, "leap-window")) {
			if (cfg.has & CONFIG_HAS_LEAP_WINDOW)
				return usage_error("set: leap-window given twice");
			v = value_of(argc, argv, &i);
			if (!v)
				return usage_error("set: leap-window needs a value");
			why = parse_msec(v, 0, NTPK_LEAP_WINDOW_MAX, &u);
			if (why)
				return usage_error("set: invalid leap-window \"%s\": %s",
						   v, why);
			cfg.leap_window_ms = (uint32_t)u;
			cfg.has |= CONFIG_HAS_LEAP_WINDOW;
		} else if (!strcmp(w, "dscp")) {
			if (cfg.has & CONFIG_HAS_DSCP)
				return usage_error("set: dscp given twice");
			v = value_of(argc, argv, &i);
			if (!v)
				return usage_error("set: dscp needs a value");
			why = parse_uint(v, 0, NTPK_DSCP_MAX, &u);
			if (why)
				return usage_error("set: invalid dscp \"%s\": %s",
						   v, why);
			cfg.dscp = (uint8_t)u;
			cfg.has |= CONFIG_HAS_DSCP;
		} else {
			return usage_error("set: unknown word \"%s\"", w);
		}
	}
	return send_set(&cfg, NULL, have_enable, enable);
}

static int parse_ratelimit_words(int argc, char *argv[],
				 struct ntpk_ratelimit *rl)
{
	unsigned int seen = 0;
	const char *v, *why;
	uint64_t u;
	int64_t s;
	bool on;
	int i;

	static const char *const words[] = {
		"interval", "burst", "leak", "kod", "table-size", "v6-prefix",
	};

	for (i = 2; i < argc; i++) {
		const char *w = argv[i];
		unsigned int k;

		for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
			if (!strcmp(w, words[k]))
				break;
		if (k == sizeof(words) / sizeof(words[0]))
			return usage_error("ratelimit set: unknown word \"%s\"", w);
		if (seen & 1U << k)
			return usage_error("ratelimit set: %s given twice", w);
		seen |= 1U << k;
		v = value_of(argc, argv, &i);
		if (!v)
			return usage_error("ratelimit set: %s needs a value", w);
		switch (k) {
		case 0:
			why = parse_int(v, -19, 12, &s);
			rl->interval = (int8_t)s;
			break;
		case 1:
			why = parse_uint(v, 1, 255, &u);
			rl->burst = (uint32_t)u;
			break;
		case 2:
			why = parse_uint(v, 0, 16, &u);
			rl->leak = (uint8_t)u;
			break;
		case 3:
			why = parse_onoff(v, &on);
			if (on)
				rl->flags |= NTPK_RL_F_KOD;
			break;
		case 4:
			why = parse_uint(v, NTPK_RL_TABLE_MIN, NTPK_RL_TABLE_MAX, &u);
			if (!why && (u & (u - 1)))
				why = "must be a power of two";
			rl->table_size = (uint32_t)u;
			break;
		default:
			why = parse_uint(v, 16, 128, &u);
			rl->v6_prefix = (uint8_t)u;
			break;
		}
		if (why)
			return usage_error("ratelimit set: invalid %s \"%s\": %s",
					   w, v, why);
	}
	return EXIT_OK;
}

int ratelimit_main(int argc, char *argv[])
{
	struct ntpk_ratelimit rl;
	int ret;

	if (argc < 2)
		return usage_error("ratelimit: expected set or off");
	ratelimit_defaults(&rl);
	if (!strcmp(argv[1], "off")) {
		if (argc > 2)
			return usage_error("ratelimit off: unexpected \"%s\"",
					   argv[2]);
	} else if (!strcmp(argv[1], "set")) {
		rl.flags = NTPK_RL_F_ENABLED;
		ret = parse_ratelimit_words(argc, argv, &rl);
		if (ret)
			return ret;
	} else {
		return usage_error("ratelimit: unknown word \"%s\" (set or off)",
				   argv[1]);
	}
	return send_set(NULL, &rl, false, false);
}
