"""Answers as server-sent events: the encoder, the worker threads that run the assistant, the docs.

The assistant's blocking calls run in worker threads (at most :data:`MAX_CONCURRENT_ANSWERS` at
once), so the event loop keeps serving other requests while a model runs; a comment line is sent
every :data:`HEARTBEAT_SECONDS` of silence.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio

from assistant.errors import QuestionError, ServiceUnavailable
from assistant.web.security import GENERIC_ERROR

log = logging.getLogger(__name__)

#: Seconds of silence after which the event stream sends a comment line, so that proxies and
#: browsers do not drop a connection while a slow model is still thinking.
HEARTBEAT_SECONDS = 15.0

#: How many answers run at once. The work is CPU-bound (embedding, BM25, fusion) on a small
#: machine: past a few concurrent calls threads only fight over the cores and the GIL, so extra
#: requests wait their turn here (on the event loop, costing nothing) rather than in threads.
MAX_CONCURRENT_ANSWERS = 2


def sse_event(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event; the JSON is on a single ``data:`` line (json escapes newlines)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


SSE_HEARTBEAT = b": keep-alive\n\n"
TERMINAL_EVENTS = frozenset({"done", "error"})


async def _close_later(pending: asyncio.Future[Any] | None, events: Iterator[Any]) -> None:
    """Let a ``next()`` still running in a worker thread finish, then close the generator there."""
    if pending is not None:
        try:
            await pending
        except BaseException:  # the stream is over; its outcome no longer matters, only cleanup
            log.debug("an abandoned answer stream ended with an error", exc_info=True)
    close = getattr(events, "close", None)
    if close is not None:
        try:
            await anyio.to_thread.run_sync(close)
        except Exception:
            log.debug("closing an abandoned answer stream failed", exc_info=True)


_cleanups: set[asyncio.Task[None]] = set()
_DONE = object()


class Workers:
    """Runs the assistant's blocking calls in worker threads, at most ``size`` at a time."""

    def __init__(self, size: int = MAX_CONCURRENT_ANSWERS):
        self.slots = asyncio.Semaphore(size)

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async with self.slots:
            return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    async def iterate(self, events: Iterator[Any], batch_s: float = 0.05) -> AsyncIterator[Any]:
        """Advance a sync generator in worker threads, a slot per batch of events.

        One worker call takes every event the generator produces within ``batch_s`` of the first,
        so a cheap tail (an extractive answer's deltas, citations, done) does not queue again behind
        other requests, while a slow producer (an LLM's tokens) still streams as it goes.
        """
        while True:
            batch = await self.call(_next_batch, events, batch_s)
            for item in batch:
                if item is _DONE:
                    return
                if isinstance(item, _Raised):
                    raise item.error
                yield item


class _Raised:
    """An error raised after a batch's first event: delivered after the events before it."""

    def __init__(self, error: BaseException):
        self.error = error


def _next_batch(events: Iterator[Any], batch_s: float) -> list[Any]:
    batch = [next(events, _DONE)]  # an error here propagates at once
    deadline = time.perf_counter() + batch_s
    while batch[-1] is not _DONE and time.perf_counter() < deadline:
        try:
            batch.append(next(events, _DONE))
        except Exception as exc:  # noqa: BLE001 — re-raised in order by Workers.iterate
            batch += [_Raised(exc), _DONE]
    return batch


async def event_stream(first: tuple[str, dict], events: Iterator[tuple[str, dict]],
                       stream: AsyncIterator[tuple[str, dict]],
                       heartbeat_s: float = HEARTBEAT_SECONDS) -> AsyncIterator[bytes]:
    """Encode the assistant's events as SSE; a comment line every ``heartbeat_s`` of silence.

    The sync generator advances in worker threads (:meth:`Workers.iterate`), so the event loop
    keeps serving other requests while a model runs. A pending ``next()`` is never cancelled (a
    thread cannot be): on heartbeat it is simply awaited again, and when the client goes away
    the generator is closed once that call returns.
    """
    pending: asyncio.Future[Any] | None = None
    finished = False
    try:
        yield sse_event(*first)
        if first[0] in TERMINAL_EVENTS:
            finished = True
            return
        while True:
            if pending is None:
                pending = asyncio.ensure_future(stream.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=heartbeat_s)
            if not done:
                yield SSE_HEARTBEAT
                continue
            current, pending = pending, None
            try:
                name, data = current.result()
            except StopAsyncIteration:
                finished = True
                return
            except (QuestionError, ServiceUnavailable) as exc:
                finished = True
                yield sse_event("error", {"message": exc.message,
                                          "code": getattr(exc, "code", "unavailable")})
                return
            except Exception:
                finished = True
                log.exception("API chat/stream failed while streaming")
                yield sse_event("error", {"message": GENERIC_ERROR, "code": "internal_error"})
                return
            yield sse_event(name, data)
            if name in TERMINAL_EVENTS:
                finished = True
                return
    finally:
        if not finished:  # the client left early: release the generator in the background
            task = asyncio.get_running_loop().create_task(_close_later(pending, events))
            _cleanups.add(task)
            task.add_done_callback(_cleanups.discard)


SSE_DESCRIPTION = """Server-sent events, each `event: NAME` + one `data: JSON` line:

* `meta` — `{"standalone_question", "language", "sources": [Citation…]}`
* `delta` — `{"text"}`, several; concatenated they are the answer
* `citations` — `{"citations": [Citation…], "refused": bool}`
* `done` — the full Answer (as `POST /api/chat` returns it)
* `error` — `{"message", "code"}` (the stream ends)

Lines starting with `:` are heartbeats; ignore them. Invalid input is answered with a JSON error
(422/503) before the stream starts."""

SSE_EXAMPLE = (
    'event: meta\ndata: {"standalone_question": "惠水的土地政策有哪些？", "language": "zh", "sources": [...]}\n\n'
    'event: delta\ndata: {"text": "支持惠水县……"}\n\n'
    'event: citations\ndata: {"citations": [...], "refused": false}\n\n'
    'event: done\ndata: {"question": "惠水的土地政策有哪些？", "answer": "…[1]", ...}\n\n'
)
