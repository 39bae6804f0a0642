"""The documentation holds together: every relative link in README.md, docs/ and design/README.md
reaches a file, design/README.md lists every design record with the status its Status line
gives, and the reference pages keep what other parts of edged promise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import refdocs as docs

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


CURRENT = ROOT / "design" / "current"


def pages() -> list[Path]:
    return [ROOT / "README.md", ROOT / "design" / "README.md", *sorted(CURRENT.glob("*.md")),
            *sorted((ROOT / "docs").rglob("*.md"))]


def relative_links(page: Path) -> list[str]:
    """The markdown links of a page outside its code blocks (and indented code lines), but web ones."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text = "\n".join(line for line in text.splitlines() if not line.startswith("    "))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def status_paragraph(text: str) -> str:
    m = re.search(r"^Status: (.+?)(?:\n\s*\n|\Z)", text, re.M | re.S)
    return " ".join(m.group(1).split()) if m else ""


def later_records(records: list[Path]) -> dict[str, list[str]]:
    """Which records amend or supersede each record, read from both records' Status lines."""
    later: dict[str, list[str]] = {}
    for record in records:
        status, n = status_paragraph(record.read_text(encoding="utf-8")), record.name[:4]
        for before, verb, by in re.findall(r"(\w+ \w+ )?(amended|superseded) by (?:design/)?(\d{4})", status):
            partly = "partly " if re.search(r"half|part", before) else ""
            later.setdefault(n, []).append(f"{partly}{verb} by {by}")
        for earlier in re.findall(r"Amends design/(\d{4})", status):
            later.setdefault(earlier, []).append(f"amended by {n}")
    return {n: list(dict.fromkeys(v)) for n, v in later.items()}


def record_line(record: Path, later: dict[str, list[str]]) -> str:
    """A design record's line in design/README.md: number, title, its Status line up to its first
    parenthesis closed (`accepted (issue 2)`), and the records that amend or supersede it."""
    text = record.read_text(encoding="utf-8")
    head = re.match(r"# (\d{4}):? (.+)", text.splitlines()[0])
    assert head and head.group(1) == record.name[:4], f"{record.name}: its first line is not '# NNNN Title'"
    status = status_paragraph(text)
    assert status, f"{record.name} has no 'Status:' line"
    short = re.match(r"[^(;.]*(\([^)]*\))?", status).group(0).strip()
    short = "; ".join([short, *later.get(head.group(1), [])])
    return f"| [{head.group(1)}]({record.name}) | {head.group(2)} | {short} |"


def index_lines() -> list[str]:
    records = sorted((ROOT / "design").glob("[0-9][0-9][0-9][0-9]-*.md"))
    later = later_records(records)
    return [record_line(r, later) for r in records]


def test_every_relative_link_reaches_a_file():
    broken = []
    for page in pages():
        for target in relative_links(page):
            path = target.split("#", 1)[0]
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, "links to nothing:\n" + "\n".join(broken)


