"""Validates the evaluation question sets in eval/questions/.

The retrieval metric counts a question as found when a top-k source contains one of its
``sources_contain`` phrases (NFKC, white space removed). A phrase that is missing from the
source text makes a question impossible to pass, and a phrase that also occurs in a wrong
section (or in another work report, or in the news distractors) lets a wrong source pass; both
would silently corrupt every figure the evaluation reports, so they are checked here against
the real texts.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "questions"
SEED_FILE = QUESTIONS / "seed-616.jsonl"
REPORTS_FILE = QUESTIONS / "work-reports.jsonl"
HOLDOUT_FILES = sorted((ROOT / "eval" / "holdout").glob("seed-616-*.jsonl"))  # over the seed reply
#: Blind sets over the fictional replies-dev documents (their own gold rule: its README).
REPLIES_DEV_HOLDOUT_FILES = sorted((ROOT / "eval" / "holdout").glob("replies-dev-*.jsonl"))
SEED_TEXT = ROOT / "corpus" / "reply-616-guiyang.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"
REPLIES_DEV_DOCS = SHARED_DATA / "replies-dev" / "docs"
REPORTS_DIR = SHARED_DATA / "gov-work-reports"
NEWS_FILE = SHARED_DATA / "crud-news" / "news-20k.jsonl.gz"

MIN_PHRASE, MAX_PHRASE = 4, 15
EXAMPLE_QUESTION = "what measures address land for 惠水?"

#: Where each part of the seed reply starts, in document order; a part runs to the next start.
#: The (一)/(二)/(三) sub-headings are parts of their own so that a phrase from one of them is
#: not mistaken for a phrase of the item before it.
SEED_PARTS: list[tuple[str, str]] = [
    ("header", "贵阳市人民政府关于"),
    ("addressee", "凌毅代表:"),
    ("intro", "自2017年"),
    ("一、", "一、关于"),
    ("一、(一)", "(一)加快"),
    ("一、(一) 一是", "一是构建"),
    ("一、(一) 二是", "二是探索"),
    ("一、(一) 三是", "三是谋划"),
    ("一、(二)", "(二)推进"),
    ("一、(二) 一是", "一是加大"),
    ("一、(二) 二是", "二是加快推动"),
    ("一、(二) 三是", "三是推动城市群内数据"),
    ("一、(三)", "(三)提升"),
    ("一、(三) 一是", "一是精简"),
    ("一、(三) 二是", "二是建立跨地区"),
    ("一、(三) 三是", "三是联合开展"),
    ("一、(三) 四是", "四是统一监管"),
    ("三、", "三、关于"),
    ("三、一是", "一是加强组织"),
    ("三、二是", "二是强化规划"),
    ("三、三是", "三是健全协同"),
    ("三、四是", "四是完善考核"),
    ("三、五是", "五是扩大社会"),
    ("closing", "衷心感谢"),
]
#: Parts that are only a short sub-heading: no question has to target them.
HEADING_ONLY = {"一、(一)", "一、(二)", "一、(三)"}


def normalize(text: str) -> str:
    """The metric's comparison form: NFKC, all white space removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def load(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@cache
def seed_questions() -> tuple[dict, ...]:
    return tuple(load(SEED_FILE))


@cache
def holdout_questions() -> tuple[dict, ...]:
    return tuple(q for path in HOLDOUT_FILES for q in load(path))


@cache
def report_questions() -> tuple[dict, ...]:
    return tuple(load(REPORTS_FILE))


@cache
def seed_parts() -> tuple[tuple[str, str], ...]:
    """(name, normalised text) of each part of the seed reply."""
    text = normalize(SEED_TEXT.read_text(encoding="utf-8"))
    starts: list[tuple[str, int]] = []
    cursor = 0
    for name, marker in SEED_PARTS:
        pos = text.find(normalize(marker), cursor)
        assert pos >= 0, f"seed reply changed: cannot find the start of {name} ({marker})"
        starts.append((name, pos))
        cursor = pos + 1
    assert starts[0][1] == 0
    bounds = [pos for _, pos in starts] + [len(text)]
    return tuple((name, text[bounds[i] : bounds[i + 1]]) for i, (name, _) in enumerate(starts))


@cache
def reports() -> dict[str, str]:
    if not REPORTS_DIR.is_dir():
        pytest.skip(f"work reports not found at {REPORTS_DIR}")
    found = {p.name[:4]: normalize(p.read_text(encoding="utf-8")) for p in sorted(REPORTS_DIR.glob("*.txt"))}
    assert len(found) == 11, sorted(found)
    return found


@cache
def news_text() -> str:
    if not NEWS_FILE.is_file():
        pytest.skip(f"news distractors not found at {NEWS_FILE}")
    with gzip.open(NEWS_FILE, "rt", encoding="utf-8") as f:
        return "\n".join(normalize(json.loads(line)["text"]) for line in f)


