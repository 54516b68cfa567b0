terraform {
  required_version = ">= 1.10" # S3-native state locking (use_lockfile)

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.90, < 7.0"
    }
  }

  # bucket and region come from -backend-config (see backend.hcl.example and .github/workflows/deploy.yml):
  #   terraform init -backend-config=backend.hcl
  backend "s3" {
    key          = "sentiment-nb/prod/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
