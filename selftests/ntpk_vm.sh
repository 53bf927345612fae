#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest environment itself, before any test relies on it: the kernel has
# what selftests/config asks for, modules autoload (ntpk through its genl
# alias too), and the tools the tests use work across namespaces.
#
#   +------------------------------+          +------------------------------+
#   | client  $cli                 |          | server  $srv                 |
#   |                              |   veth   |                              |
#   |   c0: 192.0.2.2/24           +----------+   s0: 192.0.2.1/24           |
#   |       2001:db8::2/64         |          |       2001:db8::1/64         |
#   |                              |          |                              |
#   |   ping, sntp (ntpdig)        |          |   chronyd, local stratum 3   |
#   |                              |          |   nft counter, conntrack,    |
#   |                              |          |   tshark on s0               |
#   +------------------------------+          +------------------------------+
#
# Every NTP exchange is counted exactly: by chronyd, in the capture, by nft
# and by conntrack.

. "$(dirname "$0")/lib.sh"

require_cmd ip ping modprobe genl chronyd chronyc sntp tshark nft conntrack

# An IPv4 NTP request on the wire: 20 (IP) + 8 (UDP) + 48 (NTP).
NTP4_BYTES=76

# CONFIG_X=y or =m lines of selftests/config that the running kernel lacks
# (=y satisfies =m).
missing_config()
{
	local have opt want

	if [ -r /proc/config.gz ]; then
		have=$(zcat /proc/config.gz)
	else
		have=$(cat "/boot/config-$(uname -r)")
	fi
	while IFS='=' read -r opt want; do
		case $opt in CONFIG_*) ;; *) continue ;; esac
		if ! grep -qx "$opt=$want" <<<"$have" &&
		   ! { [ "$want" = m ] && grep -qx "$opt=y" <<<"$have"; }; then
			echo "$opt=$want"
		fi
	done <"$NTPK_SELFTESTS/config"
}

test_config()
{
	local missing

	missing=$(missing_config)
	[ -z "$missing" ] || { echo "# kernel lacks: $missing"; return 1; }
}

# The kernel's own request_module: rtnl asks for "rtnl-link-dummy", genl
# for "net-pf-16-proto-16-family-ntpk"; both must end up in modprobe with
# the module tree scripts/vm-run prepared.
test_autoload()
{
	ntpk_unload
	[ "$(modprobe -R net-pf-16-proto-16-family-ntpk)" = ntpk ]
	# The debug kernel (scripts/check-debug) has dummy built in.
	if grep -qx 'kernel/drivers/net/dummy.ko' \
		"/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null; then
		ip link add "dummy$$" type dummy
		ip link del "dummy$$"
	else
		! grep -q '^dummy ' /proc/modules || modprobe -r dummy
		ip link add "dummy$$" type dummy
		ip link del "dummy$$"
		grep -q '^dummy ' /proc/modules
	fi
	! grep -q '^ntpk ' /proc/modules || false
	genl ctrl get name ntpk >/dev/null
	grep -q '^ntpk ' /proc/modules
	ntpk_unload
	! grep -q '^ntpk ' /proc/modules || false
}

test_ping4()
{
	n "$cli" ping -c 1 -W 5 192.0.2.1 >/dev/null
}

test_ping6()
{
	n "$cli" ping -6 -c 1 -W 5 2001:db8::1 >/dev/null
}

# serverstats_received: chronyd's count of NTP requests received.
serverstats_received()
{
	chronyc_in "$srv" serverstats |
		sed -n 's/^NTP packets received *: \([0-9]*\)$/\1/p'
}

# sntp_check ADDR COUNT: one sntp query to ADDR gets chronyd's answer
# (stratum 3, no leap, offset within a second: it is the same clock), and
# chronyd has then received COUNT requests in all.
sntp_check()
{
	local addr=$1 out re

	out=$(with_timeout 30 ip netns exec "$cli" sntp -t 5 "$addr")
	echo "# $out"
	re="^[0-9-]+ [0-9:.]+ \(\+0000\) [+-]0\.[0-9]+ \+/- [0-9.]+ ${addr//./\\.} s3 no-leap$"
	[[ $out =~ $re ]]
	[ "$(serverstats_received)" = "$2" ]
}

test_sntp4()
{
	sntp_check 192.0.2.1 1
}

test_sntp6()
{
	sntp_check 2001:db8::1 2
}

# One query under capture: the request and the reply decode as NTP mode 3
# and 4 with the right addresses, ports and stratum.
test_capture()
{
	local pcap=$TMP/ntp.pcap tpid fields re

	n "$srv" tshark -q -i s0 -f 'udp port 123' -c 2 -w "$pcap" \
		2>"$TMP/tshark.err" &
	tpid=$!
	# tshark says so on stderr once the capture runs.
	if ! wait_until 60 grep -q '^Capturing on' "$TMP/tshark.err"; then
		kill $tpid
		return 1
	fi
	with_timeout 30 ip netns exec "$cli" sntp -t 5 192.0.2.1 >/dev/null
	if ! wait_until 30 eval "! kill -0 $tpid 2>/dev/null"; then
		kill $tpid
		return 1
	fi
	wait $tpid
	fields=$(tshark -r "$pcap" -T fields -E separator=' ' \
		-e ip.src -e ip.dst -e udp.srcport -e udp.dstport \
		-e ntp.flags.mode -e ntp.stratum 2>/dev/null)
	echo "$fields" | sed 's/^/# /'
	re=$'^192\\.0\\.2\\.2 192\\.0\\.2\\.1 ([0-9]+) 123 3 0\n192\\.0\\.2\\.1 192\\.0\\.2\\.2 123 ([0-9]+) 4 3$'
	[[ $fields =~ $re ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
}

test_nft()
{
	n "$srv" nft list chain inet ntpk_vm in |
		grep -q "udp dport 123 counter packets 1 bytes $NTP4_BYTES$"
}

test_conntrack()
{
	local flows

	flows=$(n "$srv" conntrack -L -p udp --dport 123 2>/dev/null)
	echo "$flows" | sed 's/^/# /'
	[ "$(echo "$flows" | wc -l)" -eq 1 ]
	[[ $flows == "udp "*" src=192.0.2.2 dst=192.0.2.1 sport="*" dport=123 src=192.0.2.1 dst=192.0.2.2 sport=123 "* ]]
}

ktap_plan 9

ktap_test "kernel has every option in selftests/config" test_config
ktap_test "modules autoload: dummy via rtnl, ntpk via its genl alias" test_autoload

ns_create cli srv
veth_pair "$cli" c0 "$srv" s0
ip -n "$cli" addr add 192.0.2.2/24 dev c0
ip -n "$cli" addr add 2001:db8::2/64 dev c0 nodad
ip -n "$srv" addr add 192.0.2.1/24 dev s0
ip -n "$srv" addr add 2001:db8::1/64 dev s0 nodad

ktap_test "ping over veth, IPv4" test_ping4
ktap_test "ping over veth, IPv6" test_ping6

chronyd_server "$srv" 3
ktap_test "sntp gets chronyd's answer, IPv4" test_sntp4
ktap_test "sntp gets chronyd's answer, IPv6" test_sntp6

# A rule with a ct expression is what turns conntrack on in a namespace.
n "$srv" nft -f - <<EOF
table inet ntpk_vm {
	chain in {
		type filter hook input priority filter;
		udp dport 123 counter
		ct state new counter
	}
}
EOF
ktap_test "tshark captures and decodes NTP mode 3 and 4" test_capture
ktap_test "nft counts the request, exact size" test_nft
ktap_test "conntrack tracks the exchange" test_conntrack

ktap_finish
