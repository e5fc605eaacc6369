"""Ways of drawing the world's fraud: the same typologies, shown differently.

A detector tuned on one generator learns that generator's way of drawing each
typology. A :class:`Variant` says, for each typology that other data shows
differently, how its cases are drawn (the share of each *way*), how strong the
graded typologies are, how common fraud is, and how many honest look-alikes the
world holds: households that show the same facts with an honest explanation.

Ways of drawing
---------------
living together (a benefit claim made as a single person)
    ``household``: a partner of the household, there since the claimant arrived,
    is left off the claim. ``newcomer``: an adult from elsewhere registers to vote
    at the claimant's address after the claim began, often earning under their own
    NINO. ``shared_details``: a partner who keeps a benefit claim at their own
    address gives it the claim's phone, e-mail or bank account, and sometimes
    registers at the claimant's address too.
single person discount
    ``household``: the head of a household of several adults claims it.
    ``newcomer``: an adult living alone claims it, and later another adult
    registers at the address. ``claimant_at_address``: another adult claims a
    benefit from the address during the discount.
subletting a social tenancy
    ``moved_out``: the tenant lives with another household; others registered at
    the tenancy. ``claims_elsewhere``: the tenant claims a benefit from their real
    home. ``unconnected``: the tenant stays on the register at the tenancy while
    adults with no connection to them register there.
undeclared earnings
    ``hidden_job``: the claimant works now (PAYE or self-employed) and declares
    nothing or far too little. ``past_job``: a job of two to four months during the
    claim, ended one to three months before the as-of date, never reported.
    ``rental_income``: the claimant lets out a property and declares no income.
undeclared capital
    ``interest``: savings interest in the tax records implies capital far above the
    limit. ``arrived_late``: capital that arrived in the last three to six months
    (an inheritance, a pay-out), so its interest shows only in the latest months.
    ``near_limit``: capital just over the limit (16,500 to 21,000), the claim
    declaring an amount under it.
inflated housing costs (benefit claims)
    ``above_norm``: costs far above the local norm for the home's size. ``above_council_record``:
    costs above the rent the council's housing claim of the same person for the same
    home records. ``modest``: costs 15 to 35 % above the local norm.

Honest look-alikes (never labelled fraud)
-----------------------------------------
A single claimant whose lodger registers after the claim began and is declared;
a discount holder whose lodger registered, then left (registered elsewhere); a
social tenant whose lodger registers and is declared on the tenancy; a tenant
away (registered at another address for a while) with nobody moving in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from synthetic.constants import FRAUD_RATE

DEFAULT_VARIANT = "standard"


class UnknownVariantError(ValueError):
    """No variant of that name."""

    MESSAGE = "unknown generator variant {name!r}; choose one of: {names}"


@dataclass(frozen=True)
class Variant:
    """How a world's fraud and its honest look-alikes are drawn.

    Attributes
    ----------
    name, description : str
        The variant's name (``--variant``) and what sets it apart.
    fraud_rate : float
        Share of live subjects that are fraudulent.
    subtle_share : float
        Share of graded cases (earnings, housing costs) drawn subtle rather than blatant.
    living_together, single_person_discount, subletting, undeclared_earnings, undeclared_capital, \
