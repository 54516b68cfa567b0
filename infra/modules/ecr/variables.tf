variable "name" {
  description = "Name prefix; repositories are <name>/<image>."
  type        = string
}

variable "repositories" {
  description = "Images to create repositories for."
  type        = list(string)
  default     = ["training", "api", "mlflow"]
}

variable "kms_key_arn" {
  description = "KMS key for image encryption at rest."
  type        = string
}

variable "keep_images" {
  description = "Images kept per repository (older ones expire)."
  type        = number
  default     = 30
}

variable "untagged_expiry_days" {
  description = "Untagged images expire after this many days."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
