#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=600
#
# ntpk behind a real NIC driver (issue 24, part 1).  veth hands the server
# the sender's own skb: linear, with the sender's checksum state, never
# through a driver.  Pool nodes are mostly VMs on virtio-net, whose receive
# path builds the skb from pages: the UDP header and payload may sit in a
# page fragment, NAPI and GRO run, the checksum state comes from the device,
# an 802.1Q tag is the stack's to strip.  scripts/vm-run --virtio-pair gives
# the guest three pairs of virtio-net devices, each pair's two QEMU tap
# backends bridged back to back in a network namespace of QEMU's own
# (vm-run --help); the pairs differ in their receive buffers:
#
#   +------------------+                        +---------------------+
#   | client $CLI      |   cmrg <-> smrg        | server $SRV         |
#   |  raw requests    |   mergeable, MTU 9000  |  ntpk, chronyd,     |
#   |  (ntpk_craft.py  |   cbig <-> sbig        |  ntpkctl follow     |
#   |  vreq), trafgen  |   big (pages), 9000    |  10.95.P.1          |
#   |  10.95.P.2       |   csmall <-> ssmall    |  fd00:95:P::1       |
#   |  fd00:95:P::2    |   small, 1500, no rx   |  VLAN 100:          |
#   |  VLAN 100 .P.2   |   checksum offload     |  10.96.P.1 ...      |
#   +------------------+                        +---------------------+
#
#   1. chronyd and ntpkctl follow as on a node: requests over IPv4 and
#      IPv6 answered by ntpk, every field checked against the followed
#      state, and chronyd's answer to the very same frames (ntpk disabled
#      for them) compared with ntpk's field by field;
#   2. then, with a pushed state that the replies are checked against
#      exactly (as ntpk_fastpath.sh does), on each pair: complete and
#      partial checksums (the device hands on CHECKSUM_PARTIAL from a
#      sender's offload; the small pair negotiates no receive checksum
#      offload, so its host completes them: ethtool -K rx is fixed on
#      virtio-net, the device decides), GRO on and off, an 802.1Q VLAN,
#      MTU 1500 and 9000; each request ends in exactly the counters
#      wanted, bad checksums are dropped, never answered; and what the
#      driver built for each request is asserted from the
#      net:napi_gro_receive_entry tracepoint (checksum state, linear or in
#      page fragments, the tag in the data);
#   3. page fragments.  A frame of 1205 bytes or more leaves a mergeable
#      buffer too little tailroom for build_skb: only the Ethernet header
#      is copied to the head, the rest stays in the page (page_to_skb() in
#      drivers/net/virtio_net.c); 8000 bytes span several mergeable
#      buffers, or two pages of a big one.  A request ntpk answers is 90
#      to 114 bytes, copied whole into the head; padded behind its
#      datagram to 1514 or 8000 bytes it leaves the driver in fragments,
#      but ip_rcv's trim of the padding condenses the 76 bytes left into
#      the head (skb_condense()) before ntpk's hook: answered, and
#      linear there.  What reaches ntpk with its UDP header and payload in
#      a fragment is a request with an extension field (1300 or 7900
#      bytes here): it must be counted (pass_extensions), passed on, and
#      read intact from chronyd's socket;
#   4. a trafgen flood from the client's device (valid IPv4 and IPv6
#      requests and, on purpose, one with a bad UDP checksum): the
#      counters add up exactly to what reached the device, no drop_*
#      counter moves but drop_checksum, by the bad ones; then rmmod under
#      the flood, with a clean kernel log.
#
# Splitting the 48 bytes of a request between two fragments is not
# something the driver can be made to do: both receive modes fill each
# buffer from the frame's start, and the first holds at least 1524 bytes
# (a mergeable buffer) or a page (big mode), while a request ends by byte
# 114; only extension headers could push it across, and ntpk passes those
# on without looking at the payload.

. "$(dirname "$0")/lib.sh"

CRAFT=$NTPK_SELFTESTS/ntpk_craft.py
PAIRS="mrg big small"
declare -A MACPFX=([mrg]=52:54:00:4e:01 [big]=52:54:00:4e:02
		   [small]=52:54:00:4e:03)
