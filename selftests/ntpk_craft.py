#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Packet tools for the ntpk selftests (run with /usr/bin/python3).

  listen   (server namespace) UDP sockets on the NTP ports plus a control
           port: answers "snap" (what the sockets got, the ntpk counters
           read over generic netlink, an nftables counter, SNMP counters),
           "run" (a command in the server namespace) and "lo" (send one
           datagram over loopback).
  cases    (client namespace) the bad-input corpus: one crafted frame per
           case, with the exact expected outcome of each.
  flood    (client namespace) random mutations of a valid request, sent
           raw; the counters must match a model of the hook exactly, and
           every reply must be a correct reply to a valid request.
           --generate builds the frames ahead of time, --frames sends them.
  query    (client namespace) plain v1-v4 requests over UDP sockets; who
           answered (by stratum).
  fragreq  (client namespace) a valid request in two fragments, raw; the
           answer.
  vreq     (client namespace) valid requests, raw, through a real NIC
           driver: padded frames, partial or bad checksums; every reply
           checked, and compared with chronyd's to the same request.
  decode   a capture, decoded by tshark: every reply checked field by
           field against its request and the pushed state.
  mixed    (client namespace) the fail-safe workload: plain, mode 6,
           authenticated and NTS-shaped requests; who answered what.
  churn    (server namespace) enable/disable and state set/clear over
           generic netlink at a given rate, for a given time.
  slowntp  an NTP server that answers every request a fixed delay after
           it came, as a daemon behind a deep socket queue does.

Results are JSON or "PASS name" / "FAIL name: why" lines; the shell tests
turn them into KTAP.  Frames are built by hand (struct) except in "cases",
which uses scapy, so that the corpus is crafted by a second, independent
implementation of the headers and checksums.  Attribute and counter numbers
are read from kmod/uapi/linux/ntpk.h, the contract itself.
"""

import argparse
import array
import hashlib
import ipaddress
import json
import os
import pickle
import random
import select
import socket
import struct
import subprocess
import sys
import time

NTP_UNIX = 2208988800
ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86dd
PACKET_IGNORE_OUTGOING = 23
SO_RCVBUFFORCE = 33
SOL_PACKET = 263

COUNTERS = ['requests', 'replies', 'pass_not_ours', 'pass_unusual',
	    'pass_bad_source', 'pass_loopback', 'pass_short', 'pass_extensions',
	    'pass_not_mode3', 'pass_bad_version', 'pass_no_state',
	    'drop_malformed', 'drop_checksum', 'drop_route', 'drop_xmit',
	    'rl_dropped', 'rl_leaked', 'rl_kod', 'pass_route']
OUTCOMES = [c for c in COUNTERS if c not in ('requests', 'rl_leaked')]


def die(msg):
	print('ntpk_craft: ' + msg, file=sys.stderr)
	sys.exit(2)


# --- checksums and headers ------------------------------------------------

def csum_add(data, s=0):
	"""Ones' complement sum of data (network order), unfolded."""
	if len(data) & 1:
		data = data + b'\0'
	a = array.array('H', data)
	if sys.byteorder == 'little':
		a.byteswap()
	return s + sum(a)


def csum_fold(s):
	while s >> 16:
		s = (s & 0xffff) + (s >> 16)
	return s


def inet_csum(data, s=0):
	return (~csum_fold(csum_add(data, s))) & 0xffff


def pseudo(fam, src, dst, length, proto=17):
	if fam == 4:
		return socket.inet_pton(socket.AF_INET, src) + \
			socket.inet_pton(socket.AF_INET, dst) + \
			struct.pack('!BBH', 0, proto, length)
	return socket.inet_pton(socket.AF_INET6, src) + \
		socket.inet_pton(socket.AF_INET6, dst) + \
		struct.pack('!IxxxB', length, proto)


def udp_csum(fam, src, dst, udp):
	"""The checksum to put in a UDP header (udp has a zero check field)."""
	c = inet_csum(udp, csum_add(pseudo(fam, src, dst, len(udp))))
	return c or 0xffff


def udp_csum_ok(fam, src, dst, udp):
	return csum_fold(csum_add(udp, csum_add(pseudo(fam, src, dst,
							len(udp))))) == 0xffff


def mac_bytes(m):
	return bytes(int(x, 16) for x in m.split(':'))


def eth(dst, src, etype):
	return mac_bytes(dst) + mac_bytes(src) + struct.pack('!H', etype)


def ipv4_hdr(src, dst, plen, proto=17, ttl=64, ident=1, frag=0):
	h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + plen, ident, frag, ttl,
			proto, 0, socket.inet_pton(socket.AF_INET, src),
			socket.inet_pton(socket.AF_INET, dst))
	return h[:10] + struct.pack('!H', inet_csum(h)) + h[12:]


def ipv6_hdr(src, dst, plen, nh=17, hlim=64):
	return struct.pack('!IHBB16s16s', 6 << 28, plen, nh, hlim,
			   socket.inet_pton(socket.AF_INET6, src),
			   socket.inet_pton(socket.AF_INET6, dst))


