"""The Gradio chat page: streamed answers, clickable ``[n]`` markers and a sources panel.

The page is a thin view over :class:`~assistant.core.Assistant`; it never retrieves or answers on
its own. Two rules shape the code:

* **Nothing from a document or a user is interpreted as markup.** Chat messages are HTML-escaped
  and the chatbot renders them with markdown off; the sources panel is HTML built from escaped
  pieces only (:mod:`.page_html`). The ``[n]`` markers become links in the browser
  (``static/page.js``), which wraps text nodes with DOM calls, never ``innerHTML``.
* **The page is self-contained.** Its CSS and JavaScript travel inside the ``Blocks`` (a
  component-level ``head`` and ``js_on_load``), so a plain ``gr.mount_gradio_app(app, page, "/")``
  gives the full page; :func:`mount_page` adds the local-font theme and hides Gradio's footer.

The conversation lives in a ``gr.State`` list of *turns* (question, answer, kind, citations);
the chatbot value and the sources panel are both rendered from it, so marker ``[n]`` of turn
``t`` always finds the element ``#src-t-n``. The history sent with a question follows the one
history policy (:mod:`assistant.history`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
from fastapi import FastAPI

from assistant.core import Assistant
from assistant.errors import QuestionError, ServiceUnavailable
from assistant.history import HistoryPolicy
from assistant.settings import Settings
from assistant.web.page_html import (
    ANSWER,
    NOTICE,
    PENDING,
    REFUSAL,
    chat_messages,
    escape,
    footer_html,
    header_html,
    sources_html,
)
from assistant.web.page_text import LANGUAGE_CHOICES, UI_TEXT, Branding, input_placeholder, ui_text

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

    def __init__(self, assistant: Assistant, settings: Settings, stream=None):
        self.assistant = assistant
        self.stream = stream or assistant.stream  # the web app's logs each answer (channel "page")
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
            for event, data in self.stream(question, history=history, filters=filters):
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
                        "answer_id": data.get("answer_id"),
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


def _relabel(lang: str, turns: list[dict[str, Any]] | None, examples: list[str],
             brand: Branding) -> tuple[Any, ...]:
    """Updates for every component whose text depends on the language."""
    t = ui_text(lang)
    return (
        header_html(lang, brand),
        gr.update(label=t["chat_label"], placeholder=t["chat_placeholder"]),
        gr.update(label=t["input_label"], placeholder=input_placeholder(lang, examples)),
        gr.update(value=t["send"]),
        gr.update(value=t["clear"]),
        gr.update(label=t["scope_label"], info=t["scope_info"]),
        _examples_label(lang),
        sources_html(turns or [], lang),
        footer_html(lang, brand),
        gr.update(label=t["lang_label"]),
    )



def branding(settings: Settings) -> Branding:
    """The office's name as the deployment's settings give it (neutral texts when unset)."""
    return Branding(settings.office_name, settings.office_name_en)


def _examples_label(lang: str) -> str:
    return f'<p class="examples-label">{escape(ui_text(lang)["examples_label"])}</p>'


def _chat_column(assistant: Assistant, settings: Settings, t: dict[str, str]) -> SimpleNamespace:
    """The chat, the question box with its buttons, the example questions and the scope picker."""
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
            placeholder=input_placeholder("zh", settings.examples()),
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
    examples_label = gr.HTML(_examples_label("zh"), elem_classes="examples-label-html")
    with gr.Row(elem_classes="examples-row"):
        chips = [gr.Button(q, size="sm", variant="secondary", elem_classes="example-chip", scale=0, min_width=0)
                 for q in settings.examples()]
    scope = gr.Dropdown(choices=document_choices(assistant), value=[], multiselect=True,
                        label=t["scope_label"], info=t["scope_info"], elem_id="scope")
    return SimpleNamespace(chatbot=chatbot, question=question, send=send, clear=clear,
                           examples_label=examples_label, chips=chips, scope=scope)


def _layout(assistant: Assistant, settings: Settings) -> SimpleNamespace:
    """Every component of the page, in page order, in the Chinese interface."""
    t = ui_text("zh")
    turns = gr.State([])
    with gr.Row(elem_classes="top-bar", equal_height=True):
        header = gr.HTML(header_html("zh", branding(settings)), elem_id="site-header", elem_classes="header-html",
                         head=f"<style>{_static('page.css')}</style>", js_on_load=_static("page.js"))
        lang = gr.Radio(LANGUAGE_CHOICES, value="zh", label=t["lang_label"], elem_id="lang-switch",
                        scale=0, min_width=180)
    with gr.Row(elem_classes="main-row"):
        with gr.Column(scale=3, min_width=340, elem_classes="chat-column"):
            ui = _chat_column(assistant, settings, t)
        with gr.Column(scale=2, min_width=320, elem_classes="sources-column"):
            sources = gr.HTML(sources_html([], "zh"), label="sources", elem_id="sources-panel",
                              js_on_load=None)
    footer = gr.HTML(footer_html("zh", branding(settings)), elem_id="site-footer", js_on_load=None)
    return SimpleNamespace(**vars(ui), turns=turns, header=header, lang=lang, sources=sources, footer=footer)


def _wire(page: gr.Blocks, ui: SimpleNamespace, session: ChatSession, assistant: Assistant) -> None:
    """The events: asking (box, button, example chips), clearing, switching language, loading."""
    outputs = [ui.question, ui.chatbot, ui.turns, ui.sources]
    # One queue for every way of asking; two at a time on the two cores this runs on.
    send_options: dict[str, Any] = {
        "outputs": outputs, "show_progress": "minimal", "show_progress_on": [ui.chatbot],
        "concurrency_id": "answer", "concurrency_limit": 2,
    }
    context = [ui.turns, ui.scope, ui.lang]
    asking = [
        ui.question.submit(session.respond, inputs=[ui.question, *context], api_name="chat", **send_options),
        ui.send.click(session.respond, inputs=[ui.question, *context], api_visibility="private",
                      **send_options),
    ]
    asking += [chip.click(session.respond, inputs=[chip, *context], api_visibility="private", **send_options)
               for chip in ui.chips]
    # Clearing stops an answer still streaming; the chatbot's own trash button does the same.
    for clearing in (ui.clear.click, ui.chatbot.clear):
        clearing(session.clear, inputs=[ui.lang], outputs=outputs, cancels=asking,
                 api_visibility="private", show_progress="hidden")
    examples = session.settings.examples()
    ui.lang.change(
        lambda lang, turns: _relabel(lang, turns, examples, branding(session.settings)),
        inputs=[ui.lang, ui.turns],
        outputs=[ui.header, ui.chatbot, ui.question, ui.send, ui.clear, ui.scope, ui.examples_label,
                 ui.sources, ui.footer, ui.lang],
        api_visibility="private",
        show_progress="hidden",
    )
    # Replies ingested after start-up appear in the picker on the next page load.
    page.load(lambda: gr.update(choices=document_choices(assistant)), outputs=[ui.scope],
              api_visibility="private", show_progress="hidden")


def build_page(assistant: Assistant, settings: Settings, stream=None) -> gr.Blocks:
    """The chat page as a ``gr.Blocks``; mount it with :func:`mount_page` or ``gr.mount_gradio_app``.

    The submit event is exposed to API clients as ``/chat`` with inputs
    ``(message, doc_ids, lang)`` (the conversation is kept in session state) and outputs
    ``(input box, chatbot messages, sources panel HTML)``.
    """
    session = ChatSession(assistant, settings, stream)
    with gr.Blocks(title=ui_text("zh", branding(settings))["page_title"], analytics_enabled=False, fill_width=False) as page:
        _wire(page, _layout(assistant, settings), session, assistant)
    return page


def mount_page(app: FastAPI, assistant: Assistant, settings: Settings, path: str = "/",
               stream=None) -> FastAPI:
    """Mount the page on ``app`` with the local-font theme and without Gradio's own footer; ``stream``
    (default ``assistant.stream``) answers, e.g. an :class:`~assistant.web.answer_log.AnswerRecorder`'s."""
    page = build_page(assistant, settings, stream)
    return gr.mount_gradio_app(app, page, path=path, theme=page_theme(), footer_links=[],
                               run_history=False, show_error=False)
