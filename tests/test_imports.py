"""What importing the library costs, and the shape of the import graph.

``import raybo`` / ``from raybo import GPSearch`` must not load the ``raybo`` command
(``raybo.app``), the bundled trainables, matplotlib or scikit-learn: a user who only wants the
searcher pays for none of them. And no package may hold an import circle: modules are read, and
can be understood, bottom up. The graph is read from the source with ``ast`` (no import runs),
function-level and ``TYPE_CHECKING`` imports included: they still form a circle for a reader.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("raybo", "trainables", "benchmarks")  # the repository's own top-level packages
# Prefixes of modules that the library must not load (each with its submodules).
NOT_IN_THE_LIBRARY = ("raybo.app", "trainables", "matplotlib", "sklearn")


@pytest.mark.parametrize("statement", ["import raybo", "from raybo import GPSearch"])
def test_the_library_loads_without_the_app_trainables_or_plotting(statement):
    code = (f"import sys\n{statement}\n"
            f"print(sorted(m for m in sys.modules if any(m == p or m.startswith(p + '.') "
            f"for p in {NOT_IN_THE_LIBRARY!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]", f"{statement} loaded {proc.stdout.strip()}"


# ------------------------------------------------------------------ the import graph
def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every .py of the repository's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The repository modules that module ``name`` (file ``path``) imports anywhere in its body.

    ``import a.b`` -> ``a.b``; ``from a import b`` -> ``a.b`` when that is a module, else ``a``;
    relative imports are resolved against the module's package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in known else source)
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imported_modules(name, path, known) for name, path in files.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself (breadth first)."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return component


def test_the_graph_reader_resolves_every_import_form(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    sources = {
        "__init__.py": "",
        "a.py": "import pkg.b\n",
        "b.py": "from pkg import c\n",
        "c.py": "def f():\n    from .sub import d\n",
        "sub/__init__.py": "from ..a import x\n",
        "sub/d.py": "from . import e\nfrom pkg.sub import d as _\n",
        "sub/e.py": "from pkg import a\nimport os\n",
    }
    for rel, text in sources.items():
        (pkg / rel).write_text(text)
    known = {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.sub", "pkg.sub.d", "pkg.sub.e"}
    file_of = {"pkg": "__init__.py", "pkg.sub": "sub/__init__.py"}
    graph = {m: imported_modules(m, pkg / file_of.get(m, m[4:].replace(".", "/") + ".py"), known)
             for m in known}
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.c"},
                     "pkg.c": {"pkg.sub.d"}, "pkg.sub": {"pkg.a"}, "pkg.sub.d": {"pkg.sub.e"},
                     "pkg.sub.e": {"pkg.a"}}
    (component,) = circles(graph)
    assert component == ["pkg.a", "pkg.b", "pkg.c", "pkg.sub.d", "pkg.sub.e"]
    assert one_cycle(graph, component) == ["pkg.a", "pkg.b", "pkg.c", "pkg.sub.d", "pkg.sub.e",
                                           "pkg.a"]


@pytest.mark.parametrize("package", ["raybo", "trainables", "benchmarks"])
def test_no_import_circle(package):
    graph = import_graph()
    mine = [c for c in circles(graph)
            if any(_in(m, package) for m in c)]
    assert not mine, "import circles: " + "; ".join(
        " -> ".join(one_cycle(graph, c)) + f" (modules: {', '.join(c)})" for c in mine)


def test_no_library_module_imports_the_app_or_the_trainables():
    """Static twin of the subprocess check above: it also sees imports inside functions.
    ``raybo.__main__`` is the command's door (``python -m raybo``), not part of the library."""
    graph = import_graph()
    library = [m for m in graph if _in(m, "raybo") and not _in(m, "raybo.app")
               and m != "raybo.__main__"]
    wrong = {m: sorted(w for w in graph[m] if _in(w, "raybo.app") or _in(w, "trainables"))
             for m in library}
    assert not {m: w for m, w in wrong.items() if w}


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")
