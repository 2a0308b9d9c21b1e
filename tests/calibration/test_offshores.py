"""Identification from offshoring status: the joint objective of (sales, offshores) (issue 16 item 3).

Tyazhelnikov (004) §5.3 calibrates to one cross-section of sales; docs/calibration.md ("Identification from
offshoring status") adds each firm's offshoring status o = 1{a stage of its chain is made outside country 0}.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtrade import JaxtradeInputError, solve_chain
from jaxtrade import calibration as cal
from jaxtrade.calibration.objective import _sim_density
from jaxtrade.calibration.simulation import _home_and_abroad_costs, _log_sales_and_offshoring, _log_sales_jit, _stage_costs_and_links

MODEL = cal.CalibrationModel(n_stages=10, sigma=4.0)
SMALL = cal.CalibrationModel(n_stages=4, sigma=4.0)
TRUTH = cal.Parameters(**cal.TABLE1[2000], sunk_cost=1.0)


def _problem(model, n, seed, offshores=True, **kw):
    """Data simulated from the calibration's own uniforms (noise-free: the truth fits up to the smoothing κ)."""
    sales = cal.simulate_sales(TRUTH, model, n, seed)
    o = cal.simulate_offshores(TRUTH, model, n, seed) if offshores else None
    return cal.make_problem(sales, model, n_sim=n, seed=seed, offshores=o, **kw)


@pytest.fixture(scope="module")
def small_joint():
    return _problem(SMALL, 4000, 3)


@pytest.fixture(scope="module")
def joint_and_sales_only_n10():
    return _problem(MODEL, 20000, 3), _problem(MODEL, 20000, 3, offshores=False)


# --- the model's offshoring status ----------------------------------------------------------------


@pytest.mark.parametrize("value_dependent", [False, True])
def test_home_and_abroad_recursion_matches_solve_chain(value_dependent):
    """min(MC^H, MC^A) is solve_chain's MC, and MC^A < MC^H exactly when solve_chain's path leaves country 0 (float64)."""
    m = cal.CalibrationModel(n_stages=5, sigma=4.0, value_dependent=value_dependent, trade_costs=[[0.0, 1.0], [0.7, 0.0]])
    for params in (TRUTH, cal.Parameters(shape=0.9, scale=0.5, tau=0.2, wage=0.7)):
        phi = cal.to_unconstrained(params, m).astype(jnp.float64)
        u = cal.common_uniforms(0, 3000, 5, dtype=jnp.float64)
        home, abroad = _home_and_abroad_costs(phi, u, m)
        a, w, rho = _stage_costs_and_links(phi, u, m)
        sol = solve_chain(a, jnp.asarray(m.T), rho, wages=w, value_dependent=value_dependent)
        np.testing.assert_allclose(np.minimum(home, abroad), sol.cost, rtol=1e-13)
        off = np.asarray(abroad < home)
        np.testing.assert_array_equal(off, np.any(np.asarray(sol.path) != 0, axis=-1))
        assert 0.05 < off.mean() < 0.999  # both groups present
        x, o = _log_sales_and_offshoring(phi, u, m, 1e-6)
        np.testing.assert_allclose(x, _log_sales_jit(phi, u, m), rtol=0, atol=1e-12)
        np.testing.assert_array_equal(np.asarray(o) > 0.5, off)


# --- (a) gradient --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["kld", "sml"])
def test_joint_gradient_matches_finite_differences_float64(small_joint, kind):
    prob = cal.Problem(model=SMALL, data=small_joint.data, uniforms=small_joint.uniforms.astype(jnp.float64), kind=kind)
    phi = cal.to_unconstrained(cal.Parameters(shape=0.5, scale=0.13, tau=0.4, wage=1.3, sunk_cost=1.2), SMALL).astype(jnp.float64)
    obj = jax.jit(cal.objective)
    g = np.asarray(jax.jit(jax.grad(cal.objective))(phi, prob))
    assert np.all(np.abs(g) > 1e-4)  # every coordinate moves the joint objective
    eps = 1e-5
    for i in range(4):
        e = jnp.zeros(4).at[i].set(eps)
        fd = (float(obj(phi + e, prob)) - float(obj(phi - e, prob))) / (2 * eps)
        assert fd == pytest.approx(g[i], rel=2e-3, abs=1e-6), (i, fd, g[i])


