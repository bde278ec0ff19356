"""How each tool's findings are classified: SWC id, weakness category, severity and confidence.

Three tables, plain data:

- ``SWC_TITLES``: the SWC registry (SWC-100 .. SWC-136), so reports can print a title for any id;
- ``SLITHER_DETECTORS``: every detector of slither-analyzer 0.11.6 -> (SWC id or None, Category);
- ``MYTHRIL_SWCS``: every SWC id a Mythril 0.24.8 detection module can emit -> (Mythril's title, Category).

Categories are the classes of ``Category`` (docs/weaknesses.md): the DASP classes SmartBugs labels with, the
modern classes that refine them (each row's DASP class is ``category.dasp``: merging, ids and SmartBugs scoring
use it), and ``code_quality`` for findings that are not vulnerabilities. ``SWC_CATEGORIES`` gives each SWC id
its class, for datasets labelled by SWC id. A row is mapped by the weakness the detector finds, not by its
name: ``delegatecall-loop`` is a msg.value reuse bug, not a delegatecall to an untrusted callee. A comment
follows a row only where the choice is not obvious. ``tests/auditor/test_swc.py`` checks the tables against
the installed tools, and ``docs/swc-mapping.md`` lists them in full.

Unknown input never raises: an unknown detector, or an id that is not an SWC, classifies as
``(None, Category.OTHER)`` and is logged at debug level.
"""

from __future__ import annotations

import logging
import re

from auditor.findings import Category, Confidence, Severity

log = logging.getLogger(__name__)

_AC = Category.ACCESS_CONTROL
_AR = Category.ARITHMETIC
_BR = Category.BAD_RANDOMNESS
_CQ = Category.CODE_QUALITY
_DOS = Category.DENIAL_OF_SERVICE
_FR = Category.FRONT_RUNNING
_OT = Category.OTHER
_RE = Category.REENTRANCY
_TM = Category.TIME_MANIPULATION
_UC = Category.UNCHECKED_LOW_LEVEL_CALLS
_SD = Category.UNPROTECTED_SELFDESTRUCT
_PX = Category.PROXY
_TI = Category.TOKEN_INTEGRATION
_OR = Category.ORACLE
_PL = Category.PRECISION_LOSS
_SG = Category.SIGNATURE

# The SWC registry (swcregistry.io), whose last entry is SWC-136. Titles as the registry writes them.
SWC_TITLES: dict[str, str] = {
    "SWC-100": "Function Default Visibility",
    "SWC-101": "Integer Overflow and Underflow",
    "SWC-102": "Outdated Compiler Version",
    "SWC-103": "Floating Pragma",
    "SWC-104": "Unchecked Call Return Value",
    "SWC-105": "Unprotected Ether Withdrawal",
    "SWC-106": "Unprotected SELFDESTRUCT Instruction",
    "SWC-107": "Reentrancy",
    "SWC-108": "State Variable Default Visibility",
    "SWC-109": "Uninitialized Storage Pointer",
    "SWC-110": "Assert Violation",
    "SWC-111": "Use of Deprecated Solidity Functions",
    "SWC-112": "Delegatecall to Untrusted Callee",
    "SWC-113": "DoS with Failed Call",
    "SWC-114": "Transaction Order Dependence",
    "SWC-115": "Authorization through tx.origin",
    "SWC-116": "Block values as a proxy for time",  # formerly "Timestamp Dependence" (Mythril still says so)
    "SWC-117": "Signature Malleability",
    "SWC-118": "Incorrect Constructor Name",
    "SWC-119": "Shadowing State Variables",
    "SWC-120": "Weak Sources of Randomness from Chain Attributes",
    "SWC-121": "Missing Protection against Signature Replay Attacks",
    "SWC-122": "Lack of Proper Signature Verification",
    "SWC-123": "Requirement Violation",
    "SWC-124": "Write to Arbitrary Storage Location",
    "SWC-125": "Incorrect Inheritance Order",
    "SWC-126": "Insufficient Gas Griefing",
    "SWC-127": "Arbitrary Jump with Function Type Variable",
    "SWC-128": "DoS With Block Gas Limit",
    "SWC-129": "Typographical Error",
    "SWC-130": "Right-To-Left-Override control character (U+202E)",
    "SWC-131": "Presence of unused variables",
    "SWC-132": "Unexpected Ether balance",
    "SWC-133": "Hash Collisions With Multiple Variable Length Arguments",
    "SWC-134": "Message call with hardcoded gas amount",
    "SWC-135": "Code With No Effects",
    "SWC-136": "Unencrypted Private Data On-Chain",
}

