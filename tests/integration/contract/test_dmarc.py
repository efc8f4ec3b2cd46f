"""The DMARC evaluator contract: the stub and the `dmarc` library over dnspython, against a
real DNS server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hookmail.adapters.dmarc import DmarcLibEvaluator
from hookmail.adapters.dns import DnspythonResolver
from hookmail.adapters.memory import StubDmarc
from hookmail.core.mail import DkimResult, DmarcOutcome, SpfOutcome
from hookmail.core.ports import DmarcEvaluator
from tests.dns_server import dns_server


@pytest.fixture(params=["stub", pytest.param("library", marks=pytest.mark.integration)])
def evaluator(request: pytest.FixtureRequest) -> Iterator[DmarcEvaluator]:
    if request.param == "stub":
        yield StubDmarc(
            policies={"example.org": "reject", "news.example.org": "quarantine"},
            failing={"broken.example"},
        )
        return
    with dns_server() as server:
        server.zone.txt["_dmarc.example.org"] = ["v=DMARC1; p=reject"]
        server.zone.txt["_dmarc.news.example.org"] = ["v=DMARC1; p=quarantine"]
        server.zone.failing.add("_dmarc.broken.example")
        yield DmarcLibEvaluator(DnspythonResolver(server.nameservers, timeout=2))


PASS = DkimResult("example.org", "pass")


def test_an_aligned_dkim_pass_passes_with_the_domains_policy(evaluator: DmarcEvaluator) -> None:
    found = evaluator.evaluate(from_domain="example.org", spf=None, dkim=(PASS,))
    assert found == DmarcOutcome("pass", "example.org", "reject")


def test_an_aligned_spf_pass_passes(evaluator: DmarcEvaluator) -> None:
    spf = SpfOutcome("pass", "example.org")
    assert evaluator.evaluate(from_domain="example.org", spf=spf, dkim=()).result == "pass"


def test_relaxed_alignment_admits_the_parent_domain(evaluator: DmarcEvaluator) -> None:
    found = evaluator.evaluate(from_domain="news.example.org", spf=None, dkim=(PASS,))
    assert found == DmarcOutcome("pass", "news.example.org", "quarantine")


def test_nothing_aligned_fails(evaluator: DmarcEvaluator) -> None:
    found = evaluator.evaluate(
        from_domain="example.org",
        spf=SpfOutcome("pass", "elsewhere.test"),
        dkim=(DkimResult("other.test", "pass"), DkimResult("example.org", "fail")),
    )
    assert found == DmarcOutcome("fail", "example.org", "reject")


def test_no_record_is_none_and_a_dns_failure_is_temperror(evaluator: DmarcEvaluator) -> None:
    assert evaluator.evaluate(from_domain="norecord.test", spf=None, dkim=()) == DmarcOutcome(
        "none", "norecord.test", None
    )
    assert evaluator.evaluate(from_domain="broken.example", spf=None, dkim=()) == DmarcOutcome(
        "temperror", "broken.example", None
    )
