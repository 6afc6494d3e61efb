"""An explanation's terms marked in the text they came from, for the pages that show a
prediction (Try it; the review queue's items).

The vectorizers read words as scikit-learn's default token pattern does (two or more word
characters, lower-cased) and terms are words or word n-grams; a word of the text is marked
with the largest contribution among the terms it is part of (alone, or with the word before
or after it). Hashed features have no words ("#<column>") and mark nothing."""

import re
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class Segment:
    text: str
    # The term that marks it and its contribution to the predicted label; None: unmarked.
    term: str | None = None
    contribution: float = 0.0


def highlighted(text: str, explanation: dict[str, Any] | None) -> list[Segment]:
    """The text in segments, the words that moved the predicted label's decision marked."""
    predicted = (explanation or {}).get("predicted") or {}
    weights = {term["term"]: term["contribution"] for term in predicted.get("terms") or ()}
    words = list(_WORD.finditer(text))
    lowered = [word.group().lower() for word in words]
    segments, done = [], 0
    for index, word in enumerate(words):
        candidates = [lowered[index]]
        if index > 0:
            candidates.append(f"{lowered[index - 1]} {lowered[index]}")
        if index + 1 < len(words):
            candidates.append(f"{lowered[index]} {lowered[index + 1]}")
        found = [(abs(weights[term]), term) for term in candidates if term in weights]
        if not found:
            continue
        _, term = max(found)
        segments.append(Segment(text[done : word.start()]))
        segments.append(Segment(word.group(), term, weights[term]))
        done = word.end()
    segments.append(Segment(text[done:]))
    return [segment for segment in segments if segment.text]
