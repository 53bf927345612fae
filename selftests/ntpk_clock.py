#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A reference clock that the guest's time daemon cannot move, and a probe
that holds NTP replies against it (run with /usr/bin/python3).

  upstream  an NTP server (stratum 1) whose time is CLOCK_MONOTONIC_RAW
            plus a fixed base: the realtime clock at start plus --ahead
            seconds.  chronyd slewing or stepping the system clock does
            not move it.  Writes the base (ns) to --base-file.
  probe     client requests to --server, one at a time; each reply's
            error against the upstream's time (read from the same
            CLOCK_MONOTONIC_RAW and base) is checked against what the
            reply claims: |offset| <= root dispersion + root delay / 2 +
            round trip / 2 + 2^precision.  One JSON line per reply, then
            a summary line; exit 1 when any reply claims too much, or
            when fewer than --count got answers.
  watch     client requests to --server every --interval for --seconds;
            one JSON line per request: the system clock when sent, and
            the reply's leap indicator, stratum and transmit time.
  leap      (root) arm the kernel to insert a leap second at the end of
            the current UTC day (adjtimex STA_INS), or --clear it.

Every time here is in nanoseconds, and NTP timestamps are unpacked with
the upstream's own era pivot (the base), so nothing depends on the
guest's realtime clock, which the daemon under test controls.
"""

import argparse
import json
import os
import socket
import struct
import sys
import time

NTP_UNIX = 2208988800
RAW = time.CLOCK_MONOTONIC_RAW


def raw_ns():
	return time.clock_gettime_ns(RAW)


def ns_to_ntp(ns):
	sec, frac = divmod(ns, 1000000000)
	return ((sec + NTP_UNIX) & 0xffffffff) << 32 | (frac << 32) // 1000000000


def ntp_to_ns(ts, pivot_ns):
	"""The Unix time in ns of NTP timestamp ts, in the era nearest pivot."""
	sec = ts >> 32
	frac = ts & 0xffffffff
	ns = (sec - NTP_UNIX) * 1000000000 + (frac * 1000000000 >> 32)
	era = 1 << 32
	while ns - pivot_ns > era * 500000000:
		ns -= era * 1000000000
	while pivot_ns - ns > era * 500000000:
		ns += era * 1000000000
	return ns


def short_to_s(v):
	return v / 65536.0


def cmd_upstream(a):
	base = time.clock_gettime_ns(time.CLOCK_REALTIME) - raw_ns() + \
		int(a.ahead * 1e9)
	socks = []
	for addr in a.listen:
		fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
		s = socket.socket(fam, socket.SOCK_DGRAM)
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		s.bind((addr, a.port))
		socks.append(s)
	with open(a.base_file + '.tmp', 'w') as f:
		f.write('%d\n' % base)
	os.rename(a.base_file + '.tmp', a.base_file)
	import select
	refid = a.refid.encode()[:4].ljust(4, b'\0')
	while True:
		r, _, _ = select.select(socks, [], [])
		for s in r:
			req, peer = s.recvfrom(1024)
			rx = raw_ns() + base
			if len(req) < 48 or req[0] & 7 != 3:
				continue
			vn = req[0] >> 3 & 7
			ts = ns_to_ntp(rx)
			poll = struct.unpack('!b', req[2:3])[0]
			reply = struct.pack('!BBbbII4sQ8sQ', vn << 3 | 4, 1, poll,
					    -20, 0, 0x10, refid, ts - (1 << 30),
					    req[40:48], ts)
			reply += struct.pack('!Q', ns_to_ntp(raw_ns() + base))
			s.sendto(reply, peer)


def client_socket(a):
	fam = socket.AF_INET6 if ':' in a.server else socket.AF_INET
	s = socket.socket(fam, socket.SOCK_DGRAM)
	s.connect((a.server, a.port))
	s.settimeout(a.timeout)
	return s


def exchange(s):
	"""One v4 client request with a random transmit timestamp; the reply
	that echoes it, or None after the socket's timeout."""
	cookie = os.urandom(8)
	s.send(bytes([0x23]) + bytes(39) + cookie)
	while True:
		try:
			b = s.recv(1024)
		except socket.timeout:
			return None
		if len(b) >= 48 and b[24:32] == cookie:
			return b


