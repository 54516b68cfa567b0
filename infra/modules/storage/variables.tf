variable "name" {
  description = "Name prefix; bucket names are <name>-<purpose>-<account id>."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS on every data bucket."
  type        = string
}

variable "prediction_retention_days" {
  description = "Prediction logs older than this are deleted (they feed drift reports, which look back weeks)."
  type        = number
  default     = 365
}

variable "noncurrent_version_days" {
  description = "Overwritten or deleted object versions are kept this long (recovery window)."
  type        = number
  default     = 90
}

variable "access_log_retention_days" {
  description = "Retention of S3 and ALB access logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
