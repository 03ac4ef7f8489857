"""The one history policy: how many earlier messages a question may carry, and how long each may be.

Built from ``Settings`` and used wherever a conversation is sent or received: the CLI and the chat
page trim to it, the widget reads it from ``GET /api/config`` and trims to it, and the server
(``Assistant.check_input`` and the API's request models) refuses a history that exceeds it.
The widget asks the server instead of carrying constants of its own, so a deployment that changes
a limit changes it for every client at once, and no client sends what the server would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.settings import Settings

#: A history message may quote a long earlier answer: by default it may be four questions long.
MESSAGE_CHARS_PER_QUESTION = 4


@dataclass(frozen=True)
class HistoryPolicy:
    """At most ``max_messages`` earlier messages (not pairs), each at most ``max_message_chars``."""

    max_messages: int
    max_message_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HistoryPolicy:
        chars = settings.max_history_message_chars or MESSAGE_CHARS_PER_QUESTION * settings.max_question_chars
        return cls(max_messages=settings.max_history_turns, max_message_chars=chars)

    def trim(self, messages: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
        """The most recent messages within the policy, each cut to ``max_message_chars``.

        The result never starts with an answer: without its question it carries no topic.
        """
        if self.max_messages <= 0:
            return []
        recent = list(messages)[-self.max_messages:]
        if recent and recent[0].get("role") == "assistant":
            recent = recent[1:]
        return [{"role": m["role"], "content": (m.get("content") or "")[: self.max_message_chars]}
                for m in recent]
