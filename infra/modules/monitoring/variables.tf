variable "name" {
  description = "Name prefix."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for log groups and the alarm topic."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the workload log groups."
  type        = number
  default     = 365
}

variable "alarm_email" {
  description = "E-mail address subscribed to alarms (empty: no subscription; subscribe something else to the topic)."
  type        = string
  default     = ""
}

variable "api_5xx_rate_percent" {
  description = "Alarm when this share (%) of API requests get a 5xx answer."
  type        = number
  default     = 1
}

variable "api_p99_latency_seconds" {
  description = "Alarm when the API's p99 target response time exceeds this (seconds)."
  type        = number
  default     = 0.5
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the public ALB (CloudWatch dimension)."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the API target group (CloudWatch dimension)."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster name."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster ARN."
  type        = string
}

variable "mlflow_service_name" {
  description = "ECS service name of the MLflow server."
  type        = string
}

variable "training_task_family" {
  description = "Family of the training task definition."
  type        = string
}

variable "training_task_definition_arn" {
  description = "ARN (with revision) of the training task definition."
  type        = string
}

variable "training_container_name" {
  description = "Container name in the training task definition."
  type        = string
  default     = "train"
}

variable "training_task_role_arn" {
  description = "Task role of the training task (passed by EventBridge)."
  type        = string
}

variable "training_execution_role_arn" {
  description = "Execution role of the training task (passed by EventBridge)."
  type        = string
}

variable "training_security_group_id" {
  description = "Security group of training tasks."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for scheduled training tasks."
  type        = list(string)
}

variable "enable_weekly_training" {
  description = "Create the EventBridge weekly retraining schedule (off when Airflow schedules training)."
  type        = bool
  default     = false
}

variable "weekly_training_schedule" {
  description = "EventBridge schedule expression (UTC) of the weekly retraining."
  type        = string
  default     = "cron(0 3 ? * MON *)"
}

variable "weekly_training_batches" {
  description = "Batches passed to the scheduled training run (SNB_TRAIN_BATCHES)."
  type        = string
  default     = "0..9"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
