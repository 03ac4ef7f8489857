"""The admin screen and the 👍/👎 buttons in a real Chromium, end to end, from the browser alone.

One office's day: sign in at ``/admin``, upload a reply (``tests/fixtures/admin/``, copied from
replies-dev) as a draft, read its parse preview, publish it; a citizen asks about it on the public
page, gets a cited answer and marks it 👎 with a comment; the log shows the comment; the reply is
deleted and the same question is politely refused. Along the way a document whose title carries an
``<img onerror>`` / ``<script>`` payload and a comment carrying one are shown in ``/admin``: nothing
runs (no dialog, no ``<img src=x>`` element). The admin screen's strict CSP is checked too.

Screenshots: ``artifacts/admin-login.png``, ``admin-preview.png``, ``admin-documents.png``,
``admin-log.png``, ``admin-audit.png``, ``page-feedback.png``, ``widget-rating.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from admin_helpers import ADMIN, PASSWORD, add_admin
from helpers import FIXTURES, XSS_IMG, XSS_SCRIPT, LiveServer, build_assistant
from servers import CHROMIUM

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
REPLY = FIXTURES / "admin" / "leishan-tourism-rd58.txt"
QUESTION = "西江千户苗寨新建了多少停车泊位？"
COMMENT = "停车场的位置没有说清楚 " + XSS_IMG.replace("alert(1)", "alert('comment')")
DESKTOP = {"width": 1280, "height": 900}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_settings, embedder) -> Iterator[LiveServer]:
    assistant = build_assistant(tmp_path_factory, model_settings, embedder)
    with LiveServer(assistant, rate_limit_per_minute=10_000) as live:
        add_admin(live.settings)
        yield live


def hostile_reply(folder: Path) -> Path:
    """A reply whose title and text carry markup that would run if the screen parsed HTML."""
    path = folder / "xss-reply.txt"
    path.write_text(f"某某区人民政府\n关于{XSS_IMG}的答复\n\n第9号建议收悉。\n一、{XSS_SCRIPT}照常办理。\n",
                    encoding="utf-8")
    return path


class Screen:
    """One browser context on the app; alerts are recorded (an executed payload), confirms accepted."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
        self.page = self.context.new_page()
        self.url = url
        self.alerts: list[str] = []
        self.csp: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("console", lambda m: self.csp.append(m.text) if "Content Security Policy" in m.text else None)

    def _dialog(self, dialog) -> None:
        if dialog.type == "confirm":
            dialog.accept()
        else:
            self.alerts.append(dialog.message)
            dialog.dismiss()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def sign_in(admin: Screen) -> None:
    page = admin.page
    page.goto(admin.url + "admin")
    page.wait_for_selector("#login-form")
    admin.shot("admin-login.png")
    page.fill("#login-form input[name=name]", ADMIN)
    page.fill("#login-form input[name=password]", "wrong password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#notice:not([hidden])")
    assert "错误" in page.text_content("#notice")
    page.fill("#login-form input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#doc-table tbody tr")
    assert page.text_content("#who-name") == ADMIN


def upload_draft(admin: Screen, path: Path) -> str:
    """Upload as a draft; return the preview's upload id once the preview shows."""
    page = admin.page
    page.set_input_files("#files", str(path))
    page.click("#upload-form button[type=submit]")
    preview = page.wait_for_selector(f"#preview .preview:has-text('{path.name}')")
    return preview.get_attribute("data-upload-id") or ""


def ask(page, question: str) -> str:
    """Ask on the public page; return the kind of the turn once it is done."""
    before = page.locator('#chat [data-testid="bot"]').count()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_function(
        """(n) => { const p = document.querySelector('#sources-panel .sources-panel');
                    const k = p ? p.dataset.turnKinds.split(' ').filter(Boolean) : [];
                    return k.length === n && k[n - 1] !== 'pending'; }""", arg=before + 1, timeout=60_000)
    return page.get_attribute("#sources-panel .sources-panel", "data-turn-kinds").split()[-1]


