#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# settings: timeout=400
# (TCG on a busy host is slow; on an idle one this takes a third of that)
#
# The fail-safe promise (issue 5, item 5): whatever ntpk does not answer,
# chronyd answers.  A mixed workload, over IPv4 and IPv6, from a socket of
# its own per request:
#
#   valid             plain 48-byte mode 3 requests
#   mode6             NTP control queries (READSTAT, 12 bytes: pass_short)
#   auth              mode 3 + MD5 MAC with a key chronyd has (48 + 20)
#   auth_unknown_key  mode 3 + MD5 MAC with a key it has not
#   nts               mode 3 + NTS-shaped extension fields (unique id,
#                     cookie, authenticator)
#   ext_unknown       mode 3 + a 28-byte extension field of an unassigned
#                     type (RFC 7822)
#
# is sent three times: to chronyd alone (ntpk disabled), which gives what
# chronyd answers; with ntpk enabled and fresh state; and with the state
# too old.  Who answered is told by the stratum (ntpk's pushed state says
# 2, chronyd is a local stratum 5).  Nothing may be lost: each request gets
# exactly as many answers as it got from chronyd alone (one or none), from
# ntpk for fresh valid requests and from chronyd for everything else, and
# the counters of both (ntpk's, chronyd's serverstats) account for every
# request.

. "$(dirname "$0")/lib.sh"

CRAFT=$NTPK_SELFTESTS/ntpk_craft.py
S4=10.93.0.1 C4=10.93.0.2 S6=fd00:93::1 C6=fd00:93::2
KEY=0123456789abcdef0123456789abcdef
KINDS=valid,mode6,auth,auth_unknown_key,nts,ext_unknown
PER=10		# requests per kind and family
STATE_WORDS="leap 0 stratum 2 precision -20 refid 192.0.2.7
	rootdelay 0.015625 rootdisp 0.0078125 reftime 0xe9a0c3b412345678"

require_cmd ip chronyd chronyc dmesg "$PY" ntpkctl

echo "ntpk_failsafe: start" >/dev/kmsg
ntpk_load
ns_create SRV CLI
for ns in "$SRV" "$CLI"; do
	n "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
done
veth_pair "$SRV" sv "$CLI" cv
n "$SRV" ip addr add $S4/24 dev sv
n "$SRV" ip addr add $S6/64 dev sv nodad
n "$CLI" ip addr add $C4/24 dev cv
n "$CLI" ip addr add $C6/64 dev cv nodad
echo "1 MD5 HEX:$KEY" >"$TMP/chrony.keys"
chronyd_server "$SRV" 5 "keyfile $TMP/chrony.keys"

ktap_plan 9

counters()
{
	n "$SRV" ntpkctl stats | tr -d :
}

counters_delta()	# BEFORE-FILE: "name +delta" for every change
{
	counters | awk 'NR == FNR { a[$1] = $2; next }
		$2 != a[$1] { printf "%s +%d\n", $1, $2 - a[$1] }' "$1" -
}

chronyd_received()
{
	chronyc_in "$SRV" serverstats |
		awk -F': *' '/^NTP packets received/ { print $2 }'
}

# One round of the workload: $TMP/PHASE.json (per kind/family: sent,
# answered, answers, by stratum), $TMP/PHASE.ntpk (counter deltas) and
# $TMP/PHASE.chronyd (NTP packets chronyd received).
workload()	# PHASE
{
	local recv0

	counters >"$TMP/$1.before"
	recv0=$(chronyd_received)
	n "$CLI" "$PY" "$CRAFT" mixed --srv4 $S4 --srv6 $S6 --kinds $KINDS \
		-n $PER --wait 3 --md5-key $KEY --key-id 1 >"$TMP/$1.json"
	counters_delta "$TMP/$1.before" >"$TMP/$1.ntpk"
	echo $(($(chronyd_received) - recv0)) >"$TMP/$1.chronyd"
	echo "# $1: ntpk $(tr '\n' ' ' <"$TMP/$1.ntpk")chronyd received $(cat "$TMP/$1.chronyd")"
	"$PY" -c '
import json, sys
for k, v in sorted(json.load(open(sys.argv[1])).items()):
	print("# %s %s: sent %d answered %d answers %d by stratum %s" % (
		sys.argv[2], k, v["sent"], v["answered"], v["answers"],
		v["by_stratum"]))' "$TMP/$1.json" "$1"
}

# Checks one phase against the chronyd-alone baseline.  MODE: ntpk (fresh
# state: ntpk answers the valid requests) or chronyd (stale: chronyd does).
check_phase()	# PHASE MODE
{
	"$PY" - "$TMP/baseline.json" "$TMP/$1.json" "$2" "$PER" <<'EOF'
import json, sys
base = json.load(open(sys.argv[1]))
got = json.load(open(sys.argv[2]))
mode, per = sys.argv[3], int(sys.argv[4])
ok = True
for k, b in sorted(base.items()):
	g = got.get(k)
	want = dict(b)
	if k.startswith('valid/') and mode == 'ntpk':
		want['by_stratum'] = {'2': b['answers']}
	for f in ('sent', 'answered', 'answers', 'dup', 'bad_origin',
		  'by_stratum'):
		if g is None or g[f] != want[f]:
			print('# %s %s: %s %s, want %s' % (sys.argv[2], k, f,
				g and g[f], want[f]))
			ok = False
sys.exit(not ok)
EOF
}

