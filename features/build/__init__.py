"""The feature table: one row per live subject, built across sources.

A *subject* is every benefit claim and every housing claim live on the as-of date.
For each, :func:`build_features` gathers context from the other sources — tax
records (by the NINOs of the subject's person), the electoral register and other
claims at the same address, other claims sharing a bank account, phone or e-mail,
the same person's claims elsewhere, and peers (same local authority, bedrooms and property type,
same benefit and household) — and then computes every model feature declared in
:mod:`features.definitions` from exactly the context columns it declares.

Everything is vectorised (factorised keys, ``bincount``, ``groupby`` and ``merge``);
nothing loops over rows. Protected characteristics (``equality_monitoring``) and
dates of birth are never read here: people are already linked in ``links``.

The modules of this package hold one concept each: :mod:`~features.build.keys` (integer codes
of people, addresses and tokens), :mod:`~features.build.subjects` (the live claims),
:mod:`~features.build.months` (tax months, the as-of date), :mod:`~features.build.income` (tax
records), :mod:`~features.build.household` (who lives at the address),
:mod:`~features.build.elsewhere` (shared details, claims elsewhere, the other source) and
:mod:`~features.build.peers` (housing-cost peers); this module joins them into the table.

Neutral values: a feature that does not apply to a subject's type, or whose data is
missing (no NINO known, no peer group, no token), takes its declared neutral value
(0 for every current feature), so the model columns never hold NaN.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

import numpy as np
import pandas as pd

from configs.settings import Settings
from features.build.elsewhere import _elsewhere_context, _other_source_context, _sharing_context
from features.build.household import _address_context, _arrival, _possible_partners
from features.build.income import EARNING_INCOME_TYPES, _person_income, _tax_context
from features.build.keys import KEY_COLUMNS, _distinct, _encode, _pair, _take
from features.build.months import FeatureBuildError, _month_number, resolve_as_of
from features.build.peers import _peer_context
from features.build.subjects import (
    _claims,
    _latest_registrations,
    _live,
    _registered_electors,
    _Subjects,
)
from features.contract import Extract
from features.definitions import FEATURES, SUBJECT_TYPES, context_columns, feature_names

__all__ = ["EARNING_INCOME_TYPES", "KEY_COLUMNS", "FeatureBuildError", "build_features", "feature_context",
           "model_features", "resolve_as_of"]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- table

def build_features(extract: Extract, links: pd.DataFrame, as_of: dt.date, settings: Settings) -> pd.DataFrame:
    """One row per live subject: keys, model features (float64, no NaN), then context.

    :func:`model_features` of :func:`feature_context`; the parameters are those of
    :func:`feature_context`.

    Returns
    -------
    DataFrame
        Columns :data:`KEY_COLUMNS`, then ``feature_names()``, then ``context_columns()``;
        sorted by ``subject_ref`` (then type), fresh index.
    """
    return model_features(feature_context(extract, links, as_of, settings))


def feature_context(extract: Extract, links: pd.DataFrame, as_of: dt.date, settings: Settings) -> pd.DataFrame:
    """One row per live subject: its claim's columns and every context column.

    Everything that looks across subjects and sources (per person, address, token and peer group)
    is worked out here; what is left, :func:`model_features`, reads each row alone.

    Parameters
    ----------
    extract : features.contract.Extract
        The validated tables (``benefit_claims``, ``tax_records``, ``housing_claims``,
        ``address_register``, ``electoral_register``); ``equality_monitoring`` is never read.
    links : DataFrame
        ``table``, ``record_ref``, ``person_key`` for benefit claims, housing claims and electors.
    as_of : date
        Claims live on this date are the subjects (see :func:`resolve_as_of`).
    settings : Settings
        ``settings.features`` gives the windows, the interest rate and the peer group size.

    Returns
    -------
    DataFrame
        The claims' columns (among them :data:`KEY_COLUMNS`), then ``context_columns()``;
        sorted by ``subject_ref`` (then type), fresh index.
    """
    as_of_ts = pd.Timestamp(as_of)
    as_of_month = int(_month_number(as_of_ts.year, as_of_ts.month))
    window = settings.features.earnings_window_months
    first_month = as_of_month - window + 1
    window_start = pd.Timestamp(as_of_ts.year, as_of_ts.month, 1) - pd.DateOffset(months=window - 1)

    electors = _registered_electors(extract, as_of_ts)
    keys = _encode(extract, links, electors)
    registered_homes = _distinct(_pair(keys.elector_person, keys.elector_address, keys.addresses))
    # people registered at two or more addresses up to the as-of date came to their latest one from elsewhere
    moved_from_elsewhere = np.bincount(registered_homes // max(keys.addresses, 1), minlength=keys.people) > 1
    current = _latest_registrations(electors, keys.elector_person)
    electors = electors.iloc[current].reset_index(drop=True)
    keys = replace(keys, elector_person=keys.elector_person[current], elector_address=keys.elector_address[current],
                   elector_surname=keys.elector_surname[current])
    claims = _claims(extract, keys)

    live = np.flatnonzero(_live(claims, as_of_ts))
    # benefit claims come first in ``claims``, so a stable sort keeps ties in a fixed order
    rows = live[claims["subject_ref"].iloc[live].argsort(kind="stable").to_numpy()]
    subjects = claims.iloc[rows].reset_index(drop=True)
    subjects["person_key"] = _take(keys.person_keys, keys.claim_person[rows])
    subjects["address_key"] = _take(keys.address_keys, keys.claim_address[rows])
    subject = _Subjects(
        person=keys.claim_person[rows], address=keys.claim_address[rows], surname=keys.claim_surname[rows],
        tokens={token: codes[rows] for token, codes in keys.claim_tokens.items()},
    )
    recent = (
        (claims["subject_type"] == "benefit_claim")
        & (claims["start"] <= as_of_ts)
        & (claims["end"].isna() | (claims["end"] >= window_start))
    ).to_numpy()

    income = _person_income(extract.tax_records, keys, as_of_month, window)
    recent_months = min(settings.features.recent_months, window)
    # earning now: pay in the latest months, or periodic income reported for the window
    earning = (income.monthly[:, window - recent_months:].sum(axis=1) > 0) | (income.periodic.sum(axis=1) > 0)

    arrival = _arrival(subjects, subject, electors, keys)
    logger.info("building %d features for %d live subjects as of %s", len(feature_names()), len(subjects),
                as_of_ts.date())
    return pd.concat(
        [
            subjects,
            _tax_context(subjects, subject.person, income, first_month, settings),
            _address_context(subjects, subject, electors, keys, earning, moved_from_elsewhere, arrival),
            _possible_partners(subjects, subject, electors, keys, arrival),
            _sharing_context(subject, keys, recent, claims["start"].to_numpy("datetime64[ns]"),
                             subjects["start"].to_numpy("datetime64[ns]"), subjects.index),
            _elsewhere_context(subjects, subject, electors, keys, registered_homes),
            _other_source_context(subjects, subject, keys),
            _peer_context(subjects, settings),
        ],
        axis=1,
    )


def model_features(context: pd.DataFrame) -> pd.DataFrame:
    """The feature table of the subjects in ``context``: keys, model features (float64, no NaN), then context.

    Each feature's ``compute`` reads only the row's own context columns, so the table of any row
    partition of ``context`` is those rows of the table of the whole: the ``dask`` engine
    assembles the table partition by partition with this same function.

    Parameters
    ----------
    context : DataFrame
        Rows of :func:`feature_context`.

    Returns
    -------
    DataFrame
        Columns :data:`KEY_COLUMNS`, then ``feature_names()``, then ``context_columns()``; the
        index of ``context``.
    """
    model = {}
    subject_type = context["subject_type"].to_numpy(dtype=object)
    for spec in FEATURES:
        values = spec.compute(context[list(spec.context)]).astype("float64")
        applies = np.isin(subject_type, [kind for kind in SUBJECT_TYPES if spec.applies(kind)])
        values = values.where(applies & np.isfinite(values), spec.neutral)
        model[spec.name] = values.to_numpy(np.float64)
    return pd.concat(
        [context[list(KEY_COLUMNS)], pd.DataFrame(model, index=context.index), context[list(context_columns())]], axis=1
    )
