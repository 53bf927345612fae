// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ntpgen: paced NTP client load for the benchmark.
 *
 * Sends valid NTPv4 mode-3 requests as raw Ethernet frames on one interface
 * (AF_PACKET, sendmmsg), each from a different client address of a pool
 * (SRC/BITS, walked in a scrambled order) and a varying source port, at a
 * fixed rate for a fixed count.  Pacing is against an absolute schedule, so
 * late wake-ups are caught up in small batches instead of lost.
 *
 * With --capture N it also reads the replies (UDP source port 123 from the
 * server) from a packet socket on the same interface and reports the
 * server's residence time (transmit minus receive timestamp in the reply)
 * over up to N of them.  Reply counting for the benchmark is done by an
 * nftables counter, not here; the count here is a cross-check.
 *
 * Output: one line of key=value pairs on stdout.  Exit 0 when every request
 * was sent and the schedule was kept (the whole run took at most 2% or 50 ms
 * longer than count/rate), 1 otherwise (the line is still printed), 2 on
 * usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_LEN	(14 + 20 + 8 + 48)
#define MAX_BATCH	64
#define NTP_UNIX_OFFSET	2208988800ULL

struct opts {
	const char *dev;
	uint8_t dst_mac[6];
	struct in_addr dst;
	struct in_addr src_base;
	unsigned int src_bits;
	double rate;
	unsigned long count;
	unsigned int batch;
	unsigned long capture;
	unsigned long seq_start;
	unsigned long burst;
	double sample;
	double linger;
};

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void usage(void)
{
	fprintf(stderr,
"usage: ntpgen --dev IF --dst-mac MAC --dst IP --src NET/BITS --rate PPS\n"
"              --count N [--batch B] [--capture N] [--linger SEC]\n"
"              [--seq-start N] [--sample P] [--burst N]\n"
"  --src NET/BITS  client address pool, 2^(32-BITS) addresses\n"
"  --batch B       at most B frames per sendmmsg (default 16, max 64)\n"
"  --capture N     read replies, residence time over up to N of them\n"
"  --linger SEC    keep reading replies SEC after the last send (0.3)\n"
"  --seq-start N   first request number: request k comes from pool address\n"
"                  scramble(k mod pool size), so consecutive runs started\n"
"                  where the last stopped use addresses not used before\n"
"  --sample P      capture only a random fraction P of the replies\n"
"                  (in the kernel's filter, so the rest cost nothing)\n"
"  --burst N       send in bursts of N frames (as fast as possible), N/rate\n"
"                  seconds apart; default 1, evenly paced\n");
	exit(2);
}

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* A bijection on [0, 2^bits): scatters consecutive indices over the pool. */
static uint32_t scramble(uint32_t i, unsigned int bits)
{
	uint32_t mask = bits >= 32 ? UINT32_MAX : (1U << bits) - 1;

	i = (i * 2654435761U) & mask;	/* odd multiplier: bijective mod 2^k */
	i ^= i >> (bits / 2 + 1);
	return (i * 0x9e3779b1U) & mask;
}

