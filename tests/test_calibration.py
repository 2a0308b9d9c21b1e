"""Calibration by simulated ML (jaxtrade.calibration; Tyazhelnikov 004 §5)."""

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from jaxtrade import JaxtradeInputError, solve_chain
from jaxtrade import calibration as cal

MODEL = cal.CalibrationModel(n_stages=10, sigma=4.0)
SMALL = cal.CalibrationModel(n_stages=4, sigma=4.0)  # the fast default run: the behaviour does not depend on N
TRUTH = cal.Parameters(**cal.TABLE1[2000], sunk_cost=1.0)


def _exact(model, n, seed=3):
    """Data simulated from the same uniforms as the calibration: the objective is 0 at the truth."""
    sales = cal.simulate_sales(TRUTH, model, n, seed)
    return cal.make_problem(sales, model, n_sim=n, seed=seed)


@pytest.fixture(scope="module")
def exact_problem():
    return _exact(MODEL, 4000)


@pytest.fixture(scope="module")
def small_problem():
    return _exact(SMALL, 2000)


# --- invariances that decide identification --------------------------------------------------


@pytest.mark.parametrize("draws_as", ["costs", "productivities"])
@pytest.mark.parametrize("value_dependent", [False, True])
def test_sales_invariant_to_cost_scale(draws_as, value_dependent):
    """MC(s·a, τ) = s·MC(a, τ/s) (additive) / s·MC(a, τ) (ad valorem): sales (S1) do not move."""
    m = cal.CalibrationModel(n_stages=6, sigma=4.0, draws_as=draws_as, value_dependent=value_dependent)
    p1 = cal.Parameters(shape=0.8, scale=0.3, tau=0.4, wage=1.2)
    c = 2.5
    new_scale = p1.scale * c if draws_as == "costs" else p1.scale / c  # cost scale × c
    p2 = cal.Parameters(shape=0.8, scale=new_scale, tau=p1.tau if value_dependent else p1.tau * c, wage=1.2)
    u = cal.common_uniforms(0, 3000, 6, dtype=jnp.float64)
    mc1 = np.asarray(cal.simulate_marginal_costs(p1, m, u))
    mc2 = np.asarray(cal.simulate_marginal_costs(p2, m, u))
    np.testing.assert_allclose(mc2, c * mc1, rtol=1e-10)
    s1 = cal.simulate_sales(p1, m, 3000, 0)
    s2 = cal.simulate_sales(p2, m, 3000, 0)
    np.testing.assert_allclose(s1, s2, rtol=2e-4)


def test_wage_reflection_is_observationally_equivalent():
    """(w, ρ) and (1/w, ρ/w) give the same firms' sales once the countries are relabelled."""
    phi = jnp.asarray([np.log(0.6), np.log(0.3), np.log(0.7), 0.0], jnp.float64)  # w < 1
    phi_c = jnp.asarray(cal.canonicalise(phi, MODEL))
    assert float(phi_c[2]) == pytest.approx(-math.log(0.7))
    u = cal.common_uniforms(1, 4000, 10, dtype=jnp.float64)
    x = np.asarray(cal._log_sales_jit(phi, u, MODEL))
    x_c = np.asarray(cal._log_sales_jit(phi_c, u[..., ::-1], MODEL))
    np.testing.assert_allclose(x, x_c, rtol=0, atol=1e-9)


