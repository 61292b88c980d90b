"""``report`` (one page from run folders) and ``recipes`` (the published systems ready to run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from multimodal_genre import log
from multimodal_genre.cli.common import PROG, command_line


def add_commands(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report", help="one self-contained HTML page and a Markdown twin from run folders and tuning studies"
    )
    report.add_argument(
        "runs", type=Path, nargs="+", metavar="RUN_DIR", help="run folders: model runs, comparisons, tuning studies"
    )
    report.add_argument(
        "--out",
        type=Path,
        help="folder for report.html, report.md and figures/ (default: a new folder under reports/html)",
    )
    report.add_argument(
        "--screenshot",
        action="store_true",
        help="open the report in headless Chromium, check what it renders and save screenshot.png beside it",
    )
    report.set_defaults(handler=write_page)

    recipes = commands.add_parser("recipes", help="list the published systems ready to run with --recipe NAME")
    recipes.set_defaults(handler=list_recipes)


def write_page(args: argparse.Namespace) -> int:
    from multimodal_genre.report import write_report
    from multimodal_genre.report.browser import check_in_browser

    report = write_report(args.runs, args.out, command=command_line())
    out = report.html.parent
    if report.synthetic:
        print("Note: the report shows runs on SYNTHETIC data, and says so at its top.", file=sys.stderr)
    log.say(f"Wrote {report.html} and {report.markdown} ({len(report.figures)} figures in {out / 'figures'})")
    if not args.screenshot:
        return 0
    check = check_in_browser(report.html, out / "screenshot.png")
    log.say(
        f"Chromium rendered {len(check.images) - len(check.broken_images)} of {len(check.images)} images and "
        f"{len(check.tables)} tables; the page asked for {len(check.requests)} outside resources. "
        f"Screenshot: {check.screenshot}"
    )
    for problem in check.problems:
        print(f"{PROG}: browser check: {problem}", file=sys.stderr)
    return 1 if check.problems else 0


def list_recipes(args: argparse.Namespace) -> int:
    from multimodal_genre.recipes import load_recipe, recipe_names

    for name in recipe_names():
        info = load_recipe(name).info
        published = ", ".join(f"{metric} {value:.3f}" for metric, value in info.published.items()) or "none comparable"
        log.say(f"{name:<24} {info.model:<7} {info.title}\n{'':<32} published ({info.published_on}): {published}")
    log.say("\nRun one: multimodal-genre train --recipe NAME, or compare --recipe NAME --folds 5 for grouped 5-fold.")
    return 0
