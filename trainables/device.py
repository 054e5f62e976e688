"""Device choice from the resources Ray granted to the trial.

A trial uses CUDA only if Ray assigned it a GPU *and* torch can see one: a fake GPU grant
(``num_gpus`` on a CPU-only node) sets ``CUDA_VISIBLE_DEVICES`` but must fall back to CPU.
A fractional GPU share caps this process's CUDA memory to that fraction, so co-located
trials cannot starve each other.
"""

from __future__ import annotations

import torch


def choose_device(
    gpu_ids: list, cuda_available: bool, share: float
) -> tuple[str, float | None]:
    """Return ``(device, memory_fraction)``; fraction is None unless CUDA with share < 1."""
    if share < 0:
        raise ValueError(f"GPU share must be >= 0, got {share}")
    if not gpu_ids or not cuda_available:
        return "cpu", None
    return "cuda", (float(share) if 0 < share < 1 else None)


def granted_resources() -> tuple[list, float, float]:
    """``(gpu_ids, gpu_share, cpus)`` Ray assigned to the calling worker (CPU 1 outside Ray)."""
    import ray

    if not ray.is_initialized():
        return [], 0.0, 1.0
    assigned = ray.get_runtime_context().get_assigned_resources()
    return list(ray.get_gpu_ids()), float(assigned.get("GPU", 0.0)), float(assigned.get("CPU", 1.0))


def setup_device() -> tuple[torch.device, dict[str, float | str | None]]:
    """Pick the device, cap CUDA memory and CPU threads; returns the device and a summary."""
    gpu_ids, share, cpus = granted_resources()
    device, fraction = choose_device(gpu_ids, torch.cuda.is_available(), share)
    if fraction is not None:
        torch.cuda.set_per_process_memory_fraction(fraction)
    torch.set_num_threads(max(1, int(cpus)))
    return torch.device(device), {"device": device, "gpu_share": share, "memory_fraction": fraction}
