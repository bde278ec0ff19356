const fs = require("fs");
const { expect } = require("chai");
const hre = require("hardhat");
const { ethers } = hre;
const {
  loadFixture,
  time,
  setBalance,
  setCode,
  impersonateAccount,
  stopImpersonatingAccount,
} = require("@nomicfoundation/hardhat-network-helpers");
const { anyValue } = require("@nomicfoundation/hardhat-chai-matchers/withArgs");
const {
  AUDIT_RESULT_TYPES,
  CHAIN_ID,
  DOMAIN_NAME,
  DOMAIN_VERSION,
  FEE,
  INPUT_HASH,
  MODEL_HASH,
  Outcome,
  SECP256K1_N,
  State,
  URI_46,
  deadlineIn,
  digestOf,
  findEvent,
  makeResult,
  malleate,
  openRequest,
  signResult,
} = require("./helpers");

const MAX_DEADLINE = 30n * 24n * 3600n;
const MAX_CALLBACK_GAS = 500_000n;
const MAX_INLINE_INPUT = 8192n;
const CALLBACK_GAS_RESERVE = 10_000n;
const UINT96_MAX = (1n << 96n) - 1n;
const HOUR = 3600;

function requiredCallbackGas(limit) {
  const l = BigInt(limit);
  return l + l / 63n + CALLBACK_GAS_RESERVE;
}

