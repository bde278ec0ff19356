"""A real report: findings of every severity, one suppressed, one failed and one timed-out tool run,
and text that must be escaped (`<script>`, `|`, backticks, Markdown and rich markup); and a reviewed
report: one verdict of each label, with evidence and knowledge entries, and a finding of the model alone."""

from __future__ import annotations

import pytest

from auditor.findings import (
    Category,
    Confidence,
    Evidence,
    Finding,
    Location,
    Reporter,
    Severity,
    Verdict,
    finding_id,
    fingerprint,
)
from auditor.report.model import Report, ReviewInfo, SourceFile, ToolInfo, ToolRun, ToolState, summarize

SOURCE = {
    "contracts/Vault.sol": [f"line {i}\n" for i in range(1, 80)],
    "contracts/Token Sale.sol": [f"line {i}\n" for i in range(1, 40)],
}

SCRIPT_DESCRIPTION = (
    "Reentrancy in Vault.withdraw(uint256) <script>alert('x')</script>:\n"
    "\tExternal calls:\n\t- msg.sender.call{value: amount}() | then balances[msg.sender] = 0\n"
    "```\nnot a fence end\n```"
)


def make_finding(title: str, severity: Severity, category: Category, loc: Location, *, swc: str | None = None,
                 confidence: Confidence = Confidence.HIGH, description: str = "",
                 reporters: list[Reporter] | None = None, suppressed: str | None = None,
                 extra_locations: list[Location] | None = None, review: Verdict | None = None,
                 origin: str = "tool") -> Finding:
    reporters = reporters or [Reporter(tool="slither", detector="x", severity=severity, confidence=confidence)]
    return Finding(
        id=finding_id(category, swc, loc),
        fingerprint=fingerprint(category, swc, loc, SOURCE[loc.file]),
        title=title,
        swc=swc,
        category=category,
        severity=severity,
        confidence=confidence,
        locations=[loc, *(extra_locations or [])],
        description=description,
        tools=sorted({r.tool for r in reporters}),
        reporters=reporters,
        suppressed=suppressed,
        review=review,
        origin=origin,
    )


@pytest.fixture
def findings() -> list[Finding]:
    vault = "contracts/Vault.sol"
    return [
        make_finding(
            "Reentrancy in Vault.withdraw | drains ether", Severity.HIGH, Category.REENTRANCY,
            Location(file=vault, start_line=20, end_line=31, contract="Vault", function="withdraw"),
            swc="SWC-107", description=SCRIPT_DESCRIPTION,
            reporters=[
                Reporter(tool="slither", detector="reentrancy-eth", severity=Severity.HIGH,
                         confidence=Confidence.MEDIUM),
                Reporter(tool="mythril", detector="SWC-107", severity=Severity.HIGH, confidence=Confidence.HIGH),
            ],
            extra_locations=[Location(file=vault, start_line=25, end_line=25, contract="Vault",
                                      function="withdraw")],
        ),
        make_finding(
            "Weak randomness from block.timestamp", Severity.MEDIUM, Category.BAD_RANDOMNESS,
            Location(file="contracts/Token Sale.sol", start_line=12, end_line=14, contract="Sale",
                     function="draw"),
            swc="SWC-120", confidence=Confidence.MEDIUM, description="Uses `block.timestamp` *as* [entropy].",
            reporters=[Reporter(tool="slither", detector="weak-prng", severity=Severity.MEDIUM,
                                confidence=Confidence.MEDIUM)],
        ),
        make_finding(
            "Low-level call [bold]unchecked[/bold]", Severity.LOW, Category.UNCHECKED_LOW_LEVEL_CALLS,
            Location(file=vault, start_line=40, end_line=40, contract="Vault"),
            swc="SWC-104", confidence=Confidence.LOW, description="The return value of call is ignored.",
            reporters=[Reporter(tool="slither", detector="unchecked-lowlevel", severity=Severity.LOW,
                                confidence=Confidence.LOW)],
        ),
        make_finding(
            "Naming convention", Severity.INFORMATIONAL, Category.CODE_QUALITY,
            Location(file=vault, start_line=5, end_line=5, contract="Vault"),
            description="Variable _x is not in mixedCase",
            reporters=[Reporter(tool="slither", detector="naming-convention", severity=Severity.INFORMATIONAL,
                                confidence=Confidence.HIGH)],
        ),
        make_finding(
            "tx.origin used for authorization", Severity.HIGH, Category.ACCESS_CONTROL,
            Location(file=vault, start_line=60, end_line=62, contract="Vault", function="admin"),
            swc="SWC-115", description="Suppressed by a solsentry-disable comment.", suppressed="inline",
            reporters=[Reporter(tool="slither", detector="tx-origin", severity=Severity.HIGH,
                                confidence=Confidence.MEDIUM)],
        ),
    ]


