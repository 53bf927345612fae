#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Per-client rate limiting and RATE kiss-o'-death in the fast path
# (issue 6, "Done when"), against exact counters:
#   - one client bursting 100 requests with burst 8 gets 8 answers plus the
#     leak share (leak 2), exactly 8 with leak 0;
#   - with kod on, one well-formed RATE KoD per period (tshark decode: LI 3,
#     stratum 0, refid RATE, origin echoed, poll raised to the interval);
#   - a second client within its limit is never limited while another one
#     floods, and the flooder gets no more than the GCRA allows;
#   - the budget refills at the configured rate (a 2^-4 s interval);
#   - IPv6 clients of one /64 share a budget, other /64s do not, and a /128
#     key separates them;
#   - changing the settings and turning rate limiting off under a flood is
#     clean (every change applies, counters add up to the packet, no kernel
#     complaint), and the module unloads with a table in place.
#
#   +-------------------------+          +-------------------------+
#   | client                  |          | server                  |
#   | c0 10.0.0.11..61/24     |--c0--s0--| s0 10.0.0.1/24          |
#   |    2001:db8:c1::a,b,51  |          |    2001:db8:c1::1/64    |
#   |    2001:db8:c2::a,52    |          |    2001:db8:c2::1/64    |
#   +-------------------------+          | ntpk; nft input counter |
#                                        +-------------------------+
#
# Run it as selftests/run does: scripts/vm-run --module kmod/ntpk.ko --
# selftests/ntpk_ratelimit.sh.  The clients are selftests/ntpk_rlsend.py.
# Under TCG every exec costs a noticeable fraction of a second: output is
# parsed with shell builtins, and each step enters a namespace once.
#
# settings: timeout=900

. "$(dirname "$0")/lib.sh"

SEND=$NTPK_SELFTESTS/ntpk_rlsend.py

SRV4=10.0.0.1
SRV6=2001:db8:c1::1
COUNTERS="requests replies pass_not_ours pass_unusual pass_bad_source
	pass_loopback pass_short pass_extensions pass_not_mode3
	pass_bad_version pass_no_state drop_malformed drop_checksum
	drop_route drop_xmit rl_dropped rl_leaked rl_kod pass_leap pass_route"

