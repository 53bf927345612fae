// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * chronyd's command protocol, bytes only.  See chronywire.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chronywire.h"
#include "ntpwire.h"

#define CW_EXP_BITS	7
#define CW_COEF_BITS	25

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The reply a command asks for, and that reply's length. */
static bool reply_of(uint16_t cmd, uint16_t *reply, size_t *len)
{
	switch (cmd) {
	case CW_REQ_TRACKING:
		*reply = CW_RPY_TRACKING;
		*len = CW_TRACKING_LEN;
		return true;
	case CW_REQ_SMOOTHING:
		*reply = CW_RPY_SMOOTHING;
		*len = CW_SMOOTHING_LEN;
		return true;
	}
	return false;
}

size_t cw_request(uint8_t *buf, uint16_t cmd, uint16_t attempt, uint32_t seq)
{
	uint16_t reply;
	size_t len;

	if (!reply_of(cmd, &reply, &len))
		return 0;
	/* Neither command has data: the rest is padding, all zero. */
	memset(buf, 0, len);
	buf[CW_REQ_OFF_VERSION] = CW_PROTO_VERSION;
	buf[CW_REQ_OFF_TYPE] = CW_PKT_REQUEST;
	put_be16(buf + CW_REQ_OFF_COMMAND, cmd);
	put_be16(buf + CW_REQ_OFF_ATTEMPT, attempt);
	nw_put_be32(buf + CW_REQ_OFF_SEQUENCE, seq);
	return len;
}

enum cw_verdict cw_check_reply(const uint8_t *buf, size_t len, uint16_t cmd,
			       uint32_t seq, uint16_t *status,
			       uint8_t *version, char *why, size_t whylen)
{
	uint16_t want_reply = 0, got_cmd, got_reply;
	uint32_t got_seq;
	size_t want_len = 0;

	if (len < CW_RPY_HDR_LEN) {
		snprintf(why, whylen, "reply of %zu bytes, shorter than a header",
			 len);
		return CW_IGNORE;
	}
	*version = buf[CW_RPY_OFF_VERSION];
	*status = get_be16(buf + CW_RPY_OFF_STATUS);
	got_cmd = get_be16(buf + CW_RPY_OFF_COMMAND);
	got_reply = get_be16(buf + CW_RPY_OFF_REPLY);
	got_seq = nw_get_be32(buf + CW_RPY_OFF_SEQUENCE);
	if (buf[CW_RPY_OFF_TYPE] != CW_PKT_REPLY) {
		snprintf(why, whylen, "packet type %u, not a reply",
			 buf[CW_RPY_OFF_TYPE]);
		return CW_IGNORE;
	}
	if (buf[CW_RPY_OFF_RES1] || buf[CW_RPY_OFF_RES2]) {
		snprintf(why, whylen, "reserved bytes set");
		return CW_IGNORE;
	}
	if (got_cmd != cmd) {
		snprintf(why, whylen, "reply to command %u, we sent %u",
			 got_cmd, cmd);
		return CW_IGNORE;
	}
	if (got_seq != seq) {
		snprintf(why, whylen, "sequence %08x, we sent %08x",
			 got_seq, seq);
		return CW_IGNORE;
	}
	/*
	 * chronyd answers a request of another version with its own version
	 * and this status (when it knows how); anything else of another
	 * version we cannot read.
	 */
	if (*status == CW_STT_BADPKTVERSION)
		return CW_BADVERSION;
	if (*version != CW_PROTO_VERSION) {
		snprintf(why, whylen, "protocol version %u, we speak %u",
			 *version, CW_PROTO_VERSION);
		return CW_BADVERSION;
	}
	if (*status != CW_STT_SUCCESS)
		return CW_REPLY;
	reply_of(cmd, &want_reply, &want_len);
	if (got_reply != want_reply) {
		snprintf(why, whylen, "reply type %u to command %u, expected %u",
			 got_reply, cmd, want_reply);
		return CW_IGNORE;
	}
	if (len < want_len) {
		snprintf(why, whylen, "reply of %zu bytes, expected %zu",
			 len, want_len);
		return CW_IGNORE;
	}
	return CW_REPLY;
}

