// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The read side: show and stats print the model that NTPK_CMD_GET fills,
 * as fixed text (documented in 'ntpkctl help show'), JSON or Prometheus.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "ipc.h"
#include "json.h"
#include "report.h"
#include "subcommands.h"

static void print_ratelimit_text(const struct ntpk_ratelimit *rl)
{
	if (!(rl->flags & NTPK_RL_F_ENABLED)) {
		printf("  ratelimit: off\n");
		return;
	}
	printf("  ratelimit: interval %d burst %" PRIu32 " leak %u kod %s"
	       " table-size %" PRIu32 " v6-prefix %u\n",
	       rl->interval, rl->burst, rl->leak,
	       rl->flags & NTPK_RL_F_KOD ? "on" : "off",
	       rl->table_size, rl->v6_prefix);
}

static void print_counters_text(const struct ntpk_model *m, const char *indent)
{
	unsigned int i;

	for (i = 0; i < ntpk_ncounters; i++)
		printf("%s%s: %" PRIu64 "\n", indent, ntpk_counters[i].name,
		       m->stats[ntpk_counters[i].attr]);
}

static void print_show_text(const struct ntpk_model *m)
{
	const struct ntpk_config *cfg = &m->config;
	const struct ntpk_state *st = &m->state;
	char buf[FMT_LEN];
	unsigned int i;

	printf("config:\n");
	if (cfg->has & CONFIG_HAS_FLAGS)
		printf("  enabled: %s\n",
		       cfg->flags & NTPK_CONFIG_F_ENABLED ? "yes" : "no");
	if (cfg->has & CONFIG_HAS_PORTS) {
		printf("  ports: ");
		for (i = 0; i < cfg->nports; i++)
			printf("%s%u", i ? "," : "", cfg->ports[i]);
		printf("\n");
	}
	if (cfg->has & CONFIG_HAS_MAX_AGE)
		printf("  max_age: %" PRIu32 "\n", cfg->max_age);
	printf("  addresses: ");
	if (!m->naddrs)
		printf("any");
	for (i = 0; i < m->naddrs; i++)
		printf("%s%s", i ? "," : "", format_addr(&m->addrs[i], buf));
	printf("\n");
	if (m->has_ratelimit)
		print_ratelimit_text(&m->ratelimit);

	if (!m->has_state) {
		printf("state: none\n");
	} else {
		printf("state:\n");
		printf("  leap: %u\n", st->leap);
		printf("  stratum: %u\n", st->stratum);
		printf("  precision: %d\n", st->precision);
		printf("  root_delay: %s\n", format_ntp_short(st->root_delay, buf));
		printf("  root_dispersion: %s\n",
		       format_ntp_short(st->root_disp, buf));
		printf("  refid: %s\n", format_refid(st->refid, st->stratum, buf));
		printf("  reftime: %s\n", format_ntp_time(st->reftime, buf));
		printf("  age_ms: %" PRIu64 "\n", st->age_msec);
		printf("  usable: %s\n", st->usable ? "yes" : "no");
	}

	if (m->has_stats) {
		printf("counters:\n");
		print_counters_text(m, "  ");
	}
}

static void json_counters(struct json *j, const char *key,
			  const struct ntpk_model *m)
{
	unsigned int i;

	json_object_begin(j, key);
	for (i = 0; i < ntpk_ncounters; i++)
		json_uint(j, ntpk_counters[i].name,
			  m->stats[ntpk_counters[i].attr]);
	json_object_end(j);
}

