// SPDX-License-Identifier: MIT
// Example for SolSentry: modern Solidity with tx.origin authorization and an unchecked call.
pragma solidity ^0.8.20;

contract Treasury {
    address public owner;

    constructor() {
        owner = msg.sender;
    }

    receive() external payable {}

    function pay(address payable to, uint256 amount) external {
        // tx.origin lets any contract the owner interacts with spend the treasury.
        require(tx.origin == owner, "not owner");
        to.call{value: amount}("");
    }

    function retire() external {
        require(msg.sender == owner, "not owner");
        selfdestruct(payable(owner));
    }
}
