"""Infrastructure shared by every domain; imports no domain.

Stable names other domains and tests rely on (keep them):

- ``app.core.config.get_settings`` / ``Settings`` / ``SettingsDep``
- ``app.core.db.SessionDep`` (one session per request, committed when the handler returns,
  rolled back on error), ``app.core.db.write_transaction`` (BEGIN IMMEDIATE on SQLite),
  ``app.core.db.utcnow``, ``app.core.db.UTCDateTime``
- ``app.core.security.CurrentUser`` / ``OptionalUser`` / ``require_role`` / ``Role`` / ``User``
- ``app.core.templating.render`` (full page, or ``block`` alone for htmx requests)
- ``app.core.htmx.is_htmx`` / ``see_other``
- ``app.core.errors.DomainError`` (+ ``NotFoundError``, ``PermissionDeniedError``,
  ``ConflictError``) and ``FormError`` (carry a re-rendered form out of a handler so the
  request's transaction is rolled back)
- ``app.core.i18n._`` / ``gettext`` / ``ngettext`` / ``N_``
- ``app.core.money.parse_money`` / ``format_money``

The naming convention below is installed on SQLModel's metadata before any table module is
imported (every table module imports from ``app.core``), so constraint names are stable
across SQLite and PostgreSQL and Alembic can drop them by name.
"""

from sqlmodel import SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
