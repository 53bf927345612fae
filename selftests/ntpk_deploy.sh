#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Deploying ntpk on a pool node (issue 8), the parts that need the module:
#
#   - `make install` / `make uninstall` with DESTDIR (and PREFIX) into a
#     scratch root: the exact file list, the files themselves, the unit's
#     paths; nothing left after uninstall but an edited /etc/ntpk.conf;
#   - the installed unit passes `systemd-analyze verify` (with the scratch
#     root's /usr/local bind-mounted over /usr/local, in a mount namespace
#     of its own, so that its ExecStart paths and its man page exist);
#   - ntpkctl(8) renders without a warning, and documents every command,
#     option, counter and exit status;
#   - `ntpkctl apply` makes a namespace's configuration exactly what the
#     file says (checked with `ntpkctl -j show`), whatever it was before;
#     a broken file is rejected with the right line numbers and changes
#     nothing; --check changes nothing;
#   - the unit's own command lines, taken from the installed file, bring
#     up ntpk in a namespace with a chronyd, and stopping clears the state.
#
# The DKMS build is checked on the host (scripts/check-deploy): a kernel
# module build under emulation would take minutes.
#
#	scripts/vm-run --module kmod/ntpk.ko -- selftests/run ntpk_deploy.sh
#
# settings: timeout=600

. "$(dirname "$0")/lib.sh"

require_cmd make install ntpkctl chronyd chronyc modinfo unshare mount \
	systemd-analyze man groff "$PY"

KO=$NTPK_TOP/kmod/ntpk.ko
CTL=$NTPK_TOP/userspace/ntpkctl
if [ ! -f "$KO" ] || [ ! -x "$CTL" ]; then
	echo "# $KO or $CTL missing: run make first"
	exit "$KSFT_FAIL"
fi
KVER=$(modinfo -F vermagic "$KO" | cut -d' ' -f1)
# The tests run a copy: the tree's binary may be rebuilt meanwhile.
mkdir "$TMP/bin"
cp "$CTL" "$TMP/bin/ntpkctl"
PATH=$TMP/bin:$PATH
ROOT=$TMP/root
ROOT_USR=$TMP/root-usr

