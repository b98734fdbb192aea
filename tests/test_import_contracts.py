"""The layers, checked by import-linter (``[tool.importlinter]`` in pyproject.toml): the
core imports no front end, no Textual and no torch; the CLI opens the app only from its
app entries. Beside tests/test_headless.py, which checks the same at run time in a
fresh interpreter; this one follows every import statement, also the lazy ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tomlkit

ROOT = Path(__file__).resolve().parent.parent


def _lint(cwd: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    # --config, not the positional form: import-linter 2.15 (the last for Python 3.10)
    # knows only the option; newer releases still take it
    cmd = [str(exe)] + (["--config", str(config)] if config else [])
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def test_the_layer_contracts_hold() -> None:
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_the_core_contract_catches_a_core_module_importing_the_cli(tmp_path: Path) -> None:
    """The same contracts on a copy of the layout where the core imports the CLI: broken."""
    pkg = tmp_path / "wantui"
    for sub in ("core", "cli", "tui", "core/probe"):
        (pkg / sub).mkdir(parents=True, exist_ok=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "probe" / "probe_script.py").write_text("import bitsandbytes, torch\n")
    (pkg / "tui" / "app.py").write_text("")
    for entry in ("tui_cmd", "replay", "demo"):
        (pkg / "cli" / f"{entry}.py").write_text("import wantui.tui.app\n")
    (pkg / "core" / "bad.py").write_text("def f():\n    from wantui.cli import tui_cmd\n")
    data = tomlkit.parse((ROOT / "pyproject.toml").read_text(encoding="utf-8")).unwrap()
    lint = data["tool"]["importlinter"]
    lines = [f'root_package = "{lint["root_package"]}"', "include_external_packages = true", ""]
    for c in lint["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        for key, value in c.items():
            lines.append(f"{key} = {value!r}".replace("'", '"'))
        lines.append("")
    config = tmp_path / "contracts.toml"
    config.write_text("[tool.importlinter]\n" + "\n".join(lines).replace("[[tool", "\n[[tool"))
    proc = _lint(tmp_path, config)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "wantui.core.bad -> wantui.cli" in proc.stdout, proc.stdout[-3000:]
