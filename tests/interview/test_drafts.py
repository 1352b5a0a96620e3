"""The learner's drafts: saved atomically, read back after a restart, never lost."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from course.interview.drafts import Drafts, DraftsError, default_path
from course.interview.phases import PHASES

ROOT = Path(__file__).resolve().parents[2]


def test_default_path_is_in_my_work():
    assert default_path().parts[-3:] == ("my-work", "mock-interview", "drafts.json")


def test_roundtrip(tmp_path):
    path = tmp_path / "mi" / "drafts.json"
    drafts = Drafts(path)
    assert drafts.path == path and drafts.notice == ""
    assert drafts.text("failure") == "" and drafts.ticked("failure") == set()
    drafts.set_text("failure", "Timeouts from p99 — «every» call\nsecond line")
    drafts.set_ticked("failure", [0, 3])
    drafts.save()
    again = Drafts(path)
    assert again.text("failure") == "Timeouts from p99 — «every» call\nsecond line"
    assert again.ticked("failure") == {0, 3}
    assert again.notice == ""
    assert [p.name for p in path.parent.iterdir()] == ["drafts.json"]  # no temporary file left behind


def test_survives_a_restart(tmp_path):
    path = tmp_path / "drafts.json"
    script = textwrap.dedent(f"""
        from course.interview.drafts import Drafts
        d = Drafts({str(path)!r})
        d.set_text("requirements", "200 orders/s at peak; p99 < 1 s")
        d.set_text("rollout", "strangler, canary")
        d.set_ticked("requirements", {{1, 2}})
        d.save()
    """)
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)
    drafts = Drafts(path)
    assert drafts.text("requirements") == "200 orders/s at peak; p99 < 1 s"
    assert drafts.text("rollout") == "strangler, canary"
    assert drafts.ticked("requirements") == {1, 2}


def test_bad_keys_and_values(tmp_path):
    drafts = Drafts(tmp_path / "drafts.json")
    for call in (lambda: drafts.text("nope"), lambda: drafts.set_text("nope", "x"),
                 lambda: drafts.ticked("nope"), lambda: drafts.set_ticked("nope", [0])):
        with pytest.raises(ValueError, match="'nope'.*requirements"):
            call()
    with pytest.raises(ValueError, match="numbered 0 to"):
        drafts.set_ticked("failure", [len(PHASES[3].checklist)])
    with pytest.raises(ValueError, match="text"):
        drafts.set_text("failure", 3)


def test_export(tmp_path):
    drafts = Drafts(tmp_path / "drafts.json")
    drafts.set_text("boundaries", "Three services, each with its own database.")
    drafts.set_ticked("boundaries", [0])
    written = drafts.export_markdown()
    assert written == tmp_path / "checkout-design.md"
    text = written.read_text(encoding="utf-8")
    assert text.startswith("# Mock interview")
    for p in PHASES:
        assert p.title in text and p.prompt in text
    assert "Three services, each with its own database." in text
    assert text.count("_(no answer yet)_") == len(PHASES) - 1
    boundaries = PHASES[1].checklist
    assert f"- [x] {boundaries[0]}" in text and f"- [ ] {boundaries[1]}" in text
    other = drafts.export_markdown(tmp_path / "elsewhere" / "mine.md")
    assert other == tmp_path / "elsewhere" / "mine.md"
    assert f"- [x] {boundaries[0]}" in other.read_text(encoding="utf-8")


@pytest.mark.parametrize("content", [b"{not json", b"", b"[1, 2]", b'{"answers": {"failure": 3}}',
                                     b'{"ticked": {"failure": ["a"]}}', b"\xff\xfe"])
def test_broken_file_is_kept_aside(tmp_path, content):
    path = tmp_path / "drafts.json"
    path.write_bytes(content)
    drafts = Drafts(path)
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("drafts.json.broken-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert not path.exists()
    assert str(path) in drafts.notice and str(aside[0]) in drafts.notice
    assert drafts.text("failure") == ""
    drafts.set_text("failure", "fresh start")
    drafts.save()
    assert Drafts(path).text("failure") == "fresh start"


def test_unknown_keys_are_kept(tmp_path):
    path = tmp_path / "drafts.json"
    path.write_text(json.dumps({"version": 1, "answers": {"old_phase": "keep me"}, "ticked": {}}))
    drafts = Drafts(path)
    assert drafts.notice == ""
    drafts.set_text("testing", "contracts")
    drafts.save()
    assert json.loads(path.read_text())["answers"] == {"old_phase": "keep me", "testing": "contracts"}


def _assert_unsaved(drafts, path):
    drafts.set_text("consistency", "saga with compensations")
    with pytest.raises(DraftsError) as error:
        drafts.save()
    assert isinstance(error.value, OSError)
    assert str(path) in str(error.value) and "still here in memory" in str(error.value)
    assert drafts.text("consistency") == "saga with compensations"
    return str(error.value)


def test_parent_is_a_file(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    path = tmp_path / "afile" / "drafts.json"
    drafts = Drafts(path)
    assert drafts.notice == ""
    assert "is a file" in _assert_unsaved(drafts, path)
    with pytest.raises(DraftsError, match="checkout-design.md"):
        drafts.export_markdown()


def test_path_is_a_folder(tmp_path):
    path = tmp_path / "drafts.json"
    path.mkdir()
    drafts = Drafts(path)
    assert str(path) in drafts.notice
    assert "is a folder" in _assert_unsaved(drafts, path)


def test_bad_path_type(tmp_path):
    with pytest.raises(DraftsError, match="42"):
        Drafts(42)
    with pytest.raises(DraftsError, match="3.5"):
        Drafts(tmp_path / "drafts.json").export_markdown(3.5)
    nul = str(tmp_path / "dra\0fts.json")
    drafts = Drafts(nul)
    _assert_unsaved(drafts, nul)


def test_ticks_beyond_the_checklist_are_ignored(tmp_path):
    path = tmp_path / "drafts.json"
    path.write_text(json.dumps({"version": 1, "answers": {}, "ticked": {"testing": [0, 99]}}))
    assert Drafts(path).ticked("testing") == {0}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    path = folder / "drafts.json"
    drafts = Drafts(path)
    drafts.set_text("failure", "first")
    drafts.save()
    folder.chmod(0o500)
    try:
        assert "Permission denied" in _assert_unsaved(drafts, path)
        assert Drafts(path).text("failure") == "first"  # the old file is whole
        assert [p.name for p in folder.iterdir()] == ["drafts.json"]
    finally:
        folder.chmod(0o700)
    drafts.save()
    assert Drafts(path).text("consistency") == "saga with compensations"
