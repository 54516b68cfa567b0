"""Offline stand-in for part of `terraform validate` (which needs the AWS provider): every reference in
every module resolves. var.X is declared, local.X is defined, aws_T.N / data.aws_T.N exist in the same
directory, module.M.O names a module block whose source declares output O, and each module block passes
every required variable of its source and nothing it does not declare.
"""
from __future__ import annotations

import re

from conftest import INFRA, all_dirs

META_ARGS = {"source", "version", "providers", "count", "for_each", "depends_on"}


def code(text: str) -> str:
    "The HCL without comments (# and // to end of line outside strings, /* */ blocks)."
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    for line in text.splitlines():
        in_str, cut = False, len(line)
        for i, ch in enumerate(line):
            if ch == '"' and (i == 0 or line[i - 1] != "\\"):
                in_str = not in_str
            elif not in_str and (ch == "#" or line.startswith("//", i)):
                cut = i
                break
        out.append(line[:cut])
    return "\n".join(out)


def test_references_resolve():
    problems = []
    for d in all_dirs():
        text = code(d.text)
        declared_vars = set(d.variables)
        for v in set(re.findall(r"\bvar\.([A-Za-z_][\w-]*)", text)) - declared_vars:
            problems.append(f"{d.rel}: var.{v} is not declared")
        for lo in set(re.findall(r"\blocal\.([A-Za-z_][\w-]*)", text)) - set(d.locals):
            problems.append(f"{d.rel}: local.{lo} is not defined")
        resources = {f"{t}.{n}" for t, n in d.resources}
        data = {f"{t}.{n}" for t, n in d.data}
        for t, n in set(re.findall(r"(?<![\w.\"])(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)", text)):
            if f"{t}.{n}" not in resources:
                problems.append(f"{d.rel}: {t}.{n} is not a resource here")
        for t, n in set(re.findall(r"\bdata\.(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)", text)):
            if f"{t}.{n}" not in data:
                problems.append(f"{d.rel}: data.{t}.{n} is not declared here")
        for m, o in set(re.findall(r"\bmodule\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)", text)):
            if m not in d.modules:
                problems.append(f"{d.rel}: module.{m} is not declared")
                continue
            src = (d.path / d.modules[m]["source"]).resolve()
            target = next((x for x in all_dirs() if x.path == src), None)
            if target is None:
                problems.append(f"{d.rel}: module.{m} source {d.modules[m]['source']} not found")
            elif o not in target.outputs:
                problems.append(f"{d.rel}: module.{m} has no output {o}")
    assert not problems, "\n".join(sorted(problems))


def test_module_calls_match_module_variables():
    problems, calls = [], 0
    for d in all_dirs():
        for m, args in d.modules.items():
            calls += 1
            src = (d.path / args["source"]).resolve()
            target = next((x for x in all_dirs() if x.path == src), None)
            assert target is not None, f"{d.rel}: module {m} source {args['source']}"
            given = set(args) - META_ARGS - {"__comments__"}
            required = {v for v, spec in target.variables.items() if "default" not in spec}
            for v in sorted(required - given):
                problems.append(f"{d.rel}: module {m} misses required variable {v}")
            for v in sorted(given - set(target.variables)):
                problems.append(f"{d.rel}: module {m} passes undeclared variable {v}")
    assert calls >= 9
    assert not problems, "\n".join(problems)


def test_every_variable_and_output_is_documented():
    for d in all_dirs():
        for kind, items in (("variable", d.variables), ("output", d.outputs)):
            for name, spec in items.items():
                assert spec.get("description"), f"{d.rel}: {kind} {name} has no description"
        for name, spec in d.variables.items():
            assert "type" in spec, f"{d.rel}: variable {name} has no type"


def test_no_provider_or_backend_in_modules():
    for d in all_dirs():
        if d.path.parent.name != "modules":
            continue
        assert 'provider "aws"' not in code(d.text), f"{d.rel} configures a provider"
        assert "backend" not in str(d.terraform), f"{d.rel} declares a backend"


def test_every_directory_pins_terraform_and_the_aws_provider():
    for d in all_dirs():
        tf = [b for b in d.terraform if "required_providers" in b]
        assert tf, f"{d.rel} has no required_providers"
        assert tf[0]["required_version"].startswith(">= 1.10"), d.rel
        aws = tf[0]["required_providers"][0]["aws"] if isinstance(tf[0]["required_providers"], list) \
            else tf[0]["required_providers"]["aws"]
        assert aws["source"] == "hashicorp/aws" and "<" in aws["version"], d.rel
    assert (INFRA / "envs" / "prod" / "prod.tfvars").exists()