async function deploy(name, ...args) {
  const factory = await ethers.getContractFactory(name);
  const contract = await factory.deploy(...args);
  await contract.waitForDeployment();
  return contract;
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

async function singleSignerFixture() {
  const [owner, s1, s2, s3, user, other, relayer] = await ethers.getSigners();
  const oracle = await deploy("AuditOracle", owner.address, [s1.address], 1, FEE);
  return { oracle, owner, s1, s2, s3, user, other, relayer };
}

async function quorumFixture() {
  const [owner, s1, s2, s3, user, other, relayer] = await ethers.getSigners();
  const oracle = await deploy("AuditOracle", owner.address, [s1.address, s2.address, s3.address], 2, FEE);
  return { oracle, owner, s1, s2, s3, user, other, relayer };
}

async function consumersFixture() {
  const base = await singleSignerFixture();
  const oracleAddress = await base.oracle.getAddress();
  return {
    ...base,
    recorder: await deploy("RecordingConsumer"),
    reverter: await deploy("RevertingConsumer"),
    burner: await deploy("GasBurningConsumer"),
    reentrant: await deploy("ReentrantConsumer", oracleAddress),
    revertBomb: await deploy("ReturnDataBombConsumer", 400_000, true),
    returnBomb: await deploy("ReturnDataBombConsumer", 400_000, false),
  };
}

// Opens a request and returns a signed result for it.
async function openAndSign(oracle, user, signer, opts = {}, resultOverrides = {}) {
  const req = await openRequest(oracle, { from: user, ...opts });
  const result = makeResult(req.requestId, resultOverrides);
  const signature = await signResult(signer, oracle, result);
  return { ...req, result, signature };
}

describe("AuditOracle", function () {
  // -------------------------------------------------------------------------------------------
  describe("deployment and views", function () {
    it("sets owner, signers, threshold, fee, nonce and the EIP-712 domain", async function () {
      const { oracle, owner, s1 } = await loadFixture(singleSignerFixture);
      expect(await oracle.owner()).to.equal(owner.address);
      expect(await oracle.pendingOwner()).to.equal(ethers.ZeroAddress);
      expect(await oracle.signers()).to.deep.equal([s1.address]);
      expect(await oracle.isSigner(s1.address)).to.equal(true);
      expect(await oracle.isSigner(owner.address)).to.equal(false);
      expect(await oracle.threshold()).to.equal(1n);
      expect(await oracle.fee()).to.equal(FEE);
      expect(await oracle.nextNonce()).to.equal(1n);
      expect(await oracle.paused()).to.equal(false);
      const domain = await oracle.eip712Domain();
      expect(domain.name).to.equal(DOMAIN_NAME);
      expect(domain.version).to.equal(DOMAIN_VERSION);
      expect(domain.chainId).to.equal(BigInt(CHAIN_ID));
      expect(domain.verifyingContract).to.equal(await oracle.getAddress());
    });

    it("exposes its limits and the AuditResult type hash", async function () {
      const { oracle } = await loadFixture(singleSignerFixture);
      expect(await oracle.MAX_DEADLINE()).to.equal(MAX_DEADLINE);
      expect(await oracle.MAX_CALLBACK_GAS()).to.equal(MAX_CALLBACK_GAS);
      expect(await oracle.MAX_INLINE_INPUT()).to.equal(MAX_INLINE_INPUT);
      expect(await oracle.MAX_SIGNER_INDICES()).to.equal(256n);
      expect(await oracle.CALLBACK_GAS_RESERVE()).to.equal(CALLBACK_GAS_RESERVE);
      expect(await oracle.AUDIT_RESULT_TYPEHASH()).to.equal(
        ethers.id(
          "AuditResult(bytes32 requestId,bytes32 outputHash,bytes32 modelHash,uint8 status,uint8 high,uint8 medium)",
        ),
      );
      expect(ethers.TypedDataEncoder.from(AUDIT_RESULT_TYPES).encodeType("AuditResult")).to.equal(
        "AuditResult(bytes32 requestId,bytes32 outputHash,bytes32 modelHash,uint8 status,uint8 high,uint8 medium)",
      );
    });

    it("computes the EIP-712 digest like ethers", async function () {
      const { oracle } = await loadFixture(singleSignerFixture);
      const result = makeResult(ethers.id("any request"), { status: 3, high: 255, medium: 7 });
      expect(await oracle.resultDigest(result)).to.equal(await digestOf(oracle, result));
    });

    it("reports an unknown request as all zeros", async function () {
      const { oracle } = await loadFixture(singleSignerFixture);
      const view = await oracle.getRequest(ethers.id("nope"));
      expect(view.state).to.equal(State.None);
      expect(view.requester).to.equal(ethers.ZeroAddress);
      expect(view.fee).to.equal(0n);
      expect(view.outputHash).to.equal(ethers.ZeroHash);
      expect(await oracle.verify(ethers.id("nope"), "0x")).to.equal(false);
      expect(await oracle.votesFor(ethers.id("nope"), ethers.ZeroHash)).to.equal(0n);
      expect(await oracle.creditOf(ethers.ZeroAddress)).to.equal(0n);
    });

    it("rejects bad constructor arguments", async function () {
      const [owner, s1, s2] = await ethers.getSigners();
      const Oracle = await ethers.getContractFactory("AuditOracle");
      await expect(Oracle.deploy(ethers.ZeroAddress, [s1.address], 1, 0))
        .to.be.revertedWithCustomError(Oracle, "OwnableInvalidOwner")
        .withArgs(ethers.ZeroAddress);
      await expect(Oracle.deploy(owner.address, [ethers.ZeroAddress], 1, 0))
        .to.be.revertedWithCustomError(Oracle, "AuditOracle__InvalidSigner")
        .withArgs(ethers.ZeroAddress);
      await expect(Oracle.deploy(owner.address, [s1.address, s1.address], 1, 0))
        .to.be.revertedWithCustomError(Oracle, "AuditOracle__SignerAlreadyActive")
        .withArgs(s1.address);
      await expect(Oracle.deploy(owner.address, [], 1, 0))
        .to.be.revertedWithCustomError(Oracle, "AuditOracle__InvalidThreshold")
        .withArgs(1, 0);
      await expect(Oracle.deploy(owner.address, [s1.address, s2.address], 0, 0))
        .to.be.revertedWithCustomError(Oracle, "AuditOracle__InvalidThreshold")
        .withArgs(0, 2);
      await expect(Oracle.deploy(owner.address, [s1.address, s2.address], 3, 0))
        .to.be.revertedWithCustomError(Oracle, "AuditOracle__InvalidThreshold")
        .withArgs(3, 2);
      await expect(Oracle.deploy(owner.address, [s1.address], 1, UINT96_MAX + 1n))
        .to.be.revertedWithCustomError(Oracle, "AuditOracle__FeeTooLarge")
        .withArgs(UINT96_MAX + 1n, UINT96_MAX);
    });

    it("does not accept plain ether", async function () {
      const { oracle, user } = await loadFixture(singleSignerFixture);
      await expect(user.sendTransaction({ to: await oracle.getAddress(), value: 1n })).to.be.reverted;
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("requestAudit", function () {
    it("opens a request, emits AuditRequested and derives the id from chain, contract, sender, nonce", async function () {
      const { oracle, user } = await loadFixture(singleSignerFixture);
      const deadline = await deadlineIn(HOUR);
      const expectedId = ethers.keccak256(
        ethers.AbiCoder.defaultAbiCoder().encode(
          ["uint256", "address", "address", "uint256"],
          [CHAIN_ID, await oracle.getAddress(), user.address, 1],
        ),
      );
      const value = FEE + 5n; // all of msg.value is the request's fee
      const tx = oracle
        .connect(user)
        .requestAudit(INPUT_HASH, URI_46, "0x", ethers.ZeroAddress, 0, deadline, { value });
      await expect(tx)
        .to.emit(oracle, "AuditRequested")
        .withArgs(expectedId, user.address, INPUT_HASH, URI_46, "0x", ethers.ZeroAddress, 0, deadline, value);
      await expect(tx).to.changeEtherBalances([user, oracle], [-value, value]);
      expect(await oracle.nextNonce()).to.equal(2n);
      const view = await oracle.getRequest(expectedId);
      expect(view.state).to.equal(State.Open);
      expect(view.requester).to.equal(user.address);
      expect(view.fee).to.equal(value);
      expect(view.callback).to.equal(ethers.ZeroAddress);
      expect(view.callbackGasLimit).to.equal(0n);
      expect(view.deadline).to.equal(BigInt(deadline));
      expect(view.outputHash).to.equal(ethers.ZeroHash);
      expect(view.callbackFailed).to.equal(false);
      expect(await oracle.verify(expectedId, "0x")).to.equal(false);
      // The return value is the id too.
      const next = await oracle
        .connect(user)
        .requestAudit.staticCall(INPUT_HASH, URI_46, "0x", ethers.ZeroAddress, 0, deadline, { value: FEE });
      expect(next).to.equal(
        ethers.keccak256(
          ethers.AbiCoder.defaultAbiCoder().encode(
            ["uint256", "address", "address", "uint256"],
            [CHAIN_ID, await oracle.getAddress(), user.address, 2],
          ),
        ),
      );
    });

    it("accepts inline input whose keccak256 is inputHash, up to MAX_INLINE_INPUT bytes", async function () {
      const { oracle, user } = await loadFixture(singleSignerFixture);
      const deadline = await deadlineIn(HOUR);
      const inline = ethers.toUtf8Bytes(JSON.stringify({ files: { "A.sol": "contract A {}" } }));
      const hash = ethers.keccak256(inline);
      await expect(
        oracle.connect(user).requestAudit(hash, "", inline, ethers.ZeroAddress, 0, deadline, { value: FEE }),
      )
        .to.emit(oracle, "AuditRequested")
        .withArgs(anyValue, user.address, hash, "", ethers.hexlify(inline), ethers.ZeroAddress, 0, deadline, FEE);
      const max = new Uint8Array(Number(MAX_INLINE_INPUT)).fill(0x61);
      await expect(
        oracle
          .connect(user)
          .requestAudit(ethers.keccak256(max), "", max, ethers.ZeroAddress, 0, deadline, { value: FEE }),
      ).to.emit(oracle, "AuditRequested");
    });

    it("rejects inline input that is too large or does not match inputHash", async function () {
      const { oracle, user } = await loadFixture(singleSignerFixture);
      const deadline = await deadlineIn(HOUR);
      const big = new Uint8Array(Number(MAX_INLINE_INPUT) + 1).fill(0x61);
      await expect(
        oracle.connect(user).requestAudit(ethers.keccak256(big), "", big, ethers.ZeroAddress, 0, deadline, {
          value: FEE,
        }),
      )
        .to.be.revertedWithCustomError(oracle, "AuditOracle__InlineInputTooLarge")
        .withArgs(MAX_INLINE_INPUT + 1n, MAX_INLINE_INPUT);
      const inline = ethers.toUtf8Bytes("contract A {}");
      await expect(
        oracle.connect(user).requestAudit(INPUT_HASH, URI_46, inline, ethers.ZeroAddress, 0, deadline, { value: FEE }),
      )
        .to.be.revertedWithCustomError(oracle, "AuditOracle__InputHashMismatch")
        .withArgs(INPUT_HASH, ethers.keccak256(inline));
    });

    it("rejects a request with neither URI nor inline input", async function () {
      const { oracle, user } = await loadFixture(singleSignerFixture);
      const deadline = await deadlineIn(HOUR);
      await expect(
        oracle.connect(user).requestAudit(INPUT_HASH, "", "0x", ethers.ZeroAddress, 0, deadline, { value: FEE }),
      ).to.be.revertedWithCustomError(oracle, "AuditOracle__EmptyInput");
    });

    it("requires msg.value >= fee and < 2**96", async function () {
      const { oracle, user } = await loadFixture(singleSignerFixture);
      const deadline = await deadlineIn(HOUR);
      await expect(
        oracle.connect(user).requestAudit(INPUT_HASH, URI_46, "0x", ethers.ZeroAddress, 0, deadline, {
          value: FEE - 1n,
        }),
      )
        .to.be.revertedWithCustomError(oracle, "AuditOracle__InsufficientFee")
        .withArgs(FEE - 1n, FEE);
      await setBalance(user.address, 1n << 100n);
      await expect(
        oracle.connect(user).requestAudit(INPUT_HASH, URI_46, "0x", ethers.ZeroAddress, 0, deadline, {
          value: UINT96_MAX + 1n,
        }),
      )
        .to.be.revertedWithCustomError(oracle, "AuditOracle__FeeTooLarge")
        .withArgs(UINT96_MAX + 1n, UINT96_MAX);
      // Exactly the maximum is fine.
      await expect(
        oracle.connect(user).requestAudit(INPUT_HASH, URI_46, "0x", ethers.ZeroAddress, 0, deadline, {
          value: UINT96_MAX,
        }),
      ).to.emit(oracle, "AuditRequested");
    });

    it("requires a deadline in the future and at most MAX_DEADLINE ahead", async function () {
      const { oracle, user } = await loadFixture(singleSignerFixture);
      const request = (deadline) =>
        oracle.connect(user).requestAudit(INPUT_HASH, URI_46, "0x", ethers.ZeroAddress, 0, deadline, { value: FEE });
      for (const offset of [0n, -1n, MAX_DEADLINE + 1n]) {
        const now = BigInt(await time.latest()) + 10n;
        await time.setNextBlockTimestamp(now);
        const deadline = now + offset;
        await expect(request(deadline))
          .to.be.revertedWithCustomError(oracle, "AuditOracle__InvalidDeadline")
          .withArgs(deadline, now + 1n, now + MAX_DEADLINE);
      }
      let now = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(now);
      await expect(request(now + MAX_DEADLINE)).to.emit(oracle, "AuditRequested");
      now += 10n;
      await time.setNextBlockTimestamp(now);
      await expect(request(now + 1n)).to.emit(oracle, "AuditRequested");
    });

    it("bounds the callback gas limit and requires the callback to be a contract", async function () {
      const { oracle, user, recorder } = await loadFixture(consumersFixture);
      const deadline = await deadlineIn(HOUR);
      const recorderAddress = await recorder.getAddress();
      await expect(
        oracle
          .connect(user)
          .requestAudit(INPUT_HASH, URI_46, "0x", recorderAddress, MAX_CALLBACK_GAS + 1n, deadline, { value: FEE }),
      )
        .to.be.revertedWithCustomError(oracle, "AuditOracle__CallbackGasLimitTooHigh")
        .withArgs(MAX_CALLBACK_GAS + 1n, MAX_CALLBACK_GAS);
      await expect(
        oracle.connect(user).requestAudit(INPUT_HASH, URI_46, "0x", user.address, 100_000, deadline, { value: FEE }),
      )
        .to.be.revertedWithCustomError(oracle, "AuditOracle__CallbackNotContract")
        .withArgs(user.address);
      const { requestId } = await openRequest(oracle, {
        from: user,
        callback: recorderAddress,
        callbackGasLimit: MAX_CALLBACK_GAS,
      });
      const view = await oracle.getRequest(requestId);
      expect(view.callback).to.equal(recorderAddress);
      expect(view.callbackGasLimit).to.equal(MAX_CALLBACK_GAS);
    });

    it("is blocked while paused", async function () {
      const { oracle, owner, user } = await loadFixture(singleSignerFixture);
      await oracle.connect(owner).pause();
      const deadline = await deadlineIn(HOUR);
      await expect(
        oracle.connect(user).requestAudit(INPUT_HASH, URI_46, "0x", ethers.ZeroAddress, 0, deadline, { value: FEE }),
      ).to.be.revertedWithCustomError(oracle, "EnforcedPause");
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("requestCodeAudit", function () {
    it("commits to the target's code hash", async function () {
      const { oracle, user, recorder } = await loadFixture(consumersFixture);
      const target = await recorder.getAddress();
      const codeHash = ethers.keccak256(await ethers.provider.getCode(target));
      const deadline = await deadlineIn(HOUR);
      const tx = oracle.connect(user).requestCodeAudit(target, target, 50_000, deadline, { value: FEE });
      await expect(tx)
        .to.emit(oracle, "CodeAuditRequested")
        .withArgs(anyValue, user.address, target, codeHash, target, 50_000, deadline, FEE);
      const receipt = await (await tx).wait();
      const { requestId } = findEvent(oracle, receipt, "CodeAuditRequested").args;
      const view = await oracle.getRequest(requestId);
      expect(view.state).to.equal(State.Open);
      expect(view.requester).to.equal(user.address);
    });

    it("rejects a target without code, bad parameters, and requests while paused", async function () {
      const { oracle, owner, user, other, recorder } = await loadFixture(consumersFixture);
      const target = await recorder.getAddress();
      const deadline = await deadlineIn(HOUR);
      await expect(oracle.connect(user).requestCodeAudit(other.address, ethers.ZeroAddress, 0, deadline, { value: FEE }))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__TargetNotContract")
        .withArgs(other.address);
      await expect(oracle.connect(user).requestCodeAudit(target, ethers.ZeroAddress, 0, deadline, { value: 0 }))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__InsufficientFee")
        .withArgs(0, FEE);
      await expect(oracle.connect(user).requestCodeAudit(target, other.address, 0, deadline, { value: FEE }))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__CallbackNotContract")
        .withArgs(other.address);
      await oracle.connect(owner).pause();
      await expect(
        oracle.connect(user).requestCodeAudit(target, ethers.ZeroAddress, 0, deadline, { value: FEE }),
      ).to.be.revertedWithCustomError(oracle, "EnforcedPause");
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("fulfill (threshold 1)", function () {
    it("finalizes, credits the fee, emits AuditFinalized; anyone may relay", async function () {
      const { oracle, s1, user, relayer } = await loadFixture(singleSignerFixture);
      const { requestId, result, signature } = await openAndSign(oracle, user, s1, {}, { status: 0, high: 2, medium: 5 });
      expect(await oracle.connect(relayer).fulfill.staticCall(result, signature)).to.equal(Outcome.Finalized);
      await expect(oracle.connect(relayer).fulfill(result, signature))
        .to.emit(oracle, "AuditFinalized")
        .withArgs(requestId, result.outputHash, MODEL_HASH, 0, 2, 5)
        .and.not.to.emit(oracle, "ResultProposed");
      const view = await oracle.getRequest(requestId);
      expect(view.state).to.equal(State.Finalized);
      expect(view.outputHash).to.equal(result.outputHash);
      expect([view.status, view.high, view.medium]).to.deep.equal([0n, 2n, 5n]);
      expect(view.requester).to.equal(ethers.ZeroAddress); // slot reused for outputHash
      expect(view.fee).to.equal(0n);
      expect(view.deadline).to.not.equal(0n);
      expect(await oracle.creditOf(s1.address)).to.equal(FEE);
    });

    it("verify() matches the report whose keccak256 is outputHash", async function () {
      const { oracle, s1, user } = await loadFixture(singleSignerFixture);
      const { requestId } = await openRequest(oracle, { from: user });
      const report = ethers.toUtf8Bytes('{"findings": []}');
      const result = makeResult(requestId, { outputHash: ethers.keccak256(report) });
      await oracle.fulfill(result, await signResult(s1, oracle, result));
      expect(await oracle.verify(requestId, report)).to.equal(true);
      expect(await oracle.verify(requestId, ethers.toUtf8Bytes('{"findings": [1]}'))).to.equal(false);
    });

    it("reverts for a request that was never created", async function () {
      const { oracle, s1 } = await loadFixture(singleSignerFixture);
      const result = makeResult(ethers.id("never created"));
      await expect(oracle.fulfill(result, await signResult(s1, oracle, result)))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__UnknownRequest")
        .withArgs(result.requestId);
    });

    it("rejects a signature by a key that is not a signer", async function () {
      const { oracle, user, other } = await loadFixture(singleSignerFixture);
      const { result, signature } = await openAndSign(oracle, user, other);
      await expect(oracle.fulfill(result, signature))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__UnauthorizedSigner")
        .withArgs(other.address);
    });

    it("rejects a signature made for another request (recovers another address)", async function () {
      const { oracle, s1, user } = await loadFixture(singleSignerFixture);
      const a = await openAndSign(oracle, user, s1);
      const b = await openRequest(oracle, { from: user });
      const forged = { ...a.result, requestId: b.requestId };
      const recovered = ethers.recoverAddress(await digestOf(oracle, forged), a.signature);
      expect(recovered).to.not.equal(s1.address);
      await expect(oracle.fulfill(forged, a.signature))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__UnauthorizedSigner")
        .withArgs(recovered);
    });

    it("rejects a signature with another field changed", async function () {
      const { oracle, s1, user } = await loadFixture(singleSignerFixture);
      const { result, signature } = await openAndSign(oracle, user, s1, {}, { high: 1 });
      for (const change of [{ high: 0 }, { medium: 1 }, { status: 1 }, { modelHash: ethers.ZeroHash }]) {
        await expect(oracle.fulfill({ ...result, ...change }, signature)).to.be.revertedWithCustomError(
          oracle,
          "AuditOracle__UnauthorizedSigner",
        );
      }
    });

    it("rejects signatures replayed from another chain id or another contract (domain)", async function () {
      const { oracle, s1, user } = await loadFixture(singleSignerFixture);
      const { requestId } = await openRequest(oracle, { from: user });
      const result = makeResult(requestId);
      const otherOracle = ethers.Wallet.createRandom().address;
      for (const overrides of [{ chainId: 1 }, { verifyingContract: otherOracle }, { name: "Other" }, { version: "2" }]) {
        const signature = await signResult(s1, oracle, result, overrides);
        const domain = {
          name: DOMAIN_NAME,
          version: DOMAIN_VERSION,
          chainId: CHAIN_ID,
          verifyingContract: await oracle.getAddress(),
        };
        const recovered = ethers.recoverAddress(
          ethers.TypedDataEncoder.hash(domain, AUDIT_RESULT_TYPES, result),
          signature,
        );
        await expect(oracle.fulfill(result, signature))
          .to.be.revertedWithCustomError(oracle, "AuditOracle__UnauthorizedSigner")
          .withArgs(recovered);
      }
      // The same signature from the real domain works.
      await expect(oracle.fulfill(result, await signResult(s1, oracle, result))).to.emit(oracle, "AuditFinalized");
    });

    it("rejects the malleable twin of a valid signature (s -> n - s, v flipped)", async function () {
      const { oracle, s1, user } = await loadFixture(singleSignerFixture);
      const { result, signature } = await openAndSign(oracle, user, s1);
      const twin = malleate(signature);
      // ecrecover alone would accept the twin:
      expect(ethers.recoverAddress(await digestOf(oracle, result), ethers.Signature.from(signature))).to.equal(
        s1.address,
      );
      expect(BigInt(ethers.dataSlice(twin, 32, 64))).to.be.gt(SECP256K1_N / 2n);
      await expect(oracle.fulfill(result, twin)).to.be.revertedWithCustomError(oracle, "AuditOracle__InvalidSignature");
      await expect(oracle.fulfill(result, signature)).to.emit(oracle, "AuditFinalized");
    });

    it("rejects malformed signatures (bad v, wrong length, unrecoverable)", async function () {
      const { oracle, s1, user } = await loadFixture(singleSignerFixture);
      const { result, signature } = await openAndSign(oracle, user, s1);
      const sig = ethers.getBytes(signature);
      const badV = Uint8Array.from(sig);
      badV[64] = 29;
      const zeroV = Uint8Array.from(sig);
      zeroV[64] = sig[64] - 27; // 0/1 style v
      const unrecoverable = ethers.concat([ethers.ZeroHash, ethers.dataSlice(signature, 32, 64), "0x1b"]);
      for (const bad of [badV, zeroV, ethers.dataSlice(signature, 0, 64), ethers.concat([signature, "0x00"]), "0x", unrecoverable]) {
        await expect(oracle.fulfill(result, bad)).to.be.revertedWithCustomError(oracle, "AuditOracle__InvalidSignature");
      }
    });

    it("ignores a second fulfilment of a finalized request (AlreadyFinalized, no revert)", async function () {
      const { oracle, owner, s1, s2, user } = await loadFixture(singleSignerFixture);
      const { requestId, result, signature } = await openAndSign(oracle, user, s1);
      await oracle.fulfill(result, signature);
      expect(await oracle.fulfill.staticCall(result, signature)).to.equal(Outcome.AlreadyFinalized);
      await expect(oracle.fulfill(result, signature))
        .to.emit(oracle, "FulfillmentIgnored")
        .withArgs(requestId, s1.address, Outcome.AlreadyFinalized)
        .and.not.to.emit(oracle, "AuditFinalized");
      // Even a different result by another signer cannot change it.
      await oracle.connect(owner).addSigner(s2.address);
      const other = { ...result, outputHash: ethers.id("other"), high: 9 };
      await expect(oracle.fulfill(other, await signResult(s2, oracle, other)))
        .to.emit(oracle, "FulfillmentIgnored")
        .withArgs(requestId, s2.address, Outcome.AlreadyFinalized);
      expect((await oracle.getRequest(requestId)).outputHash).to.equal(result.outputHash);
      expect(await oracle.creditOf(s1.address)).to.equal(FEE);
      expect(await oracle.creditOf(s2.address)).to.equal(0n);
    });

    it("ignores a fulfilment of a cancelled request (NotOpen, no revert)", async function () {
      const { oracle, s1, user } = await loadFixture(singleSignerFixture);
      const { requestId, result, signature, deadline } = await openAndSign(oracle, user, s1);
      await time.increaseTo(deadline + 1);
      await oracle.connect(user).cancel(requestId);
      expect(await oracle.fulfill.staticCall(result, signature)).to.equal(Outcome.NotOpen);
      await expect(oracle.fulfill(result, signature))
        .to.emit(oracle, "FulfillmentIgnored")
        .withArgs(requestId, s1.address, Outcome.NotOpen);
      expect((await oracle.getRequest(requestId)).state).to.equal(State.Cancelled);
      expect(await oracle.creditOf(s1.address)).to.equal(0n);
    });

    it("still accepts a result after the deadline while the request was not cancelled", async function () {
      const { oracle, s1, user } = await loadFixture(singleSignerFixture);
      const { requestId, result, signature, deadline } = await openAndSign(oracle, user, s1);
      await time.increaseTo(deadline + 100);
      await expect(oracle.fulfill(result, signature)).to.emit(oracle, "AuditFinalized");
      await expect(oracle.connect(user).cancel(requestId))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__NotOpen")
        .withArgs(requestId, State.Finalized);
    });

    it("rejects a removed signer, and counts a signer added later", async function () {
      const { oracle, owner, s1, s2, user } = await loadFixture(singleSignerFixture);
      await oracle.connect(owner).addSigner(s2.address);
      await oracle.connect(owner).removeSigner(s1.address);
      const { result, signature } = await openAndSign(oracle, user, s1);
      await expect(oracle.fulfill(result, signature))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__UnauthorizedSigner")
        .withArgs(s1.address);
      await expect(oracle.fulfill(result, await signResult(s2, oracle, result))).to.emit(oracle, "AuditFinalized");
    });

    it("with fee 0 finalizes without crediting anyone", async function () {
      const { oracle, owner, s1, user } = await loadFixture(singleSignerFixture);
      await oracle.connect(owner).setFee(0);
      const { result, signature } = await openAndSign(oracle, user, s1, { value: 0 });
      await expect(oracle.fulfill(result, signature)).to.emit(oracle, "AuditFinalized");
      expect(await oracle.creditOf(s1.address)).to.equal(0n);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("quorum (3 signers, threshold 2)", function () {
    it("records the first vote, finalizes on the second agreeing one, splits the fee", async function () {
      const { oracle, owner, s1, s2, s3, user } = await loadFixture(quorumFixture);
      const fee = 1001n; // odd: remainder to the finalizing signer
      await oracle.connect(owner).setFee(fee);
      const { requestId, result } = await openAndSign(oracle, user, s1, { value: fee });
      const digest = await digestOf(oracle, result);
      const sig1 = await signResult(s1, oracle, result);
      expect(await oracle.fulfill.staticCall(result, sig1)).to.equal(Outcome.Recorded);
      await expect(oracle.fulfill(result, sig1))
        .to.emit(oracle, "ResultProposed")
        .withArgs(requestId, s1.address, digest, 1)
        .and.not.to.emit(oracle, "AuditFinalized");
      expect(await oracle.votesFor(requestId, digest)).to.equal(1n);
      expect((await oracle.getRequest(requestId)).state).to.equal(State.Open);

      const sig2 = await signResult(s2, oracle, result);
      expect(await oracle.fulfill.staticCall(result, sig2)).to.equal(Outcome.Finalized);
      await expect(oracle.fulfill(result, sig2))
        .to.emit(oracle, "ResultProposed")
        .withArgs(requestId, s2.address, digest, 2)
        .and.to.emit(oracle, "AuditFinalized")
        .withArgs(requestId, result.outputHash, result.modelHash, 0, 0, 0);
      expect(await oracle.votesFor(requestId, digest)).to.equal(2n);
      expect(await oracle.creditOf(s1.address)).to.equal(500n);
      expect(await oracle.creditOf(s2.address)).to.equal(501n);
      expect(await oracle.creditOf(s3.address)).to.equal(0n);

      // The third signer is late: ignored, no revert.
      await expect(oracle.fulfill(result, await signResult(s3, oracle, result)))
        .to.emit(oracle, "FulfillmentIgnored")
        .withArgs(requestId, s3.address, Outcome.AlreadyFinalized);
    });

    it("ignores a duplicate signer (DuplicateSigner), even with a different result", async function () {
      const { oracle, s1, user } = await loadFixture(quorumFixture);
      const { requestId, result } = await openAndSign(oracle, user, s1);
      const sig1 = await signResult(s1, oracle, result);
      await oracle.fulfill(result, sig1);
      expect(await oracle.fulfill.staticCall(result, sig1)).to.equal(Outcome.DuplicateSigner);
      await expect(oracle.fulfill(result, sig1))
        .to.emit(oracle, "FulfillmentIgnored")
        .withArgs(requestId, s1.address, Outcome.DuplicateSigner)
        .and.not.to.emit(oracle, "ResultProposed");
      const changed = { ...result, high: 4 };
      await expect(oracle.fulfill(changed, await signResult(s1, oracle, changed)))
        .to.emit(oracle, "FulfillmentIgnored")
        .withArgs(requestId, s1.address, Outcome.DuplicateSigner);
      expect(await oracle.votesFor(requestId, await digestOf(oracle, result))).to.equal(1n);
      expect(await oracle.votesFor(requestId, await digestOf(oracle, changed))).to.equal(0n);
      expect((await oracle.getRequest(requestId)).state).to.equal(State.Open);
    });

    it("records a disagreeing result separately and never counts it toward another", async function () {
      const { oracle, s1, s2, s3, user } = await loadFixture(quorumFixture);
      const { requestId, result: a } = await openAndSign(oracle, user, s1);
      const b = { ...a, outputHash: ethers.id("another report"), high: 3 };
      const [digestA, digestB] = [await digestOf(oracle, a), await digestOf(oracle, b)];

      await oracle.fulfill(a, await signResult(s1, oracle, a));
      await expect(oracle.fulfill(b, await signResult(s2, oracle, b)))
        .to.emit(oracle, "ResultProposed")
        .withArgs(requestId, s2.address, digestB, 1)
        .and.not.to.emit(oracle, "AuditFinalized");
      expect(await oracle.votesFor(requestId, digestA)).to.equal(1n);
      expect(await oracle.votesFor(requestId, digestB)).to.equal(1n);
      expect((await oracle.getRequest(requestId)).state).to.equal(State.Open);

      await expect(oracle.fulfill(a, await signResult(s3, oracle, a)))
        .to.emit(oracle, "AuditFinalized")
        .withArgs(requestId, a.outputHash, a.modelHash, a.status, a.high, a.medium);
      const view = await oracle.getRequest(requestId);
      expect(view.outputHash).to.equal(a.outputHash);
      expect(view.high).to.equal(0n);
      // Only the winning signers are paid; the disagreeing vote stays visible.
      expect(await oracle.creditOf(s1.address)).to.equal(FEE / 2n);
      expect(await oracle.creditOf(s3.address)).to.equal(FEE / 2n);
      expect(await oracle.creditOf(s2.address)).to.equal(0n);
      expect(await oracle.votesFor(requestId, digestB)).to.equal(1n);
    });

    it("drops a removed signer's vote from the count", async function () {
      const { oracle, owner, s1, s2, s3, user } = await loadFixture(quorumFixture);
      const { requestId, result } = await openAndSign(oracle, user, s1);
      const digest = await digestOf(oracle, result);
      await oracle.fulfill(result, await signResult(s1, oracle, result));
      expect(await oracle.votesFor(requestId, digest)).to.equal(1n);

      await expect(oracle.connect(owner).removeSigner(s1.address)).to.emit(oracle, "SignerRemoved").withArgs(s1.address);
      expect(await oracle.votesFor(requestId, digest)).to.equal(0n);

      await expect(oracle.fulfill(result, await signResult(s2, oracle, result)))
        .to.emit(oracle, "ResultProposed")
        .withArgs(requestId, s2.address, digest, 1)
        .and.not.to.emit(oracle, "AuditFinalized");
      await expect(oracle.fulfill(result, await signResult(s3, oracle, result)))
        .to.emit(oracle, "ResultProposed")
        .withArgs(requestId, s3.address, digest, 2)
        .and.to.emit(oracle, "AuditFinalized");
      expect(await oracle.creditOf(s1.address)).to.equal(0n);
      expect(await oracle.creditOf(s2.address) + (await oracle.creditOf(s3.address))).to.equal(FEE);
    });

    it("gives a re-added signer a fresh index: its old vote stays dropped", async function () {
      const { oracle, owner, s1, s2, user } = await loadFixture(quorumFixture);
      const { requestId, result } = await openAndSign(oracle, user, s1);
      const digest = await digestOf(oracle, result);
      const sig1 = await signResult(s1, oracle, result);
      await oracle.fulfill(result, sig1);
      await oracle.connect(owner).removeSigner(s1.address);
      await expect(oracle.connect(owner).addSigner(s1.address)).to.emit(oracle, "SignerAdded").withArgs(s1.address);
      expect(await oracle.votesFor(requestId, digest)).to.equal(0n);
      expect(await oracle.signers()).to.deep.equal([s2.address, (await ethers.getSigners())[3].address, s1.address]);
      // Its new index may vote once more; then one more signer finalizes.
      await expect(oracle.fulfill(result, sig1)).to.emit(oracle, "ResultProposed").withArgs(requestId, s1.address, digest, 1);
      await expect(oracle.fulfill(result, await signResult(s2, oracle, result))).to.emit(oracle, "AuditFinalized");
    });

    it("finalizes on a repeated signature once a lowered threshold is already met", async function () {
      const { oracle, owner, s1, s2, user } = await loadFixture(quorumFixture);
      await oracle.connect(owner).setThreshold(3);
      const { requestId, result } = await openAndSign(oracle, user, s1);
      const sig1 = await signResult(s1, oracle, result);
      await oracle.fulfill(result, sig1);
      await oracle.fulfill(result, await signResult(s2, oracle, result));
      expect((await oracle.getRequest(requestId)).state).to.equal(State.Open);
      await oracle.connect(owner).setThreshold(2);
      expect(await oracle.fulfill.staticCall(result, sig1)).to.equal(Outcome.Finalized);
      await expect(oracle.fulfill(result, sig1)).to.emit(oracle, "AuditFinalized");
      expect(await oracle.creditOf(s1.address) + (await oracle.creditOf(s2.address))).to.equal(FEE);
    });

    it("a lowered threshold of 1 takes the fast path; a raised one needs a quorum again", async function () {
      const { oracle, owner, s1, s2, user } = await loadFixture(quorumFixture);
      await oracle.connect(owner).setThreshold(1);
      const a = await openAndSign(oracle, user, s1);
      await expect(oracle.fulfill(a.result, a.signature))
        .to.emit(oracle, "AuditFinalized")
        .and.not.to.emit(oracle, "ResultProposed");
      await oracle.connect(owner).setThreshold(2);
      const b = await openAndSign(oracle, user, s2);
      await expect(oracle.fulfill(b.result, b.signature)).to.emit(oracle, "ResultProposed").and.not.to.emit(oracle, "AuditFinalized");
      // A signer added after the change follows the current threshold too.
      const [, , , , , , , newcomer] = await ethers.getSigners();
      await oracle.connect(owner).addSigner(newcomer.address);
      await expect(oracle.fulfill(b.result, await signResult(newcomer, oracle, b.result))).to.emit(oracle, "AuditFinalized");
    });

    it("fulfillBatch: stale items are ignored while a valid item finalizes", async function () {
      const { oracle, s1, s2, s3, user, relayer } = await loadFixture(quorumFixture);
      const done = await openAndSign(oracle, user, s1);
      await oracle.fulfill(done.result, await signResult(s1, oracle, done.result));
      await oracle.fulfill(done.result, await signResult(s2, oracle, done.result));
      const open = await openAndSign(oracle, user, s1);
      await oracle.fulfill(open.result, await signResult(s1, oracle, open.result));

      const items = [
        { result: done.result, signature: await signResult(s3, oracle, done.result) }, // AlreadyFinalized
        { result: open.result, signature: await signResult(s1, oracle, open.result) }, // DuplicateSigner
        { result: open.result, signature: await signResult(s2, oracle, open.result) }, // Finalized
        { result: open.result, signature: await signResult(s3, oracle, open.result) }, // AlreadyFinalized
      ];
      expect(await oracle.connect(relayer).fulfillBatch.staticCall(items)).to.deep.equal([
        Outcome.AlreadyFinalized,
        Outcome.DuplicateSigner,
        Outcome.Finalized,
        Outcome.AlreadyFinalized,
      ]);
      const tx = oracle.connect(relayer).fulfillBatch(items);
      await expect(tx).to.emit(oracle, "AuditFinalized").withArgs(open.requestId, open.result.outputHash, anyValue, 0, 0, 0);
      await expect(tx)
        .to.emit(oracle, "FulfillmentIgnored")
        .withArgs(done.requestId, s3.address, Outcome.AlreadyFinalized);
      await expect(tx)
        .to.emit(oracle, "FulfillmentIgnored")
        .withArgs(open.requestId, s1.address, Outcome.DuplicateSigner);
      expect((await oracle.getRequest(open.requestId)).state).to.equal(State.Finalized);
      expect(await oracle.fulfillBatch.staticCall([])).to.deep.equal([]);
    });

    it("fulfillBatch reverts as a whole on a relayer error (bad signature)", async function () {
      const { oracle, s1, user, other } = await loadFixture(quorumFixture);
      const a = await openAndSign(oracle, user, s1);
      const items = [
        { result: a.result, signature: await signResult(s1, oracle, a.result) },
        { result: a.result, signature: await signResult(other, oracle, a.result) },
      ];
      await expect(oracle.fulfillBatch(items))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__UnauthorizedSigner")
        .withArgs(other.address);
      expect(await oracle.votesFor(a.requestId, await digestOf(oracle, a.result))).to.equal(0n);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("consumer callback", function () {
    async function requestWithCallback(fx, consumer, gasLimit = MAX_CALLBACK_GAS, resultOverrides = {}) {
      return openAndSign(
        fx.oracle,
        fx.user,
        fx.s1,
        { callback: await consumer.getAddress(), callbackGasLimit: gasLimit },
        resultOverrides,
      );
    }

    // Smallest gas limit for which the fulfil transaction succeeds (eth_call binary search).
    async function minimalGas(oracle, result, signature, from) {
      let lo = 21_000n;
      let hi = 2_000_000n;
      while (lo + 1n < hi) {
        const mid = (lo + hi) / 2n;
        try {
          await oracle.connect(from).fulfill.staticCall(result, signature, { gasLimit: mid });
          hi = mid;
        } catch (_) {
          lo = mid;
        }
      }
      return hi;
    }

    it("calls the consumer last, with the result, from the oracle", async function () {
      const fx = await loadFixture(consumersFixture);
      const { oracle, recorder } = fx;
      const { requestId, result, signature } = await requestWithCallback(fx, recorder, 300_000, {
        status: 1,
        high: 2,
        medium: 3,
      });
      await expect(oracle.fulfill(result, signature)).to.emit(oracle, "AuditFinalized").and.not.to.emit(oracle, "CallbackFailed");
      expect(await recorder.calls()).to.equal(1n);
      expect(await recorder.lastCaller()).to.equal(await oracle.getAddress());
      expect(await recorder.lastRequestId()).to.equal(requestId);
      expect(await recorder.lastOutputHash()).to.equal(result.outputHash);
      expect([await recorder.lastStatus(), await recorder.lastHigh(), await recorder.lastMedium()]).to.deep.equal([1n, 2n, 3n]);
      expect((await oracle.getRequest(requestId)).callbackFailed).to.equal(false);
    });

    it("gives the consumer its full gas limit even when the relayer sends the least gas that works", async function () {
      const fx = await loadFixture(consumersFixture);
      const { oracle, recorder, relayer } = fx;
      const limit = 300_000n;
      const { result, signature } = await requestWithCallback(fx, recorder, limit);
      const gas = await minimalGas(oracle, result, signature, relayer);
      await (await oracle.connect(relayer).fulfill(result, signature, { gasLimit: gas })).wait();
      const atEntry = await recorder.gasAtEntry();
      console.log(`      callback gas limit ${limit}: gasleft() at consumer entry ${atEntry} (tx gas ${gas})`);
      expect(atEntry).to.be.lte(limit);
      expect(atEntry).to.be.gte(limit - 1_000n); // only the consumer's own dispatch is missing
    });

    it("reverts with InsufficientGasForCallback when the relayer sends too little gas", async function () {
      const fx = await loadFixture(consumersFixture);
      const { oracle, burner, relayer } = fx;
      const { requestId, result, signature } = await requestWithCallback(fx, burner, MAX_CALLBACK_GAS);
      await expect(oracle.connect(relayer).fulfill(result, signature, { gasLimit: 300_000 }))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__InsufficientGasForCallback")
        .withArgs(anyValue, requiredCallbackGas(MAX_CALLBACK_GAS));
      expect((await oracle.getRequest(requestId)).state).to.equal(State.Open);

      // Just below the least gas that works, the guard (not an out-of-gas after the callback) fires:
      // the reserve covers everything done after a callback that burnt all its gas.
      const gas = await minimalGas(oracle, result, signature, relayer);
      await expect(
        oracle.connect(relayer).fulfill.staticCall(result, signature, { gasLimit: gas - 1n }),
      ).to.be.revertedWithCustomError(oracle, "AuditOracle__InsufficientGasForCallback");
      await expect(oracle.connect(relayer).fulfill(result, signature, { gasLimit: gas }))
        .to.emit(oracle, "CallbackFailed")
        .withArgs(requestId, await burner.getAddress());
    });

    it("a reverting consumer does not revert the fulfilment: finalized + CallbackFailed", async function () {
      const fx = await loadFixture(consumersFixture);
      const { oracle, reverter, s1 } = fx;
      const { requestId, result, signature } = await requestWithCallback(fx, reverter, 100_000);
      await expect(oracle.fulfill(result, signature))
        .to.emit(oracle, "AuditFinalized")
        .and.to.emit(oracle, "CallbackFailed")
        .withArgs(requestId, await reverter.getAddress());
      const view = await oracle.getRequest(requestId);
      expect(view.state).to.equal(State.Finalized);
      expect(view.callbackFailed).to.equal(true);
      expect(view.outputHash).to.equal(result.outputHash);
      expect(view.callback).to.equal(await reverter.getAddress());
      expect(view.callbackGasLimit).to.equal(100_000n);
      expect(await oracle.creditOf(s1.address)).to.equal(FEE);
    });

    it("a consumer that burns all its gas does not revert the fulfilment", async function () {
      const fx = await loadFixture(consumersFixture);
      const { oracle, burner } = fx;
      const { requestId, result, signature } = await requestWithCallback(fx, burner, MAX_CALLBACK_GAS);
      const receipt = await (await oracle.fulfill(result, signature)).wait();
      expect(findEvent(oracle, receipt, "CallbackFailed").args.requestId).to.equal(requestId);
      expect((await oracle.getRequest(requestId)).state).to.equal(State.Finalized);
      expect(receipt.gasUsed).to.be.lt(MAX_CALLBACK_GAS + 100_000n);
    });

    it("a consumer re-entering fulfill, cancel and withdraw finds the request finalized", async function () {
      const fx = await loadFixture(consumersFixture);
      const { oracle, reentrant, user, s1 } = fx;
      const { requestId, result, signature, deadline } = await requestWithCallback(fx, reentrant, MAX_CALLBACK_GAS);
      await reentrant.arm(result, signature);
      await time.increaseTo(deadline + 1); // past the deadline: only the state can stop a cancel
      const tx = oracle.fulfill(result, signature);
      await expect(tx).to.emit(oracle, "AuditFinalized").and.not.to.emit(oracle, "CallbackFailed");
      await expect(tx).to.emit(oracle, "FulfillmentIgnored").withArgs(requestId, s1.address, Outcome.AlreadyFinalized);

      expect(await reentrant.called()).to.equal(true);
      expect(await reentrant.observedState()).to.equal(State.Finalized);
      expect(await reentrant.fulfillSucceeded()).to.equal(true);
      expect(await reentrant.fulfillOutcome()).to.equal(Outcome.AlreadyFinalized);
      expect(await reentrant.cancelSucceeded()).to.equal(false);
      const cancelError = oracle.interface.parseError(await reentrant.cancelError());
      expect(cancelError.name).to.equal("AuditOracle__NotOpen");
      expect(cancelError.args).to.deep.equal([requestId, State.Finalized]);
      expect(await reentrant.withdrawSucceeded()).to.equal(false);
      const withdrawError = oracle.interface.parseError(await reentrant.withdrawError());
      expect(withdrawError.name).to.equal("AuditOracle__NothingToWithdraw");
      expect(withdrawError.args).to.deep.equal([await reentrant.getAddress()]);
      // Paid exactly once, no refund.
      expect(await oracle.creditOf(s1.address)).to.equal(FEE);
      await expect(oracle.connect(user).cancel(requestId))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__NotOpen")
        .withArgs(requestId, State.Finalized);
    });

    for (const mode of ["revertBomb", "returnBomb"]) {
      it(`does not copy returndata (${mode === "revertBomb" ? "revert" : "return"} of 400 kB)`, async function () {
        const fx = await loadFixture(consumersFixture);
        const { oracle } = fx;
        const bomb = fx[mode];
        const { requestId, result, signature } = await requestWithCallback(fx, bomb, MAX_CALLBACK_GAS);
        // Copying 400 kB into the oracle's memory would cost ~340k gas more than this limit allows.
        const receipt = await (await oracle.fulfill(result, signature, { gasLimit: 650_000 })).wait();
        expect(receipt.status).to.equal(1);
        const failed = receipt.logs.some((l) => {
          try {
            return oracle.interface.parseLog(l)?.name === "CallbackFailed";
          } catch (_) {
            return false;
          }
        });
        expect(failed).to.equal(mode === "revertBomb");
        expect((await oracle.getRequest(requestId)).state).to.equal(State.Finalized);
        expect(receipt.gasUsed).to.be.lt(MAX_CALLBACK_GAS + 60_000n);
      });
    }
  });

  // -------------------------------------------------------------------------------------------
  describe("cancel", function () {
    it("refunds the requester after the deadline", async function () {
      const { oracle, user } = await loadFixture(singleSignerFixture);
      const value = FEE + 7n;
      const { requestId, deadline } = await openRequest(oracle, { from: user, value });
      await time.increaseTo(deadline + 1);
      const tx = oracle.connect(user).cancel(requestId);
      await expect(tx).to.emit(oracle, "RequestCancelled").withArgs(requestId, user.address, value);
      await expect(tx).to.changeEtherBalances([user, oracle], [value, -value]);
      const view = await oracle.getRequest(requestId);
      expect(view.state).to.equal(State.Cancelled);
      expect(view.requester).to.equal(user.address);
      expect(view.fee).to.equal(value); // the refunded amount
      await expect(oracle.connect(user).cancel(requestId))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__NotOpen")
        .withArgs(requestId, State.Cancelled);
    });

    it("reverts before (and at) the deadline", async function () {
      const { oracle, user } = await loadFixture(singleSignerFixture);
      const { requestId, deadline } = await openRequest(oracle, { from: user });
      await expect(oracle.connect(user).cancel(requestId))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__DeadlineNotReached")
        .withArgs(requestId, deadline);
      await time.setNextBlockTimestamp(deadline);
      await expect(oracle.connect(user).cancel(requestId))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__DeadlineNotReached")
        .withArgs(requestId, deadline);
    });

    it("only the requester may cancel", async function () {
      const { oracle, user, other } = await loadFixture(singleSignerFixture);
      const { requestId, deadline } = await openRequest(oracle, { from: user });
      await time.increaseTo(deadline + 1);
      await expect(oracle.connect(other).cancel(requestId))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__NotRequester")
        .withArgs(requestId, other.address, user.address);
    });

    it("reverts for an unknown request", async function () {
      const { oracle, user } = await loadFixture(singleSignerFixture);
      await expect(oracle.connect(user).cancel(ethers.id("nope")))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__UnknownRequest")
        .withArgs(ethers.id("nope"));
    });

    it("works while paused, and with a zero fee", async function () {
      const { oracle, owner, user } = await loadFixture(singleSignerFixture);
      await oracle.connect(owner).setFee(0);
      const { requestId, deadline } = await openRequest(oracle, { from: user, value: 0 });
      await oracle.connect(owner).pause();
      await time.increaseTo(deadline + 1);
      await expect(oracle.connect(user).cancel(requestId)).to.emit(oracle, "RequestCancelled").withArgs(requestId, user.address, 0);
    });

    it("reverts with TransferFailed when the requester rejects the refund", async function () {
      const { oracle, user } = await loadFixture(singleSignerFixture);
      const rejecting = await deploy("RejectingRequester");
      const deadline = await deadlineIn(HOUR);
      const receipt = await (
        await rejecting.connect(user).request(await oracle.getAddress(), INPUT_HASH, URI_46, deadline, { value: FEE })
      ).wait();
      const { requestId } = findEvent(oracle, receipt, "AuditRequested").args;
      await time.increaseTo(deadline + 1);
      await expect(rejecting.cancel(await oracle.getAddress(), requestId))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__TransferFailed")
        .withArgs(await rejecting.getAddress(), FEE);
      expect((await oracle.getRequest(requestId)).state).to.equal(State.Open);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("withdraw", function () {
    it("sends the caller its credit and zeroes it", async function () {
      const { oracle, s1, user } = await loadFixture(singleSignerFixture);
      const { result, signature } = await openAndSign(oracle, user, s1);
      await oracle.fulfill(result, signature);
      const tx = oracle.connect(s1).withdraw();
      await expect(tx).to.emit(oracle, "Withdrawn").withArgs(s1.address, FEE);
      await expect(tx).to.changeEtherBalances([s1, oracle], [FEE, -FEE]);
      expect(await oracle.creditOf(s1.address)).to.equal(0n);
      await expect(oracle.connect(s1).withdraw())
        .to.be.revertedWithCustomError(oracle, "AuditOracle__NothingToWithdraw")
        .withArgs(s1.address);
    });

    it("reverts with NothingToWithdraw for an account with no credit", async function () {
      const { oracle, other } = await loadFixture(singleSignerFixture);
      await expect(oracle.connect(other).withdraw())
        .to.be.revertedWithCustomError(oracle, "AuditOracle__NothingToWithdraw")
        .withArgs(other.address);
    });

    it("a removed signer can still withdraw", async function () {
      const { oracle, owner, s1, s2, user } = await loadFixture(singleSignerFixture);
      const { result, signature } = await openAndSign(oracle, user, s1);
      await oracle.fulfill(result, signature);
      await oracle.connect(owner).addSigner(s2.address);
      await oracle.connect(owner).removeSigner(s1.address);
      await expect(oracle.connect(s1).withdraw()).to.changeEtherBalance(s1, FEE);
    });

    it("reverts with TransferFailed when the recipient rejects ether", async function () {
      const { oracle, s1, user } = await loadFixture(singleSignerFixture);
      const { result, signature } = await openAndSign(oracle, user, s1);
      await oracle.fulfill(result, signature);
      // Give the signer's address code that rejects ether, then withdraw from it.
      const rejecting = await deploy("RejectingRequester");
      await setCode(s1.address, await ethers.provider.getCode(await rejecting.getAddress()));
      await impersonateAccount(s1.address);
      try {
        const asContract = await ethers.getImpersonatedSigner(s1.address);
        await expect(oracle.connect(asContract).withdraw())
          .to.be.revertedWithCustomError(oracle, "AuditOracle__TransferFailed")
          .withArgs(s1.address, FEE);
      } finally {
        await stopImpersonatingAccount(s1.address);
        await setCode(s1.address, "0x");
      }
      expect(await oracle.creditOf(s1.address)).to.equal(FEE);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("owner functions", function () {
    it("are restricted to the owner", async function () {
      const { oracle, other, s2 } = await loadFixture(singleSignerFixture);
      const calls = [
        () => oracle.connect(other).addSigner(s2.address),
        () => oracle.connect(other).removeSigner(s2.address),
        () => oracle.connect(other).setThreshold(1),
        () => oracle.connect(other).setFee(0),
        () => oracle.connect(other).pause(),
        () => oracle.connect(other).unpause(),
        () => oracle.connect(other).transferOwnership(other.address),
        () => oracle.connect(other).renounceOwnership(),
      ];
      for (const call of calls) {
        await expect(call())
          .to.be.revertedWithCustomError(oracle, "OwnableUnauthorizedAccount")
          .withArgs(other.address);
      }
    });

    it("addSigner / removeSigner manage the active set", async function () {
      const { oracle, owner, s1, s2, s3 } = await loadFixture(singleSignerFixture);
      await expect(oracle.connect(owner).addSigner(s2.address)).to.emit(oracle, "SignerAdded").withArgs(s2.address);
      await oracle.connect(owner).addSigner(s3.address);
      expect(await oracle.signers()).to.deep.equal([s1.address, s2.address, s3.address]);
      await expect(oracle.connect(owner).addSigner(s2.address))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__SignerAlreadyActive")
        .withArgs(s2.address);
      await expect(oracle.connect(owner).addSigner(ethers.ZeroAddress))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__InvalidSigner")
        .withArgs(ethers.ZeroAddress);
      await expect(oracle.connect(owner).removeSigner(s2.address)).to.emit(oracle, "SignerRemoved").withArgs(s2.address);
      expect(await oracle.signers()).to.deep.equal([s1.address, s3.address]);
      expect(await oracle.isSigner(s2.address)).to.equal(false);
      await expect(oracle.connect(owner).removeSigner(s2.address))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__SignerNotActive")
        .withArgs(s2.address);
    });

    it("removeSigner cannot drop below the threshold", async function () {
      const { oracle, owner, s1, s2, s3 } = await loadFixture(quorumFixture);
      await oracle.connect(owner).removeSigner(s3.address);
      await expect(oracle.connect(owner).removeSigner(s2.address))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__InvalidThreshold")
        .withArgs(2, 1);
      expect(await oracle.signers()).to.deep.equal([s1.address, s2.address]);
    });

    it("the last signer cannot be removed", async function () {
      const { oracle, owner, s1 } = await loadFixture(singleSignerFixture);
      await expect(oracle.connect(owner).removeSigner(s1.address))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__InvalidThreshold")
        .withArgs(1, 0);
    });

    it("setThreshold accepts 1..signers", async function () {
      const { oracle, owner } = await loadFixture(quorumFixture);
      await expect(oracle.connect(owner).setThreshold(3)).to.emit(oracle, "ThresholdChanged").withArgs(3);
      expect(await oracle.threshold()).to.equal(3n);
      await expect(oracle.connect(owner).setThreshold(0))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__InvalidThreshold")
        .withArgs(0, 3);
      await expect(oracle.connect(owner).setThreshold(4))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__InvalidThreshold")
        .withArgs(4, 3);
    });

    it("setFee changes the fee for new requests and fits 96 bits", async function () {
      const { oracle, owner, user } = await loadFixture(singleSignerFixture);
      await expect(oracle.connect(owner).setFee(FEE * 2n)).to.emit(oracle, "FeeChanged").withArgs(FEE * 2n);
      expect(await oracle.fee()).to.equal(FEE * 2n);
      const deadline = await deadlineIn(HOUR);
      await expect(
        oracle.connect(user).requestAudit(INPUT_HASH, URI_46, "0x", ethers.ZeroAddress, 0, deadline, { value: FEE }),
      )
        .to.be.revertedWithCustomError(oracle, "AuditOracle__InsufficientFee")
        .withArgs(FEE, FEE * 2n);
      await expect(oracle.connect(owner).setFee(UINT96_MAX + 1n))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__FeeTooLarge")
        .withArgs(UINT96_MAX + 1n, UINT96_MAX);
      await expect(oracle.connect(owner).setFee(UINT96_MAX)).to.emit(oracle, "FeeChanged");
    });

    it("signer indices are never reused: at most MAX_SIGNER_INDICES signers are ever added", async function () {
      const [owner] = await ethers.getSigners();
      const initial = Array.from({ length: 200 }, () => ethers.Wallet.createRandom().address);
      const oracle = await deploy("AuditOracle", owner.address, initial, 1, 0);
      for (let i = 0; i < 56; i++) await oracle.addSigner(ethers.Wallet.createRandom().address);
      expect((await oracle.signers()).length).to.equal(256);
      await oracle.removeSigner(initial[0]);
      await expect(oracle.addSigner(initial[0]))
        .to.be.revertedWithCustomError(oracle, "AuditOracle__SignerIndicesExhausted")
        .withArgs(256);
      const list = await oracle.signers();
      expect(list.length).to.equal(255);
      expect(list[0]).to.equal(initial[1]);
    });

    it("pause blocks requests only; fulfilment, cancel and withdraw keep working", async function () {
      const { oracle, owner, s1, user } = await loadFixture(singleSignerFixture);
      const a = await openAndSign(oracle, user, s1);
      const b = await openRequest(oracle, { from: user });
      await expect(oracle.connect(owner).pause()).to.emit(oracle, "Paused").withArgs(owner.address);
      expect(await oracle.paused()).to.equal(true);
      await expect(oracle.connect(owner).pause()).to.be.revertedWithCustomError(oracle, "EnforcedPause");
      await expect(openRequest(oracle, { from: user })).to.be.revertedWithCustomError(oracle, "EnforcedPause");
      await expect(oracle.fulfill(a.result, a.signature)).to.emit(oracle, "AuditFinalized");
      await expect(oracle.connect(s1).withdraw()).to.emit(oracle, "Withdrawn");
      await time.increaseTo(b.deadline + 1);
      await expect(oracle.connect(user).cancel(b.requestId)).to.emit(oracle, "RequestCancelled");
      await expect(oracle.connect(owner).unpause()).to.emit(oracle, "Unpaused").withArgs(owner.address);
      await expect(oracle.connect(owner).unpause()).to.be.revertedWithCustomError(oracle, "ExpectedPause");
      await expect(openRequest(oracle, { from: user })).to.not.be.reverted;
    });

    it("ownership moves in two steps: only the pending owner can accept", async function () {
      const { oracle, owner, user, other } = await loadFixture(singleSignerFixture);
      await expect(oracle.connect(owner).transferOwnership(user.address))
        .to.emit(oracle, "OwnershipTransferStarted")
        .withArgs(owner.address, user.address);
      expect(await oracle.owner()).to.equal(owner.address);
      expect(await oracle.pendingOwner()).to.equal(user.address);
      // Still the old owner until accepted.
      await expect(oracle.connect(user).setFee(1))
        .to.be.revertedWithCustomError(oracle, "OwnableUnauthorizedAccount")
        .withArgs(user.address);
      await expect(oracle.connect(other).acceptOwnership())
        .to.be.revertedWithCustomError(oracle, "OwnableUnauthorizedAccount")
        .withArgs(other.address);
      await expect(oracle.connect(user).acceptOwnership())
        .to.emit(oracle, "OwnershipTransferred")
        .withArgs(owner.address, user.address);
      expect(await oracle.owner()).to.equal(user.address);
      expect(await oracle.pendingOwner()).to.equal(ethers.ZeroAddress);
      await expect(oracle.connect(owner).setFee(1))
        .to.be.revertedWithCustomError(oracle, "OwnableUnauthorizedAccount")
        .withArgs(owner.address);
      await expect(oracle.connect(user).setFee(1)).to.emit(oracle, "FeeChanged").withArgs(1);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("fee accounting", function () {
    it("sum(withdrawn) + sum(refunded) + balance == sum(paid), and balance == credits + open fees", async function () {
      const { oracle, owner, s1, s2, s3, user, other } = await loadFixture(quorumFixture);
      const oracleAddress = await oracle.getAddress();
      let paid = 0n;
      let refunded = 0n;
      let withdrawn = 0n;
      const open = [];
      const signersList = [s1, s2, s3];

      const check = async () => {
        const balance = await ethers.provider.getBalance(oracleAddress);
        expect(withdrawn + refunded + balance).to.equal(paid);
        let credits = 0n;
        for (const s of signersList) credits += await oracle.creditOf(s.address);
        let held = 0n;
        for (const id of open) {
          const view = await oracle.getRequest(id);
          if (view.state === State.Open) held += view.fee;
        }
        expect(balance).to.equal(credits + held);
      };

      const values = [FEE, FEE + 1n, FEE * 3n + 7n, FEE, FEE + 12345n, FEE * 2n];
      const requests = [];
      for (const [i, value] of values.entries()) {
        const from = i % 2 ? other : user;
        const r = await openRequest(oracle, { from, value, deadline: await deadlineIn(HOUR * (i + 1)) });
        requests.push({ ...r, from, value });
        open.push(r.requestId);
        paid += value;
      }
      await check();

      // Fulfil 0 (s1+s2), 2 (s2+s3), 4 (s1+s3 after a disagreeing s2).
      const fulfil = async (idx, pair, disagree) => {
        const result = makeResult(requests[idx].requestId, { medium: idx });
        if (disagree) {
          const other = { ...result, high: 1 };
          await oracle.fulfill(other, await signResult(disagree, oracle, other));
        }
        for (const s of pair) await oracle.fulfill(result, await signResult(s, oracle, result));
        expect((await oracle.getRequest(requests[idx].requestId)).state).to.equal(State.Finalized);
      };
      await fulfil(0, [s1, s2]);
      await fulfil(2, [s2, s3]);
      await check();
      await fulfil(4, [s1, s3], s2);
      await check();

      // s2 withdraws; the fee changes; a signer is removed (keeps its credit).
      const w2 = await oracle.creditOf(s2.address);
      await oracle.connect(s2).withdraw();
      withdrawn += w2;
      await oracle.connect(owner).setFee(FEE / 2n);
      await oracle.connect(owner).removeSigner(s3.address);
      await check();

      // Cancel 1 and 3 after their deadlines; 5 stays open.
      await time.increaseTo(requests[3].deadline + 1);
      for (const idx of [1, 3]) {
        const tx = await oracle.connect(requests[idx].from).cancel(requests[idx].requestId);
        const receipt = await tx.wait();
        refunded += findEvent(oracle, receipt, "RequestCancelled").args.refund;
      }
      expect(refunded).to.equal(values[1] + values[3]);
      await check();

      for (const s of [s1, s3]) {
        const c = await oracle.creditOf(s.address);
        await oracle.connect(s).withdraw();
        withdrawn += c;
      }
      await check();
      expect(await ethers.provider.getBalance(oracleAddress)).to.equal(values[5]);
    });
  });

  // -------------------------------------------------------------------------------------------
  it("exercises every custom error declared by AuditOracle", async function () {
    const artifact = await hre.artifacts.readArtifact("AuditOracle");
    const declared = artifact.abi.filter((e) => e.type === "error" && e.name.startsWith("AuditOracle__")).map((e) => e.name);
    const sources = ["AuditOracle.test.js", "gas.test.js", "vectors.test.js", "AuditedRegistry.test.js"]
      .map((f) => `${__dirname}/${f}`)
      .filter((f) => fs.existsSync(f))
      .map((f) => fs.readFileSync(f, "utf8"))
      .join("\n");
    const missing = declared.filter((name) => !sources.includes(`"${name}"`));
    expect(missing, `custom errors without a test: ${missing.join(", ")}`).to.deep.equal([]);
    expect(declared.length).to.be.gte(20);
  });
});
