"""The knowledge base (auditor/review/knowledge/swc.yaml) and `entry_for`, the cheap lookup of a
finding's entry: every weakness class has one, SWC entries carry the class `SWC_CATEGORIES` gives."""

from __future__ import annotations

import subprocess
import sys

import pytest

from auditor.findings import Category
from auditor.review.llm.knowledge import entries, entry_for
from auditor.swc import SWC_CATEGORIES, SWC_TITLES

WEAKNESSES = [c for c in Category if c is not Category.CODE_QUALITY]


def test_entries_are_well_formed():
    kb = entries()
    ids = [e.id for e in kb]
    assert len(ids) == len(set(ids))
    assert set(SWC_TITLES) <= set(ids)                               # one entry per SWC id
    classes = {c.value for c in Category}
    for e in kb:
        assert e.category in classes, e.id
        assert e.title and e.weakness and e.signs and e.fix, e.id
        assert e.id in SWC_CATEGORIES or e.id.startswith("SOLSENTRY-"), e.id


def test_swc_entries_carry_the_class_of_their_id():
    wrong = {e.id: e.category for e in entries() if e.id in SWC_CATEGORIES and e.category != SWC_CATEGORIES[e.id]}
    assert not wrong, f"entries whose category is not SWC_CATEGORIES' class: {wrong}"


@pytest.mark.parametrize("category", WEAKNESSES, ids=lambda c: c.value)
def test_every_weakness_class_has_an_entry_of_its_own(category):
    found = entry_for(category.value, None)
    assert found is not None
    # its own class, not the DASP fallback: each modern class has an entry that describes it
    assert next(e for e in entries() if e.id == found).category == category.value


def test_the_swc_entry_comes_first():
    assert entry_for("reentrancy", "SWC-107") == "SWC-107"
    assert entry_for("proxy", "106") == "SWC-106"                   # any form normalize_swc accepts
    assert entry_for("token_integration", "SWC-104") == "SWC-104"
    assert entry_for("proxy", "SWC-999") == entry_for("proxy", None)  # no such entry: by class
    assert entry_for("precision_loss", None) == "SOLSENTRY-PRECISION-LOSS"
    assert entry_for("share_inflation", "") == "SOLSENTRY-SHARE-INFLATION"


def test_fallback_to_the_dasp_class_then_none(tmp_path):
    kb = tmp_path / "kb.yaml"
    kb.write_text(
        "- {id: SWC-105, title: t, category: access_control, weakness: w, signs: s, fix: f}\n"
        "- {id: SOLSENTRY-X, title: t, category: reentrancy, weakness: w, signs: s, fix: f}\n")
    assert entry_for("signature", None, kb) == "SWC-105"            # refines access_control
    assert entry_for("read_only_reentrancy", "SWC-107", kb) == "SOLSENTRY-X"
    assert entry_for("arithmetic", None, kb) is None
    assert entry_for("no_such_class", None, kb) is None
    assert entry_for("no_such_class", "SWC-105", kb) == "SWC-105"


def test_entry_for_needs_no_model():
    code = ("import sys; from auditor.review.llm.knowledge import entry_for; "
            "assert entry_for('proxy', None); assert not {'torch', 'transformers'} & set(sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
