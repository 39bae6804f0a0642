"""edgectl (and the office's CLI) as most tests run it: its `main` in a process forked from a warm copy of it.

Every edgectl call started a Python, paid its imports (0.2-0.3 s of CPU a call; 2,500 calls a run, a fifth of the
suite's CPU: design/0417), and then sent one request. Here a zygote, started once per test process with edgectl and
every verb's module imported, forks a child per call; the child takes the call's stdin, stdout and stderr (files
sent over a Unix socket), environment, folder and arguments, runs the same `main(argv)` a command line runs, and
exits with its status. A real process each call (its own pid, descriptors, exit status, the caller's uid towards
the daemon's SO_PEERCRED), the same code; what is not run is the interpreter's start, which tests/test_lazy_import.py
and tests/test_start_imports.py hold, and the docs' commands (tests/support/guide_run.py) run as written.

The daemons the tests start (`edged run`, the office's `central.cli run`) are forked from the same zygote, which has
edged's daemon and the office's server imported too (`spawn`: about 1.2 s of CPU a start, design/0471): a monitor
child forks the daemon in a session of its own and tells the caller its exit status, signals included. A daemon
whose environment differs from the zygote's in what a module reads at its import (EDGED_*, PYTHON*, the locale)
is started as a subprocess, as before; one that differs in its clock shim alone (a time module's, shared by its
tests) is forked from a second zygote started under that shim (design/0527).

A call whose locale asks for another encoding than UTF-8 (the tests of what edgectl prints on a Big5 or ASCII
terminal) runs as a subprocess, as does any call not of `ctl_argv`'s form.
"""

from __future__ import annotations

import array
import atexit
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PREFIX = [sys.executable, "-m", "edged.cli.edgectl"]
MODULES = ("edged.cli.edgectl", "central.cli")  # the command lines forked: edgectl and the office's
DAEMONS = {"edged.cli": "edged.cli.main", "central.cli": "central.cli"}  # `python -m X run`: the module whose main runs
WARM = ("edged.app", "recorder.worker", "central.pages.dashboard", "central.ops")  # what the daemons import as they start
# the environment read at a process's start or a module's import: the interpreter's, numpy's threads, the locale, the
# dynamic loader's (a test's LD_PRELOAD clock shim), and each EDGED_ variable a module of ours reads into a constant
# of its own as it is imported (tests/test_layers.py holds the list to the sources); a daemon whose own differs from
# the zygote's is not forked. The EDGED_ variables read as the daemon runs (EDGED_TEST_HOOKS, EDGED_START, ...) reach
# a forked daemon in its environment (`_enter`).
_AT_IMPORT = ("PYTHON", "OPENBLAS", "OMP_", "LC_", "LANG", "LD_")
# those of this test process as it started: the zygote's, whichever test starts it (design/0527)
_START_ENV = {k: v for k, v in os.environ.items() if k.startswith(_AT_IMPORT)}
READ_AT_IMPORT = frozenset(("EDGED_ENROL_POLL_S", "EDGED_FOOTAGE_EVERY_S", "EDGED_PEER_POLL_S", "EDGED_BACKFILL_POLL_S",
                            "EDGED_CENTRAL_PG_FILLFACTOR"))
# edgectl as another OS account than root's: `nobody`, keeping root's right to open files (the socket in the
# 0700 data folder, the session file) but not root's uid, which SO_PEERCRED tells the daemon (tests/support/people.py)
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=+dac_override",
          "--ambient-caps=+dac_override", "--"]
_LOCALE = ("LC_ALL", "LC_CTYPE", "LANG")
_lock = threading.Lock()
_zygote: tuple[subprocess.Popen[bytes], str] | None = None
_shimmed: tuple[subprocess.Popen[bytes], str] | None = None  # a zygote under the shared clock shim, and its socket
_shared: dict[str, str] = {}  # `share_shim`'s LD_PRELOAD and EDGED_TEST_CLOCK_OFFSET
_zygote_env: dict[str, str] = {}  # the environment the zygote was started with (and imported under)
spent = 0.0  # the CPU seconds of the children forked for this process (each counts its own since the fork)


