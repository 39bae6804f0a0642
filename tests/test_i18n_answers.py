"""Whose language (design/0057): the daemon's refusals in the asker's language (over a real
control socket, the refusal made on the catalog writer's thread), alarm messages stored once in
English and shown in the reader's, argparse's own words and `--help` in the person's."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edged.alarms import Alarms, alarm_text
from edged.control.client import call
from edged.control.operation import write_refusing
from edged.control.protocol import RequestError
from edged.control.server import ControlServer
from edged.i18n import N_, Msg, _, speaking
from edged.rules import retrieval as rq
from edged.viewer.rules import overlay_text
from storage.catalog import CatalogWriter
from storage.alarm_kinds import CAMERA_OFFLINE
from storage.health import alarms as alarm_table

ROOT = Path(__file__).resolve().parent.parent


def test_the_daemon_answers_in_the_language_of_the_person_asking(tmp_path):
    async def scenario():
        writer = CatalogWriter(tmp_path / "catalog.db")
        await writer.start()

        async def ping(_args, _caller):  # a rule's refusal, raised on the catalog writer's thread
            await write_refusing(writer, lambda _db: rq.check_flag("bogus"), _("request not filed"))

        server = ControlServer(tmp_path / "control.sock", {"ping": ping})
        await server.start()
        try:
            answers = {}
            for lang in ("zh-TW", "en"):
                with speaking(lang):  # edgectl's language, sent with the request
                    with pytest.raises(RequestError) as exc:
                        await asyncio.to_thread(call, tmp_path / "control.sock", "ping", {})
                answers[lang] = str(exc.value)
            return answers
        finally:
            await server.close()
            await writer.close()

    answers = asyncio.run(scenario())
    assert answers["zh-TW"] == "申請未受理：標記須為 major 或 abnormal，不是 'bogus'", answers
    assert answers["en"] == "request not filed: a flag is major or abnormal, not 'bogus'", answers


def test_an_alarm_is_stored_and_published_in_english_and_shown_in_the_readers_language(tmp_path):
    published = []

    async def scenario():
        writer = CatalogWriter(tmp_path / "catalog.db")
        await writer.start()
        try:
            alarms = Alarms(writer)

            async def publish(event):  # the MQTT reporter's port
                published.append(event)

            alarms.publish.connect(publish)
            with speaking("zh-TW"):  # the language current when it is raised changes nothing stored
                await alarms.raise_(CAMERA_OFFLINE, Msg(N_("camera {camera} is not recording: {why}"),
                                                        camera="counter1", why="no answer"), camera="counter1")
            return await writer.run(lambda c: alarm_table.listing(c.db))
        finally:
            await writer.close()

    (row,) = asyncio.run(scenario())
    assert row["message"] == "camera counter1 is not recording: no answer"
    assert published and published[0]["message"] == row["message"] and "text" not in (published[0]["detail"] or {})
    assert json.loads(row["detail"])["text"]["template"] == "camera {camera} is not recording: {why}"
    with speaking("zh-TW"):
        assert alarm_text(row) == "攝影機 counter1 未在錄影：no answer"
    assert alarm_text(row) == row["message"]
    assert alarm_text({**row, "detail": None}) == row["message"]  # a row from before: its English message


@pytest.mark.process
def test_help_and_argparse_words_in_the_persons_language():
    out = subprocess.run([sys.executable, "-m", "edged.cli.edgectl", "--lang", "zh-TW", "maintenance", "--help"],
                         cwd=ROOT, capture_output=True, text=True, timeout=30,
                         env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"})
    assert out.returncode == 0 and out.stdout.startswith("用法：edgectl maintenance"), out.stdout
    assert "結束目前的維護期間" in out.stdout and "顯示此說明並結束" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "edged.cli.main", "check-config", "/nonexistent.toml"],
                         cwd=ROOT, capture_output=True, text=True, timeout=30,
                         env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8", "LANG": "zh_TW.UTF-8"})
    assert bad.returncode == 78 and bad.stderr.startswith("edged：設定錯誤："), bad.stderr


def test_the_name_burnt_over_the_picture_is_in_the_sites_language():
    with speaking("zh-TW"):
        assert overlay_text("playback", "carol", "林警員") == "閱覽人 林警員，陪同人 carol"
        assert overlay_text("live", "carol") == "閱覽人 carol"
    assert overlay_text("live", "carol") == "viewer carol"
