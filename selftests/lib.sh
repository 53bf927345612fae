# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the ntpk guest selftests (bash).  A test starts with
#
#	#!/bin/bash
#	. "$(dirname "$0")/lib.sh"
#
# and runs as root in a scripts/vm-run guest.  Sourcing this file turns on
# `set -eE -o pipefail`, so every line of a test is an assertion: a failing
# command ends the test, and the exit trap says which line it was.  Write
# negative checks as `! cmd || false`.  At exit, the test's own cleanup()
# (if it defines one) runs first, then what was registered with `defer`,
# then the namespaces from ns_create are deleted; so define cleanup() rather
# than trapping EXIT yourself, which would replace all of that.
#
# KTAP:
#	ktap_plan N              "TAP version 13" and "1..N"
#	ktap_ok NAME             ok N NAME
#	ktap_fail NAME           not ok N NAME
#	ktap_skip NAME REASON    ok N NAME # SKIP REASON
#	ktap_skip_ok REASON      declares the skips legitimate on this machine
#	                         (selftests/run fails unexplained skips in CI)
#	ktap_test NAME CMD...    runs CMD (under set -e, in a subshell): ok or
#	                         not ok NAME; the test goes on either way.
#	                         Variables, defer and ns_create inside CMD do
#	                         not outlive it: set shared things up outside
#	ktap_finish              exit 0 all passed, 1 any failed or the count
#	                         differs from the plan, 4 all skipped
# Namespaces and processes:
#	ns_create VAR...         a namespace per VAR, named VAR-<random>, lo up;
#	                         its name goes into $VAR
#	n NS CMD...              run CMD in namespace NS
#	veth_pair NS1 DEV1 NS2 DEV2   a veth pair between two namespaces, up
#	defer CMD...             run CMD at exit (last registered first)
#	bg_run NS CMD...         start CMD in NS in the background, killed at
#	                         exit; its pid is in $BG_PID
#	with_timeout SEC CMD...  CMD, killed after SEC seconds (exit 124); CMD
#	                         is a program, not a function: in a namespace,
#	                         with_timeout SEC ip netns exec NS CMD...
#	wait_until SEC CMD...    retry CMD every 0.2 s until it succeeds or SEC
#	                         seconds passed (then return 1)
#	                         (both SECs are multiplied by $NTPK_SLOW, 1 unless
#	                         set; selftests/run stretches test timeouts too)
# Soft assertions (subtests in the test's own shell, sharing baselines):
#	run_test NAME FUNCTION   ok or not ok NAME, by what FUNCTION asserted
#	assert_eq GOT WANT WHAT, assert_range GOT LO HI WHAT, fail WHY
#	                         report a wrong value, the subtest goes on
#	diag TEXT                "# TEXT"
#	elapsed EPOCHREALTIME    seconds since, one decimal
#	kv_load PREFIX FILE      "KEY VALUE" lines into ${V[PREFIXKEY]}
# Requirements:
#	require_cmd CMD...       fail (not skip) when a command is missing: a
#	                         missing dependency is a broken test machine
# systemd units, run the way systemd would (the guest has no systemd):
#	unit_exec UNIT KEY       the command lines of KEY= (ExecStart, ...) in
#	                         the unit file UNIT, one a line, without
#	                         systemd's prefixes (-+!@:)
#	unit_run NS UNIT KEY     the KEY= lines in NS, in order; a failing one
#	                         fails, unless it starts with "-"
#	unit_start NS UNIT       ExecStartPre lines, then ExecStart in the
#	                         background, in NS; its pid in $UNIT_PID, its
#	                         stderr in $TMP/unit.log
#	unit_stop NS UNIT [CMD...]  SIGTERM to $UNIT_PID, which must exit 0;
#	                         CMD, if given, must pass then; then the
#	                         ExecStopPost lines
# ntpk:
#	ntpk_load, ntpk_unload   modprobe ntpk / modprobe -r ntpk
#	ntpkctl ...              is on PATH (userspace/ntpkctl of this tree)
# chrony:
#	chronyd_server NS [STRATUM] [CONF-LINE...]
#	                         chronyd in NS as a local-clock server (stratum
#	                         3 by default), answering any client, not
#	                         touching the clock; returns once it answers
#	chronyd_client NS SERVER... [-- CONF-LINE...]
#	                         chronyd in NS polling SERVERs (iburst), -x
#	chronyd_in_control NS CONF-LINE...
#	                         chronyd in NS steering the guest's clock
#	                         (the only one a test may start so)
#	chronyc_in NS ARG...     chronyc talking to the chronyd of NS
#	chronyd_stop NS          stop it before exit
#	CHRONYD_RUN_NS=NS        NS's chronyd lives in /run/chrony, as on a node
#	                         (a tmpfs of the test's own mount namespace there)
#
# Files: $TMP is a per-test temporary directory, removed at exit.

