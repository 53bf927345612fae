#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The ECMP anycast cluster pool operators build by hand (issue 5, item 1):
# four nodes carry the same VIP on their loopback and answer it with ntpk
# alone; a router spreads clients over them with an L4-hashed multipath
# route.  Every request must get exactly one reply from the VIP, every node
# a fair share, and no node a conntrack entry.  Then one node is taken out
# (nexthop removed, then its ntpk disabled) and the others keep answering.
#
#                          +----------------------+
#   +--------------+       |        router        |-r1---e0-+-------------+
#   |    client    |       |                      |-r2---e0-| node 1..4   |
#   | 10.0.0.1-8   |-c0--r0| 10.0.0.254 fd00::fe  |-r3---e0-| e0 10.1.i.1 |
#   | fd00::1-8    |       | VIP: multipath r1-r4 |-r4---e0-|  fd01:i::1  |
#   +--------------+       |  hash policy 1 (L4)  |         | lo VIP4     |
#                          | ri 10.1.i.254        |         |    VIP6     |
#                          |    fd01:i::fe        |         +-------------+
#                          +----------------------+
#
# Run it as selftests/run does: scripts/vm-run --module kmod/ntpk.ko --
# selftests/ntpk_ecmp.sh.  The client is selftests/ntpk_rlsend.py.  Under
# TCG every exec costs a noticeable fraction of a second, so the script
# batches ip commands and parses output with shell builtins (no jq).
#
# settings: timeout=900

. "$(dirname "$0")/lib.sh"

SEND=$NTPK_SELFTESTS/ntpk_rlsend.py

VIP4=192.0.2.123
VIP6=2001:db8:ffff::123
NNODES=4
NCLIENT=8		# client addresses per family
PER_SRC=100		# sockets per client address: 800 requests per family
PER_SRC_DOWN=50		# 400 per family once a node is down
DOWN=$NNODES		# the node taken out
UP="1 2 3"		# the others

# Kernel log lines that mean the kernel is unwell, since the test began.
dmesg_problems() {
	dmesg | tail -n +"$((DMESG_START + 1))" |
		grep -E 'WARNING:|BUG:|Oops|kernel BUG|general protection|rcu: INFO|self-detected stall|refcount_t:|UBSAN|KASAN|list_(add|del) corruption' ||
		true
}

# --- topology --------------------------------------------------------------

node_setup() {	# INDEX
	local i=$1 node=${NODES[$(($1 - 1))]}

	ip link add "r$i" netns "$RT" type veth peer name e0 netns "$node" ||
		return 1
	ip -n "$node" -batch - <<-EOF || return 1
	addr add $VIP4/32 dev lo
	addr add $VIP6/128 dev lo
	addr add 10.1.$i.1/24 dev e0
	addr add fd01:$i::1/64 dev e0 nodad
	link set e0 up
	route add default via 10.1.$i.254
	route add ::/0 via fd01:$i::fe
	EOF
	ip -n "$RT" -batch - <<-EOF || return 1
	addr add 10.1.$i.254/24 dev r$i
	addr add fd01:$i::fe/64 dev r$i nodad
	link set r$i up
	EOF

	# A ct expression registers the conntrack hooks in the node.  The
	# input chain counts the requests that reached the stack.
	n "$node" nft -f - <<-EOF || return 1
	table inet ntpkt {
		chain pre {
			type filter hook prerouting priority -150;
			ct state new counter
		}
		chain in {
			type filter hook input priority 0;
			udp dport 123 counter
		}
	}
	EOF

	# ntpk serves the VIP only; the refid tells the client who answered.
	ntpkctl -n "$node" addr add $VIP4 &&
	ntpkctl -n "$node" addr add $VIP6 &&
	ntpkctl -n "$node" set enable max-age 3600 &&
	ntpkctl -n "$node" state set leap 0 stratum 2 precision -20 refid "N$i" \
		rootdelay 0.001 rootdisp 0.002 reftime "unix:$EPOCHSECONDS"
}