declare -A IDX=([mrg]=1 [big]=2 [small]=3)
STATE_WORDS="leap 0 stratum 2 precision -20 refid 192.0.2.7
	rootdelay 0.015625 rootdisp 0.0078125 reftime 0xe9a0c3b412345678"
STATE_HEX=0,2,-20,400,200,c0000207,e9a0c3b412345678
VLAN=100
FLOOD_PPS=${NTPK_FLOOD_PPS:-$((2000 / NTPK_SLOW))}

require_cmd ip ethtool modprobe chronyd chronyc trafgen dmesg "$PY" ntpkctl

# The devices, by the MACs vm-run gives them: outside such a guest there
# is nothing to test (selftests/run under make check-vm always has them).
modprobe virtio_net
declare -A DEV
for p in $PAIRS; do
	for i in 1 2; do
		for d in /sys/class/net/*; do
			if [ "$(cat "$d/address")" = "${MACPFX[$p]}:0$i" ]; then
				DEV[$p$i]=${d##*/}
			fi
		done
	done
done
if [ ${#DEV[@]} -eq 0 ]; then
	echo "1..0 # SKIP no virtio-net pairs (scripts/vm-run --virtio-pair)"
	exit $KSFT_SKIP
fi

echo "ntpk_virtio: start" >/dev/kmsg
ktap_plan 34

# Each pair's devices are virtio-net, with the receive buffers wanted:
# VIRTIO_NET_F_MRG_RXBUF is feature bit 15, GUEST_CSUM 1, GUEST_TSO4 7,
# MTU 3 (the bits of /sys/.../device/features, from 0).
features_ok()
{
	local p i dev f want

	for p in $PAIRS; do
		for i in 1 2; do
			dev=${DEV[$p$i]:-}
			[ -n "$dev" ] || { echo "# no device ${MACPFX[$p]}:0$i"; return 1; }
			[ "$(basename "$(readlink -f "/sys/class/net/$dev/device/driver")")" = virtio_net ]
			f=$(cat "/sys/class/net/$dev/device/features")
			case $p in
			mrg)   want=1111 ;;	# mrg, csum, tso4, mtu
			big)   want=0111 ;;
			small) want=0000 ;;
			esac
			echo "# $p$i: $dev, features $f"
			[ "${f:15:1}${f:1:1}${f:7:1}${f:3:1}" = "$want" ]
		done
	done
}
ktap_test "devices_virtio_net_mergeable_big_small" features_ok

modprobe 8021q
ntpk_load
ns_create SRV CLI
for ns in "$SRV" "$CLI"; do
	n "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0
done
# See check_reply in ntpk_craft.py: replies' flow labels carry the
# stateless flag.
n "$SRV" sysctl -qw net.ipv6.flowlabel_state_ranges=1
declare -A SMAC CMAC
for p in $PAIRS; do
	k=${IDX[$p]}
	ip link set "${DEV[${p}1]}" netns "$CLI"
	ip link set "${DEV[${p}2]}" netns "$SRV"
	n "$CLI" ip link set "${DEV[${p}1]}" name "c$p"
	n "$SRV" ip link set "${DEV[${p}2]}" name "s$p"
	n "$CLI" ip link add link "c$p" name "c$p.$VLAN" type vlan id $VLAN
	n "$SRV" ip link add link "s$p" name "s$p.$VLAN" type vlan id $VLAN
	CMAC[$p]=${MACPFX[$p]}:01
	SMAC[$p]=${MACPFX[$p]}:02
	for d in "c$p" "c$p.$VLAN"; do n "$CLI" ip link set "$d" mtu 1500 up; done
	for d in "s$p" "s$p.$VLAN"; do n "$SRV" ip link set "$d" mtu 1500 up; done
	n "$SRV" ip addr add 10.95.$k.1/24 dev "s$p"
	n "$SRV" ip addr add fd00:95:$k::1/64 dev "s$p" nodad
	n "$SRV" ip addr add 10.96.$k.1/24 dev "s$p.$VLAN"
	n "$SRV" ip addr add fd00:96:$k::1/64 dev "s$p.$VLAN" nodad
	n "$CLI" ip addr add 10.95.$k.2/24 dev "c$p"
	n "$CLI" ip addr add fd00:95:$k::2/64 dev "c$p" nodad
	n "$CLI" ip addr add 10.96.$k.2/24 dev "c$p.$VLAN"
	n "$CLI" ip addr add fd00:96:$k::2/64 dev "c$p.$VLAN" nodad
	# No neighbour resolution: replies leave at once.
	for a in 10.95.$k.2 fd00:95:$k::2; do
		n "$SRV" ip neigh replace $a lladdr "${CMAC[$p]}" dev "s$p" nud permanent
	done
	for a in 10.96.$k.2 fd00:96:$k::2; do
		n "$SRV" ip neigh replace $a lladdr "${CMAC[$p]}" dev "s$p.$VLAN" nud permanent
	done
