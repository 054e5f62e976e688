"""Every ```python block of README.md runs as written, at a tiny budget.

The blocks run in order in one namespace (a later block may use an earlier one's ``train`` and
``space``, as a reader would in a notebook), in a fresh interpreter whose HOME is a temporary
directory (Tune's default storage is ~/ray_results). The only edits: ``num_samples`` -> 2,
``max_concurrent_trials`` -> 2 and ``epochs`` -> 1, each of which must occur, so the budget knobs
cannot silently disappear from the README.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ray_tmp

pytestmark = pytest.mark.ray

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = [
    (r"num_samples=\d+", "num_samples=2"),
    (r"max_concurrent_trials=\d+", "max_concurrent_trials=2"),
    (r"(epochs[\"']?\s*[=:]\s*)\d+", r"\g<1>1"),
]
RUNNER = """
import json, sys
import ray
ray.init(address="local", num_cpus=2, _temp_dir=sys.argv[2], include_dashboard=False)
namespace = {"__name__": "__readme__"}
for i, block in enumerate(json.load(open(sys.argv[1]))):
    exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
    print(f"block {i + 1} ok", flush=True)
"""


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def shrink(block: str) -> str:
    for pattern, repl in TINY:
        block = re.sub(pattern, repl, block)
    return block


def test_readme_python_blocks_run_as_written(tmp_path):
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 3
    text = "\n".join(blocks)
    for pattern, _ in TINY:  # every budget knob is there to be cut
        assert re.search(pattern, text), pattern
    assert '"gpu"' not in "".join(
        line.split("#")[0] for line in text.splitlines()), "GPU requests only in comments"
    (tmp_path / "blocks.json").write_text(json.dumps([shrink(b) for b in blocks]))
    env = {**os.environ, "HOME": str(tmp_path), "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path / "blocks.json"), ray_tmp("R")],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert f"block {len(blocks)} ok" in proc.stdout


def test_the_asha_example_stops_at_the_epochs_the_trainable_runs():
    # max_t / max_resource beyond the trainable's epochs would never be reached: no trial
    # would count as finished at the top rung, and the curve GP would extrapolate past the end.
    text = "\n".join(python_blocks(README.read_text()))
    epochs = re.search(r'"epochs": (\d+),', text).group(1)
    for knob in ("max_t", "max_resource"):
        values = re.findall(rf"{knob}=([\w\"\[\]]+)", text)
        assert values and all(v in ("epochs", epochs) for v in values), (knob, values)
    assert 'epochs = space["epochs"]' in text


def test_the_failure_promise_says_what_tune_does_with_a_result_without_the_metric():
    # Tune's strict metric checking aborts fit() first (tests/test_tune_integration.py shows it)
    text = " ".join(README.read_text().split())
    assert "results without the metric are recorded as failures" not in text
    assert "`TUNE_DISABLE_STRICT_METRIC_CHECKING=1`" in text
