"""The chat page's HTML: the sources panel, the chat messages, header and footer.

Everything here returns HTML built from escaped pieces only: nothing from a document or a user is
interpreted as markup. The ``[n]`` markers become links in the browser (``static/page.js``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from assistant.web.page_text import NEUTRAL, Branding, ui_text

#: Turn kinds; ``page.js`` styles the chat bubble of a turn by its kind.
ANSWER, REFUSAL, NOTICE, PENDING = "answer", "refusal", "notice", "pending"


def escape(text: str) -> str:
    """Escape text for HTML (quotes too, so the result is also safe inside attributes)."""
    return html.escape(text or "", quote=True)



def merge_spans(spans: Sequence[Sequence[int]], length: int) -> list[tuple[int, int]]:
    """Clip highlight offsets to ``[0, length]`` and merge overlaps, so marks never nest."""
    clipped = sorted(
        (max(0, int(s)), min(length, int(e))) for s, e in (tuple(x)[:2] for x in spans) if int(e) > int(s)
    )
    merged: list[tuple[int, int]] = []
    for start, end in clipped:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlight_html(text: str, highlights: Sequence[Sequence[int]]) -> str:
    """``text`` escaped, with the supporting sentences wrapped in ``<mark>``."""
    out: list[str] = []
    pos = 0
    for start, end in merge_spans(highlights, len(text)):
        out.append(escape(text[pos:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def citation_html(turn_index: int, citation: dict[str, Any], lang: str, open_: bool = False) -> str:
    """One cited section as a ``<details>`` whose id the marker links point at."""
    t = ui_text(lang)
    marker = int(citation.get("marker", 0))
    section = citation.get("section") or t["section_whole"]
    meta = [escape(citation["suggestion_no"])] if citation.get("suggestion_no") else []
    meta.append(escape(section))
    body = highlight_html(citation.get("text", ""), citation.get("highlights") or [])
    return (
        f'<details class="source" id="src-{turn_index}-{marker}" data-marker="{marker}"'
        f' data-doc-id="{escape(citation.get("doc_id", ""))}"'
        f'{" open" if open_ else ""}>'
        f'<summary><span class="source-marker" aria-label="{escape(t["marker_label"])} {marker}">'
        f"[{marker}]</span>"
        f'<span class="source-head"><span class="source-title">{escape(citation.get("doc_title", ""))}</span>'
        f'<span class="source-meta">{" · ".join(meta)}</span></span></summary>'
        f'<div class="source-text">{body}</div>'
        f'<a class="back-to-answer" href="#chat" data-turn="{turn_index}" data-marker="{marker}">'
        f'{escape(t["back_to_answer"])}</a></details>'
    )


def turn_sources_html(index: int, turn: dict[str, Any], lang: str) -> str:
    """The sources block of one turn: its question, then its citations (or why there are none)."""
    t = ui_text(lang)
    kind = turn.get("kind", ANSWER)
    parts = [
        f'<section class="turn-sources" id="turn-{index}" data-turn="{index}" data-kind="{escape(kind)}">',
        (
            f'<p class="turn-question"><span class="turn-label">{escape(t["sources_turn"])} {index + 1}</span>'
            f"{escape(turn.get('question', ''))}</p>"
        ),
    ]
    citations = sorted(turn.get("citations") or [], key=lambda c: int(c.get("marker", 0)))
    if citations:
        parts.append('<ol class="source-list">')
        parts.extend(f"<li>{citation_html(index, c, lang)}</li>" for c in citations)
        parts.append("</ol>")
    elif kind == PENDING:
        parts.append(f'<p class="turn-note">{escape(t["sources_pending"])}</p>')
    elif kind == REFUSAL:
        parts.append(f'<p class="turn-note is-refusal">{escape(t["sources_refused"])}</p>')
    else:
        parts.append(f'<p class="turn-note">{escape(t["sources_notice"])}</p>')
    parts.append(feedback_html(turn, lang))
    parts.append("</section>")
    return "".join(parts)


def feedback_html(turn: dict[str, Any], lang: str) -> str:
    """👍/👎 and an optional comment under a logged answer; ``page.js`` posts them to ``/api/feedback``."""
    answer_id = turn.get("answer_id")
    if not answer_id or turn.get("kind") not in (ANSWER, REFUSAL):
        return ""
    t = ui_text(lang)
    buttons = "".join(
        f'<button type="button" class="fb-btn" data-rating="{rating}" aria-label="{escape(t[key])}" '
        f'title="{escape(t[key])}">{icon} {escape(t[key])}</button>'
        for rating, key, icon in (("up", "feedback_up", "👍"), ("down", "feedback_down", "👎")))
    return (
        f'<div class="feedback" data-answer-id="{escape(answer_id)}">'
        f'<span class="fb-ask">{escape(t["feedback_ask"])}</span>{buttons}'
        f'<input class="fb-comment" type="text" maxlength="500" placeholder="{escape(t["feedback_comment"])}" '
        f'aria-label="{escape(t["feedback_comment"])}">'
        '<span class="fb-status" role="status"></span></div>'
    )


def sources_html(turns: Sequence[dict[str, Any]], lang: str) -> str:
    """The sources panel: the latest turn's sources first, earlier turns folded below.

    ``data-turn-kinds`` lists every turn's kind in chat order; ``page.js`` reads it to style
    refusals and notices in the chat.
    """
    t = ui_text(lang)
    kinds = " ".join(turn.get("kind", ANSWER) for turn in turns)
    parts = [
        f'<div class="sources-panel" data-turn-kinds="{escape(kinds)}" data-lang="{escape(lang)}">',
        f'<h2 class="panel-title">{escape(t["sources_title"])}</h2>',
    ]
    if not turns:
        parts.append(f'<p class="sources-empty">{escape(t["sources_empty"])}</p>')
    else:
        parts.append(f'<p class="sources-hint">{escape(t["sources_hint"])}</p>')
        last = len(turns) - 1
        parts.append(turn_sources_html(last, turns[last], lang))
        if last > 0:
            parts.append(
                f'<details class="earlier-turns"><summary>{escape(t["sources_earlier"])}</summary>'
            )
            parts.extend(turn_sources_html(i, turns[i], lang) for i in range(last - 1, -1, -1))
            parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)


_LIST_ITEM = re.compile(r"(?m)^- ")


def answer_display(text: str) -> str:
    """An answer as the chat shows it: escaped, with list items as bullets (markdown is off)."""
    return html.escape(_LIST_ITEM.sub("• ", text), quote=False)


def chat_messages(turns: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """The chatbot value: escaped text, so the chatbot shows tags in documents as text.

    A pending turn with no text yet contributes only its question, which makes Gradio show its
    typing indicator until the first words arrive.
    """
    messages: list[dict[str, str]] = []
    for turn in turns:
        if turn.get("question", "").strip():  # a blank question gets its notice but no empty bubble
            messages.append({"role": "user", "content": html.escape(turn["question"], quote=False)})
        if turn.get("answer") or turn.get("kind") != PENDING:
            messages.append({"role": "assistant", "content": answer_display(turn.get("answer", ""))})
    return messages


def header_html(lang: str, brand: Branding = NEUTRAL) -> str:
    t = ui_text(lang, brand)
    return (
        '<header class="site-header" role="banner">'
        '<div class="site-header-inner">'
        '<div class="site-mark" aria-hidden="true"><span>答</span></div>'
        '<div class="site-titles">'
        f'<h1 class="site-title">{escape(t["title"])}'
        f'<span class="site-title-alt"> / {escape(t["title_alt"])}</span></h1>'
        f'<p class="site-tagline">{escape(t["tagline"])}</p>'
        "</div></div></header>"
    )


def footer_html(lang: str, brand: Branding = NEUTRAL) -> str:
    t = ui_text(lang, brand)
    return f'<footer class="site-footer" role="contentinfo"><p>{escape(t["footer"])}</p></footer>'