# Each SWC registry id -> the class a label of that id is scored as (datasets labelled by SWC id, such
# as the SWC registry's test cases). Code-quality ids are not weaknesses and are not scored.
SWC_CATEGORIES: dict[str, Category] = {
    "SWC-100": _AC,  # a function left public that should not be
    "SWC-101": _AR,
    "SWC-102": _CQ,
    "SWC-103": _CQ,
    "SWC-104": _UC,
    "SWC-105": _AC,
    "SWC-106": _SD,
    "SWC-107": _RE,
    "SWC-108": _CQ,
    "SWC-109": _OT,
    "SWC-110": _OT,
    "SWC-111": _CQ,
    "SWC-112": _PX,
    "SWC-113": _DOS,
    "SWC-114": _FR,
    "SWC-115": _AC,
    "SWC-116": _TM,
    "SWC-117": _SG,
    "SWC-118": _AC,  # a misspelt constructor is a public function anyone can call to take ownership
    "SWC-119": _CQ,
    "SWC-120": _BR,
    "SWC-121": _SG,
    "SWC-122": _SG,
    "SWC-123": _OT,
    "SWC-124": _AC,
    "SWC-125": _OT,
    "SWC-126": _DOS,  # the relayer picks the gas: a griefing denial of service
    "SWC-127": _AC,
    "SWC-128": _DOS,
    "SWC-129": _AR,
    "SWC-130": _OT,
    "SWC-131": _CQ,
    "SWC-132": _DOS,
    "SWC-133": _SG,  # colliding packed encodings let one signature or hash stand for another input
    "SWC-134": _DOS,
    "SWC-135": _CQ,
    "SWC-136": _OT,
}

