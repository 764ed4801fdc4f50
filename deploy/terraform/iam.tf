# One role per worker, assumed through IRSA by that worker's ServiceAccount
# (and, for the workers KEDA scales, by KEDA), each allowed exactly what the
# worker does and nothing else.

locals {
  oidc_issuer  = element(split("oidc-provider/", var.eks_oidc_provider_arn), 1)
  workers      = ["collector", "processor", "sink", "admin"]
  keda_scaled  = ["processor", "sink"] # see the trust policy below
  input_topic  = "${local.topic_arn}/${var.topics.input}"
  dead_topic   = "${local.topic_arn}/${var.topics.dead}"
  cdead_topic  = "${local.topic_arn}/${var.topics.collector_dead}"
  late_topic   = "${local.topic_arn}/${var.topics.late}"
  output_topic = [for t in var.topics.outputs : "${local.topic_arn}/${t}"]
  state_topic  = [for t in var.topics.state : "${local.topic_arn}/${t}"]
  lake_objects = "${aws_s3_bucket.lake.arn}/${var.lake_prefix}/*"
}

data "aws_iam_policy_document" "assume" {
  for_each = toset(local.workers)
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.eks_oidc_provider_arn]
    }
    # Workers KEDA scales on consumer lag (deploy/k8s/keda.yaml,
    # identityOwner: workload): KEDA reads their ServiceAccount's role and
    # assumes it with its own IRSA token, so it must trust KEDA's too.
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values = concat(
        ["system:serviceaccount:${var.namespace}:sluice-${each.key}"],
        var.keda_service_account != "" && contains(local.keda_scaled, each.key) ? ["system:serviceaccount:${var.keda_service_account}"] : [],
      )
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "worker" {
  for_each           = toset(local.workers)
  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.assume[each.key].json
}

# collector and produce: idempotent writes to the input stream (and its
# dead-letter topic for events that fail validation).
data "aws_iam_policy_document" "collector" {
  statement {
    sid       = "Cluster"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
    resources = [local.cluster_arn]
  }
  statement {
    sid       = "WriteInput"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    resources = [local.input_topic, local.cdead_topic]
  }
}

# processor: reads the input in its group, writes rule outputs in
# transactions (exactly-once), keeps window state in changelog topics.
data "aws_iam_policy_document" "processor" {
  statement {
    sid       = "Cluster"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
    resources = [local.cluster_arn]
  }
  statement {
    sid       = "ReadInput"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
    resources = [local.input_topic]
  }
  statement {
    sid       = "WriteOutputs"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    resources = concat(local.output_topic, [local.dead_topic, local.late_topic])
  }
  # Its own topics, all named <group>.*: window-state changelogs
  # (<group>.<source>.state) and, for each window rule that combines
  # partials or repartitions, <group>.<rule>.partials or .repartition. It
  # creates these itself when a rule needs one, so adding a rule to the
  # ConfigMap needs no topic Job run; it may create no other topic.
  statement {
    sid       = "InternalTopics"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic", "kafka-cluster:ReadData", "kafka-cluster:WriteData"]
    resources = ["${local.topic_arn}/${var.consumer_groups.processor}.*"]
  }
  statement {
    sid       = "Group"
    actions   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
    resources = ["${local.group_arn}/${var.consumer_groups.processor}"]
  }
  statement {
    sid       = "Transactions"
    actions   = ["kafka-cluster:DescribeTransactionalId", "kafka-cluster:AlterTransactionalId"]
    resources = ["${local.txn_arn}/${var.transactional_id_prefix}*"]
  }
}

# sink: reads the input and the rule outputs in its group, writes Parquet
# under the lake prefix with the lake key.
data "aws_iam_policy_document" "sink" {
  statement {
    sid       = "Cluster"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
    resources = [local.cluster_arn]
  }
  statement {
    sid       = "ReadTopics"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
    resources = concat([local.input_topic], local.output_topic)
  }
  statement {
    sid       = "Group"
    actions   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
    resources = ["${local.group_arn}/${var.consumer_groups.sink}"]
  }
  statement {
    sid       = "LakeObjects"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = [local.lake_objects]
  }
  statement {
    sid       = "LakeList"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.lake_prefix}/*"]
    }
  }
  statement {
    sid       = "LakeKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.lake.arn]
  }
}

# admin: the one-off `sluice check --create` job that creates the topics
# (MSK keeps auto.create.topics.enable=false, and the workers are not
# allowed to create topics, but for the processor's own <group>.* ones).
data "aws_iam_policy_document" "admin" {
  statement {
    sid       = "Cluster"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
    resources = [local.cluster_arn]
  }
  statement {
    sid       = "CreateTopics"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic"]
    resources = concat([local.input_topic, local.cdead_topic, local.dead_topic, local.late_topic], local.output_topic, local.state_topic)
  }
}

locals {
  worker_policies = {
    collector = data.aws_iam_policy_document.collector.json
    processor = data.aws_iam_policy_document.processor.json
    sink      = data.aws_iam_policy_document.sink.json
    admin     = data.aws_iam_policy_document.admin.json
  }
}

resource "aws_iam_role_policy" "worker" {
  for_each = local.worker_policies
  name     = "${var.name}-${each.key}"
  role     = aws_iam_role.worker[each.key].id
  policy   = each.value
}
