"""Rendered parts of pages, cached per process and keyed by everything they show.

A fragment is a partial template rendered with an explicit context and nothing else: no
request, session, signed-in user or CSRF token reaches it, so its HTML is the same for every
request whose key is the same. The key is the data the fragment shows, as plain hashable values
(rows of a table, the engine's progress of a plan, the loaded columns of a record, the viewer's
role and write rights where they change a link), compared by equality and never reduced to a
digest: any change of what a fragment shows makes a new key, so nothing is invalidated by hand
and a stale fragment cannot be served. A memoised immutable value may enter a key by its identity
(:class:`Same`), which is stricter still. Old keys leave a least-recently-used cache bounded in
entries and in bytes of HTML (``FRAGMENT_CACHE_ENTRIES``, ``FRAGMENT_CACHE_BYTES``).

The cache belongs to the application (``app.extensions``): one per worker process.

A page's *layout* (``base.html`` around a page's content: the head, the navigation, the user's
menu, the footer) is the other way round: it is the viewer's, and the same for all the pages of
one kind they open. :func:`render_in_layout` keeps it, per viewer and page, in a cache of its own
(:func:`layout_cache`, so that no fragment ever holds a viewer), and fills in what is the
request's alone: its CSRF token and the page's content.

A page of cached parts is sent as they are held: the cache returns its very object (no copy of
the HTML per hit), and the page's content keeps its UTF-8 bytes (:class:`CachedHTML`), so a
request joins bytes once rather than copying, joining and encoding some 100 KB of text.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import fields
from functools import cache

from flask import Flask, current_app, get_flashed_messages, render_template, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy import inspect

EXTENSION = "notes_service.fragments"
LAYOUT_EXTENSION = "notes_service.layouts"
#: Where a cached layout takes the page's content and the request's CSRF token: tags, which no
#: text printed by a template can forge (it is escaped).
CONTENT_MARK = Markup("<layout-content/>")
TOKEN_MARK = Markup("<layout-csrf-token/>")
#: Columns never copied into a key (a key lives as long as its fragment).
SECRET_COLUMNS = frozenset({"password_hash"})


class _Key:
    """A cache key with its hash, computed once: a lookup hashes a page's key (the rows it
    shows) once rather than once per operation on the map (finding, then moving the entry).
    Raises TypeError, as ``hash`` does, for a key that cannot be hashed."""

    __slots__ = ("value", "hash")

    def __init__(self, value: Hashable):
        self.value = value
        self.hash = hash(value)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other) -> bool:
        return (isinstance(other, _Key) and self.hash == other.hash
                and self.value == other.value)


class Same:
    """A value in a key by its identity: equal only to a :class:`Same` of that very object.

    For an immutable value that is costly to hash (the engine's progress of a measure: a few
    dozen fields and a point a visit) and that stays the same object while it does not change
    (it comes from a memo): the key still holds the value, so no other object takes its
    identity while the key lives, and an equal value computed again only makes a new key (the
    fragment is rendered again), never a stale hit.
    """

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Same) and other.value is self.value


class CachedHTML(Markup):
    """HTML as a cache holds it: the object every hit returns, and, when it is a page's
    content (``encoded``), its UTF-8 bytes, encoded once (see :func:`render_in_layout`)."""

    def __new__(cls, html: str = "", *, encoded: bool = False):
        self = super().__new__(cls, html)
        self.utf8 = html.encode() if encoded else None
        return self


def _size(html: str) -> int:
    """Bytes of memory of a cached HTML: its string, and its UTF-8 bytes when it keeps them."""
    utf8 = getattr(html, "utf8", None)
    return sys.getsizeof(html) + (sys.getsizeof(utf8) if utf8 is not None else 0)


class FragmentCache:
    """A least-recently-used map of fragment key → HTML, bounded by count and by size."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 16_000_000):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[_Key, str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> str | None:
        """The HTML stored under ``key`` (now the most recently used), or None."""
        key = _Key(key)
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
        a character) and of the UTF-8 bytes it keeps (:class:`CachedHTML`); the keys
        (references to values the page already holds) are not counted.
        """
        size = _size(html)
        if size > self.max_bytes:
            return
        key = _Key(key)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= _size(old)
            self._entries[key] = html
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= _size(dropped)

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


def _app_cache(app: Flask | None, extension: str, setting: str, entries: int,
               size: int) -> FragmentCache:
    """The application's cache ``extension``, made on first use and sized by the settings
    ``<setting>_ENTRIES`` and ``<setting>_BYTES`` (defaults ``entries`` and ``size``)."""
    app = app or current_app
    cache = app.extensions.get(extension)
    if cache is None:
        cache = app.extensions.setdefault(extension, FragmentCache(
            app.config.get(f"{setting}_ENTRIES", entries),
            app.config.get(f"{setting}_BYTES", size)))
    return cache


def fragment_cache(app: Flask | None = None) -> FragmentCache:
    """The application's fragment cache (``FRAGMENT_CACHE_ENTRIES``, ``FRAGMENT_CACHE_BYTES``)."""
    return _app_cache(app, EXTENSION, "FRAGMENT_CACHE", 512, 16_000_000)


