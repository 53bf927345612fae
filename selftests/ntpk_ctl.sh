#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ntpkctl against the real module: every subcommand, its exact output and
# errors, privilege, namespace independence, counters against real traffic,
# follow against a real chronyd, and malformed netlink.  Run in a guest:
#
#	make -C userspace && scripts/vm-run --module kmod/ntpk.ko -- selftests/ntpk_ctl.sh
#
# Each test gets fresh namespaces (random suffix).  The traffic tests use:
#
#   +------------------------------+          +------------------------------+
#   | client  $C                   |          | server  $S                   |
#   |                              |   veth   |   ntpk enabled               |
#   |   c: 10.77.0.1/24  fd77::1   +----------+   s: 10.77.0.2/24  fd77::2   |
#   |                              |          |                              |
#   |   python3 / sntp requests    |          |   chronyd on :123, and       |
#   |                              |          |   ntpkctl follow polling it  |
#   |                              |          |   over 127.0.0.1 (never      |
#   |                              |          |   answered by the module)    |
#   +------------------------------+          +------------------------------+
#
# Exit 0 pass, 1 fail, 4 skip (not root, or no loadable ntpk module).

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NTPKCTL=$ROOT/userspace/ntpkctl
PY=/usr/bin/python3	# the system python; the pyenv one may lack modules
SUFFIX=$(printf '%04x%04x' $RANDOM $RANDOM)
TMP=$(mktemp -d /tmp/ntpk_ctl.XXXXXX)
NSLOG=$TMP/namespaces

COUNTERS="requests replies pass_not_ours pass_unusual pass_bad_source
pass_loopback pass_short pass_extensions pass_not_mode3 pass_bad_version
pass_no_state drop_malformed drop_checksum drop_route drop_xmit rl_dropped
rl_leaked rl_kod"

TESTS="autoload show_defaults json_defaults set_config state_set state_formats
state_freshness addr_cmds ratelimit_cmds usage_errors eperm netns_independent
stats_traffic follow nlfuzz"