static void build_frame(uint8_t *f, const struct opts *o,
			const uint8_t *src_mac, unsigned long seq,
			uint64_t ntp_now)
{
	struct iphdr *ip = (struct iphdr *)(f + 14);
	struct udphdr *uh = (struct udphdr *)(f + 34);
	uint8_t *ntp = f + 42;
	uint32_t pool = 32 - o->src_bits;	/* log2 of the pool size */
	uint32_t idx, saddr;
	uint16_t sport;
	uint32_t sum;

	idx = scramble((uint32_t)seq, pool);
	saddr = ntohl(o->src_base.s_addr) + idx;
	/* Ports 1024..65023, changing with every lap over the pool. */
	sport = 1024 + (uint16_t)(((seq >> pool) * 40503U + idx * 7U) % 64000U);

	memcpy(f, o->dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;

	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(20 + 8 + 48);
	ip->id = htons((uint16_t)seq);
	ip->frag_off = htons(IP_DF);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = htonl(saddr);
	ip->daddr = o->dst.s_addr;
	ip->check = htons(csum_fold(csum_add(0, ip, 20)));

	uh->source = htons(sport);
	uh->dest = htons(123);
	uh->len = htons(8 + 48);
	uh->check = 0;

	memset(ntp, 0, 48);
	ntp[0] = 0x23;		/* LI 0, version 4, mode 3 */
	ntp[2] = 6;		/* poll */
	ntp[3] = 0xec;		/* precision -20 */
	put_be32(ntp + 40, (uint32_t)(ntp_now >> 32));
	put_be32(ntp + 44, (uint32_t)ntp_now ^ (uint32_t)seq);

	/* Pseudo-header, then the UDP header and payload. */
	sum = csum_add(0, &ip->saddr, 8);
	sum += IPPROTO_UDP + 8 + 48;
	sum = csum_add(sum, uh, 8 + 48);
	uh->check = htons(csum_fold(sum));
	if (!uh->check)
		uh->check = 0xffff;
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		mac[i] = b[i];
	}
	return 0;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "dst-mac", required_argument, NULL, 'm' },
		{ "dst", required_argument, NULL, 'D' },
		{ "src", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "capture", required_argument, NULL, 'c' },
		{ "linger", required_argument, NULL, 'l' },
		{ "seq-start", required_argument, NULL, 'S' },
		{ "sample", required_argument, NULL, 'p' },
		{ "burst", required_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 }
	};
	int c, have_mac = 0;
	char *slash, *end;

	memset(o, 0, sizeof(*o));
	o->batch = 16;
	o->linger = 0.3;
	o->sample = 1;
	o->burst = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dev = optarg;
			break;
		case 'm':
			if (parse_mac(optarg, o->dst_mac))
				usage();
			have_mac = 1;
			break;
		case 'D':
			if (inet_pton(AF_INET, optarg, &o->dst) != 1)
				usage();
			break;
		case 's':
			slash = strchr(optarg, '/');
			if (!slash)
				usage();
			*slash = 0;
			if (inet_pton(AF_INET, optarg, &o->src_base) != 1)
				usage();
			o->src_bits = strtoul(slash + 1, &end, 10);
			if (*end || o->src_bits < 8 || o->src_bits > 30)
				usage();
			break;
		case 'r':
			o->rate = strtod(optarg, &end);
			if (*end || o->rate <= 0)
				usage();
			break;
		case 'n':
			o->count = strtoul(optarg, &end, 10);
			if (*end)
				usage();
			break;
		case 'b':
			o->batch = strtoul(optarg, &end, 10);
			if (*end || !o->batch || o->batch > MAX_BATCH)
				usage();
			break;
		case 'c':
			o->capture = strtoul(optarg, &end, 10);
			if (*end)
				usage();
			break;
		case 'B':
			o->burst = strtoul(optarg, &end, 10);
			if (*end || !o->burst)
				usage();
			break;
		case 'p':
			o->sample = strtod(optarg, &end);
			if (*end || o->sample <= 0 || o->sample > 1)
				usage();
			break;
		case 'S':
			o->seq_start = strtoul(optarg, &end, 10);
			if (*end)
				usage();
			break;
		case 'l':
			o->linger = strtod(optarg, &end);
			if (*end || o->linger < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !o->dev || !have_mac || !o->dst.s_addr ||
	    !o->src_bits || !o->rate || !o->count)
		usage();
}

/* Replies: IPv4, UDP, from the server, source port 123. */
static int open_capture(int ifindex, struct in_addr server, double sample)
{
	uint32_t srv = ntohl(server.s_addr);
	/* Keep a packet when a random u32 is below this. */
	uint32_t keep = sample >= 1 ? UINT32_MAX :
			(uint32_t)(sample * 4294967296.0);
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_RANDOM),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, keep, 12, 0),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, 9),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 7),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 26),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, srv, 0, 5),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 3, 0),
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 123, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		/* ETH_P_ALL: taps see frames before ingress filters drop them. */
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};
	int fd, rcvbuf = 16 << 20;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("capture socket");
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		die("SO_ATTACH_FILTER");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		die("capture bind");
	/* Only packets to us from now on: flush what matched before bind. */
	return fd;
}

struct capture {
	int fd;
	unsigned long max;
	unsigned long n;		/* samples kept */
	unsigned long seen;		/* mode-4 replies read */
	unsigned long other;		/* matched the filter, not a reply */
	int64_t *res;			/* residence, ns */
};

