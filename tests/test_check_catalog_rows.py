"""Every "Dataset config" and "Arguments" row of the failure catalog is caught before launch.

One healthy project (real files: a musubi checkout with the three scripts, real-shape
model headers, clips with captions, caches) passes with no error; each test breaks one
thing the way users do and shows the row's catalog id appear. Rows that need the
pipeline's Python (attention library, bitsandbytes, xformers on a new GPU) are shown
through the probe checks the preflight runs with these.
"""

from __future__ import annotations

from pathlib import Path

import modelfactory as mf
import pytest

from wantui.core.args import check_command, check_project
from wantui.core.catalog import CATALOG
from wantui.core.dataset.mp4 import write_test_mp4
from wantui.core.finding import Severity
from wantui.core.project import Project, Step, project_to_toml

GOOD_TOML = """[general]
resolution = [480, 272]
caption_extension = ".txt"
batch_size = 1
enable_bucket = true

[[datasets]]
video_directory = "videos"
cache_directory = "cache/videos"
target_frames = [1, 17]
frame_extraction = "head"
"""

TRAIN = [
    "--task", "t2v-1.3B", "--dit", "models/dit.safetensors", "--sdpa", "--mixed_precision", "bf16",
    "--optimizer_type", "adamw8bit", "--learning_rate", "2e-4", "--network_module", "networks.lora_wan",
    "--network_dim", "16", "--max_train_epochs", "4", "--output_dir", "output", "--output_name", "lora",
]  # fmt: skip


def build(root: Path, *, toml: str = GOOD_TOML, train: list[str] | None = None, latents: list[str] | None = None,
          te: list[str] | None = None, dit: dict | None = None, caches: bool = True) -> Project:  # fmt: skip
    musubi = root / "musubi"
    musubi.mkdir(parents=True, exist_ok=True)
    for s in ("wan_cache_latents.py", "wan_cache_text_encoder_outputs.py", "wan_train_network.py"):
        (musubi / s).write_text("# stand-in\n")
    models = root / "models"
    models.mkdir(exist_ok=True)
    mf.write_safetensors(models / "dit.safetensors", mf.dit_tensors("1.3B", **(dit or {})))
    mf.write_safetensors(models / "vae.safetensors", mf.vae_tensors())
    (models / "t5.pth").write_bytes(b"stand-in")
    vids = root / "videos"
    vids.mkdir(exist_ok=True)
    write_test_mp4(vids / "clip1.mp4", 40)
    (vids / "clip1.txt").write_text("a cat walks")
    if caches:
        c = root / "cache" / "videos"
        c.mkdir(parents=True, exist_ok=True)
        (c / "clip1_00000-017_0480x0272_wan.safetensors").write_bytes(b"")
        (c / "clip1_wan_te.safetensors").write_bytes(b"")
    (root / "dataset.toml").write_text(toml, encoding="utf-8")
    project = Project(root=root, name="t", musubi_dir="musubi", dataset_config="dataset.toml")
    project.steps = {
        "latents": Step("latents", "wan_cache_latents.py", latents if latents is not None else ["--vae", "models/vae.safetensors"]),
        "te": Step("te", "wan_cache_text_encoder_outputs.py", te if te is not None else ["--t5", "models/t5.pth", "--batch_size", "16"]),
        "train": Step("train", "wan_train_network.py", train if train is not None else list(TRAIN), launcher="accelerate",
                      launch_args=["--num_cpu_threads_per_process", "1", "--mixed_precision", "bf16"]),
    }  # fmt: skip
    project.file.write_text(project_to_toml(project), encoding="utf-8")
    return project


def ids(findings, *, levels=(Severity.ERROR, Severity.WARNING)) -> set[str]:
    return {f.catalog for f in findings if f.severity in levels}


def without(args: list[str], flag: str) -> list[str]:
    i = args.index(flag)
    j = i + 1
    while j < len(args) and not args[j].startswith("--"):
        j += 1
    return args[:i] + args[j:]


def test_healthy_project_has_no_errors(tmp_path):
    found = check_project(build(tmp_path))
    assert [f for f in found if f.severity is not Severity.INFO] == []
    # training alone: the caches are there
    assert ids(check_project(build(tmp_path), steps=["train"])) == set()


# -- Dataset config (TOML) ---------------------------------------------------------------