@pytest.fixture
def report(findings: list[Finding]) -> Report:
    runs = [
        ToolRun(tool="slither", unit="contracts/Vault.sol", state=ToolState.OK, duration_s=3.2, findings=4),
        ToolRun(tool="slither", unit="contracts/Token Sale.sol", state=ToolState.OK, duration_s=2.0, findings=1),
        ToolRun(tool="mythril", unit="contracts/Vault.sol:Vault", state=ToolState.OK, duration_s=40.0, findings=1),
        ToolRun(tool="mythril", unit="contracts/Token Sale.sol:Sale", state=ToolState.FAILED,
                message="solc <0.4.24> | exited with code 1", duration_s=1.5),
        ToolRun(tool="mythril", unit="contracts/Token Sale.sol:Helper", state=ToolState.TIMEOUT,
                message="no result after 300 s", duration_s=300.0),
    ]
    return Report(
        solsentry_version="0.1.0",
        target="examples/vault",
        target_kind="hardhat",
        tools=[
            ToolInfo(name="slither", version="0.11.6", runs=2, ok=2, failed=0, timeout=0, skipped=0),
            ToolInfo(name="mythril", version="0.24.8", runs=3, ok=1, failed=1, timeout=1, skipped=0),
        ],
        tool_runs=runs,
        files=[
            SourceFile(path="contracts/Vault.sol", solc="0.8.30", sha256="a" * 64),
            SourceFile(path="contracts/Token Sale.sol", solc="0.4.24", sha256="b" * 64),
            SourceFile(path="node_modules/@oz/contracts/Ownable.sol", solc="0.8.30", dependency=True,
                       sha256="c" * 64),
        ],
        findings=findings,
        summary=summarize(findings),
        duration_s=346.7,
    )


@pytest.fixture
def empty_report() -> Report:
    return Report(solsentry_version="0.1.0", target="A.sol", target_kind="file", tools=[], tool_runs=[],
                  files=[], findings=[], summary=summarize([]))


REVIEW_MODEL = "solsentry-review-minilm@0123abcd"
GUARD = Evidence(fact="reentrancy-guard", detail="modifier nonReentrant on withdraw", line=12, guard=True)
# A fact the review read from the source, carrying markup that every format must print as text.
FACT = Evidence(fact="unchecked-return", detail="return value of <script>alert(1)</script> call ignored", line=40)
MODEL_EVIDENCE = Evidence(fact="spot-price-read", detail="price from getReserves() used without a TWAP", line=55)


@pytest.fixture
def reviewed_findings() -> list[Finding]:
    """Three tool findings with one verdict of each label, and one finding of the review model alone."""
    vault = "contracts/Vault.sol"
    return [
        make_finding(
            "Reentrancy in Vault.withdraw", Severity.HIGH, Category.REENTRANCY,
            Location(file=vault, start_line=20, end_line=31, contract="Vault", function="withdraw"), swc="SWC-107",
            review=Verdict(label="likely_false", score=0.12, model=REVIEW_MODEL, evidence=[GUARD],
                           reason="withdraw is guarded by nonReentrant, so the external call cannot re-enter",
                           knowledge="SWC-107")),
        make_finding(
            "Weak randomness from block.timestamp", Severity.MEDIUM, Category.BAD_RANDOMNESS,
            Location(file="contracts/Token Sale.sol", start_line=12, end_line=14, contract="Sale", function="draw"),
            swc="SWC-120",
            review=Verdict(label="unsure", score=0.48, model=REVIEW_MODEL, knowledge="SWC-120",
                           reason="no protecting evidence and code unlike the training data: the review abstains")),
        make_finding(
            "Low-level call unchecked", Severity.LOW, Category.UNCHECKED_LOW_LEVEL_CALLS,
            Location(file=vault, start_line=40, end_line=40, contract="Vault", function="pay"), swc="SWC-104",
            review=Verdict(label="likely_true", score=0.91, model=REVIEW_MODEL, evidence=[FACT], knowledge="SWC-104",
                           reason="the return value of the call on line 40 is never read")),
        make_finding(
            "Price read from a manipulable pool", Severity.MEDIUM, Category.ORACLE,
            Location(file=vault, start_line=50, end_line=60, contract="Vault", function="price"),
            confidence=Confidence.LOW, origin="model", description="The review model flagged this function.",
            reporters=[Reporter(tool="solsentry-review", detector="review-oracle_manipulation",
                                severity=Severity.MEDIUM, confidence=Confidence.LOW)],
            review=Verdict(label="likely_true", score=0.83, model=REVIEW_MODEL, evidence=[MODEL_EVIDENCE],
                           reason="a spot price is used as an oracle", knowledge="SOLSENTRY-ORACLE")),
    ]


@pytest.fixture
def reviewed_report(reviewed_findings: list[Finding]) -> Report:
    judged = [f for f in reviewed_findings if f.origin == "tool"]
    return Report(
        solsentry_version="0.1.0", target="examples/vault", target_kind="hardhat",
        tools=[ToolInfo(name="slither", version="0.11.6", runs=2, ok=2, failed=0, timeout=0, skipped=0)],
        tool_runs=[ToolRun(tool="slither", unit=f, state=ToolState.OK) for f in SOURCE],
        files=[SourceFile(path=f, solc="0.8.30", sha256=c * 64) for f, c in zip(SOURCE, "ab", strict=True)],
        findings=reviewed_findings, summary=summarize(reviewed_findings),
        review=ReviewInfo(reviewer="embedded", model=REVIEW_MODEL, state="ok", reviewed=len(judged),
                          likely_false=1, unsure=1, model_findings=1, duration_s=1.5),
    )

