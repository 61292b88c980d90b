"""The README's two set-up commands are the ones CI runs, and they name real Makefile targets."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block is not None and text.index("```") == first_block.start(), (
        "the README must open with its commands"
    )
    return [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands_run_and_test():
    assert setup_commands() == ["make run", "make test"]


def test_ci_runs_the_readme_test_command():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert setup_commands()[1] in ci_lines


def test_makefile_defines_both_targets():
    makefile = (ROOT / "Makefile").read_text()
    for command in setup_commands():
        target = command.removeprefix("make ")
        assert re.search(rf"^{target}:", makefile, re.M), f"no '{target}' target in the Makefile"


def test_readme_is_short_and_its_links_lead_somewhere():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) < 250
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert links and all((ROOT / link).exists() for link in links), [
        link for link in links if not (ROOT / link).exists()
    ]
    documented = {path.name for path in (ROOT / "docs").glob("*.md")}
    assert documented <= {Path(link).name for link in links}  # every topic file is linked from the README