def test_joint_density_splits_the_sales_density(small_joint):
    """f_0 + f_1 is the sales-only density; the simulated offshoring share matches the data's at the truth."""
    phi = cal.to_unconstrained(TRUTH, SMALL)
    sales_only = cal.Problem(model=SMALL, data=cal.prepare_data(np.exp(np.asarray(small_joint.data.log_sales, np.float64))),
                             uniforms=small_joint.uniforms)
    f_joint = np.asarray(_sim_density(phi, small_joint))
    assert f_joint.shape == (2, small_joint.data.grid.shape[0])
    g = np.asarray(small_joint.data.density)
    np.testing.assert_allclose(g.sum(0), np.asarray(sales_only.data.density), rtol=1e-4, atol=1e-6)
    step = float(small_joint.data.step)
    share_model, share_data = f_joint[1].sum() * step, g[1].sum() * step
    assert share_model == pytest.approx(share_data, abs=0.01)
    st = cal.exact_statistics(phi, small_joint)
    assert st["offshore_share_model"] == pytest.approx(st["offshore_share_data"], abs=1e-12)  # the same firms, hard status


# --- (b) identification: Hessian at the truth -----------------------------------------------------------


def test_offshoring_status_lifts_the_flat_valley(joint_and_sales_only_n10):
    """N = 10, 20,000 firms, Table 1 (2000), data from the simulation's own uniforms. Sales only: the two smallest
    eigenvalues of the KLD Hessian lie below 0.5% of the largest (the flat (ρ, w) valley of docs/calibration.md);
    with the offshoring status the smallest rises at least 3x and the second at least 5x, and the information
    bound √(diag H⁻¹/n) at n = 200,000 falls below 2.5% for every coordinate (measured: 0.4%, 2.0%, 1.0%, 0.3%)."""
    joint, sales_only = joint_and_sales_only_n10
    phi = cal.to_unconstrained(TRUTH, MODEL)
    H_j, H_s = cal.hessian(joint, phi), cal.hessian(sales_only, phi)
    e_j, e_s = np.linalg.eigvalsh(H_j), np.linalg.eigvalsh(H_s)
    print("eigenvalues joint", e_j, "sales only", e_s)
    assert np.all(e_s[:2] < 5e-3 * e_s[-1]), e_s
    assert np.all(e_j > 0) and e_j[0] > 3 * e_s[0] and e_j[1] > 5 * e_s[1], (e_j, e_s)
    bound_j = np.sqrt(np.diag(np.linalg.inv(H_j)) / 200_000)
    bound_s = np.sqrt(np.diag(np.linalg.inv(H_s)) / 200_000)
    print("information bound at n = 200,000: joint", bound_j, "sales only", bound_s)
    assert np.all(bound_j < 0.025), bound_j
    assert bound_j[1] < 0.6 * bound_s[1] and bound_j[2] < 0.6 * bound_s[2]  # ρ and w: the directions the status informs


# --- (c) recovery --------------------------------------------------------------------------------------


def _recover(prob, model, fac):
    start = cal.Parameters(shape=TRUTH.shape * fac, scale=TRUTH.scale, tau=TRUTH.tau * fac, wage=TRUTH.wage * fac, sunk_cost=1.0)
    return cal.calibrate(None, model, start=start, problem=prob, scale=TRUTH.scale, with_inference=False, max_steps=200)


def _errors(res, model):
    truth = np.asarray(cal.to_unconstrained(TRUTH, model), np.float64)
    return np.exp(res.phi - truth) - 1  # relative errors of shape, ρ, w, f_s


def test_small_recovery_from_both_sides_without_reflection():
    """N = 4, 6,000 firms, noise-free data: from 0.5x (w = 0.59, the other branch) and 1.5x starts the joint
    calibration recovers (shape, ρ, w, f_s) within 5%, w on the true branch w > 1 without any reflection."""
    prob = _problem(SMALL, 6000, 5)
    for fac in (0.5, 1.5):
        res = _recover(prob, SMALL, fac)
        err = _errors(res, SMALL)
        print(fac, res.optimisation.status, res.optimisation.num_steps, err)
        assert res.optimisation.status in ("converged", "stalled", "max_steps")
        assert np.all(np.abs(err) < 0.05), (fac, err)
        assert res.to_json()["data_used"]["offshores"] is True


