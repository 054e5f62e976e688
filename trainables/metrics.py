"""The result keys the trainables report, and which way is better: importable without torch or
Ray, so the ``raybo`` command can check ``--metric`` before anything starts.

Every epoch the shared loop (``trainables.loop.train``) reports ``epoch``, ``train_loss``,
``val_loss`` (mean cross-entropy per example or target token), ``val_accuracy`` (per example --
an image or a sentence -- or per token, in [0, 1]) and, for token tasks (language model,
seq2seq), ``val_perplexity`` = exp(val_loss); and what the model costs: ``n_params``,
``inference_ms`` (median per-example latency on the trial's device) and ``peak_memory_mb`` (CUDA
peak allocation on GPU, process RSS growth on CPU), defined in ``trainables.cost``.
``tests/test_trainables_loop.py`` checks this table against a real report.
"""

from __future__ import annotations

# metric -> mode (the direction that is better)
METRICS = {"val_loss": "min", "val_accuracy": "max", "train_loss": "min", "val_perplexity": "min",
           "n_params": "min", "inference_ms": "min", "peak_memory_mb": "min"}
TOKEN_ONLY = {"val_perplexity"}  # reported only by token tasks (kinds "lm" and "seq2seq")
TOKEN_KINDS = ("lm", "seq2seq")
# The task kind of each architecture's default (embedded) data set: digits images for the
# classifiers, the generated reverse task for the encoder-decoders.
DEFAULT_KIND = {"cnn": "image", "rnn": "image", "lstm": "image", "gru": "image",
                "seq2seq": "seq2seq", "transformer": "seq2seq"}
# The task kind of each data set (trainables.data.load_data's names).
DATA_KIND = {"digits": "image", "mnist": "image", "cifar10": "image", "text": "lm",
             "reverse": "seq2seq", "tsv": "seq2seq", "reviews": "textcls", "csv": "textcls"}
# Which architectures train on each kind (trainables.models.build_model).
ARCHS_FOR_KIND = {"image": ("cnn", "rnn", "lstm", "gru"), "lm": ("rnn", "lstm", "gru"),
                  "textcls": ("rnn", "lstm", "gru"), "seq2seq": ("seq2seq", "transformer")}


def metrics_for(kind: str) -> list[str]:
    """Metric names a trial on data of task ``kind`` ("image", "lm", "seq2seq", "textcls")
    reports."""
    return [m for m in METRICS if kind in TOKEN_KINDS or m not in TOKEN_ONLY]