bool cw_parse_tracking(const uint8_t *buf, struct cw_tracking *t)
{
	const uint8_t *rt = buf + CW_TRK_OFF_REF_TIME;
	uint32_t hi = nw_get_be32(rt), lo = nw_get_be32(rt + 4);
	uint32_t nsec = nw_get_be32(rt + 8);

	t->ref_id = nw_get_be32(buf + CW_TRK_OFF_REF_ID);
	t->stratum = get_be16(buf + CW_TRK_OFF_STRATUM);
	t->leap = get_be16(buf + CW_TRK_OFF_LEAP);
	if (hi == CW_TV_NOHIGHSEC)
		hi = 0;
	t->ref_sec = (int64_t)((uint64_t)hi << 32 | lo);
	t->ref_nsec = nsec > 999999999U ? 999999999U : nsec;
	t->correction = nw_get_be32(buf + CW_TRK_OFF_CORRECTION);
	t->last_offset = nw_get_be32(buf + CW_TRK_OFF_LAST_OFFSET);
	t->rms_offset = nw_get_be32(buf + CW_TRK_OFF_RMS_OFFSET);
	t->freq = nw_get_be32(buf + CW_TRK_OFF_FREQ);
	t->resid_freq = nw_get_be32(buf + CW_TRK_OFF_RESID_FREQ);
	t->skew = nw_get_be32(buf + CW_TRK_OFF_SKEW);
	t->root_delay = nw_get_be32(buf + CW_TRK_OFF_ROOT_DELAY);
	t->root_disp = nw_get_be32(buf + CW_TRK_OFF_ROOT_DISP);
	t->update_ivl = nw_get_be32(buf + CW_TRK_OFF_UPDATE_IVL);
	return t->leap <= CW_LEAP_UNSYNC;
}

void cw_parse_smoothing(const uint8_t *buf, struct cw_smoothing *s)
{
	s->flags = nw_get_be32(buf + CW_SMT_OFF_FLAGS);
	s->offset = nw_get_be32(buf + CW_SMT_OFF_OFFSET);
}

/* The two's complement fields: exponent -64..63, coefficient -2^24..2^24-1. */
static void float_fields(uint32_t f, int *exp, int32_t *coef)
{
	uint32_t e = f >> CW_COEF_BITS;
	uint32_t c = f & ((1U << CW_COEF_BITS) - 1);

	*exp = e >= 1U << (CW_EXP_BITS - 1) ? (int)e - (1 << CW_EXP_BITS)
					    : (int)e;
	*coef = c >= 1U << (CW_COEF_BITS - 1) ?
		(int32_t)c - (1 << CW_COEF_BITS) : (int32_t)c;
}

double cw_float(uint32_t f)
{
	int32_t coef;
	int exp;

	float_fields(f, &exp, &coef);
	return ldexp((double)coef, exp - CW_COEF_BITS);
}

uint64_t cw_float_upper(uint32_t f, uint32_t scale)
{
	uint64_t m;
	int32_t coef;
	int exp, sh;

	float_fields(f, &exp, &coef);
	/* Zero is the one value chronyd sends exactly as it is. */
	if (!coef || !scale)
		return 0;
	/* (2^24 + 1) * 10^9 < 2^55 */
	m = ((uint64_t)(coef < 0 ? -(int64_t)coef : coef) + 1) * scale;
	sh = exp - CW_COEF_BITS;
	if (sh >= 0)
		return sh >= 64 || m > UINT64_MAX >> sh ? UINT64_MAX : m << sh;
	sh = -sh;
	if (sh >= 64)
		return 1;
	return (m >> sh) + !!(m & ((1ULL << sh) - 1));
}

const char *cw_status_str(uint16_t status)
{
	switch (status) {
	case CW_STT_SUCCESS:
		return "success";
	case CW_STT_FAILED:
		return "failed";
	case CW_STT_UNAUTH:
		return "not authorised";
	case CW_STT_INVALID:
		return "invalid command";
	case CW_STT_NOTENABLED:
		return "not enabled";
	case CW_STT_BADPKTVERSION:
		return "bad protocol version";
	case CW_STT_BADPKTLENGTH:
		return "bad packet length";
	}
	return "unknown status";
}
