"""The one exception a test cell raises."""


class CheckFailed(AssertionError):
    """A check did not pass; the message is the feedback, meant to fit on one screen.

    An AssertionError, so nbgrader (and pytest) treat it as a failed test.
    """

    def __str__(self):
        return self.args[0] if self.args else ""
