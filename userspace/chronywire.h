/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * chronyd's command protocol, the two commands follow sends: the packet
 * layouts as chronyc speaks protocol version 6, and chrony's 32-bit float.
 * Written from the protocol's description (chrony's candm.h and
 * pktlength.c define it); bytes only, no sockets: src_chronyd.c talks,
 * selftests/unit/chronywire_test.c checks the arithmetic.
 *
 * A request is a 20-byte header, the command's data, and zeroed padding up
 * to the length of the reply it asks for, so that a reply is never larger
 * than its request (chronyd drops a request shorter than that, and drops
 * any request it cannot answer within the request's length).  A reply is a
 * 28-byte header and the report.  All fields are big-endian.
 */
#ifndef NTPKCTL_CHRONYWIRE_H
#define NTPKCTL_CHRONYWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_PROTO_VERSION	6
#define CW_PKT_REQUEST		1
#define CW_PKT_REPLY		2

#define CW_REQ_TRACKING		33
#define CW_REQ_SMOOTHING	51
#define CW_RPY_NULL		1
#define CW_RPY_TRACKING		5
#define CW_RPY_SMOOTHING	13

#define CW_STT_SUCCESS		0
#define CW_STT_FAILED		1
#define CW_STT_UNAUTH		2
#define CW_STT_INVALID		3
#define CW_STT_NOTENABLED	6
#define CW_STT_BADPKTVERSION	18
#define CW_STT_BADPKTLENGTH	19

/* Request header: version, type, 2 reserved, command, attempt, sequence, 2 pads. */
#define CW_REQ_OFF_VERSION	0
#define CW_REQ_OFF_TYPE		1
#define CW_REQ_OFF_COMMAND	4
#define CW_REQ_OFF_ATTEMPT	6
#define CW_REQ_OFF_SEQUENCE	8
#define CW_REQ_HDR_LEN		20

/* Reply header: version, type, 2 reserved, command, reply, status, 3 pads,
 * sequence, 2 pads. */
#define CW_RPY_OFF_VERSION	0
#define CW_RPY_OFF_TYPE		1
#define CW_RPY_OFF_RES1		2
#define CW_RPY_OFF_RES2		3
#define CW_RPY_OFF_COMMAND	4
#define CW_RPY_OFF_REPLY	6
#define CW_RPY_OFF_STATUS	8
#define CW_RPY_OFF_SEQUENCE	16
#define CW_RPY_HDR_LEN		28

/*
 * The tracking report, offsets from the start of the reply: reference ID,
 * the reference's address (16 bytes, family, pad), stratum, leap status,
 * reference time (seconds high and low word, nanoseconds), then nine
 * floats.
 */
#define CW_TRK_OFF_REF_ID	28
#define CW_TRK_OFF_STRATUM	52
#define CW_TRK_OFF_LEAP		54
#define CW_TRK_OFF_REF_TIME	56
#define CW_TRK_OFF_CORRECTION	68
#define CW_TRK_OFF_LAST_OFFSET	72
#define CW_TRK_OFF_RMS_OFFSET	76
#define CW_TRK_OFF_FREQ		80
#define CW_TRK_OFF_RESID_FREQ	84
#define CW_TRK_OFF_SKEW		88
#define CW_TRK_OFF_ROOT_DELAY	92
#define CW_TRK_OFF_ROOT_DISP	96
#define CW_TRK_OFF_UPDATE_IVL	100
#define CW_TRACKING_LEN		104

/* The smoothing report: flags, then five floats. */
#define CW_SMT_OFF_FLAGS	28
#define CW_SMT_OFF_OFFSET	32
#define CW_SMT_OFF_FREQ		36
#define CW_SMT_OFF_WANDER	40
#define CW_SMT_OFF_LAST_UPDATE	44
#define CW_SMT_OFF_REMAINING	48
#define CW_SMOOTHING_LEN	52
#define CW_SMT_FLAG_ACTIVE	0x1
#define CW_SMT_FLAG_LEAPONLY	0x2

/* The largest request follow builds (both are padded to their reply). */
#define CW_MAX_REQ_LEN		CW_TRACKING_LEN

/* A reference time's high word when the seconds fit in 32 bits. */
#define CW_TV_NOHIGHSEC		0x7fffffffU

/* The tracking leap status: chronyd's own, the same values as NTP's LI. */
#define CW_LEAP_UNSYNC		3

struct cw_tracking {
	uint32_t ref_id;	/* host order: 0 is "not synchronised" */
	uint16_t stratum;
	uint16_t leap;
	int64_t ref_sec;	/* Unix time; 0.0 when there is none */
	uint32_t ref_nsec;
	/* The floats as received (see cw_float): */
	uint32_t correction;	/* s: chronyd's time minus the system clock */
	uint32_t last_offset;	/* s */
	uint32_t rms_offset;	/* s */
	uint32_t freq;		/* ppm */
	uint32_t resid_freq;	/* ppm */
	uint32_t skew;		/* ppm */
	uint32_t root_delay;	/* s */
	uint32_t root_disp;	/* s, aged to the moment of the report */
	uint32_t update_ivl;	/* s */
};

struct cw_smoothing {
	uint32_t flags;		/* CW_SMT_FLAG_* */
	uint32_t offset;	/* s, float */
};

/* Outcome of checking a datagram against the request it should answer. */
enum cw_verdict {
	CW_REPLY,	/* a reply to our request; *status is its status */
	CW_IGNORE,	/* not a reply to it (why says which field) */
	CW_BADVERSION,	/* chronyd speaks another protocol version (*version) */
};

/*
 * Fills buf (at least CW_MAX_REQ_LEN bytes) with a request for cmd
 * (CW_REQ_TRACKING or CW_REQ_SMOOTHING) and returns its length, or 0 for
 * another command.
 */
size_t cw_request(uint8_t *buf, uint16_t cmd, uint16_t attempt, uint32_t seq);

/*
 * Checks a received datagram: length, packet type, reserved bytes,
 * command, sequence and version; on success also that a successful reply
 * is the report asked for and long enough for it.  *status and *version
 * are set whenever the header is long enough to have them.
 */
enum cw_verdict cw_check_reply(const uint8_t *buf, size_t len, uint16_t cmd,
			       uint32_t seq, uint16_t *status,
			       uint8_t *version, char *why, size_t whylen);

/* For a reply cw_check_reply() accepted with CW_STT_SUCCESS. */
/*
 * Fills t from a tracking reply; false when the report is not one chronyd
 * can send (a leap status outside 0..3): an invalid reply.
 */
bool cw_parse_tracking(const uint8_t *buf, struct cw_tracking *t);
void cw_parse_smoothing(const uint8_t *buf, struct cw_smoothing *s);

/*
 * chrony's float: a 7-bit signed exponent over a 25-bit signed
 * coefficient, both two's complement, the value coef * 2^(exp - 25).
 */
double cw_float(uint32_t f);
/*
 * An upper bound of |value| * scale, rounded up, saturating at UINT64_MAX.
 * chronyd encodes by rounding, and shifts the coefficient down (dropping
 * bits) when the rounding carried; either way the true value is below
 * (|coef| + 1) * 2^(exp - 25), which is what this bounds.  scale is at
 * most 10^9 (seconds to nanoseconds; 1000 makes ppm ppb).
 */
uint64_t cw_float_upper(uint32_t f, uint32_t scale);
/* A text for a status code: "unauthorised", "not enabled", ... */
const char *cw_status_str(uint16_t status);

#endif
