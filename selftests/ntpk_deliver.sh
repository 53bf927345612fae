#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=300
#
# ntpk answers exactly what the stack would deliver to a local socket, and
# nothing else: the stack's own input route decides (ip rules, rp_filter,
# AnyIP routes, VRF tables, addresses on a down device), and so do a bridge
# (another host's frame, under br_netfilter) and an inbound IPsec policy
# (ntpk_egress.sh).  A chronyd at stratum 3 listens on the server, the
# pushed state says stratum 2: the stratum of an answer says who gave it.
#
#   +------------------------+  veth   +--------------------------------+
#   | client $CLI            +---------+ server $SRV                    |
#   |  cv 10.92.0.2/24       |         |  sv 10.92.0.1/24, fd00:92::1   |
#   |     fd00:92::2/64      |         |  lo: AnyIP 192.0.2.0/24,       |
#   |     10.93.0.5 (spoof)  |         |      2001:db8:7::/64           |
#   |                        |         |  dn (dummy, down): 10.94.0.1,  |
#   |                        |  veth   |      fd00:94::1                |
#   |  cb 10.97.0.2/24       +---------+ sb - br0 10.97.0.1/24,         |
#   |     fd00:97::2/64      |         |      fd00:97::1 (br_netfilter) |
#   |                        |  veth   |                                |
#   |  cr 10.95.0.2/24       +---------+ sr in VRF "blue" (table 10):   |
#   |     fd00:95::2/64      |         |    10.95.0.1/24, fd00:95::1    |
#   |  ntpk_probe.py         |         |  chronyd, ntpk + state         |
#   +------------------------+         +--------------------------------+

. "$(dirname "$0")/lib.sh"

S4=10.92.0.1 C4=10.92.0.2 S6=fd00:92::1 C6=fd00:92::2
SPOOF4=10.93.0.5
ANY4=192.0.2.9 ANY6=2001:db8:7::9
DOWN4=10.94.0.1 DOWN6=fd00:94::1
BR4=10.97.0.1 BR6=fd00:97::1 CB4=10.97.0.2 CB6=fd00:97::2
VS4=10.95.0.1 VS6=fd00:95::1 VC4=10.95.0.2 VC6=fd00:95::2
PROBE=("$PY" "$NTPK_SELFTESTS/ntpk_probe.py")

require_cmd ip modprobe chronyd chronyc ntpkctl sysctl "$PY"

ktap_plan 12

ntpk_load
ns_create SRV CLI
veth_pair "$SRV" sv "$CLI" cv
n "$SRV" ip addr add $S4/24 dev sv
n "$SRV" ip addr add $S6/64 dev sv nodad
n "$CLI" ip addr add $C4/24 dev cv
n "$CLI" ip addr add $C6/64 dev cv nodad
n "$CLI" ip addr add $SPOOF4/32 dev cv
# Neighbours pinned: with "ip rule from $C4 unreachable" the server would
# not answer the client's ARP either (arp_process routes the request), so
# a cache entry that expired on a slow guest kept the request from leaving.
SM=$(n "$SRV" cat /sys/class/net/sv/address)
CM=$(n "$CLI" cat /sys/class/net/cv/address)
n "$SRV" ip neigh replace $C4 lladdr "$CM" dev sv nud permanent
n "$SRV" ip -6 neigh replace $C6 lladdr "$CM" dev sv nud permanent
n "$CLI" ip neigh replace $S4 lladdr "$SM" dev cv nud permanent
n "$CLI" ip -6 neigh replace $S6 lladdr "$SM" dev cv nud permanent
n "$CLI" ip route add 192.0.2.0/24 via $S4
n "$CLI" ip route add $DOWN4/32 via $S4
n "$CLI" ip -6 route add 2001:db8:7::/64 via $S6
n "$CLI" ip -6 route add $DOWN6/128 via $S6

# The local table's rule moves from pref 0 to 1000, as on VRF hosts, so
# that the rules the subtests add at prefs 80 to 100 come first: at pref 0
# it would deliver every local destination before any other rule.
n "$SRV" ip rule add pref 1000 lookup local
n "$SRV" ip rule del pref 0
n "$SRV" ip -6 rule add pref 1000 lookup local
n "$SRV" ip -6 rule del pref 0

