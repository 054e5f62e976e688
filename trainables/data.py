"""Data sets for the trainables: embedded defaults plus real on-disk loaders.

Every loader returns a :class:`TaskData` with tensors already in memory and a fixed,
seeded train/validation split. Four task kinds, with shapes (n = examples):

- ``"image"``:   ``x: (n, C, H, W)`` float32, standardized; ``y: (n,)`` int64 class ids.
- ``"lm"``:      ``x: (n, T)`` int64 char ids; ``y: (n, T)`` int64 next-char ids.
- ``"seq2seq"``: ``x: (n, S)`` int64 source ids; ``y: (n, T)`` int64 target ids framed as
  ``BOS ... EOS`` and right-padded with ``PAD``.
- ``"textcls"``: ``x: (n, T)`` int64 word ids right-padded with ``PAD``; ``y: (n,)`` class ids
  (:mod:`trainables.text_classification`).

Selected by ``config["data"]``: ``{"name": "digits"}`` (default, scikit-learn bundled),
``{"name": "reverse"}`` (generated seq2seq task), ``{"name": "mnist", "root": DIR}``,
``{"name": "cifar10", "root": DIR}``, ``{"name": "text", "path": FILE}``,
``{"name": "tsv", "path": FILE}``, ``{"name": "reviews"}`` (generated sentiment sentences),
``{"name": "csv", "path": FILE, "text_column": ..., "label_column": ...}``. MNIST/CIFAR-10
files are read with numpy; torchvision, when importable, is used only to download them into
``root`` first.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainables.sources import CIFAR_DIR, MNIST_FILES, mnist_dir
from trainables.task import BOS, EOS, N_SPECIAL, PAD, UNK, TaskData
from trainables.text_classification import load_csv, load_reviews

__all__ = ["BOS", "EOS", "N_SPECIAL", "PAD", "UNK", "TaskData", "load_data", "read_idx"]

VAL_FRACTION = 0.2  # of the embedded sets; MNIST/CIFAR use their own test split
REVERSE_VOCAB = 12  # content symbols of the generated task; small so a few epochs suffice
REVERSE_LENGTHS = (4, 8)  # min/max source length of the generated task
REVERSE_TRAIN, REVERSE_VAL = 2000, 400
MAX_TSV_LEN = 64  # characters kept per side of a parallel-text line


def load_data(spec: dict[str, Any] | None, seed: int = 0) -> TaskData:
    """Load the data set named by ``spec["name"]`` (default ``"digits"``).

    ``spec["seed"]`` (else ``seed``) fixes the split and generated data, independent of the
    training seed, so all trials of an experiment see the same validation set.
    """
    spec = dict(spec or {})
    name = spec.pop("name", "digits")
    seed = int(spec.pop("seed", seed))
    loaders = {
        "digits": _digits,
        "reverse": _reverse,
        "mnist": _mnist,
        "cifar10": _cifar10,
        "text": _text,
        "tsv": _tsv,
        "reviews": load_reviews,
        "csv": load_csv,
    }
    if name not in loaders:
        raise ValueError(f"data name must be one of {sorted(loaders)}, got {name!r}")
    return loaders[name](seed=seed, **spec)


def _split(n: int, seed: int, val_fraction: float = VAL_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(n * val_fraction)))
    return perm[n_val:], perm[:n_val]


def _image_task(
    x_tr: np.ndarray, y_tr: np.ndarray, x_va: np.ndarray, y_va: np.ndarray, limit: int | None
) -> TaskData:
    """Standardize per channel with training statistics; x arrays are (n, C, H, W)."""
    if limit is not None:
        x_tr, y_tr = x_tr[:limit], y_tr[:limit]
        x_va, y_va = x_va[: max(1, limit // 5)], y_va[: max(1, limit // 5)]
    x_tr = x_tr.astype(np.float32)
    x_va = x_va.astype(np.float32)
    mean = x_tr.mean(axis=(0, 2, 3), keepdims=True)
    std = x_tr.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    n_classes = int(max(y_tr.max(), y_va.max())) + 1
    return TaskData(
        kind="image",
        x_train=torch.from_numpy((x_tr - mean) / std),
        y_train=torch.from_numpy(y_tr.astype(np.int64)),
        x_val=torch.from_numpy((x_va - mean) / std),
        y_val=torch.from_numpy(y_va.astype(np.int64)),
        meta={"in_channels": x_tr.shape[1], "image_size": x_tr.shape[2], "n_classes": n_classes},
    )


def _digits(seed: int, limit: int | None = None) -> TaskData:
    """scikit-learn's bundled 8x8 digits (1797 images, 10 classes)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.images[:, None, :, :]
    tr, va = _split(len(x), seed)
    return _image_task(x[tr], bunch.target[tr], x[va], bunch.target[va], limit)


