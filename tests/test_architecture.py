"""The package's shape: data flows one way, no import cycle, no module past about 400 lines.

Imports are read from the source (lazy ones inside functions too), so a cycle hidden behind a
function-level import is still caught.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import qcalo

ROOT = Path(qcalo.__file__).parent
MAX_LINES = 420  # "about 400"; the C kernels are not Python modules


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qcalo"):
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name.startswith("qcalo"))
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


# Who may import whom: data → quantum → models → train → metrics/report, CLI on top.
ALLOWED = {
    "quantum": {"", "quantum", "exceptions", "validate", "atomic"},
    "data": {"", "data", "exceptions", "validate", "atomic"},
    "metrics": {"", "metrics", "exceptions", "validate"},
}


def test_no_import_cycle() -> None:
    graph = _graph()
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for target in graph[node]:
                if target == start:
                    cycles.append(" → ".join([*path, target]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, [*path, target]))
    # A package __init__ re-exporting its own modules is not a cycle between concepts.
    real = [c for c in cycles if not all(part.startswith(c.split(" → ")[0]) for part in c.split(" → "))]
    assert real == [], "\n".join(sorted(set(real))[:10])


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_do_not_import_upper_ones(layer: str) -> None:
    graph = _graph()
    offending = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if _layer(module) == layer
        for target in targets
        if _layer(target) not in ALLOWED[layer]
    )
    assert offending == []


def test_no_module_is_much_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in ROOT.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_cli_imports_no_torch() -> None:
    """``qcalo --help`` stays quick: importing the CLI loads neither torch nor qiskit."""
    code = "import sys, qcalo.cli; print(sorted(m for m in ('torch', 'qiskit') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
