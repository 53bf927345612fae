#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# settings: timeout=300
#
# ntpk configured from user namespaces that any user may create
# (unshare -Urn): root there may configure its own network namespace, but
# not pin much memory with it.
#   - a rate limit table over 1048576 entries is refused, with the message
#     naming that cap, for root of a new user namespace and for a non-root
#     uid's; a table at the cap is set and shown;
#   - the table is charged to the caller's memory cgroup (cgroup v2):
#     memory.current and memory.stat's vmalloc grow by at least its size
#     while the namespace holds it;
#   - CAP_NET_ADMIN in the initial user namespace still gets the largest
#     table (33554432 entries, 256 MiB), in its own namespaces and in one
#     that a user namespace owns.
#
#	scripts/vm-run --module kmod/ntpk.ko -- selftests/run ntpk_userns.sh
#
#   +-------------------------------+   +-------------------------------+
#   | user ns (unshare -Urn)        |   | initial user ns               |
#   |   as root, or as uid 65534    |   |   $BIG (ip netns add)         |
#   |   outside it                  |   |   ntpkctl -n $BIG: 2^25       |
#   |   + its own network ns:       |   |   nsenter into a user ns's    |
#   |     ntpkctl: 2^21 refused,    |   |   network ns: 2^25            |
#   |     2^20 set, charged to the  |   |                               |
#   |     cgroup it runs in         |   |                               |
#   +-------------------------------+   +-------------------------------+

. "$(dirname "$0")/lib.sh"

require_cmd unshare setpriv nsenter ntpkctl

CAP=1048576				# entries; 8 bytes each
MAX=33554432				# NTPK_RL_TABLE_MAX
NOBODY=65534
CG=/sys/fs/cgroup
REFUSED="ntpkctl: set: Operation not permitted: rate limit table over $CAP entries needs CAP_NET_ADMIN in the initial user namespace (CAP_NET_ADMIN needed)"
AT_CAP="  ratelimit: interval 3 burst 8 leak 2 kod off table-size $CAP v6-prefix 64"

cleanup()
{
	[ -z "${SLEEPER:-}" ] || kill "$SLEEPER" 2>/dev/null
	[ -z "${MYCG:-}" ] || rmdir "$MYCG" 2>/dev/null
	return 0
}

# as WHO SCRIPT: sh -c SCRIPT as root of a new user namespace with a new
# network namespace; WHO is the uid outside it (root, or a number).
# stdout and stderr together, in order.
as()
{
	if [ "$1" = root ]; then
		unshare -Urn sh -c "$2" 2>&1
	else
		setpriv --reuid="$1" --regid="$1" --clear-groups \
			unshare -Urn sh -c "$2" 2>&1
	fi
}

setup()
{
	local f=/proc/sys/kernel/unprivileged_userns_clone

	ntpk_load || { fail "modprobe ntpk"; return 1; }
	# Debian's knob; its default is 1 on Debian 12, but make sure.
	if [ -e $f ] && [ "$(<$f)" != 1 ]; then
		defer eval "echo $(<$f) >$f"
		echo 1 >$f
	fi
	assert_eq "$(as $NOBODY 'id -u; cat /proc/self/uid_map')" \
		"0
         0      $NOBODY          1" "uid $NOBODY maps itself to root"
	ns_create BIG
	memcg_setup
}

# The issue's command, the next power of two above the cap, then the cap.
refused_then_cap()	# WHO
{
	assert_eq "$(as "$1" "
		ntpkctl ratelimit set table-size $MAX; echo exit \$?
		ntpkctl ratelimit set table-size $((CAP * 2)) kod on; echo exit \$?
		ntpkctl show | grep ratelimit:
		ntpkctl ratelimit set table-size $CAP; echo exit \$?
		ntpkctl show | grep ratelimit:")" \
		"$REFUSED
exit 4
$REFUSED
exit 4
  ratelimit: off
exit 0
$AT_CAP" "as $1 in a user namespace: over the cap, then at it"
}

test_userns_root()
{
	refused_then_cap root
}

test_userns_nobody()
{
	refused_then_cap $NOBODY
}