def ntp_now():
	ns = time.time_ns()
	return ((ns // 10**9 + NTP_UNIX) << 32) | (((ns % 10**9) << 32) // 10**9)


def ntp_to_ns(ts, pivot_ns):
	"""NTP 64-bit timestamp to Unix ns, era chosen near pivot."""
	sec = ts >> 32
	piv = (pivot_ns // 10**9 + NTP_UNIX) & 0xffffffff
	d = (sec - piv) & 0xffffffff
	if d >= 1 << 31:
		d -= 1 << 32
	s = pivot_ns // 10**9 + d
	return s * 10**9 + (((ts & 0xffffffff) * 10**9) >> 32)


def ntp_packet(mode=3, vn=4, li=0, poll=6, tx=None, length=48, rnd=None):
	rnd = rnd or random
	body = bytearray(rnd.randbytes(length)) if length > 48 else \
		bytearray(length if length < 48 else 48)
	if length >= 48:
		body[:48] = bytes(48)
		body[40:48] = struct.pack('!Q', tx if tx is not None else
					  ntp_now())
	if length >= 1:
		body[0] = li << 6 | vn << 3 | mode
	if length >= 3:
		body[2] = poll & 0xff
	return bytes(body)


# --- frame parsing ------------------------------------------------------------

def parse_frame(fr):
	"""A received Ethernet frame as a dict, or None when not IP."""
	if len(fr) < 14:
		return None
	d = {'dmac': fr[0:6], 'smac': fr[6:12]}
	et, = struct.unpack('!H', fr[12:14])
	ip = fr[14:]
	if et == ETH_P_IP and len(ip) >= 20:
		ihl = (ip[0] & 15) * 4
		tot, = struct.unpack('!H', ip[2:4])
		d.update(fam=4, ihl=ihl, tot=tot, tos=ip[1], ttl=ip[8],
			 proto=ip[9], id=struct.unpack('!H', ip[4:6])[0],
			 frag=struct.unpack('!H', ip[6:8])[0],
			 ipcsum_ok=csum_fold(csum_add(ip[:ihl])) == 0xffff,
			 src=socket.inet_ntop(socket.AF_INET, ip[12:16]),
			 dst=socket.inet_ntop(socket.AF_INET, ip[16:20]))
		l4 = ip[ihl:tot]
	elif et == ETH_P_IPV6 and len(ip) >= 40:
		plen, nh, hlim = struct.unpack('!HBB', ip[4:8])
		d.update(fam=6, vtcfl=struct.unpack('!I', ip[0:4])[0],
			 plen=plen, ttl=hlim,
			 src=socket.inet_ntop(socket.AF_INET6, ip[8:24]),
			 dst=socket.inet_ntop(socket.AF_INET6, ip[24:40]))
		l4 = ip[40:40 + plen]
		d['exthdrs'] = []
		# Hop-by-hop, routing, destination options; a first fragment.
		while nh in (0, 43, 60, 44) and len(l4) >= 8:
			d['exthdrs'].append(nh)
			if nh == 44:
				if struct.unpack('!H', l4[2:4])[0] & 0xfff8:
					break
				nh, l4 = l4[0], l4[8:]
			else:
				nh, l4 = l4[0], l4[(l4[1] + 1) * 8:]
		d['proto'] = nh
	else:
		return None
	d['l4'] = l4
	if d['fam'] == 4 and d['frag'] & 0x1fff:
		return d	# a non-first fragment: no UDP header
	if d['proto'] == 17 and len(l4) >= 8:
		sp, dp, ul, ck = struct.unpack('!HHHH', l4[:8])
		d.update(sport=sp, dport=dp, ulen=ul, ucsum=ck,
			 payload=l4[8:ul])
		d['ucsum_ok'] = ck != 0 and udp_csum_ok(d['fam'], d['src'],
							  d['dst'], l4[:ul])
	return d


class State:
	"""The server state the test pushed, to check replies against."""

	def __init__(self, spec):
		# leap,stratum,precision,rootdelay(hex),rootdisp(hex),refid(hex),
		# reftime(hex),pushed_at_ns
		f = spec.split(',')
		self.leap, self.stratum, self.precision = (int(x) for x in f[:3])
		self.rootdelay = int(f[3], 16)
		self.rootdisp = int(f[4], 16)
		self.refid = int(f[5], 16)
		self.reftime = int(f[6], 16)
		self.pushed_ns = int(f[7])
		# What the dispersion may grow by, ppm (ntpk's default rate).
		self.ppm = 15

	@classmethod
	def from_show(cls, j, now_ns):
		"""The state of `ntpkctl -j show` (as ntpkctl follow pushed
		it), read at now_ns.  The pushed time is taken a second early
		and the rate is the state's own plus the default: bounds, not
		ntpk's arithmetic."""
		s = j['state']
		st = cls.__new__(cls)
		st.leap, st.stratum = s['leap'], s['stratum']
		st.precision = s['precision']
		st.rootdelay = round(s['root_delay'] * 65536)
		st.rootdisp = round(s['root_dispersion'] * 65536)
		st.refid = int(s['refid_raw'], 16)
		st.reftime = int(s['reftime_raw'], 16)
		st.pushed_ns = now_ns - (s['age_ms'] + 1000) * 10**6
		st.ppm = 15 + (s.get('disp_rate_ppb', 0) +
			       s.get('slew_rate_ppb', 0)) / 1000
		return st


def check_reply(r, req, st, t0_ns, t1_ns, srv_mac, cli_mac):
	"""Problems with reply frame r (parsed) to request req (parsed), as a
	list of strings; empty when it is exactly right."""
	bad = []

	def want(what, got, exp):
		if got != exp:
			bad.append('%s %r != %r' % (what, got, exp))

	want('dst mac', r['dmac'], mac_bytes(cli_mac))
	want('src mac', r['smac'], mac_bytes(srv_mac))
	want('family', r['fam'], req['fam'])
	want('src', r['src'], req['dst'])
	want('dst', r['dst'], req['src'])
	want('proto', r['proto'], 17)
	if r['fam'] == 4:
		want('ihl', r['ihl'], 20)
		want('tot_len', r['tot'], 20 + 56)
		want('ip checksum ok', r['ipcsum_ok'], True)
		want('frag_off', r['frag'], 0x4000)
		want('ip id', r['id'], 0)
		want('tos', r['tos'], 0)
		want('ttl', r['ttl'], 64)
	else:
		# Version 6, traffic class 0 (dscp 0), and the stack's
		# automatic flow label. ip6_make_flowlabel() takes 20 bits of
		# the flow's hash, which are zero once in 2^20 flows, so the
		# caller sets net.ipv6.flowlabel_state_ranges=1: the label
		# then always carries the stateless flag (0x80000), which
		# only that function sets.
		want('version/class', r['vtcfl'] >> 20, 6 << 8)
		want('stateless flow label flag', r['vtcfl'] & 0x80000,
		     0x80000)
		want('payload_len', r['plen'], 56)
		want('hop_limit', r['ttl'], 64)
	want('sport', r.get('sport'), req['dport'])
	want('dport', r.get('dport'), req['sport'])
	want('udp len', r.get('ulen'), 56)
	want('udp checksum ok', r.get('ucsum_ok'), True)
	p, q = r.get('payload', b''), req['payload']
	want('ntp len', len(p), 48)
	if bad or len(q) < 48:
		return bad
	want('li/vn/mode', p[0], st.leap << 6 | (q[0] & 0x38) | 4)
	want('stratum', p[1], st.stratum)
	want('poll', p[2], q[2])
	want('precision', struct.unpack('!b', p[3:4])[0], st.precision)
	want('root delay', struct.unpack('!I', p[4:8])[0], st.rootdelay)
	disp, = struct.unpack('!I', p[8:12])
	# pushed_ns is taken before the push: an upper bound on the age.
	age_s = (t1_ns - st.pushed_ns) / 1e9
	hi = st.rootdisp + int(st.ppm * 1e-6 * 65536 * age_s) + 2
	if not st.rootdisp <= disp <= hi:
		bad.append('root dispersion %#x not in [%#x, %#x]'
			   % (disp, st.rootdisp, hi))
	want('refid', struct.unpack('!I', p[12:16])[0], st.refid)
	want('reftime', struct.unpack('!Q', p[16:24])[0], st.reftime)
	want('origin', p[24:32], q[40:48])
	rx, tx = struct.unpack('!QQ', p[32:48])
	rx_ns, tx_ns = ntp_to_ns(rx, t0_ns), ntp_to_ns(tx, t0_ns)
	# Truncated to 2^-32 s on the way in: allow 1 ns.
	if not t0_ns - 1 <= rx_ns <= tx_ns <= t1_ns:
		bad.append('timestamps out of order: sent %d rx %d tx %d got %d'
			   % (t0_ns, rx_ns, tx_ns, t1_ns))
	return bad


# --- real-socket queries and tshark decoding ------------------------------------------

def cmd_query(a):
	"""Plain requests over UDP sockets, one at a time, per --to spec
	ADDR[,version=V][,poll=P][,sport=S][,count=N]; per spec the answers
	that came back (to the same request: matched by origin timestamp).
	Prints one JSON object per spec."""
	for spec in a.to:
		f = spec.split(',')
		o = {'version': 4, 'poll': 6, 'sport': 0, 'count': 1}
		for kv in f[1:]:
			k, v = kv.split('=')
			o[k] = int(v)
		dst = f[0]
		fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
		s = socket.socket(fam, socket.SOCK_DGRAM)
		s.bind(('::' if fam == socket.AF_INET6 else '0.0.0.0',
			o['sport']))
		out = {'dst': dst, 'sent': 0, 'answered': 0, 'answers': 0,
		       'strata': {}}
		for _ in range(o['count']):
			p = ntp_packet(mode=3, vn=o['version'], poll=o['poll'],
				       tx=ntp_now() ^ random.getrandbits(16))
			s.sendto(p, (dst, a.port))
			out['sent'] += 1
			got = []
			end = time.time() + a.timeout
			while time.time() < end:
				r, _, _ = select.select(
					[s], [], [], max(0, end - time.time()))
				if not r:
					break
				data = s.recv(65535)
				if len(data) >= 48 and data[24:32] == p[40:48]:
					got.append(data)
					# A second answer would come right
					# after: wait a little for it.
					end = min(end, time.time() + a.linger)
			out['answered'] += 1 if got else 0
			out['answers'] += len(got)
			for d in got:
				k = str(d[1])
				out['strata'][k] = out['strata'].get(k, 0) + 1
		s.close()
		print(json.dumps(out), flush=True)
	return 0


def cmd_fragreq(a):
	"""A valid request per family, sent raw in two fragments; what came
	back (to be run where the server defragments: with conntrack, ntpk
	sees the reassembled datagram)."""
	snf = Sniffer(a.iface)
	tx_sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
	tx_sock.bind((a.iface, 0))
	out = {}
	for fam, src, dst in ((4, a.cli4, a.srv4), (6, a.cli6, a.srv6)):
		sport = 40100 + fam
		p = ntp_packet(tx=ntp_now())
		udp = struct.pack('!HHHH', sport, 123, 56, 0) + p
		udp = udp[:6] + struct.pack('!H', udp_csum(fam, src, dst, udp)) + \
			udp[8:]
		ident = random.getrandbits(16)
		if fam == 4:
			e = eth(a.srv_mac, a.cli_mac, ETH_P_IP)
			frags = [e + ipv4_hdr(src, dst, 24, ident=ident,
					      frag=0x2000) + udp[:24],
				 e + ipv4_hdr(src, dst, 32, ident=ident,
					      frag=3) + udp[24:]]
		else:
			e = eth(a.srv_mac, a.cli_mac, ETH_P_IPV6)
			frags = [e + ipv6_hdr(src, dst, 8 + 24, nh=44) +
				 struct.pack('!BBHI', 17, 0, 1, ident) + udp[:24],
				 e + ipv6_hdr(src, dst, 8 + 32, nh=44) +
				 struct.pack('!BBHI', 17, 0, 3 << 3, ident) +
				 udp[24:]]
		snf.drain()
		for f in frags:
			tx_sock.send(f)
		got = []
		end = time.time() + a.timeout
		while time.time() < end:
			select.select([snf.s], [], [], 0.1)
			for fr in snf.drain():
				d = parse_frame(fr)
				if d and d.get('dport') == sport and \
						d.get('sport') == 123:
					got.append(d)
			if got:
				# A second answer would come right after.
				end = min(end, time.time() + 0.3)
		out[str(fam)] = {
			'replies': len(got),
			'strata': [d['payload'][1] for d in got
				   if len(d['payload']) >= 48],
			'origin_ok': all(d['payload'][24:32] == p[40:48]
					 for d in got)}
	print(json.dumps(out, sort_keys=True))
	return 0


TSHARK_FIELDS = ['frame.number', 'frame.time_epoch', 'ip.src', 'ip.dst',
		 'ipv6.src', 'ipv6.dst', 'udp.srcport', 'udp.dstport',
		 'udp.length', 'udp.checksum.status', 'ntp.flags.li',
		 'ntp.flags.vn', 'ntp.flags.mode', 'ntp.stratum', 'ntp.ppoll',
		 'ntp.precision', 'ntp.rootdelay', 'ntp.rootdispersion',
		 'ntp.refid', 'ntp.reftime', 'ntp.org', 'ntp.rec', 'ntp.xmt',
		 '_ws.expert.severity', '_ws.malformed', 'udp.payload']


def cmd_decode(a):
	"""Decode a capture with tshark and check every reply from the server
	against its request, field by field, in the decode and in the raw
	payload.  JSON: requests, replies (by client port kind and version),
	problems."""
	cmd = ['tshark', '-n', '-r', a.pcap, '-o', 'udp.check_checksum:TRUE',
	       '-Y', 'ntp', '-T', 'fields', '-E', 'separator=\t',
	       '-E', 'occurrence=a', '-E', 'aggregator=|']
	for f in TSHARK_FIELDS:
		cmd += ['-e', f]
	p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
			   text=True)
	res = {'problems': [], 'requests': 0, 'replies': 0, 'by': {}}

	def problem(s):
		if len(res['problems']) < 30:
			res['problems'].append(s)
	if p.returncode:
		problem('tshark: ' + p.stderr.strip())
	st = State(a.state)
	servers = set(a.servers.split(','))
	reqs, reps = {}, []
	for line in p.stdout.splitlines():
		v = dict(zip(TSHARK_FIELDS, line.split('\t')))
		v['src'] = v['ip.src'] or v['ipv6.src']
		v['dst'] = v['ip.dst'] or v['ipv6.dst']
		if v['_ws.malformed']:
			problem('frame %s: malformed' % v['frame.number'])
		pay = bytes.fromhex(v['udp.payload'])
		v['raw'] = pay
		if v['ntp.flags.mode'] == '3' and v['dst'] in servers:
			res['requests'] += 1
			reqs.setdefault((v['src'], v['udp.srcport'],
					 pay[40:48]), []).append(v)
		elif v['ntp.flags.mode'] == '4' and v['src'] in servers:
			reps.append(v)
	for r in reps:
		res['replies'] += 1
		key = (r['dst'], r['udp.dstport'], r['raw'][24:32])
		cand = reqs.get(key, [])
		if len(cand) != 1:
			problem('reply frame %s matches %d requests'
				% (r['frame.number'], len(cand)))
			continue
		q = cand[0]
		if q.get('answered'):
			problem('request frame %s answered twice'
				% q['frame.number'])
		q['answered'] = r['frame.number']
		bad = []

		def want(f, got, exp):
			if got != exp:
				bad.append('%s %r, want %r' % (f, got, exp))
		kind = 'port123' if q['udp.srcport'] == '123' else 'port_other'
		k = '%s/v%s/%s' % ('v6' if ':' in q['src'] else 'v4',
				   q['ntp.flags.vn'], kind)
		res['by'][k] = res['by'].get(k, 0) + 1
		# Requests are captured before their checksum is filled
		# in (offload); replies are complete and must be clean.
		sev = [int(x, 0) for x in r['_ws.expert.severity'].split('|')
		       if x]
		# Chat and notes are fine ("possible traceroute" when the
		# client port is in 33434-33534); warnings and errors not.
		want('tshark expert warnings', [x for x in sev
						 if x >= 0x600000], [])
		want('udp.srcport', r['udp.srcport'], '123')
		want('udp.dstport', r['udp.dstport'], q['udp.srcport'])
		want('ip src', r['src'], q['dst'])
		want('ip dst', r['dst'], q['src'])
		want('udp.length', r['udp.length'], '56')
		want('udp.checksum.status (1 = good)',
		     r['udp.checksum.status'], '1')
		want('ntp.flags.li', r['ntp.flags.li'], str(st.leap))
		want('ntp.flags.vn', r['ntp.flags.vn'], q['ntp.flags.vn'])
		want('ntp.flags.mode', r['ntp.flags.mode'], '4')
		want('ntp.stratum', r['ntp.stratum'], str(st.stratum))
		want('ntp.ppoll', r['ntp.ppoll'], q['ntp.ppoll'])
		want('ntp.precision', r['ntp.precision'],
		     str(st.precision & 0xff))
		want('ntp.rootdelay', r['ntp.rootdelay'], str(st.rootdelay))
		want('ntp.refid', r['ntp.refid'], '%08x' % st.refid)
		want('ntp.org (decoded)', r['ntp.org'], q['ntp.xmt'])
		want('origin (raw)', r['raw'][24:32], q['raw'][40:48])
		want('reftime (raw)', r['raw'][16:24].hex(),
		     '%016x' % st.reftime)
		if r['ntp.reftime'] in ('', 'NULL'):
			bad.append('reftime does not decode')
		t_req = int(round(float(q['frame.time_epoch']) * 1e6)) * 1000
		t_rep = int(round(float(r['frame.time_epoch']) * 1e6)) * 1000
		disp = int(r['ntp.rootdispersion'] or -1)
		age = (t_rep - st.pushed_ns) / 1e9
		hi = st.rootdisp + int(15e-6 * 65536 * age) + 2
		if not st.rootdisp <= disp <= hi:
			bad.append('ntp.rootdispersion %d not in [%d, %d]'
				   % (disp, st.rootdisp, hi))
		rx, tx = struct.unpack('!QQ', r['raw'][32:48])
		rx_ns, tx_ns = ntp_to_ns(rx, t_req), ntp_to_ns(tx, t_req)
		# pcap has microseconds: allow that much either side.
		if not t_req - 1000 <= rx_ns <= tx_ns <= t_rep + 1000:
			bad.append('not request %d <= rx %d <= tx %d <= reply %d'
				   % (t_req, rx_ns, tx_ns, t_rep))
		if tx_ns - rx_ns > a.max_turnaround * 1e9:
			bad.append('tx - rx = %d ns' % (tx_ns - rx_ns))
		if bad:
			problem('reply frame %s: %s' % (r['frame.number'],
							 '; '.join(bad)))
	unanswered = [q['frame.number'] for l in reqs.values() for q in l
		      if not q.get('answered')]
	if unanswered:
		problem('requests without a reply: frames %s'
			% ','.join(unanswered[:10]))
	res['ok'] = not res['problems']
	print(json.dumps(res, sort_keys=True))
	return 0 if res['ok'] else 1


# --- raw requests through a real driver (ntpk_virtio.sh) ------------------------

PACKET_VNET_HDR = 15
VNET_HDR_F_NEEDS_CSUM = 1


def vreq_frame(a, fam, sport, tx, csum):
	"""A valid v4 request from sport, as (frame, request payload): the
	Ethernet frame is padded to a.frame_len bytes after the IP datagram
	(the server's stack trims them); csum full (complete), partial (the pseudo
	header's sum, for the device to finish: CHECKSUM_PARTIAL) or bad."""
	src, dst = (a.cli4, a.srv4) if fam == 4 else (a.cli6, a.srv6)
	p = ntp_packet(tx=tx)
	if a.ext_len:
		# An extension field of a type nobody knows (RFC 7822).
		p += struct.pack('!HH', 0x2005, a.ext_len) + \
			random.randbytes(a.ext_len - 4)
	udp = struct.pack('!HHHH', sport, 123, 8 + len(p), 0) + p
	if csum == 'partial':
		ck = csum_fold(csum_add(pseudo(fam, src, dst, len(udp))))
	else:
		ck = udp_csum(fam, src, dst, udp)
		if csum == 'bad':
			ck ^= 0x5a5a
	udp = udp[:6] + struct.pack('!H', ck) + udp[8:]
	if fam == 4:
		l3 = eth(a.srv_mac, a.cli_mac, ETH_P_IP) + \
			ipv4_hdr(src, dst, len(udp), ident=sport)
	else:
		l3 = eth(a.srv_mac, a.cli_mac, ETH_P_IPV6) + \
			ipv6_hdr(src, dst, len(udp))
	fr = l3 + udp + bytes(max(0, a.frame_len - len(l3) - len(udp)))
	vh = struct.pack('<BBHHHH', VNET_HDR_F_NEEDS_CSUM, 0, 0, 0, len(l3), 6) \
		if csum == 'partial' else bytes(10)
	return vh + fr, {'fam': fam, 'src': src, 'dst': dst, 'sport': sport,
			 'dport': 123, 'payload': p}


def vreq_exchange(a, tx_sock, snf, frames):
	"""Send each frame in turn, wait for its answers; [(request, [reply
	frames], t_sent_ns, t_answer_ns)]."""
	out = []
	for fr, req in frames:
		snf.drain()
		t0 = time.time_ns()
		tx_sock.send(fr)
		got = []
		end = time.time() + a.timeout
		while time.time() < end:
			select.select([snf.s], [], [], 0.05)
			for f in snf.drain():
				d = parse_frame(f)
				if d and d.get('sport') == 123 and \
				   d.get('dport') == req['sport'] and \
				   d['src'] == req['dst']:
					got.append(d)
			if got:
				# A second answer would come right after.
				end = min(end, time.time() + 0.2)
		out.append((req, got, t0, time.time_ns()))
	return out


def vreq_compare(r, c):
	"""Differences between ntpk's reply r and chronyd's reply c to the
	same request, besides what must differ (timestamps, dispersion)."""
	bad = []
	# Not the IPv4 ID (DF is set: ntpk leaves it 0, a socket's reply a
	# counter, both fine), nor whether the UDP checksum is complete:
	# chronyd's leaves with a partial one for the device to finish (tx
	# offload), and the client's driver hands it on as such
	# (CHECKSUM_PARTIAL), so that a capture sees the pseudo-header's sum.
	# ntpk computes its own in full: check_reply checks it.
	for k in ('dmac', 'smac', 'fam', 'src', 'dst', 'proto', 'ihl', 'tot',
		  'frag', 'tos', 'ttl', 'plen', 'sport', 'dport', 'ulen'):
		if r.get(k) != c.get(k):
			bad.append('%s: ntpk %r, chronyd %r' % (k, r.get(k),
								 c.get(k)))
	p, q = r['payload'], c['payload']
	if len(p) != 48 or len(q) != 48:
		return bad + ['ntp lengths %d, %d' % (len(p), len(q))]
	for what, lo, hi in (('li/vn/mode', 0, 1), ('stratum', 1, 2),
			     ('poll', 2, 3), ('root delay', 4, 8),
			     ('refid', 12, 16), ('origin', 24, 32)):
		if p[lo:hi] != q[lo:hi]:
			bad.append('%s: ntpk %s, chronyd %s' % (
				what, p[lo:hi].hex(), q[lo:hi].hex()))
	# follow measures the clock's precision itself, as chronyd did when
	# it started: under emulation the two can be a step apart.
	pp, qp = struct.unpack('!bb', p[3:4] + q[3:4])
	if abs(pp - qp) > 1:
		bad.append('precision: ntpk %d, chronyd %d' % (pp, qp))
	# ntpk's reference time is chronyd's as follow last read it.
	rt, ct = (struct.unpack('!Q', x[16:24])[0] >> 32 for x in (p, q))
	if not 0 <= ct - rt <= 64:
		bad.append('reftime: ntpk %d s, chronyd %d s' % (rt, ct))
	return bad


def cmd_vreq(a):
	"""Valid requests sent raw from the client's device (a real driver
	on the way, unlike veth), --count per family: every reply checked
	field by field against its request and the state (--state, or
	--state-json: `ntpkctl -j show` of a followed state).  --expect none:
	no reply may come.  --control CMD: then CMD (a shell command: hand
	the requests to chronyd), the same frames again, and chronyd's
	answers compared with ntpk's.  --ext-len: requests ntpk passes on
	(--expect passed: no answer at ntpk's stratum).  JSON per family:
	sent, answered, answers, strata, problems."""
	tx_sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
	tx_sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
	tx_sock.bind((a.iface, 0))
	snf = Sniffer(a.iface)
	if a.state_json:
		with open(a.state_json) as f:
			st = State.from_show(json.load(f), time.time_ns())
	else:
		st = State(a.state) if a.state else None
	frames = []
	for fam in (int(x) for x in a.families.split(',')):
		for i in range(a.count):
			frames.append(vreq_frame(a, fam, a.sport + 10 * fam + i,
						 ntp_now() ^ random.getrandbits(20),
						 a.csum))
	res = vreq_exchange(a, tx_sock, snf, frames)
	ctl = None
	if a.control:
		subprocess.run(a.control, shell=True, check=True)
		ctl = vreq_exchange(a, tx_sock, snf, frames)
	out = {}
	for i, (req, got, t0, t1) in enumerate(res):
		o = out.setdefault(str(req['fam']), {
			'sent': 0, 'answered': 0, 'answers': 0, 'strata': {},
			'problems': []})
		o['sent'] += 1
		o['answered'] += bool(got)
		o['answers'] += len(got)
		for d in got:
			k = str(d['payload'][1]) if len(d['payload']) > 1 else '?'
			o['strata'][k] = o['strata'].get(k, 0) + 1
		name = 'v%d sport %d' % (req['fam'], req['sport'])
		if a.expect == 'none':
			if got:
				o['problems'].append('%s: answered' % name)
			continue
		if a.expect == 'passed':
			# Not ntpk's to answer: whatever the daemon does with
			# it, no answer of ntpk's stratum.
			if st and any(len(d['payload']) > 1 and
				      d['payload'][1] == st.stratum for d in got):
				o['problems'].append('%s: answered at stratum %d'
						     % (name, st.stratum))
			continue
		if len(got) != 1:
			o['problems'].append('%s: %d answers' % (name, len(got)))
			continue
		if st:
			for b in check_reply(got[0], req, st, t0, t1,
					     a.srv_mac, a.cli_mac):
				o['problems'].append('%s: %s' % (name, b))
		if ctl:
			cgot = ctl[i][1]
			if len(cgot) != 1:
				o['problems'].append('%s: chronyd gave %d answers'
						     % (name, len(cgot)))
				continue
			o.setdefault('chronyd_strata', []).append(
				cgot[0]['payload'][1])
			for b in vreq_compare(got[0], cgot[0]):
				o['problems'].append('%s vs chronyd: %s' % (name, b))
	for o in out.values():
		del o['problems'][20:]
	print(json.dumps(out, sort_keys=True))
	ok = all(not o['problems'] for o in out.values())
	return 0 if ok else 1


# --- netlink: ntpk's generic netlink family, nftables counters -------------------

NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLA_F_NESTED = 0x8000
GENL_ID_CTRL = 0x10
NETLINK_NETFILTER, NETLINK_GENERIC = 12, 16
UAPI = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'kmod',
		    'uapi', 'linux', 'ntpk.h')


def nla(t, data):
	n = 4 + len(data)
	return struct.pack('=HH', n, t) + data + b'\0' * (-n % 4)


def nla_parse(b):
	out = {}
	while len(b) >= 4:
		n, t = struct.unpack('=HH', b[:4])
		if n < 4:
			break
		out[t & 0x3fff] = b[4:n]
		b = b[(n + 3) & ~3:]
	return out


def uapi_enum(name, prefix):
	"""Member names of an enum in the uapi header, by value (lower case,
	prefix removed): the test reads the contract, not a copy of it."""
	with open(UAPI) as f:
		text = f.read()
	body = text[text.index('enum %s {' % name):]
	body = body[:body.index('}')]
	names = []
	for line in body.splitlines()[1:]:
		line = line.split('/*')[0].strip().rstrip(',')
		if line.startswith(prefix):
			if '=' in line:
				raise ValueError('explicit value in ' + name)
			names.append(line[len(prefix):].lower())
	return names


class Netlink:
	def __init__(self, proto):
		self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
		self.s.bind((0, 0))
		self.seq = 0

	def request(self, typ, body, ack=True):
		"""Send one message; return the payload of the answer (b'' for
		an ack), raise OSError for an error."""
		self.seq += 1
		flags = NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
		self.s.send(struct.pack('=IHHII', 16 + len(body), typ, flags,
					self.seq, 0) + body)
		while True:
			m = self.s.recv(1 << 16)
			n, t, fl, seq, pid = struct.unpack('=IHHII', m[:16])
			if seq != self.seq:
				continue
			if t == 2:	# NLMSG_ERROR
				err, = struct.unpack('=i', m[16:20])
				if err:
					raise OSError(-err, os.strerror(-err))
				return b''
			return m[16:n]


class Genl(Netlink):
	def __init__(self, family):
		super().__init__(NETLINK_GENERIC)
		r = self.request(GENL_ID_CTRL, struct.pack('=BBH', 3, 1, 0) +
				 nla(2, family.encode() + b'\0'), ack=False)
		self.fam, = struct.unpack('=H', nla_parse(r[4:])[1][:2])

	def cmd(self, cmd, payload=b'', ack=True):
		r = self.request(self.fam, struct.pack('=BBH', cmd, 1, 0) +
				 payload, ack)
		return nla_parse(r[4:]) if r else {}


class NtpkStats:
	"""NTPK_CMD_GET's counters, by the names ntpkctl uses."""

	def __init__(self):
		self.g = Genl('ntpk')
		cmds = uapi_enum('ntpk_cmd', 'NTPK_CMD_')
		attrs = uapi_enum('ntpk_attr', 'NTPK_A_')
		self.get = cmds.index('get')
		self.a_stats = attrs.index('stats')
		self.names = uapi_enum('ntpk_stats_attr', 'NTPK_STATS_A_')

	def read(self):
		top = self.g.cmd(self.get, ack=False)
		st = nla_parse(top[self.a_stats])
		out = {}
		for i, n in enumerate(self.names):
			if n in ('unspec', 'pad'):
				continue
			out[n] = struct.unpack('=Q', st[i])[0] if i in st else None
		return out


class NftCounter:
	"""A named nftables counter object, read without running nft."""

	def __init__(self, family, table, name):
		self.nl = Netlink(NETLINK_NETFILTER)
		fam = {'ip': 2, 'ip6': 10, 'inet': 1}[family]
		self.msg = struct.pack('!BBH', fam, 0, 0) + \
			nla(1, table.encode() + b'\0') + \
			nla(2, name.encode() + b'\0') + nla(3, struct.pack('!I', 1))

	def packets(self):
		# NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETOBJ
		r = self.nl.request(10 << 8 | 19, self.msg, ack=False)
		data = nla_parse(nla_parse(r[4:])[4])
		return struct.unpack('!Q', data[2])[0]


# --- the server-side listener -----------------------------------------------

def snmp_read():
	out = {}
	with open('/proc/net/snmp') as f:
		lines = f.read().splitlines()
	for i in range(0, len(lines) - 1, 2):
		k = lines[i].split()
		v = lines[i + 1].split()
		for a, b in zip(k[1:], v[1:]):
			out[k[0][:-1] + a] = int(b)
	with open('/proc/net/snmp6') as f:
		for line in f:
			a, b = line.split()
			out[a] = int(b)
	return {k: v for k, v in out.items()
		if k.startswith(('Udp', 'Ip6In', 'IpIn')) and 'Lite' not in k}


def cmd_listen(a):
	ports = [int(p) for p in a.ports.split(',')]
	socks = {}
	for p in ports:
		s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		s4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		s4.bind(('0.0.0.0', p))
		s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
		s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
		s6.bind(('::', p))
		for s, fam in ((s4, 4), (s6, 6)):
			s.setblocking(False)
			s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 22)
			socks[s] = (p, fam)
	ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	ctl.bind(('0.0.0.0', a.ctl_port))
	stats = NtpkStats()
	nft = {}
	if a.nft_counter:
		fam, table, name = a.nft_counter.split()
		nft[name] = NftCounter(fam, table, name)
	print('ready', flush=True)
	got = []
	count = 0

	def drain(keep):
		nonlocal count
		for s, (p, fam) in socks.items():
			while True:
				try:
					data, addr = s.recvfrom(65535)
				except BlockingIOError:
					break
				count += 1
				if keep:
					got.append({'port': p, 'fam': fam,
						    'src': addr[0],
						    'sport': addr[1],
						    'data': data.hex()})

	while True:
		r, _, _ = select.select(list(socks) + [ctl], [], [])
		keep = True
		if ctl not in r:
			drain(True)
			continue
		msg, peer = ctl.recvfrom(65535)
		try:
			req = json.loads(msg)
			req['cmd']
		except (ValueError, TypeError, KeyError):
			continue	# a mutated frame that hit this port
		out = {'seq': req.get('seq')}
		if req['cmd'] == 'lo':
			s = socket.socket(socket.AF_INET6 if ':' in req['dst']
					  else socket.AF_INET, socket.SOCK_DGRAM)
			s.sendto(bytes.fromhex(req['data']),
				 (req['dst'], req['port']))
			s.close()
			# Wait for our own sockets to have it: the loopback
			# path may run later, in ksoftirqd.
			end = time.time() + 5
			n = len(got)
			while len(got) == n and time.time() < end:
				select.select(list(socks), [], [], 0.1)
				drain(True)
			req['cmd'] = 'snap'
		if req['cmd'] == 'run':
			p = subprocess.run(req['argv'], stdout=subprocess.PIPE,
					   stderr=subprocess.PIPE, text=True)
			out.update(rc=p.returncode, out=p.stdout, err=p.stderr)
		elif req['cmd'] == 'snap':
			t_snap = time.time()
			keep = req.get('data', True)
			drain(keep)
			try:
				out['stats'] = stats.read()
			except OSError:
				out['stats'] = None
			out['nft'] = {c: n.packets() for c, n in nft.items()}
			out['snmp'] = snmp_read()
			out['snap_s'] = time.time() - t_snap
			out['recv'] = got if keep else []
			out['count'] = count
			got = []
		elif req['cmd'] == 'quit':
			ctl.sendto(json.dumps(out).encode(), peer)
			return 0
		ctl.sendto(json.dumps(out).encode(), peer)


