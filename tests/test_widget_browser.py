"""The embeddable widget in a real Chromium, on host pages of *other* origins.

Three servers on 127.0.0.1: the app (API + widget, real Assistant on the shipped corpus plus a
reply carrying an HTML/JS payload), and two host pages on other ports that embed
``<script src="http://127.0.0.1:API/widget.js">`` — one origin on the allowlist, one not. The
host pages send a strict CSP of their own, so the widget is also shown to work on such sites.

Screenshots: ``artifacts/widget.png`` (answer with an expanded citation), ``widget-refused.png``,
``widget-mobile.png``, ``widget-xss.png``, ``widget-en.png``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Self
from urllib.parse import urlsplit

import pytest
from helpers import API_XSS_QUESTION as XSS_QUESTION
from helpers import HUISHUI, XSS_IMG, XSS_SCRIPT, LiveServer, build_assistant
from servers import CHROMIUM, free_port

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
W = "gov-reply-assistant"  # the widget's host element; Playwright's CSS pierces its open shadow root
ANSWER_TIMEOUT_MS = 90_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]

#: Records CSP violations on the host page (the widget must not cause any).
RECORD_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


class HostPage:
    """A page on its own origin (another port) that embeds the widget, with a strict CSP."""

    def __init__(self, api_url: str):
        from assistant.web.widget import demo_style_hashes, render_demo

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        page = render_demo(f"{api_url}/widget.js").encode("utf-8")
        styles = " ".join(f"'{h}'" for h in demo_style_hashes(page.decode("utf-8")))
        policy = (f"default-src 'self'; script-src 'self' {api_url}; connect-src {api_url}; "
                  f"style-src 'self' {styles}; img-src 'self' data:; object-src 'none'; base-uri 'none'")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Security-Policy", policy)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def sites(tmp_path_factory, model_settings) -> Iterator[SimpleNamespace]:
    assistant = build_assistant(tmp_path_factory, model_settings)
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    allowed, refused = HostPage(api_url), HostPage(api_url)
    with allowed, refused, LiveServer(assistant, port=api_port, allowed_origins=[allowed.origin],
                                      rate_limit_per_minute=1000) as api:
        yield SimpleNamespace(api=api, allowed=allowed, refused=refused, assistant=assistant)


class Visit:
    """One page in a fresh context, recording every request, dialog and CSP violation."""

    def __init__(self, browser, url: str, viewport: dict | None = None, locale: str = "zh-CN",
                 ready: str = f"{W} .launcher"):
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, locale=locale)
        self.context.add_init_script(RECORD_CSP)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", self._dialog)
        self.page.goto(url)
        self.page.wait_for_selector(ready, timeout=30_000)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self) -> None:
        self.page.locator(f"{W} .launcher").click()
        self.page.wait_for_selector(f"{W} .panel", state="visible")

    def ask(self, question: str) -> None:
        box = self.page.locator(f"{W} textarea")
        box.fill(question)
        box.press("Enter")

    def wait_for_reply(self) -> None:
        self.page.wait_for_selector(f"{W} .msg.bot:not(.pending):not(.welcome)", timeout=ANSWER_TIMEOUT_MS)

    def shadow_active(self) -> str:
        """Class of the focused element inside the widget ('' when focus is elsewhere)."""
        return self.page.evaluate(
            f"() => {{ const h = document.querySelector('{W}'); const a = h && h.shadowRoot.activeElement;"
            " return a ? a.className || a.tagName : ''; }")

    def check_clean(self) -> None:
        """No dialog fired, no CSP violation, and every request went to 127.0.0.1."""
        assert self.dialogs == [], f"a dialog fired: {self.dialogs}"
        assert self.page.evaluate("window.__csp") == []
        hosts = {urlsplit(u).hostname for u in self.requests if u.startswith("http")}
        assert hosts == {"127.0.0.1"}, hosts

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser):
    opened: list[Visit] = []

    def _open(url: str, **kwargs) -> Visit:
        v = Visit(browser, url, **kwargs)
        opened.append(v)
        return v

    yield _open
    for v in opened:
        v.close()


def test_widget_answers_on_an_allowed_origin(sites, visit):
    v = visit(sites.allowed.url)
    page = v.page
    v.open()
    assert v.shadow_active() == "input", "opening the panel focuses the question box"

    page.locator(f"{W} .chip", has_text=HUISHUI).click()
    v.wait_for_reply()
    reply = page.locator(f"{W} .msg.bot").last
    assert "answer" in (reply.get_attribute("class") or ""), reply.inner_text()
    markers = reply.locator(".answer .cite")
    assert markers.count() >= 1, reply.inner_text()

    markers.first.click()
    card = reply.locator(".card:not([hidden])")
    card.wait_for(state="visible")
    assert markers.first.get_attribute("aria-expanded") == "true"
    assert "第616号" in card.locator(".card-meta").inner_text()
    assert card.locator(".card-title").inner_text().strip().startswith("[")
    assert card.locator("mark").count() >= 1, "the supporting sentences are highlighted"
    section_text = card.locator(".card-text").inner_text()
    assert card.locator("mark").first.inner_text() in section_text and len(section_text) > 20
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget.png"))

    # The conversation survives a reload (sessionStorage), and Esc closes and returns focus.
    page.reload()
    page.wait_for_selector(f"{W} .launcher")
    v.open()
    assert page.locator(f"{W} .msg.user", has_text=HUISHUI).count() == 1
    assert page.locator(f"{W} .msg.bot.answer .cite").count() >= 1
    page.keyboard.press("Escape")
    page.wait_for_selector(f"{W} .panel", state="hidden")
    assert "launcher" in v.shadow_active()
    v.check_clean()


def test_widget_on_a_refused_origin_says_so_and_gets_no_answer(sites, visit):
    v = visit(sites.refused.url)
    page = v.page
    v.open()
    notice = page.locator(f"{W} .notice")
    notice.wait_for(state="visible", timeout=30_000)
    assert "未获授权" in notice.inner_text()
    assert page.locator(f"{W} .send").is_disabled()
    assert page.locator(f"{W} .chip").count() == 0  # the examples come from the server it may not call
    page.locator(f"{W} textarea").press("Enter")
    page.wait_for_timeout(500)
    assert page.locator(f"{W} .msg.bot.answer").count() == 0
    assert page.locator(f"{W} .msg.user").count() == 0
    page.screenshot(path=str(ARTIFACTS / "widget-refused.png"))
    v.check_clean()


def test_document_markup_is_shown_as_text(sites, visit):
    v = visit(sites.allowed.url)
    page = v.page
    v.open()
    v.ask(XSS_QUESTION)
    v.wait_for_reply()
    reply = page.locator(f"{W} .msg.bot").last
    assert "answer" in (reply.get_attribute("class") or ""), reply.inner_text()
    for marker in reply.locator(".sources .src-chip").all():
        marker.click()
    shown = reply.inner_text()
    assert XSS_IMG in shown or XSS_SCRIPT in shown, shown
    counts = page.evaluate(
        f"() => {{ const r = document.querySelector('{W}').shadowRoot;"
        " return [r.querySelectorAll('img, script, iframe, object').length, document.images.length]; }")
    assert counts == [0, 0], "no element was created from document text"
    page.wait_for_timeout(500)  # give a stray onerror handler every chance to fire
    page.screenshot(path=str(ARTIFACTS / "widget-xss.png"))
    v.check_clean()


def test_widget_is_full_screen_on_a_phone(sites, visit):
    v = visit(sites.allowed.url, viewport={"width": 375, "height": 740})
    page = v.page
    v.open()
    box = page.locator(f"{W} .panel").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 375, "height": 740}
    v.ask(HUISHUI)
    v.wait_for_reply()
    page.screenshot(path=str(ARTIFACTS / "widget-mobile.png"))
    page.locator(f"{W} .close").click()
    page.wait_for_selector(f"{W} .launcher", state="visible")
    v.check_clean()


def test_focus_is_trapped_and_language_switches(sites, visit):
    v = visit(sites.allowed.url)
    page = v.page
    v.open()
    for _ in range(12):
        page.keyboard.press("Tab")
        inside = page.evaluate(
            f"() => {{ const r = document.querySelector('{W}').shadowRoot;"
            " const a = r.activeElement; return !!a && r.querySelector('.panel').contains(a); }")
        assert inside, "Tab keeps focus inside the open panel"

    page.locator(f"{W} .lang").click()
    assert page.locator(f"{W} .title").inner_text() == "Reply Assistant"
    assert page.locator(f"{W} .send").inner_text() == "Send"
    assert page.locator(f"{W} .chip", has_text="What measures address land for Huishui?").count() == 1
    page.locator(f"{W} .chip", has_text="What measures address land for Huishui?").click()
    v.wait_for_reply()
    page.screenshot(path=str(ARTIFACTS / "widget-en.png"))
    page.reload()
    page.wait_for_selector(f"{W} .launcher")
    assert page.locator(f"{W} .launcher").inner_text().strip() == "Ask", "the language is remembered"
    page.locator(f"{W} .launcher").click()
    page.locator(f"{W} .clear").click()
    assert page.locator(f"{W} .msg.user").count() == 0
    assert page.locator(f"{W} .welcome").count() == 1
    v.check_clean()


def test_demo_page_and_chat_page_run_under_their_csp(sites, visit):
    """Same origin: /widget/demo under the app's own CSP, and the Gradio page without violations."""
    v = visit(f"{sites.api.url}/widget/demo")
    v.open()
    v.ask(HUISHUI)
    v.wait_for_reply()
    assert v.page.locator(f"{W} .msg.bot.answer .cite").count() >= 1
    v.check_clean()

    chat = visit(f"{sites.api.url}/", ready="gradio-app #chat")
    chat.page.wait_for_timeout(2000)
    chat.check_clean()


