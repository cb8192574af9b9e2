"""Ledger: append-only Merkle log per cycle, checkpoints, proofs, exports."""
