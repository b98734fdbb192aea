"""Every double-quoted string of the dataset TOML that holds a Windows path TOML reads as
escapes (``"C:\\temp"``) rewritten with forward slashes, as text: it also repairs a file
that does not parse (``"D:\\data"``), which tomlkit cannot edit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wantui.core.fixes.actions._toml import FILE, TomlAction


class FixWindowsPaths(TomlAction):
    name = "toml_fix_windows_paths"
    params = (FILE,)

    def describe(self, params: Mapping[str, Any]) -> str:
        return "Write the Windows paths of the dataset config with forward slashes"

    def targets(self, params: Mapping[str, Any]) -> frozenset[tuple[str, ...]]:
        return frozenset({("toml-paths", str(params["file"]))})

    def edit(self, text: str, params: Mapping[str, Any]) -> str:
        from wantui.core.fixes.toml_edit import fix_windows_paths

        return fix_windows_paths(text)

    def edit_checked(self, text: str, params: Mapping[str, Any]) -> str:
        # fix_windows_paths checks the result itself: a file that did not parse before
        # may still not (one cause fewer is still better)
        return self.edit(text, params)


UNIT = FixWindowsPaths()
