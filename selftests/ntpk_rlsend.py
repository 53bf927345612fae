#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""NTP client traffic for the ntpk guest selftests (ntpk_ecmp.sh,
ntpk_ratelimit.sh).  Plain sockets only, no scapy: fast enough under TCG
to send a burst well inside one rate-limit period.

  query  one request from each of many sockets (distinct source ports),
         spread over several source addresses (and destinations); who
         answered what.
  burst  requests back to back (or --gap apart) from one socket per source
         address, round robin over the sources; what each source got back.
  flood  requests as fast as possible from one socket per source address
         until a stop file appears; what came back.

Every request carries a unique random transmit timestamp.  A reply counts
only when it comes from DST port 123, is 48 bytes of mode 4 with the
request's version, and its origin timestamp is the transmit timestamp of a
request still unanswered on that socket; anything else counts as "bad", a
second reply to one request as a "dup".  A reply with stratum 0 and refid
RATE is a kiss-o'-death ("kod"), anything else an answer ("replies").

Output: "KEY VALUE" lines on stdout, for a shell to read without a JSON
parser (which costs seconds to start under TCG).  query prints totals;
burst and flood print, per source address in --src order, the keys of
that client prefixed with its index ("0.replies 8").  Keys: sent, replies,
kod, bad, dups, unanswered, port (the local one; not in query's totals),
refid.REFID (answers per refid), rx_span (seconds between the first and
last answer's receive timestamp, when any), kod.N.li, kod.N.stratum,
kod.N.poll (the first few KoDs).  query adds answered (requests with an
answer or KoD), flows (distinct local address and port pairs) and sources
(the answers' source addresses, comma separated, "-" for none).
"""

import argparse
import os
import resource
import select
import socket
import struct
import sys
import time

NTP_PORT = 123
SO_RCVBUFFORCE = 33
NTP_UNIX = 2208988800


def family(addr):
	return socket.AF_INET6 if ':' in addr else socket.AF_INET


def request(xmt, poll, version=4):
	return struct.pack('!BBbb', version << 3 | 3, 0, poll, -20) + \
		bytes(36) + struct.pack('!Q', xmt)


class Client:
	"""One socket: what it sent and what came back."""

	def __init__(self, src, dst, port=0):
		self.src, self.dst = src, dst
		self.sock = socket.socket(family(dst), socket.SOCK_DGRAM)
		try:
			self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE,
					     4 << 20)
		except OSError:
			pass
		self.sock.bind((src, port))
		self.sock.setblocking(False)
		self.pending = set()
		self.answered = set()
		self.sent = 0
		self.replies = 0
		self.kod = 0
		self.bad = 0
		self.dups = 0
		self.refids = {}
		self.sources = set()
		self.kods = []
		self.rx = []		# receive timestamps of answers, seconds

	def send(self, poll):
		xmt = struct.unpack('!Q', os.urandom(8))[0] | 1
		self.pending.add(xmt)
		try:
			self.sock.sendto(request(xmt, poll), (self.dst, NTP_PORT))
		except BlockingIOError:
			self.pending.discard(xmt)
			return False
		self.sent += 1
		return True

	def drain(self):
		n = 0
		while True:
			try:
				data, addr = self.sock.recvfrom(2048)
			except BlockingIOError:
				return n
			self.take(data, addr)
			n += 1

	def take(self, data, addr):
		if addr[0] != self.dst or addr[1] != NTP_PORT or len(data) != 48:
			self.bad += 1
			return
		lvm, stratum, poll = struct.unpack_from('!BBb', data)
		li, vn, mode = lvm >> 6, lvm >> 3 & 7, lvm & 7
		org, = struct.unpack_from('!Q', data, 24)
		rx, = struct.unpack_from('!Q', data, 32)
		refid = data[12:16]
		if mode != 4 or vn != 4:
			self.bad += 1
			return
		if org in self.answered:
			self.dups += 1
			return
		if org not in self.pending:
			self.bad += 1
			return
		self.pending.discard(org)
		self.answered.add(org)
		self.sources.add(addr[0])
		if stratum == 0 and refid == b'RATE':
			self.kod += 1
			if len(self.kods) < 8:
				self.kods.append((li, stratum, poll))
			return
		if li == 3 or not 1 <= stratum <= 15:
			self.bad += 1
			return
		self.replies += 1
		name = refid.rstrip(b'\0').decode('ascii', 'replace')
		self.refids[name] = self.refids.get(name, 0) + 1
		self.rx.append((rx >> 32) - NTP_UNIX + (rx & 0xffffffff) / 2**32)

	def done(self):
		return not self.pending

	def result(self):
		r = {'port': self.sock.getsockname()[1],
		     'sent': self.sent, 'replies': self.replies,
		     'kod': self.kod, 'bad': self.bad, 'dups': self.dups,
		     'unanswered': len(self.pending)}
		for k, v in self.refids.items():
			r['refid.' + k] = v
		for i, (li, stratum, poll) in enumerate(self.kods):
			r['kod.%d.li' % i] = li
			r['kod.%d.stratum' % i] = stratum
			r['kod.%d.poll' % i] = poll
		if self.rx:
			r['rx_span'] = '%.6f' % (max(self.rx) - min(self.rx))
		return r


def emit(r, prefix=''):
	for k, v in r.items():
		print('%s%s %s' % (prefix, k, v))


def emit_clients(clients):
	for i, c in enumerate(clients):
		emit(c.result(), '%d.' % i)


def wait_replies(clients, timeout, grace):
	"""Collect until every request is answered or timeout, then listen
	grace seconds more for duplicates."""
	poller = select.poll()
	byfd = {}
	for c in clients:
		poller.register(c.sock, select.POLLIN)
		byfd[c.sock.fileno()] = c
	end = time.monotonic() + timeout
	extra = None
	while True:
		now = time.monotonic()
		if extra is None and (now >= end or
				      all(c.done() for c in clients)):
			extra = now + grace
		if extra is not None and now >= extra:
			return
		limit = extra if extra is not None else end
		for fd, _ in poller.poll(max(0, (limit - now) * 1000)):
			byfd[fd].drain()


def cmd_query(a):
	srcs = a.src.split(',')
	dsts = a.dst.split(',')
	n = len(dsts) * len(srcs) * a.per_src
	soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
	if soft < n + 64:
		resource.setrlimit(resource.RLIMIT_NOFILE,
				   (max(n + 64, hard), max(n + 64, hard)))
	clients = [Client(s, d) for _ in range(a.per_src) for d in dsts
		   for s in srcs]
	for i, c in enumerate(clients):
		if not c.send(a.poll):
			sys.exit('ntpk_rlsend: send failed')
		# Collect as we go: over veths the reply is usually back
		# before sendto() returns.
		if i % 32 == 31:
			for d in clients[i - 31:i + 1]:
				d.drain()
	wait_replies(clients, a.timeout, a.grace)
	out = {'sent': 0, 'answered': 0, 'replies': 0, 'kod': 0, 'bad': 0,
	       'dups': 0, 'unanswered': 0,
	       'flows': len({c.sock.getsockname()[:2] for c in clients})}
	sources = set()
	for c in clients:
		for k, v in c.result().items():
			if k not in ('port', 'rx_span') and \
			   not k.startswith('kod.'):
				out[k] = out.get(k, 0) + v
		out['answered'] += c.sent - len(c.pending)
		sources |= c.sources
	out['sources'] = ','.join(sorted(sources)) or '-'
	emit(out)


def cmd_burst(a):
	clients = [Client(s, a.dst) for s in a.src.split(',')]
	polls = [int(p) for p in a.poll.split(',')]
	polls += polls[-1:] * (len(clients) - len(polls))
	t0 = time.monotonic()
	for i in range(a.count):
		if a.gap and i:
			time.sleep(a.gap)
		for c, poll in zip(clients, polls):
			if not c.send(poll):
				sys.exit('ntpk_rlsend: send failed')
		for c in clients:
			c.drain()
	t1 = time.monotonic()
	wait_replies(clients, a.wait, 0)
	print('send_time %.6f' % (t1 - t0))
	emit_clients(clients)


def cmd_flood(a):
	clients = [Client(s, a.dst) for s in a.src.split(',')]
	end = time.monotonic() + a.max_time
	i = 0
	started = False
	while time.monotonic() < end:
		for c in clients:
			c.send(a.poll)
		i += 1
		if i % 16 == 0:
			for c in clients:
				c.drain()
			if not started and a.started:
				with open(a.started, 'w'):
					pass
				started = True
			if i % 256 == 0 and os.path.exists(a.stop):
				break
	else:
		sys.exit('ntpk_rlsend: flood not stopped within %d s' %
			 a.max_time)
	# Whatever is still in flight comes back within a second.
	wait_replies(clients, 1.0, 0)
	emit_clients(clients)


def main():
	p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
	sub = p.add_subparsers(dest='cmd', required=True)
	q = sub.add_parser('query')
	q.add_argument('--dst', required=True, help='ADDR[,ADDR...]')
	q.add_argument('--src', required=True, help='ADDR[,ADDR...]')
	q.add_argument('--per-src', type=int, required=True,
		       help='sockets (source ports) per source address')
	q.add_argument('--poll', type=int, default=6)
	q.add_argument('--timeout', type=float, default=10)
	q.add_argument('--grace', type=float, default=1)
	b = sub.add_parser('burst')
	b.add_argument('--dst', required=True)
	b.add_argument('--src', required=True, help='ADDR[,ADDR...]')
	b.add_argument('--count', type=int, required=True,
		       help='requests per source')
	b.add_argument('--gap', type=float, default=0,
		       help='seconds between rounds')
	b.add_argument('--poll', default='0',
		       help='POLL[,POLL...]: per source, the last repeats')
	b.add_argument('--wait', type=float, default=1.5,
		       help='seconds to wait for replies after the last send')
	f = sub.add_parser('flood')
	f.add_argument('--dst', required=True)
	f.add_argument('--src', required=True, help='ADDR[,ADDR...]')
	f.add_argument('--stop', required=True,
		       help='stop when this file exists')
	f.add_argument('--started', help='create this file once flooding')
	f.add_argument('--poll', type=int, default=0)
	f.add_argument('--max-time', type=int, default=60)
	a = p.parse_args()
	{'query': cmd_query, 'burst': cmd_burst, 'flood': cmd_flood}[a.cmd](a)


if __name__ == '__main__':
	main()
