#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Guest side of `make bench`: ntpk against chronyd, ntpd and the floor.

Runs as root inside the benchmark guest (bench/run starts it with
scripts/vm-run, 2 vCPUs).  Layout:

  client netns ntpkb-c                      server netns ntpkb-s
  bench/out/ntpgen on CPU 1  --veth-->  receive processing on CPU 0 (RPS)
  replies counted by nft                    daemons pinned to CPU 0
  (netdev ingress, then dropped)

This process and everything it spawns stays on CPU 1, so CPU 0's busy time
is the server side alone: its receive path, the hook or the daemon, and
the transmit of the replies (whose receive is steered back to CPU 1).

For every server in turn: an idle baseline, a fixed offered load for the CPU
cost, a rate ramp, and two runs at 50% and 90% of its capacity for the
residence time.  Writes bench/out/results.json, summary.md, rate.dat and,
with gnuplot, rate.png.
"""
import argparse
import contextlib
import ctypes
import fcntl
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, 'bench', 'out')
WORK = '/tmp/ntpk-bench'
GEN = os.path.join(OUT, 'ntpgen')
NTPKCTL = os.path.join(TOP, 'userspace', 'ntpkctl')

CNS = 'ntpkb-c'		# the client namespace; each server has its own
CLIENT_IP, SERVER_IP = '10.0.0.1', '10.0.0.2'
POOL, POOL_BITS = '10.128.0.0/12', 12	# 2^20 = 1,048,576 client addresses
SERVER_CPU, CLIENT_CPU = 0, 1
RMEM = 8 << 20
BACKLOG = 10000
RL_TABLE = 1 << 22
RL_TABLE_SMOKE = 1 << 16	# zeroing 32 MiB is slow under emulation
# bench/icount.py --virtio: the servers behind the mergeable virtio-net pair
# of scripts/vm-run --virtio-pair (client device, server device).
VIRTIO = False
VIRTIO_MACS = ('52:54:00:4e:01:01', '52:54:00:4e:01:02')


def rl_args(args):
	return ['interval', '0', 'burst', '16', 'leak', '0', 'kod', 'off',
		'table-size', str(RL_TABLE_SMOKE if args.smoke else RL_TABLE)]


USER_HZ = os.sysconf('SC_CLK_TCK')

# Client side of one server's veth: count its replies exactly, drop all.
CLIENT_CHAIN = '''
	counter replies%(i)d {}
	counter other%(i)d {}
	chain in%(i)d {
		type filter hook ingress device %(dev)s priority 0;
		ip saddr %(srv)s ip daddr %(pool)s udp sport 123 counter name replies%(i)d drop
		counter name other%(i)d drop
	}'''

# Stages of a request on the serving CPU, for --profile.
PROFILE_FUNCS = '''
net_rx_action process_backlog __netif_receive_skb_one_core ip_rcv ip_rcv_core
nf_hook_slow ip_rcv_finish ip_local_deliver udp_rcv __udp_enqueue_schedule_skb
sock_def_readable nft_do_chain kfree_skb_reason consume_skb
ntpk_ipv4_in check_payload fill_ntp ntpk_rl_check4 ktime_get_with_offset
ntp_set_tx ntp_ts_from_unix csum_partial dst_release get_random_u32
__ip_dev_find nf_ip_checksum skb_ensure_writable ip_route_output_flow
ip_local_out ip_output ip_finish_output2 __dev_queue_xmit veth_xmit __netif_rx
__sysvec_call_function_single native_send_call_func_single_ipi
__sys_recvmsg __sys_sendmsg __x64_sys_recvmsg __x64_sys_sendmsg
__x64_sys_recvmmsg __x64_sys_sendmmsg udp_recvmsg udp_sendmsg
__x64_sys_clock_gettime __x64_sys_select __x64_sys_pselect6
__x64_sys_epoll_wait __x64_sys_poll __x64_sys_ppoll
'''.split()


class BenchError(Exception):
	pass


T0 = time.monotonic()


def log(msg):
	print('bench: [%5.1f] %s' % (time.monotonic() - T0, msg),
	      file=sys.stderr, flush=True)


_libc = ctypes.CDLL(None, use_errno=True)
_HOME_NS = os.open('/proc/self/ns/net', os.O_RDONLY)
_NS_FDS = {}
CLONE_NEWNET = 0x40000000


def _setns(fd):
	if _libc.setns(fd, CLONE_NEWNET):
		e = ctypes.get_errno()
		raise OSError(e, 'setns: ' + os.strerror(e))


@contextlib.contextmanager
def in_ns(ns):
	"""Switch this (single-threaded) process into network namespace NS:
	/proc/self/net, /proc/sys/net, new sockets and spawned children are
	then NS's.  Spawning through nsenter or `ip netns exec` costs a
	process start each, which is slow under emulation."""
	if not ns:
		yield
		return
	if ns not in _NS_FDS:
		_NS_FDS[ns] = os.open('/run/netns/' + ns, os.O_RDONLY)
	_setns(_NS_FDS[ns])
	try:
		yield
	finally:
		_setns(_HOME_NS)


def run(cmd, ns=None, check=True, input=None):
	with in_ns(ns):
		p = subprocess.run(cmd, input=input, capture_output=True,
				   text=True)
	if check and p.returncode:
		raise BenchError('%s%s failed (%d): %s' %
				 ('[%s] ' % ns if ns else '', ' '.join(cmd),
				  p.returncode, (p.stderr or p.stdout).strip()))
	return p.stdout


def sysctl(name, value, ns=None):
	with in_ns(ns):
		with open('/proc/sys/' + name.replace('.', '/'), 'w') as f:
			f.write('%s\n' % value)


# --- measurement primitives ----------------------------------------------

def cpu_sample(cpu=SERVER_CPU):
	"""(monotonic seconds, busy USER_HZ ticks, idle+iowait ticks) of CPU."""
	t = time.monotonic()
	with open('/proc/stat') as f:
		for line in f:
			if line.startswith('cpu%d ' % cpu):
				v = [int(x) for x in line.split()[1:]]
				break
	# user nice system idle iowait irq softirq steal
	busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return t, busy, v[3] + v[4]


def busy_seconds(a, b):
	"""Busy time of the CPU between two samples: wall time minus idle time
	(idle is accounted exactly by NO_HZ, busy fields are tick-sampled)."""
	wall = b[0] - a[0]
	idle = (b[2] - a[2]) / USER_HZ
	return max(0.0, wall - idle), wall, (b[1] - a[1]) / USER_HZ


def netdev_stats(ns, dev):
	"""(rx_packets, tx_dropped) of DEV in NS, from /proc/net/dev."""
	with in_ns(ns):
		with open('/proc/self/net/dev') as f:
			lines = f.readlines()
	for line in lines:
		name, _, rest = line.partition(':')
		if name.strip() == dev:
			v = [int(x) for x in rest.split()]
			return v[1], v[11]
	raise BenchError('no %s in %s' % (dev, ns))


def rps(ns, devs, cpu):
	"""Steer the receive processing of DEVS in NS to CPU.  sysfs shows
	the devices of the namespace it was mounted in, which `ip netns exec`
	arranges."""
	run(['ip', 'netns', 'exec', ns, 'sh', '-c', '; '.join(
		'echo %x > /sys/class/net/%s/queues/rx-0/rps_cpus' % (1 << cpu, d)
		for d in devs)])


def mac_of(ns, dev):
	with in_ns(ns):
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	try:
		ifr = fcntl.ioctl(s.fileno(), 0x8927,	# SIOCGIFHWADDR
				  struct.pack('16s16x', dev.encode()))
	finally:
		s.close()
	return ':'.join('%02x' % b for b in ifr[18:24])


class NftCounter:
	"""A named nftables counter, read over nfnetlink (NFT_MSG_GETOBJ) from a
	socket opened in its namespace: exact, and no `nft` start per read."""
	NFNL_SUBSYS_NFTABLES = 10
	NFT_MSG_NEWOBJ, NFT_MSG_GETOBJ = 18, 19
	NFTA_OBJ_TABLE, NFTA_OBJ_NAME, NFTA_OBJ_TYPE, NFTA_OBJ_DATA = 1, 2, 3, 4
	NFT_OBJECT_COUNTER = 1
	NFTA_COUNTER_PACKETS = 2
	FAMILIES = {'ip': 2, 'netdev': 5}

	def __init__(self, ns, family, table, name):
		with in_ns(ns):
			self.sock = socket.socket(socket.AF_NETLINK,
						  socket.SOCK_RAW, 12)
		self.sock.bind((0, 0))
		self.what = '%s %s %s %s' % (ns, family, table, name)
		self.seq = 0
		attrs = (self.attr(self.NFTA_OBJ_TABLE, table.encode() + b'\0') +
			 self.attr(self.NFTA_OBJ_NAME, name.encode() + b'\0') +
			 self.attr(self.NFTA_OBJ_TYPE,
				   struct.pack('>I', self.NFT_OBJECT_COUNTER)))
		self.body = struct.pack('BBH', self.FAMILIES[family], 0, 0) + attrs

	@staticmethod
	def attr(t, data):
		a = struct.pack('HH', 4 + len(data), t) + data
		return a + b'\0' * (-len(a) % 4)

	@staticmethod
	def attrs(buf):
		off = 0
		while off + 4 <= len(buf):
			ln, t = struct.unpack_from('HH', buf, off)
			if ln < 4:
				break
			yield t & 0x3fff, buf[off + 4:off + ln]
			off += (ln + 3) & ~3

	def read(self):
		self.seq += 1
		mtype = self.NFNL_SUBSYS_NFTABLES << 8 | self.NFT_MSG_GETOBJ
		msg = struct.pack('IHHII', 16 + len(self.body), mtype, 1,
				  self.seq, 0) + self.body
		self.sock.send(msg)
		buf = self.sock.recv(65536)
		ln, mtype, _, seq, _ = struct.unpack_from('IHHII', buf)
		if mtype == 2:	# NLMSG_ERROR
			err = struct.unpack_from('i', buf, 16)[0]
			raise BenchError('nft counter %s: %s' %
					 (self.what, os.strerror(-err)))
		for t, v in self.attrs(buf[20:ln]):
			if t == self.NFTA_OBJ_DATA:
				for t2, v2 in self.attrs(v):
					if t2 == self.NFTA_COUNTER_PACKETS:
						return struct.unpack('>Q', v2)[0]
		raise BenchError('nft counter %s: no packet count' % self.what)


def softnet():
	"""Per CPU (processed, dropped) of the receive backlog."""
	with open('/proc/net/softnet_stat') as f:
		return [(int(line.split()[0], 16), int(line.split()[1], 16))
			for line in f]


# --- servers ---------------------------------------------------------------

class Server:
	"""One server under test, in its own namespace ntpkb-NAME, joined to
	the client namespace by the veth pair c-NAME (client side) and s-NAME.
	All servers run at once, so that the CPU cost rounds can take turns."""
	name = ''
	label = ''
	answers = True		# False: the floor, which drops

	def place(self, i):
		self.i = i
		self.ns = 'ntpkb-' + self.name
		self.cdev = 'c-' + self.name
		self.sdev = 's-' + self.name

	def start(self):
		pass

	def stop(self):
		pass

	def counted(self):
		"""Requests handled so far: replies seen by the client (or drops)."""
		return self.replies.read()

	def check(self):
		"""Sanity checks after the server's runs; returns notes."""
		return []


