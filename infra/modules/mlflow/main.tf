# MLflow tracking server on Fargate, its PostgreSQL backend on RDS (private subnets, encrypted, TLS only)
# and artifact storage proxied to S3 (--artifacts-destination): clients talk only to the server, which
# alone holds S3 permissions on the artifact bucket. The server is reachable only inside the VPC, by its
# Cloud Map name (http://mlflow.<namespace>:5000), from the security groups listed in client_security_group_ids.
#
# The database password is generated and rotated by RDS (manage_master_user_password) into Secrets
# Manager: it never appears in Terraform state, in a plan or in a task definition. ECS injects it into
# the container through `secrets`; the container's health check runs a query through the server, so
# after a rotation a task that can no longer connect is replaced and the new task reads the new password.

data "aws_caller_identity" "current" {}

locals {
  namespace    = "${var.name}.internal"
  host         = "mlflow.${local.namespace}"
  tracking_uri = "http://${local.host}:5000"
  identifier   = "${var.name}-mlflow"
}

# ---------------------------------------------------------------- network
resource "aws_security_group" "mlflow" {
  name        = "${var.name}-mlflow"
  description = "MLflow tracking server (VPC-internal)"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "mlflow_clients" {
  for_each                     = var.client_security_group_ids
  security_group_id            = aws_security_group.mlflow.id
  description                  = "MLflow API from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 5000
  to_port                      = 5000
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "mlflow_https" {
  security_group_id = aws_security_group.mlflow.id
  description       = "HTTPS to S3, ECR, CloudWatch Logs, Secrets Manager"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "mlflow_db" {
  security_group_id            = aws_security_group.mlflow.id
  description                  = "PostgreSQL backend store"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db.id
}

resource "aws_security_group" "db" {
  name        = "${var.name}-mlflow-db"
  description = "MLflow PostgreSQL: reachable from the MLflow server only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "db_from_mlflow" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the MLflow server"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.mlflow.id
}

# ---------------------------------------------------------------- database
resource "aws_db_subnet_group" "this" {
  name        = local.identifier
  description = "Private subnets of the MLflow database"
  subnet_ids  = var.db_subnet_ids
  tags        = var.tags
}

resource "aws_db_parameter_group" "this" {
  name        = "${local.identifier}-pg16"
  family      = "postgres16"
  description = "MLflow backend: TLS only, slow-query and DDL logging"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "db" {
  for_each          = toset(["postgresql", "upgrade"])
  name              = "/aws/rds/instance/${local.identifier}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${local.identifier}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  identifier     = local.identifier
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class
  db_name        = "mlflow"
  username       = "mlflow"
  port           = 5432

  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  multi_az               = var.db_multi_az
  parameter_group_name   = aws_db_parameter_group.this.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  backup_retention_period   = var.db_backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:04:00-sun:05:00"
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.identifier}-final"

  auto_minor_version_upgrade          = true
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  monitoring_interval                 = 60
  monitoring_role_arn                 = aws_iam_role.rds_monitoring.arn
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = var.kms_key_arn

  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.db]
}

# ---------------------------------------------------------------- service discovery (VPC-internal DNS)
resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = local.namespace
  description = "Internal names of ${var.name} services"
  vpc         = var.vpc_id
  tags        = var.tags
}

resource "aws_service_discovery_service" "mlflow" {
  name = "mlflow"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"
    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {}

  tags = var.tags
}

# ---------------------------------------------------------------- task and service
locals {
  mlflow_containers = [
    {
      name                   = "mlflow"
      image                  = var.mlflow_image
      essential              = true
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      stopTimeout            = 30
      portMappings           = [{ containerPort = 5000, hostPort = 5000, protocol = "tcp" }]
      environment = [
        { name = "DB_HOST", value = aws_db_instance.this.address },
        { name = "DB_PORT", value = tostring(aws_db_instance.this.port) },
        { name = "DB_NAME", value = aws_db_instance.this.db_name },
        { name = "PGSSLMODE", value = "require" },
        { name = "MLFLOW_ARTIFACTS_DESTINATION", value = "s3://${var.artifact_bucket_name}/artifacts" },
        { name = "MLFLOW_SERVER_ALLOWED_HOSTS", value = "${local.host},${local.host}:5000,localhost:*,127.0.0.1:*" },
        { name = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", value = "false" },
        { name = "MLFLOW_WORKERS", value = tostring(var.workers) },
        { name = "AWS_REGION", value = var.region },
        { name = "AWS_DEFAULT_REGION", value = var.region },
        { name = "HOME", value = "/tmp" },
      ]
      # Credentials come from Secrets Manager at task start, never from `environment`.
      secrets = [
        { name = "DB_USERNAME", valueFrom = "${aws_db_instance.this.master_user_secret[0].secret_arn}:username::" },
        { name = "DB_PASSWORD", valueFrom = "${aws_db_instance.this.master_user_secret[0].secret_arn}:password::" },
      ]
      mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
      healthCheck = {
        # Goes through the database, so a task holding a rotated-out password turns unhealthy and is replaced.
        command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/api/2.0/mlflow/experiments/search?max_results=1', timeout=5)"]
        interval    = 30
        timeout     = 10
        retries     = 3
        startPeriod = 60
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_group_name
          awslogs-region        = var.region
          awslogs-stream-prefix = "mlflow"
        }
      }
    }
  ]
}

resource "aws_ecs_task_definition" "mlflow" {
  family                   = "${var.name}-mlflow"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  container_definitions    = jsonencode(local.mlflow_containers)

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  tags = var.tags
}

resource "aws_ecs_service" "mlflow" {
  name                               = "${var.name}-mlflow"
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.mlflow.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_execute_command             = var.enable_execute_command
  propagate_tags                     = "SERVICE"
  enable_ecs_managed_tags            = true
  wait_for_steady_state              = var.wait_for_steady_state

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.mlflow.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.mlflow.arn
  }

  tags = var.tags
}
