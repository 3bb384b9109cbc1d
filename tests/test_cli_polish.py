"""Errors of the command line itself are argparse's, from the subcommand they belong to: unknown flags
with a did-you-mean, misspelt subcommands and choices, out-of-range numbers refused while parsing;
renamed flags keep their old names as hidden aliases."""

from __future__ import annotations

import argparse

import pytest

from dualinv.cli import build_parser, main


def _refused(capsys, argv: list[str]) -> tuple[str, str]:
    """(the (sub)command's prog, the one error line) of a command line argparse refuses with exit status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1, stderr  # one line, no usage block
    error = stderr.strip()
    return error.split(": error: ", 1)[0], error


def test_unknown_flag_is_reported_by_its_subcommand_with_the_closest_flag(capsys):
    usage, error = _refused(capsys, ["invert", "--mesh-res", "64", "p.jpg", "--out", "o"])
    assert usage == "dualinv invert"
    assert error == "dualinv invert: error: unrecognized arguments: --mesh-res (did you mean --mesh-resolution?)"


def test_unknown_flag_of_a_nested_subcommand_and_of_the_top_level(capsys):
    usage, error = _refused(capsys, ["panohead", "render", "--network", "n.pt", "--out", "o", "--frame=3"])
    assert usage == "dualinv panohead render"
    assert error == "dualinv panohead render: error: unrecognized arguments: --frame=3 (did you mean --frames?)"
    usage, error = _refused(capsys, ["--verison"])
    assert usage == "dualinv"
    assert error == "dualinv: error: unrecognized arguments: --verison (did you mean --version?)"


def test_an_ambiguous_abbreviation_lists_the_flags_it_starts(capsys):
    _, error = _refused(capsys, ["pose", "p.jpg", "--tddfa-w", "1"])
    assert error.endswith("unrecognized arguments: --tddfa-w 1 (did you mean --tddfa-width or --tddfa-whitening?)")


def test_nothing_close_gets_no_suggestion(capsys):
    _, error = _refused(capsys, ["invert", "p.jpg", "--out", "o", "--zzzzzz"])
    assert error == "dualinv invert: error: unrecognized arguments: --zzzzzz"


def test_misspelt_subcommand_and_choice_get_the_closest_word(capsys):
    usage, error = _refused(capsys, ["invret", "p.jpg"])
    assert usage == "dualinv"
    assert error.startswith("dualinv: error: argument COMMAND: invalid choice: 'invret'")
    assert error.endswith(" (did you mean invert?)")
    _, error = _refused(capsys, ["edit", "o", "--source", "a.jpg", "--reference", "b.jpg", "--part", "har"])
    assert "invalid choice: 'har'" in error and error.endswith(" (did you mean hair?)")


@pytest.mark.parametrize("argv, message", [
    (["invert", "p.jpg", "--out", "{out}", "--frames", "-3"], "argument --frames: must be an integer >= 1, got -3"),
    (["invert", "p.jpg", "--out", "{out}", "--mesh-resolution", "4"],
     "argument --mesh-resolution: must be an integer >= 8, got 4"),
    (["edit", "{out}", "--source", "a", "--reference", "b", "--part", "hair", "--feather", "-1"],
     "argument --feather: must be an integer >= 0, got -1"),
    (["edit", "{out}", "--source", "a", "--reference", "b", "--part", "hair", "--extra-yaw", "nan"],
     "argument --extra-yaw: must be a finite number, got nan"),
    (["panohead", "render", "--network", "n.pt", "--out", "{out}", "--batch-size", "0"],
     "argument --batch-size: must be an integer >= 1, got 0"),
    (["panohead", "render", "--network", "n.pt", "--out", "{out}", "--fps", "0"],
     "argument --fps: must be a number > 0, got 0"),
    (["panohead", "render", "--network", "n.pt", "--out", "{out}", "--seeds", "3-x"],
     "argument --seeds: expected integers and ranges such as 0-3 or 1,5,7-8, got 3-x"),
    (["prepare", "photos", "{out}", "--workers", "two"], "argument --workers: must be an integer >= 1, got two"),
    (["prepare", "photos", "{out}", "--size", "32"], "argument --size: must be an integer >= 64, got 32"),
    (["prepare", "photos", "{out}", "--max-reject-share", "1.5"],
     "argument --max-reject-share: must be a number in [0, 1], got 1.5"),
    (["prepare", "photos", "{out}", "--min-face-size", "-1"], "argument --min-face-size: must be a number >= 0, got -1"),
    (["train", "encoder1", "--checkpoint-out", "{out}", "--start", "-1"],
     "argument --start: must be an integer >= 0, got -1"),
    (["evaluate", "--renders", "r", "--targets", "t", "--method", "m", "--dataset", "d", "--output", "{out}",
      "--bootstrap", "0"], "argument --bootstrap: must be an integer >= 1, got 0"),
    (["evaluate", "--renders", "r", "--targets", "t", "--method", "m", "--dataset", "d", "--output", "{out}",
      "--seed", "-2"], "argument --seed: must be an integer >= 0, got -2"),
])
def test_out_of_range_numbers_are_refused_while_parsing(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    command = "panohead render" if argv[0] == "panohead" else argv[0]
    usage, error = _refused(capsys, [word.format(out=out) for word in argv])
    assert usage == f"dualinv {command}"
    assert error == f"dualinv {command}: error: {message}"
    assert not out.exists()


@pytest.mark.parametrize("command, argv, old, new, value, dest", [
    (["train"], ["encoder1", "--checkpoint-out", "c.pt"], "--tiny", "--stand-in", None, "stand_in"),
    (["panohead", "render"], ["--network", "n.pt", "--out", "o"], "--quiet", "--no-progress", None, "no_progress"),
    (["panohead", "render"], ["--network", "n.pt", "--out", "o"], "--batch", "--batch-size", "3", "batch_size"),
    (["report"], [], "--output-dir", "--out", "x", "out"),
])
def test_renamed_flags_keep_their_old_name_hidden(capsys, command, argv, old, new, value, dest):
    parser = build_parser()
    given = [value] if value is not None else []
    with_new = parser.parse_args([*command, *argv, new, *given])
    with_old = parser.parse_args([*command, *argv, old, *given])
    assert getattr(with_new, dest) == getattr(with_old, dest) != getattr(parser.parse_args([*command, *argv]), dest)
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    shown = capsys.readouterr().out.split()
    words = {word.strip("[]") for word in shown}
    assert new in words and old not in words


def test_hidden_alias_is_never_suggested(capsys):
    _, error = _refused(capsys, ["train", "encoder1", "--checkpoint-out", "c.pt", "--tinyy"])
    assert "--tiny" not in error.replace("--tinyy", "")


def test_shared_ideas_have_one_flag_name_and_one_help():
    """The flags invert, edit and panohead render share are spelled and explained alike."""
    parser = build_parser()
    commands = {name: sub for name, sub in parser._subparsers._group_actions[0].choices.items()}
    render = commands["panohead"]._subparsers._group_actions[0].choices["render"]

    def options(sub):
        return {flag: action for action in sub._actions if action.help != argparse.SUPPRESS for flag in
                action.option_strings}

    invert, edit, render_options = options(commands["invert"]), options(commands["edit"]), options(render)
    for flag in ("--device", "--frames", "--mesh-resolution", "--network", "--stand-in", "--config"):
        assert invert[flag].help == edit[flag].help, flag
    assert invert["--device"].help == render_options["--device"].help == "cpu or cuda[:N] (default cpu)"
    assert "--stand-in" in options(commands["train"]) and "--no-progress" in options(commands["prepare"])
    assert "--no-progress" in render_options and "--batch-size" in render_options
    assert "--batch-size" in options(commands["evaluate"]) and "--out" in options(commands["report"])
