#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=240
#
# kmod/ntpk.yaml, the YNL spec of the ntpk generic netlink family, against
# the module: the kernel's own ynl CLI (tools/net/ynl/cli.py of
# linux-source-6.12, unpacked by scripts/ynl-unpack; make check-vm passes
# its root as NTPK_YNL) drives it with the spec alone, which every run
# validates against the kernel's genetlink-legacy JSON schema.  Every reply
# is compared whole, byte for byte; ntpkctl, which speaks the family
# through its own C code, reads what ynl wrote and writes what ynl reads,
# so a wrong type, byte order or attribute number in the spec shows.
# Last, the spec's operations, flags, attribute types and checks are
# compared with what the module tells nlctrl (ntpk_ynl_policy.py).
#
#	scripts/vm-run --module kmod/ntpk.ko -- env NTPK_YNL=$(scripts/ynl-unpack) \
#		selftests/run ntpk_ynl.sh
#
# Each subtest has a namespace of its own.  ynl prints a flags set in no
# fixed order and the state's age varies: both are normalised (norm), all
# else is compared as printed.  Every python start costs about 2.5 s under
# TCG, so do operations are batched (--multi) where the order allows.

# The subtests run through timed and ktap_test, which shellcheck cannot see.
# shellcheck disable=SC2317
. "$(dirname "$0")/lib.sh"

require_cmd ip modprobe ntpkctl "$PY"
CLI=${NTPK_YNL:-}/tools/net/ynl/cli.py
SCHEMA=${NTPK_YNL:-}/Documentation/netlink/genetlink-legacy.yaml
SPEC=$NTPK_TOP/kmod/ntpk.yaml
POLICY=$NTPK_SELFTESTS/ntpk_ynl_policy.py
if [ -z "${NTPK_YNL:-}" ] || [ ! -f "$CLI" ] || [ ! -f "$SCHEMA" ]; then
	echo "# NTPK_YNL='${NTPK_YNL:-}': not the kernel's ynl tree (make check-vm sets it from scripts/ynl-unpack)"
	exit "$KSFT_FAIL"
fi

# ---- helpers ----

# ynl NS ARGS...: cli.py with the spec, validated against the schema.
ynl()
{
	local ns=$1

	shift
	n "$ns" "$PY" "$CLI" --spec "$SPEC" --schema "$SCHEMA" --output-json "$@"
}