def cmd_probe(a):
	with open(a.base_file) as f:
		base = int(f.read())
	s = client_socket(a)
	answered = bad = 0
	worst = 0.0
	for i in range(a.count):
		t1 = raw_ns() + base
		reply = exchange(s)
		t4 = raw_ns() + base
		if reply is None:
			print(json.dumps({'n': i, 'answered': False}))
		else:
			answered += 1
			li = reply[0] >> 6
			stratum = reply[1]
			prec = struct.unpack('!b', reply[3:4])[0]
			rdelay, rdisp = struct.unpack('!II', reply[4:12])
			t2 = ntp_to_ns(struct.unpack('!Q', reply[32:40])[0], t1)
			t3 = ntp_to_ns(struct.unpack('!Q', reply[40:48])[0], t1)
			offset = ((t2 - t1) + (t3 - t4)) / 2e9
			delay = ((t4 - t1) - (t3 - t2)) / 1e9
			bound = short_to_s(rdisp) + short_to_s(rdelay) / 2 + \
				max(delay, 0) / 2 + 2.0 ** prec
			ok = abs(offset) <= bound
			bad += not ok
			worst = max(worst, abs(offset) / bound if bound else 1e9)
			print(json.dumps({
				'n': i, 'answered': True, 'li': li,
				'stratum': stratum, 'refid': reply[12:16].hex(),
				'offset': round(offset, 9), 'delay': round(delay, 9),
				'rootdisp': short_to_s(rdisp),
				'rootdelay': short_to_s(rdelay),
				'bound': round(bound, 9), 'ok': ok}))
		sys.stdout.flush()
		if i + 1 < a.count:
			time.sleep(a.interval)
	print(json.dumps({'summary': True, 'sent': a.count,
			  'answered': answered, 'beyond_bound': bad,
			  'worst_offset_to_bound': round(worst, 4)}))
	sys.exit(1 if bad or answered < a.count else 0)


def cmd_watch(a):
	s = client_socket(a)
	end = time.monotonic() + a.seconds
	while time.monotonic() < end:
		sent = time.clock_gettime_ns(time.CLOCK_REALTIME)
		b = exchange(s)
		out = {'sent': sent / 1e9, 'answered': False}
		if b is not None:
			t3 = ntp_to_ns(struct.unpack('!Q', b[40:48])[0], sent)
			out.update(answered=True, li=b[0] >> 6, stratum=b[1],
				   tx=t3 / 1e9)
		print(json.dumps(out))
		sys.stdout.flush()
		time.sleep(a.interval)


def cmd_leap(a):
	import ctypes
	ADJ_STATUS, STA_INS, STA_UNSYNC = 0x0010, 0x0010, 0x0040
	libc = ctypes.CDLL(None, use_errno=True)
	# struct timex: modes at 0, status (int) at 40 on LP64.
	buf = ctypes.create_string_buffer(256)
	struct.pack_into('I', buf, 0, ADJ_STATUS)
	struct.pack_into('i', buf, 40, STA_UNSYNC if a.clear else STA_INS)
	if libc.adjtimex(buf) < 0:
		sys.exit('adjtimex: %s' % os.strerror(ctypes.get_errno()))


def main():
	p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
	sub = p.add_subparsers(dest='cmd', required=True)
	u = sub.add_parser('upstream')
	u.add_argument('--listen', action='append', required=True)
	u.add_argument('--port', type=int, default=123)
	u.add_argument('--ahead', type=float, default=0.0)
	u.add_argument('--refid', default='RAW')
	u.add_argument('--base-file', required=True)
	q = sub.add_parser('probe')
	q.add_argument('--server', required=True)
	q.add_argument('--port', type=int, default=123)
	q.add_argument('--count', type=int, default=10)
	q.add_argument('--interval', type=float, default=0.2)
	q.add_argument('--timeout', type=float, default=2.0)
	q.add_argument('--base-file', required=True)
	w = sub.add_parser('watch')
	w.add_argument('--server', required=True)
	w.add_argument('--port', type=int, default=123)
	w.add_argument('--seconds', type=float, required=True)
	w.add_argument('--interval', type=float, default=0.2)
	w.add_argument('--timeout', type=float, default=1.0)
	lp = sub.add_parser('leap')
	lp.add_argument('--clear', action='store_true')
	a = p.parse_args()
	{'upstream': cmd_upstream, 'probe': cmd_probe, 'watch': cmd_watch,
	 'leap': cmd_leap}[a.cmd](a)


if __name__ == '__main__':
	main()
