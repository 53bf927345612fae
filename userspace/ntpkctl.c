// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ntpkctl: configure and feed ntpk, the in-kernel NTP fast path.
 *
 * Global options, then a subcommand from the table below.  The help texts
 * live here too, so that the whole command line is documented in one file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/ntpk.h>

#include "batch.h"
#include "report.h"
#include "subcommands.h"

/* From the VERSION file at the top of the tree (see the Makefile). */
#ifndef NTPKCTL_VERSION
#error "NTPKCTL_VERSION is not defined: build with userspace/Makefile"
#endif

static const char usage_text[] =
"Usage: ntpkctl [-j] [-n NETNS] {COMMAND [ARGS] | -b FILE}   (ntpk control)\n"
"  show                         configuration, server state and counters\n"
"  set [enable|disable] [port N[,N...]] [max-age SEC] [leap-window SEC]\n"
"      [dscp N]\n"
"  addr add|del ADDR            restrict answers to these local addresses\n"
"  addr flush | addr list       (an empty set serves every local address)\n"
"  state set leap N stratum N precision N refid ID rootdelay SEC\n"
"            rootdisp SEC reftime TIME [disprate PPB] [correction ...]\n"
"  state clear [reason WORD]    forget the state: the daemon answers again\n"
"  stats [--prometheus] [--reset]   counters; --reset zeroes after printing\n"
"  ratelimit set [interval N] [burst N] [leak N] [kod on|off]\n"
"                [table-size N] [v6-prefix N]      (omitted: defaults)\n"
"  ratelimit off\n"
"  follow [--source SRC] [--interval SEC] [--max-error DUR] [--once] [--dry-run]\n"
"     [--verbose] [--vip-dev DEV --vip ADDR...]  feed the local daemon's state\n"
"  apply [--check] FILE         make the configuration what FILE says\n"
"  help [COMMAND]               details and output formats of one command\n"
"ID: up to 4 ASCII characters or an IPv4 address.  TIME: unix:SEC[.FRAC],\n"
"  ntp:SEC[.FRAC], 0xHEX (raw NTP 32.32) or YYYY-MM-DDTHH:MM:SS[.FRAC]Z.\n"
"Options: -j JSON output (show, stats, addr list); -n NETNS act in that\n"
"  namespace (name or path); -b FILE run FILE's lines (- stdin) as commands,\n"
"  stopping at the first failure; -h help; -V version.\n"
"Exit: 0 ok, 1 failed, 2 usage error, 3 module not available,\n"
"      4 permission denied (CAP_NET_ADMIN in the namespace's user ns).\n";

static void show_usage(void)
{
	fputs("Usage: ntpkctl [-j] show\n"
	      "Text layout (\"key: value\"; two spaces before keys inside a section):\n"
	      "config:\n"
	      "  enabled: yes|no\n"
	      "  ports: N[,N...]\n"
	      "  max_age: SECONDS\n"
	      "  leap_window: SECONDS.mmm\n"
	      "  dscp: N\n"
	      "  addresses: any | ADDR[,ADDR...]\n"
	      "  ratelimit: off | interval N burst N leak N kod on|off table-size N v6-prefix N\n"
	      "state: none        (or \"state:\" followed by)\n"
	      "  leap: N\n"
	      "  stratum: N\n"
	      "  precision: N     (log2 seconds)\n"
	      "  root_delay: SECONDS.uuuuuu\n"
	      "  root_dispersion: SECONDS.uuuuuu   (as pushed, without aging)\n"
	      "  refid: ID        (dotted quad for stratum >= 2, else text if printable)\n"
	      "  reftime: YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ   (0x0000000000000000 if zero)\n"
	      "  disp_rate_ppb: N (root dispersion growth after the push, 1e-9 s/s)\n"
	      "  correction: [-]SECONDS.nnnnnnnnn   (daemon time - kernel clock at the\n"
	      "  error: SECONDS.nnnnnnnnn          push; the error ntpk adds, in root\n"
	      "  max_error: SECONDS.nnnnnnnnn      dispersion; its bound: if pushed)\n"
	      "  age_ms: N\n"
	      "  usable: yes|no   (fresh and synchronised: the kernel answers)\n"
	      "status:\n"
	      "  reason: WORD     (why the kernel does not answer now: none while it\n"
	      "                   does; disabled, never-pushed, cleared, unsync,\n"
	      "                   daemon-gone, error-bound, smoothing, follow-stopped,\n"
	      "                   expired, leap-window)\n"
	      "  leap_at: YYYY-MM-DDTHH:MM:SSZ   (a pending leap second, if any)\n"
	      "counters:\n"
	      "  NAME: N          (one line each; see 'ntpkctl help stats')\n"
	      "-j: one JSON object {\"config\":{...},\"state\":{...}|null,\"status\":{...},\n"
	      "\"counters\":{...}} with the same keys; state adds refid_raw and\n"
	      "reftime_raw (hex), status adds leap_at_unix (seconds).\n", stdout);
}