# The daemon: any address, any interface of the main table.  With
# ip_nonlocal_bind it can answer from an AnyIP address over IPv6 too.
n "$SRV" sysctl -qw net.ipv6.ip_nonlocal_bind=1
chronyd_server "$SRV" 3
n "$SRV" ntpkctl set enable max-age 3600
push_state()
{
	n "$SRV" ntpkctl state set leap 0 stratum 2 precision -20 \
		refid 192.0.2.7 rootdelay 0.015625 rootdisp 0.0078125 \
		reftime 0xe9a0c3b412345678
}
push_state

cnt()	# NAME: the server's counter
{
	n "$SRV" ntpkctl stats | awk -F': ' -v c="$1" '$1 == c { print $2 }'
}

# Who answers a request to ADDR [probe options]: 2 ntpk, 3 (or the VRF's
# daemon's stratum) chronyd, "none" nobody.
who()
{
	local out

	out=$(n "$CLI" "${PROBE[@]}" "$@")
	echo "# probe $*: $out" >&2
	echo "$out" | "$PY" -c 'import json, sys
r = json.load(sys.stdin)
print(r["stratum"] if r["answered"] else "none")'
}

# One request to ADDR that ntpk must pass on, and what the stack then did:
# requests +1, pass_not_ours +1, replies unchanged, answered by WANT.
passed_on()	# WANT ADDR [probe options]
{
	local want=$1 q0 p0 r0 got

	shift
	q0=$(cnt requests) p0=$(cnt pass_not_ours) r0=$(cnt replies)
	got=$(who "$@")
	assert_eq "$got" "$want" "who answered $*"
	assert_eq "$(cnt requests)" $((q0 + 1)) "requests after $*"
	assert_eq "$(cnt pass_not_ours)" $((p0 + 1)) "pass_not_ours after $*"
	assert_eq "$(cnt replies)" "$r0" "replies after $*"
}

answered_by_ntpk()	# ADDR [probe options]
{
	local r0 got

	r0=$(cnt replies)
	got=$(who "$@")
	assert_eq "$got" 2 "who answered $*"
	assert_eq "$(cnt replies)" $((r0 + 1)) "replies after $*"
}

baseline()
{
	answered_by_ntpk $S4
	answered_by_ntpk $S6
}
run_test "baseline_answered_by_ntpk" baseline

# ip rule prohibit, blackhole and unreachable: the stack refuses the
# request (an ICMP error or nothing), so ntpk must not answer it either.
rule_types()
{
	local t

	for t in prohibit blackhole unreachable; do
		n "$SRV" ip rule add from $C4 $t pref 100
		n "$SRV" ip -6 rule add from $C6 $t pref 100
		passed_on none $S4
		passed_on none $S6
		n "$SRV" ip rule del pref 100
		n "$SRV" ip -6 rule del pref 100
	done
	answered_by_ntpk $S4
}
run_test "ip_rule_prohibit_blackhole_unreachable_refused_as_the_stack" rule_types

# Strict reverse-path filtering: a source that routes out of another
# interface is dropped by the stack.  The old address check answered it.
rp_filter()
{
	n "$SRV" ip link add sp type dummy
	n "$SRV" ip link set sp up
	n "$SRV" ip route add 10.93.0.0/24 dev sp
	n "$SRV" sysctl -qw net.ipv4.conf.all.rp_filter=1
	n "$SRV" sysctl -qw net.ipv4.conf.sv.rp_filter=1
	local b0
	b0=$(cnt pass_bad_source)
	assert_eq "$(who $S4 --src $SPOOF4)" none "strict rp_filter, spoofed source"
	assert_eq "$(cnt pass_bad_source)" $((b0 + 1)) "pass_bad_source, rp_filter"
	# Loose mode accepts it (a route exists): the daemon and ntpk both
	# answer, through sp, where the client never hears it.
	n "$SRV" sysctl -qw net.ipv4.conf.all.rp_filter=2
	n "$SRV" sysctl -qw net.ipv4.conf.sv.rp_filter=2
	local r0
	r0=$(cnt replies)
	assert_eq "$(who $S4 --src $SPOOF4)" none "loose rp_filter, reply via sp"
	assert_eq "$(cnt replies)" $((r0 + 1)) "replies, loose rp_filter"
	n "$SRV" sysctl -qw net.ipv4.conf.all.rp_filter=0
	n "$SRV" sysctl -qw net.ipv4.conf.sv.rp_filter=0
	n "$SRV" ip link del sp
}
run_test "strict_rp_filter_drops_a_spoofed_source_as_the_stack" rp_filter

