# SPDX-License-Identifier: GPL-2.0
#
# ntpk: the kernel module (kmod/), its control tool (userspace/) and tests.
#
#   make            kmod/ntpk.ko and userspace/ntpkctl (W=1 passes through)
#   make deps       install the Debian packages everything needs
#   make check      deps, then scripts/check: a warning-free build (W=1)
#                   against every supported kernel's headers and make deb's
#                   packages (lintian-checked), then side by side: the
#                   guest suite (selftests/run under scripts/vm-run) on
#                   KVER in two guests sharing one list of tests, a subset
#                   of it on the other kernels, the guest smoke test from
#                   checkouts in many places (scripts/check-locations),
#                   bench-smoke, and the host checks (unit tests, the YNL
#                   spec, DKMS for each kernel); prints every job's log, one
#                   KTAP report and a table of the phases' wall times
#   make check-nodeps  the same without deps
#   make check-vm   the guest suite on KVER (VM_TESTS= picks tests); with
#                   ntpk_deb.sh among them, make deb-pkgs first
#   make unit       host unit tests of the NTP packet core and of ntpkctl's
#                   NTP wire helpers (KTAP)
#   make check-spec kmod/ntpk.yaml (the family's YNL spec) against the
#                   kernel's schema and kmod/uapi/linux/ntpk.h, no guest
#   make fuzz       a short libFuzzer run on the packet core
#   make demo       deps, build, then scripts/demo in a guest
#   make demo-soak  the demo N=20 times in a row, fresh guest each time
#   make bench      ntpk against chronyd, ntpd and the floor: bench-icount's
#                   table first, then rate and residence time in real-time
#                   TCG (bench/out/)
#   make bench-icount  instructions per request of each, 3 boots under QEMU
#                   icount (bench/out/icount.md); VIRTIO=1 (make bench too):
#                   also the floor and ntpk behind virtio-net, 3 more boots
#   make bench-rate  rate and residence time alone (bench/out/summary.md)
#   make bench-profile  where one reply's instructions go, under icount
#                   (PROFILE=ntpk; bench/out/profile-icount-ntpk.txt)
#   make bench-smoke  the bench, tiny, and the icount regression gate
#                   (bench/baseline.json), as part of make check
#   make check-debug  the guest suite on a KASAN/lockdep/kmemleak kernel
#   make install    see "install" below (DESTDIR, PREFIX, KVER)
#   make deb        the Debian packages ntpk-dkms and ntpkctl in build/deb,
#                   checked by lintian (scripts/build-deb)
#   make clean      back to the tree as cloned
#
# KVER is the kernel under test, for make, check and demo alike: the module
# is built against its headers (KDIR, /lib/modules/KVER/build) and the
# guests boot it (/boot/vmlinuz-KVER; NTPK_KVER for scripts/vm-run).
#
#   make check KVER=6.12.118+deb12-amd64    make demo KVER=6.1.0-57-amd64
#
# Without KVER: the running kernel when its headers are installed, else the
# newest installed kernel ntpk supports, 6.1 or later with headers and a
# /boot/vmlinuz (scripts/kernels).  KDIR=/path/to/build instead of KVER
# takes the release from that tree.  The choice is printed once.
# check-build and check-deploy build for every supported kernel installed
# (scripts/kernels; make deps installs Debian 12's 6.1 and 6.12), the guest
# suite runs on KVER.  VM_TIMEOUT (seconds) bounds the guest suite.

# KVER_GIVEN: KVER (or NTPK_KVER) came from the command line or the
# environment, not from the default; make install wants to know.
KVER_GIVEN := $(strip $(KVER)$(NTPK_KVER))
ifneq ($(KVER),)
KVER_WHY := KVER=$(KVER)
else ifneq ($(NTPK_KVER),)
KVER := $(NTPK_KVER)
KVER_WHY := NTPK_KVER=$(KVER)
else ifneq ($(KDIR),)
KVER := $(patsubst /lib/modules/%/build,%,$(filter /lib/modules/%/build,$(KDIR:/=)))
ifeq ($(KVER),)
KVER := $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
endif
KVER_WHY := from KDIR=$(KDIR)
else
KVER_CHOICE := $(shell "$(CURDIR)/scripts/kernels" --default)
KVER := $(word 1,$(KVER_CHOICE))
KVER_WHY := $(wordlist 2,100,$(KVER_CHOICE))
endif
ifeq ($(KDIR),)
KDIR := $(if $(KVER),/lib/modules/$(KVER)/build)
endif
NTPK_KVER := $(KVER)
export KVER NTPK_KVER

