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
