"""Label maps: the rules that give a mesh name its NYU40 class (used by :mod:`scene_library.importer`).

This module owns the label-map file format (:func:`load_label_map`), its parsing (JSON, and YAML without
aliases), the compilation of its ``re:`` rules within size limits and their matching within time limits
(:class:`LabelMap`). A label map is a small YAML or JSON file::

    # chairs.yaml
    default: otherprop          # NYU40 class for names that no rule matches (optional)
    labels:
      Chair_01: chair           # exact mesh/node name (case-sensitive)
      "re:^table_.*": table     # regular expression after the prefix "re:", matched with re.fullmatch
      sofa_frame: sofa

The same file as JSON: ``{"default": "otherprop", "labels": {"Chair_01": "chair", "re:^table_.*": "table"}}``.

Rules:

* ``labels`` (required, may be empty) maps a mesh name to an NYU40 class *name* (spaces or
  underscores, any case: ``"night stand"``, ``"Night_Stand"``). Numeric ids are not accepted.
* A key starting with ``re:`` is a Python regular expression matched against the *whole* name
  (``re.fullmatch``): ``"re:table"`` matches only ``"table"``; write ``"re:table.*"`` for a prefix or
  ``"re:(?i).*chair.*"`` for a case-insensitive substring. Every other key is an exact name.
  Matching uses the ``regex`` package (the same syntax) with a time limit, so a pattern that backtracks
  without end (``(a|a)+$``) is refused naming the rule instead of hanging: each match may take
  ``REGEX_TIMEOUT_S`` and all matches of one file ``LABELING_TIMEOUT_S`` (:mod:`scene_library.limits`).
  A pattern has at most ``MAX_REGEX_CHARS`` characters and its counted repeats at most
  ``MAX_REGEX_SIZE`` expanded (``(ab){3}`` counts 6); all patterns of one file at most
  ``MAX_LABEL_MAP_REGEX_SIZE`` together.
* Resolution order: an exact name wins; otherwise the first regex in file order that matches;
  otherwise ``default``. Without ``default`` an unmatched name is an error.
* Only ``default`` and ``labels`` are allowed at the top level; duplicate keys are an error.
* The file has at most ``MAX_LABEL_MAP_BYTES``; YAML aliases (``*name``) are refused (a few hundred bytes
  of nested aliases expand to gigabytes), so write every rule out.

Which mesh name is matched, per file format, is described in :mod:`scene_library.importer`.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scene_library.errors import SceneError
from scene_library.limits import (
    LABELING_TIMEOUT_S,
    MAX_LABEL_MAP_BYTES,
    MAX_LABEL_MAP_REGEX_SIZE,
    MAX_REGEX_CHARS,
    MAX_REGEX_SIZE,
    MIB,
    REGEX_TIMEOUT_S,
)
from synthcam_core.errors import InputError
from synthcam_core.labels import class40_id, class40_names
from synthcam_core.strict_yaml import StrictFormat, parse_json, parse_yaml

__all__ = ["LABEL_MAP_SUFFIXES", "REGEX_PREFIX", "LabelMap", "listed_names", "load_label_map"]

PathLike = str | os.PathLike

REGEX_PREFIX = "re:"
LABEL_MAP_SUFFIXES = (".yaml", ".yml", ".json")
_TOP_LEVEL_KEYS = ("default", "labels")
#: Most mesh names one message lists (the rest are counted), and the longest name shown whole (characters).
MAX_LISTED_NAMES, MAX_SHOWN_NAME = 20, 200


@dataclass(frozen=True)
class LabelMap:
    """Mesh-name -> NYU40 class id rules (see the module docstring for the file format).

    exact : ``(name, class40)`` pairs for exact, case-sensitive names.
    patterns : ``(regex, class40)`` pairs, regex without the ``re:`` prefix, in priority order;
        each is matched like :func:`re.fullmatch`, within ``REGEX_TIMEOUT_S`` (module docstring).
    default : class id for names no rule matches, or None (then such names are an error).
    source : where the rules came from (a file path), used in error messages.
    Class ids are NYU40 ids, 1..40.
    """

    exact: tuple[tuple[str, int], ...] = ()
    patterns: tuple[tuple[str, int], ...] = ()
    default: int | None = None
    source: str = field(default="<label map>", compare=False)
    _exact_index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)
    _compiled: tuple[tuple[Any, int], ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name, cid in (
            *self.exact,
            *self.patterns,
            *([("default", self.default)] if self.default is not None else []),
        ):
            _check_class_id(cid, name, self.source)
        index: dict[str, int] = {}
        for name, cid in self.exact:
            if name in index:
                raise SceneError(f"{self.source}: the name {name!r} has two label rules; keep only one.")
            index[name] = cid
        total = sum(_pattern_size(pattern, self.source) for pattern, _ in self.patterns)
        if total > MAX_LABEL_MAP_REGEX_SIZE:  # checked before compiling: compiled rules hold ~150 bytes per item
            raise SceneError(
                f"label map {self.source}: its 're:' rules repeat too much together ({total:,} items once "
                f"their counted repeats are expanded, limit {MAX_LABEL_MAP_REGEX_SIZE:,}); use smaller "
                "{n} counts, fewer 're:' rules, or exact names."
            )
        compiled = tuple((_compile_rule(pattern, self.source), cid) for pattern, cid in self.patterns)
        object.__setattr__(self, "_exact_index", index)
        object.__setattr__(self, "_compiled", compiled)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<label map>") -> LabelMap:
        """Build from parsed file content ``{"default": name, "labels": {key: name}}`` (class *names*)."""
        labels, default_name = _split_top_level(data, source)
        exact: list[tuple[str, int]] = []
        patterns: list[tuple[str, int]] = []
        for key, class_name in labels.items():
            cid = _class_from_rule(key, class_name, source)
            if key.startswith(REGEX_PREFIX):
                patterns.append((key[len(REGEX_PREFIX) :], cid))
            else:
                exact.append((key, cid))
        default = None if default_name is None else _class_from_rule("default", default_name, source)
        return cls(exact=tuple(exact), patterns=tuple(patterns), default=default, source=source)

    def rule_class(self, name: str, deadline: float | None = None) -> int | None:
        """Class id from the first matching rule (exact name, then regexes in order); None if none matches.

        Each regex match may take ``REGEX_TIMEOUT_S``; ``deadline`` (a :func:`time.monotonic` time) bounds
        all of them. SceneError naming the rule when a match runs out of time.
        """
        if name in self._exact_index:
            return self._exact_index[name]
        for pattern, cid in self._compiled:
            budget = REGEX_TIMEOUT_S if deadline is None else min(REGEX_TIMEOUT_S, deadline - time.monotonic())
            if budget <= 0:
                raise _labeling_timeout(self.source)
            try:
                if pattern.fullmatch(name, timeout=budget):
                    return cid
            except TimeoutError:
                if budget < REGEX_TIMEOUT_S:
                    raise _labeling_timeout(self.source) from None
                shown = name if len(name) <= 60 else name[:57] + "..."
                raise SceneError(
                    f"label map {self.source}: the rule 're:{pattern.pattern}' takes over {REGEX_TIMEOUT_S:g} s "
                    f"to match the mesh name {shown!r}; simplify the pattern (avoid nested or overlapping repeats "
                    "such as (a+)+ or (a|a)+)."
                ) from None
        return None

    def class_of(self, name: str) -> int:
        """Class id of ``name``: its rule, else the default; SceneError when neither exists."""
        ids, _ = self.classify([name])
        return ids[0]

    def classify(self, names: Sequence[str]) -> tuple[list[int], list[str]]:
        """Class ids for ``names`` (same order) and the sorted distinct names that fell back to the default.

        Raises SceneError listing the unmatched names (:func:`listed_names`) when there is no default.
        """
        deadline = time.monotonic() + LABELING_TIMEOUT_S
        found = [self.rule_class(n, deadline) for n in names]
        unmatched = sorted({n for n, cid in zip(names, found) if cid is None})
        if not unmatched:
            return [cid for cid in found if cid is not None], unmatched
        default = self.default
        if default is None:
            raise SceneError(
                f"no label rule in {self.source} matches the mesh name(s) {listed_names(unmatched, quote=True)}; "
                "add rules for them or a 'default:' class to the label map."
            )
        return [default if cid is None else cid for cid in found], unmatched


def listed_names(names: Sequence[str], quote: bool = False) -> str:
    """``names`` for a one-line message: joined by commas (each in quotes if ``quote``), at most
    ``MAX_LISTED_NAMES`` of them, each cut to ``MAX_SHOWN_NAME`` characters, then how many more there are."""
    shown = [n if len(n) <= MAX_SHOWN_NAME else n[: MAX_SHOWN_NAME - 3] + "..." for n in names[:MAX_LISTED_NAMES]]
    text = ", ".join(map(repr, shown) if quote else shown)
    return text + (f" and {len(names) - MAX_LISTED_NAMES:,} more" if len(names) > MAX_LISTED_NAMES else "")


def load_label_map(path: PathLike) -> LabelMap:
    """Read a label map from a ``.yaml``/``.yml`` or ``.json`` file (format: module docstring).

    Raises SceneError for a missing file, a wrong suffix, unparseable content, a wrong structure,
    an unknown NYU40 class name (the message lists the valid ones) or an invalid regular expression.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LABEL_MAP_SUFFIXES:
        raise SceneError(f"label map {path} must be a .yaml, .yml or .json file; rename or convert it.")
    if not path.is_file():
        raise SceneError(f"label map {path} does not exist; check the path.")
    size = path.stat().st_size
    if size > MAX_LABEL_MAP_BYTES:
        raise SceneError(
            f"label map {path} is {size / MIB:.1f} MiB, larger than the limit of "
            f"{MAX_LABEL_MAP_BYTES // MIB} MiB; use 're:' rules instead of listing every name."
        )
    try:
        with path.open("rb") as f:
            text = f.read(MAX_LABEL_MAP_BYTES + 1).decode("utf-8")
    except OSError as e:
        raise SceneError(f"cannot read label map {path} ({e.strerror}); check its permissions.") from None
    except UnicodeDecodeError:
        raise SceneError(f"label map {path} is not UTF-8 text; save it as a plain UTF-8 YAML or JSON file.") from None
    data = _parse_json(text, path) if suffix == ".json" else _parse_yaml(text, path)
    return LabelMap.from_dict(data, source=str(path))