done
# Replies need no socket on the client (nor an ICMP error back): dropped
# after the capture.
n "$CLI" nft -f - <<EOF
table inet ntpk_virtio_cli {
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		udp sport 123 drop
	}
}
EOF
# What reached the server's mergeable device during the flood, by kind,
# before any hook of ntpk's.
n "$SRV" nft -f - <<EOF
table netdev ntpk_virtio {
	counter valid4 { }
	counter valid6 { }
	counter bad4 { }
	chain in {
		type filter hook ingress device "smrg" priority 0; policy accept;
		udp sport 40000 udp dport 123 counter name valid4
		udp sport 40001 udp dport 123 counter name valid6
		udp sport 40002 udp dport 123 counter name bad4
	}
}
EOF

counters()
{
	n "$SRV" ntpkctl stats | tr -d :
}

counters_delta()	# BEFORE-FILE: "name +delta" for every change
{
	counters | awk 'NR == FNR { a[$1] = $2; next }
		$2 != a[$1] { printf "%s +%d\n", $1, $2 - a[$1] }' "$1" -
}

counter()	# NAME
{
	n "$SRV" ntpkctl stats | awk -F': ' -v c="$1" '$1 == c { print $2 }'
}

chronyd_received()
{
	chronyc_in "$SRV" serverstats | awk -F': *' '/^NTP packets received/ { print $2 }'
}

# vreq PAIR [VLAN] -- ARGS: ntpk_craft.py vreq over pair PAIR's devices
# (its VLAN device with "vlan").
vreq()
{
	local p=$1 k=${IDX[$1]} dev=c$1 net4=10.95 net6=fd00:95

	shift
	if [ "$1" = vlan ]; then
		dev=c$p.$VLAN net4=10.96 net6=fd00:96
		shift
	fi
	[ "$1" != -- ] || shift
	n "$CLI" "$PY" "$CRAFT" vreq --iface "$dev" --cli-mac "${CMAC[$p]}" \
		--srv-mac "${SMAC[$p]}" --cli4 $net4.$k.2 --srv4 $net4.$k.1 \
		--cli6 $net6:$k::2 --srv6 $net6:$k::1 --timeout $((3 * NTPK_SLOW)) "$@"
}

set_mtu()	# PAIR MTU
{
	local d

	for d in "c$1" "c$1.$VLAN"; do n "$CLI" ip link set "$d" mtu "$2"; done
	for d in "s$1" "s$1.$VLAN"; do n "$SRV" ip link set "$d" mtu "$2"; done
}

# --- 1. as on a node: chronyd, follow, and chronyd's answer as the control ------------

chronyd_server "$SRV" 5
n "$SRV" ntpkctl set enable max-age 60
bg_run "$SRV" ntpkctl follow \
	--source "chronyd:$(__chrony_dir "$SRV")/chronyd.sock" \
	2>"$TMP/follow.err"
FOLLOW=$BG_PID

