"""Known-good Wan files on the Hugging Face hub, by short name.

Names and repositories follow musubi-tuner's docs/wan.md (v0.3.4) and docs/reference/wan-facts.md §4.1.
Sizes and sha256 are left None where they were not verified here: the download then
takes them from the hub's metadata (for LFS files the ``X-Linked-Etag`` *is* the sha256).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wantui.core.errors import WantuiError
from wantui.core.similar import suggestion


@dataclass(frozen=True)
class HubFile:
    name: str  # short catalog name used by fixes and `wantui download NAME`
    repo: str
    filename: str  # path inside the repository
    role: str  # dit, dit_high_noise, vae, t5, clip
    description: str
    size: int | None = None
    sha256: str | None = None
    step: str | None = None  # the pipeline step whose flag takes this file
    flag: str | None = None

    @property
    def basename(self) -> str:
        return self.filename.rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "repo": self.repo,
            "filename": self.filename,
            "role": self.role,
            "description": self.description,
            "size": self.size,
            "sha256": self.sha256,
            "step": self.step,
            "flag": self.flag,
        }


_WAN_AI = "Wan-AI/Wan2.1-I2V-14B-720P"
_COMFY21 = "Comfy-Org/Wan_2.1_ComfyUI_repackaged"
_COMFY22 = "Comfy-Org/Wan_2.2_ComfyUI_Repackaged"

CATALOG: dict[str, HubFile] = {
    f.name: f
    for f in (
        HubFile(
            "t5",
            _WAN_AI,
            "models_t5_umt5-xxl-enc-bf16.pth",
            "t5",
            "umt5-xxl encoder in the Wan key layout (Wan2.1 and Wan2.2)",
            step="te",
            flag="--t5",
        ),
        HubFile(
            "clip",
            _WAN_AI,
            "models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth",
            "clip",
            "Wan2.1 I2V CLIP (not used by Wan2.2)",
            step="latents",
            flag="--clip",
        ),
        HubFile(
            "vae",
            _WAN_AI,
            "Wan2.1_VAE.pth",
            "vae",
            "Wan2.1 VAE, also the VAE of Wan2.2 14B",
            step="latents",
            flag="--vae",
        ),
        HubFile(
            "vae-safetensors",
            _COMFY21,
            "split_files/vae/wan_2.1_vae.safetensors",
            "vae",
            "Wan2.1 VAE, Comfy-Org safetensors repack",
            step="latents",
            flag="--vae",
        ),
        HubFile(
            "wan2.1-t2v-1.3b",
            _COMFY21,
            "split_files/diffusion_models/wan2.1_t2v_1.3B_bf16.safetensors",
            "dit",
            "Wan2.1 T2V 1.3B DiT, bf16 (--task t2v-1.3B)",
            step="train",
            flag="--dit",
        ),
        HubFile(
            "wan2.1-t2v-14b",
            _COMFY21,
            "split_files/diffusion_models/wan2.1_t2v_14B_bf16.safetensors",
            "dit",
            "Wan2.1 T2V 14B DiT, bf16 (--task t2v-14B)",
            step="train",
            flag="--dit",
        ),
        HubFile(
            "wan2.2-t2v-low",
            _COMFY22,
            "split_files/diffusion_models/wan2.2_t2v_low_noise_14B_fp16.safetensors",
            "dit",
            "Wan2.2 T2V A14B low-noise DiT, fp16 (--task t2v-A14B --dit)",
            step="train",
            flag="--dit",
        ),
        HubFile(
            "wan2.2-t2v-high",
            _COMFY22,
            "split_files/diffusion_models/wan2.2_t2v_high_noise_14B_fp16.safetensors",
            "dit_high_noise",
            "Wan2.2 T2V A14B high-noise DiT, fp16 (--dit_high_noise)",
            step="train",
            flag="--dit_high_noise",
        ),
        HubFile(
            "wan2.2-i2v-low",
            _COMFY22,
            "split_files/diffusion_models/wan2.2_i2v_low_noise_14B_fp16.safetensors",
            "dit",
            "Wan2.2 I2V A14B low-noise DiT, fp16 (--task i2v-A14B --dit)",
            step="train",
            flag="--dit",
        ),
        HubFile(
            "wan2.2-i2v-high",
            _COMFY22,
            "split_files/diffusion_models/wan2.2_i2v_high_noise_14B_fp16.safetensors",
            "dit_high_noise",
            "Wan2.2 I2V A14B high-noise DiT, fp16 (--dit_high_noise)",
            step="train",
            flag="--dit_high_noise",
        ),
    )
}

# Other spellings users and rules reach for.
ALIASES: dict[str, str] = {
    "models_t5_umt5-xxl-enc-bf16.pth": "t5",
    "t5-umt5-xxl": "t5",
    "models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth": "clip",
    "wan2.1_vae.pth": "vae",
    "wan_2.1_vae.safetensors": "vae-safetensors",
    "vae-wan2.1": "vae",
}


_REPO_PART = re.compile(r"^(?!.*(?:--|\.\.))[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


_HUB_URL = re.compile(
    r"^https?://(?:www\.)?(?:huggingface\.co|hf\.co)/(?P<repo>[^/]+/[^/]+)/(?:blob|resolve)/"
    r"(?P<rev>[^/]+)/(?P<path>[^?#]+)"
)


def _from_url(spec: str) -> str:
    """A file's page or download URL, as copied from the browser, -> ``OWNER/REPO/PATH``."""
    m = _HUB_URL.match(spec)
    if not m:
        return spec
    if m.group("rev") != "main":
        raise WantuiError(
            f"the URL names revision '{m.group('rev')}': use "
            f"`wantui download {m.group('repo')}/{m.group('path')} --revision {m.group('rev')}`"
        )
    return f"{m.group('repo')}/{m.group('path')}"


def resolve_spec(spec: str) -> HubFile:
    """A catalog name (or alias) or ``OWNER/REPO/PATH/IN/REPO`` -> a :class:`HubFile`."""
    spec = _from_url(spec.strip())
    key = spec.lower()
    if key in CATALOG:
        return CATALOG[key]
    if key in ALIASES:
        return CATALOG[ALIASES[key]]
    parts = spec.split("/")
    if len(parts) >= 3 and all(parts):
        repo = "/".join(parts[:2])
        filename = "/".join(parts[2:])
        # the hub's own rules for a repo id, checked here so a typo (or `../..`) is a
        # one-line error and never a path on this machine
        if not _REPO_PART.match(parts[0]) or not _REPO_PART.match(parts[1]) or len(repo) > 96:
            raise WantuiError(
                f"'{repo}' is not a hub repository id (OWNER/REPO: letters, digits, '-', '_', '.')"
            )
        if any(p in (".", "..") for p in parts[2:]) or "\\" in filename:
            raise WantuiError(f"'{filename}' is not a file path inside a repository")
        for f in CATALOG.values():  # a known file spelled out keeps its size/sha256
            if f.repo.lower() == repo.lower() and f.filename == filename:
                return f
        return HubFile(spec, repo, filename, "other", f"{filename} from {repo}")
    hint = suggestion(key, list(CATALOG) + list(ALIASES))
    raise WantuiError(
        f"unknown file '{spec}'{hint}: use a catalog name (wantui download --list) or OWNER/REPO/FILE"
    )
