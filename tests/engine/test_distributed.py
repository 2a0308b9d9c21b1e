"""``jaxtrade.simulate`` across processes (``jax.distributed``, CPU collectives): every process gets
the full result, bitwise equal to one process (Tyazhelnikov 004 §4.2: firm f's draws depend only
on (seed, f); docs/simulation.md, "Many processes / clusters").

Each test starts 2 processes of ``tests/engine/distributed_worker.py`` on this host, coordinated on
a free local port, and compares every array each of them returns (``.cost`` and every summary field
of ``simulate``, with paths and kept costs and without paths streamed; every field of ``decompose``,
the other reducer of the chunk runner, 004 §5.3) bit for bit with one plain process on one device
whose chunks hold one block: the same grouping of firms into partial sums as one block per device in
the distributed run, so the float64 sums on the host add the same numbers in the same order. The
2 × 2-device variant (a mesh over local and remote devices) is ``slow``.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import jaxtrade
from jaxtrade.engine.simulate import FIRM_BLOCK

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")
N_FIRMS = 4 * FIRM_BLOCK + 12_345  # a partial last block: padding and masking across processes
TIMEOUT_S = 120  # per run of the processes (~7 s here): a hung collective fails the test, never blocks it


def _gloo_available() -> bool:
    from jax._src.lib import _jax

    return hasattr(_jax, "make_gloo_tcp_collectives")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_processes(tmp_path, num_processes: int, local_devices: int, chunk_size: int) -> list[dict]:
    """Starts the worker ``num_processes`` times; returns what each process wrote."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={local_devices}")
    root = os.path.dirname(os.path.dirname(jaxtrade.__file__))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    port = _free_port()
    procs, logs, outs = [], [], []
    for i in range(num_processes):
        outs.append(tmp_path / f"p{i}.npz")
        logs.append(open(tmp_path / f"log{i}.txt", "w+"))
        args = [sys.executable, WORKER, str(i), str(num_processes), str(port), str(N_FIRMS), str(chunk_size), str(outs[i])]
        procs.append(subprocess.Popen(args, env=env, stdout=logs[i], stderr=subprocess.STDOUT, start_new_session=True))
    deadline = time.monotonic() + TIMEOUT_S
    try:  # until all are done, one has failed (the others would wait for it) or time is up
        while time.monotonic() < deadline and any(p.poll() is None for p in procs) and not any(p.poll() for p in procs):
            time.sleep(0.1)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)  # its own session: the worker and nothing else
                p.wait()
    text = []
    for i, (p, log) in enumerate(zip(procs, logs)):
        log.seek(0)
        text.append(f"--- process {i}, exit {p.returncode} ---\n" + log.read()[-3000:])
        log.close()
    assert all(p.returncode == 0 for p in procs), "\n".join(text)
    return [dict(np.load(o)) for o in outs]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One plain process (no jax.distributed), one device, one block per chunk."""
    (ref,) = _run_processes(tmp_path_factory.mktemp("reference"), 1, 1, chunk_size=FIRM_BLOCK)
    assert ref["process_count"] == 1 and ref["device_count"] == 1
    assert ref["keep_paths/n_devices"] == 1 and ref["keep_paths/n_chunks"] == 5
    return ref


def _assert_bitwise(got: dict, ref: dict):
    fields = sorted(k for k in ref if "/" in k and not k.endswith(("/n_devices", "/n_chunks")))
    assert sorted(k for k in got if "/" in k and not k.endswith(("/n_devices", "/n_chunks"))) == fields
    assert got["keep_paths/cost"].shape == (N_FIRMS,) and np.all(np.isfinite(got["keep_paths/cost"]))
    for k in fields:
        assert got[k].dtype == ref[k].dtype, k
        np.testing.assert_array_equal(got[k], ref[k], err_msg=k, strict=True)


@pytest.mark.skipif(not _gloo_available(), reason="this jaxlib has no gloo CPU collectives")
@pytest.mark.parametrize("local_devices", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_two_processes_bitwise_equal_to_one(tmp_path, reference, local_devices):
    n_dev = 2 * local_devices
    got = _run_processes(tmp_path, 2, local_devices, chunk_size=n_dev * FIRM_BLOCK)  # one block per device
    for g in got:
        assert g["process_count"] == 2 and g["device_count"] == n_dev
        assert g["keep_paths/n_devices"] == n_dev and g["keep_paths/n_chunks"] == -(-N_FIRMS // (n_dev * FIRM_BLOCK))
        _assert_bitwise(g, reference)
