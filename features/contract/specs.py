"""The seven tables of ``DATA_CONTRACT.md``, each declared once: columns, keys and rules.

A :class:`TableSpec` lists its :class:`ColumnSpec` (type, required, unique, enum values, minimum,
pattern) plus cross-column order rules. The rules a row can break (``ColumnSpec.rules``), the
checks (:mod:`features.contract.checks`) and the typed valid frames derive from these declarations
alone. Value lists other modules need (every enum, the equality columns, the NINO pattern) are
declared here and imported there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

BENEFIT_TYPES = (
    "universal_credit",
    "pension_credit",
    "employment_support_allowance",
    "jobseekers_allowance",
    "carers_allowance",
)
"""``benefit_claims.benefit_type``."""
OUTCOMES = ("fraud", "error", "no_issue")
"""``investigation_outcomes.outcome``: what a closed investigation found about its subject."""
TYPOLOGIES: dict[str, tuple[str, ...]] = {
    "benefit_claim": ("undeclared_earnings", "living_together", "undeclared_capital", "inflated_housing_costs",
                      "shared_details_ring"),
    "housing_claim": ("single_person_discount", "duplicate_housing_claim", "subletting", "inflated_housing_costs"),
}
"""The kinds of fraud the project knows, by subject type: a closing records one, the outcomes export writes it
in ``investigation_outcomes.typology`` (free text in the contract: another source may name its own), and the
generator plants each."""
APPLICATION_CHANNELS = ("online", "phone", "in_person")
"""``benefit_claims.application_channel``."""
INCOME_TYPES = ("paye_employment", "self_employment", "savings_interest", "property")
"""``tax_records.income_type``."""
SCHEMES = ("housing_benefit", "council_tax_reduction", "single_person_discount", "social_tenancy")
"""``housing_claims.scheme``."""
PROPERTY_TYPES = ("flat", "terraced", "semi_detached", "detached", "hmo")
"""``address_register.property_type``."""
SEXES = ("female", "male", "other", "unknown")
"""``equality_monitoring.sex``."""
ETHNICITY_GROUPS = ("asian", "black", "mixed", "white", "other", "unknown")
"""``equality_monitoring.ethnicity_group``."""
DISABILITY_ANSWERS = ("yes", "no", "unknown")
"""``equality_monitoring.disability``."""
NATIONALITY_GROUPS = ("uk", "eu", "non_eu", "unknown")
"""``equality_monitoring.nationality_group``."""

UNKNOWN_TABLE = "unknown table {table}: the contract has {known}"

REQUIRED = "required"
ENUM = "enum"
UNIQUE = "unique"
UNIQUE_SUBJECT_REF = "unique:subject_ref"
TEXT_CONTROL = "text:control"
TEXT_LENGTH = "text:length"
TEXT_MAX_CHARACTERS = 500
"""No text cell of an administrative extract is longer: a longer one is a field that swallowed its
neighbours in a broken export, or an attempt to fill the case store and its pages."""
FUTURE_PERIOD = "range:period"
FILE_ENCODING = "file:encoding"
"""A CSV line holding bytes that are not UTF-8: the row is refused, the rest of the file read."""
FILE_FIELDS = "file:fields"
"""A CSV row with more or fewer fields than the header (a ragged row or a stray quote)."""
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f]"
"""No text cell holds these: a NUL or line break inside an identifier breaks every system downstream."""

PATTERNS: Mapping[str, str] = {
    "nino": r"^[A-Z]{2}[0-9]{6}[A-Z]$",
    "la_code": r"^[EWSN][0-9]{8}$",
    "uprn": r"^[0-9]+$",
}


class ContractError(ValueError):
    """An extract breaks the data contract as a whole (missing table or column, too many rejects)."""


class Kind(StrEnum):
    """The value types of the contract; the name is the suffix of the ``type:`` rule."""

    STRING = "string"
    DATE = "date"
    TIMESTAMP = "timestamp"
    PERIOD = "period"
    DECIMAL = "decimal"
    INT = "int"
    BOOL = "bool"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table.

    Parameters
    ----------
    name : str
    kind : Kind
        Value type; text is parsed into it.
    required : bool
        An empty cell is refused (rule ``required``). The column itself must exist either way when
        required; an absent optional column is read as all-empty.
    unique : bool
        Later repeats of a value are refused (rule ``unique``).
    values : tuple of str
        Allowed values, exact spelling (rule ``enum``).
    minimum : int, optional
        Smallest allowed number (rule ``min:<minimum>``).
    pattern : str, optional
        Key of :data:`PATTERNS` the text must match (rule ``pattern:<key>``).
    ends_claims : bool
        The column says when a claim ended, so it decides who is live: a file without it is refused
        unless the configuration says the source has no such column.
    empty_means : str
        What an empty cell says, for an optional column where it is an answer (a claim not ended, a
        scheme that pays no rent) rather than a gap in the data; data quality figures leave such
        columns out of "least complete".
    """

    name: str
    kind: Kind = Kind.STRING
    required: bool = True
    unique: bool = False
    values: tuple[str, ...] = ()
    minimum: int | None = None
    pattern: str | None = None
    ends_claims: bool = False
    empty_means: str = ""

    @property
    def rules(self) -> tuple[str, ...]:
        """Names of the rules a value of this column can break."""
        rules = [REQUIRED] if self.required else []
        if self.kind is not Kind.STRING:
            rules.append(f"type:{self.kind}")
        elif self.checks_control_characters:
            rules.extend((TEXT_CONTROL, TEXT_LENGTH))
        if self.kind is Kind.PERIOD:
            rules.append(FUTURE_PERIOD)
        if self.values:
            rules.append(ENUM)
        if self.pattern is not None:
            rules.append(f"pattern:{self.pattern}")
        if self.minimum is not None:
            rules.append(f"min:{self.minimum}")
        if self.unique:
            rules.append(UNIQUE)
        return tuple(rules)

    @property
    def checks_control_characters(self) -> bool:
        """Text held to no value list or pattern: those already refuse every control character and
        every overlong text."""
        return self.kind is Kind.STRING and not self.values and self.pattern is None

    @property
    def dtype(self) -> str:
        """The pandas dtype of this column in a valid frame."""
        if self.kind in (Kind.DATE, Kind.TIMESTAMP, Kind.PERIOD):
            return "datetime64[ns]"
        if self.kind is Kind.DECIMAL:
            return "float64"
        if self.kind is Kind.INT:
            return "int64" if self.required else "Int64"
        if self.kind is Kind.BOOL:
            return "bool" if self.required else "boolean"
        return "str"


