"""``schemathesis`` over the whole app's OpenAPI document — public routes and admin routes (with a
Bearer token) — against a real server: no 5xx, statuses, headers and bodies as documented, TRACE
answered 405, data that breaks the schema refused. Its CLI runs in a subprocess (no network beyond
127.0.0.1), with a fixed seed and a few examples per operation so that it takes about a minute."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from admin_helpers import add_admin, new_token
from helpers import LiveServer, build_assistant

CLI = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.mark.skipif(not CLI.exists() and not shutil.which("schemathesis"), reason="schemathesis not installed")
def test_schemathesis_finds_nothing(tmp_path_factory, model_settings, embedder, tmp_path):
    assistant = build_assistant(tmp_path_factory, model_settings, embedder)
    with LiveServer(assistant, rate_limit_per_minute=100_000) as server:
        add_admin(server.settings)
        token = new_token(server.settings)
        command = [str(CLI if CLI.exists() else shutil.which("schemathesis")), "--config-file", str(CONFIG), "run", f"{server.url}/openapi.json",
                   "--checks", "all", "--max-examples", "5", "--seed", "20", "--workers", "1",
                   "--request-timeout", "60", "--max-time", "90", "-H", f"Authorization: Bearer {token}",
                   "--report", "junit", "--report-dir", str(tmp_path)]
        run = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                             env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"})
    (tmp_path / "schemathesis.txt").write_text(run.stdout)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
