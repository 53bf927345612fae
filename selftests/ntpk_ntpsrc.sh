#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=180
#
# follow's NTP source, for daemons other than chronyd (issue 12): ntpsec's
# ntpd (unpacked privately by scripts/ntpsec-unpack, never installed: it
# conflicts with chrony; make check-vm passes its path as NTPK_NTPD) in
# orphan mode, a synchronised stratum 2 source at once, polled over
# loopback; then, on the same port, a daemon whose clock is 0.5 s ahead of
# the kernel's (selftests/ntpk_clock.py), which follow must withdraw.
#
#   +------------------+   veth   +-----------------------------------+
#   | client $CLI      +----------+ server $SRV                       |
#   |  cv 10.98.0.2    |          |  sv 10.98.0.1                     |
#   |  sntp            |          |  ntpk; follow --source 127.0.0.1  |
#   |                  |          |  ntpd (ntpsec), then a daemon     |
#   |                  |          |  0.5 s ahead, on 127.0.0.1:123    |
#   +------------------+          +-----------------------------------+

. "$(dirname "$0")/lib.sh"

CLOCK=$NTPK_SELFTESTS/ntpk_clock.py
S4=10.98.0.1 C4=10.98.0.2

require_cmd ip modprobe sntp ntpkctl "$PY"
if [ -z "${NTPK_NTPD:-}" ] || [ ! -x "$NTPK_NTPD" ]; then
	echo "# NTPK_NTPD='${NTPK_NTPD:-}': not ntpsec's ntpd (make check-vm sets it from scripts/ntpsec-unpack)"
	exit 1
fi

ntpk_load
ns_create CLI SRV
veth_pair "$CLI" cv "$SRV" sv
n "$CLI" ip addr add $C4/24 dev cv
n "$SRV" ip addr add $S4/24 dev sv
n "$SRV" ntpkctl set enable max-age 5

counter()	# NAME
{
	n "$SRV" ntpkctl stats | awk -F': ' -v c="$1" '$1 == c { print $2 }'
}

show_json()
{
	n "$SRV" ntpkctl -j show
}

# No upstream: orphan mode is a synchronised stratum 2 at once, as
# chronyd's "local"; "disable ntp": the guest's clock is not its to steer.
cat >"$TMP/ntp.conf" <<EOF
tos orphan 2 orphanwait 0
disable ntp
restrict default
disable monitor
EOF
bg_run "$SRV" env LD_LIBRARY_PATH="${NTPK_NTPD_LIBS:-}" "$NTPK_NTPD" -n \
	-c "$TMP/ntp.conf" -l "$TMP/ntpd.log"
NTPD=$BG_PID

# The loopback round trip of an emulated guest switching its vCPUs in
# turns can pass the default 1 ms; 50 ms is still a tenth of the 0.5 s
# offset below.
bg_run "$SRV" ntpkctl follow --source 127.0.0.1:123 --max-error 50ms \
	2>"$TMP/follow.err"
FOLLOW=$BG_PID

ktap_plan 4

ntpsec_followed()
{
	wait_until 60 eval 'show_json | grep -q "\"usable\":true"' || {
		show_json | sed 's/^/# /'
		sed 's/^/# ntpd: /' "$TMP/ntpd.log" | tail -n 20
		return 1
	}
	"$NTPK_NTPD" --version 2>/dev/null | sed 's/^/# /' || true
	show_json | grep -q '"stratum":2,'
}
ktap_test "ntpsec_over_loopback_state_pushed" ntpsec_followed

client_answered_by_ntpk()
{
	local r0 out

	r0=$(counter replies)
	out=$(n "$CLI" timeout 30 sntp -j -t 5 $S4)
	echo "# sntp: $out"
	echo "$out" | grep -q '"stratum":2,'
	[ "$(counter replies)" = $((r0 + 1)) ]
}
ktap_test "client_answered_by_ntpk_stratum_2" client_answered_by_ntpk

kill "$NTPD"
wait "$NTPD" 2>/dev/null || true
bg_run "$SRV" "$PY" "$CLOCK" upstream --listen 127.0.0.1 --ahead 0.5 \
	--base-file "$TMP/base"

offset_withdrawn()
{
	wait_until 20 eval 'show_json | grep -q "\"reason\":\"error-bound\""' || {
		show_json | sed 's/^/# /'
		return 1
	}
	grep -c 'withdrawn (error-bound)' "$TMP/follow.err" | grep -qx 1
}
ktap_test "daemon_0.5s_off_withdrawn_error_bound" offset_withdrawn

not_answered_by_ntpk()
{
	local r0 p0

	r0=$(counter replies)
	p0=$(counter pass_no_state)
	! n "$CLI" timeout 30 sntp -t 2 $S4 >/dev/null 2>&1 || false
	[ "$(counter replies)" = "$r0" ]
	[ "$(counter pass_no_state)" = $((p0 + 1)) ]
}
ktap_test "withdrawn_ntpk_answers_nothing" not_answered_by_ntpk

kill "$FOLLOW"
wait "$FOLLOW" 2>/dev/null || true
sed 's/^/# follow: /' "$TMP/follow.err"
ktap_finish
