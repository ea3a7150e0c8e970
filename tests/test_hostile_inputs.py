"""A corpus of hostile files, built here, each handed to the CLI as a user would.

For every case: exit status 1; exactly one line on stderr, naming the file and the problem; no file written
or changed anywhere under the test's directory; no canary created by code in the file; the peak memory of
this process (where the CLI runs) stays within MEMORY_LIMIT_MB and the command within TIME_LIMIT_S.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import pickle
import struct
import threading
import time
import zipfile
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from explorer.cli import main
from explorer.errors import single_line
from explorer.io.native import FORMAT, FORMAT_VERSION, save_generator
from tests.conftest import make_generator
from tests.helpers.nvlabs_writer import _Persistent, nvlabs_snapshot
from tests.helpers.peak_memory import PeakMemory
from tests.helpers.rosinality_reference import random_checkpoint

MEMORY_LIMIT_MB = 150     # what a refused file may cost; the bombs below would cost 1-6 GB if inflated
TIME_LIMIT_S = 20         # generous for a shared 2-core machine; a refusal takes milliseconds
CANARY = "CANARY"         # the file code hidden in a case would create in the test's directory


# --- pieces hostile files are made of -------------------------------------------------------------------

class Reduce:
    """Pickles as a call fn(*args): how a pickle makes the unpickler call something."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def touch_canary(d: Path) -> Reduce:
    return Reduce(os.system, f"touch {d / CANARY}")


def write_native(d: Path, config_text: str, tensors=None) -> Path:
    """A safetensors file with our metadata keys, an arbitrary config text and (by default) a real small G's tensors."""
    G = make_generator()
    tensors = tensors if tensors is not None else {k: v.contiguous() for k, v in G.state_dict().items()}
    path = d / "model.safetensors"
    save_file(tensors, str(path), metadata={"format": FORMAT, "format_version": FORMAT_VERSION, "config": config_text})
    return path


def native_config(d: Path, **changes) -> Path:
    cfg = make_generator().cfg.to_dict()
    cfg.update(changes)
    return write_native(d, json.dumps(cfg))


def nvlabs(d: Path, alter: Callable[[dict], None], name: str = "snapshot.pkl") -> Path:
    """An NVlabs-format snapshot of a small G, altered by `alter(snapshot)` before pickling."""
    snapshot = nvlabs_snapshot(make_generator())
    alter(snapshot)
    path = d / name
    path.write_bytes(pickle.dumps(snapshot, protocol=4))
    return path


def module(snapshot: dict, dotted: str) -> _Persistent:
    rec = snapshot["G_ema"]
    for part in dotted.split("."):
        rec = rec.state["_modules"][part]
    return rec


def torch_zip(d: Path, tensors: dict, name: str = "model.pt", deflated_storages: bool = False,
              declare: Callable[[int], int] = lambda n: n) -> Path:
    """A torch.save-style zip written by hand, so that entries can be deflated and sizes can lie.

    Each tensor value is (dtype storage class, numel, bytes or a size of zeros to stream, shape)."""
    path = d / name
    buf = io.BytesIO()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return obj if isinstance(obj, tuple) and obj and obj[0] == "storage" else None

    state = {}
    for i, (key, (kind, numel, _data, shape)) in enumerate(tensors.items()):
        pid = ("storage", kind, str(i), "cpu", declare(numel))
        strides = tuple(int(np.prod(shape[j + 1:])) for j in range(len(shape)))
        state[key] = Reduce(torch._utils._rebuild_tensor_v2, pid, 0, shape, strides, False, collections.OrderedDict())
    Pickler(buf, protocol=2).dump({"g_ema": state})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        for i, (_, (_kind, _numel, data, _shape)) in enumerate(tensors.items()):
            info = zipfile.ZipInfo(f"archive/data/{i}")
            info.compress_type = zipfile.ZIP_DEFLATED if deflated_storages else zipfile.ZIP_STORED
            with zf.open(info, "w", force_zip64=True) as f:
                if isinstance(data, int):   # that many zero bytes, streamed (never held in memory)
                    chunk = bytes(1 << 20)
                    for _ in range(data >> 20):
                        f.write(chunk)
                else:
                    f.write(data)
        zf.writestr("archive/version", "3\n")
    return path


def npz(d: Path, members: dict[str, bytes], name: str = "w.npz", deflated: bool = False) -> Path:
    path = d / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED) as zf:
        for key, data in members.items():
            zf.writestr(f"{key}.npy", data)
    return path


