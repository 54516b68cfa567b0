# GitHub Actions federation: an OIDC identity provider and two roles, with no long-lived AWS keys.
#
# - deploy role: assumable ONLY by workflow runs of var.github_repository on refs/heads/main
#   (sub = repo:OWNER/REPO:ref:refs/heads/main). It pushes images and runs `terraform apply`. Jobs that use
#   it must not declare a GitHub `environment` (that changes the sub claim to environment:NAME): the
#   deploy workflow gates apply with a separate approval job that carries `environment: production`.
# - plan role: assumable only by pull_request runs (sub = repo:OWNER/REPO:pull_request); read-only
#   (describe/list/get, the state object) so a pull request can run `terraform plan -lock=false`.
#   GitHub does not issue OIDC tokens to pull requests from forks.
#
# These roles live in the bootstrap root (applied once by an administrator), not in the environment they
# deploy, so the deploy role never manages its own permissions.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  issuer       = "token.actions.githubusercontent.com"
  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.issuer}"
  prefix       = var.managed_resource_prefix
  deploy_name  = "${var.name}-github-deploy"
  plan_name    = "${var.name}-github-plan"
}

resource "aws_iam_openid_connect_provider" "github" {
  count          = var.create_oidc_provider ? 1 : 0
  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]
  # AWS validates GitHub's certificate chain itself; the thumbprints are kept for older providers.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
  tags            = var.tags
}

# ---------------------------------------------------------------- trust policies
data "aws_iam_policy_document" "deploy_trust" {
  statement {
    sid     = "GitHubMainBranchOnly"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = ["repo:${var.github_repository}:ref:refs/heads/main"]
    }
  }
}

data "aws_iam_policy_document" "plan_trust" {
  statement {
    sid     = "GitHubPullRequestsOnly"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = ["repo:${var.github_repository}:pull_request"]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = local.deploy_name
  description          = "GitHub Actions on ${var.github_repository}@main: push images, terraform apply"
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role" "plan" {
  name                 = local.plan_name
  description          = "GitHub Actions pull requests on ${var.github_repository}: terraform plan (read-only)"
  assume_role_policy   = data.aws_iam_policy_document.plan_trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

# ---------------------------------------------------------------- state access
data "aws_iam_policy_document" "state_rw" {
  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.state_bucket_arn]
  }
  statement {
    sid       = "StateObjectsAndLock"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.state_bucket_arn}/*"]
  }
  statement {
    sid       = "StateKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.state_kms_key_arn]
  }
}

data "aws_iam_policy_document" "state_ro" {
  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.state_bucket_arn]
  }
  statement {
    sid       = "StateObjects"
    actions   = ["s3:GetObject"]
    resources = ["${var.state_bucket_arn}/*"]
  }
  statement {
    sid       = "StateKey"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [var.state_kms_key_arn]
  }
}

# ---------------------------------------------------------------- deploy permissions
data "aws_iam_policy_document" "deploy" {
  #checkov:skip=CKV_AWS_111:Infrastructure-as-code deploy role: it must create and change the project's resources. Writes are limited to one region, project-prefixed IAM/S3 names and GitHub main-branch runs.
  #checkov:skip=CKV_AWS_356:EC2/VPC, ECS, ELB, RDS, WAF, CloudWatch, KMS and Cloud Map creation calls do not support resource-level ARNs before the resource exists; the statement is limited by aws:RequestedRegion instead.
  #checkov:skip=CKV_AWS_109:IAM writes are limited to roles named with the project prefix, the only attachable managed policy is AmazonRDSEnhancedMonitoringRole, and the deploy/plan roles themselves are explicitly denied.
  #checkov:skip=CKV_AWS_108:The deploy role reads the project's buckets to manage them (lifecycle, policies); it is assumable only from the main branch.
  #checkov:skip=CKV_AWS_110:Passing roles is limited to project-prefixed roles and to the ECS, EventBridge, VPC flow logs and RDS monitoring services.
  source_policy_documents = [data.aws_iam_policy_document.state_rw.json]

  statement {
    sid = "ProjectServicesInRegion"
    actions = [
      "ec2:*", "ecs:*", "ecr:*", "elasticloadbalancing:*", "application-autoscaling:*",
      "logs:*", "cloudwatch:*", "events:*", "rds:*", "servicediscovery:*", "wafv2:*", "sns:*",
      "kms:*", "acm:DescribeCertificate", "acm:ListCertificates", "acm:ListTagsForCertificate",
      "secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:ListSecrets",
      "tag:GetResources",
    ]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [var.region]
    }
  }

  # Cloud Map private DNS namespaces are Route 53 private hosted zones (a global service).
  statement {
    sid = "PrivateDnsForCloudMap"
    actions = [
      "route53:CreateHostedZone", "route53:DeleteHostedZone", "route53:GetHostedZone",
      "route53:ListHostedZonesByName", "route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets",
      "route53:GetChange", "route53:AssociateVPCWithHostedZone", "route53:DisassociateVPCFromHostedZone",
      "route53:ChangeTagsForResource", "route53:ListTagsForResource",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ProjectBuckets"
    actions   = ["s3:*"]
    resources = ["arn:${local.partition}:s3:::${local.prefix}-*", "arn:${local.partition}:s3:::${local.prefix}-*/*"]
  }

  statement {
    sid = "ProjectRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
      "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:PutRolePolicy",
      "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${local.prefix}-*"]
  }

  statement {
    sid = "ProjectPolicies"
    actions = [
      "iam:CreatePolicy", "iam:DeletePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions",
      "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:policy/${local.prefix}-*"]
  }

  statement {
    sid       = "AttachOnlyRdsMonitoringPolicy"
    actions   = ["iam:AttachRolePolicy"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${local.prefix}-*"]
    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = ["arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"]
    }
  }

  statement {
    sid       = "PassProjectRolesToServices"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${local.prefix}-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com", "events.amazonaws.com", "vpc-flow-logs.amazonaws.com", "monitoring.rds.amazonaws.com"]
    }
  }

  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*"]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values = [
        "ecs.amazonaws.com", "rds.amazonaws.com", "elasticloadbalancing.amazonaws.com",
        "ecs.application-autoscaling.amazonaws.com", "servicediscovery.amazonaws.com",
      ]
    }
  }

  statement {
    sid       = "ReadIamForPlans"
    actions   = ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListRoles", "iam:GetOpenIDConnectProvider"]
    resources = ["*"]
  }

  statement {
    sid       = "NeverChangeTheCiRoles"
    effect    = "Deny"
    actions   = ["iam:*"]
    resources = [aws_iam_role.deploy.arn, aws_iam_role.plan.arn, local.provider_arn]
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "terraform-apply-and-push"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}

