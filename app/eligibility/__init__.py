"""Eligibility: voter roll, access codes, verification channels."""
