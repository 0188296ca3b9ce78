"""Identity, encryption, DNS, edge and audit resource types: the account's security perimeter.

IAM groups, instance profiles and identity providers; KMS aliases; Route 53 health checks; WAFv2
(regional scope); CloudFront; CloudTrail; AWS Config; GuardDuty; ACM. The IAM users, roles and
managed policies and the KMS keys are core types (core/registry.py).
"""

from __future__ import annotations

from inventag_pipeline.core.resource_type import Detail, ResourceType, _t, authorization_details

# WAFv2 has no botocore paginators, so a list call returns one page: ask for the largest one (the API
# maximum is 100). CLOUDFRONT-scope WAFv2 resources (listed in us-east-1 with Scope=CLOUDFRONT) are not
# collected: a type has one list call, and these declarations use it for the REGIONAL scope.
_WAF_LIST = {"Scope": "REGIONAL", "Limit": 100}


def _waf_tags() -> Detail:
    return Detail("list_tags_for_resource", {"ResourceARN": "{ARN}"}, "Tags", "TagInfoForResource.TagList")


# An instance profile embeds each role's whole description; the role's own record reports those fields.
_EMBEDDED_ROLE_FIELDS = tuple(
    f"Roles[].{name}"
    for name in ("Path", "RoleId", "CreateDate", "AssumeRolePolicyDocument", "Description", "MaxSessionDuration",
                 "PermissionsBoundary", "Tags", "RoleLastUsed")
)