# Say which kernel once per make check (the sub-makes inherit KVER), and
# not for goals that never touch a kernel.
QUIET_GOALS := deps unit fuzz check-spec userspace guest-deps install \
	uninstall dkms-install dkms-remove clean deb deb-pkgs
ifneq ($(KVER),)
ifeq ($(NTPK_KVER_SHOWN),)
ifneq ($(filter-out $(QUIET_GOALS),$(or $(MAKECMDGOALS),all)),)
$(info ntpk: kernel under test: $(KVER) ($(KVER_WHY)))
endif
export NTPK_KVER_SHOWN := 1
endif
endif

# kbuild cannot build a module whose directory has a space in its path
# (M= is split on it): build through a symlink that has none.
ifneq ($(word 2,$(CURDIR)),)
MDIR := /tmp/ntpk-src-$(shell printf '%s' "$(CURDIR)" | md5sum | cut -c1-12)
$(shell ln -sfn "$(CURDIR)" $(MDIR))
else
MDIR := $(CURDIR)
endif

VM_TIMEOUT ?= 2400
VM_RUN := scripts/vm-run --module kmod/ntpk.ko

all: module userspace

need-kdir:
	@test -n "$(KDIR)" -a -d "$(KDIR)" || { \
		echo "no kernel build tree (KDIR='$(KDIR)'): run 'make deps' or pass KDIR=" >&2; \
		exit 1; }

module: need-kdir
	$(MAKE) -C $(KDIR) M=$(MDIR) $(if $(W),W=$(W)) modules

userspace:
	$(MAKE) -C userspace

# Programs the guest tests run besides the module: ntpkctl and the compiled
# helpers in selftests/.  (scripts/check-debug builds these too.)
guest-deps: userspace
	$(MAKE) -C selftests

deps:
	scripts/deps

unit:
	$(MAKE) -C selftests/unit run

fuzz:
	$(MAKE) -C selftests/unit fuzz

# The module is rebuilt from scratch with W=1 so that every warning shows up
# (kbuild would skip unchanged objects), against every supported kernel's
# headers installed (CHECK_KVERS; make deps installs Debian 12's 6.1 and
# 6.12) and then KVER's, which leaves kmod/ntpk.ko built for the kernel under
# test.  Any "warning:" fails, in the module, ntpkctl or the test helpers
# alike (modpost's "WARNING:" too).  The sub-makes re-read this file, so the
# kernel is found after deps installed the headers.
CHECK_KVERS ?= $(shell "$(CURDIR)/scripts/kernels")

# make check: deps, then scripts/check, which runs every check with the
# guests side by side (NTPK_CHECK_JOBS at once, default 3) and prints each
# job's log, one KTAP report and a table of the phases with their wall
# times.  make check-nodeps is the same without deps (a sub-make, so that
# the kernel is found after deps installed the headers).
check: deps
	@$(MAKE) --no-print-directory check-nodeps

check-nodeps: need-kdir
	@VM_TESTS_KERNELS="$(VM_TESTS_KERNELS)" VM_TIMEOUT="$(VM_TIMEOUT)" \
		scripts/check

check-build: need-kdir
	$(MAKE) -C $(KDIR) M=$(MDIR) clean
	$(MAKE) -C userspace clean
	$(MAKE) -C selftests clean
	@log=$$(mktemp); rc=0; \
	for k in $(filter-out $(KVER),$(CHECK_KVERS)); do \
		echo "check-build: W=1 against $$k"; \
		$(MAKE) -C /lib/modules/$$k/build M=$(MDIR) W=1 modules && \
		$(MAKE) -C /lib/modules/$$k/build M=$(MDIR) clean || { rc=1; break; }; \
	done >$$log 2>&1; \
	[ $$rc -ne 0 ] || { echo "check-build: W=1 against $(KVER)"; \
	  $(MAKE) -C $(KDIR) M=$(MDIR) W=1 modules && \
	  $(MAKE) -C userspace && $(MAKE) -C selftests; } >>$$log 2>&1 || rc=$$?; \
	cat $$log; \
	if [ $$rc -eq 0 ] && grep -qi 'warning:' $$log; then \
		echo "check: the build printed warnings:" >&2; \
		grep -i 'warning:' $$log >&2; rc=1; \
	fi; \
	rm -f $$log; exit $$rc

