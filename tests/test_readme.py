"""The README's quick start and .ci/run agree."""
import re

from conftest import REPO


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", quick)
    assert len(commands) == 2, "the quick start has exactly two commands"
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci
    assert commands[0].startswith("pip install .")


def test_ci_builds_the_bundle_with_the_readme_command_and_smoke_tests_it():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Desktop bundle", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", section)
    assert commands == ['pip install ".[bundle]" && pyinstaller build.spec']
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert commands[0] in ci
    assert any(line.startswith("python tools/bundle_smoke.py dist/puppet") for line in ci)
    assert '"pyinstaller' in (REPO / "pyproject.toml").read_text().split("bundle = [", 1)[1]
