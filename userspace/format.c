// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Model values to text.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "ntpwire.h"

const char *format_ntp_short(uint32_t v, char buf[FMT_LEN])
{
	uint32_t sec = v >> 16;
	uint32_t usec = (uint32_t)(((uint64_t)(v & 0xffff) * 1000000 + 32768) >> 16);

	if (usec == 1000000) {
		sec++;
		usec = 0;
	}
	snprintf(buf, FMT_LEN, "%" PRIu32 ".%06" PRIu32, sec, usec);
	return buf;
}

static bool refid_is_text(const uint8_t refid[4])
{
	int i = 0;

	for (; i < 4 && refid[i]; i++)
		if (refid[i] < 0x20 || refid[i] > 0x7e)
			return false;
	if (i == 0)
		return false;
	/* NUL padding only: "A\0B\0" would not read back as the same bytes. */
	for (; i < 4; i++)
		if (refid[i])
			return false;
	return true;
}

const char *format_refid(const uint8_t refid[4], uint8_t stratum,
			 char buf[FMT_LEN])
{
	if (stratum < 2 && refid_is_text(refid)) {
		memcpy(buf, refid, 4);
		buf[4] = '\0';
	} else {
		inet_ntop(AF_INET, refid, buf, FMT_LEN);
	}
	return buf;
}

const char *format_refid_hex(const uint8_t refid[4], char buf[FMT_LEN])
{
	snprintf(buf, FMT_LEN, "0x%02x%02x%02x%02x",
		 refid[0], refid[1], refid[2], refid[3]);
	return buf;
}

const char *format_ntp_hex(uint64_t ts, char buf[FMT_LEN])
{
	snprintf(buf, FMT_LEN, "0x%016" PRIx64, ts);
	return buf;
}

const char *format_ntp_time(uint64_t ts, char buf[FMT_LEN])
{
	struct tm tm;
	time_t t;
	int64_t sec;
	uint32_t nsec;
	size_t n;

	/* Zero means "never"; no date in any era would be honest. */
	if (!ts)
		return format_ntp_hex(ts, buf);
	nw_ts_to_unix(ts, time(NULL), &sec, &nsec);
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm))
		return format_ntp_hex(ts, buf);
	n = strftime(buf, FMT_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, FMT_LEN - n, ".%09" PRIu32 "Z", nsec);
	return buf;
}

const char *format_addr(const struct ntpk_addr *addr, char buf[FMT_LEN])
{
	if (!inet_ntop(addr->family, &addr->in6, buf, FMT_LEN))
		snprintf(buf, FMT_LEN, "?");
	return buf;
}

static const char *nsec_text(bool neg, uint64_t ns, char buf[FMT_LEN])
{
	snprintf(buf, FMT_LEN, "%s%" PRIu64 ".%09" PRIu64, neg ? "-" : "",
		 ns / 1000000000, ns % 1000000000);
	return buf;
}

const char *format_nsec(int64_t ns, char buf[FMT_LEN])
{
	/* Negated in unsigned arithmetic: INT64_MIN has no positive twin. */
	return nsec_text(ns < 0, ns < 0 ? -(uint64_t)ns : (uint64_t)ns, buf);
}

const char *format_unsigned_nsec(uint64_t ns, char buf[FMT_LEN])
{
	return nsec_text(false, ns, buf);
}

const char *format_msec(uint32_t ms, char buf[FMT_LEN])
{
	snprintf(buf, FMT_LEN, "%" PRIu32 ".%03" PRIu32, ms / 1000, ms % 1000);
	return buf;
}

const char *format_unix_time(uint64_t sec, char buf[FMT_LEN])
{
	time_t t = (time_t)sec;
	struct tm tm;

	if (sec > INT64_MAX || !gmtime_r(&t, &tm) ||
	    !strftime(buf, FMT_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, FMT_LEN, "unix:%" PRIu64, sec);
	return buf;
}

const char *format_timespec(const struct timespec *ts, char buf[FMT_LEN])
{
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(buf, FMT_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, FMT_LEN - n, ".%03ldZ", ts->tv_nsec / 1000000);
	return buf;
}
