"""Reading a run configuration: a YAML or TOML file, a dict or a ``RunConfig``, with
``section.field=value`` overrides on top, into one validated, resolved ``RunConfig``.

    cfg = load_config("configs/tiny.yaml", ["sketch.k=20"])
    cfg = resolve({"problem": "mnist_tiny", "sketch": {"k": 8}})

Old field names (``sections.RENAMED``) are read under their new names. Every problem is one
``ConfigError`` whose message names the file and the field.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import yaml
from pydantic import ValidationError

from hessian.exceptions import ConfigError
from hessian_sketch.flows.config import RunConfig
from hessian_sketch.flows.sections import RENAMED, renamed_fields


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last
    one silently, which drops a whole section when a section is repeated)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"unhashable key {key!r}", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {seen[key] + 1} and line "
                f"{key_node.start_mark.line + 1})", key_node.start_mark,
            )  # fmt: skip
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _yaml_error(e: yaml.YAMLError) -> str:
    """A YAML error in one line (PyYAML's messages span several, with a caret drawing)."""
    problem = getattr(e, "problem", None)
    mark = getattr(e, "problem_mark", None)
    if problem:
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return f"{problem}{where}"
    return " ".join(str(e).split())


def parse_yaml(text: str):
    """YAML text -> Python objects, duplicate keys refused (``yaml.YAMLError``)."""
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass


EMPTY_HINT = (
    "the file is empty: give at least `problem: NAME` (`hessian config NAME` prints a complete "
    "file), or run without a file for the default study"
)


def read_text(path: Path) -> str:
    """A configuration file's text; a binary or non-UTF-8 file is a ``ConfigError``."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the file ({e.strerror or e})") from None
    if b"\0" in raw:
        raise ConfigError(f"{path}: a binary file, not a YAML or TOML configuration")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {e.start}): not a YAML or TOML configuration"
        ) from None


def format_errors(e: ValidationError, source: str) -> str:
    lines = []
    for err in e.errors():
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = " ".join(str(err["msg"]).split()).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        lines.append(f"{where}: {msg}")
    return f"{source}: " + "; ".join(lines)


def _renamed_tree(tree: dict) -> dict:
    """The configuration tree with every old field name replaced by its new one."""
    tree = dict(tree)
    for old in RENAMED:
        sec = old.split(".")[0]
        if sec in tree:
            try:
                tree[sec] = renamed_fields(tree[sec], sec)
            except ValueError as e:
                raise ConfigError(f"{sec}: {e}") from None
    return tree


def set_dotted(tree: dict, dotted: str, value) -> None:
    dotted = RENAMED.get(dotted, dotted)
    keys = dotted.split(".")
    if not all(keys):
        raise ConfigError(f"override {dotted!r}: expected section.field=value")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted}: {key} is not a section")
    node[keys[-1]] = value


def apply_overrides(tree: dict, overrides) -> None:
    """Set each ``section.field=value`` (the value parsed as YAML) in the tree."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r}: expected section.field=value")
        try:
            parsed = parse_yaml(value)
        except yaml.YAMLError as e:
            raise ConfigError(
                f"override {item!r}: not a valid YAML value ({_yaml_error(e)})"
            ) from None
        set_dotted(tree, key.strip(), parsed)


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> RunConfig:
    """Read and validate a run configuration (YAML or TOML; None: the defaults).

    Args:
        overrides: ``section.field=value`` strings applied on top (values parsed as YAML).

    Raises:
        ConfigError: unreadable file, unknown or invalid field (named in the message).
    """
    tree: dict = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        text = read_text(path)
        kind = "TOML" if path.suffix == ".toml" else "YAML"
        try:
            tree = tomllib.loads(text) if kind == "TOML" else parse_yaml(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {_yaml_error(e)}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {' '.join(str(e).split())}") from None
        except RecursionError:
            raise ConfigError(f"{path}: not valid {kind}: nested too deeply") from None
        if tree is None or tree == {}:
            raise ConfigError(f"{path}: {EMPTY_HINT}")
        if not isinstance(tree, dict):
            raise ConfigError(
                f"{path}: expected a mapping of fields at the top level, found a "
                f"{type(tree).__name__}"
            )
        if any(not isinstance(key, str) for key in tree):
            bad = next(key for key in tree if not isinstance(key, str))
            raise ConfigError(f"{path}: field names must be text, found {bad!r}")
        tree.setdefault("name", path.stem)
        try:
            tree = _renamed_tree(tree)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
    apply_overrides(tree, overrides)
    try:
        cfg = RunConfig.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(format_errors(e, source)) from None
    try:
        return cfg.resolve()
    except ValidationError as e:
        raise ConfigError(format_errors(e, source)) from None
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def resolve(config: dict | str | Path | RunConfig | None, overrides=()) -> RunConfig:
    """A validated and resolved ``RunConfig`` from a dict, a file path, a RunConfig or None (the
    defaults); ``overrides`` (``section.field=value``) apply on top.

    Raises:
        ConfigError: an unknown or invalid field, named in the message.
    """
    if isinstance(config, RunConfig):
        config = config.model_dump(mode="json")
    if not isinstance(config, dict):
        return load_config(config, list(overrides))
    tree = _renamed_tree(copy.deepcopy(config))
    apply_overrides(tree, overrides)
    try:
        return RunConfig.model_validate(tree).resolve()
    except ValidationError as e:
        raise ConfigError(format_errors(e, "config")) from None
