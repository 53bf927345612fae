#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""One NTP client request over a UDP socket, and what came back.

usage: ntpk_probe.py [options] SERVER

  --src ADDR        bind the socket to ADDR (needs to be local)
  --port N          server port (default 123)
  --poll N          the request's poll field (default 6)
  --tos N           IPv4 TOS / IPv6 traffic class of the request
  --txtime-ahead S  send with SO_TXTIME on CLOCK_MONOTONIC, S seconds ahead:
                    the request carries a delivery time, as EDT senders' do
  --timeout S       how long to wait for the reply (default 2)
  --every S         a request every S seconds (from one socket, a new
                    transmit timestamp each), until --until's FILE exists
  --until FILE      (with --every)

Prints one JSON object: {"answered": false}, or the reply's fields as the
client saw them: from (address), stratum, poll, li, mode, version, refid
(hex), tos (IPv4 TOS byte or IPv6 traffic class), flowlabel (IPv6), ttl
(hop limit), origin_ok (the origin timestamp is our transmit timestamp),
and the four timestamps in Unix seconds: t1 (our transmit, as sent), t2 and
t3 (the server's receive and transmit), t4 (our receive, taken when
recvmsg returned).  With --every, one such line per request.  Exit 0
either way; 2 on a usage or socket error.
"""

import argparse
import json
import os
import socket
import struct
import sys
import time

NTP_UNIX_OFFSET = 2208988800
IP_TTL = 2
IP_RECVTTL = 12
IPV6_FLOWINFO = 11
IPV6_RECVTCLASS = 66
IPV6_TCLASS = 67
SO_TXTIME = 61
SCM_TXTIME = SO_TXTIME
CLOCK_MONOTONIC = 1


def request(poll):
	now = time.time() + NTP_UNIX_OFFSET
	tx = int(now) << 32 | int((now % 1) * (1 << 32))
	# Random low bits, as chronyd does: the origin check is exact.
	tx ^= int.from_bytes(os.urandom(2), 'big')
	pkt = struct.pack('!BBbb', 0 << 6 | 4 << 3 | 3, 0, poll, 0)
	return pkt + bytes(36) + struct.pack('!Q', tx), tx


def unix(ntp64):
	return (ntp64 >> 32) - NTP_UNIX_OFFSET + (ntp64 & 0xffffffff) / 2**32


def main():
	p = argparse.ArgumentParser()
	p.add_argument('server')
	p.add_argument('--src')
	p.add_argument('--port', type=int, default=123)
	p.add_argument('--poll', type=int, default=6)
	p.add_argument('--tos', type=lambda v: int(v, 0))
	p.add_argument('--txtime-ahead', type=float)
	p.add_argument('--timeout', type=float, default=2.0)
	p.add_argument('--every', type=float)
	p.add_argument('--until')
	a = p.parse_args()
	if (a.every is None) != (a.until is None):
		p.error('--every and --until go together')

	fam = socket.AF_INET6 if ':' in a.server else socket.AF_INET
	s = socket.socket(fam, socket.SOCK_DGRAM)
	if fam == socket.AF_INET:
		s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
		s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
		if a.tos is not None:
			s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, a.tos)
	else:
		s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVTCLASS, 1)
		s.setsockopt(socket.IPPROTO_IPV6, IPV6_FLOWINFO, 1)
		s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
		if a.tos is not None:
			s.setsockopt(socket.IPPROTO_IPV6, IPV6_TCLASS, a.tos)
	if a.src:
		s.bind((a.src, 0))
	while True:
		print(json.dumps(exchange(s, a), sort_keys=True), flush=True)
		if a.every is None:
			return 0
		end = time.monotonic() + a.every
		while not os.path.exists(a.until):
			left = end - time.monotonic()
			if left <= 0:
				break
			time.sleep(min(left, 0.5))
		else:
			return 0


def exchange(s, a):
	"""One request on socket s, and what came back (see the usage)."""
	pkt, tx = request(a.poll)
	anc = []
	if a.txtime_ahead is not None:
		s.setsockopt(socket.SOL_SOCKET, SO_TXTIME,
			     struct.pack('=iI', CLOCK_MONOTONIC, 0))
		when = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + \
			int(a.txtime_ahead * 1e9)
		anc.append((socket.SOL_SOCKET, SCM_TXTIME, struct.pack('=Q', when)))
	s.sendmsg([pkt], anc, 0, (a.server, a.port))
	s.settimeout(a.timeout)
	while True:
		try:
			data, cmsgs, _, peer = s.recvmsg(1024, 1024)
		except socket.timeout:
			return {'answered': False}
		# With --every, a late reply to an earlier request of this
		# socket is not this one's.
		if a.every is None or len(data) < 32 or \
				struct.unpack('!Q', data[24:32])[0] == tx:
			break
	t4 = time.time()
	r = {'answered': True, 'from': peer[0]}
	if len(data) >= 48:
		t2, t3 = struct.unpack('!QQ', data[32:48])
		r.update(t1=unix(tx), t2=unix(t2), t3=unix(t3), t4=t4)
		r.update(li=data[0] >> 6, version=data[0] >> 3 & 7,
			 mode=data[0] & 7, stratum=data[1],
			 poll=struct.unpack('!b', data[2:3])[0],
			 refid=data[12:16].hex(),
			 origin_ok=struct.unpack('!Q', data[24:32])[0] == tx)
	for level, kind, val in cmsgs:
		if level == socket.IPPROTO_IP and kind == socket.IP_TOS:
			r['tos'] = val[0]
		elif level == socket.IPPROTO_IP and kind == IP_TTL:
			r['ttl'] = struct.unpack('=i', val[:4])[0]
		elif level == socket.IPPROTO_IPV6 and kind == IPV6_TCLASS:
			r['tos'] = struct.unpack('=i', val[:4])[0]
		elif level == socket.IPPROTO_IPV6 and kind == IPV6_FLOWINFO:
			r['flowlabel'] = struct.unpack('!I', val[:4])[0] & 0xfffff
		elif level == socket.IPPROTO_IPV6 and \
				kind == socket.IPV6_HOPLIMIT:
			r['ttl'] = struct.unpack('=i', val[:4])[0]
	return r

if __name__ == '__main__':
	try:
		sys.exit(main())
	except OSError as e:
		print('ntpk_probe: %s' % e, file=sys.stderr)
		sys.exit(2)