@pytest.mark.parametrize("model,n", [(SMALL, 1000), pytest.param(MODEL, 4000, marks=pytest.mark.slow)], ids=["N4", "N10"])
def test_hessian_rank_at_truth_in_full_coordinates(model, n):
    """Independent simulation with explicit scale and τ: the Hessian in (log shape, log scale, log τ,
    log w, log f_s) has rank 4; the null direction is the cost-scale/τ ray."""
    sales = cal.simulate_sales(TRUTH, model, n, 11, power_mean_firms=20_000)
    prob = cal.make_problem(sales, model, n_sim=n, seed=5)
    u = prob.uniforms.astype(jnp.float64)
    T = jnp.asarray([[0.0, 1.0], [1.0, 0.0]])
    d = prob.data

    def full_objective(psi):
        shape, scale, tau, w, fs = jnp.exp(psi)
        a = 1.0 / (scale * (1.0 - u) ** (-1.0 / shape))  # Pareto productivity draws
        mc = solve_chain(a, T, tau, wages=jnp.stack([w, jnp.ones(())])).cost
        z = (1 - model.sigma) * jnp.log(mc)
        x = jnp.log(model.sigma * fs) + z - (jax.scipy.special.logsumexp(z) - jnp.log(z.shape[0]))
        f, _ = cal._density(x, d.trim, d.trim_width, d.grid.astype(jnp.float64), d.kernel.astype(jnp.float64), d.step)
        return cal._distance(f, d.density, d.raw, d.step, "kld", 1e-3)

    psi = jnp.log(jnp.asarray([TRUTH.shape, TRUTH.scale, TRUTH.tau, TRUTH.wage, TRUTH.sunk_cost]))
    H = np.asarray(jax.jit(jax.hessian(full_objective))(psi))
    eigs, vecs = np.linalg.eigh(0.5 * (H + H.T))
    order = np.argsort(np.abs(eigs))
    assert np.abs(eigs[order[0]]) < 1e-7 * np.abs(eigs).max()
    assert np.abs(eigs[order[1]]) > 1e-5 * np.abs(eigs).max()  # rank exactly 4
    null = vecs[:, order[0]]
    np.testing.assert_allclose(np.abs(null), [0, 1 / math.sqrt(2), 1 / math.sqrt(2), 0, 0], atol=1e-6)
    assert null[1] * null[2] < 0  # productivity draws: identified combination is τ·scale
    rep = cal.identification_report(TRUTH, prob)
    assert rep["rank"] == 4


# --- objectives ---------------------------------------------------------------------------------


def test_objective_zero_at_truth_with_same_draws(small_problem):
    phi = cal.to_unconstrained(TRUTH, SMALL)
    for kind in cal.OBJECTIVES:
        p = cal.Problem(model=SMALL, data=small_problem.data, uniforms=small_problem.uniforms, kind=kind)
        v = float(cal.objective(phi, p))
        if kind == "sml":
            continue
        assert abs(v) < (3e-3 * math.log(2 * p.data.grid.shape[0]) if kind == "ks" else 1e-5), (kind, v)
    st = cal.exact_statistics(phi, small_problem)
    assert st["ks_exact"] < 2e-3 and st["cvm_exact"] < 1e-6


def test_gradient_matches_finite_differences_float64(small_problem):
    prob = cal.Problem(model=SMALL, data=small_problem.data, uniforms=small_problem.uniforms.astype(jnp.float64), kind="kld")
    phi = cal.to_unconstrained(cal.Parameters(shape=0.5, scale=0.13, tau=0.4, wage=1.3, sunk_cost=1.2), SMALL).astype(jnp.float64)
    obj = jax.jit(cal.objective)
    g = np.asarray(jax.jit(jax.grad(cal.objective))(phi, prob))
    eps = 1e-5
    for i in range(4):
        e = jnp.zeros(4).at[i].set(eps)
        fd = (float(obj(phi + e, prob)) - float(obj(phi - e, prob))) / (2 * eps)
        assert fd == pytest.approx(g[i], rel=2e-3, abs=1e-6), (i, fd, g[i])


def _swapping_sample(n=20000, seed=0):
    """x_i(θ) = a_i + θ b_i with heterogeneous slopes b_i: ranks swap all the time as θ moves."""
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.normal(size=n)), jnp.asarray(rng.normal(size=n))


