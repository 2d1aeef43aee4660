"""Reading a run configuration: a YAML or TOML file, a dict or a ``RunConfig``, with
``section.field=value`` overrides on top, into one validated, resolved ``RunConfig``.

    cfg = load_config("configs/tiny.yaml", ["sketch.k=20"])
    cfg = resolve({"problem": "mnist_tiny", "sketch": {"k": 8}})

Old field names (``config.RENAMED``) are read under their new names. Every problem is one
``ConfigError`` whose message names the file and the field.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import yaml
from pydantic import ValidationError

from hessian.exceptions import ConfigError
from hessian_sketch.flows.config import RENAMED, RunConfig, renamed_fields


def format_errors(e: ValidationError, source: str) -> str:
    lines = []
    for err in e.errors():
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = err["msg"]
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
        set_dotted(tree, key.strip(), yaml.safe_load(value))


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
        text = path.read_text()
        try:
            if path.suffix == ".toml":
                tree = tomllib.loads(text)
            else:
                tree = yaml.safe_load(text) or {}
        except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
            kind = "TOML" if path.suffix == ".toml" else "YAML"
            raise ConfigError(f"{path}: not valid {kind}: {e}") from e
        if not isinstance(tree, dict):
            raise ConfigError(f"{path}: expected a mapping of fields at the top level")
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
