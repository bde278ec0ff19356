// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IAuditConsumer, IAuditOracle} from "./IAuditOracle.sol";

/// @title AuditOracle
/// @notice On-chain half of the SolSentry audit oracle. Requesters pay a fee and commit to their
/// sources (by hash); registered signers answer with EIP-712 signed results; a result is final once
/// `threshold` distinct active signers signed the same one. The fee is then credited to those signers
/// (pull payment) and the requester's consumer contract, if any, is called last.
/// @dev Storage layout is tuned for gas (see the comments on {Request}, {Config} and {SignerInfo}):
/// a request lives in exactly two slots, both written when it is opened and overwritten (never
/// zero -> nonzero) when it is finalized.
contract AuditOracle is IAuditOracle, EIP712, Ownable2Step, Pausable {
    // ---------------------------------------------------------------------------------------------
    // Constants
    // ---------------------------------------------------------------------------------------------

    /// @notice EIP-712 type hash of {IAuditOracle-AuditResult}.
    bytes32 public constant AUDIT_RESULT_TYPEHASH = keccak256(
        "AuditResult(bytes32 requestId,bytes32 outputHash,bytes32 modelHash,uint8 status,uint8 high,uint8 medium)"
    );

    /// @notice Latest deadline a request may set, counted from the time of the request.
    uint256 public constant MAX_DEADLINE = 30 days;

    /// @notice Most gas a request may ask for its consumer callback.
    /// @dev Must fit the uint24 `callbackGasLimit` field of {Request}.
    uint32 public constant MAX_CALLBACK_GAS = 500_000;

    /// @notice Largest `inlineInput` accepted by {requestAudit}, in bytes.
    uint256 public constant MAX_INLINE_INPUT = 8 * 1024;

    /// @notice How many signers can ever be added (signer indices are never reused: a vote is a bit
    /// of a 256-bit map indexed by signer index).
    uint256 public constant MAX_SIGNER_INDICES = 256;

    /// @notice Gas that must be left, on top of `callbackGasLimit + callbackGasLimit / 63`, right
    /// before the consumer is called. It pays for the CALL itself (cold account access) and for
    /// recording a failed callback afterwards, so the callee really gets `callbackGasLimit` and a
    /// callback that burns all its gas cannot make the fulfilment run out of gas.
    uint256 public constant CALLBACK_GAS_RESERVE = 10_000;

    // ---------------------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------------------

    /// @dev One request = exactly two storage slots, both written at request time.
    ///
    /// Slot A (`packed`), from the least significant bit: callback (160 bits), callbackGasLimit (24
    /// bits: MAX_CALLBACK_GAS < 2**24), deadline (32), state (8), callbackFailed (8), status (8),
    /// high (8), medium (8). It is packed by hand so that finalizing reads and writes it once.
    ///
    /// Slot B (`data`): while the request is Open or Cancelled it holds `requester | fee << 160`.
    /// When the request is finalized it is OVERWRITTEN with the result's `outputHash`. Requester and
    /// fee are not needed any more at that point (the fee has just been credited to the signers and a
    /// finalized request can no longer be cancelled), they remain in the AuditRequested /
    /// CodeAuditRequested events, and overwriting a nonzero slot (2,900 gas) is much cheaper than
    /// writing a third, fresh one (22,100 gas). `getRequest` decodes slot B according to `state`.
    struct Request {
        uint256 packed;
        bytes32 data;
    }

    uint256 private constant _GAS_LIMIT_SHIFT = 160;
    uint256 private constant _DEADLINE_SHIFT = 184;
    uint256 private constant _STATE_SHIFT = 216;
    uint256 private constant _FAILED_SHIFT = 224;
    uint256 private constant _STATUS_SHIFT = 232;
    uint256 private constant _HIGH_SHIFT = 240;
    uint256 private constant _MEDIUM_SHIFT = 248;
    uint256 private constant _NONE = uint256(uint8(RequestState.None));
    uint256 private constant _OPEN = uint256(uint8(RequestState.Open));
    uint256 private constant _FINALIZED = uint256(uint8(RequestState.Finalized));
    uint256 private constant _CANCELLED = uint256(uint8(RequestState.Cancelled));
    /// @dev Slot A bits kept when a request is finalized: callback, callbackGasLimit, deadline.
    uint256 private constant _KEEP_ON_FINALIZE = (uint256(1) << _STATE_SHIFT) - 1;

    /// @dev Owner-managed configuration and the request nonce, packed in ONE slot (208 bits) so a
    /// request reads and writes a single config slot and a fulfilment reads it once.
    struct Config {
        uint96 fee;
        uint64 nonce;
        uint16 threshold;
        uint16 signerCount;
        uint16 nextIndex;
    }

    /// @dev `active` keeps the slot nonzero for as long as the signer is registered, so crediting a
    /// fee to an active signer never writes a zero slot (2,900 instead of 22,100 gas), even right
    /// after a withdrawal. `credit` survives removal: a removed signer can still withdraw.
    /// `threshold` is a copy of `_config.threshold`, kept up to date in the slot of every ACTIVE
    /// signer (by {_addSigner} and {_setThreshold}), so that a fulfilment, which must read the
    /// signer's slot anyway, reads no config slot at all (one cold SLOAD, 2,100 gas, less on the hot
    /// path). The price is paid by the owner: setThreshold rewrites one slot per active signer.
    struct SignerInfo {
        bool active;
        uint8 index;
        uint16 threshold;
        uint128 credit;
    }

    Config private _config;
    /// @dev Bit i set <=> the signer with index i is active.
    uint256 private _activeMask;
    mapping(uint256 index => address signer) private _signerAt;
    mapping(address signer => SignerInfo) private _signerInfo;
    mapping(bytes32 requestId => Request) private _requests;
    /// @dev Signer indices that voted (for any digest) on a request; threshold > 1 only.
    mapping(bytes32 requestId => uint256 bitmap) private _voters;
    /// @dev Signer indices that voted for one result digest of a request; threshold > 1 only.
    mapping(bytes32 requestId => mapping(bytes32 digest => uint256 bitmap)) private _votes;

    // ---------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------

    /// @notice The signature is malformed (length, high s, bad v) or recovers no address.
    error AuditOracle__InvalidSignature();
    /// @notice The signature recovers `recovered`, which is not an active signer.
    error AuditOracle__UnauthorizedSigner(address recovered);
    /// @notice No request with this id was ever created.
    error AuditOracle__UnknownRequest(bytes32 requestId);
    /// @notice The request is not Open.
    error AuditOracle__NotOpen(bytes32 requestId, RequestState state);
    /// @notice Only the requester may cancel a request.
    error AuditOracle__NotRequester(bytes32 requestId, address caller, address requester);
    /// @notice A request can only be cancelled after its deadline.
    error AuditOracle__DeadlineNotReached(bytes32 requestId, uint32 deadline);
    /// @notice `msg.value` is below the fee.
    error AuditOracle__InsufficientFee(uint256 paid, uint256 required);
    /// @notice A fee or payment does not fit in 96 bits.
    error AuditOracle__FeeTooLarge(uint256 amount, uint256 max);
    /// @notice The deadline is not in (`earliest` - 1, `latest`].
    error AuditOracle__InvalidDeadline(uint32 deadline, uint256 earliest, uint256 latest);
    /// @notice The callback gas limit is above MAX_CALLBACK_GAS.
    error AuditOracle__CallbackGasLimitTooHigh(uint32 callbackGasLimit, uint256 max);
    /// @notice The callback address has no code.
    error AuditOracle__CallbackNotContract(address callback);
    /// @notice The code audit target has no code.
    error AuditOracle__TargetNotContract(address target);
    /// @notice `inlineInput` is longer than MAX_INLINE_INPUT.
    error AuditOracle__InlineInputTooLarge(uint256 length, uint256 max);
    /// @notice keccak256(inlineInput) differs from `inputHash`.
    error AuditOracle__InputHashMismatch(bytes32 inputHash, bytes32 computed);
    /// @notice Neither an input URI nor inline input was given.
    error AuditOracle__EmptyInput();
    /// @notice Not enough gas left to give the consumer its full `callbackGasLimit`.
    error AuditOracle__InsufficientGasForCallback(uint256 available, uint256 required);
    /// @notice Sending ether to `to` failed.
    error AuditOracle__TransferFailed(address to, uint256 amount);
    /// @notice `account` has no credit to withdraw.
    error AuditOracle__NothingToWithdraw(address account);
    /// @notice The threshold must be between 1 and the number of active signers.
    error AuditOracle__InvalidThreshold(uint256 threshold, uint256 signers);
    /// @notice The zero address cannot be a signer.
    error AuditOracle__InvalidSigner(address signer);
    /// @notice `signer` is already an active signer.
    error AuditOracle__SignerAlreadyActive(address signer);
    /// @notice `signer` is not an active signer.
    error AuditOracle__SignerNotActive(address signer);
    /// @notice All MAX_SIGNER_INDICES signer indices were used.
    error AuditOracle__SignerIndicesExhausted(uint256 max);

    // ---------------------------------------------------------------------------------------------
    // Construction
    // ---------------------------------------------------------------------------------------------

    /// @notice Deploys the oracle.
    /// @param initialOwner Owner (manages signers, threshold, fee and pause; two-step transfer).
    /// @param initialSigners Initial active signers (at least `initialThreshold` of them).
    /// @param initialThreshold Signatures needed to finalize a result (1..signers).
    /// @param initialFee Fee per request, in wei (at most 2**96 - 1).
    constructor(address initialOwner, address[] memory initialSigners, uint256 initialThreshold, uint256 initialFee)
        EIP712("SolSentry AuditOracle", "1")
        Ownable(initialOwner)
    {
        // The nonce starts at 1: no request id is ever derived from nonce 0, and the first request
        // updates a nonzero nonce like every later one (nonzero -> nonzero).
        _config.nonce = 1;
        for (uint256 i = 0; i < initialSigners.length; ++i) {
            _addSigner(initialSigners[i]);
        }
        _setThreshold(initialThreshold);
        _setFee(initialFee);
    }

    // ---------------------------------------------------------------------------------------------
    // Requests
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IAuditOracle
    function requestAudit(
        bytes32 inputHash,
        string calldata inputUri,
        bytes calldata inlineInput,
        address callback,
        uint32 callbackGasLimit,
        uint32 deadline
    ) external payable whenNotPaused returns (bytes32 requestId) {
        uint256 inlineLength = inlineInput.length;
        if (inlineLength != 0) {
            if (inlineLength > MAX_INLINE_INPUT) revert AuditOracle__InlineInputTooLarge(inlineLength, MAX_INLINE_INPUT);
            bytes32 computed = keccak256(inlineInput);
            if (computed != inputHash) revert AuditOracle__InputHashMismatch(inputHash, computed);
        } else if (bytes(inputUri).length == 0) {
            revert AuditOracle__EmptyInput();
        }
        requestId = _openRequest(callback, callbackGasLimit, deadline);
        emit AuditRequested(
            requestId, msg.sender, inputHash, inputUri, inlineInput, callback, callbackGasLimit, deadline, msg.value
        );
    }

    /// @inheritdoc IAuditOracle
    /// @dev The commitment is `target.codehash` at the time of the request.
    function requestCodeAudit(address target, address callback, uint32 callbackGasLimit, uint32 deadline)
        external
        payable
        whenNotPaused
        returns (bytes32 requestId)
    {
        if (target.code.length == 0) revert AuditOracle__TargetNotContract(target);
        requestId = _openRequest(callback, callbackGasLimit, deadline);
        emit CodeAuditRequested(
            requestId, msg.sender, target, target.codehash, callback, callbackGasLimit, deadline, msg.value
        );
    }

    /// @dev Validates the common request parameters, derives the id and writes the two request slots.
    function _openRequest(address callback, uint32 callbackGasLimit, uint32 deadline)
        private
        returns (bytes32 requestId)
    {
        Config memory cfg = _config;
        if (msg.value < cfg.fee) revert AuditOracle__InsufficientFee(msg.value, cfg.fee);
        if (msg.value > type(uint96).max) revert AuditOracle__FeeTooLarge(msg.value, type(uint96).max);
        // Deadlines are compared with block.timestamp on purpose: they are days away, and a validator
        // shifting the timestamp by seconds changes nothing of substance.
        // slither-disable-next-line timestamp
        if (deadline <= block.timestamp || deadline > block.timestamp + MAX_DEADLINE) {
            revert AuditOracle__InvalidDeadline(deadline, block.timestamp + 1, block.timestamp + MAX_DEADLINE);
        }
        if (callbackGasLimit > MAX_CALLBACK_GAS) {
            revert AuditOracle__CallbackGasLimitTooHigh(callbackGasLimit, MAX_CALLBACK_GAS);
        }
        if (callback != address(0) && callback.code.length == 0) revert AuditOracle__CallbackNotContract(callback);

        uint64 nonce = cfg.nonce;
        requestId = keccak256(abi.encode(block.chainid, address(this), msg.sender, nonce));
        _config.nonce = nonce + 1;
        _requests[requestId] = Request({
            packed: uint256(uint160(callback)) | (uint256(callbackGasLimit) << _GAS_LIMIT_SHIFT)
                | (uint256(deadline) << _DEADLINE_SHIFT) | (_OPEN << _STATE_SHIFT),
            data: _packRequester(msg.sender, uint96(msg.value))
        });
    }

    // ---------------------------------------------------------------------------------------------
    // Fulfilment
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IAuditOracle
    /// @dev Reverts for relayer errors (unknown request, bad signature, unauthorized signer, too
    /// little gas for the callback); returns an outcome and emits FulfillmentIgnored for stale items
    /// (request already finalized or cancelled, signer already voted).
    function fulfill(AuditResult calldata result, bytes calldata signature) external returns (FulfillOutcome outcome) {
        return _fulfill(result, signature);
    }

    /// @inheritdoc IAuditOracle
    /// @dev Items are processed in order; each one behaves as {fulfill}.
    function fulfillBatch(Fulfillment[] calldata items) external returns (FulfillOutcome[] memory outcomes) {
        uint256 n = items.length;
        outcomes = new FulfillOutcome[](n);
        for (uint256 i = 0; i < n; ++i) {
            outcomes[i] = _fulfill(items[i].result, items[i].signature);
        }
    }

    /// @dev Checks the signature against the request's stored commitment (its two slots: it must
    /// exist and be Open) and consumes it on finalization (state -> Finalized, exactly once).
    function _fulfill(AuditResult calldata result, bytes calldata signature) private returns (FulfillOutcome) {
        bytes32 requestId = result.requestId;
        Request storage req = _requests[requestId];
        uint256 packed = req.packed;
        uint256 state = uint8(packed >> _STATE_SHIFT);
        if (state == _NONE) revert AuditOracle__UnknownRequest(requestId);

        bytes32 digest = _resultDigest(result);
        // The third value (the bad length or s) is dropped on purpose: every malformed signature gets
        // the same argument-less error, and `err` alone decides.
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError) revert AuditOracle__InvalidSignature();
        SignerInfo storage info = _signerInfo[signer];
        if (!info.active) revert AuditOracle__UnauthorizedSigner(signer);

        if (state != _OPEN) {
            FulfillOutcome ignored = state == _FINALIZED ? FulfillOutcome.AlreadyFinalized : FulfillOutcome.NotOpen;
            emit FulfillmentIgnored(requestId, signer, ignored);
            return ignored;
        }

        if (info.threshold == 1) {
            // Fast path (info.threshold == _config.threshold, see {SignerInfo}): one signature
            // finalizes, nothing to count, no vote is stored, the whole fee goes to the signer.
            uint256 paid = _finalize(req, packed, result);
            if (paid != 0) {
                // Cannot overflow: `paid` < 2**96 and all the ether there is is far below 2**128 wei.
                unchecked {
                    info.credit += uint128(paid);
                }
            }
            _emitAndCallBack(req, packed, result);
            return FulfillOutcome.Finalized;
        }
        return _vote(req, packed, result, digest, signer, info);
    }
    /// @dev Quorum path (threshold > 1): records the signer's vote for `digest` and finalizes once
    /// `threshold` distinct active signers voted for it. A signer votes once per request; its repeated
    /// signature is ignored, unless it is for the very result it voted for and that result has met a
    /// (since lowered) threshold meanwhile: then it finalizes, so such a request cannot get stuck.
    function _vote(
        Request storage req,
        uint256 packed,
        AuditResult calldata result,
        bytes32 digest,
        address signer,
        SignerInfo storage info
    ) private returns (FulfillOutcome) {
        bytes32 requestId = result.requestId;
        uint256 bit = uint256(1) << info.index;
        uint256 voters = _voters[requestId];
        uint256 winners;
        if (voters & bit != 0) {
            winners = _votes[requestId][digest] & _activeMask;
            if (winners & bit == 0 || _popcount(winners) < info.threshold) {
                emit FulfillmentIgnored(requestId, signer, FulfillOutcome.DuplicateSigner);
                return FulfillOutcome.DuplicateSigner;
            }
        } else {
            _voters[requestId] = voters | bit;
            uint256 digestVotes = _votes[requestId][digest] | bit;
            _votes[requestId][digest] = digestVotes;
            winners = digestVotes & _activeMask;
            uint256 count = _popcount(winners);
            emit ResultProposed(requestId, signer, digest, count);
            if (count < info.threshold) return FulfillOutcome.Recorded;
        }
        uint256 paid = _finalize(req, packed, result);
        if (paid != 0) _creditWinners(winners, paid, signer);
        _emitAndCallBack(req, packed, result);
        return FulfillOutcome.Finalized;
    }

    /// @dev Effects of finalization: one write per request slot. Slot B (`data`) now holds the output
    /// hash (see {Request}). Returns the fee the request carried, for the caller to credit.
    function _finalize(Request storage req, uint256 packed, AuditResult calldata result)
        private
        returns (uint256 paid)
    {
        paid = uint256(req.data) >> 160;
        req.packed = (packed & _KEEP_ON_FINALIZE) | (_FINALIZED << _STATE_SHIFT)
            | (uint256(result.status) << _STATUS_SHIFT) | (uint256(result.high) << _HIGH_SHIFT)
            | (uint256(result.medium) << _MEDIUM_SHIFT);
        req.data = result.outputHash;
    }

    /// @dev Emits AuditFinalized (after the state changes and fee credits), then calls the consumer,
    /// last. A failed callback is recorded; it never reverts the fulfilment.
    function _emitAndCallBack(Request storage req, uint256 packed, AuditResult calldata result) private {
        bytes32 requestId = result.requestId;
        emit AuditFinalized(requestId, result.outputHash, result.modelHash, result.status, result.high, result.medium);
        address callback = address(uint160(packed));
        if (callback == address(0)) return;
        if (!_callConsumer(callback, uint24(packed >> _GAS_LIMIT_SHIFT), result)) {
            // Written after the call on purpose: it records the callback's outcome. A re-entrant call
            // during the callback found this request Finalized already and could not touch it.
            req.packed |= uint256(1) << _FAILED_SHIFT;
            emit CallbackFailed(requestId, callback);
        }
    }

    /// @dev Splits `total` evenly between the signers in `winners`; the remainder goes to `finalizer`
    /// (one of them).
    function _creditWinners(uint256 winners, uint256 total, address finalizer) private {
        uint256 count = _popcount(winners);
        uint256 share = total / count;
        uint256 remainder = total % count;
        while (winners != 0) {
            uint256 lowest;
            unchecked {
                lowest = winners & (0 - winners);
            }
            winners ^= lowest;
            address signer = _signerAt[Math.log2(lowest)];
            uint256 amount = signer == finalizer ? share + remainder : share;
            _signerInfo[signer].credit += uint128(amount);
        }
    }

    /// @dev Calls `callback.onAuditResult(...)` with exactly `gasLimit` gas, without copying any
    /// returndata (a consumer returning or reverting with megabytes costs the caller nothing).
    /// Reverts when less than `gasLimit + gasLimit / 63 + CALLBACK_GAS_RESERVE` is left right before
    /// the call, so a relayer cannot make the callback fail by under-supplying gas (EIP-150 passes
    /// at most 63/64 of what is left to the callee).
    function _callConsumer(address callback, uint256 gasLimit, AuditResult calldata result)
        private
        returns (bool success)
    {
        bytes memory payload = abi.encodeCall(
            IAuditConsumer.onAuditResult,
            (result.requestId, result.outputHash, result.status, result.high, result.medium)
        );
        uint256 required = gasLimit + gasLimit / 63 + CALLBACK_GAS_RESERVE;
        uint256 available;
        bool called;
        assembly ("memory-safe") {
            available := gas()
            if iszero(lt(available, required)) {
                success := call(gasLimit, callback, 0, add(payload, 0x20), mload(payload), 0, 0)
                called := 1
            }
        }
        if (!called) revert AuditOracle__InsufficientGasForCallback(available, required);
    }

    // ---------------------------------------------------------------------------------------------
    // Cancellation and withdrawals
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IAuditOracle
    /// @dev Only the requester, only after the deadline, only while Open. The refund is pushed
    /// after the state change; a requester that rejects ether cannot cancel.
    function cancel(bytes32 requestId) external {
        Request storage req = _requests[requestId];
        uint256 packed = req.packed;
        RequestState state = _stateOf(packed);
        if (state == RequestState.None) revert AuditOracle__UnknownRequest(requestId);
        if (state != RequestState.Open) revert AuditOracle__NotOpen(requestId, state);
        (address requester, uint96 refund) = _unpackRequester(req.data);
        if (msg.sender != requester) revert AuditOracle__NotRequester(requestId, msg.sender, requester);
        uint32 deadline = uint32(packed >> _DEADLINE_SHIFT);
        // slither-disable-next-line timestamp
        if (block.timestamp <= deadline) revert AuditOracle__DeadlineNotReached(requestId, deadline);

        req.packed = (packed & ~(uint256(0xff) << _STATE_SHIFT)) | (_CANCELLED << _STATE_SHIFT);
        emit RequestCancelled(requestId, requester, refund);
        if (refund != 0) _sendValue(requester, refund);
    }

    /// @inheritdoc IAuditOracle
    function withdraw() external {
        SignerInfo storage info = _signerInfo[msg.sender];
        uint256 amount = info.credit;
        if (amount == 0) revert AuditOracle__NothingToWithdraw(msg.sender);
        info.credit = 0;
        emit Withdrawn(msg.sender, amount);
        _sendValue(msg.sender, amount);
    }

    /// @dev Sends `amount` wei with all remaining gas, without copying returndata.
    function _sendValue(address to, uint256 amount) private {
        bool ok;
        assembly ("memory-safe") {
            ok := call(gas(), to, amount, 0, 0, 0, 0)
        }
        if (!ok) revert AuditOracle__TransferFailed(to, amount);
    }

    // ---------------------------------------------------------------------------------------------
    // Owner
    // ---------------------------------------------------------------------------------------------

    /// @notice Adds an active signer (it gets a fresh index; indices are never reused).
    function addSigner(address signer) external onlyOwner {
        _addSigner(signer);
    }

    /// @notice Removes an active signer. Its votes on open requests stop counting; its credit stays
    /// withdrawable. Reverts if fewer than `threshold` signers would remain.
    function removeSigner(address signer) external onlyOwner {
        SignerInfo storage info = _signerInfo[signer];
        if (!info.active) revert AuditOracle__SignerNotActive(signer);
        uint256 remaining = _config.signerCount - 1;
        if (remaining < _config.threshold) revert AuditOracle__InvalidThreshold(_config.threshold, remaining);
        _activeMask &= ~(uint256(1) << info.index);
        info.active = false;
        _config.signerCount = uint16(remaining);
        emit SignerRemoved(signer);
    }

    /// @notice Sets the number of agreeing signatures that finalizes a result (1..active signers).
    /// Applies to open requests too (see {fulfill} for votes that already reach a lowered threshold).
    function setThreshold(uint256 newThreshold) external onlyOwner {
        _setThreshold(newThreshold);
    }

    /// @notice Sets the fee for new requests, in wei (at most 2**96 - 1).
    function setFee(uint256 newFee) external onlyOwner {
        _setFee(newFee);
    }

    /// @notice Stops new requests. Fulfilment, cancellation and withdrawals keep working, so no
    /// funds get stuck.
    function pause() external onlyOwner {
        _pause();
    }

    /// @notice Accepts new requests again.
    function unpause() external onlyOwner {
        _unpause();
    }

    function _addSigner(address signer) private {
        if (signer == address(0)) revert AuditOracle__InvalidSigner(signer);
        SignerInfo storage info = _signerInfo[signer];
        if (info.active) revert AuditOracle__SignerAlreadyActive(signer);
        uint256 index = _config.nextIndex;
        if (index >= MAX_SIGNER_INDICES) revert AuditOracle__SignerIndicesExhausted(MAX_SIGNER_INDICES);
        info.active = true;
        info.index = uint8(index);
        info.threshold = _config.threshold;
        _signerAt[index] = signer;
        _activeMask |= uint256(1) << index;
        _config.nextIndex = uint16(index + 1);
        _config.signerCount += 1;
        emit SignerAdded(signer);
    }

    function _setThreshold(uint256 newThreshold) private {
        uint256 n = _config.signerCount;
        if (newThreshold == 0 || newThreshold > n) revert AuditOracle__InvalidThreshold(newThreshold, n);
        _config.threshold = uint16(newThreshold);
        // Refresh the copy in every active signer's slot (see {SignerInfo}).
        uint256 mask = _activeMask;
        while (mask != 0) {
            uint256 lowest;
            unchecked {
                lowest = mask & (0 - mask);
            }
            mask ^= lowest;
            _signerInfo[_signerAt[Math.log2(lowest)]].threshold = uint16(newThreshold);
        }
        emit ThresholdChanged(newThreshold);
    }

    function _setFee(uint256 newFee) private {
        if (newFee > type(uint96).max) revert AuditOracle__FeeTooLarge(newFee, type(uint96).max);
        _config.fee = uint96(newFee);
        emit FeeChanged(newFee);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IAuditOracle
    function verify(bytes32 requestId, bytes calldata output) external view returns (bool) {
        Request storage req = _requests[requestId];
        return _stateOf(req.packed) == RequestState.Finalized && keccak256(output) == req.data;
    }

    /// @inheritdoc IAuditOracle
    function resultDigest(AuditResult calldata result) external view returns (bytes32) {
        return _resultDigest(result);
    }

    /// @inheritdoc IAuditOracle
    /// @dev `requester` and `fee` are reported while the request is Open or Cancelled (then `fee` is
    /// the refunded amount); `outputHash` once it is Finalized (requester and fee are zero then: they
    /// are in the request event). All fields are zero for an unknown id.
    function getRequest(bytes32 requestId) external view returns (RequestView memory view_) {
        Request storage req = _requests[requestId];
        uint256 packed = req.packed;
        bytes32 data = req.data;
        view_.state = _stateOf(packed);
        view_.callback = address(uint160(packed));
        view_.callbackGasLimit = uint24(packed >> _GAS_LIMIT_SHIFT);
        view_.deadline = uint32(packed >> _DEADLINE_SHIFT);
        view_.callbackFailed = uint8(packed >> _FAILED_SHIFT) != 0;
        view_.status = uint8(packed >> _STATUS_SHIFT);
        view_.high = uint8(packed >> _HIGH_SHIFT);
        view_.medium = uint8(packed >> _MEDIUM_SHIFT);
        if (view_.state == RequestState.Finalized) {
            view_.outputHash = data;
        } else {
            (view_.requester, view_.fee) = _unpackRequester(data);
        }
    }

    /// @inheritdoc IAuditOracle
    /// @dev Only counts votes stored while threshold > 1 (the threshold-1 fast path stores none).
    function votesFor(bytes32 requestId, bytes32 digest) external view returns (uint256) {
        return _popcount(_votes[requestId][digest] & _activeMask);
    }

    /// @inheritdoc IAuditOracle
    function creditOf(address account) external view returns (uint256) {
        return _signerInfo[account].credit;
    }

    /// @inheritdoc IAuditOracle
    /// @dev In signer index order (the order they were added).
    function signers() external view returns (address[] memory list) {
        uint256 mask = _activeMask;
        list = new address[](_popcount(mask));
        uint256 i = 0;
        while (mask != 0) {
            uint256 lowest;
            unchecked {
                lowest = mask & (0 - mask);
            }
            mask ^= lowest;
            list[i++] = _signerAt[Math.log2(lowest)];
        }
    }

    /// @notice Whether `account` is an active signer.
    function isSigner(address account) external view returns (bool) {
        return _signerInfo[account].active;
    }

    /// @inheritdoc IAuditOracle
    function threshold() external view returns (uint256) {
        return _config.threshold;
    }

    /// @inheritdoc IAuditOracle
    function fee() external view returns (uint256) {
        return _config.fee;
    }

    /// @notice Nonce the next request will use in its id.
    function nextNonce() external view returns (uint256) {
        return _config.nonce;
    }

    // ---------------------------------------------------------------------------------------------
    // Internal helpers
    // ---------------------------------------------------------------------------------------------

    function _resultDigest(AuditResult calldata r) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(AUDIT_RESULT_TYPEHASH, r.requestId, r.outputHash, r.modelHash, r.status, r.high, r.medium)
            )
        );
    }

    function _packRequester(address requester, uint96 amount) private pure returns (bytes32) {
        return bytes32(uint256(uint160(requester)) | (uint256(amount) << 160));
    }

    function _unpackRequester(bytes32 data) private pure returns (address requester, uint96 amount) {
        requester = address(uint160(uint256(data)));
        amount = uint96(uint256(data) >> 160);
    }

    function _stateOf(uint256 packed) private pure returns (RequestState) {
        return RequestState(uint8(packed >> _STATE_SHIFT));
    }

    function _popcount(uint256 x) private pure returns (uint256 count) {
        unchecked {
            while (x != 0) {
                x &= x - 1;
                ++count;
            }
        }
    }
}
