# ECS cluster, the public HTTPS entry (ALB + WAF) for the prediction API, the API service (Fargate,
# autoscaled, deployment circuit breaker with rollback) and the training task definition that Airflow
# (EcsRunTaskOperator) or the optional EventBridge schedule runs.

data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  mlflow    = var.mlflow_tracking_uri
  buckets   = var.bucket_names
}

# ---------------------------------------------------------------- cluster
resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = var.kms_key_arn
      logging    = "OVERRIDE"
      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = var.log_group_names["ecs-exec"]
      }
    }
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# ---------------------------------------------------------------- security groups
resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Public HTTPS entry of the prediction API"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = toset(var.alb_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward to API tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.api_port
  to_port                      = var.api_port
  referenced_security_group_id = aws_security_group.api.id
}

resource "aws_security_group" "api" {
  name        = "${var.name}-api"
  description = "Prediction API tasks"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "Requests and health checks from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.api_port
  to_port                      = var.api_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_security_group" "training" {
  name        = "${var.name}-training"
  description = "Training, data and drift tasks (no inbound traffic)"
  vpc_id      = var.vpc_id
  tags        = var.tags
  #checkov:skip=CKV2_AWS_5:Attached at run time: Airflow (EcsRunTaskOperator) and the optional EventBridge schedule start training tasks with this group; it is exported as SNB_ECS_SECURITY_GROUPS.
}

# Both workloads reach AWS APIs (ECR, S3, CloudWatch Logs, STS) over HTTPS and MLflow on port 5000.
resource "aws_vpc_security_group_egress_rule" "https" {
  for_each          = { api = aws_security_group.api.id, training = aws_security_group.training.id }
  security_group_id = each.value
  description       = "HTTPS to AWS APIs (through the NAT gateway or the S3 endpoint)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "mlflow" {
  for_each                     = { api = aws_security_group.api.id, training = aws_security_group.training.id }
  security_group_id            = each.value
  description                  = "MLflow tracking server"
  ip_protocol                  = "tcp"
  from_port                    = 5000
  to_port                      = 5000
  referenced_security_group_id = var.mlflow_security_group_id
}

# ---------------------------------------------------------------- load balancer
resource "aws_lb" "api" {
  name                       = "${var.name}-api"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = 60

  access_logs {
    bucket  = var.logs_bucket_name
    prefix  = "alb"
    enabled = true
  }

  tags = var.tags
}

resource "aws_lb_target_group" "api" {
  name                 = "${var.name}-api"
  port                 = var.api_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
  #checkov:skip=CKV_AWS_378:TLS terminates at the ALB; ALB-to-task traffic stays inside private subnets and is restricted by security groups to the ALB. Uvicorn would need its own certificate for HTTPS targets.
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }

  tags = var.tags
}

# ---------------------------------------------------------------- WAF in front of the ALB
resource "aws_wafv2_web_acl" "api" {
  name        = "${var.name}-api"
  description = "Managed protections and a per-IP rate limit for the prediction API"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "common"
    priority = 1
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
        # /predict accepts batches of up to SNB_MAX_BODY_BYTES (8 MB); the rule set's 8 KB body limit
        # would block legitimate batch requests, so that one rule only counts.
        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "known-bad-inputs"
    priority = 2
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "ip-reputation"
    priority = 3
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAmazonIpReputationList"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-ip-reputation"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "anonymous-ip"
    priority = 4
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAnonymousIpList"
        # API clients legitimately call from cloud hosts; only anonymisers (VPN, Tor, proxies) are blocked.
        rule_action_override {
          name = "HostingProviderIPList"
          action_to_use {
            count {}
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-anonymous-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-limit"
    priority = 5
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-api"
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "api" {
  resource_arn = aws_lb.api.arn
  web_acl_arn  = aws_wafv2_web_acl.api.arn
}

resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${var.name}" # WAF requires the aws-waf-logs- prefix
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "api" {
  resource_arn            = aws_wafv2_web_acl.api.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]
}

# ---------------------------------------------------------------- API task and service
locals {
  api_containers = [
    {
      name                   = "api"
      image                  = var.api_image
      essential              = true
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      stopTimeout            = 30
      portMappings           = [{ containerPort = var.api_port, hostPort = var.api_port, protocol = "tcp" }]
      environment = [
        { name = "SNB_HOST", value = "0.0.0.0" },
        { name = "SNB_PORT", value = tostring(var.api_port) },
        { name = "SNB_WORKERS", value = tostring(var.api_workers) },
        { name = "SNB_MLFLOW_TRACKING_URI", value = local.mlflow },
        { name = "SNB_MODEL_NAME", value = var.model_name },
        { name = "SNB_PREDICTION_LOG_URI", value = "s3://${local.buckets["predictions"]}/predictions" },
        { name = "SNB_AWS_REGION", value = var.region },
        { name = "AWS_REGION", value = var.region },
        { name = "AWS_DEFAULT_REGION", value = var.region },
        { name = "HOME", value = "/tmp" },
      ]
      mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
      healthCheck = {
        command     = ["CMD", "python", "-c", "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SNB_PORT', '8000'), timeout=3)"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 30
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_group_names["api"]
          awslogs-region        = var.region
          awslogs-stream-prefix = "api"
        }
      }
    }
  ]
}

resource "aws_ecs_task_definition" "api" {
  family                   = "${var.name}-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  # One uvicorn worker per task (scale out with tasks, not workers: kept-alive connections stick to the
  # worker that accepted them). 1 vCPU / 2 GB: the model takes ~450-500 MB RSS while it loads.
  cpu                   = var.api_cpu
  memory                = var.api_memory
  execution_role_arn    = var.execution_role_arns["api"]
  task_role_arn         = var.task_role_arns["api"]
  container_definitions = jsonencode(local.api_containers)

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  tags = var.tags
}

resource "aws_ecs_service" "api" {
  name                               = "${var.name}-api"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.api.arn
  desired_count                      = var.api_min_tasks
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  health_check_grace_period_seconds  = 60
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  propagate_tags                     = "SERVICE"
  enable_ecs_managed_tags            = true
  wait_for_steady_state              = var.wait_for_steady_state

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.api.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "api"
    container_port   = var.api_port
  }

  lifecycle {
    ignore_changes = [desired_count] # owned by autoscaling after creation
  }

  depends_on = [aws_lb_listener.https]
  tags       = var.tags
}

resource "aws_appautoscaling_target" "api" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.api.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.api_min_tasks
  max_capacity       = var.api_max_tasks
}

