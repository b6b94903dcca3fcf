"""Grades leave for Canvas through nbgrader's own `nbgrader export --exporter=...`.

The gradebook is filled the way the course fills it (assignment, notebook, grade cells,
students, submissions, auto scores); the roster is a Canvas gradebook export
(tests/data/canvas_roster.csv: its "Points Possible" row, a test student, a name with
a comma and quotes, an assignment Canvas already has as "01_convolution (4242)").
"""
import contextlib
import csv
import os
import sys
from pathlib import Path

import pytest

from autograder import canvas

# nbgrader's own session handling warns on every new submission; nothing is wrong.
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

DATA = Path(__file__).resolve().parent / "data"
COURSE = "layers-from-scratch"
# assignment -> {grade cell: max points}
CELLS = {"01_convolution": {"test_conv2d": 12.0, "test_pad": 8.0},
         "09_layer_rms_norm": {"test_layer_norm": 3.0, "test_rms_norm": 2.0}}
# student -> assignment -> {grade cell: points}; zed is not on the Canvas roster.
SCORES = {"alice": {"01_convolution": {"test_conv2d": 12.0, "test_pad": 4.5},
                    "09_layer_rms_norm": {"test_layer_norm": 3.0, "test_rms_norm": 2.0}},
          "bob": {"01_convolution": {"test_conv2d": 0.0, "test_pad": 8.0}},
          "zed": {"09_layer_rms_norm": {"test_layer_norm": 1.0, "test_rms_norm": 0.0}}}


@pytest.fixture(scope="module")
def gradebook_url(tmp_path_factory):
    from nbgrader.api import Gradebook

    folder = tmp_path_factory.mktemp("gradebook")
    url = f"sqlite:///{folder / 'gradebook.db'}"
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    with Gradebook(url, COURSE) as gb:
        for assignment, cells in CELLS.items():
            gb.update_or_create_assignment(assignment)
            gb.update_or_create_notebook(assignment, assignment)
            for cell, points in cells.items():
                gb.update_or_create_grade_cell(cell, assignment, assignment,
                                               max_score=points, cell_type="code")
        for student, work in SCORES.items():
            gb.update_or_create_student(student)
            for assignment, points in work.items():
                gb.update_or_create_submission(assignment, student)
                for cell, value in points.items():
                    gb.find_grade(cell, assignment, assignment, student).auto_score = value
        # bob handed chapter 01 in late: nbgrader keeps the penalty per notebook.
        gb.find_submission_notebook("01_convolution", "01_convolution", "bob") \
            .late_submission_penalty = 3.0
        gb.db.commit()
    return url


def _read(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_nbgrader_export_writes_a_canvas_import_file(gradebook_url, tmp_path, capfd, monkeypatch):
    """`nbgrader export --exporter=...`, through nbgrader's own command-line app."""
    from jupyter_core.application import NoStart
    from nbgrader.apps.nbgraderapp import NbGraderApp

    out = tmp_path / "canvas.csv"
    monkeypatch.chdir(tmp_path)  # nbgrader reads ./nbgrader_config.py: none here
    app = NbGraderApp()
    app.initialize(["export", "--exporter=autograder.canvas.CanvasExportPlugin",
                    f"--CanvasExportPlugin.roster={DATA / 'canvas_roster.csv'}",
                    f"--to={out}", f"--db={gradebook_url}", f"--course={COURSE}"])
    with contextlib.suppress(NoStart):  # what `nbgrader` itself does once a subcommand ran
        app.start()
    log = capfd.readouterr().err
    assert "Using exporter: CanvasExportPlugin" in log
    rows = _read(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "01_convolution (4242)", "09_layer_rms_norm"]
    assert rows[1] == ["Points Possible", "", "", "", "", "20", "5"]
    assert rows[2:] == [
        ["Lovelace, Ada", "1001", "S0001", "alice", "Section A", "16.5", "5"],
        ["Hopper, Grace", "1002", "S0002", "grace", "Section A", "", ""],
        ['O\'Neil, Bob "Bobby"', "1003", "S0003", "bob", "Section B", "5", ""],
        ["Student, Test", "1999", "", "", "Section A", "", ""],
    ]
    # zed is in the gradebook, not on the roster: said in the log, not exported.
    assert "zed" in log


def _plugin(gradebook_url, tmp_path, **config):
    from nbgrader.api import Gradebook

    out = tmp_path / "out.csv"
    plugin = canvas.CanvasExportPlugin(roster=str(DATA / "canvas_roster.csv"), to=str(out),
                                       **config)
    with Gradebook(gradebook_url, COURSE) as gb:
        plugin.export(gb)
    return _read(out)


def test_options_missing_match_column_and_filters(gradebook_url, tmp_path):
    rows = _plugin(gradebook_url, tmp_path, missing="0", assignment=["09_layer_rms_norm"])
    assert rows[0][5:] == ["09_layer_rms_norm"]
    assert [r[5] for r in rows[2:]] == ["5", "0", "0", "0"]
    # Matched on the SIS User ID column, nobody is alice or bob: every score is missing.
    rows = _plugin(gradebook_url, tmp_path, match_column="SIS User ID")
    assert all(r[5:] == ["", ""] for r in rows[2:])
    rows = _plugin(gradebook_url, tmp_path, student=["bob"],
                   assignment_columns={"09_layer_rms_norm": "Layer norms (77)"})
    assert rows[0][5:] == ["01_convolution (4242)", "Layer norms (77)"]
    assert rows[2:] == [['O\'Neil, Bob "Bobby"', "1003", "S0003", "bob", "Section B", "5", ""]]


def test_a_file_that_is_not_a_canvas_roster_is_refused(gradebook_url, tmp_path):
    bad = tmp_path / "roster.csv"
    bad.write_text("name,login\nAda,alice\n", encoding="utf-8")
    with pytest.raises(ValueError, match="SIS Login ID"):
        canvas.read_roster(str(bad), "SIS Login ID")
