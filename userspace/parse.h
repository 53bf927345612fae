/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Command-line values to model values.  Each parser returns NULL on success
 * or a short reason ("must be 1..3600") for the caller's error message.
 */
#ifndef NTPKCTL_PARSE_H
#define NTPKCTL_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include "model.h"

const char *parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
const char *parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
const char *parse_onoff(const char *s, bool *out);
/* "123,1123": 1 .. NTPK_MAX_PORTS distinct ports 1..65535. */
const char *parse_ports(const char *s, uint16_t *ports, unsigned int *nports);
/* Non-negative decimal seconds to NTP short format, rounded to nearest. */
const char *parse_ntp_short(const char *s, uint32_t *out);
/* Up to four ASCII characters, or a dotted-quad IPv4 address. */
const char *parse_refid(const char *s, uint8_t refid[4]);
/*
 * unix:SECONDS[.FRACTION], ntp:SECONDS[.FRACTION], 0xHEX (raw 32.32, up to
 * 16 digits) or YYYY-MM-DDTHH:MM:SS[.FRACTION]Z; at most 9 fraction digits.
 */
const char *parse_reftime(const char *s, uint64_t *out);
const char *parse_addr(const char *s, struct ntpk_addr *addr);
/*
 * [-]SECONDS[.FRACTION] with at most 9 decimals, to nanoseconds; the sign
 * only when neg_ok, and |value| at most max_sec seconds.
 */
const char *parse_nsec(const char *s, bool neg_ok, uint64_t max_sec, int64_t *out);
/* A word of the reason table (model.h) that may clear the state. */
const char *parse_clear_reason(const char *s, uint32_t *reason);
/* Decimal seconds with at most 3 decimals, to milliseconds in [min, max]. */
const char *parse_msec(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
