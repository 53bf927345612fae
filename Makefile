# SPDX-License-Identifier: GPL-2.0
#
# ntpk: the kernel module (kmod/), its control tool (userspace/) and tests.
#
#   make            kmod/ntpk.ko and userspace/ntpkctl (W=1 passes through)
#   make deps       install the Debian packages everything needs
#   make check      deps, warning-free build (W=1), host unit tests, the DKMS
#                   build, the guest smoke test from checkouts in many places
#                   (scripts/check-locations), the guest suite (selftests/run
#                   under scripts/vm-run), bench-smoke; prints its wall time
#   make unit       host unit tests of the NTP packet core and of ntpkctl's
#                   NTP wire helpers (KTAP)
#   make fuzz       a short libFuzzer run on the packet core
#   make demo       deps, build, then scripts/demo in a guest
#   make demo-soak  the demo N=20 times in a row, fresh guest each time
#   make bench      ntpk against chronyd, ntpd and the floor (bench/out/)
#   make bench-smoke  the same, tiny, as part of make check
#   make check-debug  the guest suite on a KASAN/lockdep/kmemleak kernel
#   make install    see "install" below (DESTDIR, PREFIX, KVER)
#   make clean      back to the tree as cloned
#
# KDIR is the kernel build tree: the running kernel's if its headers are
# installed, else the newest /lib/modules/V/build with a /boot/vmlinuz-V.
# The guests boot that same kernel: its release goes to scripts/vm-run as
# NTPK_KVER.  VM_TIMEOUT (seconds) bounds the guest suite.

ifeq ($(KDIR),)
KDIR := $(shell \
	d=/lib/modules/$$(uname -r)/build; \
	if [ -d "$$d" ]; then echo "$$d"; exit; fi; \
	for v in $$(ls /lib/modules 2>/dev/null | sort -rV); do \
		if [ -d /lib/modules/$$v/build ] && [ -e /boot/vmlinuz-$$v ]; then \
			echo /lib/modules/$$v/build; exit; \
		fi; \
	done)
endif

ifeq ($(NTPK_KVER),)
NTPK_KVER := $(patsubst /lib/modules/%/build,%,$(filter /lib/modules/%/build,$(KDIR:/=)))
ifeq ($(NTPK_KVER),)
NTPK_KVER := $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
endif
endif
export NTPK_KVER

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
# (kbuild would skip unchanged objects); any "warning:" fails, in the module,
# ntpkctl or the test helpers alike (modpost's "WARNING:" too).  The
# sub-makes re-read this file, so KDIR is found after deps installed the
# headers.
check: deps
	@t0=$$(date +%s); rc=0; \
	{ $(MAKE) check-build && $(MAKE) unit && $(MAKE) check-deploy && \
	  $(MAKE) check-locations && $(MAKE) check-vm && \
	  $(MAKE) bench-smoke; } || rc=$$?; \
	t=$$(($$(date +%s) - t0)); \
	echo "make check: $$([ $$rc -eq 0 ] && echo passed || echo FAILED)" \
		"in $$((t / 60)) min $$((t % 60)) s (wall time, after deps)"; \
	exit $$rc

check-build: need-kdir
	$(MAKE) -C $(KDIR) M=$(MDIR) clean
	$(MAKE) -C userspace clean
	$(MAKE) -C selftests clean
	@log=$$(mktemp); rc=0; \
	{ $(MAKE) -C $(KDIR) M=$(MDIR) W=1 modules && \
	  $(MAKE) -C userspace && $(MAKE) -C selftests; } >$$log 2>&1 || rc=$$?; \
	cat $$log; \
	if [ $$rc -eq 0 ] && grep -qi 'warning:' $$log; then \
		echo "check: the build printed warnings:" >&2; \
		grep -i 'warning:' $$log >&2; rc=1; \
	fi; \
	rm -f $$log; exit $$rc

check-vm:
	$(VM_RUN) --cpus 2 --timeout $(VM_TIMEOUT) -- selftests/run

demo: deps
	$(MAKE) all guest-deps
	$(VM_RUN) -- scripts/demo

# The demo N times in a row, each in a fresh guest (scripts/demo-soak).
N ?= 20
demo-soak: deps
	$(MAKE) all guest-deps
	scripts/demo-soak $(N)

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
	rm -rf bench/out

.PHONY: all need-kdir module userspace guest-deps deps unit fuzz check \
	check-build check-vm check-deploy check-debug check-locations bench \
	bench-smoke demo demo-soak \
	clean install uninstall dkms-install dkms-remove

check-deploy:
	scripts/check-deploy

check-locations:
	scripts/check-locations

bench:
	bench/run

bench-smoke:
	bench/run --smoke

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
# DESTDIR, dkms-install only stages /usr/src/ntpk-VERSION, for packaging).
# PREFIX defaults to /usr/local.  KVER is the release the built module is
# for (its vermagic), else the running kernel's.  VERSION comes from
# dkms.conf.
PREFIX ?= /usr/local
NTPK_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' dkms.conf)
KVER ?= $(or $(shell modinfo -F vermagic kmod/ntpk.ko 2>/dev/null | cut -d' ' -f1),$(shell uname -r))
DKMS_SRC = $(DESTDIR)/usr/src/ntpk-$(NTPK_VERSION)
# What DKMS builds from: the Kbuild files, the module's sources and headers
# and the uapi header; not kbuild's generated *.mod.c.
DKMS_FILES = dkms.conf Kbuild kmod/Kbuild kmod/uapi/linux/ntpk.h \
	$(filter-out %.mod.c,$(wildcard kmod/*.c)) $(wildcard kmod/*.h)

install:
	@test -f kmod/ntpk.ko || { echo "install: no kmod/ntpk.ko: run make first" >&2; exit 1; }
	install -D -m 0644 kmod/ntpk.ko $(DESTDIR)/lib/modules/$(KVER)/updates/ntpk.ko
	$(if $(DESTDIR),,depmod -a $(KVER))
	$(MAKE) -C userspace install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

uninstall:
	rm -f $(DESTDIR)/lib/modules/$(KVER)/updates/ntpk.ko
	$(if $(DESTDIR),,depmod -a $(KVER))
	$(MAKE) -C userspace uninstall PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

dkms-install:
	@if [ -z "$(DESTDIR)" ] && [ -e /lib/modules/$(KVER)/updates/ntpk.ko ]; then \
		echo "dkms-install: make uninstall first (/lib/modules/$(KVER)/updates/ntpk.ko)" >&2; \
		exit 1; \
	fi
ifeq ($(DESTDIR),)
	if [ -n "$$(dkms status -m ntpk -v $(NTPK_VERSION))" ]; then \
		dkms remove -m ntpk -v $(NTPK_VERSION) --all; \
	fi
endif
	rm -rf $(DKMS_SRC)
	for f in $(DKMS_FILES); do \
		install -D -m 0644 $$f $(DKMS_SRC)/$$f || exit 1; \
	done
ifeq ($(DESTDIR),)
	dkms add -m ntpk -v $(NTPK_VERSION)
	dkms install -m ntpk -v $(NTPK_VERSION) -k $(KVER)
endif

dkms-remove:
ifeq ($(DESTDIR),)
	if [ -n "$$(dkms status -m ntpk -v $(NTPK_VERSION))" ]; then \
		dkms remove -m ntpk -v $(NTPK_VERSION) --all; \
	fi
endif
	rm -rf $(DKMS_SRC)


