"""Proposals: intake, review and costing; accepted proposals become ballot projects."""
