"""Firms' sales data: loading, validation and the bundled synthetic data set.

Tyazhelnikov (004) §5.1 calibrates the model to the distribution of Chinese manufacturing firms'
*domestic sales* in 2000 and 2007 (NBS survey, Aghion et al. 2015). Those data are not public.
jaxtrade bundles a **synthetic** stand-in generated from the model at the paper's Table 1
values (see ``jaxtrade/data/README.md`` and ``experiments/make_synthetic_data.py``).

Accepted files: a CSV (or plain text) file with one column of numbers and an optional header
line, or a NumPy ``.npy`` file holding a one-dimensional array. Every value must be a finite,
strictly positive number; otherwise :func:`load_sales` raises
:class:`~jaxtrade.JaxtradeInputError` that counts the bad rows and shows the first of them.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np

from ..engine.validation import fail

__all__ = ["load_sales", "save_sales", "synthetic_sales", "synthetic_metadata", "SYNTHETIC_YEARS"]

SYNTHETIC_YEARS = (2000, 2007)
_SHOW = 10  # bad rows quoted in an error message


def _bad_rows_message(path, bad, n_rows) -> str:
    shown = "; ".join(f"line {line}: {text!r} ({why})" for line, text, why in bad[:_SHOW])
    more = f"; ... and {len(bad) - _SHOW} more" if len(bad) > _SHOW else ""
    return (
        f"every sales value must be a finite number > 0; {len(bad)} of {n_rows} data rows of {path} are not "
        f"(first {min(len(bad), _SHOW)} shown): {shown}{more}. Remove or fix these rows (firms with zero domestic "
        "sales are outside the model of Tyazhelnikov 004 §5.1)."
    )


def _classify(value: float) -> str | None:
    if math.isnan(value):
        return "not a number"
    if math.isinf(value):
        return "infinite"
    if value <= 0:
        return "not positive"
    return None


def _load_csv(path: Path) -> np.ndarray:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
        except csv.Error:
            dialect = csv.excel
        rows = list(csv.reader(fh, dialect))
    values: list[float] = []
    bad: list[tuple[int, str, str]] = []
    n_rows = 0
    header_seen = False
    for line_no, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue  # blank line
        if len([c for c in cells if c]) > 1:
            fail("path", str(path), f"the sales file must have exactly one column; line {line_no} has {len(cells)}: {row!r}")
        text = next(c for c in cells if c)
        try:
            value = float(text)
        except ValueError:
            if not header_seen and n_rows == 0:
                header_seen = True  # the first non-blank line may be a header
                continue
            n_rows += 1
            bad.append((line_no, text, "not a number"))
            continue
        n_rows += 1
        why = _classify(value)
        if why is not None:
            bad.append((line_no, text, why))
        else:
            values.append(value)
    if bad:
        fail("path", str(path), _bad_rows_message(path, bad, n_rows))
    return np.asarray(values, dtype=np.float64)


def _load_npy(path: Path) -> np.ndarray:
    arr = np.load(path, allow_pickle=False)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        fail("path", str(path), f"a .npy sales file must hold a one-dimensional array; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        fail("path", str(path), f"a .npy sales file must hold numbers; got dtype {arr.dtype}")
    a = arr.astype(np.float64)
    ok = np.isfinite(a) & (a > 0)
    if not np.all(ok):
        idx = np.flatnonzero(~ok)
        bad = [(f"{i} (index)", repr(float(a[i])), _classify(float(a[i])) or "?") for i in idx]
        fail("path", str(path), _bad_rows_message(path, bad, a.size).replace("line ", "row "))
    return a


def load_sales(path) -> np.ndarray:
    """Reads firms' sales from a one-column CSV (header allowed) or a ``.npy`` file.

    Returns a float64 NumPy array of the (finite, positive) sales. Raises
    :class:`~jaxtrade.JaxtradeInputError` when the file is missing, empty, has more than one
    column, or has rows that are not finite positive numbers (counted and shown).
    """
    path = Path(path)
    if not path.is_file():
        fail("path", str(path), "the sales file must exist and be a regular file")
    values = _load_npy(path) if path.suffix.lower() == ".npy" else _load_csv(path)
    if values.size < 2:
        fail("path", str(path), f"at least 2 sales observations are needed; found {values.size}")
    return values


def save_sales(path, sales) -> None:
    """Writes sales to ``.npy`` (float32) or CSV (one column, header ``sales``), atomically."""
    path = Path(path)
    a = np.asarray(sales)
    if a.ndim != 1 or not np.all(np.isfinite(a)) or not np.all(a > 0):
        fail("sales", a, "sales must be a one-dimensional array of finite positive numbers")
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix.lower() == ".npy":
        with open(tmp, "wb") as fh:
            np.save(fh, a.astype(np.float32))
    else:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("sales\n")
            np.savetxt(fh, a, fmt="%.9g")
    os.replace(tmp, path)


def _data_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data"


def synthetic_metadata() -> dict:
    """The description of the bundled synthetic data (true parameters, reading, seed)."""
    with (_data_dir() / "synthetic_sales.json").open("r", encoding="utf-8") as fh:
        return json.load(fh)


def synthetic_sales(year: int) -> np.ndarray:
    """The bundled SYNTHETIC sales sample for ``year`` in (2000, 2007), float64 (200,000 firms).

    Generated from the model at Tyazhelnikov (004) Table 1 (see :func:`synthetic_metadata`);
    these are not the paper's Chinese data, which are not public.
    """
    if year not in SYNTHETIC_YEARS:
        fail("year", year, f"year must be one of {SYNTHETIC_YEARS}")
    with (_data_dir() / f"synthetic_sales_{year}.npy").open("rb") as fh:
        return np.load(fh, allow_pickle=False).astype(np.float64)
