"""SolSentry auditor: compile, analyze (Slither, Mythril), normalize, review, report."""

__version__ = "0.1.0"
