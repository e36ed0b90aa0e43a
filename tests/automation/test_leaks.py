"""The leak check after destroy: each check against moto where moto has the calls, else a Stubber
(each test says which)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from automation.errors import CrossmeshError
from automation.exit_codes import ExitCode
from automation.leaks import LeakClients, LeakScope, check_after_destroy, find_leaks
from infra.config_parse import parse_stack_file
from tests.support import stack_document

REGION = "us-east-1"
STACK_TAGS = [{"Key": "project", "Value": "crossmesh"}, {"Key": "environment", "Value": "dev"}]
SCOPE = LeakScope(
    stack="dev",
    eks_names=("eksc1-dev", "eksc2-dev"),
    ecr_repositories=("crossmesh-dev/front", "crossmesh-dev/colorapp"),
    cloud_map_namespace="appmesh-demo.pvt.aws.local",
    log_groups=("/aws/eks/eksc1-dev/cluster", "/aws/eks/eksc2-dev/cluster", "/crossmesh/dev/vpc-flow-logs"),
)


@pytest.fixture
def aws() -> Iterator[LeakClients]:
    with mock_aws():
        session = boto3.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        yield LeakClients(
            tagging=session.client("resourcegroupstaggingapi"),
            kms=session.client("kms"),
            ec2=session.client("ec2"),
            elb=session.client("elb"),
            elbv2=session.client("elbv2"),
            lattice=session.client("vpc-lattice"),
            servicediscovery=session.client("servicediscovery"),
            eks=session.client("eks"),
            ecr=session.client("ecr"),
            iam=session.client("iam"),
            logs=session.client("logs"),
        )


def _ids(clients: LeakClients, scope: LeakScope = SCOPE) -> set[tuple[str, str]]:
    report = find_leaks(clients, scope)
    assert report.errors == []
    return {(leak.service, leak.identifier) for leak in report.leaks}


def test_moto_an_empty_account_is_clean(aws: LeakClients) -> None:
    report = find_leaks(aws, SCOPE)
    assert report.clean
    assert report.checked == [
        "vpcs",
        "tagging",
        "load balancers",
        "vpc-lattice",
        "cloud map",
        "network interfaces",
        "eks",
        "ecr",
        "iam",
        "log groups",
    ]


def test_moto_tagged_vpc_and_its_enis_are_leaks_but_a_key_pending_deletion_is_not(aws: LeakClients) -> None:
    vpc = aws.ec2.create_vpc(
        CidrBlock="172.16.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": STACK_TAGS}]
    )["Vpc"]["VpcId"]
    subnet = aws.ec2.create_subnet(VpcId=vpc, CidrBlock="172.16.0.0/24")["Subnet"]["SubnetId"]
    eni = aws.ec2.create_network_interface(SubnetId=subnet, Description="ELB app/front")["NetworkInterface"]
    key = aws.kms.create_key(Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in STACK_TAGS])
    aws.kms.schedule_key_deletion(KeyId=key["KeyMetadata"]["KeyId"], PendingWindowInDays=7)
    other = aws.ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "environment", "Value": "dev-2"}]}],
    )["Vpc"]["VpcId"]
    found = _ids(aws)
    assert ("ec2", eni["NetworkInterfaceId"]) in found
    tagged = {i for s, i in found if s == "tagged"}
    assert any(vpc in arn for arn in tagged)
    assert not any(other in arn for arn in tagged)
    assert not any(":kms:" in arn for arn in tagged)


def test_moto_load_balancers_tagged_for_the_clusters(aws: LeakClients) -> None:
    vpc = aws.ec2.create_vpc(CidrBlock="172.16.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        aws.ec2.create_subnet(VpcId=vpc, CidrBlock=f"172.16.{i}.0/24", AvailabilityZone=f"{REGION}{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    ]
    nlb = aws.elbv2.create_load_balancer(
        Name="k8s-front",
        Subnets=subnets,
        Type="network",
        Tags=[{"Key": "elbv2.k8s.aws/cluster", "Value": "eksc1-dev"}],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    aws.elbv2.create_load_balancer(
        Name="someone-else", Subnets=subnets, Tags=[{"Key": "elbv2.k8s.aws/cluster", "Value": "eksc1-prod"}]
    )
    aws.elb.create_load_balancer(
        LoadBalancerName="a1b2c3",
        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 30080}],
        Subnets=subnets[:1],
        Tags=[{"Key": "kubernetes.io/cluster/eksc1-dev", "Value": "owned"}],
    )
    found = _ids(aws)
    assert ("elbv2", nlb) in found
    assert ("elb", "a1b2c3") in found
    assert not any(i.endswith("someone-else") or "someone-else" in i for _, i in found)


def test_moto_lattice_services_of_the_clusters_and_target_groups_in_the_vpc(aws: LeakClients) -> None:
    vpc = aws.ec2.create_vpc(
        CidrBlock="172.16.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": STACK_TAGS}]
    )["Vpc"]["VpcId"]
    ours = aws.lattice.create_service(
        name="colorapp-appmesh-demo",
        tags={"application-networking.k8s.aws/ManagedBy": f"123456789012/eksc1-dev/{vpc}"},
    )["arn"]
    aws.lattice.create_service(
        name="theirs", tags={"application-networking.k8s.aws/ManagedBy": "123456789012/eksc1-prod/vpc-1"}
    )
    group = aws.lattice.create_target_group(
        name="k8s-colorapp-blue", type="IP", config={"port": 8080, "protocol": "HTTP", "vpcIdentifier": vpc}
    )["arn"]
    found = {i for s, i in _ids(aws) if s == "vpc-lattice"}
    assert found == {ours, group}


def test_moto_cloud_map_services_left_in_the_stacks_namespace(aws: LeakClients) -> None:
    vpc = aws.ec2.create_vpc(CidrBlock="172.16.0.0/16")["Vpc"]["VpcId"]
    aws.servicediscovery.create_private_dns_namespace(
        Name="appmesh-demo.pvt.aws.local", Vpc=vpc, Tags=STACK_TAGS
    )
    namespace = aws.servicediscovery.list_namespaces()["Namespaces"][0]["Id"]
    service = aws.servicediscovery.create_service(Name="colorapp-blue", NamespaceId=namespace)["Service"][
        "Id"
    ]
    found = _ids(aws)
    assert ("servicediscovery", namespace) in found
    assert ("servicediscovery", service) in found


def test_moto_a_same_named_namespace_of_another_stack_is_not_ours(aws: LeakClients) -> None:
    vpc = aws.ec2.create_vpc(CidrBlock="172.17.0.0/16")["Vpc"]["VpcId"]
    aws.servicediscovery.create_private_dns_namespace(
        Name="appmesh-demo.pvt.aws.local",
        Vpc=vpc,
        Tags=[{"Key": "project", "Value": "crossmesh"}, {"Key": "environment", "Value": "lattice"}],
    )
    assert not any(s == "servicediscovery" for s, _ in _ids(aws))


def test_moto_eks_ecr_and_iam_by_their_own_list_calls(aws: LeakClients) -> None:
    role = aws.iam.create_role(
        RoleName="crossmesh-dev-eksc1-nodes",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        Tags=STACK_TAGS,
    )["Role"]
    aws.iam.create_role(
        RoleName="crossmesh-dev-2-eksc1-nodes",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        Tags=[{"Key": "project", "Value": "crossmesh"}, {"Key": "environment", "Value": "dev-2"}],
    )
    oidc = aws.iam.create_open_id_connect_provider(
        Url="https://oidc.eks.us-east-1.amazonaws.com/id/ABC",
        ClientIDList=["sts.amazonaws.com"],
        Tags=STACK_TAGS,
    )["OpenIDConnectProviderArn"]
    aws.ecr.create_repository(repositoryName="crossmesh-dev/front")
    aws.ecr.create_repository(repositoryName="crossmesh-prod/front")
    aws.eks.create_cluster(name="eksc2-dev", roleArn=role["Arn"], resourcesVpcConfig={"subnetIds": []})
    found = _ids(aws)
    assert ("iam", "crossmesh-dev-eksc1-nodes") in found
    assert ("iam", "crossmesh-dev-2-eksc1-nodes") not in found
    assert ("iam", oidc) in found
    assert ("ecr", "crossmesh-dev/front") in found
    assert ("ecr", "crossmesh-prod/front") not in found
    assert ("eks", "eksc2-dev") in found


def test_moto_check_after_destroy_lists_what_is_left_and_exits_10(aws: LeakClients) -> None:
    config = parse_stack_file(stack_document("dev"), "dev")
    aws.ecr.create_repository(repositoryName="crossmesh-dev/colorapp")
    with pytest.raises(CrossmeshError) as caught:
        check_after_destroy(config, clients=aws)
    failure = caught.value.failure
    assert failure.code is ExitCode.LEAKED == 10
    assert "ecr: crossmesh-dev/colorapp (repository still exists)" in failure.message
    aws.ecr.delete_repository(repositoryName="crossmesh-dev/colorapp")
    assert check_after_destroy(config, clients=aws).clean


def test_stubber_pagination_and_a_failing_call_is_reported_not_hidden() -> None:
    """Stubber: two pages of GetResources (moto answers in one), then an AccessDenied from EKS."""
    session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    tagging, eks = session.client("resourcegroupstaggingapi"), session.client("eks")
    filters = [{"Key": "project", "Values": ["crossmesh"]}, {"Key": "environment", "Values": ["dev"]}]
    arn = "arn:aws:ec2:us-east-1:123456789012:natgateway/nat-1"
    with Stubber(tagging) as tags, Stubber(eks) as eks_stub:
        tags.add_response(
            "get_resources",
            {"ResourceTagMappingList": [], "PaginationToken": "next"},
            {"TagFilters": filters},
        )
        tags.add_response(
            "get_resources",
            {"ResourceTagMappingList": [{"ResourceARN": arn}], "PaginationToken": ""},
            {"TagFilters": filters, "PaginationToken": "next"},
        )
        eks_stub.add_client_error("list_clusters", "AccessDeniedException", "no eks:ListClusters", 403)
        report = find_leaks(LeakClients(tagging=tagging, eks=eks), SCOPE)
        tags.assert_no_pending_responses()
    assert [(leak.service, leak.identifier) for leak in report.leaks] == [("tagged", arn)]
    assert report.checked == ["tagging"]
    assert len(report.errors) == 1
    assert report.errors[0].startswith("eks: ")
    assert not report.clean


def test_moto_a_control_plane_log_group_eks_made_again_after_destroy_is_a_leak(aws: LeakClients) -> None:
    # EKS ships the control-plane logs it still holds after the cluster's group was deleted and makes
    # the group again, without the stack's tags (terraform-aws-modules/terraform-aws-eks#2763: CloudTrail
    # shows AWSServiceRoleForAmazonEKS creating it). The tagging API cannot see it, and the next deploy's
    # name check refuses it (exit 13); the leak check must name it.
    aws.logs.create_log_group(logGroupName="/aws/eks/eksc1-dev/cluster")
    aws.logs.create_log_group(
        logGroupName="/crossmesh/dev/vpc-flow-logs", tags={"project": "crossmesh", "environment": "dev"}
    )
    aws.logs.create_log_group(logGroupName="/aws/eks/eksc1-prod/cluster")  # another stack's
    aws.logs.create_log_group(logGroupName="/aws/eks/eksc1-dev/cluster-archive")  # same prefix, not ours
    report = find_leaks(aws, SCOPE)
    assert report.errors == []
    account_region = "arn:aws:logs:us-east-1:123456789012:log-group:"
    found = {leak.identifier: (leak.service, leak.why) for leak in report.leaks}
    assert sorted(found) == [
        account_region + "/aws/eks/eksc1-dev/cluster",
        account_region + "/crossmesh/dev/vpc-flow-logs",  # tagged: the tagging API sees it, listed once
    ]
    service, why = found[account_region + "/aws/eks/eksc1-dev/cluster"]
    assert service == "logs"
    assert "without the stack's tags" in why
    assert "the next deploy would be refused its name" in why


def test_the_leak_scope_holds_the_log_group_names_the_deploy_checks_hold() -> None:
    config = parse_stack_file(stack_document("dev"), "dev")
    assert LeakScope.of(config).log_groups == (
        "/aws/eks/eksc1-dev/cluster",
        "/aws/eks/eksc2-dev/cluster",
        "/crossmesh/dev/vpc-flow-logs",
    )
