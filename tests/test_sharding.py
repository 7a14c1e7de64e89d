"""Restarts sharded over several devices give the tables of one device.

JAX fixes its device count when it starts, so each configuration runs in its
own process; on the CPU, ``--xla_force_host_platform_device_count`` makes
several host devices, the same code path as several GPUs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pandas as pd

from suite.tables import EXECUTION_COLUMNS

ARGS = ["--landscape", "bowl:dim=5", "--landscape", "saddle", "--landscape", "deep_linear:depth=2:width=2",
        "--optimizer", "adam:learning_rate=0.01,0.1", "--optimizer", "sgd:learning_rate=0.01",
        "--restarts", "10", "--steps", "60", "--diagnose", "all", "--quiet", "--no-report"]


def _run(out, devices: int, *extra) -> None:
    env = os.environ | {"XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
                        "SUITE_COMPILE_CACHE": "off"}
    done = subprocess.run([sys.executable, "-m", "suite", "run", *ARGS, *extra, "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "metadata.json").read_text())["device"]["count"] == devices


# Computed after training, from identical end points, by a program XLA may thread
# differently when the process has more devices: equal to float32 rounding.
AFTER_TRAINING = ["end_grad_norm", "hessian_index", "lambda_min", "lambda_max"]


def _same(a, b) -> None:
    def read(run, name):
        return pd.read_parquet(run / f"{name}.parquet")

    # What training computed is the same to float32 rounding: each device
    # multiplies its share of the batch by a matrix with kernels chosen by
    # shape, so the last bits may differ (every count and step is equal).
    restarts_a, restarts_b = read(a, "restarts"), read(b, "restarts")
    pd.testing.assert_frame_equal(restarts_a.drop(columns=AFTER_TRAINING), restarts_b.drop(columns=AFTER_TRAINING),
                                  rtol=1e-5, atol=0)
    for name in ("curves", "layers"):
        pd.testing.assert_frame_equal(read(a, name), read(b, name), rtol=1e-5, atol=0)
    drop = list(EXECUTION_COLUMNS) + ["device"]
    pd.testing.assert_frame_equal(read(a, "cells").drop(columns=drop), read(b, "cells").drop(columns=drop),
                                  rtol=1e-5, atol=0)
    # The end-point pass and the pictures agree to float32 rounding.
    pd.testing.assert_frame_equal(restarts_a[AFTER_TRAINING], restarts_b[AFTER_TRAINING], rtol=1e-4, atol=1e-6)
    for name in ("paths", "pictures"):
        pd.testing.assert_frame_equal(read(a, name), read(b, name), rtol=1e-3)


def test_sharded_runs_equal_one_device(tmp_path):
    _run(tmp_path / "one", 1)
    _run(tmp_path / "four", 4)  # 10 restarts over 4 devices: padded to 12, the padding dropped
    _same(tmp_path / "one", tmp_path / "four")
    _run(tmp_path / "batched", 4, "--batch", "4")  # three batches of 4, one restart per device each
    _same(tmp_path / "one", tmp_path / "batched")
    _run(tmp_path / "two", 4, "--devices", "2")
    _same(tmp_path / "one", tmp_path / "two")


def _reserved_port() -> socket.socket:
    """A socket holding a free localhost port, for the coordinator to bind while it stays open.

    Finding a free port, closing it and binding it later races every other process
    on the machine: the port may be taken in between. Instead the port stays bound
    here, with SO_REUSEPORT, until the run is over. JAX's coordination service (a
    gRPC server) binds with SO_REUSEPORT too, so it can share the port; the kernel
    hands it to no other process asking for a free port, and any other process
    binding it without SO_REUSEPORT is refused. Not listening, this socket takes no
    connections: they all reach the coordinator. (The JAX coordinator cannot be
    asked to pick a port itself: the other process must know it in advance.)
    """
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    held.bind(("127.0.0.1", 0))
    return held


def test_two_processes_equal_one(tmp_path):
    """`suite run --distributed` on two localhost processes writes the tables of one process."""
    _run(tmp_path / "one", 1)
    env = os.environ | {"SUITE_COMPILE_CACHE": "off", "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    with _reserved_port() as held:
        common = [sys.executable, "-m", "suite", "run", *ARGS, "--out", str(tmp_path / "two"), "--distributed",
                  "--coordinator", f"127.0.0.1:{held.getsockname()[1]}", "--num-processes", "2"]
        other = subprocess.Popen([*common, "--process-id", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, env=env)
        try:
            first = subprocess.run([*common, "--process-id", "0"], capture_output=True, text=True, env=env,
                                   timeout=600)
            assert first.returncode == 0, first.stderr
            assert other.wait(timeout=120) == 0, other.stdout.read()
        finally:
            other.kill()
    metadata = json.loads((tmp_path / "two" / "metadata.json").read_text())
    assert metadata["device"]["count"] == 2  # one device in each process
    _same(tmp_path / "one", tmp_path / "two")


def test_distributed_flags_are_checked(tmp_path, capsys):
    from suite.cli import main

    assert main(["run", "--process-id", "1"]) == 2
    assert "--process-id: used only with --distributed" in capsys.readouterr().err
    assert main(["run", "--distributed"]) == 2
    assert "--distributed needs --out RUN_DIR" in capsys.readouterr().err