# Slither check (the `check` field of its JSON output, the detector's ARGUMENT) -> (SWC id, category).
# Ordered as `slither --list-detectors` orders them: by impact, then confidence, then name.
SLITHER_DETECTORS: dict[str, tuple[str | None, Category]] = {
    # impact High
    "abiencoderv2-array": (None, _OT),  # solc bug (storage arrays under ABIEncoderV2)
    "arbitrary-send-erc20": ("SWC-105", _AC),  # anyone can move tokens that a victim approved
    "array-by-reference": (None, _OT),
    "encode-packed-collision": ("SWC-133", _OT),
    "incorrect-shift": (None, _AR),
    "msg-value-in-nonpayable": (None, _OT),
    "multiple-constructors": ("SWC-118", _OT),  # old and new constructor schemes: one of them never runs
    "name-reused": (None, _OT),
    "protected-vars": (None, _AC),
    "public-mappings-nested": (None, _OT),  # solc bug
    "rtlo": ("SWC-130", _OT),
    "shadowing-state": ("SWC-119", _CQ),
    "suicidal": ("SWC-106", _SD),
    "uninitialized-state": (None, _OT),
    "uninitialized-storage": ("SWC-109", _OT),  # SmartBugs files uninitialized storage pointers under "other"
    "unprotected-upgrade": ("SWC-106", _PX),  # anyone can initialize the logic contract and selfdestruct it
    "arbitrary-send-erc20-permit": ("SWC-105", _AC),
    "arbitrary-send-eth": ("SWC-105", _AC),
    "controlled-array-length": ("SWC-124", _AC),  # a caller-set array length reaches any storage slot
    "controlled-delegatecall": ("SWC-112", _PX),
    "delegatecall-loop": (None, _OT),  # msg.value is credited once per delegatecall: a value reuse bug, not SWC-112
    "incorrect-exp": (None, _AR),  # `^` (xor) written for exponentiation
    "incorrect-return": (None, _OT),
    "msg-value-loop": (None, _OT),  # the same msg.value is counted on every iteration: accounting, not DoS
    "reentrancy-balance": ("SWC-107", _RE),
    "reentrancy-eth": ("SWC-107", _RE),
    "return-leave": (None, _OT),
    "storage-array": (None, _OT),  # solc bug
    "unchecked-transfer": ("SWC-104", _TI),  # ignored ERC20 `false` fails silently, like an unchecked send
    "weak-prng": ("SWC-120", _BR),
    # impact Medium
    "domain-separator-collision": (None, _OT),
    "enum-conversion": (None, _OT),
    "erc20-interface": (None, _OT),
    "erc721-interface": (None, _OT),
    "incorrect-equality": ("SWC-132", _DOS),  # forced ether or tokens make `==` on a balance never hold: gridlock
    "locked-ether": (None, _DOS),  # the ether can never leave: frozen funds
    "mapping-deletion": (None, _OT),
    "pyth-deprecated-functions": (None, _OR),
    "pyth-unchecked-confidence": (None, _OR),
    "pyth-unchecked-publishtime": (None, _OR),  # a stale price
    "shadowing-abstract": ("SWC-119", _CQ),
    "tautological-compare": (None, _OT),
    "tautology": (None, _AR),  # e.g. `uint >= 0`: an underflow check that can never fail
    "write-after-write": ("SWC-135", _CQ),
    "boolean-cst": (None, _OT),
    "chronicle-unchecked-price": (None, _OR),
    "constant-function-asm": (None, _OT),
    "constant-function-state": (None, _OT),
    "divide-before-multiply": (None, _PL),
    "gelato-unprotected-randomness": (None, _BR),  # anyone can request the draw, so the caller picks the moment
    "out-of-order-retryable": (None, _OT),
    "reentrancy-no-eth": ("SWC-107", _RE),
    "reused-constructor": (None, _OT),
    "tx-origin": ("SWC-115", _AC),
    "unchecked-lowlevel": ("SWC-104", _UC),
    "unchecked-send": ("SWC-104", _UC),
    "uninitialized-local": (None, _OT),
    "unused-return": ("SWC-104", _UC),  # the ignored value of an external call, often its success flag
    # impact Low
    "chainlink-feed-registry": (None, _OR),
    "incorrect-modifier": (None, _OT),
    "optimism-deprecation": (None, _OR),  # deprecated gas-price oracle calls
    "shadowing-builtin": (None, _CQ),
    "shadowing-local": ("SWC-119", _CQ),
    "uninitialized-fptr-cst": (None, _OT),  # solc bug
    "variable-scope": (None, _CQ),
    "void-cst": (None, _CQ),
    "calls-loop": ("SWC-113", _DOS),
    "events-access": (None, _CQ),
    "events-maths": (None, _CQ),
    "incorrect-unary": ("SWC-129", _AR),  # `x =+ 1` assigns instead of adding: the SWC-129 example
    "missing-zero-check": (None, _CQ),
    "reentrancy-benign": ("SWC-107", _RE),
    "reentrancy-events": ("SWC-107", _RE),
    "return-bomb": ("SWC-113", _DOS),  # a callee returning huge data makes the caller run out of gas
    "timestamp": ("SWC-116", _TM),
    # impact Informational
    "assembly": (None, _CQ),
    "assert-state-change": ("SWC-110", _CQ),
    "boolean-equal": (None, _CQ),
    "cyclomatic-complexity": (None, _CQ),
    "deprecated-standards": ("SWC-111", _CQ),
    "erc20-indexed": (None, _CQ),
    "function-init-state": (None, _CQ),
    "incorrect-using-for": (None, _CQ),
    "low-level-calls": ("SWC-104", _UC),  # every call/send/delegatecall: the sites whose result may go unchecked
    "missing-inheritance": (None, _CQ),
    "naming-convention": (None, _CQ),
    "pragma": ("SWC-103", _CQ),
    "redundant-statements": ("SWC-135", _CQ),
    "solc-version": ("SWC-102", _CQ),
    "unimplemented-functions": (None, _CQ),
    "unindexed-event-address": (None, _CQ),
    "unused-state": ("SWC-131", _CQ),
    "costly-loop": ("SWC-128", _DOS),  # storage writes per iteration grow with the data until the gas limit
    "dead-code": (None, _CQ),
    "reentrancy-unlimited-gas": ("SWC-107", _RE),
    "too-many-digits": (None, _CQ),
    # impact Optimization
    "cache-array-length": (None, _CQ),
    "constable-states": (None, _CQ),
    "external-function": (None, _CQ),
    "immutable-states": (None, _CQ),
    "var-read-using-this": (None, _CQ),
    # Slither's example detector: hidden from --list-detectors, yet run with all the others
    "backdoor": (None, _OT),
}

