"""How much the benchmark runs, and the one generated, trained and scored world every test uses."""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.reliability.stores import POSTGRES_URL, create_database, drop_database
from benchmarks.run import BENCH_PANEL, BENCH_PANEL_PASSWORD, BENCH_TRAINER, measure

SETTINGS = ("detector:\n  isolation_forest: {n_estimators: 50}\n  autoencoder: {hidden_neurons: [16, 8, 16], epochs: 5}\n"
            "capacity: {share: 0.2}\n")
"""A smaller detector than the default (these figures are about faults, not the quality of flags), and a
work list of a fifth of the subjects, so that the investigators of the load test do not run out of cases."""
BUILT = "world.json"
"""Written in a world's directory once it is built: its size, seed and the wall time of its clean run."""


@dataclass(frozen=True)
class Profile:
    """How much of each test to run."""

    people: int
    score_kills: int
    """At random moments and aimed at the import and the copy (:data:`.score_kills.AIMS`)."""
    staging_kills: int
    """Aimed inside the writing and the rename of the run's staging directory."""
    import_kills: int
    """Per store (PostgreSQL, SQLite)."""
    fault_seeds: int
    bad_rows_per_table: int
    investigators: int
    load_seconds: float
    """Per store."""
    outage_seconds: float
    seed: int = 7


DEFAULT = Profile(people=5_000, score_kills=4, staging_kills=5, import_kills=4, fault_seeds=4,
                  bad_rows_per_table=1_500, investigators=8, load_seconds=30.0, outage_seconds=5.0)
SMOKE = Profile(people=600, score_kills=1, staging_kills=1, import_kills=1, fault_seeds=1, bad_rows_per_table=80,
                investigators=2, load_seconds=4.0, outage_seconds=1.0)


def cli(*args: str) -> list[str]:
    """The command line of ``counterfraud ARGS`` in this interpreter."""
    return [sys.executable, "-m", "pipelines.cli", *args]


def config(path: Path, url: str) -> Path:
    """Write the settings of every command, with the case store at ``url``, to ``path``."""
    path.write_text(SETTINGS + f"case_store:\n  url: {url}\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class World:
    """A generated world, its trained workspace and its PostgreSQL case store."""

    root: Path
    data: Path
    workspace: Path
    config: Path
    """Settings of every command: :data:`SETTINGS` and the store."""
    database: str
    env: dict[str, str]
    """With the benchmark's Prefect server."""
    log: Path
    reference: Path
    """A clean scoring run's ``--out``, imported into the store."""
    score_s: float
    """The wall time of that run."""

    @property
    def url(self) -> str:
        return POSTGRES_URL.format(database=self.database)

    def score_argv(self, out: Path) -> list[str]:
        """``counterfraud score`` of the world into ``out``."""
        return cli("score", "--data", str(self.data), "--out", str(out), "--workspace", str(self.workspace),
                   "--config", str(self.config))


def build_world(profile: Profile, root: Path, env: dict[str, str], log: Path) -> World:
    """Generate, train, approve and score once (the reference run, imported into a PostgreSQL store).

    A world an earlier run left complete in ``root`` (its :data:`BUILT` record written) is used
    again, with a fresh, empty store: the tests need its workspace and reference run, not its store.
    """
    database = create_database("reliability")
    try:
        if (root / BUILT).is_file():
            built = json.loads((root / BUILT).read_text(encoding="utf-8"))
            if built["people"] == profile.people and built["seed"] == profile.seed:
                return _world(root, env, log, database, built["score_s"])
        world = _built_world(profile, root, env, log, database)
    except BaseException:
        drop_database(database)  # the caller drops it only once it has the world
        raise
    (root / BUILT).write_text(json.dumps({"people": profile.people, "seed": profile.seed,
                                          "score_s": world.score_s}), encoding="utf-8")
    return world


def _world(root: Path, env: dict[str, str], log: Path, database: str, score_s: float) -> World:
    return World(root=root, data=root / "data", workspace=root / "workspace",
                 config=config(root / "config.yaml", POSTGRES_URL.format(database=database)), database=database,
                 env=env, log=log, reference=root / "reference", score_s=score_s)


def _built_world(profile: Profile, root: Path, env: dict[str, str], log: Path, database: str) -> World:
    root.mkdir(parents=True, exist_ok=True)
    world = _world(root, env, log, database, float("nan"))
    truth = root / "truth.parquet"
    store = ["--workspace", str(world.workspace), "--config", str(world.config)]
    measure(cli("generate", "--out", str(world.data), "--people", str(profile.people), "--seed",
                str(profile.seed), "--truth", str(truth)), env, log)
    measure(cli("train", "--data", str(world.data), "--truth", str(truth), "--by", BENCH_TRAINER, *store), env, log)
    # approve takes no --config: it reads panel accounts from the workspace's own store
    measure(cli("users", "add", BENCH_PANEL, "--role", "panel", "--workspace", str(world.workspace)), env, log,
            BENCH_PANEL_PASSWORD)
    measure(cli("approve", "--model-version", "challenger", "--by", BENCH_PANEL, "--note", "reliability benchmark",
                "--promote", "--workspace", str(world.workspace)), env, log, BENCH_PANEL_PASSWORD)
    scored = measure(world.score_argv(world.reference), env, log)
    return dataclasses.replace(world, score_s=scored.wall_s)
