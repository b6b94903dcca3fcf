"""deploy/ is checked offline as far as it can be (deploy/README.md says what is not).

- every file parses (YAML, Python, TOML, the Dockerfile's instructions);
- Kubernetes manifests, and the grading pod that the z2jh values describe, validate
  against Kubernetes' schemas (kubernetes-validate, its bundled schemas, strict: an
  unknown field is an error);
- the z2jh values, merged over the chart's defaults as Helm merges them, validate against
  the chart's values.schema.json (zero-to-jupyterhub 4.4.0, tests/data/deploy/);
- the TLJH config validates against TLJH 2.0.0's config schema; ngshare's chart has no
  schema, so its values' keys are checked against the chart's own values.yaml;
- the pieces agree: one ngshare URL, one token placeholder, one security context, the
  image built from requirements.txt's pins.
Every check also refuses a broken copy, so none of them can pass by accident.
"""
import ast
import copy
import importlib.util
import json
import re
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from autograder.paths import COURSE_ROOT

DEPLOY = COURSE_ROOT / "deploy"
DATA = Path(__file__).resolve().parent / "data" / "deploy"
Z2JH = DATA / "z2jh-4.4.0"
# The oldest Kubernetes the grading pod is meant for (pod user namespaces on by default)
# and the newest whose schemas kubernetes-validate bundles.
K8S_VERSIONS = ("1.33.0", kubernetes_validate.latest_version())
# TLJH 2.0.0's hook names (tljh/hooks.py at tag 2.0.0).
TLJH_HOOKS = {"tljh_extra_user_conda_packages", "tljh_extra_user_conda_channels",
              "tljh_extra_user_pip_packages", "tljh_extra_hub_pip_packages",
              "tljh_extra_apt_packages", "tljh_custom_jupyterhub_config",
              "tljh_config_post_install", "tljh_post_install", "tljh_new_user_create"}
DOCKER_INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY",
                       "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD",
                       "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


def _yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _values() -> dict:
    return _yaml(DEPLOY / "z2jh" / "values.yaml")


def helm_merge(defaults, overrides):
    """Helm's coalescing of user values over a chart's: maps merge, null deletes a key,
    anything else replaces."""
    if not isinstance(defaults, dict) or not isinstance(overrides, dict):
        return copy.deepcopy(overrides)
    merged = copy.deepcopy(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = helm_merge(merged.get(key), value)
    return merged


def _schema_errors(instance, schema) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(instance)]


def _k8s_errors(resource) -> list[str]:
    errors = []
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{version}: {error}")
    return errors


