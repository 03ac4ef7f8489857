"""Browser security in a real Chromium: headers, framing, and XSS that never runs.

One app (``create_app``: page, API, widget, security layer) serves the shipped corpus plus a
reply whose title, header fields, headings and sentences are XSS payloads. Questions carrying
payloads are asked on the Gradio page at ``/`` and in the widget on ``/widget/demo``; every
source is opened. A payload "works" if it opens a dialog, sets ``window.__pwned``, puts an
element with an ``xss-`` id into the DOM (shadow roots included), makes a request to another
host, or even just trips the CSP (which would mean it reached the DOM as markup): none may happen.

Headers are read as the browser received them: a CSP on every document that allows only the
origin's own resources (no other host, no ``'unsafe-inline'`` scripts), ``nosniff`` on every
response, and frame rules that stop another site from framing the page.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlsplit

import pytest
import servers
from servers import CHROMIUM

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
W = "gov-reply-assistant"
ANSWER_TIMEOUT_MS = 90_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]

#: Each payload, if it ever ran or became markup, would leave a trace the checks below find.
PWN = "window.__pwned=(window.__pwned||0)+1;alert(document.domain)"
PAYLOADS = [
    f"<script id=xss-script>{PWN}</script>",
    f"<img id=xss-img src=x onerror=\"{PWN}\">",
    f"<svg id=xss-svg onload=\"{PWN}\"></svg>",
    f"<iframe id=xss-iframe src=\"javascript:{PWN}\"></iframe>",
    f"\"><img id=xss-attr src=x onerror={PWN}>",
    f"</textarea></script><script id=xss-close>{PWN}</script>",
    f"<a id=xss-link href=\"javascript:{PWN}\">点这里</a>",
    f"[点这里](javascript:{PWN})",
    "![图](https://evil.example/pixel.png)",
    "<base id=xss-base href=\"https://evil.example/\">",
    "<meta id=xss-meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">",
    "<form id=xss-form action=\"https://evil.example/\"><input type=submit></form>",
    f"<details id=xss-details open ontoggle=\"{PWN}\">",
    "<style id=xss-style>body{display:none}</style>",
    f"{{{{constructor.constructor('{PWN}')()}}}}",
    f"&lt;img id=xss-entity src=x onerror={PWN}&gt;",
]

XSS_TOPIC = "网页安全演练"
HOSTILE_REPLY = f"""贵阳市大数据发展管理局关于市十五届人大三次会议第9998号代表建议的答复
代表提案者: 安全<b id=xss-proposer>测试</b>{PAYLOADS[1]}
会议届次: 市十五届人大三次会议{PAYLOADS[0]}
建议提案标题: 关于加强{XSS_TOPIC}的建议{PAYLOADS[2]}
建议提案编号: 第9998号
主办单位: 贵阳市大数据发展管理局{PAYLOADS[4]}
会办单位: 贵阳市委网信办
复文标题: 贵阳市大数据发展管理局关于{XSS_TOPIC}建议的答复<script id=xss-title>{PWN}</script>
答复内容:
安全测试代表:
您提出的《关于加强{XSS_TOPIC}的建议》收悉。现将办理情况答复如下:
一、关于{XSS_TOPIC}样例文本{PAYLOADS[5]}
{"".join(f"{XSS_TOPIC}样例文本之{i + 1}为{p}。" for i, p in enumerate(PAYLOADS))}
二、关于{XSS_TOPIC}结果通报<img id=xss-heading src=x onerror="{PWN}">
每季度通报一次{XSS_TOPIC}结果，样例文本在页面上应当按原样显示为文字。
衷心感谢您对网页安全工作的关心和支持!
"""
XSS_QUESTION = f"{XSS_TOPIC}的样例文本有哪些？"
QUESTION_PAYLOADS = [
    f"<img id=xss-q1 src=x onerror=\"{PWN}\">{XSS_TOPIC}的样例文本有哪些？",
    f"<script id=xss-q2>{PWN}</script>惠水的土地政策有哪些？",
    f"\"><svg id=xss-q3 onload={PWN}>[链接](javascript:{PWN})",
]

#: Installed before any page script: records CSP violations and makes alert() leave a trace too.
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));
"""

#: Elements with an xss- id anywhere, including open shadow roots (the widget's).
FIND_INJECTED = """() => {
  const found = [];
  const walk = (root) => {
    root.querySelectorAll('[id^="xss-"]').forEach(e => found.push(e.tagName + '#' + e.id));
    root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot); });
  };
  walk(document);
  return found;
}"""