# The VIP's multipath routes, over the given nodes, and how many nexthops
# the router then shows per family.
multipath() {	# NODE-INDEX...
	local i hops4='' hops6=''

	for i in "$@"; do
		hops4+=" nexthop via 10.1.$i.1 dev r$i"
		hops6+=" nexthop via fd01:$i::1 dev r$i"
	done
	ip -n "$RT" -batch - <<-EOF || return 1
	route replace $VIP4/32$hops4
	route replace $VIP6/128$hops6
	EOF
	ip -n "$RT" route show $VIP4 >"$TMP/route4"
	ip -n "$RT" -6 route show $VIP6 >"$TMP/route6"
}

# Whether the router's routes to the VIP use exactly the given nodes.
check_nexthops() {	# NODE-INDEX...
	local f i want4='' want6='' got

	for i in "$@"; do
		want4+="10.1.$i.1 "
		want6+="fd01:$i::1 "
	done
	for f in 4 6; do
		got=$(grep -o 'nexthop via [0-9a-f:.]*' "$TMP/route$f" |
			while read -r _ _ a; do printf '%s ' "$a"; done)
		if [ $f = 4 ]; then
			assert_eq "$got" "$want4" "IPv4 nexthops"
		else
			assert_eq "$got" "$want6" "IPv6 nexthops"
		fi
	done
}

CLIENT4=
CLIENT6=
setup() {
	local i batch=''

	require_cmd ip nft modprobe dmesg grep sh "$PY" ntpkctl || return 1
	if [ ! -f "$SEND" ]; then
		diag "missing: $SEND"
		return 1
	fi
	ntpk_load || return 1

	ns_create CL RT N1 N2 N3 N4 || return 1
	NODES=("$N1" "$N2" "$N3" "$N4")
	ip link add c0 netns "$CL" type veth peer name r0 netns "$RT" ||
		return 1
	for i in $(seq 1 $NCLIENT); do
		batch+="addr add 10.0.0.$i/24 dev c0"$'\n'
		batch+="addr add fd00::$i/64 dev c0 nodad"$'\n'
		CLIENT4+=${CLIENT4:+,}10.0.0.$i
		CLIENT6+=${CLIENT6:+,}fd00::$i
	done
	ip -n "$CL" -batch - <<-EOF || return 1
	${batch}link set c0 up
	route add default via 10.0.0.254
	route add ::/0 via fd00::fe
	EOF
	ip -n "$RT" -batch - <<-EOF || return 1
	addr add 10.0.0.254/24 dev r0
	addr add fd00::fe/64 dev r0 nodad
	link set r0 up
	EOF
	n "$RT" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 \
		net.ipv4.fib_multipath_hash_policy=1 \
		net.ipv6.fib_multipath_hash_policy=1 \
		net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 || return 1

	for i in $(seq 1 $NNODES); do
		node_setup "$i" || { fail "node $i setup"; return 1; }
	done
	multipath $(seq 1 $NNODES) || return 1
	check_nexthops $(seq 1 $NNODES)
	snap s0
}

# --- traffic and checks ----------------------------------------------------

# Everything a check needs from one node, with one namespace entry: its
# ntpk counters, nf_conntrack_count and the packets of the ntpkt chains'
# counters, into V[TAG.nI.counter], V[TAG.nI.ct_count], V[TAG.nI.nft_pre]
# and V[TAG.nI.nft_in].
probe() {	# TAG NODE-INDEX
	local i=$2 f=$TMP/$1.n$2 chain='' line

	# A sysctl read at an offset other than 0 gives EOF, so read(1),
	# going byte by byte, never sees the newline.
	n "${NODES[$((i - 1))]}" sh -c '
		read c </proc/sys/net/netfilter/nf_conntrack_count || [ -n "$c" ]
		echo ct_count $c &&
		nft list table inet ntpkt &&
		ntpkctl stats' >"$f" 2>&1 || { sed 's/^/# /' "$f"; return 1; }
	kv_load "$1.n$i." "$f"
	while read -r line; do
		case $line in
		'chain '*)
			chain=${line#chain }
			chain=${chain%% *}
			;;
		*' counter packets '*)
			[[ $line =~ counter\ packets\ ([0-9]+) ]] &&
				V[$1.n$i.nft_$chain]=${BASH_REMATCH[1]}
			;;
		esac
	done <"$f"
	[ -n "${V[$1.n$i.nft_pre]:-}" ] && [ -n "${V[$1.n$i.nft_in]:-}" ] &&
		[ -n "${V[$1.n$i.requests]:-}" ]
}

