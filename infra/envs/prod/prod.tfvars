# Production settings (no secrets here). Account-specific values come from the deploy workflow:
#   TF_VAR_certificate_arn (GitHub variable ACM_CERTIFICATE_ARN), TF_VAR_image_tag (the commit SHA),
#   TF_VAR_alarm_email (GitHub variable ALARM_EMAIL).
region            = "us-east-1"
project           = "sentiment-nb"
environment       = "prod"
github_repository = "sentiment-nb/sentiment-nb"
api_domain_name   = "api.sentiment-nb.example.com"

az_count           = 2
single_nat_gateway = true
log_retention_days = 365

api_cpu       = 1024
api_memory    = 2048
api_min_tasks = 2
api_max_tasks = 6

# 4 vCPU / 16 GB: the full-scale training bench targets <= 8 GB peak RSS (see infra/modules/ecs).
training_cpu             = 4096
training_memory          = 16384
training_default_batches = "0..9"

db_instance_class = "db.t4g.small"
db_multi_az       = true

enable_weekly_training = false # the Airflow DAG schedules retraining; set true to use EventBridge instead
