"""Embedded data sets and the real-format loaders, read from small files written here."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from trainables.data import BOS, EOS, N_SPECIAL, PAD, REVERSE_VOCAB, load_data, read_idx


def write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    """idx format: 0x00 0x00 0x08 ndim, big-endian int32 dims, then the bytes."""
    raw = struct.pack(">BBBB", 0, 0, 8, array.ndim)
    raw += struct.pack(f">{array.ndim}i", *array.shape) + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw)
    path.write_bytes(raw)


def write_mnist(root, n_train=20, n_test=10, compress=False, size=28):
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(root / f"{prefix}-images-idx3-ubyte", images, compress)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", labels, compress)
        arrays[prefix] = (images, labels)
    return arrays


def test_digits_split_is_fixed_standardized_and_seeded():
    a, b = load_data({"name": "digits"}), load_data(None)
    assert a.kind == "image" and a.x_train.shape[1:] == (1, 8, 8)
    assert len(a.x_train) + len(a.x_val) == 1797
    torch.testing.assert_close(a.x_val, b.x_val)
    assert abs(float(a.x_train.mean())) < 1e-3 and abs(float(a.x_train.std()) - 1) < 1e-2
    other = load_data({"name": "digits", "seed": 1})
    assert not torch.equal(a.y_val, other.y_val)
    assert a.meta == {"in_channels": 1, "image_size": 8, "n_classes": 10}


def test_reverse_task_follows_its_rule():
    data = load_data({"name": "reverse", "n_train": 50, "n_val": 10})
    assert data.kind == "seq2seq" and len(data.x_train) == 50 and len(data.x_val) == 10
    for src, tgt in zip(data.x_train, data.y_train, strict=True):
        sym = [int(s) - N_SPECIAL for s in src if s != PAD]
        body = [int(t) for t in tgt if t != PAD]
        assert body[0] == BOS and body[-1] == EOS
        assert [t - N_SPECIAL for t in body[1:-1]] == [(s + 1) % REVERSE_VOCAB for s in sym[::-1]]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_mnist_idx_files(tmp_path, compress, layout):
    base = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    arrays = write_mnist(base, compress=compress)
    data = load_data({"name": "mnist", "root": str(tmp_path)})
    assert data.kind == "image" and data.x_train.shape == (20, 1, 28, 28)
    assert data.x_val.shape == (10, 1, 28, 28)
    assert data.y_train.tolist() == arrays["train"][1].tolist()
    # standardization is monotone, so the pixel order within an image is preserved
    img = arrays["t10k"][0][3].ravel().astype(float)
    assert np.corrcoef(img, data.x_val[3].numpy().ravel())[0, 1] > 0.999


def test_mnist_limit_and_errors(tmp_path):
    write_mnist(tmp_path)
    assert len(load_data({"name": "mnist", "root": str(tmp_path), "limit": 5}).x_train) == 5
    with pytest.raises(FileNotFoundError, match="no MNIST idx files"):
        load_data({"name": "mnist", "root": str(tmp_path / "missing")})
    with pytest.raises(ValueError, match="needs a 'root'"):
        load_data({"name": "mnist"})
    bad = tmp_path / "bad"
    bad.write_bytes(struct.pack(">BBBBi", 0, 0, 8, 1, 10) + b"\x00" * 3)
    with pytest.raises(ValueError, match="header says"):
        read_idx(bad)


def test_cifar10_pickle_batches(tmp_path):
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(0)
    labels = {}
    for name, n in (("data_batch_1", 6), ("data_batch_2", 4), ("test_batch", 5)):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels[name] = rng.integers(0, 10, n).tolist()
        with open(base / name, "wb") as fh:
            pickle.dump({b"data": data, b"labels": labels[name]}, fh)
    data = load_data({"name": "cifar10", "root": str(tmp_path)})
    assert data.x_train.shape == (10, 3, 32, 32) and data.x_val.shape == (5, 3, 32, 32)
    assert data.y_train.tolist() == labels["data_batch_1"] + labels["data_batch_2"]
    assert data.meta["in_channels"] == 3 and data.meta["image_size"] == 32
    with pytest.raises(FileNotFoundError, match="no CIFAR-10 batches"):
        load_data({"name": "cifar10", "root": str(tmp_path / "nothing")})


def test_text_file_char_language_model(tmp_path):
    path = tmp_path / "corpus.txt"
    text = "the quick brown fox jumps over the lazy dog. " * 20
    path.write_text(text)
    data = load_data({"name": "text", "path": str(path), "seq_len": 16})
    assert data.kind == "lm" and data.x_train.shape[1] == 16
    assert data.meta["vocab_size"] == N_SPECIAL + len(set(text))
    torch.testing.assert_close(data.x_train[0, 1:], data.y_train[0, :-1])  # shifted by one
    assert len(data.x_val) >= 1
    short = tmp_path / "short.txt"
    short.write_text("ab")
    with pytest.raises(ValueError, match="too short"):
        load_data({"name": "text", "path": str(short)})


def test_tsv_parallel_text(tmp_path):
    path = tmp_path / "pairs.tsv"
    pairs = [(f"hello {i}", f"bonjour {i}") for i in range(20)]
    path.write_text("\n".join(f"{s}\t{t}" for s, t in pairs) + "\n\n")
    data = load_data({"name": "tsv", "path": str(path)})
    assert data.kind == "seq2seq"
    assert len(data.x_train) == 18 and len(data.x_val) == 2
    assert data.meta["src_vocab"] == N_SPECIAL + len(set("".join(s + t for s, t in pairs)))
    lengths = sorted(int((row != PAD).sum()) for row in data.y_train)
    assert lengths[0] == len("bonjour 0") + 2  # BOS + chars + EOS
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\nstill none\n")
    with pytest.raises(ValueError, match="expected 'source<TAB>target'"):
        load_data({"name": "tsv", "path": str(bad)})


def test_unknown_data_name_is_named():
    with pytest.raises(ValueError, match="data name must be one of"):
        load_data({"name": "imagenet"})
