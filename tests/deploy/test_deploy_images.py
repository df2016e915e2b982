"""Static checks of images/ (nothing is built here): pins agree with pyproject.toml and the
Makefile, the build context has what the Dockerfiles copy, and the images run as non-root."""

from __future__ import annotations

import fnmatch
import re
import shlex
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = {"base": REPO / "images/base/Dockerfile", "train": REPO / "images/train/Dockerfile"}
EXTRAS = {"base": {"kfp", "azure"}, "train": {"unsloth", "kfp", "azure"}}
TORCH_INDEX = {
    "base": "https://download.pytorch.org/whl/cpu",
    "train": "https://download.pytorch.org/whl/cu",
}
MODEL_CACHE = "/models/cache"  # where manifests/volumes/pvc.yaml says the model-cache PVC goes
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][^\s\"',;\\]*)")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, ARG defaults substituted."""
    lines, current = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += line
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        lines.append(current)
        current = ""
    args: dict[str, str] = {}
    result = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        for name, value in args.items():
            rest = rest.replace(f"${{{name}}}", value).replace(f"${name}", value)
        if keyword.upper() == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name.strip()] = value.strip()
        result.append((keyword.upper(), rest.strip()))
    return result


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def requirements() -> dict[str, Requirement]:
    """Every requirement of pyproject (core and extras), by normalized name."""
    project = pyproject()["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        found += [Requirement(r) for r in extra if not r.startswith("qtrain[")]
    return {normalize(r.name): r for r in found}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """Every ``name==version`` a Dockerfile's RUN lines install or constrain."""
    found: dict[str, str] = {}
    for keyword, rest in instructions(path):
        if keyword != "RUN":
            continue
        for token in re.split(r"[\s\"']+|\\n", rest):
            match = PIN.match(token)
            if match:
                name, version = normalize(match[1]), match[2]
                assert found.setdefault(name, version) == version, f"{path}: two pins of {name}"
    return found


@pytest.mark.parametrize("image", DOCKERFILES)
def test_every_pin_agrees_with_pyproject(image: str) -> None:
    required = requirements()
    for name, version in pins(DOCKERFILES[image]).items():
        if name in required:
            assert required[name].specifier.contains(version, prereleases=True), (
                f"images/{image}/Dockerfile pins {name}=={version}, pyproject says {required[name]}"
            )


@pytest.mark.parametrize("image", DOCKERFILES)
def test_torch_is_pinned_like_the_makefile_and_installed_first(image: str) -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    (make_pin,) = re.findall(r"^TORCH \?= torch==(\S+)$", makefile, flags=re.M)
    assert pins(DOCKERFILES[image])["torch"] == make_pin
    runs = [rest for keyword, rest in instructions(DOCKERFILES[image]) if keyword == "RUN"]
    torch_run = next(
        i for i, r in enumerate(runs) if f"torch=={make_pin}" in r and "pip install" in r
    )
    qtrain_run = next(i for i, r in enumerate(runs) if "qtrain-*.whl" in r)
    assert torch_run < qtrain_run, "torch must be installed before qtrain pulls its own"
    assert f"--index-url {TORCH_INDEX[image]}" in runs[torch_run]
    assert "PIP_CONSTRAINT=" in " ".join(
        r for k, r in instructions(DOCKERFILES[image]) if k == "ENV"
    )


@pytest.mark.parametrize("image", DOCKERFILES)
def test_image_installs_qtrain_with_its_extras(image: str) -> None:
    runs = " ".join(r for k, r in instructions(DOCKERFILES[image]) if k == "RUN")
    found = [set(e.split(",")) for e in re.findall(r"qtrain-\*\.whl\)\[([a-z,_-]+)\]", runs)]
    assert EXTRAS[image] in found  # (train's CPU variant, UNSLOTH=cpu, drops unsloth's deps)
    assert EXTRAS[image] <= set(pyproject()["project"]["optional-dependencies"])


def test_lockstep_pins_in_pyproject() -> None:
    """kfp/kfp-kubernetes and unsloth/unsloth_zoo release together: one pin each pair."""
    required = requirements()
    for first, second in (("kfp", "kfp-kubernetes"), ("unsloth", "unsloth-zoo")):
        assert str(required[first].specifier) == str(required[second].specifier)
        assert str(required[first].specifier).startswith("==")


@pytest.mark.parametrize("image", DOCKERFILES)
def test_python_version_matches_pyproject(image: str) -> None:
    froms = [
        rest.split()[0] for keyword, rest in instructions(DOCKERFILES[image]) if keyword == "FROM"
    ]
    assert froms, "no FROM line"
    target = pyproject()["tool"]["ruff"]["target-version"]  # py311
    supported = SpecifierSet(pyproject()["project"]["requires-python"])
    for ref in froms:
        name, _, tag = ref.partition(":")
        assert tag and tag != "latest" and "$" not in ref, f"unpinned base image {ref}"
        assert name == "python", f"unexpected base image {ref}"
        version = tag.split("-")[0]
        assert version in supported and f"py{version.replace('.', '')}" == target


@pytest.mark.parametrize("image", DOCKERFILES)
def test_copy_sources_exist_and_are_in_the_build_context(image: str) -> None:
    ignored = [
        line.strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for keyword, rest in instructions(DOCKERFILES[image]):
        if keyword not in ("COPY", "ADD") or "--from=" in rest:
            continue
        *sources, _dest = shlex.split(rest)
        for source in sources:
            assert (REPO / source).exists(), f"COPY source {source} does not exist"
            excluded = False  # the last pattern that matches decides; "!" re-includes
            for pattern in ignored:
                if fnmatch.fnmatch(source, pattern.removeprefix("!")):
                    excluded = not pattern.startswith("!")
            assert not excluded, f"{source} is in .dockerignore"


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".tools", "runs", ".pytest_cache", ".ruff_cache"} <= ignored


@pytest.mark.parametrize("image", DOCKERFILES)
def test_runs_as_non_root_with_the_model_cache_and_no_secrets(image: str) -> None:
    steps = instructions(DOCKERFILES[image])
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    env = " ".join(rest for keyword, rest in steps if keyword == "ENV")
    assert f"HF_HOME={MODEL_CACHE}" in env
    for keyword, rest in steps:
        if keyword in ("ENV", "ARG"):
            assert not re.search(r"(KEY|SECRET|TOKEN|PASSWORD|CONNECTION_STRING)\w*=", rest), rest


def test_makefile_names_images_through_qtrain_images() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for target in ("images", "image-base", "image-train", "images-push"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), f"no make target {target}"
    assert "from qtrain.images import" in makefile
    for image in DOCKERFILES:
        assert f"-f images/{image}/Dockerfile" in makefile


def test_base_image_has_the_packages_submit_compiles_with() -> None:
    """`qtrain submit` imports qtrain_kfp.pipelines and .components: packaged in the wheel."""
    wheel = pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]
    steps = instructions(DOCKERFILES["base"])
    copied = {
        source for keyword, rest in steps if keyword == "COPY" for source in shlex.split(rest)[:-1]
    }
    assert wheel["packages"] == ["src/qtrain"]  # no generic top-level names in site-packages
    assert "hatch_build.py" in copied
    for package in ("pipelines", "components"):
        assert (REPO / package / "__init__.py").is_file()
        assert package in copied, f"images/base/Dockerfile must COPY {package}"
        assert wheel["force-include"][package] == f"qtrain_kfp/{package}"
