"""The dialplan of one rule set: Stasis entry for every host number and a fallback that needs
no controller.

Every number that reaches the host is answered (``Answer()``: the controller sees the channel
``Up`` in StasisStart and sends no answer request of its own) and enters
``Stasis(<app>,inbound,<number>)``. When the controller is not connected, Stasis() returns at
once with ``STASISSTATUS=FAILED`` and a ``GotoIf`` sends the call to the fallback context, which
is also where the controller hands back calls it gives up on (extension = the number). The
fallback:

1. reads the calling number's NPA-NXX and finds its exchange among the in-service codes, and
   the municipality it tells without asking (``IVR311_KNOWN``: a dominant exchange);
2. checks the host's schedule; closed → the after-hours (or override) message (with the known
   municipality's website, when the rules read it out there) and the after-hours destination;
   open → the municipality the rule set routes the exchange's callers to when they make no
   choice;
3. routes the municipality (arrangement in effect on the day, its own contact centre, or the
   host's agents) and walks the destination's fallback chain, skipping links whose schedule is
   closed;
4. ends with the recorded answer that names the number to call when every link failed.

Websites are read out where the rules say (``website_heard_at``): before a transfer, inline;
after hours and when a transfer failed, through the ``ivr311-website`` subroutines, chosen by
the municipality the call is known or routed as (the host's otherwise).

Every routing choice comes from :mod:`routing_rules.policy`, the decision engine's own policy,
taken as for a caller who never presses a key: the fallback has no menus. Where a caller is
sent, and why, is `dialplan.residence`; what the rules do not say is `dialplan.options`.

The text depends only on the snapshot and ``DialplanOptions`` (``now`` included), so the same
rules give the same file; golden tests rely on it. `dialplan.transfer_context` adds the contexts
of a transfer the controller hands over to the dialplan, which no rule changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC
from functools import cached_property
from zoneinfo import ZoneInfo

from dialplan.names import extension_name, note
from dialplan.options import DialplanOptions
from dialplan.residence import Residence, exchange_residences, unknown_caller_residence
from dialplan.schedule import SCHEDULE_CONTEXT, closed_days, closed_days_lines, schedule_lines
from dialplan.transfer_context import transfer_contexts
from recordings.manifest import sound_name
from routing_rules import policy
from routing_rules.decision import WEBSITE_POINTS, WebsitePoint
from routing_rules.schema import Destination, RuleSet
from routing_rules.snapshot import RuleSnapshot
from routing_rules.website import website_at, website_prompt_id

INBOUND_CONTEXT = "ivr311-inbound"
CALL_CONTEXT = "ivr311-fallback-call"
NPA_NXX_CONTEXT = "ivr311-npa-nxx"
EXCHANGE_CONTEXT = "ivr311-exchange"
MUNICIPALITY_CONTEXT = "ivr311-municipality"
CHAIN_CONTEXT = "ivr311-chain"
WEBSITE_CONTEXT = "ivr311-website"
AGENTS_EXTEN = "host-agents"
CLOSED_EXTEN = "closed"


def number_forms(number: str) -> tuple[str, ...]:
    """The forms a carrier may deliver a host number in: 311; +1NPANXXXXXX, 1NPA..., NPA...."""
    if not number.startswith("+1"):
        return (number,)
    national = number[2:]
    return (number, "1" + national, national)


def playback(prompt_ids: Sequence[str]) -> str:
    return "Playback(" + "&".join(sound_name(p) for p in prompt_ids) + ")"


class _Renderer:
    def __init__(self, snapshot: RuleSnapshot, options: DialplanOptions) -> None:
        self.snap = snapshot
        self.rules: RuleSet = snapshot.rules
        self.options = options
        self.now = options.moment()
        host_schedule = self.rules.schedules[self.rules.host.schedule]
        self.host_zone = host_schedule.timezone
        offered = {lang.code: lang for lang in self.rules.languages.offered}
        self.language = offered[self.rules.languages.default].prompt_language

    def render(self) -> str:
        sections = [
            self.header(),
            self.inbound(),
            self.fallback_entry(),
            self.call(),
            self.npa_nxx(),
            self.exchanges(),
            self.municipalities(),
            self.chains(),
            self.websites(),
            self.schedules(),
            *transfer_contexts(self.options.state_variable),
        ]
        return "\n\n".join("\n".join(lines) for lines in sections if lines) + "\n"

    # -- header and entry ------------------------------------------------------------------

    def header(self) -> list[str]:
        version = self.snap.version if self.snap.version is not None else "unstored"
        first = self.now.astimezone(ZoneInfo(self.host_zone)).year
        last = first + self.options.holiday_years - 1
        return [
            "; ivr311 dialplan, generated from the active routing rules. Do not edit: change the",
            "; rules and regenerate (`ivr311 dialplan render`); `dialplan reload` applies it",
            "; without disturbing calls in progress.",
            f"; rule set: {note(self.snap.source)}, version {version}, "
            f"content {self.snap.content_hash[:16]}",
            f"; rendered: {self.now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}; statutory holidays "
            f"written out for {first}-{last}: regenerate before {last + 1}.",
        ]

    def inbound(self) -> list[str]:
        lines = [
            f"[{INBOUND_CONTEXT}]",
            "; Calls from the carrier. Every host number is answered here (the controller then",
            "; need not ask) and enters the controller; when the controller is not connected,",
            "; Stasis() returns at once with STASISSTATUS=FAILED and the call goes to the",
            "; fallback, which needs no controller.",
        ]
        for number in self.rules.host.numbers:
            for form in number_forms(number.number):
                lines += [
                    f"exten => {form},1,NoOp(ivr311 {number.kind} {number.number})",
                    " same => n,Answer()",
                    f" same => n,Stasis({self.options.app},inbound,{number.number})",
                    f' same => n,GotoIf($["${{STASISSTATUS}}" != "SUCCESS"]'
                    f"?{self.options.fallback_context},{number.number},1)",
                    " same => n,Hangup()",
                ]
        return lines

    def fallback_entry(self) -> list[str]:
        lines = [
            f"[{self.options.fallback_context}]",
            "; The controller-free fallback: calls Stasis() could not take, and calls the",
            "; controller hands back (extension = the number dialled).",
        ]
        for number in self.rules.host.numbers:
            for form in number_forms(number.number):
                lines += [
                    f"exten => {form},1,Set(IVR311_DIALLED={number.number})",
                    f" same => n,Goto({CALL_CONTEXT},s,1)",
                ]
        return lines

    # -- one call ----------------------------------------------------------------------------

    def call(self) -> list[str]:
        host = self.rules.host
        unknown = unknown_caller_residence(self.rules)
        lines = [
            f"[{CALL_CONTEXT}]",
            f"exten => s,1,Set(CHANNEL(language)={self.language})",
            " same => n,Answer()",
            f" same => n,Gosub({SCHEDULE_CONTEXT},{extension_name(host.schedule)},1)",
            "; the calling number's NPA-NXX (ten digits, an optional leading 1 removed)",
            " same => n,Set(IVR311_NUMBER=${FILTER(0123456789,${CALLERID(num)})})",
            ' same => n,ExecIf($[${LEN(${IVR311_NUMBER})} = 11 & "${IVR311_NUMBER:0:1}" = "1"]'
            "?Set(IVR311_NUMBER=${IVR311_NUMBER:1}))",
            " same => n,Set(IVR311_NPA_NXX=${IF($[${LEN(${IVR311_NUMBER})} = 10]"
            "?${IVR311_NUMBER:0:6}:none)})",
            f" same => n,GotoIf(${{DIALPLAN_EXISTS({NPA_NXX_CONTEXT},${{IVR311_NPA_NXX}},1)}}"
            f"?{NPA_NXX_CONTEXT},${{IVR311_NPA_NXX}},1)",
            *self.known_and_closed(unknown.known),
            f" same => n,Set(IVR311_REASON={note(unknown.reason)})",
            f" same => n,Goto({self.residence_target(unknown)})",
            "",
            f"exten => {AGENTS_EXTEN},1,Set(IVR311_MUNICIPALITY=)",
            f" same => n,{self.transfer_announcement(None)}",
            f" same => n,Goto({CHAIN_CONTEXT},{extension_name(host.agents)},1)",
            "",
        ]
        lines += self.after_hours()
        return lines

    def after_hours(self) -> list[str]:
        host_schedule = self.rules.schedules[self.rules.host.schedule]
        override = host_schedule.emergency_override
        lines = [
            f"; the host is closed: {note(self.rules.host.schedule)}",
            f"exten => {CLOSED_EXTEN},1,Set(IVR311_REASON=after hours)",
        ]
        closed = self._closed_steps(policy.after_hours_route(self.rules, None))
        if override is not None and override.active:
            lines += [
                ' same => n,GotoIf($["${IVR311_OVERRIDE}" = "1"]?override,1)',
                *closed,
                "",
                "exten => override,1,Set(IVR311_REASON=emergency override)",
                *self._closed_steps(policy.after_hours_route(self.rules, override)),
            ]
        else:
            lines += closed
        return lines

    def _closed_steps(self, route: policy.AfterHoursRoute) -> list[str]:
        lines = [f" same => n,{playback(route.message)}", *self.website_call("after_hours")]
        if route.destination is None:
            return [
                *lines,
                f" same => n,{playback(self.rules.prompts.goodbye)}",
                " same => n,Hangup()",
            ]
        return [
            *lines,
            f" same => n,Goto({CHAIN_CONTEXT},{extension_name(route.destination)},1)",
        ]

    def known_and_closed(self, known: str | None) -> list[str]:
        """Note the municipality the call tells without asking (``known``), then go to the
        after-hours path when the host is closed."""
        lines = [f" same => n,Set(IVR311_KNOWN={known})"] if known is not None else []
        return [
            *lines,
            f' same => n,GotoIf($["${{IVR311_OPEN}}" != "1"]?{CALL_CONTEXT},{CLOSED_EXTEN},1)',
        ]

    def residence_target(self, residence: Residence) -> str:
        if residence.municipality_id is None:
            return f"{CALL_CONTEXT},{AGENTS_EXTEN},1"
        return f"{MUNICIPALITY_CONTEXT},{extension_name(residence.municipality_id)},1"

    # -- where the caller lives --------------------------------------------------------------

    @cached_property
    def residences(self) -> dict[str, Residence]:
        """Where callers of each exchange the rules place are sent (`exchange_residences`)."""
        return exchange_residences(self.snap)

    def npa_nxx(self) -> list[str]:
        lines = [
            f"[{NPA_NXX_CONTEXT}]",
            "; in-service NPA-NXX codes of the exchanges whose callers this rule set places",
        ]
        codes = self.snap.geo.npa_nxx_by_exchange()
        for exchange_id in self.residences:
            lines.append(f"; {exchange_id}")
            lines += [
                f"exten => {code},1,Goto({EXCHANGE_CONTEXT},{extension_name(exchange_id)},1)"
                for code in codes[exchange_id]
            ]
        return lines

    def exchanges(self) -> list[str]:
        lines = [f"[{EXCHANGE_CONTEXT}]"]
        for exchange_id, residence in self.residences.items():
            lines += [
                f"exten => {extension_name(exchange_id)},1,Set(IVR311_EXCHANGE={exchange_id})",
                *self.known_and_closed(residence.known),
                f" same => n,Set(IVR311_REASON=exchange {note(exchange_id)}: "
                f"{note(residence.reason)})",
                f" same => n,Goto({self.residence_target(residence)})",
            ]
        return lines

    def municipalities(self) -> list[str]:
        lines = [
            f"[{MUNICIPALITY_CONTEXT}]",
            "; each municipality's route: an arrangement in effect on the day (host time zone),",
            "; its own contact centre, or the host's agents",
        ]
        for mun in self.rules.municipalities:
            lines += [
                f"exten => {extension_name(mun.id)},1,Set(IVR311_MUNICIPALITY={mun.id})",
                f" same => n,{self.transfer_announcement(mun.id)}",
            ]
            own = policy.arrangements_of(self.rules, mun.id)
            if own:
                lines.append(
                    f" same => n,Set(IVR311_DAY=${{STRFTIME(${{EPOCH}},{self.host_zone},%Y%m%d)}})"
                )
                for _, arrangement in own:
                    start = f"{arrangement.effective_from:%Y%m%d}"
                    test = f"${{IVR311_DAY}} >= {start}"
                    if arrangement.effective_until is not None:
                        test += f" & ${{IVR311_DAY}} <= {arrangement.effective_until:%Y%m%d}"
                    lines.append(
                        f" same => n,GotoIf($[{test}]?{self.route_target(arrangement.route)})"
                        f"   ; arrangement {arrangement.id}"
                    )
            standing = policy.standing_route(self.rules, mun.id)
            lines.append(f" same => n,Goto({self.route_target(standing.route)})")
        return lines

    def transfer_announcement(self, municipality_id: str | None) -> str:
        """What a caller routed as ``municipality_id`` hears before a transfer while open."""
        owner = website_at(self.rules, municipality_id, "before_transfer")
        website = [owner.prompt_id] if owner is not None else []
        return playback([*website, *self.rules.prompts.transferring])

    def route_target(self, route: str) -> str:
        dest = policy.route_destination(self.rules, route)
        return f"{CHAIN_CONTEXT},{extension_name(dest)},1"

    # -- transfers ---------------------------------------------------------------------------

    def chains(self) -> list[str]:
        lines = [
            f"[{CHAIN_CONTEXT}]",
            "; one extension per destination: it and its fallback links in order, each dialled",
            "; only when its schedule is open; the recorded answer when every link failed",
        ]
        for dest in self.snap.destinations.values():
            lines += self.chain(dest)
        return lines

    def chain(self, first: Destination) -> list[str]:
        exten = extension_name(first.id)
        links = policy.chain_links(first)
        lines = [f"exten => {exten},1,NoOp(ivr311 chain {' '.join(links)})"]
        caller_id = policy.fixed_caller_id(self.rules)
        if caller_id is not None:
            lines.append(f" same => n,Set(CALLERID(num)={caller_id})")
        for n, link_id in enumerate(links):
            dest = self.snap.destinations[link_id]
            skip = f"link{n + 1}" if n + 1 < len(links) else "failed"
            ring = math.ceil(policy.ring_timeout_s(self.rules, dest))
            dial = policy.dial_string(dest.dial, self.options.dial_endpoint)
            label = f"(link{n})" if n else ""
            lines += [
                f" same => n{label},Gosub({SCHEDULE_CONTEXT},{extension_name(dest.schedule)},1)",
                f' same => n,GotoIf($["${{IVR311_OPEN}}" != "1"]?{skip})',
                f" same => n,Set(IVR311_DEST={dest.id})",
                f" same => n,Dial({dial},{ring})",
                ' same => n,ExecIf($["${DIALSTATUS}" = "ANSWER"]?Hangup())',
            ]
        lines += [
            " same => n(failed),Set(IVR311_DEST=)",
            f" same => n,{playback(policy.callback_message(self.rules, first))}",
            *self.website_call("transfer_failed"),
            f" same => n,{playback(self.rules.prompts.goodbye)}",
            " same => n,Hangup()",
        ]
        return lines

    # -- websites ----------------------------------------------------------------------------

    @cached_property
    def website_points(self) -> list[WebsitePoint]:
        """The points at which some owner's website is read out."""
        heard = self.rules.websites_heard().values()
        return [point for point in WEBSITE_POINTS if any(point in points for points in heard)]

    def website_call(self, point: WebsitePoint) -> list[str]:
        """Read out the website heard at ``point``: the municipality's own (``IVR311_KNOWN``
        after hours, ``IVR311_MUNICIPALITY`` after a failed transfer), else the host's."""
        if point not in self.website_points:
            return []
        variable = "IVR311_KNOWN" if point == "after_hours" else "IVR311_MUNICIPALITY"
        exten = _website_exten(point)
        own = f"{exten}-${{{variable}}}"
        return [
            f" same => n,GosubIf(${{DIALPLAN_EXISTS({WEBSITE_CONTEXT},{own},1)}}"
            f"?{WEBSITE_CONTEXT},{own},1:{WEBSITE_CONTEXT},{exten},1)"
        ]

    def websites(self) -> list[str]:
        if not self.website_points:
            return []
        lines = [
            f"[{WEBSITE_CONTEXT}]",
            "; the website read out at each point: <point>-<municipality> for a municipality's",
            "; own, <point> for every other caller (the host's, or nothing)",
        ]
        for point in self.website_points:
            exten = _website_exten(point)
            host = website_at(self.rules, None, point)
            say = playback([host.prompt_id]) if host is not None else "NoOp(no website)"
            lines += [f"exten => {exten},1,{say}", " same => n,Return()"]
            for mun in self.rules.municipalities:
                if point in mun.website_heard_at:
                    lines += [
                        f"exten => {exten}-{mun.id},1,{playback([website_prompt_id(mun.id)])}",
                        " same => n,Return()",
                    ]
        return lines

    # -- schedules ---------------------------------------------------------------------------

    def schedules(self) -> list[str]:
        lines = [
            f"[{SCHEDULE_CONTEXT}]",
            "; Gosub(ivr311-schedule,NAME,1) sets IVR311_OPEN to 1 when the schedule is open now",
        ]
        extra: list[str] = []
        for name, schedule in self.rules.schedules.items():
            lines += schedule_lines(name, schedule, self.now)
            if not schedule.always_open and (schedule.holidays or schedule.extra_closures):
                first = self.now.astimezone(ZoneInfo(schedule.timezone)).year
                days = closed_days(schedule, first, self.options.holiday_years)
                extra += ["", *closed_days_lines(name, days)]
        return lines + extra


def _website_exten(point: WebsitePoint) -> str:
    return point.replace("_", "-")


def render_dialplan(snapshot: RuleSnapshot, options: DialplanOptions | None = None) -> str:
    """The dialplan text of ``snapshot`` (see the module docstring)."""
    return _Renderer(snapshot, options or DialplanOptions()).render()