@pytest.mark.slow
def test_full_size_recovery_200k_data_1m_firms():
    """The issue's size: 200,000 observations (seed 11, independent of the simulation), 1M simulated firms
    (seed 1), N = 10, Table 1 (2000); from 0.5x and 1.5x starts every identified parameter within 5% (the issue's
    criterion), with the status smoothed at the default κ = offshore_temperature(1M) = 0.0036. Measured
    (docs/calibration.md, "Identification from offshoring status"): at the old fixed κ = 0.01 both starts reach shape
    -1.3%, rho +6.3..6.6%, w -4.9..-5.0%, f_s -0.2% (the smoothing bias; rho fails); at κ = 0.003 the 1.5x start
    reaches -0.4%, +2.1%, -1.5%, -0.1% and the 0.5x start -0.5%, +2.3%, -1.6%, -0.1%; at the default 0.0036
    (2026-12-03, idle 2-core CPU) 0.5x converged in 41 steps (418 s): -0.5%, +2.4%, -1.7%, -0.1%, and 1.5x stalled
    after 18 steps (89 s): -0.3%, +1.6%, -1.3%, -0.1% (passes; 8.7 min in all; Newton, then the default). With the
    quasi-Newton default (2026-12-04, idle): 0.5x converged in 73 steps (117 s) at -0.5%, +2.5%, -1.7%, -0.1%, 1.5x
    converged in 20 steps (33 s) at -0.4%, +2.2%, -1.6%, -0.1% (2.7 min in all).
    (κ = 0.003 is too rough for the 6,000 firms of the small test: there the default 0.01 is needed.)"""
    sales = cal.simulate_sales(TRUTH, MODEL, 200_000, 11, power_mean_firms=1_000_000)
    o = cal.simulate_offshores(TRUTH, MODEL, 200_000, 11)
    prob = cal.make_problem(sales, MODEL, n_sim=1_000_000, seed=1, offshores=o)  # the default kappa: offshore_temperature(1M) = 0.0036
    assert prob.offshore_temperature == pytest.approx(0.0036, abs=5e-5)
    for fac in (0.5, 1.5):
        res = _recover(prob, MODEL, fac)
        err = _errors(res, MODEL)
        print(fac, res.optimisation.status, res.optimisation.num_steps, res.optimisation.seconds, err)
        assert np.all(np.abs(err) < 0.05), (fac, err)


# --- (d) the reflection is broken ---------------------------------------------------------------------


def test_reflection_is_broken_by_the_offshoring_status(small_joint):
    """(w, ρ) -> (1/w, ρ/w) with the countries relabelled (uniforms swapped) reproduces every firm's sales, so the
    sales-only objective is unchanged; the offshoring shares differ (who is 'home' changes), and the joint
    objective is at least 100x larger at the reflected point."""
    phi = cal.to_unconstrained(TRUTH, SMALL)
    phi_r = phi.at[1].set(phi[1] - phi[2]).at[2].set(-phi[2])  # the reflected point (1/w, ρ/w)
    np.testing.assert_allclose(cal.canonicalise(np.asarray(phi_r, np.float64), SMALL), np.asarray(phi, np.float64), atol=1e-6)
    swapped = small_joint.uniforms[..., ::-1]
    sales_only = cal.Problem(model=SMALL, data=cal.prepare_data(np.exp(np.asarray(small_joint.data.log_sales, np.float64))),
                             uniforms=small_joint.uniforms)
    sales_only_r = cal.Problem(model=SMALL, data=sales_only.data, uniforms=swapped)
    joint_r = cal.Problem(model=SMALL, data=small_joint.data, uniforms=swapped)
    q_s, q_s_r = float(cal.objective(phi, sales_only)), float(cal.objective(phi_r, sales_only_r))
    q_j, q_j_r = float(cal.objective(phi, small_joint)), float(cal.objective(phi_r, joint_r))
    print("sales only", q_s, q_s_r, "joint", q_j, q_j_r)
    assert q_s_r == pytest.approx(q_s, abs=1e-6)
    assert q_j_r > 100 * max(q_j, 1e-6)
    # and on the calibration's own uniforms (no relabelling) the reflected point fits worse too
    assert float(cal.objective(phi_r, small_joint)) > 100 * max(q_j, 1e-6)


def test_calibrate_does_not_reflect_with_offshoring_status(small_joint):
    """A start on the branch w < 1 stays there when the status says so: data generated at w = 1/1.18."""
    truth = cal.Parameters(shape=TRUTH.shape, scale=TRUTH.scale, tau=TRUTH.tau, wage=1 / TRUTH.wage, sunk_cost=1.0)
    sales = cal.simulate_sales(truth, SMALL, 4000, 3)
    o = cal.simulate_offshores(truth, SMALL, 4000, 3)
    prob = cal.make_problem(sales, SMALL, n_sim=4000, seed=3, offshores=o)
    res = cal.calibrate(None, SMALL, start=truth, problem=prob, scale=TRUTH.scale, with_inference=False, max_steps=20)
    assert res.params.wage < 1
    js = res.to_json()
    assert js["data_used"]["offshores"] and "no reflection" in js["estimates"]["wage"]["note"]
    assert set(js["estimates"]["shape"]) >= {"value", "std_error"}