static void stats_usage(void)
{
	fputs("Usage: ntpkctl [-j] stats [--prometheus] [--reset]\n"
	      "Prints \"NAME: VALUE\" per counter, in this order: requests, replies,\n"
	      "pass_not_ours, pass_unusual, pass_bad_source, pass_loopback, pass_short,\n"
	      "pass_extensions, pass_not_mode3, pass_bad_version, pass_no_state,\n"
	      "drop_malformed, drop_checksum, drop_route, drop_xmit, rl_dropped,\n"
	      "rl_leaked, rl_kod, pass_leap, pass_route.  -j: one JSON object\n"
	      "{\"NAME\":VALUE,...}.\n"
	      "--prometheus: text exposition format, for node_exporter's textfile\n"
	      "collector: ntpk_NAME_total counters; gauges ntpk_state_usable, and with\n"
	      "a state ntpk_state_age_seconds and ntpk_state_root_dispersion_seconds\n"
	      "(as pushed), and if pushed ntpk_state_correction_seconds,\n"
	      "ntpk_state_error_seconds and ntpk_state_max_error_seconds; and\n"
	      "ntpk_status_reason{reason=\"WORD\"}, 1 for the current reason.\n"
	      "--reset: print, then zero the counters (CAP_NET_ADMIN).  Packets counted\n"
	      "between the two steps are lost from the printed values.\n", stdout);
}

static void set_usage(void)
{
	printf("Usage: ntpkctl set [enable|disable] [port N[,N...]] [max-age SECONDS]\n"
	       "                   [leap-window SECONDS] [dscp N]\n"
	       "Any combination in one call, sent as one atomic change.\n"
	       "  enable|disable  answer requests in this namespace (hooks on) or not\n"
	       "  port            1 to %d distinct UDP ports to serve (default %d)\n"
	       "  max-age         1..%d: how long pushed state stays usable (default %d)\n"
	       "  leap-window     0..%d.000, 3 decimals: requests this close to a leap\n"
	       "                  second go to the daemon; after it, replies say LI 0\n"
	       "                  (default %d.%03d)\n"
	       "  dscp            0..%d: DSCP of replies, as chronyd's dscp (default 0)\n",
	       NTPK_MAX_PORTS, NTPK_PORT_DEFAULT, NTPK_MAX_AGE_MAX, NTPK_MAX_AGE_DEFAULT,
	       NTPK_LEAP_WINDOW_MAX / 1000, NTPK_LEAP_WINDOW_DEFAULT / 1000,
	       NTPK_LEAP_WINDOW_DEFAULT % 1000, NTPK_DSCP_MAX);
}

static void addr_usage(void)
{
	printf("Usage: ntpkctl addr add|del ADDR | addr flush | [-j] addr list\n"
	       "The served addresses: requests to other local addresses go to the daemon.\n"
	       "When the set is empty, every local address is served.  At most %d per family.\n"
	       "list prints one address per line; -j prints a JSON array of strings.\n",
	       NTPK_MAX_ADDRS);
}