followed_answers()
{
	local d recv0 rc=0

	wait_until 30 eval 'n "$SRV" ntpkctl -j show | grep -q "\"usable\":true"'
	# The state holds still while the requests are out.
	kill -STOP "$FOLLOW"
	n "$SRV" ntpkctl -j show >"$TMP/show.json"
	sed 's/^/# /' "$TMP/show.json"
	counters >"$TMP/c"
	recv0=$(chronyd_received)
	vreq mrg -- --state-json "$TMP/show.json" \
		--control "ip netns exec $SRV ntpkctl set disable" || rc=$?
	n "$SRV" ntpkctl set enable
	kill -CONT "$FOLLOW"
	d=$(counters_delta "$TMP/c")
	echo "$d" | sed 's/^/# /'
	[ $rc = 0 ]
	# ntpk answered the first round, chronyd (ntpk disabled) the second.
	echo "$d" | grep -qx 'replies +4'
	! echo "$d" | grep -q '^drop_' || false
	wait_until 5 eval '[ $(($(chronyd_received) - recv0)) = 4 ]' ||
		{ echo "# chronyd received +$(($(chronyd_received) - recv0))"; false; }
}
ktap_test "followed_state_ipv4_ipv6_exact_and_as_chronyd" followed_answers
kill "$FOLLOW"
wait "$FOLLOW" 2>/dev/null || true
sed 's/^/# follow: /' "$TMP/follow.err" | tail -n 5

# --- 2. the driver's variants, with a pushed state checked exactly -------------------

n "$SRV" ntpkctl set enable max-age 3600
PUSHED=$(date +%s%N)
# shellcheck disable=SC2086
n "$SRV" ntpkctl state set $STATE_WORDS

ANSWERED='requests +4
replies +4'
ANSWERED6='requests +6
replies +6'

# What the driver made of each request: the skb it hands to GRO
# (net:napi_gro_receive_entry), in a trace instance of our own.
TR=/sys/kernel/tracing
[ -e $TR/instances ] || mount -t tracefs nodev $TR
TR=$TR/instances/ntpk_virtio_$$
mkdir $TR
defer rmdir $TR
defer eval "echo 0 >$TR/events/net/napi_gro_receive_entry/enable"
echo 1 >$TR/events/net/napi_gro_receive_entry/enable

# The requests among what reached server device DEV: by protocol and
# length (an IPv6 MLD report is 76 bytes too), after eth_type_trans (a
# VLAN tag is still in the data: virtio-net strips none).  One line per
# request: "PROTOCOL LEN IP_SUMMED NR_FRAGS".
layout()	# DEV
{
	sed -n "s/.* dev=$1 .*protocol=0x\([0-9a-f]*\) ip_summed=\([0-9]*\) .* len=\([0-9]*\) data_len=[0-9]* .* nr_frags=\([0-9]*\) .*/\1 \3 \2 \4/p" \
		$TR/trace |
		awk '($1 == "0800" && $2 == 76) || ($1 == "86dd" && $2 == 96) ||
		     ($1 == "8100" && ($2 == 80 || $2 == 100)) || $2 >= 1000'
}

# layout_is WANT...: the trace's requests, all of them: csum=N (ip_summed;
# 0 none, 3 partial), linear (no fragment), frags (each family has one
# in page fragments at least: a mergeable buffer that took the rest of
# its page has room enough for build_skb, one in 21), allfrags, vlan
# (tagged in the data); and N=COUNT of them.
layout_is()	# DEV WANT...
{
	local dev=$1 w l

	shift
	l=$(layout "$dev")
	echo "$l" | awk '{ printf "# driver: proto %s len %s ip_summed %s nr_frags %s\n", $1, $2, $3, $4 }'
	for w in "$@"; do
		case $w in
		N=*)	[ "$(echo "$l" | grep -c .)" = "${w#N=}" ] ;;
		csum=*)	! echo "$l" | awk -v c="${w#csum=}" '$3 != c' | grep -q . ;;
		linear)	! echo "$l" | awk '$4 != 0' | grep -q . ;;
		allfrags) ! echo "$l" | awk '$4 == 0' | grep -q . ;;
		frags)	echo "$l" | awk '$1 == "0800" && $4 > 0' | grep -q . &&
			echo "$l" | awk '$1 == "86dd" && $4 > 0' | grep -q . ;;
		vlan)	! echo "$l" | awk '$1 != "8100"' | grep -q . ;;
		esac || { echo "# driver: not $w"; return 1; }
	done
}

