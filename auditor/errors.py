"""Typed errors of the auditor package: one base, so callers can catch them all."""


class AuditorError(Exception):
    """Base of every error the auditor raises on purpose (bad input, missing tool, ...)."""


class SolcError(AuditorError):
    """A Solidity compiler could not be chosen, installed or run."""


class PragmaError(SolcError):
    """A `pragma solidity` constraint is malformed or cannot be satisfied."""


class SolcInstallError(SolcError):
    """A solc version could not be installed (offline, unknown version, broken package)."""


class CompileError(AuditorError):
    """The compiler rejected the sources; `message` carries its diagnostics."""


class ReviewError(AuditorError):
    """The review model could not be loaded or run (missing package, damaged model files)."""


class TargetError(AuditorError):
    """The path to audit is missing, not Solidity, or holds no Solidity sources."""


class ConfigError(AuditorError):
    """The project's SolSentry config (solsentry.toml, [tool.solsentry]) is unreadable or invalid."""
