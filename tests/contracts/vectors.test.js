// Cross-checks the EIP-712 encoding of AuditResult between the Python side of SolSentry (which
// writes tests/fixtures/eip712-vectors.json) and the AuditOracle contract / ethers.
const fs = require("fs");
const path = require("path");
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { AUDIT_RESULT_TYPES, DOMAIN_NAME, DOMAIN_VERSION, SECP256K1_N, State, findEvent } = require("./helpers");

// SOLSENTRY_EIP712_VECTORS may point elsewhere (e.g. to check the message for a missing file).
const VECTORS_PATH =
  process.env.SOLSENTRY_EIP712_VECTORS || path.join(__dirname, "..", "fixtures", "eip712-vectors.json");

let vectors; // parsed file, loaded in before()

// Deploys AuditOracle from the vector file's deployer key at nonce 0 (so that its address is the
// domain's verifyingContract), with the vector signer as the only signer, threshold 1 and fee 0.
async function vectorOracleFixture() {
  const [funder] = await ethers.getSigners();
  const deployer = new ethers.Wallet(vectors.deployer_private_key, ethers.provider);
  await (await funder.sendTransaction({ to: deployer.address, value: ethers.parseEther("10") })).wait();
  const nonce = await ethers.provider.getTransactionCount(deployer.address);
  const factory = await ethers.getContractFactory("AuditOracle", deployer);
  const oracle = await factory.deploy(deployer.address, [vectors.signer_address], 1, 0);
  await oracle.waitForDeployment();
  return { oracle, deployer, nonce };
}

function toResult(r) {
  return {
    requestId: r.requestId,
    outputHash: r.outputHash,
    modelHash: r.modelHash,
    status: r.status,
    high: r.high,
    medium: r.medium,
  };
}

describe("EIP-712 shared test vectors (tests/fixtures/eip712-vectors.json)", function () {
  before(function () {
    if (!fs.existsSync(VECTORS_PATH)) {
      throw new Error(
        `${path.relative(process.cwd(), VECTORS_PATH)} is missing. It is written by the Python side of ` +
          "SolSentry (shared EIP-712 vectors for AuditResult); generate it (.venv/bin/python tests/fixtures/eip712_vectors.py), then rerun the Hardhat tests.",
      );
    }
    vectors = JSON.parse(fs.readFileSync(VECTORS_PATH, "utf8"));
    for (const key of ["domain", "deployer_private_key", "signer_private_key", "signer_address", "vectors"]) {
      if (!(key in vectors)) throw new Error(`${VECTORS_PATH}: missing key "${key}"`);
    }
    if (!Array.isArray(vectors.vectors) || vectors.vectors.length === 0) {
      throw new Error(`${VECTORS_PATH}: "vectors" must be a non-empty list`);
    }
  });

  it("describes this contract's domain, deployed by the deployer key at nonce 0", async function () {
    const { oracle, deployer, nonce } = await loadFixture(vectorOracleFixture);
    expect(nonce, "the deployer key must be fresh (nonce 0)").to.equal(0);
    const { domain } = vectors;
    expect(domain.name).to.equal(DOMAIN_NAME);
    expect(domain.version).to.equal(DOMAIN_VERSION);
    expect(BigInt(domain.chainId)).to.equal((await ethers.provider.getNetwork()).chainId);
    expect(ethers.getAddress(domain.verifyingContract)).to.equal(
      ethers.getCreateAddress({ from: deployer.address, nonce: 0 }),
    );
    expect(await oracle.getAddress()).to.equal(ethers.getAddress(domain.verifyingContract));
    const onChain = await oracle.eip712Domain();
    expect([onChain.name, onChain.version, onChain.chainId, onChain.verifyingContract]).to.deep.equal([
      domain.name,
      domain.version,
      BigInt(domain.chainId),
      ethers.getAddress(domain.verifyingContract),
    ]);
  });

  it("signer_address belongs to signer_private_key", function () {
    expect(new ethers.Wallet(vectors.signer_private_key).address).to.equal(ethers.getAddress(vectors.signer_address));
  });

  it("resultDigest() and ethers' TypedDataEncoder.hash give each vector's digest", async function () {
    const { oracle } = await loadFixture(vectorOracleFixture);
    for (const [i, v] of vectors.vectors.entries()) {
      const result = toResult(v.result);
      expect(await oracle.resultDigest(result), `vector ${i}: resultDigest`).to.equal(v.digest.toLowerCase());
      expect(ethers.TypedDataEncoder.hash(vectors.domain, AUDIT_RESULT_TYPES, result), `vector ${i}: ethers`).to.equal(
        v.digest.toLowerCase(),
      );
    }
  });

  it("each vector's signature recovers signer_address and is canonical (low s, v 27/28)", async function () {
    const signer = ethers.getAddress(vectors.signer_address);
    for (const [i, v] of vectors.vectors.entries()) {
      const result = toResult(v.result);
      expect(ethers.verifyTypedData(vectors.domain, AUDIT_RESULT_TYPES, result, v.signature), `vector ${i}`).to.equal(
        signer,
      );
      expect(ethers.recoverAddress(v.digest, v.signature), `vector ${i}`).to.equal(signer);
      const bytes = ethers.getBytes(v.signature);
      expect(bytes.length, `vector ${i}: 65-byte r || s || v`).to.equal(65);
      expect(BigInt(ethers.hexlify(bytes.slice(32, 64))) <= SECP256K1_N / 2n, `vector ${i}: low s`).to.equal(true);
      expect([27, 28], `vector ${i}: v`).to.include(bytes[64]);
    }
  });

  it("accepts a result for a real request signed with the vector signer's key", async function () {
    const { oracle, deployer } = await loadFixture(vectorOracleFixture);
    const template = vectors.vectors[0].result;
    const receipt = await (
      await oracle.connect(deployer).requestAudit(
        template.modelHash, // any 32-byte input hash
        "ipfs://vector-acceptance",
        "0x",
        ethers.ZeroAddress,
        0,
        (await ethers.provider.getBlock("latest")).timestamp + 3600,
      )
    ).wait();
    const { requestId } = findEvent(oracle, receipt, "AuditRequested").args;
    const result = { ...toResult(template), requestId };
    const wallet = new ethers.Wallet(vectors.signer_private_key);
    const signature = await wallet.signTypedData(vectors.domain, AUDIT_RESULT_TYPES, result);
    await expect(oracle.fulfill(result, signature))
      .to.emit(oracle, "AuditFinalized")
      .withArgs(requestId, result.outputHash, result.modelHash, result.status, result.high, result.medium);
    expect((await oracle.getRequest(requestId)).state).to.equal(State.Finalized);
  });
});
