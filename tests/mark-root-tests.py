#!/usr/bin/env python3
"""Lists (or with `apply`, marks) the #[test] functions of tests/*.rs that need
root but lack #[cfg_attr(husk_not_root, ignore = "needs root")]: a test needs
root when its body calls require_root()/is_root(), directly or through helpers
of the same file. Usage: tests/mark-root-tests.py REPO [apply]. .ci/run fails when it lists any."""
import re, sys, glob
ATTR = '#[cfg_attr(husk_not_root, ignore = "needs root")]'
repo = sys.argv[1]
apply = len(sys.argv) > 2 and sys.argv[2] == 'apply'
for path in sorted(glob.glob(repo + '/tests/*.rs')):
    lines = open(path).read().split('\n')
    fns, order = {}, []
    for i, l in enumerate(lines):
        m = re.match(r'^(\s*)(pub(\(crate\))? )?fn (\w+)', l)
        if m:
            j = i
            while j < len(lines) and not re.match('^' + m.group(1) + r'\}\s*$', lines[j]):
                j += 1
            fns.setdefault(m.group(4), []).append((i, j))
            order.append((m.group(4), i))
    body = {n: '\n'.join('\n'.join(lines[a+1:b+1]) for a, b in v) for n, v in fns.items()}
    root = {n for n, b in body.items() if 'require_root()' in b or re.search(r'\bis_root\(\)', b)}
    changed = True
    while changed:
        changed = False
        for n, b in body.items():
            if n not in root and any(re.search(r'\b' + r + r'\s*\(', b) for r in root):
                root.add(n); changed = True
    todo = []
    for name, a in order:
        k, attrs = a - 1, []
        while k >= 0 and lines[k].strip().startswith(('#[', '///')):
            attrs.append(lines[k].strip()); k -= 1
        if '#[test]' in attrs and name in root and ATTR not in attrs:
            todo.append((name, a))
    for name, a in todo:
        print(f'{path}: {name} needs root, not marked')
    if apply:
        for name, a in sorted(todo, key=lambda t: -t[1]):
            lines.insert(a, re.match(r'^(\s*)', lines[a]).group(1) + ATTR)
        open(path, 'w').write('\n'.join(lines))
