"""Per-unit countersignatures and the register per site's annex (design/0082), pure and on a
real SQLite catalog: who may countersign which rows, the run countersigned with its last unit,
the repair answers, and the page printing the site's title, columns and each unit's chief."""

from __future__ import annotations

from edged.documents import Doc
from edged.documents.register import register_html
from edged.i18n import speaking
from edged.rules import inspections as rules
from storage.health import inspections as table
from storage.catalog import open_db
from tests.support.forms import PRINTED, SITE_NAME, TAIPEI

UNITS = {"圖書館": frozenset({"lee"}), "機械科": frozenset({"chao"})}
OK = {"host": {"ok": True, "detail": ""}, "recording": {"ok": True, "detail": ""}, "picture": {"ok": True, "detail": ""}}


def records():
    return [{"camera": "library-1", "unit": "圖書館", "items": OK, "ok": True, "anomalies": ""},
            {"camera": "workshop-1", "unit": "機械科", "items": {**OK, "picture": {"ok": False, "detail": "dark"}},
             "ok": False, "anomalies": "picture: dark"}]


def test_each_chief_countersigns_only_their_units_rows_and_the_run_with_the_last(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    rid = table.add_run(db, kind="manual", due_us=None, ran_us=1_000, ran_by="carol", records=records())
    run = table.run_of(db, rid)
    assert rules.countersign_refusal(run, "Lee (lee)", "lee", UNITS) == f"inspection {rid} is not signed by its inspector yet"
    table.sign(db, rid, "Carol (carol)", 2_000, {"workshop-1": "lamp replaced"}, {"workshop-1"})
    run = table.run_of(db, rid)
    assert {r["camera"]: r["repair"] for r in run["records"]} == {"library-1": 0, "workshop-1": 1}
    assert rules.units_to_countersign(run, "lee", UNITS) == ["圖書館"]
    assert rules.units_to_countersign(run, "carol", UNITS) == []
    assert "is not the chief of a unit" in rules.countersign_refusal(run, "Wang (wang)", "wang", UNITS)
    assert rules.countersign_refusal(run, "Carol (carol)", "carol", UNITS) == (
        "the supervisor who countersigns cannot be the inspector")
    assert rules.countersign_refusal(run, "Wang (wang)", "wang", None) is None, "one supervisor: any approver"
    # the inspector under another typed name is still the inspector: judged by account
    for typed in ("卡羅 (carol)", "carol", "Carol Chen (carol)"):
        assert rules.countersign_refusal(run, typed, "carol", None) == (
            "the supervisor who countersigns cannot be the inspector"), typed
        assert rules.countersign_refusal(run, typed, None, None) == (
            "the supervisor who countersigns cannot be the inspector"), typed
    assert rules.countersign_refusal(run, "Carol (wang)", "wang", None) is None, "a name is not an account"

    table.countersign(db, rid, "Lee (lee)", 3_000, ["圖書館"])
    run = table.run_of(db, rid)
    assert run["countersigned_us"] is None and rules.pending_units(run) == {"機械科"}
    assert "is not the chief of a unit" in rules.countersign_refusal(run, "Lee (lee)", "lee", UNITS), "signed once"
    assert rules.countersign_refusal(run, "Chao (chao)", "chao", UNITS) is None
    table.countersign(db, rid, "Chao (chao)", 4_000, ["機械科"])
    run = table.run_of(db, rid)
    assert run["countersigned_us"] == 4_000 and run["supervisor"] == "Lee (lee); Chao (chao)"
    assert "already countersigned" in rules.countersign_refusal(run, "Chao (chao)", "chao", UNITS)
    assert table.not_countersigned(db) == []

    # a run from before units (no unit on its rows) is any supervisor's, in one signature
    old = table.add_run(db, kind="manual", due_us=None, ran_us=5_000, ran_by="carol",
                        records=[{**r, "unit": ""} for r in records()])
    table.sign(db, old, "Carol", 6_000, {})
    run = table.run_of(db, old)
    assert rules.units_to_countersign(run, "wang", UNITS) == [""]
    table.countersign(db, old, "Wang", 7_000, [""])
    assert table.run_of(db, old)["countersigned_us"] == 7_000


def test_the_register_prints_the_sites_title_columns_units_and_repairs(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    rid = table.add_run(db, kind="manual", due_us=None, ran_us=1_763_900_000_000_000, ran_by="carol",
                        records=records())
    table.sign(db, rid, "Carol", 1_763_900_100_000_000, {}, {"workshop-1"})
    table.countersign(db, rid, "Lee", 1_763_900_200_000_000, ["圖書館"])
    register = {"title": "監視錄影系統保養紀錄簿", "items": ["host", "recording", "picture"], "ask_repair": True,
                "countersign": "unit"}
    doc = Doc("zh-TW", TAIPEI, SITE_NAME)
    with speaking("zh-TW"):
        page = register_html(doc, 2025, 11, [table.run_of(db, rid)], ("host", "recording", "picture"),
                             {"library-1": "圖書館入口", "workshop-1": "機械科實習工場"}, PRINTED, None, register)
    head = page[page.index("<table>"):page.index("</tr>")]
    order = ["監視主機正常運作", "錄影正常運轉", "畫面清晰", "是否申請修復", "單位主管核章"]
    assert [head.index(w) for w in order] == sorted(head.index(w) for w in order)
    assert "<h1>監視錄影系統保養紀錄簿</h1>" in page and "權限登入" not in head
    library, workshop = (page[page.index(n):].split("</tr>")[0] for n in ("圖書館入口", "機械科實習工場"))
    assert "Lee" in library and "Lee" not in workshop and "主管未核章" in workshop
    assert "圖書館主管核示" in page and "機械科主管核示" in page
    with speaking("en"):
        plain = register_html(Doc("en", TAIPEI, SITE_NAME), 2025, 11, [table.run_of(db, rid)],
                              rules.ITEMS[1:], {}, PRINTED)
    assert "CCTV inspection register" in plain and "Repair requested?" not in plain


class _Desk:
    """The desk's inspection page's needs: the config, one control answer, the page frame."""

    def __init__(self, cfg, run):
        self.cfg, self._run, self.calls = cfg, run, []

    async def run(self, ctx, op, args):
        self.calls.append((op, args))
        return self._run

    def render(self, ctx, title, body, status=200):
        return body


class _Request:
    def __init__(self, form=None):
        self.match_info, self.query = {"id": "1"}, {}
        self._form = form

    def get(self, key, default=None):
        return self._form if key == "form" else default


def test_the_desk_offers_each_chief_their_units_rows_and_the_inspector_the_repair_boxes(tmp_path):
    import asyncio

    from multidict import MultiDict

    from edged.config import load_config
    from edged.viewer.desk.inspections import Pages
    from edged.viewer.desk.page import Ctx, Person
    from tests.test_sites import SITES

    cfg = load_config(SITES / "004-vocational-school.toml")
    units = {c.id: c.unit for c in cfg.cameras}
    lib = sorted(cfg.policy.units[units["library-1"]])[0]
    db = open_db(tmp_path / "catalog.db")
    rid = table.add_run(db, kind="manual", due_us=None, ran_us=1_000, ran_by="carol", records=[
        {"camera": c, "unit": u, "items": OK, "ok": True, "anomalies": ""} for c, u in units.items()])

    def page(account, role, form=None, signed=False):
        if signed:
            table.sign(db, rid, "Carol (carol)", 2_000, {}, set())
        desk = _Desk(cfg, table.run_of(db, rid))
        ctx = Ctx(caller=Person(account=account, roles=(role,)), lang="en", site="", tz=None, now_us=3_000,
                  path="/desk/", csrf="tok")
        pages = Pages(desk)
        if form is None:
            return asyncio.run(pages.show(_Request(), ctx)), desk.calls
        try:
            asyncio.run(pages.sign(_Request(MultiDict(form)), ctx))
        except Exception as exc:  # the redirect after the operation
            assert type(exc).__name__ == "HTTPSeeOther", exc
        return "", desk.calls

    body, _ = page("carol", "custodian")
    assert 'name="repair-workshop-1"' in body and "Repair requested?" in body
    _, calls = page("carol", "custodian", {"name": "Carol", "repair-workshop-1": "1"})
    assert calls[-1] == ("inspect.sign", {"run": 1, "name": "Carol", "notes": {}, "repairs": ["workshop-1"]})
    body, _ = page(lib, "approver", signed=True)
    form = body[body.index('id="countersign"'):]
    assert "Countersign for your unit" in form and units["library-1"] in form and units["workshop-1"] not in form
    body, _ = page("someone", "approver")
    assert 'id="countersign"' not in body, "an approver who is no unit's chief is not offered the form"