_FORMAT = StrictFormat(
    "label map", SceneError, nesting="a label map is two levels deep", alias_advice="write each rule out"
)


def _parse_json(text: str, path: Path) -> Any:
    """Parsed JSON, rejecting duplicate keys."""
    return parse_json(text, path, _FORMAT)


def _parse_yaml(text: str, path: Path) -> Any:
    """Parsed YAML (safe loader), rejecting duplicate keys and aliases."""
    return parse_yaml(text, path, _FORMAT)


def _split_top_level(data: Any, source: str) -> tuple[dict[str, Any], Any]:
    """(labels mapping, default class name or None) after checking the top-level structure."""
    example = "e.g. {'default': 'otherprop', 'labels': {'Chair_01': 'chair'}}"
    if not isinstance(data, Mapping):
        raise SceneError(f"label map {source} must be a mapping with 'labels' and optionally 'default', {example}.")
    extra = [k for k in data if k not in _TOP_LEVEL_KEYS]
    if extra:
        raise SceneError(
            f"label map {source} has unknown top-level key(s) {extra}; only 'default' and 'labels' are allowed."
        )
    if "labels" not in data:
        raise SceneError(f"label map {source} has no 'labels' mapping; add one, {example}.")
    labels = data["labels"] if data["labels"] is not None else {}
    if not isinstance(labels, Mapping):
        raise SceneError(f"label map {source}: 'labels' must map mesh names to class names, {example}.")
    for key in labels:
        if not isinstance(key, str):
            raise SceneError(
                f'label map {source}: the rule key {key!r} is not a string; quote it in the file ("{key}": ...).'
            )
    return dict(labels), data.get("default")


