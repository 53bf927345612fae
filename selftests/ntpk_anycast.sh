#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=900
#
# Anycast that heals itself (issue 16): four nodes announce the VIPs over
# BGP, from the configurations in docs/operator.md (nodes 1-3 BIRD 2,
# node 4 FRR), each running chronyd, ntpk and `ntpkctl follow --vip`; the
# router (BIRD 2, or FRR as ntpk_anycast_frr.sh has it;
# the guide's configuration too) merges their routes into one multipath
# route.  Clients behind the router query the VIPs all along, and the
# TTL (hop limit) of each reply says which node answered: node i sends
# with 60 + i, the client sees 59 + i.
#
#                                  +--------------------+  b1..b4  +---------------+
#   +----------------------+       | router RT          +----------+ node i (1..4) |
#   | clients CL           |       |  r0 203.0.113.1    |   br0    |  e0 198.51.100.1i
#   |  203.0.113.2-5       +-c0--r0+     2001:db8:2::1  |          |     2001:db8:1::1i
#   |  2001:db8:2::2-5     |       |  br0 198.51.100.1  |          |  VIPs: local routes,
#   |                      |       |      2001:db8:1::1 |          |   on ntpvip if good
#   |  ntpk_anycastq.py    |       |  BIRD: ECMP to VIP |          |  chronyd stratum 2
#   +----------------------+       |                    |          |  ntpk, follow, BIRD
#                                  |                    |          |   (node 4: FRR)
#                                  +--------------------+          +---------------+
#
# Then every node follows the same upstream (the router runs one,
# ntpk_anycastq.py upstream), which moves by 20 ms at once: every fast
# path steps aside (error-bound), every node stays in the route and
# answers from its chronyd; then a real leap second across the cluster
# (the guest's clock at 2016-12-31 23:59:40, the kernel armed to insert
# it, the upstream announcing it): chronyd's 2 s of leap status 3 withdraw
# every fast path, and no VIP; then the upstream goes.
# Then: node 4's chronyd loses synchronisation (chronyc local off) and
# comes back, flapping once; node 3's stratum goes above --max-stratum;
# node 2's BIRD hangs (SIGSTOP) and the router's hold timer drops it;
# node 1's BIRD is killed, and the router drops it as its session closes;
# node 4's follow is killed outright, and its VIPs' lease runs out.

. "$(dirname "$0")/lib.sh"

DOC=$NTPK_TOP/docs/operator.md
VIP4=192.0.2.123 VIP6=2001:db8::123
Q=("$PY" "$NTPK_SELFTESTS/ntpk_anycastq.py")
NNODES=4
# The test's timers: BGP hold time and keepalive (the guide has 9 and 3),
# follow's hold-down (60 s by default).  A hold timer expires at the
# earliest hold - keepalive after a BIRD stops: 3 s, so that a killed
# BIRD's closed session (dropped at once, phase 8) is told apart with a
# loaded host's second to spare (a CI run measured 2041 ms with 3 and 1).
BGP_HOLD=4 BGP_KEEPALIVE=1
HOLD_DOWN=5
# follow's lease on the VIPs with chronyd (a poll every 0.1 s, a reading's
# wait 1 s): three polls with their waits, at least 10 s.
LEASE=10
# What "within the bound" allows: follow polls chronyd every 0.1 s and
# waits at most 1 s for a reading, then BGP and the router's BIRD; under
# TCG, with the polling of the route, a few seconds more (and more on
# check-debug's slow kernel).
WITHDRAW_MAX_MS=$((5000 * NTPK_SLOW))
TRAFFIC=6		# seconds of client traffic per phase

FRR=/usr/lib/frr
FRR_NODE=4		# runs FRR, the others BIRD
# What the router runs: bird, or frr (ntpk_anycast_frr.sh).
ROUTER=${NTPK_ANYCAST_ROUTER:-bird}
case $ROUTER in
bird) RT_PROTO=bird ;;
frr) RT_PROTO=bgp ;;	# zebra's routes from bgpd
*) echo "# NTPK_ANYCAST_ROUTER=$ROUTER: bird or frr"; exit 1 ;;
esac
require_cmd ip sysctl bird birdc chronyd chronyc ntpkctl "$PY" \
	"$FRR/zebra" "$FRR/bgpd"
id frr >/dev/null || { echo "# no user frr (the frr package makes it)"; exit 1; }

# The phases where only the nodes act: every node's upstream steps, then a
# leap second (and the restart of every chronyd it needs).  The routes do
# not change in them, so ntpk_anycast_frr.sh, whose nodes are these and
# whose router alone differs, leaves them to this test (0).
NODE_PHASES=${NTPK_ANYCAST_NODE_PHASES:-1}
ktap_plan $((NODE_PHASES ? 11 : 9))

now_ms() { NOW=$((${EPOCHREALTIME/./} / 1000)); }
unix() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# A block of the guide, between its ntpk_anycast markers.
doc_block() {	# NAME
	sed -n "/^<!-- ntpk_anycast $1 begin/,/^<!-- ntpk_anycast $1 end/p" "$DOC" |
		sed '/^<!--/d; /^```/d'
}

# The guide's block NAME in OUT (its directory made), through each
# SED-EXPR.  The callers check that every substitution happened, or the
# guide changed under the test.
guide_conf() {	# NAME OUT [SED-EXPR...]
	local name=$1 out=$2 e

	shift 2
	mkdir -p "$(dirname "$out")"
	doc_block "$name" >"$out"
	[ -s "$out" ] || { echo "# no $name block in $DOC"; return 1; }
	for e in "$@"; do
		sed -i "$e" "$out"
	done
}

