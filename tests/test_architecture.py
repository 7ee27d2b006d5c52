"""The shape of the code, read from the source with ``ast`` (nothing is imported): no import
cycle among the project's modules, dependencies that point one way (gui → collector, analysis;
collector never imports gui; analysis imports neither), and one entry point that no module
uses as a library."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The project's packages whose modules make the import graph.
PACKAGES = ("analysis", "collector", "gui", "firmware_specs", "benchmarks")
#: What each layer must never import.
FORBIDDEN = {"analysis": ("collector", "gui"), "collector": ("gui",)}
#: The program's entry: imported by nothing in the project but ``gui.__main__``.
ENTRY = "gui.cli"


@dataclass(frozen=True)
class Import:
    """One import statement of a project module: which project module it reaches, and where."""

    source: str
    target: str
    path: Path  # relative to the tree's root
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source} imports {self.target}"


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name → file, for every module of :data:`PACKAGES` under ``root``."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_in(name: str, path: Path, modules: dict[str, Path], root: Path = ROOT) -> list[Import]:
    """The project modules ``name`` imports anywhere in its file: at module level, inside
    functions (lazy imports), under ``if TYPE_CHECKING`` — every statement counts."""

    def resolve(dotted: str) -> str | None:  # the longest prefix that is a project module
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [resolve(a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from gui import cli_ble` imports the module gui.cli_ble, not just gui
            targets = [resolve(f"{base}.{a.name}") for a in node.names]
        else:
            continue
        unique = dict.fromkeys(t for t in targets if t and t != name)  # one per statement
        found += [Import(name, t, path.relative_to(root), node.lineno) for t in unique]
    return found


def import_graph(root: Path = ROOT) -> dict[str, list[Import]]:
    """Every project module's imports of other project modules."""
    modules = project_modules(root)
    return {name: imports_in(name, path, modules, root) for name, path in modules.items()}


def find_cycle(graph: dict[str, list[Import]]) -> list[Import] | None:
    """One import cycle (the imports that make it, in order), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[Import] = []

    def visit(module: str) -> list[Import] | None:
        state[module] = 1
        for imp in graph.get(module, []):
            if state.get(imp.target) == 1:
                on_path = [step.source for step in path] + [module]
                return [*path[on_path.index(imp.target) :], imp]
            if imp.target not in state:
                path.append(imp)
                if cycle := visit(imp.target):
                    return cycle
                path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_project_has_modules_and_imports_to_check():
    graph = import_graph()
    assert {"gui.cli", "gui.__main__", "gui.errors"} <= set(graph)
    for layer in ("analysis", "collector", "gui"):
        assert sum(m.startswith(f"{layer}.") for m in graph) > 3, layer
    # lazy (inside a function) and `from package import module` imports are both seen
    targets = {i.target for i in graph["gui.cli_sessions"]}
    assert {"gui.cli_ble", "gui.errors"} <= targets
    assert "gui.cli_sessions" in {i.target for i in graph["gui.cli"]}


def test_no_import_cycle():
    # Every import counts, lazy ones inside functions too: a lazy import defers loading (so that
    # `flossmeter --help` stays fast), it does not remove the dependency. Counting module-level
    # imports only would pass cycles that bite at run time — version 1 had
    # gui.cli_sessions ↔ gui.cli_ble through imports inside functions on both sides, and a
    # module run as __main__ while in a cycle is imported twice (two copies of its classes).
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle:\n  " + "\n  ".join(map(str, cycle or []))


def layer_violations(graph: dict[str, list[Import]]) -> list[str]:
    """Every import of a layer that layer must not import (:data:`FORBIDDEN`)."""
    return [
        str(imp)
        for module, imports in graph.items()
        for imp in imports
        if imp.target.split(".")[0] in FORBIDDEN.get(module.split(".")[0], ())
    ]


def test_layers_point_one_way():
    wrong = layer_violations(import_graph())
    assert wrong == [], "layer rule broken:\n  " + "\n  ".join(wrong)


def test_lazy_and_type_only_imports_count_for_the_layers(tmp_path):
    files = {
        "analysis/__init__.py": "",
        "analysis/metrics.py": "def f():\n    from collector import hub\n    return hub\n",
        "collector/__init__.py": "",
        "collector/hub.py": (
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import gui.app\n"
        ),
        "gui/__init__.py": "",
        "gui/app.py": "from . import view\nfrom analysis.metrics import f\n",
        "gui/view.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert [(i.source, i.target) for i in graph["gui.app"]] == [
        ("gui.app", "gui.view"),
        ("gui.app", "analysis.metrics"),
    ]
    assert layer_violations(graph) == [
        "analysis/metrics.py:2: analysis.metrics imports collector.hub",
        "collector/hub.py:4: collector.hub imports gui.app",
    ]


def test_the_entry_point_is_no_library():
    users = [
        str(imp)
        for module, imports in import_graph().items()
        for imp in imports
        if imp.target == ENTRY and module != "gui.__main__"
    ]
    assert users == [], f"{ENTRY} is the program, not a library:\n  " + "\n  ".join(users)


def test_no_qt_view_imports_the_command_line():
    wrong = [
        str(imp)
        for module, imports in import_graph().items()
        if module.startswith("gui.dashboard")
        for imp in imports
        if imp.target in ("gui.__main__", ENTRY) or imp.target.startswith("gui.cli_")
    ]
    assert wrong == [], "a view imports the command line:\n  " + "\n  ".join(wrong)


def test_find_cycle_reports_the_imports_that_make_it():
    def imp(a: str, b: str) -> Import:
        return Import(a, b, Path(f"{a}.py"), 1)

    chain = {"a": [imp("a", "b")], "b": [imp("b", "c")], "c": [imp("c", "a")], "d": []}
    assert [(i.source, i.target) for i in find_cycle(chain)] == [("a", "b"), ("b", "c"), ("c", "a")]
    assert find_cycle({"a": [imp("a", "b")], "b": [], "c": [imp("c", "b")]}) is None
    assert [(i.source, i.target) for i in find_cycle({"a": [imp("a", "a")]})] == [("a", "a")]
