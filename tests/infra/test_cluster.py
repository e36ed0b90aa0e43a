"""EksCluster: the inputs pulumi-eks and AWS receive, and the independence of the clusters."""

from __future__ import annotations

import json

import pytest

from automation.recorder import Recording
from infra.cluster import ami_type_for
from tests.support import inputs, record_document, record_env, variant

CLUSTER = "eks:index:Cluster"
NODES = "eks:index:ManagedNodeGroup"


def test_cluster_inputs_are_hardened() -> None:
    cluster = inputs(record_env("dev"), CLUSTER, "eksc1-eks")
    assert cluster == {
        "name": "eksc1-dev",
        "version": "1.35",
        "vpcId": "<network-vpc.id>",
        "privateSubnetIds": ["<network-private-use1-az1.id>", "<network-private-use1-az2.id>"],
        "nodeAssociatePublicIpAddress": False,
        "skipDefaultNodeGroup": True,
        "skipDefaultSecurityGroups": True,
        "authenticationMode": "API",
        "accessEntries": {},
        "createOidcProvider": True,
        "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
        "encryptionConfigKeyArn": "arn:aws:kms:us-east-1:123456789012:key/<eksc1-secrets.keyId>",
        "endpointPrivateAccess": True,
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["0.0.0.0/0"],
        "kubernetesServiceIpAddressRange": "172.20.0.0/16",
        "useDefaultVpcCni": True,
        "deletionProtection": False,
        "tags": {"project": "crossmesh", "environment": "dev", "managed-by": "pulumi"},
    }


