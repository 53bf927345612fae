#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Host side of bench/run --icount and --gate: the table of instructions per
request from the runs' JSON (bench/icount.py's output, one file per boot).

  --full      the headline table: each server's count in every run, their
              spread, the count above the floor and the ratios, with the
              targets; bench/out/icount.md and icount.json.  Fails when
              a run is more than 2% off the runs' mean (icount makes the
              instructions deterministic up to what the guest's own
              randomness and timer placement change: the floor and ntpk
              within 0.1% since issue 24, see bench/icount.py).
  --gate      make check's regression gate: ntpk above the floor against
              BASELINE's "ntpk_above_floor", failing beyond its
              "tolerance" (a fraction).  The runs' turns (bench/icount.py
              --reps: the floor and ntpk measured turn about in one boot)
              each give a difference; the gate takes their median, so
              one disturbed turn cannot fail it.
"""
import argparse
import json
import os
import statistics
import sys

SPREAD_MAX = 0.02
ORDER = ['ntpk', 'ntpk-rl', 'chronyd', 'ntpd', 'floor']
LABEL = {'ntpk': 'ntpk', 'ntpk-rl': 'ntpk, rate limit on (1 M-client table)',
	 'chronyd': 'chronyd', 'ntpd': 'ntpd (ntpsec)',
	 'floor': 'floor (nft drop at raw prerouting)'}


def fmt(v):
	return '-' if v is None else '%.0f' % v


def ratio(a, b):
	return None if a is None or not b else a / b


def virtio_table(vruns, veth_mean, veth_above):
	"""The floor and ntpk behind virtio-net beside their veth figures:
	the driver's receive and transmit are in both the floor and ntpk, so
	ntpk above the floor should not move much; what does is the driver's
	share of answering (the reply's transmit, the request's pages)."""
	L = ['', 'Behind virtio-net (scripts/vm-run --virtio-pair, mergeable '
	     'receive buffers, MTU 1500), each run a fresh boot:', '',
	     '| server | instructions per request (%s) | ± | above the floor '
	     '| veth: per request | veth: above the floor |' %
	     ', '.join('run %d' % (i + 1) for i in range(len(vruns))),
	     '| --- | ---: | ---: | ---: | ---: | ---: |']
	names = [n for n in ('ntpk', 'floor') if all(n in r for r in vruns)]
	mean = {n: sum(r[n] for r in vruns) / len(vruns) for n in names}
	spread = {n: max(abs(r[n] - mean[n]) for r in vruns) / mean[n]
		  for n in names}
	for n in names:
		L.append('| %s | %s | %.1f%% | %s | %s | %s |' % (
			LABEL[n], ' / '.join(fmt(r[n]) for r in vruns),
			spread[n] * 100,
			'-' if n == 'floor' or 'floor' not in mean
			else fmt(mean[n] - mean['floor']),
			fmt(veth_mean.get(n)),
			'-' if n == 'floor' else fmt(veth_above.get(n))))
	if 'ntpk' in mean and 'floor' in mean and veth_above.get('ntpk'):
		v = mean['ntpk'] - mean['floor']
		L += ['', 'ntpk above the floor: %.0f behind virtio-net, %.0f '
		      'behind veth (%+.0f, %+.1f%%).' % (
			      v, veth_above['ntpk'], v - veth_above['ntpk'],
			      (v / veth_above['ntpk'] - 1) * 100)]
	return L + ['']


def main():
	ap = argparse.ArgumentParser()
	g = ap.add_mutually_exclusive_group(required=True)
	g.add_argument('--full', action='store_true')
	g.add_argument('--gate', action='store_true')
	ap.add_argument('--baseline', required=True)
	ap.add_argument('--out', required=True)
	ap.add_argument('--virtio', default='',
			help='comma-separated runs behind virtio-net (bench/'
			'icount.py --virtio): a table of their own beside')
	ap.add_argument('runs', nargs='+')
	a = ap.parse_args()

	def load(paths):
		out = []
		for path in paths:
			with open(path) as f:
				text = f.read().strip()
			if not text:
				sys.exit('icount: %s is empty: the guest run failed'
					 % path)
			out.append(json.loads(text.splitlines()[-1]))
		return out
	runs = load(a.runs)
	vruns = load([p for p in a.virtio.split(',') if p])
	names = [n for n in ORDER if all(n in r for r in runs)]
	mean = {n: sum(r[n] for r in runs) / len(runs) for n in names}
	# The largest deviation of a run from the mean, as a fraction.
	spread = {n: max(abs(r[n] - mean[n]) for r in runs) / mean[n]
		  for n in names}
	floor = mean.get('floor')
	above = {n: mean[n] - floor for n in names if floor is not None}

	if a.gate:
		with open(a.baseline) as f:
			base = json.load(f)
		want = base['ntpk_above_floor']
		tol = base['tolerance']
		turns = []
		for r in runs:
			reps = r.get('_reps', {n: [r[n]] for n in ('floor', 'ntpk')})
			turns += zip(reps['floor'], reps['ntpk'])
		for i, (f, n) in enumerate(turns):
			print('bench gate: turn %d: floor %.1f, ntpk %.1f instructions '
			      'per request: %.1f above the floor' % (i + 1, f, n, n - f))
		diffs = sorted(n - f for f, n in turns)
		got = statistics.median(diffs)
		print('bench gate: median %.1f above the floor (turns %.1f to '
		      '%.1f); baseline %.0f, limit %.0f (+%.1f%%)' % (
			      got, diffs[0], diffs[-1], want, want * (1 + tol),
			      tol * 100))
		if got > want * (1 + tol):
			print('bench gate: FAILED: ntpk costs %.1f%% more than the '
			      'baseline (bench/baseline.json says how to update it)'
			      % ((got / want - 1) * 100))
			return 1
		return 0

	L = ['| server | instructions per request (%s) | ± | above the '
	     'floor | vs chronyd above the floor | whole path vs floor |' %
	     ', '.join('run %d' % (i + 1) for i in range(len(runs))),
	     '| --- | ---: | ---: | ---: | ---: | ---: |']
	for n in names:
		L.append('| %s | %s | %.1f%% | %s | %s | %s |' % (
			LABEL[n], ' / '.join(fmt(r[n]) for r in runs),
			spread[n] * 100,
			'-' if n == 'floor' else fmt(above.get(n)),
			'-' if n in ('floor', 'chronyd') or 'chronyd' not in above
			else '1 : %.1f' % (above['chronyd'] / above[n]),
			'-' if n == 'floor' else '%.2f' % ratio(mean[n], floor)))
	targets = []

	def target(what, val, limit, bar):
		ok = val is not None and val <= limit
		targets.append({'target': what, 'bar': bar,
				'measured': None if val is None else round(val, 3),
				'met': ok})
	target('ntpk : chronyd, above the floor',
	       ratio(above.get('ntpk'), above.get('chronyd')), 1 / 6,
	       '≤ 1 : 6 (0.167)')
	target('rate limit on : off, above the floor',
	       ratio(above.get('ntpk-rl'), above.get('ntpk')), 1.10, '≤ 1.10')
	target("ntpk's whole path : the floor's",
	       ratio(mean.get('ntpk'), floor), 1.4, '≤ 1.40')
	L += ['', '| target | bar | measured | |', '| --- | --- | ---: | --- |']
	for t in targets:
		L.append('| %s | %s | %s | %s |' % (
			t['target'], t['bar'],
			'-' if t['measured'] is None else '%.3f' % t['measured'],
			'met' if t['met'] else 'MISSED'))
	m = runs[0].get('_meta', {})
	L += ['', 'Conditions: %s; QEMU -icount shift=0,sleep=off (1 ns of '
	      'guest time per instruction); %d requests at %d/s from 2^20 '
	      'client addresses per server and run, each run a fresh boot; '
	      'commit %s.  A figure is the whole guest\'s busy time (the '
	      'generator, the server, the client dropping the replies) over '
	      'the difference of a COUNT/5- and a COUNT-request run, less '
	      'an idle spell\'s per request period.' % (
		      m.get('guest', '?'), m.get('count', 0), m.get('rate', 0),
		      m.get('commit', '?')), '']
	if vruns:
		L += virtio_table(vruns, mean, above)
	text = '\n'.join(L)
	print(text, end='')
	with open(os.path.join(a.out, 'icount.md'), 'w') as f:
		f.write(text)
	with open(os.path.join(a.out, 'icount.json'), 'w') as f:
		json.dump({'runs': runs, 'mean': mean, 'spread': spread,
			   'above_floor': above, 'targets': targets}, f, indent=1)
	bad = [n for n in names if spread[n] > SPREAD_MAX]
	if vruns:
		with open(os.path.join(a.out, 'icount-virtio.json'), 'w') as f:
			json.dump({'runs': vruns}, f, indent=1)
	if bad:
		print('icount: FAILED: a run more than %d%% off the mean: %s' % (
			SPREAD_MAX * 100, ', '.join(bad)))
		return 1
	return 0


if __name__ == '__main__':
	sys.exit(main())