def seed_homes(phrase: str) -> list[str]:
    """Names of the seed parts that contain the phrase."""
    p = normalize(phrase)
    return [name for name, text in seed_parts() if p in text]


def answerable(questions) -> list[dict]:
    return [q for q in questions if q["expected"]["answerable"]]


def phrases(questions) -> set[str]:
    return {p for q in questions for p in q["expected"]["sources_contain"]}


# ---------------------------------------------------------------- schema


@pytest.mark.parametrize("loader", [seed_questions, report_questions, holdout_questions],
                         ids=["seed", "reports", "holdout"])
def test_schema(loader) -> None:
    for q in loader():
        assert set(q) == {"id", "question", "history", "lang", "topic", "expected"}, q
        assert isinstance(q["id"], str) and q["id"]
        assert isinstance(q["question"], str) and q["question"].strip()
        assert q["lang"] in {"zh", "en"}, q["id"]
        assert isinstance(q["topic"], str) and q["topic"], q["id"]
        exp = q["expected"]
        assert set(exp) == {"answerable", "sources_contain"}, q["id"]
        assert isinstance(exp["answerable"], bool)
        assert isinstance(exp["sources_contain"], list)
        if exp["answerable"]:
            assert exp["sources_contain"], f"{q['id']}: answerable but no phrase"
        else:
            assert exp["sources_contain"] == [], f"{q['id']}: unanswerable questions list no phrase"
        for p in exp["sources_contain"]:
            assert isinstance(p, str)
            assert MIN_PHRASE <= len(normalize(p)) <= MAX_PHRASE, f"{q['id']}: phrase length {p!r}"
        assert len(set(map(normalize, exp["sources_contain"]))) == len(exp["sources_contain"]), q["id"]


@pytest.mark.parametrize("loader", [seed_questions, report_questions, holdout_questions],
                         ids=["seed", "reports", "holdout"])
def test_history_is_alternating_prior_turns(loader) -> None:
    for q in loader():
        history = q["history"]
        assert isinstance(history, list)
        assert len(history) in {0, 2, 4}, f"{q['id']}: history holds 1–2 prior turns"
        for i, msg in enumerate(history):
            assert set(msg) == {"role", "content"}, q["id"]
            assert msg["role"] == ("user" if i % 2 == 0 else "assistant"), q["id"]
            assert msg["content"].strip(), q["id"]


def test_ids_unique_and_prefixed() -> None:
    ids = [q["id"] for q in seed_questions() + report_questions() + holdout_questions()]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert all(q["id"].startswith("s616-") for q in seed_questions() + holdout_questions())
    assert all(q["id"].startswith("wr-") for q in report_questions())


def test_questions_not_duplicated() -> None:
    for questions in (seed_questions(), report_questions()):
        keys = [
            (normalize(q["question"]).lower(), json.dumps(q["history"], ensure_ascii=False))
            for q in questions
        ]
        assert len(keys) == len(set(keys))


def test_files_are_utf8_without_escapes() -> None:
    # ensure_ascii=False keeps the files readable by the people who review the questions
    for path in (SEED_FILE, REPORTS_FILE, *HOLDOUT_FILES, *REPLIES_DEV_HOLDOUT_FILES):
        assert "\\u" not in path.read_text(encoding="utf-8"), path


# ---------------------------------------------------------------- counts


def test_seed_counts() -> None:
    qs = seed_questions()
    assert len(qs) >= 70
    assert sum(q["lang"] == "en" for q in qs) >= 20
    assert sum(q["lang"] == "zh" for q in qs) >= len(qs) // 2
    assert sum(bool(q["history"]) and q["expected"]["answerable"] for q in qs) >= 12
    unanswerable = [q for q in qs if not q["expected"]["answerable"]]
    assert len(unanswerable) >= 12
    assert {q["lang"] for q in unanswerable} == {"zh", "en"}


def test_report_counts() -> None:
    qs = report_questions()
    assert len(answerable(qs)) >= 35
    assert sum(not q["expected"]["answerable"] for q in qs) >= 5
    assert {q["lang"] for q in answerable(qs)} == {"zh", "en"}


def test_example_question_present() -> None:
    [q] = [q for q in seed_questions() if q["question"] == EXAMPLE_QUESTION]
    homes = {h for p in q["expected"]["sources_contain"] for h in seed_homes(p)}
    assert homes == {"三、三是", "一、(二) 二是"}


# ---------------------------------------------------------------- phrases vs. the seed reply


def test_seed_phrases_occur_in_exactly_one_part() -> None:
    for q in answerable(seed_questions() + holdout_questions()):
        for p in q["expected"]["sources_contain"]:
            homes = seed_homes(p)
            assert homes, f"{q['id']}: {p!r} is not in the seed reply"
            assert len(homes) == 1, f"{q['id']}: {p!r} occurs in several parts {homes}"


def test_every_seed_part_is_asked_about() -> None:
    covered = {h for p in phrases(answerable(seed_questions())) for h in seed_homes(p)}
    wanted = {name for name, _ in SEED_PARTS} - HEADING_ONLY
    assert wanted <= covered, sorted(wanted - covered)


