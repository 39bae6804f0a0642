"""The smaller slips an office's people met at the desk and on paper (issue 91 W15, W18-W28), each
said in the seed's own word: the desk is 監視系統作業台 (never 櫃檯系統), a citizen's copy is 閱覽ed
(the glossary's word, never 檢視), a signed box prints the signer's name (never 帳號), a copy
released for the accompanied viewing is not yet said to have been played, and the desk's home
names no kind of waiting work with a bare number. Read from the catalog in zh-TW, as the desk says them."""

from __future__ import annotations

import pytest

from edged.i18n import speaking, _

# (the English as the code says it, a word it must say, a word it must not)
SLIPS = [
    ("Signed; the printed application shows your name in the box.", "姓名", "帳號"),
    ("The box “{box}” can be signed at the desk now: the paper is recorded only while nobody who may sign it can "
     "log in.", "監視系統作業台", "櫃檯系統"),
    ("send the form from the desk's page", "監視系統作業台", "櫃檯系統"),
    ("What is shown or copied is redacted: every face but the applicant's is hidden; the original footage is kept "
     "whole.", "閱覽", "檢視"),
    ("What is shown or copied is redacted: everything but the applicant is hidden; the original footage is kept "
     "whole.", "閱覽", "檢視"),
    ("The grant was used for a redacted copy (export {id}, {time}), released to be shown at the accompanied viewing; "
     "nothing was handed over, and it is not made again.", "供陪同閱覽", "已於陪同閱覽時播放"),
    ("{n} segments of the device {device}", "器材", "攝影機"),
    ("{inspections} {due}", "{inspections}{due}", "。 "),
]


@pytest.mark.parametrize("english, said, never", SLIPS)
def test_each_slip_in_the_seeds_word(english, said, never):
    with speaking("zh-TW"):
        words = _(english)
    assert words != english, f"untranslated: {english!r}"
    assert said in words and never not in words, words


def test_the_paper_refusal_never_calls_a_login_name_a_name():
    """The 秘書's box refused to another at 001, whose 秘書 (wu) has no name kept yet: the refusal
    said 「請依紙本申請表填入秘書的姓名（wu）」."""
    from edged.rules.applications import paper_refusal
    a = {"name": "kao", "events": [{"action": "opened", "by": "admin", "at_us": 1, "reason": "r"}]}
    titles = {"秘書": ["wu"]}
    with speaking("zh-TW"):
        bare = paper_refusal(a, "秘書", "鄭主任", ["秘書"], titles, [], {"wu": ""})
        named = paper_refusal(a, "秘書", "鄭主任", ["秘書"], titles, [], {"wu": "吳秘書"})
    assert bare and "wu" not in bare and "姓名" in bare, bare
    assert named and "吳秘書" in named, named


def test_an_evidence_holds_longest_term_is_said_as_the_site_writes_it():
    """001's 管理規範第十二點 destroys within 1年內 (max_retention = "12mo"): its hold form said
    「至多 372 日」, the longest twelve months reckoned in days; months where the rule writes months."""
    from pathlib import Path

    from edged.config import load_config
    from edged.rules.holds import longest
    sites = Path(__file__).resolve().parent.parent / "examples" / "sites"
    land = load_config(sites / "001-land-office.toml").policy.holds.evidence
    with speaking("zh-TW"):
        assert longest(land) == "12 個月", longest(land)
        assert "372" not in longest(land)
    school = load_config(sites / "004-vocational-school.toml").policy.holds.evidence   # 附件二: 30 days at most
    with speaking("zh-TW"):
        assert longest(school) == "30 日", longest(school)


def test_the_person_who_released_a_copy_finds_the_way_back_to_it(tmp_path):
    """issue 91 D4: at 000 (作業規定第四點(二)2, a second person releases a citizen's redacted copy)
    the releaser's request page offered nothing once she had released it. The release record says who
    (storage/redact/job.py `released_by`), and the request page's card leads her back to its page."""
    import json
    from pathlib import Path
    from types import SimpleNamespace

    from edged.config import load_config
    from edged.viewer.desk.page import Ctx, Person
    from edged.viewer.desk.redaction_cards import review_card
    from storage.redact import job

    export = tmp_path / "export-5"
    (tmp_path / "export-5.redacted-1").mkdir(parents=True)
    assert job.released_by(export) is None
    (tmp_path / "export-5.redacted-1" / job.RELEASED).write_text(json.dumps({"use": "view", "released_by": "lin"}))
    assert job.released_by(export) == "lin" and job.released_for(export) == "view"

    cfg = load_config(Path(__file__).resolve().parent.parent / "examples" / "sites" / "000-household-registration-office.toml")
    copy = {"id": 5, "custodian": "chen", "created_us": 1_000, "staged": True, "made": True, "released": True,
            "released_for": "view", "released_by": "lin"}
    req = {"id": 9, "kind": "citizen", "redacted_exports": [copy]}

    def card(account: str) -> str:
        ctx = Ctx(caller=Person(account=account, roles=("custodian",)), lang="zh-TW", site="", tz=None, now_us=2_000,
                  path="/desk/requests/9", csrf="tok")
        with speaking("zh-TW"):
            return review_card(req, ctx, SimpleNamespace(cfg=cfg))   # type: ignore[arg-type]
    mine = card("lin")
    assert 'href="/desk/redact/5/review"' in mine and "您放行的遮蔽複本" in mine, mine
    assert card("wang") == "", "only to the one who released it"
    assert card("chen") == "", "the one who prepared it has her own way back (again_card)"


