"""The headless core of wantui.

Nothing under ``wantui.core`` may import Textual, torch, accelerate or bitsandbytes
(tests/test_headless.py checks it in a fresh interpreter). The CLI and the TUI are two
front ends over this package; both speak in :class:`wantui.core.finding.Finding`.
"""