set -eE -o pipefail

NTPK_SELFTESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NTPK_TOP=$(dirname "$NTPK_SELFTESTS")
PATH=$NTPK_TOP/userspace:$PATH
# The system python has scapy; a python3 earlier on PATH may not.
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/ntpk-test.XXXXXX)

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

__ktap_n=0
__ktap_plan=
__ktap_pass=0
__ktap_fail=0
__ktap_skip=0
__ktap_done=
__lib_err=
__lib_defer=()
__lib_ns=()

ktap_plan()
{
	__ktap_plan=$1
	echo "TAP version 13"
	echo "1..$1"
}

ktap_ok()
{
	__ktap_n=$((__ktap_n + 1))
	__ktap_pass=$((__ktap_pass + 1))
	echo "ok $__ktap_n $1"
}

ktap_fail()
{
	__ktap_n=$((__ktap_n + 1))
	__ktap_fail=$((__ktap_fail + 1))
	echo "not ok $__ktap_n $1"
}

ktap_skip()
{
	__ktap_n=$((__ktap_n + 1))
	__ktap_skip=$((__ktap_skip + 1))
	echo "ok $__ktap_n $1 # SKIP $2"
}

ktap_skip_ok()
{
	echo "# SKIP-OK: $*"
}

# set -e does not apply to a function called as an if/&&/|| condition, so
# the command runs in a subshell with set -e while ours is off.
ktap_test()
{
	local name=$1 rc=0 had_e=

	shift
	case $- in *e*) had_e=1 ;; esac
	set +e
	(__lib_in_test=$name; set -e; "$@")
	rc=$?
	[ -z "$had_e" ] || set -e
	__lib_err=
	if [ $rc -eq 0 ]; then
		ktap_ok "$name"
	else
		ktap_fail "$name"
	fi
}

ktap_finish()
{
	__ktap_done=1
	echo "# $__ktap_pass passed, $__ktap_fail failed, $__ktap_skip skipped"
	if [ -n "$__ktap_plan" ] && [ "$__ktap_n" -ne "$__ktap_plan" ]; then
		echo "# planned $__ktap_plan tests, ran $__ktap_n"
		exit $KSFT_FAIL
	fi
	[ $__ktap_fail -eq 0 ] || exit $KSFT_FAIL
	if [ $__ktap_skip -gt 0 ] && [ $__ktap_pass -eq 0 ]; then
		exit $KSFT_SKIP
	fi
	exit $KSFT_PASS
}

defer()
{
	__lib_defer+=("$(printf '%q ' "$@")")
}

__lib_in_test=

