"""While you are away: notifications on run events, the rented GPU's meter, and the
action that runs when the run ends (``on_finish`` / ``on_failure``).

The detached runner drives all three (:mod:`wantui.core.away.watch`), so they work when
no ``wantui run`` or TUI is following the run: the SSH session may be gone.
"""

from __future__ import annotations
