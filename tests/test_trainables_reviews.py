"""The generated ``reviews`` set needs word order: a bag of words fails it, the bundled LSTM
does not.

Oracles: scikit-learn's bag-of-words logistic regression (unigram counts, several
regularization strengths, the best on test reported) stays <= 75% test accuracy; the bundled
LSTM at its default config trained through the loop's own pieces reaches >= 90% on the same
held-out test split. Measured on seeds 0-2: bag of words 0.46-0.54 (best C), the LSTM 1.0
after 4 epochs (3-5 s on one shared CPU thread; rnn and gru also 1.0).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from trainables.data import PAD, load_data
from trainables.loop import setup_trial, train_epoch
from trainables.models import build_model
from trainables.reviews import REVIEWS_SPLITS, generate_reviews
from trainables.text_classification import build_vocab, encode, tokenize

CPU = torch.device("cpu")


def test_reviews_are_fixed_unique_balanced_and_seeded():
    a, b = generate_reviews(0), generate_reviews(0)
    assert a == b
    assert {k: len(v[0]) for k, v in a.items()} == REVIEWS_SPLITS
    every = [t for texts, _ in a.values() for t in texts]
    assert len(set(every)) == len(every)  # no sentence in two splits
    for _, labels in a.values():
        assert 0.4 < np.mean(labels) < 0.6
    assert generate_reviews(1)["val"] != a["val"]
    data = load_data({"name": "reviews"})
    assert data.kind == "textcls" and data.meta["n_classes"] == 2
    assert data.meta["classes"] == ["negative", "positive"]
    assert len(data.x_train) == REVIEWS_SPLITS["train"] and len(data.x_val) == REVIEWS_SPLITS["val"]
    assert int(data.x_train.max()) < data.meta["vocab_size"]


def test_the_grammar_reads_as_its_label():
    label_of = {t: y for texts, labels in generate_reviews(0).values()
                for t, y in zip(texts, labels)}
    cases = {"the battery is not bad at all": 1, "the screen is not good": 0,
             "i expected it to break , but it never did": 1,
             "i expected it to work , but it never did": 0}
    for known, want in cases.items():  # alone, after an opener, or as the deciding clause
        seen = [y for t, y in label_of.items() if t == known or t.endswith(f", {known}")]
        assert seen and set(seen) == {want}, known
    # the contrast template: the clause after "but" decides
    contrast = [(t, y) for t, y in label_of.items() if " , but the " in t]
    assert contrast
    for text, label in contrast[:50]:
        last = text.split(" , but ")[1].split()
        negative = last[-1] in ("bad", "awful", "poor", "terrible", "weak")
        assert label == int(negative == ("not" in last)), text


def test_bag_of_words_cannot_solve_it():
    splits = generate_reviews(0)
    vec = CountVectorizer(token_pattern=r"\S+")
    x_tr = vec.fit_transform(splits["train"][0])
    x_te = vec.transform(splits["test"][0])
    best = max(LogisticRegression(C=c, max_iter=2000).fit(x_tr, splits["train"][1])
               .score(x_te, splits["test"][1]) for c in (0.01, 0.1, 1.0, 10.0))
    assert best <= 0.75  # measured 0.544 (seed 0, C=0.01)


def test_the_bundled_lstm_solves_it_on_the_test_split():
    torch.set_num_threads(1)
    run = setup_trial({"seed": 0, "epochs": 4, "data": {"name": "reviews"}}, "lstm", CPU)
    for _ in range(4):
        train_epoch(run.model, run.data, run.opt, run.scaler, 64, run.gen, CPU)
    splits = generate_reviews(0)
    stoi = build_vocab([tokenize(t) for t in splits["train"][0]])
    x_test = encode([tokenize(t) for t in splits["test"][0]], stoi, 64)
    run.model.eval()
    with torch.no_grad():
        pred = run.model(x_test).argmax(-1).numpy()
    assert np.mean(pred == np.array(splits["test"][1])) >= 0.90


def test_sentence_classifier_ignores_padding():
    data = load_data({"name": "reviews"})
    torch.manual_seed(0)
    for arch in ("rnn", "lstm", "gru"):
        model = build_model(arch, {"hidden": 16}, data.meta, data.kind).eval()
        x = data.x_val[:8]
        padded = torch.cat([x, torch.full((8, 5), PAD)], dim=1)
        with torch.no_grad():
            out = model(x)
            assert out.shape == (8, 2)
            torch.testing.assert_close(model(padded), out)