def _dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined; comments dropped."""
    instructions, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, args = pending.strip().partition(" ")
            instructions.append((keyword, args))
            pending = ""
    assert not pending, f"{path}: a continuation line ends the file"
    return instructions


# Every file parses ----------------------------------------------------------------------

def test_every_file_in_deploy_parses():
    files = sorted(p for p in DEPLOY.rglob("*") if p.is_file())
    kinds = set()
    for path in files:
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            assert all(doc is not None for doc in yaml.safe_load_all(text)), path
        elif path.suffix == ".py":
            ast.parse(text, str(path))
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix == ".json":
            assert isinstance(json.loads(text), dict), path
        elif path.name == "Dockerfile":
            instructions = _dockerfile_instructions(path)
            assert instructions[0][0] in ("FROM", "ARG"), path
            assert {k for k, _ in instructions} <= DOCKER_INSTRUCTIONS, instructions
        elif path.suffix not in (".md", ".txt"):
            pytest.fail(f"{path}: no check for this kind of file")
        kinds.add(path.suffix or path.name)
    assert {".yaml", ".py", ".toml", "Dockerfile", ".md", ".txt"} <= kinds


def test_the_dockerfile_check_refuses_an_unknown_instruction(tmp_path):
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python:3.11-slim\nRUNN pip install numpy\n", encoding="utf-8")
    assert not {k for k, _ in _dockerfile_instructions(broken)} <= DOCKER_INSTRUCTIONS


# zero-to-jupyterhub ---------------------------------------------------------------------

def test_z2jh_values_validate_against_the_chart_schema():
    schema = json.loads((Z2JH / "values.schema.json").read_text(encoding="utf-8"))
    merged = helm_merge(_yaml(Z2JH / "values.yaml"), _values())
    assert _schema_errors(merged, schema) == []
    # The schema is strict about names: a misspelt key is refused, not ignored.
    typo = copy.deepcopy(_values())
    typo["singleuser"]["profilelist"] = typo["singleuser"].pop("profileList")
    assert _schema_errors(helm_merge(_yaml(Z2JH / "values.yaml"), typo), schema)


def _grading_pod(values: dict) -> dict:
    """The pod KubeSpawner would make from the grading profile (the parts we set)."""
    profile = next(p for p in values["singleuser"]["profileList"] if p.get("slug") == "grading")
    override = profile["kubespawner_override"]
    image = values["singleuser"]["image"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "jupyter-instructor", "namespace": "course"},
            "spec": {**override["extra_pod_config"],
                     "securityContext": {"runAsUser": 1000, "fsGroup": 100},
                     "containers": [{"name": "notebook",
                                     "image": f"{image['name']}:{image['tag']}",
                                     "securityContext": override["container_security_context"]}]}}


def test_the_grading_profile_is_a_valid_pod_for_kubernetes():
    pod = _grading_pod(_values())
    assert _k8s_errors(pod) == []
    assert pod["spec"]["hostUsers"] is False
    context = pod["spec"]["containers"][0]["securityContext"]
    assert context["procMount"] == "Unmasked"
    assert context["seccompProfile"] == {"type": "Unconfined"}
    assert context["appArmorProfile"] == {"type": "Unconfined"}
    broken = copy.deepcopy(pod)
    broken["spec"]["containers"][0]["securityContext"]["procMount"] = True
    assert _k8s_errors(broken)
    broken = copy.deepcopy(pod)
    broken["spec"]["containers"][0]["securityContext"]["seccomp"] = {"type": "Unconfined"}
    assert _k8s_errors(broken)


def test_manifests_validate_against_kubernetes_schemas():
    paths = sorted((DEPLOY / "z2jh" / "manifests").glob("*.yaml"))
    resources = [doc for path in paths for doc in yaml.safe_load_all(path.read_text())]
    assert {r["kind"] for r in resources} >= {"Job", "NetworkPolicy"}
    for resource in resources:
        assert _k8s_errors(resource) == [], resource["kind"]
    job = next(r for r in resources if r["kind"] == "Job")
    broken = copy.deepcopy(job)
    broken["spec"]["template"]["spec"]["hostUser"] = False
    assert _k8s_errors(broken)


def test_the_job_and_the_grading_profile_allow_the_same_things():
    job = next(doc for doc in yaml.safe_load_all(
        (DEPLOY / "z2jh" / "manifests" / "grading-job.yaml").read_text()) if doc["kind"] == "Job")
    pod = _grading_pod(_values())
    spec = job["spec"]["template"]["spec"]
    assert spec["hostUsers"] is pod["spec"]["hostUsers"] is False
    container, notebook = spec["containers"][0], pod["spec"]["containers"][0]
    assert container["securityContext"] == notebook["securityContext"]
    assert container["image"] == notebook["image"]


def test_ngshare_values_use_only_the_chart_keys():
    def keys(tree, prefix=""):
        out = set()
        for key, value in tree.items():
            out.add(prefix + key)
            if isinstance(value, dict) and value:
                out |= keys(value, prefix + key + ".")
        return out

    chart = keys(_yaml(DATA / "ngshare" / "values.yaml"))
    ours = _yaml(DEPLOY / "z2jh" / "ngshare-values.yaml")
    # deployment.resources is free-form in the chart ({}): only its top key is checked.
    ours_keys = {k for k in keys(ours) if not k.startswith("deployment.resources.")}
    assert ours_keys <= chart, ours_keys - chart
    assert not ({"ngshare.hub_api_tokn"} <= chart)


def test_hub_ngshare_and_the_image_agree():
    values = _values()
    ngshare = _yaml(DEPLOY / "z2jh" / "ngshare-values.yaml")
    chart = _yaml(DATA / "ngshare" / "values.yaml")
    service = values["hub"]["extraConfig"]["ngshare.py"]
    url = re.search(r'"url": "([^"]+)"', service).group(1)
    token = re.search(r'"api_token": "([^"]+)"', service).group(1)
    assert token.startswith("CHANGE-ME")
    assert ngshare["ngshare"]["hub_api_token"].startswith("CHANGE-ME")
    port = chart["deployment"]["port"]
    assert url == f"http://ngshare.course.svc.cluster.local:{port}"
    config = (DEPLOY / "z2jh" / "nbgrader_config.py").read_text()
    assert f'configureExchange(c, "{url}/services/ngshare")' in config
    [rule] = values["singleuser"]["networkPolicy"]["egress"]
    assert rule["ports"] == [{"port": port, "protocol": "TCP"}]
    assert rule["to"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ngshare"}
    for code in (service, values["hub"]["extraConfig"]["grading-profile.py"]):
        ast.parse(code)


def test_the_image_installs_the_course_pins():
    instructions = _dockerfile_instructions(DEPLOY / "z2jh" / "Dockerfile")
    image = next(args for k, args in instructions if k == "FROM")
    environment = _yaml(COURSE_ROOT / "environment.yml")
    python = next(d for d in environment["dependencies"] if isinstance(d, str)
                  and d.startswith("python="))
    assert image.startswith(f"python:{python.split('=')[1]}-"), (image, python)
    runs = " ".join(args for k, args in instructions if k == "RUN")
    copies = " ".join(args for k, args in instructions if k == "COPY")
    assert "requirements.txt" in copies and "-r /tmp/pins/requirements.txt" in runs
    assert "grep -E '^torch==' /tmp/pins/requirements.txt" in runs
    assert "bubblewrap" in runs and re.search(r"ngshare-exchange==\d+\.\d+\.\d+", runs)
    pins = [line.split("#")[0].strip() for line in
            (DEPLOY / "z2jh" / "requirements-singleuser.txt").read_text().splitlines()]
    pins = [p for p in pins if p]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.+]*", p) for p in pins)
    hub = _yaml(Z2JH / "Chart.yaml")["appVersion"]
    assert f"jupyterhub=={hub}" in pins  # the single-user server speaks the hub's version


# The Littlest JupyterHub ----------------------------------------------------------------

def test_tljh_config_validates_against_tljh_schema():
    schema = json.loads((DATA / "tljh-2.0.0" / "config_schema.json").read_text())
    config = _yaml(DEPLOY / "tljh" / "config.yaml")
    assert _schema_errors(config, schema) == []
    broken = copy.deepcopy(config)
    broken["limits"]["cpu"] = "2"
    assert _schema_errors(broken, schema)


def test_tljh_plugin_hooks_exist_and_install_the_course_pins(tmp_path):
    path = DEPLOY / "tljh" / "plugin" / "tljh_layers_from_scratch.py"
    spec = importlib.util.spec_from_file_location("tljh_layers_from_scratch", path)
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    hooks = {name for name in dir(plugin)
             if hasattr(getattr(plugin, name), "tljh_impl")}
    assert hooks and hooks <= TLJH_HOOKS, hooks
    assert "bubblewrap" in plugin.tljh_extra_apt_packages()
    torch_cpu, pins = plugin.pip_commands(COURSE_ROOT, "python")
    assert "torch==2.13.0" in torch_cpu and plugin.TORCH_CPU_INDEX in torch_cpu
    assert pins[-2:] == ["-r", str(COURSE_ROOT / "requirements.txt")]
    ast.parse(plugin.nbgrader_site_config())
    entry = tomllib.loads((path.parent / "pyproject.toml").read_text())
    assert entry["project"]["entry-points"]["tljh"] == {"layers_from_scratch": path.stem}
    unpinned = tmp_path / "requirements.txt"
    unpinned.write_text("torch\nnumpy==2.4.6\n")
    with pytest.raises(ValueError):
        plugin.pip_commands(tmp_path, "python")
