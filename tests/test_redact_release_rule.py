"""Who releases a citizen's redacted copy (design/0328, edged/rules/redaction.py release_refusal),
and [policy.citizen] release_by_another, by tables: the preparer alone where the site asks no second
person (design/0232); a custodian or approver who did not prepare it where it asks one (seed 000
四(二)2: 會同系統管理人辦理); the moments to check said played either way (design/0326)."""

from __future__ import annotations

import pytest

from edged.config.policy import _policy
from edged.config.values import ConfigError
from edged.rules.redaction import release_refusal

DAY_US = 86_400_000_000
C, A, V, AU = ("custodian",), ("approver",), ("viewer",), ("auditor",)


@pytest.mark.parametrize("by, roles, by_another, moments, checked, refused", [
    # no second person asked: the preparer releases, nobody else
    ("carol", C, False, 0, False, None),
    ("dave", C, False, 0, False, "was prepared by carol, who releases it"),
    ("alice", A, False, 0, False, "was prepared by carol, who releases it"),
    # a second person asked: never the preparer, a custodian or approver who did not prepare it
    ("carol", C, True, 0, False, "carol prepared the redacted copy of export 7: the site asks a second person"),
    ("carol", C, True, 2, True, "carol prepared the redacted copy of export 7: the site asks a second person"),
    ("dave", C, True, 0, False, None),
    ("alice", A, True, 0, False, None),
    ("victor", V, True, 0, False, "victor is neither a custodian nor an approver"),
    ("audrey", AU, True, 0, False, "audrey is neither a custodian nor an approver"),
    # moments to check: released only by one who says they played them, whoever releases
    ("carol", C, False, 3, False, "has 3 moments to check"),
    ("carol", C, False, 3, True, None),
    ("dave", C, True, 1, False, "has 1 moments to check"),
    ("alice", A, True, 1, True, None),
])
def test_who_releases_a_redacted_copy(by, roles, by_another, moments, checked, refused):
    why = release_refusal(7, prepared_by="carol", by=by, roles=roles, by_another=by_another, moments=moments,
                          checked=checked)
    if refused is None:
        assert why is None
    else:
        assert why is not None and refused in why, why


@pytest.mark.parametrize("table, want", [
    ({"citizen": {"modes": ["copy"]}}, False),
    ({"citizen": {"modes": ["copy"], "release_by_another": True}}, True),
    ({"citizen": {"modes": ["view"], "redact": "everything", "release_by_another": False}}, False),
])
def test_release_by_another_is_a_citizens_setting(table, want):
    assert _policy(table, [], 6 * DAY_US).kinds["citizen"].release_by_another is want


@pytest.mark.parametrize("table, field", [
    ({"agency": {"release_by_another": True}}, "policy.agency.release_by_another"),
    ({"citizen": {"release_by_another": "yes"}}, "policy.citizen.release_by_another"),
])
def test_release_by_another_refused_where_it_means_nothing(table, field):
    with pytest.raises(ConfigError) as got:
        _policy(table, [], 6 * DAY_US)
    assert field in str(got.value)


