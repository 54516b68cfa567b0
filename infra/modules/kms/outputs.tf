output "key_arn" {
  description = "ARN of the project key."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "Key id of the project key."
  value       = aws_kms_key.this.key_id
}
