"""The log matcher: normalised Lines in, ranked Findings out. Pure and streaming.

Feed it line by line (live, from the supervisor) or a whole file (``wantui diagnose``);
both give the same findings. Per line the cost is one check for every rule's required
literals (see :mod:`wantui.core.rules.regexcheck`), found by RE2 (:mod:`wantui.core.literalscan`);
on a line that passes, one ``re2.Set`` pass says which rule patterns' literals it holds and
only those patterns run on Python's ``re`` (which gives the capture groups).
:meth:`Matcher.prefilter` / :meth:`Matcher.prefilter_bytes` are the same filter on raw
bytes, which lets the normaliser skip the bulk of INFO and tqdm lines in linear time.

Beyond the rules, the matcher follows the run itself: Python tracebacks, argparse
``error:`` lines and accelerate's closing ``subprocess.CalledProcessError`` (which is
never a finding, but carries the exit status). When the run failed and no rule made an
error finding, :meth:`Matcher.finish` reports ``wrapper-failure-unknown`` honestly.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from wantui.core import architecture as archs
from wantui.core import traceback_anatomy
from wantui.core.finding import Evidence, Finding, Severity, sort_findings
from wantui.core.fixactions import FixAction
from wantui.core.literalscan import LiteralScan, LiteralSet, trie_pattern
from wantui.core.logtext import Line
from wantui.core.rules.model import Pattern, Rule, RuleSet
from wantui.core.rules.regexcheck import MATCH_CHARS
from wantui.core.rules.template import render

WRAPPER_ID = "wrapper-failure-unknown"

# searched, not matched: GUIs and trainer nodes re-print the child's output behind their own
# prefix ("[MusubiTuner WanLoRATrainer] TRAINER: Traceback ..."); the prefix is remembered and
# stripped from the traceback's following lines.
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):")
_MAX_PREFIX = 160
_TB_FILE = re.compile(r'^\s+File "')
_EXCEPTION = re.compile(
    r"^(?P<type>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Interrupt|Exit|Failure|Invalid))(?::\s*(?P<msg>.*))?$"
)
# accelerate's wrapper: "returned non-zero exit status 1", or "died with <Signals.SIGKILL: 9>"
# when the child was killed by a signal (then the status is recorded as -9, like Popen's).
_CALLED_PROCESS = re.compile(
    # the command never spans another "CalledProcessError: " (linear on a line of repeats)
    r"CalledProcessError: Command (?:(?!CalledProcessError: ).)* "
    r"(?:returned non-zero exit status (?P<status>-?\d+)"
    r"|died with <Signals\.\w+: (?P<signal>\d+)>)"
)
# The same news from wrappers that flatten or reword it: the tail of an argv list
# ("...'--clip', '']' returned non-zero exit status 1.") or a GUI's own line
# ("Training subprocess failed with return code 1").
_WRAPPER_EXIT = re.compile(
    r"(?:\]' returned non-zero exit status|[Tt]raining (?:sub)?process failed with (?:return|exit) code)"
    r" (?P<status>-?\d+)"
)
_ARGPARSE = re.compile(r"^(?:usage: .*|[\w.-]+: error: (?P<msg>.+))$")
# The lines the run's architecture is read from (wantui/core/architecture.py): traceback
# frames, script names and other families' module names. Not Wan's module names: they are
# on most lines of a healthy Wan log, which the prefilter must keep out, and a line the
# prefilter may drop must not decide anything, or the answer would depend on the filter.
_ARCH_LITERALS = (
    'File "',
    *sorted({m for a in archs.ARCHITECTURES if a.id != archs.WAN.id for m in a.modules}),
    "_train_network.py",
    "_cache_latents.py",
    "_cache_text_encoder_outputs.py",
    "cache_latents.py",
)
# Literals that let the internal patterns above through the prefilter.
_INTERNAL_LITERALS = (
    "Traceback (most",
    'File "',
    "Error",
    "Exception",
    "Interrupt",
    "Exit",
    "Failure",
    "Invalid",
    ": error: ",
    "non-zero exit status",
    "process failed with",
    # exception chains, for the traceback anatomy
    "During handling of the above exception",
    "direct cause of the following exception",
    "[Dataset ",  # musubi's config dump: which dataset the next lines describe
    *_ARCH_LITERALS,
)
_DATASET_HEADER = re.compile(r"\[Dataset (?P<index>\d+)\]")
_CHAIN_TEXT = {
    "during-handling": "During handling of the above exception, another exception occurred:",
    "direct-cause": "The above exception was the direct cause of the following exception:",
}
_CHAIN = (
    ("During handling of the above exception", "during-handling"),
    ("direct cause of the following exception", "direct-cause"),
)
MAX_FINDINGS_PER_RULE = 50
_TB_KEEP = 40  # File lines kept per traceback (the last ones: closest to the raise)


@dataclass
class _Traceback:
    lines: list[Line] = field(default_factory=list)
    exception: Line | None = None
    source: str | None = None
    prefix: str = ""  # a GUI's prefix in front of every line of this traceback
    link: str = ""  # how it follows the traceback before it (an exception chain)

    def texts(self) -> list[str]:
        """Its lines as the traceback anatomy reads them (the GUI prefix removed)."""

        def body(ln: Line) -> str:
            t = ln.text
            return t[len(self.prefix) :] if self.prefix and t.startswith(self.prefix) else t

        out = [_CHAIN_TEXT[self.link]] if self.link else []
        out.append("Traceback (most recent call last):")
        out.extend(body(ln) for ln in self.lines[1:])
        if self.exception is not None:
            out.append(body(self.exception))
        return out

    @property
    def is_wrapper(self) -> bool:
        return self.exception is not None and "CalledProcessError" in self.exception.text


@dataclass
class _Hit:
    line: Line
    captures: dict[str, str]
    source: str | None


@dataclass
class _Pending:
    rule: Rule
    trigger: _Hit
    deadline: int  # last line number inside the window


class Matcher:
    """Streaming matcher over a rule set. ``context`` supplies template values such as
    ``dataset_config``, ``step``, ``script``, ``source`` and ``exit_status``."""

    def __init__(self, rules: RuleSet | list[Rule], context: dict[str, str] | None = None) -> None:
        all_rules = list(rules.rules if isinstance(rules, RuleSet) else rules)
        self.context: dict[str, str] = dict(context or {})
        # A rule file for wrapper-failure-unknown only supplies the texts of the
        # synthesised finding; it never matches lines itself.
        self.wrapper_rule = next((r for r in all_rules if r.id == WRAPPER_ID), None)
        step = self.context.get("step")
        self.rules = [
            r
            for r in all_rules
            if r.id != WRAPPER_ID and (not step or "any" in r.steps or step in r.steps)
        ]
        self._by_id = {r.id: r for r in self.rules}
        self._checks: list[tuple[Pattern, Rule, str, tuple[str, ...] | None, bool]] = []
        # the step of the current input (set_source): one matcher can diagnose a whole
        # run, each step's log under the rules of that step
        self._step: str | None = None
        self._step_checks: dict[str, set[int]] = {}
        literals: list[tuple[str, bool]] = [(lit, False) for lit in _INTERNAL_LITERALS]
        self._unfiltered = False
        for r in self.rules:
            for kind, pats in (
                ("any", r.any),
                ("all", r.all),
                ("followed_by", r.followed_by),
                ("not", r.none),
            ):
                for p in pats:
                    lits = p.literals
                    if lits is None:
                        self._unfiltered = True
                    else:
                        literals.extend((lit, p.ignore_case) for lit in lits)
                    if lits and p.ignore_case:
                        lits = tuple(lit.lower() for lit in lits)
                    self._checks.append((p, r, kind, lits, p.ignore_case))
        # the checks with literals, in order: one Set pass tells which a line can match
        self._filtered = [i for i, c in enumerate(self._checks) if c[3] is not None]
        self._always = [i for i, c in enumerate(self._checks) if c[3] is None]
        self._litset = _literal_set(
            tuple(
                (tuple(p.literals or ()), p.ignore_case)
                for p, *_ in (self._checks[i] for i in self._filtered)
            )
        )
        # the text-level literals (for non-ASCII text) and the bytes regex for callers
        # that pass ``keep``: compiled when first needed (Python's re compiles slowly)
        self._literals = None if self._unfiltered else tuple(literals)
        self._prefilter: re.Pattern[str] | None | bool = False
        self._literal_bytes = None if self._unfiltered else _literal_bytes(literals)
        self._prefilter_bytes: re.Pattern[bytes] | None | bool = False
        self._block_prefilter: LiteralScan | None = None
        if self._literal_bytes is not None:
            plain, folded = self._literal_bytes
            # no "\x1b" literal here: the block scanner looks at escaped lines cleaned
            self._block_prefilter = _block_prefilter(
                tuple(x for x in plain if x != b"\x1b"), tuple(folded)
            )
        # state
        self._findings: dict[tuple, Finding] = {}
        self._order: list[Finding] = []
        self._recent: dict[tuple[str, str], deque[_Hit]] = {}
        self._pending: list[_Pending] = []
        self._source: str | None = self.context.get("source")
        self._tb: dict[int | None, _Traceback] = {}  # open traceback per rank
        self._tracebacks: deque[_Traceback] = deque(maxlen=8)
        self._argparse: list[_Hit] = []
        self.exit_status: int | None = None
        self.wrapper_seen = False
        self._finished = False
        self.stopped = False  # finish(stopped=True): the user ended the step on purpose
        self._rank_counts: dict[tuple, int] = {}
        self._per_rule: dict[str, int] = {}
        self._link: dict[int | None, str] = {}  # a chain marker waiting for its traceback
        self._loose_exc: Line | None = None  # an exception line outside any traceback
        self._dataset: dict[str | None, str] = {}  # source -> the last "[Dataset N]" seen
        # (rule id, source, value) -> dataset index it was first printed under
        self._dataset_values: dict[tuple[str, str | None, str], str] = {}
        # the run's architecture: the script's, else the first the log betrays in a
        # line of _ARCH_LITERALS
        self.arch: str | None = archs.script_architecture(self.context.get("script"))
        self._arch_fixed = self.arch is not None
        # (exists, listdir) for the anatomy's file checks; None keeps the matcher pure
        self.path_probe: tuple | None = None

    # -- public -----------------------------------------------------------------
    def prefilter_bytes(self) -> re.Pattern[bytes] | None:
        """A bytes regex every relevant raw line matches (None: every line is relevant).
        Pass it as ``Normalizer(keep=...)`` to skip irrelevant lines before decoding."""
        if self._prefilter_bytes is False:
            self._prefilter_bytes = _combined_bytes(self._literal_bytes)
        return self._prefilter_bytes  # type: ignore[return-value]

    def prefilter(self) -> LiteralScan | None:
        """The block scanner for the same lines as :meth:`prefilter_bytes` (None: every
        line is relevant): ``Normalizer(prefilter=...)`` decodes only those lines, finding
        them in whole blocks in linear time."""
        return self._block_prefilter

    def prefilter_literals(self) -> tuple[list[bytes], list[bytes]] | None:
        """The byte literals behind :meth:`prefilter_bytes`: (plain, case-insensitive
        lower-case)."""
        return self._literal_bytes

    def set_source(self, source: str | None, step: str | None = None) -> list[Finding]:
        """Start a new input (another log file): windows never span two files. ``step``:
        the pipeline step that wrote it (only that step's rules apply; None: all rules).
        Returns the findings that the end of the previous input completed."""
        new = self._expire(None)
        self._source = source
        self._step = step
        self._close_tb(None, all_ranks=True)
        return new

    def _active_checks(self) -> set[int]:
        """The numbers of the checks of the current step's rules."""
        step = self._step or ""
        checks = self._step_checks.get(step)
        if checks is None:
            checks = self._step_checks[step] = {
                i for i, c in enumerate(self._checks) if "any" in c[1].steps or step in c[1].steps
            }
        return checks

    def _text_prefilter(self) -> re.Pattern[str]:
        if self._prefilter is False:
            self._prefilter = _combined(self._literals or ())
        return self._prefilter  # type: ignore[return-value]

    def feed(self, line: Line) -> list[Finding]:
        """Consume one line; return the findings it completed (usually none)."""
        text = line.text
        if self._literals is not None and not (
            # ASCII text (the norm) goes through the block scanner's literal check;
            # other text takes the regex (Unicode case folding)
            self._block_prefilter.matches(text.encode())
            if self._block_prefilter is not None and text.isascii()
            else self._text_prefilter().search(text) is not None
        ):
            if self._pending and line.number > self._pending[0].deadline:
                return self._expire(line.number)
            return []
        new: list[Finding] = []
        if self._pending:
            new.extend(self._expire(line.number))
        is_wrapper_line = self._track_run(line)
        head = text if len(text) <= MATCH_CHARS else text[:MATCH_CHARS]
        touched: set[str] = set()
        filtered = self._filtered
        todo = [filtered[k] for k in self._litset.hits(head)]
        if self._always:
            todo = sorted(todo + self._always)
        if self._step is not None:
            allowed = self._active_checks()
            todo = [i for i in todo if i in allowed]
        checks = self._checks
        for i in todo:
            pattern, rule, kind, _lits, _icase = checks[i]
            m = pattern.regex.search(head)
            if m is None:
                continue
            caps = {k: v for k, v in m.groupdict().items() if v is not None}
            hit = _Hit(line, caps, self._source)
            if kind == "any":
                if is_wrapper_line:
                    continue  # accelerate's wrapper is never a diagnosis
                if rule.repeated_in_datasets is not None:
                    value = caps.get(rule.repeated_in_datasets)
                    index = self._dataset.get(self._source)
                    if value is None or index is None:
                        continue
                    first = self._dataset_values.setdefault((rule.id, self._source, value), index)
                    if first == index:
                        continue  # first seen here, or the same dataset printed again
                    caps.setdefault("first_dataset", first)
                    caps.setdefault("dataset", index)
                if rule.raised_in:
                    where = self._raised_where(line)
                    if where[0] not in rule.raised_in:
                        continue
                    caps.setdefault("raised_in", where[0])
                    if where[1]:
                        caps.setdefault("raised_at", where[1])
                if rule.simple:
                    f = self._emit(rule, hit, [])
                    if f is not None:
                        new.append(f)
                else:
                    self._pending.append(_Pending(rule, hit, line.number + rule.window))
                    touched.add(rule.id)
            else:
                dq = self._recent.setdefault((rule.id, kind), deque(maxlen=64))
                dq.append(hit)
                touched.add(rule.id)
        if touched and self._pending:
            new.extend(self._resolve(touched, line.number, final=False))
        return new

    def finish(self, exit_status: int | None = None, *, stopped: bool = False) -> list[Finding]:
        """End of input: resolve pending rules, then report an unexplained failure.

        ``stopped``: the user stopped the step (SIGINT, then SIGTERM, then SIGKILL). Its exit
        status and its KeyboardInterrupt traceback are the stop itself, no failure to
        explain: no exit status is recorded and no wrapper finding is made."""
        if stopped:
            self.stopped = True
        elif exit_status is not None:
            self.exit_status = exit_status
        elif self.exit_status is None and self.context.get("exit_status", "").lstrip("-").isdigit():
            self.exit_status = int(self.context["exit_status"])
        if self._finished:  # a second call adds nothing (and no second wrapper finding)
            return []
        self._finished = True
        new = self._expire(None)
        self._close_tb(None, all_ranks=True)
        wrapper = None if self.stopped else self._wrapper_finding()
        if wrapper is not None:
            new.append(wrapper)
        self.link_causes()
        return new

    def findings(self) -> list[Finding]:
        """Every finding so far, root causes first."""
        self.link_causes()
        return sort_findings(list(self._order))

    @property
    def failed(self) -> bool:
        """Whether the input shows a failed run (traceback, argparse error, exit status)."""
        return bool(
            self.wrapper_seen
            or self._argparse
            or any(t.exception is not None for t in self._tracebacks)
            or bool(self._tb)
            or (self.exit_status not in (None, 0))
        )

    # -- rules ------------------------------------------------------------------
    def _resolve(self, rule_ids: set[str] | None, now: int | None, *, final: bool) -> list[Finding]:
        out: list[Finding] = []
        keep: list[_Pending] = []
        for p in self._pending:
            if rule_ids is not None and p.rule.id not in rule_ids and not final:
                keep.append(p)
                continue
            verdict, extra = self._evaluate(p, now, final=final)
            if verdict is True:
                f = self._emit(p.rule, p.trigger, extra)
                if f is not None:
                    out.append(f)
            elif verdict is None:
                keep.append(p)
        self._pending = keep
        return out

    def _expire(self, now: int | None) -> list[Finding]:
        """Settle pending rules whose window has passed (all of them when now is None)."""
        if not self._pending:
            return []
        if now is None:
            return self._resolve(None, None, final=True)
        due = {p.rule.id for p in self._pending if now > p.deadline}
        if not due:
            return []
        out: list[Finding] = []
        keep: list[_Pending] = []
        for p in self._pending:
            if now > p.deadline:
                verdict, extra = self._evaluate(p, now, final=True)
                if verdict is True:
                    f = self._emit(p.rule, p.trigger, extra)
                    if f is not None:
                        out.append(f)
            else:
                keep.append(p)
        self._pending = keep
        return out

    def _in_window(self, rule: Rule, kind: str, t: _Hit, after_only: bool = False) -> list[_Hit]:
        dq = self._recent.get((rule.id, kind))
        if not dq:
            return []
        lo = t.line.number + 1 if after_only else t.line.number - rule.window
        hi = t.line.number + rule.window
        return [h for h in dq if h.source == t.source and lo <= h.line.number <= hi]

    def _evaluate(
        self, p: _Pending, now: int | None, *, final: bool
    ) -> tuple[bool | None, list[_Hit]]:
        """True: fire; False: drop; None: undecided yet. Also returns the evidence hits."""
        rule, t = p.rule, p.trigger
        extra: list[_Hit] = []
        positive_ok = True
        for pat in rule.all:
            hits = [
                h
                for h in self._in_window(rule, "all", t)
                if pat.regex.search(h.line.text[:MATCH_CHARS])
            ]
            if hits:
                extra.append(hits[0])
            else:
                positive_ok = False
        if rule.followed_by:
            hits = self._in_window(rule, "followed_by", t, after_only=True)
            if hits:
                extra.append(hits[0])
            else:
                positive_ok = False
        if rule.none and self._in_window(rule, "not", t):
            return False, []
        window_over = final or (now is not None and now > p.deadline)
        if positive_ok and (not rule.none or window_over):
            return True, extra
        return (False if window_over else None), []

    def _raised_where(self, line: Line) -> tuple[str, str]:
        """Owner of the code that raised the exception on ``line`` and, when it is
        musubi-tuner's, its deepest own frame (``path:line in function``)."""
        tb = next(
            (
                t
                for t in reversed(self._tracebacks)
                if t.exception is line
                or (
                    t.exception is not None
                    and t.exception.number == line.number
                    and t.source == self._source
                )
            ),
            None,
        )
        if tb is None:
            return "unknown", ""
        anat = traceback_anatomy.parse(tb.texts())
        if anat is None or anat.innermost is None:
            return "unknown", ""
        own = anat.deepest_own
        owner = anat.owner
        if own is not None and owner in ("python",):
            owner = "musubi-tuner"  # musubi's code failing inside the standard library
        return owner, str(own) if own is not None else str(anat.innermost)

    def anatomy(self) -> traceback_anatomy.Anatomy | None:
        """The anatomy of the run's last real exception (accelerate's wrapper aside)."""
        real = [t for t in self._tracebacks if not t.is_wrapper]
        texts: list[str] = []
        for t in real[-3:]:
            texts.extend(t.texts())
        if not texts and self._loose_exc is not None:
            texts = [self._loose_exc.text]
        if not texts:
            return None
        exists, listdir = self.path_probe if self.path_probe else (None, None)
        return traceback_anatomy.parse(texts, exists=exists, listdir=listdir)

    def _values(self, rule: Rule, captures: dict[str, str]) -> dict[str, str]:
        values: dict[str, str] = dict(self.context)
        if self._step is not None:
            values.setdefault("step", self._step)
        values.setdefault("arch_name", archs.name_of(self.arch))
        values.setdefault("cache_arch", archs.cache_suffix(self.arch))
        if self._source is not None:
            values.setdefault("source", self._source)
        if self.exit_status is not None:
            values["exit_status"] = str(self.exit_status)
        values.update(captures)
        for name, tmpl in rule.derive.items():
            values[name] = render(tmpl, values)[0]
        return values

    def _emit(self, rule: Rule, trigger: _Hit, extra: list[_Hit]) -> Finding | None:
        caps = dict(trigger.captures)
        for h in extra:
            for k, v in h.captures.items():
                caps.setdefault(k, v)  # the trigger's value wins
        key: tuple
        rank = trigger.line.rank
        if rule.once:
            key = (rule.id, tuple(sorted(caps.items())))
        elif rank is not None:
            # the same line printed by several ranks is one finding; a repeat by the same
            # rank is a new occurrence
            base = (rule.id, tuple(sorted(caps.items())), trigger.line.text, rank)
            n = self._rank_counts.get(base, 0)
            self._rank_counts[base] = n + 1
            key = (rule.id, tuple(sorted(caps.items())), trigger.line.text, n)
        else:
            key = (rule.id, trigger.source, trigger.line.number)
        existing = self._findings.get(key)
        if existing is not None:
            _merge_rank(existing, trigger)
            return None
        if rule.architectures and self.arch is not None and self.arch not in rule.architectures:
            return None  # advice for another architecture than this run's
        count = self._per_rule.get(rule.id, 0)
        if count >= MAX_FINDINGS_PER_RULE:
            return None  # a `once: false` rule on a line repeated every step: memory stays bounded
        self._per_rule[rule.id] = count + 1
        values = self._values(rule, caps)
        evidence = sorted(
            {(h.source or "", h.line.number, h.line.text): h for h in [trigger, *extra]}.values(),
            key=lambda h: (h.source or "", h.line.number),
        )
        f = Finding(
            rule=rule.id,
            catalog=rule.catalog,
            severity=rule.severity,
            title=render(rule.title, values)[0],
            message=render(rule.message, values)[0].strip(),
            evidence=[
                Evidence(
                    h.line.number,
                    h.line.text,
                    h.source,
                    (h.line.rank,) if h.line.rank is not None else (),
                )
                for h in evidence
            ],
            captures=caps,
            fixes=_fixes(rule, values),
            advice=[render(a, values)[0] for a in rule.advice],
            steps=rule.steps,
            priority=rule.priority,
            origin="log",
            references=list(rule.references),
        )
        self._findings[key] = f
        self._order.append(f)
        self._link_one(f)
        return f

    def _link_one(self, f: Finding, present: set[str] | None = None) -> None:
        rule = self._by_id.get(f.rule)
        if rule is None or f.consequence_of is not None or not rule.caused_by:
            return
        if present is None:
            present = {x.rule for x in self._order}
        for cid in rule.caused_by:
            if cid in present and cid != f.rule:
                f.consequence_of = cid
                return

    def link_causes(self) -> None:
        """Link every finding whose cause was found after it."""
        present = {x.rule for x in self._order}
        for f in self._order:
            self._link_one(f, present)

    # -- the run itself -----------------------------------------------------------
    def _track_run(self, line: Line) -> bool:
        """Follow tracebacks, argparse errors and accelerate's wrapper. Returns whether
        the line is the wrapper's CalledProcessError."""
        text = line.text
        m = _CALLED_PROCESS.search(text)
        if m is not None:
            self.wrapper_seen = True
            status = m.group("status")
            self.exit_status = int(status) if status is not None else -int(m.group("signal"))
            if status is None or status.startswith("-"):
                # "died with <Signals.SIGKILL: 9>" (or a negative status: a signal, as
                # Popen reports it) carries the cause (a signal, e.g. the
                # OOM killer) and no traceback above it: let rules see this line.
                m = None
        elif self.exit_status in (None, 0):
            wm = _WRAPPER_EXIT.search(text)
            if wm is not None:
                self.wrapper_seen = True
                self.exit_status = int(wm.group("status"))
        rank = line.rank
        if not self._arch_fixed and any(lit in text for lit in _ARCH_LITERALS):
            found = archs.line_architecture(text)
            if found is not None:
                self.arch, self._arch_fixed = found, True
        dm = _DATASET_HEADER.search(text)
        if dm is not None:
            self._dataset[self._source] = dm.group("index")
        for marker, kind in _CHAIN:
            if marker in text:
                self._close_tb(rank)
                self._link[rank] = kind
                return m is not None
        tm = _TRACEBACK.search(text)
        if tm is not None and tm.start() <= _MAX_PREFIX:
            self._close_tb(rank)
            self._tb[rank] = _Traceback(
                [line],
                source=self._source,
                prefix=text[: tm.start()],
                link=self._link.pop(rank, ""),
            )
            return m is not None
        tb = self._tb.get(rank)
        if tb is not None:
            body = text[len(tb.prefix) :] if tb.prefix and text.startswith(tb.prefix) else text
            if _TB_FILE.match(body):
                tb.lines.append(line)
                if len(tb.lines) > _TB_KEEP + 1:
                    del tb.lines[1]
            elif _EXCEPTION.match(body):
                tb.exception = line
                self._close_tb(rank)
        elif m is None and _EXCEPTION.match(text.strip()):
            self._loose_exc = line
        pm = _ARGPARSE.match(text)
        if pm is not None and pm.group("msg"):
            self._argparse.append(_Hit(line, {}, self._source))
            del self._argparse[:-4]
        return m is not None

    def _close_tb(self, rank: int | None, *, all_ranks: bool = False) -> None:
        for key in list(self._tb) if all_ranks else [rank]:
            tb = self._tb.pop(key, None)
            if tb is not None:
                self._tracebacks.append(tb)

    def _wrapper_finding(self) -> Finding | None:
        if not self.failed:
            return None
        if any(f.severity is Severity.ERROR for f in self._order):
            return None
        real = [t for t in self._tracebacks if not t.is_wrapper]
        tb = real[-1] if real else None
        evidence_lines: list[Line] = []
        last_exc = ""
        if tb is not None:
            evidence_lines = list(tb.lines)
            if tb.exception is not None:
                evidence_lines.append(tb.exception)
                last_exc = tb.exception.text
        elif self._argparse:
            evidence_lines = [self._argparse[-1].line]
            last_exc = self._argparse[-1].line.text
        elif self._tracebacks and self._tracebacks[-1].exception is not None:
            last_exc = self._tracebacks[-1].exception.text
            evidence_lines = [self._tracebacks[-1].exception]
        source = tb.source if tb is not None else self._source
        status = str(self.exit_status) if self.exit_status is not None else ""
        values = dict(self.context)
        values.update({"exit_status": status, "exception": last_exc, "source": source or ""})
        rule = self.wrapper_rule
        if rule is not None:
            title = render(rule.title, values)[0]
            message = render(rule.message, values)[0].strip()
            advice = [render(a, values)[0] for a in rule.advice]
            priority, refs = rule.priority, list(rule.references)
        else:
            title = "The run failed, and no rule recognises why"
            parts = ["The pipeline step failed"]
            if self.exit_status is not None and self.exit_status < 0:
                # killed, not failed by itself: the OOM killer, a kill, a scheduler
                name = _signal_name(-self.exit_status)
                title = f"The step was killed by {name}, and no rule recognises why"
                parts = [
                    f"The pipeline step was killed by signal {-self.exit_status} ({name}):"
                    " something outside it ended it (the kernel's OOM killer, a `kill`, the"
                    " machine's job scheduler); check `dmesg` or `journalctl -k` for"
                    " 'Out of memory'"
                ]
            elif status:
                parts.append(f" with exit status {status}")
            parts.append(".")
            if last_exc:
                parts.append(f" The last exception was: {last_exc}")
            parts.append(
                " No rule of wantui's rule base matches this failure, so read the traceback"
                " above accelerate's wrapper (shown as evidence): its last line names the error."
            )
            message = "".join(parts)
            advice = [
                "Read the evidence from the bottom up: the last line is the error, the File lines show where it came from.",
                "accelerate's closing `CalledProcessError` only reports the exit status; it is never the cause.",
                "If this is a common failure, write a rule for it (see `wantui rules explain` and rules/FORMAT.md).",
            ]
            priority, refs = 10, ["docs/reference/wan-facts.md §5.1"]
        anat = self.anatomy()
        captures = {"exit_status": status} if status else {}
        if last_exc:
            captures["exception"] = last_exc
        f = Finding(
            rule=WRAPPER_ID,
            catalog=WRAPPER_ID,
            severity=Severity.ERROR,
            title=title,
            message=message,
            evidence=[
                Evidence(ln.number, ln.text, source, (ln.rank,) if ln.rank is not None else ())
                for ln in evidence_lines
            ],
            captures=captures,
            advice=advice,
            steps=("any",),
            priority=priority,
            references=refs,
            anatomy=anat.to_json() if anat is not None else None,
        )
        self._order.append(f)
        return f


def _signal_name(num: int) -> str:
    import signal

    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _merge_rank(f: Finding, hit: _Hit) -> None:
    """The same failure printed by another rank: keep one finding, note the rank."""
    rank = hit.line.rank
    if rank is None:
        return
    for i, e in enumerate(f.evidence):
        if e.text == hit.line.text:
            if rank not in e.ranks:
                f.evidence[i] = Evidence(e.line, e.text, e.source, tuple(sorted((*e.ranks, rank))))
            return


def _fixes(rule: Rule, values: dict[str, str]) -> list[FixAction]:
    out: list[FixAction] = []
    for fx in rule.fixes:
        params: dict[str, object] = {}
        missing: set[str] = set()
        for k, v in fx.params.items():
            if isinstance(v, str):
                text, miss = render(v, values)
                params[k] = text
                missing |= miss
            else:
                params[k] = v
        label = render(fx.label, values)[0] if fx.label else fx.action
        try:
            out.append(FixAction(fx.action, params, label, auto=not missing))
        except ValueError:
            continue  # a parameter filled from the log is outside the closed vocabulary
    return out


def _encodings(lit: str) -> set[bytes]:
    """A literal as the normaliser may have decoded it: UTF-8, cp932 or cp1252 bytes."""
    out: set[bytes] = set()
    for codec in ("utf-8", "cp932", "cp1252"):
        try:
            out.add(lit.encode(codec))
        except UnicodeEncodeError:
            continue
    return out


def _literal_bytes(literals: Iterable[tuple[str, bool]]) -> tuple[list[bytes], list[bytes]] | None:
    """(plain, case-folded) byte literals of the prefilter. Lines with ANSI escapes always
    pass, since an escape code can split a literal. None: no safe byte-level filter."""
    plain: set[bytes] = {b"\x1b"}
    folded: set[bytes] = set()
    for lit, ic in literals:
        if ic and not lit.isascii():
            return None  # byte-level case folding of non-ASCII text: don't guess
        (folded if ic else plain).update(_encodings(lit.lower() if ic else lit))
    return sorted(plain), sorted(folded)


def _combined(literals: Iterable[tuple[str, bool]]) -> re.Pattern[str]:
    """The text-level prefilter, for lines that are not ASCII (rare: a flat alternation)."""
    lits = list(literals)
    plain = "|".join(re.escape(x) for x in sorted({x for x, ic in lits if not ic}))
    folded = "|".join(re.escape(x.lower()) for x in sorted({x for x, ic in lits if ic}))
    pattern = "|".join(p for p in (plain, f"(?i:{folded})" if folded else "") if p)
    return re.compile(pattern or "(?!)")


def _combined_bytes(lits: tuple[list[bytes], list[bytes]] | None) -> re.Pattern[bytes] | None:
    """The byte prefilter as a Python regex (``Normalizer(keep=...)``)."""
    if lits is None:
        return None
    plain, folded = lits
    pattern = trie_pattern(plain) + (b"|(?i:" + trie_pattern(folded) + b")" if folded else b"")
    return re.compile(pattern)


@functools.lru_cache(maxsize=16)
def _block_prefilter(plain: tuple[bytes, ...], folded: tuple[bytes, ...]) -> LiteralScan:
    return LiteralScan(plain, folded)  # compiled once, shared by matchers


@functools.lru_cache(maxsize=16)
def _literal_set(groups: tuple[tuple[tuple[str, ...], bool], ...]) -> LiteralSet:
    return LiteralSet(list(groups))


def diagnose_lines(
    lines: Iterable[Line],
    rules: RuleSet | list[Rule],
    context: dict[str, str] | None = None,
    exit_status: int | None = None,
) -> list[Finding]:
    """Run a matcher over ``lines`` and return its ranked findings."""
    m = Matcher(rules, context)
    for line in lines:
        m.feed(line)
    m.finish(exit_status)
    return m.findings()
