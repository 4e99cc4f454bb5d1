"""Calling numbers as delivered by a carrier → NANP parts, and their redacted form for logs.

A caller id arrives in many shapes: E.164, 10 or 11 digits with punctuation, a SIP or tel URI,
or a word saying it is withheld. Parsing never raises: what cannot be used becomes a
``PlacementFailure`` the caller can report.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from dataclasses import dataclass

import phonenumbers

from geo.model import PlacementFailure

WITHHELD_WORDS = frozenset(
    {"anonymous", "restricted", "private", "unavailable", "unknown", "withheld", "blocked"}
)
MAX_DIGITS = 15  # ITU-T E.164: a full international number has at most 15 digits
_URI_USER = re.compile(r"^(?:sips?|tel):([^@;]*)", re.IGNORECASE)
_REDACTED_SEPARATOR = "-"
_ALLOWED = re.compile(r"^\+?[0-9\s().\-/]+$", re.ASCII)
_NANP_TEN_DIGITS = re.compile(r"[2-9][0-9]{2}[2-9][0-9]{6}", re.ASCII)


@dataclass(frozen=True, slots=True)
class CallingNumber:
    """A parsed calling number: the NANP parts, or why there are none."""

    e164: str | None
    npa: str | None
    nxx: str | None
    failure: PlacementFailure | None
    detail: str = ""

    @property
    def npa_nxx(self) -> str | None:
        return None if self.npa is None or self.nxx is None else self.npa + self.nxx


def _fail(failure: PlacementFailure, detail: str) -> CallingNumber:
    return CallingNumber(None, None, None, failure, detail)


@functools.lru_cache(maxsize=4096)
def parse_calling_number(raw: str | None) -> CallingNumber:
    """Parse any delivered calling-number form; never raises.

    Ten plain digits of a NANP number (NXX-NXX-XXXX, the form carriers most often deliver)
    are read directly, as `parse_with_library` reads them; the phone-number library reads the
    other forms, in about a tenth of a millisecond. Kept for the last few thousand numbers:
    one call's decision and its log lines each need the parsed number (the result is
    immutable, so sharing it is safe)."""
    if raw is not None and _NANP_TEN_DIGITS.fullmatch(raw):
        return CallingNumber("+1" + raw, raw[:3], raw[3:6], None, "")
    return parse_with_library(raw)


def parse_with_library(raw: str | None) -> CallingNumber:
    """`parse_calling_number` without its shortcut for ten plain digits."""
    text = (raw or "").strip()
    uri = _URI_USER.match(text)
    if uri:
        text = uri.group(1).strip()
    if not text or text.casefold() in WITHHELD_WORDS:
        return _fail(PlacementFailure.WITHHELD, "no calling number delivered")
    if not _ALLOWED.match(text):
        return _fail(PlacementFailure.MALFORMED, "calling number contains letters or symbols")
    digits = re.sub(r"[^0-9]", "", text)
    if len(digits) > MAX_DIGITS or len(digits) < 7:
        return _fail(PlacementFailure.MALFORMED, f"calling number has {len(digits)} digits")
    if not text.startswith("+") and len(digits) == 11 and digits.startswith("1"):
        text = "+" + digits
    try:
        parsed = phonenumbers.parse(text, "CA")
    except phonenumbers.NumberParseException as exc:
        return _fail(PlacementFailure.MALFORMED, f"calling number does not parse: {exc}")
    if parsed.country_code != 1:
        return _fail(PlacementFailure.NOT_NANP, f"country code +{parsed.country_code} is not NANP")
    national = str(parsed.national_number)
    if len(national) != 10 or national[0] in "01" or national[3] in "01":
        return _fail(PlacementFailure.MALFORMED, "not a 10-digit NANP number (NPA-NXX-XXXX)")
    return CallingNumber("+1" + national, national[:3], national[3:6], None, "")


def redact_calling_number(raw: str | None, key: bytes) -> str:
    """The form of a calling number that logs may carry.

    The NPA-NXX (which names an exchange, not a person) followed by a keyed hash of the full
    number, so one caller's calls can be correlated without the number being readable; or the
    failure reason when the number could not be parsed.
    """
    parsed = parse_calling_number(raw)
    if parsed.e164 is None or parsed.npa_nxx is None:
        return str(parsed.failure)
    digest = hmac.new(key, parsed.e164.encode("ascii"), hashlib.sha256).hexdigest()[:16]
    return f"{parsed.npa_nxx}{_REDACTED_SEPARATOR}{digest}"


def redacted_parts(redacted: str) -> tuple[str | None, str | None, str | None]:
    """``(npa_nxx, hash, failure)`` of a `redact_calling_number` result: the first two for
    a usable number, else only the failure reason."""
    npa_nxx, sep, digest = redacted.partition(_REDACTED_SEPARATOR)
    if sep and len(npa_nxx) == 6 and npa_nxx.isdigit():
        return npa_nxx, digest, None
    return None, None, redacted
