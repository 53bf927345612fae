// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Strict parsers: no signs where none belong, no leading blanks, no trailing
 * garbage, and ranges checked before anything reaches the kernel, so that a
 * typo is a usage error (exit 2) rather than a kernel error (exit 1).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ntpwire.h"
#include "parse.h"

static char reason[96];

static const char *range_reason(int64_t min, int64_t max)
{
	snprintf(reason, sizeof(reason), "must be %lld..%lld",
		 (long long)min, (long long)max);
	return reason;
}

/* Digits only, at least one; the value saturates at UINT64_MAX. */
static const char *scan_digits(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return "not a number";
	for (; isdigit((unsigned char)*s); s++) {
		unsigned int d = *s - '0';

		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*sp = s;
	*out = v;
	return NULL;
}

const char *parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *why;
	uint64_t v;

	why = scan_digits(&s, &v);
	if (why || *s)
		return "not a number";
	if (v < min || v > max)
		return range_reason((int64_t)min, (int64_t)max);
	*out = v;
	return NULL;
}

const char *parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	bool neg = *s == '-';
	const char *why;
	uint64_t v;

	if (neg)
		s++;
	why = scan_digits(&s, &v);
	if (why || *s)
		return "not a number";
	if (v > (uint64_t)INT64_MAX ||
	    (neg ? -(int64_t)v < min : (int64_t)v > max))
		return range_reason(min, max);
	*out = neg ? -(int64_t)v : (int64_t)v;
	return NULL;
}

const char *parse_onoff(const char *s, bool *out)
{
	if (!strcmp(s, "on")) {
		*out = true;
		return NULL;
	}
	if (!strcmp(s, "off")) {
		*out = false;
		return NULL;
	}
	return "must be on or off";
}

const char *parse_ports(const char *s, uint16_t *ports, unsigned int *nports)
{
	unsigned int n = 0, i;
	const char *why;
	uint64_t v;

	for (;;) {
		why = scan_digits(&s, &v);
		if (why || (*s && *s != ','))
			return "not a comma-separated list of port numbers";
		if (v < 1 || v > 65535)
			return "ports must be 1..65535";
		if (n == NTPK_MAX_PORTS) {
			snprintf(reason, sizeof(reason), "at most %d ports",
				 NTPK_MAX_PORTS);
			return reason;
		}
		for (i = 0; i < n; i++)
			if (ports[i] == v)
				return "duplicate port";
		ports[n++] = (uint16_t)v;
		if (!*s)
			break;
		s++;
	}
	*nports = n;
	return NULL;
}

/*
 * DIGITS[.DIGITS]: the integer part, and the fraction as numerator over
 * 10^digits, with at most max_frac fraction digits.
 */
static const char *scan_decimal(const char **sp, unsigned int max_frac,
				uint64_t *ipart, uint64_t *fnum, unsigned int *fdigits)
{
	const char *s = *sp;
	const char *why;

	why = scan_digits(&s, ipart);
	if (why)
		return "not a decimal number";
	*fnum = 0;
	*fdigits = 0;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return "not a decimal number";
		for (; isdigit((unsigned char)*s); s++) {
			if (++*fdigits > max_frac) {
				snprintf(reason, sizeof(reason),
					 "at most %u decimals", max_frac);
				return reason;
			}
			*fnum = *fnum * 10 + (*s - '0');
		}
	}
	*sp = s;
	return NULL;
}

static uint64_t pow10u(unsigned int n)
{
	uint64_t p = 1;

	while (n--)
		p *= 10;
	return p;
}

const char *parse_ntp_short(const char *s, uint32_t *out)
{
	uint64_t ipart, fnum, scale, v;
	unsigned int fdigits;
	const char *why;

	if (*s == '-')
		return "must not be negative";
	why = scan_decimal(&s, 18, &ipart, &fnum, &fdigits);
	if (why)
		return why;
	if (*s)
		return "not a decimal number";
	if (ipart > 0xffff)
		return "must be below 65536 seconds";
	scale = pow10u(fdigits);
	/* fnum < 10^18, so fnum * 65536 needs the 128-bit product. */
	v = (uint64_t)(((unsigned __int128)fnum * 65536 + scale / 2) / scale);
	v += ipart << 16;
	if (v > 0xffffffffULL)
		return "must be below 65536 seconds";
	*out = (uint32_t)v;
	return NULL;
}

const char *parse_refid(const char *s, uint8_t refid[4])
{
	struct in_addr in;
	size_t len = strlen(s), i;

	if (inet_pton(AF_INET, s, &in) == 1) {
		memcpy(refid, &in, 4);
		return NULL;
	}
	if (len > 4)
		return "must be up to 4 ASCII characters or an IPv4 address";
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return "must be printable ASCII";
	memset(refid, 0, 4);
	memcpy(refid, s, len);
	return NULL;
}

