# ---------------------------------------------------------------- for Airflow (SNB_* settings, run_mode=ecs)
output "airflow_ecs_settings" {
  description = "Environment for the Airflow deployment that runs the pipeline on ECS (SNB_* settings)."
  value = {
    SNB_RUN_MODE            = "ecs"
    SNB_AWS_REGION          = var.region
    SNB_ECS_CLUSTER         = module.ecs.cluster_name
    SNB_ECS_TASK_DEFINITION = module.ecs.training_task_family
    SNB_ECS_CONTAINER_NAME  = module.ecs.training_container_name
    SNB_ECS_SUBNETS         = jsonencode(module.network.private_subnet_ids)
    SNB_ECS_SECURITY_GROUPS = jsonencode([module.ecs.training_security_group_id])
    SNB_ECS_LOG_GROUP       = module.monitoring.log_group_names["training"]
    SNB_DATA_ROOT           = "s3://${module.storage.bucket_names["data"]}"
    SNB_MLFLOW_TRACKING_URI = module.mlflow.tracking_uri
    SNB_MODEL_NAME          = var.model_name
    SNB_EXPERIMENT_NAME     = var.experiment_name
    SNB_NOTEBOOKS_URI       = "s3://${module.storage.bucket_names["reports"]}/notebooks"
    SNB_REPORTS_URI         = "s3://${module.storage.bucket_names["reports"]}/reports"
    SNB_PREDICTION_LOG_URI  = "s3://${module.storage.bucket_names["predictions"]}/predictions"
  }
}

output "airflow_run_training_policy_arn" {
  description = "Attach to the Airflow role: run and follow training tasks, pass their roles, read their logs."
  value       = module.ecs.run_training_policy_arn
}

output "ecs_cluster" {
  description = "ECS cluster name."
  value       = module.ecs.cluster_name
}

output "training_task_definition" {
  description = "Training task definition family (latest revision) and the ARN of the revision just applied."
  value = {
    family         = module.ecs.training_task_family
    arn            = module.ecs.training_task_definition_arn
    container_name = module.ecs.training_container_name
  }
}

output "private_subnet_ids" {
  description = "Subnets for ECS tasks."
  value       = module.network.private_subnet_ids
}

output "training_security_group_id" {
  description = "Security group for training tasks."
  value       = module.ecs.training_security_group_id
}

output "bucket_names" {
  description = "Bucket per purpose."
  value       = module.storage.bucket_names
}

output "mlflow_tracking_uri" {
  description = "MLflow URL (inside the VPC only)."
  value       = module.mlflow.tracking_uri
}

output "ecr_repository_urls" {
  description = "ECR repository URL per image (the deploy workflow pushes <url>:<commit sha>)."
  value       = module.ecr.repository_urls
}

output "task_role_arns" {
  description = "Task role per workload."
  value       = module.iam.task_role_arns
}

output "execution_role_arns" {
  description = "Task execution role per workload."
  value       = module.iam.execution_role_arns
}

# ---------------------------------------------------------------- for the deploy workflow and operators
output "api_url" {
  description = "Public URL of the prediction API."
  value       = var.api_domain_name == "" ? "https://${module.ecs.alb_dns_name}" : "https://${var.api_domain_name}"
}

output "alb_dns_name" {
  description = "ALB DNS name (target of the API domain's DNS record)."
  value       = module.ecs.alb_dns_name
}

output "ecs_services" {
  description = "ECS services the deploy workflow waits on."
  value       = [module.ecs.api_service_name, module.mlflow.service_name]
}

output "alarm_topic_arn" {
  description = "SNS topic of alarms."
  value       = module.monitoring.alarm_topic_arn
}

output "image_tag" {
  description = "Commit SHA of the images running now (pull-request plans compare against it)."
  value       = var.image_tag
}
