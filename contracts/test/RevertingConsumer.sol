// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAuditConsumer} from "../IAuditOracle.sol";

/// @title RevertingConsumer
/// @notice TEST ONLY. Always reverts in its callback.
contract RevertingConsumer is IAuditConsumer {
    /// @notice The revert of every callback.
    error RevertingConsumer__Nope(bytes32 requestId);

    /// @inheritdoc IAuditConsumer
    function onAuditResult(bytes32 requestId, bytes32, uint8, uint8, uint8) external pure {
        revert RevertingConsumer__Nope(requestId);
    }
}
