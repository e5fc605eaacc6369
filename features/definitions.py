"""Every model feature, declared once.

A :class:`FeatureSpec` says what a feature means, the short label a person reads for
it, its unit, which direction is suspicious, which subjects it applies to, the
sentence an investigator reads when it drives a flag, the context columns that
sentence and the computation read, and the computation itself. :mod:`features.build`
produces the context columns (one row per subject) and applies each spec's
``compute`` to *only* the columns the spec declares, so a feature cannot read
anything it does not declare.

Every feature is directional: it measures how far a subject departs from what its
own declarations or its peers lead one to expect, in the suspicious direction only,
and is ``0`` (its neutral value) when the subject does not depart, when the feature
does not apply to the subject's type, or when the data to compute it is missing.

The module is long because it is the declarations: every context column and every feature,
each with its meaning and its sentence, sit together so a reader (or the panel) sees the whole
model's inputs in one place; the computations are the small functions beside them.

Protected characteristics and age (:data:`PROTECTED_ATTRIBUTES`) are never
features nor context: the declarations are checked at import.

Example
-------
>>> feature_names()[:2]
('earnings_gap', 'earnings_log_ratio')
>>> FEATURES_BY_NAME["earnings_gap"].suspicious
'high'
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np
import pandas as pd

from features.contract import EQUALITY_COLUMNS

Unit = Literal["gbp_per_month", "gbp", "count", "log_ratio", "flag", "months"]
SubjectScope = Literal["benefit_claim", "housing_claim", "both"]
ContextUnit = Literal["gbp", "count", "months", "percent", "flag", "date", "text"]

SUBJECT_TYPES: tuple[str, ...] = ("benefit_claim", "housing_claim")

#: Columns that hold protected characteristics or age. They are read only to audit
#: who gets flagged, never by a feature; ``date_of_birth`` is used for linking only.
PROTECTED_ATTRIBUTES: frozenset[str] = frozenset({*EQUALITY_COLUMNS, "date_of_birth", "age"})

DUPLICATE_FEATURE_ERROR = "feature {name!r} is declared more than once"
UNDECLARED_CONTEXT_ERROR = "feature {name!r} reads context column {column!r}, which is not declared in CONTEXT"
TEMPLATE_PLACEHOLDER_ERROR = "feature {name!r}: reason placeholder {column!r} is not among its context columns"
PROTECTED_INPUT_ERROR = "feature {name!r} uses protected attribute {column!r}"
NEUTRAL_VALUE_ERROR = "feature {name!r}: neutral value {value!r} is not a finite number"
EMPTY_LABEL_ERROR = "feature {name!r} has no label"
DUPLICATE_LABEL_ERROR = "feature {name!r}: label {label!r} is already the label of {other!r}"


class FeatureDeclarationError(ValueError):
    """The feature declarations are inconsistent (raised at import)."""


class Source(StrEnum):
    """The kinds of record a context column is read from (a subject is told which ones its reasons read)."""

    CLAIMS = "claims"
    TAX = "tax"
    ELECTORS = "electors"
    ADDRESS = "address"
    OTHERS = "others"
    """Other people's claims, compared with the subject's."""


@dataclass(frozen=True)
class ContextSpec:
    """One context column: how its value is written in a sentence, and the records it is read from.

    ``noun`` is the (singular, plural) word written after a count, e.g.
    ``("adult", "adults")`` gives "1 adult", "3 adults". ``sources`` is empty for an assumption
    of the model (the interest rate), which no record holds.
    """

    name: str
    meaning: str
    unit: ContextUnit
    noun: tuple[str, str] | None = None
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True)
class FeatureSpec:
    """One model feature.

    Attributes
    ----------
    name : str
        Column name in the feature table.
    label : str
        Short plain-English name (about 45 characters at most) shown wherever a person reads the
        feature (charts, tables), e.g. "Undeclared capital past tolerance (£)"; unique among the features.
    meaning : str
        What the value measures, in one sentence.
    unit : str
        ``gbp_per_month``, ``gbp``, ``count``, ``log_ratio`` (natural log of a ratio), ``flag`` or ``months``.
    suspicious : {"high", "low"}
        Which direction of the value is suspicious.
    applies_to : {"benefit_claim", "housing_claim", "both"}
        Subject types it is computed for; others take ``neutral``.
    reason : str
        Sentence with ``{context_column}`` placeholders, filled from the subject's own values.
    context : tuple of str
        Context columns the reason and ``compute`` read (and nothing else).
    compute : callable
        ``compute(frame) -> Series`` on a frame holding exactly ``context``.
    neutral : float
        Value of a subject that does not depart, is out of scope or lacks the data.
    housing_reason : str, optional
        Sentence used instead of ``reason`` for housing claims.
    """

    name: str
    label: str
    meaning: str
    unit: Unit
    suspicious: Literal["high", "low"]
    applies_to: SubjectScope
    reason: str
    context: tuple[str, ...]
    compute: Callable[[pd.DataFrame], pd.Series]
    neutral: float = 0.0
    housing_reason: str | None = None

    def applies(self, subject_type: str) -> bool:
        """Whether the feature is computed for subjects of ``subject_type``."""
        return self.applies_to in ("both", subject_type)

    def template(self, subject_type: str) -> str:
        """The reason sentence for a subject of ``subject_type``."""
        if subject_type == "housing_claim" and self.housing_reason is not None:
            return self.housing_reason
        return self.reason


def _context(name: str, meaning: str, unit: ContextUnit, noun: tuple[str, str] | None = None, *,
             sources: tuple[Source, ...]) -> ContextSpec:
    return ContextSpec(name=name, meaning=meaning, unit=unit, noun=noun, sources=sources)


_OTHER_ADULTS = ("other adult", "other adults")
_OTHER_PEOPLE = ("other person", "other people")

#: Context columns the feature table carries for the reason sentences, by name.
CONTEXT: dict[str, ContextSpec] = {
    spec.name: spec
    for spec in (
        _context("declared_monthly_earnings", "Earnings the claimant declared, per month.", "gbp", sources=(Source.CLAIMS,)),
        _context("tax_monthly_earnings", "Mean monthly income from employment and self-employment in tax records over the compared months of the claim.", "gbp", sources=(Source.TAX,)),
        _context("tax_lowest_recent_monthly_earnings", "Lowest monthly employment income over the latest months of the claim, plus the self-employment income of the compared months spread evenly over them (it is reported for a quarter or a year, not a month).", "gbp", sources=(Source.TAX,)),
        _context("tax_monthly_property_income", "Mean monthly property (rental) income in tax records over the compared months of the claim.", "gbp", sources=(Source.TAX,)),
        _context("window_months", "Months of the claim compared with tax records (up to the earnings window).", "months", sources=(Source.CLAIMS,)),
        _context("recent_months", "Latest months of the claim compared with tax records.", "months", sources=(Source.CLAIMS,)),
        _context("months_with_earnings", "Compared months in which tax records show earnings (self-employment income, reported for a quarter or a year, counts in every month it covers).", "months", sources=(Source.TAX,)),
        _context("declared_savings", "Capital the claimant declared.", "gbp", sources=(Source.CLAIMS,)),
        _context("capital_rules_apply", "The benefit's award depends on the claimant's capital (universal credit, pension credit).", "flag", sources=(Source.CLAIMS,)),
        _context("annual_savings_interest", "Savings interest in tax records over the last twelve months.", "gbp", sources=(Source.TAX,)),
        _context("implied_capital", "Capital that would earn that interest at the assumed rate, to the pound.", "gbp", sources=(Source.TAX,)),
        _context("interest_rate", "Assumed annual interest rate on savings.", "percent", sources=()),
        _context("declared_partner", "The claim is made as a couple.", "flag", sources=(Source.CLAIMS,)),
        _context("living_alone_discount", "The claim is a single person discount: the claimant declares that no other adult lives at the address.", "flag", sources=(Source.CLAIMS,)),
        _context("declared_adults", "Adults declared in the household, the claimant included (housing: occupants declared).", "count", ("adult", "adults"), sources=(Source.CLAIMS,)),
        _context("declared_occupants", "Occupants a housing claim declares, the claimant included.", "count", ("person", "people"), sources=(Source.CLAIMS,)),
        _context("declared_household", "People the claim declares in the household, the claimant included: adults and children (housing: occupants declared).", "count", ("person", "people"), sources=(Source.CLAIMS,)),
        _context("other_source_household", "People the other source's live claim of the same person for the same home declares (a benefit claim's adults and children, a housing claim's occupants; the largest if several).", "count", ("person", "people"), sources=(Source.CLAIMS,)),
        _context("claimant_arrival", "When the claimant arrived at the address: the claim start, or the claimant's own electoral registration there when earlier.", "date", sources=(Source.CLAIMS, Source.ELECTORS)),
        _context("claimant_registered_at_arrival", "The claimant's own electoral registration at the address predates the claim, and marks the arrival.", "flag", sources=(Source.ELECTORS,)),
        _context("other_registered_adults", "Other people whose latest electoral registration (on or before the as-of date) is at the address and dates from the claimant's arrival (less a few months) or later.", "count", _OTHER_ADULTS, sources=(Source.ELECTORS,)),
        _context("adults_moved_in_with_claimant", "Of those other people, the ones who registered within a few months either side of the claimant's arrival: they moved in together.", "count", _OTHER_ADULTS, sources=(Source.ELECTORS,)),
        _context("adults_moved_in_later", "Of those other people, the ones who registered later than that.", "count", _OTHER_ADULTS, sources=(Source.ELECTORS,)),
        _context("adults_moved_in_later_from_elsewhere", "Of those who registered later, the ones registered before at another address: they came from another home.", "count", _OTHER_ADULTS, sources=(Source.ELECTORS,)),
        _context("shared_house", "The address register lists the address as a house in multiple occupation.", "flag", sources=(Source.ADDRESS,)),
        _context("other_earning_adults", "Of those other people, the ones whose tax records show earnings in the latest months.", "count", _OTHER_ADULTS, sources=(Source.ELECTORS, Source.OTHERS)),
        _context("other_claimants_at_address", "Other people with a live benefit or housing claim giving the same address.", "count", _OTHER_PEOPLE, sources=(Source.OTHERS,)),
        _context("possible_partners", "Other people at the address sharing the claimant's surname, bank account, phone or e-mail.", "count", _OTHER_ADULTS, sources=(Source.ELECTORS, Source.OTHERS)),
        _context("others_sharing_bank_account", "Other people, claiming from other addresses, whose benefit claims in the window are paid into the same bank account.", "count", _OTHER_PEOPLE, sources=(Source.OTHERS,)),
        _context("others_sharing_contact", "Other people, claiming from other addresses, whose benefit claims in the window give the same phone or the same e-mail.", "count", _OTHER_PEOPLE, sources=(Source.OTHERS,)),
        _context("others_sharing_several_details", "Other people, claiming from other addresses, whose benefit claims in the window share two or more of the claim's bank account, phone and e-mail.", "count", _OTHER_PEOPLE, sources=(Source.OTHERS,)),
        _context("others_sharing_started_together", "Other people, claiming from other addresses, whose benefit claims in the window share the claim's bank account, phone or e-mail and started within a month of it.", "count", _OTHER_PEOPLE, sources=(Source.OTHERS,)),
        _context("claims_elsewhere", "Other live claims of the same kind (benefit or housing scheme) by the same person at other addresses.", "count", ("other live claim", "other live claims"), sources=(Source.CLAIMS,)),
        _context("any_claims_elsewhere", "Other live claims of any kind by the same person at other addresses.", "count", ("other live claim", "other live claims"), sources=(Source.CLAIMS,)),
        _context("other_kind_claims_elsewhere", "Other live claims of another kind (a benefit against a housing scheme, or another benefit or scheme) by the same person at other addresses.", "count", ("live claim", "live claims"), sources=(Source.CLAIMS,)),
        _context("other_kind_claims_elsewhere_refs", "References of up to three of those claims.", "text", sources=(Source.CLAIMS,)),
        _context("claims_elsewhere_refs", "References of up to three of those claims.", "text", sources=(Source.CLAIMS,)),
        _context("claims_elsewhere_unregistered", "Of the other live claims of the same kind, those at an address where the person has never registered to vote.", "count", ("other live claim", "other live claims"), sources=(Source.CLAIMS, Source.ELECTORS)),
        _context("registered_elsewhere", "The person's latest electoral registration is at another address.", "flag", sources=(Source.ELECTORS,)),
        _context("registered_elsewhere_address", "That other address.", "text", sources=(Source.ELECTORS,)),
        _context("registered_elsewhere_from", "Date of that registration.", "date", sources=(Source.ELECTORS,)),
        _context("housing_cost", "Monthly housing costs (benefit claims) or rent (housing claims).", "gbp", sources=(Source.CLAIMS,)),
        _context("peer_housing_cost", "Median monthly housing cost of live claims in the same peer group.", "gbp", sources=(Source.OTHERS,)),
        _context("housing_peer_group", "The peer group: local authority, bedrooms and property type (housing claims: within their scheme), or the narrowest wider group with enough claims.", "text", sources=(Source.CLAIMS, Source.ADDRESS)),
        _context("other_source_housing_cost", "Monthly housing cost the other source records for the same person and home: the rent of a live housing claim (for a benefit claim) or the housing costs of a live benefit claim (for a housing claim); the highest if several.", "gbp", sources=(Source.CLAIMS,)),
    )
}


def _excess(frame: pd.DataFrame, observed: str, declared: str, offset: float = 0.0) -> pd.Series:
    """``observed - (declared - offset)``, floored at 0: only an excess is suspicious."""
    return (frame[observed] - (frame[declared] - offset)).clip(lower=0.0)


EARNINGS_TOLERANCE_GBP = 100.0
"""Monthly earnings this far above the declared amount are within normal pay variation."""
EARNINGS_TOLERANCE_SHARE = 0.5
"""Monthly pay routinely differs by up to half between months (shifts, overtime, bonuses), so
earnings up to this share above a declared month's pay are within normal variation."""
CAPITAL_TOLERANCE_GBP = 6000.0
"""Capital below the lower capital limit of means-tested benefits does not change an award."""
TOLERANCE_SHARE = 0.2
"""A gap within this share of the declared amount is within normal variation (interest timing, rent changes)."""
PEER_TOLERANCE_SHARE = 0.5
"""Housing costs up to this share above the peer median are common (size, condition, service charges)."""
FAR_ABOVE_PEERS_SHARE = 2.0
"""Housing costs more than this share above the peer median (three times it) are rarely explained by the home."""


