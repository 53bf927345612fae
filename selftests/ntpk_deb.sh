#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=1200
#
# The Debian packages (issue 17), as an operator uses them, on a guest with
# the headers of the kernel it booted:
#
#   - dpkg -i ntpk-dkms and ntpkctl (`make deb`, build/deb): DKMS builds ntpk
#     for the booted kernel, from this tree's sources, version VERSION;
#     every installed kernel is tried; nothing is enabled, started or
#     loaded;
#   - `systemctl enable ntpk-follow`, then what `--now` would start: the
#     unit's own Exec lines (systemd is not PID 1 here), after an edit of
#     /etc/ntpk.conf; a client is answered by the DKMS-built module;
#   - an upgrade to the next version (build/deb-next: the same tree, built
#     as VERSION+next) while the module is loaded and serving: every query
#     during and after it is answered by the old module, whose counters,
#     configuration and follower carry on; the operator's /etc/ntpk.conf is
#     kept; the new module is what a reload loads, and then answers;
#   - dpkg --purge: no module (loaded or on disk), no DKMS tree, no unit or
#     enable link, no file in /etc, nothing of the packages left.
#
# dpkg needs a writable root: this test runs in a mount namespace of its
# own where /etc, /usr (so /lib, /bin and /sbin) and /var are overlays of
# the guest's, their upper layers in $TMP, gone with the test.  There,
#   - /lib/modules is the one the kernel packages installed, not the one
#     scripts/vm-run prepared, so modprobe finds what DKMS installed;
#   - /lib/modules/KVER/kernel holds veth alone: depmod, which DKMS runs at
#     each install and removal, reads every module in the tree (thousands,
#     over a minute each time under TCG).  check-deploy runs depmod against
#     the whole tree on the host;
#   - the other installed kernels keep their modules but lose their headers,
#     so DKMS skips them (and says so) instead of compiling for each:
#     a DKMS build of ntpk takes about two minutes under TCG;
#   - chronyd's command socket is /run/chrony/chronyd.sock (a tmpfs there),
#     where follow finds it on a node (over NTP on loopback instead, a TCG
#     guest busy compiling takes more than follow's 1 ms error bound to
#     answer, and the state is withdrawn).
#
#   +---------------------+   veth   +-----------------------------+
#   | client  $CLI        +----------+ server  $SRV                |
#   |   cv 10.92.0.2/24   |          |   sv 10.92.0.1/24           |
#   |   sntp              |          |   chronyd, ntpk-follow's    |
#   +---------------------+          |   Exec lines, ntpk          |
#                                    +-----------------------------+
#
#	make deb-pkgs && scripts/vm-run --module kmod/ntpk.ko -- \
#		selftests/run ntpk_deb.sh

if [ -z "${NTPK_DEB_NS:-}" ]; then
	NTPK_DEB_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

. "$(dirname "$0")/lib.sh"

require_cmd dpkg dpkg-deb dpkg-query dkms systemctl systemd-analyze \
	modprobe modinfo depmod unshare mount sntp chronyd "$PY"

