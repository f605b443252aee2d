"""The LAReQA benchmarks (XQuAD-R, MLQA-R) as typed records.

A LAReQA file is SQuAD JSON with, per paragraph, ``sentences`` and ``sentence_breaks`` (character
ranges into ``context``). The retrieval task built from it (Roy et al., 2020):

- a **candidate** is one sentence of one paragraph, in one language; every sentence of every paragraph
  is a candidate (no de-duplication: XQuAD-R has 13,014, MLQA-R 20,534);
- a **question**'s answer sentence in its own language is the sentence whose break range
  ``[start, end)`` contains the answer's ``answer_start``;
- relevance crosses languages through the question id shared by translations (the *parallel id*):
  the relevant candidates of a question are the answer sentences of its parallel id in every language
  that has that question (11 per query on XQuAD-R, 2 to 4 on MLQA-R).

The candidate's text is the ``sentences`` entry (equal to ``context[start:end]`` except for two
Turkish XQuAD-R sentences whose breaks are off by one character in the source file).

Example::

    >>> ds = load_lareqa("xquad-r", languages=["en", "de"])   # doctest: +SKIP
    >>> q = ds.questions[0]; [ds.candidates[i].lang for i in ds.relevant[q.parallel_id]]  # doctest: +SKIP
    ['en', 'de']
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hybrid_ir.data.sources import resolve_file
from hybrid_ir.errors import HybridIRError

CandidateText = Literal["sentence", "sentence+context"]
CANDIDATE_TEXTS: tuple[str, ...] = ("sentence", "sentence+context")

#: Dataset name -> (folder under the data root, languages in the order LAReQA lists them).
DATASETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "xquad-r": ("lareqa/xquad-r", ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")),
    "mlqa-r": ("lareqa/mlqa-r", ("ar", "de", "en", "es", "hi", "vi", "zh")),
}


@dataclass(frozen=True)
class Question:
    """One question in one language.

    ``id`` is unique in the dataset (``q:<lang>:<parallel_id>``); ``parallel_id`` is the LAReQA
    question id, shared by the translations of the question; ``answer`` is the index (into
    ``LareqaDataset.candidates``) of the answer sentence in the question's own language.
    """

    id: str
    parallel_id: str
    lang: str
    text: str
    article: str
    answer: int


@dataclass(frozen=True)
class Candidate:
    """One candidate sentence: ``id`` is ``c:<lang>:<article>:<paragraph>:<sentence>`` (0-based indices)."""

    id: str
    lang: str
    sentence: str
    context: str
    article: str
    paragraph: int  # index of the paragraph among all paragraphs of this language's file
    position: int  # index of the sentence inside its paragraph

    def text(self, mode: CandidateText = "sentence") -> str:
        """The text to encode: the sentence alone, or LAReQA's sentence followed by its paragraph."""
        if mode == "sentence":
            return self.sentence
        if mode == "sentence+context":
            return f"{self.sentence} {self.context}"
        raise HybridIRError(f"unknown candidate text mode '{mode}'; choose one of {CANDIDATE_TEXTS}")