def forkable(argv: list[str], env: dict[str, str]) -> bool:
    if argv[:len(NOBODY)] == NOBODY:
        argv = argv[len(NOBODY):]
    return argv[:2] == PREFIX[:2] and argv[2:3] in ([m] for m in MODULES) and _utf8(env)


def _utf8(env: dict[str, str]) -> bool:
    if "PYTHONIOENCODING" in env:
        return False
    chosen = next((env[k] for k in _LOCALE if env.get(k)), "C.UTF-8")
    return chosen.upper().replace("-", "").endswith(("UTF8", ".UTF8")) or chosen in ("C", "POSIX")


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    from tests.support.daemon import wait_for

    path = tempfile.mkdtemp(prefix="ctlfork-") + "/z.sock"
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.ctlfork", path, str(os.getpid())], cwd=ROOT,
                            stdin=subprocess.DEVNULL, env=env)
    wait_for(lambda: os.path.exists(path) or proc.poll() is not None, 60, "the edgectl zygote")
    assert proc.poll() is None, "the edgectl zygote exited at its start"
    atexit.register(_stop, proc)
    return proc, path


def _started() -> str:
    global _zygote
    with _lock:
        if _zygote is None or _zygote[0].poll() is not None:
            _zygote_env.clear()
            _zygote_env.update(zygote_env(os.environ))
            _zygote = _start(dict(_zygote_env))
        return _zygote[1]


def share_shim(lib: Path, offset: Path) -> None:
    """A time module's clock shim and the offset file it reads, shared by the module's tests (tests/test_time_box_daemon.py
    Cameras): a daemon differing from the zygote in that shim alone is forked from a second zygote started under it,
    until `unshare_shim` ends that one (design/0527). Anything else that differs still starts a daemon cold."""
    _shared.clear()
    _shared.update(LD_PRELOAD=str(lib), EDGED_TEST_CLOCK_OFFSET=str(offset))


def _shim_started(env: dict[str, str]) -> str | None:
    global _shimmed
    rest = {k: v for k, v in env.items() if k != "LD_PRELOAD"} | {k: v for k, v in _zygote_env.items() if k == "LD_PRELOAD"}
    if not _shared or any(env.get(k) != v for k, v in _shared.items()) or not _as_imported(rest):
        return None
    with _lock:
        if _shimmed is None or _shimmed[0].poll() is not None:
            _shimmed = _start(zygote_env(os.environ) | _shared)
        return _shimmed[1]


def unshare_shim() -> None:
    """The module's shim no longer shared, its zygote ended and reaped (its CPU is the module's, no worker keeps it)."""
    global _shimmed
    with _lock:
        _shared.clear()
        if _shimmed is not None:
            _stop(_shimmed[0])
            _shimmed = None


def zygote_env(now: Mapping[str, str]) -> dict[str, str]:
    """The zygote's environment: the process's own at its start, without what a test set for its own daemons (EDGED_,
    LD_PRELOAD: a zygote under a test's clock shim started each later daemon of its worker cold, design/0527)."""
    return {k: v for k, v in now.items() if not k.startswith(("EDGED_", *_AT_IMPORT))} | _START_ENV


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """At this process's exit: the zygote ends and is reaped, so its own CPU is in this process's children's."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(argv: list[str], *, input: str | None = None, env: dict[str, str] | None = None, cwd: Path | str = ROOT,
        timeout: float = 300, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """subprocess.run(argv, capture_output=True, text=True, ...) for an edgectl command line."""
    env = dict(os.environ if env is None else env)
    if not forkable(argv, env):
        return subprocess.run(argv, input=input, env=env, cwd=cwd, timeout=timeout, capture_output=True, text=True,
                              **kwargs)
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr, \
            socket.socket(socket.AF_UNIX) as conn:
        fin.write((input or "").encode())
        fin.seek(0)
        conn.settimeout(timeout)
        conn.connect(_started())
        nobody = argv[:len(NOBODY)] == NOBODY
        line = argv[len(NOBODY) * nobody:]
        request = json.dumps({"module": line[2], "argv": line[3:], "env": env, "cwd": str(cwd),
                              "nobody": nobody}).encode()
        socket.send_fds(conn, [len(request).to_bytes(4, "big") + request], [fin.fileno(), fout.fileno(), ferr.fileno()])
        with conn.makefile("rb") as answers:   # the child's pid, then its status: both may come in one read
            pid = answers.readline().strip()
            try:
                status = answers.readline().decode().strip() if pid else ""
            except TimeoutError:
                os.kill(int(pid), 9)
                raise subprocess.TimeoutExpired(argv, timeout) from None
        fout.seek(0)
        ferr.seek(0)
        out, err = fout.read().decode(errors="replace"), ferr.read().decode(errors="replace")
    if not status:  # the child died before it could answer (a signal, os._exit in the code)
        return subprocess.CompletedProcess(argv, 1, out, err + "\nedgectl (forked for the tests): died unanswered")
    code, cpu = status.split()
    global spent
    spent += float(cpu)
    return subprocess.CompletedProcess(argv, int(code), out, err)


def _as_imported(env: dict[str, str]) -> bool:
    """The environment a module reads at its import is the zygote's."""
    names = {k for k in (*env, *_zygote_env) if k.startswith(_AT_IMPORT) or k in READ_AT_IMPORT}
    return all(env.get(k) == _zygote_env.get(k) for k in names)


