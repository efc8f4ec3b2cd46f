"""The installed set is the tested one: the security floors hold at run time, and
requirements.lock pins every dependency of pyproject.toml, each at or above the floors."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]

# aiosmtpd 1.4.6: the SMTP smuggling and STARTTLS command-injection fixes;
# PyJWT 2.13: the floor SPEC's token checks were written against (issue 10)
FLOORS = {
    canonicalize_name("aiosmtpd"): Version("1.4.6"),
    canonicalize_name("PyJWT"): Version("2.13"),
}


def _locked() -> dict[NormalizedName, Version]:
    """The lock's pins for this interpreter (a universal lock forks by environment marker)."""
    pins: dict[NormalizedName, Version] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if not line or line[0] in " #-":
            continue
        requirement = Requirement(line.rstrip(" \\"))
        if requirement.marker is None or requirement.marker.evaluate():
            (pinned,) = requirement.specifier
            pins[canonicalize_name(requirement.name)] = Version(pinned.version)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [
        Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    ]


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_the_installed_version_is_at_or_above_the_security_floor(name: NormalizedName) -> None:
    assert Version(metadata.version(name)) >= FLOORS[name]


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_the_lock_pins_at_or_above_the_security_floor(name: NormalizedName) -> None:
    assert _locked()[name] >= FLOORS[name]


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_pyproject_asks_for_the_security_floor(name: NormalizedName) -> None:
    wanted = next(r for r in _declared() if canonicalize_name(r.name) == name)
    assert wanted.specifier.contains(FLOORS[name])
    assert not wanted.specifier.contains(Version("1.0"))


def test_the_lock_covers_every_declared_dependency_within_its_range() -> None:
    """A dependency added to pyproject.toml without `make lock` fails here, saying so."""
    locked = _locked()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements.lock pins {name}=={locked[name]}, outside {requirement.specifier}: "
            "run `make lock`"
        )


def test_every_locked_package_is_installed_at_its_pinned_version() -> None:
    """`make install` installed exactly the lock (packages for other platforms aside)."""
    locked = _locked()
    installed = {
        canonicalize_name(d.metadata["Name"]): Version(d.version) for d in metadata.distributions()
    }
    differing = {
        name: (str(version), str(installed[name]))
        for name, version in locked.items()
        if name in installed and installed[name] != version
    }
    assert not differing, f"installed versions differ from requirements.lock: {differing}"
    assert FLOORS.keys() <= installed.keys()