# "1.234567" seconds (six decimals, as ntpk_rlsend.py prints) in us.
usec() {
	local s=${1%.*} f=${1#*.}

	echo $((s * 1000000 + 10#$f))
}

ctl() {	# ARGS...: ntpkctl in the server
	ntpkctl -n "$SRV" "$@"
}

# The floods and the capture stop at exit, whatever happened.
cleanup() {
	touch "$TMP/stop" 2>/dev/null || true
}

# Kernel log lines that mean the kernel is unwell, since the test began.
dmesg_problems() {
	dmesg | tail -n +"$((DMESG_START + 1))" |
		grep -E 'WARNING:|BUG:|Oops|kernel BUG|general protection|rcu: INFO|self-detected stall|refcount_t:|UBSAN|KASAN|list_(add|del) corruption' ||
		true
}

# --- setup -------------------------------------------------------------------

CLIENT4="11 12 21 22 31 32 41 51 52 53 54 61"
setup() {
	local i batch=''

	require_cmd ip nft tcpdump tshark modprobe dmesg grep awk sh "$PY" \
		ntpkctl || return 1
	if [ ! -f "$SEND" ]; then
		diag "missing: $SEND"
		return 1
	fi
	ntpk_load || return 1

	ns_create CL SRV || return 1
	ip link add c0 netns "$CL" type veth peer name s0 netns "$SRV" ||
		return 1
	for i in $CLIENT4; do
		batch+="addr add 10.0.0.$i/24 dev c0"$'\n'
	done
	ip -n "$CL" -batch - <<-EOF || return 1
	${batch}addr add 2001:db8:c1::a/64 dev c0 nodad
	addr add 2001:db8:c1::b/64 dev c0 nodad
	addr add 2001:db8:c1::51/64 dev c0 nodad
	addr add 2001:db8:c2::a/64 dev c0 nodad
	addr add 2001:db8:c2::52/64 dev c0 nodad
	link set c0 up
	EOF
	ip -n "$SRV" -batch - <<-EOF || return 1
	addr add $SRV4/24 dev s0
	addr add $SRV6/64 dev s0 nodad
	addr add 2001:db8:c2::1/64 dev s0 nodad
	link set s0 up
	EOF

	# Counts the requests that reached the server's stack: a rate-limited
	# request must never be handed to the daemon.
	n "$SRV" nft -f - <<-EOF || return 1
	table inet ntpkt {
		chain in {
			type filter hook input priority 0;
			udp dport 123 counter
		}
	}
	EOF
	ctl set enable max-age 3600 &&
	ctl state set leap 0 stratum 2 precision -20 refid SRV \
		rootdelay 0.001 rootdisp 0.002 reftime "unix:$EPOCHSECONDS" ||
		return 1
	snap s0
}

# --- helpers -------------------------------------------------------------------

# The server's counters and its nft input counter, with one namespace
# entry, into V[TAG.counter] and V[TAG.nft_in]; PREV becomes the snapshot
# before, LAST this one.
PREV=
LAST=
snap() {	# TAG
	local f=$TMP/$1.snap line

	n "$SRV" sh -c 'nft list chain inet ntpkt in && ntpkctl stats' \
		>"$f" 2>&1 ||
		{ sed 's/^/# /' "$f"; fail "server snapshot"; return 1; }
	kv_load "$1." "$f"
	line=$(grep ' counter packets ' "$f")
	[[ $line =~ counter\ packets\ ([0-9]+) ]] ||
		{ fail "no nft counter"; return 1; }
	V[$1.nft_in]=${BASH_REMATCH[1]}
	PREV=$LAST
	LAST=$1
}

delta() {	# COUNTER: from snapshot PREV to LAST
	echo $((V[$LAST.$1] - V[$PREV.$1]))
}

# Every counter's change since the previous snapshot is as given, all
# others 0; nothing reached the server's stack.
expect_counters() {	# WHAT NAME=VALUE...
	local what=$1 c kv want
	shift

	for c in $COUNTERS nft_in; do
		want=0
		for kv in "$@"; do
			[ "${kv%%=*}" = "$c" ] && want=${kv#*=}
		done
		assert_eq "$(delta "$c")" "$want" "$what: $c"
	done
}

# Each of the outcome counters, one per request (rl_leaked is within
# replies): requests = replies + rl_kod + rl_dropped + pass_* + drop_*.
check_identity() {	# WHAT
	local c sum=0

	for c in $COUNTERS; do
		case $c in
		requests | rl_leaked) ;;
		*) sum=$((sum + $(delta "$c"))) ;;
		esac
	done
	assert_eq "$sum" "$(delta requests)" "$1: sum of outcomes vs requests"
}

rl() {	# ARGS...: ratelimit set ARGS in the server
	ctl ratelimit set "$@" || { fail "ratelimit set $*"; return 1; }
}

show_rl() {
	ctl show | grep '^  ratelimit: '
}

# Requests from one socket per source address, round robin; the client's
# view into V[TAG.I.key] for the I-th source.
burst() {	# TAG DST SRC[,SRC...] COUNT [OPTIONS...]
	local tag=$1 dst=$2 src=$3 count=$4
	shift 4

	n "$CL" "$PY" -S "$SEND" burst --dst "$dst" --src "$src" \
		--count "$count" "$@" >"$TMP/$tag" ||
		{ fail "$tag: burst failed"; return 1; }
	kv_load "$tag." "$TMP/$tag"
}

# Client I of TAG got exactly REPLIES answers and KOD KoDs, nothing wrong.
expect_client() {	# TAG I SENT REPLIES KOD
	local p=$1.$2

	assert_eq "${V[$p.sent]}/${V[$p.replies]}/${V[$p.kod]}" "$3/$4/$5" \
		"$1 client $2 sent/replies/kod"
	assert_eq "${V[$p.unanswered]}" $(($3 - $4 - $5)) \
		"$1 client $2 unanswered"
	assert_eq "${V[$p.bad]}/${V[$p.dups]}" 0/0 "$1 client $2 bad/dups"
}

# The most a GCRA with BURST and a period of PERIOD_US microseconds lets
# through between the first and the last answer of client I of TAG (by
# the receive timestamps the kernel wrote in them), plus one for the
# clock's rounding.
gcra_max() {	# TAG I BURST PERIOD_US
	local span=${V[$1.$2.rx_span]:-0.000000}

	echo $(($3 + $(usec "$span") / $4 + 1))
}

# --- tests -------------------------------------------------------------------

test_settings_shown() {
	assert_eq "$(show_rl)" "  ratelimit: off" "default setting"
	rl interval -4 burst 3 leak 0 kod on table-size 1024 v6-prefix 56
	assert_eq "$(show_rl)" \
		"  ratelimit: interval -4 burst 3 leak 0 kod on table-size 1024 v6-prefix 56" \
		"explicit setting"
	rl interval 3
	assert_eq "$(show_rl)" \
		"  ratelimit: interval 3 burst 8 leak 2 kod off table-size 1048576 v6-prefix 64" \
		"omitted words take their defaults"
}

# 100 requests at once, burst 8, leak 2: the 8 of the burst plus 1 in 4
# of the other 92.  Leaks are binomial(92, 1/4): mean 23, sd 4.2; 3..48 is
# more than 4.8 sd either side.
test_burst_leak() {
	local r

	rl interval 3 burst 8 leak 2 &&
	burst b1 $SRV4 10.0.0.11 100 && snap b1 || return 1
	r=${V[b1.0.replies]}
	expect_client b1 0 100 "$r" 0
	expect_counters b1 requests=100 replies="$r" rl_dropped=$((100 - r)) \
		rl_leaked=$((r - 8))
	assert_range $((r - 8)) 3 48 "leaked answers"
	diag "100 requests, burst 8, leak 2: $r answered"
}

test_burst_exact() {
	rl interval 3 burst 8 leak 0 &&
	burst b2 $SRV4 10.0.0.12 100 && snap b2 || return 1
	expect_client b2 0 100 8 0
	expect_counters b2 requests=100 replies=8 rl_dropped=92
}

# Two clients each burst 100 requests with kod on, one asking for poll 0,
# the other for poll 6; then the first bursts again within the period.
# Each gets its 8 answers and exactly one KoD (the KoD costs a period), the
# second burst nothing at all.  The capture is decoded by tshark: every
# KoD is a mode 4 reply with LI 3, version 4, stratum 0, refid RATE,
# poll max(interval, request's poll), from the server's port 123, and its
# origin is the transmit timestamp of one of that client's requests that
# got no answer.
test_kod() {
	local pid pcap=$TMP/kod.pcap i line kods=0
	local -A want

	rl interval 5 burst 8 leak 0 kod on || return 1
	bg_run "$CL" tcpdump -i c0 -n -U -w "$pcap" udp port 123 \
		2>"$TMP/tcpdump.err"
	pid=$BG_PID
	for i in $(seq 1 100); do
		grep -q 'listening on' "$TMP/tcpdump.err" && break
		nap 0.2
	done
	grep -q 'listening on' "$TMP/tcpdump.err" ||
		{ fail "tcpdump did not start"; return 1; }

	burst k1 $SRV4 10.0.0.21,10.0.0.22 100 --poll 0,6 &&
	burst k2 $SRV4 10.0.0.21 100 && snap k || return 1
	sleep 0.5
	kill -INT "$pid"
	wait "$pid"

	expect_client k1 0 100 8 1
	expect_client k1 1 100 8 1
	expect_client k2 0 100 0 0
	assert_eq "${V[k1.0.kod.0.li]}/${V[k1.0.kod.0.stratum]}/${V[k1.0.kod.0.poll]}" \
		3/0/5 "client 0 KoD li/stratum/poll"
	assert_eq "${V[k1.1.kod.0.li]}/${V[k1.1.kod.0.stratum]}/${V[k1.1.kod.0.poll]}" \
		3/0/6 "client 1 KoD li/stratum/poll"
	expect_counters k requests=300 replies=16 rl_kod=2 rl_dropped=282

	# Per frame: src port, dst port, li, vn, mode, stratum, poll, refid,
	# payload.  Requests remember their transmit timestamps per client
	# port; answers mark theirs; KoDs are printed with whether their origin
	# is an unanswered request's transmit timestamp of the same client.
	tshark -r "$pcap" -T fields -E separator=' ' -e udp.srcport \
		-e udp.dstport -e ntp.flags.li -e ntp.flags.vn \
		-e ntp.flags.mode -e ntp.stratum -e ntp.ppoll -e ntp.refid \
		-e udp.payload 2>"$TMP/tshark.err" >"$TMP/kod.fields" ||
		{ fail "tshark: $(cat "$TMP/tshark.err")"; return 1; }
	awk '
	$5 == 3 { xmt[$1 " " substr($9, 81, 16)] = 1; nreq++ }
	$5 == 4 && $6 != 0 { answered[$2 " " substr($9, 49, 16)] = 1; n++ }
	$5 == 4 && $6 == 0 { kod[++nk] = $0 }
	END {
		for (i = 1; i <= nk; i++) {
			split(kod[i], f, " ")
			o = f[2] " " substr(f[9], 49, 16)
			print "kod", f[2], f[1], f[3], f[4], f[5], f[6], f[7],
				f[8], (o in xmt) && !(o in answered) ? \
				"echoed" : "not-echoed"
		}
		print "requests", nreq
		print "answers", n
	}' "$TMP/kod.fields" >"$TMP/kod.decoded"
	# "kod CLIENT-PORT" then sport li vn mode stratum poll refid origin
	want[${V[k1.0.port]}]="123 3 4 4 0 5 52415445 echoed"
	want[${V[k1.1.port]}]="123 3 4 4 0 6 52415445 echoed"
	while read -r line; do
		case $line in
		kod\ *)
			kods=$((kods + 1))
			set -- $line
			assert_eq "${line#kod $2 }" "${want[$2]:-none}" \
				"KoD to port $2 (sport li vn mode stratum poll refid origin)"
			unset "want[$2]"
			;;
		'requests '*)
			assert_eq "$line" "requests 300" "requests in the capture" ;;
		'answers '*)
			assert_eq "$line" "answers 16" "answers in the capture" ;;
		esac
	done <"$TMP/kod.decoded"
	assert_eq "$kods" 2 "KoDs in the capture"
}

