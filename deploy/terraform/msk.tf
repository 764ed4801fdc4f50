# MSK with IAM access control only, TLS between clients and brokers and
# inside the cluster. Clients use port 9098 (SASL/IAM over TLS).

resource "aws_security_group" "msk" {
  name        = "${var.name}-msk"
  description = "MSK brokers: IAM over TLS from the Sluice workers"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "msk_iam" {
  for_each                     = toset(var.client_security_group_ids)
  security_group_id            = aws_security_group.msk.id
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
  description                  = "Kafka SASL/IAM over TLS"
}

resource "aws_msk_configuration" "sluice" {
  count          = var.msk_mode == "provisioned" ? 1 : 0
  name           = "${var.name}-config"
  kafka_versions = [var.kafka_version]
  # Topics are created on purpose (sluice check --create), never by a typo.
  server_properties = <<-PROPS
    auto.create.topics.enable=false
    default.replication.factor=3
    min.insync.replicas=2
    num.partitions=6
    transaction.state.log.replication.factor=3
    transaction.state.log.min.isr=2
  PROPS
}

resource "aws_msk_cluster" "sluice" {
  count                  = var.msk_mode == "provisioned" ? 1 : 0
  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = [aws_security_group.msk.id]
    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_gb
      }
    }
  }

  client_authentication {
    unauthenticated = false
    sasl {
      iam   = true
      scram = false
    }
  }

  encryption_info {
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.sluice[0].arn
    revision = aws_msk_configuration.sluice[0].latest_revision
  }
}

resource "aws_msk_serverless_cluster" "sluice" {
  count        = var.msk_mode == "serverless" ? 1 : 0
  cluster_name = var.name

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.msk.id]
  }

  client_authentication {
    sasl {
      iam {
        enabled = true
      }
    }
  }
}

locals {
  cluster_arn  = var.msk_mode == "provisioned" ? aws_msk_cluster.sluice[0].arn : aws_msk_serverless_cluster.sluice[0].arn
  cluster_name = var.name
  # arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID -> the UUID, for the
  # topic, group and transactional-id ARNs IAM access control checks.
  cluster_uuid = element(split("/", local.cluster_arn), 2)
  kafka_arn    = "arn:${data.aws_partition.current.partition}:kafka:${var.region}:${data.aws_caller_identity.current.account_id}"
  topic_arn    = "${local.kafka_arn}:topic/${local.cluster_name}/${local.cluster_uuid}"
  group_arn    = "${local.kafka_arn}:group/${local.cluster_name}/${local.cluster_uuid}"
  txn_arn      = "${local.kafka_arn}:transactional-id/${local.cluster_name}/${local.cluster_uuid}"
}
