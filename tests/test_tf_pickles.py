"""TensorFlow pickles (NVlabs' dnnlib.tflib snapshots) open as data, without TensorFlow, and render exactly.

StyleGAN2 references in tests/data/tf are what NVlabs' own converter (legacy.py) makes of generators built
by NVlabs' TF code (see the issue-23 notes for how); the tests write TF-format pickles from those numbers.
"""
from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from explorer import load_generator
from explorer.errors import CheckpointError
from explorer.io import detect_kind, read_checkpoint
from tests.helpers.tf_writer import (generator_from_reference, load_fixture, max_abs_diff, tf_network,
                                     write_fixture_pickle, write_snapshot)

TOL = 1e-3
STYLEGAN2 = ["sg2_skip_r32", "sg2_resnet_r16", "sg2_orig_r16", "ada_cond_r16"]


def _inputs(arrays):
    z = torch.from_numpy(arrays["in/z"])
    c = torch.from_numpy(arrays["in/c"]) if arrays["in/c"].shape[1] else None
    return z, c


@pytest.mark.parametrize("name", STYLEGAN2)
def test_stylegan2_tf_pickle_matches_nvlabs_legacy_conversion(tmp_path, name):
    meta, ref = write_fixture_pickle(name, tmp_path / "network-snapshot-000100.pkl")
    path = tmp_path / "network-snapshot-000100.pkl"
    assert detect_kind(path) == "tf"
    G = load_generator(path)
    kw = meta["networks"]["Gs"]["static_kwargs"]
    assert G.cfg.architecture == kw["architecture"] and G.img_resolution == kw["resolution"]
    # the tensors are the ones legacy.py produced, layout for layout
    ours = G.state_dict()
    legacy = {k[len("legacy/"):]: v for k, v in ref.items() if k.startswith("legacy/")}
    assert set(legacy) == {k for k in ours if not k.endswith("resample_filter")}
    for k, v in legacy.items():
        assert torch.equal(ours[k], torch.from_numpy(v)), k
    # and so are the pixels
    z, c = _inputs(ref)
    for psi, cut in [(1.0, None), (0.7, None), (0.7, 4)]:
        assert max_abs_diff(G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cut), ref[f"ref/ws/psi{psi}_cut{cut}"]) < TOL
    ws = torch.from_numpy(ref["ref/ws/psi1.0_cutNone"])
    for mode in ("const", "none"):
        assert max_abs_diff(G.synthesis(ws, noise_mode=mode), ref[f"ref/img/{mode}"]) < TOL
    assert max_abs_diff(G(z, c, truncation_psi=0.7, truncation_cutoff=4), ref["ref/gen/psi0.7_cut4"]) < TOL
    assert max_abs_diff(G.synthesis(torch.from_numpy(ref["ref/mixws"])), ref["ref/img/mix"]) < TOL


def test_conditional_stylegan2_ada_labels_and_clamp(tmp_path):
    write_fixture_pickle("ada_cond_r16", tmp_path / "ada.pkl")
    G = load_generator(tmp_path / "ada.pkl")
    assert G.c_dim == 3 and G.cfg.conv_clamp == 1.5
    z = torch.randn(1, G.z_dim)
    eye = torch.eye(3)
    assert (G(z, eye[:1]) - G(z, eye[1:2])).abs().max() > 1e-2


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_every_pickle_protocol_reads_the_same(tmp_path, protocol):
    meta, ref = write_fixture_pickle("sg2_resnet_r16", tmp_path / "p.pkl", protocol=protocol)
    z, c = _inputs(ref)
    assert max_abs_diff(load_generator(tmp_path / "p.pkl")(z, c, truncation_psi=0.7, truncation_cutoff=4),
                     ref["ref/gen/psi0.7_cut4"]) < TOL


