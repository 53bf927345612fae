#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The nftables ACL of docs/operator.md ("ACLs with nftables at raw
# priority"), loaded verbatim from the document: a client banned there gets
# no answer and the module never even counts its requests (the raw chain,
# priority -300, drops them before ntpk's hook at -250); other clients are
# answered by the module; unbanned, the client is answered again.
#
#   +------------------------------+          +------------------------------+
#   | client  $CLI                 |          | server  $SRV                 |
#   |                              |   veth   |   ntpk enabled, state set    |
#   |   c0: 10.88.0.2  fd88::2     +----------+   by hand (no daemon: only   |
#   |       10.88.0.3  fd88::3     |          |   the module can answer)     |
#   |       (.3/::3 get banned)    |          |   s0: 10.88.0.1  fd88::1     |
#   |                              |          |   table inet ntpk_acl        |
#   +------------------------------+          +------------------------------+
#
#	scripts/vm-run --module kmod/ntpk.ko -- selftests/run ntpk_acl.sh

. "$(dirname "$0")/lib.sh"

require_cmd ip nft ntpkctl "$PY"

DOC=$NTPK_TOP/docs/operator.md
RULES=$TMP/ntpk-acl.nft
NREQ=5

# The ruleset block of the guide, between its markers, without the fences.
extract_rules()
{
	sed -n '/^<!-- ntpk_acl.nft begin/,/^<!-- ntpk_acl.nft end/p' "$DOC" |
		sed '/^<!--/d; /^```/d' >"$RULES"
	grep -q '^table inet ntpk_acl {' "$RULES"
}

# query SRC DST: NREQ requests from SRC, one at a time; prints the number of
# valid mode 4 replies (our transmit timestamp echoed) and their strata.
query()
{
	n "$CLI" "$PY" - "$1" "$2" "$NREQ" <<'EOF'
import os, socket, sys

src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ':' in dst else socket.AF_INET
got, strata = 0, set()
for _ in range(count):
	s = socket.socket(family, socket.SOCK_DGRAM)
	s.bind((src, 0))
	s.settimeout(0.5)
	tx = os.urandom(8)
	s.sendto(bytes([4 << 3 | 3]) + bytes(39) + tx, (dst, 123))
	try:
		while True:
			data = s.recv(512)
			if len(data) >= 48 and data[24:32] == tx and data[0] & 7 == 4:
				got += 1
				strata.add(data[1])
				break
	except socket.timeout:
		pass
	s.close()
print(got, ','.join(str(x) for x in sorted(strata)))
EOF
}

# NAME: the module's counter in $SRV.  Callers run in && lists, where set -e
# does not apply, so every step checks for itself.
counter()
{
	local out v

	out=$(n "$SRV" ntpkctl stats) || return 1
	v=$(sed -n "s/^$1: //p" <<<"$out")
	[[ $v =~ ^[0-9]+$ ]] || { echo "# no counter $1 in: $out"; return 1; }
	echo "$v"
}

# The packets the drop rule matching SET has counted.
rule_packets()
{
	local out

	out=$(n "$SRV" nft list chain inet ntpk_acl prerouting) || return 1
	sed -n "s/.*saddr @$1 counter packets \([0-9]*\) bytes.*/\1/p" <<<"$out"
}

# expect_query SRC DST REPLIES STRATA REQUESTS_DELTA
expect_query()
{
	local before after out

	before=$(counter requests) || return 1
	out=$(query "$1" "$2") || return 1
	after=$(counter requests) || return 1
	echo "# $1 -> $2: $out, module requests +$((after - before))"
	[ "$out" = "$3 $4" ] && [ $((after - before)) -eq "$5" ]
}

ns_create SRV CLI
veth_pair "$SRV" s0 "$CLI" c0
ip -n "$SRV" addr add 10.88.0.1/24 dev s0
ip -n "$SRV" addr add fd88::1/64 dev s0 nodad
ip -n "$CLI" addr add 10.88.0.2/24 dev c0
ip -n "$CLI" addr add 10.88.0.3/24 dev c0
ip -n "$CLI" addr add fd88::2/64 dev c0 nodad
ip -n "$CLI" addr add fd88::3/64 dev c0 nodad

ntpk_load
n "$SRV" ntpkctl set enable port 123 max-age 3600
n "$SRV" ntpkctl state set leap 0 stratum 2 precision -20 refid 192.0.2.1 \
	rootdelay 0.001 rootdisp 0.002 reftime "unix:$(date +%s)"

ktap_plan 9

ktap_test "ruleset_from_docs_loads_at_priority_raw" eval '
	extract_rules &&
	n "$SRV" nft -f "$RULES" &&
	chain=$(n "$SRV" nft list chain inet ntpk_acl prerouting) &&
	grep -qF "type filter hook prerouting priority raw; policy accept;" <<<"$chain"'

# The ban, as the guide says to add one.
ktap_test "ban_with_nft_add_element" eval '
	n "$SRV" nft add element inet ntpk_acl banned4 "{ 10.88.0.3 }" &&
	n "$SRV" nft add element inet ntpk_acl banned6 "{ fd88::3 }"'

ktap_test "allowed_ipv4_client_answered_by_module" \
	expect_query 10.88.0.2 10.88.0.1 $NREQ 2 $NREQ
ktap_test "banned_ipv4_client_not_answered_not_seen" eval '
	expect_query 10.88.0.3 10.88.0.1 0 "" 0 &&
	pk=$(rule_packets banned4) && echo "# rule counter: $pk" &&
	[ "$pk" = $NREQ ]'
ktap_test "allowed_ipv6_client_answered_by_module" \
	expect_query fd88::2 fd88::1 $NREQ 2 $NREQ
ktap_test "banned_ipv6_client_not_answered_not_seen" eval '
	expect_query fd88::3 fd88::1 0 "" 0 &&
	pk=$(rule_packets banned6) && echo "# rule counter: $pk" &&
	[ "$pk" = $NREQ ]'

# Every request the module saw, it answered.
ktap_test "module_answered_all_it_saw" eval '
	req=$(counter requests) && rep=$(counter replies) &&
	echo "# requests $req replies $rep" &&
	[ "$req" = $((2 * NREQ)) ] && [ "$rep" = $((2 * NREQ)) ]'

ktap_test "unban_with_nft_delete_element" eval '
	n "$SRV" nft delete element inet ntpk_acl banned4 "{ 10.88.0.3 }" &&
	n "$SRV" nft delete element inet ntpk_acl banned6 "{ fd88::3 }"'

ktap_test "unbanned_clients_answered_again" eval '
	expect_query 10.88.0.3 10.88.0.1 $NREQ 2 $NREQ &&
	expect_query fd88::3 fd88::1 $NREQ 2 $NREQ'

ktap_finish