# Probe every node; PREV becomes the snapshot before, LAST this one.
PREV=
LAST=
snap() {	# TAG
	local i

	for i in $(seq 1 $NNODES); do
		probe "$1" "$i" || { fail "probe of node $i"; return 1; }
	done
	PREV=$LAST
	LAST=$1
}

delta() {	# NODE-INDEX KEY: from snapshot PREV to LAST
	echo $((V[$LAST.n$1.$2] - V[$PREV.n$1.$2]))
}

# One traffic round: one request per socket, PER-SRC sockets on each client
# address; the client's view goes to V[TAG.key], the nodes' to snapshot TAG.
round() {	# FAMILY TAG PER-SRC
	local dst=$VIP4 src=$CLIENT4

	if [ "$1" = 6 ]; then
		dst=$VIP6
		src=$CLIENT6
	fi
	n "$CL" "$PY" -S "$SEND" query --dst "$dst" --src "$src" \
		--per-src "$3" >"$TMP/$2" &&
	snap "$2" || { fail "$2: traffic round failed"; return 1; }
	kv_load "$2." "$TMP/$2"
}

# Every request answered once, from the VIP; the nodes' counters agree
# with what the client saw, node by node; the nodes of UP each answer
# between LO% and HI% of the requests, the others not one; no node's
# conntrack saw a new flow or grew, no request reached a node's stack.
check_round() {	# FAMILY TAG LO HI UP...
	local fam=$1 tag=$2 lo=$3 hi=$4 vip=$VIP4 total i n r req
	shift 4

	[ "$fam" = 6 ] && vip=$VIP6
	total=${V[$tag.sent]}
	assert_eq "${V[$tag.flows]}" "$total" "$tag: distinct flows"
	assert_eq "${V[$tag.answered]}" "$total" "$tag: requests answered"
	assert_eq "${V[$tag.replies]}" "$total" "$tag: plain replies"
	assert_eq "${V[$tag.unanswered]}" 0 "$tag: unanswered"
	assert_eq "${V[$tag.dups]}" 0 "$tag: duplicate replies"
	assert_eq "${V[$tag.bad]}" 0 "$tag: bad replies"
	assert_eq "${V[$tag.sources]}" "$vip" "$tag: reply sources"
	for i in $(seq 1 $NNODES); do
		n=${V[$tag.refid.N$i]:-0}
		r=$(delta "$i" replies)
		req=$(delta "$i" requests)
		assert_eq "$r" "$n" "$tag: node $i replies counter vs client"
		assert_eq "$req" "$r" "$tag: node $i requests vs replies"
		assert_eq "$(delta "$i" nft_pre)" 0 "$tag: node $i new flows"
		assert_eq "$(delta "$i" nft_in)" 0 \
			"$tag: node $i requests that reached input"
		assert_range "${V[$tag.n$i.ct_count]}" 0 \
			"${V[$PREV.n$i.ct_count]}" "$tag: node $i conntrack entries"
		if [[ " $* " = *" $i "* ]]; then
			diag "$tag: node $i answered $n of $total"
			assert_range "$n" $((total * lo / 100)) \
				$((total * hi / 100)) "$tag: node $i share"
		else
			assert_eq "$req" 0 "$tag: node $i (down) requests"
		fi
	done
}

# Four ways: a quarter each; 15..35% of 800 uniformly hashed flows is
# some 4.6 standard deviations of margin on either side.
test_v4_all() {
	round 4 v4 $PER_SRC && check_round 4 v4 15 35 1 2 3 4
}