# SWC ids the detection modules of Mythril 0.24.8 emit -> (Mythril's title for it, category).
MYTHRIL_SWCS: dict[str, tuple[str, Category]] = {
    "SWC-101": ("Integer Overflow and Underflow", _AR),  # integer
    "SWC-104": ("Unchecked Call Return Value", _UC),  # unchecked_retval
    "SWC-105": ("Unprotected Ether Withdrawal", _AC),  # ether_thief
    "SWC-106": ("Unprotected SELFDESTRUCT Instruction", _SD),  # suicide
    "SWC-107": ("Reentrancy", _RE),  # external_calls, state_change_external_calls
    "SWC-110": ("Assert Violation", _OT),  # exceptions, user_assertions
    "SWC-112": ("Delegatecall to Untrusted Callee", _PX),  # delegatecall
    "SWC-113": ("DoS with Failed Call", _DOS),  # multiple_sends
    "SWC-114": ("Transaction Order Dependence", _FR),  # transaction_order_dependence
    "SWC-115": ("Authorization through tx.origin", _AC),  # dependence_on_origin
    "SWC-116": ("Timestamp Dependence", _TM),  # dependence_on_predictable_vars
    "SWC-120": ("Weak Sources of Randomness from Chain Attributes", _BR),  # dependence_on_predictable_vars
    "SWC-123": ("Requirement Violation", _OT),  # requirements_violation
    "SWC-124": ("Write to Arbitrary Storage Location", _AC),  # arbitrary_write
    "SWC-127": ("Arbitrary Jump with Function Type Variable", _AC),  # arbitrary_jump: jumps past any check
    "SWC-132": ("Unexpected Ether Balance", _DOS),  # unexpected_ether; as Slither's incorrect-equality
}

# Mythril states no confidence. Every issue comes with a transaction sequence the solver found, but these
# modules flag a pattern on that path (a call to a caller-chosen address, two sends in one transaction, a
# branch on block data, a balance compared exactly), not an exploit; their findings get medium confidence.
MYTHRIL_PATTERN_SWCS: frozenset[str] = frozenset({"SWC-107", "SWC-113", "SWC-114", "SWC-116", "SWC-120", "SWC-132"})

_SLITHER_IMPACT = {
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "informational": Severity.INFORMATIONAL,
    "optimization": Severity.INFORMATIONAL,
}
_SLITHER_CONFIDENCE = {"high": Confidence.HIGH, "medium": Confidence.MEDIUM, "low": Confidence.LOW}
_MYTHRIL_SEVERITY = {
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "informational": Severity.INFORMATIONAL,
}

