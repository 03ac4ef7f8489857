"""The one history policy (``assistant.history``): its limits come from Settings, and trimming keeps
the most recent messages within them, never starting with an answer."""

from __future__ import annotations

from assistant.history import HistoryPolicy
from assistant.settings import Settings


def _settings(**overrides) -> Settings:
    """The defaults, whatever the environment says (keyword arguments come first)."""
    limits = {"max_question_chars": 1000, "max_history_turns": 20, "max_history_message_chars": None}
    return Settings(**{**limits, **overrides})


def test_limits_come_from_the_settings():
    assert HistoryPolicy.from_settings(_settings()) == HistoryPolicy(max_messages=20, max_message_chars=4000)
    assert HistoryPolicy.from_settings(_settings(max_question_chars=300)).max_message_chars == 1200
    policy = HistoryPolicy.from_settings(_settings(max_history_turns=6, max_history_message_chars=500))
    assert policy == HistoryPolicy(max_messages=6, max_message_chars=500)


def test_trim_keeps_the_latest_messages_starting_with_a_question():
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}" * 10} for i in range(9)]
    trimmed = HistoryPolicy(max_messages=4, max_message_chars=5).trim(messages)
    assert [m["role"] for m in trimmed] == ["user", "assistant", "user"]  # m5 (an answer) is dropped
    assert [m["content"] for m in trimmed] == ["m6m6m", "m7m7m", "m8m8m"]
    assert HistoryPolicy(max_messages=0, max_message_chars=5).trim(messages) == []
    assert HistoryPolicy(max_messages=50, max_message_chars=100).trim(messages) == messages