def test_toml_extra_key(tmp_path):
    assert "toml-extra-key" in ids(
        check_project(build(tmp_path, toml=GOOD_TOML + "num_frames = [17]\n"))
    )


def test_toml_invalid_value(tmp_path):
    assert "toml-invalid-value" in ids(
        check_project(build(tmp_path, toml=GOOD_TOML + "source_fps = 30\n"))
    )


def test_toml_parse_error(tmp_path):
    bad = GOOD_TOML.replace('"videos"', '"C:\\data\\videos"')
    assert "toml-parse-error" in ids(check_project(build(tmp_path, toml=bad)))


def test_dataset_config_not_found(tmp_path):
    project = build(tmp_path)
    project.dataset_config = "datset.toml"
    assert "dataset-config-not-found" in ids(check_project(project))
    cmd = [
        "python",
        str(tmp_path / "musubi/wan_cache_latents.py"),
        "--dataset_config",
        "nope.toml",
        "--vae",
        "x",
    ]
    assert "dataset-config-not-found" in ids(check_command(cmd, tmp_path))


def test_dataset_no_source(tmp_path):
    toml = GOOD_TOML.replace('video_directory = "videos"\n', "")
    assert "dataset-no-source" in ids(check_project(build(tmp_path, toml=toml)))


def test_dataset_cache_dir_shared(tmp_path):
    toml = (
        GOOD_TOML.replace('cache_directory = "cache/videos"\n', "")
        + '\n[[datasets]]\nvideo_directory = "./videos"\n'
    )
    assert "dataset-cache-dir-shared" in ids(check_project(build(tmp_path, toml=toml)))


