"""Accounts: residents, organizers and auditors; roles and login."""