def _tolerance(declared: pd.Series, floor: float, share: float) -> pd.Series:
    """How far an observed amount may exceed ``declared`` unremarked: ``max(floor, share × declared)``."""
    return np.maximum(floor, share * declared.clip(lower=0.0))


def _excess_beyond(frame: pd.DataFrame, observed: str, declared: str, floor: float, share: float) -> pd.Series:
    """``observed - declared - tolerance``, floored at 0."""
    declared_values = frame[declared]
    return (frame[observed] - declared_values - _tolerance(declared_values, floor, share)).clip(lower=0.0)


def _log_ratio_beyond(frame: pd.DataFrame, observed: str, declared: str, floor: float, share: float) -> pd.Series:
    """``ln(observed / (declared + tolerance))``, floored at 0."""
    declared_values = frame[declared]
    ratio = frame[observed] / (declared_values + _tolerance(declared_values, floor, share))
    return np.log(ratio.clip(lower=1.0))


def _sustained(frame: pd.DataFrame) -> pd.DataFrame:
    """Earnings over the claim's months and in each of the latest months, whichever is lower.

    Honest pay varies from month to month, so a declaration matches some month and
    not the average; earnings kept from the benefit show both on average and now.
    """
    lower = np.fmin(frame["tax_monthly_earnings"], frame["tax_lowest_recent_monthly_earnings"])
    return frame.assign(sustained_earnings=lower)


