#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Clients of an anycast VIP for selftests/ntpk_anycast.sh: who answered
each request, and when; and the nodes' common upstream.

  run     requests at --rate a second in total, round robin over flows (one
          socket each: --per-src sockets per source address), each to the
          VIP of its source's family, until the --stop file appears.  One
          line per request to --log: SEND FAMILY FLOW RESULT, where SEND is
          the send time (Unix seconds) and RESULT "ttl=N leap=L stratum=S"
          for the reply, "noroute=ADDR" when ADDR sent back an ICMP or
          ICMPv6 destination unreachable, no route, quoting the request
          (IP_RECVERR), or "lost" after --timeout.  The pace and the
          timeouts run on CLOCK_MONOTONIC: the test moves the realtime
          clock (a leap second in 2016) while the clients run.
  upstream  an NTP server (stratum 1) on --listen, serving the system
          clock plus an offset, with a leap indicator, both read from the
          --ctl file ("OFFSET-SECONDS LI") at every request: writing the
          file moves every node's upstream at the same moment.
  report  for each window NAME=FROM,TO and family F, counts over the
          requests sent in [FROM, TO): NAME.F.sent, .lost (unanswered,
          whatever the reason), .noroute (of them, those a --router
          address said it had no route for), .unsync
          (replies with leap 3), .ttl.N (replies with TTL or hop limit N,
          which tells the node), .lost_first and .lost_last (send times of
          the first and last lost, when any).  "KEY VALUE" lines, for the
          shell.

