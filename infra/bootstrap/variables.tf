variable "region" {
  description = "AWS region of the state bucket and of the environment."
  type        = string
  default     = "us-east-1"
}

variable "project" {
  description = "Project name, the prefix of every resource."
  type        = string
  default     = "sentiment-nb"
}

variable "environment" {
  description = "Environment the deploy role manages (resources named <project>-<environment>-*)."
  type        = string
  default     = "prod"
}

variable "github_repository" {
  description = "GitHub repository whose main branch may deploy, as OWNER/REPO."
  type        = string
  default     = "sentiment-nb/sentiment-nb"
}

variable "create_oidc_provider" {
  description = "Create the GitHub OIDC provider (false if the account already has one)."
  type        = bool
  default     = true
}
