"""One process of the multi-process test of ``jaxtrade.simulate`` (tests/engine/test_distributed.py).

``python tests/engine/distributed_worker.py PROCESS_ID NUM_PROCESSES PORT N_FIRMS CHUNK OUT.npz``
joins a ``jax.distributed`` run of ``NUM_PROCESSES`` processes coordinated on ``127.0.0.1:PORT``
(CPU collectives: gloo), runs :func:`results` and writes what this process got to ``OUT.npz``;
``NUM_PROCESSES = 1`` is a plain process without ``jax.distributed`` (the reference). Local
devices per process: ``XLA_FLAGS=--xla_force_host_platform_device_count=K``.
"""

import dataclasses
import sys

import numpy as np

T2 = np.array([[0.0, 1.0], [1.0, 0.0]])


def results(n_firms: int, chunk_size: int) -> dict:
    """Everything ``simulate`` returns for a small chain (with paths and kept costs; without paths,
    streamed: ``.cost`` and every summary field that is not ``None``) and every field of the
    decomposition, as a flat dict of NumPy arrays."""
    import jax

    from jaxtrade import distributions as jd
    from jaxtrade.engine.simulate import SequentialModel, simulate

    model = SequentialModel(4, T2, 0.3, jd.Pareto(2.0, 0.5), wages=[1.0, 1.2])
    out = {"process_count": jax.process_count(), "device_count": jax.device_count()}
    runs = {  # paths and kept costs (exact quantiles); no paths, streamed (histogram quantiles)
        "keep_paths": dict(seed=21, keep=True, sigma=4.0, paths=True),
        "streamed_nopaths": dict(seed=4, sigma=2.5, paths=False, bins=256),
    }
    for name, kw in runs.items():
        res = simulate(model, n_firms, chunk_size=chunk_size, **kw)
        out[f"{name}/n_chunks"] = res.n_chunks
        out[f"{name}/n_devices"] = res.n_devices
        if res.cost is not None:
            out[f"{name}/cost"] = np.asarray(res.cost)
        for f in dataclasses.fields(res.summary):
            v = getattr(res.summary, f.name)
            if v is not None:
                out[f"{name}/{f.name}"] = np.asarray(v)
    # Another reducer of the same chunk runner: the decomposition of the gains from trade (004 §5.3).
    from jaxtrade.models.decomposition import decompose

    dec = decompose(model, 0.2, n_firms=n_firms, seed=3, sigma=4.0, chunk_size=chunk_size)
    for f in dataclasses.fields(dec):
        v = getattr(dec, f.name)
        if v is not None:
            out[f"decompose/{f.name}"] = np.asarray(v)
    return out


def main(argv):
    process_id, num_processes, port, n_firms, chunk_size, out = argv
    import jax

    jax.config.update("jax_enable_x64", True)  # as tests/conftest.py
    jax.config.update("jax_numpy_rank_promotion", "raise")
    distributed = int(num_processes) > 1  # 1: a plain process, without jax.distributed (the reference)
    if distributed:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # JAX's default for CPU, stated
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=int(num_processes),
                                   process_id=int(process_id), initialization_timeout=60)
    try:
        np.savez(out, **results(int(n_firms), int(chunk_size)))
    finally:
        if distributed:
            jax.distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
