"""`make hub`'s set-up step, run as root: the course's users and the folders they share.

- one instructor and N students as local users (created when missing); a user without a
  password in HOME/hub/passwords gets a random one, printed once and kept there (0600);
- HOME/course: what every user's kernels import (autograder/, data/, notebooks/; never
  solutions/), refreshed from this clone at each start;
- HOME/exchange: nbgrader's exchange, writable by all (nbgrader sets the permissions of
  what it puts inside);
- HOME/etc/student, HOME/etc/instructor: the Jupyter configuration of each role (from
  deploy/hub/), put on JUPYTER_CONFIG_PATH by jupyterhub_config.py;
- the instructor's own copy of the course, ~INSTRUCTOR/layers-from-scratch (sources,
  gradebook, Formgrader's root; 0700): made when missing, never overwritten after;
- the homes of the users it creates are 0700: no student reads another's work;
- JupyterLab's settings for all: no news popup.

The clone itself may sit where other users cannot read it (a 0700 home): nothing here
or in the hub's configuration makes a user's server read it.
"""
from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
from pathlib import Path

COURSE = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PUBLIC = ("autograder", "data", "notebooks")
INSTRUCTOR_COPY = ("nbgrader_config.py", "pyproject.toml", "solutions", "notebooks", "autograder", "data")
COURSE_FOLDER = "layers-from-scratch"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")


def ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
        entry = pwd.getpwnam(name)
        # Students must not read each other's work (useradd may make homes world-readable).
        Path(entry.pw_dir).chmod(0o700)
        print(f"hub: created user {name}")
        return entry


def passwords(path: Path, names: list[str]) -> dict:
    known = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if ":" in line:
                user, password = line.split(":", 1)
                known[user] = password
    new = {n: secrets.token_urlsafe(9) for n in names if n not in known}
    if new:
        subprocess.run(["chpasswd"], input="".join(f"{n}:{p}\n" for n, p in new.items()),
                       text=True, check=True)
        known.update(new)
        path.write_text("".join(f"{n}:{p}\n" for n, p in known.items()))
        for name, password in new.items():
            print(f"hub: password of {name}: {password}  (kept in {path})")
    path.chmod(0o600)
    return known


def refresh(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    if source.is_dir():
        shutil.copytree(source, target, ignore=IGNORE)
    else:
        shutil.copy2(source, target)


def readable_by_all(path: Path) -> bool:
    for folder in [path, *path.parents]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for folder, dirs, files in os.walk(path):
        os.chown(folder, uid, gid)
        for name in files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="the hub's folder (readable by all)")
    parser.add_argument("--venv", required=True, help="the users' Python environment")
    parser.add_argument("--instructor", required=True)
    parser.add_argument("--students", required=True, help="names separated by spaces or commas")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("hub: run as root (it creates users and starts their servers)", file=sys.stderr)
        return 1
    os.umask(0o022)
    students = [s for s in args.students.replace(",", " ").split() if s]
    home = Path(args.home)
    for folder, mode in ((home, 0o755), (home / "hub", 0o700), (home / "etc", 0o755),
                         (home / "exchange", 0o777)):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(mode)
    python = Path(args.venv) / "bin" / "python"
    if not readable_by_all(Path(os.path.realpath(python))):
        print(f"hub: {python} is not readable by the course's users", file=sys.stderr)
        return 1

    # No "news" popup asking each student about a privacy policy: a course has no use for it.
    overrides = Path(args.venv) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    overrides.parent.mkdir(parents=True, exist_ok=True)
    overrides.write_text(json.dumps({"@jupyterlab/apputils-extension:notification":
                                     {"fetchNews": "false", "checkForUpdates": False}}, indent=1))

    users = {name: ensure_user(name) for name in [args.instructor, *students]}
    passwords(home / "hub" / "passwords", list(users))

    (home / "course").mkdir(exist_ok=True)
    for name in PUBLIC:
        refresh(COURSE / name, home / "course" / name)
    for role in ("student", "instructor"):
        refresh(HERE / role, home / "etc" / role)

    teacher = users[args.instructor]
    copy = Path(teacher.pw_dir) / COURSE_FOLDER
    if not copy.exists():
        copy.mkdir(parents=True)
        for name in INSTRUCTOR_COPY:
            refresh(COURSE / name, copy / name)
        seed = COURSE / "grading-runs" / "seed"
        if seed.exists():
            (copy / "grading-runs").mkdir()
            shutil.copy2(seed, copy / "grading-runs" / "seed")
        chown_tree(copy, teacher.pw_uid, teacher.pw_gid)
        print(f"hub: the instructor's course is {copy}")
    copy.chmod(0o700)  # answers and the gradebook: the instructor's alone
    print(f"hub: {len(students)} student(s), instructor {args.instructor}, exchange {home / 'exchange'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