# A BIRD block with the test's timers.
bird_conf() {	# NAME OUT [SED-EXPR...]
	local name=$1 out=$2

	shift 2
	guide_conf "$name" "$out" "s/hold time 9;/hold time $BGP_HOLD;/" \
		"s/keepalive time 3;/keepalive time $BGP_KEEPALIVE;/" "$@" &&
	grep -q "hold time $BGP_HOLD;" "$out" &&
		grep -q "keepalive time $BGP_KEEPALIVE;" "$out" || {
		echo "# $name: the guide's timers are not as expected"
		return 1
	}
	echo "log \"$out.log\" all;" >>"$out"
}

bird_start() {	# NS NAME CONF
	n "$1" bird -c "$3" -s "$TMP/bird-$2.ctl" -P "$TMP/bird-$2.pid"
	defer bird_kill "$2"
}

bird_kill() {	# NAME
	local pid

	pid=$(cat "$TMP/bird-$1.pid" 2>/dev/null) || return 0
	kill -9 "$pid" 2>/dev/null || true
}

# The nodes the router's route to the VIP of family 4 or 6 goes to, in
# order: "1 2 3 4", or "" for no route; a next hop that is no node's
# address (a link-local one, say) follows as it is, and matches no WANT.
HOPS4= HOPS6=
read_hops() {
	local f out a other
	local -a seen

	for f in 4 6; do
		if [ $f = 4 ]; then
			out=$(ip -n "$RT" route show $VIP4/32)
		else
			out=$(ip -n "$RT" -6 route show $VIP6/128)
		fi
		seen=()
		other=
		while [[ $out =~ via\ ([0-9a-f:.]+)(.*) ]]; do
			a=${BASH_REMATCH[1]}
			out=${BASH_REMATCH[2]}
			if [[ $a =~ ^(198\.51\.100\.1|2001:db8:1::1)([1-9])$ ]]; then
				seen[BASH_REMATCH[2]]=${BASH_REMATCH[2]}
			else
				other+=" $a"
			fi
		done
		printf -v "HOPS$f" '%s' "${seen[*]}$other"
	done
}

hops_are() {	# WANT
	read_hops
	[ "$HOPS4" = "$1" ] && [ "$HOPS6" = "$1" ]
}

# Waits until both families' routes go to exactly WANT; the time it saw it
# in $NOW.  On a timeout, says what they were.
wait_hops() {	# WANT SEC
	if wait_until "$2" hops_are "$1"; then
		now_ms
		return 0
	fi
	now_ms
	fail "routes to the VIP: IPv4 '$HOPS4', IPv6 '$HOPS6', want '$1' within $2 s"
	routing_diag
	return 1
}