# ---------------------------------------------------------------- MNIST (idx files)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one (optionally gzipped) idx file: big-endian magic, dims, then unsigned bytes."""
    path = Path(path)
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {tuple(dims)} but holds {data.size} bytes")
    return data.reshape(tuple(int(d) for d in dims))


def _find(root: Path, names: list[str]) -> Path | None:
    for name in names:
        for cand in (root / name, root / f"{name}.gz"):
            if cand.exists():
                return cand
    return None


def _mnist(seed: int, root: str | None = None, limit: int | None = None) -> TaskData:
    """MNIST from idx files in ``root`` (downloaded there by torchvision if importable)."""
    if root is None:
        raise ValueError("data 'mnist' needs a 'root' directory")
    base = mnist_dir(Path(root))
    if base is None:
        _torchvision_download("MNIST", root)
        base = mnist_dir(Path(root))
    if base is None:
        raise FileNotFoundError(f"no MNIST idx files under {root} (and torchvision unavailable)")
    arrays = {}
    for split, (img, lab) in MNIST_FILES.items():
        img_p, lab_p = _find(base, [img]), _find(base, [lab])
        if img_p is None or lab_p is None:
            raise FileNotFoundError(f"missing MNIST {split} files in {base}")
        arrays[split] = (read_idx(img_p)[:, None, :, :], read_idx(lab_p))
    (x_tr, y_tr), (x_va, y_va) = arrays["train"], arrays["test"]
    return _image_task(x_tr, y_tr, x_va, y_va, limit)