EVIDENCE_PRIOR_MONTHS = 3.0
"""A mean over few months is weak evidence: earnings gaps are weighted by ``months / (months + this)``."""


def _evidence_weight(frame: pd.DataFrame) -> pd.Series:
    months = frame["window_months"]
    return months / (months + EVIDENCE_PRIOR_MONTHS)


def _earnings_gap(frame: pd.DataFrame) -> pd.Series:
    return _evidence_weight(frame) * _excess_beyond(_sustained(frame), "sustained_earnings", "declared_monthly_earnings",
                                                    EARNINGS_TOLERANCE_GBP, EARNINGS_TOLERANCE_SHARE)


def _earnings_log_ratio(frame: pd.DataFrame) -> pd.Series:
    return _evidence_weight(frame) * _log_ratio_beyond(_sustained(frame), "sustained_earnings", "declared_monthly_earnings",
                                                       EARNINGS_TOLERANCE_GBP, EARNINGS_TOLERANCE_SHARE)


def _property_income(frame: pd.DataFrame) -> pd.Series:
    return _evidence_weight(frame) * frame["tax_monthly_property_income"]


def _capital_gap(frame: pd.DataFrame) -> pd.Series:
    gap = _excess_beyond(frame, "implied_capital", "declared_savings", CAPITAL_TOLERANCE_GBP, TOLERANCE_SHARE)
    return gap.where(frame["capital_rules_apply"] > 0, 0.0)


