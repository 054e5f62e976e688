"""``raybo tune --storage``: local paths are resolved, URIs reach Tune unchanged.

The README's cluster command passes ``--storage s3://BUCKET/raybo``; turning that into the local
directory ``<cwd>/s3:/BUCKET/raybo`` would silently keep every result on the head. ``file://``
goes through the same pyarrow URI path in Tune as ``s3://`` and ``gs://``, without credentials.
"""

from __future__ import annotations

import json

import pytest
import ray
from conftest import ray_tmp

from raybo.app.tuning import is_uri, run_tuning


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("s3://bucket/raybo", True),
        ("gs://bucket/raybo", True),
        ("file:///tmp/raybo", True),
        ("hdfs://namenode:8020/raybo", True),
        ("/tmp/raybo", False),
        ("raybo_out/ray_results", False),
        ("C:\\runs\\raybo", False),  # a Windows drive letter is not a scheme
    ],
)
def test_uris_are_told_from_paths(path, uri):
    assert is_uri(path) is uri


@pytest.mark.ray
def test_a_file_uri_storage_reaches_tune_unchanged(tmp_path, monkeypatch):
    cwd, target = tmp_path / "cwd", tmp_path / "results"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # a URI mangled into a relative path would land here
    ray.init(address="local", num_cpus=2, _temp_dir=ray_tmp("S"), include_dashboard=False,
             log_to_driver=False)
    try:
        run = run_tuning("cnn", trials=1, epochs=1, storage=f"file://{target}", name="uri")
    finally:
        ray.shutdown()
    assert [r["status"] for r in run.rows] == ["TERMINATED"]
    assert list(cwd.iterdir()) == []
    results = list((target / "uri").glob("*/result.json"))
    assert len(results) == 1
    reported = json.loads(results[0].read_text().splitlines()[-1])
    assert reported["trial_id"] == run.rows[0]["trial_id"]
    assert reported["val_loss"] == pytest.approx(run.rows[0]["value"])