static void state_usage(void)
{
	fputs("Usage: ntpkctl state set leap N stratum N precision N refid ID\n"
	      "                        rootdelay SEC rootdisp SEC reftime TIME\n"
	      "                        [disprate PPB]\n"
	      "                        [correction SEC error SEC maxerror SEC]\n"
	      "       ntpkctl state clear [reason WORD]\n"
	      "The first seven words are required; any order.\n"
	      "  leap 0..3, stratum 0..16, precision -32..0 (log2 seconds)\n"
	      "  rootdelay, rootdisp: seconds, 0 .. 65535.99998 (NTP short format)\n"
	      "  refid: up to 4 printable ASCII characters (NUL padded) or a dotted quad\n"
	      "  reftime: unix:SEC[.FRAC]  Unix time, at most 9 decimals\n"
	      "           ntp:SEC[.FRAC]   NTP era 0 seconds (0..4294967295)\n"
	      "           0xHEX            the raw 64-bit NTP timestamp, 1 to 16 digits\n"
	      "           YYYY-MM-DDTHH:MM:SS[.FRAC]Z   UTC, as 'show' prints it\n"
	      "  disprate: 0..1000000 ppb, how fast the root dispersion of replies\n"
	      "            grows after the push (default 15000, RFC 5905's 15 ppm)\n"
	      "  correction, error, maxerror: seconds, 9 decimals, all three or none;\n"
	      "            shown, not used: the daemon's time minus the kernel clock,\n"
	      "            the error already added to rootdisp, and its bound\n"
	      "The kernel answers only while leap != 3, stratum is 1..15 and the state\n"
	      "is younger than max-age.  Leap 1 or 2 announces a leap second at the\n"
	      "end of this UTC month (see set leap-window).\n"
	      "clear: forget the state at once; the reason (default cleared) shows in\n"
	      "'show' until the next push: cleared, unsync, daemon-gone, error-bound,\n"
	      "smoothing or follow-stopped.\n", stdout);
}

static void ratelimit_usage(void)
{
	printf("Usage: ntpkctl ratelimit set [interval N] [burst N] [leak N] [kod on|off]\n"
	       "                             [table-size N] [v6-prefix N]\n"
	       "       ntpkctl ratelimit off\n"
	       "Replaces the whole setting; omitted words take their defaults.\n"
	       "  interval    -19..12, log2 seconds between requests per client (%d)\n"
	       "  burst       1..255 requests allowed above the rate (%d)\n"
	       "  leak        0..16: answer 1 in 2^leak limited requests; 0 never (%d)\n"
	       "  kod         on: a RATE kiss-o'-death, one per client per interval (off)\n"
	       "  table-size  power of two, %u..%u clients tracked (%u)\n"
	       "  v6-prefix   16..128, IPv6 prefix length identifying a client (%d)\n",
	       NTPK_RL_INTERVAL_DEFAULT, NTPK_RL_BURST_DEFAULT,
	       NTPK_RL_LEAK_DEFAULT, NTPK_RL_TABLE_MIN, NTPK_RL_TABLE_MAX,
	       NTPK_RL_TABLE_DEFAULT, NTPK_RL_V6_PREFIX_DEFAULT);
}

