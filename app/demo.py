"""The demo city: accounts, two cycles, twenty proposals, one cycle open for voting.

``load_demo(session, settings)`` is idempotent (it does nothing when the demo cycle exists)
and goes through the services (the same write paths as the pages).  ``plaza demo`` runs it
after migrating and prints the summary; other domains append their demo data in
``load_demo`` (access codes: see ``_extra_demo_data``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from app.accounts import service as accounts_service
from app.core.config import Settings
from app.core.security import Role, User
from app.cycles import service as cycles_service
from app.cycles.models import Cycle, Phase
from app.proposals import service as proposals_service

DEMO_TITLE = "Riverside participatory budget 2026"
NEXT_TITLE = "Riverside participatory budget 2027"
DEMO_ACCOUNTS: tuple[tuple[Role, str, str, str], ...] = (
    (Role.organizer, "organizer@demo.plaza.example", "demo-organizer-pass", "Demo organizer"),
    (Role.auditor, "auditor@demo.plaza.example", "demo-auditor-pass", "Demo auditor"),
    (Role.resident, "resident@demo.plaza.example", "demo-resident-pass", "Demo resident"),
)

# (district index, title, description, estimated cost in cents, decision, final cost or reason)
VOTING_PROPOSALS: tuple[tuple[int, str, str, int, str, int | str], ...] = (
    (
        0,
        "Shade trees on Market Square",
        "Plant twenty shade trees with benches around Market Square.",
        60_000_00,
        "accept",
        65_000_00,
    ),
    (
        0,
        "Library reading garden",
        "Turn the yard behind the library into a quiet reading garden.",
        45_000_00,
        "accept",
        48_000_00,
    ),
    (
        0,
        "Safe crossing at School Street",
        "Raised crossing and lights at the primary school.",
        80_000_00,
        "accept",
        90_000_00,
    ),
    (
        0,
        "Public drinking fountains",
        "Four drinking fountains along the river walk.",
        20_000_00,
        "accept",
        22_000_00,
    ),
    (
        0,
        "Repair café workshop",
        "Tools and a room for a monthly repair café.",
        15_000_00,
        "accept",
        12_500_00,
    ),
    (
        0,
        "Skate park",
        "A small concrete skate park near the old tram depot.",
        150_000_00,
        "accept",
        160_000_00,
    ),
    (
        0,
        "Heated outdoor pool",
        "An Olympic-size heated pool.",
        2_000_000_00,
        "reject",
        "Costs far more than the district budget.",
    ),
    (
        1,
        "Harbour playground",
        "A climbing playground on the harbour lawn.",
        70_000_00,
        "accept",
        75_000_00,
    ),
    (
        1,
        "Bike lanes on Quay Road",
        "Protected bike lanes on the full length of Quay Road.",
        120_000_00,
        "accept",
        130_000_00,
    ),
    (
        1,
        "Community boat shed",
        "A shed and two rowing boats for the neighbourhood.",
        35_000_00,
        "accept",
        38_000_00,
    ),
    (
        1,
        "Night lighting on the pier",
        "Solar lamps on the fishing pier.",
        25_000_00,
        "accept",
        27_000_00,
    ),
    (
        1,
        "Private parking garage",
        "A parking garage for the shipping company.",
        500_000_00,
        "reject",
        "Serves a private business, not the public.",
    ),
    (
        1,
        "Fish market roof",
        "Replace the roof of the Saturday fish market.",
        60_000_00,
        "reject",
        "Already funded by the regular city budget.",
    ),
    (
        1,
        "Benches along the quay",
        "Twelve benches facing the water.",
        12_000_00,
        "accept",
        14_400_00,
    ),
)
INTAKE_PROPOSALS: tuple[tuple[int, str, str, int], ...] = (
    (0, "Open-air chess tables", "Six chess tables in the park by the town hall.", 9_000_00),
    (
        0,
        "Green roof on the bus shelter",
        "Plants on the roofs of the ten busiest bus shelters.",
        30_000_00,
    ),
    (0, "Neighbourhood tool library", "Lend drills, ladders and garden tools for free.", 18_000_00),
    (
        1,
        "Harbour festival stage",
        "A foldable stage for summer concerts at the harbour.",
        40_000_00,
    ),
    (1, "Tide pool education signs", "Signs that explain the life of the tide pools.", 6_000_00),
    (1, "Kayak launch ramp", "A ramp so kayaks can get into the water safely.", 22_000_00),
)


@dataclass
class DemoSummary:
    created: bool
    accounts: list[tuple[str, str, str]] = field(default_factory=list)
    voting_cycle_id: int | None = None
    intake_cycle_id: int | None = None
    lines: list[str] = field(default_factory=list)


def _account(
    session: Session, settings: Settings, role: Role, email: str, password: str, name: str
) -> User:
    user = session.exec(select(User).where(User.email == email)).first()
    if user is not None:
        return user
    return accounts_service.create_account(
        session, email=email, password=password, display_name=name, role=role, settings=settings
    )


DEMO_CODES_PER_DISTRICT = 10


def _demo_access_codes(
    session: Session, settings: Settings, summary: DemoSummary, *, create: bool
) -> None:
    """A batch of known access codes per district of the voting cycle, printed at every start.

    Demo codes are derived from their district (``demo_code``) so they can be printed again;
    real batches are random and shown once.  Used codes are marked as such.
    """
    from app.eligibility import service as eligibility_service
    from app.eligibility.codes import demo_code, format_code

    if summary.voting_cycle_id is None:
        return
    key = settings.access_code_key.get_secret_value().encode()
    summary.lines.append("access codes to vote in the demo cycle (each works once):")
    for district in cycles_service.list_districts(session, summary.voting_cycle_id):
        codes = [
            demo_code(f"{summary.voting_cycle_id}:{district.id}:{i}")
            for i in range(DEMO_CODES_PER_DISTRICT)
        ]
        if create:
            eligibility_service.issue_access_codes(
                session, district_id=district.id or 0, count=len(codes), key=key, given=codes
            )
        summary.lines.append(f"  {district.name}:")
        for code in codes:
            used = eligibility_service.code_is_used(session, canonical=code, key=key)
            if used is not None:
                summary.lines.append(f"    {format_code(code)}" + ("  (used)" if used else ""))


def _extra_demo_data(session: Session, settings: Settings, summary: DemoSummary) -> None:
    """Other domains' demo data (e.g. a batch of access codes for the voting cycle)."""
    _demo_access_codes(session, settings, summary, create=True)


