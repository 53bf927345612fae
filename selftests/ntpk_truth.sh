#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=600
#
# A reply never claims more accuracy than the daemon has (issue 12): ntpkctl
# follow reads chronyd's own account of the clock over its command socket,
# pushes a root dispersion that covers the error ntpk adds, and withdraws the
# state, with its reason, on evidence.
#
#   +-------------------------- UP ---+   +------------------------- SRV ---+
#   | ntpk_clock.py upstream: raw     |   | chronyd (-x: never the clock)   |
#   | monotonic + a base, stratum 1   |---| ntpk, fed by ntpkctl follow     |
#   | (1, 8-10)           10.96.1.1   |   | --source chronyd:SOCK 10.96.0.1 |
#   +---------------------------------+   +---------------------------------+
#                                                    | 10.96.0.2
#                                         +------------------------- CLI ---+
#                                         | probe: NTP requests every 10 ms |
#                                         +---------------------------------+
#
# Every namespace reads the one guest clock; UP's time is not it, so that
# the kernel clock's frequency, moved with adjtimex as a machine's clock is
# off, is what chronyd measures against UP.  Subtests, in order (each
# starts from what the one before left):
#   1. chronyd synchronised to UP, the clock 50 ppm slow, UP then stopped
#      (chronyd's report holds still): follow --once --dry-run reads what
#      `chronyc -c tracking` reports: the same stratum, reference ID, leap
#      and reference time to the nanosecond, a slew rate of |the kernel's
#      frequency + chronyd's| and a dispersion rate of that + chronyd's
#      skew + |residual frequency| + 1 ppm in ppb, skew and residual
#      non-zero and far from chronyd's -50 ppm frequency.
#   2. chronyd with a local reference (2-7); follow from chronyd's socket:
#      the clients' requests are all answered by ntpk (replies grows by the
#      requests, pass_no_state does not), with chronyd's stratum 3 and
#      refid 127.127.1.1.
#   3. `chronyc local stratum 7`: the first reply with stratum 7 comes
#      within 200 ms of chronyc returning, and none with stratum 3 after it.
#   4. `chronyc local off` (chronyd unsynchronised): within 200 ms replies
#      carry LI 3 (chronyd's own: ntpk no longer answers), show says
#      "unsync", follow logged "withdrawn (unsync)" once.
#   5. chronyd killed (-9; its socket file stays and refuses): the state is
#      withdrawn within 1 s, show says "daemon-gone", follow logged
#      "withdrawn (daemon-gone): ...: Connection refused".
#   6. chronyd started again: ntpk answers within 2 s.
#   7. chronyd smooths its time (smoothtime, activated): withdrawn,
#      "smoothing".
#   8. chronyd synchronised to UP but told (server option "offset 0.5")
#      that UP is 0.5 s ahead: its time is the kernel clock + 0.5 s, which
#      -x keeps so.  With the default --max-error (1 ms) the state is
#      withdrawn ("error-bound", logged once) and clients get chronyd's
#      own answers.
#   9. the same with --max-error 1s, the clock 300 ppm slow: chronyd's time
#      leaves the kernel clock at 300 ppm.  UP stopped (chronyd's time then
#      runs on a line from the kernel clock's), and follow stopped for the
#      4 s of the probe: ntpk ages the state alone (max-age 10 s).  For every reply the
#      distance from its transmit time to chronyd's time at that moment
#      ([t1 + c(t1), t4 + c(t4)], on the client's clock, which is the
#      same clock) is within the reply's root dispersion + root delay / 2,
#      and the root dispersion is at least the state's aged at its rate.
#  10. chronyd with maxclockerror 10: UP stopped, then follow stopped for
#      7 s: ntpk's replies' root dispersion grows at least as fast as
#      chronyd's own between its two readings (the same reference time).
#  11. SIGTERM: follow withdraws ("follow-stopped") and exits 0.

. "$(dirname "$0")/lib.sh"

S4=10.96.0.1 C4=10.96.0.2 SU=10.96.1.2 U4=10.96.1.1
# How late a change may reach the wire, ms.
CHANGE_MS=$((200 * NTPK_SLOW))

require_cmd ip modprobe chronyd chronyc "$PY" ntpkctl