# The guest suite on KVER, with kmod/ntpk.ko (re)built for it:
#   make check-vm KVER=6.12.118+deb12-amd64 [VM_TESTS="ntpk_vm.sh ..."]
# VM_TESTS picks tests (default: all of them, selftests/run's list).
# ntpk_ntpsrc.sh follows ntpsec's ntpd, unpacked privately (it conflicts
# with chrony): NTPK_NTPD and NTPK_NTPD_LIBS reach the guest.  ntpk_ynl.sh
# drives the module with the kernel's ynl CLI and kmod/ntpk.yaml: NTPK_YNL
# is where scripts/ynl-unpack put tools/net/ynl of linux-source-6.12.
# ntpk_deb.sh installs the Debian packages: make deb-pkgs builds them first
# (make deb, lintian included, and the next version to upgrade to).
# ntpk_virtio.sh wants the guest's virtio-net pairs (vm-run --virtio-pair):
# every guest suite has them, so that it never skips for want of them.
VM_DEB_TEST = $(if $(VM_TESTS),$(filter ntpk_deb.sh,$(VM_TESTS)),all)
# 2 GiB: ntpk_userns.sh sets the largest rate limit table (256 MiB) twice,
# late in the suite.  In 1 GiB, fragmented by then, finding the 2 MiB pages
# that vmalloc prefers (reclaim, compaction) took minutes under emulation:
# a 156 s soft lockup in ntpkctl's netlink call (CI run, 6.12).
check-vm: need-kdir
	$(MAKE) module guest-deps $(if $(VM_DEB_TEST),deb-pkgs)
	eval "$$(scripts/ntpsec-unpack --env)" && \
	ynl=$$(scripts/ynl-unpack) && \
	NTPK_NTPD="$$NTPD" NTPK_NTPD_LIBS="$$NTPD_LD_LIBRARY_PATH" \
	NTPK_YNL="$$ynl" \
	$(VM_RUN) --cpus 2 --mem 2G --timeout $(VM_TIMEOUT) --virtio-pair -- \
		selftests/run $(VM_TESTS)

# The guest suite again on each other kernel ntpk supports that a guest can
# boot (scripts/kernels --bootable: Debian 12's 6.1 or 6.12, whichever KVER
# is not), each with the module built for it; then kmod/ntpk.ko is KVER's
# again.  VM_TESTS_KERNELS picks the tests there; by default the ones that
# touch what differs between kernels (the hook and skb, the NIC driver's
# receive path, generic netlink, namespaces and unload, the kernel's leap
# second), to keep make check near 20 minutes.  ntpk_truth.sh is not among
# them: what it checks is follow's and the module's arithmetic against
# chronyd, through adjtimex and the clock reads both kernels share.
# The whole suite passes there too (VM_TESTS_KERNELS= for all of it).
VM_TESTS_KERNELS ?= ntpk_smoke.sh ntpk_fastpath.sh ntpk_badinput.sh \
	ntpk_ctl.sh ntpk_ynl.sh ntpk_lifecycle.sh ntpk_leap.sh \
	ntpk_rxstamp.sh ntpk_virtio.sh
check-vm-kernels:
	@for k in $(filter-out $(KVER),$(shell "$(CURDIR)/scripts/kernels" --bootable)); do \
		echo "check-vm-kernels: the guest suite on $$k"; \
		$(MAKE) check-vm KVER=$$k KDIR=/lib/modules/$$k/build \
			VM_TESTS="$(VM_TESTS_KERNELS)" || rc=1; \
	done; \
	$(MAKE) module && exit $${rc:-0}

demo: deps
	$(MAKE) all guest-deps
	$(VM_RUN) -- scripts/demo

