// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IAuditOracle
/// @notice Audit requests answered off chain by SolSentry oracle nodes. Only hashes and a few
/// numbers go on chain: the full report stays off chain and is checked against `outputHash`.
/// @dev Results are EIP-712 typed data signed by registered signers; a request is final once
/// `threshold` distinct signers have signed the same result. See docs/oracle-protocol.md.
interface IAuditOracle {
    /// @notice Life of a request.
    enum RequestState {
        None,
        Open,
        Finalized,
        Cancelled
    }

    /// @notice How a call to `fulfill` ended (late duplicates return a status instead of reverting,
    /// so one stale item cannot revert a relayer's batch).
    enum FulfillOutcome {
        Finalized,
        Recorded,
        AlreadyFinalized,
        NotOpen,
        DuplicateSigner
    }

    /// @notice The signed answer to a request. `status` is a ResultStatus code (0 = audited;
    /// others answer inputs that could not be audited, see docs/oracle-protocol.md).
    /// `high` and `medium` count findings by severity, saturating at 255.
    struct AuditResult {
        bytes32 requestId;
        bytes32 outputHash;
        bytes32 modelHash;
        uint8 status;
        uint8 high;
        uint8 medium;
    }

    /// @notice One item of a batch.
    struct Fulfillment {
        AuditResult result;
        bytes signature;
    }

    /// @notice What the contract stores about a request.
    struct RequestView {
        RequestState state;
        address requester;
        uint96 fee;
        address callback;
        uint32 callbackGasLimit;
        uint32 deadline;
        bytes32 outputHash;
        uint8 status;
        uint8 high;
        uint8 medium;
        bool callbackFailed;
    }

    /// @notice Emitted when sources (by hash and URI, or inline) are submitted for audit.
    event AuditRequested(
        bytes32 indexed requestId,
        address indexed requester,
        bytes32 inputHash,
        string inputUri,
        bytes inlineInput,
        address callback,
        uint32 callbackGasLimit,
        uint32 deadline,
        uint256 fee
    );
    /// @notice Emitted when the code deployed at `target` is submitted for audit.
    event CodeAuditRequested(
        bytes32 indexed requestId,
        address indexed requester,
        address indexed target,
        bytes32 codeHash,
        address callback,
        uint32 callbackGasLimit,
        uint32 deadline,
        uint256 fee
    );
    /// @notice Emitted when a signer's result was recorded toward the quorum (threshold > 1).
    event ResultProposed(bytes32 indexed requestId, address indexed signer, bytes32 resultDigest, uint256 votes);
    /// @notice Emitted when a request was finalized with its result.
    event AuditFinalized(
        bytes32 indexed requestId, bytes32 outputHash, bytes32 modelHash, uint8 status, uint8 high, uint8 medium
    );
    /// @notice Emitted when a fulfilment was ignored (late duplicate, closed request, repeated signer).
    event FulfillmentIgnored(bytes32 indexed requestId, address indexed signer, FulfillOutcome outcome);
    /// @notice Emitted when the consumer callback reverted or ran out of gas; the result stands.
    event CallbackFailed(bytes32 indexed requestId, address indexed callback);
    /// @notice Emitted when a request past its deadline was cancelled and its fee refunded.
    event RequestCancelled(bytes32 indexed requestId, address indexed requester, uint256 refund);
    /// @notice Emitted when an account withdrew its credited fees.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice Emitted when a signer was added.
    event SignerAdded(address indexed signer);
    /// @notice Emitted when a signer was removed.
    event SignerRemoved(address indexed signer);
    /// @notice Emitted when the quorum threshold changed.
    event ThresholdChanged(uint256 threshold);
    /// @notice Emitted when the request fee changed.
    event FeeChanged(uint256 fee);

    /// @notice Asks for an audit of sources committed to by `inputHash` (keccak256 of the input
    /// bytes), fetched from `inputUri`, or carried in `inlineInput` when small.
    /// @param inputHash keccak256 of the input (a zip or a JSON {"files": {...}}, see the protocol doc).
    /// @param inputUri Where nodes fetch the input (ignored when `inlineInput` is given).
    /// @param inlineInput The input itself (at most MAX_INLINE_INPUT bytes), or empty.
    /// @param callback Contract to call with the result (IAuditConsumer), or the zero address.
    /// @param callbackGasLimit Gas for the callback (at most MAX_CALLBACK_GAS).
    /// @param deadline Unix time after which the requester may cancel for a refund.
    /// @return requestId keccak256(chain id, this contract, requester, nonce).
    function requestAudit(
        bytes32 inputHash,
        string calldata inputUri,
        bytes calldata inlineInput,
        address callback,
        uint32 callbackGasLimit,
        uint32 deadline
    ) external payable returns (bytes32 requestId);

    /// @notice Asks for an audit of the runtime code deployed at `target` (committed by its code hash).
    /// @return requestId As for requestAudit.
    function requestCodeAudit(address target, address callback, uint32 callbackGasLimit, uint32 deadline)
        external
        payable
        returns (bytes32 requestId);

    /// @notice Submits a signed result; anyone may relay it.
    /// @return outcome Finalized, Recorded (toward the quorum), or why it was ignored.
    function fulfill(AuditResult calldata result, bytes calldata signature) external returns (FulfillOutcome outcome);

    /// @notice Submits several signed results; ignored items do not revert the batch.
    function fulfillBatch(Fulfillment[] calldata items) external returns (FulfillOutcome[] memory outcomes);

    /// @notice Cancels an open request after its deadline and refunds its fee to the requester.
    function cancel(bytes32 requestId) external;

    /// @notice Sends the caller the fees credited to it.
    function withdraw() external;

    /// @notice Whether `output` is the report recorded for a finalized request.
    function verify(bytes32 requestId, bytes calldata output) external view returns (bool);

    /// @notice The EIP-712 digest a signer signs for `result`.
    function resultDigest(AuditResult calldata result) external view returns (bytes32);

    /// @notice The stored state of a request.
    function getRequest(bytes32 requestId) external view returns (RequestView memory);

    /// @notice How many active signers signed the result with EIP-712 digest `digest` for a request.
    function votesFor(bytes32 requestId, bytes32 digest) external view returns (uint256);

    /// @notice Fees credited to `account` and not yet withdrawn.
    function creditOf(address account) external view returns (uint256);

    /// @notice The active signers.
    function signers() external view returns (address[] memory);

    /// @notice Signatures needed to finalize a result.
    function threshold() external view returns (uint256);

    /// @notice Fee required by requestAudit and requestCodeAudit, in wei.
    function fee() external view returns (uint256);
}

/// @title IAuditConsumer
/// @notice Implemented by contracts that want the result pushed to them. Called last, with the
/// gas the requester asked for; a revert is recorded and does not undo the result.
interface IAuditConsumer {
    /// @notice Receives a finalized result.
    function onAuditResult(bytes32 requestId, bytes32 outputHash, uint8 status, uint8 high, uint8 medium) external;
}