def test_soft_quantile_level_and_implicit_derivative():
    a, b = _swapping_sample()
    width, level = 0.05, 0.95
    q = cal.soft_quantile(a, level, width)
    assert float(jnp.mean(jax.nn.sigmoid((q - a) / width))) == pytest.approx(level, abs=1e-12)
    assert abs(float(q) - float(jnp.quantile(a, level))) < 2 * width  # a smoothed version of the sample quantile
    # derivative in θ against central differences over a step across which thousands of firms swap ranks
    qf = jax.jit(lambda t: cal.soft_quantile(a + t * b, level, width))
    ad = float(jax.grad(lambda t: cal.soft_quantile(a + t * b, level, width))(0.0))
    h = 1e-3  # ≈ 2 spacings between order statistics at the quantile: ranks swap within ±h
    fd = (float(qf(h)) - float(qf(-h))) / (2 * h)
    assert ad == pytest.approx(fd, rel=1e-3)
    # second derivative (the JVP is itself differentiable)
    ad2 = float(jax.grad(jax.grad(lambda t: cal.soft_quantile(a + t * b, level, width)))(0.0))
    h2 = 3e-3
    fd2 = (float(qf(h2)) - 2 * float(qf(0.0)) + float(qf(-h2))) / h2**2
    assert ad2 == pytest.approx(fd2, rel=2e-2)
    # the sample quantile's a.e. derivative is the slope b_k of the one point at that rank (a draw from
    # N(0, 1) here), not the trend of the quantile (why the soft quantile is used; the test is not vacuous)
    hard_ad = float(jax.grad(lambda t: jnp.quantile(a + t * b, level))(0.0))
    order, pos = np.argsort(np.asarray(a)), level * (a.shape[0] - 1)
    j, frac = int(pos), pos - int(pos)  # jnp.quantile interpolates linearly between two order statistics
    slope_at_rank = (1 - frac) * float(b[order[j]]) + frac * float(b[order[j + 1]])
    assert hard_ad == pytest.approx(slope_at_rank, rel=1e-6) and abs(hard_ad - ad) > 0.05


def test_gradient_matches_finite_differences_across_rank_swaps():
    """The objective's autodiff gradient against central differences with a step (1e-2 in log parameters)
    across which many simulated firms swap ranks and switch paths, with the default 5% trimming, float64.
    With the sample quantile in the trimming weights this failed by a factor of 4 in log w (200k firms)."""
    model = MODEL
    sales = cal.simulate_sales(TRUTH, model, 20000, 11)
    prob = cal.make_problem(sales, model, n_sim=20000, seed=12)
    prob = cal.Problem(model=model, data=prob.data, uniforms=prob.uniforms.astype(jnp.float64), kind="kld")
    phi = jnp.asarray(cal.to_unconstrained(cal.Parameters(shape=0.45, scale=0.13, tau=0.45, wage=1.25, sunk_cost=1.1), model), jnp.float64)
    obj = jax.jit(cal.objective)
    g = np.asarray(jax.jit(jax.grad(cal.objective))(phi, prob))
    h = 1e-2
    fd = np.array([(float(obj(phi + h * e, prob)) - float(obj(phi - h * e, prob))) / (2 * h) for e in jnp.eye(4, dtype=jnp.float64)])
    np.testing.assert_allclose(g, fd, rtol=0.03, atol=0.01 * np.abs(fd).max())


def test_exact_ks_matches_scipy(small_problem):
    phi = cal.to_unconstrained(cal.Parameters(shape=0.5, scale=0.13, tau=0.4, wage=1.3), SMALL)
    st = cal.exact_statistics(phi, small_problem)
    x = np.sort(np.asarray(cal._log_sales_jit(phi, small_problem.uniforms, SMALL), np.float64))
    x = x[x <= np.quantile(x, 0.95)]
    y = np.asarray(small_problem.data.sorted_trimmed, np.float64)
    assert st["ks_exact"] == pytest.approx(scipy.stats.ks_2samp(x, y).statistic, abs=1e-12)
    brute = np.mean([(np.mean(y <= xj) - np.mean(x <= xj)) ** 2 for xj in x])
    assert st["cvm_exact"] == pytest.approx(brute, rel=1e-9)


def test_smoothed_ks_within_temperature_bound(small_problem):
    phi = cal.to_unconstrained(cal.Parameters(shape=0.5, scale=0.13, tau=0.4, wage=1.3), SMALL)
    d = small_problem.data
    f = cal._sim_density(phi, small_problem)
    G, F = np.cumsum(d.density) * d.step, np.cumsum(np.asarray(f)) * d.step
    hard = np.max(np.abs(G - F))
    for t in (1e-2, 1e-3):
        soft = float(cal._distance(f, d.density, d.raw, d.step, "ks", t))
        assert hard - t * math.log(2 * G.size) - 1e-6 <= soft <= hard + 1e-6


