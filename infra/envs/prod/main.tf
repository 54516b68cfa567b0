# Production environment of sentiment-nb: wires the modules together. See nbs/deploy.md.

provider "aws" {
  region = var.region
  default_tags {
    tags = local.tags
  }
}

locals {
  name = "${var.project}-${var.environment}"
  tags = {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
    Repository  = var.github_repository
  }
  images = { for k, url in module.ecr.repository_urls : k => "${url}:${var.image_tag}" }
}

module "kms" {
  source = "../../modules/kms"
  name   = local.name
  region = var.region
  tags   = local.tags
}

module "network" {
  source             = "../../modules/network"
  name               = local.name
  region             = var.region
  cidr               = var.vpc_cidr
  az_count           = var.az_count
  single_nat_gateway = var.single_nat_gateway
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "storage" {
  source                    = "../../modules/storage"
  name                      = local.name
  kms_key_arn               = module.kms.key_arn
  prediction_retention_days = var.prediction_retention_days
  tags                      = local.tags
}

module "ecr" {
  source      = "../../modules/ecr"
  name        = local.name
  kms_key_arn = module.kms.key_arn
  tags        = local.tags
}

module "iam" {
  source              = "../../modules/iam"
  name                = local.name
  region              = var.region
  bucket_arns         = module.storage.bucket_arns
  ecr_repository_arns = module.ecr.repository_arns
  log_group_arns      = module.monitoring.log_group_arns
  kms_key_arn         = module.kms.key_arn
  db_secret_arn       = module.mlflow.db_secret_arn
  tags                = local.tags
}

module "ecs" {
  source                   = "../../modules/ecs"
  name                     = local.name
  region                   = var.region
  vpc_id                   = module.network.vpc_id
  public_subnet_ids        = module.network.public_subnet_ids
  private_subnet_ids       = module.network.private_subnet_ids
  certificate_arn          = var.certificate_arn
  alb_ingress_cidrs        = var.alb_ingress_cidrs
  logs_bucket_name         = module.storage.logs_bucket_name
  kms_key_arn              = module.kms.key_arn
  log_group_names          = module.monitoring.log_group_names
  log_retention_days       = var.log_retention_days
  bucket_names             = module.storage.bucket_names
  mlflow_tracking_uri      = module.mlflow.tracking_uri
  mlflow_security_group_id = module.mlflow.security_group_id
  task_role_arns           = module.iam.task_role_arns
  execution_role_arns      = module.iam.execution_role_arns
  model_name               = var.model_name
  experiment_name          = var.experiment_name
  api_image                = local.images["api"]
  api_cpu                  = var.api_cpu
  api_memory               = var.api_memory
  api_min_tasks            = var.api_min_tasks
  api_max_tasks            = var.api_max_tasks
  training_image           = local.images["training"]
  training_cpu             = var.training_cpu
  training_memory          = var.training_memory
  training_default_batches = var.training_default_batches
  deletion_protection      = var.deletion_protection
  tags                     = local.tags
}

module "mlflow" {
  source             = "../../modules/mlflow"
  name               = local.name
  region             = var.region
  vpc_id             = module.network.vpc_id
  private_subnet_ids = module.network.private_subnet_ids
  db_subnet_ids      = module.network.private_subnet_ids
  client_security_group_ids = merge(
    { api = module.ecs.api_security_group_id, training = module.ecs.training_security_group_id },
    var.extra_mlflow_client_security_group_ids,
  )
  cluster_arn          = module.ecs.cluster_arn
  kms_key_arn          = module.kms.key_arn
  log_group_name       = module.monitoring.log_group_names["mlflow"]
  log_retention_days   = var.log_retention_days
  artifact_bucket_name = module.storage.bucket_names["mlflow-artifacts"]
  execution_role_arn   = module.iam.execution_role_arns["mlflow"]
  task_role_arn        = module.iam.task_role_arns["mlflow"]
  mlflow_image         = local.images["mlflow"]
  db_instance_class    = var.db_instance_class
  db_multi_az          = var.db_multi_az
  deletion_protection  = var.deletion_protection
  tags                 = local.tags
}

module "monitoring" {
  source                       = "../../modules/monitoring"
  name                         = local.name
  region                       = var.region
  kms_key_arn                  = module.kms.key_arn
  log_retention_days           = var.log_retention_days
  alarm_email                  = var.alarm_email
  api_5xx_rate_percent         = var.api_5xx_rate_percent
  api_p99_latency_seconds      = var.api_p99_latency_seconds
  alb_arn_suffix               = module.ecs.alb_arn_suffix
  target_group_arn_suffix      = module.ecs.target_group_arn_suffix
  cluster_name                 = module.ecs.cluster_name
  cluster_arn                  = module.ecs.cluster_arn
  mlflow_service_name          = module.mlflow.service_name
  training_task_family         = module.ecs.training_task_family
  training_task_definition_arn = module.ecs.training_task_definition_arn
  training_container_name      = module.ecs.training_container_name
  training_task_role_arn       = module.iam.task_role_arns["training"]
  training_execution_role_arn  = module.iam.execution_role_arns["training"]
  training_security_group_id   = module.ecs.training_security_group_id
  private_subnet_ids           = module.network.private_subnet_ids
  enable_weekly_training       = var.enable_weekly_training
  weekly_training_schedule     = var.weekly_training_schedule
  weekly_training_batches      = var.training_default_batches
  tags                         = local.tags
}