class Control:
	"""The client end of the listener's control channel."""

	def __init__(self, src, dst, port):
		self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		self.s.bind((src, 0))
		self.s.settimeout(20)
		self.dst = (dst, port)
		self.seq = 0

	def call(self, **req):
		self.seq += 1
		req['seq'] = self.seq
		self.s.sendto(json.dumps(req).encode(), self.dst)
		while True:
			r = json.loads(self.s.recv(1 << 20))
			if r.get('seq') == self.seq:
				return r

	def run(self, *argv):
		r = self.call(cmd='run', argv=list(argv))
		if r['rc']:
			die('server command %s failed: %s%s'
			    % (' '.join(argv), r['out'], r['err']))
		return r


class Sniffer:
	"""Raw frames arriving on the client interface (not our own)."""

	def __init__(self, ifname):
		self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
				       socket.htons(ETH_P_ALL))
		self.s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
		self.s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 26)
		self.s.bind((ifname, 0))
		self.s.setblocking(False)

	def drain(self):
		out = []
		while True:
			try:
				out.append(self.s.recv(65535))
			except BlockingIOError:
				return out


def is_reply_from_server(d, srv_addrs, ctl_port):
	return d and d.get('proto') == 17 and 'sport' in d and \
		d['src'] in srv_addrs and d['sport'] != ctl_port


