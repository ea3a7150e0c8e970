"""Loading never runs code from a file, and every bad file gets one readable line naming it."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from explorer import CheckpointError, load_generator
from explorer.io.native import save_generator
from tests.conftest import make_generator
from tests.helpers.nvlabs_writer import MARKER_SOURCE, write_nvlabs_pickle


class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def _assert_one_line_error(path, match):
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    assert match in msg, msg
    return msg


def test_pickle_that_runs_a_command_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _RunsCommand(marker)}))
    msg = _assert_one_line_error(path, "refusing to load")
    assert "system" in msg
    assert not marker.exists()


def test_pickle_that_evals_is_refused(tmp_path):
    path = tmp_path / "eval.pkl"
    path.write_bytes(pickle.dumps(_Evals()))
    _assert_one_line_error(path, "builtins.eval")


def test_hostile_object_hidden_beside_a_real_network_is_refused(tmp_path):
    marker = tmp_path / "PWNED2"
    path = tmp_path / "snapshot.pkl"
    write_nvlabs_pickle(make_generator(), path, extra={"progress": _RunsCommand(marker)})
    _assert_one_line_error(path, "refusing to load")
    assert not marker.exists()


def test_embedded_module_source_is_never_executed(tmp_path, monkeypatch):
    path = tmp_path / "snapshot.pkl"
    write_nvlabs_pickle(make_generator(), path)
    assert MARKER_SOURCE.encode() in path.read_bytes()          # the hostile source is in the file...
    assert load_generator(path).img_resolution == 32            # ...the network loads...
    assert not (tmp_path / "MODULE_SRC_WAS_EXECUTED").exists()  # ...and the source never ran
    proof = tmp_path / "proof"                                  # (running it would have left the mark)
    proof.mkdir()
    monkeypatch.setenv("EXPLORER_TEST_MARKER_DIR", str(proof))
    exec(MARKER_SOURCE, {})
    assert (proof / "MODULE_SRC_WAS_EXECUTED").exists()


def test_loading_in_a_fresh_process_imports_no_nvlabs_code(tmp_path):
    path = tmp_path / "snapshot.pkl"
    write_nvlabs_pickle(make_generator(), path)
    code = ("import sys; from explorer import load_generator; load_generator(sys.argv[1]); "
            "bad = [m for m in sys.modules if m.startswith(('torch_utils', 'dnnlib', 'training'))]; "
            "assert not bad, bad; print('ok')")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_torch_file_with_code_is_refused(tmp_path):
    marker = tmp_path / "PWNED3"
    path = tmp_path / "evil.pt"
    torch.save({"g_ema": {"x": _RunsCommand(marker)}}, path)
    _assert_one_line_error(path, "refusing to load")
    assert not marker.exists()


def test_truncated_pickle(tmp_path):
    good = tmp_path / "good.pkl"
    write_nvlabs_pickle(make_generator(), good)
    bad = tmp_path / "truncated.pkl"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _assert_one_line_error(bad, "truncated")


def test_truncated_safetensors(tmp_path):
    good = save_generator(make_generator(), tmp_path / "good.safetensors")
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(good.read_bytes()[:-1000])
    _assert_one_line_error(bad, "safetensors")


def test_truncated_torch_file(tmp_path):
    from tests.helpers.rosinality_reference import random_checkpoint
    good = tmp_path / "good.pt"
    torch.save(random_checkpoint(16), good)
    bad = tmp_path / "cut.pt"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    _assert_one_line_error(bad, "truncated")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.pkl"
    path.write_bytes(os.urandom(4096))
    _assert_one_line_error(path, "not a recognised checkpoint")


def test_empty_missing_and_directory(tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    _assert_one_line_error(empty, "empty file")
    _assert_one_line_error(tmp_path / "missing.safetensors", "file not found")
    _assert_one_line_error(tmp_path, "directory")


def test_safetensors_without_config(tmp_path):
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    _assert_one_line_error(path, "without an explorer generator config")


def test_safetensors_with_wrong_tensors(tmp_path):
    G = make_generator()
    path = save_generator(G, tmp_path / "g.safetensors")
    from safetensors.torch import load_file, safe_open
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    tensors["synthesis.b8.conv1.weight"] = torch.zeros(3, 3, 3, 3)
    save_file(tensors, str(path), metadata=meta)
    _assert_one_line_error(path, "synthesis.b8.conv1.weight")


def test_pickle_without_generator(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    _assert_one_line_error(path, "no G_ema")


def test_cli_reports_bad_checkpoint_on_one_line(tmp_path):
    path = tmp_path / "garbage.pkl"
    path.write_bytes(b"\x80\x04not really a pickle")
    out = subprocess.run([sys.executable, "-m", "explorer.cli", "info", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in out.stderr