# ---------------------------------------------------------------- plan permissions (read-only)
data "aws_iam_policy_document" "plan" {
  #checkov:skip=CKV_AWS_356:Describe/List/Get calls used by terraform refresh mostly have no resource-level permissions; every action here is read-only and none reads object data or secret values.
  source_policy_documents = [data.aws_iam_policy_document.state_ro.json]

  statement {
    sid = "ReadOnlyRefresh"
    actions = [
      "ec2:Describe*", "ecs:Describe*", "ecs:List*", "ecr:DescribeRepositories", "ecr:GetLifecyclePolicy",
      "ecr:GetRepositoryPolicy", "ecr:ListTagsForResource", "elasticloadbalancing:Describe*",
      "application-autoscaling:Describe*", "application-autoscaling:ListTagsForResource",
      "logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:ListTagsLogGroup",
      "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "events:DescribeRule",
      "events:ListTargetsByRule", "events:ListTagsForResource", "rds:Describe*", "rds:ListTagsForResource",
      "servicediscovery:Get*", "servicediscovery:List*", "route53:GetHostedZone", "route53:ListResourceRecordSets",
      "route53:ListTagsForResource", "wafv2:Get*", "wafv2:List*", "sns:GetTopicAttributes",
      "sns:GetSubscriptionAttributes", "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource",
      "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListAliases",
      "kms:ListResourceTags", "iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetOpenIDConnectProvider",
      "secretsmanager:DescribeSecret", "acm:DescribeCertificate", "acm:ListTagsForCertificate",
      "sts:GetCallerIdentity",
    ]
    resources = ["*"]
  }

  statement {
    sid = "ReadBucketConfiguration"
    actions = [
      "s3:ListBucket", "s3:GetBucket*", "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration", "s3:GetAccelerateConfiguration", "s3:GetAnalyticsConfiguration",
      "s3:GetIntelligentTieringConfiguration", "s3:GetInventoryConfiguration", "s3:GetMetricsConfiguration",
    ]
    resources = ["arn:${local.partition}:s3:::${local.prefix}-*"]
  }
}

resource "aws_iam_role_policy" "plan" {
  name   = "terraform-plan-read-only"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan.json
}
