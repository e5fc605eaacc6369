"""The oversight panel's sign-off: who trained a version, its report, and the panel's decision.

A version may score only once the panel has approved it, on its report, and never
on the word of the person who trained it (four eyes). Everything is recorded twice:

- on the version itself, as MLflow tags (``trained_by``, ``report_sha256``, and
  ``signoff.decision`` / ``.by`` / ``.at`` / ``.note`` / ``.report_sha256``), which is
  what ``score`` reads;
- in an append-only JSON-lines log in the workspace (:data:`SIGNOFF_LOG`), one line
  per decision, so earlier decisions on a version are never lost.

The decision tag is written last, after the other tags and the log line: a decision cut short
leaves no decision, and :func:`check_may_score` accepts an approval only when every tag of it is
there and agrees with a line of the log.

The report a decision is made on is the one logged with the version at training
(``report/report.html`` among its run's artefacts); its sha256 is tagged when it is
logged, and an approval checks that the logged file still has that hash.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from mlflow.exceptions import MlflowException

from configs.settings import Settings
from features.contract import file_sha256
from models.registry import (
    CHAMPION,
    TRAINING_SAMPLE_TAG,
    ModelNotFoundError,
    resolve_version,
)
from oversight.report import VersionFacts

APPROVED = "approved"
REJECTED = "rejected"
Decision = Literal["approved", "rejected"]

TRAINED_BY_TAG = "trained_by"
REPORT_SHA_TAG = "report_sha256"
DECISION_TAGS = ("by", "at", "note", "report_sha256", "decision")
"""Recorded as ``signoff.<name>`` tags on the version, in this order: the decision last."""
REPORT_ARTIFACT_DIR = "report"
REPORT_HTML = "report.html"
SIGNOFF_LOG = "signoff_log.jsonl"
"""The append-only decision log, in the workspace."""

NOT_APPROVED_ERROR = (
    "model {name} version {version} has not been approved by the oversight panel; after reading its "
    "report, a panel member approves it with: counterfraud approve --model-version {version} "
    "--by ACCOUNT --note TEXT"
)
REJECTED_ERROR = (
    "model {name} version {version} was rejected by {by} on {at} ({note}); only a version approved "
    "with counterfraud approve --model-version V --by ACCOUNT --note TEXT may score"
)
NO_REPORT_ERROR = (
    "model {name} version {version} has no report; the panel decides on the report logged at training"
)
CHANGED_REPORT_ERROR = (
    "the report of model {name} version {version} has changed since it was logged "
    "(sha256 {found}, logged {logged}); it cannot be approved"
)
FOUR_EYES_ERROR = ("{by} trained model {name} version {version} and cannot {verb} it: another panel member "
                   "must")
INCOMPLETE_SIGNOFF_ERROR = (
    "the sign-off of model {name} version {version} is incomplete or does not match the sign-off log "
    "({problem}); record the decision again with counterfraud approve --model-version {version} --by ACCOUNT "
    "--note TEXT"
)
EMPTY_FIELD_ERROR = "--{field} must not be empty"


class SignOffError(ValueError):
    """A decision cannot be recorded, or a version may not score."""


def trainer_name(settings: Settings) -> str:
    """Who trains: ``oversight.trained_by`` when configured, else the operating-system user."""
    return settings.oversight.trained_by or getpass.getuser()


def record_training(model_name: str, version: str, run_id: str, trained_by: str, report_dir: str | Path) -> str:
    """Record the trainer and log the report of a new version; return the report's sha256.

    The report files of ``report_dir`` become the artefacts ``report/...`` of the training
    run ``run_id``; the version is tagged ``trained_by`` and ``report_sha256`` (of ``report.html``).
    """
    client = MlflowClient()
    client.log_artifacts(run_id, str(report_dir), artifact_path=REPORT_ARTIFACT_DIR)
    sha = file_sha256(Path(report_dir) / REPORT_HTML)
    client.set_model_version_tag(model_name, version, TRAINED_BY_TAG, trained_by)
    client.set_model_version_tag(model_name, version, REPORT_SHA_TAG, sha)
    return sha


def logged_report_sha256(model_name: str, version: str) -> str | None:
    """sha256 of the ``report.html`` logged with the version now; ``None`` when it has none."""
    run_id = MlflowClient().get_model_version(model_name, version).run_id
    with tempfile.TemporaryDirectory() as staging:
        try:
            path = download_artifacts(run_id=run_id, artifact_path=f"{REPORT_ARTIFACT_DIR}/{REPORT_HTML}",
                                      dst_path=staging)
        except (MlflowException, OSError):
            return None
        return file_sha256(path)


def download_report(model_name: str, version: str, out_dir: str | Path) -> Path:
    """Copy the report logged with the version into ``out_dir``; return the directory written."""
    run_id = MlflowClient().get_model_version(model_name, version).run_id
    with tempfile.TemporaryDirectory() as staging:
        try:
            downloaded = download_artifacts(run_id=run_id, artifact_path=REPORT_ARTIFACT_DIR, dst_path=staging)
        except (MlflowException, OSError):
            raise SignOffError(NO_REPORT_ERROR.format(name=model_name, version=version)) from None
        shutil.copytree(downloaded, out_dir, dirs_exist_ok=True)
    return Path(out_dir)


def decide(
    *,
    model_name: str,
    version: str | int,
    decision: Decision,
    by: str,
    note: str,
    log_path: str | Path,
    promote: bool = False,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Record the panel's decision on a version, and optionally make it champion.

    Parameters
    ----------
    model_name : str
    version : str or int
        A version number or alias.
    decision : {"approved", "rejected"}
    by, note : str
        Who decides, and why; neither may be empty.
    log_path : path
        The append-only log (:data:`SIGNOFF_LOG` in the workspace).
    promote : bool
        With an approval, move the ``champion`` alias to the version.
    now : datetime, optional
        When the decision is made (UTC); default now.

    Returns
    -------
    dict
        The line appended to the log: ``model``, ``version``, ``decision``, ``by``, ``at``,
        ``note``, ``report_sha256``, ``promoted``.

    Raises
    ------
    SignOffError
        When ``by`` or ``note`` is empty; for an approval, when the version has no report,
        its report changed since it was logged, or ``by`` trained it.
    """
    for field, value in (("by", by), ("note", note)):
        if not value.strip():
            raise SignOffError(EMPTY_FIELD_ERROR.format(field=field))
    number = resolve_version(version, model_name=model_name)
    client = MlflowClient()
    tags = dict(client.get_model_version(model_name, number).tags)
    found = logged_report_sha256(model_name, number)
    if decision == APPROVED:
        if found is None or REPORT_SHA_TAG not in tags:
            raise SignOffError(NO_REPORT_ERROR.format(name=model_name, version=number))
        if found != tags[REPORT_SHA_TAG]:
            raise SignOffError(CHANGED_REPORT_ERROR.format(name=model_name, version=number, found=found,
                                                           logged=tags[REPORT_SHA_TAG]))
    if _same_person(by, tags.get(TRAINED_BY_TAG, "")):
        raise SignOffError(FOUR_EYES_ERROR.format(by=by.strip(), name=model_name, version=number,
                                                  verb="approve" if decision == APPROVED else "reject"))
    entry = {
        "model": model_name,
        "version": number,
        "decision": decision,
        "by": by.strip(),
        "at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "note": note.strip(),
        "report_sha256": found or "",
        "promoted": bool(promote and decision == APPROVED),
    }
    # the earlier decision goes first, so a decision cut short below leaves none rather than a stale one
    if "signoff.decision" in tags:
        client.delete_model_version_tag(model_name, number, "signoff.decision")
    for name in DECISION_TAGS[:-1]:
        client.set_model_version_tag(model_name, number, f"signoff.{name}", entry[name])
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _append_line(log_path, entry)
    client.set_model_version_tag(model_name, number, "signoff.decision", entry["decision"])
    if entry["promoted"]:
        client.set_registered_model_alias(model_name, CHAMPION, number)
    return entry


