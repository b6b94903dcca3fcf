"""nbgrader's course configuration, read from the course root (this folder)."""
import os

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + c.CourseDirectory.root + "/gradebook.db"
c.CourseDirectory.course_id = "layers-from-scratch"
# On a JupyterHub the exchange is shared by every user of the course (deploy/hub/).
c.Exchange.root = os.environ.get("LFS_EXCHANGE") or c.CourseDirectory.root + "/exchange"

# Student notebooks keep no outputs; the release adds no header.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.enforce_metadata = True

# Hidden tests never reach feedback (nbgrader leaves them in by default).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# nbgrader autograde (and Formgrader's Autograde button) grade through the trusted grader,
# as `make grade` does: nbgrader's Execute step, which would run the submission in a plain
# kernel, is replaced by the grader's verdicts (autograder/nbgrader_bridge.py); nbgrader's
# SaveAutoGrades then scores them. A submission nbgrader cannot read still reaches the
# grader, and the gradebook learns the course's assignments from solutions/ when it lacks
# them (no `make release` needed before the first autograde).
c.Autograde.exporter_class = "autograder.nbgrader_bridge.SubmissionExporter"
c.Autograde.autograde_preprocessors = [
    "autograder.nbgrader_bridge.TrustedGrade",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]


def _register(assignment=None, student=None, notebooks=None):
    from autograder.nbgrader_bridge import register_assignments

    register_assignments(c.CourseDirectory.root, c.CourseDirectory.db_url, assignment or "*",
                         c.CourseDirectory.course_id)


c.Autograde.pre_convert_hook = _register

# Test cells finish in well under 10 s; 30 s is the per-cell limit while grading.
c.Execute.timeout = 30

# Grades for Canvas's gradebook import (autograder/canvas.py): run
#   nbgrader export --exporter=autograder.canvas.CanvasExportPlugin --to canvas_grades.csv
# with Canvas's gradebook export saved as roster.csv here, or name it:
# c.CanvasExportPlugin.roster = c.CourseDirectory.root + "/roster.csv"