# Where a command failed: the innermost line outside this file, so that a
# failing `n ns cmd` points at the test's line, not at n().
__lib_on_err()
{
	local k=1 line=$1 where=

	while [ "${BASH_SOURCE[k]}" = "${BASH_SOURCE[0]}" ] &&
	      [ $((k + 1)) -lt ${#BASH_SOURCE[@]} ]; do
		line=${BASH_LINENO[k]}
		where=" (in ${FUNCNAME[k]})"
		k=$((k + 1))
	done
	__lib_err="${BASH_SOURCE[k]##*/} line $line$where: $2"
	[ -z "$__lib_in_test" ] || echo "# $__lib_in_test: failed at $__lib_err"
}

__lib_on_exit()
{
	local rc=$? i

	set +eE
	trap - ERR
	if [ $rc -ne 0 ] && [ -z "$__ktap_done" ] && [ -n "$__lib_err" ]; then
		echo "# aborted at $__lib_err (exit $rc)"
	fi
	if declare -F cleanup >/dev/null; then
		cleanup
	fi
	for ((i = ${#__lib_defer[@]} - 1; i >= 0; i--)); do
		eval "${__lib_defer[i]}" >/dev/null 2>&1
	done
	for i in "${__lib_ns[@]}"; do
		ip netns del "$i" 2>/dev/null
	done
	rm -rf "$TMP"
	exit $rc
}

trap '__lib_on_err $LINENO "$BASH_COMMAND"' ERR
trap __lib_on_exit EXIT

ns_create()
{
	local var name

	for var in "$@"; do
		name=$var-$(printf '%04x%04x' $RANDOM $RANDOM)
		ip netns add "$name"
		__lib_ns+=("$name")
		ip -n "$name" link set lo up
		printf -v "$var" '%s' "$name"
	done
}

n()
{
	local ns=$1

	shift
	ip netns exec "$ns" "$@"
}

veth_pair()
{
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

bg_run()
{
	local ns=$1

	shift
	ip netns exec "$ns" "$@" &
	BG_PID=$!
	defer __lib_kill "$BG_PID"
}

__lib_kill()
{
	kill "$1" 2>/dev/null || return 0
	wait "$1" 2>/dev/null || true
}

# A slow kernel (scripts/check-debug's KASAN and lockdep kernel, several
# times slower under TCG) stretches every timeout and wait by NTPK_SLOW.
NTPK_SLOW=${NTPK_SLOW:-1}

with_timeout()
{
	local sec=$(($1 * NTPK_SLOW))

	shift
	timeout -k 5 "$sec" "$@"
}

# A pause without a process: read's timeout on a pipe that this shell holds
# both ends of, so no data or end of file ever comes.  Under TCG each
# process a poll starts (date, sleep) costs about 50 ms of guest CPU, and
# wait_until's 0.2 s polls with two dates and a sleep burnt most of a
# vCPU while they waited.
exec {__lib_nap_fd}<> <(:)

nap()	# SECONDS (may be fractional)
{
	read -rt "$1" -u "$__lib_nap_fd" || :
}

# Until CMD succeeds, trying it every 0.2 s, for at most SEC (times
# NTPK_SLOW) seconds of the system clock; 1 if it never did.
wait_until()	# SEC CMD [ARG...]
{
	local deadline=$((${EPOCHREALTIME//[!0-9]/} + $1 * 1000000 * NTPK_SLOW))

	shift
	until "$@"; do
		[ "${EPOCHREALTIME//[!0-9]/}" -lt "$deadline" ] || return 1
		nap 0.2
	done
}

# ---- soft assertions ----
#
# For tests whose subtests run in the test's own shell (run_test), not in
# ktap_test's subshell, so that the counter snapshots one subtest takes are
# the next one's baseline.  An assertion reports and marks the subtest
# failed, and the subtest goes on, so that one run shows every wrong value.

T_FAIL=0

diag() { echo "# $*"; }

fail() {
	diag "FAIL: $*"
	T_FAIL=1
}

assert_eq() {	# GOT WANT WHAT
	[ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
}

assert_range() {	# GOT LO HI WHAT
	if ! [ "$1" -ge "$2" ] 2>/dev/null || ! [ "$1" -le "$3" ]; then
		fail "$4: got '$1', want $2..$3"
	fi
}

# set -e does not apply inside a function called left of ||: the subtest
# runs to its end, its assertions decide.
run_test() {	# NAME FUNCTION
	local t0=$EPOCHREALTIME

	T_FAIL=0
	"$2" || T_FAIL=1
	diag "$1: $(elapsed "$t0") s"
	if [ $T_FAIL = 0 ]; then
		ktap_ok "$1"
	else
		ktap_fail "$1"
	fi
}

elapsed() {	# EPOCHREALTIME-THEN: seconds since, one decimal
	local us=$((${EPOCHREALTIME//[!0-9]/} - ${1/./}))

	echo "$((us / 1000000)).$((us / 100000 % 10))"
}

# "KEY VALUE" lines (ntpk_rlsend.py) or "KEY: VALUE" lines (ntpkctl stats)
# into the associative array V, each key prefixed with PREFIX.
declare -A V
kv_load() {	# PREFIX FILE
	local k v

	while read -r k v; do
		V[$1${k%:}]=$v
	done <"$2"
}

unit_exec()
{
	sed -n "s/^$2=[-+!@:]*//p" "$1"
}

# The lines are plain words (no quotes, no variables): word splitting is
# what systemd would do with them.
# shellcheck disable=SC2086
unit_run()
{
	local line ignore

	while read -r line; do
		ignore=
		while [[ $line == [-+!@:]* ]]; do
			[ "${line:0:1}" != - ] || ignore=1
			line=${line:1}
		done
		n "$1" $line || [ -n "$ignore" ] || return 1
	done < <(sed -n "s/^$3=//p" "$2")
}

# shellcheck disable=SC2086
unit_start()
{
	local cmd

	unit_run "$1" "$2" ExecStartPre || return 1
	cmd=$(unit_exec "$2" ExecStart)
	[ -n "$cmd" ] || return 1
	# ip execs the command: $! is the service's process itself.
	ip netns exec "$1" $cmd 2>>"$TMP/unit.log" &
	UNIT_PID=$!
	defer __lib_kill "$UNIT_PID"
}

unit_stop()
{
	local ns=$1 unit=$2 rc=0

	shift 2
	kill -TERM "$UNIT_PID"
	wait "$UNIT_PID" || rc=$?
	[ "$rc" -eq 0 ] || { echo "# $UNIT_PID exited $rc"; return 1; }
	[ $# -eq 0 ] || "$@" || return 1
	unit_run "$ns" "$unit" ExecStopPost
}

require_cmd()
{
	local c missing=

	for c in "$@"; do
		command -v "$c" >/dev/null || missing="$missing $c"
	done
	if [ -n "$missing" ]; then
		echo "# missing:$missing (scripts/deps installs them)"
		return 1
	fi
}

ntpk_load()
{
	modprobe ntpk
}

# Namespaces going away release their ntpk state asynchronously (cleanup_net
# runs from a workqueue), so the module can stay busy for a moment.
ntpk_unload()
{
	grep -q '^ntpk ' /proc/modules || return 0
	wait_until 10 modprobe -r ntpk 2>/dev/null ||
		modprobe -r ntpk
}

# chronyd's directory: $TMP/chrony-NS; /run/chrony for the namespace named
# in $CHRONYD_RUN_NS, where a node's chronyd has its command socket and
# ntpkctl follow looks for it by default (the test mounts a tmpfs there).
__chrony_dir()
{
	if [ "$1" = "${CHRONYD_RUN_NS:-}" ]; then
		echo /run/chrony
	else
		echo "$TMP/chrony-$1"
	fi
}

# chronyd -u root: the socket directory may then be ours (it insists that
# only its user can write there), and -x: the clock is the guest's, shared by
# every namespace.
__chronyd_start()
{
	local ns=$1 dir

	dir=$(__chrony_dir "$ns")
	mkdir -p "$dir"
	chmod 700 "$dir"
	shift
	{
		echo "bindcmdaddress $dir/chronyd.sock"
		echo "cmdport 0"
		echo "pidfile $dir/chronyd.pid"
		echo "driftfile $dir/drift"
		printf '%s\n' "$@"
	} >"$dir/chrony.conf"
	# shellcheck disable=SC2086
	n "$ns" chronyd ${__chronyd_clock--x} -u root -f "$dir/chrony.conf" \
		-l "$dir/chronyd.log"
	defer __chronyd_stop "$dir"
	if ! wait_until 20 chronyc_in "$ns" -n tracking >/dev/null 2>&1; then
		echo "# chronyd in $ns does not answer; its log:"
		sed 's/^/#   /' "$dir/chronyd.log"
		return 1
	fi
}

__chronyd_stop()
{
	local pid

	pid=$(cat "$1/chronyd.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || return 0
	wait_until 5 eval "! kill -0 $pid 2>/dev/null" || kill -9 "$pid"
}

chronyd_server()
{
	local ns=$1 stratum=${2:-3}

	shift
	[ $# -eq 0 ] || shift
	__chronyd_start "$ns" "local stratum $stratum" "allow all" "$@"
}

chronyd_client()
{
	local ns=$1 s servers=()

	shift
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		servers+=("server $1 iburst")
		shift
	done
	[ $# -eq 0 ] || shift
	__chronyd_start "$ns" "${servers[@]}" "$@"
}

# The one chronyd of a test that steers the guest's clock (no -x).
chronyd_in_control()
{
	local __chronyd_clock=

	__chronyd_start "$@"
}

chronyd_stop()
{
	__chronyd_stop "$(__chrony_dir "$1")"
}

chronyc_in()
{
	local ns=$1

	shift
	n "$ns" chronyc -h "$(__chrony_dir "$ns")/chronyd.sock" "$@"
}
