#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Guest side of `make bench`'s instruction counts (bench/run --icount).

Runs as root in a 1-vCPU guest that QEMU runs with -icount shift=0,sleep=off
(scripts/vm-run --icount): the guest clock advances exactly 1 ns per
instruction executed, and jumps over idle time.  So the CPU's busy time
(wall minus idle) is an instruction count, whatever the host is doing.
The layout is bench.py's, on one CPU: the generator, the server and the
client's drop of the replies share it, and every figure includes them; the
floor (an nft drop at raw prerouting) is the part that does not depend on
the server, subtracted to get what answering costs.

For each server: a warm-up, then COUNT/5 and COUNT requests at RATE from
2^20 client addresses.  A figure is the difference of the two runs' busy
time divided by the difference of their counts, less the idle baseline's
share of a request's period (timer ticks and the like, per second of an
idle spell, over RATE): what stays the same in both runs (starting the
generator, waiting for the queues to drain) cancels out.  With --reps R the
servers take turns R times (floor, ntpk, floor, ntpk, ...), each turn a
figure of its own.  Prints one JSON object {server: the median of its
figures, ..., "_reps": {server: [figure per turn]}, "_runs": [...],
"_meta": {...}} on stdout.

What makes a figure exact (issue 24; without these, single runs of the
floor and ntpk in three boots put ntpk 4054 to 4457 above the floor):
  - idle time from the tick code's own nanosecond count
    (/proc/timer_list), not /proc/stat's whole USER_HZ ticks: 10 ms,
    10 million instructions, per reading, 125 per request on the
    difference of 20,000 and 100,000 requests;
  - the idle baseline scaled by the load's length (COUNT/RATE), not by the
    run's wall time: under icount the guest clock jumps ahead whenever the
    guest waits on the host (9p, the console), seconds at a time on a busy
    host, and that wall time times the baseline came out as hundreds of
    instructions per request; for the same reason the generator runs from
    tmpfs, not the 9p share;
  - a rate (4,999/s) whose period drifts against the 250 Hz tick: at 5,000/s
    a request came every 200 us, 20 to a tick, and the phase between the
    two, fixed for a whole run, decided whether every tick shared the
    generator's timer interrupt (its 50 us of timer slack) or none did:
    about 1,400 instructions per tick, 90 per request one way or the
    other on a run of 100,000.  At 4,999/s the phase goes round once a
    second, so every run sees the same mix.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B	# noqa: E402  (after the path is set)

# One CPU: everything on CPU 0.
B.SERVER_CPU = B.CLIENT_CPU = 0
RL_TABLE = 1 << 20	# the "1 M-client table"


def sample():
	"""The CPU's clock and idle time, in ns: idle exactly, from the tick
	code's own count (/proc/timer_list's idle_sleeptime and
	iowait_sleeptime), and as /proc/stat shows it, in whole USER_HZ
	ticks; with counters that say how the work came (softirqs, timer
	interrupts, idle entries) for the run's notes."""
	with open('/proc/timer_list') as f:
		tl = f.read()
	t = time.monotonic_ns()
	stat = B.cpu_sample()
	cpu = tl[tl.index('\ncpu: 0\n'):]
	field = {}
	for k in ('idle_sleeptime', 'iowait_sleeptime', 'idle_calls'):
		i = cpu.index('.%s' % k)
		field[k] = int(cpu[cpu.index(':', i) + 1:].split()[0])
	soft = {}
	with open('/proc/softirqs') as f:
		for line in f:
			w = line.split()
			if w[0] in ('NET_RX:', 'TIMER:', 'HRTIMER:'):
				soft[w[0][:-1]] = int(w[1])
	with open('/proc/interrupts') as f:
		for line in f:
			if line.split()[0] == 'LOC:':
				soft['LOC'] = int(line.split()[1])
	return {'t': t, 'idle': field['idle_sleeptime'] +
		field['iowait_sleeptime'], 'stat_idle': stat[2] * 1e9 / B.USER_HZ,
		'idle_calls': field['idle_calls'], **soft}


