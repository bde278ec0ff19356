import pytest

from auditor.errors import PragmaError
from auditor.solc.versions import Constraint, Version

V = Version.parse


@pytest.mark.parametrize(
    ("text", "allowed", "refused"),
    [
        ("^0.4.24", ["0.4.24", "0.4.26"], ["0.4.23", "0.5.0"]),
        ("^0.8.0", ["0.8.0", "0.8.37"], ["0.7.6", "0.9.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4"]),
        ("~0.4.11", ["0.4.11", "0.4.26"], ["0.5.0", "0.4.10"]),
        ("~0.4", ["0.4.0", "0.4.26"], ["0.5.0"]),
        (">=0.4.22 <0.6.0", ["0.4.22", "0.5.17"], ["0.4.21", "0.6.0"]),
        (">= 0.4.22 < 0.6.0", ["0.5.17"], ["0.6.0"]),
        (">0.4.24 <=0.5.0", ["0.4.25", "0.5.0"], ["0.4.24", "0.5.1"]),
        ("0.4.24", ["0.4.24"], ["0.4.25", "0.4.23"]),
        ("=0.4.24", ["0.4.24"], ["0.4.25"]),
        ("0.4", ["0.4.0", "0.4.26"], ["0.5.0"]),
        ("0.4.x", ["0.4.9"], ["0.5.0"]),
        ("0.4.22 - 0.5.3", ["0.4.22", "0.5.3"], ["0.5.4", "0.4.21"]),
        ("^0.4.24 || ^0.5.0", ["0.4.25", "0.5.9"], ["0.6.0", "0.4.23"]),
        (">0.4", ["0.5.0"], ["0.4.26"]),
        ("<=0.4", ["0.4.26"], ["0.5.0"]),
        ("*", ["0.4.1", "0.8.30"], []),
        ("v0.8.1", ["0.8.1"], ["0.8.2"]),
    ],
)
def test_ranges(text, allowed, refused):
    c = Constraint.parse(text)
    for v in allowed:
        assert c.allows(V(v)), f"{text} should allow {v}"
    for v in refused:
        assert not c.allows(V(v)), f"{text} should refuse {v}"


@pytest.mark.parametrize("text", ["", "^", "abc", "0.4.24 junk", ">=0.4.x.1"])
def test_malformed_constraints_raise(text):
    with pytest.raises(PragmaError):
        Constraint.parse(text)


def test_version_order_is_numeric():
    assert V("0.4.10") > V("0.4.9")
    assert sorted([V("0.5.0"), V("0.4.26"), V("0.4.3")]) == [V("0.4.3"), V("0.4.26"), V("0.5.0")]
    assert str(V("0.8.30+commit.73712a01")) == "0.8.30"
