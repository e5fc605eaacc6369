"""What a viewer is shown of a case: its reasons and related subjects, masked for the panel.

The panel sees cases under pseudonyms only: in a reason's words addresses are hidden and
references and NINOs become pseudonyms; related subjects are named by their pseudonyms.
"""

from __future__ import annotations

import re

from casework.store import Case, pseudonym
from features.contract import PATTERNS
from models.explain import REASON_SEPARATOR

CONTROL_TEXT = "Selected at random for a quality check"
_UPRN = re.compile(r"UPRN \w+")
_LOCAL_AUTHORITY = PATTERNS["la_code"].strip("^$")
_IDENTIFIER = re.compile(rf"\b(?!{_LOCAL_AUTHORITY}\b)(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*[0-9])[A-Z0-9]{{6,}}\b")
"""A reference or NINO in a reason's words (capitals and digits, at least six); not a local authority's
code, which names no one and places a peer group."""
_RELATED_REF = re.compile(r"(?:^|; )([^;()]+?) \(")


def reasons_of(case: Case) -> list[str]:
    """The case's reasons, in order; none for a control case."""
    return [] if case.control else [reason for reason in case.reasons.split(REASON_SEPARATOR) if reason]


def first_reason(case: Case) -> str:
    return CONTROL_TEXT if case.control else case.reasons.split(REASON_SEPARATOR)[0]


def without_addresses(text: str) -> str:
    """``text`` with every UPRN replaced by "an address".

    >>> without_addresses("registered at UPRN 100023336956 from 2023")
    'registered at an address from 2023'
    """
    return _UPRN.sub("an address", text)


def masked(text: str, secret: bytes) -> str:
    """A reason as the panel reads it: addresses hidden, references and NINOs as pseudonyms.

    >>> masked("Rent against 2-bedroom homes in E09000030 (see HC000000519)", b"k").split(" (")[0]
    'Rent against 2-bedroom homes in E09000030'
    >>> "HC000000519" in masked("see HC000000519", b"k")
    False
    """
    return _IDENTIFIER.sub(lambda match: pseudonym(secret, match.group(0)), without_addresses(text))


def related_subjects(text: str) -> list[tuple[str, str]]:
    """``"H1 (same person); B2 (same bank account)"`` as ``[(ref, how), ...]`` (the "and N more" dropped)."""
    return [(match.group(1).strip(), how) for match, how in zip(
        _RELATED_REF.finditer(text), re.findall(r"\(([^)]*)\)", text), strict=False)]
