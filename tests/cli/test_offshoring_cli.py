"""The ``offshoring`` CLI subcommand (jaxtrade.cli.offshoring) through ``jaxtrade.cli.main``."""

import json

import numpy as np

from jaxtrade import cli
from jaxtrade.models import offshoring as off


def test_offshoring_config_table_json_and_png(tmp_path, capsys):
    cfg = tmp_path / "o.toml"
    cfg.write_text(
        '[distribution]\nfamily = "pareto"\nshape = 5.0\nscale = 1.0\n'
        "[parameters]\nsigma = 4.0\nalpha = 0.5\nn = 3\ntau = 1.6\ntau_I = 1.2\nf_p = 1.0\nf_I = 0.6\n"
        "f_ex = 1.0\nf_e = 0.5\nphi_Y = 1.0\nphi_I = 1.0\nphi_Y_w = 0.6\nphi_I_w = 0.9\n"
    )
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    rc = cli.main(["offshoring", str(cfg), "--set", "tau_I=1.25", "--sweep", "tau_I=1.1:1.3:3",
                   "--output", str(out), "--plot", str(png)])  # fmt: skip
    assert rc == 0
    res = json.loads(out.read_text())
    kw = {k: v for k, v in res["parameters"].items() if k not in ("beta", "L")}
    assert kw["tau_I"] == 1.25
    pc = off.pareto_cutoffs(5.0, 1.0, **kw)
    eq = res["equilibrium"]
    assert eq["converged"] is True and eq["regime_name"] == "D+O+OX"
    for name in ("phi_min", "phi_off", "phi_ex"):
        np.testing.assert_allclose(eq[name], float(getattr(pc, name)), rtol=1e-12)
    assert [r["regime_name"] for r in res["sweep"]["rows"]] == ["D+O+OX"] * 3
    phi_min = [r["phi_min"] for r in res["sweep"]["rows"]]
    assert phi_min[0] > phi_min[1] > phi_min[2]  # R.1 along the sweep
    assert png.stat().st_size > 1000
    text = capsys.readouterr().out
    assert "regime D+O+OX" in text and "welfare" in text


def test_offshoring_cli_reports_regime_and_bad_input(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli.main(["offshoring", "--set", "tau_I=2.0", "--output", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["equilibrium"]["regime_name"] == "D+X" and res["equilibrium"]["phi_off"] is None
    assert any(m.startswith("A.1 violated") for m in res["equilibrium"]["assumptions"]["messages"])
    assert "A.1 violated" in capsys.readouterr().out
    assert cli.main(["offshoring", "--set", "alpha=1.5"]) == 2
    assert "0 < α < 1" in capsys.readouterr().err
