"""Heterogeneous firms and factor abundance (001 §7, Bernard-Redding-Schott 2007): the four
Heckscher-Ohlin theorems inside the FPE set, the integrated equilibrium, the symmetric-Melitz
special case, and the effects of opening to costly trade."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optimistix as optx  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402

from jaxtrade import distributions as D  # noqa: E402
from jaxtrade import melitz  # noqa: E402
from jaxtrade.engine.validation import JaxtradeInputError  # noqa: E402
from jaxtrade.models import factor_abundance as fa  # noqa: E402

OK = optx.RESULTS.successful
PARETO = D.Pareto(4.0, 1.0)
BETA = jnp.asarray([0.7, 0.3])  # sector 0 skill intensive
BASE = dict(sigma=3.0, beta=BETA, shares=jnp.asarray([0.5, 0.5]), f=1.0, f_E=0.2)


def endow(S0, L0, Sw=2.0, Lw=2.0):
    return dict(skilled=jnp.asarray([S0, Sw - S0]), unskilled=jnp.asarray([L0, Lw - L0]))


def in_fpe_set(S0, L0, Sw=2.0, Lw=2.0, beta=(0.7, 0.3), shares=(0.5, 0.5)):
    """Integrated-equilibrium allocation: sector intensities S/L = β_j/(1−β_j) · w_L/w_S; country 0
    is inside the FPE set when its endowment ratio lies strictly between them (and so is country 1)."""
    b, s = np.asarray(beta), np.asarray(shares)
    rel = (b @ s) / ((1 - b) @ s) * Lw / Sw
    k = b / (1 - b) / rel
    lo, hi = k.min(), k.max()
    return all(lo < r < hi for r in (S0 / L0, (Sw - S0) / (Lw - L0)))


# ---------------------------------------------------------------- zero trade costs: HO theorems


@settings(max_examples=15, deadline=None)
@given(S0=hst.floats(0.3, 1.7), L0=hst.floats(0.3, 1.7))
def test_fpe_integrated_equilibrium_and_heckscher_ohlin(S0, L0):
    """Free trade: factor prices, solved for separately in each country, are equal (FPE) and equal
    to the integrated equilibrium; cut-offs are the Melitz closed-economy cut-off in every sector;
    factor markets clear; the skill-abundant country exports the skill-intensive good (HO).
    Outside the FPE set a country specialises and the result says so."""
    eq = fa.free_trade(PARETO, **BASE, **endow(S0, L0), throw=False)
    inside = in_fpe_set(S0, L0)
    if not inside:
        assert eq.result == fa.REGIME_FAILURE and not bool(jnp.all(eq.diversified))
        return
    assert eq.result == OK and bool(jnp.all(eq.diversified))
    np.testing.assert_allclose(eq.skilled_wage[0], eq.skilled_wage[1], rtol=1e-11)
    np.testing.assert_allclose(eq.unskilled_wage[0], eq.unskilled_wage[1], rtol=1e-11)
    np.testing.assert_allclose(eq.relative_wage, fa.integrated_relative_wage(BETA, BASE["shares"], *endow(S0, L0).values()),
                               rtol=1e-11)
    closed = melitz.closed_economy(PARETO, 3.0, 1.0, 0.2).cutoff
    np.testing.assert_allclose(eq.domestic_cutoff, np.full((2, 2), closed), rtol=1e-11)
    e = endow(S0, L0)
    np.testing.assert_allclose(eq.skilled_employment.sum(1), e["skilled"], rtol=1e-11)
    np.testing.assert_allclose(eq.unskilled_employment.sum(1), e["unskilled"], rtol=1e-11)
    abundance = S0 / L0 - (2 - S0) / (2 - L0)
    if abs(abundance) > 1e-6:
        assert np.sign(float(eq.net_exports[0, 0])) == np.sign(abundance)
        assert np.sign(float(eq.net_exports[0, 1])) == -np.sign(abundance)
    np.testing.assert_allclose(eq.net_exports.sum(1), 0.0, atol=1e-12)  # balanced trade


@pytest.mark.slow
def test_fpe_lognormal():
    """FPE and the integrated equilibrium do not depend on the productivity distribution."""
    eq = fa.free_trade(D.LogNormal(0.0, 0.6), **BASE, **endow(1.2, 0.9))
    np.testing.assert_allclose(eq.skilled_wage[0], eq.skilled_wage[1], rtol=1e-11)
    np.testing.assert_allclose(eq.unskilled_wage[0], eq.unskilled_wage[1], rtol=1e-11)
    np.testing.assert_allclose(eq.relative_wage[0], fa.integrated_relative_wage(BETA, BASE["shares"], 2.0, 2.0),
                               rtol=1e-11)


def _ho(x):
    """Outputs of the free-trade equilibrium as functions of x = (b_0, S_0): a demand shift and a
    reallocation of skilled labour to country 0 (world endowments fixed)."""
    b0, S0 = x[0], x[1]
    eq = fa.free_trade(PARETO, **dict(BASE, shares=jnp.stack([b0, 1.0 - b0])), skilled=jnp.stack([S0, 2.0 - S0]),
                       unskilled=jnp.asarray([0.9, 1.1]))
    # the price of the sector's average variety is σ/(σ−1) c_j/φ̃, φ̃ common to sectors
    p = 1.5 * eq.composite_cost[0] / eq.average_productivity[0]
    return jnp.concatenate([jnp.log(jnp.stack([eq.skilled_wage[0], p[0], p[1], eq.unskilled_wage[0]])),
                            eq.revenue[0]])


def test_stolper_samuelson_and_rybczynski():
    """Inside the FPE set, by implicit derivatives checked against central differences:

    * Stolper-Samuelson: a demand shift towards the skill-intensive good raises its relative price;
      the skilled wage rises more than both prices and the unskilled wage less (magnification);
    * Rybczynski: moving skilled labour to country 0 leaves factor prices unchanged, the
      skill-intensive sector of country 0 grows more than proportionally and the other shrinks."""
    x = jnp.asarray([0.5, 1.2])
    jac = np.asarray(jax.jacfwd(_ho)(x))
    ss, ryb = jac[:, 0], jac[:, 1]
    assert ss[0] > ss[1] > ss[2] > ss[3]
    assert ss[0] - ss[2] > 0 and ss[3] - ss[1] < 0  # real skilled wage up, real unskilled wage down in both goods
    np.testing.assert_allclose(ryb[:4], 0.0, atol=1e-10)  # wages and prices unchanged
    R = np.asarray(_ho(x))[4:]
    assert ryb[4] * 1.2 / R[0] > 1.0 and ryb[5] < 0
    h = 1e-5
    for j in range(2):
        e = h * np.eye(2)[j]
        fd = (np.asarray(_ho(x + e)) - np.asarray(_ho(x - e))) / (2 * h)
        np.testing.assert_allclose(jac[:, j], fd, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------- costly trade


TRADE = dict(f_X=1.5, tau=1.3)


def test_symmetric_countries_reduce_to_symmetric_melitz():
    """Identical endowments: factor prices equal, every sector is the symmetric two-country Melitz
    economy (001 eq. 14-16) with the same f, f_X, f_E, τ."""
    eq = fa.equilibrium(PARETO, **BASE, **endow(1.0, 1.0), **TRADE)
    sym = melitz.symmetric_open_economy(PARETO, 3.0, 1.0, 1.5, 0.2, 1.3, 2)
    assert eq.result == OK
    np.testing.assert_allclose(eq.domestic_cutoff, np.full((2, 2), sym.cutoff), rtol=1e-11)
    np.testing.assert_allclose(eq.export_cutoff, np.full((2, 2), sym.export_cutoff), rtol=1e-11)
    np.testing.assert_allclose(eq.skilled_wage, eq.skilled_wage[::-1], rtol=1e-11)
    np.testing.assert_allclose(eq.exporter_share, np.full((2, 2), sym.exporter_share), rtol=1e-10)


def test_opening_raises_cutoffs_most_in_comparative_advantage_sector():
    """001 §7: opening to costly trade raises the zero-profit cut-off and average productivity in
    both sectors, more in the comparative-advantage sector (skill-intensive for the skill-abundant
    country 0, unskilled-intensive for country 1); the relative mass of firms shifts towards it."""
    e = endow(1.2, 0.8)
    tr = fa.equilibrium(PARETO, **BASE, **e, **TRADE)
    au = fa.autarky(PARETO, **BASE, **e)
    assert tr.result == OK and au.result == OK
    rise = np.asarray(tr.domestic_cutoff / au.domestic_cutoff)
    prod = np.asarray(tr.average_productivity / au.average_productivity)
    assert np.all(rise > 1) and np.all(prod > 1)
    assert rise[0, 0] > rise[0, 1] and rise[1, 1] > rise[1, 0]
    assert prod[0, 0] > prod[0, 1] and prod[1, 1] > prod[1, 0]
    mass_aut = np.asarray(au.revenue)  # M ∝ R/(c r̄): compare the relative mass of firms
    rel_tr = float(tr.mass_of_firms[0, 0] / tr.mass_of_firms[0, 1])
    c_aut = np.asarray(fa._composite(au.skilled_wage, au.unskilled_wage, BETA))
    rel_au = float((mass_aut[0, 0] / c_aut[0, 0]) / (mass_aut[0, 1] / c_aut[0, 1]))
    assert rel_tr > rel_au
    # autarky is the Melitz closed economy in every sector
    np.testing.assert_allclose(au.domestic_cutoff, melitz.closed_economy(PARETO, 3.0, 1.0, 0.2).cutoff, rtol=1e-12)


def test_real_reward_of_scarce_factor_can_rise_or_fall():
    """001 §7: with weak comparative advantage the productivity and variety gains dominate and the
    scarce factor's real reward rises with trade; with strong comparative advantage the
    Stolper-Samuelson effect dominates and it falls. (Country 0 is skill abundant; unskilled
    labour is its scarce factor.) The abundant factor gains in both."""
    out = []
    for S0 in (1.05, 1.2):
        e = dict(skilled=jnp.asarray([S0, 2 - S0]), unskilled=jnp.asarray([2 - S0, S0]))
        tr = fa.equilibrium(PARETO, **BASE, **e, **TRADE)
        au = fa.autarky(PARETO, **BASE, **e)
        out.append((float(tr.real_unskilled_wage[0] / au.real_unskilled_wage[0]),
                    float(tr.real_skilled_wage[0] / au.real_skilled_wage[0])))
    assert out[0][0] > 1.0 and out[1][0] < 1.0
    assert out[0][1] > 1.0 and out[1][1] > 1.0


def _trade_out(tau):
    eq = fa.equilibrium(PARETO, **BASE, **endow(1.2, 0.8), f_X=1.5, tau=tau)
    return jnp.concatenate([jnp.ravel(eq.domestic_cutoff), jnp.log(eq.relative_wage), eq.real_unskilled_wage])


@pytest.mark.slow
def test_implicit_derivatives_in_tau_against_finite_differences():
    """Implicit differentiation through the 7-unknown solve: trade liberalisation (τ falls) raises
    every domestic cut-off; derivatives match central differences."""
    d = np.asarray(jax.jacfwd(_trade_out)(1.3))
    assert np.all(d[:4] < 0)
    h = 1e-5
    fd = (np.asarray(_trade_out(1.3 + h)) - np.asarray(_trade_out(1.3 - h))) / (2 * h)
    np.testing.assert_allclose(d, fd, rtol=1e-6, atol=1e-10)


# ---------------------------------------------------------------- regimes, bad input, CLI


def test_complete_specialisation_is_reported():
    e = endow(1.5, 0.5)
    eq = fa.equilibrium(PARETO, **BASE, **e, f_X=1.05, tau=1.1, throw=False)
    assert eq.result == fa.REGIME_FAILURE and not bool(jnp.all(eq.diversified))
    with pytest.raises(Exception, match="outside the factor-price-equalisation"):
        fa.free_trade(PARETO, **BASE, **e)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(beta=jnp.asarray([0.5, 0.5])), "β_0 ≠ β_1"),
        (dict(beta=jnp.asarray([1.2, 0.3])), "0 < β_j < 1"),
        (dict(shares=jnp.asarray([0.6, 0.6])), "Σ_j b_j = 1"),
        (dict(skilled=jnp.asarray([1.0, -1.0])), "skilled > 0"),
        (dict(sigma=0.9), "σ > 1"),
        (dict(tau=0.9), "τ ≥ 1"),
        (dict(f_X=0.0), "f_X > 0"),
    ],
)
def test_bad_input_names_the_condition(kw, match):
    args = dict(BASE, **endow(1.2, 0.8), **TRADE)
    args.update(kw)
    with pytest.raises(JaxtradeInputError, match=match):
        fa.equilibrium(PARETO, **args)
    with pytest.raises(JaxtradeInputError, match="shape k > σ − 1"):
        fa.free_trade(D.Pareto(1.5, 1.0), **BASE, **endow(1.2, 0.8))


def test_cli_table_json_png(tmp_path, capsys):
    import json

    from jaxtrade.cli import main

    out, png = tmp_path / "fa.json", tmp_path / "fa.png"
    assert main(["factor-abundance", "--set", "tau=1.3", "--set", "f_X=1.5", "--output", str(out),
                 "--plot", str(png)]) == 0
    res = json.loads(out.read_text())
    assert res["trade"]["converged"] is True and res["free_trade"]["converged"] is True
    ref = fa.equilibrium(PARETO, **BASE, **endow(1.2, 0.8), **TRADE)
    np.testing.assert_allclose(res["trade"]["domestic_cutoff"], np.asarray(ref.domestic_cutoff), rtol=1e-12)
    assert "domestic_cutoff" in capsys.readouterr().out and png.stat().st_size > 0
    assert main(["factor-abundance", "--set", "tau=0.5"]) == 2