A reply counts only when it comes from the VIP's port 123 and is 48 bytes
of mode 4 whose origin timestamp is the request's transmit timestamp, on
the socket that sent it; anything else is ignored.
"""

import argparse
import os
import select
import socket
import struct
import sys
import time

NTP_UNIX = 2208988800
IP_TTL = 2		# not in Python's socket module
IP_RECVTTL = 12
IP_RECVERR = 11
IPV6_RECVERR = 25
# sock_extended_err's ee_origin and ee_type for a destination unreachable,
# code 0 (network unreachable; no route): the router's "no route".
NOROUTE = {(2, 3, 0), (3, 1, 0)}


def family_of(addr):
	return socket.AF_INET6 if ':' in addr else socket.AF_INET


class Flow:
	"""One socket, with at most one request outstanding."""

	def __init__(self, idx, src, dst):
		fam = family_of(src)
		self.idx = idx
		self.fam = 6 if fam == socket.AF_INET6 else 4
		self.dst = dst
		self.sock = socket.socket(fam, socket.SOCK_DGRAM)
		if fam == socket.AF_INET6:
			self.sock.setsockopt(socket.IPPROTO_IPV6,
					     socket.IPV6_RECVHOPLIMIT, 1)
			self.sock.setsockopt(socket.IPPROTO_IPV6,
					     IPV6_RECVERR, 1)
		else:
			self.sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
			self.sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
		self.sock.bind((src, 0))
		self.sock.setblocking(False)
		self.xmt = None		# transmit timestamp outstanding
		self.sent = 0.0		# realtime, for the log
		self.sent_mono = 0.0	# monotonic, for the timeout

	def send(self, now):
		sec = int(now) + NTP_UNIX
		frac = int((now % 1) * 2**32)
		# The low bits random: no two requests share a timestamp.
		self.xmt = (sec << 32) | (frac & ~0xffff) | \
			int.from_bytes(os.urandom(2), 'big')
		pkt = struct.pack('!BBbb', 4 << 3 | 3, 0, 6, -20) + bytes(36) + \
			struct.pack('!Q', self.xmt)
		self.sent = now
		try:
			self.sock.sendto(pkt, (self.dst, 123))
		except OSError:
			pass		# unreachable for now: counts as lost

	def error(self):
		"""The RESULT of a no-route error quoting the outstanding
		request, '' for any other queued error, None for none."""
		try:
			data, anc, _, _ = self.sock.recvmsg(512, 512,
							    socket.MSG_ERRQUEUE)
		except BlockingIOError:
			return None
		for level, kind, val in anc:
			if (level, kind) not in ((socket.IPPROTO_IP, IP_RECVERR),
						 (socket.IPPROTO_IPV6,
						  IPV6_RECVERR)) or len(val) < 16:
				continue
			origin, icmp_type, code = struct.unpack_from('=4xBBB', val)
			off = val[16:]
			if (origin, icmp_type, code) not in NOROUTE or \
			   self.xmt is None or len(data) < 48 or \
			   struct.unpack('!Q', data[40:48])[0] != self.xmt:
				return ''
			if len(off) >= 24 and \
			   int.from_bytes(off[:2], sys.byteorder) == socket.AF_INET6:
				who = socket.inet_ntop(socket.AF_INET6, off[8:24])
			elif len(off) >= 8:
				who = socket.inet_ntop(socket.AF_INET, off[4:8])
			else:
				return ''
			self.xmt = None
			return 'noroute=' + who
		return ''

	def receive(self):
		"""The RESULT of a matching reply, or None."""
		try:
			data, anc, _, addr = self.sock.recvmsg(512, 64)
		except BlockingIOError:
			return None
		except OSError:
			return ''	# an error, reported by error()
		if addr[0] != self.dst or addr[1] != 123 or len(data) != 48 or \
		   self.xmt is None:
			return None
		li_vn_mode, stratum = data[0], data[1]
		if li_vn_mode & 7 != 4 or \
		   struct.unpack('!Q', data[24:32])[0] != self.xmt:
			return None
		ttl = -1
		for level, kind, val in anc:
			if (level, kind) in ((socket.IPPROTO_IP, IP_TTL),
					     (socket.IPPROTO_IPV6,
					      socket.IPV6_HOPLIMIT)):
				ttl = int.from_bytes(val[:4], sys.byteorder)
		self.xmt = None
		return 'ttl=%d leap=%d stratum=%d' % (ttl, li_vn_mode >> 6, stratum)


def run(args):
	# Interleaved, source by source and destination by destination, so
	# that any stretch of time samples every family and source alike.
	pairs = [[(src, dst) for src in src_list.split(',')]
		 for src_list, dst in zip(args.src, args.dst)]
	flows = []
	for _ in range(args.per_src):
		for i in range(max(len(p) for p in pairs)):
			for p in pairs:
				if i < len(p):
					flows.append(Flow(len(flows), *p[i]))
	by_fd = {f.sock.fileno(): f for f in flows}
	poller = select.poll()
	for fd in by_fd:
		poller.register(fd, select.POLLIN)
	log = open(args.log, 'w', buffering=1)
	gap = 1.0 / args.rate
	nxt = time.monotonic()
	turn = 0

	def resolve(f, result):
		log.write('%.6f %d %d %s\n' % (f.sent, f.fam, f.idx, result))

	while not os.path.exists(args.stop):
		now = time.monotonic()
		if now >= nxt:
			f = flows[turn]
			turn = (turn + 1) % len(flows)
			if f.xmt is not None:
				resolve(f, 'lost')
			f.send(time.time())
			f.sent_mono = now
			nxt += gap
			if nxt < now - 1:
				nxt = now	# the guest stalled: do not burst
		for f in flows:
			if f.xmt is not None and now - f.sent_mono > args.timeout:
				f.xmt = None
				resolve(f, 'lost')
		for fd, _ in poller.poll(max(0, int((nxt - time.monotonic()) * 1000))):
			f = by_fd[fd]
			for get in (f.error, f.receive):
				while True:
					r = get()
					if r is None:
						break
					if r:
						resolve(f, r)
	for f in flows:
		if f.xmt is not None:
			resolve(f, 'lost')
	log.close()


def ns_to_ntp(ns):
	sec, frac = divmod(ns, 1000000000)
	return ((sec + NTP_UNIX) & 0xffffffff) << 32 | (frac << 32) // 1000000000


def upstream(args):
	socks = []
	for addr in args.listen:
		s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		s.bind((addr, 123))
		socks.append(s)
	while True:
		r, _, _ = select.select(socks, [], [])
		for s in r:
			req, peer = s.recvfrom(1024)
			rx = time.clock_gettime_ns(time.CLOCK_REALTIME)
			if len(req) < 48 or req[0] & 7 != 3:
				continue
			try:
				with open(args.ctl) as f:
					w = f.read().split()
				off, li = int(float(w[0]) * 1e9), int(w[1]) & 3
			except (OSError, ValueError, IndexError):
				continue	# being written: no answer this time
			ts = ns_to_ntp(rx + off)
			reply = struct.pack('!BBbbII4sQ8sQ', li << 6 | (req[0] & 0x38) | 4,
					    1, struct.unpack('!b', req[2:3])[0], -20, 0,
					    0x10, b'UPST', ns_to_ntp(rx + off - 1000000000),
					    req[40:48], ts)
			reply += struct.pack('!Q', ns_to_ntp(
				time.clock_gettime_ns(time.CLOCK_REALTIME) + off))
			s.sendto(reply, peer)


def report(args):
	windows = []
	for w in args.window:
		name, _, span = w.partition('=')
		lo, _, hi = span.partition(',')
		windows.append((name, float(lo), float(hi)))
	counts = {}
	lost = {}
	for name, _, _ in windows:
		for fam in (4, 6):
			counts[name, fam] = {'sent': 0, 'lost': 0, 'noroute': 0,
					     'unsync': 0}
			lost[name, fam] = []
	with open(args.log) as log:
		for line in log:
			w = line.split()
			if len(w) < 4:
				continue	# the last line, being written
			t, fam = float(w[0]), int(w[1])
			kv = dict(x.split('=') for x in w[3:] if '=' in x)
			for name, lo, hi in windows:
				if not lo <= t < hi:
					continue
				c = counts[name, fam]
				c['sent'] += 1
				if 'ttl' not in kv:
					c['lost'] += 1
					lost[name, fam].append(t)
					if kv.get('noroute') in args.router:
						c['noroute'] += 1
					continue
				key = 'ttl.' + kv['ttl']
				c[key] = c.get(key, 0) + 1
				if kv['leap'] == '3':
					c['unsync'] += 1
	for (name, fam), c in counts.items():
		for k in sorted(c):
			print('%s.%d.%s %d' % (name, fam, k, c[k]))
		if lost[name, fam]:
			print('%s.%d.lost_first %.3f' % (name, fam,
							 min(lost[name, fam])))
			print('%s.%d.lost_last %.3f' % (name, fam,
							max(lost[name, fam])))


def main():
	p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
	sub = p.add_subparsers(dest='cmd', required=True)
	r = sub.add_parser('run')
	r.add_argument('--dst', action='append', required=True,
		       help='a VIP; one per --src')
	r.add_argument('--src', action='append', required=True,
		       help='comma-separated source addresses for the --dst')
	r.add_argument('--per-src', type=int, default=16)
	r.add_argument('--rate', type=float, default=50)
	r.add_argument('--timeout', type=float, default=1.0)
	r.add_argument('--log', required=True)
	r.add_argument('--stop', required=True)
	u = sub.add_parser('upstream')
	u.add_argument('--listen', action='append', required=True)
	u.add_argument('--ctl', required=True)
	q = sub.add_parser('report')
	q.add_argument('--log', required=True)
	q.add_argument('--router', action='append', default=[],
		       help="a router's address: its no-route errors count")
	q.add_argument('window', nargs='+', help='NAME=FROM,TO (Unix seconds)')
	args = p.parse_args()
	if args.cmd == 'run':
		if len(args.src) != len(args.dst):
			p.error('one --src per --dst')
		run(args)
	elif args.cmd == 'upstream':
		upstream(args)
	else:
		report(args)


if __name__ == '__main__':
	main()
