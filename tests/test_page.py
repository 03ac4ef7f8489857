"""The Gradio chat page: its HTML rendering (escaping, highlights, history) and a real round trip.

The round trip serves the page with uvicorn on 127.0.0.1 over the real ``Assistant`` on the shipped
corpus (plus the probe replies of tests/fixtures/replies, whose text carries XSS payloads) and calls
the chat endpoint with ``gradio_client``, as any API client of the page would.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from helpers import HUISHUI, XSS_IMG, XSS_SCRIPT, PageServer, build_assistant
from helpers import PAGE_XSS_QUESTION as XSS_QUESTION
from servers import free_port

# Belt and braces: the page already builds its Blocks with analytics off.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def page_only_app(assistant):
    """Just the page, mounted at "/" of a bare FastAPI app (no API, no security middleware)."""
    import gradio as gr
    from fastapi import FastAPI

    from assistant.web.page import build_page

    return gr.mount_gradio_app(FastAPI(), build_page(assistant, assistant.settings), path="/")


def message_text(message: dict) -> str:
    """Text of a chatbot message as gradio_client returns it (a string or a list of parts)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


# --------------------------------------------------------------------------------------------
# Rendering (pure functions)
# --------------------------------------------------------------------------------------------


def test_highlights_are_marked_and_everything_is_escaped():
    from assistant.web.page_html import highlight_html

    text = f"甲句。{XSS_IMG}乙句。丙句。"
    start = text.index("乙")
    out = highlight_html(text, [(start, start + 3), (start + 1, start + 3), (999, 1000), (5, 2)])
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert out.count("<mark>") == 1 and "<mark>乙句。</mark>" in out


def test_sources_panel_escapes_titles_and_text_and_links_markers():
    from assistant.web.page_html import sources_html

    citation = {"marker": 2, "chunk_id": "c", "doc_id": 'd"x', "doc_title": f"标题{XSS_SCRIPT}",
                "suggestion_no": "第999号", "section": "一、一是", "text": f"文本{XSS_IMG}",
                "highlights": [[0, 2]]}
    turns = [{"question": f"问{XSS_IMG}", "answer": "答 [2]", "kind": "answer", "citations": [citation]}]
    out = sources_html(turns, "zh")
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;" in out and "&lt;img" in out
    assert 'id="src-0-2"' in out and 'data-doc-id="d&quot;x"' in out
    assert 'data-turn-kinds="answer"' in out and "<mark>文本</mark>" in out


def test_refusals_and_notices_are_marked_for_the_page_script():
    from assistant.web.page_html import sources_html

    turns = [
        {"question": "a", "answer": "x", "kind": "answer", "citations": []},
        {"question": "b", "answer": "no", "kind": "refusal", "citations": []},
        {"question": "", "answer": "请输入", "kind": "notice", "citations": []},
    ]
    out = sources_html(turns, "en")
    assert 'data-turn-kinds="answer refusal notice"' in out
    assert 'data-lang="en"' in out and "Sources of earlier questions" in out


def test_logged_answers_and_refusals_get_rating_buttons_notices_do_not():
    from assistant.web.page_html import feedback_html, sources_html

    answered = {"question": "a", "answer": "x", "kind": "answer", "citations": [], "answer_id": "0" * 24}
    assert 'data-answer-id="000000000000000000000000"' in sources_html([answered], "zh")
    assert feedback_html({**answered, "kind": "refusal"}, "en").count('class="fb-btn"') == 2
    assert feedback_html({**answered, "kind": "notice"}, "zh") == ""
    assert feedback_html({**answered, "answer_id": None}, "zh") == "", "not logged: nothing to rate"
    assert XSS_IMG not in feedback_html({**answered, "answer_id": XSS_IMG}, "zh")


def test_chat_messages_escape_and_skip_blank_questions():
    from assistant.web.page_html import chat_messages

    turns = [
        {"question": XSS_IMG, "answer": "<b>x</b> [1]", "kind": "answer", "citations": []},
        {"question": "  ", "answer": "请输入您的问题。", "kind": "notice", "citations": []},
        {"question": "pending", "answer": "", "kind": "pending", "citations": []},
    ]
    messages = chat_messages(turns)
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant", "user"]
    assert messages[0]["content"] == "&lt;img src=x onerror=alert(1)&gt;"
    assert messages[1]["content"] == "&lt;b&gt;x&lt;/b&gt; [1]"


def test_answer_list_items_show_as_bullets_but_nothing_else_changes():
    from assistant.web.page_html import answer_display

    assert answer_display("标题\n- 一是 <i>x</i> [1]\n- 二是 [2]") == "标题\n• 一是 &lt;i&gt;x&lt;/i&gt; [1]\n• 二是 [2]"


def test_history_keeps_answers_drops_notices_and_fits_the_limit():
    from assistant.history import HistoryPolicy
    from assistant.web.page import history_from_turns

    turns = [{"question": f"q{i}", "answer": f"a{i}", "kind": "answer", "citations": []} for i in range(5)]
    turns.insert(2, {"question": "", "answer": "请输入", "kind": "notice", "citations": []})
    history = history_from_turns(turns, HistoryPolicy(max_messages=20, max_message_chars=100))
    assert len(history) == 10 and all(m["content"] != "请输入" for m in history)
    short = history_from_turns(turns, HistoryPolicy(max_messages=3, max_message_chars=100))
    assert [m["role"] for m in short] == ["user", "assistant"] and short[0]["content"] == "q4"
    assert history_from_turns(turns, HistoryPolicy(max_messages=0, max_message_chars=100)) == []
    turns[-1]["answer"] = "答" * 30
    assert history_from_turns(turns, HistoryPolicy(max_messages=2, max_message_chars=8))[-1]["content"] == "答" * 8