def test_the_link_check_sees_links_and_fails_on_a_broken_one(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("See [a](a.md), [web](https://example.org/x) and [here](#x).\n\n```\n[b](b.md)\n```\n"
                    "    [c](c.md)\n")
    assert relative_links(page) == ["a.md"]
    assert len(relative_links(ROOT / "README.md")) >= 15


def test_the_design_index_lists_every_record_with_its_status():
    index = (ROOT / "design" / "README.md").read_text(encoding="utf-8").splitlines()
    wanted = index_lines()
    assert len(wanted) >= 60
    missing = [line for line in wanted if line not in index]
    assert not missing, "design/README.md lacks (or has an old status for) these lines:\n" + "\n".join(missing)
    listed = [line for line in index if re.match(r"\| \[\d{4}\]", line)]
    assert listed == wanted, "design/README.md lists records that are gone, twice, or out of order"


def records_on_no_page(records: list[Path], current: dict[str, str]) -> list[str]:
    """The records no current page (design/current/) lists, listed under an old title, or whose
    Status says they are superseded but whose page lists them outside its "Superseded" heading."""
    listed: dict[str, list[bool]] = {}
    lines: dict[str, list[str]] = {}
    for text in current.values():
        superseded = False
        for line in text.splitlines():
            if line.startswith("#"):
                superseded = line.lstrip("# ").startswith("Superseded")
            for n in re.findall(r"^- \[(\d{4})\]\(\.\./\1-[^)]+\.md\)", line):
                listed.setdefault(n, []).append(superseded)
                lines.setdefault(n, []).append(line)
    later = later_records(records)
    wrong = []
    for record in records:
        n = record.name[:4]
        title = record.read_text(encoding="utf-8").splitlines()[0].split(" ", 2)[-1]
        if n not in listed:
            wrong.append(f"{record.name}: on no page of design/current/")
        elif not all(re.fullmatch(re.escape(f"- [{n}](../{record.name}) {title}") + r"( \(.*\))?", line)
                     for line in lines[n]):
            wrong.append(f"{record.name}: listed under another title or path than its own")
        elif any("superseded" in v for v in later.get(n, [])) and not all(listed[n]):
            wrong.append(f"{record.name}: superseded, listed outside a 'Superseded' heading")
    return wrong


def test_every_record_stands_on_a_current_page():
    """design/current/ says what is true today, a page per subsystem; every record is behind one of
    them (or under its measurement diaries), so a new record cannot be left off (issue 80)."""
    records = sorted((ROOT / "design").glob("[0-9][0-9][0-9][0-9]-*.md"))
    current = {p.name: p.read_text(encoding="utf-8") for p in sorted(CURRENT.glob("*.md"))}
    assert len(current) >= 8
    wrong = records_on_no_page(records, current)
    assert not wrong, "design/current/ does not hold these records as it should:\n" + "\n".join(wrong)
    index = (ROOT / "design" / "README.md").read_text(encoding="utf-8").split("| record |")[0]
    unlinked = [name for name in current if f"](current/{name})" not in index]
    assert not unlinked, f"design/README.md's prose does not link these current pages: {unlinked}"


def test_the_current_pages_check_fails_on_a_record_left_off_or_a_superseded_one_unmarked(tmp_path):
    a, b = tmp_path / "0001-a.md", tmp_path / "0002-b.md"
    a.write_text("# 0001 A\n\nStatus: accepted; superseded by 0002\n")
    b.write_text("# 0002 B\n\nStatus: accepted\n")
    page = "# X\n\n## The records behind it\n\n- [0002](../0002-b.md) B\n"
    assert records_on_no_page([a, b], {"x.md": page}) == ["0001-a.md: on no page of design/current/"]
    page += "- [0001](../0001-a.md) A\n"
    assert records_on_no_page([a, b], {"x.md": page}) == [
        "0001-a.md: superseded, listed outside a 'Superseded' heading"]
    page = page.replace("- [0001]", "### Superseded, in whole or in part\n\n- [0001]")
    assert records_on_no_page([a, b], {"x.md": page}) == []
    assert records_on_no_page([a, b], {"x.md": page.replace(") B", ") Bee")}) == [
        "0002-b.md: listed under another title or path than its own"]


def test_the_readme_keeps_what_a_newcomer_needs():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    heads = re.findall(r"^## (.+)$", text, re.M)
    assert heads[:2] == ["Set-up (Debian 12, as root)", "The first ten minutes"], heads
    assert "Where to read next" in heads
    for page in ("docs/ref/config.md", "docs/ref/edgectl.md", "docs/ref/mqtt.md", "docs/architecture.md"):
        assert f"]({page})" in text, f"README.md does not point at {page}"


def test_the_on_disk_reference_states_the_loss_bound_of_a_kill_and_of_a_power_cut_separately():
    """A power cut loses what the kernel had not synced; a kill -9 does not (design/0061)."""
    text = " ".join((ROOT / "docs" / "ref" / "on-disk.md").read_text().split())
    assert "**kill -9** of edged loses at most about one `fragment_length`" in text
    assert "a **power cut** loses at most one `fragment_length`" in text


if __name__ == "__main__":  # the table's lines, to paste into design/README.md after adding a record
    print("\n".join(index_lines()))


def test_the_generated_reference_pages_are_current():
    """docs/ref/edgectl.md's verbs and the [[cameras]] blocks of docs/ref/config.md and
    systemd/edged.example.toml are made from the code (refdocs/, design/0099)."""
    stale = docs.stale(ROOT)
    assert not stale, f"generated parts out of date in {', '.join(stale)}: run `{docs.COMMAND}` and commit"


def test_the_generator_replaces_only_between_its_markers():
    begin = "<!-- " + docs.BEGIN.format(source="x") + " -->"
    page = f"hand\n{begin}\nold\n<!-- {docs.END} -->\nhand too\n"
    assert docs.render(page, [("x", "new\n")], markdown=True) == f"hand\n{begin}\nnew\n<!-- {docs.END} -->\nhand too\n"
    with pytest.raises(ValueError, match="no marker"):
        docs.render("hand\n", [("x", "new\n")], markdown=True)
