// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAuditConsumer} from "../IAuditOracle.sol";

/// @title GasBurningConsumer
/// @notice TEST ONLY. Its callback loops until it runs out of gas.
contract GasBurningConsumer is IAuditConsumer {
    /// @notice Written in the loop, so the loop is not optimized away.
    uint256 public sink;

    /// @inheritdoc IAuditConsumer
    function onAuditResult(bytes32, bytes32, uint8, uint8, uint8) external {
        for (uint256 i = 0; ; ++i) {
            sink = i;
        }
    }
}