# Client .31 floods; client .32 sends 12 requests 0.3 s apart, above the
# 0.25 s period (interval -2), meanwhile.  The second client is never
# limited; the flooder gets its burst plus one per period, no more.
test_second_client() {
	local pid r bound i

	rl interval -2 burst 8 leak 0 || return 1
	rm -f "$TMP/stop" "$TMP/started"
	bg_run "$CL" "$PY" -S "$SEND" flood --dst $SRV4 --src 10.0.0.31 \
		--stop "$TMP/stop" --started "$TMP/started" >"$TMP/f1"
	pid=$BG_PID
	for i in $(seq 1 150); do
		[ -e "$TMP/started" ] && break
		nap 0.2
	done
	[ -e "$TMP/started" ] || { fail "flood did not start"; return 1; }
	burst g $SRV4 10.0.0.32 12 --gap 0.3
	touch "$TMP/stop"
	wait "$pid" || { fail "flood failed"; return 1; }
	kv_load f1. "$TMP/f1"
	snap g || return 1

	expect_client g 0 12 12 0
	r=${V[f1.0.replies]}
	bound=$(gcra_max f1 0 8 250000)
	diag "flooder: ${V[f1.0.sent]} sent, $r answered (at most $bound)"
	assert_range "$r" 8 "$bound" "flooder's answers"
	assert_eq "${V[f1.0.kod]}/${V[f1.0.bad]}/${V[f1.0.dups]}" 0/0/0 \
		"flooder's kod/bad/dups"
	assert_eq "$(( ${V[f1.0.sent]} > 200 ))" 1 "flooder sent over 200"
	expect_counters g requests=$((12 + V[f1.0.sent])) \
		replies=$((12 + r)) rl_dropped=$((V[f1.0.sent] - r))
}