class Ntpk(Server):
	name = 'ntpk'
	label = 'ntpk'

	def __init__(self, ratelimit=False):
		self.rl = ratelimit
		if ratelimit:
			self.name = 'ntpk-rl'
			self.label = 'ntpk, rate limit on'

	def ctl(self, *args):
		return run([NTPKCTL] + list(args), ns=self.ns)

	def start(self):
		self.ctl('set', 'enable', 'max-age', '3600')
		self.ctl('state', 'set', 'leap', '0', 'stratum', '2',
			 'precision', '-20', 'refid', '10.0.0.9',
			 'rootdelay', '0.001', 'rootdisp', '0.001',
			 'reftime', 'unix:%d' % int(time.time()))
		if self.rl:
			self.ctl('ratelimit', 'set', *rl_args(BENCH.args))
		show = self.ctl('show')
		if 'usable: yes' not in show:
			raise BenchError('ntpk state not usable:\n' + show)

	def stats(self):
		return json.loads(self.ctl('-j', 'stats'))

	def stop(self):
		# Deleting the namespace turns it all off; behind the virtio
		# pair the next server shares it.
		if VIRTIO:
			self.ctl('set', 'disable')

	def check(self):
		st = self.stats()
		notes = []
		bad = {k: v for k, v in st.items()
		       if v and k not in ('requests', 'replies')}
		if bad:
			notes.append('module counters besides replies: %s' % bad)
		if self.rl and st.get('rl_dropped', 0):
			raise BenchError('rate limiter limited %d requests: the '
					 'limits must not bite' % st['rl_dropped'])
		self.final_stats = st
		return notes


