output "task_role_arns" {
  description = "Task role ARN per workload (training, api, mlflow)."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}

output "execution_role_arns" {
  description = "Task execution role ARN per workload (training, api, mlflow)."
  value       = { for k, r in aws_iam_role.execution : k => r.arn }
}
