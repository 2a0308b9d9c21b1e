"""The ``melitz`` CLI subcommand (jaxtrade.cli.melitz)."""

import argparse
import json

import numpy as np

from jaxtrade.cli import melitz as _cli_melitz


def _parser():
    parser = argparse.ArgumentParser(prog="jaxtrade")
    _cli_melitz.register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_symmetric_config_solves_and_writes_json(tmp_path, capsys):
    cfg = tmp_path / "m.toml"
    cfg.write_text(
        'model = "symmetric"\n[distribution]\nfamily = "pareto"\nshape = 4.0\nscale = 1.0\n'
        "[parameters]\nsigma = 3.0\nf = 1.0\nf_x = 1.5\nf_e = 0.1\ntau = 1.5\nn_countries = 3\n"
    )
    out = tmp_path / "r.json"
    args = _parser().parse_args(["melitz", str(cfg), "--output", str(out)])
    assert args.func(args) == 0
    res = json.loads(out.read_text())
    s, k = 2.0, 4.0
    want = (s / (k - s) * (1.0 + 2 * 1.5**-k * 1.5 ** (-k / s) * 1.5) / 0.1) ** (1 / k)
    assert res["converged"] is True
    np.testing.assert_allclose(res["cutoff"], want, rtol=1e-12)
    assert "domestic_trade_share" in json.loads(capsys.readouterr().out)


def test_multi_country_config(tmp_path):
    cfg = tmp_path / "m.toml"
    cfg.write_text(
        'model = "multi_country"\n[distribution]\nfamily = "lognormal"\nmu = 0.0\nsigma = 1.0\n'
        "[parameters]\nsigma = 3.0\ntau = [[1.0, 1.5], [1.7, 1.0]]\nf = [[1.0, 1.6], [1.6, 1.0]]\n"
        "f_e = [0.1, 0.1]\nL = [1.0, 2.0]\noutside_good = false\n"
    )
    res = _cli_melitz.run_config(__import__("tomllib").loads(cfg.read_text()))
    assert res["converged"] is True
    assert len(res["wage"]) == 2 and res["wage"][1] == 1.0


def test_distribution_table_goes_through_the_one_registry():
    from jaxtrade.cli.common import distribution_from_config

    import pytest

    from jaxtrade import JaxtradeInputError
    from jaxtrade import distributions as D

    d = distribution_from_config({"family": "gengamma", "scale": 1.0, "d": 2.0, "p": 1.5})  # alias
    assert isinstance(d, D.GeneralizedGamma)
    with pytest.raises(JaxtradeInputError, match="one of pareto, truncated_pareto"):
        distribution_from_config({"family": "weibull", "shape": 2.0})
    with pytest.raises(JaxtradeInputError, match=r"missing: scale"):
        distribution_from_config({"family": "pareto", "shape": 4.0})
