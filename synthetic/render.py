"""Turn a chunk's internal frames into contract tables and ground truth.

This is where records get their identifiers, their spelling of names, their
missing NINOs and UPRNs and their row order (shuffled, so that nothing about
a record can be read from its neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract import (
    APPLICATION_CHANNELS,
    BENEFIT_TYPES,
    DISABILITY_ANSWERS,
    ETHNICITY_GROUPS,
    INCOME_TYPES,
    NATIONALITY_GROUPS,
    OUTCOMES,
    PROPERTY_TYPES,
    SCHEMES,
    SEXES,
)
from synthetic.constants import LA_CODES
from synthetic.names import (
    BENEFIT_HABITS,
    DISGUISE_HABITS,
    ELECTORAL_HABITS,
    HOUSING_HABITS,
    SpellingHabits,
    render_names,
)
from synthetic.output import TABLE_COLUMNS, TRUTH_COLUMNS, arrow_table
from synthetic.population import scrambled_codes
from synthetic.strings import numbered, take, text, where
from synthetic.tax import payer_refs, tax_periods

BENEFIT_NINO_MISSING = 0.10
HOUSING_NINO_MISSING = 0.55
DISGUISED_NINO_MISSING = 0.90
BENEFIT_UPRN_MISSING = 0.07


TOKEN_MULTIPLIERS = {"BK": 48_271_144_813, "PH": 69_621_503_317, "EM": 16_807_000_003}
"""A different bijection per token kind, so a person's tokens do not share digits."""