@pytest.fixture(scope="module")
def app(tmp_path_factory, seed_settings, embedder) -> Iterator[SimpleNamespace]:
    from test_api import LiveServer

    from assistant.core import Assistant

    corpus = tmp_path_factory.mktemp("xss-corpus")
    for path in (ROOT / "corpus").iterdir():
        (corpus / path.name).write_bytes(path.read_bytes())
    (corpus / "reply-9998-xss.txt").write_text(HOSTILE_REPLY, encoding="utf-8")
    settings = seed_settings.with_overrides(data_dir=tmp_path_factory.mktemp("xss-data"))
    assistant = Assistant(settings, embedder)
    assert not assistant.ingest([corpus]).failed
    with LiveServer(assistant, rate_limit_per_minute=10_000) as server:
        yield SimpleNamespace(url=server.url, assistant=assistant)


class Visit:
    """A page in a fresh context that records dialogs, requests and every response's headers."""

    def __init__(self, browser, url: str, ready: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.responses: list[tuple[str, str, dict[str, str]]] = []  # url, resource type, headers
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("response", lambda r: self.responses.append(
            (r.url, r.request.resource_type, r.all_headers())))
        self.main = self.page.goto(url)
        self.page.wait_for_selector(ready, timeout=60_000)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def assert_nothing_ran(self, origin: str) -> None:
        page = self.page
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"
        assert page.evaluate("window.__pwned") is None, "a payload ran"
        assert page.evaluate(FIND_INJECTED) == [], "a payload became an element"
        assert page.evaluate("window.__csp") == [], "a payload reached the DOM as markup (CSP blocked it)"
        host = urlsplit(origin).hostname
        away = [u for u in self.requests if u.startswith("http") and urlsplit(u).hostname != host]
        assert not away, f"requests left the origin: {away}"

    def close(self) -> None:
        self.context.close()


def csp_directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def assert_own_origin_only(policy: str) -> dict[str, list[str]]:
    """Every source in the policy is this origin, a hash, a keyword, or data:/blob: — no host."""
    directives = csp_directives(policy)
    assert "default-src" in directives, policy
    for name, sources in directives.items():
        for source in sources:
            ok = (source in ("'self'", "'none'", "'unsafe-eval'", "data:", "blob:")
                  or source.startswith("'sha256-")
                  or (source == "'unsafe-inline'" and name == "style-src"))
            assert ok, f"{name} allows {source}: {policy}"
    script = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in script
    assert directives.get("object-src", directives["default-src"]) == ["'none'"] or \
        directives["default-src"] == ["'none'"]
    assert "frame-ancestors" in directives and "*" not in directives["frame-ancestors"]
    assert "base-uri" in directives
    return directives


def test_security_headers_on_the_page_the_widget_demo_and_the_api(app, browser):
    visit = Visit(browser, f"{app.url}/", "gradio-app #chat")
    try:
        headers = visit.main.all_headers()
        page_policy = assert_own_origin_only(headers["content-security-policy"])
        assert page_policy["frame-ancestors"] == ["'self'"]
        assert headers["x-frame-options"] == "SAMEORIGIN"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")
        # Everything the page loaded carries nosniff (scripts, styles, JSON, the config …).
        loaded = [(u, t, h) for u, t, h in visit.responses if u.startswith(app.url)]
        assert len(loaded) > 5
        for url, kind, h in loaded:
            if kind in ("document", "script", "stylesheet", "fetch", "xhr"):
                assert h.get("x-content-type-options") == "nosniff", url
            if kind == "document":
                assert_own_origin_only(h["content-security-policy"])
        visit.assert_nothing_ran(app.url)
    finally:
        visit.close()

    demo = Visit(browser, f"{app.url}/widget/demo", f"{W} .launcher")
    try:
        widget_policy = assert_own_origin_only(demo.main.all_headers()["content-security-policy"])
        assert widget_policy["script-src"] == ["'self'"]
        demo.assert_nothing_ran(app.url)
    finally:
        demo.close()

    # The API: nothing may load or run, and nothing may frame it.
    import httpx

    with httpx.Client(base_url=app.url, timeout=60) as client:
        for method, path, body in (("GET", "/readyz", None), ("GET", "/api/documents", None),
                                   ("POST", "/api/chat", {"question": XSS_QUESTION}),
                                   ("GET", "/widget.js", None)):
            response = client.request(method, path, json=body)
            assert response.status_code == 200, (path, response.text[:200])
            directives = csp_directives(response.headers["content-security-policy"])
            assert directives["default-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"], path
            assert response.headers["x-content-type-options"] == "nosniff", path
    record_figures("headers", {"page_csp": headers["content-security-policy"],
                               "x_frame_options": headers["x-frame-options"]})


def test_xss_in_questions_and_documents_never_runs_on_the_chat_page(app, browser):
    visit = Visit(browser, f"{app.url}/", "gradio-app #chat")
    page = visit.page
    try:
        for question in [XSS_QUESTION, *QUESTION_PAYLOADS]:
            before = page.locator('#chat [data-testid="bot"]').count()
            page.fill("#question textarea", question)
            page.press("#question textarea", "Enter")
            page.wait_for_function(
                """(n) => {
                    const p = document.querySelector('#sources-panel .sources-panel');
                    const kinds = p ? p.dataset.turnKinds.split(' ').filter(Boolean) : [];
                    return kinds.length === n && kinds[n - 1] !== 'pending';
                }""", arg=before + 1, timeout=ANSWER_TIMEOUT_MS)
        for details in page.locator("#sources-panel details").all():
            details.evaluate("d => d.open = true")
        page.wait_for_timeout(500)
        shown = page.locator("#sources-panel").inner_text() + page.locator("#chat").inner_text()
        # The payloads are there, as text.
        assert "onerror=" in shown and "<script id=xss-" in shown, shown[:2000]
        assert "第9998号" in shown
        for marker in page.locator("#chat a, #chat [role=link], #chat .cite").all()[:6]:
            marker.click()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "security-page-xss.png"), full_page=True)
        visit.assert_nothing_ran(app.url)
    finally:
        visit.close()


