from __future__ import annotations

import pytest

from app.core.errors import DomainError
from app.core.i18n import set_locale
from app.core.money import format_money, minor_to_major_text, parse_money


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1500", "EUR", 150000),
        ("1500.5", "EUR", 150050),
        ("0.01", "EUR", 1),
        (" 1 234.00 ", "EUR", 123400),
        ("1500", "JPY", 1500),
        ("0", "EUR", 0),
    ],
)
def test_parse_money(text: str, currency: str, minor: int) -> None:
    assert parse_money(text, currency) == minor


@pytest.mark.parametrize(
    "text", ["", "abc", "-5", "1.001", "1e400", "NaN", "Infinity", "1,5", "9" * 40, "1" * 20]
)
def test_parse_money_refuses_bad_amounts(text: str) -> None:
    with pytest.raises(DomainError):
        parse_money(text, "EUR")


def test_yen_has_no_cents() -> None:
    with pytest.raises(DomainError, match="0 decimal"):
        parse_money("10.5", "JPY")


def test_format_money_follows_locale() -> None:
    set_locale("en")
    assert format_money(123456, "EUR") == "€1,234.56"
    set_locale("zh_Hans")
    assert format_money(123456, "CNY") == "¥1,234.56"
    set_locale("en")
    assert minor_to_major_text(5, "EUR") == "0.05"
    assert minor_to_major_text(5, "JPY") == "5"