# The demo N times in a row, each in a fresh guest (scripts/demo-soak).
N ?= 20
demo-soak: deps
	$(MAKE) all guest-deps
	scripts/demo-soak $(N)

# debian/...: what a dpkg-buildpackage in the tree itself leaves (make deb
# builds in a copy, in build/deb).
clean:
	@if [ -n "$(KDIR)" ] && [ -d "$(KDIR)" ]; then \
		$(MAKE) -C $(KDIR) M=$(MDIR) clean; \
	else \
		rm -f Module.symvers modules.order kmod/*.o kmod/*.ko \
		kmod/*.mod kmod/*.mod.c kmod/.*.cmd kmod/modules.order \
		kmod/Module.symvers .*.cmd; \
	fi
	$(MAKE) -C userspace clean
	$(MAKE) -C selftests clean
	$(MAKE) -C selftests/unit clean
	rm -rf bench/out build
	rm -rf debian/.debhelper debian/ntpk-dkms debian/ntpkctl debian/tmp \
		debian/files debian/changelog debian/*.substvars \
		debian/*.debhelper debian/*.debhelper.log \
		debian/debhelper-build-stamp

.PHONY: all need-kdir module userspace guest-deps deps unit fuzz check \
	check-nodeps \
	check-build check-vm check-vm-kernels check-deploy check-debug check-spec \
	check-locations bench \
	bench-smoke bench-icount bench-rate bench-profile demo demo-soak \
	clean install uninstall dkms-install dkms-remove deb deb-pkgs

check-deploy:
	scripts/check-deploy

# kmod/ntpk.yaml without a guest: valid against the kernel's
# genetlink-legacy schema (and a broken copy refused), and the uAPI
# header ynl-gen-c renders from it the same, name and value, as
# kmod/uapi/linux/ntpk.h.  selftests/ntpk_ynl.sh proves it on the module.
check-spec:
	scripts/check-spec

check-locations:
	scripts/check-locations

bench: bench-icount bench-rate

bench-icount:
	bench/run --icount $(if $(VIRTIO),--virtio)

bench-rate:
	bench/run

# bench-profile: where one reply's instructions go, under icount
# (PROFILE=ntpk,ntpk-rl,...; default ntpk): bench/out/profile-icount-*.txt
bench-profile:
	bench/run --icount --profile $(or $(PROFILE),ntpk)

# bench-smoke: the full bench's machinery on tiny loads, then the one
# performance assertion of make check: ntpk's instructions per request under
# QEMU icount against bench/baseline.json (bench/run --gate; deterministic,
# so it cannot be noise).
bench-smoke:
	bench/run --smoke
	bench/run --gate

check-debug: deps
	scripts/check-debug

# ---- install (issue 8) ----
#
#   make install      kmod/ntpk.ko to /lib/modules/KVER/updates (+ depmod),
#                     userspace/: ntpkctl to PREFIX/sbin, ntpkctl(8), the
#                     ntpk-follow.service unit, ntpk.conf.example, and
#                     /etc/ntpk.conf unless it exists
#   make uninstall    the reverse (keeps an /etc/ntpk.conf that was edited)
#   make dkms-install the module's sources to /usr/src/ntpk-VERSION, then
#                     dkms add + install (DKMS rebuilds it for new kernels)
#   make dkms-remove  dkms remove --all, and the sources
#
# DESTDIR stages everything under a root (no depmod, no dkms commands: with
# DESTDIR, dkms-install only stages /usr/src/ntpk-VERSION, for packaging:
# debian/rules does that).  PREFIX defaults to /usr/local.  VERSION comes
# from the VERSION file, the one place it is written: the staged dkms.conf
# gets it for its #MODULE_VERSION# (as dh_dkms -V does), the module's
# MODULE_VERSION and ntpkctl --version read the file.
#
# KVER here: install and uninstall use KVER when it is given, else the
# release the built kmod/ntpk.ko is for (its vermagic), else the kernel
# under test.  dkms-install builds and installs for KVER when it is given,
# else for every installed kernel ntpk supports (scripts/kernels); DKMS
# then builds it for each kernel installed later (AUTOINSTALL).
PREFIX ?= /usr/local
NTPK_VERSION := $(shell cat VERSION)
INSTALL_KVER = $(if $(KVER_GIVEN),$(KVER),$(or $(shell modinfo -F vermagic kmod/ntpk.ko 2>/dev/null | cut -d' ' -f1),$(KVER)))
DKMS_KVERS = $(if $(KVER_GIVEN),$(KVER),$(shell "$(CURDIR)/scripts/kernels"))
DKMS_SRC = $(DESTDIR)/usr/src/ntpk-$(NTPK_VERSION)
# What DKMS builds from: the Kbuild files, the module's sources and headers,
# the uapi header and VERSION; not kbuild's generated *.mod.c.  dkms.conf is
# staged apart, with its version filled in.
DKMS_FILES = VERSION Kbuild kmod/Kbuild kmod/uapi/linux/ntpk.h \
	$(filter-out %.mod.c,$(wildcard kmod/*.c)) $(wildcard kmod/*.h)

install:
	@test -f kmod/ntpk.ko || { echo "install: no kmod/ntpk.ko: run make first" >&2; exit 1; }
	install -D -m 0644 kmod/ntpk.ko $(DESTDIR)/lib/modules/$(INSTALL_KVER)/updates/ntpk.ko
	$(if $(DESTDIR),,depmod -a $(INSTALL_KVER))
	$(MAKE) -C userspace install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

uninstall:
	rm -f $(DESTDIR)/lib/modules/$(INSTALL_KVER)/updates/ntpk.ko
	$(if $(DESTDIR),,depmod -a $(INSTALL_KVER))
	$(MAKE) -C userspace uninstall PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

dkms-install:
ifeq ($(DESTDIR),)
	@test -n "$(DKMS_KVERS)" || { \
		echo "dkms-install: no kernel headers to build against: run make deps" >&2; \
		exit 1; }
	@for k in $(DKMS_KVERS); do \
		if [ -e /lib/modules/$$k/updates/ntpk.ko ]; then \
			echo "dkms-install: make uninstall KVER=$$k first (/lib/modules/$$k/updates/ntpk.ko)" >&2; \
			exit 1; \
		fi; \
	done
endif
ifeq ($(DESTDIR),)
	if [ -n "$$(dkms status -m ntpk -v $(NTPK_VERSION))" ]; then \
		dkms remove -m ntpk -v $(NTPK_VERSION) --all; \
	fi
endif
	rm -rf $(DKMS_SRC)
	for f in $(DKMS_FILES); do \
		install -D -m 0644 $$f $(DKMS_SRC)/$$f || exit 1; \
	done
	sed 's/#MODULE_VERSION#/$(NTPK_VERSION)/' dkms.conf >$(DKMS_SRC)/dkms.conf
	chmod 0644 $(DKMS_SRC)/dkms.conf
ifeq ($(DESTDIR),)
	dkms add -m ntpk -v $(NTPK_VERSION)
	for k in $(DKMS_KVERS); do \
		dkms install -m ntpk -v $(NTPK_VERSION) -k $$k || exit 1; \
	done
endif

dkms-remove:
ifeq ($(DESTDIR),)
	if [ -n "$$(dkms status -m ntpk -v $(NTPK_VERSION))" ]; then \
		dkms remove -m ntpk -v $(NTPK_VERSION) --all; \
	fi
endif
	rm -rf $(DKMS_SRC)

# ---- Debian packages (issue 17) ----
#
#   make deb   build/deb/ntpk-dkms_VERSION_all.deb and ntpkctl_VERSION_ARCH.deb
#              (with the native source package), built by debhelper from
#              debian/ in a copy of the tree, then lintian --profile debian:
#              an error or a warning without an override fails.
deb:
	scripts/build-deb

# What selftests/ntpk_deb.sh installs: make deb's packages, and the same
# tree built as the next version (VERSION+next) in build/deb-next, which it
# upgrades to.  check-vm builds them when its tests include ntpk_deb.sh.
DEB_NEXT_VERSION = $(NTPK_VERSION)+next
deb-pkgs: deb
	scripts/build-deb --version $(DEB_NEXT_VERSION) --out build/deb-next --no-lintian

