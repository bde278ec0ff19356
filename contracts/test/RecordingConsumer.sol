// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAuditConsumer} from "../IAuditOracle.sol";

/// @title RecordingConsumer
/// @notice TEST ONLY. Records the last callback it received and the gas it was given.
contract RecordingConsumer is IAuditConsumer {
    /// @notice Number of callbacks received.
    uint256 public calls;
    /// @notice gasleft() when the last callback started.
    uint256 public gasAtEntry;
    /// @notice Caller of the last callback.
    address public lastCaller;
    /// @notice Arguments of the last callback.
    bytes32 public lastRequestId;
    /// @notice Arguments of the last callback.
    bytes32 public lastOutputHash;
    /// @notice Arguments of the last callback.
    uint8 public lastStatus;
    /// @notice Arguments of the last callback.
    uint8 public lastHigh;
    /// @notice Arguments of the last callback.
    uint8 public lastMedium;

    /// @inheritdoc IAuditConsumer
    function onAuditResult(bytes32 requestId, bytes32 outputHash, uint8 status, uint8 high, uint8 medium) external {
        uint256 g = gasleft();
        gasAtEntry = g;
        calls += 1;
        lastCaller = msg.sender;
        lastRequestId = requestId;
        lastOutputHash = outputHash;
        lastStatus = status;
        lastHigh = high;
        lastMedium = medium;
    }
}
