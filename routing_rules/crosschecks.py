"""Checks of a rule-set file as a whole, against itself and the geodata.

Ids that must exist (destinations, schedules, municipalities, exchanges, prompts), fallback
chains that end somewhere open, periods that do not overlap, languages and keys, the overlap
policy, and demo numbers. They read :class:`~routing_rules.salvage.RuleParts`, so they also run
on the parts of a file that passed the schema.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from geo.errors import ID_PATTERN
from routing_rules.geoview import GeoLookup
from routing_rules.prompts import known_prompt_ids, manifest_prompt_ids
from routing_rules.rulefile import Problem
from routing_rules.salvage import RuleParts, declared, present
from routing_rules.schedules import aware
from routing_rules.schema import (
    HOST_AGENTS,
    MESSAGE_LINK,
    Arrangement,
    Destination,
    Host,
    Languages,
    Municipality,
    Open311,
    Schedule,
)
from routing_rules.website import website_prompt_id

_FICTIONAL = re.compile(r"^\+1[2-9][0-9]{2}55501[0-9]{2}$")


@dataclass
class CrossChecker:
    parts: RuleParts
    geo: GeoLookup
    now: datetime | None = None
    """When set, an override that is on but expired before it is refused."""
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    destinations: dict[str, tuple[str, Destination]] = field(default_factory=dict)

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Problem(path, message))

    def run(self) -> None:
        parts = self.parts
        self._collect_destinations()
        if parts.host is not None:
            self._check_host(parts.host)
        if parts.exchanges is not None:
            self._check_exchanges(parts.exchanges)
        if parts.municipalities is not None:
            self._check_municipalities(parts.municipalities)
        if parts.schedules is not None:
            for name, schedule in parts.schedules.items():
                self._check_schedule(f"schedules.{name}", schedule)
        if parts.complete:
            self._check_unused_schedules()
        for path, dest in self.destinations.values():
            self._check_destination(path, dest)
        self._check_after_hours()
        self._check_arrangements()
        if parts.languages is not None:
            self._check_languages(parts.languages)
        self._check_prompts()
        self._check_policy()
        self._check_open311()
        self._check_websites()
        if parts.demo:
            self._check_fictional_numbers()

    def _all_destinations(self) -> Iterator[tuple[str, Destination]]:
        if self.parts.host is not None:
            for i, dest in present(self.parts.host.destinations):
                yield f"host.destinations[{i}]", dest
        for m, mun in present(self.parts.municipalities or ()):
            for i, dest in present(mun.destinations):
                yield f"municipalities[{m}].destinations[{i}]", dest

    def _collect_destinations(self) -> None:
        for path, dest in self._all_destinations():
            if dest.id in self.destinations or dest.id in (HOST_AGENTS, MESSAGE_LINK):
                self.error(f"{path}.id", f"destination id {dest.id!r} is used twice or reserved")
                continue
            self.destinations[dest.id] = (path, dest)

    def _is_destination(self, name: str) -> bool:
        return name in self.destinations or declared(name, self.parts.declared_destinations)

    def _is_schedule(self, name: str) -> bool:
        return self.parts.schedules is None or declared(name, self.parts.declared_schedules)

    def _always_open(self, destination_id: str) -> bool | None:
        """Whether a destination is open 24/7; ``None`` when the file does not say clearly."""
        entry = self.destinations.get(destination_id)
        if entry is None or self.parts.schedules is None:
            return None
        schedule = self.parts.schedules.get(entry[1].schedule)
        if schedule is None:
            # A schedule the file names but the schema refused: its hours are not known.
            return None if entry[1].schedule in (self.parts.declared_schedules or ()) else False
        return schedule.always_open

    def _check_host(self, host: Host) -> None:
        if not declared(host.agents, self.parts.declared_host_destinations):
            self.error("host.agents", f"{host.agents!r} is not one of host.destinations")
        if not self._is_schedule(host.schedule):
            self.error("host.schedule", f"no schedule named {host.schedule!r}")
        kinds: set[str] = set()
        for i, number in present(host.numbers):
            if number.kind in kinds:
                self.warn(f"host.numbers[{i}]", f"a second {number.kind} number")
            kinds.add(number.kind)
        if host.prompt is None and host.prompt_id not in manifest_prompt_ids():
            self.warn("host.prompt", f"no recording ships for {host.prompt_id}; name a prompt")

    def _check_exchanges(self, exchanges: Sequence[str | None]) -> None:
        coded = self.geo.npa_nxx_by_exchange()
        seen: set[str] = set()
        policy = self.parts.overlap_policy
        for i, exchange_id in present(exchanges):
            path = f"exchanges[{i}]"
            if exchange_id in seen:
                self.error(path, f"exchange {exchange_id!r} listed twice")
            seen.add(exchange_id)
            overlap = self.geo.exchanges.get(exchange_id)
            if overlap is None:
                if exchange_id in coded:
                    self.warn(
                        path,
                        f"exchange {exchange_id!r} has central-office codes but no polygon: "
                        "its callers take the unknown-caller path",
                    )
                else:
                    self.error(path, f"unknown exchange {exchange_id!r} (not in the geodata)")
                continue
            if policy is None:
                continue
            for share in overlap.municipalities:
                if share.share >= policy.min_share and not declared(
                    share.id, self.parts.declared_municipalities
                ):
                    self.warn(
                        path,
                        f"{share.share:.0%} of {overlap.name} lies in {share.id}, which is not "
                        "in municipalities: its residents get the default choice",
                    )

    def _check_municipalities(self, municipalities: Sequence[Municipality | None]) -> None:
        seen: set[str] = set()
        for i, mun in present(municipalities):
            path = f"municipalities[{i}]"
            if mun.id in seen:
                self.error(f"{path}.id", f"municipality {mun.id!r} listed twice")
            seen.add(mun.id)
            if mun.id not in self.geo.municipalities:
                self.error(f"{path}.id", f"unknown municipality {mun.id!r} (not in the geodata)")
            if self.parts.host is not None and mun.id == self.parts.host.id:
                self.error(
                    "host.id",
                    f"host id {mun.id!r} is also {path}.id: prompts named after an id "
                    f"({website_prompt_id(mun.id)}, ...) would be one recording for both; "
                    "give the host an id of its own",
                )
            if mun.role == "neighbour" and not mun.destinations:
                self.error(f"{path}.destinations", "a neighbour needs its contact centre")
        if None not in municipalities and not any(
            m is not None and m.role == "member" for m in municipalities
        ):
            self.error("municipalities", "no member municipality")

    def _check_schedule(self, path: str, schedule: Schedule) -> None:
        by_day: dict[str, list[int]] = defaultdict(list)
        for i, period in present(schedule.weekly):
            for _, day in present(period.days):
                for j in by_day[day]:
                    other = schedule.weekly[j]
                    assert other is not None
                    if period.open < other.close and other.open < period.close:
                        self.error(f"{path}.weekly[{i}]", f"overlaps weekly[{j}] on {day}")
                by_day[day].append(i)
        self._check_exception_overlaps(path, schedule)
        dates = [c.date if c is not None else None for c in schedule.extra_closures]
        for i, closure_day in present(dates):
            if dates.index(closure_day) != i:
                self.warn(f"{path}.extra_closures[{i}]", f"{closure_day} is listed twice")
        override = schedule.emergency_override
        if (
            override is not None
            and override.destination is not None
            and not self._is_destination(override.destination)
        ):
            self.error(
                f"{path}.emergency_override.destination",
                f"unknown destination {override.destination!r}",
            )
        if override is not None and override.active and override.expires is not None:
            expires = aware(override.expires, ZoneInfo(schedule.timezone))
            if self.now is not None and expires <= self.now:
                self.error(
                    f"{path}.emergency_override.expires",
                    f"{expires.isoformat()} is in the past: an expired override does nothing; "
                    "give a later expiry or set active: false",
                )

    def _check_exception_overlaps(self, path: str, schedule: Schedule) -> None:
        # Periods whose start and end differ in carrying a UTC offset are the schema's to report.
        periods = [
            (i, p)
            for i, p in present(schedule.exceptions)
            if (p.start.tzinfo is None) == (p.end.tzinfo is None)
        ]
        for n, (i, first) in enumerate(periods):
            for j, second in periods[:n]:
                if (first.start.tzinfo is None) != (second.start.tzinfo is None):
                    continue
                if first.start < second.end and second.start < first.end:
                    self.error(
                        f"{path}.exceptions[{i}]",
                        f"overlaps exceptions[{j}] ({second.name})",
                    )

    def _check_unused_schedules(self) -> None:
        host = self.parts.host
        used = {d.schedule for _, d in self.destinations.values()}
        if host is not None:
            used.add(host.schedule)
        for name in self.parts.schedules or {}:
            if name not in used:
                self.warn(f"schedules.{name}", "not used by the host or any destination")

    def _check_destination(self, path: str, dest: Destination) -> None:
        if not self._is_schedule(dest.schedule):
            self.error(f"{path}.schedule", f"no schedule named {dest.schedule!r}")
        if dest.callback_number is None and dest.dial.startswith(("sip:", "sips:")):
            self.warn(
                f"{path}.callback_number",
                "a SIP destination without callback_number: a failed transfer names the "
                "host's number",
            )
        seen: set[str] = {dest.id}
        for i, link in present(dest.fallback):
            link_path = f"{path}.fallback[{i}]"
            if link == MESSAGE_LINK:
                if i != len(dest.fallback) - 1:
                    self.error(link_path, "'message' ends a chain; nothing can follow it")
                continue
            if link in seen:
                self.error(link_path, f"{link!r} appears twice in the chain")
            seen.add(link)
            if not self._is_destination(link):
                self.error(link_path, f"unknown destination {link!r}")
        last = dest.fallback[-1] if dest.fallback else dest.id
        if last is not None and last != MESSAGE_LINK and self._always_open(last) is False:
            self.error(
                f"{path}.fallback",
                f"the chain ends at {last!r}, which is not open 24/7: end it with a 24/7 "
                "destination or 'message'",
            )

    def _check_after_hours(self) -> None:
        target = self.parts.after_hours.destination
        if target is None:
            return
        if not self._is_destination(target):
            self.error("after_hours.destination", f"unknown destination {target!r}")
        elif self._always_open(target) is False:
            self.warn(
                "after_hours.destination",
                f"{target!r} is not open 24/7: outside its hours callers hear the message only",
            )

    def _check_arrangements(self) -> None:
        arrangements = self.parts.arrangements
        seen: set[str] = set()
        by_municipality: dict[str, list[int]] = defaultdict(list)
        for i, arr in present(arrangements):
            path = f"arrangements[{i}]"
            if arr.id in seen:
                self.error(f"{path}.id", f"arrangement {arr.id!r} listed twice")
            seen.add(arr.id)
            if not declared(arr.municipality, self.parts.declared_municipalities):
                self.error(f"{path}.municipality", f"{arr.municipality!r} is not in municipalities")
            if arr.route != HOST_AGENTS and not self._is_destination(arr.route):
                self.error(
                    f"{path}.route", f"{arr.route!r} is neither a destination nor 'host-agents'"
                )
            for j in by_municipality[arr.municipality]:
                other = arrangements[j]
                assert other is not None
                if _arrangements_overlap(arr, other):
                    self.error(f"{path}.effective_from", f"overlaps arrangements[{j}] ({other.id})")
            by_municipality[arr.municipality].append(i)
            if (
                arr.notice_days is not None
                and arr.effective_until is not None
                and (arr.effective_until - arr.effective_from).days < arr.notice_days
            ):
                self.warn(f"{path}.effective_until", "shorter than the notice period")

    def _check_languages(self, langs: Languages) -> None:
        offered = list(present(langs.offered))
        codes = [lang.code for _, lang in offered]
        if langs.default not in codes and None not in langs.offered:
            self.error("languages.default", f"{langs.default!r} is not offered")
        keys: dict[str, int] = {}
        for n, (i, lang) in enumerate(offered):
            path = f"languages.offered[{i}]"
            if codes.index(lang.code) != n:
                self.error(f"{path}.code", f"{lang.code!r} offered twice")
            if lang.key is None:
                continue
            if lang.key == "0":
                self.error(f"{path}.key", "0 is the live-agent key")
            elif lang.key in keys:
                self.error(f"{path}.key", f"key {lang.key} also picks offered[{keys[lang.key]}]")
            keys[lang.key] = i
        if self.parts.transfer.whisper_language not in codes and None not in langs.offered:
            self.warn("transfer.whisper_language", "not one of the offered languages")

    def _check_prompts(self) -> None:
        known = known_prompt_ids(self.geo.municipalities, self.geo.exchanges)
        prompts = self.parts.prompts
        for name in type(prompts).model_fields:
            for i, prompt_id in present(getattr(prompts, name)):
                if prompt_id not in known:
                    self.error(f"prompts.{name}[{i}]", f"no recording named {prompt_id!r}")
        for i, prompt_id in present(self.parts.after_hours.message):
            if prompt_id not in known:
                self.error(f"after_hours.message[{i}]", f"no recording named {prompt_id!r}")
        host_prompt = self.parts.host.prompt if self.parts.host is not None else None
        if host_prompt is not None and host_prompt not in known:
            self.warn("host.prompt", f"no recording named {host_prompt!r}")

    def _check_policy(self) -> None:
        policy = self.parts.overlap_policy
        municipalities = self.parts.municipalities
        if policy is not None and municipalities is not None and None not in municipalities:
            members = [m for m in municipalities if m is not None and m.role == "member"]
            if policy.unknown_caller == "member-menu" and len(members) > policy.max_menu_options:
                self.warn(
                    "overlap_policy.unknown_caller",
                    f"the member menu would offer {len(members)} municipalities, more than "
                    f"max_menu_options ({policy.max_menu_options}): unknown and withheld callers "
                    "go to the host's agents",
                )
        host = self.parts.host
        caller_id = self.parts.transfer.caller_id
        if (
            host is not None
            and None not in host.numbers
            and caller_id in ("caller", "host")
            and host.number_of_kind("ten-digit") is None
        ):
            self.error("host.numbers", "a ten-digit number is needed to present as caller id")

    def _check_fictional_numbers(self) -> None:
        if self.parts.host is not None:
            for i, number in present(self.parts.host.numbers):
                if number.kind != "311" and not _FICTIONAL.match(number.number):
                    self.error(
                        f"host.numbers[{i}].number", "a demo rule set uses 555-01xx numbers only"
                    )
        for path, dest in self.destinations.values():
            for name, value in (("dial", dest.dial), ("callback_number", dest.callback_number)):
                if value is not None and value.startswith("+") and not _FICTIONAL.match(value):
                    self.error(f"{path}.{name}", "a demo rule set uses 555-01xx numbers only")

    def _open311_services(self) -> Iterator[tuple[str, Open311]]:
        if self.parts.host is not None and self.parts.host.open311 is not None:
            yield "host.open311", self.parts.host.open311
        for i, mun in present(self.parts.municipalities or ()):
            if mun.open311 is not None:
                yield f"municipalities[{i}].open311", mun.open311

    def _check_open311(self) -> None:
        """The status-check key must not collide with another key the caller may press where
        it is offered (the greeting's agent and language keys, the residence menu's options);
        a plain-HTTP server elsewhere than this machine would carry the API key in clear."""
        languages = self.parts.languages
        language_keys = (
            {lang.key for _, lang in present(languages.offered)} if languages is not None else set()
        )
        policy = self.parts.overlap_policy
        menu_keys = {str(n) for n in range(1, policy.max_menu_options + 1)} if policy else set()
        for path, service in self._open311_services():
            if service.key == "0":
                self.error(f"{path}.key", "0 is the live-agent key")
            elif service.key in language_keys:
                self.error(f"{path}.key", f"key {service.key} also picks a language")
            elif service.key in menu_keys:
                self.error(
                    f"{path}.key",
                    f"key {service.key} is also a residence menu option "
                    f"(1 to {policy.max_menu_options if policy else '?'}); use 9, * or #",
                )
            url = service.base_url
            if url.scheme == "http" and url.host not in _LOOPBACK_HOSTS:
                self.warn(f"{path}.base_url", "plain http: use https for a server off this machine")

    def _website_owners(self) -> Iterator[tuple[str, Host | Municipality]]:
        if self.parts.host is not None:
            yield "host", self.parts.host
        for i, mun in present(self.parts.municipalities or ()):
            yield f"municipalities[{i}]", mun

    def _known_owner(self, owner: Host | Municipality) -> bool:
        """Whether ``owner``'s id is one a prompt can be named after (an unknown or malformed
        id is reported once, where it is given)."""
        if isinstance(owner, Host):
            return ID_PATTERN.match(owner.id) is not None
        return owner.id in self.geo.municipalities

    def _check_websites(self) -> None:
        """A website read out is given (``website``), named once per point, and recorded: its
        ``website-<id>`` prompt is in the recordings manifest."""
        recorded = manifest_prompt_ids()
        for path, owner in self._website_owners():
            points = owner.website_heard_at
            if not points or not self._known_owner(owner):
                continue
            if owner.website is None:
                self.error(
                    f"{path}.website_heard_at",
                    f"{owner.id}'s website is read out but not given: add website:",
                )
            for i, point in enumerate(points):
                if point in points[:i]:
                    self.error(f"{path}.website_heard_at[{i}]", f"{point!r} is named twice")
            prompt_id = website_prompt_id(owner.id)
            if prompt_id not in recorded:
                self.error(
                    f"{path}.website_heard_at",
                    f"no recording of {owner.id}'s website: add {prompt_id} to "
                    f"recordings/manifest.yaml and render it (python -m recordings.render "
                    f"--only {prompt_id})",
                )


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def _arrangements_overlap(first: Arrangement, second: Arrangement) -> bool:
    far = date.max
    return first.effective_from <= (second.effective_until or far) and (
        second.effective_from <= (first.effective_until or far)
    )
