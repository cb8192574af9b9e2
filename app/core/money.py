"""Money: integer minor units everywhere; parsing and formatting at the edges only."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision

from app.core.errors import DomainError
from app.core.i18n import _, get_locale

MAX_MINOR = 10**15  # far above any municipal budget; keeps every sum inside BIGINT


def currency_exponent(currency: str) -> int:
    return int(get_currency_precision(currency))


def parse_money(text: str, currency: str, *, field: str | None = None) -> int:
    """Read an amount typed by a person ("1234.50" or "1 234.50") into minor units.

    Refuses (``DomainError``) empty, negative, non-numeric, too precise and absurd amounts.
    """
    cleaned = (text or "").strip().replace(" ", "").replace("\u00a0", "")
    if not cleaned:
        raise DomainError(_("Enter an amount."), field=field)
    if "," in cleaned:
        raise DomainError(
            _("Write the amount without commas, with a dot before the cents: 1500.00."),
            field=field,
        )
    if len(cleaned) > 30:
        raise DomainError(_("That amount is too large."), field=field)
    if not all(ch in "0123456789.-+" for ch in cleaned):
        raise DomainError(_("Enter the amount as a number, for example 1500.00."), field=field)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise DomainError(
            _("Enter the amount as a number, for example 1500.00."), field=field
        ) from None
    if not amount.is_finite():
        raise DomainError(_("Enter the amount as a number, for example 1500.00."), field=field)
    if amount < 0:
        raise DomainError(_("The amount cannot be negative."), field=field)
    exponent = currency_exponent(currency)
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise DomainError(
            _("Use at most %(digits)d decimal places for this currency.") % {"digits": exponent},
            field=field,
        )
    value = int(minor)
    if value > MAX_MINOR:
        raise DomainError(_("That amount is too large."), field=field)
    return value


def minor_to_major_text(minor: int, currency: str) -> str:
    """Plain, locale-free text for a form field ("1500.00")."""
    exponent = currency_exponent(currency)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


def format_money(minor: int | None, currency: str) -> str:
    """``minor`` units of ``currency`` for the current locale (exact, via Decimal)."""
    if minor is None:
        return ""
    amount = Decimal(minor).scaleb(-currency_exponent(currency))
    return str(format_currency(amount, currency, locale=get_locale()))