def test_xss_in_questions_and_documents_never_runs_in_the_widget(app, browser):
    visit = Visit(browser, f"{app.url}/widget/demo", f"{W} .launcher")
    page = visit.page
    try:
        page.locator(f"{W} .launcher").click()
        page.wait_for_selector(f"{W} .panel", state="visible")
        for i, question in enumerate([XSS_QUESTION, *QUESTION_PAYLOADS], start=1):
            box = page.locator(f"{W} textarea")
            box.fill(question)
            box.press("Enter")
            page.wait_for_function(
                f"""(n) => document.querySelector('{W}').shadowRoot
                       .querySelectorAll('.msg.bot:not(.pending):not(.welcome)').length >= n""",
                arg=i, timeout=ANSWER_TIMEOUT_MS)
        for chip in page.locator(f"{W} .cite, {W} .src-chip").all():
            chip.click()
        page.wait_for_timeout(500)
        shown = page.locator(f"{W} .panel").inner_text()
        assert "onerror=" in shown and "第9998号" in shown, shown[:2000]
        page.screenshot(path=str(ARTIFACTS / "security-widget-xss.png"))
        visit.assert_nothing_ran(app.url)
    finally:
        visit.close()


def test_json_with_markup_opened_as_a_page_stays_text(app, browser):
    """API answers echo user text (a 404 names the id, search echoes the query): opened in a tab,
    they are JSON shown as text under ``default-src 'none'``, never a document that runs."""
    payload = quote(f"<img id=xss-api src=x onerror=\"{PWN}\">", safe="")
    for path in (f"/api/documents/{payload}", f"/api/search?q={payload}", f"/api/{payload}"):
        visit = Visit(browser, f"{app.url}{path}", "body")
        try:
            assert visit.main.headers["content-type"].startswith("application/json")
            assert json.loads(visit.page.locator("body").inner_text())  # shown as text, parses as JSON
            visit.assert_nothing_ran(app.url)
        finally:
            visit.close()


class FramingSite:
    """Another origin whose page frames the app's chat page and demo page."""

    def __init__(self, app_url: str):
        from test_api import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        body = (f'<!doctype html><title>framer</title><iframe id=chat src="{app_url}/" width=600 height=400>'
                f'</iframe><iframe id=demo src="{app_url}/widget/demo" width=600 height=400></iframe>').encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_another_site_cannot_frame_the_page(app, browser):
    site = FramingSite(app.url)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(site.url)
        page.wait_for_timeout(3000)
        for frame in page.frames[1:]:
            # A blocked frame holds Chromium's error page: no app, no widget, whatever its URL says.
            assert frame.evaluate("() => !!document.querySelector('gradio-app, gov-reply-assistant, #chat')") is False
        assert len(page.frames) == 3
    finally:
        context.close()
        site.close()


def record_figures(section: str, data: object) -> None:
    servers.record_figures("security-browser.json", section, data)
