#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=300
#
# A reply never claims more accuracy than the daemon has (issue 12).
# chronyd steers the guest's clock (no -x, no makestep, maxslewrate 500
# ppm) from an upstream whose clock is CLOCK_MONOTONIC_RAW plus a base
# (selftests/ntpk_clock.py), so chronyd's slewing never moves the upstream.
# A probe in the client namespace holds every reply against the
# upstream's time: |offset| <= root dispersion + root delay / 2 + round
# trip / 2 (+ the precision).
#
#   +----------------+  veth  +-----------------------+  veth  +---------------+
#   | client $CLI    +--------+ server $SRV           +--------+ upstream $UP  |
#   |  cv 10.96.0.2  |        |  sv 10.96.0.1         |        |  us 10.96.1.2 |
#   |  probe         |        |  su 10.96.1.1         |        |  clock.py     |
#   |                |        |  chronyd (the clock), |        |  (raw + base) |
#   |                |        |  ntpk, follow         |        |               |
#   +----------------+        +-----------------------+        +---------------+
#
#   1. The upstream is 0.5 s ahead: chronyd, synchronised, is slewing a
#      0.5 s correction for the next 1000 s.  chronyd alone answers within
#      its bound; with ntpk and follow (chronyd's command socket, the
#      default 1 ms bound), ntpk answers nothing, says why (error-bound),
#      and every reply, all chronyd's, is within its bound.
#   2. The upstream is 4 ms ahead: chronyd slews it out in seconds; ntpk
#      answers again, and every reply, all ntpk's, is within its bound.

. "$(dirname "$0")/lib.sh"

CLOCK=$NTPK_SELFTESTS/ntpk_clock.py
S4=10.96.0.1 C4=10.96.0.2 SU4=10.96.1.1 U4=10.96.1.2

require_cmd ip modprobe chronyd chronyc ntpkctl busybox "$PY"

ntpk_load
ns_create CLI SRV UP
veth_pair "$CLI" cv "$SRV" sv
veth_pair "$SRV" su "$UP" us
n "$CLI" ip addr add $C4/24 dev cv
n "$SRV" ip addr add $S4/24 dev sv
n "$SRV" ip addr add $SU4/24 dev su
n "$UP" ip addr add $U4/24 dev us

# What chronyd did to the clock's frequency goes when the test ends.
defer busybox adjtimex -f 0
SOCK=$(__chrony_dir "$SRV")/chronyd.sock

upstream_start()	# AHEAD
{
	rm -f "$TMP/base"
	bg_run "$UP" "$PY" "$CLOCK" upstream --listen $U4 --ahead "$1" \
		--base-file "$TMP/base"
	UPSTREAM=$BG_PID
	wait_until 10 test -s "$TMP/base"
}

upstream_stop()
{
	kill "$UPSTREAM"
	wait "$UPSTREAM" 2>/dev/null || true
}

# chronyd steering the clock from the upstream, polled 4 times a second so
# that it synchronises within seconds.
server_start()
{
	chronyd_in_control "$SRV" "server $U4 iburst minpoll -2 maxpoll -2" \
		"maxslewrate 500" "allow all"
	wait_until 60 eval 'chronyc_in "$SRV" -n tracking |
		grep -q "^Reference ID *: [0-9A-F]* ($U4)"' || {
		chronyc_in "$SRV" -n sources | sed 's/^/# /'
		return 1
	}
	chronyc_in "$SRV" -n tracking | sed 's/^/# tracking: /'
}

counter()	# NAME
{
	n "$SRV" ntpkctl stats | awk -F': ' -v c="$1" '$1 == c { print $2 }'
}

probe()	# COUNT: every reply within its bound; the summary kept
{
	n "$CLI" "$PY" "$CLOCK" probe --server $S4 --count "$1" \
		--interval 0.2 --base-file "$TMP/base" >"$TMP/probe" || {
		sed 's/^/# /' "$TMP/probe"
		return 1
	}
	tail -n 1 "$TMP/probe" | sed 's/^/# /'
}

show_json()
{
	n "$SRV" ntpkctl -j show
}

ktap_plan 5

# --- 1. 0.5 s to slew --------------------------------------------------------

upstream_start 0.5
server_start
chronyd_alone()
{
	probe 5
}
ktap_test "chronyd_alone_within_its_bound_while_slewing_0.5s" chronyd_alone

n "$SRV" ntpkctl set enable max-age 5
bg_run "$SRV" ntpkctl follow --source "chronyd:$SOCK" 2>"$TMP/follow.err"
FOLLOW=$BG_PID

withdrawn()
{
	wait_until 10 eval 'show_json | grep -q "\"reason\":\"error-bound\""' || {
		show_json | sed 's/^/# /'
		return 1
	}
	n "$SRV" ntpkctl show | sed 's/^/# show: /'
	n "$SRV" ntpkctl show | grep -q 'error-bound'
}
ktap_test "ntpk_withdrawn_error_bound" withdrawn

slewing_answered_by_chronyd()
{
	local r0 p0

	r0=$(counter replies)
	p0=$(counter pass_no_state)
	probe 10
	[ "$(counter replies)" = "$r0" ]
	[ $(($(counter pass_no_state) - p0)) -ge 10 ]
}
ktap_test "slewing_every_reply_within_bound_none_from_ntpk" \
	slewing_answered_by_chronyd

kill "$FOLLOW"
wait "$FOLLOW" 2>/dev/null || true
sed 's/^/# follow: /' "$TMP/follow.err"
chronyd_stop "$SRV"
upstream_stop

# --- 2. 4 ms to slew: ntpk answers once it is within the bound ----------------

upstream_start 0.004
server_start
bg_run "$SRV" ntpkctl follow --source "chronyd:$SOCK" 2>"$TMP/follow.err"
FOLLOW=$BG_PID
back_within_bound()
{
	wait_until 60 eval 'show_json | grep -q "\"usable\":true"' || {
		show_json | sed 's/^/# /'
		chronyc_in "$SRV" -n tracking | sed 's/^/# /'
		return 1
	}
}
ktap_test "ntpk_answers_again_once_slewed_within_bound" back_within_bound

answered_by_ntpk_within_bound()
{
	local r0

	r0=$(counter replies)
	probe 20
	[ $(($(counter replies) - r0)) = 20 ]
}
ktap_test "every_ntpk_reply_within_bound" answered_by_ntpk_within_bound
kill "$FOLLOW"
wait "$FOLLOW" 2>/dev/null || true
sed 's/^/# follow: /' "$TMP/follow.err"
ktap_finish
