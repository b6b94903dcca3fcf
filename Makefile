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

.PHONY: venv lab test release grade bench bench-grade book clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# The student's command: their own copy of the book in work/, then JupyterLab.
lab: $(STAMP)
	$(PY) -m autograder lab-copy work
	mkdir -p exchange
	$(PY) -m jupyter lab --allow-root --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/work $(LAB_ARGS)

test: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest -n $(JOBS) --dist loadfile --nbval-lax solutions tests $(TEST_ARGS)

release: $(STAMP)
	$(PY) -m autograder release

# SCHEDULER=tcp://HOST:PORT grades on that Dask cluster (README: "Grading a large course");
# JOBS is then ignored: the cluster's workers set the parallelism.
SCHEDULER ?=
grade: $(STAMP)
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

# The static web edition (executes every chapter; MathJax comes from the npm registry once).
book: $(STAMP)
	$(PY) -m autograder book --out _build/book
	@echo "open _build/book/index.html"

clean:
	rm -rf work/ autograded/ feedback/ gradebook.db grades.csv grades_by_exercise.csv \
	  grading-runs/ _build/ artifacts/ .bench/
