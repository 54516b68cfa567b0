variable "name" {
  description = "Name prefix for roles."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
}

variable "bucket_arns" {
  description = "Bucket ARN per purpose (data, mlflow-artifacts, predictions, reports)."
  type        = map(string)
}

variable "ecr_repository_arns" {
  description = "ECR repository ARN per workload (training, api, mlflow)."
  type        = map(string)
}

variable "log_group_arns" {
  description = "CloudWatch log group ARN per workload (training, api, mlflow)."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "The project key (S3, ECR, Secrets Manager)."
  type        = string
}

variable "db_secret_arn" {
  description = "Secrets Manager secret holding the MLflow database credentials (read by the mlflow execution role only)."
  type        = string
}

variable "mlflow_execute_command" {
  description = "Allow ECS Exec into the MLflow task (port-forwarding the UI)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