static void drain(struct capture *c)
{
	static uint8_t buf[MAX_BATCH][256];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	int i, n;

	for (;;) {
		for (i = 0; i < MAX_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(c->fd, msgs, MAX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			const uint8_t *f = buf[i];
			unsigned int len = msgs[i].msg_len, ihl;
			const uint8_t *ntp;
			uint64_t rx, tx;

			ihl = (f[14] & 0xf) * 4;
			if (len < 14 + ihl + 8 + 48 || (f[14 + ihl + 8] & 7) != 4) {
				c->other++;
				continue;
			}
			ntp = f + 14 + ihl + 8;
			c->seen++;
			if (c->n >= c->max)
				continue;
			rx = get_be64(ntp + 32);
			tx = get_be64(ntp + 40);
			/* 32.32 fixed point difference to ns. */
			c->res[c->n++] = (int64_t)(((__int128)(int64_t)(tx - rx) *
						    1000000000) >> 32);
		}
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t pct(const int64_t *v, unsigned long n, double p)
{
	unsigned long i;

	if (!n)
		return -1;
	i = (unsigned long)(p * (n - 1) + 0.5);
	return v[i];
}

int main(int argc, char **argv)
{
	static uint8_t frames[MAX_BATCH][FRAME_LEN];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	struct capture cap = { .fd = -1 };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	uint64_t t0, deadline, now, last_end, late_max = 0, want, allowed;
	unsigned long sent = 0, calls = 0, eagain = 0;
	uint8_t src_mac[6];
	struct ifreq ifr;
	struct opts o;
	int fd, one = 1, i, ok;
	double elapsed;

	parse_opts(argc, argv, &o);

	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		die("socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o.dev);
	if (ioctl(fd, SIOCGIFINDEX, &ifr))
		die(o.dev);
	sll.sll_ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		die("SIOCGIFHWADDR");
	memcpy(src_mac, ifr.ifr_hwaddr.sa_data, 6);
	/* Protocol 0: a send-only socket, no copies of received frames. */
	sll.sll_protocol = 0;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		die("bind");
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));

	if (o.capture) {
		cap.fd = open_capture(sll.sll_ifindex, o.dst, o.sample);
		cap.max = o.capture;
		cap.res = calloc(o.capture, sizeof(*cap.res));
		if (!cap.res)
			die("calloc");
		drain(&cap);
		cap.seen = cap.other = cap.n = 0;
	}

	for (i = 0; i < MAX_BATCH; i++) {
		iov[i].iov_base = frames[i];
		iov[i].iov_len = FRAME_LEN;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	t0 = now_ns(CLOCK_MONOTONIC);
	last_end = t0;
	while (sent < o.count) {
		uint64_t ntp_now;
		unsigned int n;
		int r;

		now = now_ns(CLOCK_MONOTONIC);
		/* Frames due by now on the schedule sent[k] at t0 + k/rate. */
		want = ((uint64_t)((double)(now - t0) * o.rate / 1e9 /
				   o.burst) + 1) * o.burst;
		if (want > o.count)
			want = o.count;
		if (want <= sent) {
			struct timespec ts;

			deadline = t0 + (uint64_t)((double)(sent / o.burst *
					o.burst) * 1e9 / o.rate);
			ts.tv_sec = deadline / 1000000000ULL;
			ts.tv_nsec = deadline % 1000000000ULL;
			if (cap.fd >= 0)
				drain(&cap);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			continue;
		}
		allowed = (uint64_t)((double)sent * 1e9 / o.rate);
		if (now - t0 > allowed && now - t0 - allowed > late_max)
			late_max = now - t0 - allowed;
		n = want - sent;
		if (n > o.batch)
			n = o.batch;
		ntp_now = ((uint64_t)time(NULL) + NTP_UNIX_OFFSET) << 32;
		for (i = 0; i < (int)n; i++)
			build_frame(frames[i], &o, src_mac,
				    o.seq_start + sent + i, ntp_now);
		r = sendmmsg(fd, msgs, n, 0);
		calls++;
		if (r < 0) {
			if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) {
				eagain++;
				continue;
			}
			die("sendmmsg");
		}
		sent += r;
		last_end = now_ns(CLOCK_MONOTONIC);
	}
	elapsed = (double)(last_end - t0) / 1e9;

	if (cap.fd >= 0) {
		uint64_t stop = now_ns(CLOCK_MONOTONIC) +
				(uint64_t)(o.linger * 1e9);

		while ((now = now_ns(CLOCK_MONOTONIC)) < stop) {
			struct pollfd p = { .fd = cap.fd, .events = POLLIN };
			int ms = (int)((stop - now) / 1000000) + 1;

			if (poll(&p, 1, ms) > 0)
				drain(&cap);
		}
		drain(&cap);
	}

	/* The schedule says the last frame goes at (count - 1) / rate. */
	{
		double ideal = (double)(o.count - 1) / o.rate;

		ok = sent == o.count && elapsed <= ideal * 1.02 + 0.05;
	}
	printf("sent=%lu requested=%lu rate=%.0f elapsed=%.6f achieved=%.1f "
	       "calls=%lu retries=%lu late_max_us=%.0f ok=%d",
	       sent, o.count, o.rate, elapsed,
	       elapsed > 0 ? (double)(sent - 1) / elapsed : 0.0, calls, eagain,
	       late_max / 1e3, ok);
	if (cap.fd >= 0) {
		struct tpacket_stats st;
		socklen_t sl = sizeof(st);

		memset(&st, 0, sizeof(st));
		getsockopt(cap.fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl);
		qsort(cap.res, cap.n, sizeof(*cap.res), cmp_i64);
		printf(" cap_seen=%lu cap_other=%lu cap_drops=%u res_n=%lu "
		       "res_p50_ns=%lld res_p99_ns=%lld res_max_ns=%lld",
		       cap.seen, cap.other, st.tp_drops, cap.n,
		       (long long)pct(cap.res, cap.n, 0.50),
		       (long long)pct(cap.res, cap.n, 0.99),
		       (long long)(cap.n ? cap.res[cap.n - 1] : -1));
	}
	printf("\n");
	return ok ? 0 : 1;
}
