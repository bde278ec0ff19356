const { expect } = require("chai");
const { ethers } = require("hardhat");
const {
  loadFixture,
  time,
  setCode,
  impersonateAccount,
  stopImpersonatingAccount,
} = require("@nomicfoundation/hardhat-network-helpers");
const { FEE, State, findEvent, makeResult, signResult } = require("./helpers");

const CALLBACK_GAS_LIMIT = 200_000n;
const REQUEST_TTL = 7 * 24 * 3600;

async function deploy(name, ...args) {
  const contract = await (await ethers.getContractFactory(name)).deploy(...args);
  await contract.waitForDeployment();
  return contract;
}

async function registryFixture() {
  const [owner, signer, user, other] = await ethers.getSigners();
  const oracle = await deploy("AuditOracle", owner.address, [signer.address], 1, FEE);
  const registry = await deploy("AuditedRegistry", await oracle.getAddress());
  // Two deployed contracts to audit (any contract will do).
  const good = await deploy("RecordingConsumer");
  const bad = await deploy("RevertingConsumer");
  return { oracle, registry, good, bad, owner, signer, user, other };
}

// Requests an audit of `target` through the registry; returns the oracle request id.
async function requestThroughRegistry(registry, oracle, user, target) {
  const receipt = await (await registry.connect(user).requestAudit(target, { value: FEE })).wait();
  return findEvent(oracle, receipt, "CodeAuditRequested").args.requestId;
}

async function answer(oracle, signer, requestId, fields) {
  const result = makeResult(requestId, fields);
  return oracle.fulfill(result, await signResult(signer, oracle, result));
}