# --- (e) data files ------------------------------------------------------------------------------------


def _write(tmp_path, text, name="firms.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_offshores_column_round_trip(tmp_path):
    sales = cal.simulate_sales(TRUTH, SMALL, 50, 0)
    o = cal.simulate_offshores(TRUTH, SMALL, 50, 0)
    p = tmp_path / "f.csv"
    cal.save_sales(p, sales, o)
    firms = cal.load_firms(p)
    np.testing.assert_allclose(firms.sales, sales, rtol=1e-8)
    np.testing.assert_array_equal(firms.offshores, o)
    np.testing.assert_allclose(cal.load_sales(p), firms.sales)
    swapped = cal.load_firms(_write(tmp_path, "offshores,sales\n1,2.5\n0,3\n"))
    np.testing.assert_array_equal(swapped.offshores, [1, 0])
    np.testing.assert_allclose(swapped.sales, [2.5, 3.0])
    assert cal.load_firms(_write(tmp_path, "sales\n1\n2\n")).offshores is None


def test_offshores_bad_rows_are_named(tmp_path):
    text = "sales,offshores\n1.0,1\n2.0,2\n3.0,0\n-1,0\nx,1\n4.0,\n5.0,yes\n"
    with pytest.raises(JaxtradeInputError) as e:
        cal.load_firms(_write(tmp_path, text))
    msg = str(e.value)
    assert "5 of 7 data rows" in msg
    for line in ("line 3", "line 5", "line 6", "line 7", "line 8"):
        assert line in msg, (line, msg)
    assert "line 2:" not in msg and "line 4:" not in msg
    assert "offshores not 0 or 1" in msg and "sales not positive" in msg
    with pytest.raises(JaxtradeInputError, match="exactly one column"):
        cal.load_firms(_write(tmp_path, "sales,exports\n1,0\n"))
    with pytest.raises(JaxtradeInputError, match="0 or 1"):
        cal.make_problem(np.ones(20) + np.arange(20), SMALL, n_sim=100, offshores=np.full(20, 0.5))
    with pytest.raises(JaxtradeInputError, match="one 0/1 status per firm"):
        cal.make_problem(np.ones(20) + np.arange(20), SMALL, n_sim=100, offshores=np.zeros(19))


def test_cli_reads_offshores_and_keeps_the_json_shape(tmp_path):
    import json

    from jaxtrade.cli import main

    sales = cal.simulate_sales(TRUTH, SMALL, 2000, 4)
    o = cal.simulate_offshores(TRUTH, SMALL, 2000, 4)
    p = tmp_path / "firms.csv"
    cal.save_sales(p, sales, o)
    out = tmp_path / "r.json"
    rc = main(["calibrate", str(p), "--stages", "4", "--firms", "1000", "--max-steps", "2", "--bootstrap", "2", "--sim-replications", "0",
               "--no-plot", "--out", str(out)])
    assert rc == 0
    js = json.loads(out.read_text())
    for k in ("shape", "scale", "tau", "wage", "sunk_cost"):
        assert {"value", "std_error"} <= set(js["estimates"][k])
    assert js["data"]["offshores_used"] and js["data"]["columns"] == ["sales", "offshores"]
    assert js["data_used"]["offshores"] and 0 < js["data_used"]["offshore_share_data"] < 1
    assert math.isfinite(js["objective"]["value"])


def test_default_offshore_temperature_shrinks_with_the_simulation():
    """kappa = min(0.01, 0.01 (6000/S)^{1/5}): 0.01 up to 6,000 simulated firms, 0.0036 at 1M; make_problem uses it."""
    assert cal.offshore_temperature(4000) == cal.offshore_temperature(6000) == 0.01
    assert cal.offshore_temperature(1_000_000) == pytest.approx(0.01 * 0.006 ** 0.2)
    ks = [cal.offshore_temperature(n) for n in (10_000, 100_000, 1_000_000)]
    assert ks[0] > ks[1] > ks[2]
    sales = cal.simulate_sales(TRUTH, SMALL, 500, 4)
    o = cal.simulate_offshores(TRUTH, SMALL, 500, 4)
    assert cal.make_problem(sales, SMALL, n_sim=20_000, offshores=o).offshore_temperature == pytest.approx(cal.offshore_temperature(20_000))
    assert cal.make_problem(sales, SMALL, n_sim=20_000, offshores=o, offshore_temperature=0.02).offshore_temperature == 0.02
    with pytest.raises(JaxtradeInputError, match="n_sim"):
        cal.offshore_temperature(0)
