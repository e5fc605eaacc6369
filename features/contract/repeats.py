"""Finding the repeated texts of a key column fast, by hashing the bytes of fixed-width texts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.parsing import Arrow, to_numpy


def later_repeats(values: Arrow, usable: np.ndarray) -> np.ndarray:
    """True for every usable occurrence of a text after its first usable occurrence."""
    everything = bool(usable.all())
    rows = np.arange(len(values)) if everything else np.flatnonzero(usable)
    texts = values if everything else values.take(pa.array(rows))
    candidates = _maybe_repeated(texts)
    repeats = np.zeros(len(values), dtype=bool)
    if candidates.any():
        # Exact comparison, on the few texts sharing a hash with another (all when none was hashed).
        maybe = pd.Series(texts.filter(pa.array(candidates)).to_pandas())
        repeats[rows[candidates]] = maybe.duplicated(keep="first").to_numpy()
    return repeats


def _maybe_repeated(texts: Arrow) -> np.ndarray:
    """False for texts certainly unique in ``texts``; True where a text may repeat.

    Arrow and pandas hash tables take 4-15 s on 12 M distinct keys (random memory access per string);
    here each text, padded to one byte width, is hashed from 8-byte windows of the data buffer and the
    hashes are sorted (12 M uint64: under 1 s). Equal texts have equal hashes, so texts with a hash of
    their own are unique; the rest are compared exactly by the caller.
    """
    if len(texts) < 2 or texts.null_count:
        return np.ones(len(texts), dtype=bool)
    texts = texts.cast(pa.large_string())
    lengths = to_numpy(pc.binary_length(texts))
    width = max(int(lengths.max()), 8)
    if (lengths != width).any():
        texts = pc.utf8_rpad(texts, width=width, padding=" ")
        if not pc.all(pc.equal(pc.binary_length(texts), width)).as_py():
            return np.ones(len(texts), dtype=bool)  # multi-byte characters: no fixed width
    chunks = texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts]
    hashes = np.concatenate([_window_hashes(chunk, width) for chunk in chunks if len(chunk)])
    hashes = hashes * np.uint64(0x9E3779B97F4A7C15) ^ lengths.astype(np.uint64)  # not the padding
    ordered = np.sort(hashes)
    shared = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(shared) == 0:
        return np.zeros(len(texts), dtype=bool)
    return np.isin(hashes, shared)


def _window_hashes(texts: pa.LargeStringArray, width: int) -> np.ndarray:
    """Hash of each text of ``width`` bytes, read as 8-byte words straight from the data buffer."""
    offsets = np.frombuffer(
        texts.buffers()[1], np.int64, count=len(texts) + 1, offset=8 * texts.offset
    )
    hashes = np.zeros(len(texts), dtype=np.uint64)
    for start in (*range(0, width - 8, 8), width - 8):
        window = np.ndarray(
            (len(texts),),
            dtype="<u8",
            buffer=texts.buffers()[2],
            offset=int(offsets[0]) + start,
            strides=(width,),
        )
        hashes = hashes * np.uint64(0x9E3779B97F4A7C15) ^ window
    return hashes
