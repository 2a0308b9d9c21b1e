"""A tree technology end to end (Tyazhelnikov 004 §2.2, §3.5, §4, §5.3): model → simulate → free entry and
welfare → decomposition → wages, with value-dependent (iceberg) unbundling costs; then the same good sold in
two destination markets with value-dependent final shipment costs (decomposition per market; wages under the
iceberg and the ad-valorem readings, with the tariff revenue by importer and by destination).

The good has six nodes in the paper's stage-branch notation (Figure 4): two sub-chains (an engine: two
stages; a body: two stages) meet at an assembly stage, which is finished in a last stage. Two countries,
Pareto(2, 0.5) stage costs, wages (1, 1.2), τ = 0.3 → 0.15. Writes experiments/tree_end_to_end.json.

    python experiments/tree_end_to_end.py [--firms 200000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

import jaxtrade as jt
from jaxtrade import distributions as jd


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--firms", type=int, default=200_000)
    ap.add_argument("--wage-firms", type=int, default=2_000, help="firms in the (exact) wage equilibrium")
    args = ap.parse_args(argv)
    jax.config.update("jax_enable_x64", True)

    # (stage i, branch b, v_ib): stage 1 is the final good; branch 1 is the trunk.
    nodes = [(1, 1, None), (2, 1, 1), (3, 1, 1), (3, 2, 1), (4, 1, 1), (4, 2, 2)]
    tree, labels = jt.Tree.from_stage_branch(nodes)
    T = np.array([[0.0, 1.0], [1.0, 0.0]])
    model = jt.SequentialModel(tree.n_nodes, T, 0.3, jd.Pareto(2.0, 0.5), tree=tree, wages=[1.0, 1.2], value_dependent=True)
    out = {"nodes": [list(x) for x in nodes], "parent": list(tree.parent), "labels": [list(x) for x in labels]}

    t0 = time.perf_counter()
    sim = jt.simulate(model, args.firms, seed=0, sigma=4.0, dtype=jnp.float64)
    s = sim.summary
    out["simulate"] = {k: float(np.asarray(getattr(s, k))) for k in ("mean_cost", "power_mean", "offshoring_share", "mean_crossings")}
    out["simulate"]["n_nonfinite"] = int(s.n_nonfinite)
    demand = jt.QuasiLinearCES(4.0, 0.5)
    eq = jt.free_entry_closed_form(demand, s.power_mean, 1.0, income=10.0)
    out["free_entry"] = {"price_index": float(eq.price_index), "mass_of_firms": float(eq.mass_of_firms), "welfare": float(eq.welfare),
                         }

    dec = jt.decompose(model, 0.15, n_firms=args.firms, seed=0, sigma=4.0, zeta=0.5, f_s=1.0, income=10.0, dtype=jnp.float64)
    out["decompose"] = {k: v for k, v in dec.summary().items() if not isinstance(v, list)}

    u = jt.firm_uniforms(args.wage_firms, tree.n_nodes, 2, seed=1, dtype=jnp.float64)
    costs = model.astype(jnp.float64).costs_from_uniforms(u)
    wages = {}
    for reading in ("iceberg", "ad_valorem"):
        w = jt.solve_wages(costs, T, 0.3, jnp.asarray([100.0, 1.0]), demand=demand, f_s=1.0, tree=tree, value_dependent=True, reading=reading)
        wages[reading] = {"w2": float(w.wages[1]), "labour_demand": np.asarray(w.labour_demand).tolist(),
                          "tariff_revenue": float(w.tariff_revenue), "residual": float(w.residual), "successful": bool(w.result == optx.RESULTS.successful)}
    out["wages"] = wages

    # The same good sold in two destination markets (§3.3, §4.5): final shipment costs τ^F T^F, value-dependent
    # like the unbundling costs ((1 + τ^F T^F) V_root); the CLI equivalent is
    #   jaxtrade decompose --tree <parents> --stages 6 --value-dependent --destination-costs "0,0.6;0.4,0" ...
    dest = np.array([[0.0, 0.6], [0.4, 0.0]])
    model_d = jt.SequentialModel(tree.n_nodes, T, 0.3, jd.Pareto(2.0, 0.5), tree=tree, wages=[1.0, 1.2], value_dependent=True,
                                 destination_costs=dest)
    dec_d = jt.decompose(model_d, 0.15, n_firms=args.firms, seed=0, sigma=4.0, zeta=0.5, f_s=1.0, income=10.0, dtype=jnp.float64)
    keys = ("aggregate_cost", "total_log_change", "direct_log_change", "fragmentation_share", "fragmentation_share_se",
            "consumer_surplus_log_change", "welfare_log_change", "share_switching")
    out["destinations"] = {"destination_costs": dest.tolist(), "decompose": {k: dec_d.summary()[k] for k in keys}}
    wages_d = {}
    for reading in ("iceberg", "ad_valorem"):
        w = jt.solve_wages(costs, T, 0.3, jnp.asarray([100.0, 1.0]), demand=demand, f_s=1.0, tree=tree, value_dependent=True, reading=reading,
                           destination_costs=dest)
        wages_d[reading] = {"w2": float(w.wages[1]), "labour_demand": np.asarray(w.labour_demand).tolist(),
                            "tariff_revenue": float(w.tariff_revenue), "tariff_revenue_by_importer": np.asarray(w.tariff_revenue_by_importer).tolist(),
                            "tariff_revenue_by_destination": np.asarray(w.tariff_revenue_by_destination).tolist(),
                            "consumer_surplus": np.asarray(w.consumer_surplus).tolist(), "residual": float(w.residual),
                            "successful": bool(w.result == optx.RESULTS.successful)}
    out["destinations"]["wages"] = wages_d
    out["seconds"] = time.perf_counter() - t0
    path = Path(__file__).with_suffix(".json")
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