ntpk_load
ns_create SRV CLI UP
veth_pair "$SRV" sv "$CLI" cv
veth_pair "$SRV" su "$UP" us
n "$SRV" ip addr add $S4/24 dev sv
n "$SRV" ip addr add $SU/24 dev su
n "$CLI" ip addr add $C4/24 dev cv
n "$UP" ip addr add $U4/24 dev us
n "$SRV" ntpkctl set enable max-age 5
SOCK=$(__chrony_dir "$SRV")/chronyd.sock

# The client: a request every INTERVAL s for DURATION s.  One line per
# reply: t1 t4 (client realtime) li stratum refid(hex) rootdelay rootdisp
# (from NTP short) transmit; times in ns from BASE, written to BASEFILE
# (awk's doubles are exact to the nanosecond only that close); then the
# root dispersion as it came (2^-16 s) and the reference time (hex).
cat >"$TMP/probe.py" <<'EOF'
import os, select, socket, struct, sys, time
dst, interval, duration, basefile = sys.argv[1:5]
port = int(sys.argv[5]) if len(sys.argv) > 5 else 123
interval, duration = float(interval), float(duration)
base = time.time_ns()
with open(basefile, 'w') as f:
    print(base, file=f)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = {}
end = time.time() + duration
nxt = time.time()
def ts_ns(b):
    sec, frac = struct.unpack('>II', b)
    return (sec - 2208988800) * 10**9 + (frac * 10**9 >> 32)
while True:
    now = time.time()
    if now >= end + 0.5:
        break
    if now >= nxt and now < end:
        cookie = os.urandom(8)
        req = bytes([0x23, 0, 6, 0xec]) + bytes(36) + cookie
        sent[cookie] = time.time_ns()
        s.sendto(req, (dst, port))
        nxt += interval
    r, _, _ = select.select([s], [], [], 0.002)
    if not r:
        continue
    d = s.recv(1024)
    t4 = time.time_ns()
    if len(d) < 48 or d[24:32] not in sent:
        continue
    t1 = sent.pop(d[24:32])
    rd, rp = struct.unpack('>II', d[4:12])
    print(t1 - base, t4 - base, d[0] >> 6, d[1], d[12:16].hex(),
          rd * 10**9 >> 16, rp * 10**9 >> 16, ts_ns(d[40:48]) - base,
          rp, d[16:24].hex(), flush=True)
EOF

probe()	# INTERVAL DURATION: the lines into $TMP/probe.out
{
	n "$CLI" "$PY" "$TMP/probe.py" $S4 "$1" "$2" "$TMP/probe.base" \
		>"$TMP/probe.out"
}

counter()	# NAME: one ntpk counter of SRV
{
	n "$SRV" ntpkctl stats | awk -F': ' -v c="$1" '$1 == c { print $2 }'
}

usable()
{
	n "$SRV" ntpkctl -j show | grep -q '"usable":true'
}

# The reason word show gives for the state now.
shows()	# WORD
{
	n "$SRV" ntpkctl show | grep -qw -- "$1"
}

FOLLOW=
follow_start()	# ARGS...: follow in SRV, its log in $TMP/follow.log
{
	: >"$TMP/follow.log"
	bg_run "$SRV" ntpkctl follow --source "chronyd:$SOCK" "$@" \
		2>>"$TMP/follow.log"
	FOLLOW=$BG_PID
}

follow_stop()
{
	[ -n "$FOLLOW" ] || return 0
	kill -TERM "$FOLLOW" 2>/dev/null || true
	wait "$FOLLOW" 2>/dev/null || true
	FOLLOW=
}

logged()	# PATTERN: how many follow log lines match
{
	grep -c -- "$1" "$TMP/follow.log" || true
}

# ms from T0 ($EPOCHREALTIME) to the first probe reply matching AWK-COND
first_after()	# T0 AWK-COND
{
	awk -v t0="${1/./}" -v base="$(cat "$TMP/probe.base")" \
		"$2 { print int(((base + \$2) / 1000 - t0) / 1000); exit }" \
		"$TMP/probe.out"
}

