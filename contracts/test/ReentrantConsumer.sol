// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAuditConsumer, IAuditOracle} from "../IAuditOracle.sol";

/// @title ReentrantConsumer
/// @notice TEST ONLY. From its callback it re-enters the oracle's fulfill, cancel and withdraw and
/// records what it saw, so a test can check the request was already finalized.
contract ReentrantConsumer is IAuditConsumer {
    IAuditOracle private immutable _oracle;

    IAuditOracle.AuditResult private _result;
    bytes private _signature;

    /// @notice Whether the callback ran.
    bool public called;
    /// @notice State of the request seen from inside the callback.
    IAuditOracle.RequestState public observedState;
    /// @notice Whether the re-entrant fulfill returned without reverting.
    bool public fulfillSucceeded;
    /// @notice Outcome returned by the re-entrant fulfill.
    IAuditOracle.FulfillOutcome public fulfillOutcome;
    /// @notice Revert data of the re-entrant fulfill, if it reverted.
    bytes public fulfillError;
    /// @notice Whether the re-entrant cancel succeeded.
    bool public cancelSucceeded;
    /// @notice Revert data of the re-entrant cancel.
    bytes public cancelError;
    /// @notice Whether the re-entrant withdraw succeeded.
    bool public withdrawSucceeded;
    /// @notice Revert data of the re-entrant withdraw.
    bytes public withdrawError;

    /// @param oracle The oracle to re-enter.
    constructor(IAuditOracle oracle) {
        _oracle = oracle;
    }

    /// @notice Sets the signed result the callback re-submits.
    function arm(IAuditOracle.AuditResult calldata result, bytes calldata signature) external {
        _result = result;
        _signature = signature;
    }

    /// @inheritdoc IAuditConsumer
    function onAuditResult(bytes32 requestId, bytes32, uint8, uint8, uint8) external {
        called = true;
        observedState = _oracle.getRequest(requestId).state;
        try _oracle.fulfill(_result, _signature) returns (IAuditOracle.FulfillOutcome outcome) {
            fulfillSucceeded = true;
            fulfillOutcome = outcome;
        } catch (bytes memory reason) {
            fulfillError = reason;
        }
        try _oracle.cancel(requestId) {
            cancelSucceeded = true;
        } catch (bytes memory reason) {
            cancelError = reason;
        }
        try _oracle.withdraw() {
            withdrawSucceeded = true;
        } catch (bytes memory reason) {
            withdrawError = reason;
        }
    }
}