def test_the_copys_manifest_names_its_original_and_both_people():
    """storage/redact/release.py: the manifest signed at the release lists each clip with its original
    and the original's times (the checker wants a clip's end), and names the export it came from and
    who prepared and released it; the checker's `copy_of` says so in a note (design/0328)."""
    from edged_evidence_check import check as core
    from storage.redact import release

    original = {"created_utc": "2026-11-27T10:00:00Z", "grant": 4, "cameras": [{"camera": "cam", "clips": [
        {"file": "cam.mp4", "sha256": "a" * 64, "bytes": 10, "from_us": 1, "to_us": 2, "from_utc": "x", "to_utc": "y"}]}]}
    doc = release.manifest(header={"export": 7, "node": "n1"}, original=original, original_sha256="b" * 64,
                           summaries={"cam.mp4": {"sha256": "c" * 64, "bytes": 5, "original": "cam.mp4",
                                                  "original_sha256": "a" * 64}},
                           release={"prepared_by": "carol", "released_by": "dave", "use": "copy"},
                           key_b64="K", fingerprint="F", now_us=3)
    assert doc["cameras"] == [{"camera": "cam", "clips": [{"file": "cam.mp4", "sha256": "c" * 64, "bytes": 5,
                                                           "original": "cam.mp4", "original_sha256": "a" * 64,
                                                           "from_us": 1, "to_us": 2, "from_utc": "x", "to_utc": "y"}]}]
    assert doc["derivative_of"] == {"export": 7, "manifest_sha256": "b" * 64, "created_utc": original["created_utc"],
                                    "grant": 4, "signer": {"node": "None/None", "node_key_fingerprint": None,
                                                           "certificate_serial": None}}
    out: dict = {"notes": []}
    core.copy_of(doc, out)
    assert out["copy"]["prepared_by"] == "carol" and out["copy"]["released_by"] == "dave", out
    assert out["notes"] == [f"a redacted copy of export 7 (its manifest's SHA-256 {'b' * 64}), prepared by carol, "
                            "released by dave, as its signed manifest.json says"], out["notes"]
    out = {"notes": []}
    core.copy_of({"cameras": []}, out)   # an export that is no copy: nothing said
    assert out == {"notes": []}


