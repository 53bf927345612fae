/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The NTP packet core: parse, validate and build NTP packets, and convert
 * clock readings to NTP timestamps.  Plain C with no kernel dependency, so
 * that the same file is built into ntpk.ko and into the host unit tests and
 * fuzzer (selftests/unit/).
 */
#ifndef _NTPK_NTP_H
#define _NTPK_NTP_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/math64.h>
#define ntp_div_u64(a, b)	div_u64((a), (b))
#define ntp_div64_u64(a, b)	div64_u64((a), (b))
#define ntp_mul_u64_u64_shr(a, b, s)	mul_u64_u64_shr((a), (b), (s))
#else
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int32_t s32;
typedef int64_t s64;
#define ntp_div_u64(a, b)	((u64)(a) / (u32)(b))
#define ntp_div64_u64(a, b)	((u64)(a) / (u64)(b))
#define ntp_mul_u64_u64_shr(a, b, s) \
	((u64)(((__uint128_t)(a) * (u64)(b)) >> (s)))
#endif

#define NTP_PKT_LEN		48	/* header without extension fields or MAC */
#define NTP_MODE_CLIENT		3
#define NTP_MODE_SERVER		4
#define NTP_LEAP_NONE		0
#define NTP_LEAP_UNSYNC		3
#define NTP_STRATUM_MAX		15
#define NTP_VERSION_MIN		1
#define NTP_VERSION_MAX		4

/* Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
#define NTP_UNIX_OFFSET		2208988800LL

/* ntp_disp_mult() is the dispersion growth per ns times 2^NTP_DISP_SHIFT. */
#define NTP_DISP_SHIFT		62

/* Byte offsets of the header fields (RFC 5905, figure 8). */
#define NTP_OFF_LVM		0
#define NTP_OFF_STRATUM		1
#define NTP_OFF_POLL		2
#define NTP_OFF_PRECISION	3
#define NTP_OFF_ROOT_DELAY	4
#define NTP_OFF_ROOT_DISP	8
#define NTP_OFF_REFID		12
#define NTP_OFF_REFTIME		16
#define NTP_OFF_ORIGIN		24
#define NTP_OFF_RX		32
#define NTP_OFF_TX		40

/* What the local daemon told us; pushed by ntpkctl follow. */
struct ntp_server_state {
	u8 leap;
	u8 stratum;
	s8 precision;
	u32 root_delay;		/* NTP short format, 16.16 seconds */
	u32 root_disp;		/* NTP short format, 16.16 seconds */
	u32 refid;		/* the four bytes as on the wire, big endian value */
	u64 reftime;		/* NTP timestamp, 32.32 seconds */
};

enum ntp_verdict {
	NTP_REQ_OK,		/* a plain client request we may answer */
	NTP_REQ_SHORT,		/* fewer than 48 bytes */
	NTP_REQ_EXTENSIONS,	/* more than 48 bytes: extension fields or MAC */
	NTP_REQ_NOT_MODE3,
	NTP_REQ_BAD_VERSION,
};

/* Reads pkt[0] only, and only when len is NTP_PKT_LEN. */
enum ntp_verdict ntp_check_request(const u8 *pkt, size_t len);
bool ntp_state_synced(const struct ntp_server_state *st);
void ntp_build_reply(u8 *pkt, const struct ntp_server_state *st,
		     u32 root_disp, s8 min_poll, u64 rx);
void ntp_build_kod(u8 *pkt, s8 poll, u64 rx);
void ntp_set_tx(u8 *pkt, u64 tx);
u64 ntp_ts_from_unix(s64 sec, u32 nsec);
void ntp_ts_to_unix(u64 ts, s64 pivot, s64 *sec, u32 *nsec);
u64 ntp_disp_mult(u32 rate_ppb);
u32 ntp_disp_add(u32 root_disp, u64 age_ns, u64 mult);
s64 ntp_leap_instant(s64 now);

#endif /* _NTPK_NTP_H */