describe("AuditedRegistry (example consumer)", function () {
  it("requests a code audit through the oracle, paying the fee, with itself as callback", async function () {
    const { oracle, registry, good, user } = await loadFixture(registryFixture);
    const target = await good.getAddress();
    const registryAddress = await registry.getAddress();
    const codeHash = ethers.keccak256(await ethers.provider.getCode(target));
    const tx = registry.connect(user).requestAudit(target, { value: FEE });
    await expect(tx)
      .to.emit(oracle, "CodeAuditRequested")
      .withArgs(
        (id) => ethers.isHexString(id, 32),
        registryAddress,
        target,
        codeHash,
        registryAddress,
        CALLBACK_GAS_LIMIT,
        (d) => d > 0n,
        FEE,
      );
    await expect(tx).to.changeEtherBalances([user, oracle], [-FEE, FEE]);
    const receipt = await (await tx).wait();
    const requestId = findEvent(oracle, receipt, "CodeAuditRequested").args.requestId;
    await expect(tx).to.emit(registry, "AuditRequested").withArgs(requestId, target, user.address, codeHash);
    const pending = await registry.pendingRequest(requestId);
    expect(pending.target).to.equal(target);
    expect(pending.payer).to.equal(user.address);
    expect(pending.codeHash).to.equal(codeHash);
    const view = await oracle.getRequest(requestId);
    expect(view.requester).to.equal(registryAddress);
    expect(view.callback).to.equal(registryAddress);
    expect(view.deadline - BigInt(await time.latest())).to.equal(BigInt(REQUEST_TTL));
  });

  it("lists a contract only when status == 0 and high == 0", async function () {
    const { oracle, registry, good, bad, signer, user } = await loadFixture(registryFixture);
    const cases = [
      { target: good, fields: { status: 0, high: 0, medium: 4 }, listed: true },
      { target: bad, fields: { status: 0, high: 1, medium: 0 }, listed: false },
    ];
    for (const { target, fields, listed } of cases) {
      const address = await target.getAddress();
      const requestId = await requestThroughRegistry(registry, oracle, user, address);
      await expect(answer(oracle, signer, requestId, fields))
        .to.emit(registry, "AuditRecorded")
        .withArgs(requestId, address, listed, fields.status, fields.high, fields.medium)
        .and.not.to.emit(oracle, "CallbackFailed");
      expect(await registry.isAudited(address)).to.equal(listed);
      const record = await registry.recordOf(address);
      expect(record.passed).to.equal(listed);
      expect(record.requestId).to.equal(requestId);
      expect(record.outputHash).to.equal(makeResult(requestId).outputHash);
      expect(record.medium).to.equal(BigInt(fields.medium));
      expect((await registry.pendingRequest(requestId)).target).to.equal(ethers.ZeroAddress);
    }
  });

  it("does not list a contract whose audit did not complete (status != 0)", async function () {
    const { oracle, registry, good, signer, user } = await loadFixture(registryFixture);
    const target = await good.getAddress();
    const requestId = await requestThroughRegistry(registry, oracle, user, target);
    await answer(oracle, signer, requestId, { status: 2, high: 0, medium: 0 });
    expect(await registry.isAudited(target)).to.equal(false);
    expect((await registry.recordOf(target)).status).to.equal(2n);
  });

  it("keeps the latest result, and a listing only holds for the audited code", async function () {
    const { oracle, registry, good, bad, signer, user } = await loadFixture(registryFixture);
    const target = await good.getAddress();
    await answer(oracle, signer, await requestThroughRegistry(registry, oracle, user, target), {});
    expect(await registry.isAudited(target)).to.equal(true);
    await answer(oracle, signer, await requestThroughRegistry(registry, oracle, user, target), { high: 2 });
    expect(await registry.isAudited(target)).to.equal(false);
    await answer(oracle, signer, await requestThroughRegistry(registry, oracle, user, target), {});
    expect(await registry.isAudited(target)).to.equal(true);
    // Different code at the same address (possible on a dev chain) is not the audited code.
    await setCode(target, await ethers.provider.getCode(await bad.getAddress()));
    expect(await registry.isAudited(target)).to.equal(false);
  });

  it("accepts callbacks from the oracle only", async function () {
    const { oracle, registry, good, other } = await loadFixture(registryFixture);
    await expect(registry.connect(other).onAuditResult(ethers.id("x"), ethers.id("y"), 0, 0, 0))
      .to.be.revertedWithCustomError(registry, "AuditedRegistry__OnlyOracle")
      .withArgs(other.address);
    await expect(other.sendTransaction({ to: await registry.getAddress(), value: 1n }))
      .to.be.revertedWithCustomError(registry, "AuditedRegistry__OnlyOracle")
      .withArgs(other.address);
    expect(await registry.isAudited(await good.getAddress())).to.equal(false);
  });

  it("ignores results of requests it did not make (the oracle records CallbackFailed)", async function () {
    const { oracle, registry, good, signer, other } = await loadFixture(registryFixture);
    const target = await good.getAddress();
    const deadline = (await time.latest()) + 3600;
    // Someone points a direct oracle request at the registry as callback.
    const receipt = await (
      await oracle
        .connect(other)
        .requestCodeAudit(target, await registry.getAddress(), CALLBACK_GAS_LIMIT, deadline, { value: FEE })
    ).wait();
    const requestId = findEvent(oracle, receipt, "CodeAuditRequested").args.requestId;
    await expect(answer(oracle, signer, requestId, {}))
      .to.emit(oracle, "CallbackFailed")
      .withArgs(requestId, await registry.getAddress());
    expect(await registry.isAudited(target)).to.equal(false);
    expect((await oracle.getRequest(requestId)).state).to.equal(State.Finalized);
  });

  it("forwards the refund of a cancelled request to its payer", async function () {
    const { oracle, registry, good, user, other } = await loadFixture(registryFixture);
    const requestId = await requestThroughRegistry(registry, oracle, user, await good.getAddress());
    await expect(registry.connect(user).cancel(requestId)).to.be.revertedWithCustomError(
      oracle,
      "AuditOracle__DeadlineNotReached",
    );
    await time.increase(REQUEST_TTL + 1);
    await expect(registry.connect(other).cancel(requestId))
      .to.be.revertedWithCustomError(registry, "AuditedRegistry__NotPayer")
      .withArgs(requestId, other.address, user.address);
    const tx = registry.connect(user).cancel(requestId);
    await expect(tx).to.emit(registry, "AuditRequestCancelled").withArgs(requestId, user.address, FEE);
    await expect(tx).to.changeEtherBalances([user, registry, oracle], [FEE, 0, -FEE]);
    expect((await oracle.getRequest(requestId)).state).to.equal(State.Cancelled);
    await expect(registry.connect(user).cancel(requestId))
      .to.be.revertedWithCustomError(registry, "AuditedRegistry__UnknownRequest")
      .withArgs(requestId);
  });

  it("reverts with RefundFailed when the payer rejects the refund", async function () {
    const { oracle, registry, good, user } = await loadFixture(registryFixture);
    const requestId = await requestThroughRegistry(registry, oracle, user, await good.getAddress());
    await time.increase(REQUEST_TTL + 1);
    const rejecting = await deploy("RejectingRequester");
    await setCode(user.address, await ethers.provider.getCode(await rejecting.getAddress()));
    await impersonateAccount(user.address);
    try {
      const asContract = await ethers.getImpersonatedSigner(user.address);
      await expect(registry.connect(asContract).cancel(requestId))
        .to.be.revertedWithCustomError(registry, "AuditedRegistry__RefundFailed")
        .withArgs(user.address, FEE);
    } finally {
      await stopImpersonatingAccount(user.address);
      await setCode(user.address, "0x");
    }
    expect((await oracle.getRequest(requestId)).state).to.equal(State.Open);
  });

  it("passes on the oracle's checks (fee, target without code)", async function () {
    const { oracle, registry, good, user, other } = await loadFixture(registryFixture);
    await expect(registry.connect(user).requestAudit(await good.getAddress(), { value: FEE - 1n }))
      .to.be.revertedWithCustomError(oracle, "AuditOracle__InsufficientFee")
      .withArgs(FEE - 1n, FEE);
    await expect(registry.connect(user).requestAudit(other.address, { value: FEE }))
      .to.be.revertedWithCustomError(oracle, "AuditOracle__TargetNotContract")
      .withArgs(other.address);
  });
});
