variable "name" {
  description = "Name prefix of the CI roles (<name>-github-deploy, <name>-github-plan)."
  type        = string
}

variable "region" {
  description = "The one region the deploy role may change."
  type        = string
}

variable "github_repository" {
  description = "GitHub repository allowed to assume the roles, as OWNER/REPO."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be OWNER/REPO without wildcards."
  }
}

variable "managed_resource_prefix" {
  description = "Name prefix of the resources the deploy role manages (IAM roles, S3 buckets), e.g. sentiment-nb-prod."
  type        = string
}

variable "state_bucket_arn" {
  description = "ARN of the Terraform state bucket."
  type        = string
}

variable "state_kms_key_arn" {
  description = "KMS key encrypting the state bucket."
  type        = string
}

variable "create_oidc_provider" {
  description = "Create the GitHub OIDC provider (false when the account already has one)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