# norm TEXT: the rate-limit flags set in one order, every age as N.
norm()
{
	local s=$1 re='^(.*"age(-msec|_ms)": ?)[0-9]+(.*)$'

	s=${s//'["kod", "enabled"]'/'["enabled", "kod"]'}
	while [[ $s =~ $re ]]; do
		s="${BASH_REMATCH[1]}N${BASH_REMATCH[3]}"
	done
	printf '%s\n' "$s"
}

# expect_out EXPECTED CMD...: CMD succeeds and prints EXPECTED (normalised).
expect_out()
{
	local exp=$1 out rc=0

	shift
	out=$("$@" 2>"$TMP/stderr") || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "# '$*' exited $rc: $(<"$TMP/stderr")"
		return 1
	fi
	out=$(norm "$out")
	if [ "$out" != "$exp" ]; then
		echo "# '$*' printed something else (< expected, > got):"
		printf '%s\n' "$exp" >"$TMP/expected"
		printf '%s\n' "$out" >"$TMP/got"
		diff "$TMP/expected" "$TMP/got" | sed 's/^/# /'
		return 1
	fi
}

# expect_fail ERROR EXTACK CMD...: CMD (ynl) exits 1, its first line is
# "Netlink error: ERROR", and the extended ack it prints is EXTACK.
expect_fail()
{
	local err=$1 ack=$2 rc=0

	shift 2
	"$@" >"$TMP/out" 2>&1 || rc=$?
	if [ "$rc" -ne 1 ] || [ "$(head -n1 "$TMP/out")" != "Netlink error: $err" ] ||
	   [ "$(sed -n 's/^\textack: //p' "$TMP/out")" != "$ack" ]; then
		echo "# '$*': exit $rc, wanted 1, 'Netlink error: $err' and extack $ack:"
		sed 's/^/#   /' "$TMP/out"
		return 1
	fi
}

# json_state JSON: the "state" object of an "ntpkctl -j show".
json_state()
{
	local re='"state":(\{[^}]*\}|null)'

	[[ $1 =~ $re ]]
	echo "${BASH_REMATCH[1]}"
}

COUNTERS="requests replies pass-not-ours pass-unusual pass-bad-source
pass-loopback pass-short pass-extensions pass-not-mode3 pass-bad-version
pass-no-state drop-malformed drop-checksum drop-route drop-xmit rl-dropped
rl-leaked rl-kod pass-leap pass-route"

# stats [NAME=VALUE...]: ynl's "stats" object, every counter 0 but those.
stats()
{
	local c v kv out=""

	for c in $COUNTERS; do
		v=0
		for kv; do
			[ "${kv%=*}" != "$c" ] || v=${kv#*=}
		done
		out="$out, \"$c\": $v"
	done
	echo "\"stats\": {${out#, }}"
}

# What get replies in a namespace nobody configured, part by part.
DEF_CONFIG='"config": {"flags": [], "max-age": 5, "naddrs": 0, "leap-window": 2000, "dscp": 0, "ports": {"port": [123]}}'
DEF_RL='"ratelimit": {"flags": [], "interval": {"value": 3}, "burst": 8, "leak": 2, "table-size": 1048576, "v6-prefix": 64}'

# ---- subtests ----

test_get_defaults()
{
	local ns=$1

	expect_out "{$DEF_CONFIG, \"status\": {\"reason\": \"disabled\"}, $(stats), $DEF_RL}" \
		ynl "$ns" --do get
}

# set writes every config and rate-limit member; get and ntpkctl read
# them back.
test_set()
{
	local ns=$1
	local config='"config": {"flags": ["enabled"], "max-age": 60, "leap-window": 500, "dscp": 46, "ports": {"port": [123, 4123]}}'
	local rl='"ratelimit": {"flags": ["enabled", "kod"], "interval": {"value": -2}, "burst": 16, "leak": 4, "table-size": 4096, "v6-prefix": 56}'

	expect_out "[null, {${config/\"leap-window\"/\"naddrs\": 0, \"leap-window\"}, \"status\": {\"reason\": \"never-pushed\"}, $(stats), $rl}]" \
		ynl "$ns" --multi set "{$config, $rl}" --multi get '{}'
	expect_out '{"config":{"enabled":true,"ports":[123,4123],"max_age":60,"leap_window":0.500,"dscp":46,"addresses":[],"ratelimit":{"enabled":true,"interval":-2,"burst":16,"leak":4,"kod":true,"table_size":4096,"v6_prefix":56}},"state":null,"status":{"reason":"never-pushed"},"counters":{"requests":0,"replies":0,"pass_not_ours":0,"pass_unusual":0,"pass_bad_source":0,"pass_loopback":0,"pass_short":0,"pass_extensions":0,"pass_not_mode3":0,"pass_bad_version":0,"pass_no_state":0,"drop_malformed":0,"drop_checksum":0,"drop_route":0,"drop_xmit":0,"rl_dropped":0,"rl_leaked":0,"rl_kod":0,"pass_leap":0,"pass_route":0}}' \
		ntpkctl -n "$ns" -j show
}

# state-set through ynl, with every member: s8 precision, big-endian
# refid (192.0.2.1), a negative s64 correction; ntpkctl decodes it.
test_state_set()
{
	local ns=$1 out
	local st='"leap": 0, "stratum": 2, "precision": {"value": -20}, "root-delay": 806, "root-disp": 98304, "refid": 3221225985, "reftime": 16806447549564059648'
	local info='"correction": -12345, "error": 12500, "max-error": 1000000'

	expect_out "[null, {$DEF_CONFIG, \"state\": {$st, \"age-msec\": N, \"usable\": 1, \"disp-rate\": 20000, $info}, \"status\": {\"reason\": \"disabled\"}, $(stats), $DEF_RL}]" \
		ynl "$ns" --multi state-set "{\"state\": {$st, \"disp-rate\": 20000, $info}}" \
		--multi get '{}'
	out=$(norm "$(ntpkctl -n "$ns" -j show)")
	[ "$(json_state "$out")" = '{"leap":0,"stratum":2,"precision":-20,"root_delay":0.012299,"root_dispersion":1.500000,"refid":"192.0.2.1","refid_raw":"0xc0000201","reftime":"2024-01-01T00:00:00.500000000Z","reftime_raw":"0xe93c7f0080000000","disp_rate_ppb":20000,"correction":-0.000012345,"error":0.000012500,"max_error":0.001000000,"age_ms":N,"usable":true}' ] ||
		{ echo "# ntpkctl -j show: $out"; false; }
}

# The other way: ntpkctl pushes (refid "GPS", precision -5), ynl reads it,
# clears it with a reason and reads the reason back.
test_state_get_clear()
{
	local ns=$1 get
	local config='"config": {"flags": ["enabled"], "max-age": 3600, "naddrs": 0, "leap-window": 2000, "dscp": 0, "ports": {"port": [123]}}'

	printf '%s\n' 'set enable max-age 3600' \
		'state set leap 0 stratum 1 precision -5 refid GPS rootdelay 0 rootdisp 0.5 reftime 2024-01-01T00:00:00.5Z correction -0.000000042 error 0 maxerror 0.000000001' |
		ntpkctl -n "$ns" -b - >/dev/null
	get="{$config, \"state\": {\"leap\": 0, \"stratum\": 1, \"precision\": {\"value\": -5}, \"root-delay\": 0, \"root-disp\": 32768, \"refid\": 1196446464, \"reftime\": 16806447549564059648, \"age-msec\": N, \"usable\": 1, \"disp-rate\": 15000, \"correction\": -42, \"error\": 0, \"max-error\": 1}, \"status\": {\"reason\": \"none\"}, $(stats), $DEF_RL}"
	expect_out "[$get, null, {$config, \"status\": {\"reason\": \"follow-stopped\"}, $(stats), $DEF_RL}]" \
		ynl "$ns" --multi get '{}' \
		--multi state-clear '{"reason": "follow-stopped"}' --multi get '{}'
}

# addr-add and addr-del (binary, 4 and 16 bytes), the addr-get dump in the
# module's order (IPv4 first; a delete moves the last IPv4 address into
# the hole), -EEXIST with its extended ack, addr-flush.
test_addrs()
{
	local ns=$1

	expect_out '[null, null, null, null]' ynl "$ns" \
		--multi addr-add '{"addr": {"in": "c0000201"}}' \
		--multi addr-add '{"addr": {"in6": "20010db8000000000000000000000001"}}' \
		--multi addr-add '{"addr": {"in": "c6336401"}}' \
		--multi addr-del '{"addr": {"in": "c0000201"}}'
	expect_out '[{"addr": {"in": "198.51.100.1"}}, {"addr": {"in6": "2001:db8::1"}}]' \
		ynl "$ns" --dump addr-get
	expect_out $'198.51.100.1\n2001:db8::1' ntpkctl -n "$ns" addr list
	expect_fail "File exists" "{'msg': 'address already served'}" \
		ynl "$ns" --do addr-add --json '{"addr": {"in6": "20010db8000000000000000000000001"}}'
	expect_out 'null' ynl "$ns" --do addr-flush
	expect_out '' ntpkctl -n "$ns" addr list
}

# One datagram to 127.0.0.1:123 in an enabled namespace: a request that
# arrived on loopback.  stats-reset zeroes it.
test_stats()
{
	local ns=$1 get
	local config='"config": {"flags": ["enabled"], "max-age": 5, "naddrs": 0, "leap-window": 2000, "dscp": 0, "ports": {"port": [123]}}'

	ntpkctl -n "$ns" set enable
	n "$ns" bash -c 'echo -n x >/dev/udp/127.0.0.1/123'
	get="{$config, \"status\": {\"reason\": \"never-pushed\"}"
	expect_out "[$get, $(stats requests=1 pass-loopback=1), $DEF_RL}, null, $get, $(stats), $DEF_RL}]" \
		ynl "$ns" --multi get '{}' --multi stats-reset '{}' --multi get '{}'
}

# service-set (the time service's signal, follow --vip's): ynl sets it,
# get and ntpkctl read it back; a reason of the fast path's alone is
# refused, naming the attribute.
test_service()
{
	local ns=$1 out

	expect_out "[null, {$DEF_CONFIG, \"status\": {\"reason\": \"disabled\"}, \"service\": {\"reason\": \"distance\", \"announced\": 0, \"age-msec\": N}, $(stats), $DEF_RL}]" \
		ynl "$ns" --multi service-set '{"service": {"reason": "distance", "announced": 0}}' \
		--multi get '{}'
	expect_out 'null' ynl "$ns" --do service-set \
		--json '{"service": {"reason": "none", "announced": 1}}'
	out=$(norm "$(ntpkctl -n "$ns" -j show)")
	[[ $out = *'"status":{"reason":"disabled"},"service":{"reason":"none","announced":true,"age_ms":N},"counters":'* ]] ||
		{ echo "# ntpkctl -j show: $out"; false; }
	expect_fail "Invalid argument" "{'msg': 'not a reason of the time service', 'bad-attr': '.service.reason'}" \
		ynl "$ns" --do service-set --json '{"service": {"reason": "error-bound", "announced": 1}}'
}

test_policy()
{
	n "$1" "$PY" "$POLICY" "$NTPK_YNL" "$SPEC"
}

# timed NAME ARGS...: test_NAME ARGS, and how long it took.
timed()
{
	local t0=$EPOCHREALTIME

	"test_$1" "${@:2}"
	echo "# $1: $(elapsed "$t0") s"
}

# ---- main ----

ntpk_load
ns_create DEF SET ST STC ADDR CNT SVC POL
echo "# $CLI, $("$PY" --version)"

ktap_plan 8
ktap_test get_defaults timed get_defaults "$DEF"
ktap_test set timed set "$SET"
ktap_test state_set timed state_set "$ST"
ktap_test state_get_clear timed state_get_clear "$STC"
ktap_test addrs timed addrs "$ADDR"
ktap_test stats timed stats "$CNT"
ktap_test service timed service "$SVC"
ktap_test policy timed policy "$POL"
ktap_finish