test_v6_all() {
	round 6 v6 $PER_SRC && check_round 6 v6 15 35 1 2 3 4
}

# Every request so far was answered before conntrack: no entry at all.
test_no_conntrack() {
	local i

	for i in $(seq 1 $NNODES); do
		assert_eq "${V[$LAST.n$i.ct_count]}" 0 \
			"node $i nf_conntrack_count"
		assert_eq "${V[$LAST.n$i.nft_pre]}" 0 "node $i new flows"
		assert_eq "${V[$LAST.n$i.nft_in]}" 0 \
			"node $i requests that reached input"
	done
}

# The control: conntrack does track in every node.  A request to a node's
# own (unserved) address is passed to the stack and gets an entry.
test_conntrack_active() {
	local i dst=''

	for i in $(seq 1 $NNODES); do
		dst+=${dst:+,}10.1.$i.1
	done
	n "$CL" "$PY" -S "$SEND" query --dst "$dst" --src 10.0.0.1 \
		--per-src 1 --timeout 0.5 --grace 0 >"$TMP/ctl" &&
		snap ctl || { fail "query $dst"; return 1; }
	kv_load "ctl." "$TMP/ctl"
	assert_eq "${V[ctl.sent]}/${V[ctl.answered]}" "$NNODES/0" \
		"requests to the nodes' own addresses sent/answered"
	for i in $(seq 1 $NNODES); do
		assert_eq "$(delta "$i" pass_not_ours)" 1 "node $i pass_not_ours"
		assert_eq "$(delta "$i" requests)" 1 "node $i requests"
		assert_eq "$(delta "$i" nft_pre)" 1 "node $i new flows"
		assert_eq "$(delta "$i" nft_in)" 1 "node $i input packets"
		assert_eq "${V[ctl.n$i.ct_count]}" 1 "node $i nf_conntrack_count"
	done
}

# Three ways now: a third each, give or take.
test_nexthop_removed() {
	multipath $UP || { fail "route replace failed"; return 1; }
	check_nexthops $UP
	round 4 v4down $PER_SRC_DOWN && check_round 4 v4down 20 47 $UP
	round 6 v6down $PER_SRC_DOWN && check_round 6 v6down 20 47 $UP
}

# "Unloading" one node's ntpk: the module is shared by every namespace of
# the guest, so disable it and drop its state in that node alone.
test_node_disabled() {
	local node=${NODES[$((DOWN - 1))]}

	ntpkctl -n "$node" set disable && ntpkctl -n "$node" state clear ||
		{ fail "disabling node $DOWN failed"; return 1; }
	ntpkctl -n "$node" show >"$TMP/show.down"
	assert_eq "$(grep -c -e '^  enabled: no$' -e '^state: none$' \
		"$TMP/show.down")" 2 "node $DOWN shows disabled, no state"
	round 4 v4off $PER_SRC_DOWN && check_round 4 v4off 20 47 $UP
	round 6 v6off $PER_SRC_DOWN && check_round 6 v6off 20 47 $UP
}

# The module is global: unload it while the other nodes still hold their
# configuration, hooks and state.
test_unload() {
	modprobe -r ntpk || { fail "modprobe -r ntpk"; return 1; }
	[ ! -d /sys/module/ntpk ] || fail "ntpk still loaded"
	assert_eq "$(dmesg_problems | head -5)" "" "kernel log problems"
}

DMESG_START=$(dmesg | wc -l)
ktap_plan 8
run_test setup setup
if [ "$T_FAIL" != 0 ]; then
	for t in ipv4_spread ipv6_spread no_conntrack conntrack_control \
		 nexthop_removed node_disabled unload; do
		ktap_fail "$t # setup failed"
	done
	ktap_finish
fi
run_test ipv4_spread test_v4_all
run_test ipv6_spread test_v6_all
run_test no_conntrack test_no_conntrack
run_test conntrack_control test_conntrack_active
run_test nexthop_removed test_nexthop_removed
run_test node_disabled test_node_disabled
run_test unload test_unload
ktap_finish
