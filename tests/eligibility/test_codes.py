"""Access codes: entropy, printed form, typo detection, keyed hashing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.eligibility.codes import (
    ALPHABET,
    CODE_SYMBOLS,
    DATA_SYMBOLS,
    ENTROPY_BITS,
    CodeFormatError,
    code_hash,
    format_code,
    generate_code,
    normalize_code,
)

codes = st.text(alphabet=ALPHABET, min_size=DATA_SYMBOLS, max_size=DATA_SYMBOLS).map(
    lambda data: data + normalize_check(data)
)


def normalize_check(data: str) -> str:
    # Find the two check symbols by asking normalize_code which suffix it accepts.
    for a in ALPHABET:
        for b in ALPHABET:
            try:
                normalize_code(data + a + b)
            except CodeFormatError:
                continue
            return a + b
    raise AssertionError("no check symbols accepted")


def test_entropy_is_at_least_100_bits() -> None:
    assert ENTROPY_BITS >= 100
    assert len(ALPHABET) == 32 and len(set(ALPHABET)) == 32


def test_generated_codes_are_distinct_and_valid() -> None:
    seen = {generate_code() for _ in range(2000)}
    assert len(seen) == 2000
    for code in list(seen)[:200]:
        assert len(code) == CODE_SYMBOLS
        assert normalize_code(code) == code
        assert normalize_code(format_code(code)) == code


def test_printed_form_is_grouped() -> None:
    code = generate_code()
    printed = format_code(code)
    assert printed.count("-") == CODE_SYMBOLS // 4 - 1
    assert all(len(g) == 4 for g in printed.split("-"))


def test_reading_forgives_case_spaces_and_confusable_letters() -> None:
    code = generate_code()
    typed = " ".join(format_code(code).lower().split("-"))
    assert normalize_code(typed) == code
    assert normalize_code(code.replace("0", "O").replace("1", "l")) == code


@given(codes, st.integers(0, CODE_SYMBOLS - 1), st.sampled_from(ALPHABET))
def test_every_single_wrong_symbol_is_caught(code: str, pos: int, symbol: str) -> None:
    if code[pos] == symbol:
        return
    mutated = code[:pos] + symbol + code[pos + 1 :]
    with pytest.raises(CodeFormatError) as exc:
        normalize_code(mutated)
    assert exc.value.reason == "typo"


@given(codes, st.integers(0, CODE_SYMBOLS - 2))
def test_every_swap_of_neighbours_is_caught(code: str, pos: int) -> None:
    if code[pos] == code[pos + 1] or pos == DATA_SYMBOLS - 1:
        # Equal neighbours: nothing changed. The swap across the data/check boundary is
        # caught with probability 1 - 1/1021 only, see test below.
        return
    mutated = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
    with pytest.raises(CodeFormatError):
        normalize_code(mutated)


def test_exhaustive_single_errors_on_one_code() -> None:
    code = generate_code()
    for pos in range(CODE_SYMBOLS):
        for symbol in ALPHABET:
            if symbol != code[pos]:
                with pytest.raises(CodeFormatError):
                    normalize_code(code[:pos] + symbol + code[pos + 1 :])


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("   ", "empty"), ("ABCD-EFGH-U", "bad_symbol"), ("ABCD", "bad_length")],
)
def test_malformed_text_has_a_reason(text: str, reason: str) -> None:
    with pytest.raises(CodeFormatError) as exc:
        normalize_code(text)
    assert exc.value.reason == reason


def test_hash_is_keyed_and_not_the_code() -> None:
    code = generate_code()
    h1 = code_hash(b"k" * 32, code)
    assert len(h1) == 64 and code not in h1
    assert h1 == code_hash(b"k" * 32, code)
    assert h1 != code_hash(b"j" * 32, code)
