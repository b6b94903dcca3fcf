"""JupyterHub for a course on one machine (`make hub`): local users, one instructor.

`make hub` passes the settings as LFS_HUB_* variables and runs deploy/hub/prepare.py
first (users, shared folders). Every user logs in with their system password (PAM) and
gets their own JupyterLab, run as that user from LFS_HUB_VENV — a Python environment
outside the course's clone, readable by all, because the clone's own .venv may sit in a
folder no other user can enter (a 0700 home). Students get nbgrader's Assignment List
(fetch, submit, feedback); the instructor also gets Formgrader, rooted at their copy of
the course, whose Autograde button grades through the trusted grader (nbgrader_config.py).
"""
import os
import pwd

c = get_config()  # noqa: F821 - provided by traitlets

HOME = os.environ["LFS_HUB_HOME"]
VENV = os.environ["LFS_HUB_VENV"]
COURSE = os.environ["LFS_COURSE"]  # the clone (read by the hub, as root, only)
INSTRUCTOR = os.environ["LFS_HUB_INSTRUCTOR"]
STUDENTS = set(os.environ["LFS_HUB_STUDENTS"].replace(",", " ").split())
PORT = int(os.environ.get("LFS_HUB_PORT", "8000"))
IP = os.environ.get("LFS_HUB_IP", "")

c.JupyterHub.bind_url = f"http://{IP}:{PORT}"
# The hub's own API and the proxy's, on the next two ports (several hubs can share a machine).
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{PORT + 1}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [os.path.join(COURSE, ".hub", "node_modules", ".bin",
                                                "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = os.path.join(HOME, "hub", "proxy.pid")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(HOME, "hub", "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(HOME, "hub", "jupyterhub_cookie_secret")

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = STUDENTS | {INSTRUCTOR}
c.Authenticator.admin_users = {INSTRUCTOR}
c.PAMAuthenticator.open_sessions = False  # no login session is needed to run a server

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [os.path.join(VENV, "bin", "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180


def pre_spawn_hook(spawner):
    """Each role's Jupyter configuration, the course's package and the shared exchange."""
    name = spawner.user.name
    env = {
        "PATH": os.path.join(VENV, "bin") + ":/usr/local/bin:/usr/bin:/bin",  # nbgrader runs alembic
        "LFS_EXCHANGE": os.path.join(HOME, "exchange"),
    }
    if name == INSTRUCTOR:
        course = os.path.join(pwd.getpwnam(name).pw_dir, "layers-from-scratch")
        # The course's nbgrader_config.py is read from its folder; its autograder/ is imported.
        env["JUPYTER_CONFIG_PATH"] = f"{course}:{HOME}/etc/instructor"
        env["PYTHONPATH"] = course
    else:
        env["JUPYTER_CONFIG_PATH"] = f"{HOME}/etc/student"
        env["PYTHONPATH"] = os.path.join(HOME, "course")
    spawner.environment.update(env)


c.Spawner.pre_spawn_hook = pre_spawn_hook