# What an FRR instance says: its logs, vtysh's views, its daemons' states.
frr_diag() {	# NS DIR
	local c

	tail -n 20 "$2"/*.log "$2"/*.stderr 2>&1 | sed 's/^/#   /'
	for c in 'show interface brief' 'show ip route' 'show ip bgp summary' \
		 'show ip bgp' 'show bgp ipv6' 'show running-config'; do
		echo "#   vtysh: $c"
		n "$1" timeout 10 vtysh --vty_socket "$2" -c "$c" 2>&1 |
			sed 's/^/#   /'
	done
	for c in zebra bgpd; do
		echo "#   $c: $(grep State "/proc/$(cat "$2/$c.pid")/status") $(cat "/proc/$(cat "$2/$c.pid")/wchan")"
	done
}

# What the router and node FRR_NODE's FRR say, once.
routing_diag() {
	[ -z "${ROUTING_DIAG_DONE:-}" ] || return 0
	ROUTING_DIAG_DONE=1
	if [ "$ROUTER" = bird ]; then
		birdc -s "$TMP/bird-rt.ctl" show protocols 2>&1 | sed 's/^/#   /'
		birdc -s "$TMP/bird-rt.ctl" show route all 2>&1 | sed 's/^/#   /'
	else
		frr_diag "$RT" "$TMP/frr-rt"
	fi
	n "${NODE[$FRR_NODE]}" ip addr show dev ntpvip 2>&1 | sed 's/^/#   /'
	frr_diag "${NODE[$FRR_NODE]}" "$TMP/frr"
}

# Node INDEX's chronyd: a local-clock server of stratum 2 (-x: the clock is
# the guest's, shared by all).  Every namespace reads that one clock, so
# its frequency against any upstream is exactly 0: the drift file says so
# (0 ppm, skew 0.001 ppm) and maxupdateskew 0 keeps chronyd from replacing
# it with an estimate of noise, which -x's driver would integrate across
# the leap subtest's jumps of the clock (ten years each way) into a
# correction of minutes.  -x cannot leave the leap to the kernel
# (leapsecmode system), which the test arms itself: ignore is the same for
# chronyd's time, and it still reports leap status 3 for 2 s after.
node_chronyd() {	# INDEX
	local node=${NODE[$1]}

	mkdir -p "$TMP/chrony-$node"
	echo "0.000 0.001" >"$TMP/chrony-$node/drift"
	chronyd_server "$node" 2 "maxupdateskew 0" "leapsecmode ignore"
}

node_setup() {	# INDEX
	local i=$1 node=${NODE[$1]}

	ip link add "b$i" netns "$RT" type veth peer name e0 netns "$node"
	ip -n "$RT" link set "b$i" master br0 up
	# The VIPs always delivered locally (AnyIP routes, as the guide has
	# it), announced only while on ntpvip.
	ip -n "$node" -batch - <<-EOF
	route add local $VIP4/32 dev lo table local
	route add local $VIP6/128 dev lo table local
	link add ntpvip type dummy
	link set ntpvip up
	addr add 198.51.100.1$i/24 dev e0
	addr add 2001:db8:1::1$i/64 dev e0 nodad
	link set e0 up
	route add default via 198.51.100.1
	route add ::/0 via 2001:db8:1::1
	EOF
	n "$node" sysctl -qw net.ipv4.ip_default_ttl=$((60 + i)) \
		net.ipv6.conf.all.hop_limit=$((60 + i)) \
		net.ipv6.conf.e0.hop_limit=$((60 + i))

	node_chronyd "$i"
	ntpkctl -n "$node" addr add $VIP4
	ntpkctl -n "$node" addr add $VIP6
	ntpkctl -n "$node" set enable
	bg_run "$node" ntpkctl follow \
		--source "chronyd:$TMP/chrony-$node/chronyd.sock" \
		--vip-dev ntpvip --vip $VIP4 --vip $VIP6 \
		--hold-down $HOLD_DOWN 2>"$TMP/follow-$i.log"
	FOLLOW_PID[i]=$BG_PID

	if [ "$i" = "$FRR_NODE" ]; then
		frr_node_conf "$i" "$TMP/frr/frr.conf" &&
			frr_start "$node" "$TMP/frr"
		return
	fi
	bird_conf bird-node "$TMP/bird-$i.conf" \
		"s/198\.51\.100\.11\b/198.51.100.1$i/g" \
		"s/2001:db8:1::11\b/2001:db8:1::1$i/g"
	grep -q "local 198.51.100.1$i as" "$TMP/bird-$i.conf"
	grep -q "local 2001:db8:1::1$i as" "$TMP/bird-$i.conf"
	bird_start "$node" "$i" "$TMP/bird-$i.conf"
}

# An FRR block with the test's timers (every neighbour's).
frr_conf() {	# NAME OUT [SED-EXPR...]
	local name=$1 out=$2

	shift 2
	guide_conf "$name" "$out" \
		"s/ timers 3 9$/ timers $BGP_KEEPALIVE $BGP_HOLD/" "$@" &&
	grep -q " timers $BGP_KEEPALIVE $BGP_HOLD$" "$out" &&
		! grep -q " timers 3 9$" "$out" || {
		echo "# the guide's $name block is not as expected"
		return 1
	}
}

# Node INDEX's: the guide's node, with its own router id.
frr_node_conf() {	# INDEX OUT
	frr_conf frr-node "$2" "s/198\.51\.100\.11\b/198.51.100.1$1/g" &&
		grep -q "bgp router-id 198.51.100.1$1$" "$2" || {
		echo "# the guide's FRR node has no router id 198.51.100.11"
		return 1
	}
}

# FRR, zebra and bgpd, with DIR/frr.conf; their sockets, pid files and
# logs in DIR.  They run as the package's user frr, as they do on a node
# or a router (zebra refuses root, which is not in group frrvty).
frr_start() {	# NS DIR
	local d=$2

	: >"$d/zebra.conf"
	chown frr:frr "$d"
	chmod 755 "$TMP"
	n "$1" "$FRR/zebra" -d -f "$d/zebra.conf" -i "$d/zebra.pid" \
		-z "$d/zserv.api" --vty_socket "$d" --log "file:$d/zebra.log" \
		2>"$d/zebra.stderr"
	defer frr_kill "$d" zebra
	n "$1" "$FRR/bgpd" -d -f "$d/frr.conf" -i "$d/bgpd.pid" \
		-z "$d/zserv.api" --vty_socket "$d" --log "file:$d/bgpd.log" \
		2>"$d/bgpd.stderr"
	defer frr_kill "$d" bgpd
}

frr_kill() {	# DIR DAEMON
	local pid

	pid=$(cat "$1/$2.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
}

ntpk_load
ns_create CL RT N1 N2 N3 N4
NODE=("" "$N1" "$N2" "$N3" "$N4")
veth_pair "$CL" c0 "$RT" r0
ip -n "$CL" -batch - <<EOF
addr add 203.0.113.2/24 dev c0
addr add 203.0.113.3/24 dev c0
addr add 203.0.113.4/24 dev c0
addr add 203.0.113.5/24 dev c0
addr add 2001:db8:2::2/64 dev c0 nodad
addr add 2001:db8:2::3/64 dev c0 nodad
addr add 2001:db8:2::4/64 dev c0 nodad
addr add 2001:db8:2::5/64 dev c0 nodad
route add default via 203.0.113.1
route add ::/0 via 2001:db8:2::1
EOF
ip -n "$RT" -batch - <<EOF
addr add 203.0.113.1/24 dev r0
addr add 2001:db8:2::1/64 dev r0 nodad
link add br0 type bridge
link set br0 up
addr add 198.51.100.1/24 dev br0
addr add 2001:db8:1::1/64 dev br0 nodad
EOF
# Every request the router drops for want of a route gets its unreachable
# back (no rate limit), which the client ties to the request.
n "$RT" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
	net.ipv4.fib_multipath_hash_policy=1 \
	net.ipv6.fib_multipath_hash_policy=1 \
	net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
# Both routers' configurations are made, and checked by the last subtest;
# ROUTER's runs.
bird_conf bird-router "$TMP/bird-rt.conf"
frr_conf frr-router "$TMP/frr-rt/frr.conf"
if [ "$ROUTER" = bird ]; then
	bird_start "$RT" rt "$TMP/bird-rt.conf"
else
	frr_start "$RT" "$TMP/frr-rt"
fi
for i in $(seq 1 $NNODES); do
	node_setup "$i"
done
bg_run "$CL" "${Q[@]}" run --log "$TMP/q.log" --stop "$TMP/q.stop" \
	--rate 40 --per-src 16 \
	--dst $VIP4 --src 203.0.113.2,203.0.113.3,203.0.113.4,203.0.113.5 \
	--dst $VIP6 --src 2001:db8:2::2,2001:db8:2::3,2001:db8:2::4,2001:db8:2::5
CLIENT_PID=$BG_PID

# What the router itself dropped for want of a route (and the unreachables
# it sent back), absolute: a client's loss at a route change is the router's
# when these grow with it.
router_noroute() {
	n "$RT" nstat -asz IpExtInNoRoutes Ip6InNoRoutes IcmpOutDestUnreachs \
		Icmp6OutDestUnreachs | awk '$1 ~ /^(Ip|Icmp)/ { print $1, $2 }'
}
router_noroute >"$TMP/noroute0"

declare -A T		# phase times, ms since the epoch

# Runs CMD, then waits until the routes go to exactly WANT: the times in
# T[START] and T[END], the difference in ms in $DT.
route_change() {	# START END WANT CMD...
	local start=$1 end=$2 want=$3

	shift 3
	now_ms
	T[$start]=$NOW
	"$@" >/dev/null
	wait_hops "$want" 30 || return 1
	T[$end]=$NOW
	DT=$((T[$end] - T[$start]))
}

# $TRAFFIC seconds of the clients' traffic, then T[END].
traffic() {	# END
	sleep $TRAFFIC
	now_ms
	T[$1]=$NOW
}

# --- 1: all four announce, after their hold-down ---------------------------
all_serve() {
	# BGP connects after BIRD's 5 s connect delay, follow announces after
	# the hold-down: well within a minute.
	wait_hops "1 2 3 4" 60 || return 0
	T[all]=$NOW
	# The route is the one ROUTER installed.
	[[ $(ip -n "$RT" route show $VIP4/32) = *" proto $RT_PROTO "* ]] &&
		[[ $(ip -n "$RT" -6 route show $VIP6/128) = *" proto $RT_PROTO "* ]] ||
		fail "the routes to the VIPs are not $ROUTER's (proto $RT_PROTO)"
	traffic all_end
}
run_test "all_four_nodes_announce_the_vips_over_bgp" all_serve

# --- the nodes' common upstream --------------------------------------------
# The router serves NTP on UP: the guest's clock plus an offset, with a
# leap indicator, both from $TMP/up.ctl; each write reaches every node's
# next poll (every 0.25 s) at once.  The nodes' chronyd (-x: the clock is
# the guest's, shared by all) keep their local reference, which the later
# phases change, and take UP as a source only for the next two subtests.
UP=198.51.100.1 UP_REFID=C6336401
CLOCK=$NTPK_SELFTESTS/ntpk_clock.py
up_set() {	# OFFSET LI
	echo "$1 $2" >"$TMP/up.ctl.tmp"
	mv "$TMP/up.ctl.tmp" "$TMP/up.ctl"
}
up_set 0 0
bg_run "$RT" "${Q[@]}" upstream --listen $UP --ctl "$TMP/up.ctl"

# What chronyd -c tracking of node INDEX says in FIELD (1 the reference
# ID, 14 the leap status).
tracking() {	# INDEX FIELD
	chronyc_in "${NODE[$1]}" -c tracking | cut -d, -f"$2"
}

all_tracking() {	# FIELD WANT
	local i

	for i in $(seq 1 $NNODES); do
		[ "$(tracking "$i" "$1")" = "$2" ] || return 1
	done
}

# Node INDEX's two signals as show has them: the fast path's reason, the
# time service's reason, whether its VIPs are announced: "error-bound
# none yes".
signals() {	# INDEX
	ntpkctl -n "${NODE[$1]}" show | awk '
		/^[a-z]/ { sec = $1 }
		sec == "status:" && $1 == "reason:" { fast = $2 }
		sec == "service:" && $1 == "reason:" { svc = $2 }
		sec == "service:" && $1 == "announced:" { ann = $2 }
		END { print fast, svc, ann }'
}

all_signals() {	# WANT
	local i

	for i in $(seq 1 $NNODES); do
		[ "$(signals "$i")" = "$1" ] || return 1
	done
}

# What each node's chronyd and ntpk say, when a wait failed.
nodes_diag() {
	local i

	for i in $(seq 1 $NNODES); do
		diag "node $i: signals '$(signals "$i")', tracking $(chronyc_in "${NODE[i]}" -c tracking 2>&1)"
		chronyc_in "${NODE[i]}" -n sources 2>&1 | sed 's/^/#   /'
	done
	tail -n 5 "$TMP/chrony-${NODE[4]}/chronyd.log" | sed 's/^/#   node 4 chronyd: /'
}

# The routes to the VIPs, sampled every 0.2 s in the background from
# mon_start to mon_stop: every sample must have all four nodes.
mon_start() {
	rm -f "$TMP/mon.stop"
	(
		while [ ! -e "$TMP/mon.stop" ]; do
			read_hops
			echo "$HOPS4|$HOPS6"
			nap 0.2
		done
	) >"$TMP/mon.log" &
	MON_PID=$!
}

mon_stop() {	# WHAT
	local n bad

	touch "$TMP/mon.stop"
	wait "$MON_PID"
	n=$(wc -l <"$TMP/mon.log")
	bad=$(grep -cv '^1 2 3 4|1 2 3 4$' "$TMP/mon.log" || true)
	diag "$1: $n samples of the routes, $bad without all four nodes"
	[ "$n" -gt 5 ] || fail "$1: only $n samples of the routes"
	assert_eq "$bad" 0 "$1: route samples without all four nodes"
	[ "$bad" = 0 ] || sort "$TMP/mon.log" | uniq -c | sed 's/^/#   /'
}

# Lines of node INDEX's follow log since mark_logs.
declare -A LOGMARK
mark_logs() {
	local i

	for i in $(seq 1 $NNODES); do
		LOGMARK[$i]=$(wc -l <"$TMP/follow-$i.log")
	done
}
log_since() {	# INDEX
	tail -n +$((LOGMARK[$1] + 1)) "$TMP/follow-$1.log"
}

counter() {	# INDEX NAME
	ntpkctl -n "${NODE[$1]}" stats | awk -F': ' -v c="$2" '$1 == c { print $2 }'
}

# --- 2: every node's upstream moves by more than --max-error at once -------
STEP=0.020	# s: above --max-error (1 ms), far below --vip-max-distance (1 s)
upstream_step() {
	local i r0 p0 r1 p1 prom

	for i in $(seq 1 $NNODES); do
		chronyc_in "${NODE[i]}" add server $UP minpoll -2 maxpoll -2 >/dev/null
	done
	wait_until 60 all_tracking 1 $UP_REFID ||
		{ fail "the nodes never synchronised to the upstream"; nodes_diag; return 0; }
	# Whatever they say, the step goes on: the route samples tell.
	wait_until 30 all_signals "none none yes" ||
		{ fail "signals on the upstream"; nodes_diag; }
	mark_logs
	mon_start
	now_ms
	T[step]=$NOW
	up_set $STEP 0
	if wait_until 30 all_signals "error-bound none yes"; then
		now_ms
		diag "every fast path aside (error-bound), every VIP announced, $((NOW - T[step])) ms after the upstream moved $STEP s"
	else
		fail "signals after the step"
		nodes_diag
	fi
	# The daemons answer every client: ntpk replies to none.
	for i in $(seq 1 $NNODES); do
		r0[i]=$(counter "$i" replies) p0[i]=$(counter "$i" pass_no_state)
	done
	traffic step_end
	for i in $(seq 1 $NNODES); do
		r1=$(counter "$i" replies) p1=$(counter "$i" pass_no_state)
		assert_eq $((r1 - r0[i])) 0 "node $i: ntpk replies while its fast path is aside"
		[ $((p1 - p0[i])) -gt 0 ] ||
			fail "node $i: no request passed to chronyd while its fast path is aside"
		diag "node $i: $((p1 - p0[i])) requests passed to chronyd, $((r1 - r0[i])) ntpk replies"
	done
	prom=$(ntpkctl -n "${NODE[1]}" stats --prometheus)
	for i in 'ntpk_status_reason{reason="error-bound"} 1' \
		 'ntpk_service_reason{reason="none"} 1' 'ntpk_service_announced 1'; do
		grep -qxF "$i" <<<"$prom" || fail "node 1's metrics lack '$i'"
	done
	# Withdrawn for its error (0.0x s), or first for the kernel clock's
	# slew away from chronyd's time as chronyd takes the step in (a CI
	# run, node 4), whichever follow sees first: both are error-bound.
	for i in $(seq 1 $NNODES); do
		log_since "$i" | grep -Eq "withdrawn \(error-bound\): (error 0\\.0|the kernel clock leaves the daemon's time at )" || {
			fail "follow on node $i did not log its fast path's withdrawal"
			log_since "$i" | tail -n 8 | sed "s/^/#   node $i: /"
		}
		! log_since "$i" | grep -E "vip: withdrawn|service: bad" ||
			fail "follow on node $i withdrew the VIPs"
	done
	up_set 0 0
	# chronyd takes the step back out in about a second, and a few more
	# under TCG; then a state within --max-error is pushed again.
	if wait_until 60 all_signals "none none yes"; then
		now_ms
		T[unstep]=$NOW
		diag "every fast path back $((NOW - T[step_end])) ms after the upstream moved back"
	else
		fail "signals after the step back"
		nodes_diag
		now_ms
		T[unstep]=$NOW
	fi
	mon_stop "upstream step"
}
[ "$NODE_PHASES" = 0 ] ||
	run_test "upstream_step_on_every_node_keeps_every_vip" upstream_step

# --- 3: a leap second across the cluster -----------------------------------
# 2017-01-01 00:00:00 UTC, the end of the leap second 2016-12-31 23:59:60.
LEAP=1483228800
LEAD=$((20 * NTPK_SLOW))
mono() { "$PY" -c 'import time; print("%.6f" % time.monotonic())'; }
restore_clock() {
	[ -n "${REAL0:-}" ] || return 0
	"$PY" "$CLOCK" leap --clear || true
	date -u -s "@$("$PY" -c "print('%.6f' % ($REAL0 + $(mono) - $MONO0))")" >/dev/null
	REAL0=
}
defer restore_clock

leap_second() {
	local i

	mark_logs
	mon_start
	now_ms
	T[leap_start]=$NOW
	up_set 0 1
	REAL0=$EPOCHREALTIME MONO0=$(mono)
	echo "ntpk_anycast: leap" >/dev/kmsg
	date -u -s "@$((LEAP - LEAD))" >/dev/null
	"$PY" "$CLOCK" leap
	# chronyd saw its clock jump back: it resynchronises to the upstream,
	# which announces the leap (LI 1), on the last day of December.
	wait_until $((LEAD - 5)) all_tracking 14 "Insert second" ||
		{ fail "not every node's chronyd announces the leap"; nodes_diag; }
	diag "every chronyd announces the leap $((LEAP - $(date +%s))) s before it"
	until [ "$EPOCHSECONDS" -ge $((LEAP + 6)) ]; do
		nap 0.2
	done
	up_set 0 0
	for i in $(seq 1 $NNODES); do
		log_since "$i" | grep -q "withdrawn (unsync): chronyd not synchronised: reference ID $UP_REFID, leap 3, stratum 2" ||
			fail "follow on node $i did not see chronyd's leap status 3: $(log_since "$i" | grep withdrawn)"
		! log_since "$i" | grep -E "vip: withdrawn|service: bad" ||
			fail "follow on node $i withdrew the VIPs"
	done
	dmesg | sed -n '/ntpk_anycast: leap/,$p' | grep -q 'inserting leap second' ||
		fail "the kernel did not insert the leap second"
	restore_clock
	# chronyd resynchronises to the upstream after the jump back.
	wait_until 30 all_signals "none none yes" ||
		{ fail "signals after the leap"; nodes_diag; }
	now_ms
	T[leap_end]=$NOW
	mon_stop "leap second"
	restart_chronyds
}

# The upstream goes.  A chronyd that was synchronised holds over when its
# sources go (it stays synchronised, its dispersion growing), and then
# `chronyc local off` no longer unsynchronises it: the phases after this
# one need chronyd as it started, on its local reference alone.  So each
# node's chronyd is restarted, one node at a time: follow withdraws its
# VIPs (daemon-gone), the others absorb its share, and it rejoins after the
# hold-down.  The clients' window "restart", which is no part of what is
# tested, holds four withdrawals like node 4's below.
restart_chronyds() {
	local i others

	now_ms
	T[restart]=$NOW
	for i in $(seq 1 $NNODES); do
		others=$(seq 1 $NNODES | grep -vx "$i" | tr '\n' ' ')
		# chronyd stays down until the route has left the node: a
		# chronyd back within a poll's wait would never be seen gone.
		chronyd_stop "${NODE[i]}"
		wait_hops "${others% }" 30 || return 0
		node_chronyd "$i"
		wait_hops "1 2 3 4" 60 || return 0
	done
	T[restarted]=$NOW
	all_tracking 1 7F7F0101 || { fail "chronyd not on its local reference"; nodes_diag; }
}
[ "$NODE_PHASES" = 0 ] ||
	run_test "leap_second_across_the_cluster_keeps_every_vip" leap_second

# --- 4: node 4's chronyd loses synchronisation -----------------------------
unsync() {
	route_change off gone "1 2 3" chronyc_in "$N4" local off || return 0
	diag "node 4 withdrawn $DT ms after chronyd lost synchronisation"
	assert_range $DT 0 $WITHDRAW_MAX_MS \
		"ms from chronyd unsynchronised to the router's route without node 4"
	grep -q "vip: withdrawn from ntpvip: unsync" "$TMP/follow-4.log" || {
		fail "follow on node 4 did not log its withdrawal"
		tail -n 20 "$TMP/follow-4.log" | sed 's/^/#   /'
	}
	traffic gone_end
}
run_test "unsynchronised_node_withdrawn_within_the_bound" unsync

# --- 5: it recovers, flaps once, and rejoins only after the hold-down ------
flap() {
	now_ms
	T[on1]=$NOW
	chronyc_in "$N4" local stratum 2
	sleep 2
	chronyc_in "$N4" local off
	sleep 0.5
}

rejoin() {
	flap >/dev/null
	route_change on2 back "1 2 3 4" chronyc_in "$N4" local stratum 2 ||
		return 0
	diag "node 4 back in the route $DT ms after its last recovery (hold-down ${HOLD_DOWN} s), $((T[back] - T[on1])) ms after the first"
	assert_range $DT $((HOLD_DOWN * 1000)) $((HOLD_DOWN * 1000 + WITHDRAW_MAX_MS)) \
		"ms from the last recovery to the route with node 4"
	grep -q "vip: hold-down restarts: unsync" "$TMP/follow-4.log" || {
		fail "follow on node 4 did not restart its hold-down"
		tail -n 20 "$TMP/follow-4.log" | sed 's/^/#   /'
	}
	traffic back_end
}
run_test "recovered_node_rejoins_after_a_hold_down_that_a_flap_restarts" rejoin

# --- 6: node 3's stratum goes above --max-stratum (4) ----------------------
stratum() {
	route_change s6 s6_gone "1 2 4" chronyc_in "$N3" local stratum 6 ||
		return 0
	diag "node 3 withdrawn $DT ms after its stratum became 6"
	assert_range $DT 0 $WITHDRAW_MAX_MS \
		"ms from stratum 6 to the route without node 3"
	grep -q "vip: withdrawn from ntpvip: stratum: stratum 6 above --max-stratum 4" \
		"$TMP/follow-3.log" || fail "follow on node 3 did not say why"
}
run_test "node_above_the_maximum_stratum_withdrawn" stratum

# --- 7: node 2's BIRD hangs; the router's hold timer drops it --------------
bird_hangs() {
	route_change stop dropped "1 4" kill -STOP "$(cat "$TMP/bird-2.pid")" ||
		return 0
	diag "node 2 dropped $DT ms after its BIRD hung (hold time $BGP_HOLD s, keepalive $BGP_KEEPALIVE s)"
	# The last keepalive came at most one keepalive time before the hang.
	assert_range $DT $(((BGP_HOLD - BGP_KEEPALIVE) * 1000)) \
		$((BGP_HOLD * 1000 + WITHDRAW_MAX_MS)) \
		"ms from the hang to the route without node 2"
	traffic dropped_end
}
run_test "hung_bird_dropped_when_the_bgp_hold_timer_expires" bird_hangs

# --- 8: node 1's BIRD is killed: its TCP connection closes, so the router
# drops it at once, without waiting for the hold timer ---------------------
bird_killed() {
	route_change kill killed "4" bird_kill 1 || return 0
	diag "node 1 dropped $DT ms after its BIRD was killed"
	# Sooner than any hold timer could have expired (see above).
	assert_range $DT 0 $(((BGP_HOLD - BGP_KEEPALIVE) * 1000 - 1)) \
		"ms from the kill to the route without node 1"
	traffic killed_end
}
run_test "killed_bird_dropped_when_its_session_closes" bird_killed

# --- what the clients saw --------------------------------------------------
# Node i answers with TTL 59 + i at the client.
declare -A TTL=([1]=60 [2]=61 [3]=62 [4]=63)
declare -A NOROUTE_MIB=([4]=IpExtInNoRoutes [6]=Ip6InNoRoutes)

# The leap second: nothing lost, in 2016 as on either side of it; leap
# status 3 (chronyd's, on every node, for the 2 s after the leap) only
# around it.
leap_report() {	# FAMILY
	local f=$1

	assert_eq "${V[leap.$f.lost]}" 0 "IPv$f: lost across the leap second"
	assert_eq "${V[leapjump.$f.lost]}" 0 "IPv$f: lost as the clock jumped to 2016 and back"
	[ "${V[leap.$f.sent]}" -gt 0 ] || fail "IPv$f leap: nothing sent"
	assert_eq "${V[leapbefore.$f.unsync]}" 0 "IPv$f: leap status 3 before the leap"
	assert_eq "${V[leapafter.$f.unsync]}" 0 "IPv$f: leap status 3 3 s after the leap"
	diag "IPv$f leap second: ${V[leap.$f.sent]} sent, ${V[leap.$f.lost]} lost, ${V[leap.$f.unsync]} replies with leap status 3 (chronyd's)"
}

clients() {
	local w f i k steady="all three back dropped killed" node=()

	sleep 1.2		# the last requests' timeout
	touch "$TMP/q.stop"
	wait "$CLIENT_PID" || fail "the client exited $?"
	if [ "$NODE_PHASES" = 0 ]; then
		# No restart: an empty window.
		T[restart]=${T[all_end]} T[restarted]=${T[all_end]}
	else
		steady="$steady step"
		node=("step=$(unix "${T[step]}"),$(unix "${T[unstep]}")"
		      "leapjump=$(unix "${T[leap_start]}"),$(unix "${T[leap_end]}")"
		      "leap=$((LEAP - LEAD)),$((LEAP + 6))"
		      "leapbefore=$((LEAP - LEAD)),$((LEAP - 1))"
		      "leapafter=$((LEAP + 3)),$((LEAP + 6))")
	fi
	for k in all all_end restart restarted off gone \
		 gone_end on1 on2 back back_end s6 s6_gone stop dropped \
		 dropped_end kill killed killed_end \
		 $([ "$NODE_PHASES" = 0 ] || echo step step_end unstep leap_start leap_end); do
		[ -n "${T[$k]:-}" ] || { fail "phase time $k missing"; return 0; }
	done
	"${Q[@]}" report --log "$TMP/q.log" \
		--router 203.0.113.1 --router 2001:db8:2::1 \
		"all=$(unix "${T[all]}"),$(unix "${T[all_end]}")" "${node[@]}" \
		"restart=$(unix "${T[restart]}"),$(unix "${T[restarted]}")" \
		"flux=$(unix "${T[off]}"),$(unix "${T[gone]}")" \
		"three=$(unix "${T[gone]}"),$(unix "${T[gone_end]}")" \
		"rejoin=$(unix "${T[on1]}"),$(unix $((T[on2] + HOLD_DOWN * 1000)))" \
		"back=$(unix "${T[back]}"),$(unix "${T[back_end]}")" \
		"hung=$(unix "${T[stop]}"),$(unix "${T[dropped]}")" \
		"dropped=$(unix "${T[dropped]}"),$(unix "${T[dropped_end]}")" \
		"killing=$(unix "${T[kill]}"),$(unix "${T[killed]}")" \
		"killed=$(unix "${T[killed]}"),$(unix "${T[killed_end]}")" \
		"total=$(unix "${T[all]}"),$(unix "${T[killed_end]}")" \
		>"$TMP/report" || { fail "the client's report"; return 0; }
	kv_load "" "$TMP/report"
	sed 's/^/#   /' "$TMP/report"
	declare -A RN
	while read -r k d; do
		RN[$k]=$d
		diag "the router ($ROUTER) over the run: $k +$d"
	done < <(router_noroute | awk 'NR == FNR { a[$1] = $2; next }
		{ print $1, $2 - a[$1] }' "$TMP/noroute0" -)
	for f in 4 6; do
		# Everyone answered, synchronised, in the steady phases, and
		# while every node's upstream had moved: from the daemons.
		for w in $steady; do
			assert_eq "${V[$w.$f.lost]}" 0 "IPv$f $w: lost"
			assert_eq "${V[$w.$f.unsync]}" 0 "IPv$f $w: unsynchronised replies"
			[ "${V[$w.$f.sent]}" -gt 0 ] || fail "IPv$f $w: nothing sent"
		done
		for i in 1 2 3 4; do
			[ "${V[all.$f.ttl.${TTL[$i]}]:-0}" -gt 0 ] ||
				fail "IPv$f: node $i did not serve with all four in"
			[ "${V[back.$f.ttl.${TTL[$i]}]:-0}" -gt 0 ] ||
				fail "IPv$f: node $i did not serve after node 4 rejoined"
			[ "$NODE_PHASES" = 0 ] && continue
			[ "${V[step.$f.ttl.${TTL[$i]}]:-0}" -gt 0 ] ||
				fail "IPv$f: node $i did not serve while the upstream had moved"
			[ "${V[leap.$f.ttl.${TTL[$i]}]:-0}" -gt 0 ] ||
				fail "IPv$f: node $i did not serve across the leap second"
		done
		[ "$NODE_PHASES" = 0 ] || leap_report "$f"
		# Withdrawn: not one reply from node 4 once the route left it
		# (as seen: it left a little earlier), nor before its hold-down
		# ended; the three others absorbed its share.
		assert_eq "${V[three.$f.ttl.${TTL[4]}]:-0}" 0 "IPv$f: replies from node 4 once withdrawn"
		assert_eq "${V[rejoin.$f.ttl.${TTL[4]}]:-0}" 0 "IPv$f: replies from node 4 in its hold-down"
		assert_eq $((V[rejoin.$f.lost] - V[rejoin.$f.noroute])) 0 \
			"IPv$f: lost while node 4 held down (not the router's)"
		for i in 1 2 3; do
			[ "${V[three.$f.ttl.${TTL[$i]}]:-0}" -gt 0 ] ||
				fail "IPv$f: node $i did not absorb node 4's share"
		done
		# A hung BIRD does not stop the node from answering: nothing
		# is lost, and once dropped, node 2 gets nothing.  But the
		# router may have no route for an instant as it replaces its
		# multipath route (FRR's zebra, IPv6, now and then): a request
		# it sent back a no-route unreachable for is the router's,
		# counted apart, and only where the route changed.
		assert_eq $((V[hung.$f.lost] - V[hung.$f.noroute])) 0 \
			"IPv$f: lost while node 2's BIRD hung (not the router's)"
		assert_eq "${V[dropped.$f.ttl.${TTL[2]}]:-0}" 0 "IPv$f: replies from node 2 once dropped"
		assert_eq "${V[dropped.$f.ttl.${TTL[3]}]:-0}" 0 "IPv$f: replies from node 3 once dropped"
		# Node 1 answers until the router drops it, then node 4 alone.
		assert_eq $((V[killing.$f.lost] - V[killing.$f.noroute])) 0 \
			"IPv$f: lost while node 1's BIRD died (not the router's)"
		assert_eq "${V[killed.$f.ttl.${TTL[4]}]:-0}" "${V[killed.$f.sent]}" \
			"IPv$f: replies from node 4, the last one in the route"
		# The withdrawal window: the only place a client may miss an
		# answer (or get node 4's unsynchronised one), and how many.
		diag "IPv$f withdrawal window $((T[gone] - T[off])) ms: ${V[flux.$f.sent]} sent, ${V[flux.$f.lost]} lost, ${V[flux.$f.unsync]} unsynchronised replies from node 4"
		diag "IPv$f chronyd restarted without the upstream, $((T[restarted] - T[restart])) ms: ${V[restart.$f.sent]} sent, ${V[restart.$f.lost]} lost"
		diag "IPv$f: ${V[total.$f.noroute]} of ${V[total.$f.lost]} lost were the router's no-route drops (hung ${V[hung.$f.noroute]}, killing ${V[killing.$f.noroute]}, rejoin ${V[rejoin.$f.noroute]}, withdrawal ${V[flux.$f.noroute]}, restart ${V[restart.$f.noroute]})"
		k=$((V[total.$f.lost] - V[total.$f.noroute]))
		k=$((k - V[flux.$f.lost] + V[flux.$f.noroute]))
		k=$((k - V[restart.$f.lost] + V[restart.$f.noroute]))
		assert_eq "$k" 0 \
			"IPv$f: lost outside the withdrawal window and the restart, not the router's"
		# Each of them is a drop the router counted itself.
		[ "${V[total.$f.noroute]}" -le "${RN[${NOROUTE_MIB[$f]}]:-0}" ] ||
			fail "IPv$f: ${V[total.$f.noroute]} no-route errors, the router counted ${RN[${NOROUTE_MIB[$f]}]:-0}"
	done
}
run_test "clients_lose_nothing_outside_the_withdrawal_window" clients

# --- 10: node 4's follow is killed outright: nothing takes its VIPs off, and
# nothing renews them: the kernel removes them when their lease runs out --
follow_killed() {
	local left

	grep -q "leased for $LEASE s" "$TMP/follow-4.log" ||
		fail "follow on node 4 did not log a lease of $LEASE s"
	route_change fkill lease_out "" kill -KILL "${FOLLOW_PID[4]}" ||
		return 0
	diag "node 4 dropped $DT ms after its follow was killed (lease $LEASE s)"
	# Renewed once a third of the lease had passed, at a poll: the last
	# renewal came at most a third of it and a poll before the kill.
	assert_range $DT $((LEASE * 1000 * 2 / 3 - 1100)) \
		$((LEASE * 1000 + WITHDRAW_MAX_MS)) \
		"ms from the kill to the route without node 4"
	left=$(ip -n "$N4" addr show dev ntpvip scope global)
	[ -z "$left" ] || fail "VIPs left on node 4's ntpvip: $left"
}
run_test "killed_follow_leaves_the_vips_until_their_lease_runs_out" follow_killed

# --- the guide's configuration is what ran ---------------------------------
# What ran is the guide's by construction (bird_conf and frr_conf take
# the blocks from it, and fail unless each substitution happened); here,
# that both daemons take every line of them, the router's that did not
# run included.
guide() {
	local i out

	for i in rt 1 2 3; do
		bird -p -c "$TMP/bird-$i.conf" || fail "bird -p on the config of $i"
	done
	# bgpd's dry run prints every line it cannot take, and exits 0.
	for i in frr frr-rt; do
		out=$("$FRR/bgpd" -C -S -f "$TMP/$i/frr.conf" --log stdout 2>&1) ||
			fail "bgpd -C on $i exited $?"
		[ -z "$out" ] || fail "bgpd -C on $i's configuration: $out"
	done
}
run_test "the_guides_configurations_parse_every_line" guide

ktap_finish
