"""Synthetic claims world generator and its ground truth.

``generate_world`` writes the seven tables of the input data contract for a
world of people living in households at addresses in twenty local
authorities, plus a truth file naming the true person behind every claim and
elector and the fraud typology of each fraudulent claim. ``read_truth`` reads
that file back.

Modules, in the order a chunk of the world is built:

- ``population``: households, people (names, NINOs, dates of birth), addresses
  (UPRNs, postcodes, property types, rents) and means (jobs, savings, rent income).
- ``claims``: honest benefit and housing claims and their awards.
- ``fraud``: the typologies planted into live claims (``constants.FRAUD_RATE``).
- ``tax``, ``registers``: tax records, the electoral register, equality
  monitoring and the biased sample of past investigations.
- ``render`` / ``names``: identifiers, each system's spelling of names, missing
  NINOs and UPRNs, shuffled row order; ``output`` writes CSV or parquet.
"""

from synthetic.truth import read_truth
from synthetic.world import generate_world

__all__ = ["generate_world", "read_truth"]
