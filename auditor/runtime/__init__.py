"""Running work under limits, in one place: the time and memory policy (`limits`), the process
trees that cannot outlive their server (`children`), one audit in its own process
(`isolated`), and where work runs, local processes or Ray (`executors`). Used by the file stages
of the pipeline, whole audits in the API and the oracle, and Mythril.

Nothing is imported here, so that `auditor.pipeline` can use `executors` while `isolated`
uses the pipeline."""
