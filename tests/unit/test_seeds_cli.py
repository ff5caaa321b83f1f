"""`mealytics source …` argument parsing: the quiet flag works before or after the command."""

from __future__ import annotations

import pytest

from pipelines.cli import build_parser


@pytest.mark.parametrize(
    ("argv", "quiet"),
    [
        (["source", "generate"], False),
        (["-q", "source", "generate"], True),
        (["source", "generate", "-q"], True),
        (["source", "advance", "--quiet"], True),
        (["--quiet", "source", "advance", "--days", "3"], True),
        (["source", "advance"], False),
    ],
)
def test_quiet_before_or_after_the_command(argv, quiet):
    assert build_parser().parse_args(argv).quiet is quiet


def test_generate_arguments_reach_the_generator():
    args = build_parser().parse_args(
        ["source", "generate", "--customers", "7", "--days", "3", "--seed", "9",
         "--start", "2026-01-05", "--force"])
    assert (args.customers, args.days, args.seed, str(args.start), args.force) == (
        7, 3, 9, "2026-01-05", True)
