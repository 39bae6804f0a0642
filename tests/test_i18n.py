"""The message catalogs (design/0047): every string people read in the covered modules is
marked and translated into zh_TW, the shipped .mo matches the .po, and the pure parts (ROC
dates, language choice, the config's language and time zone, ASCII ids) do what the forms need."""

from __future__ import annotations

import ast
import gettext
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po

from edged import i18n
from edged.config import ConfigError, parse_config
from edged.i18n import _, fmt_date, fmt_datetime, normalise, person_language, roc_date, roc_date_short, speaking
from tests.support.forms import TAIPEI, us
from tests.support import sources

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "edged/locale/zh_TW/LC_MESSAGES/edged.po"
MO = PO.with_suffix(".mo")
ALARM_KINDS = "storage/alarm_kinds.py"  # the alarm titles: extracted with edged/ (design/0067)
READER_REASONS = "recorder/reader_choice.py"  # why "auto" records with FFmpeg's reader (design/0092)
# Modules whose strings no person reads in a language of their own (design/0057), and why.
NOT_COVERED = {
    "edged/daemon/keepalive.py": "systemd's STATUS= line and the watchdog's names: the journal's",
    "edged/daemon/recording/prestart.py": "start-up refusals before the config is read: the journal's",
    "edged/daemon/signals.py": "test hooks and the journal",
    "edged/viewer/media_worker.py": "a separate process; its errors go to the journal",
    "edged/viewer/frames.py": "the media worker's frames; a broken one ends the view, told to the journal",
    "edged/viewer/media_client.py": "the daemon's side of the media worker; its errors go to the journal",
    "edged/rules/health.py": "a check's finding, stored in the catalog when made and shown later (English)",
    "edged/rules/inspections.py": "an inspection item's finding, stored in the run's record when made (English)",
}
# Every module whose output a person reads (design/0047, 0057): edgectl and edged's own output,
# the control answers, the daemon's refusals and alarm messages, the viewer, the documents. A new
# module there is covered without being listed.
COVERED = sorted({str(p.relative_to(ROOT)) for d in ("edged/cli", "edged/control", "edged/daemon", "edged/viewer",
                                                     "edged/documents", "edged/rules")
                  for p in (ROOT / d).glob("*.py")} - set(NOT_COVERED)
                 | {"edged/alarms.py", "edged/alarm_titles.py", "edged/people.py", ALARM_KINDS})
# edged-central's pages and reports (design/0028): its CLI's and the journal's text stays English
CENTRAL = ["central/pages/dashboard.py", "central/report/report.py", "central/report/month.py",
           "central/pages/month_page.py", "central/finding_words.py", "central/pages/pages.py"]
MARKERS = {"_", "N_", "ngettext"}
LOGGERS = {"log", "logger", "logging", "_log"}  # the journal is the technician's and grep's: English (design/0057)
LOG_CALLS = {"debug", "info", "warning", "error", "exception", "critical"}
# Names, not text: a port's name, an audit record's fields, a lookup's key.
NOT_TEXT = {"add_argument", "add_parser", "startswith", "endswith", "get", "replace", "join", "split", "upsert",
            "lower", "execute", "query", "call", "parse_known_args", "add_subparsers", "Check", "Outlet", "Trigger",
            "append", "getLogger", "removesuffix", "removeprefix", "pop", "setdefault", "index", "count", "strip",
            "rstrip", "lstrip", "partition", "rsplit", "encode", "decode", "strftime", "strptime", "fields", "Path",
            "getattr", "hasattr", "isinstance", "submit", "spawn", "keep", "create_task", "run", "Thread",
            "ContextVar", "setattr", "op", "json", "dumps", "loads", "mark", "init_data", "close", "close_all",
            "hole_reason", "set_camera_state", "set_state", "_not_recording"}
STORED = {"reason", "blocked"}  # self.gaps.reason[cam] = "...": a state's reason kept as data (design/0057)
# A lone word is shown text when it is said (print, an error), a table's column title, or the
# other branch of a conditional whose one branch is marked.
SAID = re.compile(r"^(print|UsageError|RequestError|ReferenceRefused|InspectionError|MaintenanceError|ExportError|"
                  r"HoldError|SystemExit|fail|say)$")
