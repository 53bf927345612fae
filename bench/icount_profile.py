# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Instruction profile of one reply, for bench/icount.py --profile.

Under QEMU -icount shift=0 the guest clock advances 1 ns per instruction, so
the durations that ftrace's function_graph tracer prints are instruction
counts.  The tracer follows everything called from the hook's entry
(set_graph_function), down to the driver's transmit of the reply, for a
few hundred requests; the trace is folded into a call tree with, per call
path: calls per request, and the median instructions per call in total
(with its callees) and in itself (total less its traced callees').

The tracer's own cost lands in every traced call, and is measured, not
guessed.  A second pass traces the hook alone (the only function patched), so
its median there is its cost with one traced call; the difference from the full
pass, over the number of traced calls below the hook, is what one traced
call costs its caller.  The cheapest leaf run in every request bounds what
a traced call adds to its own duration.  "corrected" takes both off: for
the call and for each traced call below it.  Medians, because a timer
interrupt in the middle of a call adds its instructions to whatever runs.
"""
import os

import bench as B

# Where a reply's instructions start: the hook, by family.
ENTRY = {4: 'ntpk_ipv4_in', 6: 'ntpk_ipv6_in'}



def tracefs():
	t = '/sys/kernel/tracing'
	if not os.path.exists(t + '/current_tracer'):
		t = os.path.join(B.WORK, 'tracefs')
		if not os.path.exists(t + '/current_tracer'):
			os.makedirs(t, exist_ok=True)
			B.run(['mount', '-t', 'tracefs', 'nodev', t])
	return t


def record(bench, srv, entry, rate, count, depth=0):
	"""The function_graph trace of COUNT requests offered to SRV, from
	ENTRY down to DEPTH calls deep (0: all); and how many were answered."""
	t = tracefs()

	def w(name, val):
		with open(os.path.join(t, name), 'w') as f:
			f.write(val + '\n')

	w('tracing_on', '0')
	w('current_tracer', 'nop')
	w('set_ftrace_filter', '')
	w('set_graph_function', entry)
	w('max_graph_depth', str(depth))
	if depth == 1:
		# Only the hook patched: a patched function costs its caller
		# the tracer's entry check even when it is not recorded.
		w('set_ftrace_filter', entry)
	w('buffer_size_kb', '65536')
	w('trace', '')
	w('current_tracer', 'function_graph')
	for opt, val in (('funcgraph-tail', '1'), ('funcgraph-proc', '0'),
			 ('funcgraph-irqs', '0'), ('funcgraph-overhead', '1')):
		w('options/' + opt, val)
	w('tracing_on', '1')
	try:
		r = bench.offer(srv, rate, count)
	finally:
		w('tracing_on', '0')
	with open(os.path.join(t, 'trace')) as f:
		trace = f.read()
	w('current_tracer', 'nop')
	w('set_graph_function', '')
	w('set_ftrace_filter', '')
	w('max_graph_depth', '0')
	w('trace', '')
	w('buffer_size_kb', '1408')
	return trace, r['answered']


def fold(trace):
	"""Call path -> [durations], [traced calls below, per call]."""
	stats = {}
	stack = []	# [name, traced calls below so far]
	for line in trace.splitlines():
		m = B.GRAPH_LINE.match(line)
		if not m:
			continue
		dur, opened, leaf, closed = m.groups()
		if opened:
			stack.append([opened, 0])
			continue
		if leaf:
			path, below = tuple(x[0] for x in stack) + (leaf,), 0
		else:
			while stack and closed and stack[-1][0] != closed:
				stack.pop()
			if not stack:
				continue
			fr = stack.pop()
			path, below = tuple(x[0] for x in stack) + (fr[0],), fr[1]
		if stack:
			stack[-1][1] += below + 1
		if dur is None:
			continue
		st = stats.setdefault(path, ([], []))
		st[0].append(float(dur) * 1000)	# us -> ns = instructions
		st[1].append(below)
	return stats


def med(v):
	v = sorted(v)
	return v[len(v) // 2] if v else 0.0


def report(trace, alone, name, entry, count, answered):
	stats = fold(trace)
	root = (entry,)
	n = len(stats.get(root, ([], []))[0])
	if not n:
		raise B.BenchError('profile: no call of %s traced' % entry)
	lone = med(fold(alone).get(root, ([0.0], []))[0])
	kids = {}
	for p in stats:
		kids.setdefault(p[:-1], []).append(p)
	# What a traced call adds to its own duration, at most: the cheapest
	# leaf run in (nearly) every request, its own instructions included.
	leaves = [med(stats[p][0]) for p in stats
		  if p not in kids and len(stats[p][0]) >= n * 0.9]
	inner = min(leaves) if leaves else 0.0
	# What one traced call costs its caller: the hook's cost traced to
	# the bottom less its cost with nothing below it traced, per traced
	# call below it.
	below = med(stats[root][1])
	outer = (med(stats[root][0]) - lone) / below if below else 0.0

	def corr(p):
		d, b = stats[p]
		return max(0.0, med(d) - outer * med(b) - inner)

	out = ['# %s: instructions of one reply from %s() on, QEMU icount '
	       '(1 ns = 1 instruction),' % (name, entry),
	       '# function_graph over %d requests offered (%d answered), %d '
	       'hook calls traced.' % (count, answered, n),
	       '# Tracer cost: %.0f instructions per traced call to its '
	       'caller, at most %.0f within its own' % (outer, inner),
	       '# duration; the hook alone, traced by itself: %.0f.' % lone,
	       '# Per call path: calls per hook call; median instructions per '
	       'call as traced ("traced");',
	       '# less the tracer\'s cost, with callees ("total") and without '
	       'them ("self").',
	       '# %-52s %6s %8s %8s %8s' % ('function', 'calls', 'traced',
					   'total', 'self')]

	def walk(prefix, depth):
		for p in sorted(kids.get(prefix, []),
				key=lambda q: -sum(stats[q][0])):
			d = stats[p][0]
			calls = len(d) / n
			if calls < 0.05:
				continue
			total = corr(p)
			callees = sum(len(stats[c][0]) / len(d) * corr(c)
				      for c in kids.get(p, []))
			out.append('  %-52s %6.2f %8.0f %8.0f %8.0f' % (
				'  ' * depth + p[-1] + '()', calls, med(d), total,
				max(0.0, total - callees)))
			walk(p, depth + 1)
	walk((), 0)
	return '\n'.join(out) + '\n'


def profile(bench, srv, family, rate, count):
	"""Trace COUNT requests to SRV and write bench/out/profile-icount-
	NAME.txt; return the report."""
	entry = ENTRY[family]
	trace, answered = record(bench, srv, entry, rate, count)
	alone, _ = record(bench, srv, entry, rate, count, depth=1)
	with open(os.path.join(B.OUT, 'trace-icount-%s.txt' % srv.name),
		  'w') as f:
		f.write(trace)
	text = report(trace, alone, srv.name, entry, count, answered)
	with open(os.path.join(B.OUT, 'profile-icount-%s.txt' % srv.name),
		  'w') as f:
		f.write(text)
	return text
