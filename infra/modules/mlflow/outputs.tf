output "tracking_uri" {
  description = "MLflow tracking URI inside the VPC."
  value       = local.tracking_uri
}

output "security_group_id" {
  description = "Security group of the MLflow server."
  value       = aws_security_group.mlflow.id
}

output "service_name" {
  description = "ECS service name of the MLflow server."
  value       = aws_ecs_service.mlflow.name
}

output "db_endpoint" {
  description = "RDS endpoint (private)."
  value       = aws_db_instance.this.address
}

output "db_secret_arn" {
  description = "Secrets Manager secret with the database credentials (managed and rotated by RDS)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}