# The upstream of subtests 1, 8-10: an NTP server whose time is
# CLOCK_MONOTONIC_RAW plus a base (ntpk_clock.py), so that chronyd (-x)
# measures the kernel clock's frequency against it: moved with adjtimex, as
# a machine's clock is off, it gives chronyd a frequency, residual frequency
# and skew of its own, and a correction that drifts.  SIGSTOP freezes
# chronyd's reference (no new measurement): its tracking report then holds
# still, its root dispersion alone growing.
CLOCK=$NTPK_SELFTESTS/ntpk_clock.py
defer busybox adjtimex -q -t 10000 -f 0
UPSTREAM=
upstream_start()
{
	rm -f "$TMP/base"
	bg_run "$UP" "$PY" "$CLOCK" upstream --listen $U4 --base-file "$TMP/base"
	UPSTREAM=$BG_PID
	wait_until 10 test -s "$TMP/base"
}

upstream_stop()
{
	kill -CONT "$UPSTREAM"
	kill "$UPSTREAM"
	wait "$UPSTREAM" 2>/dev/null || true
}

# Before the defers (chronyd's stop, the upstream's): nothing left stopped.
cleanup()
{
	[ -z "$UPSTREAM" ] || kill -CONT "$UPSTREAM" 2>/dev/null
	[ -z "${FOLLOW:-}" ] || kill -CONT "$FOLLOW" 2>/dev/null
}

synced()
{
	[ "$(n "$SRV" chronyc -c -h "$SOCK" tracking | cut -d, -f1)" != 00000000 ]
}

tracking()	# FIELD (1-based, chronyc -c tracking)
{
	n "$SRV" chronyc -c -h "$SOCK" tracking | cut -d, -f"$1"
}

# chronyd's reference frozen: the upstream stopped, and two tracking
# reports 0.3 s apart (more than chronyd's 0.25 s poll) name the same
# reference time.
freeze()
{
	local a b

	kill -STOP "$UPSTREAM"
	wait_until 5 eval 'a=$(tracking 4); sleep 0.3; b=$(tracking 4); [ "$a" = "$b" ]'
}

# chronyd's frequency within 5 ppm of PPM, as it measures the clock's
# (chrony's sign: positive is a clock running fast).
freq_near()	# PPM
{
	awk -v f="$(tracking 8)" -v w="$1" 'BEGIN { exit !(f - w < 5 && w - f < 5) }'
}

# The kernel clock runs 50 ppm slow: chronyd's frequency is -50 ppm, far
# from its skew and residual frequency.
busybox adjtimex -q -f $((-50 * 65536))
upstream_start
chronyd_client "$SRV" "$U4 minpoll -2 maxpoll -2"

ktap_plan 11