# A cgroup v2 child of the root with the memory controller, in $MYCG; or
# no memory controller at all in this kernel, said in $NO_MEMCG.  The root
# cgroup is exempt from the no-internal-processes rule, so memory can be
# enabled for its children while every other process stays in it.
memcg_setup()
{
	local cfg

	if [ "$(stat -fc %T $CG)" != cgroup2fs ]; then
		mount -t cgroup2 none $CG || return 1
		defer umount $CG
	fi
	if ! grep -qw memory $CG/cgroup.controllers; then
		# Positive proof, or it is a broken machine, not a skip.
		cfg=/boot/config-$(uname -r)
		[ -r "$cfg" ] || cfg=/proc/config.gz
		if zgrep -qx '# CONFIG_MEMCG is not set' "$cfg"; then
			NO_MEMCG="$(uname -r) is built without CONFIG_MEMCG"
			return 0
		fi
		echo "# no memory controller in $CG/cgroup.controllers"
		return 1
	fi
	if ! grep -qw memory $CG/cgroup.subtree_control; then
		echo +memory >$CG/cgroup.subtree_control || return 1
		defer eval "echo -memory >$CG/cgroup.subtree_control"
	fi
	MYCG=$CG/ntpk-userns-$$
	mkdir $MYCG
}

# Run in a new user and network namespace, in $MYCG: memory.current and
# memory.stat's vmalloc just before and just after the table is made.
cat >"$TMP/charge.sh" <<EOF
set -e
cg=\$1
read -r c0 <\$cg/memory.current
v0=\$(sed -n 's/^vmalloc //p' \$cg/memory.stat)
ntpkctl ratelimit set table-size $CAP
read -r c1 <\$cg/memory.current
v1=\$(sed -n 's/^vmalloc //p' \$cg/memory.stat)
echo \$c0 \$v0 \$c1 \$v1
EOF

test_memcg_charged()
{
	local bytes=$((CAP * 8)) out c0 v0 c1 v1

	out=$(sh -c 'echo $$ >"$1/cgroup.procs" && exec unshare -Urn sh "$2" "$1"' \
		- "$MYCG" "$TMP/charge.sh" 2>&1)
	diag "memory.current, vmalloc before and after: $out"
	read -r c0 v0 c1 v1 <<<"$out"
	# vmalloc rounds up to pages, or to 2 MiB when it maps huge pages.
	assert_range $((v1 - v0)) $bytes $((bytes + (2 << 20))) \
		"memory.stat vmalloc growth"
	assert_range $((c1 - c0)) $bytes $((bytes + (4 << 20))) \
		"memory.current growth"
}

unshared()	# PID
{
	[ "$(readlink "/proc/$1/ns/net")" != "$(readlink /proc/$$/ns/net)" ]
}

test_init_userns_max()
{
	ntpkctl -n "$BIG" ratelimit set table-size $MAX ||
		fail "ratelimit set table-size $MAX in $BIG"
	assert_eq "$(ntpkctl -n "$BIG" show | grep ratelimit:)" \
		"  ratelimit: interval 3 burst 8 leak 2 kod off table-size $MAX v6-prefix 64" \
		"$BIG's setting"
	ntpkctl -n "$BIG" ratelimit off
	# A network namespace a user namespace owns, configured from outside:
	# the caller's privilege counts, not the namespace's owner.
	unshare -Urn sleep 600 &
	SLEEPER=$!
	wait_until 10 unshared $SLEEPER
	assert_eq "$(nsenter -t "$SLEEPER" -n sh -c "
		ntpkctl ratelimit set table-size $MAX && ntpkctl show | grep ratelimit:
		ntpkctl ratelimit off" 2>&1)" \
		"  ratelimit: interval 3 burst 8 leak 2 kod off table-size $MAX v6-prefix 64" \
		"a user namespace's network namespace, from the initial one"
	kill $SLEEPER
	wait $SLEEPER 2>/dev/null || true
	SLEEPER=
}

TESTS=(
	userns_root_refused_over_cap_set_at_cap test_userns_root
	userns_nobody_refused_over_cap_set_at_cap test_userns_nobody
	userns_table_charged_to_memcg test_memcg_charged
	init_userns_gets_max_table test_init_userns_max
)

ktap_plan $((${#TESTS[@]} / 2 + 1))
run_test setup setup
SETUP_FAIL=$T_FAIL
for ((i = 0; i < ${#TESTS[@]}; i += 2)); do
	if [ "$SETUP_FAIL" != 0 ]; then
		ktap_fail "${TESTS[i]} # setup failed"
	elif [ "${TESTS[i]}" = userns_table_charged_to_memcg ] &&
	     [ -n "${NO_MEMCG:-}" ]; then
		ktap_skip_ok "$NO_MEMCG (the debug kernel of make check-debug)"
		ktap_skip "${TESTS[i]}" "$NO_MEMCG"
	else
		run_test "${TESTS[i]}" "${TESTS[i + 1]}"
	fi
done
ktap_finish
