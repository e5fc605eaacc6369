"""The benchmark harness end to end on a tiny world: the real commands, a real report."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.run import main


@pytest.mark.usefixtures("prefect_harness")
def test_smoke_benchmark_writes_a_report_with_every_section(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    report = tmp_path / "RESULTS.md"
    with pytest.MonkeyPatch.context() as patch:
        # the stages run as their own processes: they reach the harness's server by its URL
        patch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
        main(["--smoke", "--workdir", str(tmp_path / "work"), "--out", str(report)])
    text = report.read_text()
    for heading in ("## Targets", "## Typologies: quality at capacity", "## The investigation loop",
                    "## Speed and memory",
                    "## Targets not met: what was tried, what limits them, what would move them"):
        assert heading in text
    assert "| 1,500 people, seed 101, standard (tuning variant) |" in text
    assert "| baseline |" in text and "| pipeline |" in text
    assert "| average precision ≥ 0.75 on every held-out world |" in text
    assert "| every typology recalled ≥ 0.6 at 2 % on every held-out world |" in text
    assert "Variant subtle, training seed 611, fresh seed 612:" in text and "| 1 | 2 |" in text
    for stage in ("generate", "train", "score", "baseline"):
        assert f"| 1,500 | {stage} |" in text
    # findings written after a run are carried into its report, with every measured figure kept
    from benchmarks.run import FINDINGS_START, with_findings

    findings = f"{FINDINGS_START}: written after the run\n\nThe living-together signal is weak.\n"
    refreshed = with_findings(text, findings)
    assert "The living-together signal is weak." in refreshed
    assert refreshed.count(FINDINGS_START) == 1
    before, after = text.split(FINDINGS_START)[0], text.split("## Case store")[1]
    assert refreshed.startswith(before) and refreshed.endswith(after)
