output "bucket_names" {
  description = "Bucket name per purpose: data, mlflow-artifacts, predictions, reports."
  value       = { for k, b in aws_s3_bucket.this : k => b.bucket }
}

output "bucket_arns" {
  description = "Bucket ARN per purpose."
  value       = { for k, b in aws_s3_bucket.this : k => b.arn }
}

output "logs_bucket_name" {
  description = "Bucket receiving S3 server access logs and ALB access logs (prefix alb/)."
  value       = aws_s3_bucket.logs.bucket
}