# Every request of the round went through ntpk's hook, and every one ntpk
# did not answer reached chronyd: exact counts per ntpk outcome, and
# chronyd's count of NTP packets received is what it was alone (it does not
# count the 12-byte mode 6 queries), less the valid requests ntpk answered.
check_counters()	# PHASE MODE
{
	local valid=$((2 * PER)) other=$((8 * PER)) want alone

	alone=$(cat "$TMP/baseline.chronyd")
	if [ "$2" = ntpk ]; then
		want="requests +$((12 * PER))
replies +$valid
pass_short +$valid
pass_extensions +$other"
		[ "$(cat "$TMP/$1.chronyd")" = $((alone - valid)) ]
	else
		want="requests +$((12 * PER))
pass_short +$valid
pass_extensions +$other
pass_no_state +$valid"
		[ "$(cat "$TMP/$1.chronyd")" = "$alone" ]
	fi
	[ "$(cat "$TMP/$1.ntpk")" = "$want" ]
}

# --- chronyd alone -----------------------------------------------------------------

n "$SRV" ntpkctl set disable
workload baseline
baseline_sane()
{
	"$PY" - "$TMP/baseline.json" "$PER" <<'EOF'
import json, sys
b = json.load(open(sys.argv[1]))
per = int(sys.argv[2])
ok = True
for k, v in b.items():
	# All or nothing per kind, never twice, always our origin.
	ok &= v['sent'] == per and v['answered'] in (0, per) and \
		v['dup'] == 0 and v['bad_origin'] == 0
	# chronyd answers plain, authenticated and unknown-extension
	# requests, as stratum 5 (not mode 6, unknown keys or NTS without
	# NTS keys: those get nothing, with or without ntpk).
	if k.split('/')[0] in ('valid', 'auth', 'ext_unknown'):
		ok &= v['answered'] == per and v['by_stratum'] == {'5': per}
sys.exit(not ok)
EOF
	# ntpk saw nothing: its hooks are not registered.
	[ "$(cat "$TMP/baseline.ntpk")" = "" ]
	# chronyd counts all but the mode 6 queries.
	[ "$(cat "$TMP/baseline.chronyd")" = $((10 * PER)) ]
}
ktap_test "baseline_chronyd_alone" baseline_sane

# --- ntpk with fresh state -------------------------------------------------------------

n "$SRV" ntpkctl set enable max-age 3600
# shellcheck disable=SC2086
n "$SRV" ntpkctl state set $STATE_WORDS
workload fresh
ktap_test "fresh_nothing_lost_ntpk_answers_valid" check_phase fresh ntpk
ktap_test "fresh_counters_account_for_every_request" check_counters fresh ntpk

# --- ntpk with stale state ----------------------------------------------------------------

n "$SRV" ntpkctl set max-age 1
# shellcheck disable=SC2086
n "$SRV" ntpkctl state set $STATE_WORDS
wait_until 20 eval 'n "$SRV" ntpkctl -j show | grep -q "\"usable\":false"'
workload stale
ktap_test "stale_nothing_lost_chronyd_answers_all" check_phase stale chronyd
ktap_test "stale_counters_account_for_every_request" check_counters stale chronyd

# --- and unsynchronised (leap 3) -------------------------------------------------------------

n "$SRV" ntpkctl set max-age 3600
# shellcheck disable=SC2086
n "$SRV" ntpkctl state set ${STATE_WORDS/leap 0/leap 3}
workload unsync
ktap_test "unsync_nothing_lost_chronyd_answers_all" check_phase unsync chronyd
ktap_test "unsync_counters_account_for_every_request" check_counters unsync chronyd

# Authenticated answers come from chronyd with their MAC.
auth_answers_authenticated()
{
	"$PY" -c '
import json, sys
for ph in sys.argv[1:]:
	r = json.load(open(ph))
	for k in ("auth/v4", "auth/v6"):
		if r[k]["lens"] != {"68": r[k]["sent"]}:
			print("# %s %s: answer lengths %s" % (ph, k, r[k]["lens"]))
			sys.exit(1)' "$TMP/fresh.json" "$TMP/stale.json" "$TMP/unsync.json"
}
ktap_test "auth_answers_carry_a_mac" auth_answers_authenticated

dmesg_clean()
{
	! dmesg | sed -n '/ntpk_failsafe: start/,$p' |
		grep -E 'WARNING|BUG|Oops|general protection|rcu.*stall|KASAN|UBSAN|refcount_t|list_(add|del) corruption' ||
		false
}
ktap_test "dmesg_clean" dmesg_clean
ktap_finish