class Chronyd(Server):
	name = 'chronyd'
	label = 'chronyd'

	def start(self):
		conf = os.path.join(WORK, 'chrony.conf')
		with open(conf, 'w') as f:
			f.write('port 123\nallow all\nnoclientlog\n'
				'local stratum 2\ncmdport 0\n'
				'pidfile %s/chronyd.pid\n' % WORK)
		self.log = open(os.path.join(WORK, 'chronyd.log'), 'w')
		self.proc = spawn_server(self.ns, ['chronyd', '-f', conf, '-n',
						   '-x', '-d'], self.log)
		wait_answering(self)

	def stop(self):
		stop_proc(self.proc)


class Ntpd(Server):
	name = 'ntpd'
	label = 'ntpd (ntpsec)'

	def start(self):
		ntpd = os.environ.get('NTPK_BENCH_NTPD')
		if not ntpd or not os.access(ntpd, os.X_OK):
			raise BenchError('NTPK_BENCH_NTPD unset or not executable '
					 '(bench/run sets it from scripts/ntpsec-unpack)')
		conf = os.path.join(WORK, 'ntp.conf')
		with open(conf, 'w') as f:
			# No upstream: orphan mode makes it a synchronised
			# stratum-2 source at once, like chronyd's "local".
			f.write('tos orphan 2 orphanwait 0\n'
				'restrict default\n'
				'disable monitor\n')
		env = dict(os.environ)
		env['LD_LIBRARY_PATH'] = os.environ.get('NTPK_BENCH_NTPD_LIBS', '')
		self.log = open(os.path.join(WORK, 'ntpd.log'), 'w')
		self.proc = spawn_server(self.ns, [ntpd, '-n', '-g', '-c', conf,
						   '-l', os.path.join(WORK, 'ntpd.msgs')],
					 self.log, env)
		wait_answering(self)

	def stop(self):
		stop_proc(self.proc)


class Floor(Server):
	name = 'floor'
	label = 'floor (nft drop)'
	answers = False

	def start(self):
		run(['nft', '-f', '-'], ns=self.ns, input='''
table ip floor {
	counter drops {}
	chain pre {
		type filter hook prerouting priority raw;
		ip daddr %s udp dport 123 counter name drops drop
	}
}
''' % SERVER_IP)
		self.drops = NftCounter(self.ns, 'ip', 'floor', 'drops')

	def counted(self):
		return self.drops.read()

	def stop(self):
		run(['nft', 'delete', 'table', 'ip', 'floor'], ns=self.ns)


def spawn_server(ns, cmd, logf, env=None):
	"""Start a daemon in namespace NS, pinned to the server CPU."""
	with in_ns(ns):
		return subprocess.Popen(
			cmd, stdout=logf, stderr=subprocess.STDOUT, env=env,
			preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}))


def stop_proc(proc):
	if proc.poll() is None:
		proc.terminate()
		try:
			proc.wait(10)
		except subprocess.TimeoutExpired:
			proc.kill()
			proc.wait()


# --- the bench -------------------------------------------------------------

