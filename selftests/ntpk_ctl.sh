#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# settings: timeout=600
#
# ntpkctl against the real module: every subcommand with its exact output
# and errors, privilege, namespace independence, counters against real
# traffic, follow against a real chronyd, and malformed netlink.
#
#	make -C userspace && make -C selftests
#	scripts/vm-run --module kmod/ntpk.ko -- selftests/run ntpk_ctl.sh
#
# Each test has namespaces of its own, made up front (lib.sh cleans them).
# The traffic tests use two pairs shaped like this:
#
#   +------------------------------+          +------------------------------+
#   | client  $C                   |          | server  $S                   |
#   |                              |   veth   |   ntpk enabled               |
#   |   c: 10.77.0.1/24  fd77::1   +----------+   s: 10.77.0.2/24  fd77::2   |
#   |                              |          |                              |
#   |   python3 / sntp requests    |          |   chronyd on :123, and       |
#   |                              |          |   ntpkctl follow polling it  |
#   |                              |          |   over 127.0.0.1 (loopback:  |
#   |                              |          |   never answered by ntpk)    |
#   +------------------------------+          +------------------------------+
#
# Most checks run ntpkctl -n NS (one exec, not two as with ip netns exec)
# and parse in bash: under emulation every process start costs a lot.

. "$(dirname "$0")/lib.sh"

require_cmd ip unshare chronyd chronyc sntp ntpkctl "$PY"
NLFUZZ=$NTPK_SELFTESTS/ntpk_nlfuzz
if [ ! -x "$NLFUZZ" ]; then
	echo "# $NLFUZZ missing: make -C selftests"
	exit "$KSFT_FAIL"
fi

COUNTERS="requests replies pass_not_ours pass_unusual pass_bad_source
pass_loopback pass_short pass_extensions pass_not_mode3 pass_bad_version
pass_no_state drop_malformed drop_checksum drop_route drop_xmit rl_dropped
rl_leaked rl_kod pass_leap pass_route"

# Processes a failed test may leave behind; lib.sh calls this at exit.
cleanup()
{
	local f

	for f in "$TMP"/*.pid; do
		[ -e "$f" ] && kill "$(<"$f")" 2>/dev/null
	done
	for f in "$TMP"/chrony-*/chronyd.pid; do
		[ -e "$f" ] && kill "$(<"$f")" 2>/dev/null
	done
	return 0
}

# ---- helpers ----

ctl()
{
	local ns=$1

	shift
	ntpkctl -n "$ns" "$@"
}

# expect_out EXPECTED CMD...: CMD succeeds and prints exactly EXPECTED.
expect_out()
{
	local exp=$1 out rc=0

	shift
	out=$("$@" 2>"$TMP/stderr") || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "# '$*' exited $rc: $(<"$TMP/stderr")"
		return 1
	fi
	if [ "$out" != "$exp" ]; then
		echo "# '$*' printed something else (< expected, > got):"
		# No /dev/fd in the guest, so no process substitution.
		printf '%s\n' "$exp" >"$TMP/expected"
		printf '%s\n' "$out" >"$TMP/got"
		diff "$TMP/expected" "$TMP/got" | sed 's/^/# /'
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
	if [ "$rc" -ne "$code" ] || [ "$(<"$TMP/stderr")" != "$msg" ] ||
	   [ -s "$TMP/stdout" ]; then
		echo "# '$*': exit $rc (expected $code)"
		echo "#   stderr: $(<"$TMP/stderr")"
		echo "#   wanted: $msg"
		echo "#   stdout: $(<"$TMP/stdout")"
		return 1
	fi
}

# is EXPECTED ACTUAL: a plain comparison that says what differed.
is()
{
	[ "$1" = "$2" ] && return 0
	echo "# expected: $1"
	echo "#      got: $2"
	return 1
}

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
  leap_window: 2.000
  dscp: 0
  addresses: any
  ratelimit: off
state: none
status:
  reason: disabled
counters:
$(default_counters '  ')"

DEFAULT_RL_JSON='{"enabled":false,"interval":3,"burst":8,"leak":2,"kod":false,"table_size":1048576,"v6_prefix":64}'
ZERO_COUNTERS_JSON="{$(for c in $COUNTERS; do printf '"%s":0,' "$c"; done | sed 's/,$//')}"

# section NS NAME: one section of show, header included, age_ms as N.
section()
{
	local line on=

	while IFS= read -r line; do
		case $line in
		"$2:"*) on=1 ;;
		[a-z]*) on= ;;
		esac
		[ -n "$on" ] || continue
		case $line in
		"  age_ms: "*) echo "  age_ms: N" ;;
		*) echo "$line" ;;
		esac
	done < <(ctl "$1" show)
}

# line NS KEY: the "  KEY: value" line of show.
line()
{
	local l

	while IFS= read -r l; do
		case $l in "  $2: "*) echo "$l" ;; esac
	done < <(ctl "$1" show)
}

# jparts NS: "-j show" split at its top-level keys (their order is part of
# the format) into J_CONFIG, J_STATE, J_STATUS and J_COUNTERS; age_ms
# reads N.
jparts()
{
	jsplit "$(ctl "$1" -j show)"
}