def test_follow_ups_cover_several_parts() -> None:
    follow_ups = [q for q in answerable(seed_questions()) if q["history"]]
    homes = {h for q in follow_ups for p in q["expected"]["sources_contain"] for h in seed_homes(p)}
    assert len(homes) >= 8, homes


def test_seed_phrases_absent_from_work_reports() -> None:
    texts = reports()
    for p in phrases(seed_questions()):
        hits = [year for year, text in texts.items() if normalize(p) in text]
        assert not hits, f"seed phrase {p!r} also occurs in work reports {hits}"


# ---------------------------------------------------------------- phrases vs. the work reports


def test_report_phrases_occur_in_exactly_one_report() -> None:
    texts = reports()
    seed = normalize(SEED_TEXT.read_text(encoding="utf-8"))
    for q in answerable(report_questions()):
        years = set()
        for p in q["expected"]["sources_contain"]:
            hits = [year for year, text in texts.items() if normalize(p) in text]
            assert len(hits) == 1, f"{q['id']}: {p!r} occurs in reports {hits}"
            assert normalize(p) not in seed, f"{q['id']}: {p!r} also occurs in the seed reply"
            years.update(hits)
        assert len(years) == 1, f"{q['id']}: phrases point at different reports {sorted(years)}"


def test_report_questions_name_their_year() -> None:
    # a question that needs its year must say it, in the question or in the history
    texts = reports()
    for q in answerable(report_questions()):
        p = q["expected"]["sources_contain"][0]
        [year] = [y for y, text in texts.items() if normalize(p) in text]
        asked = q["question"] + " ".join(m["content"] for m in q["history"])
        asks_for_year = any(w in q["question"].lower() for w in ("哪一年", "哪年", "which year"))
        assert year in asked or asks_for_year, f"{q['id']}: the question needs its year ({year})"


# ---------------------------------------------------------------- phrases vs. distractors


def test_phrases_absent_from_news_distractors() -> None:
    # the news set is mixed into retrieval evaluations; a phrase found there would let a wrong
    # source count as a hit
    news = news_text()
    for p in phrases(seed_questions()) | phrases(report_questions()):
        assert normalize(p) not in news, f"{p!r} occurs in the news distractors"


# ---------------------------------------------------------------- blind sets over replies-dev


def test_every_holdout_file_is_validated() -> None:
    every = sorted((ROOT / "eval" / "holdout").glob("*.jsonl"))
    assert every == sorted(HOLDOUT_FILES + REPLIES_DEV_HOLDOUT_FILES), "a holdout file no test checks"


@cache
def replies_dev_texts() -> dict[str, str]:
    """Each replies-dev document's text as the loaders read it (its own encoding, HTML as text), normalised."""
    from assistant.reading.loaders import load_file

    if not REPLIES_DEV_DOCS.is_dir():
        pytest.skip(f"replies-dev not found at {REPLIES_DEV_DOCS}")
    texts = {p.name: normalize(load_file(p)[0].text) for p in sorted(REPLIES_DEV_DOCS.iterdir())}
    assert len(texts) == 20, sorted(texts)
    return texts


@pytest.mark.parametrize("path", [*REPLIES_DEV_HOLDOUT_FILES, QUESTIONS / "replies-dev-g.jsonl"], ids=lambda p: p.stem)
def test_replies_dev_holdout_follows_the_gold_rule(path: Path) -> None:
    """replies-dev's gold rule (its README): each phrase 6–20 characters, in exactly one document, once;
    all phrases of a question in the same document; answerable iff phrases. The seed reply counts as one
    more document of the corpus (set D also asks about it): a phrase in it must be in no replies-dev one."""
    from assistant.evaluation.questions import KINDS, load_questions

    assert load_questions(path)  # the evaluation reads it (kinds valid, ids unique)
    texts = {**replies_dev_texts(), SEED_TEXT.name: normalize(SEED_TEXT.read_text(encoding="utf-8"))}
    for q in load(path):
        assert q["id"].startswith(("rdh-", "rdg-")) and q.get("kind") in KINDS, q["id"]
        exp = q["expected"]
        assert exp["answerable"] is (q["kind"] != "unanswerable"), q["id"]
        if q["kind"] != "unanswerable":  # a follow-up may ask what the reply does not say
            assert bool(q["history"]) is (q["kind"] == "follow_up"), q["id"]
        homes = set()
        for phrase in exp["sources_contain"]:
            p = normalize(phrase)
            assert 6 <= len(p) <= 20, f"{q['id']}: phrase length {phrase!r}"
            found = [name for name, text in texts.items() if p in text]
            assert len(found) == 1 and texts[found[0]].count(p) == 1, f"{q['id']}: {phrase!r} in {found}"
            homes.update(found)
        assert len(homes) <= 1, f"{q['id']}: phrases in several documents {sorted(homes)}"