def render_fragment(template: str, key: Hashable, context: Callable[[], dict], *,
                    encoded: bool = False) -> Markup:
    """``template`` rendered with the context ``context()`` alone, cached under ``key``.

    ``key`` must determine the context (``context`` is only called on a miss): it holds the
    values the context is built from. The URL root of the request (the fragment's links depend
    on it) joins the key here. A key that cannot be hashed renders the fragment uncached.
    ``encoded``: the fragment is a page's content (:func:`render_in_layout`), kept with its
    UTF-8 bytes.
    """
    cache = fragment_cache()
    full_key = (template, request.script_root, key)
    try:
        html = cache.get(full_key)
    except TypeError:  # an unhashable key: still correct, only not cached
        return Markup(current_app.jinja_env.get_template(template).render(context()))
    if html is None:
        html = CachedHTML(current_app.jinja_env.get_template(template).render(context()),
                          encoded=encoded)
        cache.put(full_key, html)
    return html


def layout_cache(app: Flask | None = None) -> FragmentCache:
    """The application's cache of page layouts (``LAYOUT_CACHE_ENTRIES``,
    ``LAYOUT_CACHE_BYTES``)."""
    return _app_cache(app, LAYOUT_EXTENSION, "LAYOUT_CACHE", 1024, 8_000_000)


def layout_key() -> tuple:
    """What ``base.html`` shows besides the page's own blocks, the CSRF token and the flashed
    messages: the clinic's name, the navigation and the current endpoint (those of
    :func:`~notes_service.web.pages.layout_context`), the signed-in user's name, e-mail and
    role, and the URL root (its links). A test holds this list to what ``base.html`` reads."""
    from notes_service.web.pages import nav_items, signed_in_user

    user = signed_in_user()
    viewer = (user.id, user.name, user.display_name, user.email, user.role) \
        if user is not None else None
    return (request.script_root, current_app.config["CLINIC_NAME"], tuple(nav_items(user)),
            request.endpoint or "", viewer)


def render_in_layout(template: str, content: Markup, key: Hashable, **context) -> bytes:
    """The page ``template`` (which extends ``base.html`` and prints ``content`` once) around
    ``content``, its layout cached, as the UTF-8 bytes of the response.

    ``key`` must determine what ``template`` itself shows outside ``content`` (the title), from
    ``context``. The layout is rendered once per key and viewer (:func:`layout_key`), with
    marks in place of the content and of the CSRF token; a request then costs its own token
    and the joining of three byte strings (the content's own bytes when it kept them: see
    :func:`render_fragment`). A request with flashed messages (shown once) renders the whole
    page as usual.
    """
    if get_flashed_messages():
        return render_template(template, content=content, **context).encode()
    cache = layout_cache()
    full_key = (template, key, layout_key())
    try:
        html = cache.get(full_key)
    except TypeError:  # an unhashable key: rendered as usual
        return render_template(template, content=content, **context).encode()
    if html is None:
        html = render_template(template, content=CONTENT_MARK, csrf_token=lambda: TOKEN_MARK,
                               **context)
        if html.count(CONTENT_MARK) != 1:
            return render_template(template, content=content, **context).encode()
        cache.put(full_key, html)
    if TOKEN_MARK in html:
        html = html.replace(TOKEN_MARK, escape(generate_csrf()))
    before, after = html.split(CONTENT_MARK)
    body = getattr(content, "utf8", None)
    if body is None:
        body = content.encode()
    return b"".join((before.encode(), body, after.encode()))


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


def row_key(row) -> tuple:
    """The fields of a row a page read (a dataclass instance), hashable: how a row enters a key.

    Like :func:`columns_key` for a record: every field counts, and JSON values (lists and
    dicts) are frozen; a tuple field holds rows, hashable themselves (a plan's goals).
    """
    return (type(row).__name__, *(
        _frozen(value) if isinstance(value, list | dict) else value
        for value in map(row.__getattribute__, _field_names(type(row)))))


@cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(item.name for item in fields(kind))