# jsplit JSON: the same for a "-j show" output at hand.
jsplit()
{
	local j=$1

	if [[ $j =~ \"age_ms\":[0-9]+ ]]; then
		j=${j/"${BASH_REMATCH[0]}"/\"age_ms\":N}
	fi
	J_CONFIG=${j#\{\"config\":}
	J_CONFIG=${J_CONFIG%%,\"state\":*}
	J_STATE=${j#*,\"state\":}
	J_STATE=${J_STATE%%,\"status\":*}
	J_STATUS=${j#*,\"status\":}
	J_STATUS=${J_STATUS%%,\"counters\":*}
	J_COUNTERS=${j#*,\"counters\":}
	J_COUNTERS=${J_COUNTERS%\}}
	[ "$j" = "{\"config\":$J_CONFIG,\"state\":$J_STATE,\"status\":$J_STATUS,\"counters\":$J_COUNTERS}" ]
}

# counters NS: "name value ..." on one line.  With "net", follow's own polls
# over loopback (requests and pass_loopback; never answered by the module)
# are taken out.
counters()
{
	local name val lo=0 out= l

	while IFS=': ' read -r name val; do
		[ "$name" = pass_loopback ] && lo=$val
		l="$l$name=$val "
	done < <(ctl "$1" stats)
	for l in $l; do
		name=${l%%=*}
		val=${l#*=}
		if [ "${2:-}" = net ]; then
			[ "$name" = requests ] && val=$((val - lo))
			[ "$name" = pass_loopback ] && val=0
		fi
		out="$out$name $val "
	done
	echo "${out% }"
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

# pair C S: the two namespaces of the diagram, joined by a veth.
pair()
{
	veth_pair "$1" c "$2" s
	ip -n "$1" addr add 10.77.0.1/24 dev c
	ip -n "$2" addr add 10.77.0.2/24 dev s
	ip -n "$1" addr add fd77::1/64 dev c nodad
	ip -n "$2" addr add fd77::2/64 dev s nodad
}

# client C S: run the NTP client scenario on stdin in C; "ctl ARGS" lines
# run ntpkctl -n S ARGS in between.
client()
{
	n "$1" "$PY" "$TMP/ntp_client.py" "$2"
}

cat >"$TMP/ntp_client.py" <<'EOF'
# Reads steps from stdin, one per line:
#   send DST PORT KIND COUNT EXPECT
#     KIND: valid (v4 mode 3), short (40 bytes), ext (68 bytes), mode4,
#     v0, v5.  EXPECT: "none" (no reply may come within 1 s), or
#     STRATUM:REFIDHEX: each request must be answered within 5 s by a
#     48-byte v4 mode 4 reply echoing our transmit timestamp, with that
#     stratum and refid.  Prints "replies N".
#   ctl ARGS...: ntpkctl -n SERVER_NS ARGS (argv[1]), must succeed.
import os, socket, subprocess, sys

server_ns = sys.argv[1]
for step in sys.stdin:
    w = step.split()
    if not w:
        continue
    if w[0] == "ctl":
        subprocess.run(["ntpkctl", "-n", server_ns] + w[1:], check=True,
                       stdout=subprocess.DEVNULL)
        continue
    dst, port, kind, count, expect = w[1], int(w[2]), w[3], int(w[4]), w[5]
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
        s.settimeout(5)
        try:
            r, _ = s.recvfrom(1024)
        except socket.timeout:
            sys.exit("%s: no reply to request %d" % (step.strip(), i))
        stratum, refid = expect.split(":")
        if len(r) != 48 or r[0] & 0x3f != 0x24 or r[24:32] != tx:
            sys.exit("bad reply: %s" % r.hex())
        if r[1] != int(stratum) or r[12:16].hex() != refid:
            sys.exit("stratum %d refid %s, expected %s" %
                     (r[1], r[12:16].hex(), expect))
        replies += 1
    if expect == "none":
        s.settimeout(1)
        try:
            r, a = s.recvfrom(1024)
            sys.exit("%s: unexpected reply from %s" % (step.strip(), a))
        except socket.timeout:
            pass
    s.close()
    print("replies %d" % replies, flush=True)
EOF

# ---- tests ----

test_show_defaults()
{
	local ns=$1

	expect_out "$DEFAULT_SHOW" ctl "$ns" show
	# No command means show, as with wg.
	expect_out "$DEFAULT_SHOW" ctl "$ns"
	expect_out "$(default_counters '')" ctl "$ns" stats
	expect_out "" ctl "$ns" addr list
	# The same through ip netns exec: -n is only a shortcut.
	expect_out "$DEFAULT_SHOW" n "$ns" ntpkctl show
}

test_json_defaults()
{
	local ns=$1

	expect_out "{\"config\":{\"enabled\":false,\"ports\":[123],\"max_age\":5,\"leap_window\":2.000,\"dscp\":0,\"addresses\":[],\"ratelimit\":$DEFAULT_RL_JSON},\"state\":null,\"status\":{\"reason\":\"disabled\"},\"counters\":$ZERO_COUNTERS_JSON}" \
		ctl "$ns" -j show
	expect_out "$ZERO_COUNTERS_JSON" ctl "$ns" --json stats
	expect_out "[]" ctl "$ns" -j addr list
	# Valid JSON, not just the bytes above.
	ctl "$ns" -j show | "$PY" -c 'import json, sys; json.load(sys.stdin)'
}

test_set_config()
{
	local ns=$1

	ctl "$ns" set port 123,1123 max-age 10 enable
	expect_out "config:
  enabled: yes
  ports: 123,1123
  max_age: 10
  leap_window: 2.000
  dscp: 0
  addresses: any
  ratelimit: off" section "$ns" config
	# disable keeps everything else; port replaces the list.
	ctl "$ns" set disable
	ctl "$ns" set port 4123
	expect_out "config:
  enabled: no
  ports: 4123
  max_age: 10
  leap_window: 2.000
  dscp: 0
  addresses: any
  ratelimit: off" section "$ns" config
	jparts "$ns"
	is "{\"enabled\":false,\"ports\":[4123],\"max_age\":10,\"leap_window\":2.000,\"dscp\":0,\"addresses\":[],\"ratelimit\":$DEFAULT_RL_JSON}" "$J_CONFIG"
	ctl "$ns" set enable max-age 3600 port 1,65535,123,124,125,126,127,128
	jparts "$ns"
	is "{\"enabled\":true,\"ports\":[1,65535,123,124,125,126,127,128],\"max_age\":3600,\"leap_window\":2.000,\"dscp\":0,\"addresses\":[],\"ratelimit\":$DEFAULT_RL_JSON}" "$J_CONFIG"
	# Enabling twice is fine; so is disabling a disabled namespace.
	ctl "$ns" set enable
	ctl "$ns" set disable
	ctl "$ns" set disable
	expect_out "  enabled: no" line "$ns" enabled
	# A batch: the lines run in order, output in order, -j per line or
	# for all; it stops at the first failing line with that line's code.
	expect_out '{"config":{"enabled":true,"ports":[123],"max_age":3600,"leap_window":2.000,"dscp":0}
  max_age: 11' sh -c "ntpkctl -n '$ns' -b - <<'EOF' | sed -n 's/,\"addresses.*/}/p; /^  max_age/p'
# comment, then an empty line

set port 123 enable
-j show
set max-age 11
show
EOF"
	expect_err 2 'ntpkctl: set: invalid max-age "0": must be 1..3600
ntpkctl: batch: stopped at line 2' sh -c "printf 'set max-age 12\nset max-age 0\nset max-age 13\n' | ntpkctl -n '$ns' -b -"
	expect_out "  max_age: 12" line "$ns" max_age
	jparts "$ns"
	is '{"enabled":true,"ports":[123],"max_age":12,"leap_window":2.000,"dscp":0' "${J_CONFIG%%,\"addresses\":*}"
	printf 'set disable\n' >"$TMP/batch"
	ctl "$ns" --batch "$TMP/batch"
	expect_out "  enabled: no" line "$ns" enabled
	# The leap window: seconds, in milliseconds, 0 .. 600.
	ctl "$ns" set leap-window 0.5
	expect_out "  leap_window: 0.500" line "$ns" leap_window
	ctl "$ns" set leap-window 600 max-age 12
	expect_out "  leap_window: 600.000" line "$ns" leap_window
	jparts "$ns"
	is '{"enabled":false,"ports":[123],"max_age":12,"leap_window":600.000,"dscp":0' "${J_CONFIG%%,\"addresses\":*}"
	ctl "$ns" set leap-window 0
	expect_out "  leap_window: 0.000" line "$ns" leap_window
	ctl "$ns" set leap-window 2
	expect_out "  leap_window: 2.000" line "$ns" leap_window
	# DSCP, as chronyd's dscp directive: 0 .. 63, the kernel's range too.
	ctl "$ns" set dscp 46
	expect_out "  dscp: 46" line "$ns" dscp
	jparts "$ns"
	is '{"enabled":false,"ports":[123],"max_age":12,"leap_window":2.000,"dscp":46' "${J_CONFIG%%,\"addresses\":*}"
	ctl "$ns" set dscp 63
	expect_out "  dscp: 63" line "$ns" dscp
	ctl "$ns" set dscp 0
	expect_out "  dscp: 0" line "$ns" dscp
}

test_state_set()
{
	local ns=$1 leap

	expect_out "status:
  reason: disabled" section "$ns" status
	# A long max-age: the guest may be slow; freshness has its own test.
	ctl "$ns" set max-age 3600 enable
	expect_out "status:
  reason: never-pushed" section "$ns" status
	jparts "$ns"
	is '{"reason":"never-pushed"}' "$J_STATUS"
	ctl "$ns" state set leap 0 stratum 2 precision -20 refid 192.0.2.1 \
		rootdelay 0.0123 rootdisp 1.5 reftime 2024-01-01T00:00:00.5Z
	expect_out "state:
  leap: 0
  stratum: 2
  precision: -20
  root_delay: 0.012299
  root_dispersion: 1.500000
  refid: 192.0.2.1
  reftime: 2024-01-01T00:00:00.500000000Z
  disp_rate_ppb: 15000
  age_ms: N
  usable: yes" section "$ns" state
	expect_out "status:
  reason: none" section "$ns" status
	jparts "$ns"
	is '{"leap":0,"stratum":2,"precision":-20,"root_delay":0.012299,"root_dispersion":1.500000,"refid":"192.0.2.1","refid_raw":"0xc0000201","reftime":"2024-01-01T00:00:00.500000000Z","reftime_raw":"0xe93c7f0080000000","disp_rate_ppb":15000,"age_ms":N,"usable":true}' "$J_STATE"
	is '{"reason":"none"}' "$J_STATUS"
	ctl "$ns" -j show | "$PY" -c 'import json, sys; json.load(sys.stdin)'
	# Words in any order; a new push replaces the whole state.
	ctl "$ns" state set reftime 0x0 refid GPS rootdisp 0 rootdelay 0 \
		precision 0 stratum 1 leap 1 disprate 0 correction -0.000012345 \
		error 0.0000125 maxerror 0.001
	expect_out "state:
  leap: 1
  stratum: 1
  precision: 0
  root_delay: 0.000000
  root_dispersion: 0.000000
  refid: GPS
  reftime: 0x0000000000000000
  disp_rate_ppb: 0
  correction: -0.000012345
  error: 0.000012500
  max_error: 0.001000000
  age_ms: N
  usable: yes" section "$ns" state
	# Leap 1 announces a leap second at the end of this UTC month (of ten
	# minutes ago: see ntpkctl(8)).
	leap=$("$PY" -c 'import calendar, time
t = time.gmtime(time.time() - 600)
y, m = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
t = calendar.timegm((y, m, 1, 0, 0, 0))
print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)), t)')
	expect_out "status:
  reason: none
  leap_at: ${leap% *}" section "$ns" status
	jparts "$ns"
	[[ $J_STATE == *'"reftime_raw":"0x0000000000000000","disp_rate_ppb":0,"correction":-0.000012345,"error":0.000012500,"max_error":0.001000000,"age_ms":N,"usable":true}' ]] ||
		{ echo "# state: $J_STATE"; false; }
	is "{\"reason\":\"none\",\"leap_at\":\"${leap% *}\",\"leap_at_unix\":${leap#* }}" "$J_STATUS"
	# A clear says why until the next push: cleared unless told.
	ctl "$ns" state clear reason unsync
	expect_out "state: none" section "$ns" state
	expect_out "status:
  reason: unsync" section "$ns" status
	ctl "$ns" state clear
	expect_out "state: none" section "$ns" state
	expect_out "status:
  reason: cleared" section "$ns" status
	# Clearing nothing is not an error, and still records why.
	ctl "$ns" state clear reason follow-stopped
	expect_out "state: none" section "$ns" state
	expect_out "  reason: follow-stopped" line "$ns" reason
	# An unsynchronised push is kept, not used, and said so.
	ctl "$ns" state set leap 3 stratum 2 precision -20 refid 192.0.2.1 \
		rootdelay 0 rootdisp 0 reftime unix:0
	expect_out "  reason: unsync" line "$ns" reason
	# Off is off, whatever the state.
	ctl "$ns" set disable
	expect_out "  reason: disabled" line "$ns" reason
	ctl "$ns" state clear
	expect_out "state: none" section "$ns" state
}

# push_and_read NS WORDS...: push a state; print its refid, refid_raw,
# reftime, reftime_raw, root_delay and usable as "-j show" has them.  One
# batch: one process instead of two.
push_and_read()
{
	local ns=$1 re w words=

	shift
	for w; do
		words="$words \"$w\""
	done
	jsplit "$(printf 'state set%s\n-j show\n' "$words" | ctl "$ns" -b -)"
	re='"root_delay":([^,]*),.*"refid":"([^"]*)","refid_raw":"([^"]*)","reftime":"([^"]*)","reftime_raw":"([^"]*)",.*"usable":([a-z]*)}'
	[[ $J_STATE =~ $re ]]
	echo "${BASH_REMATCH[2]} ${BASH_REMATCH[3]} ${BASH_REMATCH[4]} ${BASH_REMATCH[5]} ${BASH_REMATCH[1]} ${BASH_REMATCH[6]}"
}

test_state_formats()
{
	local ns=$1 t base="leap 0 stratum 2 precision -20 rootdelay 0 rootdisp 0"
	local zero="0x0000000000000000 0x0000000000000000"

	ctl "$ns" set max-age 3600
	# One instant in each reftime format reads back identically.
	for t in unix:1704067200.5 ntp:3913056000.5 0xe93c7f0080000000 \
		 0xE93C7F0080000000 2024-01-01T00:00:00.5Z \
		 2024-01-01T00:00:00.500000000Z; do
		expect_out "192.0.2.1 0xc0000201 2024-01-01T00:00:00.500000000Z 0xe93c7f0080000000 0.000000 true" \
			push_and_read "$ns" $base refid 192.0.2.1 reftime "$t"
	done
	expect_out "192.0.2.1 0xc0000201 1970-01-01T00:00:00.000000000Z 0x83aa7e8000000000 0.000000 true" \
		push_and_read "$ns" $base refid 192.0.2.1 reftime unix:0
	expect_out "192.0.2.1 0xc0000201 2030-01-01T00:00:00.123456789Z 0xf48657001f9add37 0.000000 true" \
		push_and_read "$ns" $base refid 192.0.2.1 reftime 2030-01-01T00:00:00.123456789Z
	# Raw values are read in the NTP era nearest to now: 1 is in era 1.
	expect_out "192.0.2.1 0xc0000201 2036-02-07T06:28:16.000000001Z 0x0000000000000001 0.000000 true" \
		push_and_read "$ns" $base refid 192.0.2.1 reftime 0x1
	# Refid: text for stratum 0 and 1 when printable, else a dotted quad.
	expect_out "GPS 0x47505300 $zero 0.012299 true" \
		push_and_read "$ns" leap 0 stratum 1 precision -20 rootdelay 0.0123 rootdisp 0 refid GPS reftime 0x0
	expect_out "10.0.0.1 0x0a000001 $zero 0.000000 true" \
		push_and_read "$ns" leap 0 stratum 1 precision -20 rootdelay 0 rootdisp 0 refid 10.0.0.1 reftime 0x0
	expect_out "0.0.0.0 0x00000000 $zero 0.000000 true" \
		push_and_read "$ns" leap 0 stratum 1 precision -20 rootdelay 0 rootdisp 0 refid '' reftime 0x0
	expect_out "71.80.83.0 0x47505300 $zero 0.000000 true" \
		push_and_read "$ns" leap 0 stratum 2 precision -20 rootdelay 0 rootdisp 0 refid GPS reftime 0x0
	# Unsynchronised states are kept, but not usable.
	expect_out "RATE 0x52415445 $zero 0.000000 false" \
		push_and_read "$ns" leap 0 stratum 0 precision -20 rootdelay 0 rootdisp 0 refid RATE reftime 0x0
	expect_out "76.79.67.76 0x4c4f434c $zero 0.000000 false" \
		push_and_read "$ns" leap 0 stratum 16 precision -20 rootdelay 0 rootdisp 0 refid LOCL reftime 0x0
	expect_out "76.79.67.76 0x4c4f434c $zero 0.000000 false" \
		push_and_read "$ns" leap 3 stratum 15 precision -32 rootdelay 0 rootdisp 0 refid LOCL reftime 0x0
	expect_out "76.79.67.76 0x4c4f434c $zero 0.000000 true" \
		push_and_read "$ns" leap 2 stratum 15 precision -32 rootdelay 0 rootdisp 0 refid LOCL reftime 0x0
	# Root delay and dispersion: NTP short format, rounded to nearest both
	# ways, so that what show prints reads back as the same value.
	for t in 0.000015:0.000015 1.5:1.500000 0.0123:0.012299 \
		 65535.99998:65535.999985 3:3.000000 0.0000076:0.000000 \
		 0.0000077:0.000015; do
		expect_out "  root_delay: ${t#*:}
  root_dispersion: ${t#*:}" sh -c "ntpkctl -n '$ns' -b - <<EOF | grep '^  root_'
state set leap 0 stratum 1 precision -20 refid GPS reftime 0x0 rootdelay ${t%:*} rootdisp ${t%:*}
show
EOF"
	done
}

test_state_freshness()
{
	local ns=$1

	ctl "$ns" set max-age 3600 enable
	ctl "$ns" state set leap 0 stratum 2 precision -20 refid 192.0.2.1 \
		rootdelay 0 rootdisp 0 reftime unix:0
	expect_out "  usable: yes" line "$ns" usable
	# max-age applies to the state already held, not only to new pushes,
	# and a stale state is kept (still shown) until a push or a clear.
	ctl "$ns" set max-age 1
	sleep 1.5
	jparts "$ns"
	[[ $J_STATE == *'"usable":false}' ]]
	ctl "$ns" -j show | "$PY" -c 'import json, sys
s = json.load(sys.stdin)["state"]
assert s["age_ms"] >= 1500, s'
	ctl "$ns" set max-age 3600
	expect_out "  usable: yes" line "$ns" usable
	ctl "$ns" set max-age 1
	sleep 1.5
	expect_out "  usable: no" line "$ns" usable
	expect_out "  reason: expired" line "$ns" reason
	ctl "$ns" set max-age 3600
	ctl "$ns" state set leap 0 stratum 2 precision -20 refid 192.0.2.1 \
		rootdelay 0 rootdisp 0 reftime unix:0
	expect_out "  usable: yes" line "$ns" usable
	expect_out "  reason: none" line "$ns" reason
}

test_addr_cmds()
{
	local ns=$1

	ctl "$ns" addr add 192.0.2.1
	ctl "$ns" addr add 2001:db8::1
	expect_out "192.0.2.1
2001:db8::1" ctl "$ns" addr list
	expect_out '["192.0.2.1","2001:db8::1"]' ctl "$ns" -j addr list
	expect_out "  addresses: 192.0.2.1,2001:db8::1" line "$ns" addresses
	expect_err 1 "ntpkctl: addr add 192.0.2.1: File exists: address already served" \
		ctl "$ns" addr add 192.0.2.1
	expect_err 1 "ntpkctl: addr del 198.51.100.1: No such file or directory: address not served" \
		ctl "$ns" addr del 198.51.100.1
	expect_err 1 "ntpkctl: addr add 127.0.0.1: Invalid argument: not a servable unicast address" \
		ctl "$ns" addr add 127.0.0.1
	expect_err 1 "ntpkctl: addr add ff02::1: Invalid argument: not a servable unicast address" \
		ctl "$ns" addr add ff02::1
	ctl "$ns" addr del 2001:db8::1
	expect_out "192.0.2.1" ctl "$ns" addr list
	ctl "$ns" addr flush
	expect_out "" ctl "$ns" addr list
	expect_out "  addresses: any" line "$ns" addresses
	# The limit counts per family, and a full set still lists whole.
	seq 1 64 | sed 's/^/addr add 10.1.0./' | ctl "$ns" -b -
	expect_err 1 "ntpkctl: addr add 10.1.0.65: No space left on device: too many served addresses" \
		ctl "$ns" addr add 10.1.0.65
	ctl "$ns" addr add 2001:db8::65
	ctl "$ns" addr list >"$TMP/list"
	is "65 10.1.0.1 10.1.0.64 2001:db8::65" \
		"$(wc -l <"$TMP/list") $(sed -n '1p;64p;65p' "$TMP/list" | tr '\n' ' ' | sed 's/ $//')"
	ctl "$ns" addr flush
	expect_out "" ctl "$ns" addr list
}

test_ratelimit_cmds()
{
	local ns=$1

	ctl "$ns" ratelimit set
	expect_out "  ratelimit: interval 3 burst 8 leak 2 kod off table-size 1048576 v6-prefix 64" \
		line "$ns" ratelimit
	ctl "$ns" ratelimit set kod on burst 16
	expect_out "  ratelimit: interval 3 burst 16 leak 2 kod on table-size 1048576 v6-prefix 64" \
		line "$ns" ratelimit
	# The whole setting is replaced: kod and burst fall back to defaults.
	ctl "$ns" ratelimit set interval -2 leak 0 table-size 1024 v6-prefix 48
	expect_out "  ratelimit: interval -2 burst 8 leak 0 kod off table-size 1024 v6-prefix 48" \
		line "$ns" ratelimit
	jparts "$ns"
	is '{"enabled":false,"ports":[123],"max_age":5,"leap_window":2.000,"dscp":0,"addresses":[],"ratelimit":{"enabled":true,"interval":-2,"burst":8,"leak":0,"kod":false,"table_size":1024,"v6_prefix":48}}' "$J_CONFIG"
	ctl "$ns" ratelimit set interval -19 burst 255 leak 16 kod off table-size 2048 v6-prefix 128
	expect_out "  ratelimit: interval -19 burst 255 leak 16 kod off table-size 2048 v6-prefix 128" \
		line "$ns" ratelimit
	ctl "$ns" ratelimit off
	expect_out "  ratelimit: off" line "$ns" ratelimit
	jparts "$ns"
	is "{\"enabled\":false,\"ports\":[123],\"max_age\":5,\"leap_window\":2.000,\"dscp\":0,\"addresses\":[],\"ratelimit\":$DEFAULT_RL_JSON}" "$J_CONFIG"
}

test_usage_errors()
{
	local ns=$1 args msg t

	# Each line: arguments | the exact message.  All exit 2, print nothing.
	while IFS='|' read -r args msg; do
		[ -n "$args" ] || continue
		# shellcheck disable=SC2086
		expect_err 2 "$msg" ctl "$ns" $args
	done <<'EOF'
foo|ntpkctl: unknown command "foo" (try --help)
-x show|ntpkctl: unknown option "-x" (try --help)
show extra|ntpkctl: show: unexpected "extra"
set|ntpkctl: set: nothing to set (enable, disable, port, max-age, leap-window, dscp)
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
set leap-window|ntpkctl: set: leap-window needs a value
set leap-window 600.001|ntpkctl: set: invalid leap-window "600.001": must be 0.000..600.000 seconds
set leap-window 1.0005|ntpkctl: set: invalid leap-window "1.0005": at most 3 decimals
set leap-window -1|ntpkctl: set: invalid leap-window "-1": not a decimal number
set leap-window 1 leap-window 2|ntpkctl: set: leap-window given twice
set dscp 64|ntpkctl: set: invalid dscp "64": must be 0..63
set dscp|ntpkctl: set: dscp needs a value
set dscp 1 dscp 2|ntpkctl: set: dscp given twice
state|ntpkctl: state: expected set or clear
state bogus|ntpkctl: state: unknown word "bogus" (set or clear)
state clear now|ntpkctl: state clear: unexpected "now"
state clear reason|ntpkctl: state clear: reason needs a value
state clear reason unsync now|ntpkctl: state clear: unexpected "now"
state clear reason bogus|ntpkctl: state clear: invalid reason "bogus": must be cleared, unsync, daemon-gone, error-bound, smoothing or follow-stopped
state clear reason none|ntpkctl: state clear: invalid reason "none": must be cleared, unsync, daemon-gone, error-bound, smoothing or follow-stopped
state clear reason expired|ntpkctl: state clear: invalid reason "expired": must be cleared, unsync, daemon-gone, error-bound, smoothing or follow-stopped
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
state set disprate 1000001|ntpkctl: state set: invalid disprate "1000001": must be 0..1000000
state set disprate -1|ntpkctl: state set: invalid disprate "-1": not a number
state set correction 0.0000000001|ntpkctl: state set: invalid correction "0.0000000001": at most 9 decimals
state set error -0.1|ntpkctl: state set: invalid error "-0.1": must not be negative
state set maxerror 1000001|ntpkctl: state set: invalid maxerror "1000001": must be at most 1000000 seconds
state set leap 0 stratum 1 precision -20 refid GPS rootdelay 0 rootdisp 0 reftime 0x0 correction 0 error 0|ntpkctl: state set: correction, error and maxerror go together
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
follow --vip 192.0.2.1|ntpkctl: follow: --vip and --vip-dev go together
follow --vip-dev ntpvip|ntpkctl: follow: --vip and --vip-dev go together
follow --vip nope --vip-dev ntpvip|ntpkctl: follow: invalid --vip "nope": not an IPv4 or IPv6 address
follow --vip 192.0.2.1 --vip-dev ntpvip --once|ntpkctl: follow: --vip does not go with --once or --dry-run
follow --vip 192.0.2.1 --vip-dev ntpvip --dry-run|ntpkctl: follow: --vip does not go with --once or --dry-run
follow --max-stratum 3|ntpkctl: follow: --max-stratum, --hold-down and --vip-max-distance need --vip
follow --vip-max-distance 1|ntpkctl: follow: --max-stratum, --hold-down and --vip-max-distance need --vip
follow --vip 192.0.2.1 --vip-dev ntpvip --vip-max-distance 0|ntpkctl: follow: invalid --vip-max-distance "0": must be above 0
follow --vip 192.0.2.1 --vip-dev ntpvip --vip-max-distance 16.000000001|ntpkctl: follow: invalid --vip-max-distance "16.000000001": must be at most 16 s
follow --vip 192.0.2.1 --vip-dev ntpvip --vip-max-distance 1h|ntpkctl: follow: invalid --vip-max-distance "1h": unknown unit (s, ms, us or ns)
follow --vip 192.0.2.1 --vip-dev ntpvip --vip-max-distance -1|ntpkctl: follow: invalid --vip-max-distance "-1": not a duration (e.g. 1ms, 500us, 0.002)
follow --vip 192.0.2.1 --vip-dev ntpvip --vip-max-distance|ntpkctl: follow: --vip-max-distance needs a value
follow --vip 192.0.2.1 --vip-dev ntpvip --max-stratum 16|ntpkctl: follow: invalid --max-stratum "16": must be 1..15
follow --vip 192.0.2.1 --vip-dev ntpvip --hold-down 3601|ntpkctl: follow: invalid --hold-down "3601": must be 0.000..3600.000 seconds
follow --vip 192.0.2.1 --vip-dev a/b|ntpkctl: follow: invalid --vip-dev "a/b"
follow --vip 192.0.2.1 --vip-dev abcdefghijklmnopq|ntpkctl: follow: invalid --vip-dev "abcdefghijklmnopq"
help nope|ntpkctl: help: unknown command "nope"
-b|ntpkctl: -b needs a file (- for stdin)
-b /nonexistent|ntpkctl: cannot open batch file "/nonexistent": No such file or directory
-b - show|ntpkctl: unexpected "show" after -b -
EOF
	expect_err 2 'ntpkctl: cannot open network namespace "nosuch-ns": No such file or directory' \
		ntpkctl -n nosuch-ns show
	expect_err 2 'ntpkctl: -n needs a namespace' ntpkctl -n
	# None of them changed anything.
	expect_out "$DEFAULT_SHOW" ctl "$ns" show
	# Help for every command, both ways, exit 0.
	for t in show set addr state stats follow ratelimit help; do
		ntpkctl help "$t" >"$TMP/h1"
		ntpkctl "$t" --help >"$TMP/h2"
		[ -s "$TMP/h1" ]
		cmp "$TMP/h1" "$TMP/h2"
	done
	# The help fits on one screen.
	ntpkctl --help >"$TMP/h1"
	[ "$(wc -l <"$TMP/h1")" -le 24 ]
	! grep -q '^.\{81\}' "$TMP/h1" || false
}

test_eperm()
{
	local ns=$1 rc
	local u="unshare --user --map-root-user"
	local perm="Operation not permitted (CAP_NET_ADMIN needed)"

	# root in a new user namespace has no CAP_NET_ADMIN over $ns, which
	# belongs to the initial user namespace.
	expect_err 4 "ntpkctl: state clear: $perm" n "$ns" $u ntpkctl state clear
	expect_err 4 "ntpkctl: state set: $perm" n "$ns" $u ntpkctl state set \
		leap 0 stratum 1 precision -20 refid GPS rootdelay 0 rootdisp 0 \
		reftime unix:0
	expect_err 4 "ntpkctl: set: $perm" n "$ns" $u ntpkctl set enable
	expect_err 4 "ntpkctl: set: $perm" n "$ns" $u ntpkctl set max-age 9
	expect_err 4 "ntpkctl: set: $perm" n "$ns" $u ntpkctl ratelimit off
	expect_err 4 "ntpkctl: addr add 192.0.2.1: $perm" n "$ns" $u ntpkctl addr add 192.0.2.1
	expect_err 4 "ntpkctl: addr flush: $perm" n "$ns" $u ntpkctl addr flush
	# --reset prints first, then fails to reset.
	rc=0
	n "$ns" $u ntpkctl stats --reset >"$TMP/out" 2>"$TMP/err" || rc=$?
	is 4 "$rc"
	is "$(default_counters '')" "$(<"$TMP/out")"
	is "ntpkctl: stats reset: $perm" "$(<"$TMP/err")"
	# follow gives up at once: privilege does not come back by retrying.
	# (Nothing listens on port 9, so follow wants to clear the state.)
	rc=0
	n "$ns" $u ntpkctl follow --source 127.0.0.1:9 >"$TMP/out" 2>"$TMP/err" ||
		rc=$?
	is 4 "$rc"
	is "ntpkctl: follow: state clear: $perm" "$(tail -n1 "$TMP/err")"
	grep -q 'follow: withdrawn (daemon-gone): ntp 127.0.0.1:9: Connection refused$' "$TMP/err"
	# Reading needs no privilege, and nothing above changed anything.
	expect_out "$DEFAULT_SHOW" n "$ns" $u ntpkctl show
	expect_out "" n "$ns" $u ntpkctl addr list
	# Entering a namespace by -n needs CAP_SYS_ADMIN over it.
	expect_err 4 "ntpkctl: cannot enter network namespace \"$ns\": Operation not permitted" \
		$u ntpkctl -n "$ns" show
	# In a network namespace it owns, the same user may configure.
	expect_out "config:
  enabled: yes" $u --net sh -c 'ntpkctl set enable && ntpkctl show | head -n 2'
}

test_netns_independent()
{
	local a=$1 b=$2

	ctl "$a" set port 1123 max-age 9 enable
	ctl "$a" state set leap 0 stratum 2 precision -20 refid 192.0.2.1 \
		rootdelay 0 rootdisp 0 reftime unix:0
	ctl "$a" addr add 192.0.2.9
	ctl "$a" ratelimit set kod on
	expect_out "$DEFAULT_SHOW" ctl "$b" show
	expect_out "config:
  enabled: yes
  ports: 1123
  max_age: 9
  leap_window: 2.000
  dscp: 0
  addresses: 192.0.2.9
  ratelimit: interval 3 burst 8 leak 2 kod on table-size 1048576 v6-prefix 64" section "$a" config
	# And the other way round; then a goes away under b.
	ctl "$b" set max-age 7
	expect_out "  max_age: 9" line "$a" max_age
	ip netns del "$a"
	expect_out "  max_age: 7" line "$b" max_age
}

test_stats_traffic()
{
	local c=$1 s=$2

	ctl "$s" set enable max-age 3600
	ctl "$s" state set leap 0 stratum 2 precision -20 refid 192.0.2.7 \
		rootdelay 0.001 rootdisp 0.002 reftime unix:1704067200
	# Only served addresses (10.77.0.2 is not one while the set holds
	# 192.0.2.50 alone), only served ports (123 is no request at all
	# while only 1123 is served), and only with a state.
	expect_out "replies 5
replies 2
replies 0
replies 0
replies 0
replies 0
replies 0
replies 0
replies 0
replies 1
replies 0" client "$c" "$s" <<'EOF'
send 10.77.0.2 123 valid 5 2:c0000207
send fd77::2 123 valid 2 2:c0000207
send 10.77.0.2 123 short 3 none
send fd77::2 123 ext 2 none
send 10.77.0.2 123 mode4 2 none
send 10.77.0.2 123 v0 1 none
send 10.77.0.2 123 v5 1 none
ctl addr add 192.0.2.50
send 10.77.0.2 123 valid 1 none
ctl addr flush
ctl set port 1123
send 10.77.0.2 123 valid 1 none
send 10.77.0.2 1123 valid 1 2:c0000207
ctl set port 123
ctl state clear
send 10.77.0.2 123 valid 2 none
EOF
	expect_out "$(expected_counters requests=20 replies=8 pass_short=3 \
		pass_extensions=2 pass_not_mode3=2 pass_bad_version=2 \
		pass_not_ours=1 pass_no_state=2)" counters "$s"
	jparts "$s"
	[[ $J_COUNTERS == '{"requests":20,"replies":8,"pass_not_ours":1,'* ]]
	ctl "$s" stats --prometheus >"$TMP/prom"
	expect_out "# HELP ntpk_requests_total UDP datagrams to a served port
# TYPE ntpk_requests_total counter
ntpk_requests_total 20
# HELP ntpk_replies_total NTP mode 4 replies sent by the kernel
# TYPE ntpk_replies_total counter
ntpk_replies_total 8" head -n 6 "$TMP/prom"
	# Then the gauges: no state (cleared), so only usable and the reason.
	expect_out "# HELP ntpk_state_usable 1 while the kernel holds fresh synchronised state and answers
# TYPE ntpk_state_usable gauge
ntpk_state_usable 0
# HELP ntpk_status_reason 1 for why the kernel does not answer now (none: it does)
# TYPE ntpk_status_reason gauge
ntpk_status_reason{reason=\"none\"} 0
ntpk_status_reason{reason=\"never-pushed\"} 0
ntpk_status_reason{reason=\"expired\"} 0
ntpk_status_reason{reason=\"cleared\"} 1
ntpk_status_reason{reason=\"unsync\"} 0
ntpk_status_reason{reason=\"daemon-gone\"} 0
ntpk_status_reason{reason=\"error-bound\"} 0
ntpk_status_reason{reason=\"smoothing\"} 0
ntpk_status_reason{reason=\"follow-stopped\"} 0
ntpk_status_reason{reason=\"leap-window\"} 0
ntpk_status_reason{reason=\"disabled\"} 0" tail -n 16 "$TMP/prom"
	is 20 "$(grep -c '^ntpk_[a-z0-9_]*_total [0-9][0-9]*$' "$TMP/prom")"
	is 76 "$(wc -l <"$TMP/prom")"
	# With a state, its age and pushed root dispersion; the correction,
	# error and bound only when pushed.
	ctl "$s" state set leap 0 stratum 2 precision -20 refid 192.0.2.7 \
		rootdelay 0.001 rootdisp 0.002 reftime unix:1704067200 \
		correction -0.0001 error 0.0001 maxerror 0.001
	ctl "$s" stats --prometheus >"$TMP/prom"
	grep -v '^ntpk_state_age_seconds ' "$TMP/prom" >"$TMP/prom.noage"
	expect_out "ntpk_state_usable 1
ntpk_state_root_dispersion_seconds 0.001999
ntpk_state_dispersion_rate 0.000015000
ntpk_state_correction_seconds -0.000100000
ntpk_state_error_seconds 0.000100000
ntpk_state_max_error_seconds 0.001000000
ntpk_status_reason{reason=\"none\"} 1" grep -e '^ntpk_state_[a-z_]* ' \
		-e '^ntpk_status_reason{reason="none"}' "$TMP/prom.noage"
	grep -q '^ntpk_state_age_seconds [0-9]*\.[0-9][0-9][0-9]$' "$TMP/prom"
	is 94 "$(wc -l <"$TMP/prom")"
	ctl "$s" state clear
	# --reset prints the values it zeroes.
	ctl "$s" stats --reset >"$TMP/out"
	is "requests: 20" "$(head -n 1 "$TMP/out")"
	expect_out "$(expected_counters)" counters "$s"
	# The client's own ntpk saw nothing.
	expect_out "$(expected_counters)" counters "$c"
}

state_is()
{
	[ "$(section "$1" state | head -n 1)" = "$2" ]
}

follow_log_has()
{
	grep -q -- "$1" "$TMP/follow.log"
}

test_follow()
{
	local c=$1 s=$2 fpid rc

	# A generous max-age: the guest may be slow.  The hung-follower check
	# below lowers it on purpose.
	ctl "$s" set enable max-age 60
	chronyd_server "$s" 3
	# --once pushes chronyd's state and exits 0.  Over NTP, as any daemon
	# is followed (chronyd's own socket: ntpk_truth.sh).  A loose bound:
	# this is about following, and a busy emulated guest's loopback round
	# trip may exceed the default 1 ms now and then.
	wait_until 30 ctl "$s" follow --source 127.0.0.1:123 --max-error 50ms --once 2>>"$TMP/once.log"
	jparts "$s"
	[[ $J_STATE =~ ^\{\"leap\":0,\"stratum\":3,\"precision\":-[0-9]+,\"root_delay\":0.000000,\"root_dispersion\":[0-9.]+,\"refid\":\"127.127.1.1\",\"refid_raw\":\"0x7f7f0101\",\"reftime\":\"20[0-9-]+T[0-9:.]+Z\",\"reftime_raw\":\"0x[0-9a-f]{16}\",\"disp_rate_ppb\":[0-9]+,\"slew_rate_ppb\":[0-9]+,(\"correction\":-?[0-9.]+,\"error\":[0-9.]+,\"max_error\":[0-9.]+,)?\"age_ms\":N,\"usable\":true\}$ ]] ||
		{ echo "# state: $J_STATE"; false; }

	ctl "$s" state clear
	ntpkctl -n "$s" follow --source 127.0.0.1:123 --max-error 50ms \
		--interval 0.2 2>"$TMP/follow.log" &
	fpid=$!
	echo "$fpid" >"$TMP/follow.pid"
	wait_until 30 state_is "$s" "state:"
	ctl "$s" stats --reset >/dev/null
	# The module answers for chronyd: its stratum, its refid, counted.
	expect_out "replies 3" client "$c" "$s" <<<"send 10.77.0.2 123 valid 3 3:7f7f0101"
	n "$c" sntp -t 5 10.77.0.2 >"$TMP/sntp.out" 2>&1
	grep -q ' 10.77.0.2 s3 no-leap$' "$TMP/sntp.out" ||
		{ sed 's/^/# sntp: /' "$TMP/sntp.out"; false; }
	expect_out "$(expected_counters requests=4 replies=4)" counters "$s" net
	[ "$(counters "$s" | sed 's/.*pass_loopback \([0-9]*\).*/\1/')" -gt 0 ]

	# A hung follower fails safe: after max-age chronyd answers again (the
	# same stratum and refid, but not counted as ntpk replies).
	kill -STOP "$fpid"
	ctl "$s" set max-age 1
	sleep 1.5
	expect_out "replies 2" client "$c" "$s" <<<"send 10.77.0.2 123 valid 2 3:7f7f0101"
	expect_out "$(expected_counters requests=6 replies=4 pass_no_state=2)" counters "$s" net
	ctl "$s" set max-age 60
	kill -CONT "$fpid"

	# chronyd stops: its port refuses (ICMP), which is evidence: follow
	# withdraws the state at once.  (An expired state would still show;
	# "none" means cleared.)
	chronyd_stop "$s"
	wait_until 30 state_is "$s" "state: none"
	follow_log_has 'follow: withdrawn (daemon-gone): ntp 127.0.0.1:123: Connection refused$'
	expect_out "replies 0" client "$c" "$s" <<<"send 10.77.0.2 123 valid 2 none"
	expect_out "$(expected_counters requests=8 replies=4 pass_no_state=4)" counters "$s" net

	# chronyd is back: so is the state, logged after the withdrawal.  (Not
	# a count of every "serving" line: under TCG load follow may step
	# aside and back once more before, as its rules say.)
	chronyd_server "$s" 3
	wait_until 30 state_is "$s" "state:"
	sed -n '/follow: withdrawn (daemon-gone)/,$p' "$TMP/follow.log" |
		grep -q 'follow: serving: leap 0 stratum 3 refid 127.127.1.1 ' || {
		echo "# follow did not log serving after chronyd came back:"
		sed 's/^/#   /' "$TMP/follow.log"
		return 1
	}
	expect_out "replies 1" client "$c" "$s" <<<"send 10.77.0.2 123 valid 1 3:7f7f0101"

	# The module goes away under follow and comes back (here through the
	# genl alias, autoloaded by the next family lookup): follow keeps
	# pushing to the new instance, whose configuration starts afresh.
	ntpk_unload
	wait_until 30 state_is "$s" "state:"
	expect_out "  enabled: no" line "$s" enabled
	kill -0 "$fpid"

	# SIGTERM: state withdrawn (follow-stopped), exit 0.
	kill -TERM "$fpid"
	rc=0
	wait "$fpid" || rc=$?
	rm "$TMP/follow.pid"
	is 0 "$rc"
	follow_log_has 'follow: Terminated: withdrawn (follow-stopped), exiting$'
	expect_out "state: none" section "$s" state

	# An unsynchronised daemon is not followed...
	chronyd_stop "$s"
	chronyd_client "$s" -- "allow all"
	rc=0
	ctl "$s" follow --source 127.0.0.1:123 --once --verbose 2>"$TMP/once.log" || rc=$?
	is 1 "$rc"
	grep -q 'follow: withdrawn (unsync): leap 3 stratum 0$' "$TMP/once.log"
	expect_out "state: none" section "$s" state
	# ...nor an absent one.
	chronyd_stop "$s"
	rc=0
	ctl "$s" follow --source 127.0.0.1:123 --once 2>"$TMP/once.log" || rc=$?
	is 1 "$rc"
	grep -q 'follow: withdrawn (daemon-gone): ntp 127.0.0.1:123: Connection refused$' "$TMP/once.log"

	# A daemon that answers every poll 1.25 s late, during the second poll
	# after it (a daemon behind a flood while ntpk has no state): each
	# poll times out (no evidence: nothing is pushed or withdrawn), but the
	# late answers are believed, measured against their own polls, so the
	# state comes back.
	bg_run "$s" "$PY" "$NTPK_SELFTESTS/ntpk_craft.py" slowntp \
		--listen 127.0.0.1:1123 --delay 1.25 --stratum 4 --refid 192.0.2.44
	wait_until 30 eval '[ -n "$(n "$s" ss -Hnlu src 127.0.0.1:1123)" ]'
	ntpkctl -n "$s" follow --source 127.0.0.1:1123 --interval 0.5 \
		--max-error 50ms 2>"$TMP/follow.log" &
	fpid=$!
	echo "$fpid" >"$TMP/follow.pid"
	wait_until 30 follow_log_has 'follow: serving: leap 0 stratum 4 refid 192.0.2.44 '
	follow_log_has 'follow: no answer from ntp 127.0.0.1:1123: no reply within 500 ms; pushing nothing until it answers'
	# No answer first (within the first poll), logged once, then serving.
	[ "$(grep -o 'follow: \(no answer from\|serving:\)' "$TMP/follow.log" | head -n 2 | tr '\n' '|')" = \
	  "follow: no answer from|follow: serving:|" ] || { sed 's/^/# /' "$TMP/follow.log"; false; }
	# (Half a poll away from any window's edge, yet a slow guest may miss
	# one now and then, so: usable again within a few polls.)
	wait_until 10 eval '[ "$(line "$s" stratum; line "$s" usable)" = "  stratum: 4
  usable: yes" ]'
	kill -TERM "$fpid"
	wait "$fpid"
	rm "$TMP/follow.pid"
}

# follow --vip: the time service's signal beside the fast path's, in show,
# -j show and the metrics; a stratum above --max-stratum takes the VIP
# off while the fast path goes on answering; SIGTERM says follow-stopped.
vip_has()
{
	[ -n "$(n "$1" ip addr show dev ntpvip scope global)" ]
}

test_follow_vip()
{
	local s=$1 fpid j

	ctl "$s" set enable max-age 60
	n "$s" ip link add ntpvip type dummy
	n "$s" ip link set ntpvip up
	chronyd_server "$s" 3
	# Before follow reports it, show has no service section.
	expect_out "" section "$s" service
	ntpkctl -n "$s" follow --source "chronyd:$TMP/chrony-$s/chronyd.sock" \
		--vip 192.0.2.123 --vip-dev ntpvip --hold-down 0 \
		--vip-max-distance 0.5 2>"$TMP/vip.log" &
	fpid=$!
	echo "$fpid" >"$TMP/follow.pid"
	wait_until 30 eval '[ "$(section "$s" service)" = "service:
  reason: none
  announced: yes
  age_ms: N" ]' || { sed 's/^/# /' "$TMP/vip.log"; ctl "$s" show | sed 's/^/# /'; false; }
	vip_has "$s"
	grep -q 'vip: 1 address on ntpvip, announced while the daemon is synchronised at stratum 4 or better with a root distance of at most 0.500000 s (the fast path may be off), after 0.000 s of it, leased for 10 s$' "$TMP/vip.log"
	expect_out "status:
  reason: none" section "$s" status
	j=$(ctl "$s" -j show | sed 's/"age_ms":[0-9]*/"age_ms":N/g')
	[[ $j = *',"status":{"reason":"none"},"service":{"reason":"none","announced":true,"age_ms":N},"counters":{"requests":'* ]] ||
		{ echo "# -j show: $j"; false; }
	ctl "$s" stats --prometheus >"$TMP/prom"
	expect_out "# HELP ntpk_status_reason 1 for why the kernel does not answer now (none: it does)
# TYPE ntpk_status_reason gauge
ntpk_status_reason{reason=\"none\"} 1
ntpk_status_reason{reason=\"never-pushed\"} 0
ntpk_status_reason{reason=\"expired\"} 0
ntpk_status_reason{reason=\"cleared\"} 0
ntpk_status_reason{reason=\"unsync\"} 0
ntpk_status_reason{reason=\"daemon-gone\"} 0
ntpk_status_reason{reason=\"error-bound\"} 0
ntpk_status_reason{reason=\"smoothing\"} 0
ntpk_status_reason{reason=\"follow-stopped\"} 0
ntpk_status_reason{reason=\"leap-window\"} 0
ntpk_status_reason{reason=\"disabled\"} 0
# HELP ntpk_service_announced 1 while the node's anycast addresses are on their announcing device
# TYPE ntpk_service_announced gauge
ntpk_service_announced 1
# HELP ntpk_service_age_seconds Time since follow --vip reported the time service
# TYPE ntpk_service_age_seconds gauge
ntpk_service_age_seconds N
# HELP ntpk_service_reason 1 for why the node's time service is not good enough to announce (none: it is)
# TYPE ntpk_service_reason gauge
ntpk_service_reason{reason=\"none\"} 1
ntpk_service_reason{reason=\"expired\"} 0
ntpk_service_reason{reason=\"unsync\"} 0
ntpk_service_reason{reason=\"daemon-gone\"} 0
ntpk_service_reason{reason=\"follow-stopped\"} 0
ntpk_service_reason{reason=\"stratum\"} 0
ntpk_service_reason{reason=\"distance\"} 0" \
		sed -n -e 's/^\(ntpk_service_age_seconds\) [0-9]*\.[0-9][0-9][0-9]$/\1 N/' \
		-e '/^# HELP ntpk_status_reason/,$p' "$TMP/prom"

	# Stratum 6, above --max-stratum 4: the service is bad and the VIP
	# goes, while the fast path answers on.
	chronyc_in "$s" local stratum 6 >/dev/null
	wait_until 30 eval '[ "$(section "$s" service)" = "service:
  reason: stratum
  announced: no
  age_ms: N" ]' || { sed 's/^/# /' "$TMP/vip.log"; false; }
	! vip_has "$s" || false
	expect_out "status:
  reason: none" section "$s" status
	grep -q 'follow: service: bad (stratum): stratum 6 above --max-stratum 4$' "$TMP/vip.log"
	grep -q 'follow: vip: withdrawn from ntpvip: stratum: stratum 6 above --max-stratum 4$' "$TMP/vip.log"
	ctl "$s" stats --prometheus >"$TMP/prom"
	is 'ntpk_service_announced 0
ntpk_service_reason{reason="stratum"} 1' \
		"$(grep -e '^ntpk_service_announced ' -e '} 1$' "$TMP/prom" | grep service)"

	# SIGTERM: both signals say follow-stopped, nothing announced.
	kill -TERM "$fpid"
	wait "$fpid"
	rm "$TMP/follow.pid"
	expect_out "status:
  reason: follow-stopped
service:
  reason: follow-stopped
  announced: no
  age_ms: N" eval 'section "$s" status; section "$s" service'
	! vip_has "$s" || false
}

test_nlfuzz()
{
	local ns=$1

	n "$ns" "$NLFUZZ" -n "${NTPK_NLFUZZ_N:-2000}"
	# Still alive and still answering sensibly.
	ctl "$ns" set disable max-age 5 port 123 leap-window 2
	ctl "$ns" ratelimit off
	ctl "$ns" addr flush
	ctl "$ns" state clear
	ctl "$ns" stats --reset >/dev/null
	# The fuzzer reported a time service (service set), which nothing
	# takes back: well formed, and the rest as by default.
	[[ $(section "$ns" service) =~ ^service:$'\n'"  reason: "[a-z-]+$'\n'"  announced: "(yes|no)$'\n'"  age_ms: N"$ ]] ||
		{ section "$ns" service | sed 's/^/# /'; false; }
	expect_out "$DEFAULT_SHOW" eval 'ctl "$ns" show | sed "/^service:/,/^  age_ms:/d"'
}

# timed NAME ARGS...: test_NAME ARGS, and how long it took (the guest is
# emulated and its host may be busy: for information only).
timed()
{
	local t0=$SECONDS

	"test_$1" "${@:2}"
	echo "# $1: $((SECONDS - t0)) s"
}

# ---- main ----

ns_create DEF JSN SET ST FMT FRESH ADDR RL USE PERM IA IB TC TS FC FS VS FUZZ
pair "$TC" "$TS"
pair "$FC" "$FS"
# ntpkctl loads the module through its genl alias if need be.
ctl "$DEF" show >/dev/null

ktap_plan 15
ktap_test show_defaults timed show_defaults "$DEF"
ktap_test json_defaults timed json_defaults "$JSN"
ktap_test set_config timed set_config "$SET"
ktap_test state_set timed state_set "$ST"
ktap_test state_formats timed state_formats "$FMT"
ktap_test state_freshness timed state_freshness "$FRESH"
ktap_test addr_cmds timed addr_cmds "$ADDR"
ktap_test ratelimit_cmds timed ratelimit_cmds "$RL"
ktap_test usage_errors timed usage_errors "$USE"
ktap_test eperm timed eperm "$PERM"
ktap_test netns_independent timed netns_independent "$IA" "$IB"
ktap_test stats_traffic timed stats_traffic "$TC" "$TS"
ktap_test follow timed follow "$FC" "$FS"
ktap_test follow_vip timed follow_vip "$VS"
ktap_test nlfuzz timed nlfuzz "$FUZZ"
ktap_finish
