"""GitHub Actions workflows: pinned actions, minimal permissions, OIDC only where needed, no untrusted
input in shell steps, and the deploy flow (plan on pull requests, approval before apply on main)."""
from __future__ import annotations

import re

import pytest
import yaml

from conftest import REPO

WF = REPO / ".github" / "workflows"
FILES = sorted(WF.glob("*.yml"))
OIDC_ACTIONS = ("aws-actions/configure-aws-credentials", "actions/deploy-pages")


def load(path):
    # PyYAML reads the key `on` as True (YAML 1.1): put it back.
    data = yaml.safe_load(path.read_text())
    if True in data: data["on"] = data.pop(True)
    return data


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def test_the_three_workflows_exist():
    assert {p.name for p in FILES} == {"ci.yml", "docs.yml", "deploy.yml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned_to_full_commit_shas(path):
    uses = re.findall(r"^\s*-?\s*uses:\s*(\S+)(.*)$", path.read_text(), re.M)
    assert uses
    for ref, rest in uses:
        if ref.startswith("./"): continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{path.name}: {ref} is not pinned to a commit SHA"
        assert re.search(r"#\s*v\d", rest), f"{path.name}: {ref} lacks a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_permissions_are_minimal(path):
    wf = load(path)
    assert wf["permissions"] == {"contents": "read"}, "read-only default for every job"
    for name, job in wf["jobs"].items():
        perms = job.get("permissions", {})
        uses = [s.get("uses", "") for s in steps(job)]
        needs_oidc = any(u.startswith(OIDC_ACTIONS) for u in uses)
        if perms.get("id-token") == "write":
            assert needs_oidc, f"{path.name}:{name} asks for id-token without using it"
        else:
            assert not needs_oidc, f"{path.name}:{name} uses OIDC without id-token: write"
        for scope, level in perms.items():
            assert level in ("read", "write", "none")
            if level == "write":
                assert scope in ("id-token", "pages"), f"{path.name}:{name} writes {scope}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_expression_is_interpolated_into_shell(path):
    "run: scripts take every value through env:, so no event field can inject shell code."
    wf = load(path)
    assert "pull_request_target" not in wf["on"] and "workflow_run" not in wf["on"]
    for name, job in wf["jobs"].items():
        for s in steps(job):
            if "run" in s:
                assert "${{" not in s["run"], f"{path.name}:{name} interpolates an expression into run: {s['run'][:80]}"
    text = path.read_text()
    for field in ("github.event.pull_request.title", "github.event.pull_request.body", "github.head_ref",
                  "github.event.issue", "github.event.comment", "github.event.head_commit.message"):
        assert field not in text, f"{path.name} reads untrusted {field}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_checkout_does_not_persist_credentials(path):
    for name, job in load(path)["jobs"].items():
        for s in steps(job):
            if s.get("uses", "").startswith("actions/checkout@"):
                assert s.get("with", {}).get("persist-credentials") is False, f"{path.name}:{name}"


def test_ci_runs_the_test_command_on_pushes_and_pull_requests():
    wf = load(WF / "ci.yml")
    assert wf["on"]["push"]["branches"] == ["main"] and "pull_request" in wf["on"]
    runs = [s["run"] for job in wf["jobs"].values() for s in steps(job) if "run" in s]
    assert "make test" in runs
    assert any(s.get("uses", "").startswith("hashicorp/setup-terraform@") for s in steps(wf["jobs"]["test"])), \
        "terraform on the runner so the fmt gate runs there"


def test_docs_build_with_quarto_and_nbdev_and_deploy_to_pages():
    wf = load(WF / "docs.yml")
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    uses = [s.get("uses", "") for s in steps(build)]
    assert any(u.startswith("quarto-dev/quarto-actions/setup@") for u in uses)
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any("nbdev-docs" in s.get("run", "") for s in steps(build))
    assert deploy["needs"] == "build" and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in steps(deploy))
    assert "permissions" not in build


def _role(job: dict) -> str | None:
    for s in steps(job):
        if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
            return s["with"]["role-to-assume"]
    return None


def test_deploy_flow_plan_on_pull_requests_approval_before_apply_on_main():
    wf = load(WF / "deploy.yml")
    jobs = wf["jobs"]
    pr = jobs["plan-pull-request"]
    assert _role(pr) == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    assert "github.event_name == 'pull_request'" in pr["if"]
    assert "head.repo.full_name == github.repository" in pr["if"], "no plan for forks"
    pr_runs = " ".join(s.get("run", "") for s in steps(pr))
    assert "plan" in pr_runs and "-lock=false" in pr_runs and "apply" not in pr_runs

    assert "refs/heads/main" in jobs["build"]["if"] and "pull_request" in jobs["build"]["if"]
    for name in ("build", "plan", "apply"):
        assert _role(jobs[name]) == "${{ vars.AWS_DEPLOY_ROLE_ARN }}", name
        # The deploy role trusts sub=repo:OWNER/REPO:ref:refs/heads/main; an environment would change the sub.
        assert "environment" not in jobs[name], f"{name} must not declare an environment"
    assert jobs["plan"]["needs"] == "build"
    approve = jobs["approve"]
    assert approve["environment"] == "production" and approve["needs"] == "plan"
    assert _role(approve) is None and approve["permissions"] == {}
    assert set(jobs["apply"]["needs"]) == {"plan", "approve"}
    apply_runs = " ".join(s.get("run", "") for s in steps(jobs["apply"]))
    assert "apply -input=false -no-color tfplan" in apply_runs, "applies exactly the reviewed plan"
    assert "aws ecs wait services-stable" in apply_runs
    tags = [s["with"]["tags"] for s in steps(jobs["build"]) if s.get("uses", "").startswith("docker/build-push-action@")]
    assert tags and tags[0].endswith(":${{ github.sha }}"), "images are tagged with the commit"
    images = {i["image"]: i["dockerfile"] for i in jobs["build"]["strategy"]["matrix"]["include"]}
    assert images == {"training": "docker/train.Dockerfile", "api": "docker/api.Dockerfile",
                      "mlflow": "docker/mlflow.Dockerfile"}
    for f in images.values():
        assert (REPO / f).exists()


def test_no_long_lived_aws_keys():
    for path in FILES:
        text = path.read_text()
        assert "AWS_ACCESS_KEY_ID" not in text and "aws-access-key-id" not in text, path.name
        assert "AWS_SECRET_ACCESS_KEY" not in text and "aws-secret-access-key" not in text, path.name
