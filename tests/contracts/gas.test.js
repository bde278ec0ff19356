const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { FEE, URI_46, findEvent, makeResult, openRequest, signResult } = require("./helpers");

const MAX_FULFILL_GAS = 50_000n;
const MAX_REQUEST_GAS = 90_000n;

describe("AuditOracle gas", function () {
  async function deployFixture() {
    const [owner, signer, user, relayer] = await ethers.getSigners();
    const Oracle = await ethers.getContractFactory("AuditOracle");
    const oracle = await Oracle.deploy(owner.address, [signer.address], 1, FEE);
    return { oracle, owner, signer, user, relayer };
  }

  it(`requestAudit with a 46-byte URI (no inline input, no callback) uses <= ${MAX_REQUEST_GAS} gas`, async function () {
    const { oracle, user } = await loadFixture(deployFixture);
    expect(Buffer.byteLength(URI_46)).to.equal(46);
    const first = await openRequest(oracle, { from: user });
    const second = await openRequest(oracle, { from: user });
    console.log(`      gas: requestAudit (46-byte URI) first=${first.receipt.gasUsed} second=${second.receipt.gasUsed}`);
    expect(first.receipt.gasUsed).to.be.lte(MAX_REQUEST_GAS);
    expect(second.receipt.gasUsed).to.be.lte(MAX_REQUEST_GAS);
  });

  it(`single-signer fulfill without callback uses <= ${MAX_FULFILL_GAS} gas`, async function () {
    const { oracle, signer, user, relayer } = await loadFixture(deployFixture);
    const used = [];
    for (let i = 0; i < 3; i++) {
      const { requestId } = await openRequest(oracle, { from: user });
      const result = makeResult(requestId, { high: 1, medium: 3 });
      const signature = await signResult(signer, oracle, result);
      const receipt = await (await oracle.connect(relayer).fulfill(result, signature)).wait();
      used.push(receipt.gasUsed);
      if (i === 1) await oracle.connect(signer).withdraw(); // credit back to 0: the slot stays nonzero
    }
    console.log(`      gas: fulfill (threshold 1, no callback) ${used.join(", ")}`);
    for (const g of used) expect(g).to.be.lte(MAX_FULFILL_GAS);
  });

  it("reports other costs (informational, no limits)", async function () {
    const [owner, s1, s2, s3, user] = await ethers.getSigners();
    const Oracle = await ethers.getContractFactory("AuditOracle");
    const quorum = await Oracle.deploy(owner.address, [s1.address, s2.address, s3.address], 2, FEE);
    const { requestId } = await openRequest(quorum, { from: user });
    const result = makeResult(requestId);
    const vote1 = await (await quorum.fulfill(result, await signResult(s1, quorum, result))).wait();
    const vote2 = await (await quorum.fulfill(result, await signResult(s2, quorum, result))).wait();
    const late = await (await quorum.fulfill(result, await signResult(s3, quorum, result))).wait();

    const { oracle, signer } = await loadFixture(deployFixture);
    const target = await (await ethers.getContractFactory("RecordingConsumer")).deploy();
    const targetAddress = await target.getAddress();
    const deadline = (await ethers.provider.getBlock("latest")).timestamp + 3600;
    const code = await (
      await oracle.connect(user).requestCodeAudit(targetAddress, targetAddress, 300_000, deadline, { value: FEE })
    ).wait();
    const codeId = findEvent(oracle, code, "CodeAuditRequested").args.requestId;
    const codeResult = makeResult(codeId);
    const withCallback = await (await oracle.fulfill(codeResult, await signResult(signer, oracle, codeResult))).wait();
    const withdrawal = await (await oracle.connect(signer).withdraw()).wait();
    console.log(
      `      gas: quorum 2-of-3 vote=${vote1.gasUsed} finalizing vote=${vote2.gasUsed} late vote=${late.gasUsed}; ` +
        `requestCodeAudit with callback=${code.gasUsed}; fulfill + RecordingConsumer callback=${withCallback.gasUsed}; ` +
        `withdraw=${withdrawal.gasUsed}`,
    );
  });
});
