"""Polite refusals in the question's language, naming what the replies do cover."""

from __future__ import annotations

import re

from assistant.index.search_index import Snapshot
from assistant.retrieval.hybrid import Retrieval

MAX_TOPICS = 6
_LABEL = re.compile(r"^\s*(?:[一二三四五六七八九十百]+、|[(（][一二三四五六七八九十\d]+[)）]|\d+[.．、])\s*")
_LLM_REFUSALS = ("现有答复中没有涉及", "没有涉及这个问题", "do not cover this question", "don't cover this question")


def covered_topics(snapshot: Snapshot) -> list[str]:
    """Headings of the replies' sections (the replies first), e.g. "推进要素市场一体化建设"."""
    cache = getattr(snapshot, "_topics", None)
    if cache is not None:
        return cache
    topics: list[str] = []
    replies = {d for d, rec in snapshot.documents.items() if rec.suggestion_no}
    docs = sorted(snapshot.by_doc, key=lambda d: (d not in replies, d))
    # Chunks built one at a time, only until enough topics are found (``by_doc`` lists them in order).
    for chunk in (snapshot.chunks[c] for d in docs for c in snapshot.by_doc[d]):
        head = chunk.index_text.split("\n", 1)[0]
        for part in head.split(" > ")[1:]:
            name = _LABEL.sub("", part).strip("：: ")
            name = re.sub(r"^关于[“\"]?(.*?)[”\"]?的建议$", r"\1", name)
            if 2 <= len(name) <= 24 and name not in topics:
                topics.append(name)
        if len(topics) >= MAX_TOPICS:
            break
    snapshot._topics = topics  # type: ignore[attr-defined]
    return topics


def message(found: Retrieval, snapshot: Snapshot, language: str) -> str:
    topics = covered_topics(snapshot)
    if found.reason == "empty_index":
        return ("抱歉，答复库中还没有任何文件，请先导入答复文件。" if language == "zh"
                else "Sorry, no reply documents have been loaded yet.")
    if found.reason == "unknown_number":
        number = found.evidence.get("number", "")
        known = "、".join(sorted(snapshot.by_number)) or "无"
        if language == "zh":
            return f"抱歉，现有答复中没有{number}建议的答复。目前收录的建议编号有：{known}。"
        return (f"Sorry, there is no reply to suggestion {number} among the documents. "
                f"The replies on file are for: {known}.")
    if found.reason == "no_document":  # the caller's filters leave no document to search
        criteria = found.evidence["filters"].describe(language)
        if language == "zh":
            return f"抱歉，现有答复中没有符合筛选条件（{criteria}）的文件，请放宽条件后再问。"
        return f"Sorry, no reply on file matches the filters ({criteria}); try wider filters."
    if language == "zh":
        text = "抱歉，现有答复文件中没有找到与您的问题相关的内容，无法据此作答。"
        if topics:
            text += "目前收录的答复主要涉及：" + "；".join(topics) + "。"
        return text + "您可以换个问法，或向相关部门咨询。"
    text = "Sorry, the reply documents on file do not cover this question, so I cannot answer it from them."
    if topics:
        text += " They mainly cover: " + "; ".join(topics) + "."
    return text + " You could rephrase the question or contact the relevant department."


def is_llm_refusal(text: str) -> bool:
    return any(p in text for p in _LLM_REFUSALS) and len(text) < 200
