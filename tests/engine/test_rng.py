"""The Philox schedule of :mod:`jaxtrade.engine.rng`: the widening (uint64) multiplication, used where the
user enabled x64, gives the bits of the 32-bit-only one; the library never switches x64 itself."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtrade import JaxtradeInputError
from jaxtrade.engine import rng


def _edge_and_random_words(n=4096, seed=0):
    g = np.random.default_rng(seed)
    edge = np.array([0, 1, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF], np.uint32)
    return np.concatenate([edge, g.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32)])


def test_mulhilo_wide_equals_16bit_halves_and_exact_product():
    a = _edge_and_random_words()
    for b in (rng._PHILOX_M0, rng._PHILOX_M1, 0xFFFFFFFF, 1):
        hi_w, lo_w = jax.jit(lambda x: _wide(x, b))(a)
        hi_h, lo_h = jax.jit(lambda x: rng._mulhilo(x, b))(a)
        exact = a.astype(object) * b
        assert [int(v) for v in np.asarray(hi_h)] == [int(v) >> 32 for v in exact]
        assert [int(v) for v in np.asarray(lo_h)] == [int(v) & 0xFFFFFFFF for v in exact]
        np.testing.assert_array_equal(np.asarray(hi_w), np.asarray(hi_h))
        np.testing.assert_array_equal(np.asarray(lo_w), np.asarray(lo_h))


def _wide(x, b):
    with jax.enable_x64(True):
        return rng._mulhilo_wide(x, b)


def test_philox_wide_and_halves_same_bits_and_x64_untouched():
    c = [jnp.asarray(_edge_and_random_words(seed=s)) for s in range(4)]
    k0, k1 = np.uint32(0xA4093822), np.uint32(0x299F31D0)
    x64_before = jax.config.jax_enable_x64
    halves = jax.jit(lambda *c: rng.philox4x32(*c, k0, k1, wide=False))(*c)
    default = jax.jit(lambda *c: rng.philox4x32(*c, k0, k1))(*c)
    assert jax.config.jax_enable_x64 == x64_before  # the library reads the flag, never sets it
    with jax.enable_x64(True):  # the user's choice (a test may set precision)
        wide = jax.jit(lambda *c: rng.philox4x32(*c, k0, k1, wide=True))(*c)
        eager = rng.philox4x32(*c, k0, k1)  # default: wide under x64, also eagerly
    for out in (wide, eager, default):
        for w, h in zip(out, halves):
            assert w.dtype == jnp.uint32 and h.dtype == jnp.uint32
            np.testing.assert_array_equal(np.asarray(w), np.asarray(h))
    if not x64_before:
        with pytest.raises(JaxtradeInputError, match="wide"):
            rng.philox4x32(*c, k0, k1, wide=True)


def test_firm_uniforms_same_under_either_multiplication():
    a = rng.firm_uniforms(1000, 10, 2, seed=12345, first_firm=65_000)
    with jax.enable_x64(True):
        b = rng.firm_uniforms(1000, 10, 2, seed=12345, first_firm=65_000, dtype=jnp.float32)
    assert a.dtype == jnp.float32 and b.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
