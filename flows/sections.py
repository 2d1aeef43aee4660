"""The base of every configuration section, and the old names of renamed fields.

A section refuses unknown fields and a boolean where a number is expected (``k: true`` is not
k = 1); ``RENAMED`` maps old dotted field names to new ones, read under the new name.
"""

from __future__ import annotations

import typing

from pydantic import BaseModel, ConfigDict, field_validator

#: old field -> its new name (both dotted); the old names are still read
RENAMED = {"sketch.block_size": "sketch.vectors_per_pass"}


def renamed_fields(section, name: str):
    """A section's mapping with its old field names replaced by the new ones."""
    if not isinstance(section, dict):
        return section
    out = dict(section)
    for old, new in RENAMED.items():
        (sec, old_key), (_, new_key) = old.split("."), new.split(".")
        if sec == name and old_key in out:
            if new_key in out:
                raise ValueError(f"{old_key} is the old name of {new_key}: give one of them")
            out[new_key] = out.pop(old_key)
    return out


def _allows_bool(annotation) -> bool:
    if annotation is bool:
        return True
    return any(_allows_bool(a) for a in typing.get_args(annotation))


def _has_bool(value) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, list | tuple) and any(isinstance(v, bool) for v in value)


class Section(BaseModel):
    """A configuration section: unknown fields are refused, and so is a boolean where a number
    is expected."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, v, info):
        """``k: true`` is not k = 1: a boolean is refused wherever the field is not a switch."""
        field = cls.model_fields.get(info.field_name)
        if field is not None and _has_bool(v) and not _allows_bool(field.annotation):
            raise ValueError(f"expected {_kind(field.annotation)}, got the boolean {v!r}")
        return v


def _kind(annotation) -> str:
    names = {int: "an integer", float: "a number", str: "text"}
    args = typing.get_args(annotation) or (annotation,)
    for a in args:
        if a in names:
            return names[a]
        if typing.get_origin(a) is list:
            return "a list of integers"
    return "another type"
