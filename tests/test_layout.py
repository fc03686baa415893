"""The rooms and the arrows between them (README, "Layout"): every import of every package, module-level or
inside a function, points down this list; no module imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import ROOT

# each package and the packages it may import; nothing else, so an arrow the README does not draw fails here
ALLOWED: dict[str, set[str]] = {
    "campus": set(),
    "ingest": {"campus"},
    "gateway": {"campus", "ingest"},
    "simulators": {"gateway"},  # gateway.protocols only: the meters' wire, which imports nothing (below)
    "alerts": {"campus", "ingest"},
    "reports": {"campus", "ingest"},
    "records": {"campus", "ingest", "alerts", "reports"},
    "billing": {"campus", "ingest", "reports"},
    "upload": {"campus", "ingest", "reports"},
    "app": {"campus", "ingest", "gateway", "alerts", "reports", "records", "billing", "simulators", "upload"},
    "deploy": {"campus", "ingest", "app"},
    "api": {"campus", "ingest", "gateway", "alerts", "reports", "records", "billing", "app", "deploy"},
    "cli": {"campus", "ingest", "gateway", "alerts", "reports", "records", "billing", "app", "deploy", "api",
            "simulators", "upload"},
    "emergency": {"campus", "ingest", "deploy"},  # chain.py: the server's connection and the credentials
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (a ``from package import module`` counts as the module)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in known else node.module)
    return {m for m in out if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def test_every_import_points_down() -> None:
    upward = [f"{src} -> {dst}" for src, dsts in _graph().items() for dst in sorted(dsts)
              if (a := src.split(".")[0]) != (b := dst.split(".")[0]) and b not in ALLOWED[a]]
    assert upward == []


def test_the_wire_stands_alone() -> None:
    """``gateway.protocols`` (the frames meters speak) imports nothing of meterwatch, and is all the simulated
    meters take from the gateway: a simulated meter knows the wire, not the gateway that reads it."""
    wire = "gateway.protocols"
    graph = _graph()
    outside = [f"{src} -> {dst}" for src, dsts in graph.items() if src.startswith(wire)
               for dst in sorted(dsts) if not dst.startswith(wire)]
    simulators = [f"{src} -> {dst}" for src, dsts in graph.items() if src.startswith("simulators")
                  for dst in sorted(dsts) if dst.startswith("gateway") and not dst.startswith(wire)]
    assert outside == []
    assert simulators == []


def test_no_module_imports_itself_back() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert circles == []