def test_dataset_empty(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.Mp4").write_bytes(b"")
    toml = GOOD_TOML.replace('"videos"', '"clips"')
    assert "dataset-empty" in ids(check_project(build(tmp_path, toml=toml)))
    toml = GOOD_TOML.replace('"videos"', '"no/such/folder"')
    assert "dataset-empty" in ids(check_project(build(tmp_path, toml=toml)))


def test_caption_missing(tmp_path):
    project = build(tmp_path)
    (tmp_path / "videos" / "clip1.txt").unlink()
    assert "caption-missing" in ids(check_project(project))
    toml = GOOD_TOML.replace('caption_extension = ".txt"\n', "")
    assert "caption-missing" in ids(check_project(build(tmp_path, toml=toml)))


def test_target_frames_rounded(tmp_path):
    toml = GOOD_TOML.replace("[1, 17]", "[1, 16]")
    assert "target-frames-rounded" in ids(check_project(build(tmp_path, toml=toml)))
    toml = GOOD_TOML.replace("[1, 17]", "[1, 81]")  # the 40-frame clip is too short for 81
    assert "target-frames-rounded" in ids(check_project(build(tmp_path, toml=toml)))


def test_frame_extraction_invalid(tmp_path):
    toml = GOOD_TOML.replace('"head"', '"first"')
    assert "frame-extraction-invalid" in ids(check_project(build(tmp_path, toml=toml)))


def test_cache_missing(tmp_path):
    project = build(tmp_path, caches=False)
    assert "cache-missing" in ids(check_project(project, steps=["train"]))
    assert "cache-missing" not in ids(check_project(project))  # caching runs first


def test_cache_deleted(tmp_path):
    from wantui.core.preflight import preflight

    assert "cache-deleted" not in ids(preflight(build(tmp_path)))  # clip1 still makes them
    (tmp_path / "moved").mkdir()
    project = build(tmp_path, toml=GOOD_TOML.replace('"videos"', '"moved"'))
    assert "cache-deleted" in ids(preflight(project))


# -- Arguments ---------------------------------------------------------------------------


def test_unknown_argument(tmp_path):
    project = build(
        tmp_path,
        train=TRAIN + ["--train_batch_size", "2"],
        latents=["--vae", "models/vae.safetensors", "--max_workers", "4"],
    )
    found = [f for f in check_project(project) if f.catalog == "unknown-argument"]
    assert {f.captures["flag"] for f in found} == {"--train_batch_size", "--max_workers"}


def test_missing_required_argument(tmp_path):
    assert "missing-required-argument" in ids(
        check_project(build(tmp_path, te=["--batch_size", "16"]))
    )


def test_invalid_argument_value(tmp_path):
    found = check_project(
        build(
            tmp_path,
            train=TRAIN
            + ["--timestep_boundary", "0.875", "--blocks_to_swap", "transformer_blocks"],
        )
    )
    bad = {f.captures.get("flag") for f in found if f.catalog == "invalid-argument-value"}
    assert {"--timestep_boundary", "--blocks_to_swap"} <= bad


def test_missing_attention_flag(tmp_path):
    assert "missing-attention-flag" in ids(
        check_project(build(tmp_path, train=without(TRAIN, "--sdpa")))
    )


def test_attention_backend_missing(tmp_path):
    train = without(TRAIN, "--sdpa")
    assert "attention-backend-missing" in ids(
        check_project(build(tmp_path, train=train + ["--sage_attn"]))
    )
    from wantui.core.probe import probe_findings

    project = build(tmp_path, train=train + ["--xformers"])
    data = {
        "torch": {"installed": True},
        "attention": {"xformers": {"importable": False, "error": "No module named 'xformers'"}},
    }
    assert "attention-backend-missing" in ids(probe_findings(data, project=project))


def test_xformers_invalid_argument(tmp_path):
    from wantui.core.probe import probe_findings

    project = build(tmp_path, train=without(TRAIN, "--sdpa") + ["--xformers"])
    data = {"torch": {"installed": True, "gpus": [{"capability": "12.0"}]},
            "attention": {"xformers": {"importable": True, "version": "0.0.28"}}}  # fmt: skip
    assert "xformers-invalid-argument" in ids(probe_findings(data, project=project))


def test_missing_optimizer(tmp_path):
    assert "missing-optimizer" in ids(
        check_project(build(tmp_path, train=without(TRAIN, "--optimizer_type")))
    )


def test_unknown_optimizer(tmp_path):
    train = without(TRAIN, "--optimizer_type") + ["--optimizer_type", "AdamW8bt"]
    assert "unknown-optimizer" in ids(check_project(build(tmp_path, train=train)))


def test_bitsandbytes_missing(tmp_path):
    from wantui.core.probe import probe_findings

    data = {
        "torch": {"installed": True},
        "bitsandbytes": {"importable": False, "error": "No module named 'bitsandbytes'"},
    }
    assert "bitsandbytes-missing" in ids(probe_findings(data, project=build(tmp_path)))


def test_precision_mismatch(tmp_path):
    found = check_project(build(tmp_path, dit={"dtype": "F16"}))
    (f,) = [f for f in found if f.catalog == "precision-mismatch"]
    assert f.captures["dit_dtype"] == "fp16"
    # the classic trap: only accelerate gets --mixed_precision
    found = check_project(build(tmp_path, train=without(TRAIN, "--mixed_precision")))
    (f,) = [f for f in found if f.catalog == "precision-mismatch"]
    assert "accelerate launch alone" in f.message


def test_timestep_boundary_missing(tmp_path):
    mf.write_safetensors(tmp_path / "high.safetensors", mf.dit_tensors("1.3B"))
    train = without(TRAIN, "--task") + ["--dit_high_noise", "high.safetensors"]
    assert "timestep-boundary-missing" in ids(check_project(build(tmp_path, train=train)))


def test_wan22_task_not_set(tmp_path):
    mf.write_safetensors(tmp_path / "high.safetensors", mf.dit_tensors("1.3B"))
    train = without(TRAIN, "--task") + [
        "--dit_high_noise",
        "high.safetensors",
        "--timestep_boundary",
        "875",
    ]
    assert "wan22-task-not-set" in ids(check_project(build(tmp_path, train=train)))


def test_fp8_scaled_on_fp8_weights(tmp_path):
    found = check_project(
        build(tmp_path, dit={"fp8": True}, train=TRAIN + ["--fp8_base", "--fp8_scaled"])
    )
    assert "fp8-scaled-on-fp8-weights" in ids(found)
    assert "fp8-scaled-on-fp8-weights" in ids(
        check_project(build(tmp_path, train=TRAIN + ["--fp8_scaled"]))
    )


def test_blockswap_with_offload(tmp_path):
    mf.write_safetensors(tmp_path / "high.safetensors", mf.dit_tensors("1.3B"))
    train = without(TRAIN, "--task") + ["--task", "t2v-A14B", "--dit_high_noise", "high.safetensors",
                                        "--blocks_to_swap", "10", "--offload_inactive_dit"]  # fmt: skip
    assert "blockswap-with-offload" in ids(check_project(build(tmp_path, train=train)))
    found = check_project(
        build(tmp_path, train=TRAIN + ["--blocks_to_swap", "35"])
    )  # 1.3B has 30 blocks
    (f,) = [f for f in found if f.rule == "blocks-to-swap-too-many"]
    assert f.fixes[0].params["value"] == "29"


def test_wrong_network_module(tmp_path):
    train = without(TRAIN, "--network_module")
    assert "wrong-network-module" in ids(check_project(build(tmp_path, train=train)))
    assert "wrong-network-module" in ids(
        check_project(build(tmp_path, train=train + ["--network_module", "networks.lora"]))
    )


def test_output_name_missing(tmp_path):
    assert "output-name-missing" in ids(
        check_project(build(tmp_path, train=without(TRAIN, "--output_name")))
    )


def test_output_dir_missing(tmp_path):
    assert "output-dir-missing" in ids(
        check_project(build(tmp_path, train=without(TRAIN, "--output_dir")))
    )


def test_every_dataset_and_argument_row_has_a_test():
    rows = {i for i, e in CATALOG.items() if e.area in ("Dataset config (TOML)", "Arguments")}
    names = {n.removeprefix("test_").replace("_", "-") for n in globals() if n.startswith("test_")}
    assert rows - names == set(), "catalog rows without a test here"


@pytest.mark.parametrize(
    "flag", ["--sdpa", "--optimizer_type", "--network_module", "--output_name", "--output_dir"]
)
def test_fixes_are_typed_and_repair_the_command(tmp_path, flag):
    """Applying a finding's own flag fix to the argv makes that finding go away."""
    from wantui.core.fixes.flags import add_flag, set_flag

    project = build(tmp_path, train=without(TRAIN, flag))
    (f,) = [f for f in check_project(project) if f.severity is Severity.ERROR]
    fix = f.fixes[0]
    args = project.steps["train"].args
    args = add_flag(args, fix.params["flag"], fix.params.get("value")) if fix.action == "flag_add" else \
        set_flag(args, fix.params["flag"], fix.params["value"])  # fmt: skip
    project.steps["train"].args = args
    assert [f for f in check_project(project) if f.severity is Severity.ERROR] == []


def test_path_invisible_character(tmp_path):
    # a path pasted from Explorer's "Copy as path" starts with U+202A
    train = [a if a != "models/dit.safetensors" else "\u202amodels/dit.safetensors" for a in TRAIN]
    found = check_project(build(tmp_path, train=train))
    (f,) = [x for x in found if x.catalog == "path-invisible-character"]
    assert "U+202A" in f.message and f.captures["cleaned"] == "models/dit.safetensors"
    assert (
        f.fixes[0].action == "flag_set" and f.fixes[0].params["value"] == "models/dit.safetensors"
    )
    # the same in the dataset TOML: the fix sets the cleaned folder
    toml = GOOD_TOML.replace('"videos"', '"\u200bvideos"')
    found = check_project(build(tmp_path, toml=toml))
    (f,) = [x for x in found if x.catalog == "path-invisible-character"]
    assert f.fixes[0].action == "toml_set_key" and f.fixes[0].params["value"] == '"videos"'
    assert "path-invisible-character" not in ids(check_project(build(tmp_path)))


def test_file_encoding_error(tmp_path):
    project = build(tmp_path)
    assert "file-encoding-error" not in ids(check_project(project))
    (tmp_path / "videos" / "clip1.txt").write_bytes("猫が歩く".encode("shift_jis"))
    found = check_project(project)
    (f,) = [x for x in found if x.catalog == "file-encoding-error"]
    assert "clip1.txt" in f.message and "shift_jis" in f.message
    # a sample-prompt file in cp1252
    (tmp_path / "prompts.txt").write_bytes("caf\xe9 au lait --w 480".encode("cp1252"))
    train = [*TRAIN, "--sample_prompts", "prompts.txt"]
    (tmp_path / "videos" / "clip1.txt").write_text("a cat walks", encoding="utf-8")
    found = check_project(build(tmp_path, train=train))
    (f,) = [x for x in found if x.catalog == "file-encoding-error"]
    assert f.rule == "prompt-file-not-utf8" and "cp1252" in f.title