def stats_delta(a, b):
	return {k: b[k] - a[k] for k in COUNTERS if b[k] != a[k]}


# --- the bad-input corpus --------------------------------------------------------

def build_cases(a):
	"""The corpus: (name, fam, build, expect).  build(ctx) returns a dict:
	frames (list of bytes), optional pre/post server commands, lo (a
	loopback datagram sent by the listener).  expect: counters (exact
	deltas), passed (frames the module accepted, seen by the later nft
	chain), delivered (datagrams the server sockets got), reply (None
	or what the reply must match)."""
	from scapy.layers.inet import IP, UDP, IPOption_NOP
	from scapy.layers.inet6 import (IPv6, IPv6ExtHdrHopByHop,
					IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
					PadN)
	from scapy.layers.l2 import Ether
	from scapy.packet import Raw

	C4, S4, C6, S6 = a.cli4, a.srv4, a.cli6, a.srv6
	CLL, SLL = a.cli6ll, a.srv6ll
	CM, SM = a.cli_mac, a.srv_mac
	SPORT = 40123
	cases = []
	seq = [0]

	def tx():
		seq[0] += 1
		return ((ntp_now() >> 32) << 32) | (seq[0] << 12) | 0xabc

	def ntp(**kw):
		kw.setdefault('tx', tx())
		return ntp_packet(**kw)

	def l3(fam, src=None, dst=None, **kw):
		if fam == 4:
			return IP(src=src or C4, dst=dst or S4, id=7, **kw)
		return IPv6(src=src or C6, dst=dst or S6, **kw)

	def frame(fam, payload=None, sport=SPORT, dport=123, src=None,
		  dst=None, dmac=None, ulen=None, csum=None, pad=b'', l3kw=None,
		  ext=None):
		payload = ntp() if payload is None else payload
		ip = l3(fam, src, dst, **(l3kw or {}))
		if ext is not None:
			ip = ip / ext
		u = UDP(sport=sport, dport=dport, len=ulen, chksum=0)
		raw = bytes(u / Raw(payload))
		ul = ulen if ulen is not None else len(raw)
		if csum is None:
			# Over the datagram as its length field has it.
			s, d = ip[IP].src if fam == 4 else ip[IPv6].src, \
				ip[IP].dst if fam == 4 else ip[IPv6].dst
			csum = udp_csum(fam, s, d, raw[:max(ul, 8)] if
					ul <= len(raw) else raw)
		elif csum == 'bad':
			s, d = (ip[IP].src, ip[IP].dst) if fam == 4 else \
				(ip[IPv6].src, ip[IPv6].dst)
			csum = udp_csum(fam, s, d, raw) ^ 0x0101
		u.chksum = csum
		p = Ether(src=CM, dst=dmac or SM) / ip / u / Raw(payload + pad)
		return bytes(p)

	def add(name, fam, build, counters=None, passed=0, delivered=0,
		reply=None, snmp=None):
		exp = {'counters': counters or {}, 'passed': passed,
		       'delivered': delivered, 'reply': reply, 'snmp': snmp}
		cases.append((name, fam, build, exp))

	def one(f):
		return lambda: {'frames': [f()]}

	R = {'requests': 1}

	def cnt(c):
		return dict(R, **{c: 1})

	for fam in (4, 6):
		v = 'v%d_' % fam
		src, dst = (C4, S4) if fam == 4 else (C6, S6)
		bcast = 'ff:ff:ff:ff:ff:ff'

		add(v + 'valid_request', fam, one(lambda fam=fam: frame(fam)),
		    cnt('replies'), reply={})
		if fam == 6:
			add(v + 'link_local_client', fam, one(
				lambda: frame(6, src=CLL, dst=SLL)),
			    cnt('replies'), reply={})
		add(v + 'port_not_served', fam, one(
			lambda fam=fam: frame(fam, dport=124)),
		    {}, passed=1, delivered=1)

		def trunc(fam=fam):
			f = frame(fam)
			hl = 14 + (20 if fam == 4 else 40)
			f = bytearray(f[:hl + 4])
			if fam == 4:
				f[14 + 2:14 + 4] = struct.pack('!H', 24)
				f[14 + 10:14 + 12] = b'\0\0'
				f[14 + 10:14 + 12] = struct.pack(
					'!H', inet_csum(bytes(f[14:34])))
			else:
				f[14 + 4:14 + 6] = struct.pack('!H', 4)
			return bytes(f)
		add(v + 'truncated_udp_header', fam, one(trunc), {}, passed=1)
		add(v + 'udp_len_below_8', fam, one(
			lambda fam=fam: frame(fam, ulen=7)),
		    cnt('drop_malformed'))
		if fam == 6:
			add(v + 'udp_len_zero', fam, one(
				lambda: frame(6, ulen=0)),
			    cnt('drop_malformed'))
		add(v + 'udp_len_above_packet', fam, one(
			lambda fam=fam: frame(fam, ulen=64)),
		    cnt('drop_malformed'))
		add(v + 'udp_len_below_packet', fam, one(
			lambda fam=fam: frame(fam, ulen=56, pad=b'\xee' * 8)),
		    cnt('pass_unusual'), passed=1, delivered=1)
		add(v + 'bad_checksum', fam, one(
			lambda fam=fam: frame(fam, csum='bad')),
		    cnt('drop_checksum'))
		if fam == 4:
			add(v + 'zero_checksum', fam, one(
				lambda: frame(4, csum=0)),
			    cnt('replies'), reply={})
		else:
			add(v + 'zero_checksum', fam, one(
				lambda: frame(6, csum=0)),
			    cnt('drop_checksum'))

		def frags(fam=fam):
			f = frame(fam)
			p = Ether(f)
			if fam == 4:
				u = bytes(p[IP].payload)
				a1 = Ether(src=CM, dst=SM) / IP(
					src=C4, dst=S4, id=4242, flags='MF',
					frag=0, proto=17) / Raw(u[:24])
				a2 = Ether(src=CM, dst=SM) / IP(
					src=C4, dst=S4, id=4242, frag=3,
					proto=17) / Raw(u[24:])
			else:
				u = bytes(p[IPv6].payload)
				a1 = Ether(src=CM, dst=SM) / IPv6(
					src=C6, dst=S6) / IPv6ExtHdrFragment(
					nh=17, offset=0, m=1, id=4242) / \
					Raw(u[:24])
				a2 = Ether(src=CM, dst=SM) / IPv6(
					src=C6, dst=S6) / IPv6ExtHdrFragment(
					nh=17, offset=3, m=0, id=4242) / \
					Raw(u[24:])
			return bytes(a1), bytes(a2)
		fr_cache = {}

		def frag(i, fam=fam):
			if fam not in fr_cache:
				fr_cache[fam] = frags(fam)
			return {'frames': [fr_cache[fam][i]]}
		add(v + 'fragment_first', fam, lambda frag=frag: frag(0),
		    cnt('pass_unusual'), passed=1)
		# Completes the datagram: the stack reassembles and delivers it.
		add(v + 'fragment_non_first', fam, lambda frag=frag: frag(1),
		    {}, passed=1, delivered=1)
		if fam == 4:
			add(v + 'ip_options', 4, one(lambda: frame(
				4, l3kw={'options': [IPOption_NOP()] * 4})),
			    cnt('pass_unusual'), passed=1, delivered=1)
		else:
			add(v + 'hop_by_hop_header', 6, one(lambda: frame(
				6, ext=IPv6ExtHdrHopByHop(
					options=[PadN(optdata=b'\0' * 4)]))),
			    cnt('pass_unusual'), passed=1, delivered=1)
			add(v + 'destination_options_header', 6, one(
				lambda: frame(6, ext=IPv6ExtHdrDestOpt(
					options=[PadN(optdata=b'\0' * 4)]))),
			    cnt('pass_unusual'), passed=1, delivered=1)

		# Destinations that are not ours.
		if fam == 4:
			add(v + 'multicast_destination', 4, one(lambda: frame(
				4, dst='224.0.1.1', dmac='01:00:5e:00:01:01')),
			    cnt('pass_not_ours'), passed=1)
			add(v + 'broadcast_destination', 4, one(lambda: frame(
				4, dst='255.255.255.255', dmac=bcast)),
			    cnt('pass_not_ours'), passed=1, delivered=1)
			add(v + 'subnet_broadcast_destination', 4, one(
				lambda: frame(4, dst=a.net4_bcast)),
			    cnt('pass_not_ours'), passed=1, delivered=1)
			add(v + 'unicast_in_l2_broadcast', 4, one(
				lambda: frame(4, dmac=bcast)),
			    cnt('pass_not_ours'), passed=1, delivered=1)
			add(v + 'non_local_destination', 4, one(
				lambda: frame(4, dst=a.other4)),
			    cnt('pass_not_ours'), passed=1)
		else:
			add(v + 'multicast_destination', 6, one(lambda: frame(
				6, dst='ff02::101', dmac='33:33:00:00:01:01')),
			    cnt('pass_not_ours'), passed=1)
			add(v + 'all_nodes_destination_unicast_mac', 6, one(
				lambda: frame(6, dst='ff02::1')),
			    cnt('pass_not_ours'), passed=1, delivered=1)
			add(v + 'unicast_in_l2_multicast', 6, one(lambda: frame(
				6, dmac='33:33:00:00:00:01')),
			    cnt('pass_not_ours'), passed=1, delivered=1)
			add(v + 'non_local_destination', 6, one(
				lambda: frame(6, dst=a.other6)),
			    cnt('pass_not_ours'), passed=1)

		# Sources.
		add(v + 'source_port_0', fam, one(
			lambda fam=fam: frame(fam, sport=0)),
		    cnt('pass_bad_source'), passed=1, delivered=1)
		if fam == 4:
			for n, s, dl in (('loopback', '127.0.0.1', 0),
					 ('own_address', S4, 0),
					 ('multicast', '224.0.0.5', 0),
					 ('limited_broadcast',
					  '255.255.255.255', 0),
					 ('zero', '0.0.0.0', 0),
					 ('subnet_broadcast', a.net4_bcast,
					  1)):
				add(v + 'source_' + n, 4, one(
					lambda s=s: frame(4, src=s)),
				    cnt('pass_bad_source'), passed=1,
				    delivered=dl)
			add(v + 'source_unroutable', 4, one(
				lambda: frame(4, src=a.unroutable4)),
			    cnt('pass_route'), passed=1, delivered=1)
		else:
			# Dropped by ip6_rcv_core() before any hook (RFC 4291).
			for n, s in (('loopback', '::1'),
				     ('multicast', 'ff02::1')):
				add(v + 'source_' + n, 6, one(
					lambda s=s: frame(6, src=s)),
				    {}, snmp={'Ip6InHdrErrors': 1})
			for n, s, dl in (('own_address', S6, 1),
					 ('unspecified', '::', 1),
					 ('v4_mapped', '::ffff:' + C4, 1)):
				add(v + 'source_' + n, 6, one(
					lambda s=s: frame(6, src=s)),
				    cnt('pass_bad_source'), passed=1,
				    delivered=dl)
			add(v + 'source_unroutable', 6, one(
				lambda: frame(6, src=a.unroutable6)),
			    cnt('pass_route'), passed=1, delivered=1)

		# NTP header: mode, version, length.
		for m in range(8):
			if m == 3:
				add(v + 'mode_3', fam, one(
					lambda fam=fam: frame(fam, ntp(mode=3))),
				    cnt('replies'), reply={})
			else:
				add(v + 'mode_%d' % m, fam, one(
					lambda fam=fam, m=m: frame(
						fam, ntp(mode=m))),
				    cnt('pass_not_mode3'), passed=1,
				    delivered=1)
		for vn in range(8):
			if 1 <= vn <= 4:
				add(v + 'version_%d' % vn, fam, one(
					lambda fam=fam, vn=vn: frame(
						fam, ntp(vn=vn, poll=vn + 3))),
				    cnt('replies'), reply={})
			else:
				add(v + 'version_%d' % vn, fam, one(
					lambda fam=fam, vn=vn: frame(
						fam, ntp(vn=vn))),
				    cnt('pass_bad_version'), passed=1,
				    delivered=1)
		for n in (0, 1, 47, 49, 68, 72, 1000):
			c = 'pass_short' if n < 48 else 'pass_extensions'
			add(v + 'payload_%d_bytes' % n, fam, one(
				lambda fam=fam, n=n: frame(
					fam, ntp(length=n))),
			    cnt(c), passed=1, delivered=1)

		def srv_reply(fam=fam):
			p = bytearray(ntp(mode=4))
			p[1] = 2
			p[24:40] = struct.pack('!QQ', tx(), ntp_now())
			return frame(fam, bytes(p), sport=123)
		add(v + 'mode_4_reply_to_server', fam, one(srv_reply),
		    cnt('pass_not_mode3'), passed=1, delivered=1)

		# Server state.
		st = a.state_cmd.split()
		for n, pre in (('cleared', [['state', 'clear']]),
			       ('leap_3', [st[:st.index('leap') + 1] + ['3'] +
					   st[st.index('leap') + 2:]]),
			       ('stratum_16', [st[:st.index('stratum') + 1] +
					       ['16'] +
					       st[st.index('stratum') + 2:]]),
			       ('stratum_0', [st[:st.index('stratum') + 1] +
					      ['0'] +
					      st[st.index('stratum') + 2:]])):
			add(v + 'state_' + n, fam,
			    lambda fam=fam, pre=pre: {
				    'pre': pre, 'post': [st],
				    'frames': [frame(fam)]},
			    cnt('pass_no_state'), passed=1, delivered=1)

		# Configuration: disabled, served addresses, served ports.
		add(v + 'disabled', fam, lambda fam=fam: {
			'pre': [['set', 'disable']],
			'post': [['set', 'enable']],
			'frames': [frame(fam)]},
		    {}, passed=1, delivered=1)
		extra = a.extra4 if fam == 4 else a.extra6
		add(v + 'served_set_excludes_address', fam, lambda fam=fam,
		    extra=extra: {
			    'pre': [['addr', 'add', extra]],
			    'frames': [frame(fam)]},
		    cnt('pass_not_ours'), passed=1, delivered=1)
		add(v + 'served_set_includes_address', fam, lambda fam=fam,
		    extra=extra: {
			    'post': [['addr', 'flush']],
			    'frames': [frame(fam, dst=extra)]},
		    cnt('replies'), reply={})
		add(v + 'second_served_port', fam, lambda fam=fam: {
			'pre': [['set', 'port', '123,4123']],
			'post': [['set', 'port', '123']],
			'frames': [frame(fam, dport=4123)]},
		    cnt('replies'), reply={})
		add(v + 'port_no_longer_served', fam, lambda fam=fam: {
			'frames': [frame(fam, dport=4123)]},
		    {}, passed=1, delivered=1)

		# Loopback: sent by the listener inside the server namespace.
		lo = '127.0.0.1' if fam == 4 else '::1'
		add(v + 'loopback_address', fam, lambda lo=lo: {
			'lo': (lo, 123, ntp())},
		    cnt('pass_loopback'), passed=0, delivered=1)
		add(v + 'own_address_over_loopback', fam, lambda dst=dst: {
			'lo': (dst, 123, ntp())},
		    cnt('pass_loopback'), passed=0, delivered=1)
	return cases