LETTERS = re.compile(r"[A-Za-z]{2,}")
# Prose: two words with a space (and maybe punctuation) between, or one word standing between
# spaces (an f-string's " by "); not CSS, HTML, a format string or an id.
PROSE = re.compile(r"[A-Za-z]{2,}[,;:.)]* +\(?[a-z]{2,}|^ +[a-z]{2,} +$")
PLACEHOLDER = re.compile(r"\{[a-z_]*(?:![rsa])?(?::[^}]*)?\}")


# the catalogs: edged's, and edged-central's dashboard and reports (design/0028), each its own domain
DOMAINS = ("edged", "central")


def po_of(domain: str) -> Path:
    return ROOT / f"{domain}/locale/zh_TW/LC_MESSAGES/{domain}.po"


def catalog(domain: str = "edged"):
    with po_of(domain).open("rb") as f:
        return read_po(f, locale="zh_TW")


def extracted(domain: str = "edged") -> set[str]:
    """What scripts/i18n extract finds in edged/ and the alarm registry (or in central/) now
    (Babel, babel.cfg's method map)."""
    ids = set()
    keywords = {"_": None, "N_": None, "ngettext": (1, 2)}
    for _file, _line, message, _comments, _ctx in extract_from_dir(ROOT / domain, [("**.py", "python")],
                                                                  keywords=keywords):
        ids.add(message[0] if isinstance(message, tuple) else message)
    if domain == "edged":
        for registry in (ALARM_KINDS, READER_REASONS):  # the alarm titles (design/0067), the fallbacks' whys
            for _line, message, _comments, _ctx in extract_from_file("python", ROOT / registry, keywords=keywords):
                ids.add(message)
    return ids


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_message_is_translated_and_none_is_fuzzy(domain):
    cat = catalog(domain)
    bad = []
    for m in cat:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy or not all(strings):
            bad.append(m.id)
        source = m.id if isinstance(m.id, str) else m.id[0]
        if any(sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(s)) for s in strings):
            bad.append(("placeholders differ", m.id))
    assert not bad, f"untranslated, fuzzy or broken entries in {po_of(domain).relative_to(ROOT)}: {bad}"


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_catalog_holds_every_marked_string(domain):
    """A string marked in the code but missing from the catalog: run `scripts/i18n` and translate."""
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog(domain) if m.id}
    missing = extracted(domain) - ids
    assert not missing, (f"marked but not in {po_of(domain).relative_to(ROOT)} (run scripts/i18n, then translate): "
                         f"{missing}")


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_shipped_mo_is_compiled_from_the_po(domain):
    mo = po_of(domain).with_suffix(".mo")
    with mo.open("rb") as f:
        shipped = gettext.GNUTranslations(f)
    for m in catalog(domain):
        if m.id and isinstance(m.id, str):
            assert shipped.gettext(m.id) == m.string, f"{mo.relative_to(ROOT)} is stale: run scripts/i18n compile"