@dataclass(frozen=True)
class OrderRule:
    """Within a row, the date in ``later`` (when given) is not before the date in ``earlier``."""

    later: str
    earlier: str

    @property
    def rule(self) -> str:
        return f"order:{self.later}>={self.earlier}"


@dataclass(frozen=True)
class TableSpec:
    """One contract table: its columns, its key and whether the extract must hold it.

    ``key_differs_from`` names an earlier table whose key values this table's key must not repeat
    (rule ``unique:subject_ref``).
    """

    name: str
    key: str
    columns: tuple[ColumnSpec, ...]
    orders: tuple[OrderRule, ...] = ()
    optional: bool = False
    key_differs_from: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


def _money(name: str, *, required: bool = True, minimum: int | None = 0, empty_means: str = "") -> ColumnSpec:
    return ColumnSpec(name, Kind.DECIMAL, required=required, minimum=minimum, empty_means=empty_means)


def _count(name: str, minimum: int) -> ColumnSpec:
    return ColumnSpec(name, Kind.INT, minimum=minimum)


def _enum(name: str, *values: str) -> ColumnSpec:
    return ColumnSpec(name, values=values)


def _date(name: str, *, required: bool = True, ends_claims: bool = False, empty_means: str = "") -> ColumnSpec:
    return ColumnSpec(name, Kind.DATE, required=required, ends_claims=ends_claims, empty_means=empty_means)


def _optional(name: str, *, pattern: str | None = None, empty_means: str = "") -> ColumnSpec:
    return ColumnSpec(name, required=False, pattern=pattern, empty_means=empty_means)
BENEFIT_CLAIMS = TableSpec(
    name="benefit_claims",
    key="claim_id",
    columns=(
        ColumnSpec("claim_id", unique=True),
        _optional("nino", pattern="nino"),
        ColumnSpec("first_name"),
        ColumnSpec("surname"),
        _date("date_of_birth"),
        _optional("uprn", pattern="uprn"),
        ColumnSpec("postcode"),
        _enum("benefit_type", *BENEFIT_TYPES),
        _date("claim_start"),
        _date("claim_end", required=False, ends_claims=True, empty_means="the claim has not ended"),
        _money("declared_monthly_earnings"),
        _money("declared_savings"),
        ColumnSpec("declared_partner", Kind.BOOL),
        _count("adults_in_household", minimum=1),
        _count("children_in_household", minimum=0),
        _money("monthly_housing_costs"),
        _money("monthly_award"),
        ColumnSpec("bank_account_token"),
        _optional("phone_token", empty_means="the claimant gave no phone"),
        _optional("email_token", empty_means="the claimant gave no e-mail"),
        _enum("application_channel", *APPLICATION_CHANNELS),
        ColumnSpec("submitted_at", Kind.TIMESTAMP),
    ),
    orders=(OrderRule("claim_end", "claim_start"),),
)

