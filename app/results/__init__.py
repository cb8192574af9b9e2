"""Results: runs the tally on stored ballots, publishes and explains outcomes."""
