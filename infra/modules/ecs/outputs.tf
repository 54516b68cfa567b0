output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = aws_ecs_cluster.this.arn
}

output "api_service_name" {
  description = "ECS service of the API."
  value       = aws_ecs_service.api.name
}

output "alb_dns_name" {
  description = "DNS name of the public ALB (point the certificate's domain at it)."
  value       = aws_lb.api.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone id of the ALB (for a Route 53 alias record)."
  value       = aws_lb.api.zone_id
}

output "alb_arn_suffix" {
  description = "ALB ARN suffix (CloudWatch dimension)."
  value       = aws_lb.api.arn_suffix
}

output "target_group_arn_suffix" {
  description = "API target group ARN suffix (CloudWatch dimension)."
  value       = aws_lb_target_group.api.arn_suffix
}

output "training_task_definition_arn" {
  description = "Training task definition ARN with revision."
  value       = aws_ecs_task_definition.training.arn
}

output "training_task_family" {
  description = "Training task definition family (runs the latest revision when given without one)."
  value       = aws_ecs_task_definition.training.family
}

output "training_container_name" {
  description = "Container name in the training task definition."
  value       = var.training_container_name
}

output "training_security_group_id" {
  description = "Security group for training tasks."
  value       = aws_security_group.training.id
}

output "api_security_group_id" {
  description = "Security group of API tasks."
  value       = aws_security_group.api.id
}

output "run_training_policy_arn" {
  description = "IAM policy to attach to the orchestrator (Airflow) role that runs training tasks."
  value       = aws_iam_policy.run_training.arn
}
