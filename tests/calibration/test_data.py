"""Sales data loading (jaxtrade.calibration.data) and the bundled synthetic data."""

import json
from pathlib import Path

import numpy as np
import pytest

from jaxtrade import JaxtradeInputError
from jaxtrade.calibration import data as _data


def _write(tmp_path, text, name="sales.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_csv_with_and_without_header(tmp_path):
    a = _data.load_sales(_write(tmp_path, "sales\n1.5\n2\n3e2\n\n"))
    np.testing.assert_array_equal(a, [1.5, 2.0, 300.0])
    b = _data.load_sales(_write(tmp_path, "1.5\n2\n3e2\n", "b.csv"))
    np.testing.assert_array_equal(b, [1.5, 2.0, 300.0])


def test_csv_bad_rows_are_counted_and_shown(tmp_path):
    p = _write(tmp_path, "sales\n1\n-2\n0\nabc\nnan\ninf\n5\n")
    with pytest.raises(JaxtradeInputError) as e:
        _data.load_sales(p)
    msg = str(e.value)
    assert "5 of 7 data rows" in msg
    for frag in ["line 3: '-2' (not positive)", "line 4: '0' (not positive)", "line 5: 'abc' (not a number)",
                 "line 6: 'nan' (not a number)", "line 7: 'inf' (infinite)"]:
        assert frag in msg


def test_csv_many_bad_rows_truncated(tmp_path):
    p = _write(tmp_path, "\n".join(["-1"] * 25 + ["3"]) + "\n")
    with pytest.raises(JaxtradeInputError, match=r"25 of 26 data rows.*and 15 more"):
        _data.load_sales(p)


def test_csv_two_columns_rejected(tmp_path):
    with pytest.raises(JaxtradeInputError, match="exactly one column"):
        _data.load_sales(_write(tmp_path, "a,b\n1,2\n3,4\n"))


def test_npy_round_trip_and_errors(tmp_path):
    x = np.array([1.0, 2.5, 7.0])
    _data.save_sales(tmp_path / "s.npy", x)
    np.testing.assert_allclose(_data.load_sales(tmp_path / "s.npy"), x)
    _data.save_sales(tmp_path / "s.csv", x)
    np.testing.assert_allclose(_data.load_sales(tmp_path / "s.csv"), x, rtol=1e-8)
    np.save(tmp_path / "bad.npy", np.array([1.0, -1.0, np.nan]))
    with pytest.raises(JaxtradeInputError, match="2 of 3"):
        _data.load_sales(tmp_path / "bad.npy")
    np.save(tmp_path / "2d.npy", np.ones((3, 2)))
    with pytest.raises(JaxtradeInputError, match="one-dimensional"):
        _data.load_sales(tmp_path / "2d.npy")
    with pytest.raises(JaxtradeInputError, match="must exist"):
        _data.load_sales(tmp_path / "missing.csv")
    assert not list(tmp_path.glob("*.tmp"))


def test_bundled_synthetic_data():
    meta = _data.synthetic_metadata()
    assert meta["synthetic"] is True and "SYNTHETIC" in meta["description"]
    for year in _data.SYNTHETIC_YEARS:
        s = _data.synthetic_sales(year)
        assert s.shape == (200_000,)
        assert np.all(np.isfinite(s)) and np.all(s > 0)
        path = Path(_data.__file__).parent.parent / "data" / f"synthetic_sales_{year}.npy"
        assert path.stat().st_size <= 2 * 1024 * 1024
        assert meta["periods"][str(year)]["parameters"]["shape"] in (0.42, 0.43)
    with pytest.raises(JaxtradeInputError):
        _data.synthetic_sales(2001)


def test_bundled_data_metadata_is_json():
    p = Path(_data.__file__).parent.parent / "data" / "synthetic_sales.json"
    json.loads(p.read_text())
