"""Firms' sales data: loading, validation and the bundled synthetic data set.

Tyazhelnikov (004) §5.1 calibrates the model to the distribution of Chinese manufacturing firms'
*domestic sales* in 2000 and 2007 (NBS survey, Aghion et al. 2015). Those data are not public.
jaxtrade bundles a **synthetic** stand-in generated from the model at the paper's Table 1
values (see ``jaxtrade/data/README.md`` and ``experiments/make_synthetic_data.py``).

Accepted files: a CSV (or plain text) file with one column of numbers and an optional header
line, or a NumPy ``.npy`` file holding a one-dimensional array. Every value must be a finite,
strictly positive number; otherwise :func:`load_sales` raises
:class:`~jaxtrade.JaxtradeInputError` that counts the bad rows and shows the first of them.

A CSV may carry a second, firm-level column ``offshores`` (header ``sales,offshores``, either order): 1
when at least one stage of the firm's chain is made outside the home country (country 0), 0 otherwise
(issue 16 item 3; docs/calibration.md, "Identification from offshoring status"). :func:`load_firms`
returns both columns; a status that is not 0 or 1 is a bad row, named by its line like a bad sales value.
"""

from __future__ import annotations

import csv
import json
import math
import os
import typing
from pathlib import Path

import numpy as np

from ..engine.validation import fail

__all__ = ["FirmData", "load_firms", "load_sales", "save_sales", "synthetic_sales", "synthetic_metadata", "SYNTHETIC_YEARS"]

SYNTHETIC_YEARS = (2000, 2007)
#: The optional firm-level columns a sales CSV may carry next to ``sales``.
OPTIONAL_COLUMNS = ("offshores",)
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


class FirmData(typing.NamedTuple):
    """Firms' sales (float64) and, when the file has the column, their offshoring status (int8 0/1, else None)."""

    sales: np.ndarray
    offshores: np.ndarray | None = None


def _status(text: str) -> tuple[int | None, str | None]:
    try:
        v = float(text)
    except ValueError:
        return None, "offshores not a number"
    if v == 0.0 or v == 1.0:
        return int(v), None
    return None, "offshores not 0 or 1"


def _load_two_columns(path: Path, rows, header_line: int, header) -> FirmData:
    """A CSV with header ``sales,offshores`` (either order): every row needs a positive sales value and a 0/1 status."""
    names = [h.strip().lower() for h in header]
    i_s, i_o = names.index("sales"), names.index("offshores")
    sales, status = [], []
    bad: list[tuple[int, str, str]] = []
    n_rows = 0
    for line_no, row in enumerate(rows, start=1):
        if line_no <= header_line:
            continue
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        n_rows += 1
        if len(cells) != 2:
            bad.append((line_no, ",".join(row), f"{len(cells)} columns, expected 2 (sales,offshores)"))
            continue
        text = cells[i_s]
        try:
            value = float(text)
            why = _classify(value)
        except ValueError:
            why = "not a number"
        o, why_o = _status(cells[i_o])
        if why is not None or why_o is not None:
            bad.append((line_no, ",".join(row), "; ".join(w for w in (why and f"sales {why}", why_o) if w)))
            continue
        sales.append(value)
        status.append(o)
    if bad:
        shown = "; ".join(f"line {line}: {text!r} ({why})" for line, text, why in bad[:_SHOW])
        more = f"; ... and {len(bad) - _SHOW} more" if len(bad) > _SHOW else ""
        fail("path", str(path), f"every row needs a finite sales value > 0 and an offshoring status 0 or 1; {len(bad)} of {n_rows} data rows "
                                f"of {path} do not (first {min(len(bad), _SHOW)} shown): {shown}{more}. Remove or fix these rows.")
    return FirmData(np.asarray(sales, dtype=np.float64), np.asarray(status, dtype=np.int8))


def _load_csv(path: Path) -> FirmData:
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
            names = sorted(c.lower() for c in cells)
            if n_rows == 0 and not header_seen and names == sorted(("sales",) + OPTIONAL_COLUMNS):
                return _load_two_columns(path, rows, line_no, cells)
            fail("path", str(path), f"the sales file must have exactly one column (sales), or the two columns of the header "
                                    f"'sales,offshores'; line {line_no} has {len(cells)}: {row!r}")
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
    return FirmData(np.asarray(values, dtype=np.float64))


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


def load_firms(path) -> FirmData:
    """Reads firms' sales and, when present, their offshoring status.

    Files: a one-column CSV (header allowed) or ``.npy`` of sales (``offshores`` is then None), or a CSV
    with the header ``sales,offshores`` (either order; ``offshores`` 0/1, int8). Raises
    :class:`~jaxtrade.JaxtradeInputError` when the file is missing, empty, has other columns, or has rows
    whose sales are not finite positive numbers or whose status is not 0 or 1 (counted, lines named).
    """
    path = Path(path)
    if not path.is_file():
        fail("path", str(path), "the sales file must exist and be a regular file")
    firms = FirmData(_load_npy(path)) if path.suffix.lower() == ".npy" else _load_csv(path)
    if firms.sales.size < 2:
        fail("path", str(path), f"at least 2 sales observations are needed; found {firms.sales.size}")
    return firms


def load_sales(path) -> np.ndarray:
    """Reads firms' sales from a one-column CSV (header allowed), a ``.npy`` file, or the ``sales`` column
    of a ``sales,offshores`` CSV (:func:`load_firms` reads both).

    Returns a float64 NumPy array of the (finite, positive) sales. Raises
    :class:`~jaxtrade.JaxtradeInputError` when the file is missing, empty, has other columns, or has
    rows that are not finite positive numbers (counted and shown).
    """
    return load_firms(path).sales


def save_sales(path, sales, offshores=None) -> None:
    """Writes sales to ``.npy`` (float32) or CSV (one column, header ``sales``), atomically; with
    ``offshores`` (0/1 per firm) a CSV with header ``sales,offshores``."""
    path = Path(path)
    a = np.asarray(sales)
    if a.ndim != 1 or not np.all(np.isfinite(a)) or not np.all(a > 0):
        fail("sales", a, "sales must be a one-dimensional array of finite positive numbers")
    tmp = path.with_name(path.name + ".tmp")
    if offshores is not None:
        o = np.asarray(offshores)
        if o.shape != a.shape or not np.all((o == 0) | (o == 1)):
            fail("offshores", o, "offshores must be one 0/1 status per firm")
        if path.suffix.lower() == ".npy":
            fail("path", str(path), "sales with offshoring status are written as CSV (header sales,offshores)")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("sales,offshores\n")
            for v, s in zip(a, o.astype(int)):
                fh.write(f"{v:.9g},{s}\n")
        os.replace(tmp, path)
        return
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
