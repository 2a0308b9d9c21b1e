"""``jaxtrade decompose`` and ``jaxtrade simulate`` on every technology of the firm's problem (004 §2.2, §3.3,
eq. 7-9), through ``jaxtrade.cli.main``: a tree given as a parent list, value-dependent costs and destination
markets with final shipment costs; the per-destination results against the library; the bad inputs the issue
names (a tree whose nodes do not reach the root, a destination matrix of the wrong shape) as exit status 2."""

import json

import jax
import jax.numpy as jnp
import numpy as np

from jaxtrade import SequentialModel, Tree, cli
from jaxtrade.distributions import Pareto
from jaxtrade.models.decomposition import decompose
from jaxtrade.models.table1 import wages as table1_wages

TREE = ["--tree", "2,2,-1", "--stages", "3"]
DEST = "0,0.6;0.4,0"


def test_decompose_a_tree_with_value_dependent_costs_and_destinations(tmp_path, capsys):
    """Per destination: one table row, one JSON list entry and one bar each, equal to the library's
    decomposition of the same model (the Table 1 draws and wages, the tree, iceberg final shipments)."""
    args = ["decompose", *TREE, "--value-dependent", "--destination-costs", DEST, "--firms", "20000", "--batches", "8",
            "--dtype", "float64", "--tau0", "0.6", "--tau1", "0.3", "--shape", "2", "--scale", "0.5", "--out-dir", str(tmp_path)]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "cost / w:china / d0" in text and "cost / w:china / d1" in text
    data = json.loads((tmp_path / "decompose.json").read_text())
    (row,) = data["results"]
    assert row["destinations"] == 2 and data["parameters"]["destination_costs"] == DEST
    model = SequentialModel(3, 1.0 - np.eye(2), 0.6, Pareto(2.0, 0.5), wages=np.asarray(table1_wages(1.18, "china")), tree=Tree([2, 2, -1]),
                            value_dependent=True, destination_costs=np.array([[0.0, 0.6], [0.4, 0.0]]))
    with jax.enable_x64(True):
        ref = decompose(model, 0.3, n_firms=20000, sigma=4.0, zeta=0.5, n_batches=8, dtype=jnp.float64)
    for field in ("total_log_change", "direct_log_change", "fragmentation_share", "share_switching", "consumer_surplus_log_change"):
        assert len(row[field]) == 2
        np.testing.assert_allclose(row[field], np.asarray(getattr(ref, field)), rtol=1e-12, err_msg=field)
    assert np.all(np.asarray(row["total_log_change"]) <= np.asarray(row["direct_log_change"])) and 0 < min(row["fragmentation_share"])
    # The two markets are served from different paths: their decompositions differ.
    assert abs(row["total_log_change"][0] - row["total_log_change"][1]) > 1e-4
    assert (tmp_path / "decompose.png").stat().st_size > 1000


def test_decompose_and_simulate_refuse_bad_trees_and_destination_matrices(tmp_path, capsys):
    base = ["decompose", "--firms", "1000", "--batches", "4", "--out-dir", str(tmp_path)]
    assert cli.main(base + ["--tree", "1,0,-1", "--stages", "3"]) == 2  # nodes 0 and 1 feed each other, not the root
    assert "do not lead to the root" in capsys.readouterr().err
    assert cli.main(base + ["--tree", "2,2,-1"]) == 2  # three nodes, --stages 10
    assert "stages" in capsys.readouterr().err
    assert cli.main(base + ["--destination-costs", "0,1;1,0;2,2"]) == 2  # three rows for two countries
    err = capsys.readouterr().err
    assert "--destination-costs" in err and "2 rows" in err
    assert cli.main(base + ["--destination-costs", "0,1;1"]) == 2  # ragged
    assert "--destination-costs" in capsys.readouterr().err
    assert cli.main(base + ["--destination-costs", "0,-1;1,0"]) == 2  # negative cost
    assert "destination_costs" in capsys.readouterr().err
    sim = ["simulate", "--firms", "1000", "--stages", "3", "--draws", "pareto:shape=2,scale=0.5", "--tau", "0.3", "--no-progress"]
    assert cli.main(sim + ["--destination-costs", "0,1,2"]) == 2  # one row for two countries
    assert "destination_costs" in capsys.readouterr().err
    assert cli.main(sim + ["--tree", "1,0,-1"]) == 2
    assert "do not lead to the root" in capsys.readouterr().err


def test_simulate_a_tree_with_value_dependent_costs_and_destinations(tmp_path):
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    rc = cli.main(["simulate", "--firms", "5000", *TREE, "--draws", "pareto:shape=2,scale=0.5", "--tau", "0.3,0.2", "--wages", "1,1.2",
                   "--value-dependent", "--destination-costs", DEST, "--sigma", "4", "--dtype", "float64", "--no-progress",
                   "--out", str(out), "--plot", str(png)])  # fmt: skip
    assert rc == 0
    summary = json.loads(out.read_text())["summary"]
    assert np.shape(summary["power_mean"]) == (2,) and np.shape(summary["mean_labour"]) == (2, 2)
    model = SequentialModel(3, 1.0 - np.eye(2), np.array([0.3, 0.2]), Pareto(2.0, 0.5), wages=np.array([1.0, 1.2]), tree=Tree([2, 2, -1]),
                            value_dependent=True, destination_costs=np.array([[0.0, 0.6], [0.4, 0.0]]))
    with jax.enable_x64(True):
        ref = decompose(model, np.array([0.3, 0.2]), n_firms=5000, sigma=4.0, n_batches=4, dtype=jnp.float64)
    np.testing.assert_allclose(summary["power_mean"], np.asarray(ref.aggregate_cost), rtol=1e-10)  # the same firms
    assert png.stat().st_size > 1000


def test_jaxtrade_run_is_unchanged(tmp_path, capsys):
    """``jaxtrade run`` (cli/run.py → decompose.run_default): the Table 1 chain, no destinations."""
    assert cli.main(["run", "--quick", "--firms", "20000", "--out-dir", str(tmp_path)]) == 0
    assert "Proposition 4" in capsys.readouterr().out
    (row,) = json.loads((tmp_path / "decompose.json").read_text())["results"]
    assert row["destinations"] is None and isinstance(row["total_log_change"], float)
    assert row["total_log_change"] <= row["direct_log_change"] < 0
