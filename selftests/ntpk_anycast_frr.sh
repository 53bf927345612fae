#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=600
#
# ntpk_anycast.sh with FRR on the router instead of BIRD: the guide's
# frr-router block (docs/operator.md) merges the same four nodes, BIRD and
# FRR, into one multipath route, and every phase where the route changes,
# with its figures, is the same.  The phases where only the nodes act (the
# upstream step and the leap second, which keep every route as it is) run
# in ntpk_anycast.sh alone: the nodes are the same here.

NTPK_ANYCAST_ROUTER=frr
NTPK_ANYCAST_NODE_PHASES=0
. "$(dirname "$0")/ntpk_anycast.sh"