def npy_header(shape, dtype="<f4") -> bytes:
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": shape})
    return f.getvalue()


def raw_pickle(*ops: bytes) -> bytes:
    return b"\x80\x02" + b"".join(ops) + b"."


def unicode(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def self_referencing_record() -> bytes:
    """A network record whose _modules dict is filled, after the record is built, with the record itself."""
    return raw_pickle(
        b"ctorch_utils.persistence\n_reconstruct_persistent_obj\n",
        b"}(", unicode("type"), unicode("class"), unicode("class_name"), unicode("Generator"),
        unicode("state"), b"}(", unicode("_modules"), b"}q\x01", b"u", b"u", b"\x85R",  # record = f(meta)
        b"q\x02h\x01", unicode("self"), b"h\x02s0",                                        # modules['self'] = record
    )


def legacy_torch_file(obj_pickle: bytes, storage_count: int, storage_bytes: bytes) -> bytes:
    """torch.save's pre-1.6 format around a given object pickle and one storage's on-disk bytes."""
    info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    return (pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
            + pickle.dumps(info, protocol=2) + obj_pickle + pickle.dumps(["0"], protocol=2)
            + struct.pack("<q", storage_count) + storage_bytes)


def legacy_storage_pickle(numel: int) -> bytes:
    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return obj if isinstance(obj, tuple) and obj and obj[0] == "storage" else None
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(("storage", torch.FloatStorage, "0", "cpu", numel, None))
    return buf.getvalue()


# --- the corpus -------------------------------------------------------------------------------------------

class Case(NamedTuple):
    build: Callable[[Path], Path]     # writes the hostile file into the directory, returns its path
    problem: str                       # what the one line must say
    commands: tuple[str, ...] = ("info", "convert")


def _dag_bomb(s):
    child = _Persistent("SynthesisLayer", {"_parameters": {}, "_buffers": {}, "_modules": {}})
    for _ in range(10):   # 10^10 paths through 10 records
        child = _Persistent("SynthesisLayer", {"_parameters": {}, "_buffers": {}, "_modules": {f"m{i}": child for i in range(10)}})
    module(s, "synthesis").state["_modules"]["bomb"] = child


def _deep_chain(s):
    child = _Persistent("X", {"_modules": {}})
    for _ in range(100):
        child = _Persistent("X", {"_modules": {"m": child}})
    module(s, "synthesis").state["_modules"]["deep"] = child


def _rename_block(s, old, new):
    mods = module(s, "synthesis").state["_modules"]
    mods[new] = mods.pop(old)


ROSINALITY = random_checkpoint(16)


def _rosinality_with(d: Path, change: Callable[[dict], None]) -> Path:
    ckpt = {"g_ema": dict(ROSINALITY["g_ema"]), "latent_avg": ROSINALITY["latent_avg"], "args": ROSINALITY["args"]}
    change(ckpt)
    path = d / "rosinality.pt"
    torch.save(ckpt, path)
    return path


def _fifo(d: Path) -> Path:
    path = d / "model.pkl"
    os.mkfifo(path)
    return path


def _symlink_loop(d: Path) -> Path:
    path = d / "loop.pkl"
    os.symlink(path.name, path)
    return path


def _named(d: Path, name: str, data: bytes) -> Path:
    path = d / name
    path.write_bytes(data)
    return path


CASES: dict[str, Case] = {
    # code execution through pickles of every container we read
    "pickle_runs_os_system": Case(lambda d: _named(d, "evil.pkl", pickle.dumps({"G_ema": touch_canary(d)})),
                                  "refusing to load: the pickle calls posix.system"),
    "pickle_runs_exec": Case(lambda d: _named(d, "exec.pkl", pickle.dumps(Reduce(exec, f"open('{d / CANARY}', 'w')"))),
                             "builtins.exec"),
    "pickle_hides_code_beside_a_real_G": Case(lambda d: nvlabs(d, lambda s: s.update(progress=touch_canary(d))),
                                              "refusing to load"),
    "pickle_codec_other_than_latin1": Case(lambda d: _named(d, "codec.pkl", pickle.dumps(
        Reduce(__import__("_codecs").encode, "x", "rot13"), protocol=2)), "codec 'rot13'"),
    "pickle_uses_persistent_ids": Case(lambda d: _named(d, "pid.pkl", b"\x80\x02X\x01\x00\x00\x00aQ."),
                                       "persistent ids"),
    "torch_zip_runs_os_system": Case(lambda d: _torch_save(d, {"g_ema": {"x": touch_canary(d)}}),
                                     "refusing to load: the pickle calls posix.system"),
    "torch_legacy_runs_os_system": Case(lambda d: _torch_save(d, {"g_ema": touch_canary(d)}, legacy=True),
                                        "refusing to load: the pickle calls posix.system"),
    "torchscript_as_checkpoint": Case(lambda d: _torchscript(d), "TorchScript archive"),
    # tiny files declaring huge tensors
    "stride0_tensor_690_bytes": Case(lambda d: nvlabs(d, lambda s: module(s, "synthesis.b8.conv1").state["_parameters"]
                                                     .update(weight=torch.zeros(1).expand(40000, 40000))),
                                     "reaches beyond its storage"),
    "channels_12000_over_a_tiny_storage": Case(lambda d: nvlabs(d, lambda s: module(s, "synthesis.b8.conv1").state[
        "_parameters"].update(weight=torch.zeros(1).expand(12000, 12000, 3, 3))), "reaches beyond its storage"),
    "legacy_storage_declares_2_40_elements": Case(lambda d: _named(d, "legacy.pt", legacy_torch_file(
        legacy_storage_pickle(1 << 40), 1 << 40, b"\0" * 16)), "truncated"),
    "embedded_storage_declares_2_40_elements": Case(lambda d: nvlabs(d, lambda s: module(s, "mapping.fc0").state[
        "_parameters"].update(weight=Reduce(torch.storage._load_from_bytes, legacy_torch_file(
            legacy_storage_pickle(1 << 40), 1 << 40, b"\0" * 16)))), "truncated"),
    "pickle_declares_6_GB_of_bytes": Case(lambda d: _named(d, "bytes.pkl", b"\x80\x04\x8e" + struct.pack("<Q", 6 << 30) + b"abc"),
                                          "truncated"),
    "zip_bomb_storage_1_GB": Case(lambda d: torch_zip(d, {"style.1.weight": (torch.FloatStorage, 1 << 28, 1 << 30, (1 << 28,))},
                                                      deflated_storages=True), "decompression bomb"),
    "zip_storage_declares_more_than_it_holds": Case(lambda d: torch_zip(
        d, {"style.1.weight": (torch.FloatStorage, 4, b"\0" * 16, (4,))}, declare=lambda n: 1 << 30),
        "declares 4294967296 bytes but its entry holds 16"),
    # configs that would build an enormous or endless generator
    "native_channels_12000": Case(lambda d: native_config(d, channel_base=1 << 24, channel_max=12000),
                                  "config channel_max = 12000 is implausible"),
    "native_layer_features_12000": Case(lambda d: native_config(d, layer_features=12000, mapping_layers=64), "parameters"),
    "native_channels_4096_everywhere": Case(lambda d: native_config(d, img_resolution=1024, channel_base=1 << 24,
                                                                    channel_max=4096), "parameters"),
    "native_resolution_16384": Case(lambda d: native_config(d, img_resolution=16384), "img_resolution = 16384 is implausible"),
    "native_resolution_2_20": Case(lambda d: native_config(d, img_resolution=1 << 20), "is implausible"),
    "native_mapping_layers_10_7": Case(lambda d: native_config(d, mapping_layers=10 ** 7), "mapping_layers = 10000000"),
    "native_channels_1e9_float": Case(lambda d: native_config(d, channel_max=1e9), "expected an integer"),
    "native_channels_1e9": Case(lambda d: native_config(d, channel_max=10 ** 9), "implausible"),
    "native_z_dim_abc": Case(lambda d: native_config(d, z_dim="abc"), "config z_dim is 'abc', expected an integer"),
    "native_config_missing_resolution": Case(lambda d: write_native(d, json.dumps(
        {k: v for k, v in make_generator().cfg.to_dict().items() if k != "img_resolution"})), "img_resolution"),
    "native_config_nested_100k_deep": Case(lambda d: write_native(d, "[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "native_config_not_an_object": Case(lambda d: write_native(d, "[1, 2]"), "not an object"),
    "native_tensors_do_not_match_config": Case(lambda d: write_native(d, make_generator().cfg.to_json(),
                                                                      {"mapping.fc0.weight": torch.zeros(3, 3)}),
                                               "tensors do not match"),
    "native_nan_weights": Case(lambda d: write_native(d, make_generator().cfg.to_json(), {
        k: torch.full_like(v, float("nan")) for k, v in make_generator().state_dict().items()}), "NaN", ("convert",)),
    # NVlabs constructor arguments and module trees
    "nvlabs_mapping_kwargs_5": Case(lambda d: nvlabs(d, lambda s: s["G_ema"].state["_init_kwargs"].update(mapping_kwargs=5)),
                                    "mapping_kwargs is a int, expected a dict"),
    "nvlabs_z_dim_abc": Case(lambda d: nvlabs(d, lambda s: s["G_ema"].state["_init_kwargs"].update(z_dim="abc")),
                             "z_dim is a str, expected a number"),
    "nvlabs_missing_conv_weight": Case(lambda d: nvlabs(d, lambda s: module(s, "synthesis.b8.conv1").state[
        "_parameters"].pop("weight")), "synthesis.b8.conv1.weight"),
    "nvlabs_block_not_a_power_of_two": Case(lambda d: nvlabs(d, lambda s: _rename_block(s, "b32", "b24")),
                                            "power of two"),
    "nvlabs_self_referencing_module": Case(lambda d: _named(d, "loop.pkl", self_referencing_record()), "appears twice"),
    "nvlabs_shared_subtrees_10_10_paths": Case(lambda d: nvlabs(d, _dag_bomb), "appears twice"),
    "nvlabs_modules_100_deep": Case(lambda d: nvlabs(d, _deep_chain), "implausibly deep"),
    "nvlabs_object_array_buffer": Case(lambda d: nvlabs(d, lambda s: module(s, "mapping").state["_buffers"].update(
        w_avg=np.array([None, "x"], dtype=object))), "not a tensor"),
    "pickle_nested_100k_deep": Case(lambda d: _named(d, "deep.pkl", b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b"."),
                                    "pickle holds a list"),
    # rosinality tensors of the wrong shapes
    "rosinality_conv_weight_4d": Case(lambda d: _rosinality_with(d, lambda c: c["g_ema"].update(
        {"conv1.conv.weight": torch.zeros(64, 64, 3, 3)})), "conv1.conv.weight has shape [64, 64, 3, 3]"),
    "rosinality_latent_avg_wrong_length": Case(lambda d: _rosinality_with(d, lambda c: c.update(latent_avg=torch.zeros(3))),
                                               "latent_avg has 3 values"),
    "rosinality_g_ema_holds_a_string": Case(lambda d: _rosinality_with(d, lambda c: c["g_ema"].update(x="str")),
                                            "g_ema entry x is a str, not a tensor"),
    "rosinality_no_g_ema": Case(lambda d: _rosinality_with(d, lambda c: c.pop("g_ema")), "no g_ema"),
    # files that are not files
    "fifo": Case(_fifo, "FIFO"),
    "symlink_loop": Case(_symlink_loop, "symlink loop"),
    "directory": Case(lambda d: (d / "dir.pkl").mkdir() or d / "dir.pkl", "is a directory"),
    "empty": Case(lambda d: _named(d, "empty.pkl", b""), "empty file"),
    "newline_in_the_file_name": Case(lambda d: _named(d, "evil\nname.pkl", b"\x80\x04\xff"), "corrupt"),
}


def _torch_save(d: Path, obj, legacy: bool = False) -> Path:
    path = d / "evil.pt"
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


class _Scripted(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


def _torchscript(d: Path) -> Path:
    path = d / "scripted.pt"
    torch.jit.script(_Scripted()).save(str(path))
    return path


NPZ_CASES: dict[str, Case] = {
    "npz_object_array_with_code": Case(lambda d: _npz_with_pickle(d), "holds Python objects"),
    "npz_declares_10_10_elements": Case(lambda d: npz(d, {"w": npy_header((10 ** 10,)) + b"\0" * 64}),
                                        "declares 10000000000 elements"),
    "npz_declares_more_bytes_than_it_holds": Case(lambda d: npz(d, {"w": npy_header((1000, 1000)) + b"\0" * 64}),
                                                  "declares 4000000 bytes of data but holds 64"),
    "npz_deflate_bomb": Case(lambda d: _npz_bomb(d), "decompression bomb"),
    "npz_not_a_zip": Case(lambda d: _named(d, "w.npz", os.urandom(256)), "not an .npz archive"),
    "npz_without_w": Case(lambda d: npz(d, {"x": npy_header((2,)) + b"\0" * 8}), "no 'w' array (keys: x)"),
    "npz_fifo": Case(lambda d: os.mkfifo(d / "w.npz") or d / "w.npz", "FIFO"),
}


def _npz_with_pickle(d: Path, key: str = "w") -> Path:
    path = d / "w.npz"
    np.savez(path, **{key: np.array([touch_canary(d)], dtype=object)})
    return path


def _npz_bomb(d: Path) -> Path:
    path = d / "w.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        info = zipfile.ZipInfo("w.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as f:
            f.write(npy_header((1 << 28,)))
            chunk = bytes(1 << 20)
            for _ in range(1024):
                f.write(chunk)
    return path


# --- the runner -----------------------------------------------------------------------------------------

def _tree(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


def run_cli(argv: list[str]) -> tuple[int, str, float, float]:
    """(exit status, stderr, peak memory MB, seconds) of `explorer ARGV` run in this process, given TIME_LIMIT_S."""
    result: dict = {}

    def target():
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                result["status"] = main(argv)
        except BaseException as e:  # a traceback is a failure of the test, reported with its type
            result["error"] = e
        result["stderr"] = err.getvalue()

    with PeakMemory() as mem:
        start = time.perf_counter()
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(TIME_LIMIT_S)
        seconds = time.perf_counter() - start
    assert not thread.is_alive(), f"explorer {' '.join(argv)} still runs after {TIME_LIMIT_S} s"
    if "error" in result:
        raise AssertionError(f"explorer {argv[0]} raised {type(result['error']).__name__}: {result['error']}") from result["error"]
    return result["status"], result["stderr"], mem.mb, seconds


def check_refused(tmp_path: Path, path: "Path | None", problem: str, argv: list[str]) -> None:
    """`explorer ARGV` refuses: status 1, one line naming `path` (when a file is at fault) and the problem,
    nothing under tmp_path written or changed, no canary, memory and time bounded."""
    before = _tree(tmp_path)
    status, stderr, mb, seconds = run_cli(argv)
    lines = stderr.strip().splitlines()
    assert status == 1, (status, stderr)
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"explorer {argv[0]}: error: "), lines[0]
    assert path is None or single_line(str(path)) in lines[0], lines[0]
    assert problem in lines[0], lines[0]
    assert _tree(tmp_path) == before, "a file was written or changed"
    assert not (tmp_path / CANARY).exists(), "code in the file ran"
    assert mb < MEMORY_LIMIT_MB, f"peak memory grew {mb:.0f} MB"
    assert seconds < TIME_LIMIT_S


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_checkpoint(name, tmp_path):
    case = CASES[name]
    src = tmp_path / "in"
    src.mkdir()
    path = case.build(src)
    for command in case.commands:
        argv = ["info", str(path)] if command == "info" else ["convert", str(path), str(tmp_path / "out" / "g.safetensors")]
        check_refused(tmp_path, path, case.problem, argv)


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory) -> Path:
    return save_generator(make_generator(), tmp_path_factory.mktemp("ckpt") / "small.safetensors")


@pytest.mark.parametrize("name", sorted(NPZ_CASES))
def test_hostile_npz(name, tmp_path, small_checkpoint):
    case = NPZ_CASES[name]
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    path = case.build(src)
    check_refused(tmp_path, path, case.problem, ["generate", "--checkpoint", str(small_checkpoint),
                                                 "--projected-w", str(path), "--outdir", str(out)])


def test_hostile_directions_file(tmp_path, small_checkpoint):
    src = tmp_path / "in"
    src.mkdir()
    path = _npz_with_pickle(src, "directions")
    check_refused(tmp_path, path, "holds Python objects", ["directions", "--checkpoint", str(small_checkpoint),
                                                           "--from", str(path), "--out", str(tmp_path / "d.npz")])


def test_fid_network_other_than_the_packaged_one_is_refused_unrun(tmp_path, monkeypatch):
    from explorer.io.torchscript import UnknownTorchScriptError
    from explorer.train.metrics import InceptionFeatures

    path = _torchscript(tmp_path)

    def never(*args, **kwargs):
        raise AssertionError("torch.jit.load ran a user's file")
    monkeypatch.setattr(torch.jit, "load", never)
    monkeypatch.setenv("EXPLORER_FID_INCEPTION", str(path))
    with pytest.raises(UnknownTorchScriptError, match="SHA-256 differs"):
        InceptionFeatures()


def test_a_rosinality_checkpoint_reads_only_g_ema(tmp_path):
    """The discriminator and optimiser state of a training checkpoint are never read (nor their size paid)."""
    from explorer.io import read_checkpoint

    ckpt = dict(ROSINALITY)
    ckpt["d"] = {"big": torch.ones(1 << 24)}   # 64 MB that nothing should read
    path = tmp_path / "train.pt"
    torch.save(ckpt, path)
    del ckpt
    with PeakMemory() as mem:
        read_checkpoint(path)
    assert mem.mb < 32
