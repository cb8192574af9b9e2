"""Plaza: participatory budgeting with exact, explained and verifiable tallies."""

__version__ = "0.1.0"