def _call_name(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")


def _is_marked(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _call_name(node) in MARKERS


def _unmarked(path: Path) -> list[str]:
    """Prose in string literals that no marker wraps, lone words said or used as column titles,
    and markers Babel cannot see (inside an f-string, on Python 3.11). Docstrings, log messages,
    argparse declarations, dict keys and names (ports, audit fields) are not shown text; a line
    saying `# i18n: why` (or a comment line above it saying so) is left alone (MQTT and the journal stay English)."""
    source, tree = sources.text(path), sources.tree(path)
    pragma = {n + k for n, line in enumerate(source.splitlines(), 1) if "# i18n:" in line
              for k in ((0,) if not line.lstrip().startswith("#") else (1, 2) if "two lines" in line else (1,))}
    inside, skip, found, said = set(), set(), [], set()
    where = str(path.relative_to(ROOT))
    for node in sources.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in MARKERS:
                inside.update(id(n) for a in node.args for n in ast.walk(a))
                if node.args and not isinstance(node.args[0], ast.Constant) and any(
                        isinstance(n, ast.Constant) and isinstance(n.value, str) for n in ast.walk(node.args[0])):
                    found.append(f"{where}:{node.lineno}: {name}() of an expression holding "
                                 "strings (Babel would extract them joined as one message)")
            if name in ("add_argument", "add_parser", "ArgumentParser", "error") or name.startswith("_check"):
                skip.update(id(n) for k in node.keywords for n in ast.walk(k.value))
            logged = (name in LOG_CALLS and isinstance(node.func, ast.Attribute)
                      and isinstance(node.func.value, ast.Name) and node.func.value.id in LOGGERS)
            if name in NOT_TEXT or logged:
                skip.update(id(n) for a in [*node.args, *(k.value for k in node.keywords)] for n in ast.walk(a))
            if SAID.match(name) or name.endswith(("Error", "Refused")):
                said.update(id(n) for a in node.args if isinstance(a, (ast.Constant, ast.JoinedStr, ast.BinOp))
                            for n in ast.walk(a) if isinstance(n, ast.Constant))
            if name == "table" and node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
                said.update(id(e) for e in node.args[0].elts if isinstance(e, ast.Constant))
        if isinstance(node, ast.IfExp) and (_is_marked(node.body) or _is_marked(node.orelse)):
            said.update(id(b) for b in (node.body, node.orelse) if isinstance(b, ast.Constant))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "register":
            skip.update(id(n) for n in ast.walk(node))  # argparse declarations: help texts stay English
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module, ast.ClassDef)) and \
                ast.get_docstring(node):
            skip.add(id(node.body[0].value))
        if isinstance(node, ast.Dict):
            skip.update(id(n) for k in node.keys if k is not None for n in ast.walk(k))
        if isinstance(node, ast.Subscript):
            skip.update(id(n) for n in ast.walk(node.slice))
        if isinstance(node, ast.Assign) and any(
                (t.value.attr if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Attribute) else
                 getattr(t, "attr", "")) in STORED for t in node.targets):
            skip.update(id(n) for n in ast.walk(node.value))
        if isinstance(node, ast.Attribute) and node.attr == "join":  # ", ".join(...): a separator
            skip.add(id(node.value))
        if isinstance(node, ast.Compare):  # x == "active": an id compared, not shown
            skip.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.JoinedStr):
            for n in ast.walk(node):
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in MARKERS:
                    found.append(f"{where}:{n.lineno}: {n.func.id}() inside an f-string "
                                 "(Babel does not extract it on Python 3.11)")
    for node in sources.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside | skip \
                and node.lineno not in pragma:
            text = node.value
            not_prose = r"[{}<>]|^\s*[@.#]|%s" if id(node) in said else r"[{};<>=]|^\s*[@.#]|%s"  # said: not CSS
            prose = PROSE.search(text) and not re.search(not_prose, text)
            lone = id(node) in said and LETTERS.search(text) and not re.search(r"[{};<>=_/]|%s|^-|^\W*$|^[\w-]+: $",
                                                                               text)
            if prose or lone:
                found.append(f"{where}:{node.lineno}: {text!r}")
    return found


def test_every_string_people_read_is_marked():
    found = [f for module in COVERED + CENTRAL for f in _unmarked(ROOT / module)]
    assert not found, "strings shown to people but not marked for translation:\n" + "\n".join(found)


def test_the_unmarked_check_catches_a_string():
    """The check above can fail: an unmarked sentence and a marker inside an f-string."""
    bad = ROOT / "tests/.i18n_probe.py"
    bad.write_text('def f(n):\n    print("this camera is gone")\n    _(T[n["ok"]])\n'
                   '    return f"{_(\'Camera\')} {n}"\n'
                   'def g(x):\n    t = table(["CAMERA", _("SIZE")], [])\n    raise UsageError("refused")\n'
                   '    return (_("yes") if x else "no"), x == "active", log.info("camera %s is gone", x)\n')
    try:
        found = _unmarked(bad)
    finally:
        bad.unlink()
    assert len(found) == 6, found