def check_may_score(model_name: str, version: str, tags: Mapping[str, str], log_path: str | Path) -> None:
    """Raise unless the version's tags record a complete approval that agrees with the sign-off log.

    Raises
    ------
    SignOffError
        Naming the version and the command that approves it, who rejected it, or what of the
        sign-off record is missing or disagrees with the log.
    """
    decision = tags.get("signoff.decision")
    if decision == REJECTED:
        raise SignOffError(REJECTED_ERROR.format(name=model_name, version=version, by=tags.get("signoff.by"),
                                                 at=tags.get("signoff.at"), note=tags.get("signoff.note")))
    if decision != APPROVED:
        raise SignOffError(NOT_APPROVED_ERROR.format(name=model_name, version=version))
    recorded = {name: tags.get(f"signoff.{name}", "") for name in DECISION_TAGS}
    missing = [name for name in DECISION_TAGS if not recorded[name]]
    if missing:
        problem = f"no {', '.join(missing)} recorded"
    elif not any(str(entry.get("model")) == model_name and str(entry.get("version")) == str(version)
                 and all(str(entry.get(name, "")) == recorded[name] for name in DECISION_TAGS)
                 for entry in read_log(log_path)):
        problem = "no line of the log records this decision"
    else:
        return
    raise SignOffError(INCOMPLETE_SIGNOFF_ERROR.format(name=model_name, version=version, problem=problem))


