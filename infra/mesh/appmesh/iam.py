"""IAM of the App Mesh backend: the controller's policy and what the app pods' sidecars need."""

from __future__ import annotations

from infra import iam


def mesh_arn_of(arns: iam.Arns, mesh: str) -> str:
    return f"arn:{arns.partition}:appmesh:{arns.region}:{arns.account_id}:mesh/{mesh}"


def object_arn(arns: iam.Arns, mesh: str, kind: str, aws_name: str) -> str:
    """ARN of an object inside a mesh; ``kind`` is ``virtualNode``, ``virtualService``, ... ."""
    return f"{mesh_arn_of(arns, mesh)}/{kind}/{aws_name}"


_APPMESH_KINDS = ("VirtualRouter", "VirtualService", "Route", "GatewayRoute", "VirtualNode", "VirtualGateway")


def controller_policy(
    arns: iam.Arns, *, mesh: str, cloud_map_namespace_arn: str, hosted_zone_id: str
) -> iam.PolicyDocument:
    """What the App Mesh controller (eks-charts appmesh-controller 1.13.3) calls, for one mesh.

    The action list follows the controller's published policy (config/iam/controller-iam-policy.json in
    aws/aws-app-mesh-controller-for-k8s), narrowed: App Mesh actions only on this mesh and what is in it,
    Cloud Map service creation only in this namespace, DNS record changes only in its hosted zone.
    Cloud Map's RegisterInstance/DeregisterInstance also need the Route 53 calls listed here
    (https://docs.aws.amazon.com/cloud-map/latest/dg/cloud-map-api-permissions-ref.html).
    """
    mesh_arn = mesh_arn_of(arns, mesh)
    appmesh_actions = [
        "appmesh:DescribeMesh",
        "appmesh:CreateMesh",
        "appmesh:UpdateMesh",
        "appmesh:DeleteMesh",
        *(
            f"appmesh:{verb}{kind}"
            for kind in _APPMESH_KINDS
            for verb in ("Describe", "Create", "Update", "Delete")
        ),
        *(f"appmesh:List{kind}s" for kind in _APPMESH_KINDS if kind != "Route"),
        "appmesh:ListRoutes",
    ]
    service_arns = f"arn:{arns.partition}:servicediscovery:{arns.region}:{arns.account_id}:service/*"
    return iam.document(
        # ListMeshes has no resource type: it can only be granted on "*".
        iam.statement("ListMeshes", ["appmesh:ListMeshes"], "*"),
        iam.statement("ManageThisMesh", sorted(set(appmesh_actions)), [mesh_arn, f"{mesh_arn}/*"]),
        iam.statement(
            "CreateAppMeshServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            f"arn:{arns.partition}:iam::{arns.account_id}:role/aws-service-role/appmesh.{arns.dns_suffix()}/AWSServiceRoleForAppMesh",
            {"StringLike": {"iam:AWSServiceName": [f"appmesh.{arns.dns_suffix()}"]}},
        ),
        # The controller reads certificates only when a listener or backend uses TLS.
        iam.statement(
            "ListCertificates", ["acm:ListCertificates", "acm-pca:ListCertificateAuthorities"], "*"
        ),
        iam.statement(
            "ReadCertificates",
            ["acm:DescribeCertificate", "acm-pca:DescribeCertificateAuthority"],
            [
                f"arn:{arns.partition}:acm:{arns.region}:{arns.account_id}:certificate/*",
                f"arn:{arns.partition}:acm-pca:{arns.region}:{arns.account_id}:certificate-authority/*",
            ],
        ),
        iam.statement(
            "CloudMapReadAnywhere",
            [
                "servicediscovery:ListNamespaces",
                "servicediscovery:ListServices",
                "servicediscovery:GetOperation",
            ],
            "*",
        ),
        # CreateService requires both resource types, the namespace and the new service
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudmap.html):
        # granted on the namespace alone it is refused, and the controller never creates colorapp's
        # and front's Cloud Map services. The namespace ARN keeps it to this namespace.
        iam.statement(
            "CloudMapCreateServicesInNamespace",
            ["servicediscovery:CreateService"],
            [cloud_map_namespace_arn, service_arns],
        ),
        iam.statement(
            "CloudMapManageInstances",
            [
                "servicediscovery:DeleteService",
                "servicediscovery:GetService",
                "servicediscovery:GetInstance",
                "servicediscovery:RegisterInstance",
                "servicediscovery:DeregisterInstance",
                "servicediscovery:ListInstances",
                "servicediscovery:GetInstancesHealthStatus",
                "servicediscovery:UpdateInstanceCustomHealthStatus",
            ],
            service_arns,
        ),
        iam.statement(
            "DnsRecordsInNamespaceZone",
            ["route53:ChangeResourceRecordSets"],
            f"arn:{arns.partition}:route53:::hostedzone/{hosted_zone_id}",
        ),
        # Route 53 health-check calls are made by Cloud Map on RegisterInstance. CreateHealthCheck
        # supports no resource-level permissions; reading, changing and deleting one are scoped to
        # health checks (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonroute53.html).
        iam.statement("CloudMapCreateHealthChecks", ["route53:CreateHealthCheck"], "*"),
        iam.statement(
            "CloudMapManageHealthChecks",
            ["route53:GetHealthCheck", "route53:UpdateHealthCheck", "route53:DeleteHealthCheck"],
            f"arn:{arns.partition}:route53:::healthcheck/*",
        ),
    )


def envoy_policy(arns: iam.Arns, *, mesh: str, virtual_node: str, xray: bool) -> iam.PolicyDocument:
    """What an app pod's injected sidecars need: Envoy's xDS stream for its own virtual node only,
    and X-Ray writes when tracing is on (the daemon sidecar uses the pod's credentials)."""
    statements = [
        iam.statement(
            "EnvoyConfigForThisNode",
            ["appmesh:StreamAggregatedResources"],
            object_arn(arns, mesh, "virtualNode", virtual_node),
        )
    ]
    if xray:
        statements.append(
            iam.statement(
                "XRayWrite",
                [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "*",  # X-Ray write APIs have no resource types
            )
        )
    return iam.document(*statements)
