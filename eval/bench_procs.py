"""What a benchmark reads of the server processes it started: the process tree, memory, CPU; stopping them.

Linux ``/proc`` only, no third-party package. A served app may be one process or a master with
worker processes (uvicorn/gunicorn workers, or processes the app manages): the whole tree below
the pid the benchmark started is read, so that totals count every process once.

Memory comes from ``/proc/PID/smaps_rollup``: RSS counts every page a process maps, shared ones
in full, so RSS summed over workers counts shared pages (the model file, the page cache of a
memory-mapped table, pages a fork inherited) once per process; PSS divides each shared page
among the processes that map it, so PSS summed over the tree is the memory the service really
holds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

#: Processes that run beside workers without serving (multiprocessing's helpers).
HELPERS = ("resource_tracker", "semaphore_tracker", "forkserver")
MB = 1024  # smaps_rollup and status report kB


def _ppid(pid: int) -> int | None:
    try:
        # The command name in field 2 may hold spaces and parentheses: split after the last ")".
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def process_tree(root: int) -> list[int]:
    """``root`` and all its live descendants, parents before children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _ppid(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        tree.append(pid)
        queue.extend(sorted(children.get(pid, [])))
    return tree


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process (its own, not its children's)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> dict[str, float] | None:
    """RSS, PSS and PSS split into anonymous and file pages (MB) of one process; None once it is gone."""
    wanted = {"Rss": "rss_mb", "Pss": "pss_mb", "Pss_Anon": "pss_anon_mb", "Pss_File": "pss_file_mb"}
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in wanted:
                out[wanted[key]] = round(int(line.split()[1]) / MB, 1)
    except (OSError, ValueError, IndexError):
        return None
    return out


def snapshot(root: int) -> list[dict]:
    """Every process of the tree: pid, role (``master``/``worker``/``helper``), memory and CPU seconds.

    The root is the worker when it serves alone, the master when it has worker children.
    """
    pids = process_tree(root)
    rows = []
    for pid in pids:
        command = command_line(pid)
        if pid == root:
            role = "master" if len(pids) > 1 else "worker"
        else:
            role = "helper" if any(h in command for h in HELPERS) else "worker"
        memory = memory_mb(pid)
        if memory is not None:
            rows.append({"pid": pid, "role": role, **memory, "cpu_s": cpu_seconds(pid), "command": command[:160]})
    if len(rows) > 1 and not any(r["role"] == "worker" for r in rows):
        rows[0]["role"] = "worker"  # only helpers beside the root: the root serves
    return rows


def memory_summary(rows: list[dict]) -> dict:
    """Per worker and in total (master, workers and helpers): RSS and PSS."""
    workers = [r for r in rows if r["role"] == "worker"]
    return {
        "workers": len(workers),
        "rss_per_worker_mb": [r["rss_mb"] for r in workers],
        "pss_per_worker_mb": [r["pss_mb"] for r in workers],
        "rss_total_mb": round(sum(r["rss_mb"] for r in rows), 1),
        "pss_total_mb": round(sum(r["pss_mb"] for r in rows), 1),
        "processes": [{k: v for k, v in r.items() if k != "cpu_s"} for r in rows],
    }


def cpu_by_pid(rows: list[dict]) -> dict[int, float]:
    return {r["pid"]: r["cpu_s"] for r in rows if r["cpu_s"] is not None}


def _start_ticks(pid: int) -> int | None:
    """When a process started (clock ticks since boot): a pid with another start time is another process."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def stop_tree(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM the process the benchmark started; SIGKILL, by pid, any process of its tree left after it."""
    if proc.poll() is not None:
        return
    tree = [(pid, _start_ticks(pid)) for pid in process_tree(proc.pid)[1:]]
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 5  # a master stops its workers itself; give them a moment
    for pid, started in tree:
        while started is not None and _start_ticks(pid) == started and time.monotonic() < deadline:
            time.sleep(0.1)
        if started is not None and _start_ticks(pid) == started:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
