"""What hookmail offers as a library is listed in `__all__`, every listed name resolves,
and the package says it is typed."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import hookmail

PUBLIC = ["hookmail", "hookmail.core", "hookmail.adapters.memory", "hookmail.webhooks"]


@pytest.mark.parametrize("name", PUBLIC)
def test_every_name_in_all_resolves(name: str) -> None:
    module = importlib.import_module(name)
    listed = module.__all__
    assert len(listed) == len(set(listed))
    for exported in listed:
        assert getattr(module, exported) is not None, f"{name}.{exported}"
    assert set(listed) <= set(dir(module))


def test_a_name_not_listed_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = hookmail.NoSuchThing


def test_the_lazy_names_are_the_real_ones() -> None:
    from hookmail.library import Hookmail
    from hookmail.webhooks import verify

    assert hookmail.Hookmail is Hookmail
    assert hookmail.verify is verify


def test_the_package_is_marked_typed() -> None:
    assert (Path(hookmail.__file__).parent / "py.typed").is_file()
