// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAuditConsumer, IAuditOracle} from "../IAuditOracle.sol";

/// @title AuditedRegistry
/// @notice Example consumer of the SolSentry AuditOracle: a list of deployed contracts that passed
/// an audit. Anyone may ask (and pay) for an audit of a deployed contract through this registry; the
/// oracle calls back with the result, and the contract is listed as audited only when the audit
/// completed (status 0) with no high-severity finding. A listing is tied to the audited code hash.
/// @dev The registry is the requester of the oracle requests it makes, so it also handles the
/// refund of a request cancelled after its deadline (forwarded to whoever paid for it).
contract AuditedRegistry is IAuditConsumer {
    /// @notice Gas the oracle gives `onAuditResult` (it writes a few fresh storage slots).
    uint32 public constant CALLBACK_GAS_LIMIT = 200_000;

    /// @notice How long a request may stay unanswered before its payer can cancel it.
    uint32 public constant REQUEST_TTL = 7 days;

    /// @notice The oracle this registry trusts (the only accepted caller of `onAuditResult`).
    IAuditOracle public immutable oracle;

    /// @notice A request this registry made and that was not answered yet.
    struct Pending {
        address target;
        address payer;
        bytes32 codeHash;
    }

    /// @notice The latest audit result recorded for a contract.
    struct Record {
        bytes32 codeHash;
        bytes32 outputHash;
        bytes32 requestId;
        uint8 status;
        uint8 high;
        uint8 medium;
        bool passed;
        uint64 recordedAt;
    }

    mapping(bytes32 requestId => Pending) private _pending;
    mapping(address target => Record) private _records;

    /// @notice Emitted when an audit of `target` was requested from the oracle.
    event AuditRequested(bytes32 indexed requestId, address indexed target, address indexed payer, bytes32 codeHash);
    /// @notice Emitted when the oracle delivered a result for `target`.
    event AuditRecorded(
        bytes32 indexed requestId, address indexed target, bool passed, uint8 status, uint8 high, uint8 medium
    );
    /// @notice Emitted when an unanswered request was cancelled and its refund forwarded to `payer`.
    event AuditRequestCancelled(bytes32 indexed requestId, address indexed payer, uint256 refund);

    /// @notice Only the oracle may deliver results or send ether.
    error AuditedRegistry__OnlyOracle(address caller);
    /// @notice The request was not made by this registry or was already settled.
    error AuditedRegistry__UnknownRequest(bytes32 requestId);
    /// @notice Only the account that paid for a request may cancel it.
    error AuditedRegistry__NotPayer(bytes32 requestId, address caller, address payer);
    /// @notice Forwarding a refund failed.
    error AuditedRegistry__RefundFailed(address payer, uint256 amount);

    /// @param oracle_ The SolSentry AuditOracle to use.
    constructor(IAuditOracle oracle_) {
        oracle = oracle_;
    }

    /// @notice Requests an audit of the code deployed at `target`; send the oracle's `fee()`.
    /// @return requestId The oracle's request id.
    function requestAudit(address target) external payable returns (bytes32 requestId) {
        // The id is only known from the oracle's answer, so the bookkeeping follows the call. The
        // oracle is trusted (immutable) and calls back only in a later transaction.
        // slither-disable-next-line reentrancy-benign,reentrancy-events
        requestId = oracle.requestCodeAudit{value: msg.value}(
            target, address(this), CALLBACK_GAS_LIMIT, uint32(block.timestamp) + REQUEST_TTL
        );
        bytes32 codeHash = target.codehash;
        _pending[requestId] = Pending({target: target, payer: msg.sender, codeHash: codeHash});
        emit AuditRequested(requestId, target, msg.sender, codeHash);
    }

    /// @inheritdoc IAuditConsumer
    /// @dev Only the oracle may call. A failed audit (status != 0) or one with high findings is
    /// recorded but does not list the contract; the latest result replaces any earlier one.
    function onAuditResult(bytes32 requestId, bytes32 outputHash, uint8 status, uint8 high, uint8 medium) external {
        if (msg.sender != address(oracle)) revert AuditedRegistry__OnlyOracle(msg.sender);
        Pending memory p = _pending[requestId];
        if (p.target == address(0)) revert AuditedRegistry__UnknownRequest(requestId);
        delete _pending[requestId];
        bool passed = status == 0 && high == 0;
        _records[p.target] = Record({
            codeHash: p.codeHash,
            outputHash: outputHash,
            requestId: requestId,
            status: status,
            high: high,
            medium: medium,
            passed: passed,
            recordedAt: uint64(block.timestamp)
        });
        emit AuditRecorded(requestId, p.target, passed, status, high, medium);
    }

    /// @notice Cancels an unanswered request past its deadline and forwards the refund to its payer.
    function cancel(bytes32 requestId) external {
        Pending memory p = _pending[requestId];
        if (p.target == address(0)) revert AuditedRegistry__UnknownRequest(requestId);
        if (p.payer != msg.sender) revert AuditedRegistry__NotPayer(requestId, msg.sender, p.payer);
        delete _pending[requestId];
        uint256 balanceBefore = address(this).balance;
        // The refund is measured, not assumed; the event follows it. The oracle is trusted.
        // slither-disable-next-line reentrancy-events
        oracle.cancel(requestId);
        uint256 refund = address(this).balance - balanceBefore;
        emit AuditRequestCancelled(requestId, msg.sender, refund);
        if (refund != 0) {
            (bool ok,) = msg.sender.call{value: refund}("");
            if (!ok) revert AuditedRegistry__RefundFailed(msg.sender, refund);
        }
    }

    /// @notice Whether `target` passed its latest audit and still has the code that was audited.
    function isAudited(address target) external view returns (bool) {
        Record storage r = _records[target];
        return r.passed && r.codeHash == target.codehash;
    }

    /// @notice The latest audit result recorded for `target` (all zero if none).
    function recordOf(address target) external view returns (Record memory) {
        return _records[target];
    }

    /// @notice The unanswered request `requestId` (all zero if none).
    function pendingRequest(bytes32 requestId) external view returns (Pending memory) {
        return _pending[requestId];
    }

    /// @notice Accepts refunds from the oracle only.
    receive() external payable {
        if (msg.sender != address(oracle)) revert AuditedRegistry__OnlyOracle(msg.sender);
    }
}
