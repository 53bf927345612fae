// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The counter names, the reason words and the rate-limit defaults: the
 * little data the model needs beside its structures.
 */
#include <string.h>

#include "model.h"

const struct ntpk_counter ntpk_counters[] = {
	{ NTPK_STATS_A_REQUESTS, "requests",
	  "UDP datagrams to a served port" },
	{ NTPK_STATS_A_REPLIES, "replies",
	  "NTP mode 4 replies sent by the kernel" },
	{ NTPK_STATS_A_PASS_NOT_OURS, "pass_not_ours",
	  "Passed on: not to a served or local address, or not PACKET_HOST" },
	{ NTPK_STATS_A_PASS_UNUSUAL, "pass_unusual",
	  "Passed on: fragment, IP options, IPv6 extension header, GSO or UDP padding" },
	{ NTPK_STATS_A_PASS_BAD_SOURCE, "pass_bad_source",
	  "Passed on: source port 0, bogus or local source address, "
	  "or one the stack refuses (rp_filter)" },
	{ NTPK_STATS_A_PASS_LOOPBACK, "pass_loopback",
	  "Passed on: arrived on a loopback device" },
	{ NTPK_STATS_A_PASS_SHORT, "pass_short",
	  "Passed on: NTP payload under 48 bytes" },
	{ NTPK_STATS_A_PASS_EXTENSIONS, "pass_extensions",
	  "Passed on: payload over 48 bytes (extension fields, MAC)" },
	{ NTPK_STATS_A_PASS_NOT_MODE3, "pass_not_mode3",
	  "Passed on: not a mode 3 (client) request" },
	{ NTPK_STATS_A_PASS_BAD_VERSION, "pass_bad_version",
	  "Passed on: NTP version 0 or 5 to 7" },
	{ NTPK_STATS_A_PASS_NO_STATE, "pass_no_state",
	  "Passed on: no fresh, synchronised server state" },
	{ NTPK_STATS_A_DROP_MALFORMED, "drop_malformed",
	  "Dropped: truncated or bad UDP length" },
	{ NTPK_STATS_A_DROP_CHECKSUM, "drop_checksum",
	  "Dropped: bad UDP checksum, or zero checksum on IPv6" },
	{ NTPK_STATS_A_DROP_ROUTE, "drop_route",
	  "Unused, always 0 (replies with no route are passed: pass_route)" },
	{ NTPK_STATS_A_DROP_XMIT, "drop_xmit",
	  "Dropped: reply could not be built or sent" },
	{ NTPK_STATS_A_RL_DROPPED, "rl_dropped",
	  "Rate limited and dropped" },
	{ NTPK_STATS_A_RL_LEAKED, "rl_leaked",
	  "Rate limited but answered anyway (leak)" },
	{ NTPK_STATS_A_RL_KOD, "rl_kod",
	  "Rate limited and answered with a RATE kiss-o'-death" },
	{ NTPK_STATS_A_PASS_LEAP, "pass_leap",
	  "Passed on: inside the window around a leap second" },
	{ NTPK_STATS_A_PASS_ROUTE, "pass_route",
	  "Passed on: no route back to the client, the daemon decides" },
};

const unsigned int ntpk_ncounters = sizeof(ntpk_counters) / sizeof(ntpk_counters[0]);

void ratelimit_defaults(struct ntpk_ratelimit *rl)
{
	rl->flags = 0;
	rl->interval = NTPK_RL_INTERVAL_DEFAULT;
	rl->burst = NTPK_RL_BURST_DEFAULT;
	rl->leak = NTPK_RL_LEAK_DEFAULT;
	rl->table_size = NTPK_RL_TABLE_DEFAULT;
	rl->v6_prefix = NTPK_RL_V6_PREFIX_DEFAULT;
}

static const char *const reason_words[__NTPK_REASON_MAX] = {
	[NTPK_REASON_NONE] = "none",
	[NTPK_REASON_NEVER_PUSHED] = "never-pushed",
	[NTPK_REASON_EXPIRED] = "expired",
	[NTPK_REASON_CLEARED] = "cleared",
	[NTPK_REASON_UNSYNC] = "unsync",
	[NTPK_REASON_DAEMON_GONE] = "daemon-gone",
	[NTPK_REASON_ERROR_BOUND] = "error-bound",
	[NTPK_REASON_SMOOTHING] = "smoothing",
	[NTPK_REASON_FOLLOW_STOPPED] = "follow-stopped",
	[NTPK_REASON_LEAP_WINDOW] = "leap-window",
	[NTPK_REASON_DISABLED] = "disabled",
	[NTPK_REASON_STRATUM] = "stratum",
	[NTPK_REASON_DISTANCE] = "distance",
};

const char *reason_word(uint32_t reason)
{
	if (reason >= __NTPK_REASON_MAX || !reason_words[reason])
		return "unknown";
	return reason_words[reason];
}

bool reason_from_word(const char *word, uint32_t *reason)
{
	uint32_t r;

	for (r = 0; r < __NTPK_REASON_MAX; r++) {
		if (reason_words[r] && !strcmp(word, reason_words[r])) {
			*reason = r;
			return true;
		}
	}
	return false;
}

bool reason_is_service(uint32_t reason)
{
	return reason < __NTPK_REASON_MAX &&
	       (NTPK_SERVICE_REASONS & 1U << reason);
}

bool reason_is_service_only(uint32_t reason)
{
	return reason == NTPK_REASON_STRATUM || reason == NTPK_REASON_DISTANCE;
}