def _class_from_rule(key: str, class_name: Any, source: str) -> int:
    """NYU40 id of a rule's class name; SceneError naming the rule (and listing valid names) otherwise."""
    if not isinstance(class_name, str):
        raise SceneError(
            f"label map {source}: {key!r} must name an NYU40 class as text (e.g. 'chair'), not {class_name!r}."
        )
    try:
        return class40_id(class_name)
    except InputError as e:
        raise SceneError(f"label map {source}: rule {key!r}: {e}") from None


def _check_class_id(cid: Any, rule: str, source: str) -> None:
    """Internal check for LabelMaps built in code: class ids are ints 1..40."""
    n = len(class40_names()) - 1
    if isinstance(cid, bool) or not isinstance(cid, (int, np.integer)) or not 1 <= int(cid) <= n:
        raise SceneError(
            f"{source}: rule {rule!r} has class id {cid!r}; use an NYU40 id 1..{n} (see labels.class40_id)."
        )


def _pattern_size(pattern: str, source: str) -> int:
    """Size of a ``re:`` rule's pattern with its counted repeats expanded (:func:`_expanded_size`);
    SceneError with the position of a syntax error, or naming the limit a pattern breaks."""
    shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
    if len(pattern) > MAX_REGEX_CHARS:
        raise SceneError(
            f"label map {source}: the regular expression {shown!r} has {len(pattern)} characters, more "
            f"than the limit of {MAX_REGEX_CHARS}; shorten it or use several rules."
        )
    try:
        re.compile(pattern)  # Python's syntax and messages
        size = _expanded_size(pattern)
    except re.error as e:
        raise SceneError(
            f"label map {source}: the regular expression {pattern!r} is invalid ({e}); "
            "fix the pattern (escape special characters with a backslash)."
        ) from None
    if size > MAX_REGEX_SIZE:
        raise SceneError(
            f"label map {source}: the regular expression {shown!r} repeats too much ({size:,} items once its "
            f"counted repeats are expanded, limit {MAX_REGEX_SIZE:,}); use smaller {{n}} counts."
        )
    return size