resource "aws_appautoscaling_policy" "api_cpu" {
  name               = "${var.name}-api-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = 60
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "api_requests" {
  name               = "${var.name}-api-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.api_requests_per_task_per_minute
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.api.arn_suffix}/${aws_lb_target_group.api.arn_suffix}"
    }
  }
}

# ---------------------------------------------------------------- training task
locals {
  training_containers = [
    {
      name                   = var.training_container_name
      image                  = var.training_image
      essential              = true
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      stopTimeout            = 120
      environment = [
        { name = "SNB_RUN_MODE", value = "local" }, # inside the container every step runs in-process
        { name = "SNB_DATA_ROOT", value = "s3://${local.buckets["data"]}" },
        { name = "SNB_MLFLOW_TRACKING_URI", value = local.mlflow },
        { name = "SNB_EXPERIMENT_NAME", value = var.experiment_name },
        { name = "SNB_MODEL_NAME", value = var.model_name },
        { name = "SNB_NOTEBOOKS_URI", value = "s3://${local.buckets["reports"]}/notebooks" },
        { name = "SNB_REPORTS_URI", value = "s3://${local.buckets["reports"]}/reports" },
        { name = "SNB_PREDICTION_LOG_URI", value = "s3://${local.buckets["predictions"]}/predictions" },
        { name = "SNB_TRAIN_BATCHES", value = var.training_default_batches },
        { name = "SNB_AWS_REGION", value = var.region },
        { name = "AWS_REGION", value = var.region },
        { name = "AWS_DEFAULT_REGION", value = var.region },
        { name = "HOME", value = "/tmp" },
      ]
      mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_group_names["training"]
          awslogs-region        = var.region
          awslogs-stream-prefix = "train"
        }
      }
    }
  ]
}

resource "aws_ecs_task_definition" "training" {
  family                   = "${var.name}-train"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  # 4 vCPU / 16 GB. The full-scale training bench (bench/train_scale.py: 3.6M reviews, TF-IDF +
  # linear model) targets <= 8 GB peak RSS; 16 GB leaves 2x headroom for the Jupyter kernel started by
  # Papermill, pandas/pyarrow copies while batches load from S3, and growth of the corpus. 16 GB is the
  # largest memory Fargate allows at 2 vCPU; 4 vCPU lets the featurisation and the solver use more
  # than the 2 cores the bench was measured on. /tmp (scratch) gets 50 GB of ephemeral storage.
  cpu                   = var.training_cpu
  memory                = var.training_memory
  execution_role_arn    = var.execution_role_arns["training"]
  task_role_arn         = var.task_role_arns["training"]
  container_definitions = jsonencode(local.training_containers)

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  ephemeral_storage {
    size_in_gib = var.training_ephemeral_storage_gib
  }

  volume {
    name = "tmp"
  }

  tags = var.tags
}

# ---------------------------------------------------------------- what an orchestrator needs to run training
# Attach this policy to the role of the Airflow deployment that runs the DAG in ecs mode
# (EcsRunTaskOperator: run the task, follow it, read its logs).
data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "run_training" {
  statement {
    sid       = "RunTrainingTask"
    actions   = ["ecs:RunTask"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${data.aws_caller_identity.current.account_id}:task-definition/${var.name}-train:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.this.arn]
    }
  }

  statement {
    sid       = "FollowAndStopTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${data.aws_caller_identity.current.account_id}:task/${var.name}/*"]
  }

  # DescribeTaskDefinition has no resource-level permissions: AWS requires "*".
  statement {
    sid       = "ReadTaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid       = "PassTrainingRoles"
    actions   = ["iam:PassRole"]
    resources = [var.task_role_arns["training"], var.execution_role_arns["training"]]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReadTrainingLogs"
    actions   = ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams"]
    resources = ["arn:${local.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:${var.log_group_names["training"]}:*"]
  }
}

resource "aws_iam_policy" "run_training" {
  name        = "${var.name}-run-training"
  description = "Run and follow ${var.name} training tasks (attach to the Airflow role for ecs mode)"
  policy      = data.aws_iam_policy_document.run_training.json
  tags        = var.tags
}