GB, DAY = 10**9, 86_400_000_000


@pytest.mark.parametrize("usable, held, rate, blamed", [
    (100 * GB, 80 * GB, 100 * GB / (40 * 86_400), True),     # 40 days without the holds, 8 with: the holds
    (100 * GB, 40 * 10**6, 100 * GB / (10 * 86_400), False),  # a small disk (10 days) and 0.04 GB held: not the holds
    (100 * GB, 0, 100 * GB / (10 * 86_400), False),          # nothing held
    (100 * GB, 10 * GB, 100 * GB / (60 * 86_400), False),    # 54 days with the holds: room enough
    (100 * GB, 10 * GB, 0.0, False),                         # nothing written
])
def test_the_holds_alarm_blames_the_holds_only_where_they_crowd_recording_out(usable, held, rate, blamed):
    """「保存中的影像（0.0 GB）只留下…」 was raised on a disk too small for the minimum with nothing to
    speak of held (issue 91): `holds_crowd_out` now needs the holds to be what brings it below."""
    from storage.retention.forecast import crowded_out_by_holds
    got = crowded_out_by_holds(usable, held, rate, 30 * DAY)
    assert (got is not None) == blamed, got


@pytest.mark.parametrize("seed, us", [("004-vocational-school", "本校"), ("001-land-office", "本所"),
                                      ("002-police-station", "本所")])
def test_the_desk_says_the_sites_own_word_for_itself(seed, us):
    """「納入本所規則管理」 at a school (issue 91): `[site] us` is the seed's word for itself, said where
    the page is in the site's language; another language says "this site"."""
    from pathlib import Path
    from types import SimpleNamespace

    from edged.config import load_config
    from edged.viewer.desk.app import Desk
    from edged.viewer.desk.intake import Pages
    from edged.viewer.desk.page import Ctx, Person

    cfg = load_config(Path(__file__).resolve().parent.parent / "examples" / "sites" / f"{seed}.toml")
    desk = Desk(SimpleNamespace(cfg=cfg))

    def lead(lang: str) -> str:
        ctx = Ctx(caller=Person(account="chen", roles=("custodian",)), lang=lang, site="", tz=None, now_us=0,
                  path="/desk/intake", csrf="tok")
        with speaking(lang):
            return Pages(desk).upload_form(ctx, {})
    said = lead("zh-TW")
    assert f"納入{us}規則管理" in said and ("本所" not in said or us == "本所"), said
    assert "under this site&#x27;s rules" in lead("en")


@pytest.mark.parametrize("seed, us", [("001-land-office", "本所"), ("002-police-station", "本所"),
                                      ("003-township-office", "本所"), ("004-vocational-school", "本校")])
def test_the_rules_refusals_and_the_notice_say_the_sites_own_word(seed, us):
    """「本場所不受理民眾申請」, 「依本場所規定…」 and the poster's 「本場所設有錄影監視系統」 at every site
    (issue 91): a refusal made by the pure rules, and the notice, take `[site] us` from the context
    the daemon sets (edged/i18n.py `us`, design/0412); another language says "this site", and a site
    that sets no word 本場所."""
    import contextvars
    from pathlib import Path

    from edged.config import load_config
    from edged.documents import Doc
    from edged.documents.notice import notice_html
    from edged.i18n import set_site_word
    from edged.rules import retrieval as rq

    cfg = load_config(Path(__file__).resolve().parent.parent / "examples" / "sites" / f"{seed}.toml")

    def said(lang: str, word: str) -> tuple[str, str]:
        set_site_word(word, cfg.site.language)
        with speaking(lang):
            with pytest.raises(rq.RequestRuleError) as refused:
                rq.filing(cfg.policy, {"kind": "quick-look"}, now_us=0)
            doc = Doc(lang=lang, tz=None, site_name=cfg.site.name, forms=cfg.forms)
            return str(refused.value), notice_html(doc, [], None, 0)

    refusal, notice = contextvars.copy_context().run(said, "zh-TW", cfg.site.us)
    assert cfg.site.us == us and refusal.startswith(f"{us}不受理") and f"{us}設有錄影監視系統" in notice, refusal
    assert "本場所" not in refusal + notice
    refusal, notice = contextvars.copy_context().run(said, "en", cfg.site.us)
    assert refusal.startswith("At this site, requests from") and "record at this site" in notice, refusal
    refusal, _notice = contextvars.copy_context().run(said, "zh-TW", "")
    assert refusal.startswith("本場所不受理"), refusal


