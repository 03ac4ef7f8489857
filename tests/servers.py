"""Helpers shared by the tests: real servers on 127.0.0.1, started and stopped by the test (a Chroma
server, `chroma run`, and the app itself, `assistant serve`), and the figures tests record."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def record_figures(file: str, section: str, data: object) -> None:
    """Merge one test's figures into ``artifacts/FILE`` (the closing notes quote them)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / file
    try:
        figures = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        figures = {}
    figures[section] = data
    path.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


class ThreadedServer:
    """An ASGI app served by uvicorn in a thread on 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, app, port: int | None = None):
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
            timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the server on port {self.port} did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        # Event streams that browsers and clients left open are cut after the grace period;
        # uvicorn logs each cut as an error, which is noise once the tests are done.
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        self.server.should_exit = True
        self.thread.join(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chroma_executable() -> str:
    local = Path(sys.executable).parent / "chroma"
    return str(local) if local.exists() else (shutil.which("chroma") or "chroma")


class ChromaServer:
    """`chroma run --path DIR --host 127.0.0.1 --port N`, waited for until it answers."""

    def __init__(self, path: Path, port: int | None = None):
        self.path = path
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ChromaServer:
        self.path.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [chroma_executable(), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        state = wait_until_ok(f"{self.url}/api/v2/heartbeat", self.proc, timeout, interval=0.2, request_timeout=1)
        if state == "exited":
            raise RuntimeError(f"chroma run exited with {self.proc.returncode}")
        if state == "timeout":
            self.stop()
            raise RuntimeError("chroma server did not start in time")
        return self

    def stop(self) -> None:
        terminate(self.proc, grace=10)
        self.proc = None


def wait_until_ok(url: str, proc: subprocess.Popen | None, timeout: float, interval: float,
                  request_timeout: float) -> str:
    """Poll ``url`` until it answers 200 ("ok"), ``proc`` is gone ("exited") or ``timeout`` seconds
    have passed ("timeout")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is None or proc.poll() is not None:
            return "exited"
        try:
            if httpx.get(url, timeout=request_timeout).status_code == 200:
                return "ok"
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    return "timeout"


def terminate(proc: subprocess.Popen | None, grace: float) -> None:
    """Stop a child process: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def app_env(**assistant: object) -> dict[str, str]:
    """This environment without ``ASSISTANT_*`` variables, offline, plus ``ASSISTANT_<NAME>`` for each
    keyword (``app_env(data_dir=d, chroma_url=u)``). ``ASSISTANT_CONFIG`` points at no file, so an
    ``assistant.toml`` in the working directory never leaks into a test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", TRANSFORMERS_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False", ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"),
        ASSISTANT_CONFIG="/nonexistent/assistant.toml",
    )
    env.update({f"ASSISTANT_{name.upper()}": str(v) for name, v in assistant.items() if v is not None})
    return env


class AppServer:
    """`python -m assistant.cli serve --host 127.0.0.1 --port N` in a subprocess, waited for until
    ``/readyz`` answers 200 (``start``) and stopped by its own pid (``stop``). Settings come from
    ``env`` (see :func:`app_env`); the output goes to ``log_path``."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None, cwd: Path | None = None):
        self.env = env
        self.log_path = log_path
        self.port = port or free_port()
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> AppServer:
        """Start the process without waiting (several servers can then load their models at once)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "assistant.cli", "serve",
                 "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
            )
        return self

    def wait_ready(self, timeout: float = 300.0) -> AppServer:
        state = wait_until_ok(f"{self.url}/readyz", self.proc, timeout, interval=0.25, request_timeout=2)
        if state == "exited":
            code = None if self.proc is None else self.proc.returncode
            raise RuntimeError(f"assistant serve exited with {code}:\n{self.log_tail()}")
        if state == "timeout":
            raise RuntimeError(f"assistant serve was not ready within {timeout:.0f} s:\n{self.log_tail()}")
        return self

    def start(self, timeout: float = 300.0) -> AppServer:
        return self.launch().wait_ready(timeout)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        terminate(self.proc, grace=20)
        self.proc = None