# Interval -4 (62.5 ms): 100 requests at once get the burst of 8 and at
# most one more per period; a second later the budget is full again.
test_refill() {
	local r1 r2

	rl interval -4 burst 8 leak 0 &&
	burst r1 $SRV4 10.0.0.41 100 || return 1
	sleep 1
	burst r2 $SRV4 10.0.0.41 100 && snap r || return 1
	r1=${V[r1.0.replies]}
	r2=${V[r2.0.replies]}
	diag "interval -4: $r1 then, a second later, $r2 of 100 answered"
	assert_range "$r1" 8 "$(gcra_max r1 0 8 62500)" "first burst's answers"
	assert_range "$r2" 8 "$(gcra_max r2 0 8 62500)" "second burst's answers"
	expect_client r1 0 100 "$r1" 0
	expect_client r2 0 100 "$r2" 0
	expect_counters r requests=200 replies=$((r1 + r2)) \
		rl_dropped=$((200 - r1 - r2))
	assert_eq "$(( $(delta rl_dropped) > 0 ))" 1 "some requests limited"
}

# ::a and ::b of 2001:db8:c1::/64 share one budget of 8, ::a of
# 2001:db8:c2::/64 has its own (all three interleaved); with a /128 key
# ::a and ::b have one each.
test_ipv6_prefix() {
	rl interval 3 burst 8 leak 0 &&
	burst p64 $SRV6 2001:db8:c1::a,2001:db8:c1::b,2001:db8:c2::a 30 &&
	snap p64 || return 1
	assert_eq $((V[p64.0.replies] + V[p64.1.replies])) 8 \
		"answers to one /64's two addresses"
	assert_eq "${V[p64.2.replies]}" 8 "answers to the other /64"
	expect_counters p64 requests=90 replies=16 rl_dropped=74

	rl interval 3 burst 8 leak 0 v6-prefix 128 &&
	burst p128 $SRV6 2001:db8:c1::a,2001:db8:c1::b 30 &&
	snap p128 || return 1
	expect_client p128 0 30 8 0
	expect_client p128 1 30 8 0
	expect_counters p128 requests=60 replies=16 rl_dropped=44
}

