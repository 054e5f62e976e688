"""``reviews``: a generated, offline sentiment data set that a bag of words cannot solve.

Short product-review sentences from a small grammar, labelled 0 (negative) or 1 (positive).
Every template is balanced so that each word is as frequent in positive as in negative
sentences; the label lives in word *order*:

- negation:    "the battery is not bad at all" -- polarity of the adjective, flipped by "not";
- contrast:    "the screen is great , but the battery is awful" -- the clause after the
               connective wins, and both clauses always disagree;
- expectation: "i expected it to break , but it never did" -- the expected event's polarity,
               flipped when it never happened; fillers put several words between the cues.

Sentences are unique (no sentence is in two splits) and the splits are fixed by ``seed``:
``REVIEWS_SPLITS`` examples in train/val/test, in that order. The same seed gives the same
sentences on every machine (numpy's PCG64 stream).
"""

from __future__ import annotations

import numpy as np

REVIEWS_SPLITS = {"train": 3000, "val": 500, "test": 500}
CLASSES = ("negative", "positive")

_POS_ADJ = ("good", "great", "excellent", "solid", "fine")
_NEG_ADJ = ("bad", "awful", "poor", "terrible", "weak")
_ASPECTS = ("battery", "screen", "camera", "keyboard", "speaker", "price", "design", "case")
_OPENERS = ("", "honestly ,", "overall ,", "to be fair ,", "after a week ,")
_INTENSIFIERS = ("", "very", "really")
_GOOD_EVENTS = ("work", "last", "impress me", "hold up", "be worth it")
_BAD_EVENTS = ("break", "fail", "die", "crash", "leak")
_EXPECT = ("i expected it to", "i was sure it would", "everyone told me it would")
_MIDDLES = ("", "after a few weeks of daily use", "once the novelty wore off", "in the cold")
# (ending words, whether the expected event happened)
_ENDINGS = (("but it never did", False), ("but it did not", False),
            ("and it did", True), ("and sure enough it did", True))


def _clause(rng: np.random.Generator, aspect: str, positive: bool) -> str:
    """'the ASPECT is [not] [very] ADJ' whose meaning is ``positive``."""
    negated = bool(rng.integers(2))
    words = _NEG_ADJ if positive == negated else _POS_ADJ
    adj = words[rng.integers(len(words))]
    intens = _INTENSIFIERS[rng.integers(len(_INTENSIFIERS))]
    return " ".join(w for w in ("the", aspect, "is", "not" if negated else "", intens, adj) if w)


def _sentence(rng: np.random.Generator) -> tuple[str, int]:
    label = int(rng.integers(2))
    opener = _OPENERS[rng.integers(len(_OPENERS))]
    template = int(rng.integers(3))
    if template == 0:
        text = _clause(rng, _ASPECTS[rng.integers(len(_ASPECTS))], bool(label))
        if " not " in text and rng.integers(2):
            text += " at all"
    elif template == 1:
        first, second = rng.choice(len(_ASPECTS), size=2, replace=False)
        a = _clause(rng, _ASPECTS[first], not label)
        b = _clause(rng, _ASPECTS[second], bool(label))
        text = f"{a} , but {b}" if rng.integers(2) else f"although {a} , {b}"
    else:
        ending, happened = _ENDINGS[rng.integers(len(_ENDINGS))]
        good_event = happened == bool(label)  # a good event that happened, or a bad one that didn't
        events = _GOOD_EVENTS if good_event else _BAD_EVENTS
        middle = _MIDDLES[rng.integers(len(_MIDDLES))]
        parts = (_EXPECT[rng.integers(len(_EXPECT))], events[rng.integers(len(events))], middle,
                 ",", ending)
        text = " ".join(p for p in parts if p)
    return (f"{opener} {text}" if opener else text), label


def generate_reviews(seed: int = 0) -> dict[str, tuple[list[str], list[int]]]:
    """``{"train"|"val"|"test": (sentences, labels)}``; sizes in ``REVIEWS_SPLITS``, labels in
    {0, 1}, whitespace-separated lowercase tokens."""
    rng = np.random.default_rng(seed)
    total = sum(REVIEWS_SPLITS.values())
    seen: dict[str, int] = {}
    while len(seen) < total:
        text, label = _sentence(rng)
        seen.setdefault(text, label)
    items = list(seen.items())
    out, start = {}, 0
    for split, n in REVIEWS_SPLITS.items():
        chunk = items[start : start + n]
        out[split] = ([t for t, _ in chunk], [y for _, y in chunk])
        start += n
    return out
