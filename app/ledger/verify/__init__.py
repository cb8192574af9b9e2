"""The offline verifier of a Plaza ledger export.

Imports only the standard library, ``cryptography`` and ``app.tally`` (an import-linter contract
in pyproject.toml keeps it so): an auditor runs it from an export alone, without server code.
"""
