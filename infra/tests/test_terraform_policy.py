"""Security properties of the Terraform under infra/, asserted on the parsed HCL.

Each test names the property; a failure message names the file's directory and the block.
"""
from __future__ import annotations

import re

import pytest

from conftest import REPO, as_list, blocks, refers_to, statements, tf_dir

SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL", re.I)
SECRET_SOURCE = re.compile(r"master_user_secret|aws_secretsmanager|random_password|\bpassword\b", re.I)


# ---------------------------------------------------------------- GitHub OIDC
def _trust_conditions(doc: dict) -> list[dict]:
    sts = statements(doc)
    assert len(sts) == 1, "a trust policy with one statement"
    st = sts[0]
    assert as_list(st["actions"]) == ["sts:AssumeRoleWithWebIdentity"]
    assert st.get("effect", "Allow") == "Allow"
    return blocks(st.get("condition"))


def _condition(conds: list[dict], claim: str) -> dict:
    found = [c for c in conds if c["variable"].endswith(f":{claim}")]
    assert len(found) == 1, f"exactly one condition on the {claim} claim, got {found}"
    return found[0]


def test_deploy_role_trusts_only_main_branch_of_one_repository(dirs):
    oidc = tf_dir("modules/github-oidc")
    conds = _trust_conditions(oidc.docs()["deploy_trust"])
    sub = _condition(conds, "sub")
    assert sub["test"] == "StringEquals", "no StringLike: wildcards would widen the trust"
    assert as_list(sub["values"]) == ["repo:${var.github_repository}:ref:refs/heads/main"]
    aud = _condition(conds, "aud")
    assert aud["test"] == "StringEquals" and as_list(aud["values"]) == ["sts.amazonaws.com"]
    role = oidc.of_type("aws_iam_role")["deploy"]
    assert refers_to(role["assume_role_policy"], "data.aws_iam_policy_document.deploy_trust")
    # the repository variable cannot smuggle a wildcard in
    validation = blocks(oidc.variables["github_repository"]["validation"])[0]
    assert "A-Za-z0-9_.-" in validation["condition"] and "*" not in validation["condition"].replace("]+", "")


