"""The ``baldwin-okubo`` CLI subcommand (jaxtrade.cli.baldwin_okubo), through ``jaxtrade.cli.main``."""

import json

import numpy as np

import jaxtrade.cli


def test_config_prints_table_and_writes_json_and_png(tmp_path, capsys):
    cfg = tmp_path / "bo.toml"
    cfg.write_text("[parameters]\ns_E = 0.6\nsigma = 2.0\nrho = 2.0\nf = 1.0\nf_I = 0.8\nphi = [0.3, 0.75, 0.95]\n")
    out, png = tmp_path / "bo.json", tmp_path / "bo.png"
    assert jaxtrade.cli.main(["baldwin-okubo", str(cfg), "--output", str(out), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "φ^P = 0.666667" in text and "full_agglomeration" in text
    res = json.loads(out.read_text())
    assert res["converged"] is True
    np.testing.assert_allclose(res["sustain_point"], (0.4 / 0.6) ** 0.5, rtol=1e-14)
    phases = [r["phase"] for r in res["rows"]]
    assert phases == ["XX", "DD", "full_agglomeration"]
    # XX phase, eq. (17): a_R = (φ(2s_E−1)/((1−φ)(1−s_E)))^{1/α} a_X with α = 1
    r = res["rows"][0]
    np.testing.assert_allclose(r["a_R"], 0.3 * 0.2 / (0.7 * 0.4) * r["a_X"], rtol=1e-13)
    assert r["welfare_ratio"] == 1.0 or abs(r["welfare_ratio"] - 1) < 1e-12
    assert res["rows"][2]["a_bar_star"] is None  # no Southern firms left
    assert png.stat().st_size > 1000


def test_flags_and_bad_input_error(capsys):
    assert jaxtrade.cli.main(["baldwin_okubo", "--phi", "0.2", "--before-entry", "--s-E", "0.7"]) == 0
    assert "before entry" in capsys.readouterr().out
    assert jaxtrade.cli.main(["baldwin-okubo", "--phi", "0.2", "--sigma", "0.9"]) == 2
    assert "σ > 1" in capsys.readouterr().err
