"""The options of a generated dialplan: what the rules do not say, read from the same
environment variables as the controller's, so the dialplan and the controller agree."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dialplan.names import FALLBACK_CONTEXT, STATE_VARIABLE


@dataclass(frozen=True, slots=True)
class DialplanOptions:
    """What the rules do not say: the Stasis app, the trunk destinations are dialled through,
    the saved call state's variable and how many years of statutory holidays are written out."""

    app: str = "ivr311"
    dial_endpoint: str = "contact-centres"
    fallback_context: str = FALLBACK_CONTEXT
    state_variable: str = STATE_VARIABLE
    holiday_years: int = 5
    now: datetime | None = field(default=None)

    @classmethod
    def from_environment(cls) -> DialplanOptions:
        """The names the controller uses too, so the dialplan and the controller agree on them:
        IVR311_ARI_APP, IVR311_DIAL_ENDPOINT, IVR311_FALLBACK_CONTEXT, IVR311_STATE_VARIABLE."""
        env, default = os.environ.get, cls()
        return cls(
            app=env("IVR311_ARI_APP", "").strip() or default.app,
            dial_endpoint=env("IVR311_DIAL_ENDPOINT", "").strip() or default.dial_endpoint,
            fallback_context=env("IVR311_FALLBACK_CONTEXT", "").strip() or default.fallback_context,
            state_variable=env("IVR311_STATE_VARIABLE", "").strip() or default.state_variable,
        )

    def moment(self) -> datetime:
        return self.now if self.now is not None else datetime.now(UTC)