# variant PAIR WANT-DELTA LAYOUT [vlan] [-- VREQ-ARGS...]: requests
# (two per family unless --count), each answered and checked (or none,
# --expect none), exactly WANT-DELTA in the counters, and the driver's
# skbs as LAYOUT (layout_is words, space-separated) says.
variant()
{
	local p=$1 want=$2 lay=$3 dev=s$1 d rc=0

	shift 3
	# Ports of this variant's own: a request's bytes are never where an
	# earlier one's were left (a module that read past the linear head
	# could find those there and answer as if it had read this one).
	echo $(($(cat "$TMP/nvariant" 2>/dev/null || echo 0) + 1)) >"$TMP/nvariant"
	: >$TR/trace
	counters >"$TMP/c"
	vreq "$p" "$@" --sport $((20000 + 100 * $(cat "$TMP/nvariant"))) \
		--state "$STATE_HEX,$PUSHED" >"$TMP/vreq.out" || rc=$?
	sed 's/^/# /' "$TMP/vreq.out"
	d=$(counters_delta "$TMP/c")
	[ "$d" = "$want" ] || { echo "$d" | sed 's/^/# counters: /'; rc=1; }
	# shellcheck disable=SC2086
	layout_is "$dev" $lay || rc=1
	return $rc
}

# Requests ntpk passes on: counted after its hook, and what the stack then
# made of them (a datagram corrupted on the way would be a checksum error).
n "$SRV" nft -f - <<EOF
table inet ntpk_virtio_srv {
	counter passed { }
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		udp dport 123 udp length > 1000 counter name passed
	}
}
EOF
udp_snmp()	# "InDatagrams InCsumErrors" of both families, summed
{
	n "$SRV" awk '$1 == "Udp:" && $2 ~ /^[0-9]/ { d += $2; e += $8 }
		$1 == "Udp6InDatagrams" { d += $2 } $1 == "Udp6InCsumErrors" { e += $2 }
		END { print d, e }' /proc/net/snmp /proc/net/snmp6
}

# passed_variant PAIR N LAYOUT [vlan] [-- VREQ-ARGS]: N requests with an
# extension field (--ext-len), each counted and passed on by ntpk
# (pass_extensions), seen after its hook, and delivered by the stack to
# chronyd's socket without a checksum error.
passed_variant()
{
	local p=$1 cnt=$2 lay=$3 p0 p1 s0 s1 rc=0

	shift 3
	p0=$(n "$SRV" nft list counter inet ntpk_virtio_srv passed | awk '$1 == "packets" { print $2 }')
	s0=$(udp_snmp)
	variant "$p" "requests +$cnt
pass_extensions +$cnt" "$lay" "$@" --expect passed --timeout 0.5 || rc=$?
	# chronyd reads them (the stack counts a datagram when it is read).
	wait_until 5 eval '[ $(($(udp_snmp | cut -d" " -f1) - ${s0% *})) -ge $cnt ]' || true
	s1=$(udp_snmp)
	# shellcheck disable=SC2086
	set -- $s0 $s1
	p1=$(n "$SRV" nft list counter inet ntpk_virtio_srv passed | awk '$1 == "packets" { print $2 }')
	echo "# passed on: +$((p1 - p0)); read from chronyd's socket +$(($3 - $1)), checksum errors +$(($4 - $2))"
	[ "$p1" = $((p0 + cnt)) ] || rc=1
	[ $(($3 - $1)) -ge "$cnt" ] && [ "$4" = "$2" ] || rc=1
	return $rc
}

