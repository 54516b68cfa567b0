# One-time bootstrap, applied by an administrator with local state:
#   - the S3 bucket (versioned, KMS-encrypted, TLS-only) holding the environments' Terraform state,
#     locked with S3-native lock files (backend "s3" use_lockfile, Terraform >= 1.10);
#   - the GitHub OIDC provider and the deploy/plan roles that the workflows assume.
# See nbs/deploy.md. Its own state holds no secret; keep terraform.tfstate somewhere safe (or migrate it
# into the bucket it created with `terraform init -migrate-state` after adding a backend block).

terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.90, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

locals {
  tags = {
    Project   = var.project
    ManagedBy = "terraform/bootstrap"
  }
  state_bucket = "${var.project}-tfstate-${data.aws_caller_identity.current.account_id}"
}

module "kms" {
  source = "../modules/kms"
  name   = "${var.project}-tfstate"
  region = var.region
  tags   = local.tags
}

resource "aws_s3_bucket" "state" {
  bucket = local.state_bucket
  tags   = { Purpose = "terraform-state" }
  #checkov:skip=CKV_AWS_18:State access is recorded by CloudTrail (enable S3 data events for this bucket, see nbs/deploy.md); a separate SSE-S3 log bucket for a handful of state objects is not worth its upkeep.
  #checkov:skip=CKV_AWS_144:State is versioned; cross-region replication is not required for one environment.
  #checkov:skip=CKV2_AWS_62:Nothing consumes notifications of state writes.
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = module.kms.key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    id     = "old-state-versions"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days           = 365
      newer_noncurrent_versions = 50
    }
  }
  depends_on = [aws_s3_bucket_versioning.state]
}

data "aws_iam_policy_document" "state" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket     = aws_s3_bucket.state.id
  policy     = data.aws_iam_policy_document.state.json
  depends_on = [aws_s3_bucket_public_access_block.state]
}

module "github_oidc" {
  source                  = "../modules/github-oidc"
  name                    = var.project
  region                  = var.region
  github_repository       = var.github_repository
  managed_resource_prefix = "${var.project}-${var.environment}"
  state_bucket_arn        = aws_s3_bucket.state.arn
  state_kms_key_arn       = module.kms.key_arn
  create_oidc_provider    = var.create_oidc_provider
  tags                    = local.tags
}
