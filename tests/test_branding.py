"""The page names the deployment's office from settings, and the API's examples are its example questions:
nothing in the interface is one corpus's."""

from __future__ import annotations

from assistant.settings import Settings
from assistant.web.models import chat_examples
from assistant.web.page_html import footer_html, header_html
from assistant.web.page_text import UI_TEXT, Branding, ui_text


def test_without_an_office_the_texts_are_neutral():
    for lang in UI_TEXT:
        texts = ui_text(lang)
        assert all("{" not in text or "{example}" in text for text in texts.values())
        assert "市" not in texts["title"] and "City" not in texts["title"]
    assert ui_text("en")["title"] == "Reply Assistant"
    assert ui_text("zh")["title"] == "建议提案答复智能问答"


def test_the_office_named_in_settings_brands_title_tagline_and_footer():
    brand = Branding("德阳市人民政府", "Deyang Municipal People's Government")
    zh, en = header_html("zh", brand) + footer_html("zh", brand), header_html("en", brand) + footer_html("en", brand)
    assert zh.count("德阳市人民政府") >= 3  # title, tagline, footer
    assert "Deyang Municipal People&#x27;s Government Reply Assistant" in en or \
        "Deyang Municipal People's Government Reply Assistant" in en
    assert "official replies of Deyang" in en


def test_the_api_examples_are_the_deployments_example_questions():
    settings = Settings(example_questions=["托育一个月收多少钱？", "How much does childcare cost?"])
    examples = chat_examples(settings)
    assert examples["zh"]["value"]["question"] == "托育一个月收多少钱？"
    assert examples["en"]["value"]["question"] == "How much does childcare cost?"
    assert examples["follow_up"]["value"]["history"][0]["content"] == "托育一个月收多少钱？"
    shipped = chat_examples(Settings(example_questions=None))
    assert shipped["zh"]["value"]["question"] == Settings().examples()[0]