def read_log(log_path: str | Path) -> list[dict[str, Any]]:
    """Every decision of the log, oldest first (empty when there is none yet).

    A line that is not whole JSON, torn by a decision killed while writing it, records no
    decision (its tag is written after the line) and is left out.
    """
    path = Path(log_path)
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def _append_line(log_path: Path, entry: Mapping[str, Any]) -> None:
    """Append ``entry`` as one line of the log, on a line of its own even after a torn one."""
    with log_path.open("a+b") as log:
        torn = False
        if log.seek(0, os.SEEK_END) > 0:
            log.seek(-1, os.SEEK_END)
            torn = log.read(1) != b"\n"
        log.write((("\n" if torn else "") + json.dumps(entry) + "\n").encode("utf-8"))


def comparable_name(name: str) -> str:
    """A person's name as compared: NFKC, format characters (zero-width spaces, …) removed,
    white space collapsed, case folded; so "Trainer\u200b" and " trainer " are one person."""
    text = "".join(char for char in unicodedata.normalize("NFKC", name) if unicodedata.category(char) != "Cf")
    return re.sub(r"\s+", " ", text).strip().casefold()


def _same_person(first: str, second: str) -> bool:
    return comparable_name(first) == comparable_name(second)


def version_facts(model_name: str, version: str, trained_by: str) -> VersionFacts:
    """What the registry records about ``version``, for its report."""
    record = MlflowClient().get_model_version(model_name, version)
    tags = dict(record.tags)
    registered = dt.datetime.fromtimestamp(record.creation_timestamp / 1000, tz=dt.UTC)
    return VersionFacts(model_name=model_name, version=str(version), as_of=tags.get("as_of", ""),
                        code_version=tags.get("code_version", ""), data_fingerprint=tags.get("data_fingerprint", ""),
                        trained_by=tags.get(TRAINED_BY_TAG, trained_by),
                        registered_at=registered.isoformat(timespec="seconds"),
                        training_sample=json.loads(tags[TRAINING_SAMPLE_TAG]) if TRAINING_SAMPLE_TAG in tags else None)


def current_champion(model_name: str) -> str | None:
    """The version the alias ``champion`` names; ``None`` when there is no champion yet."""
    try:
        return resolve_version(CHAMPION, model_name=model_name)
    except ModelNotFoundError:
        return None
