"""Ballots: ballot kinds, casting, receipts, paper batches."""
