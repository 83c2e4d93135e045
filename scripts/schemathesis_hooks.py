"""schemathesis hooks for wharf (loaded through SCHEMATHESIS_HOOKS).

An Amazon ECR secret mints its registry token at the ECR API of the region
its generated host names, or at a generated endpoint, whenever it is
downloaded: hosts a test must never contact. So no ECR secret is ever
created by the fuzzer (scripts/api-fuzz also checks afterwards that none
exists and that nothing was minted).
"""
import schemathesis


def _creates_ecr(context, body):
    op = context.operation
    return (
        op is not None
        and op.method.upper() == "POST"
        and op.path == "/api/v1/secrets"
        and isinstance(body, dict)
        and body.get("type") == "ecr"
    )


@schemathesis.hook
def filter_body(context, body):
    return not _creates_ecr(context, body)


@schemathesis.hook
def filter_case(context, case):
    return not _creates_ecr(context, case.body)
