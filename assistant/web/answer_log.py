"""Every answer the web app gives, logged once with its channel, and given an ``answer_id``.

The page (channel ``page``), the widget (``widget``) and API clients (``api``) all answer through
:class:`AnswerRecorder`: it calls the assistant, logs the final answer in the conversation log
(:mod:`assistant.admin.conversations`: no IP, no cookie) and puts the new ``answer_id`` in the
Answer (``POST /api/chat``) or in the ``done`` event (streams), which is what feedback refers to.
The CLI and the evaluation call the assistant directly and are not logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from assistant.admin.conversations import ConversationLog
from assistant.core import Assistant
from assistant.schema import Answer

log = logging.getLogger(__name__)

#: Purge rows past the retention period at most this often (and at start).
PURGE_EVERY_S = 86400.0


class AnswerRecorder:
    def __init__(self, assistant: Assistant, conversations: ConversationLog | None):
        self.assistant = assistant
        self.conversations = conversations
        self._purged_at: float | None = None
        self._purge()

    def ask(self, channel: str, question: str, history: list[dict] | None = None,
            filters: dict | None = None) -> Answer:
        started = time.perf_counter()
        answer = self.assistant.ask(question, history, filters)
        answer_id = self._record(answer.model_dump(), channel, started)
        return answer.model_copy(update={"answer_id": answer_id}) if answer_id else answer

    def stream(self, channel: str, question: str, history: list[dict] | None = None,
               filters: dict | None = None) -> Iterator[tuple[str, Any]]:
        """``Assistant.stream``'s events, the ``done`` payload carrying the logged ``answer_id``."""
        started = time.perf_counter()
        events = self.assistant.stream(question, history, filters)
        try:
            for name, payload in events:
                if name == "done":
                    answer_id = self._record(payload, channel, started)
                    payload = {**payload, "answer_id": answer_id} if answer_id else payload
                yield name, payload
        finally:
            events.close()

    def channel(self, name: str):
        """``stream`` for one channel, with ``Assistant.stream``'s signature (for the page)."""
        def stream(question: str, history: list[dict] | None = None, filters: dict | None = None):
            return self.stream(name, question, history, filters)
        return stream

    def _record(self, answer: dict, channel: str, started: float) -> str | None:
        if self.conversations is None:
            return None
        try:
            answer_id = self.conversations.record(answer, channel, (time.perf_counter() - started) * 1000)
            self._purge()
            return answer_id
        except Exception:  # a full disk must not cost the visitor the answer
            log.exception("could not log an answer")
            return None

    def _purge(self) -> None:
        if self.conversations is None or (self._purged_at is not None
                                          and time.monotonic() - self._purged_at < PURGE_EVERY_S):
            return
        self._purged_at = time.monotonic()
        removed = self.conversations.purge()
        if removed:
            log.info("conversation log: %d rows past the retention period purged", removed)