# AnyIP: a local route covering addresses that no interface has.  The
# stack delivers to them over both families; so does ntpk, from the
# address the client asked.
anyip()
{
	n "$SRV" ip route add local 192.0.2.0/24 dev lo
	n "$SRV" ip -6 route add local 2001:db8:7::/64 dev lo
	answered_by_ntpk $ANY4
	answered_by_ntpk $ANY6
	n "$SRV" ntpkctl state clear
	assert_eq "$(who $ANY4)" 3 "AnyIPv4 without ntpk state"
	assert_eq "$(who $ANY6)" 3 "AnyIPv6 without ntpk state"
	push_state
}
run_test "anyip_local_routes_served_over_both_families" anyip

# Addresses on an administratively down device: ntpk agrees with what the
# stack and the daemon do, family by family (IPv4 still delivers, IPv6
# takes the address's route away).
down_device()
{
	local a daemon fast

	n "$SRV" ip link add dn type dummy
	n "$SRV" ip addr add $DOWN4/32 dev dn
	n "$SRV" ip addr add $DOWN6/128 dev dn nodad
	n "$SRV" ip link set dn up
	n "$SRV" ip link set dn down
	for a in $DOWN4 $DOWN6; do
		n "$SRV" ntpkctl state clear
		daemon=$(who $a)
		push_state
		fast=$(who $a)
		echo "# $a on a down device: daemon alone $daemon, with ntpk $fast"
		case $daemon in
		none) assert_eq "$fast" none "$a with ntpk" ;;
		*) assert_eq "$fast" 2 "$a with ntpk" ;;
		esac
	done
	# Pinned as measured: IPv4 delivers, IPv6 does not.
	assert_eq "$(who $DOWN4)" 2 "IPv4 address on a down device"
	assert_eq "$(who $DOWN6)" none "IPv6 address on a down device"
	n "$SRV" ip link del dn
}
run_test "down_device_addresses_as_the_stack_both_families" down_device

# A VRF: requests that arrive on a VRF slave are passed on, counted once
# (the stack runs PRE_ROUTING on the slave and again on the VRF device).
veth_pair "$SRV" sr "$CLI" cr
n "$SRV" ip link add blue type vrf table 10
n "$SRV" ip link set blue up
n "$SRV" ip link set sr master blue
n "$SRV" ip addr add $VS4/24 dev sr
n "$SRV" ip addr add $VS6/64 dev sr nodad
n "$CLI" ip addr add $VC4/24 dev cr
n "$CLI" ip addr add $VC6/64 dev cr nodad

vrf_no_daemon()
{
	local d0

	d0=$(cnt drop_route)
	# chronyd's sockets are not bound to the VRF: nobody answers.
	passed_on none $VS4
	passed_on none $VS6
	assert_eq "$(cnt drop_route)" "$d0" "drop_route"
}
run_test "vrf_without_a_daemon_in_it_nobody_answers" vrf_no_daemon

vrf_daemon()
{
	chronyd_stop "$SRV"
	# A daemon bound to the VRF, at stratum 4: it answers, ntpk does not.
	local dir=$TMP/chrony-vrf
	mkdir -p "$dir"
	chmod 700 "$dir"
	printf '%s\n' "local stratum 4" "allow all" "binddevice blue" \
		"cmdport 0" "bindcmdaddress $dir/chronyd.sock" \
		"pidfile $dir/chronyd.pid" >"$dir/chrony.conf"
	n "$SRV" chronyd -x -u root -f "$dir/chrony.conf" -l "$dir/log"
	defer __chronyd_stop "$dir"
	wait_until 20 n "$SRV" chronyc -h "$dir/chronyd.sock" -n tracking \
		>/dev/null 2>&1
	wait_until 10 eval '[ "$(who $VS4)" = 4 ]'
	passed_on 4 $VS4
	passed_on 4 $VS6
	__chronyd_stop "$dir"
	chronyd_server "$SRV" 3
}
run_test "vrf_with_a_daemon_bound_to_it_the_daemon_answers" vrf_daemon