def load_demo(session: Session, settings: Settings) -> DemoSummary:
    users = {
        role: _account(session, settings, role, email, password, name)
        for role, email, password, name in DEMO_ACCOUNTS
    }
    summary = DemoSummary(
        created=False,
        accounts=[(role.value, email, password) for role, email, password, _n in DEMO_ACCOUNTS],
    )
    existing = session.exec(select(Cycle).where(Cycle.title == DEMO_TITLE)).first()
    if existing is not None:
        summary.voting_cycle_id = existing.id
        later = session.exec(select(Cycle).where(Cycle.title == NEXT_TITLE)).first()
        summary.intake_cycle_id = later.id if later else None
        _demo_access_codes(session, settings, summary, create=False)
        return summary
    summary.created = True
    organizer, resident = users[Role.organizer], users[Role.resident]

    voting = cycles_service.create_cycle(
        session,
        title=DEMO_TITLE,
        description=(
            "Residents of Riverside decide how to spend 500,000 euros in two districts.\n\n"
            "Pick the projects you support; their total cost must fit your district's budget."
        ),
        currency="EUR",
        districts=[("Old Town", 300_000_00), ("Harbour", 200_000_00)],
        actor_id=organizer.id,
    )
    districts = cycles_service.list_districts(session, voting.id or 0)
    proposals_service.move_phase(session, cycle=voting, to=Phase.intake, actor=organizer)
    submitted = []
    for index, title, description, cost, decision, outcome in VOTING_PROPOSALS:
        submitted.append(
            (
                proposals_service.submit_proposal(
                    session,
                    cycle=voting,
                    author=resident,
                    district_id=districts[index].id,
                    title=title,
                    description=description,
                    estimated_cost_minor=cost,
                ),
                decision,
                outcome,
            )
        )
    proposals_service.move_phase(session, cycle=voting, to=Phase.review, actor=organizer)
    for proposal, decision, outcome in submitted:
        proposals_service.review_proposal(
            session,
            proposal=proposal,
            cycle=voting,
            reviewer=organizer,
            decision=decision,
            final_cost_minor=outcome if isinstance(outcome, int) else None,
            reason=outcome if isinstance(outcome, str) else "",
        )
    proposals_service.move_phase(session, cycle=voting, to=Phase.voting, actor=organizer)

    intake = cycles_service.create_cycle(
        session,
        title=NEXT_TITLE,
        description="Next year's cycle: proposals are welcome now.",
        currency="EUR",
        districts=[("Old Town", 320_000_00), ("Harbour", 210_000_00)],
        actor_id=organizer.id,
    )
    later_districts = cycles_service.list_districts(session, intake.id or 0)
    proposals_service.move_phase(session, cycle=intake, to=Phase.intake, actor=organizer)
    for index, title, description, cost in INTAKE_PROPOSALS:
        proposals_service.submit_proposal(
            session,
            cycle=intake,
            author=resident,
            district_id=later_districts[index].id,
            title=title,
            description=description,
            estimated_cost_minor=cost,
        )
    summary.voting_cycle_id = voting.id
    summary.intake_cycle_id = intake.id
    _extra_demo_data(session, settings, summary)
    return summary