def cmd_cases(a):
	os.sched_setaffinity(0, {a.cpu})
	cases = build_cases(a)
	only = set(a.only.split(',')) if a.only else None
	cases = [c for c in cases if not only or c[0] in only]
	# The plan first, so that a crash part way is a failure of the rest.
	for c in cases:
		print('CASE ' + c[0])
	sys.stdout.flush()
	st = State(a.state)
	ctl = Control(a.cli4, a.srv4, a.ctl_port)
	snf = Sniffer(a.iface)
	tx_sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
	tx_sock.bind((a.iface, 0))
	srv_addrs = {a.srv4, a.srv6, a.srv6ll, a.extra4, a.extra6}
	prev = ctl.call(cmd='snap')
	snf.drain()
	fails = 0
	for name, fam, build, exp in cases:
		b = build()
		for c in b.get('pre', []):
			ctl.run(a.ntpkctl, *c)
		t0 = time.time_ns()
		if 'lo' in b:
			d, p, data = b['lo']
			snap = ctl.call(cmd='lo', dst=d, port=p, data=data.hex())
			sent = []
		else:
			for f in b['frames']:
				tx_sock.send(f)
			snap = ctl.call(cmd='snap')
			sent = [parse_frame(f) for f in b['frames']]
		t1 = time.time_ns()
		frames = snf.drain()
		for c in b.get('post', []):
			ctl.run(a.ntpkctl, *c)
		bad = []
		if snap['stats'] is None or prev['stats'] is None:
			bad.append('cannot read the ntpk counters')
		else:
			dl = stats_delta(prev['stats'], snap['stats'])
			if dl != exp['counters']:
				bad.append('counters %s, want %s'
					   % (dl, exp['counters']))
		passed = sum(snap['nft'].values()) - sum(prev['nft'].values())
		if passed != exp['passed']:
			bad.append('passed to the stack %d, want %d'
				   % (passed, exp['passed']))
		if len(snap['recv']) != exp['delivered']:
			bad.append('server sockets got %d datagrams, want %d'
				   % (len(snap['recv']), exp['delivered']))
		elif exp['delivered'] and sent and 'payload' in sent[-1] and \
				'frag' not in name:
			want = sent[-1]['payload']
			gotp = bytes.fromhex(snap['recv'][0]['data'])
			if gotp != want:
				bad.append('delivered payload differs from sent')
		for k, v in (exp['snmp'] or {}).items():
			dv = snap['snmp'].get(k, 0) - prev['snmp'].get(k, 0)
			if dv != v:
				bad.append('%s +%d, want +%d' % (k, dv, v))
		replies = [d for d in map(parse_frame, frames)
			   if is_reply_from_server(d, srv_addrs, a.ctl_port)]
		nrep = 1 if exp['reply'] is not None else 0
		if len(replies) != nrep:
			bad.append('%d replies, want %d' % (len(replies), nrep))
		elif nrep:
			bad += check_reply(replies[0], sent[-1], st, t0, t1,
					   a.srv_mac, a.cli_mac)
		prev = snap
		if a.verbose:
			print('# %s: %.2f s, snap %.3f s' % (
				name, (time.time_ns() - t0) / 1e9, snap['snap_s']),
			      flush=True)
		if bad:
			fails += 1
			print('FAIL %s: %s' % (name, '; '.join(bad)), flush=True)
		else:
			print('PASS %s' % name, flush=True)
	return 1 if fails else 0


