#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=240
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
#   - after it: chronyd still answers every request: the state was read
#     before the leap, and only a state read after it may serve again
#     (issue 23; before, ntpk answered with the old state and LI 0).
#
# Then a leap that chronyd takes with leapsecmode slew, with follow's
# polls blocked across it (follow stopped from 2.5 s before the leap to 5 s
# after: no poll got through during the window).  chronyd (-x) is
# synchronised to an upstream that announces the leap and inserts it
# (ntpk_clock.py upstream --leap-at); the kernel is not armed, so after
# the leap its clock is 1 s ahead of chronyd's time (with -x, chronyd's
# slew of the leap second is its own time's).  No reply carries the kernel
# clock's time after the leap: ntpk answers nothing until a state read
# after the leap arrives, and with the kernel 1 s off none does (follow
# withdraws, error-bound).
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

ktap_plan 9

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
	# The state was read before the leap: after it, only chronyd answers.
	bad = [r for r in ntpk if r['tx'] >= leap + win]
	post = [r for r in daemon if r['tx'] >= leap + win]
	if len(post) < 5:
		bad.append('only %d chronyd replies after the window' % len(post))
for b in bad:
	print('# wrong: %s' % (b,))
sys.exit(1 if bad else 0)
EOF
}
ktap_test "every_request_answered" judge all_answered
ktap_test "before_window_ntpk_announces_leap" judge before
ktap_test "inside_window_all_to_chronyd_none_stamped_by_ntpk" judge inside
ktap_test "after_window_no_ntpk_reply_without_a_new_state" judge after

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
# ---- the leap slewed by chronyd, follow's polls blocked ----

U4=10.97.1.2 SU4=10.97.1.1
ns_create UP
veth_pair "$SRV" su "$UP" us
n "$SRV" ip addr add $SU4/24 dev su
n "$UP" ip addr add $U4/24 dev us
SOCK=$(__chrony_dir "$SRV")/chronyd.sock
FOLLOW=
cleanup()
{
	[ -z "$FOLLOW" ] || kill -CONT "$FOLLOW" 2>/dev/null
}

# Sleeps until the guest's clock reads UNIX-SECONDS (a moment of the
# test's timeline, not a wait for a condition).
sleep_until()
{
	local us=$(($1 * 1000000 - ${EPOCHREALTIME/./}))

	[ "$us" -le 0 ] || sleep "$((us / 1000000)).$(printf %06d $((us % 1000000)))"
}

replies() { n "$SRV" ntpkctl stats | awk -F': ' '$1 == "replies" { print $2 }'; }

chronyd_stop "$SRV"
"$PY" "$CLOCK" leap --clear
LEAD2=$((15 * NTPK_SLOW))
date -u -s "@$((LEAP - LEAD2))" >/dev/null
bg_run "$UP" "$PY" "$CLOCK" upstream --listen $U4 --leap-at $LEAP \
	--base-file "$TMP/base"
wait_until 10 test -s "$TMP/base"
chronyd_client "$SRV" "$U4 minpoll -2 maxpoll -2" -- "allow all" \
	"leapsecmode slew"
n "$SRV" ntpkctl set max-age 30
wait_until $((LEAD2 - 6)) eval 'chronyc_in "$SRV" -c tracking |
	grep -q ",Insert second$"' || chronyc_in "$SRV" tracking | sed 's/^/# /'
bg_run "$SRV" ntpkctl follow --source "chronyd:$SOCK" 2>"$TMP/follow.log"
FOLLOW=$BG_PID
li1_usable()
{
	n "$SRV" ntpkctl -j show | grep -q '"leap":1,.*"usable":true'
}
slew_setup()
{
	# (chronyd's first readings under emulation may be beyond the bound)
	wait_until 6 li1_usable || {
		n "$SRV" ntpkctl show | sed 's/^/# /'
		sed 's/^/# /' "$TMP/follow.log"
		return 1
	}
	echo "# ntpk serves chronyd's LI 1 $((LEAP - $(date +%s))) s before the leap"
}
ktap_test "chronyd_announces_leap_ntpk_serves_li1" slew_setup

n "$CLI" "$PY" "$CLOCK" watch --server $S4 --seconds $((LEAP + 8 - $(date +%s))) \
	--interval 0.2 >"$TMP/watch2" &
WATCH=$!
# follow stopped 2.5 s before the leap, or as soon after as ntpk serves the
# leap (chronyd's readings under emulation may be beyond the bound for a
# moment), and before the window opens.
sleep_until $((LEAP - 3))
sleep 0.5
STOP_LI1=no
! wait_until 1 li1_usable || STOP_LI1=yes
kill -STOP "$FOLLOW"
sleep_until $((LEAP - 1))
R1=$(replies)
sleep_until $((LEAP + 5))
R2=$(replies)
kill -CONT "$FOLLOW"
wait "$WATCH"
R3=$(replies)
diag "ntpk replies: $R1 inside the window, $R2 when follow went on, $R3 at the end"
sed 's/^/# follow: /' "$TMP/follow.log"

# After the leap chronyd's time is UTC with the leap second inserted, 1 s
# behind the kernel clock: a reply whose transmit time is within 0.5 s of
# the kernel clock when the request was sent is stamped by the kernel.
judge2()	# PROPERTY
{
	"$PY" - "$1" "$LEAP" "$TMP/watch2" <<'EOF' || return 1
import json, sys
prop, leap, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rs = [json.loads(l) for l in open(path)]
post = [r for r in rs if r['sent'] >= leap + 0.2]
ans = [r for r in post if r['answered']]
kernel = [r for r in ans if abs(r['tx'] - r['sent']) < 0.5]
print('# %d requests after the leap, %d answered, %d of them with the kernel clock\'s time, %d with LI 0'
      % (len(post), len(ans), len(kernel), sum(r['li'] == 0 for r in kernel)))
bad = []
if prop == 'no_kernel_time':
	bad = kernel
	if len(ans) < 5 * 8:
		bad.append('only %d answered' % len(ans))
for b in bad[:10]:
	print('# wrong: %s' % (b,))
sys.exit(1 if bad else 0)
EOF
}
ktap_test "slewed_leap_no_reply_with_the_kernel_clock_after_it" judge2 no_kernel_time
no_ntpk_until_new_state()
{
	echo "# ntpk replies after the window opened: $((R2 - R1)) with follow stopped, $((R3 - R2)) after; ntpk served LI 1 when follow stopped: $STOP_LI1"
	[ "$STOP_LI1" = yes ] || return 1
	[ "$R2" = "$R1" ] || return 1
	[ "$R3" = "$R2" ] || return 1
	grep -q 'withdrawn (error-bound)' "$TMP/follow.log"
}
ktap_test "slewed_leap_polls_blocked_no_ntpk_reply_until_a_state_read_after_it" \
	no_ntpk_until_new_state
ktap_finish
