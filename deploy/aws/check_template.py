"""Checks what cfn-lint does not in deploy/aws/template.yaml: least-privilege IAM and the
deployment docs/deploy.md describes.

    python check_template.py TEMPLATE     # the tools venv's python (PyYAML); exit 1 on a failure

IAM: every Allow statement of every policy in the template (roles, bucket policies) names its
actions without wildcards, and a resource of "*" only for actions that have no resource-level
permissions (ALLOW_STAR_RESOURCE); no managed policies. Deny statements may use wildcards.
The deployment: the Lambda on provided.al2023 behind an HTTP API; the bucket versioned,
encrypted, with all public access blocked; the run-log table on demand with point-in-time
recovery; PostgreSQL not public, in the private subnets, its password from Secrets Manager;
the pipeline an ECS Fargate task run by a schedule. scripts/cfn-lint.sh runs it.
"""

from __future__ import annotations

import sys

import yaml

#: Actions AWS grants on "*" only (no resource-level permissions).
ALLOW_STAR_RESOURCE = {"ecr:GetAuthorizationToken"}


class Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !Sub, ...) read as {"Fn": value}."""


def _tag(loader: Loader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


Loader.add_multi_constructor("!", _tag)


def as_list(v) -> list:
    return v if isinstance(v, list) else [v]


def policy_documents(resources: dict):
    """(resource name, document) of every inline policy in the template."""
    for name, r in resources.items():
        props = r.get("Properties", {})
        kind = r.get("Type")
        if kind == "AWS::IAM::Role":
            for p in props.get("Policies", []):
                yield f"{name}.{p.get('PolicyName')}", p["PolicyDocument"]
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::S3::BucketPolicy"):
            yield name, props["PolicyDocument"]


def check_security(template: dict, resources: dict, of_type, expect) -> None:
    """Issue 19, secure by default: TLS to PostgreSQL, the pipeline's own database role, the
    API's token for reads read from Secrets Manager, access logs, immutable images by digest."""
    for name, props in of_type("AWS::RDS::DBParameterGroup").items():
        force = str(props.get("Parameters", {}).get("rds.force_ssl"))
        expect(force == "1", f"{name}: rds.force_ssl is {force!r}, not 1")
    for name, props in of_type("AWS::RDS::DBInstance").items():
        expect("DBParameterGroupName" in props, f"{name}: no parameter group forcing TLS")

    containers = [c for p in of_type("AWS::ECS::TaskDefinition").values() for c in p["ContainerDefinitions"]]
    for c in containers:
        image = str(c.get("Image"))
        expect("@${ImageDigest}" in image, f"{c['Name']}: image {image} not referenced by digest")
        secrets = {s["Name"]: str(s["ValueFrom"]) for s in c.get("Secrets", [])}
        master = [k for k, v in secrets.items() if "${DatabaseSecret}" in v]
        expect(not master, f"{c['Name']}: gets the master user's secret in {master}")
        expect("PipelineDatabaseSecret" in secrets.get("DB_USER", ""), f"{c['Name']}: DB_USER is not the pipeline's role")
    digest = template.get("Parameters", {}).get("ImageDigest", {})
    expect(digest.get("AllowedPattern") == "^sha256:[a-f0-9]{64}$", "ImageDigest: not a sha256 digest")
    for name, props in of_type("AWS::ECR::Repository").items():
        expect(props.get("ImageTagMutability") == "IMMUTABLE", f"{name}: tags are mutable")
        expect(props.get("ImageScanningConfiguration", {}).get("ScanOnPush") is True, f"{name}: no scan on push")

    for name, props in of_type("AWS::Serverless::HttpApi").items():
        logs = props.get("AccessLogSettings", {})
        target = logs.get("DestinationArn", {}).get("Fn::GetAtt", logs.get("DestinationArn", {}).get("GetAtt"))
        group = str(target).split(".")[0] if isinstance(target, str) else (target or [None])[0]
        expect(bool(logs.get("Format")) and resources.get(group, {}).get("Type") == "AWS::Logs::LogGroup",
               f"{name}: no access logs to a log group of the stack")
    for name, props in of_type("AWS::Serverless::Function").items():
        env = props.get("Environment", {}).get("Variables", {})
        expect("ABFORGE_API_TOKEN" not in env, f"{name}: the token is in the function's environment")
        expect(env.get("ABFORGE_API_TOKEN_SECRET_ARN") == {"Ref": "ApiTokenSecret"},
               f"{name}: the token's secret is not named (ABFORGE_API_TOKEN_SECRET_ARN)")
        expect(env.get("ABFORGE_API_READ_TOKEN_REQUIRED") == "true", f"{name}: reads are open")
        role = resources[props["Role"]["GetAtt"].split(".")[0]]["Properties"]
        reads = [s for p in role["Policies"] for s in as_list(p["PolicyDocument"]["Statement"])
                 if "secretsmanager:GetSecretValue" in as_list(s.get("Action"))]
        expect([s.get("Resource") for s in reads] == [{"Ref": "ApiTokenSecret"}],
               f"{name}: may read {[s.get('Resource') for s in reads]}, not exactly the token's secret")