def test_the_released_copys_readme_is_signed_and_checked(tmp_path):
    """The copy's README.txt (issue 75: the ZIP said nothing of what it is or how to check it, design/0358):
    in the site's language, naming the original export, the mode, who prepared and who released it
    and `edgectl verify`; its text in the signed manifest, so `edgectl verify` passes the folder as
    released and fails it once README.txt is changed."""
    import hashlib
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from edged.documents import Doc
    from edged.documents.copy_readme import copy_readme_text
    from edged.i18n import speaking
    from edged.rules.persons import Named
    from storage.export.evidence import README
    from storage.export.checking import verify_export
    from storage.keys import nodekey
    from storage.redact import release

    clip = b"not a real mp4, hashed only"
    original = {"site": {"name": "文山戶政"}, "grant": {"id": 4}, "request": {"id": 3}, "cameras": [
        {"camera": "cam", "clips": [{"file": "cam.mp4", "sha256": "a" * 64, "bytes": 10}]}]}
    said = {"mode": "faces", "use": "copy", "prepared_by": "carol", "released_by": "dave"}
    doc = Doc("zh-TW", None, "文山戶政", names={"carol": Named("陳美玲"), "dave": Named("林志偉")})
    with speaking("zh-TW"):
        text = copy_readme_text(doc, original, 7, said, 1_800_000_000_000_000)
    assert "文山戶政" in text and "匯出編號 7" in text and "申請編號 3" in text, text
    assert "遮蔽申請人以外的人臉" in text and "陳美玲" in text and "林志偉" in text, text
    assert "edgectl verify" in text and "carol" not in text, text
    key = nodekey.NodeKey(Ed25519PrivateKey.generate())
    manifest = release.manifest(header={"export": 7}, original=original, original_sha256="b" * 64,
                                summaries={"cam.mp4": {"sha256": hashlib.sha256(clip).hexdigest(), "bytes": len(clip),
                                                       "original": "cam.mp4", "original_sha256": "a" * 64}},
                                release=said, key_b64=key.public_b64, fingerprint=key.fingerprint, now_us=3,
                                readme={"language": "zh-TW", "text": text})
    (tmp_path / "cam.mp4").write_bytes(clip)
    release.write(tmp_path, json.dumps(manifest).encode(), key, manifest["readme"]["text"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["cam.mp4", *release.FILES])
    assert verify_export(tmp_path, key.public_pem()) == []
    (tmp_path / README).write_text(text + "改\n")
    assert any(README in p for p in verify_export(tmp_path, key.public_pem()))


def test_a_copy_alone_binds_its_original_and_is_bound_to_the_one_supplied():
    """edged_evidence_check.copies (issue 88, design/0434): a released copy's manifest binds its original
    (the export's manifest SHA-256, its signer, each clip's original by SHA-256); alone its verdict says
    what it is a copy of and that it was not supplied; a copy whose C2PA names another original, or whose
    original was signed by another node, is refused; the original supplied must be the one it binds."""
    import hashlib

    from edged_evidence_check import copies
    from storage.redact import release

    body = b'{"the": "original manifest"}'
    original = {"site": {"id": "tw-hr-001"}, "node": "node1", "node_key_fingerprint": "SHA256:f",
                "cameras": [{"camera": "cam", "clips": [{"file": "cam.mp4", "sha256": "a" * 64, "to_us": 2}]}]}
    doc = release.manifest(header={"export": 7, "site": {"id": "tw-hr-001"}, "node": "node1"}, original=original,
                           original_sha256=hashlib.sha256(body).hexdigest(),
                           summaries={"cam.mp4": {"sha256": "c" * 64, "bytes": 5, "original": "cam.mp4",
                                                  "original_sha256": "a" * 64}},
                           release={"prepared_by": "carol", "released_by": "dave"}, key_b64="K", fingerprint="F",
                           now_us=3)
    bound = copies.bound(doc)
    assert bound is not None and copies.bound(original) is None, "an export that is no copy binds nothing"
    assert bound["signer"] == {"node": "tw-hr-001/node1", "node_key_fingerprint": "SHA256:f",
                               "certificate_serial": None}
    assert bound["clips"] == {"cam.mp4": ("cam.mp4", "a" * 64)}
    assert copies.inside(bound, {"cam.mp4": {"sha256": "a" * 64}}, "tw-hr-001/node1") == []
    said = copies.inside(bound, {"cam.mp4": {"sha256": "d" * 64}}, "tw-ps-002/node2")
    assert len(said) == 2 and "names an original of SHA-256 " + "d" * 64 in said[0], said
    assert "a box redacts only its own footage" in said[1], said
    words = copies.words(bound, ["cam.mp4"], "tw-hr-001/node1", "2a")
    assert words.startswith("a redacted copy of export 7 (its manifest's SHA-256 ") and "which was not supplied" in words
    assert "--original DIR" in words, words
    # the original supplied: the one it binds, or refused naming what differs
    assert copies.against(bound, body, {"cam.mp4": "a" * 64}, {"serial": "2a"}) == []
    other = copies.against(bound, b"{}", {"cam.mp4": "e" * 64}, {"serial": "2a"})
    assert len(other) == 2 and "is another export" in other[0] and "is not a clip of the original supplied" in other[1]
    bound["signer"]["certificate_serial"] = "1f"
    assert "certificate serial 1f" in copies.against(bound, body, {"cam.mp4": "a" * 64}, {"serial": "2a"})[0]


async def test_two_releases_of_one_copy_asked_at_once_run_one_after_the_other():
    """The release signs before it records (design/0435): seconds in which a second release of the same copy,
    asked meanwhile, found no released.json and would have put a second release on the record. The second
    waits for the first (and then finds the copy released); another export's release does not wait."""
    import asyncio

    from edged.control.redact import RedactOps

    ops = RedactOps.__new__(RedactOps)   # the lock's wiring alone: no config, catalog or key is read here
    ops._releasing = {}
    running: dict[int, int] = {}
    most: dict[int, int] = {}

    async def export(args):
        return {"id": args["export"]}

    async def release(row, args, caller):
        running[row["id"]] = running.get(row["id"], 0) + 1
        most[row["id"]] = max(most.get(row["id"], 0), running[row["id"]])
        await asyncio.sleep(0.01)   # the signing's seconds, as a yield to the other requests
        running[row["id"]] -= 1
        return {"export": row["id"]}

    ops._export, ops._release = export, release
    await asyncio.gather(*(ops.release({"export": n}, "dave") for n in (7, 7, 7, 8)))
    assert most == {7: 1, 8: 1}
    seen: list[int] = []

    async def side_by_side(row, args, caller):
        seen.append(row["id"])
        while len(seen) < 2:   # each waits for the other: only two exports' releases side by side get past
            await asyncio.sleep(0.001)
        return {}

    ops._release = side_by_side
    await asyncio.wait_for(asyncio.gather(ops.release({"export": 9}, "a"), ops.release({"export": 10}, "b")), 5)
    assert sorted(seen) == [9, 10]
