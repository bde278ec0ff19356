"""SolSentry oracle: on-chain audit requests answered with signed, hashed reports."""