def test_an_agencys_printed_application_carries_no_citizens_identity_lines():
    """003's agency request printed 「身分證字號（遮蔽） -」 and 「已查驗身分 否」 (issue 91, the walk's
    read-back): a citizen's ID lines only on a citizen's request, the official letter only where
    one is asked for or given."""
    from edged.documents import Doc
    from edged.documents.retrieval import application_html
    from tests.support.forms import PRINTED, REQUEST, SITE_NAME, TAIPEI

    doc = Doc(lang="zh-TW", tz=TAIPEI, site_name=SITE_NAME)
    agency = {**REQUEST, "kind": "agency", "citizen_id_masked": None, "identity_checked": 0,
              "requester_org": "某分局偵查隊", "letter_ref": "北市警刑字第1150000017號"}
    with speaking("zh-TW"):
        citizen, agency_paper = (application_html(doc, r, {}, PRINTED) for r in (REQUEST, agency))
    assert "已查驗身分" in citizen and "A******789" in citizen and "來函文號" not in citizen
    assert "已查驗身分" not in agency_paper and "身分證字號" not in agency_paper
    assert "北市警刑字第1150000017號" in agency_paper


def test_the_sites_own_word_for_a_copy():
    """003 calls a copy 保存 (seed 003 第二點(三): 「保存：指複製、拍攝錄影監視影音資料」), where edged says
    複製 (issue 91): `[forms.modes]`, said by the pure rules' refusal, the desk's request form and the
    printed application, and the refusal names the kind as the site does (本所同仁, [forms.kinds]; design/0447);
    in English, and at a site without the word, edged's own."""
    import contextvars
    from pathlib import Path
    from types import SimpleNamespace

    from edged.config import load_config
    from edged.documents import Doc
    from edged.documents.retrieval import application_html
    from edged.i18n import set_site_word
    from edged.rules import retrieval as rq
    from edged.viewer.desk.app import Desk
    from edged.viewer.desk.requests import Pages
    from tests.support.forms import REQUEST

    sites = Path(__file__).resolve().parent.parent / "examples" / "sites"

    def said(name: str, lang: str) -> tuple[str, str, str]:
        cfg = load_config(sites / f"{name}.toml")
        set_site_word(cfg.site.us, cfg.site.language, cfg.forms.modes, cfg.forms.kinds)   # as the daemon, the desk
        with speaking(lang):
            with pytest.raises(rq.RequestRuleError) as refused:
                rq.filing(cfg.policy, {"kind": "internal", "category": cfg.policy.categories[0], "mode": "copy",
                                       "reason": "x", "cameras": [cfg.cameras[0].id]}, now_us=0)
            form = Pages(Desk(SimpleNamespace(cfg=cfg))).modes({})
            doc = Doc(lang=lang, tz=None, site_name=cfg.site.name, forms=cfg.forms)
            copy = {**REQUEST, "kind": "agency", "mode": "copy", "category": cfg.policy.categories[0],
                    "grant": {**REQUEST["grant"], "mode": "copy"}}
            return str(refused.value), form, application_html(doc, copy, {}, 0)

    refusal, form, paper = contextvars.copy_context().run(said, "003-township-office", "zh-TW")
    assert refusal == "依本所規定，本所同仁申請僅能閱覽影像，不得保存。", refusal   # its kind in its words too
    assert "保存" in form and "複製" not in form, form
    assert "☑ 保存" in paper and "☑ 複製" not in paper and "<td>保存</td>" in paper, paper   # asked, and allowed
    refusal, form, _paper = contextvars.copy_context().run(said, "003-township-office", "en")   # paper: as [forms.kinds]
    assert refusal.endswith("not copy it.") and "保存" not in form and "> copy</label>" in form, (refusal, form)
    refusal, form, paper = contextvars.copy_context().run(said, "000-household-registration-office", "zh-TW")
    assert "☑ 複製" in paper and "保存" not in form, form