def _capital_log_ratio(frame: pd.DataFrame) -> pd.Series:
    ratio = _log_ratio_beyond(frame, "implied_capital", "declared_savings", CAPITAL_TOLERANCE_GBP, TOLERANCE_SHARE)
    return ratio.where(frame["capital_rules_apply"] > 0, 0.0)


UNATTESTED_ARRIVAL_WEIGHT = 0.5
"""Weight of an adult registering around a claim start the claimant's own registration does not attest:
a new occupant may simply follow the claim; registering alongside the claimant's own registration is a household moving in."""


def _outside_shared_house(values: pd.Series, frame: pd.DataFrame) -> pd.Series:
    """``values``, or 0 in a house in multiple occupation: its other residents let their own rooms and
    are not the claimant's household, so counting them against the occupants declared is noise."""
    return values.where(frame["shared_house"] == 0, 0.0)


def _undeclared_adults(frame: pd.DataFrame) -> pd.Series:
    weight = np.where(frame["claimant_registered_at_arrival"] > 0, 1.0, UNATTESTED_ARRIVAL_WEIGHT)
    undeclared = weight * _excess(frame, "adults_moved_in_with_claimant", "declared_adults", offset=1.0)
    return _outside_shared_house(undeclared, frame)


def _undeclared_earning_adults(frame: pd.DataFrame) -> pd.Series:
    return _outside_shared_house(_excess(frame, "other_earning_adults", "declared_adults", offset=1.0), frame)


def _undeclared_adults_moved_in_later(frame: pd.DataFrame) -> pd.Series:
    """Adults who came from another home after the claimant arrived, as far as the adults at the address
    exceed those declared; none in a house in multiple occupation, where rooms change hands.

    A child of the household coming of age also registers after the claimant arrived, but from no
    earlier address: only arrivals registered at another address before count.
    """
    undeclared = _excess(frame, "other_registered_adults", "declared_adults", offset=1.0)
    return _outside_shared_house(np.minimum(frame["adults_moved_in_later_from_elsewhere"], undeclared), frame)


def _undeclared_other_claimants(frame: pd.DataFrame) -> pd.Series:
    return _outside_shared_house(_excess(frame, "other_claimants_at_address", "declared_adults", offset=1.0), frame)


def _adults_beyond_declared_household(frame: pd.DataFrame) -> pd.Series:
    """The largest of the counts of other adults at the address beyond those the claim declares.

    They describe one household (who arrived with the claimant, who came later, who earns, who claims),
    so a benefit claim takes the largest rather than adding four views of the same people.
    """
    return pd.concat([_undeclared_adults(frame), _undeclared_earning_adults(frame),
                      _undeclared_adults_moved_in_later(frame), _undeclared_other_claimants(frame)], axis=1).max(axis=1)


def _household_larger_in_other_source(frame: pd.DataFrame) -> pd.Series:
    return _excess(frame, "other_source_household", "declared_household")


def _claimants_during_discount(frame: pd.DataFrame) -> pd.Series:
    return frame["other_claimants_at_address"].where(frame["living_alone_discount"] > 0, 0.0)


def _possible_undeclared_partner(frame: pd.DataFrame) -> pd.Series:
    return frame["possible_partners"].where(frame["declared_partner"] == 0, 0.0)


def _beyond_one(name: str) -> Callable[[pd.DataFrame], pd.Series]:
    """The count in column ``name`` less one, floored at 0: one other person sharing a detail is ordinary."""
    def compute(frame: pd.DataFrame) -> pd.Series:
        return (frame[name].astype("float64") - 1.0).clip(lower=0.0)

    compute.__name__ = f"beyond_one_{name}"
    return compute


def _column(name: str) -> Callable[[pd.DataFrame], pd.Series]:
    def compute(frame: pd.DataFrame) -> pd.Series:
        return frame[name].astype("float64")

    compute.__name__ = f"column_{name}"
    return compute


