"""Lab-only shim: lets musubi-tuner's Wan modules import on a machine without CUDA.

musubi-tuner's ``wan/modules/t5.py`` evaluates ``torch.cuda.current_device()`` in a default
argument, so merely importing the Wan scripts raises on a CPU-only torch. Put this folder
first on ``PYTHONPATH`` to rehearse the pipeline on a CPU (docs/gpu-proof.md):

    PYTHONPATH=scripts/cpu_shim python wan_cache_latents.py ...

When torch is imported and CUDA is not available, ``torch.cuda.current_device`` returns 0
instead of raising. Nothing else changes, and nothing happens where CUDA is present. Never
use it for real training: it hides the very failure (`no-cuda`) that wantui diagnoses.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys


class _PatchTorchAfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if fullname != "torch":
            return None
        sys.meta_path.remove(self)  # find the real torch, once
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        real_exec = spec.loader.exec_module

        def exec_module(module):  # type: ignore[no-untyped-def]
            real_exec(module)
            sys.meta_path[:] = [f for f in sys.meta_path if f is not self]
            cuda = module.cuda
            if not cuda.is_available():
                cuda.current_device = lambda: 0

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "torch" not in sys.modules:
    sys.meta_path.insert(0, _PatchTorchAfterImport())