def test_roc_dates():
    assert roc_date(date(2026, 11, 22)) == "民國115年11月22日"
    assert roc_date_short(date(2026, 11, 22)) == "115/11/22"
    assert roc_date(date(1912, 1, 1)) == "民國1年1月1日"
    assert roc_date(date(1911, 10, 10)) == "民國前1年10月10日"
    # Times in the site's zone: 23:30 UTC on the 21st is the 22nd in Taipei.
    late = us("2026-11-22 07:30")
    assert fmt_date(late, "zh-TW", TAIPEI, long=True) == "民國115年11月22日"
    assert fmt_datetime(late, "zh-TW", TAIPEI) == "115/11/22 07:30"   # no "CST": it reads as China's
    assert fmt_datetime(late, "en", TAIPEI) == "2026-11-22 07:30 CST"
    assert fmt_date(late, "en", TAIPEI, long=True) == "22 November 2026"


def test_language_tags_and_the_persons_choice():
    assert [normalise(t) for t in ("zh-TW", "zh_TW.UTF-8", "zh-Hant-TW", "en_US.UTF-8", "C", "fr_FR", "")] == \
        ["zh-TW", "zh-TW", "zh-TW", "en", None, None, None]
    assert person_language("zh-TW", {}) == "zh-TW"
    assert person_language(None, {"LANG": "zh_TW.UTF-8"}) == "zh-TW"
    assert person_language(None, {"LC_ALL": "en_US.UTF-8", "LANG": "zh_TW.UTF-8"}) == "en"
    assert person_language(None, {"LANG": "C.UTF-8"}) is None
    with speaking("zh-TW"):
        assert _("CCTV in operation") == "錄影監視告示"
        with speaking("en"):
            assert _("CCTV in operation") == "CCTV in operation"
        assert i18n.language() == "zh-TW"
    assert i18n.language() == "en"


def _site(**site):
    return parse_config({"site": {"id": "jingmei", **site}, "storage": {"data_dir": "/tmp/x"}})


def test_site_language_and_time_zone_in_the_config():
    cfg = _site(name="景美辦事處", language="zh-TW", timezone="Asia/Taipei")
    assert (cfg.site.language, cfg.site.timezone, cfg.site.name) == ("zh-TW", "Asia/Taipei", "景美辦事處")
    assert _site().site.language == "en" and _site().site.timezone is None
    with pytest.raises(ConfigError, match=r"site.language: \"fr\" is not a supported language; use one of \"en\""):
        _site(language="fr")
    with pytest.raises(ConfigError, match="site.timezone: 'Mars/Olympus' is not a time zone name"):
        _site(timezone="Mars/Olympus")


def test_an_id_in_chinese_is_refused_with_where_the_chinese_belongs():
    with pytest.raises(ConfigError) as exc:
        parse_config({"site": {"id": "jingmei"}, "storage": {"data_dir": "/tmp/x"},
                      "cameras": [{"id": "櫃檯1", "url": "synthetic:"}]})
    assert "cameras[0].id" in str(exc.value) and "ids are ASCII" in str(exc.value) and "name" in str(exc.value)


