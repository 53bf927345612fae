#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""kmod/ntpk.yaml against what the loaded module tells nlctrl about itself.

    ntpk_ynl_policy.py YNL-ROOT SPEC

With the kernel's ynl library (YNL-ROOT/tools/net/ynl/lib) and its nlctrl
spec: getfamily gives the version, maxattr and every operation's flags
(do, dump, admin-perm, uns-admin-perm), getpolicy every attribute the
policies accept, with its type and bounds, nest by nest.  Each must be
what the spec says: the same operations with the same flags, and in each
attribute set reachable from the global policy the same attributes with
the same type, min and max (or exact length).  An attribute of the spec
that the policy does not show must be unused, pad or documented as
"Read-only" (the module rejects those, NLA_REJECT), or be listed in
EXPECTED below, each with its reason; an entry there that no longer
differs fails too, so that the list is kept true.

Prints "# " lines; exits 0 when everything matches, 1 otherwise.
"""
import os
import re
import sys

# (attribute set, attribute): why the kernel's policy differs from the spec.
EXPECTED = {
    ('ntpk', 'reason'):
        'the policy takes any u32; the handler refuses all but cleared .. '
        'follow-stopped (-EINVAL), which the spec states as its checks',
    ('state', 'refid'):
        'NLA_BE32: the kernel\'s policy dump leaves NLA_BE16/32 attributes '
        'out (net/netlink/policy.c), as if rejected',
}

BITS = {'u8': 8, 'u16': 16, 'u32': 32, 'u64': 64, 's8': 8, 's64': 64}

problems = []


def problem(msg):
    problems.append(msg)
    print(f'# MISMATCH: {msg}')


def limit(fam, v):
    """A check's value: a number or the name of a const."""
    if isinstance(v, int):
        return v
    return fam.consts[v]['value']


def expected(fam, attr):
    """What getpolicy shows for a spec attribute, in ynl's nlctrl names."""
    t = attr['type']
    checks = attr.get('checks', {})
    if t == 'binary' and attr.get('struct') == 's8':
        # An NLA_S8 in the kernel; its range is stated in the doc.
        m = re.search(r'(-?\d+) \.\. (-?\d+)', attr.yaml.get('doc', ''))
        if not m:
            return {'type': 's8', 'error': 'no "LO .. HI" range in its doc'}
        return {'type': 's8', 'min-value-s': int(m.group(1)),
                'max-value-s': int(m.group(2))}
    if t in BITS:
        bits = BITS[t]
        if t[0] == 's':
            return {'type': t,
                    'min-value-s': limit(fam, checks.get('min',
                                                         -(1 << bits - 1))),
                    'max-value-s': limit(fam, checks.get('max',
                                                         (1 << bits - 1) - 1))}
        return {'type': t,
                'min-value-u': limit(fam, checks.get('min', 0)),
                'max-value-u': limit(fam, checks.get('max', (1 << bits) - 1))}
    if t == 'binary':
        e = {'type': 'binary'}
        if 'exact-len' in checks:
            e['min-length'] = e['max-length'] = limit(fam, checks['exact-len'])
        return e
    if t == 'nest':
        nested = fam.attr_sets[attr['nested-attributes']]
        return {'type': 'nested',
                'policy-maxtype': max(a.value for a in nested.attrs.values())}
    return {'type': t}


def walk(fam, policies, idx, set_name, seen):
    if idx in seen:
        return 0
    seen.add(idx)
    aset = fam.attr_sets[set_name]
    pol = policies.get(idx, {})
    n = 0
    for aid, got in sorted(pol.items()):
        attr = aset.attrs_by_val.get(aid)
        if attr is None:
            problem(f'{set_name}: the kernel accepts attribute {aid}, '
                    f'the spec has none')
            continue
        n += 1
        want = expected(fam, attr)
        have = {k: v for k, v in got.items()
                if k not in ('policy-idx', 'attr-id', 'policy-id')}
        key = (set_name, attr.name)
        if want != have:
            if key in EXPECTED:
                print(f'# expected: {set_name}.{attr.name}: kernel {have}, '
                      f'spec {want}: {EXPECTED[key]}')
                EXPECTED.pop(key)
            else:
                problem(f'{set_name}.{attr.name} (attribute {aid}): '
                        f'kernel {have}, spec {want}')
        if attr['type'] == 'nest' and 'policy-idx' in got:
            n += walk(fam, policies, got['policy-idx'],
                      attr['nested-attributes'], seen)
    for attr in aset.attrs.values():
        if attr.value in pol or attr['type'] in ('unused', 'pad'):
            continue
        key = (set_name, attr.name)
        if key in EXPECTED:
            print(f'# expected: {set_name}.{attr.name} not in the policy '
                  f'dump: {EXPECTED[key]}')
            EXPECTED.pop(key)
        elif not attr.yaml.get('doc', '').startswith('Read-only'):
            problem(f'{set_name}.{attr.name}: not in the kernel\'s policy '
                    f'(rejected) but not "Read-only" in the spec')
    return n


def main():
    root, spec = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(root, 'tools/net/ynl'))
    from lib import SpecFamily, YnlFamily

    # The CLI runs validate both specs against the schema; no need here.
    fam = SpecFamily(spec, '')
    ctrl = YnlFamily(os.path.join(root,
                                  'Documentation/netlink/specs/nlctrl.yaml'),
                     '')
    info = ctrl.do('getfamily', {'family-name': fam['name']})
    dump = ctrl.dump('getpolicy', {'family-name': fam['name']})

    if info['version'] != fam.yaml.get('version', 1):
        problem(f'version: kernel {info["version"]}, spec '
                f'{fam.yaml.get("version", 1)}')
    top = fam.attr_sets[fam['name']]
    maxattr = max(a.value for a in top.attrs.values())
    if info['maxattr'] != maxattr:
        problem(f'maxattr: kernel {info["maxattr"]}, spec {maxattr}')

    kops = {}
    for item in info['ops']:
        for op in item.values():
            kops[op['id']] = set(op['flags'])
    sops = {op.req_value: op for op in fam.ops.values()}
    for oid in sorted(set(kops) | set(sops)):
        if oid not in sops or oid not in kops:
            problem(f'operation {oid}: only in the '
                    f'{"kernel" if oid in kops else "spec"}')
            continue
        op = sops[oid]
        want = set(op.yaml.get('flags', []))
        want |= {'cmd-cap-' + m for m in ('do', 'dump') if m in op.yaml}
        have = kops[oid] - {'cmd-cap-haspol'}
        if want != have:
            problem(f'operation {op.name} ({oid}): kernel {sorted(have)}, '
                    f'spec {sorted(want)}')

    roots = set()
    policies = {}
    for msg in dump:
        if 'op-policy' in msg:
            p = msg['op-policy']
            roots |= {p[m] for m in ('do', 'dump') if m in p}
        elif 'policy' in msg:
            p = msg['policy']
            policies.setdefault(p['policy-id'], {})[p['attr-id']] = p
    if fam.yaml.get('kernel-policy') == 'global' and len(roots) != 1:
        problem(f'kernel-policy global, but the operations use policies '
                f'{sorted(roots)}')
    n = 0
    seen = set()
    for idx in sorted(roots):
        n += walk(fam, policies, idx, fam['name'], seen)
    for key, why in EXPECTED.items():
        problem(f'{key[0]}.{key[1]} is listed as differing ({why}), '
                f'but does not: drop it from EXPECTED')

    print(f'# {len(kops)} operations, {n} attributes in {len(seen)} '
          f'policies checked, {len(problems)} mismatches')
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