TAX_RECORDS = TableSpec(
    name="tax_records",
    key="record_id",
    columns=(
        ColumnSpec("record_id", unique=True),
        ColumnSpec("nino"),
        ColumnSpec("period", Kind.PERIOD),
        _enum("income_type", *INCOME_TYPES),
        _optional("payer_ref", empty_means="income with no payer named (self-employment)"),
        _money("amount", minimum=None),  # negative amounts are corrections
    ),
)

HOUSING_CLAIMS = TableSpec(
    name="housing_claims",
    key="housing_claim_id",
    columns=(
        ColumnSpec("housing_claim_id", unique=True),
        ColumnSpec("la_code", pattern="la_code"),
        _enum("scheme", *SCHEMES),
        _optional("nino"),
        ColumnSpec("first_name"),
        ColumnSpec("surname"),
        _date("date_of_birth"),
        ColumnSpec("uprn"),
        ColumnSpec("postcode"),
        _date("start_date"),
        _date("end_date", required=False, ends_claims=True, empty_means="the claim has not ended"),
        _money("monthly_rent", required=False, empty_means="a scheme that pays no rent (discounts, reductions)"),
        _count("occupants_declared", minimum=1),
        _optional("landlord_ref", empty_means="no landlord named (an owner occupier, a discount)"),
        _money("monthly_award"),
    ),
    orders=(OrderRule("end_date", "start_date"),),
    key_differs_from="benefit_claims",
)

ADDRESS_REGISTER = TableSpec(
    name="address_register",
    key="uprn",
    columns=(
        ColumnSpec("uprn", unique=True),
        ColumnSpec("postcode"),
        ColumnSpec("la_code"),
        _enum("property_type", *PROPERTY_TYPES),
        _count("bedrooms", minimum=0),
    ),
)

ELECTORAL_REGISTER = TableSpec(
    name="electoral_register",
    key="elector_id",
    columns=(
        ColumnSpec("elector_id", unique=True),
        ColumnSpec("uprn"),
        ColumnSpec("first_name"),
        ColumnSpec("surname"),
        _date("date_of_birth", required=False, empty_means="the register does not hold it (most electors)"),
        _date("registered_from"),
    ),
)

EQUALITY_MONITORING = TableSpec(
    name="equality_monitoring",
    key="subject_ref",
    columns=(
        ColumnSpec("subject_ref"),
        _enum("sex", *SEXES),
        _enum("ethnicity_group", *ETHNICITY_GROUPS),
        _enum("disability", *DISABILITY_ANSWERS),
        _enum("nationality_group", *NATIONALITY_GROUPS),
    ),
)
EQUALITY_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in EQUALITY_MONITORING.columns if column.name != EQUALITY_MONITORING.key
)
"""The protected characteristics recorded in ``equality_monitoring``, in contract order: audited for
who gets flagged, never read by a feature."""

INVESTIGATION_OUTCOMES = TableSpec(
    name="investigation_outcomes",
    key="subject_ref",
    columns=(
        ColumnSpec("subject_ref"),
        _enum("outcome", *OUTCOMES),
        _date("closed_on"),
        _optional("typology", empty_means="no fraud found, or its kind not recorded"),
        # true: the case came from a scoring run's random control sample (an unbiased sample); false: from a
        # scoring run's work list; empty: chosen some other way (e.g. past investigations by older methods)
        ColumnSpec("control", Kind.BOOL, required=False, empty_means="an investigation from before control samples"),
    ),
    optional=True,
)

CONTRACT: Mapping[str, TableSpec] = {
    spec.name: spec
    for spec in (
        BENEFIT_CLAIMS,
        TAX_RECORDS,
        HOUSING_CLAIMS,
        ADDRESS_REGISTER,
        ELECTORAL_REGISTER,
        EQUALITY_MONITORING,
        INVESTIGATION_OUTCOMES,
    )
}
TABLES: tuple[str, ...] = tuple(CONTRACT)
def table_spec(table: str) -> TableSpec:
    """The declaration of ``table``; :class:`ContractError` for a name outside the contract."""
    try:
        return CONTRACT[table]
    except KeyError:
        raise ContractError(UNKNOWN_TABLE.format(table=table, known=", ".join(TABLES))) from None
