"""Account tables live in ``app.core.security`` (guards need them); re-exported here."""

from app.core.security import Role, User, UserSession

__all__ = ["Role", "User", "UserSession"]