def test_a_lone_gs_network_opens_too(tmp_path):
    meta, ref = load_fixture("sg2_orig_r16")
    Gs = generator_from_reference(meta["networks"], {k[2:]: v for k, v in ref.items() if k.startswith("w/")})
    with open(tmp_path / "gs.pkl", "wb") as f:
        pickle.dump(Gs, f, protocol=3)
    assert detect_kind(tmp_path / "gs.pkl") == "tf"
    assert load_generator(tmp_path / "gs.pkl").cfg.architecture == "orig"


def test_loading_runs_no_embedded_code_and_imports_neither_tensorflow_nor_dnnlib(tmp_path):
    write_fixture_pickle("sg2_skip_r32", tmp_path / "tf.pkl")
    code = ("import sys; from explorer import load_generator; load_generator(sys.argv[1]); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'dnnlib', 'training')]; "
            "assert not bad, bad; print('ok')")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "tf.pkl")], capture_output=True, text=True,
                         env={**__import__("os").environ, "EXPLORER_TEST_MARKER_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "MODULE_SRC_WAS_EXECUTED").exists()


def test_info_names_family_and_architecture(tmp_path, capsys):
    from explorer.cli import main

    write_fixture_pickle("sg2_resnet_r16", tmp_path / "tf.pkl")
    assert main(["info", str(tmp_path / "tf.pkl"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"].startswith("TensorFlow pickle")
    assert d["family"] == "StyleGAN2" and d["architecture"] == "resnet"
    assert d["provenance"]["tf_build_func"] == "G_main/G_synthesis_stylegan2"
    assert main(["info", str(tmp_path / "tf.pkl")]) == 0
    text = capsys.readouterr().out
    assert "TensorFlow pickle" in text and "StyleGAN2" in text and "resnet" in text


def test_convert_tf_stylegan2_to_native(tmp_path):
    from explorer.cli import main

    meta, ref = write_fixture_pickle("sg2_skip_r32", tmp_path / "tf.pkl")
    assert main(["convert", str(tmp_path / "tf.pkl"), str(tmp_path / "out.safetensors")]) == 0
    G = load_generator(tmp_path / "out.safetensors")
    assert G.source_kind == "native" and dict(G.cfg.provenance)["source_format"] == "tf-pickle"
    z, c = _inputs(ref)
    assert torch.equal(G(z, c), load_generator(tmp_path / "tf.pkl")(z, c))


# --- hostile and broken files: one line naming the file and the problem ----------------------------

def _snapshot(tmp_path, name="sg2_resnet_r16", edit=None, protocol=3):
    meta, ref = load_fixture(name)
    weights = {k[2:]: v for k, v in ref.items() if k.startswith("w/")}
    networks = json.loads(json.dumps(meta["networks"]))
    if edit is not None:
        edit(networks, weights)
    path = tmp_path / "bad.pkl"
    write_snapshot(path, generator_from_reference(networks, weights), protocol)
    return path


def _refused(path, *words):
    with pytest.raises(CheckpointError) as e:
        load_generator(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    for w in words:
        assert w in msg, msg
    return msg


def test_truncated_tf_pickle(tmp_path):
    path = _snapshot(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _refused(path, "truncated")


def test_unknown_build_argument_is_named(tmp_path):
    def edit(nets, w):
        nets["Gs"]["static_kwargs"]["fancy_new_option"] = 3
    _refused(_snapshot(tmp_path, edit=edit), "fancy_new_option")


def test_unsupported_argument_values_are_named(tmp_path):
    def edit(nets, w):
        nets["Gs"]["static_kwargs"]["resample_kernel"] = [1, 1]
    _refused(_snapshot(tmp_path, edit=edit), "resample_kernel")


def test_missing_variable_is_named(tmp_path):
    def edit(nets, w):
        nets["Gs/synthesis"]["variables"].remove("8x8/Conv1/mod_bias")
    _refused(_snapshot(tmp_path, edit=edit), "8x8/Conv1/mod_bias")


def test_variable_with_a_wrong_shape(tmp_path):
    def edit(nets, w):
        w["Gs/synthesis/8x8/Conv1/weight"] = w["Gs/synthesis/8x8/Conv1/weight"][:, :, :2]
    _refused(_snapshot(tmp_path, edit=edit), "shape")


def test_non_finite_weights(tmp_path):
    def edit(nets, w):
        w["Gs/mapping/Dense0/bias"] = np.full_like(w["Gs/mapping/Dense0/bias"], np.nan)
    _refused(_snapshot(tmp_path, edit=edit), "NaN")


def test_configs_a_to_d_are_refused_by_name(tmp_path):
    def edit(nets, w):
        nets["Gs/synthesis"]["build_func_name"] = "G_synthesis_stylegan_revised"
    _refused(_snapshot(tmp_path, edit=edit), "G_synthesis_stylegan_revised")


def test_label_concat_stylegan2_is_refused_clearly(tmp_path):
    def edit(nets, w):
        nets["Gs/mapping"]["variables"].append("LabelConcat/weight")
        w["Gs/mapping/LabelConcat/weight"] = np.zeros([2, 24], np.float32)
    _refused(_snapshot(tmp_path, edit=edit), "LabelConcat")


def test_old_pickle_version(tmp_path):
    meta, ref = load_fixture("sg2_resnet_r16")
    Gs = generator_from_reference(meta["networks"], {k[2:]: v for k, v in ref.items() if k.startswith("w/")}, version=2)
    _refused(write_snapshot(tmp_path / "old.pkl", Gs), "version 2")


def test_variables_that_are_not_arrays(tmp_path):
    Gs = tf_network("Gs", "G_main", {}, {"dlatent_avg": np.array(["a", "b"])},
                    {"mapping": tf_network("G_mapping", "G_mapping", {}, {}),
                     "synthesis": tf_network("G_synthesis", "G_synthesis_stylegan2", {}, {})})
    _refused(write_snapshot(tmp_path / "str.pkl", Gs), "dlatent_avg", "not a numeric array")


def test_networks_without_a_generator(tmp_path):
    D = tf_network("D", "D_basic", {}, {"x": np.zeros(2, np.float32)})
    path = tmp_path / "d.pkl"
    with open(path, "wb") as f:
        pickle.dump((D, D), f, protocol=3)
    _refused(path, "no generator")


def test_self_referencing_components(tmp_path):
    Gs = tf_network("Gs", "G_main", {}, {})
    Gs.__getstate__()["components"].update(mapping=Gs, synthesis=Gs)
    _refused(write_snapshot(tmp_path / "loop.pkl", Gs), "refer to themselves")


def test_one_array_named_as_many_variables_is_refused_before_copying(tmp_path):
    big = np.zeros([1 << 20], np.float32)   # 4 MB once in the file, 400 MB if every name were copied
    Gs = tf_network("Gs", "G_main", {}, {f"v{i}": big for i in range(100)},
                    {"mapping": tf_network("G_mapping", "G_mapping", {}, {}),
                     "synthesis": tf_network("G_synthesis", "G_synthesis_stylegan2", {}, {})})
    path = write_snapshot(tmp_path / "shared.pkl", Gs)
    assert path.stat().st_size < 10 << 20
    _refused(path, "shared between variables")


class _Evil:
    def __reduce__(self):
        return (__import__("os").system, ("echo pwned > /dev/null",))


def test_code_hidden_in_static_kwargs_is_refused(tmp_path):
    def edit(nets, w):
        nets["Gs"]["static_kwargs"]["fmap_base"] = _Evil()
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_generator(_snapshot(tmp_path, edit=edit))


def test_object_arrays_are_refused(tmp_path):
    def edit(nets, w):
        w["Gs/dlatent_avg"] = np.array([1.0, "x"], dtype=object)
    with pytest.raises(CheckpointError):
        read_checkpoint(_snapshot(tmp_path, edit=edit, protocol=5))
