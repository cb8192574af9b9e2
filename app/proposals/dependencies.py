"""Load a proposal from the URL or answer 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.db import SessionDep
from app.proposals import service
from app.proposals.models import Proposal


def valid_proposal(proposal_id: int, session: SessionDep) -> Proposal:
    return service.get_proposal(session, proposal_id)


ValidProposal = Annotated[Proposal, Depends(valid_proposal)]
