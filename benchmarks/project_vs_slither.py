"""One project: Slither on one standard-JSON build (the anchor) vs. `solsentry audit --tools slither` (issue 15).

Usage: .venv/bin/python benchmarks/project_vs_slither.py openzeppelin|PATH [--skip-anchor] [--json OUT]
       [--jobs N] [--leaf REL] [--edit function|comment] [--keep]

`openzeppelin`: the .sol files of node_modules/@openzeppelin/contracts (the version package.json pins)
copied to TMP/contracts/ as a plain project, so both tools see them as own code. PATH: a project
(Hardhat, Foundry, Truffle or a directory of .sol files), copied to TMP (without .git and build
outputs) so the leaf edit never touches the original.

In one sitting, on the copy:
  1. SolSentry cold: `solsentry audit COPY --tools slither --review none --format json --out X --fail-on
     none -q`, with an empty result cache (SOLSENTRY_RESULTS_DIR = a fresh folder; the result cache is
     the only state an audit keeps between runs: compiler servers live in the audit's workers).
  2. The anchor, what `slither .` does through crytic-compile: a fresh `.venv/bin/python` (import time
     counts, as for a user) compiles ALL own sources in ONE solc standard-JSON build (crytic-compile's
     SolcStandardJson platform), then runs every Slither detector once. Same solc binary (the path
     SolSentry's provider uses) and settings (version, optimizer, runs, viaIR, evmVersion) as SolSentry
     used: read from the cold report's `files[].solc` / `files[].compiler_settings` (the settings are
     known before the anchor is timed; the most common ones when files differ, which is printed).
  3. Leaf edit: one own file that no other own file imports gets a new harmless function (or a
     comment line) appended; SolSentry again with the same cache.
  4. Unchanged re-run with the same cache.
Findings are compared as (file, detector, first line, last line) of each Slither result's first element
with a source mapping (as benchmarks/slither_vs_cli.py does), own files only; a SolSentry finding
matches through any of its locations.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
SOLSENTRY = ROOT / ".venv" / "bin" / "solsentry"
# SolSentry's sources that run (--code; default this checkout, installed in .venv in editable mode).
CODE = ROOT
OZ = ROOT / "node_modules" / "@openzeppelin" / "contracts"
# Left out of a copied project, at its top level only.
SKIP_COPY = {".git", "artifacts", "cache", "out", "crytic-export", "coverage", "typechain", "types", "build"}
IMPORT = re.compile(r"""\bimport\s+(?:[^'";]*?\bfrom\s+)?["']([^"']+)["']""")
DEFINITION = re.compile(r"^\s*(abstract\s+contract|contract|library|interface)\s+\w+", re.M)


# ---- the anchor (runs in its own interpreter: `--anchor-child SPEC OUT`) --------------------------------
def anchor_child(spec_path: str, out_path: str) -> None:
    t0 = time.perf_counter()
    spec = json.loads(Path(spec_path).read_text())
    import inspect

    from crytic_compile import CryticCompile
    from crytic_compile.platform.solc_standard_json import SolcStandardJson
    from slither import Slither
    from slither.detectors import all_detectors
    from slither.detectors.abstract_detector import AbstractDetector

    t_import = time.perf_counter()
    root = spec["root"]
    os.chdir(root)
    detectors = [d for d in vars(all_detectors).values()
                 if inspect.isclass(d) and issubclass(d, AbstractDetector) and d is not AbstractDetector]
    found, results = set(), 0
    phases = {"import": t_import - t0, "compile": 0.0, "slither_parse": 0.0, "detectors": 0.0}
    for build in spec["builds"]:
        t1 = time.perf_counter()
        settings: dict = {"optimizer": {"enabled": build["optimizer"]}}
        if build["optimizer"]:
            settings["optimizer"]["runs"] = build["runs"]
        if build["via_ir"]:
            settings["viaIR"] = True
        if build["evm_version"]:
            settings["evmVersion"] = build["evm_version"]
        platform_ = SolcStandardJson({"language": "Solidity", "sources": {}, "settings": settings})
        platform_.add_source_files(build["sources"])
        for r in spec["remappings"]:
            platform_.add_remapping(r)
        cc = CryticCompile(platform_, solc=build["solc"], solc_working_dir=root)
        t2 = time.perf_counter()
        sl = Slither(cc)
        for d in detectors:
            sl.register_detector(d)
        t3 = time.perf_counter()
        for per_detector in sl.run_detectors():
            for r in per_detector:
                results += 1
                el = next((e for e in r.get("elements", []) if (e.get("source_mapping") or {}).get("lines")), None)
                if el is None:
                    continue
                sm = el["source_mapping"]
                name = sm.get("filename_absolute") or sm.get("filename_relative")
                rel = Path(os.path.relpath(os.path.join(root, name), root)).as_posix()
                found.add((rel, r["check"], min(sm["lines"]), max(sm["lines"])))
        t4 = time.perf_counter()
        phases["compile"] += t2 - t1
        phases["slither_parse"] += t3 - t2
        phases["detectors"] += t4 - t3
    Path(out_path).write_text(json.dumps({
        "findings": sorted(found), "results": results, "detectors": len(detectors),
        "phases_s": {k: round(v, 2) for k, v in phases.items()},
    }))


def run_anchor(root: Path, spec: dict, work: Path) -> dict:
    spec_path, out_path = work / "anchor-spec.json", work / "anchor-out.json"
    spec_path.write_text(json.dumps(spec))
    started = time.perf_counter()
    proc = subprocess.run([str(PY), str(Path(__file__).resolve()), "--anchor-child", str(spec_path), str(out_path)],
                          cwd=root, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0 or not out_path.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        return {"ok": False, "time_s": elapsed, "error": "\n".join(tail)}
    data = json.loads(out_path.read_text())
    data["findings"] = {tuple(f) for f in data["findings"]}
    return {"ok": True, "time_s": elapsed, **data}


# ---- SolSentry -------------------------------------------------------------------------------------------
def run_solsentry(root: Path, out: Path, results_dir: Path, jobs: int | None) -> dict:
    cmd = [str(SOLSENTRY), "audit", str(root), "--tools", "slither", "--review", "none", "--format", "json",
           "--out", str(out), "--fail-on", "none", "-q"]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    env = {**os.environ, "SOLSENTRY_RESULTS_DIR": str(results_dir)}
    if CODE != ROOT:  # another checkout of SolSentry's sources (e.g. `git archive HEAD`), ahead of the editable one
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CODE), env.get("PYTHONPATH")]))
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if not out.is_file():
        raise SystemExit(f"solsentry failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    report = json.loads(out.read_text())
    found = set()
    for f in report["findings"]:
        for rep in f["reporters"]:
            if rep["tool"] == "slither":
                for loc in f["locations"]:
                    found.add((loc["file"], rep["detector"], loc["start_line"], loc["end_line"]))
    runs = Counter(r["state"] for r in report["tool_runs"])
    return {"time_s": elapsed, "rc": proc.returncode, "report": report, "findings": found,
            "tool_runs": dict(runs), "complete": report.get("complete"), "load_before": round(load, 2)}


# ---- the project -----------------------------------------------------------------------------------------
def prepare(project: str, tmp: Path) -> tuple[Path, str]:
    dest = tmp / "project"
    if project == "openzeppelin":
        if not OZ.is_dir():
            raise SystemExit(f"{OZ} is missing: run `make install` (npm ci)")
        version = json.loads((OZ / "package.json").read_text())["version"]
        for f in sorted(OZ.rglob("*.sol")):
            target = dest / "contracts" / f.relative_to(OZ)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
        return dest, f"@openzeppelin/contracts {version} (node_modules, copied to contracts/)"
    src = Path(project).resolve()
    if not src.is_dir():
        raise SystemExit(f"{project}: not a directory (or `openzeppelin`)")
    # Build outputs and VCS data at the top only (a `types/` folder deeper down is source code).
    shutil.copytree(src, dest, symlinks=False,
                    ignore=lambda d, names: [n for n in names if n in SKIP_COPY] if Path(d) == src else [])
    return dest, str(src)


def _resolve(spec: str, importer: Path, root: Path, remappings: list[tuple[str, str]]) -> Path:
    if spec.startswith("."):
        return (importer.parent / spec).resolve()
    best = max((r for r in remappings if spec.startswith(r[0])), key=lambda r: len(r[0]), default=None)
    if best is not None:
        spec = best[1] + spec[len(best[0]):]
    return (root / spec).resolve()


def pick_leaf(root: Path, own: list[str], remappings: list[str]) -> str:
    """The largest own file no other own file imports, preferring one that ends with a contract."""
    remaps = [tuple(r.split(":", 1)[-1].split("=", 1)) for r in remappings if "=" in r]
    paths = {(root / f).resolve(): f for f in own}
    imported: set[Path] = set()
    for p in paths:
        for spec in IMPORT.findall(p.read_text(encoding="utf-8", errors="replace")):
            imported.add(_resolve(spec, p, root, remaps))
    leaves = [p for p in paths if p not in imported]
    if not leaves:
        raise SystemExit("no own file is a leaf (every one is imported by another)")

    def rank(p: Path) -> tuple:
        kinds = DEFINITION.findall(p.read_text(encoding="utf-8", errors="replace"))
        ends_with_code = bool(kinds) and kinds[-1] != "interface"
        return ends_with_code, p.stat().st_size, paths[p]
    return paths[max(leaves, key=rank)]


def edit_leaf(path: Path, mode: str, solc: str) -> str:
    text = path.read_text(encoding="utf-8")
    kinds = DEFINITION.findall(text)
    major_minor = tuple(int(x) for x in solc.split(".")[:2])
    if mode == "function" and kinds and kinds[-1] != "interface" and major_minor >= (0, 5) and "}" in text:
        cut = text.rindex("}")
        fn = "    function solsentryBenchEdit() external pure returns (uint256) {\n        return 15;\n    }\n"
        path.write_text(text[:cut] + fn + text[cut:], encoding="utf-8")
        return "a new external pure function before the file's last '}'"
    path.write_text(text.rstrip("\n") + "\n// solsentry benchmark edit (issue 15)\n", encoding="utf-8")
    return "a comment line at the end"


def split_stack_too_deep(root: Path, spec: dict, error: str) -> tuple[dict, str]:
    """`spec` with the own files whose imports reach a file solc blamed for "Stack too deep" moved
    to a second build with the optimizer (200 runs) and viaIR on."""
    from auditor.plan import plan
    from auditor.targets import load_target

    blamed = set(re.findall(r"-->\s*([^\s:]+\.sol):\d+", error))
    units = {p.work.file: set(p.work.unit) for p in plan(load_target(root), {}, 10**9, codegen=False)}
    main = spec["builds"][0]
    aside = sorted(f for f in main["sources"] if units.get(f, {f}) & blamed)
    ir = {**main, "sources": aside, "optimizer": True, "runs": main.get("runs") or 200, "via_ir": True}
    main = {**main, "sources": [f for f in main["sources"] if f not in aside]}
    note = (f"one build fails with 'Stack too deep' in {sorted(blamed)}: the {len(aside)} own file(s) "
            f"importing it get a second build with the optimizer and viaIR on: {aside}")
    return {**spec, "builds": [main, ir, *spec["builds"][1:]]}, note


def anchor_spec(root: Path, report: dict) -> tuple[dict, list[str]]:
    """The anchor's build(s). One standard-JSON build of every own file, with the compiler and settings
    most of SolSentry's files used. Files SolSentry could only compile with other settings (its
    "Stack too deep" fallback: optimizer and viaIR on) get a second build with those settings, as a
    project's config would set them (a Hardhat `overrides` entry); one build cannot hold both, and
    without them it does not compile. A file on another solc version only stays in the main build."""
    from auditor.solc.provider import SolcProvider
    from auditor.targets import load_target

    own = [f for f in report["files"] if not f["dependency"]]
    compiled = [f for f in own if f["status"] == "compiled"]
    notes = []
    if len(compiled) < len(own):
        notes.append(f"{len(own) - len(compiled)} own file(s) not compiled by SolSentry; the anchor builds them too")
    pool = compiled or own

    def combo(f: dict) -> tuple[str, str]:
        return f["solc"], json.dumps(f["compiler_settings"], sort_keys=True)
    combos = Counter(combo(f) for f in pool)
    main_combo, n = combos.most_common(1)[0]
    if len(combos) > 1:
        notes.append(f"SolSentry's files differ in compiler/settings: "
                     f"{ {f'{v} {k}': c for (v, k), c in combos.items()} }; main build: {main_combo} "
                     f"({n}/{len(pool)} files)")
    installed = SolcProvider().installed()

    def binary(version: str):
        b = next((b for b in installed if str(b.version) == version), None)
        if b is None:
            raise SystemExit(f"solc {version} (SolSentry's choice) is not installed")
        return b

    main_settings = json.loads(main_combo[1])
    split: dict[tuple[str, str], list[str]] = {}
    for f in pool:
        s = f["compiler_settings"]
        if s["via_ir"] and not main_settings["via_ir"]:
            split.setdefault(combo(f), []).append(f["path"])
    aside = {p for paths in split.values() for p in paths}
    builds = [{"sources": sorted(f["path"] for f in own if f["path"] not in aside), "solc_version": main_combo[0],
               "solc": str(binary(main_combo[0]).path), "solc_kind": binary(main_combo[0]).kind, **main_settings}]
    for (version, settings_text), paths in sorted(split.items()):
        builds.append({"sources": sorted(paths), "solc_version": version, "solc": str(binary(version).path),
                       "solc_kind": binary(version).kind, **json.loads(settings_text)})
        notes.append(f"second build for {len(paths)} file(s) SolSentry compiled with {settings_text} "
                     f"(its Stack-too-deep fallback): {sorted(paths)}")
    target = load_target(root)
    return {"root": str(root), "builds": builds, "remappings": [str(r) for r in target.remappings]}, notes


def code_state() -> dict:
    """Which SolSentry code ran: HEAD, the locally modified files of auditor/, and a hash of auditor/'s
    sources (taken before and after the runs: other people may edit the working tree meanwhile)."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted((CODE / "auditor").rglob("*")):
        if f.is_file() and f.suffix in (".py", ".js"):
            h.update(f.relative_to(CODE).as_posix().encode() + b"\0" + f.read_bytes())
    if CODE != ROOT:
        return {"tree": str(CODE), "auditor_sha256": h.hexdigest()[:16]}

    def git(*a: str) -> str:
        try:
            # Read-only: --no-optional-locks keeps `git status` from refreshing the index.
            return subprocess.run(["git", "--no-optional-locks", *a], cwd=ROOT, capture_output=True, text=True,
                                  timeout=30).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"head": git("rev-parse", "--short", "HEAD"), "modified": git("status", "--porcelain", "--", "auditor")
            .splitlines(), "auditor_sha256": h.hexdigest()[:16]}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {"host": platform.node(), "cpu": cpu, "nproc": len(os.sched_getaffinity(0)),
            "ram_gib": round(mem_kb / 2**20, 1), "os": platform.platform()}


def versions(solc_path: str | None) -> dict:
    from importlib.metadata import version

    import auditor

    out = {"python": platform.python_version(), "solsentry": auditor.__version__,
           "slither-analyzer": version("slither-analyzer"), "crytic-compile": version("crytic-compile")}
    node = shutil.which("node")
    if node:
        out["node"] = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if solc_path:
        text = subprocess.run([solc_path, "--version"], capture_output=True, text=True).stdout
        out["solc"] = (text.strip().splitlines() or ["?"])[-1].replace("Version: ", "")
    return out


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--anchor-child":
        anchor_child(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("project", help="`openzeppelin` or a project directory")
    ap.add_argument("--skip-anchor", action="store_true", help="SolSentry runs only")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--jobs", type=int, default=None, help="solsentry --jobs (default: its own, the CPU count)")
    ap.add_argument("--leaf", help="the own file to edit (relative to the project; default: picked)")
    ap.add_argument("--edit", choices=("function", "comment"), default="function")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--code", type=Path, default=ROOT,
                    help="run SolSentry from this source tree (e.g. `git archive HEAD | tar -x -C DIR`) "
                         "instead of this checkout")
    args = ap.parse_args()
    global CODE
    CODE = args.code.resolve()

    tmp = Path(tempfile.mkdtemp(prefix="bench-project-"))
    try:
        figures = bench(args, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")


def bench(args: argparse.Namespace, tmp: Path) -> dict:
    sys.path.insert(0, str(CODE))
    root, described = prepare(args.project, tmp)
    results_dir = tmp / "results"
    results_dir.mkdir()
    mach = machine()
    print(f"project: {described}\ncopy: {root}")
    print(f"machine: {mach['cpu']}, {mach['nproc']} CPUs, {mach['ram_gib']} GiB RAM ({mach['host']}); "
          f"load average {os.getloadavg()[0]:.2f}")

    code_before = code_state()
    if "tree" in code_before:
        print(f"solsentry code: {code_before['tree']}, sources {code_before['auditor_sha256']}")
    else:
        print(f"solsentry code: HEAD {code_before['head']}, {len(code_before['modified'])} modified file(s) in "
              f"auditor/, sources {code_before['auditor_sha256']}")
    cold = run_solsentry(root, tmp / "cold.json", results_dir, args.jobs)
    report = cold["report"]
    own = [f["path"] for f in report["files"] if not f["dependency"]]
    print(f"solsentry cold: {cold['time_s']:.1f} s ({len(own)} own files, tool runs {cold['tool_runs']}, "
          f"complete {cold['complete']})")

    spec, notes = anchor_spec(root, report)
    for n in notes:
        print(f"note: {n}")
    keys = ("solc_version", "solc_kind", "solc", "optimizer", "runs", "via_ir", "evm_version")
    settings = [{k: b[k] for k in keys} | {"files": len(b["sources"])} for b in spec["builds"]]
    for i, b in enumerate(settings, 1):
        print(f"anchor build {i}: {b}")
    print(f"remappings: {spec['remappings']}")
    main_build = spec["builds"][0]
    anchor = None
    if not args.skip_anchor:
        anchor = run_anchor(root, spec, tmp)
        if not anchor["ok"] and "Stack too deep" in anchor["error"]:
            # As a project would configure it (a Hardhat `overrides` entry): the files that need it
            # get a second build with the optimizer and viaIR on. The failed try is not timed.
            spec, note = split_stack_too_deep(root, spec, anchor["error"])
            print(f"note: {note}")
            notes.append(note)
            settings = [{k: b[k] for k in keys} | {"files": len(b["sources"])} for b in spec["builds"]]
            anchor = run_anchor(root, spec, tmp)
        if anchor["ok"]:
            own_set = set(own)
            anchor["findings"] = {f for f in anchor["findings"] if f[0] in own_set}
            print(f"anchor ({len(spec['builds'])} standard-JSON build(s) + Slither): {anchor['time_s']:.1f} s "
                  f"{anchor['phases_s']}, "
                  f"{anchor['results']} results, {len(anchor['findings'])} own findings")
        else:
            print(f"anchor FAILED after {anchor['time_s']:.1f} s:\n{anchor['error']}")

    leaf = args.leaf or pick_leaf(root, own, spec["remappings"])
    how = edit_leaf(root / leaf, args.edit, main_build["solc_version"])
    edited = run_solsentry(root, tmp / "edit.json", results_dir, args.jobs)
    print(f"leaf edit ({leaf}: {how}): {edited['time_s']:.2f} s, tool runs {edited['tool_runs']}")
    rerun = run_solsentry(root, tmp / "rerun.json", results_dir, args.jobs)
    print(f"unchanged re-run: {rerun['time_s']:.2f} s")

    def outside_leaf(found: set) -> set:
        return {f for f in found if f[0] != leaf}

    code_after = code_state()
    if code_after["auditor_sha256"] != code_before["auditor_sha256"]:
        print(f"WARNING: auditor/ changed during the runs (sources {code_after['auditor_sha256']} at the end)")
    added, removed = edited["findings"] - cold["findings"], cold["findings"] - edited["findings"]
    figures: dict = {
        "project": described, "machine": mach, "code_before": code_before, "code_after": code_after,
        "code_changed_during_runs": code_after["auditor_sha256"] != code_before["auditor_sha256"],
        "versions": versions(main_build["solc"]),
        "anchor_builds": settings, "remappings": spec["remappings"], "notes": notes,
        "own_files": len(own), "jobs": args.jobs or mach["nproc"],
        "solsentry_cold_s": round(cold["time_s"], 2), "solsentry_cold_tool_runs": cold["tool_runs"],
        "solsentry_complete": cold["complete"],
        "leaf": leaf, "leaf_edit": how, "leaf_edit_s": round(edited["time_s"], 3),
        "leaf_edit_tool_runs": edited["tool_runs"], "unchanged_rerun_s": round(rerun["time_s"], 3),
        "leaf_edit_speedup_vs_cold": round(cold["time_s"] / edited["time_s"], 1),
        "unchanged_speedup_vs_cold": round(cold["time_s"] / rerun["time_s"], 1),
        "rerun_findings_identical": rerun["findings"] == edited["findings"],
        "leaf_edit_findings_same_outside_leaf": outside_leaf(edited["findings"]) == outside_leaf(cold["findings"]),
        "leaf_edit_outside_leaf_added": [list(f) for f in sorted(outside_leaf(added))],
        "leaf_edit_outside_leaf_removed": [list(f) for f in sorted(outside_leaf(removed))],
        "solsentry_findings": len(cold["findings"]), "solsentry_report_findings": len(report["findings"]),
        "load_average_1m_before_runs": [cold["load_before"], edited["load_before"], rerun["load_before"]],
    }
    if anchor is not None:
        figures["anchor_ok"] = anchor["ok"]
        figures["anchor_s"] = round(anchor["time_s"], 2)
        if anchor["ok"]:
            missing = sorted(anchor["findings"] - cold["findings"])
            figures.update({
                "anchor_phases_s": anchor["phases_s"], "anchor_detectors": anchor["detectors"],
                "ratio_solsentry_over_anchor": round(cold["time_s"] / anchor["time_s"], 2),
                "anchor_findings": len(anchor["findings"]),
                "anchor_findings_in_solsentry": len(anchor["findings"]) - len(missing),
                "anchor_findings_missing": [list(m) for m in missing],
            })
        else:
            figures["anchor_error"] = anchor["error"]
    summary(figures)
    return figures


def summary(fig: dict) -> None:
    print("\n== summary ==")
    v = fig["versions"]
    print(f"machine: {fig['machine']['cpu']}, nproc {fig['machine']['nproc']}, {fig['machine']['ram_gib']} GiB RAM")
    print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    print(f"own files: {fig['own_files']}; solsentry --jobs {fig['jobs']}")
    if fig.get("anchor_ok"):
        n = len(fig["anchor_builds"])
        print(f"anchor (Slither, {'one standard-JSON build' if n == 1 else f'{n} standard-JSON builds'}) cold: "
              f"{fig['anchor_s']:.1f} s")
    elif "anchor_s" in fig:
        print(f"anchor FAILED ({fig['anchor_s']:.1f} s)")
    print(f"solsentry cold: {fig['solsentry_cold_s']:.1f} s")
    if "ratio_solsentry_over_anchor" in fig:
        r = fig["ratio_solsentry_over_anchor"]
        print(f"ratio solsentry/anchor: {r:.2f} (target <= 1.0: {'met' if r <= 1.0 else 'NOT met'})")
    le, un = fig["leaf_edit_speedup_vs_cold"], fig["unchanged_speedup_vs_cold"]
    print(f"leaf edit: {fig['leaf_edit_s']:.2f} s, {le}x vs cold (target >= 20x: {'met' if le >= 20 else 'NOT met'})")
    print(f"unchanged: {fig['unchanged_rerun_s']:.2f} s, {un}x vs cold (target >= 100x: "
          f"{'met' if un >= 100 else 'NOT met'})")
    if "anchor_findings" in fig:
        print(f"overlap: {fig['anchor_findings_in_solsentry']}/{fig['anchor_findings']} anchor findings in "
              f"SolSentry's report ({fig['solsentry_findings']} SolSentry slither (file, detector, lines))")
        for m in fig["anchor_findings_missing"]:
            print(f"  missing: {m[0]}:{m[2]}-{m[3]} {m[1]}")
    print(f"re-run findings identical: {fig['rerun_findings_identical']}; leaf edit same outside the leaf: "
          f"{fig['leaf_edit_findings_same_outside_leaf']}")
    for key, word in (("leaf_edit_outside_leaf_added", "added"), ("leaf_edit_outside_leaf_removed", "removed")):
        for m in fig[key][:10]:
            print(f"  leaf edit {word} outside the leaf: {m[0]}:{m[2]}-{m[3]} {m[1]}")


if __name__ == "__main__":
    main()
