/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Model values to text, shared by the text and JSON output and by follow's
 * log.  Every format is also accepted back by the parsers in parse.h.
 */
#ifndef NTPKCTL_FORMAT_H
#define NTPKCTL_FORMAT_H

#include <stdint.h>
#include <time.h>
#include "model.h"

#define FMT_LEN 64

/* Seconds with six decimals, rounded to nearest. */
const char *format_ntp_short(uint32_t v, char buf[FMT_LEN]);
/*
 * A dotted quad for stratum 2 and up (the upstream's address, or its hash);
 * for stratum 0 and 1 the ASCII text if it is printable, else a dotted quad.
 */
const char *format_refid(const uint8_t refid[4], uint8_t stratum,
			 char buf[FMT_LEN]);
const char *format_refid_hex(const uint8_t refid[4], char buf[FMT_LEN]);
/* YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ in the era nearest now; 0 stays 0x0...0. */
const char *format_ntp_time(uint64_t ts, char buf[FMT_LEN]);
const char *format_ntp_hex(uint64_t ts, char buf[FMT_LEN]);
const char *format_addr(const struct ntpk_addr *addr, char buf[FMT_LEN]);
/* Nanoseconds as seconds with nine decimals, exact: "-0.000012345". */
const char *format_nsec(int64_t ns, char buf[FMT_LEN]);
const char *format_unsigned_nsec(uint64_t ns, char buf[FMT_LEN]);
/* Milliseconds as seconds with three decimals: "2.000". */
const char *format_msec(uint32_t ms, char buf[FMT_LEN]);
/* Unix seconds as YYYY-MM-DDTHH:MM:SSZ. */
const char *format_unix_time(uint64_t sec, char buf[FMT_LEN]);
/* ISO 8601 UTC with milliseconds, for log lines. */
const char *format_timespec(const struct timespec *ts, char buf[FMT_LEN]);

#endif
