"""Mustache payload templates: `{{var}}` escaped for a JSON string, `{{{var}}}` raw, rendered
within a budget of time and output.

chevron's tokenizer reads the template (Mustache's delimiter and standalone-line rules); the
renderer is ours, because chevron's has no escape hook (it took a process-wide lock to swap
its HTML escaper, so one slow render stalled every other), no bound on time or output, and
reads partials from files. Here: variables, sections over lists, objects and truthy values,
inverted sections; partials are refused (at save by `compile`, and at render for a template
stored before that rule), and there are no lambdas (the data is JSON). The budget is counted
inside the render loop: output characters as they are added, and the clock every
_CHECK_EVERY steps, so a render fails with TemplateRenderError past MAX_OUTPUT or MAX_SECONDS
instead of running on, and renders share nothing: no lock, in parallel.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import chevron
from attrs import frozen

from hookmail.core.errors import InvalidField, TemplateRenderError

MAX_OUTPUT = 10 * 2**20  # bytes of the rendered body (SPEC §3)
MAX_SECONDS = 1.0
MAX_NESTING = 100  # sections in sections: deeper would be a recursion bomb, not a payload
_CHECK_EVERY = 256
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')

# A compiled template: a tuple of nodes, each (kind, text or key, children)
Node = tuple[str, str, tuple[Any, ...]]
_FIELD = "payload_template"


@frozen
class Limits:
    max_output: int = MAX_OUTPUT
    max_seconds: float = MAX_SECONDS
    clock: Callable[[], float] = time.monotonic  # a parameter, so tests can move it


LIMITS = Limits()


def parse(template: str) -> tuple[Node, ...]:
    """The template as a tree. Raises InvalidField (payload_template) for a syntax error, a
    partial, or sections nested past MAX_NESTING."""
    if len(template) <= _CACHED:
        return _cached(template)
    return _compile(template)


# Templates only (never payloads) are kept, and only usual-sized ones: a tree of tags takes
# up to ~15x its template, so 128 of at most 8 KiB hold at most ~15 MB.
_CACHED = 8 * 1024


@lru_cache(maxsize=128)
def _cached(template: str) -> tuple[Node, ...]:
    return _compile(template)


def _compile(template: str) -> tuple[Node, ...]:
    stack: list[tuple[str, str, list[Node]]] = [("root", "", [])]
    try:
        for kind, key in chevron.tokenizer.tokenize(template):
            if kind == "partial":
                raise InvalidField(
                    _FIELD, "partials ({{> name}}) are not supported: a template can't read files"
                )
            if kind in ("section", "inverted section"):
                if len(stack) > MAX_NESTING:
                    raise InvalidField(_FIELD, f"sections are nested deeper than {MAX_NESTING}")
                stack.append((kind, key, []))
            elif kind == "end":
                section, name, children = stack.pop()
                stack[-1][2].append((section, name, tuple(children)))
            elif kind in ("literal", "variable", "no escape"):
                stack[-1][2].append((kind, key, ()))
    except chevron.ChevronError as exc:
        reason = " ".join(str(exc).split())
        raise InvalidField(_FIELD, f"is not valid Mustache: {reason}") from None
    # chevron silently drops an unclosed tag at the end; with the default delimiters, refuse it
    if "{{=" not in template and template.rfind("{{") > template.rfind("}}"):
        raise InvalidField(_FIELD, "is not valid Mustache: a tag is never closed")
    if len(stack) != 1:  # the tokenizer checks closing tags, not ones left open at the end
        raise InvalidField(_FIELD, f"is not valid Mustache: section {stack[-1][1]!r} is not closed")
    return tuple(stack[0][2])


def _lookup(key: str, scopes: list[Any]) -> Any:
    """Mustache name resolution: `.` is the current item; the first name of a dotted key is
    looked up from the innermost scope out, the rest inside what it found."""
    if key == ".":
        return scopes[-1]
    first, *rest = key.split(".")
    for scope in reversed(scopes):
        if isinstance(scope, Mapping) and first in scope:
            value = scope[first]
            break
    else:
        return None
    for name in rest:
        if isinstance(value, Mapping):
            value = value.get(name)
        elif isinstance(value, list) and name.isdigit() and int(name) < len(value):
            value = value[int(name)]
        else:
            return None
    return value


def _text_size(value: Any, limit: int) -> int:
    """About the characters `value` takes as JSON, counted no further than `limit`."""
    if isinstance(value, str):
        return len(value)
    total = 0
    for item in value.values() if isinstance(value, Mapping) else value:
        total += 4 + _text_size(item, limit - total) if isinstance(item, (str, list, dict)) else 8
        if total > limit:
            break
    return total


def _text(value: Any, room: int) -> str:
    """A value as template text: strings as they are, numbers as JSON, lists and objects as
    JSON text (`{{{headers}}}` is then valid JSON), null as nothing. A list or object bigger
    than `room` is refused before it is serialised."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (list, dict)) and _text_size(value, room) > room:
        return "\0" * (room + 1)  # over the budget: add() refuses it
    return json.dumps(value, ensure_ascii=False)