static void print_show_json(const struct ntpk_model *m)
{
	const struct ntpk_config *cfg = &m->config;
	const struct ntpk_ratelimit *rl = &m->ratelimit;
	const struct ntpk_state *st = &m->state;
	char buf[FMT_LEN];
	struct json j;
	unsigned int i;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);

	json_object_begin(&j, "config");
	if (cfg->has & CONFIG_HAS_FLAGS)
		json_bool(&j, "enabled", cfg->flags & NTPK_CONFIG_F_ENABLED);
	if (cfg->has & CONFIG_HAS_PORTS) {
		json_array_begin(&j, "ports");
		for (i = 0; i < cfg->nports; i++)
			json_uint(&j, NULL, cfg->ports[i]);
		json_array_end(&j);
	}
	if (cfg->has & CONFIG_HAS_MAX_AGE)
		json_uint(&j, "max_age", cfg->max_age);
	json_array_begin(&j, "addresses");
	for (i = 0; i < m->naddrs; i++)
		json_string(&j, NULL, format_addr(&m->addrs[i], buf));
	json_array_end(&j);
	if (m->has_ratelimit) {
		json_object_begin(&j, "ratelimit");
		json_bool(&j, "enabled", rl->flags & NTPK_RL_F_ENABLED);
		json_int(&j, "interval", rl->interval);
		json_uint(&j, "burst", rl->burst);
		json_uint(&j, "leak", rl->leak);
		json_bool(&j, "kod", rl->flags & NTPK_RL_F_KOD);
		json_uint(&j, "table_size", rl->table_size);
		json_uint(&j, "v6_prefix", rl->v6_prefix);
		json_object_end(&j);
	}
	json_object_end(&j);

	if (!m->has_state) {
		json_null(&j, "state");
	} else {
		json_object_begin(&j, "state");
		json_uint(&j, "leap", st->leap);
		json_uint(&j, "stratum", st->stratum);
		json_int(&j, "precision", st->precision);
		json_number(&j, "root_delay", format_ntp_short(st->root_delay, buf));
		json_number(&j, "root_dispersion",
			    format_ntp_short(st->root_disp, buf));
		json_string(&j, "refid", format_refid(st->refid, st->stratum, buf));
		json_string(&j, "refid_raw", format_refid_hex(st->refid, buf));
		json_string(&j, "reftime", format_ntp_time(st->reftime, buf));
		json_string(&j, "reftime_raw", format_ntp_hex(st->reftime, buf));
		json_uint(&j, "age_ms", st->age_msec);
		json_bool(&j, "usable", st->usable);
		json_object_end(&j);
	}

	if (m->has_stats)
		json_counters(&j, "counters", m);
	json_object_end(&j);
}

static int fetch(struct ipc *ipc, struct ntpk_model *m, bool addrs)
{
	int err;

	err = ipc_get(ipc, m);
	if (err)
		return ipc_report(ipc, err, "get");
	if (addrs) {
		err = ipc_addr_list(ipc, m);
		if (err)
			return ipc_report(ipc, err, "address list");
	}
	return EXIT_OK;
}

int show_main(int argc, char *argv[])
{
	static struct ntpk_model m;
	struct ipc *ipc;
	int ret;

	if (argc > 1) {
		if (argc == 2 && is_help(argv[1]))
			return command_usage(argv[0]), EXIT_OK;
		return usage_error("show: unexpected \"%s\"", argv[1]);
	}
	ret = ipc_connect(&ipc);
	if (ret)
		return ret;
	ret = fetch(ipc, &m, true);
	ipc_close(ipc);
	if (ret)
		return ret;
	if (json_output)
		print_show_json(&m);
	else
		print_show_text(&m);
	return EXIT_OK;
}

/* HELP text may not hold a raw backslash or newline; ours hold neither. */
static void print_prometheus(const struct ntpk_model *m)
{
	unsigned int i;

	for (i = 0; i < ntpk_ncounters; i++) {
		const struct ntpk_counter *c = &ntpk_counters[i];

		printf("# HELP ntpk_%s_total %s\n", c->name, c->help);
		printf("# TYPE ntpk_%s_total counter\n", c->name);
		printf("ntpk_%s_total %" PRIu64 "\n", c->name, m->stats[c->attr]);
	}
	printf("# HELP ntpk_state_usable 1 while the kernel holds fresh synchronised state and answers\n");
	printf("# TYPE ntpk_state_usable gauge\n");
	printf("ntpk_state_usable %d\n", m->has_state && m->state.usable);
}

int stats_main(int argc, char *argv[])
{
	static struct ntpk_model m;
	bool prometheus = false, reset = false;
	struct ipc *ipc;
	struct json j;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--prometheus"))
			prometheus = true;
		else if (!strcmp(argv[i], "--reset"))
			reset = true;
		else if (argc == 2 && is_help(argv[i]))
			return command_usage(argv[0]), EXIT_OK;
		else
			return usage_error("stats: unknown option \"%s\"",
					   argv[i]);
	}
	if (prometheus && json_output)
		return usage_error("stats: --prometheus and --json exclude each other");

	ret = ipc_connect(&ipc);
	if (ret)
		return ret;
	ret = fetch(ipc, &m, false);
	if (ret)
		goto out;
	if (prometheus) {
		print_prometheus(&m);
	} else if (json_output) {
		json_init(&j, stdout);
		json_counters(&j, NULL, &m);
	} else {
		print_counters_text(&m, "");
	}
	fflush(stdout);
	if (reset)
		ret = ipc_report(ipc, ipc_command(ipc, NTPK_CMD_STATS_RESET),
				 "stats reset");
out:
	ipc_close(ipc);
	return ret;
}