def _log_ratio_above(frame: pd.DataFrame, observed: str, reference: str, share: float) -> pd.Series:
    """``ln(observed / (reference × (1 + share)))``, floored at 0; missing unless both are positive."""
    observed_values, reference_values = frame[observed], frame[reference]
    ratio = (observed_values / (reference_values * (1.0 + share))).where((observed_values > 0) & (reference_values > 0))
    return np.log(ratio.clip(lower=1.0))


def _housing_cost_ratio(frame: pd.DataFrame) -> pd.Series:
    return _log_ratio_above(frame, "housing_cost", "peer_housing_cost", PEER_TOLERANCE_SHARE)


def _housing_cost_far_above_peers(frame: pd.DataFrame) -> pd.Series:
    return _log_ratio_above(frame, "housing_cost", "peer_housing_cost", FAR_ABOVE_PEERS_SHARE)


def _housing_cost_above_other_source(frame: pd.DataFrame) -> pd.Series:
    return _log_ratio_above(frame, "housing_cost", "other_source_housing_cost", TOLERANCE_SHARE)


_HOUSING_HOUSEHOLD = "the claim declares {declared_occupants} living there, the claimant included."
_BENEFIT_HOUSEHOLD = "the claim declares {declared_adults} in the household, the claimant included."

#: The model features, in model column order.
FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        name="earnings_gap",
        label="Earnings above declared (£ a month)",
        meaning="The lower of the mean monthly earnings in tax records over the compared months of the claim and the lowest of its latest months, minus the declared monthly earnings and a tolerance of max(£100, 50 % of declared) (0 if not above), weighted by months compared / (months compared + 3).",
        unit="gbp_per_month",
        suspicious="high",
        applies_to="benefit_claim",
        reason="Declared earnings {declared_monthly_earnings} a month; tax records show {tax_monthly_earnings} a month from employment and self-employment over the last {window_months} of the claim, and at least {tax_lowest_recent_monthly_earnings} in each of the latest {recent_months}.",
        context=("declared_monthly_earnings", "tax_monthly_earnings", "window_months", "tax_lowest_recent_monthly_earnings", "recent_months"),
        compute=_earnings_gap,
    ),
    FeatureSpec(
        name="earnings_log_ratio",
        label="Earnings above declared (log ratio)",
        meaning="ln(monthly earnings in tax records (the lower of the claim's mean and the lowest of its latest months) / (declared earnings + a tolerance of max(£100, 50 % of declared))), 0 if not above, weighted by months compared / (months compared + 3): the gap relative to what was declared, discounted when seen over few months.",
        unit="log_ratio",
        suspicious="high",
        applies_to="benefit_claim",
        reason="Over the last {window_months} of the claim, tax records show earnings in {months_with_earnings}, averaging {tax_monthly_earnings} a month (at least {tax_lowest_recent_monthly_earnings} in each of the latest {recent_months}), against {declared_monthly_earnings} a month declared.",
        context=("months_with_earnings", "window_months", "tax_monthly_earnings", "declared_monthly_earnings", "tax_lowest_recent_monthly_earnings", "recent_months"),
        compute=_earnings_log_ratio,
    ),
    FeatureSpec(
        name="property_income",
        label="Property income in tax records (£ a month)",
        meaning="Mean monthly property (rental) income in tax records over the compared months of the claim, weighted by months compared / (months compared + 3): means the claim's declared earnings do not cover, weighed by how rare it is among the extract's claimants.",
        unit="gbp_per_month",
        suspicious="high",
        applies_to="benefit_claim",
        reason="Tax records show property income of {tax_monthly_property_income} a month over the last {window_months} of the claim; the claim declares earnings of {declared_monthly_earnings} a month.",
        context=("tax_monthly_property_income", "window_months", "declared_monthly_earnings"),
        compute=_property_income,
    ),
    FeatureSpec(
        name="capital_gap",
        label="Undeclared capital past tolerance (£)",
        meaning="For a benefit with a capital test (universal credit, pension credit): capital implied by savings interest minus declared savings and a tolerance of max(£6,000, 20 % of declared), in pounds (0 if not above): the amount undeclared, as the ratio below gives its size relative to what was declared.",
        unit="gbp",
        suspicious="high",
        applies_to="benefit_claim",
        reason="Declared savings are {declared_savings}, yet savings interest of {annual_savings_interest} over the last year implies capital of about {implied_capital} (at {interest_rate} a year), well beyond what was declared.",
        context=("annual_savings_interest", "implied_capital", "interest_rate", "declared_savings", "capital_rules_apply"),
        compute=_capital_gap,
    ),
    FeatureSpec(
        name="capital_log_ratio",
        label="Capital above declared (log ratio)",
        meaning="For a benefit with a capital test (universal credit, pension credit): ln(capital implied by savings interest / (declared savings + a tolerance of max(£6,000, 20 % of declared))), 0 if not above.",
        unit="log_ratio",
        suspicious="high",
        applies_to="benefit_claim",
        reason="Savings interest of {annual_savings_interest} over the last year implies capital of about {implied_capital} at {interest_rate} a year; declared savings are {declared_savings}.",
        context=("annual_savings_interest", "implied_capital", "interest_rate", "declared_savings", "capital_rules_apply"),
        compute=_capital_log_ratio,
    ),
    FeatureSpec(
        name="undeclared_adults_at_address",
        label="Undeclared adults who arrived with the claimant",
        meaning="Other people who registered to vote at the address when the claimant arrived (within a few months either side), beyond the other adults the claim declares (0 if none, and 0 in a house in multiple occupation, whose other residents let their own rooms); halved when the arrival is only the claim start, not the claimant's own registration there.",
        unit="count",
        suspicious="high",
        applies_to="housing_claim",
        reason="{adults_moved_in_with_claimant} registered to vote at the address when the claimant arrived ({claimant_arrival}); " + _HOUSING_HOUSEHOLD,
        context=("adults_moved_in_with_claimant", "claimant_arrival", "claimant_registered_at_arrival", "declared_adults",
                 "declared_occupants", "shared_house"),
        compute=_undeclared_adults,
    ),
    FeatureSpec(
        name="undeclared_earning_adults",
        label="Undeclared adults with earnings",
        meaning="Other people registered at the address since the claimant arrived with earnings in tax records (under their own NINO) in the latest months, beyond the other adults the claim declares (0 if none, and 0 in a house in multiple occupation, whose other residents let their own rooms).",
        unit="count",
        suspicious="high",
        applies_to="housing_claim",
        reason="Tax records show earnings over the latest {recent_months} for {other_earning_adults} registered at the address since the claimant arrived ({claimant_arrival}); " + _HOUSING_HOUSEHOLD,
        context=("other_earning_adults", "recent_months", "claimant_arrival", "declared_adults", "declared_occupants",
                 "shared_house"),
        compute=_undeclared_earning_adults,
    ),
    FeatureSpec(
        name="undeclared_adults_moved_in_later",
        label="Undeclared adults who moved in later",
        meaning="Other people who registered to vote at the address more than a few months after the claimant arrived, having been registered at another address before, as far as the people registered there exceed the other adults the claim declares (0 if none, and 0 in a house in multiple occupation): a change after the claim or discount began, not a count of electors, and not a child of the household coming of age.",
        unit="count",
        suspicious="high",
        applies_to="housing_claim",
        reason="{adults_moved_in_later_from_elsewhere} registered to vote at the address after the claimant arrived ({claimant_arrival}), having been registered at another address before; {other_registered_adults} registered there in all since then; " + _HOUSING_HOUSEHOLD,
        context=("adults_moved_in_later_from_elsewhere", "other_registered_adults", "claimant_arrival",
                 "declared_adults", "declared_occupants", "shared_house"),
        compute=_undeclared_adults_moved_in_later,
    ),
    FeatureSpec(
        name="undeclared_other_claimants",
        label="Undeclared other claimants at the address",
        meaning="Other people with a live benefit or housing claim at the same address, beyond the other adults the claim declares (0 if none, and 0 in a house in multiple occupation, whose other residents let their own rooms).",
        unit="count",
        suspicious="high",
        applies_to="housing_claim",
        reason="{other_claimants_at_address} with live claims of their own give this address; " + _HOUSING_HOUSEHOLD,
        context=("other_claimants_at_address", "declared_adults", "declared_occupants", "shared_house"),
        compute=_undeclared_other_claimants,
    ),
    FeatureSpec(
        name="adults_beyond_declared_household",
        label="Adults at address beyond the benefit household",
        meaning="For a benefit claim: the largest of the counts of other adults at the address since the claimant arrived beyond the other adults the claim declares: those who registered with the claimant (halved when only the claim start marks the arrival), those who came later from another home, those with earnings, those with live claims of their own (0 if none, and 0 in a house in multiple occupation). Adult children and lodgers live with honest claimants too: how rare this is in the extract weighs it.",
        unit="count",
        suspicious="high",
        applies_to="benefit_claim",
        reason="Since the claimant arrived ({claimant_arrival}), {other_registered_adults} registered to vote at the address "
               "({adults_moved_in_with_claimant} with the claimant, {adults_moved_in_later_from_elsewhere} later from another home), "
               "{other_earning_adults} with earnings, and {other_claimants_at_address} with live claims of their own give it; " + _BENEFIT_HOUSEHOLD,
        context=("adults_moved_in_with_claimant", "adults_moved_in_later_from_elsewhere", "other_registered_adults",
                 "other_earning_adults", "other_claimants_at_address", "claimant_arrival", "claimant_registered_at_arrival",
                 "declared_adults", "shared_house"),
        compute=_adults_beyond_declared_household,
    ),
    FeatureSpec(
        name="household_larger_in_other_source",
        label="Larger household in the other source",
        meaning="People the other source's live claim of the same person for the same home declares, beyond the people this claim declares (0 if not more, or no such claim): a benefit claim and a housing claim of one person about one home that disagree on who lives there.",
        unit="count",
        suspicious="high",
        applies_to="both",
        reason="The claim declares {declared_household} in the household; the same person's housing claim for the same home declares {other_source_household}.",
        housing_reason="The claim declares {declared_household} living there; the same person's benefit claim for the same home declares {other_source_household} in the household.",
        context=("declared_household", "other_source_household"),
        compute=_household_larger_in_other_source,
    ),
    FeatureSpec(
        name="claimants_during_discount",
        label="Other claimants during a single person discount",
        meaning="For a single person discount (the claimant declares living alone): other people with a live benefit or housing claim giving the same address. Each is an adult the discount says is not there, which the count of occupants beyond those declared weighs only as a count.",
        unit="count",
        suspicious="high",
        applies_to="housing_claim",
        reason="The single person discount says no other adult lives at the address, yet {other_claimants_at_address} with live claims of their own give this address.",
        context=("other_claimants_at_address", "living_alone_discount"),
        compute=_claimants_during_discount,
    ),
    FeatureSpec(
        name="possible_undeclared_partner",
        label="Possible undeclared partner at the address",
        meaning="For a claim made without a partner: other people at the address sharing the claimant's surname, bank account, phone or e-mail.",
        unit="count",
        suspicious="high",
        applies_to="benefit_claim",
        reason="The claim is made without a partner, yet the address has {possible_partners} sharing the claimant's surname, bank account, phone or e-mail.",
        context=("possible_partners", "declared_partner"),
        compute=_possible_undeclared_partner,
    ),
    FeatureSpec(
        name="people_sharing_bank_account",
        label="Others paid into the same account, beyond one",
        meaning="Other people, claiming from other addresses, whose benefit claims in the window are paid into the same bank account, beyond the first (one relative or former partner elsewhere is common).",
        unit="count",
        suspicious="high",
        applies_to="benefit_claim",
        reason="Benefit claims of {others_sharing_bank_account} at other addresses in the last {window_months} are paid into the same bank account.",
        context=("others_sharing_bank_account", "window_months"),
        compute=_beyond_one("others_sharing_bank_account"),
    ),
    FeatureSpec(
        name="people_sharing_contact",
        label="Others with the same phone or e-mail, beyond one",
        meaning="Other people, claiming from other addresses, whose benefit claims in the window give the same phone or the same e-mail, beyond the first (one relative or former partner elsewhere is common).",
        unit="count",
        suspicious="high",
        applies_to="benefit_claim",
        reason="Benefit claims of {others_sharing_contact} at other addresses in the last {window_months} give the same phone number or e-mail address.",
        context=("others_sharing_contact", "window_months"),
        compute=_beyond_one("others_sharing_contact"),
    ),
    FeatureSpec(
        name="people_sharing_several_details",
        label="Others sharing 2+ details, beyond one",
        meaning="Other people, claiming from other addresses, whose benefit claims in the window share two or more of the claim's bank account, phone and e-mail, beyond the first: one shared detail has common honest causes (an appointee, a support worker), and one other person sharing several is often a relative or former partner; a group sharing several rarely has an honest cause.",
        unit="count",
        suspicious="high",
        applies_to="benefit_claim",
        reason="Benefit claims of {others_sharing_several_details} at other addresses in the last {window_months} share two or more of this claim's bank account, phone number and e-mail address.",
        context=("others_sharing_several_details", "window_months"),
        compute=_beyond_one("others_sharing_several_details"),
    ),
    FeatureSpec(
        name="people_sharing_details_started_together",
        label="Started together, sharing details, beyond one",
        meaning="Other people, claiming from other addresses, whose benefit claims in the window share the claim's bank account, phone or e-mail and started within a month of it, beyond the first: an appointee or a support worker takes on claimants one at a time, a group making claims together does not.",
        unit="count",
        suspicious="high",
        applies_to="benefit_claim",
        reason="Benefit claims of {others_sharing_started_together} at other addresses share this claim's bank account, phone number or e-mail address and started within a month of it.",
        context=("others_sharing_started_together",),
        compute=_beyond_one("others_sharing_started_together"),
    ),
    FeatureSpec(
        name="claims_elsewhere",
        label="Live claims of the same kind elsewhere",
        meaning="Other live claims of the same kind (benefit or housing scheme) by the same person at other addresses.",
        unit="count",
        suspicious="high",
        applies_to="both",
        reason="The same person has {claims_elsewhere} of the same kind at other addresses ({claims_elsewhere_refs}).",
        context=("claims_elsewhere", "claims_elsewhere_refs"),
        compute=_column("claims_elsewhere"),
    ),
    FeatureSpec(
        name="claims_elsewhere_not_lived_in",
        label="Claims elsewhere, never registered there",
        meaning="Other live claims of the same kind by the same person at addresses where the person has never registered to vote: two people sharing a name and date of birth each live where they claim, a claim for a second home one does not live in does not.",
        unit="count",
        suspicious="high",
        applies_to="both",
        reason="The same person has {claims_elsewhere_unregistered} of the same kind at addresses where they have never registered to vote (among {claims_elsewhere_refs}).",
        context=("claims_elsewhere_unregistered", "claims_elsewhere_refs"),
        compute=_column("claims_elsewhere_unregistered"),
    ),
    FeatureSpec(
        name="other_kind_claims_elsewhere",
        label="Live claims of another kind elsewhere",
        meaning="Other live claims of another kind (a benefit where this is a housing claim, a housing scheme where this is a benefit claim, or another benefit or scheme) by the same person at other addresses: two sources that disagree on where the person lives.",
        unit="count",
        suspicious="high",
        applies_to="both",
        reason="The same person has {other_kind_claims_elsewhere} of another kind giving other addresses ({other_kind_claims_elsewhere_refs}).",
        context=("other_kind_claims_elsewhere", "other_kind_claims_elsewhere_refs"),
        compute=_column("other_kind_claims_elsewhere"),
    ),
    FeatureSpec(
        name="registered_elsewhere",
        label="Registered to vote at another address",
        meaning="The person's latest electoral registration (on or before the as-of date) is at another address than the claim's: the register and the claim disagree on where the person lives.",
        unit="flag",
        suspicious="high",
        applies_to="both",
        reason="The claimant's latest electoral registration is at {registered_elsewhere_address} (from {registered_elsewhere_from}), not at the claimed address.",
        context=("registered_elsewhere", "registered_elsewhere_address", "registered_elsewhere_from"),
        compute=_column("registered_elsewhere"),
    ),
    FeatureSpec(
        name="housing_cost_ratio",
        label="Housing cost above peers (log ratio)",
        meaning="ln(monthly housing cost or rent / (1.5 × median of live claims in the same local authority, bedrooms and property type; housing claims within their scheme)), 0 if not above or unknown.",
        unit="log_ratio",
        suspicious="high",
        applies_to="both",
        reason="Housing costs of {housing_cost} a month against a median of {peer_housing_cost} for {housing_peer_group}.",
        housing_reason="Rent of {housing_cost} a month against a median of {peer_housing_cost} for {housing_peer_group}.",
        context=("housing_cost", "peer_housing_cost", "housing_peer_group"),
        compute=_housing_cost_ratio,
    ),
    FeatureSpec(
        name="housing_cost_far_above_peers",
        label="Housing cost over 3× peer median (log ratio)",
        meaning="ln(monthly housing cost or rent / (3 × median of live claims in the same peer group)), 0 if not above or unknown: the part of a high cost that size, condition or service charges rarely explain, read beside the ratio above, which starts at 1.5 × the median.",
        unit="log_ratio",
        suspicious="high",
        applies_to="both",
        reason="Housing costs of {housing_cost} a month are more than three times the median of {peer_housing_cost} for {housing_peer_group}.",
        housing_reason="Rent of {housing_cost} a month is more than three times the median of {peer_housing_cost} for {housing_peer_group}.",
        context=("housing_cost", "peer_housing_cost", "housing_peer_group"),
        compute=_housing_cost_far_above_peers,
    ),
    FeatureSpec(
        name="housing_cost_above_other_source",
        label="Housing cost above other source (log ratio)",
        meaning="ln(monthly housing cost or rent / (1.2 × the housing cost the other source records for the same person and home: a live housing claim's rent for a benefit claim, a live benefit claim's housing costs for a housing claim)), 0 if not above or not recorded.",
        unit="log_ratio",
        suspicious="high",
        applies_to="both",
        reason="Housing costs of {housing_cost} a month on the benefit claim; the local authority's housing claim for the same home records a rent of {other_source_housing_cost} a month.",
        housing_reason="Rent of {housing_cost} a month on the housing claim; the same person's benefit claim for the same home gives housing costs of {other_source_housing_cost} a month.",
        context=("housing_cost", "other_source_housing_cost"),
        compute=_housing_cost_above_other_source,
    ),
)

