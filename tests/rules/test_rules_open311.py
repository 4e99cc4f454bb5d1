"""The status-check settings in the rules: what validation accepts, refuses and reports."""

from __future__ import annotations

from routing_rules.geoview import GeoLookup
from routing_rules.validation import validate_text

AJAX = "    website: https://www.ajax.ca/\n"


def with_open311(text: str, block: str, anchor: str = AJAX) -> str:
    assert anchor in text
    return text.replace(anchor, anchor + block, 1)


def messages(text: str, geo: GeoLookup) -> tuple[dict[str, str], dict[str, str]]:
    report = validate_text(text, geo)
    return (
        {p.path: p.message for p in report.errors},
        {p.path: p.message for p in report.warnings},
    )


def test_a_municipality_offers_the_status_check(durham_text: str, geo: GeoLookup) -> None:
    text = with_open311(
        durham_text,
        "    open311:\n      base_url: https://311.ajax.example/open311/v2\n"
        "      jurisdiction_id: ajax.ca\n      api_key_env: AJAX_311_KEY\n"
        "      budget_ms: 1200\n      key: 8\n",
    )
    report = validate_text(text, geo)
    assert report.errors == ()
    assert report.rules is not None
    service = report.rules.municipalities[1].open311
    assert service is not None and service.key == "8" and service.budget_ms == 1200


def test_an_api_key_in_the_rules_is_refused(durham_text: str, geo: GeoLookup) -> None:
    text = with_open311(
        durham_text,
        "    open311:\n      base_url: https://311.ajax.example/\n"
        "      api_key: s3cret-value\n      key: '8'\n",
    )
    errors, _ = messages(text, geo)
    message = errors["municipalities[1].open311.api_key"]
    assert "never put an API key in the rules" in message
    assert "s3cret" not in message


def test_each_setting_is_checked(durham_text: str, geo: GeoLookup) -> None:
    text = with_open311(
        durham_text,
        "    open311:\n      base_url: not a url\n      api_key_env: lower-case\n"
        "      budget_ms: 60000\n      key: x\n",
    )
    errors, _ = messages(text, geo)
    base = "municipalities[1].open311"
    assert "URL" in errors[f"{base}.base_url"]
    assert "less than or equal to 5000" in errors[f"{base}.budget_ms"]
    assert "not a telephone key" in errors[f"{base}.key"]


def test_key_sources_are_one_or_none_and_files_absolute(durham_text: str, geo: GeoLookup) -> None:
    both = with_open311(
        durham_text,
        "    open311:\n      base_url: https://311.ajax.example/\n"
        "      api_key_env: KEY\n      api_key_file: /run/secrets/key\n      key: '8'\n",
    )
    assert "not both" in messages(both, geo)[0]["municipalities[1].open311.api_key_file"]
    relative = with_open311(
        durham_text,
        "    open311:\n      base_url: https://311.ajax.example/\n"
        "      api_key_file: secrets/key\n      key: '8'\n",
    )
    assert "absolute" in messages(relative, geo)[0]["municipalities[1].open311.api_key_file"]


def test_the_key_does_not_collide_with_other_keys(durham_text: str, geo: GeoLookup) -> None:
    block = "    open311:\n      base_url: https://311.ajax.example/\n      key: '{}'\n"
    for key, fragment in (("0", "live-agent key"), ("9", "picks a language"), ("2", "menu")):
        errors, _ = messages(with_open311(durham_text, block.format(key)), geo)
        assert fragment in errors["municipalities[1].open311.key"], key


def test_plain_http_off_this_machine_is_warned(durham_text: str, geo: GeoLookup) -> None:
    remote = "    open311:\n      base_url: http://311.ajax.example/\n      key: '8'\n"
    _, warnings = messages(with_open311(durham_text, remote), geo)
    assert "https" in warnings["municipalities[1].open311.base_url"]
    local = "    open311:\n      base_url: http://127.0.0.1:8320/\n      key: '8'\n"
    errors, warnings = messages(with_open311(durham_text, local), geo)
    assert not errors and "municipalities[1].open311.base_url" not in warnings


def test_the_host_may_offer_it_too(cape_breton_text: str, geo: GeoLookup) -> None:
    anchor = "  website: https://www.cbrm.ns.ca/\n"
    text = with_open311(
        cape_breton_text,
        "  open311:\n    base_url: https://311.cbrm.example/\n    key: '0'\n",
        anchor,
    )
    assert "live-agent key" in messages(text, geo)[0]["host.open311.key"]