static void follow_usage(void)
{
	fputs("Usage: ntpkctl follow [--source SRC] [--interval SEC] [--max-error DUR]\n"
	      "                      [--once] [--dry-run] [--verbose]\n"
	      "                      [--vip-dev DEV --vip ADDR... [--max-stratum N]\n"
	      "                       [--hold-down SEC] [--vip-max-distance DUR]]\n"
	      "Pushes the local daemon's leap, stratum, precision, root delay, refid,\n"
	      "reftime and root dispersion, the latter plus the error ntpk adds (the\n"
	      "kernel clock against the daemon's time), rounded up, with the rate at\n"
	      "which the daemon's dispersion grows.\n"
	      "SRC: auto (default: chronyd when /run/chrony/chronyd.sock exists, else\n"
	      "  NTP 127.0.0.1:123), chronyd[:PATH] (its command socket; error\n"
	      "  |correction|; every 0.1 s), or HOST[:PORT] / [V6][:PORT] (NTP over\n"
	      "  loopback; error |offset| + rtt/2; every 1 s).\n"
	      "Withdraws the state, logging the reason once: unsync (leap 3, stratum\n"
	      "0 or 16, chronyd unsynchronised), daemon-gone (its socket refuses),\n"
	      "error-bound (error above --max-error, default 1ms; s, ms, us, ns),\n"
	      "smoothing (chronyd's smoothtime), follow-stopped (SIGINT/SIGTERM: exit\n"
	      "0).  A poll with no answer pushes nothing: max-age acts on silence.\n"
	      "--once: one reading; exit 0 if pushed, 1 if not, 3/4 for netlink.\n"
	      "--dry-run: no netlink; print what would be pushed, one line a poll.\n"
	      "Exit 4 also when chronyd's socket is not ours to use (run as root).\n"
	      "--vip-dev DEV --vip ADDR...: the node's anycast addresses are on DEV\n"
	      "  (for BIRD's direct or FRR's connected routes to announce) only while\n"
	      "  its time service is good, whether ntpk or the daemon answers: the\n"
	      "  daemon synchronised (LI 3 just after a leap it announced is), at\n"
	      "  stratum --max-stratum (4) or better, its root distance at most\n"
	      "  --vip-max-distance (1 s); a poll with no answer keeps the last\n"
	      "  verdict until max-age.  Off at the first bad poll, back after\n"
	      "  --hold-down seconds (60) of good ones, off when follow exits.\n", stdout);
}

static void apply_usage(void)
{
	printf("Usage: ntpkctl apply [--check] FILE   (FILE - reads stdin)\n"
	       "Makes this namespace's configuration exactly what FILE says; what it\n"
	       "leaves out takes its default.  One directive per line, # comments:\n"
	       "  enable | disable            (default disable)\n"
	       "  port N[,N...]               (default %d)\n"
	       "  max-age SECONDS             (default %d)\n"
	       "  leap-window SECONDS         (default %d.%03d)\n"
	       "  dscp N                      (default 0)\n"
	       "  addr ADDR [ADDR...]         served addresses, repeatable (default any)\n"
	       "  ratelimit off | ratelimit [interval N] [burst N] [leak N] [kod on|off]\n"
	       "                [table-size N] [v6-prefix N]   (default off)\n"
	       "Values as for set, addr and ratelimit set.  The whole file is checked\n"
	       "first: errors print as FILE:LINE: MESSAGE, exit 2, nothing changes.\n"
	       "--check: only check the file.  The served set is replaced without\n"
	       "passing through empty; an unchanged rate limit keeps its history.\n",
	       NTPK_PORT_DEFAULT, NTPK_MAX_AGE_DEFAULT,
	       NTPK_LEAP_WINDOW_DEFAULT / 1000, NTPK_LEAP_WINDOW_DEFAULT % 1000);
}

static void main_usage(void)
{
	fputs(usage_text, stdout);
}

static const struct subcommand {
	const char *name;
	int (*main)(int argc, char *argv[]);
	void (*usage)(void);
} subcommands[] = {
	{ "show", show_main, show_usage },
	{ "set", set_main, set_usage },
	{ "addr", addr_main, addr_usage },
	{ "state", state_main, state_usage },
	{ "stats", stats_main, stats_usage },
	{ "follow", follow_main, follow_usage },
	{ "ratelimit", ratelimit_main, ratelimit_usage },
	{ "apply", apply_main, apply_usage },
	{ "help", help_main, main_usage },
};

#define NSUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static const struct subcommand *find_subcommand(const char *name)
{
	unsigned int i;

	for (i = 0; i < NSUBCOMMANDS; i++)
		if (!strcmp(name, subcommands[i].name))
			return &subcommands[i];
	return NULL;
}

