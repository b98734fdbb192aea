"""Option values checked the way musubi-tuner uses them (the semantic map, semantics.json).

argparse takes ``--gradient_accumulation_steps 0`` and ``--network_args loraplus_lr_ratio``
without complaint; musubi-tuner divides by the first after the DiT has loaded and unpacks
``key, value = arg.split("=")`` on the second. The options checked here are the numeric
ones the map says musubi divides by, takes a modulus of, or uses as a loop bound or range,
and the ones it splits into ``key=value`` pairs; each finding names the source line.
"""

from __future__ import annotations

from wantui.core.args.semantics import semantic_map
from wantui.core.args.state import ArgState, StepFindings
from wantui.core.fixactions import FixAction

BOUND_USES = ("divides", "modulus", "range", "loop")
EFFECT = {
    "divides": "divides by it: 0 raises ZeroDivisionError",
    "modulus": "takes a modulus by it: 0 raises ZeroDivisionError",
    "range": "loops range(it): 0 or less runs no step, and the run exits 0 having done nothing",
    "loop": "uses it as a loop bound: 0 or less runs nothing, and the run exits 0 having done nothing",
}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def check_values(state: ArgState, out: StepFindings) -> None:
    """Zero/negative bounds and malformed ``key=value`` items of one step's options."""
    options = semantic_map()["options"]
    for name, vals in state.values.items():
        entry = options.get(name)
        spec = state.opts.get(name)
        if entry is None or spec is None or not vals:
            continue
        uses = entry["uses"]
        if spec.type in ("int", "float", "_int_or_float") and spec.nargs is None:
            bound = next((u for u in uses if u["use"] in BOUND_USES), None)
            value = _number(vals[0])
            if bound is not None and value is not None and value <= 0:
                _not_positive(state, out, name, vals[0], bound)
        if any(u["use"] == "key_value" for u in uses):
            _key_values(state, out, name, vals, [u for u in uses if u["use"] == "key_value"])


def _not_positive(
    state: ArgState, out: StepFindings, name: str, value: str, use: dict[str, str]
) -> None:
    out.emit(
        "option-not-positive",
        captures={"flag": name, "value": value},
        text={"effect": EFFECT[use["use"]], "at": use["at"]},
        fixes=[
            FixAction(
                "flag_remove",
                {"step": state.step, "flag": state.flag(name)},
                label=f"Remove {state.flag(name)} (musubi's default)",
            )
        ],
    )


def _key_values(
    state: ArgState, out: StepFindings, name: str, vals: list[str], uses: list[dict[str, str]]
) -> None:
    bad = [v for v in vals if v.count("=") != 1 or not v.split("=", 1)[0].strip()]
    if not bad:
        return
    item = bad[0]
    why = (
        "has no `=`"
        if "=" not in item
        else "has more than one `=`"
        if item.count("=") > 1
        else "has no key"
    )
    out.emit(
        "key-value-arg-malformed",
        captures={"flag": name, "value": item},
        text={"at": uses[0]["at"], "why": why},
    )
