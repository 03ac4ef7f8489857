"""The Gradio chat page: its HTML rendering (escaping, highlights, history) and a real round trip.

The round trip serves the page with uvicorn on 127.0.0.1 over the real ``Assistant`` on the shipped
corpus (plus one reply whose text carries an XSS payload) and calls the chat endpoint with
``gradio_client``, as any API client of the page would.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import ThreadedServer, free_port

# Belt and braces: the page already builds its Blocks with analytics off.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
HUISHUI = "惠水的土地政策有哪些？"
XSS_QUESTION = "白云区垃圾分类投放点怎么建设？"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(2)</script>"

#: A reply in the shipped format whose title and text carry markup that must stay text.
XSS_REPLY = f"""贵阳市白云区人民政府关于第999号代表建议的答复<b>测试</b>
代表提案者: 王测试{XSS_IMG}
会议届次: 市十五届人大三次会议
建议提案标题: 关于加强白云区垃圾分类工作的建议
建议提案编号: 第999号
主办单位: 贵阳市白云区人民政府
会办单位: 贵阳市城市管理局
复文标题: 贵阳市白云区人民政府关于第999号代表建议的答复<b>测试</b>
答复内容:
王测试代表:
您提出的《关于加强白云区垃圾分类工作的建议》收悉。现将办理情况答复如下:
一、关于垃圾分类设施建设
一是在白云区各街道增设垃圾分类投放点{XSS_IMG},并为每个投放点配备分类督导员。二是对厨余垃圾实行定时定点收运{XSS_SCRIPT},推动厨余垃圾资源化利用。
二、关于垃圾分类宣传教育
一是开展垃圾分类进社区、进学校活动,发放垃圾分类宣传手册。二是建立垃圾分类积分奖励制度。
衷心感谢您对白云区工作的关心和支持。
"""


# --------------------------------------------------------------------------------------------
# Helpers shared with test_page_browser.py
# --------------------------------------------------------------------------------------------


def write_corpus(folder: Path) -> Path:
    """The shipped corpus plus the XSS reply, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in CORPUS.iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    (folder / "reply-999-xss-test.txt").write_text(XSS_REPLY, encoding="utf-8")
    return folder


def build_assistant(tmp_path_factory, model_settings, embedder):
    """A real Assistant (extractive answers) over the corpus, in a fresh data directory."""
    from assistant.core import Assistant

    work = tmp_path_factory.mktemp("page")
    settings = model_settings.with_overrides(
        data_dir=work / "data",
        # the embedding cache shared with the other tests: unchanged chunks are not re-embedded
        embedding_cache_path=model_settings.models_dir.parent / "embeddings.sqlite3",
    )
    assistant = Assistant(settings, embedder)
    report = assistant.ingest([write_corpus(work / "corpus")])
    assert not report.failed, report.failed
    return assistant


def page_only_app(assistant):
    """Just the page, mounted at "/" of a bare FastAPI app (no API, no security middleware)."""
    import gradio as gr
    from fastapi import FastAPI

    from assistant.web.page import build_page

    return gr.mount_gradio_app(FastAPI(), build_page(assistant, assistant.settings), path="/")


class PageServer(ThreadedServer):
    """A FastAPI app served by uvicorn in a thread on 127.0.0.1 and a free port; ``url`` ends in "/"."""

    def __init__(self, app):
        super().__init__(app)
        self.url += "/"


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
    from assistant.web.page import highlight_html

    text = f"甲句。{XSS_IMG}乙句。丙句。"
    start = text.index("乙")
    out = highlight_html(text, [(start, start + 3), (start + 1, start + 3), (999, 1000), (5, 2)])
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert out.count("<mark>") == 1 and "<mark>乙句。</mark>" in out


def test_sources_panel_escapes_titles_and_text_and_links_markers():
    from assistant.web.page import sources_html

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
    from assistant.web.page import sources_html

    turns = [
        {"question": "a", "answer": "x", "kind": "answer", "citations": []},
        {"question": "b", "answer": "no", "kind": "refusal", "citations": []},
        {"question": "", "answer": "请输入", "kind": "notice", "citations": []},
    ]
    out = sources_html(turns, "en")
    assert 'data-turn-kinds="answer refusal notice"' in out
    assert 'data-lang="en"' in out and "Sources of earlier questions" in out


def test_chat_messages_escape_and_skip_blank_questions():
    from assistant.web.page import chat_messages

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
    from assistant.web.page import answer_display

    assert answer_display("标题\n- 一是 <i>x</i> [1]\n- 二是 [2]") == "标题\n• 一是 &lt;i&gt;x&lt;/i&gt; [1]\n• 二是 [2]"


def test_history_keeps_answers_drops_notices_and_fits_the_limit():
    from assistant.web.page import history_from_turns

    turns = [{"question": f"q{i}", "answer": f"a{i}", "kind": "answer", "citations": []} for i in range(5)]
    turns.insert(2, {"question": "", "answer": "请输入", "kind": "notice", "citations": []})
    history = history_from_turns(turns, max_messages=20)
    assert len(history) == 10 and all(m["content"] != "请输入" for m in history)
    short = history_from_turns(turns, max_messages=3)
    assert [m["role"] for m in short] == ["user", "assistant"] and short[0]["content"] == "q4"
    assert history_from_turns(turns, max_messages=0) == []


def test_every_interface_string_exists_in_both_languages():
    from assistant.web.page import UI_TEXT

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
    from assistant.core import Assistant, ServiceUnavailable
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
