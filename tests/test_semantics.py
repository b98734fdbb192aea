"""The semantic map of musubi-tuner's inputs (wantui/core/args/semantics.json)."""

from __future__ import annotations

import json

from wantui.core.args.semantics import MAP_FILE, USES, key_uses, scan_source, uses_of
from wantui.core.dataset.schema import ALL_DATASET_KEYS

WAN_SCRIPTS = ("wan_cache_latents.py", "wan_cache_text_encoder_outputs.py", "wan_train_network.py")


def test_map_covers_every_option_and_key_with_sources() -> None:
    data = json.loads(MAP_FILE.read_text(encoding="utf-8"))
    assert data["musubi_commit"].startswith("30c658c")
    catalog = json.loads(MAP_FILE.with_name("catalog.json").read_text(encoding="utf-8"))
    for script in WAN_SCRIPTS:
        for spec in catalog["scripts"][script]:
            assert spec["names"][0] in data["options"], spec["names"]
    assert set(data["dataset"]) == set(ALL_DATASET_KEYS)
    for entry in [*data["options"].values(), *data["dataset"].values()]:
        for use in entry["uses"]:
            assert use["use"] in USES
            file, _, line = use["at"].rpartition(":")
            assert file.endswith(".py") and int(line) > 0


def test_known_uses_are_in_the_map() -> None:
    assert "training/trainer_base.py:1796" in uses_of("--gradient_accumulation_steps", "divides")
    assert uses_of("--save_every_n_epochs", "modulus")
    assert uses_of("--network_args", "key_value")
    assert key_uses("num_repeats", "range")
    assert key_uses("frame_stride", "range")
    assert key_uses("video_jsonl_file", "decodes_jsonl")


def test_scanner_classifies_the_expression_around_a_value() -> None:
    src = (
        "import math, os, json\n"
        "def f(args, n):\n"
        "    a = n / args.den\n"
        "    b = n % args.mod\n"
        "    for i in range(args.count):\n"
        "        pass\n"
        "    os.makedirs(args.out, exist_ok=True)\n"
        "    if args.opt is None:\n"
        "        pass\n"
        "    c = json.load(open(args.cfg))\n"
        "    return getattr(args, 'late') < 3\n"
    )
    got = {k: [u["use"] for u in v] for k, v in scan_source(src, "x.py").items()}
    assert got == {
        "den": ["divides"],
        "mod": ["modulus"],
        "count": ["range"],
        "out": ["makedirs"],
        "opt": ["stores"],
        "cfg": ["decodes_json"],
        "late": ["compares"],
    }
