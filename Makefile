# Layers from Scratch. Every target creates .venv first when it is missing.
# Without make, run the commands under each target by hand (README: "Without make").

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# nbgrader runs `alembic` (and jupyter its extensions) from PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

LAB_ARGS ?=
JOBS ?= 2
SEED ?=
TEST_ARGS ?=

.PHONY: venv sandbox-tools lab test release grade bench bench-grade book clean hub hub-venv hub-users

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# Grading kernels run in bubblewrap sandboxes: installed here when missing and we are root
# with apt; otherwise say what to install (grading then stops with the same advice).
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap (the grader's sandbox) with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null; \
	  else \
	    echo "bubblewrap is missing: install it (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap)" >&2; \
	  fi; }

# The student's command: their own copy of the book in work/, then JupyterLab.
lab: $(STAMP)
	$(PY) -m autograder lab-copy work
	mkdir -p exchange
	$(PY) -m jupyter lab --allow-root --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/work $(LAB_ARGS)

# Lint first (ruff, configured in pyproject.toml), then the parallel part, then the tests
# that load the machine on purpose, alone.
test: $(STAMP) sandbox-tools
	$(VENV)/bin/ruff check autograder tests tools
	MPLBACKEND=Agg $(PY) -m pytest -n $(JOBS) --dist loadfile --nbval-lax -m "not serial" solutions tests $(TEST_ARGS)
	MPLBACKEND=Agg $(PY) -m pytest -m serial tests $(TEST_ARGS)

release: $(STAMP)
	$(PY) -m autograder release

# SCHEDULER=tcp://HOST:PORT grades on that Dask cluster (README: "Grading a large course");
# JOBS is then ignored: the cluster's workers set the parallelism.
SCHEDULER ?=
grade: $(STAMP) sandbox-tools
	$(PY) -m autograder grade $(if $(SCHEDULER),--scheduler $(SCHEDULER),--jobs $(JOBS)) \
	  $(if $(SEED),--seed $(SEED))

# Reference answers against torch (float32), one run: ratios, threads, im2col memory.
bench: $(STAMP)
	MPLBACKEND=Agg $(PY) -m autograder bench

# The fast grader against plain nbgrader on a synthetic class (20 students x 3 chapters):
# rates, ratio, score agreement. Slow on nbgrader's side; `STUDENTS=5` shrinks the class.
# First the cluster figures: ~200 notebooks on a local Dask cluster of 1 and 2 workers
# (`CLUSTER_STUDENTS=0` skips them).
STUDENTS ?=
CLUSTER_STUDENTS ?=
bench-grade: $(STAMP)
	MPLBACKEND=Agg $(PY) -m autograder bench-grade --jobs $(JOBS) $(if $(SEED),--seed $(SEED)) \
	  $(if $(STUDENTS),--students $(STUDENTS)) $(if $(CLUSTER_STUDENTS),--cluster-students $(CLUSTER_STUDENTS))

# The web edition into _build/book (Sphinx, myst-nb, sphinx-book-theme): every notebook
# executed with the answers, shown with the stubs; MathJax comes from the npm registry once.
# Where each page's launch links send a reader (defaults: autograder/book/conf.py):
JUPYTERHUB_URL ?=
BINDERHUB_URL ?=
REPOSITORY_URL ?=
REPOSITORY_BRANCH ?=
book: $(STAMP)
	$(PY) -m autograder book --jobs $(JOBS) $(if $(JUPYTERHUB_URL),--jupyterhub-url $(JUPYTERHUB_URL)) \
	  $(if $(BINDERHUB_URL),--binderhub-url $(BINDERHUB_URL)) \
	  $(if $(REPOSITORY_URL),--repository-url $(REPOSITORY_URL)) \
	  $(if $(REPOSITORY_BRANCH),--branch $(REPOSITORY_BRANCH))

# A course on one machine: JupyterHub, one instructor and N students as local users
# (created when missing), nbgrader's exchange, Formgrader for the instructor (run as root).
# The users' servers run from HUB_VENV, built from HUB_PYTHON outside this clone (which
# may sit in a folder other users cannot read); configuration: deploy/hub/.
HUB_HOME ?= /srv/layers-from-scratch
HUB_PYTHON ?= /usr/bin/python3
HUB_VENV ?= /opt/layers-from-scratch/venv-$(shell sha256sum requirements.txt | cut -c1-12)
HUB_IP ?=
HUB_PORT ?= 8000
INSTRUCTOR ?= instructor
STUDENTS ?= student1 student2 student3
CHP := .hub/node_modules/.bin/configurable-http-proxy

# Its name holds a hash of requirements.txt: a change of pins builds a new one.
$(HUB_VENV)/.installed:
	umask 022 && $(HUB_PYTHON) -m venv $(HUB_VENV)
	umask 022 && $(HUB_VENV)/bin/python -m pip install --quiet -r requirements.txt
	touch $@

hub-venv: $(HUB_VENV)/.installed

$(CHP):
	npm install --silent --no-save --no-audit --no-fund --prefix .hub configurable-http-proxy@5.3.0

hub-users: $(STAMP) $(HUB_VENV)/.installed
	$(PY) deploy/hub/prepare.py --home "$(HUB_HOME)" --venv "$(HUB_VENV)" \
	  --instructor "$(INSTRUCTOR)" --students "$(STUDENTS)"

hub: $(STAMP) $(HUB_VENV)/.installed $(CHP) hub-users
	cd "$(HUB_HOME)/hub" && LFS_COURSE="$(CURDIR)" LFS_HUB_HOME="$(HUB_HOME)" \
	  LFS_HUB_VENV="$(HUB_VENV)" LFS_HUB_INSTRUCTOR="$(INSTRUCTOR)" LFS_HUB_STUDENTS="$(STUDENTS)" \
	  LFS_HUB_IP="$(HUB_IP)" LFS_HUB_PORT="$(HUB_PORT)" \
	  exec "$(CURDIR)/$(VENV)/bin/jupyterhub" -f "$(CURDIR)/deploy/hub/jupyterhub_config.py"

clean:
	rm -rf work/ autograded/ feedback/ gradebook.db grades.csv grades_by_exercise.csv \
	  similarity.csv similarity.html canvas_grades.csv \
	  grading-runs/ _build/ artifacts/ .bench/
