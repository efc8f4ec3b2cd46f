"""Pages of a list: `page` from 1, `page_size` 1 to 100, a page past the data is empty."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from attrs import frozen

from hookmail.core.errors import InvalidField

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_OFFSET = 2**62  # a store's OFFSET is a signed 64-bit integer; no list is that long


@frozen
class Page:
    """One page of a list, newest or oldest first as the list says; numbered from 1."""

    number: int
    size: int

    @classmethod
    def parse(cls, number: int | None, size: int | None) -> Page:
        number = 1 if number is None else number
        size = DEFAULT_PAGE_SIZE if size is None else size
        if number < 1:
            raise InvalidField("page", "must be 1 or more")
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidField("page_size", f"must be 1 to {MAX_PAGE_SIZE}")
        return cls(number, size)

    @classmethod
    def optional(cls, number: int | None, size: int | None) -> Page | None:
        """The page asked for, or None when neither is given (the whole list)."""
        if number is None and size is None:
            return None
        return cls.parse(number, size)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def past_any_data(self) -> bool:
        """True for a page no store can reach (its offset overflows): an empty page."""
        return self.offset > MAX_OFFSET

    def of(self, items: Sequence[T]) -> list[T]:
        """This page of a list already in memory."""
        return list(items[self.offset : self.offset + self.size])