TYPES: tuple[ResourceType, ...] = (
    _t(
        cfn_type="AWS::IAM::Group",
        config_type="AWS::IAM::Group",
        service="iam",
        description="IAM group with its attached managed policies and inline policy names (groups take no tags).",
        list_operation="list_groups",
        result_path="Groups[]",
        id_field="GroupName",
        arn_field="Arn",
        name_field="GroupName",
        is_global=True,
        tags_field=None,
        details=(
            Detail(
                "list_attached_group_policies",
                {"GroupName": "{id}"},
                "AttachedManagedPolicies",
                "AttachedPolicies",
                paginate=True,
            ),
            Detail("list_group_policies", {"GroupName": "{id}"}, "InlinePolicyNames", "PolicyNames", paginate=True),
        ),
        bulk_details=authorization_details("Group", "GroupDetailList", {
            "AttachedManagedPolicies": "AttachedManagedPolicies || `[]`",
            "InlinePolicyNames": "GroupPolicyList[].PolicyName || `[]`"}),
        # Membership is reported on each user's record (AWS::IAM::User `Groups`), not repeated here.
        volatile_paths=("GroupId",),
        list_keys={"AttachedManagedPolicies": ("PolicyArn",)},
        relationships={"AttachedManagedPolicies[].PolicyArn": "AWS::IAM::ManagedPolicy"},
    ),
    _t(
        cfn_type="AWS::IAM::InstanceProfile",
        config_type="AWS::IAM::InstanceProfile",
        service="iam",
        description="IAM instance profile and the role it passes to EC2 instances.",
        list_operation="list_instance_profiles",
        result_path="InstanceProfiles[]",
        id_field="InstanceProfileName",
        arn_field="Arn",
        name_field="InstanceProfileName",
        is_global=True,
        # ListInstanceProfiles does not return tags (documented); GetInstanceProfile does.
        details=(Detail("get_instance_profile", {"InstanceProfileName": "{id}"}, "Tags", "InstanceProfile.Tags"),),
        volatile_paths=("InstanceProfileId", *_EMBEDDED_ROLE_FIELDS),
        list_keys={"Roles": ("Arn",)},
        relationships={"Roles[].Arn": "AWS::IAM::Role"},
    ),
    _t(
        cfn_type="AWS::IAM::OIDCProvider",
        config_type="AWS::IAM::OIDCProvider",
        service="iam",
        description="IAM OpenID Connect identity provider: issuer URL, audiences and thumbprints.",
        list_operation="list_open_id_connect_providers",
        result_path="OpenIDConnectProviderList[]",
        id_field="Arn",
        arn_field="Arn",
        name_field="Url",
        is_global=True,
        details=(Detail("get_open_id_connect_provider", {"OpenIDConnectProviderArn": "{Arn}"}, ""),),
    ),
    _t(
        cfn_type="AWS::IAM::SAMLProvider",
        config_type="AWS::IAM::SAMLProvider",
        service="iam",
        description=(
            "IAM SAML identity provider with its metadata document (kept whole: a new signing certificate "
            "in it is a change worth seeing)."
        ),
        list_operation="list_saml_providers",
        result_path="SAMLProviderList[]",
        id_field="Arn",
        arn_field="Arn",
        # The API has no name field; the ARN's last segment is `saml-provider/<name>`.
        name_from_arn=True,
        details=(Detail("get_saml_provider", {"SAMLProviderArn": "{Arn}"}, ""),),
        is_global=True,
        list_keys={"PrivateKeyList": ("KeyId",)},
    ),
    _t(
        cfn_type="AWS::KMS::Alias",
        config_type="AWS::KMS::Alias",
        service="kms",
        description=(
            "KMS alias and the key it points at. AWS-managed aliases (alias/aws/*) are included, like the "
            "AWS-managed keys AWS::KMS::Key lists: ListAliases cannot filter them out."
        ),
        list_operation="list_aliases",
        result_path="Aliases[]",
        id_field="AliasName",
        arn_field="AliasArn",
        name_field="AliasName",
        tags_field=None,
        # Moves only when TargetKeyId does, which is where a re-pointed alias is reported.
        volatile_paths=("LastUpdatedDate",),
        relationships={"TargetKeyId": "AWS::KMS::Key"},
    ),
    _t(
        cfn_type="AWS::Route53::HealthCheck",
        service="route53",
        description="Route 53 health check configuration (not its observed health).",
        list_operation="list_health_checks",
        result_path="HealthChecks[]",
        id_field="Id",
        arn_template="arn:{partition}:route53:::healthcheck/{id}",
        name_field="HealthCheckConfig.FullyQualifiedDomainName",
        is_global=True,
        details=(
            Detail(
                "list_tags_for_resource",
                {"ResourceType": "healthcheck", "ResourceId": "{id}"},
                "Tags",
                "ResourceTagSet.Tags",
            ),
        ),
        # A counter bumped by every update; the updated fields themselves are the change.
        volatile_paths=("HealthCheckVersion",),
        relationships={"HealthCheckConfig.ChildHealthChecks[]": "AWS::Route53::HealthCheck"},
    ),
    _t(
        cfn_type="AWS::WAFv2::WebACL",
        config_type="AWS::WAFv2::WebACL",
        service="wafv2",
        description="WAFv2 web ACL (regional scope) with its rules, default action and logging configuration.",
        list_operation="list_web_acls",
        list_params=_WAF_LIST,
        result_path="WebACLs[]",
        id_field="Id",
        arn_field="ARN",
        name_field="Name",
        details=(
            Detail("get_web_acl", {"Name": "{Name}", "Id": "{Id}", "Scope": "REGIONAL"}, "", "WebACL"),
            _waf_tags(),
            Detail(
                "get_logging_configuration",
                {"ResourceArn": "{ARN}"},
                "LoggingConfiguration",
                "LoggingConfiguration",
                absent_codes=("WAFNonexistentItemException",),
            ),
        ),
        volatile_paths=("LockToken",),
        list_keys={"Rules": ("Name",)},
        relationships={
            "Rules[].Statement.RuleGroupReferenceStatement.ARN": "AWS::WAFv2::RuleGroup",
            "Rules[].Statement.IPSetReferenceStatement.ARN": "AWS::WAFv2::IPSet",
            "Rules[].Statement.RegexPatternSetReferenceStatement.ARN": "AWS::WAFv2::RegexPatternSet",
        },
    ),
    _t(
        cfn_type="AWS::WAFv2::IPSet",
        config_type="AWS::WAFv2::IPSet",
        service="wafv2",
        description="WAFv2 IP set (regional scope) with its addresses.",
        list_operation="list_ip_sets",
        list_params=_WAF_LIST,
        result_path="IPSets[]",
        id_field="Id",
        arn_field="ARN",
        name_field="Name",
        details=(
            Detail("get_ip_set", {"Name": "{Name}", "Id": "{Id}", "Scope": "REGIONAL"}, "", "IPSet"),
            _waf_tags(),
        ),
        volatile_paths=("LockToken",),
    ),
    _t(
        cfn_type="AWS::WAFv2::RegexPatternSet",
        config_type="AWS::WAFv2::RegexPatternSet",
        service="wafv2",
        description="WAFv2 regex pattern set (regional scope) with its expressions.",
        list_operation="list_regex_pattern_sets",
        list_params=_WAF_LIST,
        result_path="RegexPatternSets[]",
        id_field="Id",
        arn_field="ARN",
        name_field="Name",
        details=(
            Detail("get_regex_pattern_set", {"Name": "{Name}", "Id": "{Id}", "Scope": "REGIONAL"}, "",
                   "RegexPatternSet"),
            _waf_tags(),
        ),
        volatile_paths=("LockToken",),
        list_keys={"RegularExpressionList": ("RegexString",)},
    ),
    _t(
        cfn_type="AWS::WAFv2::RuleGroup",
        config_type="AWS::WAFv2::RuleGroup",
        service="wafv2",
        description="WAFv2 rule group (regional scope) with its rules and capacity.",
        list_operation="list_rule_groups",
        list_params=_WAF_LIST,
        result_path="RuleGroups[]",
        id_field="Id",
        arn_field="ARN",
        name_field="Name",
        details=(
            Detail("get_rule_group", {"Name": "{Name}", "Id": "{Id}", "Scope": "REGIONAL"}, "", "RuleGroup"),
            _waf_tags(),
        ),
        volatile_paths=("LockToken",),
        list_keys={"Rules": ("Name",)},
        relationships={
            "Rules[].Statement.IPSetReferenceStatement.ARN": "AWS::WAFv2::IPSet",
            "Rules[].Statement.RegexPatternSetReferenceStatement.ARN": "AWS::WAFv2::RegexPatternSet",
        },
    ),
    _t(
        cfn_type="AWS::CloudFront::Distribution",
        config_type="AWS::CloudFront::Distribution",
        service="cloudfront",
        description="CloudFront distribution: origins, cache behaviors, certificate, WAF and restrictions.",
        list_operation="list_distributions",
        result_path="DistributionList.Items[]",
        id_field="Id",
        arn_field="ARN",
        name_field="DomainName",
        is_global=True,
        details=(Detail("list_tags_for_resource", {"Resource": "{ARN}"}, "Tags", "Tags.Items"),),
        volatile_paths=("ETag", "LastModifiedTime"),
        operational_paths=("Status",),
        list_keys={
            "Origins.Items": ("Id",),
            "OriginGroups.Items": ("Id",),
            "CustomErrorResponses.Items": ("ErrorCode",),
            "DefaultCacheBehavior.LambdaFunctionAssociations.Items": ("EventType",),
            "DefaultCacheBehavior.FunctionAssociations.Items": ("EventType",),
        },
        # The first cache behavior whose path pattern matches wins: the order is configuration.
        ordered_paths=("CacheBehaviors.Items",),
        relationships={
            "ViewerCertificate.ACMCertificateArn": "AWS::CertificateManager::Certificate",
            # A WAFv2 web ACL's ARN (CLOUDFRONT scope); a WAF Classic ACL would appear as a bare id.
            "WebACLId": "AWS::WAFv2::WebACL",
        },
    ),
    _t(
        cfn_type="AWS::CloudTrail::Trail",
        config_type="AWS::CloudTrail::Trail",
        service="cloudtrail",
        description=(
            "CloudTrail trail in its home region with its event selectors and logging status. Trail tags are "
            "not read: ListTags takes a list of ARNs, which detail templates cannot fill."
        ),
        list_operation="describe_trails",
        # Multi-region trails appear in every region as shadows; list each once, in its home region.
        list_params={"includeShadowTrails": False},
        result_path="trailList[]",
        id_field="Name",
        arn_field="TrailARN",
        name_field="Name",
        tags_field=None,
        details=(
            Detail("get_trail_status", {"Name": "{TrailARN}"}, "Status"),
            Detail("get_event_selectors", {"TrailName": "{TrailARN}"}, ""),
        ),
        volatile_paths=(
            "Status.LatestDeliveryTime",
            "Status.LatestNotificationTime",
            "Status.LatestCloudWatchLogsDeliveryTime",
            "Status.LatestDigestDeliveryTime",
            "Status.LatestDeliveryAttemptTime",
            "Status.LatestNotificationAttemptTime",
            "Status.LatestDeliveryAttemptSucceeded",
            "Status.LatestNotificationAttemptSucceeded",
        ),
        # Whether the trail is logging, since when, and its delivery errors: running state, not configuration.
        operational_paths=(
            "Status.IsLogging",
            "Status.StartLoggingTime",
            "Status.StopLoggingTime",
            "Status.TimeLoggingStarted",
            "Status.TimeLoggingStopped",
            "Status.LatestDeliveryError",
            "Status.LatestNotificationError",
            "Status.LatestCloudWatchLogsDeliveryError",
            "Status.LatestDigestDeliveryError",
        ),
        relationships={
            "S3BucketName": "AWS::S3::Bucket",
            "KmsKeyId": "AWS::KMS::Key",
            "SnsTopicARN": "AWS::SNS::Topic",
            "CloudWatchLogsRoleArn": "AWS::IAM::Role",
        },
    ),
    _t(
        cfn_type="AWS::Config::ConfigurationRecorder",
        service="config",
        description=(
            "The region's customer-managed AWS Config recorder with its recording status (service-linked "
            "recorders are not listed)."
        ),
        list_operation="describe_configuration_recorders",
        result_path="ConfigurationRecorders[]",
        id_field="name",
        arn_field="arn",
        # Older API answers (and the simulator) carry no `arn`; a recorder's name is unique in its region.
        arn_template="arn:{partition}:config:{region}:{account}:configuration-recorder/{id}",
        name_field="name",
        tags_field=None,
        # Without names, both calls answer for the customer-managed recorder (at most one per region).
        details=(Detail("describe_configuration_recorder_status", {}, "Status", "ConfigurationRecordersStatus"),),
        volatile_paths=("Status[].lastStatusChangeTime",),
        operational_paths=(
            "Status[].recording",
            "Status[].lastStatus",
            "Status[].lastStartTime",
            "Status[].lastStopTime",
            "Status[].lastErrorCode",
            "Status[].lastErrorMessage",
        ),
        list_keys={"Status": ("name",)},
        relationships={"roleARN": "AWS::IAM::Role"},
    ),
    _t(
        cfn_type="AWS::Config::DeliveryChannel",
        service="config",
        description="AWS Config delivery channel: where configuration snapshots and history go.",
        list_operation="describe_delivery_channels",
        result_path="DeliveryChannels[]",
        id_field="name",
        # The API gives no ARN; this one is synthetic (one channel per region, named).
        arn_template="arn:{partition}:config:{region}:{account}:delivery-channel/{id}",
        name_field="name",
        tags_field=None,
        relationships={
            "s3BucketName": "AWS::S3::Bucket",
            "s3KmsKeyArn": "AWS::KMS::Key",
            "snsTopicARN": "AWS::SNS::Topic",
        },
    ),
    _t(
        cfn_type="AWS::Config::ConfigRule",
        service="config",
        description="AWS Config rule: what it evaluates, on which resources, how often.",
        list_operation="describe_config_rules",
        result_path="ConfigRules[]",
        id_field="ConfigRuleName",
        arn_field="ConfigRuleArn",
        name_field="ConfigRuleName",
        details=(
            Detail("list_tags_for_resource", {"ResourceArn": "{ConfigRuleArn}"}, "Tags", "Tags", paginate=True),
        ),
        operational_paths=("ConfigRuleState",),
        json_paths=("InputParameters",),
        list_keys={"Source.SourceDetails": ("EventSource", "MessageType")},
    ),
    _t(
        cfn_type="AWS::GuardDuty::Detector",
        config_type="AWS::GuardDuty::Detector",
        service="guardduty",
        description="GuardDuty detector with its status, publishing frequency and protection features.",
        list_operation="list_detectors",
        result_path="DetectorIds[]",
        id_field="DetectorId",
        arn_template="arn:{partition}:guardduty:{region}:{account}:detector/{id}",
        details=(Detail("get_detector", {"DetectorId": "{id}"}, ""),),
        volatile_paths=("UpdatedAt", "Features[].UpdatedAt", "Features[].AdditionalConfiguration[].UpdatedAt"),
        list_keys={"Features": ("Name",), "Features[].AdditionalConfiguration": ("Name",)},
        relationships={"ServiceRole": "AWS::IAM::Role"},
    ),
    _t(
        cfn_type="AWS::CertificateManager::Certificate",
        config_type="AWS::ACM::Certificate",
        service="acm",
        description="ACM certificate: domains, validity (NotAfter is configuration), key and renewal.",
        list_operation="list_certificates",
        # Without keyTypes ListCertificates returns only RSA_1024 and RSA_2048 certificates.
        list_params={"Includes": {"keyTypes": ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1",
                                               "EC_secp384r1", "EC_secp521r1"]}},
        result_path="CertificateSummaryList[]",
        id_field="CertificateArn",
        arn_field="CertificateArn",
        name_field="DomainName",
        details=(
            Detail("describe_certificate", {"CertificateArn": "{CertificateArn}"}, "", "Certificate"),
            Detail("list_tags_for_certificate", {"CertificateArn": "{CertificateArn}"}, "Tags", "Tags"),
        ),
        volatile_paths=("RenewalSummary.UpdatedAt",),
        operational_paths=(
            "Status",
            "DomainValidationOptions[].ValidationStatus",
            "RenewalSummary.RenewalStatus",
            "RenewalSummary.DomainValidationOptions[].ValidationStatus",
        ),
        list_keys={
            "DomainValidationOptions": ("DomainName",),
            "RenewalSummary.DomainValidationOptions": ("DomainName",),
        },
    ),
)