# Floods over both families from six clients while the settings change
# under them, rate limiting included off and on again.  Every change
# applies; every request and every answer is accounted for: what the
# clients sent = requests + what the client's veth dropped, and what the
# server sent = what the clients got + what the server's veth dropped +
# client socket overflows.
SETTINGS=(
	"interval -19 burst 1 leak 0 kod on table-size 1024 v6-prefix 16"
	"interval 12 burst 255 leak 16 kod off table-size 4194304 v6-prefix 128"
	"interval -4 burst 8 leak 1 kod on"
	off
	"interval 0 burst 2 leak 3 kod off table-size 2048 v6-prefix 48"
	"interval -10 burst 4 leak 0 kod on table-size 65536"
	off
	"interval 3"
)
netstats() {	# TAG: the veths' tx_dropped and the client's UDP errors
	local f=$TMP/$1.net

	n "$CL" sh -c '
		read d </sys/class/net/c0/statistics/tx_dropped || [ -n "$d" ]
		echo c0_tx_dropped $d
		grep "^Udp: [0-9]" /proc/net/snmp' >"$f" &&
	n "$SRV" sh -c '
		read d </sys/class/net/s0/statistics/tx_dropped || [ -n "$d" ]
		echo s0_tx_dropped $d' >>"$f" || return 1
	kv_load "$1." "$f"
	# Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors ...
	set -- ${V[$1.Udp]}
	V[$1.rcvbuf_errors]=$5
}

