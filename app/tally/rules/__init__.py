"""One module per family of rules; each exposes functions returning an Outcome."""
