// Hardhat 2 configuration. Compiles offline: the compiler comes from the pinned `solc`
// npm package (solc-js) instead of Hardhat's download from binaries.soliditylang.org.
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");
require("@nomicfoundation/hardhat-ethers");
require("@nomicfoundation/hardhat-chai-matchers");

const SOLC_VERSION = require("solc/package.json").version;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) {
    // Only the pinned version is available offline; fail with a message instead of a download.
    throw new Error(
      `solc ${args.solcVersion} requested, but only ${SOLC_VERSION} (npm package solc) is available offline`,
    );
  }
  const compilerPath = require.resolve("solc/soljson.js");
  return { compilerPath, isSolcJs: true, version: SOLC_VERSION, longVersion: require("solc").version() };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 10_000 }, viaIR: true, evmVersion: "cancun" },
  },
  paths: {
    sources: "./contracts",
    tests: "./tests/contracts",
    cache: "./cache",
    artifacts: "./artifacts",
  },
  networks: {
    hardhat: { chainId: 31337 },
    localhost: { url: process.env.SOLSENTRY_RPC_URL || "http://127.0.0.1:8545" },
  },
  mocha: { timeout: 60_000 },
};
