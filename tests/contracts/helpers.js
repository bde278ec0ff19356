// Shared helpers for the AuditOracle Hardhat tests (no tests in this file).
const { ethers } = require("hardhat");
const { time } = require("@nomicfoundation/hardhat-network-helpers");

const DOMAIN_NAME = "SolSentry AuditOracle";
const DOMAIN_VERSION = "1";
const CHAIN_ID = 31337;

const AUDIT_RESULT_TYPES = {
  AuditResult: [
    { name: "requestId", type: "bytes32" },
    { name: "outputHash", type: "bytes32" },
    { name: "modelHash", type: "bytes32" },
    { name: "status", type: "uint8" },
    { name: "high", type: "uint8" },
    { name: "medium", type: "uint8" },
  ],
};

// Mirrors IAuditOracle's enums.
const State = { None: 0n, Open: 1n, Finalized: 2n, Cancelled: 3n };
const Outcome = { Finalized: 0n, Recorded: 1n, AlreadyFinalized: 2n, NotOpen: 3n, DuplicateSigner: 4n };

const SECP256K1_N = BigInt("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");

const FEE = ethers.parseEther("0.01");
const URI_46 = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuy"; // 46 bytes
const INPUT_HASH = ethers.keccak256(ethers.toUtf8Bytes("sources.zip"));
const MODEL_HASH = ethers.keccak256(ethers.toUtf8Bytes("solsentry-model-v1"));

async function domainOf(oracle, overrides = {}) {
  return {
    name: DOMAIN_NAME,
    version: DOMAIN_VERSION,
    chainId: CHAIN_ID,
    verifyingContract: await oracle.getAddress(),
    ...overrides,
  };
}

function makeResult(requestId, overrides = {}) {
  return {
    requestId,
    outputHash: ethers.keccak256(ethers.toUtf8Bytes("report:" + requestId)),
    modelHash: MODEL_HASH,
    status: 0,
    high: 0,
    medium: 0,
    ...overrides,
  };
}

/** EIP-712 signature of `result` by `signer` (a Wallet or a Hardhat signer). */
async function signResult(signer, oracle, result, domainOverrides = {}) {
  return signer.signTypedData(await domainOf(oracle, domainOverrides), AUDIT_RESULT_TYPES, result);
}

async function digestOf(oracle, result) {
  return ethers.TypedDataEncoder.hash(await domainOf(oracle), AUDIT_RESULT_TYPES, result);
}

/** Flips a signature to its malleable twin (s -> n - s, v 27 <-> 28). */
function malleate(signature) {
  const sig = ethers.Signature.from(signature);
  const s = SECP256K1_N - BigInt(sig.s);
  const v = sig.v === 27 ? 28 : 27;
  return ethers.concat([sig.r, ethers.toBeHex(s, 32), ethers.toBeHex(v, 1)]);
}

async function deadlineIn(seconds) {
  return (await time.latest()) + seconds;
}

/** Parses the first log of `eventName` emitted by `contract` in `receipt`. */
function findEvent(contract, receipt, eventName) {
  for (const log of receipt.logs) {
    try {
      const parsed = contract.interface.parseLog(log);
      if (parsed && parsed.name === eventName) return parsed;
    } catch (_) {
      // log of another contract
    }
  }
  throw new Error(`event ${eventName} not found`);
}

/**
 * Opens a request with a URI input; returns { requestId, receipt, deadline }.
 * opts: { from, value, callback, callbackGasLimit, deadline, uri, inputHash, inline }
 */
async function openRequest(oracle, opts = {}) {
  const deadline = opts.deadline ?? (await deadlineIn(3600));
  const tx = await oracle
    .connect(opts.from)
    .requestAudit(
      opts.inputHash ?? INPUT_HASH,
      opts.uri ?? URI_46,
      opts.inline ?? "0x",
      opts.callback ?? ethers.ZeroAddress,
      opts.callbackGasLimit ?? 0,
      deadline,
      { value: opts.value ?? (await oracle.fee()) },
    );
  const receipt = await tx.wait();
  const { requestId } = findEvent(oracle, receipt, "AuditRequested").args;
  return { requestId, receipt, deadline };
}

function popcount(x) {
  let n = 0;
  for (let v = BigInt(x); v; v &= v - 1n) n++;
  return n;
}

module.exports = {
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
  domainOf,
  findEvent,
  makeResult,
  malleate,
  openRequest,
  popcount,
  signResult,
};