def between(a, b):
	"""Busy and wall ns between two samples, exact and by /proc/stat,
	and how the counters moved."""
	d = {k: b[k] - a[k] for k in a}
	return {'wall': d['t'], 'busy': d['t'] - d['idle'],
		'stat_busy': max(0, d['t'] - d['stat_idle']),
		**{k: d[k] for k in ('idle_calls', 'NET_RX', 'TIMER', 'HRTIMER',
				     'LOC')}}


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument('--servers', default='floor,ntpk,ntpk-rl,chronyd,ntpd')
	ap.add_argument('--count', type=int, default=100000)
	ap.add_argument('--rate', type=int, default=4999)
	ap.add_argument('--warmup', type=int, default=2000)
	ap.add_argument('--reps', type=int, default=1,
			help='the servers take turns this many times, a figure '
			'each; the output is each server\'s median')
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
	# The generator from tmpfs: each start of it from the 9p share
	# waits on the host, and the guest clock jumps.
	os.makedirs(B.WORK, exist_ok=True)
	gen = os.path.join(B.WORK, 'ntpgen')
	shutil.copy(B.GEN, gen)
	B.GEN = gen

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
		# Timer ticks and the like, per second of idle: the difference
		# of a long and a short spell, so that what a spell costs
		# besides (reading the samples) cancels; the median of three.
		idle = []
		for _ in range(3):
			spell = []
			for secs in (0.5, 2.5):
				a = sample()
				time.sleep(secs)
				spell.append(between(a, sample()))
			idle.append((spell[1]['busy'] - spell[0]['busy']) /
				    (spell[1]['wall'] - spell[0]['wall']))
		idle_rate = statistics.median(idle)
		B.log('idle baseline: %s ns per s' % ', '.join(
			'%.0f' % (i * 1e9) for i in idle))
		if args.profile:
			import icount_profile as P
			for srv in servers:
				if srv.name in args.profile.split(','):
					sys.stderr.write(P.profile(
						bench, srv, 4, args.rate,
						args.profile_count))
			return
		reps = {srv.name: [] for srv in servers}
		runs = []
		for rep in range(args.reps):
			for srv in servers:
				if turns:
					srv.start()
					bench.started.append(srv)
				busy = []
				for n in (args.count // 5, args.count):
					a = sample()
					r = bench.offer(srv, args.rate, n)
					d = between(a, sample())
					if r['answered'] != n:
						raise B.BenchError('%s handled %d of %d' % (
							srv.name, r['answered'], n))
					busy.append(d['busy'])
					d.update(server=srv.name, rep=rep + 1,
						 count=n, sends=r['calls'])
					runs.append(d)
					B.log('%s: %d requests: busy %d of %d ns; '
					      'softirqs: %d NET_RX, %d TIMER; %d '
					      'timer interrupts; %d sendmmsg calls' % (
						      srv.name, n, d['busy'],
						      d['wall'], d['NET_RX'],
						      d['TIMER'], d['LOC'], d['sends']))
				reps[srv.name].append(
					(busy[1] - busy[0]) /
					(args.count - args.count // 5) -
					idle_rate * 1e9 / args.rate)
				B.log('%s: %.1f instructions per request (turn %d; '
				      'idle baseline %.0f ns per s)' % (
					      srv.name, reps[srv.name][-1], rep + 1,
					      idle_rate * 1e9))
				if rep == args.reps - 1:
					srv.check()
				if turns:
					srv.stop()
					bench.started.remove(srv)
		for srv in servers:
			out[srv.name] = statistics.median(reps[srv.name])
		out['_reps'] = reps
		out['_runs'] = runs
	finally:
		bench.teardown()
	out['_meta'] = {'guest': B.guest_desc(), 'count': args.count,
			'rate': args.rate, 'reps': args.reps,
			'idle_ns_per_s': round(idle_rate * 1e9),
			'path': 'virtio-net' if args.virtio else 'veth',
			'commit': os.environ.get('NTPK_BENCH_COMMIT', '?')}
	print(json.dumps(out, sort_keys=True))


if __name__ == '__main__':
	try:
		main()
	except B.BenchError as e:
		print('icount: FAILED: %s' % e, file=sys.stderr)
		sys.exit(1)
