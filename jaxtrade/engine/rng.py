"""Counter-based random numbers for firms: firm ``f``'s uniforms depend only on ``(seed, f)``.

Philox-4x32-10 (Salmon, Moraes, Dror & Shaw 2011, "Parallel random numbers: as easy as 1, 2, 3", the
generator of cuRAND and Random123) on uint32 arrays: it runs without x64 (each round's 32×32→64-bit
products in 16-bit halves) and, where the user's script has enabled x64, with one ``uint64`` multiplication
per product (the same bits); the library never switches x64 itself. The same bits on CPU and GPU. Firm ``f`` draws from counter ``(f mod 2^32, f div 2^32, j, 0)``
at key ``seed``; firms come in blocks of :data:`FIRM_BLOCK`, and every engine that needs firms
(:func:`jaxtrade.simulate`, the decomposition, calibration) draws them here, so they all see the same firms
bit for bit whatever the chunking or the number of devices. Resolution of the uniforms: ``docs/simulation.md``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .validation import fail

__all__ = ["FIRM_BLOCK", "philox4x32", "firm_uniforms", "seed_key", "block_uniforms", "counter_uniforms", "range_uniforms", "u64_words"]

FIRM_BLOCK = 65_536  # firms per random-number block: chunks are whole numbers of blocks

_PHILOX_M0, _PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
_PHILOX_W0, _PHILOX_W1 = 0x9E3779B9, 0xBB67AE85


def _mulhilo(a, b: int):
    """High and low 32 bits of ``a * b`` for uint32 ``a`` and a constant ``b``, in 16-bit halves."""
    u16 = np.uint32(0xFFFF)
    s16 = np.uint32(16)
    b_lo, b_hi = np.uint32(b & 0xFFFF), np.uint32(b >> 16)
    a_lo, a_hi = a & u16, a >> s16
    ll, lh, hl, hh = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    mid = (ll >> s16) + (lh & u16) + (hl & u16)
    hi = hh + (lh >> s16) + (hl >> s16) + (mid >> s16)
    return hi, a * np.uint32(b)


def _mulhilo_wide(a, b: int):
    """As :func:`_mulhilo`, with one 32×32→64-bit multiplication (``uint64``: needs the user's
    ``jax_enable_x64``): LLVM emits the native widening multiply
    (``vpmuludq`` on x86, ``mul.wide.u32`` on NVIDIA) instead of four 16-bit products."""
    p = a.astype(jnp.uint64) * np.uint64(b)
    return (p >> np.uint64(32)).astype(jnp.uint32), p.astype(jnp.uint32)


def philox4x32(c0, c1, c2, c3, k0, k1, rounds: int = 10, wide: bool | None = None):
    """Philox-4x32 (Salmon, Moraes, Dror & Shaw 2011) on uint32 arrays: four uint32 outputs.

    Checked against the Random123 known-answer vectors in the tests. ``wide``: compute each
    32×32→64-bit product with one ``uint64`` multiplication (about 1.2× faster ``simulate`` on CPU)
    rather than in 16-bit halves; the same bits either way. Default: wide exactly when the caller has
    enabled x64 (``jax_enable_x64``, set in the user's script); ``wide=True`` without it is an error.
    """
    x64 = bool(jax.config.jax_enable_x64)
    wide = x64 if wide is None else bool(wide)
    if wide and not x64:
        fail("wide", wide, "uint64 products need jax_enable_x64 (set it in your script; the library never switches it)")
    mulhilo = _mulhilo_wide if wide else _mulhilo
    c0, c1, c2, c3 = (jnp.asarray(c, jnp.uint32) for c in (c0, c1, c2, c3))
    k0 = jnp.asarray(k0, jnp.uint32)
    k1 = jnp.asarray(k1, jnp.uint32)
    for _ in range(rounds):
        hi0, lo0 = mulhilo(c0, _PHILOX_M0)
        hi1, lo1 = mulhilo(c2, _PHILOX_M1)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = k0 + np.uint32(_PHILOX_W0)
        k1 = k1 + np.uint32(_PHILOX_W1)
    return c0, c1, c2, c3


def words_needed(n_uniforms: int, dtype, uniform_bits: int) -> int:
    if jnp.dtype(dtype) == jnp.float64:
        return 2 * n_uniforms
    return -(-n_uniforms // 2) if uniform_bits == 16 else n_uniforms


#: Philox calls per firm up to which :func:`counter_uniforms` unrolls them (the fastest kernel for the
#: few draws of a chain); beyond, one broadcast graph (compile time stays flat with hundreds of draws).
_UNROLL_CALLS = 32


def counter_uniforms(key, c0, c1, n_uniforms: int, dtype, uniform_bits: int, as_index: bool = False):
    """Uniforms ``c0.shape + (n_uniforms,)`` of the firms whose 64-bit indices have low words ``c0``
    and high words ``c1`` (uint32): Philox at counter ``(c0, c1, call, 0)``, the words call-major.
    Every generator of firm draws goes through here, so any grouping of firms reads the same bits.

    With ``as_index`` (16-bit float32 only) returns the integers ``k`` of ``u = (k + ½)/2^16``."""
    n_words = words_needed(n_uniforms, dtype, uniform_bits)
    n_calls = -(-n_words // 4)
    if n_calls <= _UNROLL_CALLS:
        zero = jnp.zeros_like(c0)
        words = []
        for call in range(n_calls):
            words.extend(philox4x32(c0, c1, jnp.full_like(c0, call), zero, key[0], key[1]))
        w = jnp.stack(words[:n_words], axis=-1)
    else:
        shape = c0.shape + (n_calls,)
        calls = jnp.broadcast_to(jnp.arange(n_calls, dtype=jnp.uint32), shape)
        out = philox4x32(jnp.broadcast_to(c0[..., None], shape), jnp.broadcast_to(c1[..., None], shape), calls,
                         jnp.zeros(shape, jnp.uint32), key[0], key[1])
        w = jnp.stack(out, axis=-1).reshape(c0.shape + (4 * n_calls,))[..., :n_words]
    if jnp.dtype(dtype) == jnp.float64:
        hi = w[..., 0::2] >> np.uint32(11)
        lo = w[..., 1::2]
        k = hi.astype(jnp.float64) * 4294967296.0 + lo.astype(jnp.float64)
        return (k + 0.5) * 2.0**-53
    if uniform_bits == 16:
        halves = jnp.stack([w & np.uint32(0xFFFF), w >> np.uint32(16)], axis=-1).reshape(c0.shape + (-1,))
        k = halves[..., :n_uniforms]
        if as_index:
            return k
        return (k.astype(jnp.float32) + 0.5) * np.float32(2.0**-16)
    k = w >> np.uint32(9)
    return (k.astype(jnp.float32) + 0.5) * np.float32(2.0**-23)


def block_uniforms(key, block, n_uniforms: int, dtype, uniform_bits: int, as_index: bool = False):
    """Uniforms ``(FIRM_BLOCK, n_uniforms)`` of the firms of one block (traced ``block`` index)."""
    block = jnp.asarray(block, jnp.uint32)
    i = jnp.arange(FIRM_BLOCK, dtype=jnp.uint32)
    c0 = (block << np.uint32(16)) | i  # firm index f = block·2^16 + i, low 32 bits
    c1 = jnp.broadcast_to(block >> np.uint32(16), c0.shape)  # high bits
    return counter_uniforms(key, c0, c1, n_uniforms, dtype, uniform_bits, as_index)


def range_uniforms(key, first, n_firms: int, n_uniforms: int, dtype, uniform_bits: int):
    """Uniforms ``(n_firms, n_uniforms)`` of firms ``first, …, first + n_firms − 1`` (``first`` a traced
    pair of uint32 words, :func:`u64_words`): bit for bit those of :func:`firm_uniforms`, for chunks of
    any length and offset (not whole blocks)."""
    lo0, hi0 = jnp.asarray(first[0], jnp.uint32), jnp.asarray(first[1], jnp.uint32)
    c0 = lo0 + jnp.arange(n_firms, dtype=jnp.uint32)
    c1 = hi0 + (c0 < lo0).astype(jnp.uint32)  # carry into the high word
    return counter_uniforms(key, c0, c1, n_uniforms, dtype, uniform_bits)


def u64_words(x: int) -> np.ndarray:
    """``[x mod 2^32, x div 2^32]`` as uint32 (a seed or a firm index)."""
    x = int(x)
    return np.array([x & 0xFFFFFFFF, (x >> 32) & 0xFFFFFFFF], dtype=np.uint32)


def seed_key(seed) -> np.ndarray:
    seed = int(seed)
    if seed < 0 or seed >= 2**64:
        fail("seed", seed, "0 <= seed < 2**64")
    return u64_words(seed)


def check_uniform_bits(uniform_bits, dtype):
    if uniform_bits not in (16, 23):
        fail("uniform_bits", uniform_bits, "16 or 23 (float32 draws; float64 always uses 53 bits)")


def firm_uniforms(n_firms: int, stages: int, countries: int, *, seed: int = 0, dtype=jnp.float32, uniform_bits: int = 16, first_firm: int = 0):
    """The uniforms ``(n_firms, stages, countries)`` that :func:`simulate` draws for firms
    ``first_firm, …, first_firm + n_firms − 1`` at this seed: pass them as ``common_uniforms`` for
    common random numbers and differentiable summaries."""
    dtype = jnp.dtype(dtype)
    check_uniform_bits(uniform_bits, dtype)
    key = jnp.asarray(seed_key(seed))
    k = stages * countries
    b0, b1 = first_firm // FIRM_BLOCK, -(-(first_firm + n_firms) // FIRM_BLOCK)
    u = _blocks(key, jnp.arange(b0, b1, dtype=jnp.uint32), k, dtype, uniform_bits).reshape(-1, stages, countries)
    start = first_firm - b0 * FIRM_BLOCK
    return u[start : start + n_firms]


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _blocks(key, blocks, n_uniforms: int, dtype, uniform_bits: int):
    """The blocks of :func:`firm_uniforms`, the key an argument: one compilation per shape, not one per call
    (a fresh jitted lambda closing over the key compiled anew on every call, about 1 s each)."""
    return jax.vmap(lambda b: block_uniforms(key, b, n_uniforms, dtype, uniform_bits))(blocks)
