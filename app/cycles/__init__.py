"""PB cycles: districts, budgets, phases and voting rules."""