cleanup()
{
	local ns pid

	for pid in $(cat "$TMP"/*.pid 2>/dev/null); do
		kill "$pid" 2>/dev/null
	done
	if [ -f "$NSLOG" ]; then
		while read -r ns; do
			ip netns del "$ns" 2>/dev/null
		done <"$NSLOG"
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
: >"$NSLOG"

# ---- helpers ----

# newns VAR: a fresh namespace, logged for cleanup, name stored in VAR.
newns()
{
	local name="ntpk-$1-$SUFFIX-$(wc -l <"$NSLOG")"

	ip netns add "$name"
	echo "$name" >>"$NSLOG"
	ip -n "$name" link set lo up
	eval "$1=\$name"
}

ctl()
{
	local ns=$1

	shift
	ip netns exec "$ns" "$NTPKCTL" "$@"
}

# expect_out EXPECTED CMD...: CMD succeeds and prints exactly EXPECTED.
expect_out()
{
	local exp=$1 out rc=0

	shift
	out=$("$@" 2>"$TMP/stderr") || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "FAIL: '$*' exited $rc: $(cat "$TMP/stderr")"
		return 1
	fi
	if [ "$out" != "$exp" ]; then
		echo "FAIL: '$*' printed something else (- expected, + got):"
		# No /dev/fd in the guest, so no process substitution.
		printf '%s\n' "$exp" >"$TMP/expected"
		printf '%s\n' "$out" >"$TMP/got"
		diff "$TMP/expected" "$TMP/got"
		return 1
	fi
}

# expect_err CODE MESSAGE CMD...: CMD exits CODE, prints exactly MESSAGE on
# stderr and nothing on stdout.
expect_err()
{
	local code=$1 msg=$2 rc=0

	shift 2
	"$@" >"$TMP/stdout" 2>"$TMP/stderr" || rc=$?
	if [ "$rc" -ne "$code" ] || [ "$(cat "$TMP/stderr")" != "$msg" ] ||
	   [ -s "$TMP/stdout" ]; then
		echo "FAIL: '$*'"
		echo "  exit $rc (expected $code)"
		echo "  stderr: $(cat "$TMP/stderr")"
		echo "  wanted: $msg"
		echo "  stdout: $(cat "$TMP/stdout")"
		return 1
	fi
}

# The show output of a namespace that was never touched.
default_counters()
{
	local c

	for c in $COUNTERS; do
		echo "$1$c: 0"
	done
}

DEFAULT_SHOW="config:
  enabled: no
  ports: 123
  max_age: 5
  addresses: any
  ratelimit: off
state: none
counters:
$(default_counters '  ')"

DEFAULT_RL_JSON='{"enabled":false,"interval":3,"burst":8,"leak":2,"kod":false,"table_size":1048576,"v6_prefix":64}'

# section NS NAME: the lines of one section of show, header included,
# with the varying age_ms replaced by N.
section()
{
	ctl "$1" show | awk -v s="$2:" '
		/^[a-z]/ { on = ($1 == s) }
		on { sub(/^  age_ms: [0-9]+$/, "  age_ms: N"); print }'
}

# json NS EXPR: a python expression over the parsed "-j show" object d,
# printed as compact JSON.
json()
{
	ctl "$1" -j show | "$PY" -c 'import json, sys
d = json.load(sys.stdin)
print(json.dumps(eval(sys.argv[1]), separators=(",", ":")))' "$2"
}

# counters NS: "name value ..." on one line, for compact assertions.
counters()
{
	ctl "$1" stats | tr -d ':' | tr '\n' ' ' | sed 's/ $//'
}

# counters_net NS: the same without follow's own polls over loopback
# (counted as requests and pass_loopback; the module never answers them).
counters_net()
{
	ctl "$1" stats | awk -F': ' '
		{ name[NR] = $1; val[NR] = $2; if ($1 == "pass_loopback") lo = $2 }
		END {
			for (i = 1; i <= NR; i++) {
				v = val[i]
				if (name[i] == "requests") v -= lo
				if (name[i] == "pass_loopback") v = 0
				printf "%s%s %s", (i > 1 ? " " : ""), name[i], v
			}
			print ""
		}'
}

# expected_counters name=value...: all others 0, in counters() format.
expected_counters()
{
	local c v kv out=

	for c in $COUNTERS; do
		v=0
		for kv in "$@"; do
			[ "${kv%%=*}" = "$c" ] && v=${kv#*=}
		done
		out="$out$c $v "
	done
	echo "${out% }"
}

# pair C S: two namespaces joined by a veth, addresses as in the diagram.
pair()
{
	newns "$1"
	newns "$2"
	local c=${!1} s=${!2}

	ip link add c netns "$c" type veth peer name s netns "$s"
	ip -n "$c" addr add 10.77.0.1/24 dev c
	ip -n "$s" addr add 10.77.0.2/24 dev s
	ip -n "$c" addr add fd77::1/64 dev c nodad
	ip -n "$s" addr add fd77::2/64 dev s nodad
	ip -n "$c" link set c up
	ip -n "$s" link set s up
}

# The NTP client: send COUNT requests of a KIND to DST and check the
# replies (see ntp_client below).
client()
{
	local ns=$1

	shift
	ip netns exec "$ns" "$PY" "$TMP/ntp_client.py" "$@"
}

write_client()
{
	cat >"$TMP/ntp_client.py" <<'EOF'
# ntp_client.py DST PORT KIND COUNT EXPECT
# KIND: valid (v4 mode 3), short (40 bytes), ext (68 bytes), mode4, v0, v5.
# EXPECT: "none" (no reply may come back within 1 s), or STRATUM:REFIDHEX:
# every request must be answered within 3 s by a mode 4 reply echoing our
# transmit timestamp, with that stratum and refid.  Prints "replies N".
import os, socket, struct, sys

dst, port, kind, count, expect = sys.argv[1:6]
port, count = int(port), int(count)
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
replies = 0
for i in range(count):
    tx = os.urandom(8)
    lvm = {"mode4": 0x24, "v0": 0x03, "v5": 0x2b}.get(kind, 0x23)
    pkt = bytes([lvm]) + bytes(39) + tx
    if kind == "short":
        pkt = pkt[:40]
    elif kind == "ext":
        pkt = pkt + bytes(20)
    s.sendto(pkt, (dst, port))
    if expect == "none":
        continue
    s.settimeout(3)
    try:
        r, _ = s.recvfrom(1024)
    except socket.timeout:
        sys.exit("no reply to request %d" % i)
    stratum, refid = expect.split(":")
    if len(r) != 48:
        sys.exit("reply of %d bytes" % len(r))
    if r[0] & 7 != 4 or (r[0] >> 3) & 7 != 4:
        sys.exit("reply lvm 0x%02x" % r[0])
    if r[24:32] != tx:
        sys.exit("origin timestamp is not our transmit timestamp")
    if r[1] != int(stratum) or r[12:16].hex() != refid:
        sys.exit("stratum %d refid %s, expected %s" % (r[1], r[12:16].hex(), expect))
    replies += 1
if expect == "none":
    s.settimeout(1)
    try:
        r, a = s.recvfrom(1024)
        sys.exit("unexpected reply from %s" % (a,))
    except socket.timeout:
        pass
print("replies %d" % replies)
EOF
}

# ---- tests ----

test_autoload()
{
	newns A
	if [ -d /sys/module/ntpk ]; then
		echo "SKIP: ntpk was loaded before the test started"
		return 4
	fi
	# The family lookup alone must load the module (MODULE_ALIAS_GENL_FAMILY).
	ctl "$A" show >/dev/null
	[ -d /sys/module/ntpk ]
}

test_show_defaults()
{
	newns A
	expect_out "$DEFAULT_SHOW" ctl "$A" show
	# No command means show, as with wg.
	expect_out "$DEFAULT_SHOW" ctl "$A"
	expect_out "$(default_counters '')" ctl "$A" stats
}

test_json_defaults()
{
	local counters c

	newns A
	counters=
	for c in $COUNTERS; do
		counters="$counters\"$c\":0,"
	done
	counters="{${counters%,}}"
	expect_out "{\"config\":{\"enabled\":false,\"ports\":[123],\"max_age\":5,\"addresses\":[],\"ratelimit\":$DEFAULT_RL_JSON},\"state\":null,\"counters\":$counters}" \
		ctl "$A" -j show
	expect_out "$counters" ctl "$A" --json stats
	expect_out "[]" ctl "$A" -j addr list
	# Valid JSON, not just the right bytes.
	ctl "$A" -j show | "$PY" -c 'import json, sys; json.load(sys.stdin)'
}

test_set_config()
{
	newns A
	ctl "$A" set port 123,1123 max-age 10 enable
	expect_out "config:
  enabled: yes
  ports: 123,1123
  max_age: 10
  addresses: any
  ratelimit: off" section "$A" config
	# disable keeps everything else; port replaces the list.
	ctl "$A" set disable
	ctl "$A" set port 4123
	expect_out "config:
  enabled: no
  ports: 4123
  max_age: 10
  addresses: any
  ratelimit: off" section "$A" config
	expect_out "{\"enabled\":false,\"ports\":[4123],\"max_age\":10,\"addresses\":[],\"ratelimit\":$DEFAULT_RL_JSON}" \
		json "$A" 'd["config"]'
	ctl "$A" set enable max-age 3600 port 1,65535,123,124,125,126,127,128
	expect_out '{"enabled":true,"ports":[1,65535,123,124,125,126,127,128],"max_age":3600}' \
		json "$A" '{k: d["config"][k] for k in ("enabled", "ports", "max_age")}'
	# Enabling twice is fine; so is disabling a disabled namespace.
	ctl "$A" set enable
	ctl "$A" set disable
	ctl "$A" set disable
	expect_out '[false]' json "$A" '[d["config"]["enabled"]]'
}

test_state_set()
{
	newns A
	ctl "$A" state set leap 0 stratum 2 precision -20 refid 192.0.2.1 \
		rootdelay 0.0123 rootdisp 1.5 reftime 2024-01-01T00:00:00.5Z
	expect_out "state:
  leap: 0
  stratum: 2
  precision: -20
  root_delay: 0.012299
  root_dispersion: 1.500000
  refid: 192.0.2.1
  reftime: 2024-01-01T00:00:00.500000000Z
  age_ms: N
  usable: yes" section "$A" state
	ctl "$A" -j show | "$PY" -c 'import json, sys; json.load(sys.stdin)'
	expect_out '{"leap":0,"stratum":2,"precision":-20,"root_delay":0.012299,"root_dispersion":1.500000,"refid":"192.0.2.1","refid_raw":"0xc0000201","reftime":"2024-01-01T00:00:00.500000000Z","reftime_raw":"0xe93c7f0080000000","age_ms":N,"usable":true}' \
		sh -c "ip netns exec '$A' '$NTPKCTL' -j show | sed 's/.*\"state\"://; s/,\"counters\".*//; s/\"age_ms\":[0-9]*/\"age_ms\":N/'"
	# Words in any order; a new push replaces the whole state.
	ctl "$A" state set reftime 0x0 refid GPS rootdisp 0 rootdelay 0 \
		precision 0 stratum 1 leap 1
	expect_out "state:
  leap: 1
  stratum: 1
  precision: 0
  root_delay: 0.000000
  root_dispersion: 0.000000
  refid: GPS
  reftime: 0x0000000000000000
  age_ms: N
  usable: yes" section "$A" state
	ctl "$A" state clear
	expect_out "state: none" section "$A" state
	# Clearing nothing is not an error.
	ctl "$A" state clear
	expect_out "state: none" section "$A" state
}

# state_line NS WORDS...: push a state and print "refid reftime usable".
push_and_read()
{
	local ns=$1

	shift
	ctl "$ns" state set "$@"
	json "$ns" '" ".join([d["state"]["refid"], d["state"]["refid_raw"], d["state"]["reftime"], d["state"]["reftime_raw"], d["state"]["root_delay"].__repr__(), str(d["state"]["usable"])])' | tr -d '"'
}

test_state_formats()
{
	local t base="leap 0 stratum 2 precision -20 rootdelay 0 rootdisp 0"

	newns A
	# One instant in each reftime format reads back identically.
	for t in unix:1704067200.5 ntp:3913056000.5 0xe93c7f0080000000 \
		 0xE93C7F0080000000 2024-01-01T00:00:00.5Z \
		 2024-01-01T00:00:00.500000000Z; do
		expect_out "192.0.2.1 0xc0000201 2024-01-01T00:00:00.500000000Z 0xe93c7f0080000000 0.0 True" \
			push_and_read "$A" $base refid 192.0.2.1 reftime "$t"
	done
	expect_out "192.0.2.1 0xc0000201 1970-01-01T00:00:00.000000000Z 0x83aa7e8000000000 0.0 True" \
		push_and_read "$A" $base refid 192.0.2.1 reftime unix:0
	expect_out "192.0.2.1 0xc0000201 2030-01-01T00:00:00.123456789Z 0xf48657001f9add37 0.0 True" \
		push_and_read "$A" $base refid 192.0.2.1 reftime 2030-01-01T00:00:00.123456789Z
	# Raw values are read in the NTP era nearest to now: 1 is in era 1.
	expect_out "192.0.2.1 0xc0000201 2036-02-07T06:28:16.000000001Z 0x0000000000000001 0.0 True" \
		push_and_read "$A" $base refid 192.0.2.1 reftime 0x1
	# Refid: text for stratum 0 and 1 when printable, else a dotted quad.
	expect_out "GPS 0x47505300 0x0000000000000000 0x0000000000000000 0.0 True" \
		push_and_read "$A" leap 0 stratum 1 precision -20 rootdelay 0 rootdisp 0 refid GPS reftime 0x0
	expect_out "10.0.0.1 0x0a000001 0x0000000000000000 0x0000000000000000 0.0 True" \
		push_and_read "$A" leap 0 stratum 1 precision -20 rootdelay 0 rootdisp 0 refid 10.0.0.1 reftime 0x0
	expect_out "0.0.0.0 0x00000000 0x0000000000000000 0x0000000000000000 0.0 True" \
		push_and_read "$A" leap 0 stratum 1 precision -20 rootdelay 0 rootdisp 0 refid '' reftime 0x0
	expect_out "71.80.83.0 0x47505300 0x0000000000000000 0x0000000000000000 0.0 True" \
		push_and_read "$A" leap 0 stratum 2 precision -20 rootdelay 0 rootdisp 0 refid GPS reftime 0x0
	# Unsynchronised states are kept but not usable.
	expect_out "RATE 0x52415445 0x0000000000000000 0x0000000000000000 0.0 False" \
		push_and_read "$A" leap 0 stratum 0 precision -20 rootdelay 0 rootdisp 0 refid RATE reftime 0x0
	expect_out "76.79.67.76 0x4c4f434c 0x0000000000000000 0x0000000000000000 0.0 False" \
		push_and_read "$A" leap 0 stratum 16 precision -20 rootdelay 0 rootdisp 0 refid LOCL reftime 0x0
	expect_out "76.79.67.76 0x4c4f434c 0x0000000000000000 0x0000000000000000 0.0 False" \
		push_and_read "$A" leap 3 stratum 15 precision -32 rootdelay 0 rootdisp 0 refid LOCL reftime 0x0
	expect_out "76.79.67.76 0x4c4f434c 0x0000000000000000 0x0000000000000000 0.0 True" \
		push_and_read "$A" leap 2 stratum 15 precision -32 rootdelay 0 rootdisp 0 refid LOCL reftime 0x0
	# Root delay and dispersion: NTP short format, six decimals, round trip.
	for t in 0.000015:0.000015 1.5:1.500000 0.0123:0.012299 \
		 65535.99998:65535.999985 3:3.000000 0.0000076:0.000000 \
		 0.0000077:0.000015; do
		ctl "$A" state set leap 0 stratum 1 precision -20 refid GPS \
			reftime 0x0 rootdelay "${t%:*}" rootdisp "${t%:*}"
		expect_out "  root_delay: ${t#*:}
  root_dispersion: ${t#*:}" sh -c "ip netns exec '$A' '$NTPKCTL' show | grep '^  root_'"
	done
}

test_state_freshness()
{
	newns A
	ctl "$A" set max-age 3600
	ctl "$A" state set leap 0 stratum 2 precision -20 refid 192.0.2.1 \
		rootdelay 0 rootdisp 0 reftime unix:0
	expect_out '[true]' json "$A" '[d["state"]["usable"]]'
	# max-age applies to the state already held, not only to new pushes.
	ctl "$A" set max-age 1
	sleep 1.5
	expect_out '[false,true]' json "$A" '[d["state"]["usable"],d["state"]["age_ms"]>=1500]'
	ctl "$A" set max-age 3600
	expect_out '[true]' json "$A" '[d["state"]["usable"]]'
	# A stale state is kept (show still has it) until a push or a clear.
	ctl "$A" set max-age 1
	sleep 1.5
	expect_out '[false]' json "$A" '[d["state"]["usable"]]'
	ctl "$A" set max-age 3600
	ctl "$A" state set leap 0 stratum 2 precision -20 refid 192.0.2.1 \
		rootdelay 0 rootdisp 0 reftime unix:0
	expect_out '[true]' json "$A" '[d["state"]["usable"]]'
}

test_addr_cmds()
{
	local i

	newns A
	expect_out "" ctl "$A" addr list
	ctl "$A" addr add 192.0.2.1
	ctl "$A" addr add 2001:db8::1
	expect_out "192.0.2.1
2001:db8::1" ctl "$A" addr list
	expect_out '["192.0.2.1","2001:db8::1"]' ctl "$A" -j addr list
	expect_out "  addresses: 192.0.2.1,2001:db8::1" \
		sh -c "ip netns exec '$A' '$NTPKCTL' show | grep '^  addresses:'"
	expect_err 1 "ntpkctl: addr add 192.0.2.1: File exists: address already served" \
		ctl "$A" addr add 192.0.2.1
	expect_err 1 "ntpkctl: addr del 198.51.100.1: No such file or directory: address not served" \
		ctl "$A" addr del 198.51.100.1
	expect_err 1 "ntpkctl: addr add 127.0.0.1: Invalid argument: not a servable unicast address" \
		ctl "$A" addr add 127.0.0.1
	expect_err 1 "ntpkctl: addr add ff02::1: Invalid argument: not a servable unicast address" \
		ctl "$A" addr add ff02::1
	ctl "$A" addr del 2001:db8::1
	expect_out "192.0.2.1" ctl "$A" addr list
	ctl "$A" addr flush
	expect_out "" ctl "$A" addr list
	expect_out "  addresses: any" \
		sh -c "ip netns exec '$A' '$NTPKCTL' show | grep '^  addresses:'"
	# The limit counts per family, and a full set still lists whole.
	for i in $(seq 1 64); do
		ctl "$A" addr add "10.1.0.$i"
	done
	expect_err 1 "ntpkctl: addr add 10.1.0.65: No space left on device: too many served addresses" \
		ctl "$A" addr add 10.1.0.65
	ctl "$A" addr add 2001:db8::65
	expect_out "65 10.1.0.1 10.1.0.64 2001:db8::65" \
		sh -c "ip netns exec '$A' '$NTPKCTL' addr list | awk '{ a[NR] = \$0 } END { print NR, a[1], a[64], a[65] }'"
	expect_out '[65]' json "$A" '[len(d["config"]["addresses"])]'
	ctl "$A" addr flush
	expect_out "" ctl "$A" addr list
}

test_ratelimit_cmds()
{
	newns A
	ctl "$A" ratelimit set
	expect_out "  ratelimit: interval 3 burst 8 leak 2 kod off table-size 1048576 v6-prefix 64" \
		sh -c "ip netns exec '$A' '$NTPKCTL' show | grep '^  ratelimit:'"
	ctl "$A" ratelimit set kod on burst 16
	expect_out "  ratelimit: interval 3 burst 16 leak 2 kod on table-size 1048576 v6-prefix 64" \
		sh -c "ip netns exec '$A' '$NTPKCTL' show | grep '^  ratelimit:'"
	# The whole setting is replaced: kod and burst fall back to defaults.
	ctl "$A" ratelimit set interval -2 leak 0 table-size 1024 v6-prefix 48
	expect_out "  ratelimit: interval -2 burst 8 leak 0 kod off table-size 1024 v6-prefix 48" \
		sh -c "ip netns exec '$A' '$NTPKCTL' show | grep '^  ratelimit:'"
	expect_out '{"enabled":true,"interval":-2,"burst":8,"leak":0,"kod":false,"table_size":1024,"v6_prefix":48}' \
		json "$A" 'd["config"]["ratelimit"]'
	ctl "$A" ratelimit set interval -19 burst 255 leak 16 kod off table-size 2048 v6-prefix 128
	expect_out "  ratelimit: interval -19 burst 255 leak 16 kod off table-size 2048 v6-prefix 128" \
		sh -c "ip netns exec '$A' '$NTPKCTL' show | grep '^  ratelimit:'"
	ctl "$A" ratelimit off
	expect_out "  ratelimit: off" \
		sh -c "ip netns exec '$A' '$NTPKCTL' show | grep '^  ratelimit:'"
	expect_out "$DEFAULT_RL_JSON" json "$A" 'd["config"]["ratelimit"]'
}

test_usage_errors()
{
	local line args msg

	newns A
	# Each line: arguments | the exact message.  All exit 2, print nothing.
	while IFS='|' read -r args msg; do
		[ -n "$args" ] || continue
		# shellcheck disable=SC2086
		expect_err 2 "$msg" ctl "$A" $args
	done <<'EOF'
foo|ntpkctl: unknown command "foo" (try --help)
-x show|ntpkctl: unknown option "-x" (try --help)
show extra|ntpkctl: show: unexpected "extra"
set|ntpkctl: set: nothing to set (enable, disable, port, max-age)
set bogus|ntpkctl: set: unknown word "bogus"
set port|ntpkctl: set: port needs a value
set port 0|ntpkctl: set: invalid port "0": ports must be 1..65535
set port 65536|ntpkctl: set: invalid port "65536": ports must be 1..65535
set port 123,123|ntpkctl: set: invalid port "123,123": duplicate port
set port 1,2,3,4,5,6,7,8,9|ntpkctl: set: invalid port "1,2,3,4,5,6,7,8,9": at most 8 ports
set port 12a|ntpkctl: set: invalid port "12a": not a comma-separated list of port numbers
set port 123,|ntpkctl: set: invalid port "123,": not a comma-separated list of port numbers
set port 123 port 124|ntpkctl: set: port given twice
set max-age 0|ntpkctl: set: invalid max-age "0": must be 1..3600
set max-age 3601|ntpkctl: set: invalid max-age "3601": must be 1..3600
set max-age -1|ntpkctl: set: invalid max-age "-1": not a number
set max-age 1.5|ntpkctl: set: invalid max-age "1.5": not a number
set enable disable|ntpkctl: set: enable/disable given twice
state|ntpkctl: state: expected set or clear
state bogus|ntpkctl: state: unknown word "bogus" (set or clear)
state clear now|ntpkctl: state clear: unexpected "now"
state set|ntpkctl: state set: leap is required
state set leap 0 stratum 1 precision -20 refid GPS rootdelay 0 rootdisp 0|ntpkctl: state set: reftime is required
state set leap 4|ntpkctl: state set: invalid leap "4": must be 0..3
state set stratum 17|ntpkctl: state set: invalid stratum "17": must be 0..16
state set precision 1|ntpkctl: state set: invalid precision "1": must be -32..0
state set precision -33|ntpkctl: state set: invalid precision "-33": must be -32..0
state set refid GPSXX|ntpkctl: state set: invalid refid "GPSXX": must be up to 4 ASCII characters or an IPv4 address
state set rootdelay -1|ntpkctl: state set: invalid rootdelay "-1": must not be negative
state set rootdisp 65536|ntpkctl: state set: invalid rootdisp "65536": must be below 65536 seconds
state set rootdisp 65535.999995|ntpkctl: state set: invalid rootdisp "65535.999995": must be below 65536 seconds
state set rootdelay 1e-3|ntpkctl: state set: invalid rootdelay "1e-3": not a decimal number
state set reftime yesterday|ntpkctl: state set: invalid reftime "yesterday": must be unix:SEC[.FRAC], ntp:SEC[.FRAC], 0xHEX or YYYY-MM-DDTHH:MM:SS[.FRAC]Z
state set reftime unix:1.0123456789|ntpkctl: state set: invalid reftime "unix:1.0123456789": at most 9 decimals
state set reftime ntp:4294967296|ntpkctl: state set: invalid reftime "ntp:4294967296": seconds out of range
state set reftime 0x12345678901234567|ntpkctl: state set: invalid reftime "0x12345678901234567": 0x needs 1 to 16 hex digits
state set reftime 2024-01-01T00:00:00|ntpkctl: state set: invalid reftime "2024-01-01T00:00:00": must end in Z (UTC)
state set leap 0 leap 1|ntpkctl: state set: leap given twice
state set leap|ntpkctl: state set: leap needs a value
addr|ntpkctl: addr: expected add, del, flush or list
addr add|ntpkctl: addr add: expected one address
addr add 1.2.3|ntpkctl: addr add: invalid address "1.2.3": not an IPv4 or IPv6 address
addr del 192.0.2.1 192.0.2.2|ntpkctl: addr del: expected one address
addr list x|ntpkctl: addr list: unexpected "x"
addr bogus|ntpkctl: addr: unknown word "bogus"
ratelimit|ntpkctl: ratelimit: expected set or off
ratelimit on|ntpkctl: ratelimit: unknown word "on" (set or off)
ratelimit off now|ntpkctl: ratelimit off: unexpected "now"
ratelimit set interval 13|ntpkctl: ratelimit set: invalid interval "13": must be -19..12
ratelimit set burst 0|ntpkctl: ratelimit set: invalid burst "0": must be 1..255
ratelimit set leak 17|ntpkctl: ratelimit set: invalid leak "17": must be 0..16
ratelimit set kod maybe|ntpkctl: ratelimit set: invalid kod "maybe": must be on or off
ratelimit set table-size 1000|ntpkctl: ratelimit set: invalid table-size "1000": must be 1024..33554432
ratelimit set table-size 3072|ntpkctl: ratelimit set: invalid table-size "3072": must be a power of two
ratelimit set v6-prefix 15|ntpkctl: ratelimit set: invalid v6-prefix "15": must be 16..128
ratelimit set burst|ntpkctl: ratelimit set: burst needs a value
ratelimit set burst 2 burst 3|ntpkctl: ratelimit set: burst given twice
ratelimit set rate 3|ntpkctl: ratelimit set: unknown word "rate"
stats --foo|ntpkctl: stats: unknown option "--foo"
-j stats --prometheus|ntpkctl: stats: --prometheus and --json exclude each other
follow --interval 0.05|ntpkctl: follow: invalid --interval "0.05": must be 0.100..3600.000 seconds
follow --interval 1.0001|ntpkctl: follow: invalid --interval "1.0001": at most 3 decimals
follow --interval|ntpkctl: follow: --interval needs a value
follow --source [::1|ntpkctl: follow: invalid --source "[::1"
follow --source 127.0.0.1:0|ntpkctl: follow: invalid --source port "0": must be 1..65535
follow --bogus|ntpkctl: follow: unknown option "--bogus"
help nope|ntpkctl: help: unknown command "nope"
EOF
	# Nothing was changed by any of them.
	expect_out "$DEFAULT_SHOW" ctl "$A" show
	# Help for every command, both ways, exit 0.
	for t in show set addr state stats follow ratelimit help; do
		ctl "$A" help "$t" >"$TMP/h1"
		ctl "$A" "$t" --help >"$TMP/h2"
		[ -s "$TMP/h1" ] && cmp -s "$TMP/h1" "$TMP/h2"
	done
	# The help fits on one screen.
	[ "$(ctl "$A" --help | wc -l)" -le 24 ]
	[ "$(ctl "$A" --help | awk 'length($0) > 80' | wc -l)" -eq 0 ]
}

test_eperm()
{
	local u="unshare --user --map-root-user" rc
	local perm="Operation not permitted (CAP_NET_ADMIN needed)"

	newns A
	# root in a new user namespace has no CAP_NET_ADMIN over $A, which
	# belongs to the initial user namespace.
	expect_err 4 "ntpkctl: state clear: $perm" \
		ip netns exec "$A" $u "$NTPKCTL" state clear
	expect_err 4 "ntpkctl: state set: $perm" \
		ip netns exec "$A" $u "$NTPKCTL" state set leap 0 stratum 1 \
		precision -20 refid GPS rootdelay 0 rootdisp 0 reftime unix:0
	expect_err 4 "ntpkctl: set: $perm" ip netns exec "$A" $u "$NTPKCTL" set enable
	expect_err 4 "ntpkctl: set: $perm" ip netns exec "$A" $u "$NTPKCTL" set max-age 9
	expect_err 4 "ntpkctl: set: $perm" ip netns exec "$A" $u "$NTPKCTL" ratelimit off
	expect_err 4 "ntpkctl: addr add 192.0.2.1: $perm" \
		ip netns exec "$A" $u "$NTPKCTL" addr add 192.0.2.1
	expect_err 4 "ntpkctl: addr flush: $perm" ip netns exec "$A" $u "$NTPKCTL" addr flush
	# --reset prints first, then fails to reset.
	rc=0
	ip netns exec "$A" $u "$NTPKCTL" stats --reset >"$TMP/out" 2>"$TMP/err" ||
		rc=$?
	[ "$rc" -eq 4 ]
	[ "$(cat "$TMP/out")" = "$(default_counters '')" ]
	[ "$(cat "$TMP/err")" = "ntpkctl: stats reset: $perm" ]
	# Reading needs no privilege, and nothing above changed anything.
	expect_out "$DEFAULT_SHOW" ip netns exec "$A" $u "$NTPKCTL" show
	expect_out "" ip netns exec "$A" $u "$NTPKCTL" addr list
	# In a network namespace it owns, the same user may configure.
	expect_out "config:
  enabled: yes" $u --net sh -c "'$NTPKCTL' set enable && '$NTPKCTL' show | head -2"
}

test_netns_independent()
{
	newns A
	newns B
	ctl "$A" set port 1123 max-age 9 enable
	ctl "$A" state set leap 0 stratum 2 precision -20 refid 192.0.2.1 \
		rootdelay 0 rootdisp 0 reftime unix:0
	ctl "$A" addr add 192.0.2.9
	ctl "$A" ratelimit set kod on
	expect_out "$DEFAULT_SHOW" ctl "$B" show
	expect_out "config:
  enabled: yes
  ports: 1123
  max_age: 9
  addresses: 192.0.2.9
  ratelimit: interval 3 burst 8 leak 2 kod on table-size 1048576 v6-prefix 64" section "$A" config
	# And the other way round; then A goes away under B.
	ctl "$B" set max-age 7
	expect_out '[9]' json "$A" '[d["config"]["max_age"]]'
	ip netns del "$A"
	expect_out '[7]' json "$B" '[d["config"]["max_age"]]'
}

test_stats_traffic()
{
	local st="stratum 2 precision -20 refid 192.0.2.7 rootdelay 0.001 rootdisp 0.002"

	pair C S
	write_client
	ctl "$S" set enable max-age 300
	ctl "$S" state set leap 0 $st reftime unix:1704067200
	expect_out "replies 5" client "$C" 10.77.0.2 123 valid 5 2:c0000207
	expect_out "replies 2" client "$C" fd77::2 123 valid 2 2:c0000207
	expect_out "replies 0" client "$C" 10.77.0.2 123 short 3 none
	expect_out "replies 0" client "$C" fd77::2 123 ext 2 none
	expect_out "replies 0" client "$C" 10.77.0.2 123 mode4 2 none
	expect_out "replies 0" client "$C" 10.77.0.2 123 v0 1 none
	expect_out "replies 0" client "$C" 10.77.0.2 123 v5 1 none
	# Only served addresses: 10.77.0.2 is not one of them now.
	ctl "$S" addr add 192.0.2.50
	expect_out "replies 0" client "$C" 10.77.0.2 123 valid 1 none
	ctl "$S" addr flush
	# Only served ports: 123 is no longer a request at all.
	ctl "$S" set port 1123
	expect_out "replies 0" client "$C" 10.77.0.2 123 valid 1 none
	expect_out "replies 1" client "$C" 10.77.0.2 1123 valid 1 2:c0000207
	ctl "$S" set port 123
	ctl "$S" state clear
	expect_out "replies 0" client "$C" 10.77.0.2 123 valid 2 none

	expect_out "$(expected_counters requests=20 replies=8 pass_short=3 \
		pass_extensions=2 pass_not_mode3=2 pass_bad_version=2 \
		pass_not_ours=1 pass_no_state=2)" counters "$S"
	expect_out '[20,8,2]' json "$S" '[d["counters"]["requests"],d["counters"]["replies"],d["counters"]["pass_no_state"]]'
	expect_out "# HELP ntpk_requests_total UDP datagrams to a served port
# TYPE ntpk_requests_total counter
ntpk_requests_total 20
# HELP ntpk_replies_total NTP mode 4 replies sent by the kernel
# TYPE ntpk_replies_total counter
ntpk_replies_total 8" sh -c "ip netns exec '$S' '$NTPKCTL' stats --prometheus | head -6"
	expect_out "# HELP ntpk_state_usable 1 while the kernel holds fresh synchronised state and answers
# TYPE ntpk_state_usable gauge
ntpk_state_usable 0" sh -c "ip netns exec '$S' '$NTPKCTL' stats --prometheus | tail -3"
	[ "$(ctl "$S" stats --prometheus | grep -c '^ntpk_.*_total [0-9]*$')" -eq 18 ]
	# --reset prints the values it zeroes.
	expect_out "requests: 20" sh -c "ip netns exec '$S' '$NTPKCTL' stats --reset | head -1"
	expect_out "$(expected_counters)" counters "$S"
	# The client side saw nothing of ntpk at all.
	expect_out "$(expected_counters)" counters "$C"
}

start_chronyd()
{
	local ns=$1 dir=$TMP/chrony-$1

	mkdir -p "$dir"
	{
		echo "port 123"
		[ "$2" = synced ] && echo "local stratum 3"
		echo "allow all"
		echo "pidfile $dir/chronyd.pid"
		echo "driftfile $dir/drift"
		echo "cmdport 0"
		echo "bindcmdaddress /"
	} >"$dir/chrony.conf"
	ip netns exec "$ns" chronyd -n -x -u root -f "$dir/chrony.conf" \
		-l "$dir/log" &
	echo $! >"$TMP/chronyd.pid"
}

stop_chronyd()
{
	kill "$(cat "$TMP/chronyd.pid")"
	wait "$(cat "$TMP/chronyd.pid")" 2>/dev/null || true
	rm -f "$TMP/chronyd.pid"
}

# wait_for SECONDS CMD...: until CMD succeeds; fails after SECONDS.
wait_for()
{
	local end=$(( $(date +%s) + $1 ))

	shift
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "FAIL: timed out waiting for: $*"
			return 1
		fi
		sleep 0.2
	done
}

state_is_none()
{
	[ "$(section "$1" state)" = "state: none" ]
}

state_is_some()
{
	! state_is_none "$1"
}

test_follow()
{
	local fpid rc

	pair C S
	write_client
	# A generous max-age: the guest may be slow; its own test is below.
	ctl "$S" set enable max-age 60
	start_chronyd "$S" synced
	# --once pushes chronyd's state and exits 0 once chronyd is up.
	wait_for 30 ctl "$S" follow --once
	expect_out "state:
  leap: 0
  stratum: 3
  precision: $(json "$S" 'd["state"]["precision"]')
  root_delay: 0.000000
  root_dispersion: 0.000000
  refid: 127.127.1.1
  reftime: $(json "$S" 'd["state"]["reftime"]' | tr -d '"')
  age_ms: N
  usable: yes" section "$S" state
	[ "$(json "$S" 'd["state"]["precision"]')" -lt 0 ]

	ctl "$S" state clear
	ip netns exec "$S" "$NTPKCTL" follow --interval 0.2 2>"$TMP/follow.log" &
	fpid=$!
	echo "$fpid" >"$TMP/follow.pid"
	wait_for 10 state_is_some "$S"
	ctl "$S" stats --reset >/dev/null
	# The module answers for chronyd: its stratum, its refid, counted.
	expect_out "replies 3" client "$C" 10.77.0.2 123 valid 3 3:7f7f0101
	ip netns exec "$C" sntp -t 5 10.77.0.2 >"$TMP/sntp.out" 2>&1
	grep -q ' 10.77.0.2 s3 no-leap$' "$TMP/sntp.out" ||
		{ cat "$TMP/sntp.out"; return 1; }
	expect_out "$(expected_counters requests=4 replies=4)" counters_net "$S"
	[ "$(json "$S" 'd["counters"]["pass_loopback"]')" -gt 0 ]

	# A hung follower fails safe: once max-age passes, chronyd answers
	# (the same stratum and refid, but not counted as ntpk replies).
	kill -STOP "$fpid"
	ctl "$S" set max-age 1
	sleep 1.5
	expect_out "replies 2" client "$C" 10.77.0.2 123 valid 2 3:7f7f0101
	expect_out "$(expected_counters requests=6 replies=4 pass_no_state=2)" counters_net "$S"
	ctl "$S" set max-age 60
	kill -CONT "$fpid"

	# chronyd stops: follow clears the state at once (an expired state
	# would still show; "none" means cleared).
	stop_chronyd
	wait_for 30 state_is_none "$S"
	expect_out "replies 0" client "$C" 10.77.0.2 123 valid 2 none
	expect_out "$(expected_counters requests=8 replies=4 pass_no_state=4)" counters_net "$S"
	grep -q 'follow: daemon lost: 127.0.0.1:123: ' "$TMP/follow.log"

	# chronyd is back: so is the state.
	start_chronyd "$S" synced
	wait_for 30 state_is_some "$S"
	grep -q 'follow: daemon back: 127.0.0.1:123 answers$' "$TMP/follow.log"
	[ "$(grep -c 'follow: synchronised: leap 0 stratum 3 refid 127.127.1.1 ' "$TMP/follow.log")" -eq 2 ]
	expect_out "replies 1" client "$C" 10.77.0.2 123 valid 1 3:7f7f0101

	# SIGTERM: state cleared, exit 0.
	kill -TERM "$fpid"
	rc=0
	wait "$fpid" || rc=$?
	rm -f "$TMP/follow.pid"
	[ "$rc" -eq 0 ]
	grep -q 'follow: Terminated: state cleared, exiting$' "$TMP/follow.log"
	expect_out "state: none" section "$S" state

	# An unsynchronised daemon is not followed.
	stop_chronyd
	start_chronyd "$S" unsynced
	rc=0
	wait_for 30 sh -c "ip netns exec '$S' '$NTPKCTL' follow --once 2>&1 | grep -q 'unsynchronised: leap 3 stratum 0; state cleared'"
	ip netns exec "$S" "$NTPKCTL" follow --once 2>/dev/null || rc=$?
	[ "$rc" -eq 1 ]
	expect_out "state: none" section "$S" state
	# Nor an absent one.
	stop_chronyd
	rc=0
	ip netns exec "$S" "$NTPKCTL" follow --once 2>/dev/null || rc=$?
	[ "$rc" -eq 1 ]
}

test_nlfuzz()
{
	newns A
	gcc -O2 -Wall -Wextra -Werror -I"$ROOT/kmod/uapi" \
		-o "$TMP/ntpk_nlfuzz" "$ROOT/selftests/ntpk_nlfuzz.c"
	ip netns exec "$A" "$TMP/ntpk_nlfuzz" -n "${NTPK_NLFUZZ_N:-2000}"
	# Still alive and still answering sensibly.
	ctl "$A" show >/dev/null
	ctl "$A" set disable max-age 5 port 123
	ctl "$A" ratelimit off
	ctl "$A" addr flush
	ctl "$A" state clear
	ctl "$A" stats --reset >/dev/null
	expect_out "$DEFAULT_SHOW" ctl "$A" show
}

# ---- main ----

echo "TAP version 13"
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP must run as root (in scripts/vm-run)"
	exit 4
fi
missing=
for tool in ip unshare chronyd sntp gcc "$PY"; do
	command -v "$tool" >/dev/null || missing="$missing $tool"
done
if [ ! -x "$NTPKCTL" ]; then
	make -s -C "$ROOT/userspace" >/dev/null || missing="$missing ntpkctl"
fi
if ! modinfo ntpk >/dev/null 2>&1 && [ ! -d /sys/module/ntpk ]; then
	echo "1..0 # SKIP no loadable ntpk module (run in scripts/vm-run --module kmod/ntpk.ko)"
	exit 4
fi

# Arguments pick tests by name; by default all run.
[ $# -gt 0 ] || set -- $TESTS
echo "1..$#"
if [ -n "$missing" ]; then
	# A missing tool is a broken setup, not a reason to skip.
	echo "# missing:$missing (scripts/deps installs them)"
	n=0
	for t; do
		n=$((n + 1))
		echo "not ok $n $t"
	done
	exit 1
fi

n=0
failed=0
for t; do
	n=$((n + 1))
	start=$(date +%s)
	( set -eu; "test_$t" ) >"$TMP/log" 2>&1
	rc=$?
	echo "# $t: $(( $(date +%s) - start )) s"
	if [ "$rc" -eq 0 ]; then
		echo "ok $n $t"
	elif [ "$rc" -eq 4 ]; then
		echo "ok $n $t # SKIP $(tail -n1 "$TMP/log" | sed 's/^SKIP: //')"
	else
		echo "not ok $n $t"
		sed 's/^/# /' "$TMP/log"
		failed=$((failed + 1))
	fi
done

# Every namespace logged as created must be gone after cleanup.
for ns in $(cat "$NSLOG" 2>/dev/null); do
	ip netns del "$ns" 2>/dev/null
done
leftover=$(ip netns list | grep -c -- "-$SUFFIX-" || true)
if [ "$leftover" -ne 0 ]; then
	echo "# $leftover namespaces left behind"
	failed=$((failed + 1))
fi
echo "# $failed failed"
[ "$failed" -eq 0 ]