# --- optimisation -----------------------------------------------------------------------------


START = cal.Parameters(shape=0.42 * 0.8, scale=0.13, tau=0.49 * 1.2, wage=1.18 * 0.9)


@pytest.mark.parametrize("optimizer", ["newton", "bfgs", "nelder_mead"])
def test_optimisers_find_exact_minimum(exact_problem, optimizer):
    phi0 = cal.moment_start(cal.to_unconstrained(START, MODEL), exact_problem)
    steps = 400 if optimizer == "nelder_mead" else 150
    res = cal.minimise(exact_problem, phi0, optimizer=optimizer, max_steps=steps, gtol=1e-7)
    assert res.result in ("converged", "max_steps", "stalled")
    assert res.history and res.history[0]["objective"] >= res.value
    assert {"step", "objective", "grad_norm", "evaluations"} <= set(res.history[-1])
    truth = np.asarray(cal.to_unconstrained(TRUTH, MODEL))
    phi = cal.canonicalise(res.phi, MODEL)
    if optimizer == "nelder_mead":  # the derivative-free baseline stops early on the weak ridge (docs/calibration.md)
        assert res.value < 0.25 * res.history[0]["objective"]
        return
    assert res.value < 2e-4
    np.testing.assert_allclose(phi[[0, 3]], truth[[0, 3]], atol=0.05)


def test_adam_reduces_objective(small_problem):
    phi0 = cal.moment_start(cal.to_unconstrained(START, SMALL), small_problem)
    res = cal.minimise(small_problem, phi0, optimizer="adam", max_steps=40, learning_rate=0.02)
    assert res.value < 0.5 * res.history[0]["objective"]


def _check_resume(problem, tmp_path, optimizer, max_steps, stop_at, every):
    phi0 = cal.moment_start(cal.to_unconstrained(START, problem.model), problem)
    kw = dict(optimizer=optimizer, max_steps=max_steps, gtol=0.0, ftol=0.0, checkpoint_every=every)
    full = cal.minimise(problem, phi0, checkpoint=tmp_path / "full.ckpt", **kw)

    def interrupt(rec):
        if rec["step"] == stop_at:
            raise KeyboardInterrupt

    ck = tmp_path / "run.ckpt"
    part = cal.minimise(problem, phi0, checkpoint=ck, callback=interrupt, **kw)
    assert part.result == "interrupted" and part.steps == stop_at
    assert ck.is_file() and not list(tmp_path.glob("*.tmp"))
    resumed = cal.minimise(problem, phi0, checkpoint=ck, resume=True, **kw)
    assert resumed.steps == full.steps > stop_at  # the resumed run did continue
    np.testing.assert_array_equal(resumed.phi, full.phi)
    assert [h["objective"] for h in resumed.history] == [h["objective"] for h in full.history]
    assert resumed.evaluations == full.evaluations
    other = cal.Problem(model=problem.model, data=problem.data, uniforms=problem.uniforms, kind="cvm", seed=problem.seed)
    with pytest.raises(JaxtradeInputError, match="config hash"):
        cal.minimise(other, phi0, checkpoint=ck, resume=True, **kw)


@pytest.mark.parametrize("optimizer", ["adam", "nelder_mead", "newton"])  # the optax, optimistix and Newton paths; L-BFGS in the slow variant
def test_checkpoint_resume_reaches_same_result(small_problem, tmp_path, optimizer):
    """Forced interruption (Ctrl-C) between checkpoints, resume: bit-for-bit the uninterrupted run."""
    _check_resume(small_problem, tmp_path, optimizer, max_steps=7, stop_at=5, every=3)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam", "nelder_mead"])
def test_checkpoint_resume_reaches_same_result_long(exact_problem, tmp_path, optimizer):
    _check_resume(exact_problem, tmp_path, optimizer, max_steps=25, stop_at=13, every=5)


# --- inference and the whole calibration ------------------------------------------------------


