// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAuditOracle} from "../IAuditOracle.sol";

/// @title RejectingRequester
/// @notice TEST ONLY. Requests audits and cancels them, but rejects any ether sent to it, so refunds
/// (and withdrawals, when its code is put at a signer's address) fail.
contract RejectingRequester {
    /// @notice Always thrown on receiving ether.
    error RejectingRequester__NoEther();

    /// @notice Opens a request on `oracle`, paying `msg.value`.
    function request(IAuditOracle oracle, bytes32 inputHash, string calldata uri, uint32 deadline)
        external
        payable
        returns (bytes32)
    {
        return oracle.requestAudit{value: msg.value}(inputHash, uri, "", address(0), 0, deadline);
    }

    /// @notice Cancels a request it opened.
    function cancel(IAuditOracle oracle, bytes32 requestId) external {
        oracle.cancel(requestId);
    }

    /// @notice Withdraws credit (used when this code sits at a signer's address).
    function withdraw(IAuditOracle oracle) external {
        oracle.withdraw();
    }

    receive() external payable {
        revert RejectingRequester__NoEther();
    }
}
