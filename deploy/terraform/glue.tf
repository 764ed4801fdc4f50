# Tables come from `sluice catalog ddl` (Athena DDL with partition
# projection); the database holds them.
resource "aws_glue_catalog_database" "sluice" {
  name        = var.glue_database
  description = "Sluice lake tables (s3://${var.lake_bucket}/${var.lake_prefix}/)"
}