# ---- 1 ----
dry_run_matches_tracking()
{
	local trk trk2 out ref_sec ref_ns lo slew

	wait_until 30 synced || fail "chronyd never synchronised to UP"
	wait_until 30 freq_near -50 || fail "chronyd's frequency $(tracking 8) ppm, not -50"
	freeze || fail "chronyd's reference time still moves"
	trk=$(n "$SRV" chronyc -c -h "$SOCK" tracking)
	# --max-error 1s: the correction drifts 50 us a second.
	out=$(n "$SRV" ntpkctl follow --source "chronyd:$SOCK" --once --dry-run \
		--max-error 1s)
	trk2=$(n "$SRV" chronyc -c -h "$SOCK" tracking)
	kill -CONT "$UPSTREAM"
	diag "chronyc: $trk"
	diag "follow:  $out"
	IFS=, read -r -a T <<<"$trk"
	IFS=, read -r -a T2 <<<"$trk2"
	word() { awk -v w="$1" '{ for (i = 1; i < NF; i++) if ($i == w) print $(i + 1) }' <<<"$out"; }
	assert_eq "${T2[3]},${T2[7]},${T2[8]},${T2[9]}" "${T[3]},${T[7]},${T[8]},${T[9]}" \
			"chronyd's reference time, frequency, residual frequency, skew between the readings"
	assert_eq "$(awk '{ print $1 }' <<<"$out")" push "verdict"
	assert_eq "$(awk '{ print $5 }' <<<"$out")" "${T[2]}" "stratum"
	assert_eq "$(awk '{ print $9 }' <<<"$out")" "0x${T[0],,}" "refid"
	assert_eq "$(awk '{ print $3 }' <<<"$out")" 0 "leap (${T[13]})"
	# reference time: chronyc's seconds.nanoseconds against the pushed
	# timestamp printed as ISO 8601 with nanoseconds
	ref_sec=${T[3]%.*} ref_ns=${T[3]#*.}
	assert_eq "$(awk '{ print $11 }' <<<"$out")" \
		"$(date -u -d "@$ref_sec" +%Y-%m-%dT%H:%M:%S).${ref_ns}Z" "reftime"
	# The slew: how fast the kernel clock leaves chronyd's time, |the
	# kernel's frequency (adjtimex) + chronyd's| (chronyd sets the kernel
	# to minus its estimate), in ppb, rounded up, plus 2 ppb for the
	# float and the kernel's 2^-16 ppm: chronyc's 3 decimals of ppm
	# (rounded) and follow's ppb (truncated) are within 2 ppb.  With -x, chronyd's -50 ppm is the kernel's own
	# -50 ppm, and the kernel clock leaves chronyd's time at 50 ppm; the
	# bound takes 100.
	slew=$(busybox adjtimex | awk -v fc="${T[7]}" '
		/tick:/ { tick = $3 } /freq.adjust:/ { f = $3 }
		END { d = (tick * 100 - 1000000) * 1000 + f * 1000 / 65536 + fc * 1000
		      printf "%d", (d < 0 ? -d : d) + 2.5 }')
	assert_range "$(word slewrate)" $((slew - 2)) $((slew + 2)) \
		"slewrate (kernel $(busybox adjtimex | awk '/freq.adjust:/ { print $3 }') / 65536 ppm, chronyd ${T[7]} ppm)"
	# skew + |residual frequency| + 1 ppm in ppb, each rounded up;
	# chronyc prints ppm to 3 decimals, rounded to nearest: each term is
	# its printed value or 1 ppb more.  Both are far from chronyd's
	# frequency, and neither is zero, so a swapped or dropped one shows.
	# On the first reading nothing is measured yet: that is the rate.
	lo=$(awk -v s="${T[9]}" -v r="${T[8]}" 'BEGIN {
		r = r < 0 ? -r : r; printf "%d", s * 1000 + r * 1000 + 1000 + 0.5 }')
	awk -v s="${T[9]}" -v r="${T[8]}" 'BEGIN { exit !(s >= 0.003 && (r >= 0.003 || r <= -0.003)) }' ||
		fail "skew ${T[9]} or residual frequency ${T[8]} ppm within 3 ppb of 0: a dropped term would not show"
	if [[ "$(word disprate),$(word slewrate)" =~ ^[0-9]+,[0-9]+$ ]]; then
		assert_range "$(($(word disprate) - $(word slewrate)))" "$lo" $((lo + 2)) \
			"disprate - slewrate (skew ${T[9]}, residual ${T[8]}, frequency ${T[7]} ppm)"
	else
		fail "no disprate and slewrate in the dry run"
	fi
}
run_test dry_run_matches_chronyc_tracking dry_run_matches_tracking

# Subtests 2-7: chronyd with a local reference, the clock's frequency back.
chronyd_stop "$SRV"
busybox adjtimex -q -f 0
chronyd_server "$SRV" 3

# ---- 2 ----
follow_start
answers_from_socket()
{
	local r0 p0 n

	wait_until 10 usable || fail "no usable state: $(cat "$TMP/follow.log")"
	r0=$(counter replies) p0=$(counter pass_no_state)
	probe 0.01 1
	n=$(wc -l <"$TMP/probe.out")
	assert_range "$n" 50 200 "replies received"
	assert_eq "$(awk '$4 != 3 || $5 != "7f7f0101" || $3 != 0' "$TMP/probe.out" | wc -l)" 0 \
		"replies not stratum 3, refid 127.127.1.1, LI 0"
	assert_eq "$(($(counter replies) - r0))" "$n" "ntpk replies"
	assert_eq "$(($(counter pass_no_state) - p0))" 0 "pass_no_state"
	assert_eq "$(logged 'follow: serving: leap 0 stratum 3 refid 127.127.1.1 ')" 1 "serving logged"
}
run_test chronyd_socket_answers_clients answers_from_socket

# ---- 3 ----
stratum_change()
{
	local t0 ms p0

	p0=$(counter pass_no_state)
	probe 0.01 2 &
	sleep 0.7
	n "$SRV" chronyc -h "$SOCK" local stratum 7 >/dev/null
	t0=$EPOCHREALTIME
	wait $!
	ms=$(first_after "$t0" '$4 == 7')
	diag "stratum 7 on the wire $ms ms after chronyc returned"
	assert_range "${ms:-99999}" -100 "$CHANGE_MS" "stratum change latency (ms)"
	assert_eq "$(awk '$4 == 7 { seen = 1 } seen && $4 != 7' "$TMP/probe.out" | wc -l)" 0 \
		"replies with another stratum after the first 7"
	assert_eq "$(($(counter pass_no_state) - p0))" 0 "pass_no_state: ntpk answered all"
	assert_eq "$(logged 'follow: changed: leap 0 stratum 7 ')" 1 "change logged"
}
run_test stratum_change_on_wire_within_200ms stratum_change

# ---- 4 ----
unsync()
{
	local t0 ms

	probe 0.01 2 &
	sleep 0.7
	n "$SRV" chronyc -h "$SOCK" local off >/dev/null
	t0=$EPOCHREALTIME
	wait $!
	ms=$(first_after "$t0" '$3 == 3')
	diag "LI 3 on the wire $ms ms after chronyc returned"
	assert_range "${ms:-99999}" -100 "$CHANGE_MS" "unsync latency (ms)"
	assert_eq "$(awk '$3 == 3 { seen = 1 } seen && $3 != 3' "$TMP/probe.out" | wc -l)" 0 \
		"replies synchronised after the first LI 3"
	shows unsync || fail "show: $(n "$SRV" ntpkctl show)"
	assert_eq "$(logged 'follow: withdrawn (unsync): chronyd not synchronised')" 1 "withdrawal logged once"
	n "$SRV" chronyc -h "$SOCK" local stratum 3 >/dev/null
	wait_until 2 usable || fail "not usable again after local stratum 3"
}
run_test unsync_on_wire_within_200ms unsync

# ---- 5 ----
killed()
{
	local t0=$EPOCHREALTIME

	kill -9 "$(cat "$(__chrony_dir "$SRV")/chronyd.pid")"
	wait_until 1 eval '! usable' || fail "still usable 1 s after chronyd was killed"
	diag "withdrawn $(elapsed "$t0") s after the kill"
	shows daemon-gone || fail "show: $(n "$SRV" ntpkctl show)"
	assert_eq "$(logged "follow: withdrawn (daemon-gone): $SOCK: Connection refused")" 1 \
		"withdrawal logged once"
	probe 0.05 0.5
	assert_eq "$(wc -l <"$TMP/probe.out")" 0 "replies with chronyd gone"
}
run_test daemon_killed_withdrawn_daemon_gone killed

# ---- 6 ----
back()
{
	local t0

	rm -f "$(__chrony_dir "$SRV")/chronyd.pid"
	chronyd_server "$SRV" 3
	t0=$EPOCHREALTIME
	wait_until 2 usable || fail "not usable within 2 s of chronyd answering"
	diag "usable $(elapsed "$t0") s after chronyd answered"
	probe 0.05 0.5
	assert_eq "$(awk '$4 != 3' "$TMP/probe.out" | wc -l)" 0 "replies not stratum 3"
}
run_test daemon_back_state_within_2s back

# ---- 7 ----
smoothing()
{
	chronyd_stop "$SRV"
	chronyd_server "$SRV" 3 "smoothtime 400 0.001"
	wait_until 5 usable || fail "not usable with smoothtime configured, inactive"
	n "$SRV" chronyc -h "$SOCK" smoothtime activate >/dev/null
	wait_until 2 eval '! usable' || fail "usable while chronyd smooths"
	shows smoothing || fail "show: $(n "$SRV" ntpkctl show)"
	assert_eq "$(logged 'follow: withdrawn (smoothing): chronyd smooths its time')" 1 \
		"withdrawal logged once"
}
run_test smoothing_withdrawn smoothing

# ---- 8 ----
follow_stop
chronyd_stop "$SRV"
# The clock 300 ppm slow from here on (subtest 9): chronyd's time leaves
# the kernel clock at 300 ppm, the correction growing.
busybox adjtimex -q -f $((-300 * 65536))
upstream_stop
upstream_start
chronyd_client "$SRV" "$U4 offset 0.5 minpoll -2 maxpoll -2" -- "allow all"
error_bound()
{
	local r0 p0

	wait_until 30 synced || fail "chronyd never synchronised to UP"
	diag "chronyd: $(n "$SRV" chronyc -c -h "$SOCK" tracking)"
	follow_start
	wait_until 5 grep -q 'withdrawn (error-bound)' "$TMP/follow.log" ||
		fail "no error-bound withdrawal: $(cat "$TMP/follow.log")"
	! usable || fail "usable with a 0.5 s correction and --max-error 1ms"
	shows error-bound || fail "show: $(n "$SRV" ntpkctl show)"
	r0=$(counter replies) p0=$(counter pass_no_state)
	probe 0.05 1
	assert_range "$(wc -l <"$TMP/probe.out")" 10 30 "chronyd's own answers"
	assert_eq "$(($(counter replies) - r0))" 0 "ntpk replies"
	assert_range "$(($(counter pass_no_state) - p0))" 10 30 "pass_no_state"
	sleep 1
	assert_eq "$(logged 'withdrawn (error-bound)')" 1 "withdrawal logged once"
	follow_stop
}
run_test error_bound_withdrawn error_bound

# ---- 9 ----
# chronyd's correction (field 5) and the client's clock when it was read,
# in us, midway.
corr_at()	# VAR-TIME VAR-CORR
{
	local t0=${EPOCHREALTIME/./} c

	c=$(tracking 5)
	printf -v "$1" %s $(((t0 + ${EPOCHREALTIME/./}) / 2))
	printf -v "$2" %s "$c"
}

within_dispersion()
{
	local ta ca tb cb ts st r0 bad try

	n "$SRV" ntpkctl set max-age 10
	# Served, with chronyd's reference frozen; up to three tries.
	# chronyd's skew under emulation (hundreds of ppm at times) and the
	# 600 ppm slew may pass what the module can age a state at (1000
	# ppm), and follow rightly withdraws (error-bound).  Frozen, chronyd
	# takes no sample that could bring its skew down (a CI run's 403 ppm
	# held for the whole wait), so that is retried with the upstream
	# running again; anything else fails.
	for try in 1 2 3; do
		follow_start --max-error 1s
		wait_until 30 freq_near -300 || fail "chronyd's frequency $(tracking 8) ppm, not -300"
		freeze || fail "chronyd's reference time still moves"
		wait_until 20 usable && break
		grep -q "above the module's" "$TMP/follow.log" && [ "$try" -lt 3 ] ||
			{ fail "not usable with --max-error 1s: $(cat "$TMP/follow.log")"; return 0; }
		diag "try $try: $(grep "above the module's" "$TMP/follow.log" | tail -n 1 | sed 's/.*follow: //')"
		follow_stop
		kill -CONT "$UPSTREAM"
		sleep 2
	done
	corr_at ta ca
	# follow's polls stopped: the module ages the last state alone.
	kill -STOP "$FOLLOW"
	st=$(n "$SRV" ntpkctl -j show)
	ts=${EPOCHREALTIME/./}
	r0=$(counter replies)
	probe 0.02 4
	kill -CONT "$FOLLOW"
	corr_at tb cb
	kill -CONT "$UPSTREAM"
	diag "correction $ca s, $cb s $(((tb - ta) / 1000)) ms later; state at the stop: $(grep -o '"root_dispersion":[0-9.]*\|"disp_rate_ppb":[0-9]*\|"age_ms":[0-9]*' <<<"$st" | tr '\n' ' ')"
	assert_range "$(wc -l <"$TMP/probe.out")" 130 210 "replies"
	assert_eq "$(($(counter replies) - r0))" "$(wc -l <"$TMP/probe.out")" "all from ntpk"
	# chronyd's reference frozen, its time leaves the kernel clock on a
	# line: c(t) = ca + (cb - ca) (t - ta) / (tb - ta).  Each reply's
	# transmit time is within its root dispersion + root delay / 2 of
	# chronyd's time while it was on its way ([t1 + c(t1), t4 + c(t4)]);
	# and its root dispersion is at least the state's, aged at the state's
	# rate for the state's age then (the age show gave, plus the time
	# since show returned, less 8 ms: show rounds its age up to the
	# millisecond, and read it before it returned).
	bad=$(awk -v base="$(cat "$TMP/probe.base")" -v ta="$ta" -v ca="$ca" \
		-v tb="$tb" -v cb="$cb" -v ts="$ts" \
		-v d="$(sed -n 's/.*"root_dispersion":\([0-9.]*\).*/\1/p' <<<"$st")" \
		-v rate="$(sed -n 's/.*"disp_rate_ppb":\([0-9]*\).*/\1/p' <<<"$st")" \
		-v age="$(sed -n 's/.*"age_ms":\([0-9]*\).*/\1/p' <<<"$st")" '
		function c(t) { return (ca + (cb - ca) * (t - ta) / (tb - ta)) * 1e9 }
		BEGIN {
			# us on the clock, from the probe base (ns)
			ta -= base / 1000; tb -= base / 1000; ts -= base / 1000
			dp = int(d * 65536 + 0.5) * 1e9 / 65536
		}
		{
			lo = $1 + c($1 / 1000); hi = $2 + c($2 / 1000); t = $8
			err = t < lo ? lo - t : (t > hi ? t - hi : 0)
			if (err > $7 + $6 / 2)
				print "error " err " ns above rootdisp " $7 " + rootdelay/2 " $6 / 2 " at " ($1 / 1000 - ts) / 1e6 " s"
			aged = age * 1e6 + $1 - ts * 1000 - 8e6
			want = dp + (aged > 0 ? aged : 0) * rate / 1e9
			if ($7 < want - 1)
				print "rootdisp " $7 " ns below the state aged at its rate " want " ns at " ($1 / 1000 - ts) / 1e6 " s"
		}' "$TMP/probe.out")
	assert_eq "$bad" "" "replies whose error exceeds rootdisp + rootdelay/2, or not aged"
	follow_stop
}
run_test error_within_served_dispersion within_dispersion

# ---- 10 ----
# chronyd with maxclockerror 10, the clock's frequency back (and the -300
# ppm the last chronyd wrote to its driftfile gone with it).
chronyd_stop "$SRV"
busybox adjtimex -q -f 0
rm -f "$(__chrony_dir "$SRV")/drift"
upstream_stop
upstream_start
chronyd_client "$SRV" "$U4 minpoll -2 maxpoll -2" -- "allow all" "maxclockerror 10"
# The served state, with chronyd's reference held still (its upstream
# stopped): true when the module still has it after freeze().
frozen_and_served()
{
	# The slew term (|kernel frequency + chronyd's|) near 0, so that
	# only the daemon's own rate is compared.
	wait_until 30 freq_near 0 || fail "chronyd's frequency $(tracking 8) ppm, not 0"
	# --max-error 1s: a correction chronyd slews out is not the point.
	follow_start --max-error 1s
	wait_until 5 usable || return 1
	freeze || fail "chronyd's reference time still moves"
	# follow reads the frozen reference for three polls; then its polls
	# stop, and the module ages the last state alone for 7 s.
	sleep 0.3
	wait_until 10 usable
}

maxclockerror()
{
	local ta0 ta1 tb0 tb1 A B st r0 first last try

	wait_until 30 synced || fail "chronyd never synchronised to UP"
	# Served, with chronyd's reference frozen; up to three tries.  Under
	# TCG on a loaded host chronyd's skew reaches 600 ppm: its rate and
	# the slew's then pass what the module can age a state at (1000 ppm)
	# and follow rightly withdraws (error-bound), which leaves nothing to
	# compare; that is retried, anything else fails.
	for try in 1 2 3; do
		frozen_and_served && break
		grep -q "above the module's" "$TMP/follow.log" && [ "$try" -lt 3 ] ||
			{ fail "not usable: $(cat "$TMP/follow.log")"; return 0; }
		diag "try $try: $(grep "above the module's" "$TMP/follow.log" | tail -n 1 | sed 's/.*follow: //')"
		follow_stop
		kill -CONT "$UPSTREAM"
	done
	ta0=${EPOCHREALTIME/./}
	IFS=, read -r -a A < <(n "$SRV" chronyc -c -h "$SOCK" tracking)
	ta1=${EPOCHREALTIME/./}
	kill -STOP "$FOLLOW"
	st=$(n "$SRV" ntpkctl -j show)
	r0=$(counter replies)
	probe 0.05 7
	kill -CONT "$FOLLOW"
	tb0=${EPOCHREALTIME/./}
	IFS=, read -r -a B < <(n "$SRV" chronyc -c -h "$SOCK" tracking)
	tb1=${EPOCHREALTIME/./}
	kill -CONT "$UPSTREAM"
	n "$SRV" ntpkctl set max-age 5
	diag "chronyd: skew ${A[9]} residual ${A[8]} frequency ${A[7]} ppm; state at the stop: $(grep -o '"disp_rate_ppb":[0-9]*\|"slew_rate_ppb":[0-9]*' <<<"$st" | tr '\n' ' ')"
	assert_eq "${B[3]}" "${A[3]}" "chronyd's reference time"
	assert_eq "$(($(counter replies) - r0))" "$(wc -l <"$TMP/probe.out")" "all from ntpk"
	assert_range "$(wc -l <"$TMP/probe.out")" 110 150 "replies"
	first=$(head -n 1 "$TMP/probe.out") last=$(tail -n 1 "$TMP/probe.out")
	# The rate the state ages at, less the slew's part, against chronyd's
	# own (chrony's get_root_dispersion: skew + |residual frequency| +
	# maxclockerror), from the report that held still, in ppb: each term
	# printed to the ppb, rounded.
	awk -v s="${A[9]}" -v r="${A[8]}" \
		-v d="$(sed -n 's/.*"disp_rate_ppb":\([0-9]*\).*/\1/p' <<<"$st")" \
		-v sl="$(sed -n 's/.*"slew_rate_ppb":\([0-9]*\).*/\1/p' <<<"$st")" 'BEGIN {
		want = s * 1000 + (r < 0 ? -r : r) * 1000 + 10000 - 1
		if (d - sl < want)
			printf "# FAIL: the state ages at %d ppb (%d of it the slew), below chronyd'\''s %d\n", d, sl, want + 1
	}' >"$TMP/rates"
	# chronyd's rate measured: its root dispersion's growth between the
	# two readings (same reference time), over at most the time between
	# them (so at least the rate); ntpk's: its replies' (NTP short format,
	# rounded up: what they stand for grew by more than what they say,
	# less 2^-16 s), from the first to the last, transmit to transmit,
	# less a jiffy either side.
	awk -v ta0="$ta0" -v ta1="$ta1" -v tb0="$tb0" -v tb1="$tb1" \
		-v da="${A[11]}" -v db="${B[11]}" -v f="$first" -v l="$last" 'BEGIN {
		rc = (db - da) / (tb1 - ta0) * 1e6
		split(f, F, " "); split(l, L, " ")
		dt = (L[8] - F[8]) / 1e9
		g = (L[9] - F[9] + 1) / 65536
		printf "# chronyd %.6f -> %.6f s in %.3f s or less: at least %.3f ppm; ntpk %d -> %d (2^-16 s) in %.3f s: at most %.3f ppm\n",
			da, db, (tb1 - ta0) / 1e6, rc * 1e6, F[9], L[9], dt, g / (dt - 0.008) * 1e6
		if (rc < 10e-6)
			print "# FAIL: chronyd ages slower than its maxclockerror 10 ppm"
		if (g < rc * (dt - 0.008))
			print "# FAIL: ntpk ages slower than chronyd"
	}' >>"$TMP/rates"
	sed -n '/FAIL/!p' "$TMP/rates"
	! grep -q FAIL "$TMP/rates" || fail "$(grep FAIL "$TMP/rates" | sed 's/^# FAIL: //' | tr '\n' ';')"
}
run_test maxclockerror_ntpk_ages_at_least_at_chronyds_rate maxclockerror

# ---- 11 ----
sigterm()
{
	local rc=0

	kill -TERM "$FOLLOW"
	wait "$FOLLOW" || rc=$?
	FOLLOW=
	assert_eq "$rc" 0 "exit status"
	! usable || fail "usable after follow stopped"
	shows follow-stopped || fail "show: $(n "$SRV" ntpkctl show)"
	assert_eq "$(logged 'follow: Terminated: withdrawn (follow-stopped), exiting$')" 1 "logged"
}
run_test sigterm_withdrawn_follow_stopped sigterm

sed 's/^/# follow: /' "$TMP/follow.log" | tail -n 20
ktap_finish
