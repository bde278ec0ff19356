"""Workers that take queued audits from the store and run each in its own process.

A worker thread claims a job and runs it through the service's audit runner (auditor/runtime/runners.py:
by default a warm worker of a pool, auditor/runtime/warm.py; or a fresh child per audit; or a Ray
actor or task) on the job's unpacked sources, with its process tree's resident memory capped
(auditor.runtime.limits);
past the time limit the child and every process it started are killed and the job fails with
"timeout", over the memory cap with "the audit went over its memory limit of N MB". Sources are only ever
compiled by solc: nothing from a submission is executed.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path
from typing import NamedTuple

from auditor.api.config import ApiSettings
from auditor.api.store import AuditJob, AuditStore

log = logging.getLogger(__name__)


def job_dir(settings: ApiSettings, job_id: str) -> Path:
    return settings.jobs_dir / job_id


RESULTS_ENV = "SOLSENTRY_RESULTS_DIR"


def own_results_dir(settings: ApiSettings) -> Path | None:
    """The API's own results cache, <data_dir>/results, which retention prunes; None when the
    operator named another one in SOLSENTRY_RESULTS_DIR (that one is left alone)."""
    named, own = os.environ.get(RESULTS_ENV), settings.results_dir
    return own if not named or Path(named).resolve() == own.resolve() else None


def use_own_results_cache(settings: ApiSettings) -> Path | None:
    """Point the audit children (spawned: they inherit this environment) at `own_results_dir`."""
    from auditor.perms import private_dir

    own = own_results_dir(settings)
    if own is not None:
        os.environ[RESULTS_ENV] = str(own)
        private_dir(own)
    return own


def archive_limits(settings: ApiSettings):
    """The caps an upload is unpacked under (`routes_audits`), for unpacking it again elsewhere."""
    from auditor.archive_guard import ArchiveLimits

    return ArchiveLimits(max_files=settings.max_files, max_total_bytes=settings.max_unpacked_bytes,
                         max_file_bytes=min(settings.max_unpacked_bytes, 5_000_000))


class JobResult(NamedTuple):
    report: str | None
    summary: dict | None
    error: str | None
    complete: bool = False


def judge(text: str) -> JobResult:
    """The honest state of a finished audit, as the CLI's exit codes have it: nothing analyzed (no
    own file compiled, or every tool run failed) is a failure whose error gives each file's (or
    run's) reason, the report kept for the details; otherwise done, `complete` when nothing is
    missing (Report.complete)."""
    from auditor.report.controls import visible
    from auditor.report.model import Report

    report = Report.model_validate_json(text)
    summary = report.summary.model_dump()
    if report.analyzed():
        return JobResult(text, summary, None, report.complete)
    reasons = [f"{f.path}: {f.error}" for f in report.unanalyzed_files()]
    if not reasons:
        reasons = [f"{r.tool} on {r.unit}: {r.state.value}" + (f" ({r.message})" if r.message else "")
                   for r in report.unfinished_runs()]
    # A message for people (compile errors may carry terminal escapes): the report keeps the raw text.
    error = visible("nothing could be analyzed: " + "; ".join(reasons))
    return JobResult(text, summary, error if len(error) <= 8000 else error[:8000] + " ...", False)


def make_runner(settings: ApiSettings):
    """The service's audit runner (auditor/runtime/runners.py): by default a pool of warm workers,
    as many as `workers`, with the review model the service offers first loaded in each."""
    from auditor.runtime.runners import make_runner as make
    from auditor.runtime.warm import PoolConfig

    config = PoolConfig(size=settings.workers, max_audits=settings.worker_max_audits,
                        max_growth_mb=settings.worker_max_growth_mb, review=_preloaded_review(),
                        children_dir=settings.children_dir)
    return make(settings.executor, settings.isolation, config, settings.ray_address, archive_limits(settings))


def _preloaded_review() -> str | None:
    """The review a submission gets unless it asks otherwise, when it is the embedded model."""
    from auditor.review.registry import HOSTED_REVIEW_NAMES

    return "embedded" if HOSTED_REVIEW_NAMES[0] == "embedded" else None


def run_job(job: AuditJob, settings: ApiSettings, runner=None) -> tuple:
    """(report JSON, summary, error[, complete]): a JobResult, or a plain triple when the audit
    did not finish (no report, `complete` false). `runner`: the service's (`make_runner`); without
    one, a fresh process audits the job."""
    from auditor.errors import AuditorError
    from auditor.pipeline import AuditOptions
    from auditor.runtime.isolated import AuditTimeout
    from auditor.runtime.runners import FreshRunner
    from auditor.runtime.warm import PoolConfig

    src = job_dir(settings, job.id) / "src"
    options = {k: v for k, v in job.options.items() if k in AuditOptions.__dataclass_fields__}
    # A submission is audited alone: only its own files are read, only cached compilers are used.
    options.update(hosted=True, allow_paths=())
    # Cached results are the submitter's own: a hit must not reveal that someone else audited a text.
    options["cache_scope"] = f"owner:{job.owner}"
    if settings.executor == "ray":
        # No results cache on cluster nodes: there, deletion and retention could not reach it.
        options["use_cache"] = False
    runner = runner or FreshRunner(PoolConfig(children_dir=settings.children_dir))
    try:
        report = runner.run(src, AuditOptions(**options), settings.audit_timeout_s, settings.audit_memory_mb)
        # The submission's root, as its files' paths are relative to it: not the host's job folder.
        text = report.model_copy(update={"target": "."}).to_json()
    except (AuditTimeout, TimeoutError):
        return None, None, f"timeout: the audit ran over {settings.audit_timeout_s:.0f} s"
    except AuditorError as exc:
        return None, None, f"the audit failed: {exc}"
    except Exception as exc:           # a Ray task that died (memory, lost node) fails this audit only
        return None, None, f"the audit failed: {type(exc).__name__}"
    return judge(text)


class Workers:
    def __init__(self, store: AuditStore, settings: ApiSettings) -> None:
        self.store, self.settings = store, settings
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.results_dir = own_results_dir(settings)      # the cache retention prunes
        self.runner = None

    def start(self) -> None:
        use_own_results_cache(self.settings)     # before the workers start: they inherit it
        self.runner = make_runner(self.settings)
        self.runner.start()
        for i in range(self.settings.workers):
            t = threading.Thread(target=self._loop, name=f"audit-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._expire_loop, name="audit-expiry", daemon=True)
        t.start()
        self._threads.append(t)

    def status(self) -> dict:
        """The audit workers: how they run (isolation), how many there are and how many are warm."""
        ready = self.runner.ready() if self.runner is not None else 0
        return {"executor": self.settings.executor, "isolation": self.settings.isolation,
                "size": self.settings.workers, "ready": ready}

    def stop(self) -> None:
        self._stop.set()
        if self.runner is not None:
            self.runner.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.store.claim()
            except Exception:          # a locked or broken database: retried, never fatal
                log.exception("claiming a job failed")
                job = None
            if job is None:
                self._stop.wait(self.settings.poll_interval_s)
                continue
            try:
                result = run_job(job, self.settings, self.runner)
            except Exception as exc:
                log.exception("audit %s failed", job.id)
                result = (None, None, f"internal error: {type(exc).__name__}")
            self.store.finish(job.id, *result)

    def _expire_loop(self) -> None:
        while not self._stop.wait(60):
            self.expire_once()

    def expire_once(self) -> int:
        """Delete finished audits older than the retention period, with their files, and the
        entries of the API's own results cache written before that period."""
        from auditor.cache import ResultCache

        expired = self.store.expired(self.settings.retention_s)
        for job_id in expired:
            self.store.delete(job_id)
            shutil.rmtree(job_dir(self.settings, job_id), ignore_errors=True)
        if self.results_dir is not None:
            try:
                ResultCache(self.results_dir).prune(self.settings.retention_s)
            except OSError:
                log.exception("pruning the results cache failed")
        return len(expired)