def _enum(values: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """Enum labels of integer codes."""
    return take(np.array(values, dtype=object), codes)


def _shuffled_ids(prefix: str, first: int, width: int, order: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Running identifiers for rows written in ``order``: (as written, per internal row)."""
    written = numbered(prefix, first + np.arange(len(order)), width)
    return written, pc.take(written, pa.array(np.argsort(order)))


def tokens(prefix: str, token_id: np.ndarray) -> pa.Array:
    """Opaque tokens: equal ids give equal tokens, -1 gives null."""
    code = scrambled_codes(np.maximum(token_id, 0), 10**12, TOKEN_MULTIPLIERS[prefix])
    return where(token_id >= 0, numbered(prefix, code, 12), pa.nulls(len(code), pa.string()))


def messy_postcodes(postcode: pa.Array, rng: np.random.Generator) -> pa.Array:
    """Postcodes as typed into a claim: sometimes without the space or in lower case."""
    draw = rng.random(len(postcode))
    squashed = where(draw < 0.04, pc.replace_substring(postcode, " ", ""), postcode)
    return where((draw >= 0.04) & (draw < 0.06), pc.utf8_lower(postcode), squashed)


@dataclass(frozen=True)
class RenderedClaims:
    """Claims ready to write, with their identifiers in the internal row order.

    Attributes
    ----------
    table : pyarrow.Table
        Contract columns, rows shuffled.
    truth : pyarrow.Table
        Ground-truth rows of the same records.
    ids : pyarrow.Array
        Identifier of each internal row (before shuffling).
    """

    table: pa.Table
    truth: pa.Table
    ids: pa.Array


def _spelled(people: pd.DataFrame, person: np.ndarray, habits: SpellingHabits,
             rng: np.random.Generator, disguised: np.ndarray | None = None) -> tuple[pa.Array, pa.Array]:
    """Names in a system's habits; disguised records use a deliberately different spelling."""
    columns = [people[name].to_numpy()[person]
               for name in ("first", "nickname", "middle", "surname_a", "surname_b")]
    first, surname = render_names(*columns, habits, rng)
    if disguised is not None and disguised.any():
        odd_first, odd_surname = render_names(*columns, DISGUISE_HABITS, rng)
        first, surname = where(disguised, odd_first, first), where(disguised, odd_surname, surname)
    return first, surname


def _truth(table: str, ids: pa.Array, people: pd.DataFrame, person: np.ndarray,
           typology: np.ndarray) -> pa.Table:
    """Truth rows: the table, each record's identifier, its true person and typology."""
    return arrow_table(TRUTH_COLUMNS, {
        "table": pa.repeat(pa.scalar(table), len(ids)),
        "record_ref": ids,
        "person_id": take(people["person_id"].to_numpy(), person),
        "typology": np.where(typology == "", None, typology),
    })


def _ninos(people: pd.DataFrame, person: np.ndarray, base_missing: float, disguised: np.ndarray,
           rng: np.random.Generator) -> pa.Array:
    """NINOs as a system holds them: missing for a share of records, most disguised ones."""
    missing = rng.random(len(person)) < np.where(disguised, DISGUISED_NINO_MISSING, base_missing)
    return take(people["nino"].to_numpy(), person, missing)


def render_benefit_claims(claims: pd.DataFrame, people: pd.DataFrame, addresses: pd.DataFrame,
                          first_id: int, rng: np.random.Generator) -> RenderedClaims:
    """The ``benefit_claims`` table of a chunk and its truth rows."""
    n = len(claims)
    order = rng.permutation(n)
    ids, internal_ids = _shuffled_ids("BC", first_id, 9, order)
    c = claims.iloc[order]
    person = c["person"].to_numpy()
    address = c["address"].to_numpy()
    disguised = c["disguised"].to_numpy()
    first, surname = _spelled(people, person, BENEFIT_HABITS, rng, disguised)
    values = {
        "claim_id": ids,
        "nino": _ninos(people, person, BENEFIT_NINO_MISSING, disguised, rng),
        "first_name": first,
        "surname": surname,
        "date_of_birth": people["dob"].to_numpy()[person],
        "uprn": take(addresses["uprn"].to_numpy(), address, rng.random(n) < BENEFIT_UPRN_MISSING),
        "postcode": messy_postcodes(take(addresses["postcode"].to_numpy(), address), rng),
        "benefit_type": _enum(BENEFIT_TYPES, c["benefit_type"].to_numpy()),
        "claim_start": c["claim_start"].to_numpy(),
        "claim_end": c["claim_end"].to_numpy(),
        "declared_monthly_earnings": c["declared_monthly_earnings"].to_numpy(),
        "declared_savings": c["declared_savings"].to_numpy(),
        "declared_partner": c["declared_partner"].to_numpy(),
        "adults_in_household": c["adults_in_household"].to_numpy(),
        "children_in_household": c["children_in_household"].to_numpy(),
        "monthly_housing_costs": c["monthly_housing_costs"].to_numpy(),
        "monthly_award": c["monthly_award"].to_numpy(),
        "bank_account_token": tokens("BK", c["bank_token"].to_numpy()),
        "phone_token": tokens("PH", c["phone_token"].to_numpy()),
        "email_token": tokens("EM", c["email_token"].to_numpy()),
        "application_channel": _enum(APPLICATION_CHANNELS, c["channel"].to_numpy()),
        "submitted_at": c["submitted_at"].to_numpy(),
    }
    return RenderedClaims(
        table=arrow_table(TABLE_COLUMNS["benefit_claims"], values),
        truth=_truth("benefit_claims", ids, people, person, c["typology"].to_numpy()),
        ids=internal_ids,
    )


def render_housing_claims(claims: pd.DataFrame, people: pd.DataFrame, addresses: pd.DataFrame,
                          first_id: int, rng: np.random.Generator) -> RenderedClaims:
    """The ``housing_claims`` table of a chunk and its truth rows."""
    n = len(claims)
    order = rng.permutation(n)
    ids, internal_ids = _shuffled_ids("HC", first_id, 9, order)
    c = claims.iloc[order]
    person = c["person"].to_numpy()
    address = c["address"].to_numpy()
    disguised = c["disguised"].to_numpy()
    first, surname = _spelled(people, person, HOUSING_HABITS, rng, disguised)
    values = {
        "housing_claim_id": ids,
        "la_code": take(LA_CODES, addresses["la"].to_numpy()[address]),
        "scheme": _enum(SCHEMES, c["scheme"].to_numpy()),
        "nino": _ninos(people, person, HOUSING_NINO_MISSING, disguised, rng),
        "first_name": first,
        "surname": surname,
        "date_of_birth": people["dob"].to_numpy()[person],
        "uprn": take(addresses["uprn"].to_numpy(), address),
        "postcode": messy_postcodes(take(addresses["postcode"].to_numpy(), address), rng),
        "start_date": c["start_date"].to_numpy(),
        "end_date": c["end_date"].to_numpy(),
        "monthly_rent": c["monthly_rent"].to_numpy(),
        "occupants_declared": c["occupants_declared"].to_numpy(),
        "landlord_ref": c["landlord_ref"].to_numpy(),
        "monthly_award": c["monthly_award"].to_numpy(),
    }
    return RenderedClaims(
        table=arrow_table(TABLE_COLUMNS["housing_claims"], values),
        truth=_truth("housing_claims", ids, people, person, c["typology"].to_numpy()),
        ids=internal_ids,
    )


def render_electoral_register(register: pd.DataFrame, people: pd.DataFrame, addresses: pd.DataFrame,
                              first_id: int, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    """The ``electoral_register`` table of a chunk and its truth rows."""
    n = len(register)
    r = register.iloc[rng.permutation(n)]
    person = r["person"].to_numpy()
    ids = numbered("EL", first_id + np.arange(n), 9)
    first, surname = _spelled(people, person, ELECTORAL_HABITS, rng)
    # A change of name: the older registration holds another surname.
    other = take(people["surname_a"].to_numpy(), rng.integers(0, len(people), n))
    dob = np.where(rng.random(n) < 0.35, np.datetime64("NaT"), people["dob"].to_numpy()[person])
    values = {
        "elector_id": ids,
        "uprn": take(addresses["uprn"].to_numpy(), r["address"].to_numpy()),
        "first_name": first,
        "surname": where(r["renamed"].to_numpy(), pc.utf8_upper(other), surname),
        "date_of_birth": dob,
        "registered_from": r["registered_from"].to_numpy(),
    }
    truth = _truth("electoral_register", ids, people, person, np.full(n, "", dtype=object))
    return arrow_table(TABLE_COLUMNS["electoral_register"], values), truth


def render_tax_records(records: pd.DataFrame, people: pd.DataFrame, first_id: int,
                       rng: np.random.Generator) -> pa.Table:
    """The ``tax_records`` table of a chunk, ordered by period."""
    order = np.lexsort((rng.random(len(records)), records["month"].to_numpy()))
    t = records.iloc[order]
    payer = t["payer"].to_numpy()
    values = {
        "record_id": numbered("TR", first_id + np.arange(len(t)), 10),
        "nino": take(people["nino"].to_numpy(), t["person"].to_numpy()),
        "period": take(tax_periods(), t["month"].to_numpy()),
        "income_type": _enum(INCOME_TYPES, t["income_type"].to_numpy()),
        "payer_ref": take(payer_refs(), np.maximum(payer, 0), payer < 0),
        "amount": t["amount"].to_numpy(),
    }
    return arrow_table(TABLE_COLUMNS["tax_records"], values)


def render_addresses(addresses: pd.DataFrame, rng: np.random.Generator) -> pa.Table:
    """The ``address_register`` table of a chunk."""
    a = addresses.iloc[rng.permutation(len(addresses))]
    values = {
        "uprn": text(a["uprn"].to_numpy()),
        "postcode": text(a["postcode"].to_numpy()),
        "la_code": take(LA_CODES, a["la"].to_numpy()),
        "property_type": _enum(PROPERTY_TYPES, a["property_type"].to_numpy()),
        "bedrooms": a["bedrooms"].to_numpy(),
    }
    return arrow_table(TABLE_COLUMNS["address_register"], values)


def render_equality(subject_ref: pa.Array, equality: pd.DataFrame, rng: np.random.Generator) -> pa.Table:
    """The ``equality_monitoring`` table of a chunk."""
    order = rng.permutation(len(subject_ref))
    e = equality.iloc[order]
    values = {
        "subject_ref": pc.take(subject_ref, pa.array(order)),
        "sex": _enum(SEXES, e["sex"].to_numpy()),
        "ethnicity_group": _enum(ETHNICITY_GROUPS, e["ethnicity_group"].to_numpy()),
        "disability": _enum(DISABILITY_ANSWERS, e["disability"].to_numpy()),
        "nationality_group": _enum(NATIONALITY_GROUPS, e["nationality_group"].to_numpy()),
    }
    return arrow_table(TABLE_COLUMNS["equality_monitoring"], values)


def render_investigations(subject_ref: pa.Array, investigations: pd.DataFrame) -> pa.Table:
    """The ``investigation_outcomes`` table of a chunk, in order of closing."""
    i = investigations.sort_values("closed_on", kind="stable")
    values = {
        "subject_ref": pc.take(subject_ref, pa.array(i["claim"].to_numpy())),
        "outcome": _enum(OUTCOMES, i["outcome"].to_numpy()),
        "closed_on": i["closed_on"].to_numpy(),
        "typology": i["typology"].to_numpy(),
        # chosen by the old rule-based method, not by a scoring run: how they were chosen is not recorded
        "control": pa.nulls(len(i), pa.bool_()),
    }
    return arrow_table(TABLE_COLUMNS["investigation_outcomes"], values)