@pytest.mark.process
def test_edgectl_lang_before_or_after_the_verb_and_from_lang():
    """--lang anywhere on the line; LANG when it is not given (the usage error is in that language).
    The three edgectl processes run side by side: one after the other, each waited for the one
    before it to start Python, import edgectl and exit."""
    runs = []
    for argv, env in ((["--lang", "zh-TW", "segments", "--from", "now", "--to", "-1h"], {}),
                      (["segments", "--from", "now", "--to", "-1h", "--lang", "zh-TW"], {}),
                      (["segments", "--from", "now", "--to", "-1h"], {"LANG": "zh_TW.UTF-8"})):
        runs.append((argv, subprocess.Popen(
            [sys.executable, "-m", "edged.cli.edgectl", "--socket", "/nonexistent.sock", *argv],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8", **env})))
    try:
        for argv, proc in runs:
            _, stderr = proc.communicate(timeout=30)
            assert proc.returncode == 2 and "--to 須晚於 --from" in stderr, (argv, stderr)
    finally:
        for _, proc in runs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_every_text_of_the_viewer_pages_is_listed_for_translation():
    from edged.viewer.texts import SCRIPT, TEXTS

    static = ROOT / "edged/viewer/static"
    unlisted = []
    for page in ("login.html", "live.html", "grid.html", "playback.html"):
        source = (static / page).read_text()
        texts = [m.strip() for m in re.findall(r">([^<]+)<", source)] + re.findall(r'aria-label="([^"]+)"', source)
        unlisted += [(page, t) for t in texts if t and t != "edged" and not t.isdigit() and t not in TEXTS]
    script = (static / "viewer.js").read_text() + (static / "grid.js").read_text()
    code = "\n".join(line.split("//")[0] if not line.lstrip().startswith("//") else "" for line in script.splitlines())
    marked = re.findall(r'\bt\("([^"]+)"', code)
    unlisted += [("viewer.js t()", m) for m in marked if m not in SCRIPT]
    for m in re.finditer(r'"([^"\n]*)"|`([^`]*)`', code):
        text = m[1] if m[1] is not None else m[2]
        if re.search(r"[A-Za-z]{2,} [a-z]{2,}", text) and not code[:m.start()].endswith("t(") and text != "use strict":
            unlisted.append(("viewer.js, not in t()", text))
    assert not unlisted, f"viewer texts not listed in edged/viewer/texts.py: {unlisted}"
    assert len(marked) >= 20


def test_a_viewer_page_in_zh_tw():
    from edged.viewer.texts import page_html

    source = (ROOT / "edged/viewer/static/login.html").read_text()
    page = page_html(source, "zh-TW", "臺北市測試戶政事務所", "/login")
    assert '<html lang="zh-Hant-TW">' in page and "<title>影像檢視：登入</title>" in page
    assert ">登入</button>" in page and '<span class="label">密碼</span><input' in page and "data-texts=" in page
    # the desk's header: the site's name, and the switch to English back to this page
    assert '<span class="site-name">臺北市測試戶政事務所</span>' in page
    assert '<a class="lang" href="/desk/lang?to=en&amp;back=/login" lang="en">English</a>' in page
    english = page_html(source, "en", "Site <A>", "/login")
    assert '<span class="site-name">Site &lt;A&gt;</span>' in english
    assert (english.replace(' data-texts="{}"', "").replace("Site &lt;A&gt;", "").split("<a class=\"lang\"")[0]
            == source.replace(" data-site", "").split("<a class=\"lang\"")[0])


def test_every_alarm_kind_has_a_title_for_people():
    """By construction: a kind is declared with its title (storage/alarm_kinds.py, design/0067);
    tests/test_alarm_kinds.py checks every title's translation and that none is raised undeclared."""
    from edged.alarm_titles import TITLES
    from edged.rules.health import KINDS
    from storage.alarm_kinds import KINDS as DECLARED

    raised = set(KINDS) | set(DECLARED)
    assert raised - set(TITLES) == set(), "alarm kinds without a title in edged/alarm_titles.py"
    with speaking("zh-TW"):
        from edged.alarm_titles import title
        assert title("camera_offline") == "攝影機離線" and title("no_such_kind") == "no_such_kind"


def test_the_desk_names_a_health_condition_in_the_persons_language():
    """The daemon's words stay English (MQTT, the catalog); the desk puts the kind's title first."""
    from edged.i18n import set_language
    from edged.viewer.desk.cameras import problem_of

    cam = {"state": "degraded", "health": {"conditions": {
        "below_resolution": "resolution 1280x720 (0.92 MP) is below the floor 1.0 MP"}}}
    set_language("zh-TW")
    try:
        shown = problem_of(cam)
    finally:
        set_language("en")
    title = shown.split(":", 1)[0]
    assert title and title.isascii() is False, shown
    assert '<span translate="no">resolution 1280x720 (0.92 MP) is below the floor 1.0 MP</span>' in shown
    offline = problem_of({"state": "offline", "last_error": "401 Unauthorized"})   # issue 42: words, then the detail
    assert offline.startswith("Not connected") and '<span translate="no">401 Unauthorized</span></details>' in offline