def _escape(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return json.dumps(text, ensure_ascii=False)[1:-1]


class _Render:
    def __init__(self, limits: Limits) -> None:
        self.out: list[str] = []
        self.size = 0
        self.steps = 0
        self.limits = limits
        self.deadline = limits.clock() + limits.max_seconds

    def add(self, text: str) -> None:
        self.size += len(text)  # characters: never more than the UTF-8 bytes
        if self.size > self.limits.max_output:
            raise TemplateRenderError(
                f"the template's output passed {self.limits.max_output} bytes"
            )
        self.out.append(text)

    def step(self) -> None:
        self.steps += 1
        if self.steps % _CHECK_EVERY == 0 and self.limits.clock() > self.deadline:
            raise TemplateRenderError(
                f"the template took over {self.limits.max_seconds:g} s to render"
            )

    def nodes(self, nodes: tuple[Node, ...], scopes: list[Any]) -> None:
        for kind, key, children in nodes:
            self.step()
            if kind == "literal":
                self.add(key)
            elif kind == "variable":
                self.add(_escape(_text(_lookup(key, scopes), self.room)))
            elif kind == "no escape":
                self.add(_text(_lookup(key, scopes), self.room))
            elif kind == "section":
                self.section(_lookup(key, scopes), children, scopes)
            elif kind == "inverted section" and not _lookup(key, scopes):
                self.nodes(children, scopes)

    @property
    def room(self) -> int:
        return self.limits.max_output - self.size

    def section(self, value: Any, children: tuple[Node, ...], scopes: list[Any]) -> None:
        if not value:  # null, false, 0, "", [] and {} (Python's falsy, as chevron)
            return
        for item in value if isinstance(value, list) else [value]:
            self.step()
            scopes.append(item)
            try:
                self.nodes(children, scopes)
            finally:
                scopes.pop()


def render(template: str, data: Mapping[str, Any], *, limits: Limits = LIMITS) -> str:
    """The template rendered over `data`. Raises TemplateRenderError (a sentence saying why)
    when the template is invalid or uses a partial, its output passes `limits.max_output`
    characters, or it runs past `limits.max_seconds`."""
    try:
        tree = parse(template)
    except InvalidField as exc:
        raise TemplateRenderError(f"the template can't be used: {exc}") from None
    rendering = _Render(limits)
    rendering.nodes(tree, [data])
    return "".join(rendering.out)


def render_body(template: str, data: Mapping[str, Any], *, limits: Limits = LIMITS) -> bytes:
    """render() as the UTF-8 body of a delivery, at most `limits.max_output` bytes."""
    try:
        body = render(template, data, limits=limits).encode("utf-8")
    except UnicodeEncodeError:
        raise TemplateRenderError("the template's output is not valid Unicode text") from None
    if len(body) > limits.max_output:
        raise TemplateRenderError(f"the template's output passed {limits.max_output} bytes")
    return body
