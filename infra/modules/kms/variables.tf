variable "name" {
  description = "Name prefix (also the key alias)."
  type        = string
}

variable "region" {
  description = "AWS region (the CloudWatch Logs service principal is regional)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
