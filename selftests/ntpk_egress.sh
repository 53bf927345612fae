#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=300
#
# ntpk's replies leave the way chronyd's would: through the same interface,
# from the same address, through IPsec when policy asks for it, with the
# same DSCP, poll and IPv6 flow label behaviour, and without anything the
# request brought in (VLAN priority, trace flag, delivery time).  Each
# subtest compares ntpk (state pushed, stratum 2) with chronyd alone (state
# cleared, stratum 3) on the same request.
#
#   +--------------------------+  veth  +------------------------------+
#   | client $CLI              +--------+ server $SRV                  |
#   |  c1 10.96.1.2/24         |        |  s1 10.96.1.1/24             |
#   |     fd00:96:1::2/64      |        |     fd00:96:1::1/64          |
#   |                          |  veth  |                              |
#   |  c2 10.96.2.2/24         +--------+  s2 10.96.2.1/24             |
#   |     fd00:96:2::2/64      |        |     fd00:96:2::1/64          |
#   |                          |  veth  |                              |
#   |  c3.10 (VLAN 10, PCP 3)  +--------+  s3.10: ingress PCP 3 -> prio |
#   |     10.96.3.2/24         |        |  5, egress prio 5 -> PCP 6   |
#   |  ntpk_probe.py           |        |  chronyd (dscp, ratelimit),  |
#   |                          |        |  ntpk                        |
#   +--------------------------+        +------------------------------+
#
# The two uplinks: requests to s2's address come in over s1; without a
# source rule the replies of both leave over s1, with "from s2's address
# lookup table 200" over s2.

. "$(dirname "$0")/lib.sh"

S1=10.96.1.1 C1=10.96.1.2 S16=fd00:96:1::1 C16=fd00:96:1::2
S2=10.96.2.1 C2=10.96.2.2 S26=fd00:96:2::1 C26=fd00:96:2::2
S3=10.96.3.1 C3=10.96.3.2
PROBE=("$PY" "$NTPK_SELFTESTS/ntpk_probe.py")

require_cmd ip modprobe chronyd chronyc ntpkctl nft tc "$PY"

ktap_plan 9

ntpk_load
ns_create SRV CLI
veth_pair "$SRV" s1 "$CLI" c1
veth_pair "$SRV" s2 "$CLI" c2
veth_pair "$SRV" s3 "$CLI" c3
n "$SRV" ip addr add $S1/24 dev s1
n "$SRV" ip addr add $S16/64 dev s1 nodad
n "$SRV" ip addr add $S2/24 dev s2
n "$SRV" ip addr add $S26/64 dev s2 nodad
n "$CLI" ip addr add $C1/24 dev c1
n "$CLI" ip addr add $C16/64 dev c1 nodad
n "$CLI" ip addr add $C2/24 dev c2
n "$CLI" ip addr add $C26/64 dev c2 nodad
n "$SRV" ip link add link s3 name s3.10 type vlan id 10 \
	ingress-qos-map 3:5 egress-qos-map 5:6
n "$CLI" ip link add link c3 name c3.10 type vlan id 10 egress-qos-map 0:3
n "$SRV" ip link set s3.10 up
n "$CLI" ip link set c3.10 up
n "$SRV" ip addr add $S3/24 dev s3.10
n "$CLI" ip addr add $C3/24 dev c3.10

# Rate limits of 2 s per client, with a burst no subtest exhausts.
chronyd_server "$SRV" 3 "dscp 46" "ratelimit interval 1 burst 64 leak 0"
n "$SRV" ntpkctl set enable max-age 3600 dscp 46
n "$SRV" ntpkctl ratelimit set interval 1 burst 64 leak 0
push_state()
{
	n "$SRV" ntpkctl state set leap 0 stratum 2 precision -20 \
		refid 192.0.2.7 rootdelay 0.015625 rootdisp 0.0078125 \
		reftime 0xe9a0c3b412345678
}

cnt()	# NAME: the server's counter
{
	n "$SRV" ntpkctl stats | awk -F': ' -v c="$1" '$1 == c { print $2 }'
}

probe()	# ADDR [options]: the reply as JSON
{
	local out

	out=$(n "$CLI" "${PROBE[@]}" "$@")
	echo "# probe $*: $out" >&2
	echo "$out"
}

