"""Tables of the ballots domain.

A ballot row has a random id (the voter's receipt), its cycle and district, and nothing that
points at the access code that allowed it: no code id, no time of casting.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint
from sqlmodel import Field, SQLModel


class Ballot(SQLModel, table=True):
    __tablename__ = "ballot"
    __table_args__ = (CheckConstraint("total_cost >= 0", name="total_cost_non_negative"),)

    id: str = Field(primary_key=True, max_length=32)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    total_cost: int = Field(sa_type=BigInteger)


class BallotItem(SQLModel, table=True):
    """One approved project on a ballot."""

    __tablename__ = "ballot_item"

    ballot_id: str = Field(foreign_key="ballot.id", primary_key=True, max_length=32)
    proposal_id: int = Field(foreign_key="proposal.id", primary_key=True, index=True)
