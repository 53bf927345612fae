#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=600
#
# ntpk_anycast.sh with FRR on the router instead of BIRD: the guide's
# frr-router block (docs/operator.md) merges the same four nodes, BIRD and
# FRR, into one multipath route, and every phase and figure is the same.

NTPK_ANYCAST_ROUTER=frr
. "$(dirname "$0")/ntpk_anycast.sh"
