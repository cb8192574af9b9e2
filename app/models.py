"""Imports every table module (for Alembic and tests), nothing else.

Domains that add tables add their ``models`` module here.
"""

from app.ballots import models as ballots_models  # noqa: F401
from app.core import ratelimit, security  # noqa: F401
from app.cycles import models as cycles_models  # noqa: F401
from app.eligibility import models as eligibility_models  # noqa: F401
from app.proposals import models as proposals_models  # noqa: F401
from app.results import models as results_models  # noqa: F401