# --- the mutation flood -------------------------------------------------------------

def nsum(b):
	"""Ones' complement partial sum in host byte order (RFC 1071: the
	folded result is the network-order sum byte-swapped, so packing the
	complement with '=H' gives the right bytes)."""
	if len(b) & 1:
		b = bytes(b) + b'\0'
	return sum(array.array('H', b))


def nfold(s):
	while s >> 16:
		s = (s & 0xffff) + (s >> 16)
	return s


class FloodGen:
	"""Valid requests, mutated, built fast; and what the hook must do with
	each, in the hook's order of checks (the IP header stays valid and
	addressed to the server, so the frame reaches the UDP checks)."""

	def __init__(self, a, rnd):
		self.rnd = rnd
		self.ctl_port = a.ctl_port
		self.fam = {}
		for fam, src, dst, et in ((4, a.cli4, a.srv4, ETH_P_IP),
					  (6, a.cli6, a.srv6, ETH_P_IPV6)):
			self.fam[fam] = (src, dst, nsum(pseudo(fam, src, dst, 0)),
					 eth(a.srv_mac, a.cli_mac, et), {})

	@staticmethod
	def nlen(n):
		return struct.unpack('=H', struct.pack('!H', n))[0]

	def frame(self, fam, chaos):
		"""(frame, outcome counter or None, reply expected)."""
		rnd = self.rnd
		src, dst, base, ethh, hdrs = self.fam[fam]
		r = rnd.random()
		if r < 0.85:
			plen = 48
		elif r < 0.9:
			plen = rnd.choice((0, 1, 47, 49, 52, 68, 72, 1000))
		else:
			plen = rnd.randrange(1200)
		pay = bytearray(rnd.randbytes(plen))
		if plen and rnd.random() < 0.7:
			pay[0] = rnd.getrandbits(2) << 6 | \
				rnd.randint(1, 4) << 3 | 3
		sport = rnd.randrange(1024, 65536) if rnd.random() > 0.02 else 0
		dport = 123
		if rnd.random() < 0.03:
			dport = rnd.randrange(1, 65536)
		ulen = 8 + plen
		l4 = bytearray(struct.pack('!HHHH', sport, dport, ulen, 0))
		l4 += pay
		r = rnd.random()
		if r < 0.03:
			l4 += rnd.randbytes(rnd.randint(1, 16))	# after UDP
		elif r < 0.09:
			l4[4:6] = struct.pack('!H', rnd.choice((
				rnd.randrange(65536), rnd.randrange(8),
				ulen - rnd.randint(1, 8),
				ulen + rnd.randint(1, 8))) & 0xffff)
		if rnd.random() < 0.05:
			for _ in range(rnd.randint(1, 3)):
				l4[rnd.randrange(len(l4))] = rnd.getrandbits(8)
		# No frame to the control port, whether by the random port or
		# a flipped byte (seed 1204168933 made one): the nft counter of
		# what reaches the stack leaves that port out.
		if l4[2:4] == struct.pack('!H', self.ctl_port):
			l4[2:4] = struct.pack('!H', 124)
		l4[6:8] = b'\0\0'
		n = len(l4)
		s = base + self.nlen(n) + nsum(l4)
		r = rnd.random()
		if r < 0.04:
			ck = 0
		elif r < 0.10:
			ck = rnd.getrandbits(16)
			l4[6:8] = struct.pack('!H', ck)
		else:
			c = ~nfold(s) & 0xffff or 0xffff
			l4[6:8] = struct.pack('=H', c)
			ck = 1
		ck_ok = nfold(s + struct.unpack('=H', l4[6:8])[0]) == 0xffff
		hdr = hdrs.get(n)
		if hdr is None:
			hdr = hdrs[n] = ipv4_hdr(src, dst, n, ident=0) if fam == 4 \
				else ipv6_hdr(src, dst, n)
		fr = ethh + hdr + l4
		if chaos:
			fr = bytearray(fr)
			for _ in range(rnd.randint(1, 4)):
				fr[rnd.randrange(14, len(fr))] = rnd.getrandbits(8)
			if fam == 4 and rnd.random() < 0.5:
				ihl = (fr[14] & 15) * 4
				fr[24:26] = b'\0\0'
				fr[24:26] = struct.pack('!H', inet_csum(
					bytes(fr[14:14 + ihl])))
			if rnd.random() < 0.1:
				fr = fr[:rnd.randrange(14, len(fr))]
			return bytes(fr), None, False
		return bytes(fr), *self.model(fam, bytes(l4), ck, ck_ok)

	@staticmethod
	def model(fam, l4, ck, ck_ok):
		sport, dport, ulen = struct.unpack('!HHH', l4[:6])
		if dport != 123:
			return None, False
		if ulen < 8 or ulen > len(l4):
			return 'drop_malformed', False
		if ulen < len(l4):
			return 'pass_unusual', False
		if sport == 0:
			return 'pass_bad_source', False
		if (fam == 4 and ck and not ck_ok) or \
				(fam == 6 and (not ck or not ck_ok)):
			return 'drop_checksum', False
		p = l4[8:ulen]
		if len(p) < 48:
			return 'pass_short', False
		if len(p) > 48:
			return 'pass_extensions', False
		if p[0] & 7 != 3:
			return 'pass_not_mode3', False
		if not 1 <= (p[0] >> 3) & 7 <= 4:
			return 'pass_bad_version', False
		return 'replies', True


