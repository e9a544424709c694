"""Retries of hosted model calls: which failures are worth another attempt, and how long to wait before it.

Rate limits (429), server errors (5xx), request timeouts (408) and network timeouts are retried with exponential
backoff and full jitter, honouring the provider's ``Retry-After``; everything else (a bad request, a refused key, a
429 that says the account's quota or credit is used up, which no wait mends) is raised at once. The classification is pure and reads the exception's shape, not its provider, so it holds for the
OpenAI and Anthropic clients, httpx and requests alike.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from workbench.errors import ModelError

__all__ = ["RetriesExhausted", "call_with_retries", "http_status", "is_retryable", "retry_after_s", "unreachable"]

T = TypeVar("T")

_RETRY_STATUS = frozenset({408, 409, 425, 429})
# error codes a provider sends with a 429 when waiting will not help: the account has no quota or credit left
_EXHAUSTED_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})
_TIMEOUT_NAMES = ("Timeout", "TimedOut", "ConnectError", "ConnectionError", "APIConnectionError", "RemoteProtocolError")


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a failed call's reply, whichever client raised it (None when no reply came)."""
    for value in (getattr(exc, "status_code", None), getattr(getattr(exc, "response", None), "status_code", None), getattr(exc, "status", None)):
        if isinstance(value, int):
            return value
    return None


def _error_codes(exc: BaseException) -> set[str]:
    """The provider's error code and type, from the exception (``code``) or its JSON body (``{"error": {...}}``)."""
    body: Any = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    found = [getattr(exc, "code", None), getattr(exc, "type", None)]
    if isinstance(error, dict):
        found += [error.get("code"), error.get("type")]
    return {value for value in found if isinstance(value, str)}


def is_retryable(exc: BaseException) -> bool:
    """True for a rate limit, a server error, a request timeout or a network timeout/connection error; not for a
    429 saying the quota or credit is used up."""
    status = http_status(exc)
    if status == 429 and _error_codes(exc) & _EXHAUSTED_CODES:
        return False
    if status is not None:
        return status in _RETRY_STATUS or status >= 500
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    names = [cls.__name__ for cls in type(exc).__mro__]
    return any(marker in name for name in names for marker in _TIMEOUT_NAMES)


# a connection that could not be made (httpx, requests/urllib3, the standard library): the server is down, or not there
_UNREACHABLE_NAMES = ("ConnectError", "ConnectTimeout", "ConnectionRefused", "NewConnectionError", "NameResolution")


def unreachable(exc: BaseException) -> bool:
    """True when a call failed because no connection to the server could be made (refused, no route, a name that does
    not resolve, a connect timeout), seen anywhere in the exception's chain of causes; not for a server that answered,
    dropped the connection or was slow to answer (pure)."""
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        if http_status(found) is not None:
            return False
        names = [cls.__name__ for cls in type(found).__mro__]
        if any(marker in name for name in names for marker in _UNREACHABLE_NAMES):
            return True
        found = found.__cause__ or found.__context__
    return False


def retry_after_s(exc: BaseException, *, now: float | None = None) -> float | None:
    """The wait the provider asked for (``Retry-After`` in seconds or as an HTTP date, or ``retry-after-ms``); None
    when it asked for none, or wrote something that is neither (``soon``, ``nan``, a malformed date): such a header
    raised ValueError inside the retry loop, and the call failed with "Invalid date value or format" in place of the
    provider's own error, unretried."""
    headers: Any = getattr(getattr(exc, "response", None), "headers", None)
    if not headers:
        return None
    ms = _seconds(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000
    value = headers.get("retry-after")
    seconds = _seconds(value)
    if seconds is not None or not isinstance(value, str) or not value.strip():
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (now if now is not None else time.time()), 0.0)


