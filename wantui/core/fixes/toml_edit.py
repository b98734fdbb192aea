"""Edits of the dataset TOML through tomlkit, keeping comments, order and quoting.

Each function takes the file's text and returns the new text, or raises
:class:`FixRefused` with a reason. A fix that removes or renames one key changes only
that key's line.
"""

from __future__ import annotations

import json
import re
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.container import Container
from tomlkit.items import AoT, Item, Table

_TABLE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)(?:\[(?P<index>\d+)\])?$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class FixRefused(Exception):
    """The fix cannot be applied as asked; the message says why (one line)."""


class FixMoot(FixRefused):
    """The fix would not help here (the file already does better): it is not offered."""


def parse_doc(text: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise FixRefused(
            f"the TOML does not parse (line {exc.line}, column {exc.col}); fix the syntax first"
        ) from None
    except Exception as exc:  # tomlkit raises a few non-ParseError types on odd input
        raise FixRefused(f"the TOML does not parse: {exc}") from None


def _container(doc: tomlkit.TOMLDocument, table: str, *, create: bool) -> Container | Table:
    """The table named ``""``, ``general`` or ``datasets[N]``."""
    if table == "":
        return doc
    m = _TABLE.match(table)
    if not m:
        raise FixRefused(f"bad table name {table!r} (use '', 'general' or 'datasets[N]')")
    name, index = m.group("name"), m.group("index")
    node = doc.get(name)
    if index is None:
        if node is None:
            if not create:
                raise FixRefused(f"there is no [{name}] table")
            node = tomlkit.table()
            doc[name] = node
            node = doc[name]
        if not isinstance(node, Table):
            raise FixRefused(f"[{name}] is not a table")
        return node
    if not isinstance(node, AoT):
        raise FixRefused(f"there is no [[{name}]] array of tables")
    i = int(index)
    if i >= len(node):
        raise FixRefused(f"there is no {table} (the file has {len(node)} [[{name}]] entries)")
    return node[i]


def _body(c: Container | Table) -> Container:
    return c if isinstance(c, Container) else c.value


def parse_value(value: Any) -> Item:
    """A TOML literal given as a string (``"[17]"``, ``"30.0"``, ``'"head"'``) or a
    plain value -> a tomlkit item. A string that is not a TOML literal is a plain string."""
    if isinstance(value, str):
        try:
            doc = tomlkit.parse(f"v = {value}\n")
            if list(doc.keys()) == ["v"]:
                return doc.item("v")
        except Exception:
            pass
        return tomlkit.item(value)
    if value is None:
        raise FixRefused("a TOML value cannot be null")
    try:
        return tomlkit.item(value)
    except Exception:
        raise FixRefused(f"cannot express {json.dumps(value, default=str)[:60]} in TOML") from None


def _check_key(key: Any, what: str = "key") -> str:
    if not isinstance(key, str) or not _BARE_KEY.match(key):
        raise FixRefused(f"bad {what} {key!r}: dataset keys are bare words")
    return key


def _where(table: str) -> str:
    return f"[{table}]" if table else "the top level"


def remove_key(text: str, table: str, key: str) -> str:
    doc = parse_doc(text)
    c = _container(doc, table, create=False)
    _check_key(key)
    if key not in c:
        raise FixRefused(f"there is no key '{key}' in {_where(table)}")
    if isinstance(c.get(key), (Table, AoT)):
        raise FixRefused(f"'{key}' is a table, not a key")
    del c[key]
    return tomlkit.dumps(doc)


def rename_key(text: str, table: str, key: str, new_key: str) -> str:
    doc = parse_doc(text)
    c = _container(doc, table, create=False)
    _check_key(key)
    _check_key(new_key, "new key")
    if key not in c:
        raise FixRefused(f"there is no key '{key}' in {_where(table)}")
    if new_key in c:
        raise FixRefused(f"'{new_key}' is already set in {_where(table)}; remove '{key}' instead")
    if isinstance(c.get(key), (Table, AoT)):
        raise FixRefused(f"'{key}' is a table, not a key")
    # _replace keeps the item (value, comment, position); only the key text changes
    _body(c)._replace(key, new_key, _body(c).item(key))
    return tomlkit.dumps(doc)


def move_key(text: str, table: str, key: str, to_table: str) -> str:
    doc = parse_doc(text)
    src = _container(doc, table, create=False)
    _check_key(key)
    if table == to_table:
        raise FixRefused("the key is already in that table")
    if key not in src:
        raise FixRefused(f"there is no key '{key}' in {_where(table)}")
    item = _body(src).item(key)  # Table.item() is tomlkit 0.13.3+
    if isinstance(item, (Table, AoT)):
        raise FixRefused(f"'{key}' is a table, not a key")
    dst = _container(doc, to_table, create=True)
    if key in dst:
        raise FixRefused(f"'{key}' is already set in {_where(to_table)}")
    del src[key]
    if to_table == "":
        # top-level keys must come before the first table to stay top-level
        if _has_tables(doc):
            _insert_top(doc, key, item)
        else:
            doc.add(key, item)
    else:
        dst.add(key, item)
    return tomlkit.dumps(doc)


def _has_tables(doc: tomlkit.TOMLDocument) -> bool:
    return any(isinstance(v, (Table, AoT)) for v in doc.values())


def _insert_top(doc: tomlkit.TOMLDocument, key: str, item: Item) -> None:
    body = doc.body
    first_table = next(i for i, (_, v) in enumerate(body) if isinstance(v, (Table, AoT)))
    # right after the last top-level key (comments and blank lines stay where they are)
    index = max((i for i, (k, _) in enumerate(body[:first_table]) if k is not None), default=-1) + 1
    # Container.add would append after the tables, making the key part of the last one
    doc._insert_at(index, key, item)


def set_key(text: str, table: str, key: str, value: Any) -> str:
    doc = parse_doc(text)
    c = _container(doc, table, create=True)
    _check_key(key)
    new = parse_value(value)
    if key in c:
        old = _body(c).item(key)
        if isinstance(old, (Table, AoT)):
            raise FixRefused(f"'{key}' is a table, not a key")
        # keep the user's trailing comment and spacing
        new.trivia.comment_ws = old.trivia.comment_ws
        new.trivia.comment = old.trivia.comment
        new.trivia.indent = old.trivia.indent
        if old.unwrap() == new.unwrap() and type(old) is type(new):
            raise FixRefused(f"'{key}' already has this value")
        c[key] = new
    elif table == "" and _has_tables(doc):
        _insert_top(doc, key, new)
    else:
        c.add(key, new)
    return tomlkit.dumps(doc)


def fix_windows_paths(text: str) -> str:
    """Every Windows path TOML reads as escapes, written with forward slashes, as text:
    the file may not parse (``"D:\\data"``), so tomlkit cannot do it."""
    from wantui.core.dataset.check_paths import forward_slash_windows_paths

    try:
        out = forward_slash_windows_paths(text)
    except ValueError as exc:
        raise FixRefused(str(exc)) from None
    try:
        tomlkit.parse(text)
    except Exception:
        return out  # it did not parse before either: one cause fewer is still better
    try:
        tomlkit.parse(out)
    except Exception:
        raise FixRefused("the edit would produce invalid TOML; not applied") from None
    return out
