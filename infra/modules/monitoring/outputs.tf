output "log_group_names" {
  description = "Log group name per workload (training, api, mlflow, ecs-exec)."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "log_group_arns" {
  description = "Log group ARN per workload."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.arn }
}

output "alarm_topic_arn" {
  description = "SNS topic receiving alarms and failed-training notifications."
  value       = aws_sns_topic.alarms.arn
}