/* SECONDS[.FRACTION] to seconds and nanoseconds. */
static const char *scan_sec_nsec(const char *s, uint64_t max_sec,
				 uint64_t *sec, uint32_t *nsec)
{
	uint64_t fnum;
	unsigned int fdigits;
	const char *why;

	why = scan_decimal(&s, 9, sec, &fnum, &fdigits);
	if (why)
		return why;
	if (*s)
		return "not a decimal number";
	if (*sec > max_sec)
		return "seconds out of range";
	*nsec = (uint32_t)(fnum * pow10u(9 - fdigits));
	return NULL;
}

static const char *parse_iso8601(const char *s, uint64_t *out)
{
	struct tm tm = { 0 };
	const char *p;
	uint64_t fnum = 0;
	unsigned int fdigits = 0;
	time_t t;

	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return "not a time";
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return "not a time";
		for (; isdigit((unsigned char)*p); p++) {
			if (++fdigits > 9)
				return "at most 9 decimals";
			fnum = fnum * 10 + (*p - '0');
		}
	}
	if (strcmp(p, "Z"))
		return "must end in Z (UTC)";
	t = timegm(&tm);
	*out = nw_ts_from_unix(t, (uint32_t)(fnum * pow10u(9 - fdigits)));
	return NULL;
}

const char *parse_reftime(const char *s, uint64_t *out)
{
	static const char fmt_reason[] =
		"must be unix:SEC[.FRAC], ntp:SEC[.FRAC], 0xHEX or YYYY-MM-DDTHH:MM:SS[.FRAC]Z";
	const char *why;
	uint64_t sec;
	uint32_t nsec;
	size_t n;

	if (!strncmp(s, "unix:", 5)) {
		/* The NTP era arithmetic covers any 64-bit Unix time we accept. */
		why = scan_sec_nsec(s + 5, (1ULL << 40), &sec, &nsec);
		if (why)
			return why;
		*out = nw_ts_from_unix((int64_t)sec, nsec);
		return NULL;
	}
	if (!strncmp(s, "ntp:", 4)) {
		why = scan_sec_nsec(s + 4, 0xffffffffULL, &sec, &nsec);
		if (why)
			return why;
		/* The same fraction rounding as for unix: and the module. */
		*out = sec << 32 | nw_frac_from_nsec(nsec);
		return NULL;
	}
	if (!strncmp(s, "0x", 2)) {
		s += 2;
		n = strspn(s, "0123456789abcdefABCDEF");
		if (n < 1 || n > 16 || s[n])
			return "0x needs 1 to 16 hex digits";
		*out = strtoull(s, NULL, 16);
		return NULL;
	}
	if (isdigit((unsigned char)*s) && strchr(s, 'T'))
		return parse_iso8601(s, out);
	return fmt_reason;
}

const char *parse_addr(const char *s, struct ntpk_addr *addr)
{
	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET, s, &addr->in) == 1) {
		addr->family = AF_INET;
		return NULL;
	}
	if (inet_pton(AF_INET6, s, &addr->in6) == 1) {
		addr->family = AF_INET6;
		return NULL;
	}
	return "not an IPv4 or IPv6 address";
}

const char *parse_msec(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t ipart, fnum, v;
	unsigned int fdigits;
	const char *why;

	why = scan_decimal(&s, 3, &ipart, &fnum, &fdigits);
	if (why)
		return why;
	if (*s)
		return "not a decimal number";
	v = ipart > UINT64_MAX / 1000 ? UINT64_MAX :
	    ipart * 1000 + fnum * pow10u(3 - fdigits);
	if (v < min || v > max) {
		snprintf(reason, sizeof(reason), "must be %llu.%03llu..%llu.%03llu seconds",
			 (unsigned long long)(min / 1000), (unsigned long long)(min % 1000),
			 (unsigned long long)(max / 1000), (unsigned long long)(max % 1000));
		return reason;
	}
	*out = v;
	return NULL;
}

const char *parse_nsec(const char *s, bool neg_ok, uint64_t max_sec, int64_t *out)
{
	bool neg = *s == '-';
	uint64_t ipart, fnum;
	unsigned int fdigits;
	const char *why;
	int64_t v;

	if (neg) {
		if (!neg_ok)
			return "must not be negative";
		s++;
	}
	why = scan_decimal(&s, 9, &ipart, &fnum, &fdigits);
	if (why)
		return why;
	if (*s)
		return "not a decimal number";
	if (ipart > max_sec || (ipart == max_sec && fnum)) {
		snprintf(reason, sizeof(reason), "must be at most %llu seconds",
			 (unsigned long long)max_sec);
		return reason;
	}
	v = (int64_t)(ipart * 1000000000ULL + fnum * pow10u(9 - fdigits));
	*out = neg ? -v : v;
	return NULL;
}

const char *parse_clear_reason(const char *s, uint32_t *reason)
{
	if (!reason_from_word(s, reason) || *reason < NTPK_REASON_CLEARED ||
	    *reason > NTPK_REASON_FOLLOW_STOPPED) {
		return "must be cleared, unsync, daemon-gone, error-bound, smoothing or follow-stopped";
	}
	return NULL;
}
