"""Errors raised by the ARI client; each keeps the HTTP status Asterisk answered with."""

from __future__ import annotations


class AriError(Exception):
    """Asterisk answered a REST call with an error status (or, for subclasses, did not answer).

    ``status`` is the HTTP status code (``None`` when no answer came back at all). The helpers
    name the codes ARI uses: 404 the channel, bridge or playback is gone; 409 the channel is not
    in the application or the id already exists; 412 the channel is in the wrong state; 400/422
    the request was malformed.
    """

    def __init__(
        self, status: int | None, message: str, *, method: str = "", path: str = ""
    ) -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method else ""
        code = str(status) if status is not None else "no answer"
        super().__init__(f"{where}{code} {message}".strip())

    @property
    def is_gone(self) -> bool:
        """404: the object no longer exists (for cleanup this counts as done)."""
        return self.status == 404

    @property
    def is_conflict(self) -> bool:
        """409: the channel is not in a Stasis application, or an object with that id exists."""
        return self.status == 409

    @property
    def is_bad_request(self) -> bool:
        """400 or 422: the request itself was wrong (missing parameter, unknown channel in body)."""
        return self.status in (400, 422)

    @property
    def is_unauthorized(self) -> bool:
        """401/403: the ARI user or password was refused."""
        return self.status in (401, 403)

    @property
    def is_unavailable(self) -> bool:
        """No answer (connection refused, timeout) or a server error: worth retrying later."""
        return self.status is None or self.status >= 500


class AriUnavailableError(AriError):
    """Asterisk could not be reached or did not answer within the timeout."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(None, message, method=method, path=path)
