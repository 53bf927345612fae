#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=180
#
# A leap second in the module (issue 12, item 4).  The guest's clock is set
# to 2016-12-31 23:59:50 UTC, ten seconds before a real leap second, and the
# kernel is armed to insert it (adjtimex STA_INS, as chronyd's leapsecmode
# system does), so that CLOCK_REALTIME repeats 23:59:59.  ntpk holds state
# pushed once, announcing the leap (LI 1), with a max-age far beyond the
# test: whatever happens at the leap, the module does it on its own, with no
# new push.  A chronyd of stratum 5 in the server namespace answers what
# ntpk passes on (ntpk's pushed stratum is 2, so each reply says who sent
# it).  A client asks 5 times a second across the leap:
#
#   - before the window (2 s, the default): ntpk answers, LI 1;
#   - inside it: every request goes to chronyd (pass_leap), and no reply of
#     ntpk's is stamped inside the window, the inserted second included;
#   - after it: ntpk answers again, LI 0, though the state still says 1.
#
#   +--------------------+   veth   +--------------------------+
#   | client $CLI        +----------+ server $SRV              |
#   |  cv 10.97.0.2      |          |  sv 10.97.0.1            |
#   |  ntpk_clock watch  |          |  ntpk (state: LI 1)      |
#   |                    |          |  chronyd, stratum 5 (-x) |
#   +--------------------+          +--------------------------+

. "$(dirname "$0")/lib.sh"

CLOCK=$NTPK_SELFTESTS/ntpk_clock.py
S4=10.97.0.1 C4=10.97.0.2
# 2017-01-01 00:00:00 UTC: the leap second 2016-12-31 23:59:60 ends here.
LEAP=1483228800

require_cmd ip modprobe chronyd chronyc ntpkctl date dmesg "$PY"

ntpk_load
ns_create CLI SRV
veth_pair "$CLI" cv "$SRV" sv
n "$CLI" ip addr add $C4/24 dev cv
n "$SRV" ip addr add $S4/24 dev sv
chronyd_server "$SRV" 5
n "$SRV" ntpkctl set enable max-age 3600

# The guest's clock goes back to the present when the test ends, however
# it ends: the realtime it had, plus the monotonic time since.
mono() { "$PY" -c 'import time; print("%.6f" % time.monotonic())'; }
REAL0=$EPOCHREALTIME
MONO0=$(mono)
restore_clock()
{
	"$PY" "$CLOCK" leap --clear || true
	date -u -s "@$("$PY" -c "print('%.6f' % ($REAL0 + $(mono) - $MONO0))")" >/dev/null
}
defer restore_clock

echo "ntpk_leap: start" >/dev/kmsg
# Ten seconds before (stretched on a slow kernel, where starting the
# client alone takes seconds), watched until six seconds after.
LEAD=$((10 * NTPK_SLOW))
date -u -s "@$((LEAP - LEAD))" >/dev/null
"$PY" "$CLOCK" leap
n "$SRV" ntpkctl state set leap 1 stratum 2 precision -20 refid 192.0.2.7 \
	rootdelay 0.015625 rootdisp 0.0078125 reftime 0xdc0f6a0000000000
P0=$(n "$SRV" ntpkctl stats | awk -F': ' '$1 == "pass_leap" { print $2 }')
n "$CLI" "$PY" "$CLOCK" watch --server $S4 --seconds $((LEAD + 6)) \
	--interval 0.2 >"$TMP/watch"
P1=$(n "$SRV" ntpkctl stats | awk -F': ' '$1 == "pass_leap" { print $2 }')
show_json=$(n "$SRV" ntpkctl -j show)

ktap_plan 6

kernel_inserted()
{
	dmesg | sed -n '/ntpk_leap: start/,$p' | grep -q 'inserting leap second'
}
ktap_test "kernel_inserted_the_leap_second" kernel_inserted

# One verdict per property, from the same record.
judge()	# PROPERTY
{
	"$PY" - "$1" "$LEAP" 2 "$TMP/watch" <<'EOF'
import json, sys
prop, leap, win, path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rs = [json.loads(l) for l in open(path)]
ntpk = [r for r in rs if r['answered'] and r['stratum'] == 2]
daemon = [r for r in rs if r['answered'] and r['stratum'] == 5]
print('# %d requests: %d answered by ntpk, %d by chronyd, %d unanswered' % (
	len(rs), len(ntpk), len(daemon), sum(not r['answered'] for r in rs)))
bad = []
if prop == 'all_answered':
	bad = [r for r in rs if not r['answered'] or r['stratum'] not in (2, 5)]
elif prop == 'before':
	pre = [r for r in ntpk if r['tx'] < leap - win]
	bad = [r for r in pre if r['li'] != 1]
	if len(pre) < 5:
		bad.append('only %d ntpk replies before the window' % len(pre))
elif prop == 'inside':
	bad = [r for r in ntpk if leap - win <= r['tx'] < leap + win]
	# Sent well inside: the server saw it inside too.
	bad += [r for r in rs if leap - win + 0.1 <= r['sent'] < leap + win - 0.1
		and r.get('stratum') != 5]
	if len(daemon) < 10:
		bad.append('only %d requests went to chronyd' % len(daemon))
elif prop == 'after':
	post = [r for r in ntpk if r['tx'] >= leap + win]
	bad = [r for r in post if r['li'] != 0]
	if len(post) < 5:
		bad.append('only %d ntpk replies after the window' % len(post))
for b in bad:
	print('# wrong: %s' % (b,))
sys.exit(1 if bad else 0)
EOF
}
ktap_test "every_request_answered" judge all_answered
ktap_test "before_window_ntpk_announces_leap" judge before
ktap_test "inside_window_all_to_chronyd_none_stamped_by_ntpk" judge inside
ktap_test "after_window_ntpk_li0_without_a_push" judge after

pass_leap_counted()
{
	local daemon

	daemon=$("$PY" -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("stratum") == 5))' "$TMP/watch")
	echo "# pass_leap +$((P1 - P0)), chronyd answered $daemon"
	[ $((P1 - P0)) = "$daemon" ]
	echo "$show_json" | grep -q '"usable":true'
}
ktap_test "pass_leap_counts_each_passed_request" pass_leap_counted
ktap_finish