S4=10.92.0.1 C4=10.92.0.2
KVER=$(uname -r)
UNIT=/lib/systemd/system/ntpk-follow.service
WANTS=/etc/systemd/system/multi-user.target.wants/ntpk-follow.service
CTL=/usr/sbin/ntpkctl
# The installed ntpkctl, never the tree's.
PATH=${PATH#"$NTPK_TOP/userspace:"}
OVL=$TMP/ovl

# A guest booted on a kernel of its own (scripts/check-debug's) has no
# headers for it: DKMS cannot build there, by design.  Debian's kernels
# have theirs (scripts/deps installs them): missing, they fail the test.
if [ ! -e "/lib/modules/$KVER/build/include" ] && [ ! -e "/boot/vmlinuz-$KVER" ]; then
	ktap_plan 1
	ktap_skip_ok "$KVER is not a Debian kernel: DKMS has no headers to build against"
	ktap_skip "dpkg_packages" "no headers for $KVER"
	ktap_finish
fi

# ---- the packages ----

V1=$(cat "$NTPK_TOP/VERSION")
DEB1=$NTPK_TOP/build/deb
DEB2=$NTPK_TOP/build/deb-next
# The two packages in DIR, into the array PKGS.
pkgs()	# DIR
{
	PKGS=("$1"/ntpk-dkms_*_all.deb "$1"/ntpkctl_*_"$(dpkg --print-architecture)".deb)
	[ ${#PKGS[@]} -eq 2 ] && [ -f "${PKGS[0]}" ] && [ -f "${PKGS[1]}" ]
}
if ! pkgs "$DEB1" || ! pkgs "$DEB2"; then
	echo "# no packages in $DEB1 and $DEB2: run make deb-pkgs first"
	exit "$KSFT_FAIL"
fi
V2=$(dpkg-deb -f "${PKGS[0]}" Version)

# ---- the namespace ----

writable_root()
{
	local d k veth

	mkdir -p "$OVL"
	mount -t tmpfs tmpfs "$OVL"
	defer umount -l "$OVL"
	for d in etc usr var; do
		mkdir -p "$OVL/$d/u" "$OVL/$d/w"
		mount -t overlay overlay \
			-o "lowerdir=/$d,upperdir=$OVL/$d/u,workdir=$OVL/$d/w" "/$d"
		defer umount -l "/$d"
	done
	# Of the kernel's own modules, veth alone, as the tree has it: DKMS
	# compresses ntpk.ko (6.12's .ko.xz) when modules.dep shows the others
	# compressed.
	veth=$(modinfo -k "$KVER" -n veth)
	cp "$veth" "$OVL/"
	mount -t tmpfs -o mode=755 tmpfs "/lib/modules/$KVER/kernel"
	mkdir -p "$(dirname "$veth")"
	cp "$OVL/${veth##*/}" "$veth"
	depmod "$KVER"
	for k in /lib/modules/*; do
		[ "$k" = "/lib/modules/$KVER" ] || rm -f "$k/build"
	done
	[ -e "/lib/modules/$KVER/build/include" ] || {
		echo "# no headers for $KVER in /lib/modules/$KVER/build"
		return 1
	}
}
writable_root

# ---- helpers ----

# dpkg ARGS...: dpkg, its output in $TMP/dpkg.log (and shown on failure),
# its time as a diagnostic.
deb()
{
	local t0=$EPOCHREALTIME

	dpkg "$@" </dev/null >"$TMP/dpkg.log" 2>&1 || {
		echo "# dpkg $* failed:"
		sed 's/^/#   /' "$TMP/dpkg.log"
		return 1
	}
	diag "dpkg $1: $(elapsed "$t0") s"
}

# The one ntpk.ko[.xz] DKMS installed for the booted kernel.
installed_ko()
{
	find "/lib/modules/$KVER" -name 'ntpk.ko*'
}

replies()
{
	n "$SRV" "$CTL" -j stats | "$PY" -c \
		'import json, sys; print(json.load(sys.stdin)["replies"])'
}

config()
{
	n "$SRV" "$CTL" -j show | "$PY" -c \
		'import json, sys; print(json.dumps(json.load(sys.stdin)["config"], sort_keys=True))'
}

usable()
{
	n "$SRV" "$CTL" -j show | grep -q '"usable":true'
}

# One sntp query answered by ntpk: the reply counter moves by exactly one.
answered_by_ntpk()
{
	local r0 r1

	r0=$(replies)
	n "$CLI" timeout 30 sntp -t 5 "$S4" >"$TMP/sntp.out" 2>&1 || {
		sed 's/^/# sntp: /' "$TMP/sntp.out"
		fail "sntp $S4 got no answer"
		return 1
	}
	r1=$(replies)
	[ "$r1" = $((r0 + 1)) ] || { fail "ntpk replies after one query: $r0, then $r1"; follow_says; }
}

# What follow and the module say, for a failure.
follow_says()
{
	n "$SRV" "$CTL" show | sed 's/^/# show: /'
	tail -n 20 "$TMP/unit.log" | sed 's/^/# follow: /'
}

# systemctl enable --now, without systemd: the link, then the Exec lines.
service_start()
{
	unit_start "$SRV" "$UNIT" || { fail "ExecStartPre failed"; return 1; }
	wait_until 30 usable || {
		sed 's/^/# follow: /' "$TMP/unit.log"
		fail "the state never became usable"
		return 1
	}
	diag "follow: $(head -n 1 "$TMP/unit.log")"
}

ns_create SRV CLI
veth_pair "$SRV" sv "$CLI" cv
n "$SRV" ip addr add $S4/24 dev sv
n "$CLI" ip addr add $C4/24 dev cv
[ ! -e /run/chrony ] || { echo "# /run/chrony exists"; exit "$KSFT_FAIL"; }
mkdir /run/chrony
defer rmdir /run/chrony
mount -t tmpfs -o mode=700 tmpfs /run/chrony
defer umount -l /run/chrony
CHRONYD_RUN_NS=$SRV
chronyd_server "$SRV" 3

# ---- the tests ----

# PACKAGE VERSION ARCHITECTURE of each of PKGS.
pkgs_fields()
{
	local f

	for f in "${PKGS[@]}"; do
		dpkg-deb -f "$f" Package Version Architecture | cut -d' ' -f2 | paste -sd' '
	done
}

test_packages()
{
	local arch

	arch=$(dpkg --print-architecture)
	pkgs "$DEB1"
	assert_eq "$(pkgs_fields)" "ntpk-dkms $V1 all
ntpkctl $V1 $arch" "make deb's packages, at VERSION"
	pkgs "$DEB2"
	assert_eq "$(pkgs_fields)" "ntpk-dkms $V2 all
ntpkctl $V2 $arch" "build/deb-next's packages"
	dpkg --compare-versions "$V2" gt "$V1" ||
		fail "$V2 does not upgrade $V1"
}

# Every kernel in /lib/modules, as DKMS's postinst lists them (with ls -v).
# shellcheck disable=SC2012
all_kernels()
{
	ls -v /lib/modules | sed -e ':a;N;$!ba;s/\n/, /g' -e 's/, \([^,]*\)$/ and \1/'
}

test_install()
{
	local ko f k

	pkgs "$DEB1"
	deb -i "${PKGS[@]}" || return 1
	sed 's/^/# /' "$TMP/dpkg.log"
	grep -qx "Building for $(all_kernels)" "$TMP/dpkg.log" ||
		fail "DKMS did not try every installed kernel ($(all_kernels))"
	for k in /lib/modules/*; do
		k=${k##*/}
		[ "$k" != "$KVER" ] || continue
		grep -q "^Module build for kernel $k was skipped since the" "$TMP/dpkg.log" ||
			fail "no word of $k, which has no headers"
	done
	assert_eq "$(dkms status -m ntpk)" "ntpk/$V1, $KVER, $(uname -m): installed" \
		"dkms status"
	ko=$(installed_ko)
	case $ko in
	"/lib/modules/$KVER/updates/dkms/ntpk.ko"|"/lib/modules/$KVER/updates/dkms/ntpk.ko.xz") ;;
	*) fail "DKMS installed '$ko'"; return 1 ;;
	esac
	assert_eq "$(modinfo -F version "$ko")" "$V1" "the module's version"
	assert_eq "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" "$KVER" "vermagic"
	assert_eq "$(modinfo -n ntpk)" "$ko" "what modprobe ntpk finds"
	# The package carries this tree's module.
	for f in Kbuild VERSION kmod/Kbuild kmod/*.[ch] kmod/uapi/linux/ntpk.h; do
		(cd "$NTPK_TOP" && [ -e "$f" ]) || continue
		cmp -s "$NTPK_TOP/$f" "/usr/src/ntpk-$V1/$f" ||
			fail "/usr/src/ntpk-$V1/$f is not the tree's"
	done
	grep -qx "PACKAGE_VERSION=\"$V1\"" "/usr/src/ntpk-$V1/dkms.conf" ||
		fail "dkms.conf's PACKAGE_VERSION is not $V1"
}

test_installed_idle()
{
	local got want

	assert_eq "$(systemctl is-enabled ntpk-follow.service 2>&1)" disabled \
		"systemctl is-enabled after dpkg -i"
	[ ! -e "$WANTS" ] || fail "$WANTS exists"
	! grep -q '^ntpk ' /proc/modules || fail "dpkg -i loaded ntpk"
	! pgrep -f 'ntpkctl follow' >/dev/null || fail "a follower runs"
	assert_eq "$($CTL --version)" "ntpkctl $V1 (generic netlink \"ntpk\" version 1)" \
		"ntpkctl --version"
	got=$(dpkg -L ntpkctl | while read -r f; do [ -d "$f" ] || echo "$f"; done | sort)
	want="/etc/ntpk.conf
/lib/systemd/system/ntpk-follow.service
/usr/sbin/ntpkctl
/usr/share/doc/ntpkctl/changelog.gz
/usr/share/doc/ntpkctl/copyright
/usr/share/doc/ntpkctl/ntpk.conf.example
/usr/share/lintian/overrides/ntpkctl
/usr/share/man/man8/ntpkctl.8.gz"
	assert_eq "$got" "$want" "ntpkctl's files"
	assert_eq "$(dpkg-query -W -f='${Conffiles}' ntpkctl)" \
		" /etc/ntpk.conf $(md5sum <"$NTPK_TOP/userspace/ntpk.conf.example" | cut -d' ' -f1)" \
		"conffiles"
	cmp -s /etc/ntpk.conf "$NTPK_TOP/userspace/ntpk.conf.example" ||
		fail "/etc/ntpk.conf is not ntpk.conf.example"
	assert_eq "$(unit_exec "$UNIT" ExecStart)" "/usr/sbin/ntpkctl follow" "ExecStart"
	got=$(systemd-analyze verify "$UNIT" 2>&1) || fail "systemd-analyze verify failed"
	assert_eq "$got" "" "systemd-analyze verify's findings"
}

# The operator: a longer max-age in /etc/ntpk.conf, then enable --now.
test_enable_serves()
{
	local link

	sed -i 's/^max-age 5$/max-age 30/' /etc/ntpk.conf
	systemctl enable ntpk-follow.service >"$TMP/enable.log" 2>&1 ||
		{ sed 's/^/# /' "$TMP/enable.log"; fail "systemctl enable"; return 1; }
	link=$(readlink "$WANTS")
	assert_eq "$link" "$UNIT" "the enable link"
	assert_eq "$(systemctl is-enabled ntpk-follow.service 2>&1)" enabled \
		"systemctl is-enabled"
	# No systemd to start it: --now is its Exec lines.
	[ ! -d /run/systemd/system ] || fail "systemd runs here after all"
	assert_eq "$(modprobe --show-depends ntpk)" "insmod $(installed_ko) " \
		"what ExecStartPre's modprobe loads"
	service_start || return 1
	assert_eq "$(cat /sys/module/ntpk/version)" "$V1" "the loaded module's version"
	assert_eq "$(config | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["max_age"])')" \
		30 "max-age from the edited /etc/ntpk.conf"
	answered_by_ntpk
}

# A query every 5 s until $TMP/stop appears, one JSON line each, from one
# client process.  sntp is a Python program too, but one per query: at one
# every 5 s the upgrade's dpkg -i took 361 s in make check against the
# first install's 196 s, the same build, and at one every 15 s it still
# cost a good part of the upgrade's time.
client_loop()
{
	n "$CLI" "$PY" "$NTPK_SELFTESTS/ntpk_probe.py" --every 5 \
		--until "$TMP/stop" "$S4" >"$TMP/queries"
}

test_upgrade_while_serving()
{
	local r0 r1 cfg0 pid=$UNIT_PID lpid queries rc=0

	r0=$(replies)
	cfg0=$(config)
	client_loop &
	lpid=$!
	pkgs "$DEB2"
	deb -i "${PKGS[@]}" || rc=$?
	touch "$TMP/stop"
	wait "$lpid"
	sed 's/^/# /' "$TMP/dpkg.log"
	[ "$rc" -eq 0 ] || { fail "dpkg -i $V2"; return 1; }
	queries=$(wc -l <"$TMP/queries")
	r1=$(replies)
	diag "$queries queries during the upgrade"
	assert_range "$queries" 3 100000 "queries during the upgrade"
	assert_eq "$(grep -c '"answered": true.*"origin_ok": true.*"stratum": [1-9]' "$TMP/queries")" \
		"$queries" "queries answered"
	[ "$r1" = $((r0 + queries)) ] ||
		{ fail "ntpk replies: $r0 before, $r1 after $queries queries"; follow_says; }
	# The old module still serves; the new one waits on disk.
	assert_eq "$(cat /sys/module/ntpk/version)" "$V1" "the loaded module's version"
	assert_eq "$(modinfo -F version ntpk)" "$V2" "the installed module's version"
	assert_eq "$(dkms status -m ntpk)" "ntpk/$V2, $KVER, $(uname -m): installed" \
		"dkms status"
	[ ! -e "/usr/src/ntpk-$V1" ] || fail "/usr/src/ntpk-$V1 is left"
	kill -0 "$pid" 2>/dev/null || fail "the follower did not outlive the upgrade"
	usable || fail "the state is not usable after the upgrade"
	assert_eq "$(config)" "$cfg0" "the module's configuration"
	grep -qx 'max-age 30' /etc/ntpk.conf || fail "the edit of /etc/ntpk.conf is lost"
	assert_eq "$(systemctl is-enabled ntpk-follow.service 2>&1)" enabled \
		"systemctl is-enabled after the upgrade"
	assert_eq "$($CTL --version)" "ntpkctl $V2 (generic netlink \"ntpk\" version 1)" \
		"ntpkctl --version"
	answered_by_ntpk
}

# systemctl stop; modprobe -r ntpk; systemctl start.
test_reload()
{
	local cfg0

	cfg0=$(config)
	unit_stop "$SRV" "$UNIT" || { fail "stopping the follower"; return 1; }
	ntpk_unload || { fail "modprobe -r ntpk"; return 1; }
	service_start || return 1
	assert_eq "$(cat /sys/module/ntpk/version)" "$V2" "the loaded module's version"
	assert_eq "$(config)" "$cfg0" "the configuration /etc/ntpk.conf gives"
	answered_by_ntpk
}

# What systemctl stop does (the prerm would, with systemd), then purge; the
# unit is still enabled.
test_purge()
{
	local left

	unit_stop "$SRV" "$UNIT" || fail "stopping the follower"
	deb --purge ntpkctl ntpk-dkms || return 1
	sed 's/^/# /' "$TMP/dpkg.log"
	! grep -q '^ntpk ' /proc/modules || fail "ntpk is still loaded"
	assert_eq "$(dpkg-query -W -f='${db:Status-Abbrev}\n' ntpkctl ntpk-dkms 2>/dev/null)" "" \
		"what dpkg still knows of the packages"
	assert_eq "$(find /lib/modules -name 'ntpk.ko*')" "" "ntpk.ko left"
	! modinfo ntpk >/dev/null 2>&1 || fail "modinfo still finds ntpk"
	assert_eq "$(ls -d /usr/src/ntpk-* /var/lib/dkms/ntpk 2>/dev/null)" "" "DKMS trees left"
	[ ! -e "$UNIT" ] || fail "$UNIT is left"
	assert_eq "$(find /etc -name 'ntpk*' 2>/dev/null)" "" "ntpk files left in /etc"
	# Nothing at all in /etc's upper layer: no file was made there and left.
	assert_eq "$(find "$OVL/etc/u" ! -type d)" "" "files written to /etc and left"
	# In /usr, only depmod's indexes may differ (and the headers this test
	# hid), no file of the packages.
	left=$(find "$OVL/usr/u" ! -type d ! -type c ! -name 'modules.*')
	assert_eq "$left" "" "files written to /usr and left"
	assert_eq "$(grep -rl ntpk /var/lib/systemd/deb-systemd-helper-* 2>/dev/null)" "" \
		"deb-systemd-helper's records of ntpk-follow"
}

ktap_plan 7
run_test "packages_built_at_version_and_next" test_packages
run_test "dpkg_install_dkms_builds_for_booted_kernel" test_install
run_test "installed_not_enabled_not_started_not_loaded" test_installed_idle
run_test "enable_now_serves_a_client" test_enable_serves
run_test "upgrade_while_serving_old_module_answers" test_upgrade_while_serving
run_test "reload_loads_new_module_same_config" test_reload
run_test "purge_leaves_nothing" test_purge
ktap_finish
