"""How well and how fast the linking stage finds the records of one person.

Against a truth file (``table``, ``record_ref``, ``person_id``), the "same person" pairs
are counted two ways: between benefit claims and housing claims (the pairs the features
use most), and over all records of the three person tables. Precision is the share of
pairs put under one ``person_key`` that are truly one person; recall the share of true
pairs put under one key. The rules of ``features.linking`` are compared with linking by
NINO alone.

Timing: ``--replicate K`` links K disguised copies of the extract at once (fresh record
references, NINOs, addresses and shifted dates of birth per copy), to measure the stage
at K times the people without generating them.

    python -m benchmarks.linking --data DIR --truth FILE [--replicate K] [--out FILE]
"""

from __future__ import annotations

import argparse
import string
import time
from pathlib import Path

import pandas as pd

from configs.settings import LinkingSettings, load_settings
from features.contract import read_table, validate_table
from features.linking import PERSON_TABLES, link_people, normalise_nino
from synthetic.truth import read_truth

LINKED_TABLES = ("benefit_claims", "housing_claims", "electoral_register", "address_register")


def read_tables(data_dir: Path) -> dict[str, pd.DataFrame]:
    """The valid rows of the tables the linking stage reads, typed by the contract."""
    return {table: validate_table(table, read_table(data_dir, table))[0] for table in LINKED_TABLES}


def nino_only_links(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The reference: records share a key only when they carry the same NINO."""
    frames = []
    for table, ref in PERSON_TABLES.items():
        frame = tables[table]
        record_ref = frame[ref].astype("str")
        nino = normalise_nino(frame["nino"]) if "nino" in frame else pd.Series(pd.NA, index=frame.index)
        own = table + "/" + record_ref
        frames.append(pd.DataFrame({"table": table, "record_ref": record_ref,
                                    "person_key": ("N" + nino).fillna(own)}))
    return pd.concat(frames, ignore_index=True)


def _pairs(counts: pd.Series) -> float:
    return float((counts * (counts - 1) / 2).sum())


def pair_quality(links: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Pairwise precision and recall of "same person", overall and benefit × housing.

    Counts come from the contingency table of ``person_key`` × ``person_id``, so no pair is
    listed: n records in one cell are n(n-1)/2 pairs of which all are both predicted and true.
    """
    # Rows the contract refused are not linked; the figures cover the records that were.
    joined = links.merge(truth, on=["table", "record_ref"], validate="one_to_one")
    cell = joined.groupby(["person_key", "person_id"]).size()
    overall_true = _pairs(joined.groupby("person_id").size())
    overall_linked = _pairs(joined.groupby("person_key").size())
    overall_both = _pairs(cell)

    def cross(by: list[str]) -> float:
        tables = joined.loc[joined["table"].isin(["benefit_claims", "housing_claims"])]
        counts = tables.groupby([*by, "table"]).size().unstack("table", fill_value=0)
        return float((counts.get("benefit_claims", 0) * counts.get("housing_claims", 0)).sum())

    bh_both, bh_true, bh_linked = cross(["person_key", "person_id"]), cross(["person_id"]), cross(["person_key"])
    return {
        "bh_precision": bh_both / bh_linked if bh_linked else 1.0,
        "bh_recall": bh_both / bh_true if bh_true else 1.0,
        "bh_true_pairs": bh_true,
        "precision": overall_both / overall_linked if overall_linked else 1.0,
        "recall": overall_both / overall_true if overall_true else 1.0,
        "true_pairs": overall_true,
        "persons_found": float(links["person_key"].nunique()),
        "persons_true": float(joined["person_id"].nunique()),
        "records_without_link": float(len(truth) - len(joined)),
    }


def replicate(tables: dict[str, pd.DataFrame], copies: int) -> dict[str, pd.DataFrame]:
    """``copies`` copies of the person tables, each a different set of people.

    Each copy gets its own record references, NINO prefix, UPRNs and postcodes, and dates of
    birth shifted by a few weeks, so copies meet only by the chance coincidences real
    people have.
    """
    prefixes = [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase]
    out: dict[str, list[pd.DataFrame]] = {table: [] for table in LINKED_TABLES}
    for copy in range(copies):
        tag = f"{copy:03d}"
        for table, frame in tables.items():
            frame = frame.copy()
            if table in PERSON_TABLES:
                ref = PERSON_TABLES[table]
                frame[ref] = frame[ref] + "-" + tag
                frame["date_of_birth"] = frame["date_of_birth"] + pd.Timedelta(days=17 * copy)
            if "nino" in frame:
                frame["nino"] = prefixes[(copy * 7) % len(prefixes)] + frame["nino"].str[2:]
            frame["uprn"] = tag + frame["uprn"]
            if "postcode" in frame:
                frame["postcode"] = tag + frame["postcode"]
            out[table].append(frame)
    return {table: pd.concat(frames, ignore_index=True) for table, frames in out.items()}


def time_linking(tables: dict[str, pd.DataFrame], settings: LinkingSettings,
                 repeat: int) -> tuple[pd.DataFrame, float, float]:
    """Links, and the best wall-clock and CPU seconds of ``link_people`` over ``repeat`` runs.

    CPU seconds (all threads of the process) tell the cost when other work shares the machine.
    """
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        links = link_people(tables["benefit_claims"], tables["housing_claims"],
                            tables["electoral_register"], tables["address_register"], settings)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return links, best_wall, best_cpu


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--replicate", type=int, default=0,
                        help="also time linking on this many copies of the extract")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write the markdown report here")
    args = parser.parse_args(argv)

    settings = load_settings(args.config).linking
    tables = read_tables(args.data)
    truth = read_truth(args.truth)
    counts = {table: len(tables[table]) for table in PERSON_TABLES}
    links, wall, cpu = time_linking(tables, settings, args.repeat)
    rows = {
        "rules (features.linking)": pair_quality(links, truth),
        "rules without the postcode rule": pair_quality(link_people(
            tables["benefit_claims"], tables["housing_claims"], tables["electoral_register"],
            tables["address_register"], settings.model_copy(update={"use_postcode_rule": False})),
            truth),
        "NINO only": pair_quality(nino_only_links(tables), truth),
    }
    lines = [
        f"## Linking — {args.data} ({', '.join(f'{t} {n:,}' for t, n in counts.items())})",
        "",
        "| method | b×h precision | b×h recall | all-pairs precision | all-pairs recall | persons found / true |",
        "|---|---|---|---|---|---|",
    ]
    for name, q in rows.items():
        lines.append(f"| {name} | {q['bh_precision']:.4f} | {q['bh_recall']:.4f} | {q['precision']:.4f} "
                     f"| {q['recall']:.4f} | {q['persons_found']:,.0f} / {q['persons_true']:,.0f} |")
    quality = rows["NINO only"]
    lines += ["", f"True pairs: benefit × housing {quality['bh_true_pairs']:,.0f}, "
              f"all {quality['true_pairs']:,.0f} ({quality['records_without_link']:,.0f} truth records "
              f"refused by the contract left out). Linking took {wall:.2f} s ({cpu:.2f} s CPU)."]
    if args.replicate:
        scaled = replicate(tables, args.replicate)
        scaled_counts = ", ".join(f"{t} {len(scaled[t]):,}" for t in PERSON_TABLES)
        _, scaled_wall, scaled_cpu = time_linking(scaled, settings, args.repeat)
        lines.append(f"At {args.replicate} copies ({scaled_counts}): {scaled_wall:.2f} s "
                     f"({scaled_cpu:.2f} s CPU).")
    report = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    print(report)
    return report


if __name__ == "__main__":
    main()