# ---------------------------------------------------------------- CIFAR-10 (python pickles)
def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch -> images (n, 3, 32, 32) uint8, labels (n,) int64."""
    with open(path, "rb") as fh:
        batch = pickle.load(fh, encoding="bytes")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    return data.reshape(-1, 3, 32, 32), labels


def _cifar10(seed: int, root: str | None = None, limit: int | None = None) -> TaskData:
    """CIFAR-10 from ``root/cifar-10-batches-py`` (data_batch_1..5 and test_batch)."""
    if root is None:
        raise ValueError("data 'cifar10' needs a 'root' directory")
    base = Path(root) / CIFAR_DIR
    if not (base / "test_batch").exists():
        _torchvision_download("CIFAR10", root)
    train_files = sorted(base.glob("data_batch_*"))
    if not train_files or not (base / "test_batch").exists():
        raise FileNotFoundError(f"no CIFAR-10 batches under {base} (and torchvision unavailable)")
    parts = [read_cifar_batch(p) for p in train_files]
    x_tr = np.concatenate([p[0] for p in parts])
    y_tr = np.concatenate([p[1] for p in parts])
    x_va, y_va = read_cifar_batch(base / "test_batch")
    return _image_task(x_tr, y_tr, x_va, y_va, limit)


def _torchvision_download(dataset: str, root: str) -> None:
    """Let torchvision fetch the raw files, if it is installed; otherwise do nothing."""
    try:
        import torchvision.datasets as tvd
    except ImportError:
        return
    for train in (True, False):
        getattr(tvd, dataset)(root, train=train, download=True)


# ---------------------------------------------------------------- token tasks
def _encode(text: str, stoi: dict[str, int]) -> list[int]:
    return [stoi.get(ch, UNK) for ch in text]


def _char_vocab(texts: list[str]) -> dict[str, int]:
    chars = sorted(set("".join(texts)))
    return {ch: i + N_SPECIAL for i, ch in enumerate(chars)}


def _text(seed: int, path: str | None = None, seq_len: int = 64) -> TaskData:
    """Character-level language modelling on a plain text file: first 90% train, rest val."""
    if path is None:
        raise ValueError("data 'text' needs a 'path' to a text file")
    text = Path(path).read_text(encoding="utf-8")
    stoi = _char_vocab([text])
    ids = torch.tensor(_encode(text, stoi), dtype=torch.int64)
    cut = int(len(ids) * 0.9)
    seq_len = min(seq_len, max(2, (len(ids) - cut) - 1))
    if cut < seq_len + 1:
        raise ValueError(f"text file {path} is too short for seq_len={seq_len}")

    def windows(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = (len(t) - 1) // seq_len
        return t[: n * seq_len].view(n, seq_len), t[1 : n * seq_len + 1].view(n, seq_len)

    x_tr, y_tr = windows(ids[:cut])
    x_va, y_va = windows(ids[cut:])
    vocab = N_SPECIAL + len(stoi)
    return TaskData("lm", x_tr, y_tr, x_va, y_va, meta={"vocab_size": vocab})


def _pad(seqs: list[list[int]], length: int) -> torch.Tensor:
    out = torch.full((len(seqs), length), PAD, dtype=torch.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.int64)
    return out


def _seq2seq_task(src: list[list[int]], tgt: list[list[int]], vocab: int, n_val: int) -> TaskData:
    tgt = [[BOS, *t, EOS] for t in tgt]
    x, y = _pad(src, max(map(len, src))), _pad(tgt, max(map(len, tgt)))
    meta = {"src_vocab": vocab, "tgt_vocab": vocab}
    return TaskData("seq2seq", x[n_val:], y[n_val:], x[:n_val], y[:n_val], meta=meta)


def _reverse(seed: int, n_train: int = REVERSE_TRAIN, n_val: int = REVERSE_VAL) -> TaskData:
    """Generated translation-like task: target = source reversed, each symbol shifted by +1."""
    rng = np.random.default_rng(seed)
    lo, hi = REVERSE_LENGTHS
    src, tgt = [], []
    for _ in range(n_train + n_val):
        sym = rng.integers(0, REVERSE_VOCAB, size=int(rng.integers(lo, hi + 1)))
        src.append([int(s) + N_SPECIAL for s in sym])
        tgt.append([int((s + 1) % REVERSE_VOCAB) + N_SPECIAL for s in sym[::-1]])
    return _seq2seq_task(src, tgt, N_SPECIAL + REVERSE_VOCAB, n_val)


def _tsv(seed: int, path: str | None = None) -> TaskData:
    """Tab-separated parallel text (``source<TAB>target`` per line), char-level, shared vocab."""
    if path is None:
        raise ValueError("data 'tsv' needs a 'path' to a tab-separated file")
    pairs = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 2:
            raise ValueError(f"{path}:{lineno}: expected 'source<TAB>target'")
        pairs.append((cols[0][:MAX_TSV_LEN], cols[1][:MAX_TSV_LEN]))
    if len(pairs) < 2:
        raise ValueError(f"{path}: need at least 2 sentence pairs, got {len(pairs)}")
    order = np.random.default_rng(seed).permutation(len(pairs))
    pairs = [pairs[i] for i in order]
    stoi = _char_vocab([s for p in pairs for s in p])
    src = [_encode(s, stoi) or [UNK] for s, _ in pairs]
    tgt = [_encode(t, stoi) for _, t in pairs]
    n_val = max(1, len(pairs) // 10)
    return _seq2seq_task(src, tgt, N_SPECIAL + len(stoi), n_val)
