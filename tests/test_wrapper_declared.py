"""wrapper-failure-unknown is built by the log matcher (it carries the traceback as
evidence), and declared in rules/checks/ so `wantui rules explain` covers it: the
declaration's templates must say what the matcher says."""

from __future__ import annotations

import pytest

from wantui.core.check_ids import check_spec
from wantui.core.logtext import normalize_text
from wantui.core.matcher import WRAPPER_ID, diagnose_lines
from wantui.core.rules import load_rules
from wantui.core.rules.template import render


def _declared(values: dict[str, str]) -> tuple[str, str, list[str]]:
    spec = check_spec(WRAPPER_ID)
    assert spec is not None and spec.area == "run" and spec.catalog == WRAPPER_ID
    title, missing = render(spec.title, values)
    message, missing2 = render(spec.message, values)
    assert not missing | missing2
    return title, message, [render(a.text, values)[0] for a in spec.advice]


@pytest.mark.parametrize(
    ("text", "status", "values"),
    [
        ("INFO:x:hello\n", 3, {"with_status": " with exit status 3"}),
        (
            "Traceback (most recent call last):\n"
            '  File "/m/wan_train_network.py", line 10, in <module>\n'
            "ZeroDivisionError: division by zero\n",
            1,
            {
                "with_status": " with exit status 1",
                "last_exception": " The last exception was: ZeroDivisionError: division by zero",
            },
        ),
        (
            "INFO:x:hello\n",
            -9,
            {
                "ended": "The step was killed by SIGKILL",
                "how": "was killed by signal 9 (SIGKILL): something outside it ended it (the"
                " kernel's OOM killer, a `kill`, the machine's job scheduler); check `dmesg` or"
                " `journalctl -k` for 'Out of memory'",
            },
        ),
    ],
)
def test_the_matcher_says_what_the_declaration_says(
    text: str, status: int, values: dict[str, str]
) -> None:
    rules = load_rules(include_user=False)
    found = diagnose_lines(normalize_text(text.encode()), rules, exit_status=status)
    [f] = [f for f in found if f.rule == WRAPPER_ID]
    spec = check_spec(WRAPPER_ID)
    assert spec is not None
    assert (f.title, f.message, f.advice) == _declared(values)
    assert f.severity is spec.severity and f.priority == spec.priority
    assert f.references == list(spec.references) and f.steps == spec.steps
