"""The Gradio chat page: streamed answers, clickable ``[n]`` markers and a sources panel.

The page is a thin view over :class:`~assistant.core.Assistant`; it never retrieves or answers on
its own. Two rules shape the code:

* **Nothing from a document or a user is interpreted as markup.** Chat messages are HTML-escaped
  and the chatbot renders them with markdown off; the sources panel is HTML built here from
  escaped pieces only. The ``[n]`` markers become links in the browser (``static/page.js``), which
  wraps text nodes with DOM calls, never ``innerHTML``.
* **The page is self-contained.** Its CSS and JavaScript travel inside the ``Blocks`` (a
  component-level ``head`` and ``js_on_load``), so a plain ``gr.mount_gradio_app(app, page, "/")``
  gives the full page; :func:`mount_page` adds the local-font theme and hides Gradio's footer.

The conversation lives in a ``gr.State`` list of *turns* (question, answer, kind, citations);
the chatbot value and the sources panel are both rendered from it, so marker ``[n]`` of turn
``t`` always finds the element ``#src-t-n``.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI

from assistant.core import Assistant, QuestionError, ServiceUnavailable
from assistant.history import HistoryPolicy
from assistant.settings import Settings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

#: System fonts only: the page must not fetch web fonts (it runs offline, and no request may
#: leave the origin). CJK faces first so Chinese text does not fall back to a Latin-only face.
FONT_STACK: tuple[str, ...] = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Microsoft YaHei",
    "PingFang SC",
    "Source Han Sans SC",
    "system-ui",
    "sans-serif",
)
MONO_STACK: tuple[str, ...] = ("DejaVu Sans Mono", "Consolas", "monospace")

#: Example questions, shown in both languages (they are questions, not interface text).
EXAMPLE_QUESTIONS: tuple[str, ...] = (
    "惠水的土地政策有哪些？",
    "What measures address land for Huishui?",
    "第616号建议是谁提出的？",
    "如何推进要素市场一体化？",
    "联动发展保障机制包括哪些内容？",
)

#: Every interface string, in Chinese (default) and English.
UI_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "page_title": "贵阳市建议提案答复智能问答",
        "title": "贵阳市建议提案答复智能问答",
        "title_alt": "Reply Assistant",
        "tagline": "依据贵阳市对人大代表建议、政协委员提案的正式答复原文回答问题，答案逐句标注出处，点击标记即可核对原文。",
        "lang_label": "界面语言",
        "chat_label": "对话",
        "chat_placeholder": (
            "### 您好，欢迎使用答复智能问答\n\n"
            "- 用日常语言提问，例如某个县区、某项政策或某号建议\n"
            "- 答案摘自答复原文，句末的 [1]、[2] 标记可点击核对出处\n"
            "- 可在下方“检索范围”中限定到某几份答复"
        ),
        "input_label": "您的问题",
        "input_placeholder": "请输入问题，例如：惠水的土地政策有哪些？",
        "send": "发送",
        "clear": "清空对话",
        "examples_label": "示例问题",
        "scope_label": "检索范围",
        "scope_info": "可选择一份或多份答复；不选则检索全部答复。",
        "sources_title": "答案出处",
        "sources_empty": "提问后，这里将列出答案所引用的答复原文段落。点击答案中的 [1]、[2] 等标记，可直接展开对应原文。",
        "sources_hint": "展开可查看原文，黄色底纹为支撑答案的句子。",
        "sources_turn": "问题",
        "sources_earlier": "此前问题的出处",
        "sources_refused": "答复原文中没有找到与该问题相关的内容，因此没有引用出处。",
        "sources_notice": "该问题未能作答，没有引用出处。",
        "sources_pending": "正在检索答复原文……",
        "suggestion": "建议编号",
        "section": "段落",
        "section_whole": "全文概要",
        "marker_label": "出处",
        "error_generic": "抱歉，系统暂时出现问题，请稍后再试。\nSorry, something went wrong. Please try again later.",
        "footer": "本页答案均摘自贵阳市人民政府及相关部门对建议提案的正式答复原文，并逐句标注出处；如有出入，以正式公开的答复文件为准。",
        "open_source": "查看出处",
        "back_to_answer": "↑ 返回答案",
    },
    "en": {
        "page_title": "Reply Assistant · Guiyang Suggestion Replies",
        "title": "Guiyang Reply Assistant",
        "title_alt": "贵阳市建议提案答复智能问答",
        "tagline": "Answers questions from the official replies of the Guiyang government to deputies' suggestions and proposals; every sentence cites its source, and each marker opens the original text.",
        "lang_label": "Language",
        "chat_label": "Conversation",
        "chat_placeholder": (
            "### Welcome to the Reply Assistant\n\n"
            "- Ask in plain words about a county, a policy or a numbered suggestion\n"
            "- Answers are taken from the replies; click a marker such as [1] to check its source\n"
            "- Use “Search scope” below to limit the search to chosen replies"
        ),
        "input_label": "Your question",
        "input_placeholder": "e.g. What measures address land for Huishui?",
        "send": "Send",
        "clear": "Clear conversation",
        "examples_label": "Example questions",
        "scope_label": "Search scope",
        "scope_info": "Pick one or more replies; leave empty to search all replies.",
        "sources_title": "Sources",
        "sources_empty": "After you ask, the passages of the replies that the answer cites are listed here. Click a marker such as [1] in an answer to open its passage.",
        "sources_hint": "Expand a source to read it; sentences that support the answer are highlighted.",
        "sources_turn": "Question",
        "sources_earlier": "Sources of earlier questions",
        "sources_refused": "Nothing in the replies answers this question, so no source is cited.",
        "sources_notice": "This question could not be answered, so no source is cited.",
        "sources_pending": "Searching the replies…",
        "suggestion": "Suggestion",
        "section": "Section",
        "section_whole": "Summary",
        "marker_label": "Source",
        "error_generic": "抱歉，系统暂时出现问题，请稍后再试。\nSorry, something went wrong. Please try again later.",
        "footer": "Answers are extracted from the official replies of the Guiyang Municipal People's Government and its departments, with a citation for every sentence; the published reply documents prevail.",
        "open_source": "Open source",
        "back_to_answer": "↑ Back to the answer",
    },
}

LANGUAGE_CHOICES: list[tuple[str, str]] = [("中文", "zh"), ("English", "en")]

#: Turn kinds; ``page.js`` styles the chat bubble of a turn by its kind.
ANSWER, REFUSAL, NOTICE, PENDING = "answer", "refusal", "notice", "pending"


def ui_text(lang: str) -> dict[str, str]:
    """The string table for ``lang``, Chinese for anything unknown."""
    return UI_TEXT.get(lang, UI_TEXT["zh"])


def escape(text: str) -> str:
    """Escape text for HTML (quotes too, so the result is also safe inside attributes)."""
    return html.escape(text or "", quote=True)


# --------------------------------------------------------------------------------------------
# Rendering: everything below returns HTML built from escaped pieces only.
# --------------------------------------------------------------------------------------------


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
    parts.append("</section>")
    return "".join(parts)


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


def history_from_turns(turns: Sequence[dict[str, Any]], policy: HistoryPolicy) -> list[dict[str, str]]:
    """Earlier question/answer pairs as ``Assistant.stream`` expects them.

    Notices (invalid input, outages) are left out: they are not part of the conversation. The
    history is trimmed to the policy so a long chat never trips the assistant's history limit.
    """
    history: list[dict[str, str]] = []
    for turn in turns:
        if turn.get("kind") not in (ANSWER, REFUSAL):
            continue
        history.append({"role": "user", "content": turn.get("question", "")})
        history.append({"role": "assistant", "content": turn.get("answer", "")})
    return policy.trim(history)


def header_html(lang: str) -> str:
    t = ui_text(lang)
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


def footer_html(lang: str) -> str:
    t = ui_text(lang)
    return f'<footer class="site-footer" role="contentinfo"><p>{escape(t["footer"])}</p></footer>'


def document_choices(assistant: Assistant) -> list[tuple[str, str]]:
    """Picker entries ``(label, doc_id)``; empty when the index cannot be read."""
    try:
        documents = assistant.documents()
    except ServiceUnavailable:
        return []
    except Exception:  # a picker must never take the page down with it
        log.exception("chat page: listing documents failed")
        return []
    choices = []
    for doc in documents:
        label = " ".join(x for x in (doc.get("suggestion_no", ""), doc.get("title", "")) if x)
        choices.append((label or doc["doc_id"], doc["doc_id"]))
    return choices


def _static(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def page_theme() -> gr.themes.Base:
    """Gradio's default theme, in the page's colours and on system fonts only."""
    return gr.themes.Default(
        primary_hue=gr.themes.colors.red,
        secondary_hue=gr.themes.colors.blue,
        neutral_hue=gr.themes.colors.slate,
        font=list(FONT_STACK),
        font_mono=list(MONO_STACK),
        radius_size=gr.themes.sizes.radius_sm,
    )


# --------------------------------------------------------------------------------------------
# The chat flow
# --------------------------------------------------------------------------------------------


class ChatSession:
    """Turns a question into a stream of page updates; one instance serves every visitor.

    Each update is ``(input box value, chatbot messages, turns, sources panel HTML)``.
    """

    def __init__(self, assistant: Assistant, settings: Settings):
        self.assistant = assistant
        self.settings = settings
        self.history_policy = HistoryPolicy.from_settings(settings)

    def respond(
        self,
        message: str | None,
        turns: list[dict[str, Any]] | None,
        doc_ids: list[str] | None,
        lang: str | None,
    ) -> Iterator[tuple[str, list[dict[str, str]], list[dict[str, Any]], str]]:
        lang = lang if lang in UI_TEXT else "zh"
        question = message or ""
        earlier = list(turns or [])
        history = history_from_turns(earlier, self.history_policy)
        filters = {"doc_ids": list(doc_ids)} if doc_ids else None
        turn: dict[str, Any] = {"question": question, "answer": "", "kind": PENDING, "citations": []}

        def update(current: dict[str, Any]):
            now = [*earlier, current]
            return "", chat_messages(now), now, sources_html(now, lang)

        yield update(turn)
        try:
            for event, data in self.assistant.stream(question, history=history, filters=filters):
                if event == "delta":
                    turn = {**turn, "answer": turn["answer"] + data.get("text", "")}
                    yield update(turn)
                elif event == "citations":
                    turn = {**turn, "citations": data.get("citations") or []}
                elif event == "done":
                    refused = bool(data.get("refused"))
                    turn = {
                        **turn,
                        "answer": data.get("answer", turn["answer"]),
                        "kind": REFUSAL if refused else ANSWER,
                        "citations": [] if refused else (data.get("citations") or turn["citations"]),
                    }
                elif event == "error":
                    turn = {**turn, "answer": data.get("message") or ui_text(lang)["error_generic"],
                            "kind": NOTICE, "citations": []}
                    break
        except (QuestionError, ServiceUnavailable) as exc:
            turn = {**turn, "answer": exc.message, "kind": NOTICE, "citations": []}
        except Exception:  # the visitor gets a polite notice, the log gets the traceback
            log.exception("chat page: answering failed")
            turn = {**turn, "answer": ui_text(lang)["error_generic"], "kind": NOTICE, "citations": []}
        if turn["kind"] == PENDING:  # the stream ended without "done": keep what arrived
            turn = {**turn, "kind": ANSWER if turn["answer"] else NOTICE,
                    "answer": turn["answer"] or ui_text(lang)["error_generic"]}
        yield update(turn)

    @staticmethod
    def clear(lang: str | None) -> tuple[str, list, list, str]:
        return "", [], [], sources_html([], lang or "zh")


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def _relabel(lang: str, turns: list[dict[str, Any]] | None) -> tuple[Any, ...]:
    """Updates for every component whose text depends on the language."""
    t = ui_text(lang)
    return (
        header_html(lang),
        gr.update(label=t["chat_label"], placeholder=t["chat_placeholder"]),
        gr.update(label=t["input_label"], placeholder=t["input_placeholder"]),
        gr.update(value=t["send"]),
        gr.update(value=t["clear"]),
        gr.update(label=t["scope_label"], info=t["scope_info"]),
        f'<p class="examples-label">{escape(t["examples_label"])}</p>',
        sources_html(turns or [], lang),
        footer_html(lang),
        gr.update(label=t["lang_label"]),
    )


def build_page(assistant: Assistant, settings: Settings) -> gr.Blocks:
    """The chat page as a ``gr.Blocks``; mount it with :func:`mount_page` or ``gr.mount_gradio_app``.

    The submit event is exposed to API clients as ``/chat`` with inputs
    ``(message, doc_ids, lang)`` (the conversation is kept in session state) and outputs
    ``(input box, chatbot messages, sources panel HTML)``.
    """
    session = ChatSession(assistant, settings)
    t = ui_text("zh")
    assets_head = f"<style>{_static('page.css')}</style>"
    with gr.Blocks(title=t["page_title"], analytics_enabled=False, fill_width=False) as page:
        turns = gr.State([])
        with gr.Row(elem_classes="top-bar", equal_height=True):
            header = gr.HTML(header_html("zh"), elem_id="site-header", elem_classes="header-html",
                             head=assets_head, js_on_load=_static("page.js"))
            lang = gr.Radio(LANGUAGE_CHOICES, value="zh", label=t["lang_label"], elem_id="lang-switch",
                            scale=0, min_width=180)
        with gr.Row(elem_classes="main-row"):
            with gr.Column(scale=3, min_width=340, elem_classes="chat-column"):
                chatbot = gr.Chatbot(
                    value=[],
                    label=t["chat_label"],
                    show_label=False,
                    elem_id="chat",
                    height=520,
                    render_markdown=False,  # message text is never markdown
                    sanitize_html=True,     # and what is left is sanitized as well
                    allow_tags=False,
                    latex_delimiters=[],
                    buttons=["copy"],
                    feedback_options=None,
                    group_consecutive_messages=False,  # one bubble per turn: page.js counts them
                    placeholder=t["chat_placeholder"],  # our own markdown, no user text
                    autoscroll=True,
                )
                with gr.Row(elem_classes="ask-row", equal_height=True):
                    question = gr.Textbox(
                        label=t["input_label"],
                        placeholder=t["input_placeholder"],
                        lines=1,  # Enter sends (a multi-line box would send on Shift+Enter)
                        max_lines=5,
                        max_length=settings.max_question_chars,
                        elem_id="question",
                        scale=5,
                        autofocus=False,
                    )
                    with gr.Column(scale=1, min_width=110, elem_classes="ask-buttons"):
                        send = gr.Button(t["send"], variant="primary", elem_id="send")
                        clear = gr.Button(t["clear"], variant="secondary", elem_id="clear", size="sm")
                examples_label = gr.HTML(f'<p class="examples-label">{escape(t["examples_label"])}</p>',
                                         elem_classes="examples-label-html")
                with gr.Row(elem_classes="examples-row"):
                    chips = [
                        gr.Button(q, size="sm", variant="secondary", elem_classes="example-chip",
                                  scale=0, min_width=0)
                        for q in EXAMPLE_QUESTIONS
                    ]
                scope = gr.Dropdown(
                    choices=document_choices(assistant),
                    value=[],
                    multiselect=True,
                    label=t["scope_label"],
                    info=t["scope_info"],
                    elem_id="scope",
                )
            with gr.Column(scale=2, min_width=320, elem_classes="sources-column"):
                sources = gr.HTML(sources_html([], "zh"), label="sources", elem_id="sources-panel",
                                  js_on_load=None)
        footer = gr.HTML(footer_html("zh"), elem_id="site-footer", js_on_load=None)

        outputs = [question, chatbot, turns, sources]
        # One queue for every way of asking; two at a time on the two cores this runs on.
        send_options: dict[str, Any] = {
            "outputs": outputs, "show_progress": "minimal", "show_progress_on": [chatbot],
            "concurrency_id": "answer", "concurrency_limit": 2,
        }
        asking = [
            question.submit(session.respond, inputs=[question, turns, scope, lang], api_name="chat",
                            **send_options),
            send.click(session.respond, inputs=[question, turns, scope, lang], api_visibility="private",
                       **send_options),
        ]
        asking += [
            chip.click(session.respond, inputs=[chip, turns, scope, lang], api_visibility="private",
                       **send_options)
            for chip in chips
        ]
        # Clearing stops an answer still streaming; the chatbot's own trash button does the same.
        for clearing in (clear.click, chatbot.clear):
            clearing(session.clear, inputs=[lang], outputs=outputs, cancels=asking,
                     api_visibility="private", show_progress="hidden")
        lang.change(
            _relabel,
            inputs=[lang, turns],
            outputs=[header, chatbot, question, send, clear, scope, examples_label, sources, footer, lang],
            api_visibility="private",
            show_progress="hidden",
        )
        # Replies ingested after start-up appear in the picker on the next page load.
        page.load(lambda: gr.update(choices=document_choices(assistant)), outputs=[scope],
                  api_visibility="private", show_progress="hidden")
    return page


def mount_page(app: FastAPI, assistant: Assistant, settings: Settings, path: str = "/") -> FastAPI:
    """Mount the page on ``app`` with the local-font theme and without Gradio's own footer."""
    page = build_page(assistant, settings)
    return gr.mount_gradio_app(app, page, path=path, theme=page_theme(), footer_links=[],
                               run_history=False, show_error=False)
