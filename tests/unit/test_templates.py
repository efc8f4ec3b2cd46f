"""Payload templates: JSON-string escaping, Mustache sections, no partials, and the budget of
time and output that ends a bomb with a clear error without holding up other renders."""

from __future__ import annotations

import itertools
import json
import threading
import tracemalloc
from typing import Any

import pytest

from hookmail.core import templates
from hookmail.core.errors import InvalidField, TemplateRenderError
from hookmail.core.webhooks import check_template

DATA: dict[str, Any] = {
    "subject": 'He said "hi" \\ then\n</script>',
    "size": 1234,
    "spf": None,
    "from": [{"name": "Zoë", "address": "zoe@example.org"}],
    "to": [],
    "headers": [["Subject", "x"], ["To", "y"]],
    "auth": {"dkim": [{"domain": "example.org", "result": "pass"}], "smtp_user": None},
}


def test_variables_are_escaped_for_a_json_string_and_triple_braces_are_raw() -> None:
    rendered = templates.render('{"s": "{{subject}}", "n": {{{size}}}, "x": "{{spf}}"}', DATA)
    assert json.loads(rendered) == {"s": DATA["subject"], "n": 1234, "x": ""}


def test_sections_iterate_lists_enter_objects_and_skip_what_is_empty() -> None:
    template = (
        "{{#from}}{{name}} <{{address}}>{{/from}}|{{#to}}never{{/to}}{{^to}}nobody{{/to}}|"
        "{{#auth}}{{#dkim}}{{domain}}={{result}}{{/dkim}}{{/auth}}|{{auth.dkim.0.domain}}|"
        "{{#headers}}[{{{.}}}]{{/headers}}|{{#size}}{{.}} bytes{{/size}}|{{missing.deep}}"
    )
    assert templates.render(template, DATA) == (
        'Zoë <zoe@example.org>|nobody|example.org=pass|example.org|[["Subject", "x"]]'
        '[["To", "y"]]|1234 bytes|'
    )
    # lists and objects come out as JSON, so they can be dropped into a JSON body
    assert json.loads(templates.render("{{{headers}}}", DATA)) == DATA["headers"]


def test_the_documented_example_renders_valid_json() -> None:
    template = (
        '{"text": "New mail from {{#from}}{{name}} <{{address}}>{{/from}}: {{subject}}",\n'
        ' "bytes": {{{size}}},\n'
        ' "files": [{{#attachments}}"{{filename}}",{{/attachments}} null]}'
    )
    data = {**DATA, "attachments": [{"filename": 'a "b".pdf'}, {"filename": "c"}]}
    assert json.loads(templates.render(template, data))["files"] == ['a "b".pdf', "c", None]


@pytest.mark.parametrize(
    "template", ["{{> name}}", "{{>/etc/passwd}}", "{{> ../../secret}}", "x{{>\0}}y"]
)
def test_partials_are_refused_at_save_and_at_render(template: str) -> None:
    with pytest.raises(InvalidField, match="payload_template: partials"):
        check_template(template)
    with pytest.raises(TemplateRenderError, match="partials"):
        templates.render(template, DATA)


def test_sections_nested_past_the_limit_are_refused_at_save() -> None:
    template = "{{#a}}" * 101 + "{{/a}}" * 101
    with pytest.raises(InvalidField, match="nested deeper than 100"):
        check_template(template)
    check_template("{{#a}}" * 100 + "{{/a}}" * 100)


def test_sections_left_open_are_refused_at_save() -> None:
    with pytest.raises(InvalidField, match="never closed"):
        check_template("{{#from}}{{name}}")


def _ticking(step: float) -> templates.Limits:
    """Limits whose clock moves `step` seconds each time it is read."""
    ticks = itertools.count()
    return templates.Limits(clock=lambda: next(ticks) * step)


FOUR_DEEP = "{{#headers}}{{#headers}}{{#headers}}{{#headers}}x{{/headers}}{{/headers}}" * 1 + (
    "{{/headers}}{{/headers}}"
)
MANY_HEADERS = {"headers": [["X-N", str(n)] for n in range(200)]}


def test_a_render_past_its_time_fails_with_a_clear_error() -> None:
    with pytest.raises(TemplateRenderError, match=r"took over 1 s to render"):
        templates.render(FOUR_DEEP, MANY_HEADERS, limits=_ticking(0.01))


def test_the_four_deep_bomb_ends_within_its_second_on_the_real_clock() -> None:
    # 200**4 = 1.6e9 iterations unbounded; the deadline ends it (the message says so)
    with pytest.raises(TemplateRenderError, match="took over 1 s"):
        templates.render(FOUR_DEEP, MANY_HEADERS)


def test_an_output_past_its_budget_fails_without_building_it() -> None:
    mail = {"text": "x" * 2**20}  # 1 MB of text, 500 times
    tracemalloc.start()
    try:
        with pytest.raises(TemplateRenderError, match="output passed 10485760 bytes"):
            templates.render("{{{text}}}" * 500, mail)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # the pieces are references to one string, never joined


def test_a_huge_list_dumped_raw_is_refused_before_it_is_serialised() -> None:
    data = {"attachments": [{"content_base64": "A" * 2**20} for _ in range(20)]}
    with pytest.raises(TemplateRenderError, match="output passed"):
        templates.render("{{{attachments}}}", data)


def test_the_body_budget_counts_utf8_bytes() -> None:
    limits = templates.Limits(max_output=10)
    assert templates.render_body("{{s}}", {"s": "é" * 5}, limits=limits) == "é".encode() * 5
    with pytest.raises(TemplateRenderError, match="output passed 10 bytes"):
        templates.render_body("{{s}}", {"s": "é" * 6}, limits=limits)


def test_a_slow_render_does_not_hold_up_another() -> None:
    """No process-wide lock: a small render finishes while a bomb is still rendering. The
    bomb's clock stands still until the small render is done, so it runs until then."""
    started = threading.Event()
    done = threading.Event()
    errors: list[Exception] = []
    stalled = templates.Limits(clock=lambda: 1e9 if done.is_set() else 0.0)

    def bomb() -> None:
        started.set()
        try:
            templates.render(FOUR_DEEP, MANY_HEADERS, limits=stalled)
        except TemplateRenderError as exc:
            errors.append(exc)

    thread = threading.Thread(target=bomb)
    thread.start()
    try:
        assert started.wait(10)
        assert templates.render('{"s": "{{subject}}"}', DATA)
        assert thread.is_alive(), "the small render waited for the bomb"
    finally:
        done.set()
        thread.join(10)
    assert len(errors) == 1
