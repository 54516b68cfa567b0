variable "name" {
  description = "Name prefix (also the cluster name)."
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

variable "public_subnet_ids" {
  description = "Public subnets for the ALB."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Private subnets for tasks."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate ARN for the HTTPS listener (issued for the API's domain name)."
  type        = string
}

variable "alb_ingress_cidrs" {
  description = "CIDR blocks allowed to reach the API over HTTPS."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "logs_bucket_name" {
  description = "Bucket receiving ALB access logs."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for ECS Exec sessions and the WAF log group."
  type        = string
}

variable "log_group_names" {
  description = "Log group name per workload (training, api, ecs-exec)."
  type        = map(string)
}

variable "log_retention_days" {
  description = "Retention of the WAF log group."
  type        = number
  default     = 365
}

variable "bucket_names" {
  description = "Bucket name per purpose (data, predictions, reports)."
  type        = map(string)
}

variable "mlflow_tracking_uri" {
  description = "MLflow tracking URI reachable from inside the VPC."
  type        = string
}

variable "mlflow_security_group_id" {
  description = "Security group of the MLflow server (egress target on port 5000)."
  type        = string
}

variable "task_role_arns" {
  description = "Task role ARN per workload."
  type        = map(string)
}

variable "execution_role_arns" {
  description = "Task execution role ARN per workload."
  type        = map(string)
}

variable "model_name" {
  description = "Registered model name (SNB_MODEL_NAME)."
  type        = string
  default     = "sentiment-nb"
}

variable "experiment_name" {
  description = "MLflow experiment of training runs (SNB_EXPERIMENT_NAME)."
  type        = string
  default     = "sentiment-nb"
}

variable "api_image" {
  description = "API image URI with its commit tag."
  type        = string
}

variable "api_port" {
  description = "Port the API listens on (SNB_PORT)."
  type        = number
  default     = 8000
}

variable "api_workers" {
  description = "Uvicorn workers per API task (SNB_WORKERS)."
  type        = number
  default     = 1
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
  description = "Minimum (and initial) API tasks; 2 keeps one per AZ."
  type        = number
  default     = 2
}

variable "api_max_tasks" {
  description = "Maximum API tasks under load."
  type        = number
  default     = 6
}

variable "api_requests_per_task_per_minute" {
  description = "Autoscaling target of ALB requests per task per minute (one worker served ~1500 req/s in the serving bench; this keeps a task near a third of that)."
  type        = number
  default     = 30000
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one IP before WAF blocks it."
  type        = number
  default     = 20000
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion."
  type        = bool
  default     = true
}

variable "wait_for_steady_state" {
  description = "terraform apply waits until the API service is stable (a rolled-back deployment fails the apply)."
  type        = bool
  default     = true
}

variable "training_image" {
  description = "Training image URI with its commit tag."
  type        = string
}

variable "training_container_name" {
  description = "Container name of the training task (SNB_ECS_CONTAINER_NAME)."
  type        = string
  default     = "train"
}

variable "training_cpu" {
  description = "Training task CPU units (4 vCPU)."
  type        = number
  default     = 4096
}

variable "training_memory" {
  description = "Training task memory in MiB (16 GB: 2x the bench's 8 GB peak RSS target)."
  type        = number
  default     = 16384
}

variable "training_ephemeral_storage_gib" {
  description = "Ephemeral storage of the training task (GiB, 21-200)."
  type        = number
  default     = 50
}

variable "training_default_batches" {
  description = "SNB_TRAIN_BATCHES when a run does not override it."
  type        = string
  default     = "0..9"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
