"""Typed errors of the oracle package: one base, so callers can catch them all."""


class OracleError(Exception):
    """Base of every error the oracle raises on purpose."""


class ChainError(OracleError):
    """The local chain (Hardhat node) or an RPC endpoint misbehaved or is missing."""


class ArtifactError(OracleError):
    """Contract artifacts are missing or do not match the expected interface."""


class SignerError(OracleError):
    """A key or signature problem (never includes key material in the message)."""
