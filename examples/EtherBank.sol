// SPDX-License-Identifier: MIT
// Example for SolSentry: a bank that pays out before it updates its books (reentrancy).
pragma solidity ^0.4.24;

contract EtherBank {
    mapping(address => uint256) public credit;

    function deposit() public payable {
        credit[msg.sender] += msg.value;
    }

    function withdrawAll() public {
        uint256 owed = credit[msg.sender];
        require(owed > 0);
        // The external call runs before the balance is cleared: the callee can call back in.
        require(msg.sender.call.value(owed)());
        credit[msg.sender] = 0;
    }

    function balanceOf(address who) public view returns (uint256) {
        return credit[who];
    }
}
