"""The set-up scripts: every branch runs, and every failure says what failed (design/0015).

The trap that broke `scripts/run`: under `set -e`, one bad line in a branch the tests never take (bootstrap
without --test) kept `scripts/run` from ever starting the daemon, silently."""

from __future__ import annotations

import re
import subprocess
import tomllib

from tests.support.daemon import ROOT


def run(args, **kw):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, **kw)


def test_scripts_run_reaches_the_daemon_through_the_runtime_bootstrap():
    # `--help` is forwarded to `edged run`: the whole path of the README's first command but the recording.
    r = run(["scripts/run", "--help"])
    assert r.returncode == 0, r.stderr
    assert "usage: edged run" in r.stdout


def test_bootstrap_names_a_bad_option():
    r = run(["scripts/bootstrap", "--tset"])
    assert r.returncode == 2
    assert "bootstrap: FAILED (exit status 2): unknown option --tset" in r.stderr


def test_a_failing_step_names_the_command_its_status_and_its_log(tmp_path):
    script = ('source scripts/lib.sh\n'
              'logged demo-step sh -c "echo first line; echo the reason it broke; exit 3"\n'
              'echo not reached\n')
    r = run(["bash", "-c", script], env={"PATH": "/usr/bin:/bin", "SETUP_LOGS": str(tmp_path)})
    assert r.returncode == 3
    assert "not reached" not in r.stdout
    assert 'FAILED (exit status 3): sh -c echo first line; echo the reason it broke; exit 3' in r.stderr
    assert "  | the reason it broke" in r.stderr
    assert f"the whole log: {tmp_path}/demo-step.log" in r.stderr
    assert (tmp_path / "demo-step.log").read_text() == "first line\nthe reason it broke\n"


def test_an_unguarded_failure_names_its_line_and_command():
    r = run(["bash", "-c", "source scripts/lib.sh\ntrue\nfalse\necho not reached"])
    assert r.returncode == 1
    assert "not reached" not in r.stdout
    assert re.search(r"FAILED \(exit status 1\): line 3: false", r.stderr), r.stderr


def test_an_unguarded_failure_in_a_substitution_is_not_silent():
    # The original bug's shape: an assignment from a substitution whose last command fails.
    r = run(["bash", "-c", 'source scripts/lib.sh\nflag=0\nx="$( (( flag )) && echo y )"\necho not reached'])
    assert r.returncode == 1 and "not reached" not in r.stdout
    assert "FAILED (exit status 1)" in r.stderr


def _pins(lock: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a pip-compile lock file."""
    pins: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", (ROOT / "requirements" / lock).read_text()):
        m = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1).lower())] = (m.group(2), re.findall(r"--hash=(sha256:\w+)", block))
    return pins


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower())


def test_the_lock_files_pin_and_hash_every_package_and_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    run_lock, test_lock = _pins("run.lock"), _pins("test.lock")
    assert run_lock and test_lock
    for pins in (run_lock, test_lock):
        for name, (version, hashes) in pins.items():
            assert hashes, f"{name}=={version} has no hash"
    assert {_name(d) for d in project["dependencies"]} <= set(run_lock)
    assert {_name(d) for d in project["optional-dependencies"]["test"]} <= set(test_lock)
    # One set of versions: a box that ran the tests runs the daemon with what they passed with.
    for name, (version, _h) in run_lock.items():
        assert test_lock[name][0] == version, f"{name}: run.lock {version}, test.lock {test_lock[name][0]}"


def test_ci_runs_both_readme_commands_as_written():
    r = run(["python3", ".ci/first_command.py", "--print"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["scripts/run", "scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'bash -c "${setup[1]}"' in ci and "python3 .ci/first_command.py ||" in ci
