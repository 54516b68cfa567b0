variable "name" {
  description = "Name prefix."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
}

variable "vpc_id" {
  description = "VPC id."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the MLflow task."
  type        = list(string)
}

variable "db_subnet_ids" {
  description = "Private subnets for the RDS instance (at least two AZs)."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to call MLflow on port 5000, by name (keys must be known at plan time)."
  type        = map(string)
}

variable "cluster_arn" {
  description = "ECS cluster ARN."
  type        = string
}

variable "kms_key_arn" {
  description = "The project key (RDS storage, its secret, Performance Insights, log groups)."
  type        = string
}

variable "log_group_name" {
  description = "Log group of the MLflow container."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the RDS log groups."
  type        = number
  default     = 365
}

variable "artifact_bucket_name" {
  description = "Bucket for MLflow artifacts (prefix artifacts/)."
  type        = string
}

variable "execution_role_arn" {
  description = "Task execution role (pulls the image, reads the DB secret)."
  type        = string
}

variable "task_role_arn" {
  description = "Task role (artifact bucket access)."
  type        = string
}

variable "mlflow_image" {
  description = "MLflow server image URI with its commit tag."
  type        = string
}

variable "cpu" {
  description = "MLflow task CPU units."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "MLflow task memory (MiB)."
  type        = number
  default     = 2048
}

variable "workers" {
  description = "MLflow server worker processes."
  type        = number
  default     = 2
}

variable "desired_count" {
  description = "MLflow tasks."
  type        = number
  default     = 1
}

variable "enable_execute_command" {
  description = "ECS Exec into the MLflow task (to port-forward the UI)."
  type        = bool
  default     = true
}

variable "wait_for_steady_state" {
  description = "terraform apply waits until the MLflow service is stable."
  type        = bool
  default     = true
}

variable "db_engine_version" {
  description = "PostgreSQL major version (minor versions are upgraded automatically)."
  type        = string
  default     = "16"
}

variable "db_instance_class" {
  description = "RDS instance class (MLflow metadata is small)."
  type        = string
  default     = "db.t4g.small"
}

variable "db_allocated_storage" {
  description = "Initial storage (GB)."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling (GB)."
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "Standby in a second AZ."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Automated backup retention (days)."
  type        = number
  default     = 14
}

variable "deletion_protection" {
  description = "Protect the database from deletion."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
