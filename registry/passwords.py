"""Password policy: a minimum length and a minimum zxcvbn strength score, judged against the user's own name.

zxcvbn estimates how many guesses an attacker needs (dictionaries, keyboard patterns, repeats, dates, l33t),
which a character-class rule cannot: `aaaaaaaa` and `Password1!` pass such rules, and are refused here. The
user's name (and any other personal input) is given to zxcvbn as a dictionary of its own, so a password built
from it scores low. The error names the weakness (zxcvbn's feedback), never the password.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from zxcvbn import zxcvbn

from commons.errors import InvalidInput

MIN_LENGTH = 8
DEFAULT_MIN_SCORE = 3
# zxcvbn's own limit: longer passwords are judged on their first 72 characters (scoring 256 takes over a second).
SCORED_CHARACTERS = 72
SCORE_WORDS = ("very weak", "weak", "fair", "good", "strong")
# zxcvbn 4.5 keeps the user inputs in a module-level dictionary while it scores: one check at a time, or a
# concurrent request's user name could be the one a password is compared with.
_zxcvbn_lock = threading.Lock()


def check_password(
    password: str, *, user_inputs: Sequence[str], min_score: int = DEFAULT_MIN_SCORE, field: str = "password"
) -> None:
    """Raise InvalidInput (saying why, never echoing the password) unless `password` is long and strong enough."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"the password is too short: use at least {MIN_LENGTH} characters", field=field)
    inputs = [value for value in user_inputs if value]
    result = _zxcvbn(password, inputs)
    # zxcvbn scores a repeated name ("alice-alice", "alice.Alice!") as a pattern of a long word, not as the name:
    # a password that is little more than the name is refused whatever its score.
    remainder = password
    for value in (value for value in inputs if len(value) >= 3):
        remainder = re.sub(re.escape(value), "", remainder, flags=re.IGNORECASE)
    mostly_name = remainder != password and len(remainder) < MIN_LENGTH
    score = int(result["score"])
    if score >= min_score and not mostly_name:
        return
    lowered = password.lower()
    reasons = [f"it contains your user name ({value!r})" for value in inputs if value.lower() in lowered]
    feedback = result.get("feedback") or {}
    if feedback.get("warning"):
        reasons.append(str(feedback["warning"]).rstrip("."))
    reasons += [str(suggestion).rstrip(".") for suggestion in feedback.get("suggestions") or []]
    if not reasons:
        reasons.append("Add another word or two; uncommon words are better")
    strength = "it is little more than your user name" if mostly_name else f"at least {min_score} is needed"
    raise InvalidInput(
        f"the password is too easy to guess (strength {score} of 4, {SCORE_WORDS[score]}; {strength}): "
        f"{'; '.join(reasons)}. A few unrelated words make a strong password.",
        field=field,
    )


def _zxcvbn(password: str, inputs: list[str]) -> dict[str, Any]:
    with _zxcvbn_lock:
        result: dict[str, Any] = zxcvbn(password[:SCORED_CHARACTERS], user_inputs=inputs, max_length=SCORED_CHARACTERS)
    return result
