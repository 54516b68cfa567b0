variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "project" {
  description = "Project name (resource prefix)."
  type        = string
  default     = "sentiment-nb"
}

variable "environment" {
  description = "Environment name (resource prefix: <project>-<environment>)."
  type        = string
  default     = "prod"
}

variable "github_repository" {
  description = "OWNER/REPO of the code deployed here (tag only)."
  type        = string
  default     = "sentiment-nb/sentiment-nb"
}

variable "image_tag" {
  description = "Tag of the training, api and mlflow images to run: the commit SHA that built them."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-f]{7,40}$", var.image_tag))
    error_message = "image_tag must be a commit SHA (immutable tags; never latest)."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for the API's HTTPS listener."
  type        = string
}

variable "api_domain_name" {
  description = "Domain name of the certificate, pointed at the ALB (CNAME or Route 53 alias); used in outputs."
  type        = string
  default     = ""
}

variable "alb_ingress_cidrs" {
  description = "Who may reach the API over HTTPS."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "alarm_email" {
  description = "E-mail subscribed to alarms (empty for none)."
  type        = string
  default     = ""
}

variable "vpc_cidr" {
  description = "VPC CIDR."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones."
  type        = number
  default     = 2
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the VPC (cheaper) instead of one per AZ."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "CloudWatch log retention."
  type        = number
  default     = 365
}

variable "prediction_retention_days" {
  description = "Prediction logs are deleted after this many days."
  type        = number
  default     = 365
}

variable "model_name" {
  description = "Registered model name."
  type        = string
  default     = "sentiment-nb"
}

variable "experiment_name" {
  description = "MLflow experiment of training runs."
  type        = string
  default     = "sentiment-nb"
}

variable "api_cpu" {
  description = "API task CPU units."
  type        = number
  default     = 1024
}

variable "api_memory" {
  description = "API task memory (MiB)."
  type        = number
  default     = 2048
}

variable "api_min_tasks" {
  description = "Minimum API tasks."
  type        = number
  default     = 2
}

variable "api_max_tasks" {
  description = "Maximum API tasks."
  type        = number
  default     = 6
}

variable "api_5xx_rate_percent" {
  description = "5xx-rate alarm threshold (%)."
  type        = number
  default     = 1
}

variable "api_p99_latency_seconds" {
  description = "p99 latency alarm threshold (s)."
  type        = number
  default     = 0.5
}

variable "training_cpu" {
  description = "Training task CPU units."
  type        = number
  default     = 4096
}

variable "training_memory" {
  description = "Training task memory (MiB)."
  type        = number
  default     = 16384
}

variable "training_default_batches" {
  description = "Batches of a training run that does not set SNB_TRAIN_BATCHES (and of the weekly schedule)."
  type        = string
  default     = "0..9"
}

variable "enable_weekly_training" {
  description = "EventBridge weekly retraining (leave off when Airflow schedules training)."
  type        = bool
  default     = false
}

variable "weekly_training_schedule" {
  description = "Schedule expression of the weekly retraining (UTC)."
  type        = string
  default     = "cron(0 3 ? * MON *)"
}

variable "db_instance_class" {
  description = "RDS instance class of the MLflow database."
  type        = string
  default     = "db.t4g.small"
}

variable "db_multi_az" {
  description = "Multi-AZ RDS."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Deletion protection on the ALB and the database."
  type        = bool
  default     = true
}

variable "extra_mlflow_client_security_group_ids" {
  description = "More security groups allowed to reach MLflow (e.g. an MWAA environment), by name."
  type        = map(string)
  default     = {}
}
