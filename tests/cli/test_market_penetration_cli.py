"""The ``market_penetration`` CLI subcommand (jaxtrade.cli.market_penetration): simulate and estimate."""

import json

import numpy as np
import pytest

from jaxtrade import cli
from jaxtrade.models import market_penetration as mp


def _main(argv):
    """``jaxtrade market_penetration ...`` through ``jaxtrade.cli.main``."""
    return cli.main(argv)


def _simulate(tmp_path):
    sales, js, png = tmp_path / "s.npy", tmp_path / "s.json", tmp_path / "s.png"
    rc = _main(["market_penetration", "simulate", "--firms", "3_000", "--entry-share", "0.5,0.2", "--mean-sales", "4,2",
                "--set", "lam=0.8", "--seed", "5", "--save-sales", str(sales), "--output", str(js), "--plot", str(png)])  # fmt: skip
    assert rc == 0
    s = np.load(sales)
    ref = mp.simulate(mp.params(2.46, 0.8, 1.69, 0.34, -0.65), n_firms=3000, markets=mp.markets([0.5, 0.2], [4.0, 2.0]), seed=5)
    np.testing.assert_array_equal(s, ref)
    res = json.loads(js.read_text())
    assert res["parameters"]["lam"] == 0.8
    np.testing.assert_allclose(res["summary"]["entry_share"], (s > 0).mean(0))
    assert png.stat().st_size > 1000
    return sales


def test_simulate_writes_sales_json_png(tmp_path, capsys):
    _simulate(tmp_path)
    assert "market 1: entry share" in capsys.readouterr().out


@pytest.mark.slow  # ~30-60 s: compiling the L-BFGS step and the Jacobian
def test_estimate_reads_simulated_sales_writes_json_png(tmp_path):
    sales = _simulate(tmp_path)
    out, png2 = tmp_path / "e.json", tmp_path / "e.png"
    rc = _main(["market_penetration", "estimate", str(sales), "--n-sim", "2000", "--temperatures", "0.1", "--max-steps", "3",
                "--output", str(out), "--plot", str(png2)])  # fmt: skip
    est = json.loads(out.read_text())
    assert rc == (0 if est["converged"] and est["jacobian_rank"] == 5 else 1)  # 3 steps need not converge
    assert set(est["params"]) == set(mp.NAMES) == set(est["std_errors"])
    assert len(est["moments_data"]) == len(est["moment_names"]) == len(est["moments_model"])
    assert png2.stat().st_size > 1000


def test_bad_input_exit_status_2(tmp_path, capsys):
    assert _main(["market_penetration", "simulate", "--firms", "10", "--set", "rho=1.5"]) == 2
    assert "|rho| < 1" in capsys.readouterr().err
    assert _main(["market_penetration", "simulate", "--firms", "10", "--entry-share", "0.5,1.5", "--mean-sales", "1,1"]) == 2
    assert "entry_share" in capsys.readouterr().err
    assert _main(["market_penetration", "estimate", str(tmp_path / "missing.npy")]) == 2