test_churn_under_flood() {
	local p4 p6 i s round=0 errs=0 sent=0 got=0 c

	rl interval -1 burst 4 leak 1 kod on || return 1
	netstats n0 || { fail "net stats"; return 1; }
	rm -f "$TMP/stop" "$TMP/started4" "$TMP/started6"
	bg_run "$CL" "$PY" -S "$SEND" flood --dst $SRV4 \
		--src 10.0.0.51,10.0.0.52,10.0.0.53,10.0.0.54 \
		--stop "$TMP/stop" --started "$TMP/started4" >"$TMP/c4"
	p4=$BG_PID
	bg_run "$CL" "$PY" -S "$SEND" flood --dst $SRV6 \
		--src 2001:db8:c1::51,2001:db8:c2::52 \
		--stop "$TMP/stop" --started "$TMP/started6" >"$TMP/c6"
	p6=$BG_PID
	for i in $(seq 1 150); do
		[ -e "$TMP/started4" ] && [ -e "$TMP/started6" ] && break
		nap 0.2
	done
	[ -e "$TMP/started4" ] && [ -e "$TMP/started6" ] ||
		{ fail "floods did not start"; touch "$TMP/stop"; return 1; }
	for round in 1 2; do
		for s in "${SETTINGS[@]}"; do
			if [ "$s" = off ]; then
				ctl ratelimit off || errs=$((errs + 1))
			else
				ctl ratelimit set $s || errs=$((errs + 1))
			fi
		done
	done
	touch "$TMP/stop"
	wait "$p4" || fail "IPv4 flood failed"
	wait "$p6" || fail "IPv6 flood failed"
	snap churn && netstats n1 || return 1
	kv_load c4. "$TMP/c4"
	kv_load c6. "$TMP/c6"

	assert_eq "$errs" 0 "settings changes that failed"
	assert_eq "$(show_rl)" \
		"  ratelimit: interval 3 burst 8 leak 2 kod off table-size 1048576 v6-prefix 64" \
		"the last setting"
	for c in c4.0 c4.1 c4.2 c4.3 c6.0 c6.1; do
		sent=$((sent + V[$c.sent]))
		got=$((got + V[$c.replies] + V[$c.kod]))
		assert_eq "${V[$c.bad]}/${V[$c.dups]}" 0/0 "$c bad/dups"
	done
	diag "flood: $sent sent, $got answers and KoDs received;" \
		"replies $(delta replies) (leaked $(delta rl_leaked))," \
		"kod $(delta rl_kod), rl_dropped $(delta rl_dropped)," \
		"drop_xmit $(delta drop_xmit)"
	check_identity churn
	for c in $COUNTERS nft_in; do
		case $c in
		requests | replies | rl_*) ;;
		*) assert_eq "$(delta "$c")" 0 "churn: $c" ;;
		esac
	done
	assert_eq "$(( $(delta rl_leaked) <= $(delta replies) ))" 1 \
		"leaked within replies"
	assert_eq "$(( $(delta rl_dropped) > 0 && $(delta rl_kod) > 0 ))" 1 \
		"the floods were limited and kissed"
	assert_eq $((sent - V[n1.c0_tx_dropped] + V[n0.c0_tx_dropped])) \
		"$(delta requests)" "requests: sent less the client veth's drops"
	assert_eq $((got + V[n1.s0_tx_dropped] - V[n0.s0_tx_dropped] +
		     V[n1.rcvbuf_errors] - V[n0.rcvbuf_errors])) \
		$(($(delta replies) + $(delta rl_kod))) \
		"answers: received plus the server veth's and sockets' drops"
	assert_eq "$(dmesg_problems | head -5)" "" "kernel log problems"
}

test_off() {
	ctl ratelimit off || { fail "ratelimit off"; return 1; }
	assert_eq "$(show_rl)" "  ratelimit: off" "setting"
	burst off $SRV4 10.0.0.61 50 && snap off || return 1
	expect_client off 0 50 50 0
	expect_counters off requests=50 replies=50
}

# Unload with a table in place and the hooks on.
test_unload() {
	rl interval 0 burst 4 leak 1 kod on || return 1
	modprobe -r ntpk || { fail "modprobe -r ntpk"; return 1; }
	[ ! -d /sys/module/ntpk ] || fail "ntpk still loaded"
	assert_eq "$(dmesg_problems | head -5)" "" "kernel log problems"
}

TESTS=(
	settings_shown test_settings_shown
	burst_leak test_burst_leak
	burst_exact test_burst_exact
	kod test_kod
	second_client test_second_client
	refill test_refill
	ipv6_prefix test_ipv6_prefix
	churn_under_flood test_churn_under_flood
	ratelimit_off test_off
	unload test_unload
)

DMESG_START=$(dmesg | wc -l)
ktap_plan $((${#TESTS[@]} / 2 + 1))
run_test setup setup
SETUP_FAIL=$T_FAIL
for ((i = 0; i < ${#TESTS[@]}; i += 2)); do
	if [ "$SETUP_FAIL" != 0 ]; then
		ktap_fail "${TESTS[i]} # setup failed"
	else
		run_test "${TESTS[i]}" "${TESTS[i + 1]}"
	fi
done
ktap_finish
