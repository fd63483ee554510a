"""Strict parsing of small user files (YAML or JSON): duplicate keys, YAML aliases and runaway nesting are
refused with a one-line error that names the file and says what to fix.

Used by label maps (:mod:`scene_library.label_map`) and noise files (:mod:`synthcam.noise_file`); each
describes itself with a :class:`StrictFormat` (its name in messages, its error class and two hints).
YAML is read with PyYAML's safe loader; an alias (``*name``) is refused before it is expanded, since a few
hundred bytes of nested aliases expand to gigabytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["StrictFormat", "no_duplicates", "parse_json", "parse_yaml"]


@dataclass(frozen=True)
class StrictFormat:
    """How a kind of file is named in messages and which exception reports its mistakes.

    what : the kind of file, e.g. ``"label map"`` (messages say "label map PATH ...", "... in label maps").
    error : the exception class raised (called with the one-line message).
    nesting : why deep nesting is wrong, e.g. ``"a label map is two levels deep"``.
    alias_advice : what to write instead of an alias, e.g. ``"write each rule out"``.
    """

    what: str
    error: type[Exception]
    nesting: str
    alias_advice: str


def parse_json(text: str, path: Path, fmt: StrictFormat) -> Any:
    """Parsed JSON, rejecting duplicate keys; ``fmt.error`` for anything that is not valid JSON."""
    try:
        return json.loads(text, object_pairs_hook=lambda pairs: no_duplicates(pairs, path, fmt))
    except json.JSONDecodeError as e:
        where = f"{e.msg} at line {e.lineno}, column {e.colno}"
        raise fmt.error(f"{fmt.what} {path} is not valid JSON ({where}); fix the syntax.") from None
    except fmt.error:
        raise
    except RecursionError:
        raise fmt.error(f"{fmt.what} {path} nests lists or mappings too deeply; {fmt.nesting}.") from None
    except ValueError as e:  # e.g. an integer with thousands of digits
        raise fmt.error(f"{fmt.what} {path} is not valid JSON ({str(e)[:100]}); fix the syntax.") from None


def parse_yaml(text: str, path: Path, fmt: StrictFormat) -> Any:
    """Parsed YAML (safe loader), rejecting duplicate keys and aliases; ``fmt.error`` for anything else
    that is not valid YAML."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml is a declared dependency
        raise fmt.error(
            f"reading YAML {fmt.what}s needs PyYAML; run 'pip install pyyaml' or use a .json {fmt.what}."
        ) from None

    class _StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):  # refused before expanding: nested aliases grow exponentially
                mark = self.peek_event().start_mark
                raise fmt.error(
                    f"{fmt.what} {path} uses a YAML alias at line {mark.line + 1}, column "
                    f"{mark.column + 1}; aliases (*name) are not allowed in {fmt.what}s, "
                    f"{fmt.alias_advice}."
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> dict:
            keys = [self.construct_object(k, deep=True) for k, _ in node.value]
            no_duplicates([(k, None) for k in keys if isinstance(k, (str, int, float, bool))], path, fmt)
            return super().construct_mapping(node, deep=deep)

    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass
    except RecursionError:
        raise fmt.error(f"{fmt.what} {path} nests lists or mappings too deeply; {fmt.nesting}.") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise fmt.error(f"{fmt.what} {path} is not valid YAML ({problem}{where}); fix the syntax.") from None


def no_duplicates(pairs: list[tuple[Any, Any]], path: Path, fmt: StrictFormat) -> dict:
    """A dict from key/value pairs; ``fmt.error`` on a repeated key (a later entry would silently win)."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise fmt.error(f"{fmt.what} {path} lists the key {key!r} twice; keep only one entry.")
        out[key] = value
    return out
