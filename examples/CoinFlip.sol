// SPDX-License-Identifier: MIT
// Example for SolSentry: "randomness" that miners and callers can predict.
pragma solidity ^0.5.0;

contract CoinFlip {
    uint256 public constant STAKE = 0.1 ether;

    function () external payable {}

    function flip(bool guess) external payable {
        require(msg.value == STAKE, "stake");
        bool side = uint256(keccak256(abi.encodePacked(blockhash(block.number - 1), now))) % 2 == 0;
        if (side == guess) {
            msg.sender.transfer(2 * STAKE);
        }
    }
}