class Forked:
    """The part of subprocess.Popen the tests use, for a daemon forked from the zygote (`spawn`)."""

    def __init__(self, args: list[str], conn: socket.socket) -> None:
        self.args, self._conn = args, conn
        self._answers = conn.makefile("rb")
        line = self._answers.readline().strip()
        if not line:
            conn.close()
            raise OSError(f"the zygote could not fork {args}")
        self.pid = int(line)
        self.returncode: int | None = None
        self._ended = threading.Event()
        threading.Thread(target=self._await, name=f"forked-{self.pid}", daemon=True).start()

    def _await(self) -> None:
        global spent
        try:
            status = self._answers.readline().decode().split()
        except OSError:
            status = []
        finally:
            self._answers.close()
            self._conn.close()
        if status:
            with _lock:
                spent += float(status[1])
        self.returncode = int(status[0]) if status else -9  # the monitor itself killed: as a SIGKILL
        self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(15)

    def kill(self) -> None:
        self.send_signal(9)


def spawn(argv: list[str], *, stdout: Any, cwd: Path | str = ROOT, env: dict[str, str] | None = None,
          new_session: bool = False, warm: bool = True) -> "subprocess.Popen[bytes] | Forked":
    """subprocess.Popen(argv, stdout=stdout, stderr=STDOUT, ...) for `python -m edged.cli run ...` or the office's:
    forked from the zygote when its imports are what the daemon would import (else a subprocess, as before).
    `warm=False`: a subprocess, for a test of what the daemon itself loads (tests/test_daemon_imports.py reads its
    memory maps: a forked daemon maps all the zygote imported)."""
    env = dict(os.environ if env is None else env)
    daemon = warm and argv[:2] == PREFIX[:2] and argv[2:4] in ([m, "run"] for m in DAEMONS) and _utf8(env)
    path = _started() if daemon else None
    if path is not None and not _as_imported(env):
        path = _shim_started(env)
    if path is None:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.STDOUT,
                                start_new_session=new_session)
    conn = socket.socket(socket.AF_UNIX)
    conn.connect(path)
    request = json.dumps({"module": argv[2], "argv": argv[3:], "env": env, "cwd": str(cwd), "nobody": False,
                          "daemon": True, "session": new_session}).encode()
    with open(os.devnull, "rb") as nothing:
        socket.send_fds(conn, [len(request).to_bytes(4, "big") + request], [nothing.fileno(), stdout.fileno(),
                                                                             stdout.fileno()])
    return Forked(argv, conn)


