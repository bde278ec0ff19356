// SPDX-License-Identifier: MIT
// Example for SolSentry: unchecked arithmetic in a pre-0.8 token-style wallet.
pragma solidity >=0.4.22 <0.6.0;

contract TimeLockedWallet {
    mapping(address => uint256) public balance;
    mapping(address => uint256) public unlockAt;

    function lock(uint256 extraSeconds) public payable {
        balance[msg.sender] += msg.value;
        // Overflows for a large extraSeconds and unlocks the funds at once.
        unlockAt[msg.sender] = now + extraSeconds;
    }

    function release() public {
        require(now >= unlockAt[msg.sender]);
        uint256 amount = balance[msg.sender];
        balance[msg.sender] = 0;
        msg.sender.transfer(amount);
    }
}
