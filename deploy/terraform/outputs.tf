data "aws_msk_bootstrap_brokers" "sluice" {
  cluster_arn = local.cluster_arn
}

output "bootstrap_brokers_iam" {
  description = "Give to --brokers (SLUICE_BROKERS) with --sasl-mechanism aws-msk-iam."
  value       = data.aws_msk_bootstrap_brokers.sluice.bootstrap_brokers_sasl_iam
}

output "cluster_arn" {
  value = local.cluster_arn
}

output "lake_url" {
  description = "Give to sluice sink --to."
  value       = "s3://${aws_s3_bucket.lake.id}/${var.lake_prefix}"
}

output "lake_kms_key_arn" {
  value = aws_kms_key.lake.arn
}

output "glue_database" {
  value = aws_glue_catalog_database.sluice.name
}

output "role_arns" {
  description = "Annotate each worker's ServiceAccount with eks.amazonaws.com/role-arn."
  value       = { for k, r in aws_iam_role.worker : k => r.arn }
}
