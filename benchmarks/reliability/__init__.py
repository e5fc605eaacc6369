"""Reliability at the boundaries: kill -9, corrupted rows, load over HTTP and a case-store outage.

``python -m benchmarks.reliability`` (run by ``make bench``) measures, on one generated world and
the machine's PostgreSQL (127.0.0.1:5432, database ``test``, trust authentication):

- **corrupted rows** (:mod:`.fuzz`): extracts of :mod:`tests.features.corrupted_rows` (rows each
  breaking one rule) checked against the contract: refused with their rule, no clean row refused,
  no traceback.
- **kill -9 of score** (:mod:`.score_kills`): ``counterfraud score`` killed at random moments and at
  aimed ones (once its run is published and it imports the work list, while it copies to ``--out``),
  and, stopped and stepped until its staging directory holds a chosen number of files, killed while
  it writes or renames its run; then run again. Every rerun's case files must equal, byte for byte,
  those of a clean run, and no run of the history or ``--out`` may look complete with other bytes.
  Each killed command's processes (its temporary Prefect server above all) are counted a few
  seconds after the kill (:mod:`.processes`).
- **kill -9 of cases import** (:mod:`.import_kills`) inside the import's write transaction, on
  PostgreSQL and SQLite: the store holds all of the run or none of it, and after the import is run
  again, every case once.
- **load** (:mod:`.load`): investigators (claim next, start, close) and a supervisor (bulk assign from
  the list it read) over HTTP against ``counterfraud app``, on a PostgreSQL and on a SQLite store;
  on PostgreSQL the store is made unreachable for a few seconds half-way (:mod:`.outage`).

It writes its section of ``benchmarks/RESULTS.md`` (:mod:`.report`; ``--smoke``: a tiny run, into a
temporary file).
"""