def valid_request(d, srv_addrs, ports):
	"""Strictly: is parsed frame d a request the hook may answer?"""
	if not d or d.get('proto') != 17 or 'payload' not in d:
		return False
	if d['dst'] not in srv_addrs or d['dport'] not in ports:
		return False
	if d['fam'] == 4:
		if d['ihl'] != 20 or d['frag'] & 0x3fff or not d['ipcsum_ok']:
			return False
		if d['tot'] != 20 + len(d['l4']):
			return False
		if d['ucsum'] and not udp_csum_ok(4, d['src'], d['dst'],
						  d['l4'][:d['ulen']]):
			return False
		sa = ipaddress.ip_address(d['src'])
		if sa.is_multicast or sa.is_loopback or sa.is_unspecified or \
				d['src'] == '255.255.255.255':
			return False
	else:
		if d['vtcfl'] >> 28 != 6 or d['plen'] != len(d['l4']):
			return False
		if not d['ucsum_ok']:
			return False
		sa = ipaddress.ip_address(d['src'])
		if sa.is_multicast or sa.is_loopback or sa.is_unspecified or \
				sa.ipv4_mapped:
			return False
	if d['sport'] == 0 or d['ulen'] != len(d['l4']) or d['ulen'] != 56:
		return False
	p = d['payload']
	return p[0] & 7 == 3 and 1 <= (p[0] >> 3) & 7 <= 4


def flood_generate(a):
	"""The frames of both phases, with what the model expects of them."""
	seed = a.seed if a.seed is not None else random.randrange(1 << 32)
	rnd = random.Random(seed)
	gen = FloodGen(a, rnd)
	out = {'seed': seed, 'phases': []}
	for phase, n, chaos in (('model', a.count, False),
				('chaos', a.chaos, True)):
		if not n:
			continue
		expect = dict.fromkeys(COUNTERS, 0)
		want = {}		# transmit timestamp -> [frame index]
		passed = 0
		t_gen = time.time()
		frames = []
		for i in range(n):
			fr, c, rep = gen.frame(4 if rnd.random() < 0.5 else 6,
					       chaos)
			frames.append(fr)
			if chaos:
				want.setdefault(fr[-8:], []).append(i)
				continue
			if c is None:
				passed += 1
				continue
			expect['requests'] += 1
			expect[c] += 1
			if c.startswith('pass_'):
				passed += 1
			if rep:
				want.setdefault(fr[-8:], []).append(i)
		out['phases'].append((phase, n, chaos, frames, expect, want,
				      passed, time.time() - t_gen))
	return out


def cmd_flood(a):
	if a.generate:
		# Ahead of time, on another CPU, while something else runs.
		with open(a.generate, 'wb') as f:
			pickle.dump(flood_generate(a), f)
		return 0
	if a.frames:
		with open(a.frames, 'rb') as f:
			data = pickle.load(f)
	else:
		data = flood_generate(a)
	os.sched_setaffinity(0, {a.cpu})
	st = State(a.state)
	ctl = Control(a.cli4, a.srv4, a.ctl_port)
	snf = Sniffer(a.iface)
	tx_sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
	tx_sock.bind((a.iface, 0))
	srv_addrs = {a.srv4, a.srv6}
	res = {'seed': data['seed'], 'problems': []}

	def problem(s):
		if len(res['problems']) < 20:
			res['problems'].append(s)

	for phase, n, chaos, frames, expect, want, passed, t_gen in \
			data['phases']:
		before = ctl.call(cmd='snap', data=False)
		snf.drain()
		got = []
		t0 = time.time_ns()
		t_send = time.time()
		for i, fr in enumerate(frames):
			try:
				tx_sock.send(fr)
			except OSError as e:
				problem('%s: send %d: %s' % (phase, i, e))
			if i & 255 == 255:
				got += snf.drain()
		after = ctl.call(cmd='snap', data=False)
		t1 = time.time_ns()
		got += snf.drain()
		t_send = time.time() - t_send
		delta = {k: after['stats'][k] - before['stats'][k]
			 for k in COUNTERS}
		replies = [d for d in map(parse_frame, got)
			   if is_reply_from_server(d, srv_addrs, a.ctl_port)]
		parsed = {}
		nbad = 0
		for r in replies:
			o = r.get('payload', b'')[24:32]
			idx = want.get(o, [])
			if chaos and not idx and not parsed:
				# Mutated lengths: index by what the kernel saw.
				for i, fr in enumerate(frames):
					d = parse_frame(fr)
					if d and len(d.get('payload', b'')) == 48:
						parsed.setdefault(
							d['payload'][40:48],
							[]).append(i)
			if chaos and not idx:
				idx = parsed.get(o, [])
			best = None
			for i in idx:
				q = parse_frame(frames[i])
				if chaos and not valid_request(q, srv_addrs, {123}):
					continue
				errs = check_reply(r, q, st, t0, t1, a.srv_mac,
						   a.cli_mac)
				if best is None or len(errs) < len(best[1]):
					best = (i, errs)
			if best is None:
				nbad += 1
				problem('%s: reply to no valid request: %s' % (
					phase, r.get('payload', b'').hex()))
				continue
			if best[1]:
				nbad += 1
				problem('%s: bad reply: %s' % (phase,
							       '; '.join(best[1])))
			if not chaos:
				idx.remove(best[0])
		outs = sum(delta[k] for k in OUTCOMES)
		ph = {'sent': n, 'replies_seen': len(replies), 'bad_replies': nbad,
		      'delta': {k: v for k, v in delta.items() if v},
		      'gen_s': round(t_gen, 1), 'send_s': round(t_send, 1)}
		if delta['requests'] != outs:
			problem('%s: requests %d != sum of outcomes %d' % (
				phase, delta['requests'], outs))
		if len(replies) > delta['replies']:
			problem('%s: saw %d replies, the counter says %d' % (
				phase, len(replies), delta['replies']))
		if not chaos:
			ph['passed'] = sum(after['nft'].values()) - \
				sum(before['nft'].values())
			if delta != expect:
				problem('model: counters %s, want %s' % (
					{k: v for k, v in delta.items() if v},
					{k: v for k, v in expect.items() if v}))
			if ph['passed'] != passed:
				problem('model: %d passed to the stack, want %d'
					% (ph['passed'], passed))
			left = sum(len(v) for v in want.values())
			if left:
				problem('model: %d valid requests got no reply'
					% left)
		res[phase] = ph
	res['ok'] = not res['problems']
	print(json.dumps(res))
	return 0 if res['ok'] else 1


# --- the fail-safe workload --------------------------------------------------------

def cmd_mixed(a):
	"""Send n requests of each kind from a socket of their own each, wait,
	and report per kind how many answers came from whom."""
	kinds = a.kinds.split(',')
	key = bytes.fromhex(a.md5_key) if a.md5_key else b''
	rnd = random.Random()
	reqs = []
	for fam, dst in ((4, a.srv4), (6, a.srv6)):
		if not dst:
			continue
		for k in kinds:
			for _ in range(a.n):
				s = socket.socket(socket.AF_INET if fam == 4
						  else socket.AF_INET6,
						  socket.SOCK_DGRAM)
				s.bind(('0.0.0.0' if fam == 4 else '::', 0))
				txs = ntp_now() ^ rnd.getrandbits(20)
				p = ntp_packet(mode=3, vn=4, tx=txs)
				if k == 'mode6':
					# READSTAT: no transmit timestamp.
					p = struct.pack('!BBHHHHH', 0x16, 1,
							rnd.getrandbits(16),
							0, 0, 0, 0)
				elif k in ('auth', 'auth_unknown_key'):
					kid = a.key_id if k == 'auth' else \
						a.key_id + 1000
					p = p + struct.pack('!I', kid) + \
						hashlib.md5(key + p).digest()
				elif k == 'nts':
					uid = rnd.randbytes(32)
					cookie = rnd.randbytes(100)
					nonce = rnd.randbytes(16)
					ct = rnd.randbytes(16)
					auth = struct.pack('!HH', 16, 16) + \
						nonce + ct
					p = p + struct.pack('!HH', 0x0104,
							    4 + 32) + uid + \
						struct.pack('!HH', 0x0204,
							    4 + 100) + cookie + \
						struct.pack('!HH', 0x0404,
							    4 + len(auth)) + auth
				elif k == 'ext_unknown':
					# RFC 7822: 28 octets at least when
					# no MAC follows.
					p = p + struct.pack('!HH', 0x2005, 28) + \
						rnd.randbytes(24)
				reqs.append({'kind': k, 'fam': fam, 'sock': s,
					     'dst': dst, 'p': p, 'ans': []})
	for r in reqs:
		r['sock'].sendto(r['p'], (r['dst'], 123))
		if a.gap:
			time.sleep(a.gap)
	socks = {r['sock']: r for r in reqs}
	end = time.time() + a.wait
	while time.time() < end:
		rd, _, _ = select.select(list(socks), [], [], 0.2)
		for s in rd:
			data, peer = s.recvfrom(65535)
			socks[s]['ans'].append(data)
			end = max(end, time.time() + a.wait)
	out = {}
	for r in reqs:
		o = out.setdefault('%s/v%d' % (r['kind'], r['fam']), {
			'sent': 0, 'answers': 0, 'answered': 0, 'dup': 0,
			'by_stratum': {}, 'bad_origin': 0, 'lens': {}})
		o['sent'] += 1
		o['answers'] += len(r['ans'])
		o['answered'] += 1 if r['ans'] else 0
		o['dup'] += 1 if len(r['ans']) > 1 else 0
		for d in r['ans']:
			s = str(d[1]) if len(d) > 1 else '?'
			if d[0] & 7 == 6:
				s = 'mode6'
			o['by_stratum'][s] = o['by_stratum'].get(s, 0) + 1
			n = str(len(d))
			o['lens'][n] = o['lens'].get(n, 0) + 1
			if len(d) >= 48 and d[0] & 7 == 4 and \
					d[24:32] != r['p'][40:48]:
				o['bad_origin'] += 1
	print(json.dumps(out, sort_keys=True))
	return 0