def _become_nobody() -> None:
    """What NOBODY's setpriv does: uid and gid nobody's, no groups, CAP_DAC_OVERRIDE kept (capset(2))."""
    import ctypes
    import grp
    import pwd

    libc = ctypes.CDLL(None, use_errno=True)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    assert libc.prctl(8, 1, 0, 0, 0) == 0  # PR_SET_KEEPCAPS: the permitted set survives the uid's change
    os.setgroups([])
    gid, uid = grp.getgrnam("nogroup").gr_gid, pwd.getpwnam("nobody").pw_uid
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    caps = (Data * 2)()
    caps[0].effective = caps[0].permitted = caps[0].inheritable = 1 << 1  # CAP_DAC_OVERRIDE
    assert libc.capset(ctypes.byref(Header(0x20080522, 0)), caps) == 0, os.strerror(ctypes.get_errno())


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The call: its request and its stdin, stdout and stderr."""
    fds = array.array("i")
    data, ancdata, _flags, _addr = conn.recvmsg(1 << 16, socket.CMSG_LEN(3 * fds.itemsize))
    fds.frombytes(ancdata[0][2])
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
        data += conn.recv(1 << 16) or b"?"
    return json.loads(data[4:]), list(fds)


def _enter(request: dict[str, Any], fds: list[int]) -> None:
    """This process becomes the call's: its descriptors, user, folder, environment and arguments."""
    import locale

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    if request["nobody"]:
        _become_nobody()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    try:
        locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:
        pass
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.argv = [request["module"], *request["argv"]]


def _call(module: str, argv: list[str]) -> int:
    """`main(argv)` as the interpreter runs a module's: its status, SystemExit's, or 1 and the traceback."""
    import importlib

    from storage.process.threadname import name_os_thread

    name_os_thread({"edged.cli.edgectl": "edgectl", "central.cli": "edged-central"}.get(module, "ctlfork"))  # acct.py
    try:
        code = importlib.import_module(module).main(argv)
    except SystemExit as exc:  # argparse's errors and --help, as the interpreter ends on them
        code = exc.code if isinstance(exc.code, int) or exc.code is None else 1
        if not isinstance(exc.code, int) and exc.code is not None:
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - a traceback, as a command line prints it
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return int(code or 0)


def _monitor(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> int:
    """A daemon: forked again, in a session of its own if asked; this process tells the caller its pid, then
    its exit status (a signal's as -N) and the CPU of it and of the children it reaped."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            conn.close()
            if request.get("session"):
                os.setsid()
            _enter(request, fds)
            code = _call(DAEMONS[request["module"]], request["argv"])
            import atexit as exits
            import threading as threads

            threads._shutdown()  # type: ignore[attr-defined]  # the interpreter's end: its threads, then atexit
            exits._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    conn.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    conn.sendall(f"{os.waitstatus_to_exitcode(status)} {used.ru_utime + used.ru_stime:.4f}\n".encode())
    return 0


def serve(path: str, parent: int) -> None:
    """The zygote: edgectl, its verbs and the daemons imported once, then a forked child per connection."""
    import importlib
    import signal

    from edged.cli import edgectl
    from storage.process.threadname import name_os_thread

    name_os_thread("ctlfork-zygote")

    for name in (*(f"edged.cli.{verb}" for verb in edgectl.MODULES), *MODULES, *DAEMONS.values(), *WARM):
        importlib.import_module(name)
    # children reap themselves: each tells its caller its CPU, which is not counted twice at the zygote's end
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(path + ".new")
            listener.listen(16)
            os.rename(path + ".new", path)   # there once it answers: a caller waits for the path
            listener.settimeout(1.0)
            while os.getppid() == parent:
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                conn.settimeout(None)
                if os.fork() == 0:
                    code = 1  # whatever happens in the child, it never returns into this loop
                    try:
                        listener.close()
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                        signal.signal(signal.SIGTERM, signal.SIG_DFL)
                        request, fds = _receive(conn)
                        if request.get("daemon"):
                            code = _monitor(conn, request, fds)
                        else:
                            conn.sendall(f"{os.getpid()}\n".encode())
                            _enter(request, fds)
                            code = _call(request["module"], request["argv"])
                            used = resource.getrusage(resource.RUSAGE_SELF)  # since the fork: the call's own
                            conn.sendall(f"{code} {used.ru_utime + used.ru_stime:.4f}\n".encode())
                    finally:
                        os._exit(code)
                conn.close()
    finally:  # not atexit's: a daemon forked from here runs atexit's functions as it ends (nothing left in /tmp)
        for leftover in (path, path + ".new"):
            if os.path.exists(leftover):
                os.unlink(leftover)
        os.rmdir(os.path.dirname(path))


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
