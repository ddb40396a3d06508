"""Form parsing shared by the HTML pages.

HTML forms send text; the marshmallow schemas of the JSON API expect JSON types. The helpers
here turn form text into the same shapes the API receives, *strictly*: only plain decimals
become numbers, anything else ("nan", "inf", "1e3", "7,5") stays text so the schema rejects it
with the same message the API gives. Errors come back as the schema's nested dict and are
mapped onto form field names, so every message appears beside the field it concerns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from flask import request
from werkzeug.datastructures import MultiDict

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
#: Longer inputs are not plain numbers a clinician types; leave them to the schema's message.
_MAX_NUMBER_LENGTH = 20


def parse_number(text: str | None) -> int | float | str | None:
    """Return a plain decimal as a number, blank as None and anything else unchanged."""
    value = (text or "").strip()
    if not value:
        return None
    if len(value) <= _MAX_NUMBER_LENGTH:
        if _INTEGER.fullmatch(value):
            return int(value)
        if _DECIMAL.fullmatch(value):
            return float(value)
    return value


def parse_integer(text: str | None) -> int | str | None:
    """Return a plain whole number as an int, blank as None and anything else unchanged."""
    value = (text or "").strip()
    if not value:
        return None
    if len(value) <= _MAX_NUMBER_LENGTH and _INTEGER.fullmatch(value):
        return int(value)
    return value


def number_text(value: float | None) -> str:
    """Format a stored number for a form field without needless decimals (42.0 → "42")."""
    if value is None:
        return ""
    return f"{value:f}".rstrip("0").rstrip(".")


def clean_text(text: str | None) -> str:
    """Normalise line endings of a text area (browsers send CRLF)."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


class FormState:
    """The values a form shows and the errors beside its fields.

    ``values`` maps a field name to the list of its values (checkbox groups have several), the
    same shape as ``MultiDict.to_dict(flat=False)`` so it can be stashed as JSON.
    """

    def __init__(self, values: Mapping[str, list[str]] | None = None,
                 errors: Mapping[str, list[str]] | None = None):
        self.values: dict[str, list[str]] = {k: list(v) for k, v in (values or {}).items()}
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}

    @classmethod
    def from_request(cls) -> FormState:
        """The submitted form, without the CSRF token and the submit button."""
        values = request.form.to_dict(flat=False)
        for name in ("csrf_token", "action"):
            values.pop(name, None)
        return cls(values)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> FormState:
        """Build from plain values: strings, numbers, lists, None."""
        values: dict[str, list[str]] = {}
        for name, value in data.items():
            if value is None:
                continue
            if isinstance(value, list | tuple | set):
                values[name] = [str(v) for v in value]
            else:
                values[name] = [str(value)]
        return cls(values)

    def get(self, name: str, default: str = "") -> str:
        """The (first) value of a field."""
        found = self.values.get(name)
        return found[0] if found else default

    def getlist(self, name: str) -> list[str]:
        """Every value of a field (a checkbox group)."""
        return list(self.values.get(name, []))

    def has(self, name: str, value: str) -> bool:
        """Whether a checkbox or option ``value`` of ``name`` is selected."""
        return value in self.values.get(name, [])

    def set(self, name: str, value: str | list[str] | None) -> None:
        """Replace a field's value(s)."""
        if value is None:
            self.values.pop(name, None)
        else:
            self.values[name] = list(value) if isinstance(value, list) else [value]

    def error(self, name: str, message: str) -> None:
        """Add an error message beside ``name``."""
        messages = self.errors.setdefault(name, [])
        if message not in messages:
            messages.append(message)

    def errors_for(self, name: str) -> list[str]:
        """The error messages shown beside ``name``."""
        return self.errors.get(name, [])

    def has_errors(self, *prefixes: str) -> bool:
        """Whether any field (or any field starting with one of ``prefixes``) has errors."""
        if not prefixes:
            return bool(self.errors)
        return any(name.startswith(prefixes) for name in self.errors)

    @property
    def form_errors(self) -> list[str]:
        """Errors that belong to no single field."""
        return self.errors.get("_form", [])

    def to_json(self) -> dict[str, list[str]]:
        """The values, for stashing."""
        return {k: list(v) for k, v in self.values.items()}


def flatten_errors(messages, path: tuple = ()) -> Iterable[tuple[tuple, list[str]]]:
    """Yield ``(path, messages)`` for every leaf of a marshmallow error dict."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            yield from flatten_errors(value, (*path, key))
    elif isinstance(messages, list | tuple):
        texts = [m for m in messages if isinstance(m, str)]
        if texts:
            yield path, texts
        for nested in messages:
            if not isinstance(nested, str):
                yield from flatten_errors(nested, path)
    else:
        yield path, [str(messages)]


def map_errors(form: FormState, messages, locate: Mapping[str, str] | None = None,
               fields: Iterable[str] = ()) -> None:
    """Put a schema's error messages beside the form fields they concern.

    ``locate`` maps a dotted error path ("measurements.3" or "goals.0.target") to a field name;
    the longest matching prefix wins. Otherwise the top-level key is used when it names one of
    ``fields``; anything left is a form-level error.
    """
    locate = locate or {}
    known = set(fields)
    if not isinstance(messages, Mapping):
        messages = {"_schema": messages}
    for path, texts in flatten_errors(messages):
        keys = [str(p) for p in path]
        target = None
        for length in range(len(keys), 0, -1):
            target = locate.get(".".join(keys[:length]))
            if target:
                break
        if not target:
            target = keys[0] if keys and keys[0] in known else "_form"
        for text in texts:
            form.error(target, text)


def safe_next(target: str | None) -> str | None:
    """Return ``target`` as a local path (with query) if it points at this site, else None."""
    if not target or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme not in ("", "http", "https"):
        return None
    if parts.netloc and parts.netloc != request.host:
        return None
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def multidict(values: Mapping[str, list[str]]) -> MultiDict:
    """A MultiDict of form values."""
    return MultiDict([(k, v) for k, vs in values.items() for v in vs])
