"""nbgrader for the instructor on the course hub. The course's own nbgrader_config.py
(in the instructor's copy of the course, also on JUPYTER_CONFIG_PATH) sets the rest and
takes the shared exchange from LFS_EXCHANGE."""
c = get_config()  # noqa: F821 - provided by traitlets
c.CourseDirectory.course_id = "layers-from-scratch"
