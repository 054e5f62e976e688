"""benchmarks/registry.py: every problem kind and searcher by one name, suites added by one
entry, and no import circle among the benchmark modules."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from benchmarks import registry
from benchmarks.schedulers import ARMS

BENCHMARKS = Path(registry.__file__).parent


def test_every_registered_problem_builds_under_its_own_name():
    names = registry.problem_names()
    assert len(names) == len(set(names))
    for kind in ("synthetic", "conditional", "real"):
        assert registry.problem_names(kind)
    for name in names:
        assert registry.get_problem(name).name == name
    for name in registry.CURVE_PROBLEMS:
        assert registry.get_curve(name).name == name


def test_every_scheduler_arm_and_engine_variant_is_a_registered_searcher():
    for searcher, _ in ARMS.values():
        registry.searcher_spec(searcher)
    assert "gp~v2b" in registry.searcher_names()
    with pytest.raises(ValueError, match="unknown engine variant"):
        registry.searcher_spec("gp~nope")
    with pytest.raises(ValueError, match="searcher must be one of"):
        registry.available("nope")


def test_a_new_suite_is_one_source_entry_and_duplicate_names_are_refused(tmp_path, monkeypatch):
    (tmp_path / "extra_suite.py").write_text(
        "from benchmarks.problems import PROBLEMS\n"
        "SUITE = {'branin_again': PROBLEMS['branin'], 'branin': PROBLEMS['branin']}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.PROBLEM_SOURCES, "extra", "extra_suite:SUITE")
    registry.problem_tables.cache_clear()
    try:
        with pytest.raises(ValueError, match="'branin' is registered by synthetic and extra"):
            registry.problem_names()
        sys.modules["extra_suite"].SUITE.pop("branin")
        registry.problem_tables.cache_clear()
        assert registry.problem_names("extra") == ["branin_again"]
        assert registry.get_problem("branin_again").f_star == registry.get_problem("branin").f_star
    finally:
        monkeypatch.undo()
        registry.problem_tables.cache_clear()
        sys.modules.pop("extra_suite", None)


def _imports(path: Path) -> set[str]:
    """Benchmark modules ``path`` imports, at module or function level, or names in a
    ``"benchmarks.x:ATTR"`` source string."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "benchmarks":
                out |= {a.name for a in node.names}
            elif node.module.startswith("benchmarks."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("benchmarks.")}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("benchmarks.") and ":" in node.value:
                out.add(node.value.split(":")[0].split(".")[1])
    return out - {path.stem}


def test_no_import_circles_among_benchmark_modules():
    graph = {p.stem: _imports(p) for p in BENCHMARKS.glob("*.py")}

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m not in seen and m in graph:
                seen.add(m)
                todo += graph[m]
        return seen

    assert [m for m in graph if m in reach(m)] == []
