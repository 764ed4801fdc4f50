variable "region" {
  description = "AWS region of the cluster, bucket and catalog."
  type        = string
}

variable "name" {
  description = "Name prefix of every resource (cluster, bucket, roles)."
  type        = string
  default     = "sluice"
}

variable "msk_mode" {
  description = "provisioned (full Apache Kafka: transactions for `sluice process`) or serverless."
  type        = string
  default     = "provisioned"
  validation {
    condition     = contains(["provisioned", "serverless"], var.msk_mode)
    error_message = "msk_mode must be provisioned or serverless."
  }
}

variable "kafka_version" {
  description = "Kafka version of the provisioned cluster."
  type        = string
  default     = "3.9.x"
}

variable "broker_instance_type" {
  description = "Broker instance type of the provisioned cluster."
  type        = string
  default     = "kafka.m7g.large"
}

variable "broker_count" {
  description = "Brokers of the provisioned cluster (a multiple of the subnets)."
  type        = number
  default     = 3
}

variable "broker_volume_gb" {
  description = "EBS volume per broker, GB."
  type        = number
  default     = 100
}

variable "subnet_ids" {
  description = "Private subnets for the brokers (one per AZ), reachable from the EKS nodes."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups of the workers (EKS nodes or pods) allowed to reach the brokers on 9098."
  type        = list(string)
}

variable "vpc_id" {
  description = "VPC of the subnets."
  type        = string
}

variable "topics" {
  description = "Topics the workers use: the input stream, the collector's dead-letter topic (<input>.deadletter), one per rule output, the processor's dead-letter, late-event and window-state (changelog: <group>.<source>.state) topics."
  type = object({
    input          = string
    collector_dead = string
    outputs        = list(string)
    dead           = string
    late           = string
    state          = list(string)
  })
  default = {
    input          = "clickstream"
    collector_dead = "clickstream.deadletter"
    outputs        = ["clickstream.high_intent_views"]
    dead           = "sluice.dead-letter"
    late           = "sluice.late"
    state          = ["sluice-process.clickstream.state"]
  }
}

variable "consumer_groups" {
  description = "Consumer groups of the processor and the sink."
  type = object({
    processor = string
    sink      = string
  })
  default = {
    processor = "sluice-process"
    sink      = "sluice-sink"
  }
}

variable "transactional_id_prefix" {
  description = "Prefix of the processor's transactional ids."
  type        = string
  default     = "sluice-process"
}

variable "lake_bucket" {
  description = "Name of the lake bucket (globally unique)."
  type        = string
}

variable "lake_prefix" {
  description = "Key prefix of the lake inside the bucket; the sink writes <prefix>/<table>/year=/month=/day=/hour=/."
  type        = string
  default     = "lake"
}

variable "transition_ia_days" {
  description = "Days before lake objects move to STANDARD_IA."
  type        = number
  default     = 30
}

variable "transition_glacier_days" {
  description = "Days before lake objects move to GLACIER (Flexible Retrieval; Athena cannot read them there)."
  type        = number
  default     = 365
}

variable "glue_database" {
  description = "Glue database for the Athena tables `sluice catalog ddl` prints."
  type        = string
  default     = "sluice"
}

variable "eks_oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider (IRSA)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the workers."
  type        = string
  default     = "sluice"
}

variable "keda_service_account" {
  description = "KEDA operator's ServiceAccount, NAMESPACE:NAME. KEDA scales the processor and sink on lag with their own roles (identityOwner: workload), which it assumes with its IRSA token: their roles trust this account too. Empty: no KEDA."
  type        = string
  default     = "keda:keda-operator"
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = { app = "sluice" }
}