def _seconds(value: Any) -> float | None:
    """A header's number of seconds, at least 0 (pure); None when it is no number, or NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else max(number, 0.0)


class RetriesExhausted(ModelError):
    """A call that still failed after ``retries`` retries, or that could not be retried before its deadline: the last
    failure's type and text, with what caused it when the text does not say (the openai client's "Connection error."
    hides "Connection refused" or a name that does not resolve), why no retry was made when the deadline stopped it,
    and the count (a run's ``retries`` metric counts them as well as those of calls that succeeded)."""

    def __init__(self, last: BaseException, retries: int, *, stopped: str = "") -> None:
        cause = last.__cause__
        why = f" ({type(cause).__name__}: {cause})" if cause is not None and str(cause) and str(cause) not in str(last) else ""
        count = f" (after {retries} {'retry' if retries == 1 else 'retries'})" if retries or not stopped else ""
        super().__init__(f"{type(last).__name__}: {last}{why}{count}{f' — {stopped}' if stopped else ''}")
        self.retries = retries


def _too_late(asked: float | None, wait: float, left: float, *, retried: bool) -> str:
    """Why a retryable failure was not retried: the wait before the next try (the server's ``Retry-After``, else the
    backoff) would end past the call's deadline (pure)."""
    again = " again" if retried else ""
    if left < 0.05:  # the call's own time ran out (a timed-out attempt used it all): "the next try was 0.4 s away, past the
        # call's deadline 0.0 s away" said no more than that, in the words of every hosted judge call that timed out
        return f"not retried{again}: the call's time limit is used up (limits.wall_time_s; a judge's timeout_s)"
    waiting = f"Retry-After asked {asked:g} s" if asked else f"the next try was {wait:.1f} s away"
    return f"not retried{again}: {waiting}, past the call's deadline {left:.1f} s away (limits.wall_time_s; a judge's timeout_s)"


# the longest Retry-After a call waits for: a server asking for more (a quota of the hour or day, an outage) is not mended
# by waiting within a sweep or a deployment's request, and a call without a deadline waited it out, once per retry
LONGEST_RETRY_AFTER_S = 300.0


def call_with_retries(
    fn: Callable[[], T],
    *,
    retries: int,
    deadline: float | None = None,
    initial_s: float = 0.5,
    max_wait_s: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Call ``fn`` until it succeeds, retrying retryable failures at most ``retries`` times.

    Waits grow exponentially from ``initial_s`` (full jitter, at most ``max_wait_s``); a ``Retry-After`` from the
    provider is waited for at least, up to ``LONGEST_RETRY_AFTER_S``. No retry starts past ``deadline``
    (``time.monotonic()``) or after a longer ``Retry-After``: the last error is raised, saying so.

    Returns:
        ``(result, retries used)``.

    Raises:
        RetriesExhausted: the last attempt failed after at least one retry, or the deadline left no time for the next
            one (the failure is its ``__cause__``); a failure with no retry made or due is raised as it is.
    """
    from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

    stopped: list[str] = []  # why the deadline, or a Retry-After too long to wait, stopped the retries, when one did
    # the wait after each attempt, drawn once: the deadline check and the sleep drew a jittered backoff each, so a
    # retry let through for a short wait could sleep a longer one, past the call's deadline
    waits: dict[int, float] = {}

    def wait(state: RetryCallState) -> float:
        if state.attempt_number not in waits:
            exc = state.outcome.exception() if state.outcome is not None else None
            backoff = random.uniform(0, min(max_wait_s, initial_s * 2 ** (state.attempt_number - 1)))
            asked = retry_after_s(exc) if exc is not None else None
            waits[state.attempt_number] = min(max(backoff, asked or 0.0), max_wait_s if asked is None else max(asked, max_wait_s))
        return waits[state.attempt_number]

    def not_worth_waiting(state: RetryCallState) -> bool:
        if state.attempt_number > retries:
            return False
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = retry_after_s(exc) if exc is not None else None
        if asked is not None and asked > LONGEST_RETRY_AFTER_S:
            stopped.append(f"not retried{' again' if state.attempt_number > 1 else ''}: Retry-After asked {asked:g} s, more than "
                           f"the {LONGEST_RETRY_AFTER_S:g} s a call waits (a quota or an outage: try again later)")
            return True
        if deadline is None:
            return False
        pause, left = wait(state), deadline - time.monotonic()
        if pause < left:
            return False
        stopped.append(_too_late(asked, pause, left, retried=state.attempt_number > 1))
        return True

    retrying = Retrying(
        retry=retry_if_exception(is_retryable),
        stop=stop_after_attempt(retries + 1) | not_worth_waiting,
        wait=wait,
        sleep=sleep,
        reraise=True,
    )
    try:
        result = retrying(fn)
    except Exception as exc:
        used = retrying.statistics.get("attempt_number", 1) - 1
        if used or stopped:
            raise RetriesExhausted(exc, used, stopped=stopped[-1] if stopped else "") from exc
        raise
    return result, retrying.statistics.get("attempt_number", 1) - 1
