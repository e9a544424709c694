"""Whether questions that failed would fail again when the experiment runs again, and what mends them first (pure):
``workbench run`` says it under the leaderboard, ``workbench gate`` in its failure, by the first error."""

from __future__ import annotations

import re

__all__ = ["rerun_advice"]

# a failure a re-run meets again, and what mends it: the server refused the API key, the key's access or the model for
# good (401, 403, 404, as workbench.models words them), or said the account's quota or credit is used up
_REPEATED_FAILURES = (
    (re.compile(r"refused the API key"), "check the API key"),
    (re.compile(r"refused access to '"), "check that the API key may use the model"),
    (re.compile(r"knows no model '"), "check the model name and the server's address"),
    (re.compile(r"insufficient_quota|billing_hard_limit_reached|billing_not_active"), "top up the account's quota or credit"),
)

# the fix a refusal's error ends with, before what a later call (or the judge's scorer) adds after it: "(not sent: the
# server refused an earlier call the same way)", "(all 3 repeats failed)", "; the judge said: ''"
_OWN_FIX = re.compile(r" — (check [^;(]*?)\s*(?:\(not sent: |\(all \d+ repeats failed\)|; the judge said: |$)")


def rerun_advice(first_error: str) -> str:
    """The start of the advice on questions that failed with ``first_error``, when a re-run repeats it (a refused key,
    an unknown model, no quota left, a prompt longer than the model's context window): what to fix first, in the error's
    own words when it ends with them (``— check ...``), as "a re-run fails them the same way: <fix>, then "; '' when
    running again may well succeed (a timeout, a server error)."""
    from workbench.models import CONTEXT_ADVICE

    found = [fix for pattern, fix in _REPEATED_FAILURES if pattern.search(first_error)]
    found += [CONTEXT_ADVICE] if CONTEXT_ADVICE in first_error else []
    if not found:
        return ""
    own = _OWN_FIX.search(next(iter(first_error.strip().splitlines()), ""))
    fix = own.group(1) if own and len(own.group(1)) <= 200 else found[0]
    return f"a re-run fails them the same way: {fix}, then "
