"""One strict YAML loader for wantui's own data files (rules, check declarations).

Safe constructors only, libyaml where installed (it parses the built-in rules about five
times faster, and they load at the start of most commands), and a duplicate key is an
error with its line instead of the last value silently winning.
"""

from __future__ import annotations

from typing import Any

import yaml

_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_SafeBase):  # type: ignore[misc,valid-type]
    """SafeLoader that rejects duplicate keys."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
