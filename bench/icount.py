#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Guest side of `make bench`'s instruction counts (bench/run --icount).

Runs as root in a 1-vCPU guest that QEMU runs with -icount shift=0,sleep=off
(scripts/vm-run --icount): the guest clock advances exactly 1 ns per
instruction executed, and jumps over idle time.  So the CPU's busy time
(wall minus idle, from /proc/stat) is an instruction count, whatever the
host is doing.  The layout is bench.py's, on one CPU: the generator, the
server and the client's drop of the replies share it, and every figure
includes them; the floor (an nft drop at raw prerouting) is the part that
does not depend on the server, subtracted to get what answering costs.

For each server in turn: a warm-up, then COUNT/5 and COUNT requests at RATE
from 2^20 client addresses.  A figure is the difference of the two runs'
busy time, each less the idle baseline's (timer ticks, measured over an
idle spell), divided by the difference of their counts: what stays the
same in both runs (starting the generator, waiting for the queues to
drain) cancels out.  Prints one JSON object {server: instructions per
request, ..., "_meta": {...}} on stdout.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B	# noqa: E402  (after the path is set)

# One CPU: everything on CPU 0.
B.SERVER_CPU = B.CLIENT_CPU = 0
RL_TABLE = 1 << 20	# the "1 M-client table"


def busy_ns(a, b):
	busy, wall, _ = B.busy_seconds(a, b)
	return busy * 1e9, wall * 1e9


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument('--servers', default='floor,ntpk,ntpk-rl,chronyd,ntpd')
	ap.add_argument('--count', type=int, default=100000)
	ap.add_argument('--rate', type=int, default=5000)
	ap.add_argument('--warmup', type=int, default=2000)
	ap.add_argument('--profile', default='',
			help='instead of counting, the instruction profile of '
			'these servers\' replies (bench/icount_profile.py)')
	ap.add_argument('--profile-count', type=int, default=300)
	ap.add_argument('--virtio', action='store_true',
			help='behind the mergeable virtio-net pair of '
			'scripts/vm-run --virtio-pair, the servers in turn, '
			'instead of a veth each')
	args = ap.parse_args()
	# What bench.py's servers and offer() read from their arguments.
	args.smoke = False
	if os.cpu_count() != 1:
		raise B.BenchError('icount wants 1 CPU (scripts/vm-run --icount)')
	B.RL_TABLE = RL_TABLE
	B.VIRTIO = args.virtio

	B.BENCH = bench = B.Bench(args)
	make = {'ntpk': lambda: B.Ntpk(False), 'ntpk-rl': lambda: B.Ntpk(True),
		'chronyd': B.Chronyd, 'ntpd': B.Ntpd, 'floor': B.Floor}
	servers = [make[n]() for n in args.servers.split(',')]
	out = {}
	try:
		bench.setup(servers)
		# Behind the virtio pair the servers share one namespace and
		# take turns: the floor's drop would hide the hook.
		turns = args.virtio
		for srv in servers:
			srv.start()
			bench.started.append(srv)
			# Cold caches, lazy setup, the first neighbour lookups.
			bench.offer(srv, args.rate, args.warmup)
			if turns:
				srv.stop()
				bench.started.remove(srv)
		# Timer ticks and the like: the quietest of three idle spells
		# (the first may still see set-up work finish).
		idle = []
		for _ in range(3):
			a = B.cpu_sample()
			time.sleep(1.0)
			idle.append(busy_ns(a, B.cpu_sample()))
		idle_busy, idle_wall = min(idle)
		if args.profile:
			import icount_profile as P
			for srv in servers:
				if srv.name in args.profile.split(','):
					sys.stderr.write(P.profile(
						bench, srv, 4, args.rate,
						args.profile_count))
			return
		for srv in servers:
			if turns:
				srv.start()
				bench.started.append(srv)
			extra = []
			for n in (args.count // 5, args.count):
				r = bench.offer(srv, args.rate, n, cpu=True)
				if r['answered'] != n:
					raise B.BenchError('%s handled %d of %d' % (
						srv.name, r['answered'], n))
				busy, wall = r['busy'] * 1e9, r['wall'] * 1e9
				extra.append(busy - idle_busy / idle_wall * wall)
				B.log('%s: %d requests: busy %.0f of %.0f ns' % (
					srv.name, n, busy, wall))
			out[srv.name] = (extra[1] - extra[0]) / \
				(args.count - args.count // 5)
			B.log('%s: %.0f instructions per request (idle baseline '
			      '%.0f ns per s)' % (srv.name, out[srv.name],
						 idle_busy / idle_wall * 1e9))
			srv.check()
			if turns:
				srv.stop()
				bench.started.remove(srv)
	finally:
		bench.teardown()
	out['_meta'] = {'guest': B.guest_desc(), 'count': args.count,
			'rate': args.rate,
			'path': 'virtio-net' if args.virtio else 'veth',
			'commit': os.environ.get('NTPK_BENCH_COMMIT', '?')}
	print(json.dumps(out, sort_keys=True))


if __name__ == '__main__':
	try:
		main()
	except B.BenchError as e:
		print('icount: FAILED: %s' % e, file=sys.stderr)
		sys.exit(1)