def test_widget_explains_the_rate_limit(sites, visit):
    with LiveServer(sites.assistant, rate_limit_per_minute=1) as limited:
        v = visit(f"{limited.url}/widget/demo")
        v.open()
        v.ask(HUISHUI)
        v.wait_for_reply()
        v.ask("那龙里呢？")
        v.page.wait_for_selector(f"{W} .msg.bot.error", timeout=30_000)
        message = v.page.locator(f"{W} .msg.bot.error").inner_text()
        assert "太频繁" in message and "秒" in message, message
        assert v.dialogs == []


def test_widget_sends_at_most_what_the_server_policy_allows(sites, visit):
    """The widget trims the history to the server's policy (GET /api/config), not to constants of its own."""
    with LiveServer(sites.assistant, rate_limit_per_minute=1000, max_history_turns=3,
                    max_history_message_chars=40, max_question_chars=300) as strict:
        v = visit(f"{strict.url}/widget/demo")
        sent: list[dict] = []
        v.page.on("request", lambda r: sent.append(r.post_data_json) if "/api/chat/stream?" in r.url else None)
        v.open()
        v.page.wait_for_function(
            f"() => document.querySelector('{W}').shadowRoot.querySelector('textarea').maxLength === 300")
        for i, question in enumerate([HUISHUI, "那龙里呢？", "那长顺呢？"], start=1):
            v.ask(question)
            v.page.wait_for_function(
                f"(n) => document.querySelector('{W}').shadowRoot"
                ".querySelectorAll('.msg.bot:not(.pending):not(.welcome)').length >= n", arg=i,
                timeout=ANSWER_TIMEOUT_MS)
        assert v.page.locator(f"{W} .msg.bot.error").count() == 0
        assert [len(body["history"]) for body in sent] == [0, 2, 2], sent
        last = sent[-1]["history"]  # 4 earlier messages; the policy keeps 3 and drops the leading answer
        assert [m["role"] for m in last] == ["user", "assistant"] and last[0]["content"] == "那龙里呢？"
        assert all(0 < len(m["content"]) <= 40 for body in sent for m in body["history"])
        assert any(r.endswith("/api/config") for r in v.requests)
        v.check_clean()
