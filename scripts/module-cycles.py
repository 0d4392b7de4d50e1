#!/usr/bin/env python3
"""Fails when the top-level modules of a workspace crate import each other in a cycle.

Cargo already refuses cycles between crates; this keeps each crate's modules layered the
same way. A module depends on another when any of its files (tests included) names
`crate::<other>`, directly or in a `use crate::{...}` group. Comments are ignored.

Usage: scripts/module-cycles.py [crate-dir ...]   (default: every workspace crate with src/)
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CRATES = ["model", "records", "retry", "runtime", "olap", "streams", "telemetry", "pipeline", "host", "guest-sdk-rust", "tests", "bench"]

COMMENT = re.compile(r"//[^\n]*")
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
GROUP = re.compile(r"\bcrate::\{([^}]*)\}", re.S)


def modules(src: Path) -> dict[str, list[Path]]:
    """Each top-level module of the crate rooted at `src`, with its files."""
    found: dict[str, list[Path]] = {}
    for entry in sorted(src.iterdir()):
        if entry.suffix == ".rs" and entry.stem not in ("lib", "main"):
            found.setdefault(entry.stem, []).append(entry)
        elif entry.is_dir() and entry.name != "bin":
            found.setdefault(entry.name, []).extend(sorted(entry.rglob("*.rs")))
    # A `foo.rs` with a `foo/` of submodules is one module.
    return found


def imports(files: list[Path], names: set[str], own: str) -> set[str]:
    """The other top-level modules `files` name."""
    seen: set[str] = set()
    for path in files:
        text = COMMENT.sub("", path.read_text(encoding="utf-8"))
        seen.update(PATH.findall(text))
        for group in GROUP.findall(text):
            seen.update(re.findall(r"(?:^|,)\s*([a-z_][a-z0-9_]*)", group))
    return (seen & names) - {own}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for next_node in sorted(graph[node]):
            if next_node not in index:
                visit(next_node)
                low[node] = min(low[node], low[next_node])
            elif next_node in on_stack:
                low[node] = min(low[node], index[next_node])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def check(crate: Path) -> list[str]:
    """One line per cycle among the modules of `crate`."""
    mods = modules(crate / "src")
    graph = {name: imports(files, set(mods), name) for name, files in mods.items()}
    problems = []
    for component in cycles(graph):
        edges = ", ".join(
            f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component
        )
        problems.append(f"{crate.name}: modules {', '.join(component)} import each other ({edges})")
    return problems


def main() -> int:
    crates = [ROOT / c for c in (sys.argv[1:] or DEFAULT_CRATES)]
    problems = [p for crate in crates if (crate / "src").is_dir() for p in check(crate)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("module cycles: move what both sides need into a module of its own", file=sys.stderr)
        return 1
    print(f"no module cycles in {len(crates)} crates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
