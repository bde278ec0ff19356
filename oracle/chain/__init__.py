"""Talking to the chain: contract bindings, the EIP-712 signer, the local Hardhat node."""
