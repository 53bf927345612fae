#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=300
#
# The receive timestamp of ntpk's replies is the time the stack received the
# request, not the time the request reached our hook, as it is in the
# daemon's replies.  While ntpk is enabled the stack stamps every packet as
# it arrives (net_enable_timestamp(), what a socket asking for receive
# timestamps does), before RPS, the backlog queue and ingress qdiscs.
#
# Here a rule in PRE_ROUTING ahead of ntpk (priority raw - 50) hands every
# NTP request to an NFQUEUE whose reader (ntpk_nfqhold.py) holds it DELAY ms,
# as a slow userspace filter or a long backlog would: received (and stamped)
# on s1, it reaches our hook DELAY ms later.  No daemon runs in the guest
# while ntpk alone answers, so nothing else asks the stack for timestamps.
#   - ntpk's reply, both families: T2 - T1 below DELAY, T3 - T2 at least
#     DELAY (the reply admits the time the request waited);
#   - chronyd's reply to the same request (state cleared): the same.
# DELAY stays under a second: chronyd takes its own timestamp instead of the
# kernel's when the two differ by more than 1 s (MAX_TS_DELAY); ntpk keeps
# the kernel's (docs/operator.md).
#
#   +---------------------------+  veth  +--------------------------------+
#   | client $CLI               +--------+ server $SRV                    |
#   |  c1 10.97.1.2/24          |        |  s1 10.97.1.1/24               |
#   |     fd00:97:1::2/64       |        |     fd00:97:1::1/64            |
#   |  ntpk_probe.py            |        |  PRE_ROUTING -350: udp dport   |
#   |                           |        |  123 -> queue 7, held DELAY ms |
#   |                           |        |  ntpk (-250); later chronyd    |
#   +---------------------------+        +--------------------------------+

. "$(dirname "$0")/lib.sh"

S1=10.97.1.1 C1=10.97.1.2 S16=fd00:97:1::1 C16=fd00:97:1::2
DELAY=600
PROBE=("$PY" "$NTPK_SELFTESTS/ntpk_probe.py")

require_cmd ip nft modprobe pgrep chronyd chronyc ntpkctl "$PY"

ktap_plan 4

ntpk_load
ns_create SRV CLI
veth_pair "$SRV" s1 "$CLI" c1
n "$SRV" ip addr add $S1/24 dev s1
n "$SRV" ip addr add $S16/64 dev s1 nodad
n "$CLI" ip addr add $C1/24 dev c1
n "$CLI" ip addr add $C16/64 dev c1 nodad
# Neighbours known: no resolution adds to the times measured.
n "$SRV" ip neigh replace $C1 lladdr "$(n "$CLI" cat /sys/class/net/c1/address)" dev s1
n "$SRV" ip -6 neigh replace $C16 lladdr "$(n "$CLI" cat /sys/class/net/c1/address)" dev s1
n "$CLI" ip neigh replace $S1 lladdr "$(n "$SRV" cat /sys/class/net/s1/address)" dev c1
n "$CLI" ip -6 neigh replace $S16 lladdr "$(n "$SRV" cat /sys/class/net/s1/address)" dev c1
n "$SRV" nft -f - <<'EOF'
table inet hold {
	chain pre {
		type filter hook prerouting priority raw - 50;
		udp dport 123 queue num 7
	}
}
EOF
bg_run "$SRV" "$PY" "$NTPK_SELFTESTS/ntpk_nfqhold.py" 7 $DELAY >"$TMP/hold" 2>&1
wait_until 10 grep -q bound "$TMP/hold" || { cat "$TMP/hold"; exit 1; }

n "$SRV" ntpkctl set enable max-age 3600
n "$SRV" ntpkctl state set leap 0 stratum 2 precision -20 \
	refid 192.0.2.7 rootdelay 0.015625 rootdisp 0.0078125 \
	reftime 0xe9a0c3b412345678

# One request to ADDR, answered at STRATUM: T2 - T1 below DELAY ms and
# T3 - T2 from DELAY ms to DELAY ms + 10 s, both in ms.
stamped_at_receive()	# ADDR STRATUM WHO
{
	local out

	out=$(n "$CLI" "${PROBE[@]}" --timeout 15 "$1")
	diag "probe $1: $out"
	echo "$out" | "$PY" -c '
import json, sys
r = json.load(sys.stdin)
if not r["answered"]:
	print("none")
else:
	print(r["stratum"], round((r["t2"] - r["t1"]) * 1000),
	      round((r["t3"] - r["t2"]) * 1000))' >"$TMP/r"
	read -r stratum wait res <"$TMP/r"
	assert_eq "$stratum" "$2" "stratum of $3's reply to $1"
	diag "$3, $1: T2 - T1 $wait ms, T3 - T2 $res ms (held $DELAY ms)"
	assert_range "$wait" -5 $((DELAY - 1)) "$3: T2 - T1 (ms), request to $1"
	assert_range "$res" $DELAY $((DELAY + 10000)) "$3: T3 - T2 (ms), request to $1"
}

no_daemon()
{
	# Nobody else in the guest asks for receive timestamps.
	! pgrep -x chronyd >/dev/null || fail "a chronyd runs"
	! pgrep -x ntpd >/dev/null || fail "an ntpd runs"
}
run_test "no_daemon_runs" no_daemon

ntpk_v4() { stamped_at_receive $S1 2 ntpk; }
run_test "ntpk_v4_receive_timestamp_before_the_queue" ntpk_v4

ntpk_v6() { stamped_at_receive $S16 2 ntpk; }
run_test "ntpk_v6_receive_timestamp_before_the_queue" ntpk_v6

daemon()
{
	chronyd_server "$SRV" 3
	n "$SRV" ntpkctl state clear
	stamped_at_receive $S1 3 chronyd
	stamped_at_receive $S16 3 chronyd
}
run_test "chronyd_stamps_the_same_way" daemon

ktap_finish