field()	# JSON KEY
{
	echo "$1" | "$PY" -c 'import json, sys
r = json.load(sys.stdin)
print(r.get(sys.argv[1], "-") if r["answered"] else "none")' "$2"
}

# The same request, to the daemon alone and then with ntpk: FIELD of each
# reply into DAEMON and FAST.
both()	# FIELD ADDR [options]
{
	local f=$1 d s

	shift
	n "$SRV" ntpkctl state clear
	d=$(probe "$@")
	push_state
	s=$(probe "$@")
	DAEMON=$(field "$d" "$f")
	FAST=$(field "$s" "$f")
	assert_eq "$(field "$d" stratum)" 3 "stratum of the daemon's reply to $*"
	assert_eq "$(field "$s" stratum)" 2 "stratum of ntpk's reply to $*"
}

# Replies leaving through each uplink, counted on the server.
n "$SRV" nft -f - <<'EOF'
table inet eg {
	counter s1 { }
	counter s2 { }
	chain post {
		type filter hook postrouting priority 0;
		udp sport 123 oifname "s1" counter name s1
		udp sport 123 oifname "s2" counter name s2
	}
}
EOF
egress_count()	# COUNTER
{
	n "$SRV" nft list counter inet eg "$1" |
		sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

# One request to ADDR over c1, replies by the daemon, then by ntpk: both
# leave through WANT, from ADDR.
leaves_through()	# WANT ADDR
{
	local want=$1 a=$2 d0 d1 f0 f1 from

	d0=$(egress_count "$want")
	n "$SRV" ntpkctl state clear
	from=$(field "$(probe "$a")" from)
	assert_eq "$from" "$a" "daemon's reply to $a: source"
	d1=$(egress_count "$want")
	assert_eq "$d1" $((d0 + 1)) "daemon's reply to $a through $want"
	push_state
	f0=$(cnt replies)
	from=$(field "$(probe "$a")" from)
	assert_eq "$from" "$a" "ntpk's reply to $a: source"
	assert_eq "$(egress_count "$want")" $((d1 + 1)) "ntpk's reply to $a through $want"
	assert_eq "$(cnt replies)" $((f0 + 1)) "ntpk replies"
}

two_uplinks()
{
	local mac

	# Requests for s2's addresses arrive over s1.
	mac=$(n "$SRV" cat /sys/class/net/s1/address)
	n "$CLI" ip route add $S2/32 dev c1
	n "$CLI" ip -6 route add $S26/128 dev c1
	n "$CLI" ip neigh replace $S2 lladdr "$mac" dev c1
	n "$CLI" ip -6 neigh replace $S26 lladdr "$mac" dev c1
	leaves_through s1 $S2
	leaves_through s1 $S26
	# Source routing, as on a multi-homed node: replies from s2's
	# addresses go out through s2.
	n "$SRV" ip route add default via $C2 dev s2 table 200
	n "$SRV" ip -6 route add default via $C26 dev s2 table 200
	n "$SRV" ip rule add from $S2 lookup 200 pref 100
	n "$SRV" ip -6 rule add from $S26 lookup 200 pref 100
	leaves_through s2 $S2
	leaves_through s2 $S26
	n "$SRV" ip rule del pref 100
	n "$SRV" ip -6 rule del pref 100
}
run_test "two_uplinks_reply_leaves_where_the_daemons_does" two_uplinks

dscp()
{
	both tos $S1
	assert_eq "$DAEMON" 184 "daemon's IPv4 TOS with dscp 46"
	assert_eq "$FAST" 184 "ntpk's IPv4 TOS with dscp 46"
	both tos $S16
	assert_eq "$FAST" 184 "ntpk's IPv6 traffic class with dscp 46"
	# chronyd sets the IPv6 traffic class from 4.4 on; Debian 12 has 4.3.
	local v
	v=$(chronyd -v | sed -n 's/.*version \([0-9]*\.[0-9]*\).*/\1/p')
	if printf '4.4\n%s\n' "$v" | sort -CV; then
		assert_eq "$DAEMON" 184 "chronyd $v's IPv6 traffic class with dscp 46"
	else
		assert_eq "$DAEMON" 0 "chronyd $v's IPv6 traffic class with dscp 46"
	fi
	# A request's own TOS never comes back.
	n "$SRV" ntpkctl set dscp 0
	push_state
	assert_eq "$(field "$(probe $S1 --tos 0x28)" tos)" 0 "ntpk, dscp 0, request TOS 0x28"
	assert_eq "$(field "$(probe $S16 --tos 0x28)" tos)" 0 "ntpk, dscp 0, request tclass 0x28"
	n "$SRV" ntpkctl set dscp 46
}
run_test "dscp_as_chronyd" dscp

poll_at_least_the_limit()
{
	both poll $S1 --poll 0
	assert_eq "$DAEMON" 1 "daemon's poll for a poll 0 request, limit interval 1"
	assert_eq "$FAST" 1 "ntpk's poll for a poll 0 request, limit interval 1"
	both poll $S1 --poll 7
	assert_eq "$FAST" 7 "ntpk's poll for a poll 7 request"
	assert_eq "$DAEMON" 7 "daemon's poll for a poll 7 request"
	# Without rate limiting, the request's poll.
	n "$SRV" ntpkctl ratelimit off
	push_state
	assert_eq "$(field "$(probe $S1 --poll 0)" poll)" 0 "ntpk's poll, no limit"
	n "$SRV" ntpkctl ratelimit set interval 1 burst 64 leak 0
}
run_test "poll_at_least_the_rate_limit_interval" poll_at_least_the_limit

flow_label()
{
	both flowlabel $S16
	echo "# flow labels: daemon $DAEMON, ntpk $FAST"
	[ "$DAEMON" != 0 ] && [ "$DAEMON" != - ] || fail "daemon's flow label $DAEMON"
	[ "$FAST" != 0 ] && [ "$FAST" != - ] || fail "ntpk's flow label $FAST"
	# Off when the namespace turns automatic flow labels off.
	n "$SRV" sysctl -qw net.ipv6.auto_flowlabels=0
	assert_eq "$(field "$(probe $S16)" flowlabel)" 0 "ntpk's flow label, auto_flowlabels=0"
	n "$SRV" sysctl -qw net.ipv6.auto_flowlabels=1
}
run_test "ipv6_flow_label_as_the_stack" flow_label

# Transport-mode ESP between c1 and s1, for the NTP port only: the client
# accepts replies only through ESP, the server requests only through ESP.
xfrm_pair()	# NS SRC DST SPI
{
	n "$1" ip xfrm state add src "$2" dst "$3" proto esp spi "$4" \
		mode transport \
		aead 'rfc4106(gcm(aes))' 0x0123456789abcdef0123456789abcdef01234567 128
}
for a in "$C1 $S1" "$C16 $S16"; do
	set -- $a
	for ns in "$SRV" "$CLI"; do
		xfrm_pair "$ns" "$1" "$2" 0x100
		xfrm_pair "$ns" "$2" "$1" 0x200
	done
	n "$CLI" ip xfrm policy add src "$1" dst "$2" proto udp dport 123 dir out \
		tmpl src "$1" dst "$2" proto esp mode transport
	n "$CLI" ip xfrm policy add src "$2" dst "$1" proto udp sport 123 dir in \
		tmpl src "$2" dst "$1" proto esp mode transport
	n "$SRV" ip xfrm policy add src "$1" dst "$2" proto udp dport 123 dir in \
		tmpl src "$1" dst "$2" proto esp mode transport
	n "$SRV" ip xfrm policy add src "$2" dst "$1" proto udp sport 123 dir out \
		tmpl src "$2" dst "$1" proto esp mode transport
done

esp_packets()	# NS SPI: packets through that SA
{
	n "$1" ip -s xfrm state get src "$3" dst "$4" proto esp spi "$2" |
		awk '/lifetime current/ { getline; sub(/\(packets\)/, "", $2); print $2 }'
}

ipsec_protected()
{
	local a r0 e0

	for a in "$S1 $C1" "$S16 $C16"; do
		set -- $a
		r0=$(cnt replies)
		e0=$(esp_packets "$SRV" 0x200 "$1" "$2")
		both stratum "$1"
		assert_eq "$(cnt replies)" $((r0 + 1)) "ntpk replies to $1 over ESP"
		# The daemon's reply and ntpk's, both through the SA.
		assert_eq "$(esp_packets "$SRV" 0x200 "$1" "$2")" $((e0 + 2)) \
			"ESP packets from $1"
	done
}
run_test "ipsec_request_answered_through_esp" ipsec_protected

ipsec_clear_refused()
{
	local a q0 p0 r0

	# The client stops protecting its requests: the server's inbound
	# policy refuses them, and so must ntpk.
	n "$CLI" ip xfrm policy del src $C1 dst $S1 proto udp dport 123 dir out
	n "$CLI" ip xfrm policy del src $C16 dst $S16 proto udp dport 123 dir out
	push_state
	for a in $S1 $S16; do
		q0=$(cnt requests) p0=$(cnt pass_not_ours) r0=$(cnt replies)
		assert_eq "$(field "$(probe $a)" stratum)" none "clear request to $a"
		assert_eq "$(cnt requests)" $((q0 + 1)) "requests, clear to $a"
		assert_eq "$(cnt pass_not_ours)" $((p0 + 1)) "pass_not_ours, clear to $a"
		assert_eq "$(cnt replies)" "$r0" "replies, clear to $a"
	done
	n "$SRV" ip xfrm policy flush
	n "$CLI" ip xfrm policy flush
}
run_test "ipsec_clear_request_refused_by_policy_not_answered" ipsec_clear_refused

# The request came tagged with PCP 3 (priority 5 on the server); the reply
# must leave with priority 0 as chronyd's does (PCP 0), not 5 (PCP 6).
n "$CLI" nft -f - <<'EOF'
table netdev vq {
	counter p0 { }
	counter p6 { }
	chain in {
		type filter hook ingress device "c3" priority 0;
		vlan id 10 vlan pcp 0 udp sport 123 counter name p0
		vlan id 10 vlan pcp 6 udp sport 123 counter name p6
	}
}
EOF
pcp()	# COUNTER
{
	n "$CLI" nft list counter netdev vq "$1" |
		sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

vlan_priority()
{
	local p0 p6

	p0=$(pcp p0) p6=$(pcp p6)
	both stratum $S3
	assert_eq "$(pcp p0)" $((p0 + 2)) "replies with PCP 0 (daemon, ntpk)"
	assert_eq "$(pcp p6)" "$p6" "replies with PCP 6"
}
run_test "vlan_ingress_priority_does_not_follow_the_reply" vlan_priority

# nftables tracing of the request (meta nftrace set 1 in raw) must not
# follow ntpk's reply: chronyd's is a new packet, untraced.
nftrace()
{
	local out=$TMP/trace

	n "$SRV" nft -f - <<'EOF'
table inet tr {
	chain raw {
		type filter hook prerouting priority raw;
		udp dport 123 meta nftrace set 1
	}
	chain out {
		type filter hook output priority 0;
		udp sport 123 counter
	}
}
EOF
	push_state
	n "$SRV" timeout 10 nft monitor trace >"$out" 2>&1 &
	local mon=$!
	sleep 1
	assert_eq "$(field "$(probe $S1)" stratum)" 2 "ntpk answers a traced request"
	sleep 1
	kill "$mon" 2>/dev/null || true
	wait "$mon" 2>/dev/null || true
	sed 's/^/#   /' "$out" | head -20
	grep -q 'inet tr raw' "$out" || fail "the request was not traced"
	! grep -q 'inet tr out' "$out" || fail "ntpk's reply was traced"
	n "$SRV" nft delete table inet tr
}
run_test "nf_trace_does_not_follow_the_reply" nftrace

# A request that carries a monotonic delivery time (SO_TXTIME on
# CLOCK_MONOTONIC; kept across the veth since 6.11's tstamp_type): fq
# would hold or drop a reply that kept it, 30 s ahead.
delivery_time()
{
	n "$SRV" tc qdisc replace dev s1 root fq horizon 10s horizon_drop
	push_state
	assert_eq "$(field "$(probe $S1 --txtime-ahead 30)" stratum)" 2 \
		"ntpk's reply to a request with a delivery time"
	n "$SRV" tc qdisc del dev s1 root
}
run_test "delivery_time_does_not_follow_the_reply" delivery_time

ktap_finish
