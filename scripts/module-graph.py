#!/usr/bin/env python3
"""Prints the graph of the top-level modules of src/ and fails when it has a cycle.

An edge A -> B is any `crate::B` path in a file of module A, outside comments and outside the
unit tests at the end of a file. `src/main.rs` and `src/bin/` are not modules of the library.
Usage: scripts/module-graph.py [SRC]
"""

import collections
import os
import re
import sys


def module_of(root, path):
    rel = os.path.relpath(path, root)
    if rel in ("main.rs", "lib.rs") or rel.startswith("bin" + os.sep):
        return None
    first = rel.split(os.sep)[0]
    return first[: -len(".rs")] if first.endswith(".rs") else first


def imports(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.split(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)[0]
    names = set(re.findall(r"\bcrate::([a-z_]+)", text))
    for group in re.findall(r"\bcrate::\{([^}]*)\}", text):
        names.update(re.findall(r"(?:^|,)\s*([a-z_]+)", group))
    return names


def graph(root):
    edges = collections.defaultdict(set)
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            module = module_of(root, path)
            if module is None or not name.endswith(".rs"):
                continue
            with open(path, encoding="utf-8") as file:
                edges[module].update(imports(file.read()) - {module})
    return edges


def cycles(edges, modules):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in modules:
        if v not in index:
            visit(v)
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "src"
    edges = graph(root)
    modules = sorted(set(edges) | {m for targets in edges.values() for m in targets})
    for module in modules:
        print(f"{module} -> {', '.join(sorted(edges[module])) or '-'}")
    found = cycles(edges, modules)
    print("cycles:", found if found else "none")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