inflated_housing_costs : dict of str to float
        Share of the typology's cases drawn each way (see the module docstring);
        ``inflated_housing_costs`` is the benefit claims' typology.
    lookalikes : float
        Honest look-alikes of each kind, per fraud case of the typology they resemble.
    name_typos : float
        Share of the names in local records (housing claims, electoral register) typed with one letter
        changed, dropped or doubled.
    """

    name: str
    description: str
    fraud_rate: float = FRAUD_RATE
    subtle_share: float = 0.3
    living_together: dict[str, float] = field(default_factory=lambda: {"household": 1.0})
    single_person_discount: dict[str, float] = field(default_factory=lambda: {"household": 1.0})
    subletting: dict[str, float] = field(default_factory=lambda: {"moved_out": 1.0})
    undeclared_earnings: dict[str, float] = field(default_factory=lambda: {"hidden_job": 1.0})
    undeclared_capital: dict[str, float] = field(default_factory=lambda: {"interest": 1.0})
    inflated_housing_costs: dict[str, float] = field(default_factory=lambda: {"above_norm": 1.0})
    lookalikes: float = 0.0
    name_typos: float = 0.0


_MIXED = Variant(
    "mixed",
    "Every way of every typology in equal parts, fraud 1.2 % of subjects, many look-alikes.",
    fraud_rate=0.012,
    living_together={"household": 1 / 3, "newcomer": 1 / 3, "shared_details": 1 / 3},
    single_person_discount={"household": 1 / 3, "newcomer": 1 / 3, "claimant_at_address": 1 / 3},
    subletting={"moved_out": 1 / 3, "claims_elsewhere": 1 / 3, "unconnected": 1 / 3},
    lookalikes=2.0,
)

VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (
        Variant("standard", "Each typology drawn one way; no planted look-alikes (the world of earlier releases)."),
        Variant(
            "newcomers",
            "Partners and lodgers who arrive after a claim or discount began; tenants who moved out; "
            "fraud 2 % of subjects; look-alikes who declared.",
            fraud_rate=0.02,
            living_together={"household": 0.3, "newcomer": 0.7},
            single_person_discount={"household": 0.3, "newcomer": 0.7},
            subletting={"moved_out": 0.5, "unconnected": 0.5},
            lookalikes=1.0,
        ),
        Variant(
            "other_records",
            "Fraud shown by other records: a partner's claim sharing contact details, another claimant at a "
            "discounted address, a tenant claiming from elsewhere; fraud 2.5 % of subjects, more subtle cases.",
            fraud_rate=0.025,
            subtle_share=0.45,
            living_together={"household": 0.2, "newcomer": 0.3, "shared_details": 0.5},
            single_person_discount={"household": 0.2, "newcomer": 0.3, "claimant_at_address": 0.5},
            subletting={"moved_out": 0.2, "claims_elsewhere": 0.5, "unconnected": 0.3},
            lookalikes=1.5,
        ),
        _MIXED,
        replace(
            _MIXED,
            name="typos",
            description="As mixed, with one letter changed, dropped or doubled in 8 % of the first names and 8 % "
                        "of the surnames of local records (housing claims, electoral register).",
            name_typos=0.08,
        ),
        replace(
            _MIXED,
            name="other_means",
            description="As mixed, with hidden means and costs drawn other ways in equal parts: a job that ended "
                        "before the latest months or undeclared rental income, capital that arrived late or sits "
                        "just over the limit, housing costs above the council's record of the same home or only "
                        "modestly above the norm.",
            undeclared_earnings={"hidden_job": 1 / 3, "past_job": 1 / 3, "rental_income": 1 / 3},
            undeclared_capital={"interest": 1 / 3, "arrived_late": 1 / 3, "near_limit": 1 / 3},
            inflated_housing_costs={"above_norm": 1 / 3, "above_council_record": 1 / 3, "modest": 1 / 3},
        ),
        Variant(
            "subtle",
            "Mostly the newer ways, most graded cases subtle, fraud 2.2 % of subjects, a look-alike per case.",
            fraud_rate=0.022,
            subtle_share=0.6,
            living_together={"household": 0.2, "newcomer": 0.4, "shared_details": 0.4},
            single_person_discount={"household": 0.2, "newcomer": 0.4, "claimant_at_address": 0.4},
            subletting={"moved_out": 0.2, "claims_elsewhere": 0.4, "unconnected": 0.4},
            lookalikes=1.0,
        ),
    )
}
"""Every variant by name; ``standard`` is the default."""


def get_variant(name: str) -> Variant:
    """The variant called ``name``.

    Raises
    ------
    UnknownVariantError
        If there is none.
    """
    if name not in VARIANTS:
        raise UnknownVariantError(UnknownVariantError.MESSAGE.format(name=name, names=", ".join(VARIANTS)))
    return VARIANTS[name]


def split_count(total: int, shares: dict[str, float], first: str) -> dict[str, int]:
    """Cases per way: each way its rounded share of ``total``; way ``first`` takes the remainder.

    >>> split_count(10, {"household": 0.3, "newcomer": 0.7}, "household")
    {'household': 3, 'newcomer': 7}
    """
    counts = {way: round(total * share) for way, share in shares.items() if way != first}
    return {first: max(0, total - sum(counts.values())), **counts}