def test_plan_role_trusts_only_pull_requests_and_is_read_only():
    oidc = tf_dir("modules/github-oidc")
    conds = _trust_conditions(oidc.docs()["plan_trust"])
    sub = _condition(conds, "sub")
    assert sub["test"] == "StringEquals"
    assert as_list(sub["values"]) == ["repo:${var.github_repository}:pull_request"]
    plan = oidc.docs()["plan"]
    read_only = re.compile(r"^[a-z0-9-]+:(Describe|List|Get)[A-Za-z*]*$")
    for st in statements(plan):
        for action in as_list(st["actions"]):
            assert read_only.match(action), f"plan role action {action} is not read-only"
    state = oidc.docs()["state_ro"]
    assert {a for st in statements(state) for a in as_list(st["actions"])} <= {
        "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "kms:Decrypt", "kms:DescribeKey"}


def test_every_web_identity_trust_pins_audience_and_subject(dirs):
    seen = 0
    for d in dirs:
        for name, doc in d.docs().items():
            for st in statements(doc):
                if "sts:AssumeRoleWithWebIdentity" not in as_list(st.get("actions")):
                    continue
                seen += 1
                conds = blocks(st.get("condition"))
                for claim in ("aud", "sub"):
                    c = _condition(conds, claim)
                    assert c["test"] == "StringEquals", f"{d.rel}:{name} {claim} must be StringEquals"
                    assert not any("*" in v for v in as_list(c["values"])), f"{d.rel}:{name} wildcard in {claim}"
    assert seen == 2, "the deploy and plan roles"


def test_deploy_role_cannot_change_itself_or_attach_arbitrary_policies():
    deploy = tf_dir("modules/github-oidc").docs()["deploy"]
    sts = {st["sid"]: st for st in statements(deploy)}
    deny = sts["NeverChangeTheCiRoles"]
    assert deny["effect"] == "Deny" and as_list(deny["actions"]) == ["iam:*"]
    assert {"${aws_iam_role.deploy.arn}", "${aws_iam_role.plan.arn}"} <= set(as_list(deny["resources"]))
    attach = [st for st in statements(deploy) if "iam:AttachRolePolicy" in as_list(st["actions"])]
    assert len(attach) == 1 and blocks(attach[0]["condition"])[0]["variable"] == "iam:PolicyARN"
    for st in statements(deploy):
        if any(a.startswith("iam:") for a in as_list(st["actions"])) and st.get("effect", "Allow") == "Allow":
            for r in as_list(st["resources"]):
                assert r == "*" and all(a.split(":")[1].startswith(("Get", "List")) for a in as_list(st["actions"])) \
                    or "${local.prefix}-*" in r or "aws-service-role" in r, f"IAM write on {r}"


# ---------------------------------------------------------------- IAM: no wildcard action on wildcard resource
def test_no_statement_allows_every_action_on_every_resource(dirs):
    checked = 0
    for d in dirs:
        for name, doc in d.docs().items():
            for st in statements(doc):
                checked += 1
                if st.get("effect", "Allow") != "Allow":
                    continue
                actions = as_list(st.get("actions"))
                resources = as_list(st.get("resources"))
                assert not ("*" in actions and "*" in resources), f"{d.rel}: {name} allows * on *"
                assert "*" not in actions, f"{d.rel}: {name} allows every action"
    assert checked > 40


def test_policies_are_documents_not_inline_json(dirs):
    "Every IAM policy is an aws_iam_policy_document (so the checks above see all of them)."
    for d in dirs:
        for rtype in ("aws_iam_role_policy", "aws_iam_policy", "aws_s3_bucket_policy", "aws_sns_topic_policy"):
            for name, body in d.of_type(rtype).items():
                assert "data.aws_iam_policy_document." in body["policy"] or "local.task_policies" in body["policy"], \
                    f"{d.rel}: {rtype}.{name} builds its policy outside a policy document"
        for name, body in d.of_type("aws_iam_role").items():
            assert "data.aws_iam_policy_document." in body["assume_role_policy"], f"{d.rel}: {name}"
        for name, body in d.of_type("aws_iam_role_policy_attachment").items():
            assert not re.search(r"AdministratorAccess|PowerUserAccess|IAMFullAccess|FullAccess", body["policy_arn"]), \
                f"{d.rel}: {name} attaches {body['policy_arn']}"


def test_task_roles_reach_only_their_buckets_and_prefixes():
    iam = tf_dir("modules/iam")
    docs = iam.docs()

    def s3_resources(doc: str) -> set[str]:
        return {r for st in statements(docs[doc]) for r in as_list(st["resources"])
                if any(a.startswith("s3:") for a in as_list(st["actions"]))}

    api = s3_resources("api")
    assert api == {'${var.bucket_arns["predictions"]}', '${var.bucket_arns["predictions"]}/predictions/*',
                   '${var.bucket_arns["predictions"]}/requests/*'}
    mlflow = s3_resources("mlflow")
    assert mlflow == {'${var.bucket_arns["mlflow-artifacts"]}', '${var.bucket_arns["mlflow-artifacts"]}/artifacts/*'}
    training = s3_resources("training")
    assert not any("mlflow-artifacts" in r for r in training), "artifacts are proxied by the MLflow server"
    assert '${var.bucket_arns["reports"]}/notebooks/*' in training
    # the API only writes its logs: no read, no delete
    api_actions = {a for st in statements(docs["api"]) for a in as_list(st["actions"]) if a.startswith("s3:")}
    assert api_actions == {"s3:ListBucket", "s3:PutObject", "s3:AbortMultipartUpload"}
    # KMS use only through S3
    kms = statements(docs["kms_via_s3"])[0]
    assert blocks(kms["condition"])[0]["variable"] == "kms:ViaService"
    # only the mlflow execution role reads the database secret
    ex = docs["execution"]
    dyn = [b for b in blocks(ex.get("dynamic")) if "statement" in b]
    assert dyn and "mlflow" in dyn[0]["statement"]["for_each"]
    assert "var.db_secret_arn" in str(dyn[0]["statement"]["content"])


# ---------------------------------------------------------------- S3
def _buckets():
    for d in (tf_dir("modules/storage"), tf_dir("bootstrap")):
        for name, body in d.of_type("aws_s3_bucket").items():
            yield d, name, body


def _companion(d, rtype: str, bucket: str) -> dict:
    found = [b for b in d.of_type(rtype).values() if refers_to(b["bucket"], f"aws_s3_bucket.{bucket}")]
    assert len(found) == 1, f"{d.rel}: aws_s3_bucket.{bucket} needs exactly one {rtype}, found {len(found)}"
    return found[0]


# Log-delivery services (S3 server access logs, ALB access logs) accept only SSE-S3 targets.
SSE_S3_EXCEPTIONS = {("modules/storage", "logs")}


def test_every_bucket_is_encrypted_with_kms():
    n = 0
    for d, name, body in _buckets():
        n += 1
        rule = blocks(_companion(d, "aws_s3_bucket_server_side_encryption_configuration", name)["rule"])[0]
        default = blocks(rule["apply_server_side_encryption_by_default"])[0]
        if (d.rel, name) in SSE_S3_EXCEPTIONS:
            assert default["sse_algorithm"] == "AES256"
            assert "checkov:skip=CKV_AWS_145" in str(body.get("__comments__")), "the exception is documented inline"
            continue
        assert default["sse_algorithm"] == "aws:kms", f"{d.rel}: {name}"
        assert default.get("kms_master_key_id"), f"{d.rel}: {name} without a customer-managed key"
        assert rule.get("bucket_key_enabled") is True
    assert n == 3  # storage: data buckets (for_each) + logs; bootstrap: state


def test_every_bucket_blocks_public_access_and_acls():
    for d, name, _ in _buckets():
        pab = _companion(d, "aws_s3_bucket_public_access_block", name)
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
            assert pab[k] is True, f"{d.rel}: {name} {k}"
        own = _companion(d, "aws_s3_bucket_ownership_controls", name)
        assert blocks(own["rule"])[0]["object_ownership"] == "BucketOwnerEnforced"


def test_every_bucket_denies_plain_http():
    for d, name, _ in _buckets():
        pol = _companion(d, "aws_s3_bucket_policy", name)
        doc_name = re.search(r"data\.aws_iam_policy_document\.([\w-]+)", pol["policy"]).group(1)
        doc = d.docs()[doc_name]
        tls = [st for st in statements(doc) if st.get("effect") == "Deny"
               and any(c["variable"] == "aws:SecureTransport" and as_list(c["values"]) == ["false"]
                       for c in blocks(st.get("condition")))]
        assert tls, f"{d.rel}: {name} has no TLS-only statement"
        st = tls[0]
        assert as_list(st["actions"]) == ["s3:*"]
        assert blocks(st["principals"])[0]["identifiers"] == ["*"]
        res = as_list(st["resources"])
        assert len(res) == 2 and res[1].endswith("/*"), "bucket and objects"


def test_every_bucket_is_versioned_and_has_lifecycle_rules():
    for d, name, _ in _buckets():
        v = _companion(d, "aws_s3_bucket_versioning", name)
        assert blocks(v["versioning_configuration"])[0]["status"] == "Enabled"
        lc = _companion(d, "aws_s3_bucket_lifecycle_configuration", name)
        assert any("abort_incomplete_multipart_upload" in r for r in blocks(lc["rule"])), f"{d.rel}: {name}"


def test_storage_has_the_four_project_buckets():
    storage = tf_dir("modules/storage")
    assert set(storage.locals["buckets"]) == {"data", "mlflow-artifacts", "predictions", "reports"}


# ---------------------------------------------------------------- ECR
def test_ecr_repositories_are_immutable_scanned_and_encrypted():
    ecr = tf_dir("modules/ecr")
    repos = ecr.of_type("aws_ecr_repository")
    assert repos
    for name, r in repos.items():
        assert r["image_tag_mutability"] == "IMMUTABLE"
        assert blocks(r["image_scanning_configuration"])[0]["scan_on_push"] is True
        assert blocks(r["encryption_configuration"])[0]["encryption_type"] == "KMS"
        assert r["force_delete"] is False
    assert any(refers_to(p["repository"], "each.value.name") for p in ecr.of_type("aws_ecr_lifecycle_policy").values())
    assert set(ecr.variables["repositories"]["default"]) == {"training", "api", "mlflow"}


# ---------------------------------------------------------------- RDS and MLflow
def test_rds_is_private_encrypted_and_its_password_managed_by_rds():
    mlflow = tf_dir("modules/mlflow")
    (name, db), = mlflow.of_type("aws_db_instance").items()
    assert db["publicly_accessible"] is False
    assert db["storage_encrypted"] is True and db.get("kms_key_id")
    assert db["manage_master_user_password"] is True
    assert "password" not in db, "no password attribute: it would land in the state"
    assert db["deletion_protection"] == "${var.deletion_protection}"
    subnet_group = mlflow.of_type("aws_db_subnet_group")[re.search(r"aws_db_subnet_group\.(\w+)", db["db_subnet_group_name"]).group(1)]
    assert subnet_group["subnet_ids"] == "${var.db_subnet_ids}"
    params = {p["name"]: p["value"] for p in blocks(mlflow.of_type("aws_db_parameter_group")["this"]["parameter"])}
    assert params["rds.force_ssl"] == "1"
    # the root wires the database to the private subnets
    root = tf_dir("envs/prod")
    assert root.modules["mlflow"]["db_subnet_ids"] == "${module.network.private_subnet_ids}"
    # only the MLflow server reaches the database
    rules = mlflow.of_type("aws_vpc_security_group_ingress_rule")
    db_rules = [r for r in rules.values() if r["security_group_id"] == "${aws_security_group.db.id}"]
    assert len(db_rules) == 1 and db_rules[0]["referenced_security_group_id"] == "${aws_security_group.mlflow.id}"
    assert not any("cidr_ipv4" in r for r in rules.values()), "MLflow and its database take no CIDR ingress"


def test_private_subnets_have_no_public_route_or_addresses():
    net = tf_dir("modules/network")
    private = net.of_type("aws_subnet")["private"]
    assert private.get("map_public_ip_on_launch", False) is False
    assert net.of_type("aws_subnet")["public"]["map_public_ip_on_launch"] is False
    route = net.of_type("aws_route")["private_nat"]
    assert "nat_gateway_id" in route and "gateway_id" not in route


def test_mlflow_is_reachable_only_inside_the_vpc():
    mlflow = tf_dir("modules/mlflow")
    assert not mlflow.of_type("aws_lb"), "no load balancer in front of MLflow"
    assert mlflow.of_type("aws_service_discovery_private_dns_namespace")
    svc = mlflow.of_type("aws_ecs_service")["mlflow"]
    assert blocks(svc["network_configuration"])[0]["assign_public_ip"] is False
    assert mlflow.locals["tracking_uri"].startswith("http://${local.host}")
    env = {e["name"]: e["value"] for e in mlflow.locals["mlflow_containers"][0]["environment"]}
    assert env["MLFLOW_ARTIFACTS_DESTINATION"].startswith("s3://") and env["MLFLOW_ARTIFACTS_DESTINATION"].endswith("/artifacts")
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


# ---------------------------------------------------------------- ECS task definitions
def _containers():
    for rel in ("modules/ecs", "modules/mlflow"):
        d = tf_dir(rel)
        for name, td in d.of_type("aws_ecs_task_definition").items():
            m = re.fullmatch(r"\$\{jsonencode\(local\.(\w+)\)\}", td["container_definitions"])
            assert m, f"{rel}: {name} container definitions must be jsonencode(local.X) to be checkable"
            for c in d.locals[m.group(1)]:
                yield rel, name, td, c


def test_no_secret_in_any_task_definition_environment():
    seen = 0
    for rel, name, _, c in _containers():
        for e in c.get("environment", []):
            seen += 1
            assert not SECRET_NAME.search(e["name"]), f"{rel}: {name}/{c['name']} env {e['name']} looks like a secret"
            assert not SECRET_SOURCE.search(str(e["value"])), f"{rel}: {name}/{c['name']} env {e['name']} = {e['value']}"
    assert seen > 20


def test_database_credentials_come_from_secrets_manager():
    mlflow = [c for rel, name, _, c in _containers() if c["name"] == "mlflow"][0]
    secrets = {s["name"]: s["valueFrom"] for s in mlflow["secrets"]}
    assert set(secrets) == {"DB_USERNAME", "DB_PASSWORD"}
    for v in secrets.values():
        assert "aws_db_instance.this.master_user_secret[0].secret_arn" in v


def test_containers_run_as_non_root_with_read_only_root_filesystem():
    names = set()
    for rel, name, td, c in _containers():
        names.add(c["name"])
        assert c["readonlyRootFilesystem"] is True, f"{rel}: {c['name']}"
        assert c["user"] not in ("0", "root") and not c["user"].startswith("0:"), f"{rel}: {c['name']}"
        assert not c.get("privileged"), f"{rel}: {c['name']}"
        assert c["logConfiguration"]["logDriver"] == "awslogs"
        assert td["network_mode"] == "awsvpc" and td["requires_compatibilities"] == ["FARGATE"]
        assert td["execution_role_arn"] != td["task_role_arn"]
    assert names == {"api", "${var.training_container_name}", "mlflow"}


def test_training_task_is_sized_from_the_training_bench():
    ecs = tf_dir("modules/ecs")
    assert ecs.variables["training_cpu"]["default"] == 4096
    assert ecs.variables["training_memory"]["default"] == 16384
    td_text = ecs.text[ecs.text.index('resource "aws_ecs_task_definition" "training"'):]
    assert "8 GB peak RSS" in td_text[:1500], "the sizing comment cites the bench target"
    root = tf_dir("envs/prod")
    assert root.variables["training_memory"]["default"] == 16384


def test_api_service_is_https_only_health_checked_autoscaled_and_rolls_back():
    ecs = tf_dir("modules/ecs")
    svc = ecs.of_type("aws_ecs_service")["api"]
    cb = blocks(svc["deployment_circuit_breaker"])[0]
    assert cb["enable"] is True and cb["rollback"] is True
    assert blocks(svc["network_configuration"])[0]["assign_public_ip"] is False
    tg = ecs.of_type("aws_lb_target_group")["api"]
    assert blocks(tg["health_check"])[0]["path"] == "/health"
    listeners = ecs.of_type("aws_lb_listener")
    assert set(listeners) == {"https"}, "no plain-HTTP listener"
    https = listeners["https"]
    assert https["protocol"] == "HTTPS" and https["certificate_arn"] == "${var.certificate_arn}"
    assert https["ssl_policy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    assert ecs.of_type("aws_appautoscaling_target")["api"]["resource_id"].startswith("service/")
    assert len(ecs.of_type("aws_appautoscaling_policy")) >= 1
    assert ecs.of_type("aws_lb")["api"]["drop_invalid_header_fields"] is True
    assert ecs.of_type("aws_wafv2_web_acl_association")


# ---------------------------------------------------------------- logs, alarms, state
def test_log_groups_are_encrypted_and_expire(dirs):
    n = 0
    for d in dirs:
        for name, lg in d.of_type("aws_cloudwatch_log_group").items():
            n += 1
            assert lg.get("kms_key_id"), f"{d.rel}: {name}"
            assert lg.get("retention_in_days"), f"{d.rel}: {name}"
    assert n >= 4  # for_each blocks count once


def test_alarms_cover_api_5xx_rate_and_p99_latency():
    mon = tf_dir("modules/monitoring")
    alarms = mon.of_type("aws_cloudwatch_metric_alarm")
    p99 = alarms["api_p99_latency"]
    assert p99["extended_statistic"] == "p99" and p99["metric_name"] == "TargetResponseTime"
    rate = alarms["api_5xx_rate"]
    exprs = [q["expression"] for q in blocks(rate["metric_query"]) if "expression" in q]
    assert exprs and "t5xx" in exprs[0] and "req" in exprs[0]
    for a in alarms.values():
        assert a["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]
    weekly = mon.of_type("aws_cloudwatch_event_rule")["weekly_training"]
    assert weekly["count"] == "${var.enable_weekly_training ? 1 : 0}"


def test_remote_state_is_encrypted_and_locked():
    root = tf_dir("envs/prod")
    backend = [b["backend"] for b in root.terraform if "backend" in b][0]
    s3 = blocks(backend)[0]["s3"]
    assert s3["encrypt"] is True and s3["use_lockfile"] is True
    assert any(r.get("required_version", "").startswith(">= 1.1") for r in root.terraform)


def test_outputs_feed_the_airflow_ecs_settings():
    "Every SNB_* key of the output is a field of sentiment_nb.config.Settings."
    root = tf_dir("envs/prod")
    settings_keys = set(root.outputs["airflow_ecs_settings"]["value"])
    config = (REPO / "sentiment_nb" / "config.py").read_text()
    cls = config[config.index("class Settings("):]
    cls = cls[: cls.index("\n    @")]
    fields = {m.group(1).upper() for m in re.finditer(r"^    (\w+): [^=\n]+=", cls, re.M)}
    assert fields, "could not read Settings fields"
    package = "\n".join(p.read_text() for p in (REPO / "sentiment_nb").glob("*.py"))
    for k in settings_keys:
        # a Settings field, or a variable the package reads itself (e.g. SNB_ECS_LOG_GROUP in sentiment_nb.pipeline)
        assert k.startswith("SNB_") and (k[4:] in fields or f'"{k}"' in package), f"{k} is read by nothing in sentiment_nb"
    assert {"SNB_ECS_CLUSTER", "SNB_ECS_TASK_DEFINITION", "SNB_ECS_SUBNETS", "SNB_ECS_SECURITY_GROUPS",
            "SNB_ECS_CONTAINER_NAME", "SNB_DATA_ROOT", "SNB_MLFLOW_TRACKING_URI"} <= settings_keys
    for out in ("ecs_cluster", "training_task_definition", "private_subnet_ids", "training_security_group_id",
                "bucket_names", "mlflow_tracking_uri", "ecr_repository_urls", "task_role_arns", "execution_role_arns"):
        assert out in root.outputs, out


@pytest.mark.parametrize("rel", ["modules/ecs", "modules/mlflow"])
def test_snb_variables_in_task_definitions_are_settings(rel):
    config = (REPO / "sentiment_nb" / "config.py").read_text()
    cls = config[config.index("class Settings("):]
    fields = {m.group(1).upper() for m in re.finditer(r"^    (\w+): [^=\n]+=", cls, re.M)}
    entrypoint_vars = {"TRAIN_BATCHES"}  # read by docker/train-entrypoint.sh
    for _, name, _, c in _containers():
        for e in c.get("environment", []):
            if e["name"].startswith("SNB_"):
                assert e["name"][4:] in fields | entrypoint_vars, f"{name}: {e['name']} is not a setting"