FEATURES_BY_NAME: dict[str, FeatureSpec] = {spec.name: spec for spec in FEATURES}


def feature_names() -> tuple[str, ...]:
    """The model feature columns, in order."""
    return tuple(spec.name for spec in FEATURES)


def feature_label(name: str) -> str:
    """The label a person reads for feature ``name``.

    A name no longer declared (a feature of an older run) reads as itself, spaced.

    >>> feature_label("capital_gap"), feature_label("retired_feature")
    ('Undeclared capital past tolerance (£)', 'retired feature')
    """
    spec = FEATURES_BY_NAME.get(name)
    return spec.label if spec is not None else name.replace("_", " ")


def context_columns() -> tuple[str, ...]:
    """The context columns of the feature table, in declaration order.

    A context column named like a feature (e.g. ``claims_elsewhere``) is the model
    column itself in the table, so it is not repeated.
    """
    names = set(feature_names())
    return tuple(column for column in CONTEXT if column not in names)


def template_placeholders(template: str) -> tuple[str, ...]:
    """The ``{name}`` placeholders of a reason sentence, in order."""
    return tuple(field for _, field, _, _ in string.Formatter().parse(template) if field)


def check_declarations(features: tuple[FeatureSpec, ...] = FEATURES) -> None:
    """Raise :class:`FeatureDeclarationError` if the declarations are inconsistent.

    Names are unique; labels are set and unique; every context column is declared in :data:`CONTEXT`; every reason
    placeholder is among the feature's context columns; no name or context column is a
    protected attribute; neutral values are finite.
    """
    seen: set[str] = set()
    labelled: dict[str, str] = {}
    for spec in features:
        if spec.name in seen:
            raise FeatureDeclarationError(DUPLICATE_FEATURE_ERROR.format(name=spec.name))
        seen.add(spec.name)
        if not spec.label.strip():
            raise FeatureDeclarationError(EMPTY_LABEL_ERROR.format(name=spec.name))
        if spec.label in labelled:
            raise FeatureDeclarationError(
                DUPLICATE_LABEL_ERROR.format(name=spec.name, label=spec.label, other=labelled[spec.label]))
        labelled[spec.label] = spec.name
        if not np.isfinite(spec.neutral):
            raise FeatureDeclarationError(NEUTRAL_VALUE_ERROR.format(name=spec.name, value=spec.neutral))
        for column in (spec.name, *spec.context):
            if column in PROTECTED_ATTRIBUTES:
                raise FeatureDeclarationError(PROTECTED_INPUT_ERROR.format(name=spec.name, column=column))
        for column in spec.context:
            if column not in CONTEXT:
                raise FeatureDeclarationError(UNDECLARED_CONTEXT_ERROR.format(name=spec.name, column=column))
        for template in (spec.reason, spec.housing_reason or ""):
            for column in template_placeholders(template):
                if column not in spec.context:
                    raise FeatureDeclarationError(TEMPLATE_PLACEHOLDER_ERROR.format(name=spec.name, column=column))


check_declarations()