cleanup()
{
	local f

	for f in "$TMP"/chrony-*/chronyd.pid; do
		[ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	return 0
}

# make in the top directory, its output kept for a failure's diagnostics.
topmake()
{
	(cd "$NTPK_TOP" && make -s --no-print-directory "$@") >"$TMP/make.log" 2>&1 || {
		sed 's/^/# make: /' "$TMP/make.log"
		return 1
	}
}

files_under()
{
	(cd "$1" && find . -type f -printf '%P %m\n' | sort)
}

# ---- install ----

install_file_list()
{
	local got want

	topmake install DESTDIR="$ROOT" || return 1
	got=$(files_under "$ROOT")
	want="etc/ntpk.conf 644
lib/modules/$KVER/updates/ntpk.ko 644
usr/local/lib/systemd/system/ntpk-follow.service 644
usr/local/sbin/ntpkctl 755
usr/local/share/doc/ntpk/ntpk.conf.example 644
usr/local/share/man/man8/ntpkctl.8 644"
	[ "$got" = "$want" ] || {
		echo "# want:"; sed 's/^/#   /' <<<"$want"
		echo "# got:"; sed 's/^/#   /' <<<"$got"
		return 1
	}
}

install_contents()
{
	local u=$ROOT/usr/local/lib/systemd/system/ntpk-follow.service

	cmp "$KO" "$ROOT/lib/modules/$KVER/updates/ntpk.ko" &&
	cmp "$CTL" "$ROOT/usr/local/sbin/ntpkctl" &&
	cmp "$NTPK_TOP/userspace/ntpkctl.8" "$ROOT/usr/local/share/man/man8/ntpkctl.8" &&
	cmp "$NTPK_TOP/userspace/ntpk.conf.example" "$ROOT/etc/ntpk.conf" &&
	cmp "$NTPK_TOP/userspace/ntpk.conf.example" \
	    "$ROOT/usr/local/share/doc/ntpk/ntpk.conf.example" &&
	cmp "$NTPK_TOP/userspace/ntpk-follow.service" "$u" &&
	[ "$(grep '^Exec' "$u")" = "ExecStartPre=+/sbin/modprobe ntpk
ExecStartPre=/usr/local/sbin/ntpkctl apply /etc/ntpk.conf
ExecStart=/usr/local/sbin/ntpkctl follow
ExecReload=/usr/local/sbin/ntpkctl apply /etc/ntpk.conf
ExecStopPost=-/usr/local/sbin/ntpkctl state clear" ]
}

# PREFIX=/usr: the files move, and the unit's paths with them.
install_prefix_usr()
{
	local got want u=$ROOT_USR/usr/lib/systemd/system/ntpk-follow.service

	topmake install DESTDIR="$ROOT_USR" PREFIX=/usr || return 1
	got=$(files_under "$ROOT_USR")
	want="etc/ntpk.conf 644
lib/modules/$KVER/updates/ntpk.ko 644
usr/lib/systemd/system/ntpk-follow.service 644
usr/sbin/ntpkctl 755
usr/share/doc/ntpk/ntpk.conf.example 644
usr/share/man/man8/ntpkctl.8 644"
	[ "$got" = "$want" ] || { echo "# got: $got"; return 1; }
	grep -qx 'ExecStart=/usr/sbin/ntpkctl follow' "$u" &&
	! grep -q /usr/local "$u"
}

# A second install keeps an edited /etc/ntpk.conf; uninstall removes
# everything else, and then the unedited one too.
uninstall_leaves_nothing()
{
	local got

	echo "addr 192.0.2.9" >>"$ROOT_USR/etc/ntpk.conf"
	topmake install DESTDIR="$ROOT_USR" PREFIX=/usr || return 1
	grep -q "keeping the existing $ROOT_USR/etc/ntpk.conf" "$TMP/make.log" &&
	tail -n 1 "$ROOT_USR/etc/ntpk.conf" | grep -x 'addr 192.0.2.9' >/dev/null &&
	topmake uninstall DESTDIR="$ROOT_USR" PREFIX=/usr || return 1
	got=$(files_under "$ROOT_USR")
	[ "$got" = "etc/ntpk.conf 644" ] || { echo "# left: $got"; return 1; }
	cp "$NTPK_TOP/userspace/ntpk.conf.example" "$ROOT_USR/etc/ntpk.conf"
	topmake uninstall DESTDIR="$ROOT_USR" PREFIX=/usr || return 1
	got=$(files_under "$ROOT_USR")
	[ -z "$got" ] || { echo "# left: $got"; return 1; }
}

# ---- the unit and the man page ----

# verify loads the unit as systemd would: every Exec path must exist and be
# executable and the Documentation= man page must open, so the scratch
# root's /usr/local stands in for the real one.  Any output is a finding.
unit_verify()
{
	local out

	out=$(unshare -m sh -c '
		mount --bind "$1/usr/local" /usr/local &&
		systemd-analyze verify /usr/local/lib/systemd/system/ntpk-follow.service
	' sh "$ROOT" 2>&1) || { echo "$out" | sed 's/^/# /'; return 1; }
	[ -z "$out" ] || { echo "$out" | sed 's/^/# /'; return 1; }
}

man_renders_cleanly()
{
	local out

	out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
		man --warnings -E UTF-8 -l "$NTPK_TOP/userspace/ntpkctl.8" 2>&1 >"$TMP/man.txt") ||
		{ echo "$out" | sed 's/^/# /'; return 1; }
	[ -z "$out" ] || { echo "$out" | sed 's/^/# /'; return 1; }
	out=$(groff -man -ww -z "$NTPK_TOP/userspace/ntpkctl.8" 2>&1)
	[ -z "$out" ] || { echo "$out" | sed 's/^/# /'; return 1; }
	[ "$(wc -l <"$TMP/man.txt")" -gt 400 ]
}

# Every command of `ntpkctl --help` is a subsection, every option and exit
# status is listed, every counter has its entry.
man_covers_everything()
{
	local txt=$TMP/man.txt cmd missing= c

	# Words at the start of the summary's lines that `help` knows.
	for cmd in $(ntpkctl --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | sort -u); do
		ntpkctl help "$cmd" >/dev/null 2>&1 || continue
		grep -qx "   $cmd" "$txt" || missing="$missing command:$cmd"
	done
	for c in -j,\ --json -n,\ --netns -h,\ --help -V,\ --version; do
		grep -q "^       $c" "$txt" || missing="$missing option:$c"
	done
	for c in 0 1 2 3 4; do
		sed -n '/^EXIT STATUS/,/^FILES/p' "$txt" | grep "^       $c  " >/dev/null ||
			missing="$missing exit:$c"
	done
	for c in requests replies pass_not_ours pass_unusual pass_bad_source \
		 pass_loopback pass_short pass_extensions pass_not_mode3 \
		 pass_bad_version pass_no_state drop_malformed drop_checksum \
		 drop_route drop_xmit rl_dropped rl_leaked rl_kod pass_leap pass_route; do
		# A short tag shares its line with the text: "       rl_kod Rate..."
		sed -n '/^COUNTERS/,/^EXIT STATUS/p' "$txt" | grep -E "^       $c( |\$)" >/dev/null ||
			missing="$missing counter:$c"
	done
	for c in /etc/ntpk.conf ntpk-follow.service; do
		sed -n '/^FILES/,/^EXAMPLES/p' "$txt" | grep "$c" >/dev/null ||
			missing="$missing file:$c"
	done
	[ -z "$missing" ] || { echo "# not in the man page:$missing"; return 1; }
}

# ---- apply ----

# The config object of `ntpkctl -j show` in NS, addresses sorted, keys
# sorted: one line to compare.
config_of()
{
	local out

	out=$(n "$1" ntpkctl -j show) || return 1
	"$PY" -c '
import json, sys
c = json.loads(sys.argv[1])["config"]
c["addresses"].sort()
print(json.dumps(c, sort_keys=True, separators=(",", ":")))
' "$out"
}

# expect_config NS JSON: the namespace's config is exactly JSON.
expect_config()
{
	local got

	got=$(config_of "$1") || return 1
	[ "$got" = "$2" ] || {
		echo "# want: $2"
		echo "# got:  $got"
		return 1
	}
}

RL_OFF='"ratelimit":{"burst":8,"enabled":false,"interval":3,"kod":false,"leak":2,"table_size":1048576,"v6_prefix":64}'

cat >"$TMP/sample.conf" <<'EOF'
# Every directive, with comments and blank lines around.

enable
port 123,1123	# two ports
max-age 7
leap-window 0.25
   addr 192.0.2.123
addr 2001:DB8::123 198.51.100.9    # two on one line, upper-case hex
ratelimit interval 2 burst 16 leak 3 kod on table-size 2048 v6-prefix 56
EOF
SAMPLE_CONFIG='{"addresses":["192.0.2.123","198.51.100.9","2001:db8::123"],"dscp":0,"enabled":true,"leap_window":0.25,"max_age":7,"ports":[123,1123],"ratelimit":{"burst":16,"enabled":true,"interval":2,"kod":true,"leak":3,"table_size":2048,"v6_prefix":56}}'

# A namespace configured otherwise first: other ports, max-age, rate limit,
# an address the file keeps and one it does not.
apply_sample()
{
	n "$A" ntpkctl set enable port 4123 max-age 60 leap-window 10 &&
	n "$A" ntpkctl addr add 198.51.100.7 &&
	n "$A" ntpkctl addr add 192.0.2.123 &&
	n "$A" ntpkctl ratelimit set burst 3 &&
	n "$A" ntpkctl apply "$TMP/sample.conf" &&
	expect_config "$A" "$SAMPLE_CONFIG" &&
	# Applying it again changes nothing and succeeds.
	n "$A" ntpkctl apply "$TMP/sample.conf" &&
	expect_config "$A" "$SAMPLE_CONFIG"
}

# expect_rejected FILE STDERR: exit 2, exactly these messages, and the
# configuration of $A unchanged.
expect_rejected()
{
	local before rc=0 err

	before=$(config_of "$A") || return 1
	n "$A" ntpkctl apply "$1" 2>"$TMP/err" || rc=$?
	err=$(cat "$TMP/err")
	[ "$rc" -eq 2 ] && [ "$err" = "$2" ] || {
		echo "# exit $rc, stderr:"; sed 's/^/#   /' "$TMP/err"
		echo "# want exit 2, stderr:"; sed 's/^/#   /' <<<"$2"
		return 1
	}
	expect_config "$A" "$before"
}

apply_rejects_broken()
{
	local f=$TMP/broken.conf g=$TMP/broken2.conf

	printf '%s\n' disable 'port 123' 'max-age 9' 'addr 192.0.2.55' \
		'addr 192.0.2.300' 'ratelimit off' >"$f"
	expect_rejected "$f" "$f:5: invalid address \"192.0.2.300\": not an IPv4 or IPv6 address
ntpkctl: $f not applied: nothing changed" || return 1
	# Several bad lines: each reported; the good lines change nothing.
	printf '%s\n' '# comment' 'enable' 'ports 123' 'max-age 5' 'max-age 6' \
		'' 'addr 127.0.0.1' 'ratelimit burst 0' >"$g"
	expect_rejected "$g" "$g:3: unknown directive \"ports\" (enable, disable, port, max-age, leap-window, dscp, addr, ratelimit)
$g:5: max-age given twice (first on line 4)
$g:7: invalid address \"127.0.0.1\": not a unicast address ntpk can serve (0/8, loopback, multicast or broadcast)
$g:8: ratelimit: invalid burst \"0\": must be 1..255
ntpkctl: $g not applied: nothing changed"
}

apply_check_changes_nothing()
{
	local before

	before=$(config_of "$A") || return 1
	printf 'disable\nport 999\n' >"$TMP/other.conf"
	n "$A" ntpkctl apply --check "$TMP/other.conf" &&
	expect_config "$A" "$before"
}

# The example that make install put in /etc: enabled, the defaults, and the
# addresses and rate limit of before are gone.
apply_installed_example()
{
	n "$A" ntpkctl apply "$ROOT/etc/ntpk.conf" &&
	expect_config "$A" "{\"addresses\":[],\"dscp\":0,\"enabled\":true,\"leap_window\":2.0,\"max_age\":5,\"ports\":[123],$RL_OFF}"
}

# An empty file is the freshly loaded module's configuration.
apply_empty_is_default()
{
	n "$A" ntpkctl apply "$TMP/sample.conf" &&
	n "$A" ntpkctl apply - </dev/null &&
	expect_config "$A" "{\"addresses\":[],\"dscp\":0,\"enabled\":false,\"leap_window\":2.0,\"max_age\":5,\"ports\":[123],$RL_OFF}" &&
	[ "$(config_of "$A")" = "$(config_of "$FRESH")" ]
}

# Full sets: replacing 64 IPv4 addresses by 64 others cannot add first (the
# union would not fit), so the old ones go first; a 65th is a line error.
apply_full_sets()
{
	local i want

	for i in $(seq 1 64); do echo "addr 10.1.0.$i"; done >"$TMP/full1.conf"
	for i in $(seq 1 64); do echo "addr 10.2.0.$i"; done >"$TMP/full2.conf"
	n "$A" ntpkctl apply "$TMP/full1.conf" &&
	[ "$(n "$A" ntpkctl addr list | sort)" = "$(sed 's/^addr //' "$TMP/full1.conf" | sort)" ] &&
	n "$A" ntpkctl apply "$TMP/full2.conf" &&
	[ "$(n "$A" ntpkctl addr list | sort)" = "$(sed 's/^addr //' "$TMP/full2.conf" | sort)" ] || return 1
	echo "addr 10.3.0.1" >>"$TMP/full2.conf"
	expect_rejected "$TMP/full2.conf" "$TMP/full2.conf:65: too many IPv4 addresses: at most 64
ntpkctl: $TMP/full2.conf not applied: nothing changed"
}

# ---- the unit's commands ----

state_usable()
{
	n "$U" ntpkctl -j show | grep '"usable":true' >/dev/null
}

state_none()
{
	n "$U" ntpkctl show | grep -x 'state: none' >/dev/null
}

# The installed unit's Exec lines, with the scratch root's paths and a
# configuration of our own, run in $U the way systemd would run them.
unit_commands()
{
	local u=$TMP/ntpk-follow.service

	printf 'enable\nmax-age 5\n' >"$TMP/unit.conf"
	chronyd_server "$U" 3
	sed "s|/usr/local/sbin/ntpkctl|$ROOT/usr/local/sbin/ntpkctl|; s|/etc/ntpk.conf|$TMP/unit.conf|" \
		"$ROOT/usr/local/lib/systemd/system/ntpk-follow.service" >"$u"
	[ "$(unit_exec "$u" ExecStartPre | wc -l)" -eq 2 ] &&
	[ -n "$(unit_exec "$u" ExecStart)" ] &&
	[ -n "$(unit_exec "$u" ExecStopPost)" ] || return 1
	unit_start "$U" "$u"
	wait_until 30 state_usable || {
		kill "$UNIT_PID"
		sed 's/^/# follow: /' "$TMP/unit.log"
		return 1
	}
	unit_run "$U" "$u" ExecReload
	# follow clears the state itself on SIGTERM; ExecStopPost is for a
	# crash.
	unit_stop "$U" "$u" state_none
	expect_config "$U" "{\"addresses\":[],\"dscp\":0,\"enabled\":true,\"leap_window\":2.0,\"max_age\":5,\"ports\":[123],$RL_OFF}"
}

ntpk_load
ns_create A FRESH U

# The test's duration, as a diagnostic (emulation is slow).  Not as a
# condition: set -e must stay in force inside the test.
timed()
{
	local t=$SECONDS

	"$@"
	echo "# $1: $((SECONDS - t)) s"
}

ktap_plan 14
ktap_test "make_install_destdir_file_list" timed install_file_list
ktap_test "installed_files_and_unit_paths" timed install_contents
ktap_test "make_install_prefix_usr" timed install_prefix_usr
ktap_test "make_uninstall_leaves_only_edited_conf" timed uninstall_leaves_nothing
ktap_test "unit_systemd_analyze_verify_clean" timed unit_verify
ktap_test "man_page_renders_without_warnings" timed man_renders_cleanly
ktap_test "man_page_covers_commands_options_counters" timed man_covers_everything
ktap_test "apply_sample_configures_exactly" timed apply_sample
ktap_test "apply_broken_file_line_numbers_nothing_changed" timed apply_rejects_broken
ktap_test "apply_check_changes_nothing" timed apply_check_changes_nothing
ktap_test "apply_installed_example" timed apply_installed_example
ktap_test "apply_empty_file_is_module_default" timed apply_empty_is_default
ktap_test "apply_replaces_full_address_sets" timed apply_full_sets
ktap_test "unit_commands_follow_and_stop_clears" timed unit_commands
ktap_finish
