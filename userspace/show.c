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
	if (cfg->has & CONFIG_HAS_LEAP_WINDOW)
		printf("  leap_window: %s\n", format_msec(cfg->leap_window_ms, buf));
	if (cfg->has & CONFIG_HAS_DSCP)
		printf("  dscp: %u\n", cfg->dscp);
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
		if (st->has_disp_rate)
			printf("  disp_rate_ppb: %" PRIu32 "\n", st->disp_rate);
		if (st->has_slew_rate)
			printf("  slew_rate_ppb: %" PRIu32 "\n", st->slew_rate);
		if (st->has_error) {
			printf("  correction: %s\n",
			       format_nsec(st->correction_ns, buf));
			printf("  error: %s\n",
			       format_unsigned_nsec(st->error_ns, buf));
			printf("  max_error: %s\n",
			       format_unsigned_nsec(st->max_error_ns, buf));
		}
		printf("  age_ms: %" PRIu64 "\n", st->age_msec);
		printf("  usable: %s\n", st->usable ? "yes" : "no");
	}

	if (m->has_status) {
		printf("status:\n");
		printf("  reason: %s\n", reason_word(m->reason));
		if (m->has_leap_at)
			printf("  leap_at: %s\n", format_unix_time(m->leap_at, buf));
	}
	if (m->has_service) {
		printf("service:\n");
		printf("  reason: %s\n", reason_word(m->service_reason));
		printf("  announced: %s\n", m->service_announced ? "yes" : "no");
		printf("  age_ms: %" PRIu64 "\n", m->service_age_msec);
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
	if (cfg->has & CONFIG_HAS_LEAP_WINDOW)
		json_number(&j, "leap_window",
			    format_msec(cfg->leap_window_ms, buf));
	if (cfg->has & CONFIG_HAS_DSCP)
		json_uint(&j, "dscp", cfg->dscp);
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
		if (st->has_disp_rate)
			json_uint(&j, "disp_rate_ppb", st->disp_rate);
		if (st->has_slew_rate)
			json_uint(&j, "slew_rate_ppb", st->slew_rate);
		if (st->has_error) {
			json_number(&j, "correction",
				    format_nsec(st->correction_ns, buf));
			json_number(&j, "error",
				    format_unsigned_nsec(st->error_ns, buf));
			json_number(&j, "max_error",
				    format_unsigned_nsec(st->max_error_ns, buf));
		}
		/* Last, where scripts already look for them. */
		json_uint(&j, "age_ms", st->age_msec);
		json_bool(&j, "usable", st->usable);
		json_object_end(&j);
	}

	if (m->has_status) {
		json_object_begin(&j, "status");
		json_string(&j, "reason", reason_word(m->reason));
		if (m->has_leap_at) {
			json_string(&j, "leap_at",
				    format_unix_time(m->leap_at, buf));
			json_uint(&j, "leap_at_unix", m->leap_at);
		}
		json_object_end(&j);
	}
	if (m->has_service) {
		json_object_begin(&j, "service");
		json_string(&j, "reason", reason_word(m->service_reason));
		json_bool(&j, "announced", m->service_announced);
		json_uint(&j, "age_ms", m->service_age_msec);
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

	if (argc > 1)
		return usage_error("show: unexpected \"%s\"", argv[1]);
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

static void prom_gauge(const char *name, const char *help, const char *value)
{
	printf("# HELP ntpk_%s %s\n", name, help);
	printf("# TYPE ntpk_%s gauge\n", name);
	printf("ntpk_%s %s\n", name, value);
}

/*
 * HELP text may not hold a raw backslash or newline; ours hold neither.
 * The state's gauges are absent without a state (and the informational
 * ones without their values): no sample rather than a made-up one.  The
 * reason is one series per word, 1 for the current one, so that its set
 * of series never changes.
 */
static void print_prometheus(const struct ntpk_model *m)
{
	const struct ntpk_state *st = &m->state;
	char buf[FMT_LEN];
	unsigned int i;
	uint32_t r;

	for (i = 0; i < ntpk_ncounters; i++) {
		const struct ntpk_counter *c = &ntpk_counters[i];

		printf("# HELP ntpk_%s_total %s\n", c->name, c->help);
		printf("# TYPE ntpk_%s_total counter\n", c->name);
		printf("ntpk_%s_total %" PRIu64 "\n", c->name, m->stats[c->attr]);
	}
	prom_gauge("state_usable",
		   "1 while the kernel holds fresh synchronised state and answers",
		   m->has_state && m->state.usable ? "1" : "0");
	if (m->has_state) {
		snprintf(buf, sizeof(buf), "%" PRIu64 ".%03" PRIu64,
			 st->age_msec / 1000, st->age_msec % 1000);
		prom_gauge("state_age_seconds",
			   "Time since the daemon was read for the state", buf);
		prom_gauge("state_root_dispersion_seconds",
			   "Root dispersion as pushed, before the kernel ages it",
			   format_ntp_short(st->root_disp, buf));
		snprintf(buf, sizeof(buf), "0.%09" PRIu32, st->disp_rate);
		prom_gauge("state_dispersion_rate",
			   "How fast the kernel ages the root dispersion (s per s)",
			   buf);
	}
	if (m->has_state && st->has_slew_rate) {
		snprintf(buf, sizeof(buf), "0.%09" PRIu32, st->slew_rate);
		prom_gauge("state_slew_rate",
			   "Of that rate, how fast the kernel clock leaves the daemon's time",
			   buf);
	}
	if (m->has_state && st->has_error) {
		prom_gauge("state_correction_seconds",
			   "The daemon's time minus the kernel clock, at the push",
			   format_nsec(st->correction_ns, buf));
		prom_gauge("state_error_seconds",
			   "Error the kernel's replies carry on top of the daemon's",
			   format_unsigned_nsec(st->error_ns, buf));
		prom_gauge("state_max_error_seconds",
			   "The bound on that error, beyond which the state is withdrawn",
			   format_unsigned_nsec(st->max_error_ns, buf));
	}
	if (m->has_status) {
		printf("# HELP ntpk_status_reason 1 for why the kernel does not answer now (none: it does)\n");
		printf("# TYPE ntpk_status_reason gauge\n");
		for (r = 0; r < __NTPK_REASON_MAX; r++)
			if (!reason_is_service_only(r))
				printf("ntpk_status_reason{reason=\"%s\"} %d\n",
				       reason_word(r), r == m->reason);
	}
	/* The second signal, once follow --vip has reported it. */
	if (!m->has_service)
		return;
	prom_gauge("service_announced",
		   "1 while the node's anycast addresses are on their announcing device",
		   m->service_announced ? "1" : "0");
	snprintf(buf, sizeof(buf), "%" PRIu64 ".%03" PRIu64,
		 m->service_age_msec / 1000, m->service_age_msec % 1000);
	prom_gauge("service_age_seconds",
		   "Time since follow --vip reported the time service", buf);
	printf("# HELP ntpk_service_reason 1 for why the node's time service is not good enough to announce (none: it is)\n");
	printf("# TYPE ntpk_service_reason gauge\n");
	for (r = 0; r < __NTPK_REASON_MAX; r++)
		if (reason_is_service(r))
			printf("ntpk_service_reason{reason=\"%s\"} %d\n",
			       reason_word(r), r == m->service_reason);
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