def test_publish_ask_rate_log_delete_refuse_without_xss(browser, server, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    admin, citizen = Screen(browser, server.url + "/"), Screen(browser, server.url + "/")
    page = admin.page
    sign_in(admin)

    # Upload as a draft: the parse preview comes first.
    upload_id = upload_draft(admin, REPLY)
    preview = page.locator(f"#preview .preview[data-upload-id='{upload_id}']")
    assert "第58号" in preview.locator(".fields").inner_text()
    assert "雷山县人民政府" in preview.locator(".fields").inner_text()
    assert preview.locator(".tree li").count() > 0
    assert preview.locator(".warnings li").count() > 0  # this reply has no numbered sections
    admin.shot("admin-preview.png")
    preview.locator("button.primary").click()  # 发布 / Publish
    page.wait_for_selector("#doc-table tr:has-text('雷山县') .status.published")
    doc_id = page.get_attribute("#doc-table tr:has-text('雷山县')", "data-doc-id")

    # A hostile title is listed as text.
    upload_draft(admin, hostile_reply(tmp_path))
    page.wait_for_selector("#doc-table td.title:has-text('<img src=x')")
    admin.shot("admin-documents.png")

    # A citizen asks, gets a cited answer and marks it 👎 with a comment.
    public = citizen.page
    public.goto(server.url + "/")
    public.wait_for_selector("#sources-panel .sources-panel")
    assert ask(public, QUESTION) == "answer"
    assert public.locator(f"#sources-panel .source[data-doc-id='{doc_id}']").count() > 0
    feedback = public.locator("#sources-panel section.turn-sources").first.locator(".feedback")
    feedback.locator(".fb-comment").fill(COMMENT)
    feedback.locator(".fb-btn[data-rating=down]").click()
    public.wait_for_selector("#sources-panel .feedback[data-sent=down]")
    citizen.shot("page-feedback.png")

    # The log shows the question and the comment, as text.
    page.click(".tab[data-tab=log]")
    page.wait_for_selector(f"#down td:has-text('{COMMENT[:8]}')")
    assert COMMENT in page.locator("#down").inner_text()
    assert page.locator("#chart svg rect").count() > 0

    # Delete the reply: the same question is refused.
    page.click(".tab[data-tab=documents]")
    page.locator("#doc-table tr:has-text('雷山县') button.danger").click()
    page.wait_for_selector("#doc-table tbody:not(:has-text('雷山县'))")
    assert ask(public, QUESTION) == "refusal"
    assert public.locator("#sources-panel section.turn-sources").first.locator(".turn-note.is-refusal").count() == 1

    # The refusal is a gap in the log: grouped among the refused questions, a red part of the day's bar.
    page.click(".tab[data-tab=log]")
    page.wait_for_selector(f"#gaps td:has-text('{QUESTION}')")
    assert page.locator("#chart rect.refused").count() == 1
    admin.shot("admin-log.png")

    page.click(".tab[data-tab=audit]")
    page.wait_for_selector("#audit-rows td:has-text('delete')")
    admin.shot("admin-audit.png")

    # Nothing ran, nothing was blocked by the CSP (the screen needs no inline code), no <img src=x>.
    assert admin.alerts == [] and citizen.alerts == []
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert admin.csp == [], admin.csp
    admin.context.close()
    citizen.context.close()


def test_the_admin_screen_has_the_strictest_policy(server):
    import httpx

    for path in ("/admin", "/admin/static/admin.js", "/admin/static/admin.css"):
        response = httpx.get(server.url + path)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe" not in policy and "frame-ancestors 'none'" in policy
    assert httpx.get(server.url + "/admin/static/admin.html").status_code == 404  # only the listed files
    assert httpx.get(server.url + "/admin/static/page.js").status_code == 404


def test_the_widget_rates_an_answer_once(browser, server):
    """👍/👎 in the widget (on the demo page): the rating and its comment reach the log, channel widget."""
    from admin_helpers import signed_in
    from helpers import HUISHUI

    visitor = Screen(browser, server.url + "/")
    page = visitor.page
    page.goto(server.url + "/widget/demo")
    page.locator("gov-reply-assistant .launcher").click()
    page.locator("gov-reply-assistant textarea").fill(HUISHUI)
    page.locator("gov-reply-assistant textarea").press("Enter")
    rating = page.wait_for_selector("gov-reply-assistant .msg.bot.answer .rate", timeout=60_000)
    rating.query_selector(".rate-comment").fill("很有用 " + XSS_SCRIPT)
    rating.query_selector(".rate-btn[data-rating=up]").click()
    page.wait_for_selector("gov-reply-assistant .rate-btn[aria-pressed=true]")
    assert page.locator("gov-reply-assistant .rate-btn:disabled").count() == 2, "one rating per answer"
    visitor.shot("widget-rating.png")
    visitor.context.close()
    with signed_in(server) as client:
        rows = client.get("/api/admin/log", params={"channel": "widget"}).json()["rows"]
    assert rows[0]["question"] == HUISHUI
    assert rows[0]["feedback"] == [{"at": rows[0]["feedback"][0]["at"], "rating": "up", "comment": "很有用 " + XSS_SCRIPT}]