# The receive checksum state the device hands on: a partial one from the
# sender's offload where the device negotiated VIRTIO_NET_F_GUEST_CSUM
# (CHECKSUM_PARTIAL, 3), none on the small pair, which did not (its host
# completes the checksum: CHECKSUM_NONE, 0, and ntpk verifies it).
declare -A PARTIAL=([mrg]=3 [big]=3 [small]=0)
# A frame of 1205 bytes or more: page fragments in a mergeable buffer
# (only the Ethernet header is copied to the head); a page of a big buffer,
# or a small buffer, leaves room for build_skb: linear.  A request padded
# behind its datagram to 1514 bytes reaches ntpk linear all the same: the
# stack trims the padding, and skb_condense() pulls the 76 bytes left into
# the head; one with a 1300-byte extension field (ntpk passes it on, to
# chronyd) keeps its UDP header and payload in the fragment.
declare -A PADDED=([mrg]=frags [big]=linear [small]=linear)
for p in $PAIRS; do
	ktap_test "${p}_mtu1500_complete_checksum_linear" \
		variant $p "$ANSWERED" "N=4 csum=0 linear"
	ktap_test "${p}_checksum_partial_from_sender_offload" \
		variant $p "$ANSWERED" "N=4 csum=${PARTIAL[$p]} linear" \
		-- --csum partial
	ktap_test "${p}_vlan_${VLAN}_tag_in_data" \
		variant $p "$ANSWERED" "N=4 csum=0 vlan linear" vlan
	ktap_test "${p}_padded_1514_${PADDED[$p]}" \
		variant $p "$ANSWERED6" "N=6 csum=0 ${PADDED[$p]}" \
		-- --frame-len 1514 --count 3
	ktap_test "${p}_extension_field_1300_${PADDED[$p]}_passed" \
		passed_variant $p 6 "N=6 csum=0 ${PADDED[$p]}" \
		-- --ext-len 1300 --count 3
	n "$SRV" ethtool -K "s$p" gro off
	ktap_test "${p}_gro_off_padded_1514_partial" \
		variant $p "$ANSWERED6" "N=6 csum=${PARTIAL[$p]} ${PADDED[$p]}" \
		-- --frame-len 1514 --csum partial --count 3
	ktap_test "${p}_gro_off_extension_field_1300_partial_passed" \
		passed_variant $p 6 "N=6 csum=${PARTIAL[$p]} ${PADDED[$p]}" \
		-- --ext-len 1300 --csum partial --count 3
	n "$SRV" ethtool -K "s$p" gro on
done

ktap_test "mrg_bad_checksum_dropped_not_answered" variant mrg \
	"requests +4
drop_checksum +4" "N=4 csum=0" -- --csum bad --expect none --timeout 1

# MTU 9000 (host_mtu=9000: the mergeable and big pairs only): an 8000-byte
# frame spans several mergeable buffers, or two pages of a big one.
for p in mrg big; do
	set_mtu $p 9000
	ktap_test "${p}_mtu9000_8000_byte_frames_in_page_frags" \
		variant $p "$ANSWERED" "N=4 csum=0 allfrags" -- --frame-len 8000
	ktap_test "${p}_mtu9000_extension_field_7900_in_page_frags_passed" \
		passed_variant $p 4 "N=4 csum=0 allfrags" -- --ext-len 7900
	n "$SRV" ethtool -K "s$p" gro off
	ktap_test "${p}_mtu9000_gro_off_vlan_partial" \
		variant $p "$ANSWERED" "N=4 csum=3 vlan allfrags" \
		vlan -- --frame-len 8000 --csum partial
	n "$SRV" ethtool -K "s$p" gro on
	set_mtu $p 1500
done

# --- 3. a flood through the driver, and rmmod under it ----------------------------------

# trafgen's checksums are complete; the third frame's is wrong on purpose.
# (trafgen 0.6.8 leaves the ethertype 0 for ipv6(): given here.)
cat >"$TMP/flood.cfg" <<EOF
{
  eth(da=${SMAC[mrg]}, sa=${CMAC[mrg]}),
  ipv4(sa=10.95.1.2, da=10.95.1.1, ttl=64),
  udp(sp=40000, dp=123),
  0x23, 0x00, 0x06, 0xec, fill(0x00, 36), 0xeb, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78
}
{
  eth(da=${SMAC[mrg]}, sa=${CMAC[mrg]}, type=0x86dd),
  ipv6(sa=fd00:95:1::2, da=fd00:95:1::1, hl=64),
  udp(sp=40001, dp=123),
  0x23, 0x00, 0x06, 0xec, fill(0x00, 36), 0xeb, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x79
}
{
  eth(da=${SMAC[mrg]}, sa=${CMAC[mrg]}),
  ipv4(sa=10.95.1.2, da=10.95.1.1, ttl=64),
  udp(sp=40002, dp=123, csum=0x1234),
  0x23, 0x00, 0x06, 0xec, fill(0x00, 36), 0xeb, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x7a
}
EOF