def main(path: str) -> int:
    template = yaml.load(open(path), Loader=Loader)
    resources: dict = template["Resources"]
    problems: list[str] = []

    def expect(cond: bool, what: str) -> None:
        if not cond:
            problems.append(what)

    def of_type(kind: str) -> dict:
        return {n: r.get("Properties", {}) for n, r in resources.items() if r.get("Type") == kind}

    # ---- IAM ----
    statements = 0
    for where, doc in policy_documents(resources):
        for s in as_list(doc["Statement"]):
            statements += 1
            if s.get("Effect") != "Allow":
                continue
            sid = f"{where}/{s.get('Sid', '?')}"
            expect("NotAction" not in s and "NotResource" not in s, f"{sid}: NotAction/NotResource")
            actions = [a for a in as_list(s.get("Action", [])) if isinstance(a, str)]
            expect(actions, f"{sid}: no actions")
            for a in actions:
                expect("*" not in a, f"{sid}: wildcard action {a!r}")
            for res in as_list(s.get("Resource", [])):
                if res == "*":
                    extra = sorted(set(actions) - ALLOW_STAR_RESOURCE)
                    expect(not extra, f"{sid}: resource '*' for {extra}, which have narrower resources")
                else:
                    # A whole account or service ("...:*") only for a task definition's revisions.
                    text = res.get("Sub", "") if isinstance(res, dict) else str(res)
                    text = text[0] if isinstance(text, list) else text
                    broad = text.endswith(":*") and "task-definition/" not in text
                    expect(not broad, f"{sid}: broad resource {text!r}")
            expect("Principal" not in s or s["Principal"] != "*", f"{sid}: Allow to any principal")
    expect(statements > 0, "no policy statements found")
    for name, props in of_type("AWS::IAM::Role").items():
        expect(not props.get("ManagedPolicyArns"), f"{name}: managed policies {props.get('ManagedPolicyArns')}")
    for name, props in of_type("AWS::Serverless::Function").items():
        expect("Policies" not in props, f"{name}: SAM policy templates instead of its own role")
        expect("Role" in props, f"{name}: no role of its own")

    # ---- the deployment ----
    functions = of_type("AWS::Serverless::Function")
    runtime = template.get("Globals", {}).get("Function", {}).get("Runtime")
    expect(len(functions) == 1, f"functions: {sorted(functions)}")
    for name, props in functions.items():
        expect(props.get("Runtime", runtime) == "provided.al2023", f"{name}: runtime {props.get('Runtime', runtime)}")
        events = [e.get("Type") for e in props.get("Events", {}).values()]
        expect(events == ["HttpApi"], f"{name}: events {events}")
    expect(len(of_type("AWS::Serverless::HttpApi")) == 1, "no HTTP API")

    for name, props in of_type("AWS::S3::Bucket").items():
        expect(props.get("VersioningConfiguration", {}).get("Status") == "Enabled", f"{name}: not versioned")
        expect(bool(props.get("BucketEncryption")), f"{name}: not encrypted")
        block = props.get("PublicAccessBlockConfiguration", {})
        for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            expect(block.get(k) is True, f"{name}: {k} not set")

    tables = of_type("AWS::DynamoDB::Table")
    expect(len(tables) == 1, f"tables: {sorted(tables)}")
    for name, props in tables.items():
        expect(props.get("BillingMode") == "PAY_PER_REQUEST", f"{name}: not on-demand")
        pitr = props.get("PointInTimeRecoverySpecification", {})
        expect(pitr.get("PointInTimeRecoveryEnabled") is True, f"{name}: no point-in-time recovery")
        keys = [(k["AttributeName"], k["KeyType"]) for k in props.get("KeySchema", [])]
        # crates/store/src/dynamodb/runlog.rs refuses a table with another key schema.
        expect(keys == [("run_id", "HASH"), ("sk", "RANGE")], f"{name}: key schema {keys}")

    public_subnets = set()
    for r in of_type("AWS::EC2::SubnetRouteTableAssociation").values():
        table = r["RouteTableId"]["Ref"]
        routes = [p for p in of_type("AWS::EC2::Route").values() if p["RouteTableId"] == {"Ref": table}]
        if any("GatewayId" in p for p in routes):
            public_subnets.add(r["SubnetId"]["Ref"])
    databases = of_type("AWS::RDS::DBInstance")
    expect(len(databases) == 1, f"databases: {sorted(databases)}")
    for name, props in databases.items():
        expect(props.get("Engine") == "postgres", f"{name}: engine {props.get('Engine')}")
        expect(props.get("PubliclyAccessible") is False, f"{name}: publicly accessible")
        expect(props.get("StorageEncrypted") is True, f"{name}: storage not encrypted")
        expect("resolve:secretsmanager" in str(props.get("MasterUserPassword")), f"{name}: password not from Secrets Manager")
        group = resources[props["DBSubnetGroupName"]["Ref"]]["Properties"]
        subnets = {s["Ref"] for s in group["SubnetIds"]}
        expect(len(subnets) >= 2 and not subnets & public_subnets, f"{name}: subnets {sorted(subnets)} are not all private")

    tasks = of_type("AWS::ECS::TaskDefinition")
    expect(len(tasks) == 1, f"task definitions: {sorted(tasks)}")
    for name, props in tasks.items():
        expect(props.get("RequiresCompatibilities") == ["FARGATE"], f"{name}: not Fargate")
    check_security(template, resources, of_type, expect)
    schedules = of_type("AWS::Scheduler::Schedule")
    expect(
        any("EcsParameters" in s.get("Target", {}) for s in schedules.values()),
        "no schedule runs the pipeline task",
    )

    for p in problems:
        print(f"check_template: {p}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"check_template: {statements} IAM statements least-privilege; Lambda provided.al2023 behind an "
        "HTTP API, S3 versioned/encrypted/private, DynamoDB on demand with PITR, RDS private with its "
        "password in Secrets Manager, the pipeline an ECS Fargate task on a schedule; TLS forced on RDS, "
        "the pipeline's own role, the token (reads too) from Secrets Manager, API access logs, immutable "
        "images by digest: ok"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