def test_secrets_key_rotates() -> None:
    key = inputs(record_env("dev"), "aws:kms/key:Key", "eksc1-secrets")
    assert key["enableKeyRotation"] is True
    assert key["deletionWindowInDays"] == 30
    # AWS's default key policy, written out: the account's IAM policies decide who uses the key.
    assert json.loads(key["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountControlsKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def test_control_plane_logs_are_encrypted_for_their_group_only() -> None:
    recording = record_env("dev")
    group = inputs(recording, "aws:cloudwatch/logGroup:LogGroup", "eksc2-control-plane")
    assert group["name"] == "/aws/eks/eksc2-dev/cluster"
    assert group["kmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/<eksc2-control-plane-key.keyId>"
    key = inputs(recording, "aws:kms/key:Key", "eksc2-control-plane-key")
    assert key["enableKeyRotation"] is True
    statement = json.loads(key["policy"])["Statement"][1]
    assert statement["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert statement["Condition"]["ArnLike"] == {
        "kms:EncryptionContext:aws:logs:arn": [
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/eksc2-dev/cluster"
        ]
    }
    assert (
        inputs(recording, "aws:kms/alias:Alias", "eksc2-control-plane-key")["name"]
        == "alias/crossmesh-dev-eksc2-logs"
    )
    # The cluster waits for its log group, which waits for its key.
    cluster = recording.named(CLUSTER, "eksc2-eks")
    assert recording.depends_on(cluster, recording.named("aws:kms/key:Key", "eksc2-control-plane-key"))


def test_prod_endpoint_is_private_and_admins_get_access_entries() -> None:
    cluster = inputs(record_env("prod"), CLUSTER, "eksc1-eks")
    assert cluster["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in cluster
    assert cluster["deletionProtection"] is True
    assert cluster["accessEntries"] == {
        "role-platform-oncall-c82d33": {
            "principalArn": "arn:aws:iam::111122223333:role/platform-oncall",
            "accessPolicies": {
                "cluster-admin": {
                    "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                    "accessScope": {"type": "cluster"},
                }
            },
        }
    }
    assert record_env("prod").named(CLUSTER, "eksc1-eks").urn  # protected below
    assert (
        inputs(record_env("prod"), "aws:cloudwatch/logGroup:LogGroup", "eksc1-control-plane")[
            "retentionInDays"
        ]
        == 365
    )


def test_node_group_in_private_subnets_with_the_hardened_launch_template() -> None:
    recording = record_env("dev")
    nodes = inputs(recording, NODES, "eksc2-nodes")
    assert nodes["subnetIds"] == ["<network-private-use1-az1.id>", "<network-private-use1-az2.id>"]
    assert nodes["scalingConfig"] == {"desiredSize": 3, "minSize": 3, "maxSize": 4}
    assert nodes["instanceTypes"] == ["t3.medium"]
    assert nodes["amiType"] == "AL2023_x86_64_STANDARD"
    assert nodes["launchTemplate"] == {"id": "<eksc2-nodes.id>", "version": "1"}
    assert nodes["nodeRoleArn"] == "arn:aws:iam::123456789012:role/crossmesh-dev-eksc2-nodes"
    assert "remoteAccess" not in nodes  # no SSH
    template = inputs(recording, "aws:ec2/launchTemplate:LaunchTemplate", "eksc2-nodes")
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    assert "keyName" not in template
    # No security groups in the template: EKS then attaches the cluster security group to the nodes.
    assert "vpcSecurityGroupIds" not in template
    assert "networkInterfaces" not in template
    assert template["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "ebs": {
                "volumeSize": 20,
                "volumeType": "gp3",
                "encrypted": "true",
                "deleteOnTermination": "true",
            },
        }
    ]


def test_node_role_has_worker_and_read_only_ecr_policies_only() -> None:
    recording = record_env("dev")
    attached = sorted(
        r.inputs["policyArn"]
        for r in recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.inputs["role"] == "crossmesh-dev-eksc1-nodes"
    )
    assert attached == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    ]
    trust = json.loads(inputs(recording, "aws:iam/role:Role", "eksc1-nodes")["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": ["ec2.amazonaws.com"]}


def test_vpc_cni_runs_on_its_own_irsa_role_with_network_policy() -> None:
    recording = record_env("dev")
    addon = inputs(recording, "aws:eks/addon:Addon", "eksc1-vpc-cni")
    assert addon["addonName"] == "vpc-cni"
    assert addon["clusterName"] == "eksc1-dev"
    assert addon["serviceAccountRoleArn"] == "arn:aws:iam::123456789012:role/crossmesh-dev-eksc1-vpc-cni"
    assert json.loads(addon["configurationValues"]) == {"enableNetworkPolicy": "true"}
    role = inputs(recording, "aws:iam/role:Role", "eksc1-vpc-cni-role")
    condition = json.loads(role["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/<eksc1-eks.oidcId>"
    assert condition == {
        f"{issuer}:sub": "system:serviceaccount:kube-system:aws-node",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    attachment = inputs(
        recording, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "eksc1-vpc-cni-AmazonEKS_CNI_Policy"
    )
    assert attachment["policyArn"] == "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"


def test_nodes_wait_for_the_cni_addon_and_their_policies() -> None:
    recording = record_env("dev")
    nodes = recording.named(NODES, "eksc1-nodes")
    assert recording.depends_on(nodes, recording.named("aws:eks/addon:Addon", "eksc1-vpc-cni"))
    assert recording.depends_on(nodes, recording.named(CLUSTER, "eksc1-eks"))
    for attachment in (
        "eksc1-nodes-AmazonEKSWorkerNodePolicy",
        "eksc1-nodes-AmazonEC2ContainerRegistryReadOnly",
    ):
        assert recording.depends_on(
            nodes, recording.named("aws:iam/rolePolicyAttachment:RolePolicyAttachment", attachment)
        )


def _cluster_resources(recording: Recording, key: str) -> set[str]:
    component = recording.named("crossmesh:infra:EksCluster", key)
    return {component.urn, *(d.urn for d in recording.descendants(component))}


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_clusters_do_not_depend_on_each_other(env: str) -> None:
    recording = record_env(env)
    one, two = (
        recording.named("crossmesh:infra:EksCluster", "eksc1"),
        recording.named("crossmesh:infra:EksCluster", "eksc2"),
    )
    assert not recording.depends_on(one, two)
    assert not recording.depends_on(two, one)
    # nothing inside eksc2 waits for anything inside eksc1, and the other way round
    for a, b in (("eksc1", "eksc2"), ("eksc2", "eksc1")):
        inside_b = _cluster_resources(recording, b)
        for urn in _cluster_resources(recording, a):
            assert not set(recording.by_urn(urn).dependencies) & inside_b, urn


def test_each_kubernetes_provider_uses_its_own_cluster_kubeconfig() -> None:
    recording = record_env("dev")
    for key in ("eksc1", "eksc2"):
        provider = inputs(recording, "pulumi:providers:kubernetes", f"{key}-k8s")
        kubeconfig = json.loads(provider["kubeconfig"])
        assert kubeconfig["users"][0]["user"]["exec"]["args"][3] == f"{key}-dev"
        assert provider["deleteUnreachable"] == "true"


def test_graviton_instance_types_get_the_arm_ami() -> None:
    recording = record_document(
        variant(
            "dev",
            lambda c: c["crossmesh:clusters"][0]["nodes"].update(instanceTypes=["m7g.large", "c7gn.large"]),
        )
    )
    assert inputs(recording, NODES, "eksc1-nodes")["amiType"] == "AL2023_ARM_64_STANDARD"
    assert inputs(recording, NODES, "eksc2-nodes")["amiType"] == "AL2023_x86_64_STANDARD"


@pytest.mark.parametrize(
    ("types", "ami"),
    [
        (["t3.medium"], "AL2023_x86_64_STANDARD"),
        (["t4g.small"], "AL2023_ARM_64_STANDARD"),
        (["g4dn.xlarge"], "AL2023_x86_64_STANDARD"),
    ],
)
def test_ami_type_for(types: list[str], ami: str) -> None:
    assert ami_type_for(types) == ami


def test_ami_type_for_mixed_architectures_fails() -> None:
    with pytest.raises(ValueError, match="mix arm64 and x86_64"):
        ami_type_for(["m6i.large", "m6g.large"])