# A bridge with br_netfilter, which runs the IP hooks for bridged frames
# and turns another host's frame (PACKET_OTHERHOST) into PACKET_HOST for
# them.  A frame for another MAC is bridged on, not delivered locally,
# whatever its IP destination; ntpk must not answer it.
modprobe br_netfilter
veth_pair "$SRV" sb "$CLI" cb
n "$SRV" ip link add br0 type bridge
n "$SRV" ip link set sb master br0
n "$SRV" ip link set br0 up
n "$SRV" ip addr add $BR4/24 dev br0
n "$SRV" ip addr add $BR6/64 dev br0 nodad
n "$CLI" ip addr add $CB4/24 dev cb
n "$CLI" ip addr add $CB6/64 dev cb nodad
n "$SRV" sysctl -qw net.bridge.bridge-nf-call-iptables=1
n "$SRV" sysctl -qw net.bridge.bridge-nf-call-ip6tables=1
BRMAC=$(n "$SRV" cat /sys/class/net/br0/address)

bridged_own_mac()
{
	n "$CLI" ip neigh replace $BR4 lladdr "$BRMAC" dev cb
	n "$CLI" ip -6 neigh replace $BR6 lladdr "$BRMAC" dev cb
	answered_by_ntpk $BR4
	answered_by_ntpk $BR6
}
run_test "bridged_frame_to_the_bridge_answered" bridged_own_mac

bridged_other_mac()
{
	# Another host's MAC: the bridge floods the frame, nobody here
	# receives it.
	n "$CLI" ip neigh replace $BR4 lladdr 02:00:00:00:00:99 dev cb
	n "$CLI" ip -6 neigh replace $BR6 lladdr 02:00:00:00:00:99 dev cb
	passed_on none $BR4
	passed_on none $BR6
	n "$CLI" ip neigh replace $BR4 lladdr "$BRMAC" dev cb
	n "$CLI" ip -6 neigh replace $BR6 lladdr "$BRMAC" dev cb
}
run_test "bridged_frame_for_another_host_not_answered" bridged_other_mac

# A mark set in the raw table (before ntpk) steers policy routing: the
# decision follows it as the stack's does.
fwmark()
{
	n "$SRV" nft add table inet mk
	n "$SRV" nft add chain inet mk raw '{ type filter hook prerouting priority raw; }'
	n "$SRV" nft add rule inet mk raw udp dport 123 meta mark set 7
	n "$SRV" ip rule add fwmark 7 prohibit pref 90
	n "$SRV" ip -6 rule add fwmark 7 prohibit pref 90
	passed_on none $S4
	passed_on none $S6
	n "$SRV" ip rule del pref 90
	n "$SRV" ip -6 rule del pref 90
	n "$SRV" nft delete table inet mk
	answered_by_ntpk $S4
}
run_test "raw_table_mark_steers_the_decision" fwmark

# What we passed on reached the stack without our route attached: a mangle
# rule after ntpk can still re-steer it by mark (here to prohibit), as if
# ntpk were not there.  The state is cleared so that ntpk passes.
mangle_after()
{
	n "$SRV" ntpkctl state clear
	n "$SRV" nft add table inet mg
	n "$SRV" nft add chain inet mg pre '{ type filter hook prerouting priority mangle; }'
	n "$SRV" nft add rule inet mg pre udp dport 123 meta mark set 8
	n "$SRV" ip rule add fwmark 8 prohibit pref 80
	n "$SRV" ip -6 rule add fwmark 8 prohibit pref 80
	assert_eq "$(who $S4)" none "IPv4, mangle mark then prohibit"
	assert_eq "$(who $S6)" none "IPv6, mangle mark then prohibit"
	n "$SRV" ip rule del pref 80
	n "$SRV" ip -6 rule del pref 80
	assert_eq "$(who $S4)" 3 "IPv4 back to the daemon"
	n "$SRV" nft delete table inet mg
	push_state
}
run_test "passed_requests_routed_again_after_mangle" mangle_after

counters_add_up()
{
	local c sum=0 req

	req=$(cnt requests)
	for c in replies rl_kod rl_dropped pass_not_ours pass_unusual \
		pass_bad_source pass_loopback pass_short pass_extensions \
		pass_not_mode3 pass_bad_version pass_no_state pass_leap \
		pass_route drop_malformed drop_checksum drop_route drop_xmit; do
		sum=$((sum + $(cnt $c)))
	done
	assert_eq "$sum" "$req" "sum of outcomes"
}
run_test "every_request_has_one_outcome" counters_add_up

ktap_finish
