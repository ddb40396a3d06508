"""Rendered parts of pages, cached per process and keyed by everything they show.

A fragment is a partial template rendered with an explicit context and nothing else: no
request, session, signed-in user or CSRF token reaches it, so its HTML is the same for every
request whose key is the same. The key is the data the fragment shows, as plain hashable values
(rows of a table, the engine's progress of a plan, the loaded columns of a record, the viewer's
role and write rights where they change a link), compared by equality and never reduced to a
digest: any change of what a fragment shows makes a new key, so nothing is invalidated by hand
and a stale fragment cannot be served. Old keys leave a least-recently-used cache bounded in
entries and in bytes of HTML (``FRAGMENT_CACHE_ENTRIES``, ``FRAGMENT_CACHE_BYTES``).

The cache belongs to the application (``app.extensions``): one per worker process.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import Flask, current_app, request
from markupsafe import Markup
from sqlalchemy import inspect

EXTENSION = "notes_service.fragments"
#: Columns never copied into a key (a key lives as long as its fragment).
SECRET_COLUMNS = frozenset({"password_hash"})


class FragmentCache:
    """A least-recently-used map of fragment key → HTML, bounded by count and by size."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 16_000_000):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> str | None:
        """The HTML stored under ``key`` (now the most recently used), or None."""
        with self._lock:
            html = self._entries.get(key)
            if html is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return html

    def put(self, key: Hashable, html: str) -> None:
        """Store ``html`` under ``key``, dropping the least recently used entries over bounds.

        The size of an entry is the memory of its string (a page with one "→" takes two bytes
        a character); the keys (references to values the page already holds) are not counted.
        """
        size = sys.getsizeof(html)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= sys.getsizeof(old)
            self._entries[key] = html
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= sys.getsizeof(dropped)

    def clear(self) -> None:
        """Forget every fragment."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """Bytes of HTML held."""
        return self._bytes


def fragment_cache(app: Flask | None = None) -> FragmentCache:
    """The application's fragment cache (made on first use, sized by the configuration)."""
    app = app or current_app
    cache = app.extensions.get(EXTENSION)
    if cache is None:
        cache = app.extensions.setdefault(EXTENSION, FragmentCache(
            app.config.get("FRAGMENT_CACHE_ENTRIES", 512),
            app.config.get("FRAGMENT_CACHE_BYTES", 16_000_000)))
    return cache


def render_fragment(template: str, key: Hashable, context: Callable[[], dict]) -> Markup:
    """``template`` rendered with the context ``context()`` alone, cached under ``key``.

    ``key`` must determine the context (``context`` is only called on a miss): it holds the
    values the context is built from. The URL root of the request (the fragment's links depend
    on it) joins the key here. A key that cannot be hashed renders the fragment uncached.
    """
    cache = fragment_cache()
    full_key = (template, request.script_root, key)
    try:
        html = cache.get(full_key)
    except TypeError:  # an unhashable key: still correct, only not cached
        return Markup(current_app.jinja_env.get_template(template).render(context()))
    if html is None:
        html = current_app.jinja_env.get_template(template).render(context())
        cache.put(full_key, html)
    return Markup(html)


class Fragment:
    """A fragment rendered (or found in the cache) only when a template prints it.

    A page whose own cached HTML already holds the fragment never pays for it.
    """

    def __init__(self, template: str, key: Hashable, context: Callable[[], dict]):
        self.template, self.key, self.context = template, key, context
        self._html: Markup | None = None

    def __html__(self) -> Markup:
        if self._html is None:
            self._html = render_fragment(self.template, self.key, self.context)
        return self._html

    def __str__(self) -> str:
        return str(self.__html__())


def _frozen(value):
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


def columns_key(obj) -> tuple:
    """The loaded column values of a mapped object, hashable: how a record enters a key.

    Every column counts (not only those a template shows today), JSON values are frozen, and
    columns not loaded stand for themselves (a template cannot show them without a query).
    """
    state = inspect(obj)
    loaded = state.dict
    return (state.mapper.class_.__name__, *(
        _frozen(loaded[attr.key]) if attr.key in loaded else "(not loaded)"
        for attr in state.mapper.column_attrs if attr.key not in SECRET_COLUMNS))
