#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=120
#
# The shortest proof that a guest works for ntpk: this tree is mounted where
# it is on the host and is writable, the module this tree built loads by
# name, and it answers one sntp query over each family.  scripts/
# check-locations boots it from checkouts all over the file system (/tmp,
# /root, /home, /var/tmp, /srv, a path with spaces); with NTPK_SMOKE_MARK
# set, it leaves that file in the tree for the host to find.
#
#   +---------------------+   veth   +---------------------+
#   | client  $CLI        +----------+ server  $SRV        |
#   |   cv 10.91.0.2/24   |          |   sv 10.91.0.1/24   |
#   |      fd00:91::2/64  |          |      fd00:91::1/64  |
#   |   sntp              |          |   ntpk, state set   |
#   +---------------------+          +---------------------+

. "$(dirname "$0")/lib.sh"

S4=10.91.0.1 C4=10.91.0.2 S6=fd00:91::1 C6=fd00:91::2

require_cmd ip modprobe sntp ntpkctl "$PY"

ktap_plan 4

tree_is_here()
{
	# The guest sees the host's path, not a copy somewhere else.
	[ "$NTPK_TOP" = "$(cd "$(dirname "$0")/.." && pwd)" ]
	[ -f "$NTPK_TOP/selftests/ntpk_smoke.sh" ]
	echo "# tree: $NTPK_TOP"
	if [ -n "${NTPK_SMOKE_MARK:-}" ]; then
		uname -r >"$NTPK_TOP/$NTPK_SMOKE_MARK"
	else
		: >"$TMP/probe" && touch -c "$NTPK_TOP/selftests/ntpk_smoke.sh"
	fi
}
ktap_test "project_tree_mounted_at_its_host_path_and_writable" tree_is_here

module_loads()
{
	# This tree's, or the one the runner was given (scripts/check-debug's).
	cmp "$(modinfo -n ntpk)" "${NTPK_KO:-$NTPK_TOP/kmod/ntpk.ko}"
	ntpk_load
	[ -d /sys/module/ntpk ]
}
ktap_test "this_trees_module_loads_by_name" module_loads

ns_create SRV CLI
veth_pair "$SRV" sv "$CLI" cv
n "$SRV" ip addr add $S4/24 dev sv
n "$SRV" ip addr add $S6/64 dev sv nodad
n "$CLI" ip addr add $C4/24 dev cv
n "$CLI" ip addr add $C6/64 dev cv nodad
n "$SRV" ntpkctl set enable max-age 3600
n "$SRV" ntpkctl state set leap 0 stratum 2 precision -20 refid 192.0.2.7 \
	rootdelay 0.015625 rootdisp 0.0078125 reftime 0xe9a0c3b412345678

answered_by_ntpk()	# ADDR
{
	local out r0

	r0=$(n "$SRV" ntpkctl stats | awk -F': ' '$1 == "replies" { print $2 }')
	out=$(n "$CLI" timeout 30 sntp -j -t 5 "$1")
	echo "# sntp $1: $out"
	# Stratum 2 is the pushed state's: nothing else here answers NTP.
	[ "$(echo "$out" | "$PY" -c \
		'import json, sys; print(json.load(sys.stdin)["stratum"])')" = 2 ]
	[ "$(n "$SRV" ntpkctl stats | awk -F': ' '$1 == "replies" { print $2 }')" = $((r0 + 1)) ]
}
ktap_test "sntp_answered_by_ntpk_ipv4" answered_by_ntpk $S4
ktap_test "sntp_answered_by_ntpk_ipv6" answered_by_ntpk $S6
ktap_finish