def cmd_churn(a):
	"""Enable, disable, push and clear the state in turn, at a.rate per
	second for a.duration seconds, over generic netlink (no process
	per change).  Leaves ntpk enabled with the state pushed."""
	g = Genl('ntpk')
	cmd = uapi_enum('ntpk_cmd', 'NTPK_CMD_').index
	top = uapi_enum('ntpk_attr', 'NTPK_A_').index
	cfa = uapi_enum('ntpk_config_attr', 'NTPK_CONFIG_A_').index
	sta = uapi_enum('ntpk_state_attr', 'NTPK_STATE_A_').index
	st = State(a.state + ',0')
	state = nla(top('state') | NLA_F_NESTED,
		    nla(sta('leap'), struct.pack('B', st.leap)) +
		    nla(sta('stratum'), struct.pack('B', st.stratum)) +
		    nla(sta('precision'), struct.pack('b', st.precision)) +
		    nla(sta('root_delay'), struct.pack('=I', st.rootdelay)) +
		    nla(sta('root_disp'), struct.pack('=I', st.rootdisp)) +
		    nla(sta('refid'), struct.pack('!I', st.refid)) +
		    nla(sta('reftime'), struct.pack('=Q', st.reftime)))

	def flags(f):
		return nla(top('config') | NLA_F_NESTED,
			   nla(cfa('flags'), struct.pack('=I', f)))
	ops = [
		('disable', lambda: g.cmd(cmd('set'), flags(0))),
		('state_set', lambda: g.cmd(cmd('state_set'), state)),
		('enable', lambda: g.cmd(cmd('set'), flags(1))),
		('state_clear', lambda: g.cmd(cmd('state_clear'))),
		('state_set', lambda: g.cmd(cmd('state_set'), state)),
	]
	done = errors = 0
	errs = {}
	t0 = time.time()
	end = t0 + a.duration
	nxt = t0
	while time.time() < end:
		name, op = ops[done % len(ops)]
		try:
			op()
		except OSError as e:
			errors += 1
			k = '%s: %s' % (name, e)
			errs[k] = errs.get(k, 0) + 1
		done += 1
		nxt += 1.0 / a.rate
		d = nxt - time.time()
		if d > 0:
			time.sleep(d)
	el = time.time() - t0
	g.cmd(cmd('set'), flags(1))
	g.cmd(cmd('state_set'), state)
	print(json.dumps({'ops': done, 'errors': errors, 'errs': errs,
			  'seconds': round(el, 2), 'rate': round(done / el, 1)}))
	return 0 if not errors else 1


# --- a slow daemon ---------------------------------------------------------------

def cmd_slowntp(a):
	"""Answers each client request a.delay seconds after it arrived: the
	receive timestamp is its arrival, the transmit timestamp the moment
	the answer goes, as chronyd stamps a request that waited in its
	socket queue."""
	host, port = a.listen.rsplit(':', 1)
	host = host.strip('[]')
	fam = socket.AF_INET6 if ':' in host else socket.AF_INET
	sk = socket.socket(fam, socket.SOCK_DGRAM)
	sk.bind((host, int(port)))
	refid = socket.inet_aton(a.refid)
	pending = []
	while True:
		wait = None
		if pending:
			wait = max(0.0, pending[0][0] - time.monotonic())
		if select.select([sk], [], [], wait)[0]:
			req, peer = sk.recvfrom(2048)
			if len(req) >= 48 and req[0] & 7 == 3:
				pending.append((time.monotonic() + a.delay,
						ntp_now(), req, peer))
		while pending and pending[0][0] <= time.monotonic():
			_, rx, req, peer = pending.pop(0)
			head = struct.pack('!BBBbII4sQ8sQ',
					   (req[0] & 0x38) | 4, a.stratum,
					   req[2], -20, 0, 1 << 12, refid,
					   ntp_now() - (16 << 32), req[40:48], rx)
			sk.sendto(head + struct.pack('!Q', ntp_now()), peer)


# --- command line ---------------------------------------------------------------------

def main():
	ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
	sub = ap.add_subparsers(dest='cmd', required=True)

	p = sub.add_parser('listen')
	p.add_argument('--ports', default='123,124,4123')
	p.add_argument('--ctl-port', type=int, default=9999)
	p.add_argument('--nft-counter', default='',
		       help='"FAMILY TABLE NAME" of a counter to report')

	def client(p):
		p.add_argument('--iface')
		p.add_argument('--cli-mac')
		p.add_argument('--srv-mac')
		p.add_argument('--cli4')
		p.add_argument('--srv4')
		p.add_argument('--cli6')
		p.add_argument('--srv6')
		p.add_argument('--ctl-port', type=int, default=9999)
		p.add_argument('--state', help='leap,stratum,precision,'
			       'rootdelay,rootdisp,refid,reftime (hex for the '
			       'last four),pushed_at_ns')
		p.add_argument('--cpu', type=int, default=0)

	p = sub.add_parser('cases')
	client(p)
	p.add_argument('--cli6ll')
	p.add_argument('--srv6ll')
	p.add_argument('--extra4')
	p.add_argument('--extra6')
	p.add_argument('--other4')
	p.add_argument('--other6')
	p.add_argument('--unroutable4', default='198.51.100.7')
	p.add_argument('--unroutable6', default='2001:db8:dead::7')
	p.add_argument('--net4-bcast')
	p.add_argument('--ntpkctl', default='ntpkctl')
	p.add_argument('--state-cmd', default='',
		       help='the ntpkctl "state set ..." words')
	p.add_argument('--verbose', action='store_true')
	p.add_argument('--only', default='')

	p = sub.add_parser('flood')
	client(p)
	p.add_argument('--count', type=int, default=100000)
	p.add_argument('--chaos', type=int, default=20000)
	p.add_argument('--seed', type=int)
	p.add_argument('--generate', metavar='FILE',
		       help='only build the frames, into FILE')
	p.add_argument('--frames', metavar='FILE',
		       help='send the frames --generate built')

	p = sub.add_parser('query')
	p.add_argument('--to', action='append', required=True,
		       help='ADDR[,version=V][,poll=P][,sport=S][,count=N]')
	p.add_argument('--port', type=int, default=123)
	p.add_argument('--timeout', type=float, default=3)
	p.add_argument('--linger', type=float, default=0.3)

	p = sub.add_parser('fragreq')
	client(p)
	p.add_argument('--timeout', type=float, default=5)

	p = sub.add_parser('vreq')
	client(p)
	p.add_argument('--families', default='4,6')
	p.add_argument('--count', type=int, default=2)
	p.add_argument('--sport', type=int, default=41000,
		       help='request i of family F comes from SPORT + 10 F + i')
	p.add_argument('--frame-len', type=int, default=0,
		       help='pad each frame to this many bytes (after the IP '
		       'datagram, which says how long it is)')
	p.add_argument('--csum', choices=('full', 'partial', 'bad'),
		       default='full')
	p.add_argument('--ext-len', type=int, default=0,
		       help='an extension field of this many bytes (a '
		       'multiple of 4, 28 at least) after the 48')
	p.add_argument('--expect', choices=('ntpk', 'none', 'passed'),
		       default='ntpk')
	p.add_argument('--state-json', metavar='FILE')
	p.add_argument('--control', metavar='CMD')
	p.add_argument('--timeout', type=float, default=3)

	p = sub.add_parser('decode')
	p.add_argument('--pcap', required=True)
	p.add_argument('--servers', required=True,
		       help='server addresses, comma separated')
	p.add_argument('--state', required=True)
	# A sanity bound only (the exact check is request <= rx <= tx <=
	# reply): a busy emulated CPU can stall for hundreds of ms.
	p.add_argument('--max-turnaround', type=float, default=1.0)

	p = sub.add_parser('mixed')
	p.add_argument('--srv4')
	p.add_argument('--srv6')
	p.add_argument('--kinds', default='valid')
	p.add_argument('-n', type=int, default=10)
	p.add_argument('--gap', type=float, default=0.0)
	p.add_argument('--wait', type=float, default=1.5)
	p.add_argument('--md5-key', default='')
	p.add_argument('--key-id', type=int, default=1)

	p = sub.add_parser('churn')
	p.add_argument('--state', required=True)
	p.add_argument('--rate', type=float, default=100)
	p.add_argument('--duration', type=float, default=5)

	p = sub.add_parser('slowntp')
	p.add_argument('--listen', required=True, help='ADDR:PORT')
	p.add_argument('--delay', type=float, default=1.5)
	p.add_argument('--stratum', type=int, default=4)
	p.add_argument('--refid', default='192.0.2.44')

	a = ap.parse_args()
	return {'listen': cmd_listen, 'cases': cmd_cases, 'flood': cmd_flood,
		'mixed': cmd_mixed, 'churn': cmd_churn, 'query': cmd_query,
		'decode': cmd_decode, 'fragreq': cmd_fragreq,
		'slowntp': cmd_slowntp, 'vreq': cmd_vreq}[a.cmd](a)


if __name__ == '__main__':
	sys.exit(main())
