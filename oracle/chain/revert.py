"""Revert decoding: the reason of a failed `eth_call` / gas estimate, as a `SimulationError`
naming the custom error (from the contract's ABI), `Error(string)` or `Panic(uint256)`."""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_abi_to_4byte_selector
from web3.exceptions import ContractLogicError

from oracle.chain.errors import SimulationError

_ERROR_STRING = bytes.fromhex("08c379a0")
_PANIC = bytes.fromhex("4e487b71")


def revert_data(exc: ContractLogicError) -> str | None:
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    return data if isinstance(data, str) and data.startswith("0x") else None


def decode_revert(exc: ContractLogicError, abi: list[dict]) -> SimulationError:
    data_hex = revert_data(exc)
    data = bytes.fromhex(data_hex[2:]) if data_hex else b""
    selector, body = data[:4], data[4:]
    try:
        if selector == _ERROR_STRING:
            (reason,) = abi_decode(["string"], body)
            return SimulationError(f"simulation reverted: {reason}", error_name="Error", error_args=(reason,),
                                   data=data_hex)
        if selector == _PANIC:
            (code,) = abi_decode(["uint256"], body)
            return SimulationError(f"simulation reverted: Panic(0x{code:02x})", error_name="Panic",
                                   error_args=(code,), data=data_hex)
        for item in abi:
            if item.get("type") == "error" and function_abi_to_4byte_selector(item) == selector:
                types = [_abi_type(i) for i in item.get("inputs", [])]
                values = abi_decode(types, body)
                shown = ", ".join(f"{i.get('name') or '_'}={_show(v)}" for i, v in zip(item["inputs"], values,
                                                                                         strict=True))
                return SimulationError(f"simulation reverted: {item['name']}({shown})", error_name=item["name"],
                                       error_args=tuple(values), data=data_hex)
    except Exception:  # undecodable data: fall back to the node's message
        pass
    message = str(exc.message or exc).removeprefix("execution reverted: ")
    return SimulationError(f"simulation reverted: {message or 'no reason given'}", data=data_hex)


def _abi_type(param: dict) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + param["type"][5:]
    return param["type"]


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


__all__ = ["decode_revert", "revert_data"]
