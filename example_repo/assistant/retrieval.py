"""A tiny but real retriever over the policy documents.

Documents are split into sentences, and whole sentences are packed into chunks of at most
``chunk_size`` words (a sentence longer than that is a chunk of its own). A chunk's score for
a question is Okapi BM25 over their terms (lower-cased words without stop words, crudely
stemmed): an IDF-weighted word overlap. The ``top_k`` best chunks are returned, best first,
ties in document order. No embeddings: ``retrieval.embedding_model`` is carried in the config (the ``tools``
layer) but this retriever does not use it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_STOP_TEXT = """a about after an and any are as at be been before by can could do does for from get got had
    has have how i if in is it its just me my no not of on once only or our so than that the their
    them then there they this to under until us was we what when where which who why will with would
    you your yours i'm it's don't"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"[a-z0-9$][a-z0-9$'-]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SUFFIXES = ("ies", "able", "ation", "ment", "ing", "ion", "ed", "s", "y")  # first match only


def stem(word: str) -> str:
    """A crude suffix stripper: refunds, refunded, refundable -> refund; cancelled -> cancel; delivery -> deliver."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: len(word) - len(suffix)]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


def terms(text: str) -> list[str]:
    """Content words of ``text``: lower case, split at hyphens, no stop words, stemmed."""
    words = (part for word in _WORD.findall(text.lower()) for part in word.split("-"))
    return [stem(w) for w in words if w and w not in STOP_WORDS]


def split_sentences(markdown: str) -> tuple[str, list[str]]:
    """(title, sentences) of a policy document; the title is its first ``#`` heading."""
    title, body = "", []
    for line in markdown.splitlines():
        line = line.strip()
        if line.startswith("#"):
            title = title or line.lstrip("#").strip()
        elif line:
            body.append(line)
    return title, [s.strip() for s in _SENTENCE_END.split(" ".join(body)) if s.strip()]


@dataclass(frozen=True)
class Chunk:
    """Consecutive sentences of one policy; ``label`` (e.g. ``refunds#2``) names it in prompts."""

    policy: str
    index: int
    sentences: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.policy}#{self.index}"

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def chunk_policy(policy: str, sentences: Sequence[str], chunk_size: int) -> list[Chunk]:
    """Pack whole sentences into chunks of at most ``chunk_size`` words."""
    chunks: list[Chunk] = []
    current: list[str] = []
    words = 0
    for sentence in sentences:
        n = len(sentence.split())
        if current and words + n > chunk_size:
            chunks.append(Chunk(policy, len(chunks) + 1, tuple(current)))
            current, words = [], 0
        current.append(sentence)
        words += n
    if current:
        chunks.append(Chunk(policy, len(chunks) + 1, tuple(current)))
    return chunks


def load_chunks(folder: Path, chunk_size: int) -> list[Chunk]:
    """Chunk every ``*.md`` policy in ``folder`` (sorted by file name, so the order is stable)."""
    chunks: list[Chunk] = []
    for path in sorted(folder.glob("*.md")):
        _, sentences = split_sentences(path.read_text(encoding="utf-8"))
        chunks.extend(chunk_policy(path.stem, sentences, chunk_size))
    if not chunks:
        raise FileNotFoundError(f"no policy documents (*.md) in {folder}")
    return chunks


def idf(documents: Iterable[Iterable[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency, ln(1 + N / df), over term lists."""
    docs = [set(d) for d in documents]
    df: dict[str, int] = {}
    for doc in docs:
        for term in doc:
            df[term] = df.get(term, 0) + 1
    return {term: math.log(1 + len(docs) / count) for term, count in df.items()}


def overlap(query: set[str], text_terms: Iterable[str], weights: dict[str, float]) -> float:
    """IDF-weighted overlap: the sum of the weights of the query terms the text contains."""
    return sum(weights.get(t, 0.0) for t in query & set(text_terms))


class Retriever:
    """Okapi BM25 (k1 = 1.2, b = 0.75) over the chunks: weighted word overlap with the question,
    where repeated terms count with diminishing returns and long chunks are normalised."""

    K1, B = 1.2, 0.75

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = list(chunks)
        self._terms = [terms(c.text) for c in self.chunks]
        self._idf = idf(self._terms)
        self._mean_len = sum(len(t) for t in self._terms) / len(self._terms)

    def score(self, question: str, index: int) -> float:
        doc = self._terms[index]
        norm = self.K1 * (1 - self.B + self.B * len(doc) / self._mean_len)
        total = 0.0
        for term in set(terms(question)):
            tf = doc.count(term)
            total += self._idf.get(term, 0.0) * tf * (self.K1 + 1) / (tf + norm)
        return total

    def search(self, question: str, top_k: int) -> list[Chunk]:
        """The ``top_k`` best chunks, best first; ties keep document order."""
        ranked = sorted(range(len(self.chunks)), key=lambda i: (-self.score(question, i), i))
        return [self.chunks[i] for i in ranked[:top_k]]
