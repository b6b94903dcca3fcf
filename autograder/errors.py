"""The one exception a test cell raises."""


class CheckFailed(AssertionError):
    """A check did not pass; the message is the feedback, meant to fit on one screen.

    An AssertionError, so nbgrader (and pytest) treat it as a failed test. ``bug_id`` is
    the id of the likely bug the message names (``None`` when it names none).
    """

    def __init__(self, message: str = "", bug_id: str | None = None):
        super().__init__(message)
        self.bug_id = bug_id

    def __str__(self):
        return self.args[0] if self.args else ""
