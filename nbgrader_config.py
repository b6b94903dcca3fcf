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
c.Exchange.root = c.CourseDirectory.root + "/exchange"

# Student notebooks keep no outputs; the release adds no header.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.enforce_metadata = True

# Hidden tests never reach feedback (nbgrader leaves them in by default).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Test cells finish in well under 10 s; 30 s is the per-cell limit while grading.
c.Execute.timeout = 30

# Grades for Canvas's gradebook import (autograder/canvas.py): run
#   nbgrader export --exporter=autograder.canvas.CanvasExportPlugin --to canvas_grades.csv
# with Canvas's gradebook export saved as roster.csv here, or name it:
# c.CanvasExportPlugin.roster = c.CourseDirectory.root + "/roster.csv"
