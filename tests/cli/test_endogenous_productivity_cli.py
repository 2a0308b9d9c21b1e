"""CLI subcommands ``innovation``, ``multiproduct``, ``wage-inequality`` (001 §9-10) through jaxtrade.cli.main."""

import json

import numpy as np

from jaxtrade.cli import main


def test_innovation_adoption_config_table_json_png(tmp_path, capsys):
    cfg = tmp_path / "a.toml"
    cfg.write_text('model = "adoption"\n[distribution]\nfamily = "pareto"\nshape = 4.0\nscale = 1.0\n[parameters]\nf_i = 1.0\n')
    out = tmp_path / "a.json"
    assert main(["innovation", str(cfg), "--output", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["converged"] and res["regime"] == "adopt_then_export"
    assert res["cutoff"] < res["adoption_cutoff"] < res["export_cutoff"]
    assert "adoption_cutoff" in capsys.readouterr().out
    assert main(["innovation", "--model", "intensity", "--set", "kappa=0.5", "--output", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["alpha_exporter"] > res["alpha_nonexporter"]
    assert main(["innovation", "--set", "iota=0.9"]) == 2  # bad input: exit status 2, no traceback
    assert "ι > 1" in capsys.readouterr().err


def test_multiproduct_cli(tmp_path):
    out, png = tmp_path / "m.json", tmp_path / "m.png"
    assert main(["multiproduct", "--output", str(out), "--plot", str(png)]) == 0
    res = json.loads(out.read_text())
    from jaxtrade.models.multiproduct import pareto_closed_form

    cf = pareto_closed_form(5.0, 3.0, 3.0, 0.5, 0.5, 1.0, 1.0, 0.5, 1.3, 2)
    np.testing.assert_allclose(res["market_demand"], cf["B"], rtol=1e-11)
    assert png.stat().st_size > 0


def test_wage_inequality_cli(tmp_path):
    out = tmp_path / "w.json"
    assert main(["wage-inequality", "--model", "reduced", "--set", "export_cutoff_ratio=inf", "--output", str(out)]) == 0
    res = json.loads(out.read_text())
    np.testing.assert_allclose(res["gini"], 1 / (2 * 6 - 1), rtol=1e-12)  # ζ_g = (4 − 1)/0.5 = 6
    assert main(["wage-inequality", "--output", str(out)]) == 0
    res = json.loads(out.read_text())
    assert 0.0 < res["employment_share_domestic"] < 1.0 and res["export_cutoff_ratio"] > 1
