# Task roles (what the code in a container may do) and task execution roles (what ECS may do to start it:
# pull its image, write its logs, read its secrets), one pair per workload. Each role reaches only the
# buckets and prefixes its workload needs:
#
# | role     | data bucket  | predictions          | reports                   | mlflow-artifacts |
# |----------|--------------|----------------------|---------------------------|------------------|
# | training | read/write   | read predictions/, requests/ (drift, latency reports) | read/write notebooks/, reports/ | - |
# | api      | -            | write predictions/, requests/ | -                | -                |
# | mlflow   | -            | -                    | -                         | read/write artifacts/ |
#
# MLflow artifacts are proxied by the tracking server (--artifacts-destination), so neither training nor
# the API holds any permission on the artifact bucket.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  workloads  = toset(["training", "api", "mlflow"])
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:*"]
    }
  }
}

# ---------------------------------------------------------------- execution roles (one per workload)
resource "aws_iam_role" "execution" {
  for_each           = local.workloads
  name               = "${var.name}-${each.key}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  for_each = local.workloads

  # GetAuthorizationToken has no resource-level permissions: AWS requires "*" for it.
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullOwnImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [var.ecr_repository_arns[each.key]]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arns[each.key]}:*"]
  }

  # Image layers (ECR) and secrets (Secrets Manager) are encrypted with the project key.
  statement {
    sid       = "DecryptViaServices"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ecr.${var.region}.amazonaws.com", "secretsmanager.${var.region}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "mlflow" ? [1] : []
    content {
      sid       = "ReadDatabaseSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.db_secret_arn]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.workloads
  name     = "start-${each.key}-task"
  role     = aws_iam_role.execution[each.key].id
  policy   = data.aws_iam_policy_document.execution[each.key].json
}

# ---------------------------------------------------------------- task roles
resource "aws_iam_role" "task" {
  for_each           = local.workloads
  name               = "${var.name}-${each.key}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "kms_via_s3" {
  statement {
    sid       = "UseKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "training" {
  source_policy_documents = [data.aws_iam_policy_document.kms_via_s3.json]

  # The data bucket is the pipeline's data root (raw/, processed/, batches/): training jobs own it.
  statement {
    sid       = "ListDataBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arns["data"]]
  }

  statement {
    sid       = "ReadWriteData"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${var.bucket_arns["data"]}/*"]
  }

  # Drift and latency reports read the API's logs: predictions/ and, beside it, requests/.
  statement {
    sid       = "ListPredictionLogs"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arns["predictions"]]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["predictions", "predictions/*", "requests", "requests/*"]
    }
  }

  statement {
    sid     = "ReadPredictionLogs"
    actions = ["s3:GetObject"]
    resources = [
      "${var.bucket_arns["predictions"]}/predictions/*",
      "${var.bucket_arns["predictions"]}/requests/*",
    ]
  }

  statement {
    sid       = "ListReports"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arns["reports"]]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["notebooks", "notebooks/*", "reports", "reports/*"]
    }
  }

  statement {
    sid     = "WriteNotebooksAndReports"
    actions = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [
      "${var.bucket_arns["reports"]}/notebooks/*",
      "${var.bucket_arns["reports"]}/reports/*",
    ]
  }
}

data "aws_iam_policy_document" "api" {
  source_policy_documents = [data.aws_iam_policy_document.kms_via_s3.json]

  # The service logs predictions under predictions/ and per-request records beside it, under requests/.
  statement {
    sid       = "ListOwnLogs"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arns["predictions"]]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["predictions", "predictions/*", "requests", "requests/*"]
    }
  }

  statement {
    sid     = "WritePredictionAndRequestLogs"
    actions = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [
      "${var.bucket_arns["predictions"]}/predictions/*",
      "${var.bucket_arns["predictions"]}/requests/*",
    ]
  }
}

data "aws_iam_policy_document" "mlflow" {
  source_policy_documents = [data.aws_iam_policy_document.kms_via_s3.json]

  statement {
    sid       = "ListArtifacts"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arns["mlflow-artifacts"]]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["artifacts", "artifacts/*"]
    }
  }

  statement {
    sid       = "ReadWriteArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${var.bucket_arns["mlflow-artifacts"]}/artifacts/*"]
  }

  # ECS Exec (used to port-forward the MLflow UI to an operator's machine). The ssmmessages channel
  # actions have no resource-level permissions: AWS requires "*" for them.
  dynamic "statement" {
    for_each = var.mlflow_execute_command ? [1] : []
    content {
      sid = "EcsExecChannel"
      actions = [
        "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
      ]
      resources = ["*"]
    }
  }

  # ECS Exec sessions are logged to the ecs-exec log group and encrypted with the project key
  # (cluster execute_command_configuration).
  dynamic "statement" {
    for_each = var.mlflow_execute_command ? [1] : []
    content {
      sid       = "EcsExecSessionLogs"
      actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      resources = ["${var.log_group_arns["ecs-exec"]}:*"]
    }
  }

  dynamic "statement" {
    for_each = var.mlflow_execute_command ? [1] : []
    content {
      sid       = "EcsExecFindLogGroup"
      actions   = ["logs:DescribeLogGroups"]
      resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }

  dynamic "statement" {
    for_each = var.mlflow_execute_command ? [1] : []
    content {
      sid       = "EcsExecSessionKey"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }
}

locals {
  task_policies = {
    training = data.aws_iam_policy_document.training.json
    api      = data.aws_iam_policy_document.api.json
    mlflow   = data.aws_iam_policy_document.mlflow.json
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = local.workloads
  name     = "${each.key}-least-privilege"
  role     = aws_iam_role.task[each.key].id
  policy   = local.task_policies[each.key]
}