def _check_json(res, truth_shape):
    js = res.to_json()
    json.loads(json.dumps(js))  # plain JSON types only
    est = js["estimates"]
    assert set(est) >= {"shape", "scale", "tau", "wage"}
    assert est["scale"]["identified"] is False and est["scale"]["std_error"] is None and est["scale"]["value"] == TRUTH.scale
    for k in ("shape", "tau", "wage", "sunk_cost"):
        assert est[k]["std_error"] > 0 and math.isfinite(est[k]["std_error"])
    diag = js["diagnostics"]
    assert diag["rank"] == 4 and diag["condition_number"] >= 1
    assert est["shape"]["value"] == pytest.approx(truth_shape, rel=0.05)
    assert est["wage"]["value"] >= 1
    return js


@pytest.mark.parametrize("bootstrap,sim_replications", [(8, 2), pytest.param(20, 3, marks=pytest.mark.slow)])
def test_calibrate_json_and_inference(exact_problem, bootstrap, sim_replications):
    res = cal.calibrate(None, MODEL, start=START, scale=TRUTH.scale, problem=exact_problem, max_steps=100, bootstrap=bootstrap,
                        sim_replications=sim_replications)
    _check_json(res, TRUTH.shape)


def test_fixed_wage_is_held_and_reported(exact_problem):
    """A relative wage known from wage data is held fixed: every iterate keeps it, the JSON marks it, and the
    curvature and standard errors are those of the three free coordinates."""
    res = cal.calibrate(None, MODEL, start=START, scale=TRUTH.scale, problem=exact_problem, max_steps=60, bootstrap=6,
                        sim_replications=0, fixed_wage=TRUTH.wage)
    assert {h["phi"][2] for h in res.optimisation.history} == {float(np.float32(math.log(TRUTH.wage)))}
    js = res.to_json()
    json.loads(json.dumps(js))
    w = js["estimates"]["wage"]
    assert w["fixed"] is True and w["std_error"] is None and w["value"] == pytest.approx(TRUTH.wage, rel=1e-6)
    diag = js["diagnostics"]
    assert diag["coordinates"] == ["log_shape", "log_rho", "log_sunk_cost"] and np.shape(diag["hessian"]) == (3, 3)
    assert diag["std_errors_phi"][2] is None
    assert js["estimates"]["shape"]["value"] == pytest.approx(TRUTH.shape, rel=0.05)
    with pytest.raises(JaxtradeInputError, match="fixed_wage"):
        cal.calibrate(None, MODEL, problem=exact_problem, fixed_wage=-1.0)
    with pytest.raises(JaxtradeInputError, match="fixed"):
        cal.minimise(exact_problem, jnp.zeros(4), optimizer="newton", fixed={5: 0.0})


def _cli_run(tmp_path, extra=()):
    from jaxtrade import cli

    sales = cal.simulate_sales(TRUTH, SMALL, 1500, 2)
    csv = tmp_path / "sales.csv"
    cal.save_sales(csv, sales)
    out = tmp_path / "result.json"
    argv = ["calibrate", str(csv), "--stages", "4", "--sigma", "4", "--draws", "pareto", "--firms", "1500", "--max-steps", "6", "--bootstrap", "4",
            "--sim-replications", "0", "--checkpoint-every", "3", "--out", str(out)]
    assert cli.main(argv) == 0
    js = json.loads(out.read_text())
    if extra:
        assert cli.main(argv + list(extra)) == 0
    return out, js, json.loads(out.read_text())


def test_cli_json_shape(tmp_path):
    """``jaxtrade calibrate`` writes the JSON (estimates keyed by the paper's names), the PNG and the checkpoint."""
    out, js, _ = _cli_run(tmp_path)
    assert set(js["estimates"]) >= {"shape", "scale", "tau", "wage"}
    for k, e in js["estimates"].items():
        assert {"value", "std_error"} <= set(e), k
    assert js["estimates"]["scale"]["identified"] is False and js["estimates"]["scale"]["std_error"] is None
    assert {"rank", "condition_number"} <= set(js["diagnostics"])
    assert js["data"]["n"] == 1500 and out.with_suffix(".png").is_file()
    assert Path(str(out) + ".ckpt").is_file() and not list(tmp_path.glob("*.tmp*"))


@pytest.mark.slow
def test_cli_resume(tmp_path):
    """``--resume`` continues from the final checkpoint and reports the same estimates."""
    _, js, js2 = _cli_run(tmp_path, ["--resume"])
    assert js2["estimates"]["shape"]["value"] == js["estimates"]["shape"]["value"]


