#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A reference clock that the guest's time daemon cannot move, and a probe
that holds NTP replies against it (run with /usr/bin/python3).

  upstream  an NTP server (stratum 1) whose time is CLOCK_MONOTONIC_RAW
            plus a fixed base: the realtime clock at start plus --ahead
            seconds.  chronyd slewing or stepping the system clock does
            not move it.  Writes the base (ns) to --base-file.  With
            --leap-at T (Unix seconds) it announces a leap second (LI 1)
            until T and inserts it there: from T on its time is 1 s
            behind raw + base.
  probe     client requests to --server, one at a time; each reply's
            error against the upstream's time (read from the same
            CLOCK_MONOTONIC_RAW and base) is checked against what the
            reply claims: |offset| <= root dispersion + root delay / 2 +
            round trip / 2 + 2^precision.  One JSON line per reply, then
            a summary line; exit 1 when any reply claims too much, or
            when fewer than --count got answers.  With --until-silent K
            it stops after K requests in a row got no answer (the
            server stopped answering) and unanswered ones are no
            failure; each line has the request's send time on the
            system clock ('sent', s) and on the upstream's ('t1', ns).
  watch     client requests to --server every --interval for --seconds;
            one JSON line per request: the system clock when sent, and
            the reply's leap indicator, stratum and transmit time.
  leap      (root) arm the kernel to insert a leap second at the end of
            the current UTC day (adjtimex STA_INS), or --clear it.
  adjtimex  (root) set the kernel's tick (us) and frequency (2^-16 ppm),
            as a daemon's slew would; prints CLOCK_MONOTONIC_RAW (ns) and
            the system clock (s) right after.  With --stop PID, first
            stops PID (SIGSTOP), waits --delay s, and prints the system
            clock when it stopped it as well (this starts in a second
            under emulation: python's start is not in between).  With
            --undo-since RAW --undo-ppb R, first steps the system clock
            back by what R ppb more than it ran at before gained it since
            RAW: the error a stall's tick or frequency left is taken
            back, so that the daemon, when it runs again, finds the clock
            where its slew would have kept it (within microseconds).

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
	leap_ns = None if a.leap_at is None else a.leap_at * 1000000000

	def now():
		# The inserted second repeats the one before, as the kernel's
		# does: from the leap on, 1 s behind raw + base.
		t = raw_ns() + base
		return t - 1000000000 if leap_ns is not None and t >= leap_ns else t
	while True:
		r, _, _ = select.select(socks, [], [])
		for s in r:
			req, peer = s.recvfrom(1024)
			li = 1 if leap_ns is not None and \
				raw_ns() + base < leap_ns else 0
			rx = now()
			if len(req) < 48 or req[0] & 7 != 3:
				continue
			vn = req[0] >> 3 & 7
			ts = ns_to_ntp(rx)
			poll = struct.unpack('!b', req[2:3])[0]
			reply = struct.pack('!BBbbII4sQ8sQ', li << 6 | vn << 3 | 4,
					    1, poll, -20, 0, 0x10, refid,
					    ts - (1 << 30), req[40:48], ts)
			reply += struct.pack('!Q', ns_to_ntp(now()))
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
	answered = bad = silent = 0
	worst = 0.0
	for i in range(a.count):
		sent = time.time()
		t1 = raw_ns() + base
		reply = exchange(s)
		t4 = raw_ns() + base
		if reply is None:
			print(json.dumps({'n': i, 'answered': False, 'sent': sent,
					  't1': t1}))
			silent += 1
			if a.until_silent and silent >= a.until_silent:
				break
		else:
			silent = 0
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
				'n': i, 'answered': True, 'sent': sent, 't1': t1,
				'li': li,
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
	sys.exit(1 if bad or (answered < a.count and not a.until_silent)
		 else 0)


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


def timex(modes, freq=0, tick=0):
	import ctypes
	libc = ctypes.CDLL(None, use_errno=True)
	# struct timex on LP64: modes at 0, freq at 16, tick at 88.
	buf = ctypes.create_string_buffer(256)
	struct.pack_into('I', buf, 0, modes)
	struct.pack_into('q', buf, 16, freq)
	struct.pack_into('q', buf, 88, tick)
	if libc.adjtimex(buf) < 0:
		sys.exit('adjtimex: %s' % os.strerror(ctypes.get_errno()))


def cmd_adjtimex(a):
	import signal
	ADJ_FREQUENCY, ADJ_TICK = 0x0002, 0x4000
	stopped = ''
	if a.stop:
		os.kill(a.stop, signal.SIGSTOP)
		stopped = ' %.6f' % time.time()
		time.sleep(a.delay)
	if a.undo_since is not None:
		gained = (raw_ns() - a.undo_since) * a.undo_ppb // 1000000000
		now = time.clock_gettime_ns(time.CLOCK_REALTIME)
		time.clock_settime_ns(time.CLOCK_REALTIME, now - gained)
	timex(ADJ_FREQUENCY | ADJ_TICK, a.freq, a.tick)
	print('%d %.6f%s' % (raw_ns(), time.time(), stopped))


def main():
	p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
	sub = p.add_subparsers(dest='cmd', required=True)
	u = sub.add_parser('upstream')
	u.add_argument('--listen', action='append', required=True)
	u.add_argument('--port', type=int, default=123)
	u.add_argument('--ahead', type=float, default=0.0)
	u.add_argument('--refid', default='RAW')
	u.add_argument('--base-file', required=True)
	u.add_argument('--leap-at', type=int)
	q = sub.add_parser('probe')
	q.add_argument('--server', required=True)
	q.add_argument('--port', type=int, default=123)
	q.add_argument('--count', type=int, default=10)
	q.add_argument('--interval', type=float, default=0.2)
	q.add_argument('--timeout', type=float, default=2.0)
	q.add_argument('--base-file', required=True)
	q.add_argument('--until-silent', type=int, default=0)
	w = sub.add_parser('watch')
	w.add_argument('--server', required=True)
	w.add_argument('--port', type=int, default=123)
	w.add_argument('--seconds', type=float, required=True)
	w.add_argument('--interval', type=float, default=0.2)
	w.add_argument('--timeout', type=float, default=1.0)
	lp = sub.add_parser('leap')
	lp.add_argument('--clear', action='store_true')
	x = sub.add_parser('adjtimex')
	x.add_argument('--tick', type=int, required=True)
	x.add_argument('--freq', type=int, required=True)
	x.add_argument('--undo-since', type=int)
	x.add_argument('--undo-ppb', type=int, default=0)
	x.add_argument('--stop', type=int)
	x.add_argument('--delay', type=float, default=0.0)
	a = p.parse_args()
	{'upstream': cmd_upstream, 'probe': cmd_probe, 'watch': cmd_watch,
	 'leap': cmd_leap, 'adjtimex': cmd_adjtimex}[a.cmd](a)


if __name__ == '__main__':
	main()
