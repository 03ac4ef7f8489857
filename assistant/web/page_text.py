"""Every interface string of the chat page, in Chinese (default) and English (the example questions are the
corpus's, from settings: ``Settings.examples()``; the office's name in the title, tagline and footer is the
deployment's, from settings: ``office_name`` / ``office_name_en``, neutral when unset)."""

from __future__ import annotations

from typing import NamedTuple

#: Every interface string, in Chinese (default) and English.
UI_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "page_title": "{zh_office}建议提案答复智能问答",
        "title": "{zh_office}建议提案答复智能问答",
        "title_alt": "{en_office} Reply Assistant",
        "tagline": "依据{zh_issuer}对人大代表建议、政协委员提案的正式答复原文回答问题，答案逐句标注出处，点击标记即可核对原文。",
        "lang_label": "界面语言",
        "chat_label": "对话",
        "chat_placeholder": (
            "### 您好，欢迎使用答复智能问答\n\n"
            "- 用日常语言提问，例如某个县区、某项政策或某号建议\n"
            "- 答案摘自答复原文，句末的 [1]、[2] 标记可点击核对出处\n"
            "- 可在下方“检索范围”中限定到某几份答复"
        ),
        "input_label": "您的问题",
        "input_placeholder": "请输入问题，例如：{example}",
        "input_placeholder_plain": "请输入您的问题",
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
        "footer": "本页答案均摘自{zh_issuer}对建议提案的正式答复原文，并逐句标注出处；如有出入，以正式公开的答复文件为准。",
        "open_source": "查看出处",
        "back_to_answer": "↑ 返回答案",
        "feedback_ask": "这个回答对您有帮助吗？",
        "feedback_up": "有帮助",
        "feedback_down": "没有帮助",
        "feedback_comment": "补充说明（可选），再点 👍 或 👎 提交",
    },
    "en": {
        "page_title": "{en_office} Reply Assistant · Replies to Suggestions and Proposals",
        "title": "{en_office} Reply Assistant",
        "title_alt": "{zh_office}建议提案答复智能问答",
        "tagline": "Answers questions from the official replies of {en_issuer} to deputies' suggestions and proposals; every sentence cites its source, and each marker opens the original text.",
        "lang_label": "Language",
        "chat_label": "Conversation",
        "chat_placeholder": (
            "### Welcome to the Reply Assistant\n\n"
            "- Ask in plain words about a county, a policy or a numbered suggestion\n"
            "- Answers are taken from the replies; click a marker such as [1] to check its source\n"
            "- Use “Search scope” below to limit the search to chosen replies"
        ),
        "input_label": "Your question",
        "input_placeholder": "e.g. {example}",
        "input_placeholder_plain": "Type your question",
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
        "footer": "Answers are extracted from the official replies of {en_issuer}, with a citation for every sentence; the published reply documents prevail.",
        "open_source": "Open source",
        "back_to_answer": "↑ Back to the answer",
        "feedback_ask": "Was this answer helpful?",
        "feedback_up": "Helpful",
        "feedback_down": "Not helpful",
        "feedback_comment": "Comment (optional), then click 👍 or 👎",
    },
}

LANGUAGE_CHOICES: list[tuple[str, str]] = [("中文", "zh"), ("English", "en")]

class Branding(NamedTuple):
    """The office whose replies the page answers from, as its Chinese and English texts name it."""

    zh: str = ""  # 某市人民政府
    en: str = ""  # the Municipal People's Government of …

    def fill(self, text: str) -> str:
        """``text`` with the office's name in its places, or neutral words when it has none."""
        if "{" not in text:
            return text
        for key, value in (("{zh_office}", self.zh), ("{zh_issuer}", self.zh or "政府及有关部门"),
                           ("{en_office}", self.en), ("{en_issuer}", self.en or "government offices")):
            text = text.replace(key, value)
        return text.replace("  ", " ").strip()


NEUTRAL = Branding()  # no office named: neutral texts


def ui_text(lang: str, brand: Branding = NEUTRAL) -> dict[str, str]:
    """The string table for ``lang`` (Chinese for anything unknown), the office's name filled in."""
    return {key: brand.fill(text) for key, text in UI_TEXT.get(lang, UI_TEXT["zh"]).items()}


def input_placeholder(lang: str, examples: list[str]) -> str:
    """The question box's hint: the first example question in ``lang``, if there is one."""
    from assistant.text import detect_language

    t = ui_text(lang)
    example = next((q for q in examples if detect_language(q) == (lang if lang in UI_TEXT else "zh")), None)
    return t["input_placeholder"].format(example=example) if example else t["input_placeholder_plain"]
