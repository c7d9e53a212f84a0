"""The remediation vocabulary: which commands and IaC resource types an analysis may contain.

An analysis goes to people and, in auto mode, to an executor, so its plan may only hold commands
from this allowlist: a known CLI verb per cloud (``aws ec2 revoke-security-group-ingress``, ``az
storage account update``, ``gcloud storage buckets update``, ...) or a host package upgrade, without
shell metacharacters (no pipes, chaining, substitution or redirection), and IaC snippets whose
resource types are listed here, without provisioners. Each entry names its remediation *family*, which
the evaluation uses to compare a plan with an analyst's label.

There is deliberately no dismissal, suppression or "mark as false positive" action in the vocabulary;
:data:`DISMISSAL` finds such wording so grounding can strip it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from processors.models import Cloud

__all__ = [
    "COMMAND_RULES",
    "DISMISSAL",
    "FAMILIES",
    "IAC_RESOURCE_TYPES",
    "INJECTION",
    "CommandRule",
    "Verdict",
    "command_verdict",
    "iac_verdict",
    "visible_for_matching",
]

FAMILIES: tuple[str, ...] = (
    "public_storage",
    "open_ingress",
    "iam_over_permission",
    "unencrypted_data_store",
    "logging_disabled",
    "vulnerable_packages",
    "runtime_incident",
    "instance_metadata",
)
"""The playbook families; ``"none"`` is used for an analysis without an allowlisted step."""


@dataclass(frozen=True)
class CommandRule:
    """One allowed command prefix (whole words), the cloud it applies to (``host``: any) and its family."""

    cloud: str
    prefix: str
    family: str


def _rules(cloud: str, family: str, *prefixes: str) -> list[CommandRule]:
    return [CommandRule(cloud, p, family) for p in prefixes]


COMMAND_RULES: tuple[CommandRule, ...] = tuple(
    _rules("aws", "public_storage", "aws s3api put-public-access-block", "aws s3api delete-bucket-policy",
           "aws s3api put-bucket-acl", "aws s3api get-bucket-policy", "aws s3control put-public-access-block")
    + _rules("aws", "open_ingress", "aws ec2 revoke-security-group-ingress",
             "aws ec2 authorize-security-group-ingress", "aws ec2 describe-security-groups",
             "aws ec2 describe-security-group-rules")
    + _rules("aws", "instance_metadata", "aws ec2 modify-instance-metadata-options")
    + _rules("aws", "iam_over_permission", "aws iam detach-role-policy", "aws iam delete-role-policy",
             "aws iam put-role-policy", "aws iam attach-role-policy", "aws iam create-policy-version",
             "aws iam list-attached-role-policies", "aws iam get-role", "aws iam delete-role",
             "aws iam generate-service-last-accessed-details", "aws accessanalyzer start-policy-generation")
    + _rules("aws", "unencrypted_data_store", "aws s3api put-bucket-encryption", "aws rds create-db-snapshot",
             "aws rds copy-db-snapshot", "aws rds restore-db-instance-from-db-snapshot",
             "aws rds modify-db-instance", "aws ec2 enable-ebs-encryption-by-default")
    + _rules("aws", "logging_disabled", "aws cloudtrail create-trail", "aws cloudtrail start-logging",
             "aws cloudtrail update-trail", "aws s3api put-bucket-logging", "aws ec2 create-flow-logs",
             "aws cloudtrail lookup-events")
    + _rules("aws", "vulnerable_packages", "aws ssm send-command --document-name AWS-RunPatchBaseline")
    + _rules("aws", "runtime_incident", "aws ec2 create-snapshot", "aws ec2 modify-instance-attribute",
             "aws ec2 describe-instances", "aws iam update-access-key", "aws ec2 stop-instances")
    + _rules("azure", "public_storage", "az storage account update", "az storage container set-permission")
    + _rules("azure", "open_ingress", "az network nsg rule update", "az network nsg rule delete",
             "az network nsg rule list", "az network nsg rule show")
    + _rules("azure", "iam_over_permission", "az role assignment delete", "az role assignment create",
             "az role assignment list")
    + _rules("azure", "unencrypted_data_store", "az sql db tde set", "az storage account encryption-scope create",
             "az vm encryption enable")
    + _rules("azure", "logging_disabled", "az monitor diagnostic-settings create", "az monitor log-profiles create")
    + _rules("azure", "vulnerable_packages", "az vm assess-patches", "az vm install-patches")
    + _rules("azure", "runtime_incident", "az snapshot create", "az vm deallocate", "az vm show")
    + _rules("gcp", "public_storage", "gcloud storage buckets update", "gcloud storage buckets remove-iam-policy-binding")
    + _rules("gcp", "open_ingress", "gcloud compute firewall-rules update", "gcloud compute firewall-rules delete",
             "gcloud compute firewall-rules describe")
    + _rules("gcp", "iam_over_permission", "gcloud projects remove-iam-policy-binding",
             "gcloud projects get-iam-policy", "gcloud compute instances set-service-account",
             "gcloud iam service-accounts keys delete")
    + _rules("gcp", "unencrypted_data_store", "gcloud sql instances patch", "gcloud kms keys create")
    + _rules("gcp", "logging_disabled", "gcloud logging sinks create", "gcloud projects set-iam-policy --audit")
    + _rules("gcp", "vulnerable_packages", "gcloud compute os-config patch-jobs execute")
    + _rules("gcp", "runtime_incident", "gcloud compute disks snapshot", "gcloud compute instances stop",
             "gcloud compute instances describe")
    + _rules("host", "vulnerable_packages", "sudo apt-get install --only-upgrade", "apt-get install --only-upgrade",
             "sudo yum update", "yum update", "sudo dnf upgrade", "dnf upgrade", "pip install --upgrade",
             "npm install", "go get")
    + _rules("host", "runtime_incident", "kubectl cordon", "kubectl drain")
)

IAC_RESOURCE_TYPES: dict[str, str] = {
    **dict.fromkeys(("aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block", "aws_s3_bucket_policy",
                     "aws_s3_bucket_acl", "aws_s3_bucket_ownership_controls", "azurerm_storage_container",
                     "google_storage_bucket_iam_binding", "AWS::S3::BucketPolicy"), "public_storage"),
    **dict.fromkeys(("aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule",
                     "azurerm_network_security_rule", "google_compute_firewall", "AWS::EC2::SecurityGroup",
                     "AWS::EC2::SecurityGroupIngress"), "open_ingress"),
    **dict.fromkeys(("aws_iam_role_policy", "aws_iam_policy", "aws_iam_role_policy_attachment", "aws_iam_role",
                     "azurerm_role_assignment", "google_project_iam_member", "google_project_iam_binding",
                     "google_service_account", "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"),
                    "iam_over_permission"),
    **dict.fromkeys(("aws_s3_bucket_server_side_encryption_configuration", "aws_db_instance", "aws_kms_key",
                     "aws_ebs_encryption_by_default", "azurerm_mssql_database", "azurerm_storage_account",
                     "google_sql_database_instance", "google_kms_crypto_key", "AWS::RDS::DBInstance",
                     "AWS::KMS::Key", "AWS::S3::Bucket"), "unencrypted_data_store"),
    **dict.fromkeys(("aws_cloudtrail", "aws_flow_log", "aws_s3_bucket_logging", "azurerm_monitor_diagnostic_setting",
                     "google_logging_project_sink", "google_project_iam_audit_config", "AWS::CloudTrail::Trail",
                     "AWS::EC2::FlowLog"), "logging_disabled"),
    **dict.fromkeys(("aws_instance", "aws_launch_template", "AWS::EC2::LaunchTemplate", "AWS::EC2::Instance"),
                    "instance_metadata"),
    **dict.fromkeys(("google_storage_bucket",), "public_storage"),
    **dict.fromkeys(("aws_ssm_patch_baseline", "aws_ssm_maintenance_window", "google_os_config_patch_deployment"),
                    "vulnerable_packages"),
}

DISMISSAL = re.compile(
    r"\b(?:dismiss\w*|suppress\w*|snooz\w*|silenc\w*|mute\b|whitelist\w*|"
    r"ignore (?:this|the) (?:alert|finding)|close (?:this|the) (?:alert|finding)|"
    r"mark(?:ed)? (?:it |this |the (?:alert|finding) )?as (?:a )?(?:false positive|resolved|benign|low priority)|"
    r"accept(?:ed)? the risk|no action (?:is )?(?:needed|required))",
    re.IGNORECASE,
)
"""Wording of a dismissal or suppression: stripped from any analysis (none exists in the vocabulary)."""

INJECTION = re.compile(
    r"(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,30}?\b(?:previous|prior|above|earlier|system|all|any|"
    r"your|the)\b[^.\n]{0,20}?\b(?:instructions?|prompts?|rules|guidelines|guardrails|directives)"
    # role-play
    r"|you are now|you are an? (?:helpful )?[\w-]+ (?:bot|assistant|ai)\b|pretend (?:to be|you are|you're)|"
    r"role-?play|stay in character|from now on|developer mode|jailbreak|\bDAN\b|maintenance mode|"
    r"\bact as (?:an? |the )?(?:ai|assistant|bot|admin\w*|root|developer|system|security lead|\w+ auditor|model)\b|"
    r"as the bot\b|"
    # fake system or chat-template turns
    r"new instructions|as instructed|note to (?:the )?(?:ai|assistant|model|llm|bot|reviewer)s?\b|"
    r"\bai reviewers?\b|instructions? for the (?:ai|assistant|model|llm)|system[ _]*(?:prompt|message|override)s?\b|"
    r"^\W*(?:system|assistant|user|human)\s*:|\[\s*/?\s*(?:system|inst)\s*\]|<\|im_(?:start|end)\|>|"
    r"<\s*/?\s*system\s*>|\#{2,}\s*system|priority override|"
    # steering the outcome: priority, ticket, verdict
    r"\b(?:set|change|lower|downgrade|override)\b[^.\n]{0,25}?\b(?:priority|severity|tier)\b|"
    r"\b(?:priority|severity|tier)\b[^.\n]{0,12}?(?:\bto|=|:)\s*[\"']?(?:p[2-4]|low|informational|info)\b|"
    r"\bdowngrade (?:this|it)\b|"
    r"\b(?:mark|classify|treat|label|rate|flag)\w* (?:(?:this|it|the) ?(?:alert|finding|incident|resource|miner)? )?"
    r"as (?:an? )?(?:low|benign|informational|resolved|false positive|safe|compliant|accepted risk|expected|intended)|"
    r"\bdo not (?:open|create|file|raise|escalate|report)\b|skip escalation|"
    r"\b(?:close|resolve) (?:this|the) (?:ticket|issue|incident)\b|close this issue|approve and close|"
    r"\bneeds? no (?:action|remediation|fix)|(?:answer|reply|respond) (?:only )?(?:that|with)\b|"
    r"reveal (?:your|the) (?:system )?prompt|(?:repeat|print|show) (?:your|the) (?:system )?prompt|"
    r"waives? (?:this|the) control|security exception|accepted by the|is intended\b|this is expected\b|"
    r"is safe and needs|is resolved\b|"
    # markup that would render as something else in a tracker (ADF nodes, wiki macros)
    r"[\"']type[\"']\s*:\s*[\"'](?:status|mention|inlineCard|blockCard|emoji|media\w*|extension)[\"']|"
    r"\{color:[^}]*\}|\{html\}",
    re.IGNORECASE | re.MULTILINE,
)
"""Wording that only an injected instruction would put into an answer: instructions to the model,
role-play, fake system turns and attempts to steer priority, ticket or verdict. Grounding strips a
sentence, action, step or evidence item holding such wording (matched on its visible text, see
:func:`visible_for_matching`); the prompt-injection corpus in ``tests/data/prompt_injection``
exercises every branch, and a test keeps it from matching the playbooks' and knowledge base's text."""


def visible_for_matching(text: str) -> str:
    """``text`` as a reader sees it, for pattern checks: invisible format and control characters
    (zero-width, bidi overrides, Unicode tag characters) removed and compatibility forms folded
    (fullwidth letters), so ``ig\u200bnore`` or ``ｉｇｎｏｒｅ`` cannot slip past :data:`INJECTION`."""
    kept = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in _INVISIBLE)
    return unicodedata.normalize("NFKC", kept)


_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cs"})

_PLACEHOLDER = re.compile(r"<[A-Za-z0-9_.:-]{1,40}>")
_METACHARS = re.compile(r"[|;&`$<>\\\n\r]|\(\s*\)")
_IAC_TYPES = re.compile(r"""resource\s+"([A-Za-z0-9_]+)"|Type["']?\s*:\s*["']?(AWS::[A-Za-z0-9:]+)""")
_IAC_FORBIDDEN = re.compile(r"\b(?:provisioner|local-exec|remote-exec|null_resource|data\s+\"external\"|"
                            r"user_data|Custom::|AWS::Lambda|AWS::CloudFormation::CustomResource)", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """Whether a command or snippet may stay in a plan, why not, and the families it belongs to."""

    allowed: bool
    reason: str = ""
    family: str = ""


def command_verdict(command: str, cloud: Cloud) -> Verdict:
    """Check one CLI command against the allowlist for ``cloud`` (host package commands: any cloud)."""
    text = " ".join(command.split())
    if not text:
        return Verdict(True)
    if _METACHARS.search(_PLACEHOLDER.sub("X", text)):
        return Verdict(False, "shell metacharacters (pipe, chaining, substitution or redirection)")
    for rule in COMMAND_RULES:
        if rule.cloud not in (cloud.value, "host"):
            continue
        if text == rule.prefix or text.startswith(rule.prefix + " "):
            return Verdict(True, family=rule.family)
    return Verdict(False, f"command not in the {cloud.value} remediation allowlist")


def iac_verdict(snippet: str) -> Verdict:
    """Check an IaC snippet: every resource type allowlisted, no provisioners or custom resources.

    A fragment with no resource header (e.g. ``metadata_options { ... }``) passes when it holds
    nothing forbidden; its family is then unknown (``""``).
    """
    if not snippet.strip():
        return Verdict(True)
    if _IAC_FORBIDDEN.search(snippet):
        return Verdict(False, "snippet runs code (provisioner, user_data or custom resource)")
    families: list[str] = []
    for tf_type, cfn_type in _IAC_TYPES.findall(snippet):
        rtype = tf_type or cfn_type
        family = IAC_RESOURCE_TYPES.get(rtype)
        if family is None:
            return Verdict(False, f"resource type {rtype} not in the IaC allowlist")
        families.append(family)
    return Verdict(True, family=families[0] if families else "")