_SWC_RE = re.compile(r"(?:SWC[-_ ]?)?(\d{3})", re.IGNORECASE)


def normalize_swc(swc: str | int | None) -> str | None:
    """'107', 107, 'swc-107' or 'SWC-107' -> 'SWC-107'; None for anything that is not an SWC registry id.

    Mythril's module metadata can hold two ids ("116 120"); the first registry id is taken.
    """
    if swc is None:
        return None
    for token in re.split(r"[\s,;/]+", str(swc).strip()):
        m = _SWC_RE.fullmatch(token)
        if m and f"SWC-{m.group(1)}" in SWC_TITLES:
            return f"SWC-{m.group(1)}"
    return None


def swc_category(swc: str | None) -> Category:
    """The class a label of this SWC id is scored as; OTHER for anything that is no registry id."""
    key = normalize_swc(swc)
    return SWC_CATEGORIES.get(key, Category.OTHER) if key else Category.OTHER


def swc_title(swc: str | None) -> str | None:
    """The SWC registry title of an id in any form `normalize_swc` accepts; None if it is not an SWC id."""
    key = normalize_swc(swc)
    return SWC_TITLES.get(key) if key else None


def slither_class(check: str) -> tuple[str | None, Category]:
    """(SWC id or None, category) of a Slither detector's `check` name; (None, OTHER) if unknown."""
    row = SLITHER_DETECTORS.get(check.strip().lower()) if isinstance(check, str) else None
    if row is None:
        log.debug("unknown Slither detector %r: classified as other, no SWC", check)
        return None, Category.OTHER
    return row


def mythril_class(swc_id: str) -> tuple[str | None, Category]:
    """(normalized 'SWC-nnn', category) of a Mythril issue's swc-id ('107' or 'SWC-107').

    A registry id that no Mythril module emits keeps its id and classifies as OTHER; something that is no
    SWC id at all gives (None, OTHER). Both are logged at debug level.
    """
    key = normalize_swc(swc_id)
    if key is None:
        log.debug("Mythril issue with no SWC id (%r): classified as other", swc_id)
        return None, Category.OTHER
    row = MYTHRIL_SWCS.get(key)
    if row is None:
        log.debug("Mythril %s is not in the mapping table: classified as other", key)
        return key, Category.OTHER
    return key, row[1]


def slither_severity(impact: str) -> Severity:
    """Slither impact -> Severity: High/Medium/Low/Informational as named, Optimization -> informational."""
    sev = _SLITHER_IMPACT.get(str(impact).strip().lower())
    if sev is None:
        log.debug("unknown Slither impact %r: informational", impact)
        return Severity.INFORMATIONAL
    return sev


def slither_confidence(confidence: str) -> Confidence:
    """Slither confidence -> Confidence, as named; anything else -> low."""
    conf = _SLITHER_CONFIDENCE.get(str(confidence).strip().lower())
    if conf is None:
        log.debug("unknown Slither confidence %r: low", confidence)
        return Confidence.LOW
    return conf


def mythril_severity(severity: str) -> Severity:
    """Mythril severity ('High', 'Medium', 'Low') -> Severity; anything else -> informational."""
    sev = _MYTHRIL_SEVERITY.get(str(severity).strip().lower())
    if sev is None:
        log.debug("unknown Mythril severity %r: informational", severity)
        return Severity.INFORMATIONAL
    return sev


def mythril_confidence(swc_id: str) -> Confidence:
    """Medium for the pattern modules (`MYTHRIL_PATTERN_SWCS`) and for unknown ids, high otherwise."""
    key = normalize_swc(swc_id)
    if key is None or key not in MYTHRIL_SWCS or key in MYTHRIL_PATTERN_SWCS:
        return Confidence.MEDIUM
    return Confidence.HIGH
