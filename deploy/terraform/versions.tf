# Sluice next to Amazon MSK: the cluster (IAM auth over TLS), the lake bucket
# (SSE-KMS, no public access, lifecycle to IA and Glacier), the Glue
# database, and one least-privilege IAM role per worker for IRSA.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = var.tags
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
