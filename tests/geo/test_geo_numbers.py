"""Calling numbers: every delivered form parses or gives a reason; the number index routes only
in-service codes; logs get a redacted form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.calling_number import parse_calling_number, parse_with_library, redact_calling_number
from geo.index import GeoIndex
from geo.model import PlacementFailure


@pytest.mark.parametrize(
    "raw",
    [
        "+19054300123",
        "9054300123",
        "19054300123",
        "1-905-430-0123",
        "(905) 430-0123",
        "905.430.0123",
        "sip:+19054300123@carrier.example;user=phone",
        "tel:+1-905-430-0123",
    ],
)
def test_every_form_of_one_number_parses_alike(raw: str) -> None:
    parsed = parse_calling_number(raw)
    assert (parsed.e164, parsed.npa, parsed.nxx, parsed.failure) == (
        "+19054300123",
        "905",
        "430",
        None,
    )


@pytest.mark.parametrize(
    ("raw", "failure"),
    [
        (None, PlacementFailure.WITHHELD),
        ("", PlacementFailure.WITHHELD),
        ("anonymous", PlacementFailure.WITHHELD),
        ("Restricted", PlacementFailure.WITHHELD),
        ("sip:anonymous@anonymous.invalid", PlacementFailure.WITHHELD),
        ("CALL-ME-NOW", PlacementFailure.MALFORMED),
        ("9" * 30, PlacementFailure.MALFORMED),
        ("123", PlacementFailure.MALFORMED),
        ("0054300123", PlacementFailure.MALFORMED),
        ("+442071234567", PlacementFailure.NOT_NANP),
    ],
)
def test_unusable_numbers_give_a_reason(raw: str | None, failure: PlacementFailure) -> None:
    parsed = parse_calling_number(raw)
    assert parsed.failure is failure
    assert parsed.e164 is None and parsed.npa is None


@given(st.text(max_size=40))
def test_parsing_never_raises(raw: str) -> None:
    parsed = parse_calling_number(raw)
    assert (parsed.failure is None) == (parsed.e164 is not None)


@given(
    st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True),
    st.sampled_from(
        ["{}", "1{}", "+1{}", "1-{a}-{b}-{c}", "({a}) {b}-{c}", "sip:+1{}@x;user=phone"]
    ),
)
def test_any_formatting_of_a_nanp_number_parses_to_it(digits: str, template: str) -> None:
    raw = template.format(digits, a=digits[:3], b=digits[3:6], c=digits[6:])
    parsed = parse_calling_number(raw)
    assert parsed.e164 == "+1" + digits


@given(
    st.from_regex(r"[0-9]{10}", fullmatch=True)
    | st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True)
    | st.text(alphabet="+0123456789 -()", max_size=14)
)
def test_ten_plain_digits_parse_as_the_phone_number_library_parses_them(raw: str) -> None:
    assert parse_calling_number(raw) == parse_with_library(raw)


def test_redaction_keeps_the_npa_nxx_and_hides_the_line_number() -> None:
    redacted = redact_calling_number("+19054300123", b"key")
    assert redacted.startswith("905430-")
    assert redacted == redact_calling_number("905-430-0123", b"key")
    assert redacted != redact_calling_number("905-430-0123", b"other key")
    assert redact_calling_number("anonymous", b"key") == "withheld"
    assert redact_calling_number("hello", b"key") == "malformed"


@given(st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
def test_redaction_never_contains_the_full_number(digits: str) -> None:
    assert digits not in redact_calling_number(digits, b"k")


def test_a_number_is_placed_in_its_exchange(demo_index: GeoIndex) -> None:
    placement = demo_index.place_number("905-430-0123")
    assert placement.failure is None and placement.npa_nxx == "905430"
    assert placement.exchange is not None and placement.exchange.exchange == "whitby"
    assert demo_index.exchange_for_npa_nxx("905430") == placement.exchange


def test_codes_not_in_service_do_not_route(demo_index: GeoIndex) -> None:
    assigned = next(
        code for code, entry in demo_index.codes().items() if entry.status != "In Service"
    )
    placement = demo_index.place_number(assigned + "0000")
    assert placement.failure is PlacementFailure.NOT_IN_SERVICE
    assert placement.npa_nxx == assigned
    assert demo_index.exchange_for_npa_nxx(assigned) is None
    assert all(assigned not in codes for codes in demo_index.npa_nxx_by_exchange().values())


def test_unknown_and_withheld_numbers_give_reasons(demo_index: GeoIndex) -> None:
    unknown = demo_index.place_number("+1 902 999 0000")
    assert unknown.failure is PlacementFailure.UNKNOWN_CODE and unknown.npa_nxx == "902999"
    withheld = demo_index.place_number("anonymous")
    assert withheld.failure is PlacementFailure.WITHHELD and withheld.npa_nxx is None


def test_every_exchange_has_in_service_codes(demo_index: GeoIndex) -> None:
    by_exchange = demo_index.npa_nxx_by_exchange()
    assert set(by_exchange) == set(demo_index.exchanges)
    for exchange_id, codes in by_exchange.items():
        for code in codes:
            exchange = demo_index.exchange_for_npa_nxx(code)
            assert exchange is not None and exchange.exchange == exchange_id
