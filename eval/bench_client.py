"""A lean load client for loopback benchmarks: plain asyncio HTTP/1.1 with keep-alive, no HTTP library.

On a machine where the client shares the cores with the server, every millisecond of client CPU
is taken from the service being measured. This client writes a prepared request and reads the
status line, the headers and a ``Content-Length`` (or chunked) body, nothing more; bodies are
kept as bytes and parsed by the caller after the load. Each client holds one connection and
asks its questions one after another; the clients take the next question from a shared queue,
so the load ends together. Every request has a timeout and the load a deadline.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time


class Connection:
    """One keep-alive HTTP/1.1 connection to ``host:port``; reopened when the server closes it."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n").encode("ascii")
        self.writer.write(head + body)
        await self.writer.drain()
        status = int((await self.reader.readline()).split(b" ", 2)[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get(b"transfer-encoding") == b"chunked":
            payload = await self._chunked()
        else:
            payload = await self.reader.readexactly(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection") == b"close":
            await self.close()
        return status, payload

    async def _chunked(self) -> bytes:
        parts = []
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        while await self.reader.readline() not in (b"\r\n", b""):  # trailers
            pass
        return b"".join(parts)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


async def _client(port: int, queue: asyncio.Queue, timeout: float, deadline: float, out: list) -> None:
    connection = Connection("127.0.0.1", port)
    try:
        while not queue.empty() and time.monotonic() < deadline:
            index, question = queue.get_nowait()
            body = json.dumps({"question": question}, ensure_ascii=False).encode("utf-8")
            started = time.perf_counter()
            record = {"index": index, "question": question}
            try:
                record["status"], record["body"] = await asyncio.wait_for(
                    connection.post_json("/api/chat", body), timeout)
            except TimeoutError:
                record["status"] = "timeout"
                await connection.close()
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
                record["status"] = type(exc).__name__
                await connection.close()
            record["ms"] = (time.perf_counter() - started) * 1000
            out.append(record)
    finally:
        await connection.close()


async def _load(port: int, questions: list[str], clients: int, timeout: float, deadline: float) -> list[dict]:
    queue: asyncio.Queue = asyncio.Queue()
    for item in enumerate(questions):
        queue.put_nowait(item)
    records: list[dict] = []
    await asyncio.gather(*(_client(port, queue, timeout, deadline, records) for _ in range(clients)))
    return sorted(records, key=lambda r: r["index"])


def run_load(port: int, questions: list[str], clients: int, timeout: float, deadline: float) -> dict:
    """Ask ``questions`` (in order, ``clients`` at a time); records, wall seconds and the client's CPU seconds."""
    cpu_before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    records = asyncio.run(_load(port, questions, clients, timeout, deadline))
    wall, cpu_after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {"records": records, "wall_s": wall, "client_cpu_s": cpu}
