"""Loading a checkpoint never runs code from the file; old (version 1) checkpoints get a clear way forward."""

from __future__ import annotations

import io
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.run.checkpoint import load_checkpoint, save_checkpoint, upgrade
from agents.run.pipeline import run
from tests.helpers import tiny_run_config

ROOT = Path(__file__).resolve().parents[1]


class _Payload:
    """Unpickling this touches a marker file: the proof that code from the checkpoint ran."""

    marker = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _crafted(path: Path, marker: Path) -> None:
    payload = _Payload()
    payload.marker = str(marker)
    _Payload.marker = str(marker)
    buf = io.BytesIO()
    torch.save({"checkpoint_version": 2, "config": {}, "evil": payload}, buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def test_a_checkpoint_carrying_code_is_refused_and_the_code_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    _crafted(tmp_path / "evil.pt", marker)
    with pytest.raises(ValueError, match="would run code from the file; refused"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


@pytest.mark.parametrize("flag", ["--resume", "--pretrained"])
def test_the_cli_refuses_a_crafted_run_directory_with_one_line(tmp_path, flag):
    marker = tmp_path / "pwned"
    run_dir = tmp_path / "shared_run"
    _crafted(run_dir / "checkpoints" / "latest.pt", marker)
    _crafted(run_dir / "checkpoints" / "pretrained.pt", marker)
    argv = [flag, str(run_dir), "--device", "cpu", "--no-progress"]
    if flag == "--pretrained":
        argv += ["--run-dir", str(tmp_path / "new")]
    out = subprocess.run([sys.executable, "train/reinforce.py", *argv], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 2
    assert "refused" in out.stderr
    assert "Traceback" not in out.stderr
    assert not marker.exists()


def test_numpy_and_python_rng_states_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    payload = {"numpy_rng": np.random.get_state(), "python_rng": random.getstate(),  # noqa: NPY002
               "bitgen": rng.bit_generator.state, "scalar": np.float64(1.5), "t": torch.arange(3)}  # fmt: skip
    save_checkpoint(tmp_path / "c.pt", payload)
    back = load_checkpoint(tmp_path / "c.pt")
    assert back["numpy_rng"][0] == "MT19937"
    np.testing.assert_array_equal(back["numpy_rng"][1], payload["numpy_rng"][1])
    assert back["numpy_rng"][2:] == payload["numpy_rng"][2:]
    assert back["python_rng"] == payload["python_rng"]
    assert back["bitgen"] == payload["bitgen"]
    assert back["scalar"] == 1.5
    assert type(back["scalar"]) is float
    np.random.set_state(back["numpy_rng"])  # noqa: NPY002  (accepted by numpy as it is)


def test_a_version_1_checkpoint_gets_a_clear_message_and_upgrades(tmp_path):
    run(tiny_run_config(tmp_path / "r", {"adv.updates": 2}))
    latest = tmp_path / "r" / "checkpoints" / "latest.pt"
    data = load_checkpoint(latest)
    data["checkpoint_version"] = 1
    torch.save(data, latest)  # what version 1 wrote: numpy objects pickled as they are
    with pytest.raises(ValueError, match=r"python -m agents\.run\.checkpoint upgrade \(it reads weights-only too"):
        load_checkpoint(latest)
    upgrade(latest)
    assert load_checkpoint(latest)["checkpoint_version"] == 2
    out = subprocess.run([sys.executable, "-m", "agents.run.checkpoint", "upgrade", str(tmp_path / "r")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = run(tiny_run_config(tmp_path / "r", {"adv.updates": 4}, resume=str(tmp_path / "r")))
    assert summary["final_nll_oracle"] > 0


def test_upgrade_never_runs_a_payload_unless_told_to_trust_the_file(tmp_path):
    marker = tmp_path / "pwned"
    _crafted(tmp_path / "evil.pt", marker)
    out = subprocess.run([sys.executable, "-m", "agents.run.checkpoint", "upgrade", str(tmp_path / "evil.pt")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 2
    assert "would run code from the file" in out.stderr
    assert "--trust-code" in out.stderr
    assert "Traceback" not in out.stderr
    assert not marker.exists()
    with pytest.raises(ValueError, match="pass --trust-code"):
        upgrade(tmp_path / "evil.pt")
    assert not marker.exists()


NOT_ONE = "bytes that are not a checkpoint"


@pytest.mark.parametrize(("content", "match"), [(b"", "the file is empty"), (b"\x00\x01garbage" * 9, NOT_ONE),
                                                (b"a text file\n", NOT_ONE)])  # fmt: skip
def test_upgrade_of_bytes_that_are_no_checkpoint_is_one_line(tmp_path, content, match):
    (tmp_path / "x.pt").write_bytes(content)
    out = subprocess.run([sys.executable, "-m", "agents.run.checkpoint", "upgrade", str(tmp_path / "x.pt")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 2
    assert match in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr  # no torch advice about weights_only=False
    (tmp_path / "empty").mkdir()
    out = subprocess.run([sys.executable, "-m", "agents.run.checkpoint", "upgrade", str(tmp_path / "empty")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 2
    assert "no checkpoints/*.pt" in out.stderr