# trafgen maps a file it creates in its working directory: not on 9p.
flood_start()
{
	cd "$TMP"
	bg_run "$CLI" trafgen --dev cmrg --conf "$TMP/flood.cfg" --num 0 \
		--cpus 1 --no-sock-mem --notouch-irq --rate "${FLOOD_PPS}pps" \
		>"$TMP/trafgen.out" 2>&1
	FLOOD=$BG_PID
	cd - >/dev/null
}

# trafgen forks a worker: SIGKILL to it and to trafgen, by pid, and wait
# until neither is left but zombies.
flood_stop()
{
	local w

	w=$(pgrep -P "$FLOOD" -x trafgen || true)
	# shellcheck disable=SC2086
	kill -KILL "$FLOOD" $w 2>/dev/null || true
	wait "$FLOOD" 2>/dev/null || true
	wait_until 10 eval "! ps -o stat= -p '$FLOOD $w' 2>/dev/null | grep -qv Z"
	FLOOD=
}

cleanup()
{
	[ -z "${FLOOD:-}" ] || flood_stop
}

nft_count()	# COUNTER
{
	n "$SRV" nft list counter netdev ntpk_virtio "$1" |
		awk '$1 == "packets" { print $2 }'
}

grows()	# COUNTER MIN
{
	local name=$1 min=$2 c0

	c0=$(counter "$name")
	wait_until 30 eval '[ $(($(counter "$name") - c0)) -ge $min ]' || {
		echo "# $name: +$(($(counter "$name") - c0)), want +$min"
		return 1
	}
}

# Still for two polls: everything that reached the device is counted.
settled()
{
	local a b

	a=$(counters; nft_count valid4; nft_count valid6; nft_count bad4)
	sleep 0.5
	b=$(counters; nft_count valid4; nft_count valid6; nft_count bad4)
	[ "$a" = "$b" ]
}

for c in valid4 valid6 bad4; do
	n "$SRV" nft reset counter netdev ntpk_virtio $c >/dev/null
done
counters >"$TMP/c"
flood_start
ktap_test "flood_answered_by_ntpk" grows replies 2000
flood_stop
flood_counted_exactly()
{
	local v4 v6 bad d

	wait_until 20 settled
	v4=$(nft_count valid4) v6=$(nft_count valid6) bad=$(nft_count bad4)
	d=$(counters_delta "$TMP/c")
	echo "# reached the device: $v4 + $v6 valid, $bad with a bad checksum"
	echo "$d" | sed 's/^/# /'
	n "$SRV" ip -s link show smrg | sed 's/^/# /'
	[ "$bad" -gt 0 ]
	[ "$d" = "requests +$((v4 + v6 + bad))
replies +$((v4 + v6))
drop_checksum +$bad" ]
}
ktap_test "flood_every_request_counted_only_bad_checksums_dropped" \
	flood_counted_exactly

dmesg_clean()
{
	! dmesg | sed -n '/ntpk_virtio: start/,$p' |
		grep -E 'WARNING|BUG|Oops|general protection|rcu.*stall|self-detected stall|KASAN|UBSAN|refcount_t|list_(add|del) corruption|blocked for more than|virtio_net.*(error|bad)' ||
		false
}

flood_start
rmmod_during_flood()
{
	grows replies 500
	modprobe -r ntpk
	[ ! -e /sys/module/ntpk ]
	# The flood goes on, to the stack alone (chronyd).
	sleep 1
	kill -0 "$FLOOD"
}
ktap_test "rmmod_during_flood" rmmod_during_flood
flood_stop
ktap_test "dmesg_clean" dmesg_clean
sed 's/^/# trafgen: /' "$TMP/trafgen.out" | tail -n 3
ktap_finish
