"""The package's import graph has no circle (docs/architecture.md): every `import` and
`from ... import` between nrc modules, at any level of a module (function-level imports too),
is an edge; `from pkg import name` is an edge to the submodule `pkg.name` when there is one and
to the package otherwise. Imports under `if TYPE_CHECKING:` are annotations, never executed,
and are not edges."""

from __future__ import annotations

import ast
from pathlib import Path

import nrc

SRC = Path(nrc.__file__).parent.parent


def module_name(path: Path) -> str:
    """The dotted name of the module file `path` under the source folder."""
    return ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside `if TYPE_CHECKING:` blocks."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            out |= {id(n) for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)}
    return out


def imports(path: Path, modules: set[str]) -> set[str]:
    """The nrc modules that the module file `path` imports."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module in modules:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
    return found


def graph() -> dict[str, set[str]]:
    """module -> the nrc modules it imports."""
    files = {module_name(p): p for p in (SRC / "nrc").rglob("*.py")}
    names = set(files)
    return {name: imports(path, names) - {name} for name, path in files.items()}


def find_circle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `edges` as a list of modules (first = last), or None."""
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> list[str] | None:
        if state.get(name) == 1:
            return [*trail[trail.index(name) :], name]
        if state.get(name) == 2:
            return None
        state[name] = 1
        for other in sorted(edges.get(name, ())):
            circle = visit(other, [*trail, name])
            if circle:
                return circle
        state[name] = 2
        return None

    for name in sorted(edges):
        circle = visit(name, [])
        if circle:
            return circle
    return None


def test_the_package_has_no_import_circle() -> None:
    edges = graph()
    assert len(edges) > 50 and "nrc.train.loop" in edges
    circle = find_circle(edges)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_the_circle_finder_finds_a_constructed_circle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_circle(edges) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None
