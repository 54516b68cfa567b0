"""Parse the Terraform under infra/ with python-hcl2 for the policy tests (no provider, no network).

Run by scripts/offline_gates.sh in its own environment (.venv-hcl): python-hcl2 must not share an
environment with checkov, whose bc-python-hcl2 installs a conflicting `hcl2` module.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import hcl2
import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def unquote(s: str) -> str:
    "python-hcl2 keeps the quotes of string literals and block labels: drop them."
    return s[1:-1] if len(s) >= 2 and s[0] == '"' and s[-1] == '"' else s


def norm(x):
    if isinstance(x, dict):
        return {unquote(k): norm(v) for k, v in x.items() if k != "__is_block__"}
    if isinstance(x, list):
        return [norm(i) for i in x]
    if isinstance(x, str):
        return unquote(x)
    return x


@dataclass
class TfDir:
    "Every block of the .tf files of one directory (a module or a root)."
    path: Path
    resources: dict = field(default_factory=dict)   # (type, name) -> body
    data: dict = field(default_factory=dict)        # (type, name) -> body
    locals: dict = field(default_factory=dict)
    variables: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    modules: dict = field(default_factory=dict)
    terraform: list = field(default_factory=list)
    text: str = ""

    @property
    def rel(self) -> str: return str(self.path.relative_to(INFRA))

    def of_type(self, rtype: str) -> dict:
        return {name: body for (t, name), body in self.resources.items() if t == rtype}

    def docs(self) -> dict:
        return {name: body for (t, name), body in self.data.items() if t == "aws_iam_policy_document"}


def load_dir(path: Path) -> TfDir:
    d = TfDir(path)
    for f in sorted(path.glob("*.tf")):
        text = f.read_text()
        d.text += text + "\n"
        parsed = norm(hcl2.loads(text))
        for kind, target in (("resource", d.resources), ("data", d.data)):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        target[(rtype, name)] = body
        for block in parsed.get("locals", []):
            d.locals.update({k: v for k, v in block.items() if k != "__comments__"})
        for kind, target in (("variable", d.variables), ("output", d.outputs), ("module", d.modules)):
            for block in parsed.get(kind, []):
                target.update(block)
        d.terraform += parsed.get("terraform", [])
    return d


@lru_cache(maxsize=None)
def all_dirs() -> tuple[TfDir, ...]:
    dirs = sorted({f.parent for f in INFRA.rglob("*.tf") if ".terraform" not in f.parts})
    return tuple(load_dir(p) for p in dirs)


def tf_dir(rel: str) -> TfDir:
    for d in all_dirs():
        if d.rel == rel: return d
    raise KeyError(rel)


def blocks(x) -> list:
    "A nested block (or attribute) as a list, whether python-hcl2 gave one item or several."
    if x is None: return []
    return x if isinstance(x, list) else [x]


def statements(doc: dict) -> list[dict]:
    return blocks(doc.get("statement"))


def as_list(x) -> list:
    if x is None: return []
    return x if isinstance(x, list) else [x]


def refers_to(expr, target: str) -> bool:
    "Whether an expression (string, list or dict) mentions `target` (e.g. aws_s3_bucket.this)."
    return re.search(rf"(?<![\w.]){re.escape(target)}(?![\w-])", str(expr)) is not None


@pytest.fixture(scope="session")
def dirs() -> tuple[TfDir, ...]:
    return all_dirs()