def _compile_rule(pattern: str, source: str) -> Any:
    """Compiled regex (a ``regex`` package pattern, matched with a timeout) of a ``re:`` rule that
    :func:`_pattern_size` accepted; not kept in the package's cache (the LabelMap holds it)."""
    import regex

    try:
        return regex.compile(pattern, cache_pattern=False)
    except regex.error as e:
        raise SceneError(
            f"label map {source}: the regular expression {pattern!r} is not supported ({e}); rewrite the pattern."
        ) from None


def _expanded_size(pattern: str) -> int:
    """Number of items of ``pattern`` with every counted repeat ``{n}`` / ``{n,m}`` expanded (unbounded
    repeats count once): what compiling it may build. Raises re.error for a bad pattern."""
    if sys.version_info >= (3, 11):
        from re import _parser as parser
    else:  # pragma: no cover - older Pythons
        import sre_parse as parser

    return _tree_size(parser.parse(pattern), parser)


def _tree_size(tree: Any, parser: Any) -> int:
    """Expanded item count of a parsed (sub)pattern; see :func:`_expanded_size`."""
    total = 0
    for op, av in tree:
        if str(op) in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, sub = av
            count = lo if hi == parser.MAXREPEAT else max(lo, hi)
            total += max(int(count), 1) * _tree_size(sub, parser)
        else:
            total += 1 + sum(_tree_size(sub, parser) for sub in _subpatterns(av, parser))
    return total


def _subpatterns(value: Any, parser: Any) -> list[Any]:
    """The parsed subpatterns held (directly or in tuples and lists) by an operator's argument."""
    if isinstance(value, parser.SubPattern):
        return [value]
    if isinstance(value, (tuple, list)):
        return [sub for item in value for sub in _subpatterns(item, parser)]
    return []


def _labeling_timeout(source: str) -> SceneError:
    return SceneError(
        f"matching the mesh names against the rules of label map {source} took over "
        f"{LABELING_TIMEOUT_S:g} s; use fewer or simpler 're:' rules, or exact names."
    )