class Bench:
	def __init__(self, args):
		self.args = args
		self.seq = 0
		self.servers = []
		self.started = []

	def setup(self, servers):
		os.makedirs(WORK, exist_ok=True)
		self.servers = servers
		if VIRTIO:
			return self.setup_virtio(servers)
		for i, srv in enumerate(servers):
			srv.place(i)
		# Few process starts: each costs a good fraction of a second
		# under emulation on a busy host.
		nss = [CNS] + [srv.ns for srv in servers]
		run(['ip', '-force', '-batch', '-'], check=False,
		    input=''.join('netns del %s\n' % ns for ns in nss))
		run(['ip', '-batch', '-'],
		    input=''.join('netns add %s\n' % ns for ns in nss) +
		    ''.join('link add %s netns %s type veth peer name %s netns '
			    '%s\n' % (srv.cdev, CNS, srv.sdev, srv.ns)
			    for srv in servers))
		run(['ip', '-batch', '-'], ns=CNS,
		    input=''.join('link set %s up\n' % srv.cdev
				  for srv in servers))
		for ns in nss:
			sysctl('net.ipv6.conf.all.disable_ipv6', 1, ns)
			sysctl('net.ipv6.conf.default.disable_ipv6', 1, ns)
			sysctl('net.ipv4.conf.all.rp_filter', 0, ns)
			sysctl('net.ipv4.conf.default.rp_filter', 0, ns)
		chains = []
		for srv in servers:
			cmac = mac_of(CNS, srv.cdev)
			srv.smac = mac_of(srv.ns, srv.sdev)
			# Replies go through one gateway: one neighbour, not
			# a million.  The client side needs no address.
			run(['ip', '-batch', '-'], ns=srv.ns, input=
			    'link set lo up\naddr add %s/24 dev %s\n'
			    'link set %s up\nroute add %s via %s\n'
			    'neigh replace %s lladdr %s dev %s nud permanent\n' %
			    (SERVER_IP, srv.sdev, srv.sdev, POOL, CLIENT_IP,
			     CLIENT_IP, cmac, srv.sdev))
			# Receive processing: the server side on CPU 0, the
			# client's (replies) on CPU 1 with the generator.
			rps(srv.ns, [srv.sdev], SERVER_CPU)
			chains.append(CLIENT_CHAIN % {
				'i': srv.i, 'dev': srv.cdev, 'srv': SERVER_IP,
				'pool': POOL})
		rps(CNS, [srv.cdev for srv in servers], CLIENT_CPU)
		# Socket buffers for the userspace servers, as an operator would.
		sysctl('net.core.rmem_default', RMEM)
		sysctl('net.core.rmem_max', RMEM)
		sysctl('net.core.netdev_max_backlog', BACKLOG)
		# Count replies precisely, and drop them before the client's IP
		# stack (they are for addresses it does not have).
		run(['nft', '-f', '-'], ns=CNS,
		    input='table netdev bench {%s\n}\n' % ''.join(chains))
		for srv in servers:
			srv.replies = NftCounter(CNS, 'netdev', 'bench',
						 'replies%d' % srv.i)
			srv.other = NftCounter(CNS, 'netdev', 'bench',
					       'other%d' % srv.i)
		run(['modprobe', 'ntpk'])

	def setup_virtio(self, servers):
		"""The servers take turns behind one virtio-net pair instead of
		each having its own veth: the mergeable pair of scripts/vm-run
		--virtio-pair (VIRTIO_MACS), client device in the client
		namespace, server device in one namespace that every server
		shares (Server.start/stop turn each on and off)."""
		run(['modprobe', 'virtio_net'])
		devs = {}
		for d in os.listdir('/sys/class/net'):
			with open('/sys/class/net/%s/address' % d) as f:
				devs[f.read().strip()] = d
		missing = [m for m in VIRTIO_MACS if m not in devs]
		if missing:
			raise BenchError('no virtio-net device %s: run the guest '
					 'with scripts/vm-run --virtio-pair'
					 % ', '.join(missing))
		ns = 'ntpkb-virtio'
		for i, srv in enumerate(servers):
			srv.place(0)
			srv.ns, srv.cdev, srv.sdev = ns, 'c-virtio', 's-virtio'
		run(['ip', '-force', '-batch', '-'], check=False,
		    input='netns del %s\nnetns del %s\n' % (CNS, ns))
		run(['ip', '-batch', '-'], input=
		    'netns add %s\nnetns add %s\n'
		    'link set %s netns %s name c-virtio\n'
		    'link set %s netns %s name s-virtio\n' % (
			    CNS, ns, devs[VIRTIO_MACS[0]], CNS,
			    devs[VIRTIO_MACS[1]], ns))
		for n in (CNS, ns):
			sysctl('net.ipv6.conf.all.disable_ipv6', 1, n)
			sysctl('net.ipv6.conf.default.disable_ipv6', 1, n)
			sysctl('net.ipv4.conf.all.rp_filter', 0, n)
			sysctl('net.ipv4.conf.default.rp_filter', 0, n)
		# A node's MTU; host_mtu=9000 leaves the devices at 9000.
		run(['ip', '-batch', '-'], ns=CNS,
		    input='link set c-virtio mtu 1500 up\n')
		srv = servers[0]
		cmac = mac_of(CNS, srv.cdev)
		smac = mac_of(ns, srv.sdev)
		run(['ip', '-batch', '-'], ns=ns, input=
		    'link set lo up\nlink set s-virtio mtu 1500 up\n'
		    'addr add %s/24 dev s-virtio\nroute add %s via %s\n'
		    'neigh replace %s lladdr %s dev s-virtio nud permanent\n' %
		    (SERVER_IP, POOL, CLIENT_IP, CLIENT_IP, cmac))
		run(['nft', '-f', '-'], ns=CNS,
		    input='table netdev bench {%s\n}\n' % CLIENT_CHAIN % {
			    'i': 0, 'dev': 'c-virtio', 'srv': SERVER_IP,
			    'pool': POOL})
		replies = NftCounter(CNS, 'netdev', 'bench', 'replies0')
		other = NftCounter(CNS, 'netdev', 'bench', 'other0')
		for srv in servers:
			srv.smac = smac
			srv.replies, srv.other = replies, other
		sysctl('net.core.netdev_max_backlog', BACKLOG)
		run(['modprobe', 'ntpk'])

	def teardown(self):
		for srv in self.started:
			try:
				srv.stop()
			except Exception as e:	# keep tearing down
				log('%s: stop failed: %s' % (srv.name, e))
		for ns in [CNS] + [srv.ns for srv in self.servers]:
			run(['ip', 'netns', 'del', ns], check=False)

	def offered_counters(self, srv):
		return (netdev_stats(srv.ns, srv.sdev)[0],
			netdev_stats(CNS, srv.cdev)[1])

	def settle(self, srv, timeout=5.0):
		"""Wait until nothing moves any more (the server's queues are
		drained, its replies received) for two polls, then return its
		count."""
		last = (softnet(), srv.counted())
		end = time.monotonic() + timeout
		still = 0
		while time.monotonic() < end and still < 2:
			time.sleep(0.1)
			cur = (softnet(), srv.counted())
			still = still + 1 if cur == last else 0
			last = cur
		return last[1]

	def offer(self, srv, rate, count, capture=0, sample=1.0, cpu=False,
		  burst=1):
		"""Offer COUNT requests at RATE; returns a result dict."""
		c0 = srv.counted()
		o0 = self.offered_counters(srv)
		sd0 = softnet()[SERVER_CPU][1]
		s0 = cpu_sample() if cpu else None
		cmd = [GEN, '--dev', srv.cdev, '--dst-mac', srv.smac,
		       '--dst', SERVER_IP, '--src', POOL, '--rate', str(rate),
		       '--count', str(count), '--seq-start', str(self.seq)]
		if capture:
			cmd += ['--capture', str(capture), '--sample', str(sample)]
		if burst > 1:
			cmd += ['--burst', str(burst)]
		with in_ns(CNS):
			p = subprocess.run(cmd, capture_output=True, text=True)
		self.seq += count
		gen = dict(kv.split('=', 1) for kv in p.stdout.split())
		if p.returncode not in (0, 1) or 'sent' not in gen:
			raise BenchError('ntpgen failed (%d): %s %s' %
					 (p.returncode, p.stdout, p.stderr))
		c1 = self.settle(srv)
		s1 = cpu_sample() if cpu else None
		o1 = self.offered_counters(srv)
		sd1 = softnet()[SERVER_CPU][1]
		sent = int(gen['sent'])
		delivered = o1[0] - o0[0]
		backlog_drops = o1[1] - o0[1]
		# The offered count must be exactly what was asked for: every
		# request left the generator and reached the server's device
		# (or was dropped in the server CPU's backlog, the server's loss).
		if sent != count or delivered + backlog_drops != count:
			raise BenchError(
				'%s at %d/s: asked for %d requests, generator sent %d, '
				'server device got %d (+%d backlog drops)' %
				(srv.name, rate, count, sent, delivered,
				 backlog_drops))
		r = {
			'rate': rate,
			'count': count,
			'answered': c1 - c0,
			'loss': 1.0 - (c1 - c0) / count,
			'gen_ok': gen['ok'] == '1',
			'achieved': float(gen['achieved']),
			'calls': int(gen.get('calls', 0)),
			'backlog_drops': backlog_drops,
			'softnet_drops': sd1 - sd0,
		}
		if cpu:
			busy, wall, ticks = busy_seconds(s0, s1)
			r.update(busy=busy, wall=wall, busy_ticks=ticks)
		if capture:
			r.update(res_n=int(gen['res_n']),
				 res_p50=int(gen['res_p50_ns']),
				 res_p99=int(gen['res_p99_ns']),
				 cap_seen=int(gen['cap_seen']),
				 cap_drops=int(gen['cap_drops']))
		return r

	def profile(self, srv):
		"""Where the serving CPU's time goes: the function_graph tracer on
		CPU 0, limited to PROFILE_FUNCS (the stages of a request), under
		the cost load.  Written as a call tree with time per request.

		perf is no use here: under TCG its cpu-clock samples land almost
		all in the idle loop (timer interrupts arrive late, after the
		short bursts of work), and this kernel has no function profiler.
		The tracer costs about a microsecond per traced call under
		emulation; the tree shows that overhead and a corrected time."""
		a = self.args
		t = '/sys/kernel/tracing'
		if not os.path.exists(t + '/current_tracer'):
			t = os.path.join(WORK, 'tracefs')
			if not os.path.exists(t + '/current_tracer'):
				os.makedirs(t, exist_ok=True)
				run(['mount', '-t', 'tracefs', 'nodev', t])

		def w(name, val, append=False):
			with open(os.path.join(t, name), 'a' if append else 'w') as f:
				f.write(val + '\n')

		w('tracing_on', '0')
		w('current_tracer', 'nop')
		w('set_ftrace_filter', '')
		names = []
		for fn in PROFILE_FUNCS:
			try:
				w('set_ftrace_filter', fn, append=True)
				names.append(fn)
			except OSError:
				pass
		w('tracing_cpumask', '%x' % (1 << SERVER_CPU))
		w('buffer_size_kb', '65536')
		w('trace', '')
		w('current_tracer', 'function_graph')
		for opt, val in (('funcgraph-tail', '1'), ('funcgraph-proc', '0'),
				 ('funcgraph-irqs', '1'), ('funcgraph-overhead', '1')):
			try:
				w('options/' + opt, val)
			except OSError:
				pass
		count = a.profile_count
		w('tracing_on', '1')
		try:
			r = self.offer(srv, a.cost_rate, count)
		finally:
			w('tracing_on', '0')
		with open(os.path.join(t, 'trace')) as f:
			trace = f.read()
		with open(os.path.join(OUT, 'trace-%s.txt' % srv.name), 'w') as f:
			f.write(trace)
		w('current_tracer', 'nop')
		w('set_ftrace_filter', '')
		w('trace', '')
		w('buffer_size_kb', '1408')
		path = os.path.join(OUT, 'profile-%s.txt' % srv.name)
		with open(path, 'w') as f:
			f.write(graph_report(trace, srv.name, count, a.cost_rate,
					     r['answered'],
					     sorted(set(PROFILE_FUNCS) - set(names))))
		log('%s: profile in %s' % (srv.name, path))

	def baseline(self, seconds):
		a = cpu_sample()
		time.sleep(seconds)
		b = cpu_sample()
		busy, wall, _ = busy_seconds(a, b)
		return busy / wall

	def step(self, srv, rate, secs, **kw):
		"""One ramp point; a schedule slip is retried once."""
		count = max(1, int(rate * secs))
		for attempt in (1, 2):
			r = self.offer(srv, rate, count, **kw)
			if r['gen_ok']:
				break
			log('%s: generator missed its schedule at %d/s (got %.0f/s)%s'
			    % (srv.name, rate, r['achieved'],
			       ', retrying' if attempt == 1 else ''))
		return r

	def costs(self):
		"""CPU cost of every server at the same offered load, in rounds
		that take turns between the servers, so that a spell of load
		from other guests on the host does not fall on one server only.
		Such load can only inflate busy time: the cheapest round of each
		server counts, against the quietest idle baseline (the servers
		all run throughout, so the idle state is the same for all)."""
		a = self.args
		for srv in self.servers if a.warmup else []:
			# First packets pay for cold caches and lazy setup.
			self.offer(srv, a.cost_rate, max(1, a.cost_rate // 10))
		rounds = {srv.name: [] for srv in self.servers}
		bases = []
		for k in range(a.cost_rounds):
			for srv in self.servers:
				bases.append(self.baseline(a.base_secs))
				r = self.offer(srv, a.cost_rate,
					       int(a.cost_rate * a.cost_secs), cpu=True)
				rounds[srv.name].append(r)
				log('%s: cost round %d: busy %.3fs of %.2fs, %d of '
				    '%d handled, idle baseline %.1f%%' %
				    (srv.name, k + 1, r['busy'], r['wall'],
				     r['answered'], r['count'], bases[-1] * 100))
		base = min(bases)
		out = {}
		for srv in self.servers:
			for r in rounds[srv.name]:
				extra = r['busy'] - base * r['wall']
				r['ns_per'] = (extra / r['answered'] * 1e9
					       if r['answered'] else None)
			rs = rounds[srv.name]
			r = dict(min(rs, key=lambda x: x['ns_per'] or float('inf')))
			r['rounds_ns_per'] = [x['ns_per'] for x in rs]
			r['baseline_busy_frac'] = base
			r['baselines'] = bases
			out[srv.name] = r
			log('%s: cost %s ns per %s (rounds: %s)' %
			    (srv.name, '%.0f' % r['ns_per'] if r['ns_per'] else '-',
			     'reply' if srv.answers else 'drop',
			     ' '.join('%.0f' % x if x else '-'
				      for x in r['rounds_ns_per'])))
		return out

	def measure(self, srv, cost):
		"""Profile (if asked), rate ramp and residence time of one server."""
		a = self.args
		res = {'name': srv.name, 'label': srv.label, 'notes': [],
		       'cost': cost}
		if a.profile and srv.name in a.profile.split(','):
			self.profile(srv)
		if cost['loss'] > 0.001:
			res['notes'].append('lost %.2f%% at the cost load' %
					    (cost['loss'] * 100))

		res['ramp'] = self.ramp(srv)
		good = [p for p in res['ramp'] if p['gen_ok'] and p['loss'] <= 0.001]
		cap = max((p['rate'] for p in good), default=None)
		res['capacity'] = cap
		res['capacity_gen_limited'] = any(not p['gen_ok']
						  for p in res['ramp'])
		if srv.answers and cap:
			for frac in a.res_fracs:
				rate = max(1, int(cap * frac))
				n = int(rate * a.res_secs)
				r = self.step(srv, rate, a.res_secs, capture=n,
					      sample=min(1.0, 20000 / n))
				res['res%d' % int(frac * 100)] = r
				log('%s: residence at %d/s: p50 %d ns, p99 %d ns '
				    '(%d samples)' % (srv.name, rate, r['res_p50'],
						      r['res_p99'], r['res_n']))
				if not r['gen_ok']:
					res['notes'].append(
						'residence at %d%%: generator reached '
						'only %.0f of %d/s' %
						(frac * 100, r['achieved'], rate))
		res['notes'] += srv.check()
		other = srv.other.read() - self.other0[srv.name]
		if other:
			res['notes'].append('%d packets other than replies reached '
					    'the client' % other)
		return res

	def run_all(self, servers):
		self.setup(servers)
		self.other0 = {}
		for srv in servers:
			log('%s: start' % srv.name)
			srv.start()
			self.started.append(srv)
			# Start-up probes may draw port unreachables.
			self.other0[srv.name] = srv.other.read()
		costs = self.costs()
		return [self.measure(srv, costs[srv.name]) for srv in servers]

	def ramp(self, srv):
		a = self.args
		pts = []
		rate = a.ramp_start
		last_good = None
		first_bad = None
		while rate <= a.ramp_max:
			p = self.step(srv, rate, a.ramp_secs)
			pts.append(p)
			log('%s: ramp %d/s: answered %d of %d (loss %.3f%%)%s' %
			    (srv.name, rate, p['answered'], p['count'],
			     p['loss'] * 100,
			     '' if p['gen_ok'] else ' GENERATOR LIMITED'))
			if not p['gen_ok']:
				break
			if p['loss'] <= 0.001:
				last_good = rate
			elif first_bad is None:
				first_bad = rate
			if p['loss'] > 0.01:
				break
			rate = int(rate * a.ramp_factor)
		# Refine between the last good and the first bad rate.
		if last_good and first_bad and first_bad > last_good:
			lo, hi = last_good, first_bad
			for _ in range(a.refine):
				mid = int((lo * hi) ** 0.5)
				if mid <= lo or mid >= hi:
					break
				p = self.step(srv, mid, a.ramp_secs)
				pts.append(p)
				log('%s: refine %d/s: loss %.3f%%' %
				    (srv.name, mid, p['loss'] * 100))
				if p['gen_ok'] and p['loss'] <= 0.001:
					lo = mid
				else:
					hi = mid
		pts.sort(key=lambda p: p['rate'])
		return pts


GRAPH_ROOTS = ('__netif_receive_skb_one_core', 'net_rx_action')
GRAPH_LINE = re.compile(
	r'^\s*\d+\)\s+(?:[+!#*@$]\s*)?(?:([\d.]+) us\s+)?\|\s*'
	r'(?:(\w[\w.]*)(?: \[\w+\])?\(\) \{|(\w[\w.]*)(?: \[\w+\])?\(\);'
	r'|\}\s*(?:/\*\s*(\w[\w.]*)(?: \[\w+\])?\s*\*/)?)')


def graph_report(trace, name, count, rate, handled, missing):
	"""Fold a function_graph trace into a call tree: per call path, calls
	per handled request and the median time per call, inclusive of traced
	callees.  Medians, because the host preempting the emulated CPU adds
	milliseconds to whatever call happens to be running."""
	n = max(1, handled)
	stats = {}	# path -> [durations us], [traced calls below]
	stack = []	# [name, traced calls below so far]
	leaf = {}
	for line in trace.splitlines():
		m = GRAPH_LINE.match(line)
		if not m:
			continue
		dur, opened, lf, closed = m.groups()
		if opened:
			stack.append([opened, 0])
			continue
		if lf:
			p = tuple(x[0] for x in stack) + (lf,)
			below = 0
		else:
			if not stack:
				continue
			# Pop to the frame this closes (the trace may start
			# or have been cut inside a call).
			while stack and closed and stack[-1][0] != closed:
				stack.pop()
			if not stack:
				continue
			fr = stack.pop()
			p = tuple(x[0] for x in stack) + (fr[0],)
			below = fr[1]
		if dur is None:
			continue
		# One tree per request, whatever interrupt or softirq
		# entry it was processed from.
		for root in GRAPH_ROOTS:
			if root in p:
				p = p[p.index(root):]
				break
		st = stats.setdefault(p, ([], []))
		st[0].append(float(dur))
		st[1].append(below)
		if stack:
			stack[-1][1] += below + 1
		if lf:
			leaf.setdefault(lf, []).append(float(dur))

	def med(v):
		v = sorted(v)
		return v[len(v) // 2] if v else 0.0

	# The tracer's own cost per traced call: at most the median duration
	# of the cheapest frequent leaf.
	meds = [med(v) for v in leaf.values() if len(v) >= n // 2]
	ovh = min(meds) if meds else 0.0
	out = ['# %s: function_graph on CPU %d, %d requests at %d/s, %d handled.'
	       % (name, SERVER_CPU, count, rate, handled),
	       '# Per call path: calls per handled request; median time per '
	       'call including traced callees;',
	       '# the same less the tracer\'s own cost, %.0f ns per traced call '
	       '(the cheapest frequent leaf\'s' % (ovh * 1e3),
	       '# median), for the call and each traced call below it; and '
	       'mean time per request.',
	       '# Emulated (TCG): compare rows and servers, not absolutes.',
	       '# %-50s %8s %10s %10s %10s' % ('call path', 'calls/req',
					      'med ns', 'corr ns', 'mean/req')]
	children = {}
	for p in stats:
		children.setdefault(p[:-1], []).append(p)

	def walk(prefix, depth):
		kids = sorted(children.get(prefix, []),
			      key=lambda q: -sum(stats[q][0]))
		for q in kids:
			d, below = stats[q]
			per_req = len(d) / n
			if per_req < 0.05:
				continue
			m = med(d)
			corr = max(0.0, m - ovh * (1 + med(below)))
			out.append('  %-50s %8.2f %10.0f %10.0f %10.0f' %
				   ('  ' * depth + q[-1], per_req, m * 1e3,
				    corr * 1e3, sum(d) * 1e3 / n))
			walk(q, depth + 1)
	walk((), 0)
	if missing:
		out.append('# not traceable here: ' + ' '.join(missing))
	return '\n'.join(out) + '\n'


def wait_answering(srv, timeout=30.0):
	"""Poll with single requests until the daemon answers."""
	b = BENCH
	end = time.monotonic() + timeout
	while time.monotonic() < end:
		c0 = srv.counted()
		b.offer(srv, 100, 1)
		if srv.counted() > c0:
			return
		time.sleep(0.2)
	raise BenchError('%s did not answer within %.0f s' % (srv.name, timeout))


# --- output ----------------------------------------------------------------

def fmt_ns(v):
	if v is None:
		return '-'
	if v >= 10000:
		return '%.0f µs' % (v / 1000)
	if v >= 1000:
		return '%.1f µs' % (v / 1000)
	return '%.0f ns' % v


def ratio(a, b):
	if not a or not b:
		return '-'
	return '%.2f' % (a / b)


def summarize(results, args, meta):
	by = {r['name']: r for r in results}
	ch = by.get('chronyd')
	fl = by.get('floor')

	def cost(r):
		return r.get('cost', {}).get('ns_per') if r else None

	def p99(r, k='res90'):
		return r.get(k, {}).get('res_p99') if r else None

	L = []
	L.append('| server | CPU per reply | vs chronyd | vs floor | '
		 'max rate ≤0.1% loss | vs chronyd | residence p50 / p99 at 50% | '
		 'residence p50 / p99 at 90% | p99 at 90% vs chronyd |')
	L.append('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
	for r in results:
		c = r.get('cost', {})
		cap = r.get('capacity')
		if cap is None:
			capt = '-'
		elif r.get('capacity_gen_limited'):
			capt = '≥ %d/s' % cap
		else:
			capt = '%d/s' % cap
		res = []
		for k in ('res50', 'res90'):
			x = r.get(k)
			res.append('%s / %s' % (fmt_ns(x['res_p50']), fmt_ns(x['res_p99']))
				   if x else '-')
		per = 'drop' if r['name'] == 'floor' else 'reply'
		L.append('| %s | %s%s | %s | %s | %s | %s | %s | %s | %s |' % (
			r['label'], fmt_ns(c.get('ns_per')),
			'' if per == 'reply' else ' (per drop)',
			ratio(cost(r), cost(ch)), ratio(cost(r), cost(fl)), capt,
			('≥ ' if r.get('capacity_gen_limited') and cap else '') +
			ratio(cap, ch.get('capacity') if ch else None),
			res[0], res[1], ratio(p99(r), p99(ch))))

	nk = by.get('ntpk')
	rl = by.get('ntpk-rl')
	targets = []

	def target(what, val, limit, text):
		if val is None:
			targets.append((what, text, '-', 'not measured'))
		else:
			targets.append((what, text, '%.3f' % val,
					'met' if val <= limit else 'MISSED'))
	target('CPU cost per reply, ntpk : chronyd',
	       cost(nk) / cost(ch) if cost(nk) and cost(ch) else None,
	       0.2, '≤ 1 : 5 (0.200)')
	target('CPU cost per reply, ntpk : floor',
	       cost(nk) / cost(fl) if cost(nk) and cost(fl) else None,
	       2.5, '≤ 2.5 : 1 (2.500)')
	target('residence p99 at 90% of capacity, ntpk : chronyd',
	       p99(nk) / p99(ch) if p99(nk) and p99(ch) else None,
	       0.1, '≤ 1 : 10 (0.100)')
	target('CPU cost, rate limiting on : off',
	       cost(rl) / cost(nk) if cost(rl) and cost(nk) else None,
	       1.3, '≤ 1.3 : 1 (1.300)')
	L.append('')
	L.append('| target | bar | measured | |')
	L.append('| --- | --- | ---: | --- |')
	for t in targets:
		L.append('| %s | %s | %s | %s |' % t)

	L.append('')
	L.append('Conditions: %s.' % meta['guest'])
	L.append('CPU cost: busy time of the serving vCPU (wall minus idle from '
		 '/proc/stat) while offering %d requests/s for %g s, less the '
		 'quietest idle baseline (%g s windows), divided by the replies '
		 'counted at the client (for the floor: by the packets its rule '
		 'dropped); the cheapest of %d rounds taking turns between the '
		 'servers.  All servers run throughout, as chronyd does beside '
		 'ntpk on a real server, so the kernel timestamps every received '
		 'packet (the daemons ask for it) and ntpk takes that as its '
		 'receive time.' %
		 (args.cost_rate, args.cost_secs, args.base_secs,
		  args.cost_rounds))
	L.append('Rate: offered from %d/s, ×%g per %g s step until loss > 1%%, '
		 'then %d refinement steps; "max rate" is the highest offered '
		 'rate answered with ≤ 0.1%% loss ("≥": the generator could not '
		 'offer more).  Residence time: transmit minus receive timestamp '
		 'of the replies, %g s at 50%% and 90%% of that rate.' %
		 (args.ramp_start, args.ramp_factor, args.ramp_secs, args.refine,
		  args.res_secs))
	L.append('Setup: generator and reply counting on vCPU %d, server '
		 'receive processing steered to vCPU %d by RPS, daemons pinned '
		 'there; net.core.rmem_default = rmem_max = %d bytes; '
		 'netdev_max_backlog %d; requests from %s (2^%d addresses, '
		 'each request of a run from an address not used before in it) '
		 'and varying ports.  ntpk rate limit on: `ratelimit set %s` '
		 '(%g MiB table; nobody is limited, it measures the lookup).  '
		 'chronyd %s (`noclientlog`, `local stratum 2`, `-x`); %s '
		 '(`tos orphan 2`, `disable monitor`).' %
		 (CLIENT_CPU, SERVER_CPU, RMEM, BACKLOG, POOL, 32 - POOL_BITS,
		  ' '.join(rl_args(args)),
		  (RL_TABLE_SMOKE if args.smoke else RL_TABLE) * 8 / 2**20,
		  meta.get('chronyd', '?'), meta.get('ntpd', 'ntpd')))
	L.append('Run: %s, commit %s, %s.' % (meta['date'], meta['commit'],
					     meta['mode']))
	notes = [(r['name'], n) for r in results for n in r.get('notes', [])]
	if notes:
		L.append('')
		L.append('Notes:')
		for name, n in notes:
			L.append('- %s: %s' % (name, n))
	return '\n'.join(L) + '\n', targets


def write_plot(results):
	dat = os.path.join(OUT, 'rate.dat')
	with open(dat, 'w') as f:
		for r in results:
			f.write('"%s" "answered"\n' % r['label'])
			for p in r.get('ramp', []):
				# What the generator managed to offer (below
				# the nominal rate where it fell behind).
				off = min(p['rate'], p['achieved'])
				f.write('%.1f %.1f\n' % (off, off * (1 - p['loss'])))
			f.write('\n\n')
	if not shutil.which('gnuplot'):
		log('gnuplot missing: no rate.png')
		return False
	p = subprocess.run(['gnuplot', '-e', 'datafile="%s"; outfile="%s"; n=%d'
			    % (dat, os.path.join(OUT, 'rate.png'), len(results)),
			    os.path.join(TOP, 'bench', 'rate.gp')],
			   capture_output=True, text=True)
	if p.returncode:
		log('gnuplot failed: ' + p.stderr)
		return False
	return True


def guest_desc():
	kver = os.uname().release
	ncpu = os.cpu_count()
	model = '?'
	with open('/proc/cpuinfo') as f:
		for line in f:
			if line.startswith('model name'):
				model = line.split(':', 1)[1].strip()
				break
	accel = 'TCG' if 'QEMU' in model or 'TCG' in model else 'QEMU'
	if accel == 'TCG':
		accel += ' %s-threaded' % os.environ.get('NTPK_VM_TCG_THREAD',
							  'single')
	try:
		with open('/sys/devices/system/clocksource/clocksource0/'
			  'current_clocksource') as f:
			cs = f.read().strip()
	except OSError:
		cs = '?'
	return ('QEMU guest (%s, CPU "%s"), %d vCPUs, Linux %s, clocksource %s'
		% (accel, model, ncpu, kver, cs))


def main():
	global BENCH
	ap = argparse.ArgumentParser()
	ap.add_argument('--smoke', action='store_true')
	ap.add_argument('--servers', default='ntpk,ntpk-rl,chronyd,ntpd,floor')
	ap.add_argument('--profile', default='',
			help='servers to profile with ftrace (comma-separated)')
	ap.add_argument('--profile-count', type=int, default=2000,
			help='requests offered while tracing')
	args = ap.parse_args()
	# Full run / smoke run parameters.
	if args.smoke:
		args.cost_rate, args.cost_secs, args.base_secs = 500, 0.4, 0.2
		args.cost_rounds, args.warmup = 1, False
		args.ramp_start, args.ramp_factor, args.ramp_secs = 1000, 2.0, 0.3
		args.ramp_max, args.refine, args.res_secs = 1000, 0, 0.3
		args.res_fracs = (0.9,)
	else:
		args.cost_rate, args.cost_secs, args.base_secs = 3000, 2.0, 1.0
		args.cost_rounds, args.warmup = 4, True
		args.ramp_start, args.ramp_factor, args.ramp_secs = 2000, 1.5, 1.5
		args.ramp_max, args.refine, args.res_secs = 400000, 2, 2.0
		args.res_fracs = (0.5, 0.9)

	os.sched_setaffinity(0, {CLIENT_CPU})
	if os.cpu_count() < 2:
		raise BenchError('needs 2 CPUs')
	os.makedirs(OUT, exist_ok=True)
	for f in ('summary.md', 'rate.png', 'rate.dat', 'results.json'):
		try:
			os.unlink(os.path.join(OUT, f))
		except FileNotFoundError:
			pass

	t0 = time.monotonic()
	BENCH = Bench(args)
	make = {'ntpk': lambda: Ntpk(False), 'ntpk-rl': lambda: Ntpk(True),
		'chronyd': Chronyd, 'ntpd': Ntpd, 'floor': Floor}
	servers = [make[n]() for n in args.servers.split(',')]
	meta = {
		'guest': guest_desc(),
		'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
		'commit': os.environ.get('NTPK_BENCH_COMMIT', '?'),
		'mode': 'bench-smoke (tiny loads, not a measurement)'
			if args.smoke else 'make bench',
		'chronyd': 'chrony ' + run(['chronyd', '--version']).split()[3],
	}
	ntpd = os.environ.get('NTPK_BENCH_NTPD')
	if ntpd:
		env = dict(os.environ,
			   LD_LIBRARY_PATH=os.environ.get('NTPK_BENCH_NTPD_LIBS', ''))
		meta['ntpd'] = subprocess.run([ntpd, '--version'], env=env,
					      capture_output=True,
					      text=True).stdout.strip()
	try:
		results = BENCH.run_all(servers)
	finally:
		BENCH.teardown()
	meta['seconds'] = time.monotonic() - t0

	summary, targets = summarize(results, args, meta)
	with open(os.path.join(OUT, 'summary.md'), 'w') as f:
		f.write(summary)
	with open(os.path.join(OUT, 'results.json'), 'w') as f:
		json.dump({'meta': meta, 'results': results,
			   'targets': targets}, f, indent=1)
	plotted = write_plot(results)
	print(summary, end='')
	log('guest part took %.0f s' % meta['seconds'])

	failed = []
	for r in results:
		c = r.get('cost', {})
		if not c.get('answered'):
			failed.append('%s handled nothing' % r['name'])
		elif args.smoke and c['loss'] > 0.05:
			failed.append('%s handled only %d of %d' %
				      (r['name'], c['answered'], c['count']))
	if not plotted:
		failed.append('no plot')
	if failed:
		raise BenchError('; '.join(failed))


if __name__ == '__main__':
	try:
		main()
	except BenchError as e:
		print('bench: FAILED: %s' % e, file=sys.stderr)
		sys.exit(1)
