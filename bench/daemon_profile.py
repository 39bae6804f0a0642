"""Where the daemon process's CPU goes while it records (issue 92, design/0535): py-spy's samples of the
daemon (not the workers) put in one part each by the innermost frame of the daemon's own code that the
part table knows, the daemon's /proc CPU shared out in proportion.

Used by bench/reader_profile.py (`--reader profile`): the daemon is sampled over the same window as
the workers, every thread (`--threads`), its stacks kept in bench/out/profile/pyspy-daemon.txt.
A catalog write is counted to the part that asked for it: it runs on the catalog writer's thread
in a function (often a lambda) defined where it was asked for, so the innermost frame of the daemon's
own code on that stack is the asker's. A sample whose innermost frame is a wait (select, a condition, an
executor's queue) is counted apart and not given CPU: py-spy counts a thread that can run but is not
running as active, so on a busy box its waits follow the wake-ups, not the CPU (design/0535).
"""

from __future__ import annotations

from collections import Counter


def frame(text: str) -> tuple[str, str, int]:
    """py-spy's 'func (path:line)' -> (func, path, line)."""
    func, _, rest = text.rpartition(" (")
    path, _, line = rest.rstrip(")").rpartition(":")
    return func, path, int(line) if line.isdigit() else 0


# (path suffix, function or None for any, part), the first that matches the innermost first-party frame wins
WORKER_EVENTS, SEGMENTS, STATES, STATS, ALARMS, HEALTH, TAMPER, HEARTBEAT, MQTT, CATALOG, TIMERS, LOOP, OTHER = (
    "worker events (read, decode, dispatch)", "segment rows (open, close, gaps)", "camera states (State events)",
    "camera stats (5 s flush)", "camera_offline alarms", "health (pictures, verdicts)",
    "tamper watcher (inotify)", "heartbeat", "MQTT, reporting", "catalog writer (other)", "timers, other tasks",
    "event loop, threads' wake-ups", "unclassified")
PARTS: list[tuple[str, str | None, str]] = [
    ("edged/daemon/recording/supervisor.py", "_heartbeat", HEARTBEAT),
    ("edged/daemon/recording/supervisor.py", "_camera_alarms", ALARMS),
    ("edged/daemon/recording/supervisor.py", "_flush_stats", STATS),
    ("edged/daemon/recording/supervisor.py", "_on_state", STATES),
    ("edged/daemon/camera_states.py", None, STATES),
    ("edged/daemon/recording/segment_rows.py", None, SEGMENTS),
    ("storage/catalog.py", "in_one_transaction", SEGMENTS),  # a worker's batch of rows (its one caller)
    ("edged/daemon/recording/gaps.py", None, SEGMENTS),
    ("storage/footage/segment_rows.py", None, SEGMENTS),
    ("edged/daemon/recording/workers.py", None, WORKER_EVENTS),
    ("edged/daemon/recording/supervisor.py", None, WORKER_EVENTS),
    ("recorder/events.py", None, WORKER_EVENTS),
    ("edged/daemon/health_monitor.py", None, HEALTH),
    ("edged/rules/health.py", None, HEALTH),
    ("storage/health/", None, HEALTH),
    ("storage/footage/tamper.py", None, TAMPER),
    ("storage/footage/inotify_reader.py", None, TAMPER),
    ("edged/daemon/integrity.py", None, TAMPER),
    ("watchdog/", None, TAMPER),
    ("edged/alarms.py", None, ALARMS),
    ("mqtt/", None, MQTT),
    ("edged/daemon/reporting.py", None, MQTT),
    ("/paho/", None, MQTT),
]
# ... and where no frame of a stack is in PARTS: the innermost frame these name
FALLBACK: list[tuple[str, str | None, str]] = [
    ("storage/catalog.py", None, CATALOG),
    ("sqlite_utils/", None, CATALOG),
    ("/edged/", None, TIMERS),
    ("/storage/", None, TIMERS),
    ("asyncio/", None, LOOP),
    ("selectors.py", None, LOOP),
    ("concurrent/futures/", None, LOOP),
    ("threading.py", None, LOOP),
]
WAITING = "waiting (not given CPU)"
WAITS = ("EpollSelector.select", "_PollLikeSelector.select", "Condition.wait", "_worker", "_check_inotify_fd",
         "DelayedQueue.get", "Queue.get", "Popen._communicate", "Popen._wait")
ORDER = (WORKER_EVENTS, SEGMENTS, STATES, STATS, ALARMS, HEALTH, TAMPER, HEARTBEAT, MQTT, CATALOG, TIMERS, LOOP,
         OTHER)


def part_of(stack: list[str]) -> str:
    """The part of one py-spy raw stack (frames root first): its innermost frame a PARTS row names,
    else its innermost frame a FALLBACK row names."""
    for table in (PARTS, FALLBACK):
        for text in reversed(stack):
            func, path, _line = frame(text)
            for suffix, name, part in table:
                if suffix in path and (name is None or name in func):
                    return part
    return OTHER


def daemon_parts(raw: str) -> tuple[Counter[str], Counter[str]]:
    """({part: samples}, {innermost function: samples}) from py-spy's --format raw output."""
    parts: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = stack.split(";")
            func, path, _line = frame(frames[-1])
            parts[WAITING if func.rpartition(".")[2] in WAITS or func in WAITS else part_of(frames)] += int(count)
            leaves[f"{func} ({path.rsplit('/', 2)[-2:][0]}/{path.rsplit('/', 1)[-1]})"] += int(count)
    return parts, leaves


def rows(parts: Counter[str], daemon_cpu: float, n: int) -> list[list[str]]:
    """% of one core a camera by part: the daemon's /proc CPU shared out by the samples not in a wait."""
    total = sum(v for k, v in parts.items() if k != WAITING)
    out = [[part, str(parts.get(part, 0)), f"{daemon_cpu * parts.get(part, 0) / total / n:.4f}" if total else "-",
            f"{100 * parts.get(part, 0) / total:.0f} %" if total else "-"] for part in ORDER if parts.get(part)]
    return out + [[WAITING, str(parts.get(WAITING, 0)), "", ""]]