def test_every_interface_string_exists_in_both_languages():
    from assistant.web.page_text import UI_TEXT

    assert set(UI_TEXT["zh"]) == set(UI_TEXT["en"])
    assert all(UI_TEXT["zh"][k] and UI_TEXT["en"][k] for k in UI_TEXT["zh"])


# --------------------------------------------------------------------------------------------
# The real round trip
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_assistant(tmp_path_factory, model_settings, embedder):
    return build_assistant(tmp_path_factory, model_settings, embedder)


@pytest.fixture(scope="module")
def page_url(page_assistant) -> Iterator[str]:
    with PageServer(page_only_app(page_assistant)) as server:
        yield server.url


@pytest.fixture
def client_for(page_url):
    """``client_for()`` → a fresh gradio_client session on the page (closed after the test)."""
    from gradio_client import Client

    clients = []

    def make():
        clients.append(Client(page_url, verbose=False, download_files=False))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def test_chat_endpoint_answers_with_markers_and_sources(client_for):
    box, messages, panel = client_for().predict(HUISHUI, [], "zh", api_name="/chat")
    assert box == ""
    assert [m["role"] for m in messages] == ["user", "assistant"]
    answer = message_text(messages[-1])
    markers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer)})
    assert markers and markers[0] == 1, answer
    for n in markers:  # every marker has its source in the panel
        assert f'id="src-0-{n}"' in panel
    assert 'data-turn-kinds="answer"' in panel and "土地" in panel and "<mark>" in panel
    assert "第616号" in panel


def test_follow_up_keeps_the_conversation(client_for):
    client = client_for()
    client.predict(HUISHUI, [], "zh", api_name="/chat")
    _, messages, panel = client.predict("那长顺呢？", [], "zh", api_name="/chat")
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    assert 'id="turn-1"' in panel and "earlier-turns" in panel and 'id="turn-0"' in panel


def test_english_question_gets_an_english_panel(client_for):
    _, messages, panel = client_for().predict(
        "What measures address land for Huishui?", [], "en", api_name="/chat"
    )
    assert "[1]" in message_text(messages[-1])
    assert "Sources" in panel and 'id="src-0-1"' in panel


@pytest.mark.parametrize("question, words", [("   ", "请输入"), ("问" * 5000, "太长")])
def test_invalid_questions_get_a_polite_notice(client_for, question, words):
    _, messages, panel = client_for().predict(question, [], "zh", api_name="/chat")
    notice = message_text(messages[-1])
    assert messages[-1]["role"] == "assistant" and words in notice
    assert "Traceback" not in notice and 'data-turn-kinds="notice"' in panel


def test_unanswerable_question_is_a_refusal_without_sources(client_for):
    _, messages, panel = client_for().predict("深圳地铁十六号线的票价是多少？", [], "zh", api_name="/chat")
    assert 'data-turn-kinds="refusal"' in panel
    assert 'id="src-' not in panel and message_text(messages[-1])


def test_document_text_with_markup_stays_text(client_for):
    _, messages, panel = client_for().predict(XSS_QUESTION, [], "zh", api_name="/chat")
    assert "第999号" in panel, panel
    assert "<img" not in panel and "<script" not in panel and "<b>" not in panel
    assert "&lt;img src=x onerror=alert(1)&gt;" in panel or "&lt;script&gt;" in panel
    assert "<img" not in message_text(messages[-1]) and "<script" not in message_text(messages[-1])


def test_picker_limits_the_search_to_chosen_replies(page_assistant, client_for):
    doc_ids = {d["suggestion_no"]: d["doc_id"] for d in page_assistant.documents()}
    only_616 = [doc_ids["第616号"]]
    _, _, panel = client_for().predict(XSS_QUESTION, only_616, "zh", api_name="/chat")
    cited = set(re.findall(r'data-doc-id="([^"]*)"', panel))
    assert cited <= set(only_616)
    assert "第999号" not in panel


def test_a_store_that_is_down_gives_a_clear_notice(page_assistant):
    """The page's chat flow against an assistant whose Chroma server is not there."""
    from assistant.core import Assistant
    from assistant.errors import ServiceUnavailable
    from assistant.web.page import ChatSession

    # the same index, but its vectors behind a server address where nothing listens
    dead = page_assistant.settings.with_overrides(chroma_url=f"http://127.0.0.1:{free_port()}")
    try:
        assistant = Assistant(dead, page_assistant.embedder)
    except ServiceUnavailable as exc:  # refusing to start is also a clear failure, just earlier
        pytest.skip(f"the assistant refuses to start without its store: {exc.message}")
    updates = list(ChatSession(assistant, dead).respond(HUISHUI, [], None, "zh"))
    _, _, turns, panel = updates[-1]
    assert turns[-1]["kind"] == "notice" and turns[-1]["answer"]
    assert "Traceback" not in turns[-1]["answer"] and 'data-turn-kinds="notice"' in panel


def test_example_questions_come_from_settings_or_the_shipped_file(tmp_path):
    """Examples are data, not code: the shipped file by default, the setting when given; the question
    box's hint is the first example in the page's language (a plain hint when there is none)."""
    from assistant.settings import Settings
    from assistant.web.page_text import input_placeholder

    shipped = Settings(data_dir=tmp_path).examples()
    assert shipped and all(q.strip() == q and q for q in shipped)
    mine = Settings(data_dir=tmp_path, example_questions=["How are taxes shared?", "税收怎么分成？"]).examples()
    assert mine == ["How are taxes shared?", "税收怎么分成？"]
    assert input_placeholder("zh", mine) == "请输入问题，例如：税收怎么分成？"
    assert input_placeholder("en", mine) == "e.g. How are taxes shared?"
    assert input_placeholder("en", ["税收怎么分成？"]) == "Type your question"
