"""Device choice from a Ray GPU grant (pure function; the real-Ray case is in the loop tests)."""

from __future__ import annotations

import pytest
import torch

from trainables.device import choose_device, setup_device


@pytest.mark.parametrize(
    ("gpu_ids", "cuda", "share", "expected"),
    [
        ([], False, 0.0, ("cpu", None)),
        ([], True, 0.0, ("cpu", None)),  # CUDA present but Ray granted no GPU
        (["0"], False, 0.5, ("cpu", None)),  # fake GPU grant on a CPU-only node
        ([0], False, 1.0, ("cpu", None)),
        (["0"], True, 1.0, ("cuda", None)),
        (["0"], True, 0.25, ("cuda", 0.25)),
        (["0", "1"], True, 2.0, ("cuda", None)),
    ],
)
def test_choose_device(gpu_ids, cuda, share, expected):
    assert choose_device(gpu_ids, cuda, share) == expected


def test_negative_share_is_rejected():
    with pytest.raises(ValueError, match="GPU share"):
        choose_device(["0"], True, -0.5)


def test_setup_device_outside_ray_uses_cpu_and_one_thread():
    before = torch.get_num_threads()
    try:
        device, info = setup_device()
        assert device == torch.device("cpu") and info["device"] == "cpu"
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