# --- the finite-difference Hessian behind the standard errors -------------------------------------


def test_fd_hessian_against_known_hessian():
    """f = ½ xᵀAx + Σ sin(x_i): H = A − diag(sin x). Central differences of ∇f have error ≤ h²/6 per entry."""
    rng = np.random.default_rng(0)
    B = rng.normal(size=(4, 4))
    A = jnp.asarray(B @ B.T + np.eye(4))
    x = jnp.asarray(rng.normal(size=4))

    def grad(z):
        return A @ z + jnp.cos(z)

    exact = np.asarray(A) - np.diag(np.sin(np.asarray(x)))
    for h in (1e-1, 1e-2):
        H = cal.fd_hessian(grad, x, h)
        assert np.max(np.abs(H - exact)) <= h * h / 6 + 1e-12
    assert np.max(np.abs(cal.fd_hessian(grad, x, 1e-1) - exact)) > 1e-5  # the bound is not vacuous


def test_fd_hessian_matches_second_differences_of_the_objective(small_problem):
    """On the calibration objective (float64 draws), central differences of the autodiff gradient equal
    second differences of the objective's values at the same step: both include the curvature from
    firms switching paths, which the autodiff Hessian misses."""
    prob = cal.Problem(model=SMALL, data=small_problem.data, uniforms=small_problem.uniforms.astype(jnp.float64), kind="kld")
    phi = jnp.asarray(cal.to_unconstrained(TRUTH, SMALL), jnp.float64)
    h = 1e-2
    H = cal._hessian(prob, phi, h)
    f = jax.jit(cal.objective)
    E = np.eye(4) * h

    def val(d):
        return float(f(phi + jnp.asarray(d), prob))

    f0 = val(np.zeros(4))
    H2 = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            H2[i, j] = (val(E[i] + E[j]) - val(E[i] - E[j]) - val(-E[i] + E[j]) + val(-E[i] - E[j])) / (4 * h * h)
    assert abs(f0) < 1e-6  # the truth with the same uniforms: 0 up to the float32 normalisation of the data density
    np.testing.assert_allclose(H, H2, rtol=0.05, atol=0.02 * np.abs(H2).max())


def test_rho_and_wage_span_the_flat_directions_at_the_truth():
    """The identification finding (docs/calibration.md): on the bundled 2000 data (200,000 firms, 5% trimmed)
    the Hessian of the KLD at the truth (central differences of the gradient, so path switches count) has two
    eigenvalues below 0.5% of the largest, and their eigenvectors span the (log ρ, log w) plane: the sales
    distribution pins down shape and f_s, not τ/scale and the wage."""
    prob = cal.make_problem(cal.synthetic_sales(2000), MODEL, n_sim=50_000, seed=1)
    H = cal._hessian(prob, jnp.asarray(cal.to_unconstrained(TRUTH, MODEL), jnp.float32), 1e-2)
    eigs, vecs = np.linalg.eigh(H)
    assert eigs[-1] > 1.0 and eigs[2] > 0.01 * eigs[-1]  # two well-curved directions
    assert np.all(np.abs(eigs[:2]) < 5e-3 * eigs[-1]), eigs
    weak_plane = vecs[:, :2] @ vecs[:, :2].T  # projector; coordinates (log shape, log ρ, log w, log f_s)
    np.testing.assert_array_less([0.9, 0.9], np.diag(weak_plane)[[1, 2]])
    np.testing.assert_array_less(np.diag(weak_plane)[[0, 3]], [0.1, 0.1])


