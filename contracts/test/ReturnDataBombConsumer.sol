// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAuditConsumer} from "../IAuditOracle.sol";

/// @title ReturnDataBombConsumer
/// @notice TEST ONLY. Its callback returns (or reverts with) `size` bytes, to check that the oracle
/// does not copy returndata into its own memory.
contract ReturnDataBombConsumer is IAuditConsumer {
    /// @notice Bytes returned by the callback.
    uint256 public immutable size;
    /// @notice Whether the callback reverts (true) or returns (false) its payload.
    bool public immutable reverts;

    /// @param size_ Bytes returned by the callback.
    /// @param reverts_ Whether the callback reverts with them.
    constructor(uint256 size_, bool reverts_) {
        size = size_;
        reverts = reverts_;
    }

    /// @inheritdoc IAuditConsumer
    function onAuditResult(bytes32, bytes32, uint8, uint8, uint8) external view {
        uint256 n = size;
        if (reverts) {
            assembly {
                revert(0, n)
            }
        }
        assembly {
            return(0, n)
        }
    }
}