@dataclass
class LareqaDataset:
    """Questions and candidates of all loaded languages, with cross-language relevance.

    ``relevant[parallel_id]`` lists the candidate indices of the answer sentences of that question in
    every loaded language (sorted by language order).
    """

    name: str
    languages: tuple[str, ...]
    questions: list[Question]
    candidates: list[Candidate]
    relevant: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.relevant:
            groups: dict[str, list[int]] = {}
            for q in self.questions:
                groups.setdefault(q.parallel_id, []).append(q.answer)
            self.relevant = groups

    # ---- views -------------------------------------------------------------------------------
    @property
    def parallel_ids(self) -> list[str]:
        """Distinct parallel ids, in first-seen order."""
        return list(self.relevant)

    def questions_in(self, lang: str) -> list[Question]:
        return [q for q in self.questions if q.lang == lang]

    def candidates_in(self, lang: str) -> list[Candidate]:
        return [c for c in self.candidates if c.lang == lang]

    def relevant_to(self, question: Question) -> list[int]:
        """Candidate indices relevant to ``question`` (its answer sentence in every language)."""
        return self.relevant[question.parallel_id]

    def canonical_articles(self) -> dict[str, str]:
        """parallel id -> normalised article title (the English title when the question has one).

        Titles differ between languages on MLQA-R (each language names its own Wikipedia page), so the
        English one identifies the article; both sets have every question in English.
        """
        out: dict[str, str] = {}
        for q in sorted(self.questions, key=lambda q: q.lang != "en"):
            out.setdefault(q.parallel_id, normalise_title(q.article))
        return out

    def stats(self) -> dict:
        """The summary printed by ``hybrid-ir data stats``."""
        qs = Counter(q.lang for q in self.questions)
        cs = Counter(c.lang for c in self.candidates)
        return {
            "dataset": self.name,
            "questions": len(self.questions),
            "candidates": len(self.candidates),
            "parallel_ids": len(self.relevant),
            "languages": {
                lang: {"questions": qs[lang], "candidates": cs[lang]} for lang in self.languages
            },
        }

    def sample_questions(self, n: int | None, seed: int = 0) -> LareqaDataset:
        """The same candidate pool with the questions of ``n`` random parallel ids (all if None).

        Every language keeps the same parallel ids, so relevance across languages is unchanged; the
        pool is not reduced (metrics over the full pool stay exact for the kept questions).
        """
        if n is None or n >= len(self.relevant):
            return self
        if n < 1:
            raise HybridIRError(f"n must be >= 1 (or None for all), got {n}")
        rng = random.Random(seed)
        keep = set(rng.sample(sorted(self.relevant), n))
        return LareqaDataset(
            self.name,
            self.languages,
            [q for q in self.questions if q.parallel_id in keep],
            self.candidates,
            {pid: rel for pid, rel in self.relevant.items() if pid in keep},
        )

    def export_records(self, candidate_text: CandidateText = "sentence") -> Iterable[dict]:
        """Every query then every candidate as ``{"id", "kind", "lang", "text"}`` (``data export``)."""
        for q in self.questions:
            yield {"id": q.id, "kind": "query", "lang": q.lang, "text": q.text}
        for c in self.candidates:
            yield {"id": c.id, "kind": "candidate", "lang": c.lang, "text": c.text(candidate_text)}


def normalise_title(title: str) -> str:
    """Article titles compared across sets: underscores as spaces, case-folded ("Prime_number" == "prime number")."""
    return " ".join(title.replace("_", " ").split()).casefold()


def dataset_languages(name: str) -> tuple[str, ...]:
    """The languages of a known dataset; raises for an unknown name."""
    try:
        return DATASETS[name][1]
    except KeyError:
        raise HybridIRError(
            f"unknown dataset '{name}'; known datasets: {', '.join(sorted(DATASETS))}"
        ) from None


def check_languages(name: str, languages: Sequence[str] | None) -> tuple[str, ...]:
    """Validate a language selection against a dataset (None = all, in the dataset's order)."""
    known = dataset_languages(name)
    if languages is None:
        return known
    unknown = [lang for lang in languages if lang not in known]
    if unknown:
        raise HybridIRError(
            f"unknown language(s) {unknown} for dataset '{name}'; available: {', '.join(known)}"
        )
    if len(set(languages)) != len(languages):
        raise HybridIRError(f"languages listed twice: {list(languages)}")
    return tuple(lang for lang in known if lang in languages)


def dataset_files(name: str, languages: Sequence[str] | None = None) -> list[str]:
    """Paths (relative to the data root) of the files a dataset needs."""
    langs = check_languages(name, languages)
    folder = DATASETS[name][0]
    return [f"{folder}/{lang}.json" for lang in langs]


def load_lareqa(
    name: str,
    languages: Sequence[str] | None = None,
    data_dir: str | Path | None = None,
) -> LareqaDataset:
    """Load a LAReQA dataset (``"xquad-r"`` or ``"mlqa-r"``), all languages unless ``languages`` is given.

    Files are found by :func:`hybrid_ir.data.sources.resolve_file` (explicit ``data_dir``, then
    ``HYBRID_IR_DATA_DIR``, then a verified download into the cache).
    """
    langs = check_languages(name, languages)
    questions: list[Question] = []
    candidates: list[Candidate] = []
    for lang, rel in zip(langs, dataset_files(name, langs), strict=True):
        path = resolve_file(rel, data_dir)
        _read_language_file(path, lang, questions, candidates)
    order = {lang: i for i, lang in enumerate(langs)}
    relevant: dict[str, list[int]] = {}
    for q in questions:
        relevant.setdefault(q.parallel_id, []).append(q.answer)
    for ids in relevant.values():
        ids.sort(key=lambda i: order[candidates[i].lang])
    return LareqaDataset(name, langs, questions, candidates, relevant)