def test_standard_errors_shrink_like_root_n():
    """Sandwich standard errors at the truth, data n = 1000 and 16000 (nested samples), the same S = 32000
    simulated firms and a fixed bandwidth: the data part scales as 1/√n, so the s.e. ratio is
    4·√((1 + n₁/S)/(1 + n₂/S)) (Σ_sim = (n/S) Σ_data), ≈ 3.3. Bootstrap noise (60 replicates, ≈ 10% per
    s.e.) and the Hessian's dependence on the data sample allow a factor of 2 per parameter and 1.4 for
    the geometric mean. At the truth, with S = 32000, the Hessian has a negative eigenvalue in the weak
    (ρ, w) directions, so the default standard errors of shape, ρ and w are infinite (**); the scaling is
    checked on the pseudo-inverse (projection on the well-curved subspace, ``truncate=True``), for shape
    and f_s: the dropped directions differ between the two samples (one negative eigenvalue at n = 1000,
    two at 16000), so ρ and w have no comparable standard error (docs/calibration.md)."""
    model, S = MODEL, 32000
    phi = cal.to_unconstrained(TRUTH, model)
    sales = cal.simulate_sales(TRUTH, model, 16000, 7)
    se = {}
    for n in (1000, 16000):
        prob = cal.make_problem(sales[:n], model, n_sim=S, seed=8, bandwidth=0.15, grid_size=160)
        inf = cal.inference(prob, phi, bootstrap=60, sim_replications=0, seed=1, truncate=True)
        assert np.all(np.isinf(cal.inference(prob, phi, bootstrap=2, sim_replications=0, seed=1).std_errors_phi[:3]))  # (**)
        assert inf.rank == 4
        se[n] = inf.std_errors_phi
    predicted = 4.0 * math.sqrt((1 + 1000 / S) / (1 + 16000 / S))
    ratio = (se[1000] / se[16000] / predicted)[[0, 3]]  # shape and f_s: ρ and w load on the dropped directions
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio
    assert 1 / 1.4 < np.exp(np.mean(np.log(ratio))) < 1.4, ratio


def test_input_validation():
    with pytest.raises(JaxtradeInputError, match="sigma"):
        cal.CalibrationModel(n_stages=10, sigma=1.0)
    with pytest.raises(JaxtradeInputError, match="n_stages"):
        cal.CalibrationModel(n_stages=1, sigma=4.0)
    with pytest.raises(JaxtradeInputError, match="draws_as"):
        cal.CalibrationModel(n_stages=10, sigma=4.0, draws_as="wages")
    with pytest.raises(JaxtradeInputError, match="draws"):
        cal.CalibrationModel(n_stages=10, sigma=4.0, draws="cauchy")
    sales = np.exp(np.random.default_rng(0).normal(size=100))
    with pytest.raises(JaxtradeInputError, match="trim"):
        cal.prepare_data(sales, trim=0.7)
    with pytest.raises(JaxtradeInputError, match="kind"):
        cal.make_problem(sales, MODEL, n_sim=100, kind="chi2")
    with pytest.raises(JaxtradeInputError, match="finite and > 0"):
        cal.prepare_data(np.r_[sales, -1.0])
    prob = cal.make_problem(sales, MODEL, n_sim=100)
    with pytest.raises(JaxtradeInputError, match="optimizer"):
        cal.minimise(prob, jnp.zeros(4), optimizer="sgd")


@pytest.mark.slow
def test_newton_reaches_the_objective_at_the_truth_200k_data_1m_firms():
    """Issue 5 item 7 at its size (200,000 observations, 1M simulated firms), from 0.5x and 1.5x the truth:
    the trust-region Newton method ends at an objective no higher than the objective at the truth. The
    parameters are not asserted: the estimates may lie anywhere along the flat (ρ, w) valley
    (test_rho_and_wage_span_the_flat_directions_at_the_truth; the Fisher information bound on the standard
    error of log ρ is 8.5% at n = 200,000, so recovery within 5% cannot be relied on from any estimator on
    these data; docs/calibration.md, experiments/calibration_recovery.json)."""
    sales = cal.synthetic_sales(2000)
    prob = cal.make_problem(sales, MODEL, n_sim=1_000_000, seed=1)
    f_truth = float(cal.objective(cal.to_unconstrained(TRUTH, MODEL), prob))
    for fac in (0.5, 1.5):
        st = cal.Parameters(shape=0.42 * fac, scale=0.13, tau=0.49 * fac, wage=1.18 * fac)
        res = cal.minimise(prob, cal.moment_start(cal.to_unconstrained(st, MODEL), prob), optimizer="newton", max_steps=100)
        assert res.result in ("converged", "stalled") and res.value <= f_truth, (fac, res.result, res.value, f_truth)