/* "help", "-h" and "--help". */
static bool is_help(const char *arg)
{
	return !strcmp(arg, "help") || !strcmp(arg, "-h") ||
	       !strcmp(arg, "--help");
}

/* Prints the detailed usage of one subcommand; false if there is none. */
static bool command_usage(const char *name)
{
	const struct subcommand *sc = find_subcommand(name);

	if (!sc)
		return false;
	sc->usage();
	return true;
}

int help_main(int argc, char *argv[])
{
	if (argc > 2)
		return usage_error("help: too many arguments");
	if (argc == 2) {
		if (!command_usage(argv[1]))
			return usage_error("help: unknown command \"%s\"",
					   argv[1]);
		return EXIT_OK;
	}
	fputs(usage_text, stdout);
	return EXIT_OK;
}

/*
 * Like ip -n: everything after this, netlink and follow's UDP socket alike,
 * happens in that namespace.  Needs CAP_SYS_ADMIN, as setns(2) does.
 */
static int enter_netns(const char *name)
{
	char path[4096];
	int fd, err;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		fprintf(stderr, "%s: cannot open network namespace \"%s\": %s\n",
			prog, name, strerror(err));
		return err == ENOENT ? EXIT_USAGE :
		       err == EACCES || err == EPERM ? EXIT_PERM : EXIT_FAILED;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		err = errno;
		close(fd);
		fprintf(stderr, "%s: cannot enter network namespace \"%s\": %s\n",
			prog, name, strerror(err));
		return err == EPERM ? EXIT_PERM :
		       err == EINVAL ? EXIT_USAGE : EXIT_FAILED;
	}
	close(fd);
	return EXIT_OK;
}

static bool json_default;
static int batch_line(int argc, char *argv[]);

/*
 * Global options, then a command.  The same for the command line and for
 * each line of a batch; only the command line may start a batch.
 */
static int run(int argc, char *argv[], bool in_batch)
{
	const struct subcommand *sc;
	int i, ret;

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			json_output = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--netns")) {
			if (++i == argc)
				return usage_error("%s needs a namespace", argv[i - 1]);
			ret = enter_netns(argv[i]);
			if (ret)
				return ret;
		} else if (!strcmp(argv[i], "-b") || !strcmp(argv[i], "--batch")) {
			if (in_batch)
				return usage_error("%s inside a batch", argv[i]);
			if (++i == argc)
				return usage_error("%s needs a file (- for stdin)",
						   argv[i - 1]);
			if (i + 1 < argc)
				return usage_error("unexpected \"%s\" after %s %s",
						   argv[i + 1], argv[i - 1], argv[i]);
			json_default = json_output;
			return batch_run(argv[i], batch_line);
		} else if (!strcmp(argv[i], "-V") ||
			   !strcmp(argv[i], "--version")) {
			printf("ntpkctl %s (generic netlink \"%s\" version %d)\n",
			       NTPKCTL_VERSION, NTPK_GENL_NAME,
			       NTPK_GENL_VERSION);
			return EXIT_OK;
		} else {
			return usage_error("unknown option \"%s\" (try --help)",
					   argv[i]);
		}
	}
	/* Like wg: no command means show. */
	if (i == argc)
		return show_main(1, (char *[]){ "show", NULL });
	sc = find_subcommand(argv[i]);
	if (!sc)
		return usage_error("unknown command \"%s\" (try --help)",
				   argv[i]);
	/* "COMMAND help" (-h, --help), for every command alike. */
	if (argc - i == 2 && is_help(argv[i + 1])) {
		sc->usage();
		return EXIT_OK;
	}
	return sc->main(argc - i, argv + i);
}

/* Options from the command line hold for every line; a line may add -j. */
static int batch_line(int argc, char *argv[])
{
	json_output = json_default;
	return run(argc, argv, true);
}

int main(int argc, char *argv[])
{
	return run(argc - 1, argv + 1, false);
}