def _read_language_file(
    path: Path, lang: str, questions: list[Question], candidates: list[Candidate]
) -> None:
    """Append the questions and candidates of one LAReQA JSON file (validated) to the lists."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise HybridIRError(f"{path}: malformed JSON ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise HybridIRError(f"{path}: not UTF-8 text ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise HybridIRError(f"{path}: not a LAReQA/SQuAD file (expected an object with a 'data' list)")
    seen: set[str] = set()
    paragraph_index = 0
    for a, article in enumerate(doc["data"]):
        try:
            title = str(article["title"])
            paragraphs = article["paragraphs"]
        except (KeyError, TypeError) as exc:
            raise HybridIRError(f"{path}: article {a} lacks '{exc}'") from exc
        if not isinstance(paragraphs, list):
            raise HybridIRError(f"{path}: article {a} ('{title}'): 'paragraphs' must be a list")
        for p, para in enumerate(paragraphs):
            where = f"{path}: article {a} ('{title}'), paragraph {p}"
            try:
                context = para["context"]
                sentences = para["sentences"]
                breaks = para["sentence_breaks"]
                qas = para["qas"]
            except (KeyError, TypeError) as exc:
                raise HybridIRError(f"{where} lacks field {exc}") from exc
            _check_paragraph(where, context, sentences, breaks, qas)
            if len(sentences) != len(breaks) or not sentences:
                raise HybridIRError(
                    f"{where}: {len(sentences)} sentences but {len(breaks)} sentence_breaks"
                )
            first = len(candidates)
            for s, sentence in enumerate(sentences):
                candidates.append(
                    Candidate(
                        id=f"c:{lang}:{a}:{p}:{s}",
                        lang=lang,
                        sentence=sentence,
                        context=context,
                        article=title,
                        paragraph=paragraph_index,
                        position=s,
                    )
                )
            for qa in qas:
                try:
                    qid = str(qa["id"])
                    text = qa["question"]
                    start = int(qa["answers"][0]["answer_start"])
                except (KeyError, IndexError, TypeError, ValueError) as exc:
                    raise HybridIRError(f"{where}: malformed question entry ({exc!r})") from exc
                hit = [s for s, (b, e) in enumerate(breaks) if b <= start < e]
                if not hit:
                    raise HybridIRError(
                        f"{where}: the answer of question '{qid}' starts at character {start}, "
                        f"outside every sentence break {breaks}"
                    )
                if qid in seen:
                    raise HybridIRError(f"{path}: question id '{qid}' appears twice")
                seen.add(qid)
                questions.append(
                    Question(
                        id=f"q:{lang}:{qid}",
                        parallel_id=qid,
                        lang=lang,
                        text=text,
                        article=title,
                        answer=first + hit[0],
                    )
                )
            paragraph_index += 1
    if not seen:
        raise HybridIRError(
            f"{path}: no questions; an empty language file would silently drop out of every average"
        )


def _check_paragraph(where: str, context: object, sentences: object, breaks: object, qas: object) -> None:
    """The types a paragraph must have: text, a list of sentences, [start, end) pairs, a list of questions."""
    if not isinstance(context, str):
        raise HybridIRError(f"{where}: 'context' must be text, got {type(context).__name__}")
    if not isinstance(sentences, list) or not all(isinstance(x, str) for x in sentences):
        raise HybridIRError(f"{where}: 'sentences' must be a list of strings")
    if not isinstance(qas, list):
        raise HybridIRError(f"{where}: 'qas' must be a list of questions, got {type(qas).__name__}")
    if not isinstance(breaks, list):
        raise HybridIRError(f"{where}: 'sentence_breaks' must be a list of [start, end] pairs")
    for i, pair in enumerate(breaks):
        ok = (isinstance(pair, list | tuple) and len(pair) == 2
              and all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
              and 0 <= pair[0] < pair[1] <= len(context))
        if not ok:
            raise HybridIRError(
                f"{where}: sentence_breaks[{i}] must be [start, end] with 0 <= start < end <= "
                f"{len(context)} (the context length), got {pair!r}"
            )
